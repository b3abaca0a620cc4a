"""gil.experiments.toy_report: the loss-anatomy page's tables, words and slider callback."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from gil.experiments import toy, toy_report  # noqa: E402


def _trajectory(active: list[float], angles: list[float], centre_uniformity: list[float] | None = None):
    steps = list(range(0, 5 * len(active), 5))
    return toy.ToyTrajectory(
        steps=steps,
        snapshots=[np.zeros((2, 3))] * len(steps),
        loss=[1.0] * len(steps),
        active_fraction=active,
        uniformity=[-1.0] * len(steps),
        centre_uniformity=centre_uniformity or [-2.0] * len(steps),
        nearest_centre_angle=angles,
    )


def test_when_satisfied_names_the_first_step_with_no_active_triplet():
    assert toy_report.when_satisfied(_trajectory([0.5, 0.0, 0.1, 0.0], [1, 2, 3, 4])) == (
        "every triplet satisfied its margin from step 5 on"
    )
    assert toy_report.when_satisfied(_trajectory([0.5, 0.25], [1, 2])) == (
        "25.0% of the triplets still violated their margin at the last step"
    )


def test_satisfaction_summary_is_one_item_per_loss():
    text = toy_report.satisfaction_summary(
        {"triplet": _trajectory([0.2, 0.0], [20.4, 31.0]), "GIL margin": _trajectory([0.3, 0.1], [20.4, 55.6])}
    )
    assert text.splitlines() == [
        "- **triplet**: every triplet satisfied its margin from step 5 on; the smallest angle between class centres "
        "went from 20° to 31°.",
        "- **GIL margin**: 10.0% of the triplets still violated their margin at the last step; the smallest angle "
        "between class centres went from 20° to 56°.",
    ]


def test_final_table_shows_the_last_step_under_the_pages_headers():
    table = toy_report.final_table({"a": _trajectory([0.5, 0.25], [10.0, 12.0], [-1.0, -3.0])})
    assert list(table.index) == ["a"]
    assert list(table.columns) == list(toy_report.FINAL_COLUMNS.values())
    assert table.loc["a"].tolist() == [0.25, -1.0, -3.0, 12.0]


def test_pair_weight_groups_average_each_block():
    labels = np.array([1, 0, 2, 0, 1, 2])  # sorted: 0 0 1 1 2 2
    cos = np.arange(36, dtype=float).reshape(6, 6)
    weights = cos + 100
    table = toy_report.pair_weight_groups(cos, weights, labels, crowded=[(0, 1)])
    assert list(table.index) == ["same class", "crowded pair", "other classes"]
    assert list(table.columns) == ["mean cosine", "mean weight w"]
    ordered = np.sort(labels)
    same = ordered[:, None] == ordered[None, :]
    crowded = np.isin(ordered[:, None], [0, 1]) & np.isin(ordered[None, :], [0, 1]) & ~same
    assert table.loc["same class", "mean cosine"] == pytest.approx(cos[same].mean())
    assert table.loc["crowded pair", "mean weight w"] == pytest.approx(weights[crowded].mean())
    assert table.loc["other classes", "mean cosine"] == pytest.approx(cos[~same & ~crowded].mean())


def test_crowded_margins_side_by_side():
    def table(angle: float, margin: float) -> pd.DataFrame:
        return pd.DataFrame(
            {"pair": ["0–1", "0–2"], "centre_angle": [angle, 90.0], "margin": [margin, 0.2], "crowded": [True, False]}
        )

    both = toy_report.crowded_margins({"before": table(20.0, 0.29), "after": table(60.0, 0.25)})
    assert list(both.index) == ["0–1"]
    assert list(both.columns) == [("before", "centre_angle"), ("before", "margin"), ("after", "centre_angle"),
                                  ("after", "margin")]  # fmt: skip
    assert both.loc["0–1"].tolist() == [20.0, 0.29, 60.0, 0.25]


def test_lambda_sweep_and_its_table():
    problem = toy.sphere_problem(classes=4, per_class=3)
    sweep = toy_report.lambda_sweep(problem, [0.0, 1.0], steps=4)
    assert list(sweep) == ["GIL margin, λ_u = 0", "GIL margin, λ_u = 1"]
    assert all(t.steps[-1] == 4 for t in sweep.values())
    table = toy_report.sweep_table(sweep)
    assert list(table.columns) == ["smallest centre angle (°)", "centre uniformity L_u"]
    last = sweep["GIL margin, λ_u = 1"]
    assert table.loc["GIL margin, λ_u = 1"].tolist() == [last.nearest_centre_angle[-1], last.centre_uniformity[-1]]


def test_retrain_gil_keeps_the_baseline_and_retrains_both_forms():
    problem = toy.sphere_problem(classes=4, per_class=3)
    baseline = toy.train_toy(problem, toy.toy_losses()["triplet"], steps=2)
    runs = toy_report.retrain_gil(problem, baseline, tau=0.1, kappa=0.5, lambda_u=2.0, steps=3)
    assert list(runs) == ["triplet", "GIL margin", "GIL softmax"]
    assert runs["triplet"] is baseline
    assert runs["GIL margin"].steps[-1] == 3 and runs["GIL softmax"].steps[-1] == 3
    weaker = toy_report.retrain_gil(problem, baseline, tau=0.1, kappa=0.5, lambda_u=0.0, steps=3)
    assert weaker["GIL margin"].loss[0] != runs["GIL margin"].loss[0]  # λ_u reaches the loss


def test_explorer_shows_the_maps_and_the_curves_and_closes_them(monkeypatch):
    problem = toy.sphere_problem(classes=4, per_class=3)
    baseline = toy.train_toy(problem, toy.toy_losses()["triplet"], steps=2)
    shown = []
    monkeypatch.setattr(plt, "show", lambda: shown.append(len(plt.get_fignums())))
    callback = toy_report.explorer(problem, baseline, steps=2)
    assert callback(tau=0.1, kappa=0.5, lambda_u=0.1) is None
    assert shown == [2]  # both figures open when shown
    assert plt.get_fignums() == []  # and closed after
