"""gil.experiments.toy: the sphere problem, toy training and the tables the loss anatomy notebook draws."""

import math

import numpy as np
import pytest
import torch

from gil.experiments import toy
from gil.losses import GeneralizedInterClassLoss, GILConfig, TripletConfig


def _angle(u: torch.Tensor, v: torch.Tensor) -> float:
    return math.degrees(math.acos(float(torch.clamp(u @ v, -1, 1))))


def test_sphere_problem_shapes_and_crowding():
    problem = toy.sphere_problem(classes=6, per_class=5, seed=1)
    assert problem.points.shape == (30, 3)
    assert torch.allclose(problem.points.norm(dim=1), torch.ones(30))
    assert problem.labels.tolist() == sorted(problem.labels.tolist())
    assert problem.num_classes == 6
    table = toy.margin_table(problem.points, problem.labels)
    crowded = table[table["crowded"]]
    assert set(crowded["pair"]) == {"0–1", "2–3"}
    assert crowded["centre_angle"].max() < table.loc[~table["crowded"], "centre_angle"].median()


@pytest.mark.parametrize("kwargs", [{"classes": 3}, {"per_class": 1}])
def test_sphere_problem_rejects_too_small(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        toy.sphere_problem(**kwargs)


def test_train_toy_records_and_stays_on_sphere():
    problem = toy.sphere_problem(classes=4, per_class=3)
    trajectory = toy.train_toy(problem, toy.toy_losses()["GIL margin"], steps=7, record_every=3)
    assert trajectory.steps == [0, 3, 6, 7]
    frame = trajectory.frame()
    assert list(frame.columns) == [
        "step",
        "loss",
        "active_fraction",
        "uniformity",
        "centre_uniformity",
        "nearest_centre_angle",
    ]
    assert np.isfinite(frame.to_numpy()).all()
    np.testing.assert_allclose(np.linalg.norm(trajectory.final, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(trajectory.snapshots[0], problem.points.numpy(), atol=1e-6)
    assert torch.get_num_threads() >= 1  # the one-thread context restored the setting


def test_nearest_centre_angle_matches_a_plain_loop():
    problem = toy.sphere_problem(classes=5, per_class=4, seed=3)
    trajectory = toy.train_toy(problem, toy.toy_losses()["triplet"], steps=0)
    centres = [
        torch.nn.functional.normalize(problem.points[problem.labels == c].double().mean(0), dim=0) for c in range(5)
    ]
    expected = min(_angle(centres[a], centres[b]) for a in range(5) for b in range(a + 1, 5))
    assert trajectory.nearest_centre_angle[0] == pytest.approx(expected, abs=1e-4)


def test_uniformity_term_spreads_classes_more_than_triplet():
    problem = toy.sphere_problem(classes=6, per_class=6, seed=0)
    runs = toy.compare_losses(problem, toy.toy_losses(uniformity_weight=0.1), steps=120)
    angle = {name: t.nearest_centre_angle[-1] for name, t in runs.items()}
    assert angle["GIL margin"] > angle["triplet"] + 10
    assert angle["GIL softmax"] > angle["triplet"] + 10
    assert runs["triplet"].active_fraction[-1] == 0.0  # the hinge is satisfied, so the triplet stopped
    table = toy.history(runs)
    assert set(table["loss_name"]) == set(runs) and len(table) == sum(len(t.steps) for t in runs.values())


def test_toy_losses_pass_the_knobs():
    losses = toy.toy_losses(TripletConfig(margin=0.25), tau=0.3, kappa=1.5, uniformity_weight=0.7, m0=0.25)
    assert losses["triplet"].margin == 0.25
    for name in ("GIL margin", "GIL softmax"):
        cfg = losses[name].config
        assert (cfg.kappa, cfg.uniformity_weight, cfg.m0) == (1.5, 0.7, 0.25)
    assert losses["GIL softmax"].config.tau == 0.3
    assert isinstance(losses["GIL margin"], GeneralizedInterClassLoss)
    defaults = toy.toy_losses()
    assert defaults["GIL margin"].config.uniformity_weight == 0.01  # each form's own default
    assert defaults["GIL softmax"].config.uniformity_weight == 0.1
    assert defaults["triplet"].config == TripletConfig()
    with pytest.raises(ValueError, match="form is not a setting here"):
        toy.toy_losses(form="softmax")
    with pytest.raises(ValueError, match="unknown setting 'lambda_u'"):
        toy.toy_losses(lambda_u=0.1)


def test_pair_weight_matrix_matches_formula_and_sorts_by_class():
    gen = torch.Generator().manual_seed(0)
    points = torch.randn(7, 3, generator=gen, dtype=torch.float64)
    labels = np.array([2, 0, 1, 0, 2, 1, 0])
    cos, weights = toy.pair_weight_matrix(points, labels)
    x = torch.nn.functional.normalize(points[np.argsort(labels, kind="stable")], dim=1).numpy()
    expected_cos = x @ x.T
    u = (1 - expected_cos) / 2 + 0.01
    np.testing.assert_allclose(cos, expected_cos, atol=1e-12)
    np.testing.assert_allclose(weights, 1 + u / u.max(), atol=1e-12)


def test_margin_table_matches_formula():
    points = torch.tensor(
        [[1.0, 0, 0], [1.0, 0.1, 0], [0, 1.0, 0], [0, 1.0, 0.1], [-1.0, 0, 0], [-1.0, 0, 0.1]], dtype=torch.float64
    )
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    rule = GILConfig(kappa=0.8, m_max=0.3)
    table = toy.margin_table(points, labels, crowded=((1, 0),), settings=rule)
    assert table["pair"].tolist() == ["0–1", "0–2", "1–2"]
    assert table["crowded"].tolist() == [True, False, False]
    centres = torch.nn.functional.normalize(
        torch.stack([torch.nn.functional.normalize(points[labels == c], dim=1).mean(0) for c in range(3)]), dim=1
    )
    for row in table.itertuples():
        cos = float(centres[row.a] @ centres[row.b])
        assert row.centre_cos == pytest.approx(cos, abs=1e-9)
        assert row.margin == pytest.approx(min(max(0.2 * (1 + 0.8 * cos), 0.05), 0.3), abs=1e-9)
    default = toy.margin_table(points, labels)  # GILConfig()'s rule: m0 0.2, κ 0.5, clipped to [0.05, 0.5]
    expected = [min(max(0.2 * (1 + 0.5 * c), 0.05), 0.5) for c in default["centre_cos"]]
    np.testing.assert_allclose(default["margin"], expected, atol=1e-9)


def test_centre_paths_shape():
    problem = toy.sphere_problem(classes=4, per_class=2)
    trajectory = toy.train_toy(problem, toy.toy_losses()["GIL softmax"], steps=4, record_every=2)
    paths = toy.centre_paths(trajectory, problem.labels)
    assert paths.shape == (3, 4, 3)
    np.testing.assert_allclose(np.linalg.norm(paths, axis=-1), 1.0, atol=1e-9)
