"""gil.plots.anatomy, the loss-anatomy figures: each returns a Figure with the expected panels."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from gil import plots  # noqa: E402
from gil.experiments import toy  # noqa: E402
from gil.losses import GILConfig  # noqa: E402


@pytest.fixture(scope="module")
def runs():
    problem = toy.sphere_problem(classes=4, per_class=3)
    return problem, toy.compare_losses(problem, toy.toy_losses(), steps=6, record_every=2)


@pytest.mark.parametrize(("views", "rows"), [(("3d", "map"), 2), (("map",), 1), (("3d",), 1)])
def test_sphere_panels(runs, views, rows):
    problem, trajectories = runs
    labels = problem.labels.numpy()
    panels = {"start": problem.points.numpy(), **{n: t.final for n, t in trajectories.items()}}
    paths = {n: toy.centre_paths(t, labels) for n, t in trajectories.items()}
    fig = plots.sphere_panels(panels, labels, paths, views=views, title="t")
    assert len(fig.axes) == rows * len(panels)
    assert fig.legends and len(fig.legends[0].get_texts()) == 4
    titles = [ax.get_title() for ax in fig.axes[: len(panels)]]
    assert titles == list(panels)
    plt.close(fig)


def test_sphere_panels_rejects_unknown_view(runs):
    problem, _ = runs
    with pytest.raises(ValueError, match="views"):
        plots.sphere_panels({"a": problem.points.numpy()}, problem.labels.numpy(), views=("globe",))


def test_pair_matrices_and_margin_curves(runs):
    problem, trajectories = runs
    labels = problem.labels.numpy()
    fig = plots.pair_matrices(*toy.pair_weight_matrix(problem.points, labels), labels)
    assert [ax.get_title() for ax in fig.axes if ax.get_title()] == ["cosine $s_{ij}$", "pair weight $w_{ij}$"]
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["0", "1", "2", "3"]
    plt.close(fig)
    tables = {
        "start": toy.margin_table(problem.points, labels),
        "end": toy.margin_table(trajectories["triplet"].final, labels),
    }
    fig = plots.margin_curves(tables, GILConfig(m0=0.3, kappa=0.5, m_min=0.05, m_max=0.4))
    assert [ax.get_title() for ax in fig.axes] == ["start", "end"]
    cos, margin = fig.axes[0].get_lines()[0].get_data()  # the rule's curve
    np.testing.assert_allclose(margin, np.clip(0.3 * (1 + 0.5 * cos), 0.05, 0.4))
    plt.close(fig)


def test_toy_history_panels(runs):
    _, trajectories = runs
    fig = plots.toy_history_panels(toy.history(trajectories))
    assert len(fig.axes) == len(plots.TOY_HISTORY_PANELS)
    assert all(len(ax.get_lines()) == 3 for ax in fig.axes)
    plt.close(fig)
