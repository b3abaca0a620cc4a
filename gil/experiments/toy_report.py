"""The tables and words of the loss-anatomy page (notebook 00), from the toy runs of :mod:`gil.experiments.toy`.

Each function takes trajectories (:class:`~gil.experiments.toy.ToyTrajectory`, points ``[n, 3]`` on the sphere) or
the toy's matrices and returns a DataFrame or Markdown text; the page displays them. :func:`explorer` is the slider
callback of the page's interactive cell: it retrains both GIL forms and draws them beside the triplet baseline.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from gil import plots
from gil.experiments import toy

# the columns of :meth:`ToyTrajectory.frame` the page's table of the last step shows, and their headers
FINAL_COLUMNS = {
    "active_fraction": "triplets violating the margin",
    "uniformity": "sample uniformity",
    "centre_uniformity": "centre uniformity L_u",
    "nearest_centre_angle": "smallest centre angle (°)",
}


def final_table(trajectories: Mapping[str, toy.ToyTrajectory]) -> pd.DataFrame:
    """The last recorded step of each run: one row per loss name, the columns :data:`FINAL_COLUMNS` (renamed)."""
    final = pd.DataFrame({name: t.frame().iloc[-1] for name, t in trajectories.items()}).T
    return final[list(FINAL_COLUMNS)].rename(columns=FINAL_COLUMNS).astype(float)


def when_satisfied(trajectory: toy.ToyTrajectory) -> str:
    """In words, from which recorded step on every triplet satisfied its margin (``active_fraction`` 0), or the
    share of triplets still violating it at the last step."""
    done = [s for s, value in zip(trajectory.steps, trajectory.active_fraction, strict=True) if value == 0]
    if done:
        return f"every triplet satisfied its margin from step {done[0]} on"
    return f"{trajectory.active_fraction[-1]:.1%} of the triplets still violated their margin at the last step"


def satisfaction_summary(trajectories: Mapping[str, toy.ToyTrajectory]) -> str:
    """A Markdown list, one item per loss: :func:`when_satisfied` and how the smallest angle between class centres
    changed from the first to the last recorded step."""
    return "\n".join(
        f"- **{name}**: {when_satisfied(t)}; the smallest angle between class centres went from "
        f"{t.nearest_centre_angle[0]:.0f}° to {t.nearest_centre_angle[-1]:.0f}°."
        for name, t in trajectories.items()
    )


def pair_weight_groups(
    cos: np.ndarray, weights: np.ndarray, labels: np.ndarray, crowded: Sequence[tuple[int, int]] = toy.CROWDED_PAIRS
) -> pd.DataFrame:
    """Mean cosine and mean pair weight of three groups of pairs of :func:`~gil.experiments.toy.pair_weight_matrix`.

    ``cos``, ``weights``: ``[n, n]`` with rows and columns sorted by class; ``labels``: ``[n]`` class of each point
    (in any order, sorted here as the matrices are). Rows: ``same class``, ``crowded pair`` (the two classes are one
    of ``crowded``), ``other classes``; columns ``mean cosine``, ``mean weight w``.
    """
    ordered = np.sort(np.asarray(labels))
    row, col = ordered[:, None], ordered[None, :]  # class of i and of j, [n, 1] and [1, n]
    same = row == col  # [n, n]
    crowded_block = np.zeros_like(same)
    for a, b in crowded:
        crowded_block |= ((row == a) & (col == b)) | ((row == b) & (col == a))
    groups = {"same class": same, "crowded pair": crowded_block, "other classes": ~same & ~crowded_block}
    return pd.DataFrame(
        {
            name: {"mean cosine": cos[mask].mean(), "mean weight w": weights[mask].mean()}
            for name, mask in groups.items()
        }
    ).T


def crowded_margins(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The crowded pairs' ``centre_angle`` and ``margin`` of several :func:`~gil.experiments.toy.margin_table`
    tables side by side: rows the pairs (``0–1`` …), columns ``(name, centre_angle)``, ``(name, margin)``."""
    return pd.concat(
        {name: table[table["crowded"]].set_index("pair")[["centre_angle", "margin"]] for name, table in tables.items()},
        axis=1,
    )


def lambda_sweep(
    problem: toy.ToyProblem, lambdas: Sequence[float], kappa: float | None = None, steps: int = 150
) -> dict[str, toy.ToyTrajectory]:
    """GIL's margin form trained from ``problem``'s start once per uniformity weight λ_u in ``lambdas``, named
    ``"GIL margin, λ_u = <λ_u>"``; ``kappa`` ``None``: the loss's default."""
    knobs = {} if kappa is None else {"kappa": kappa}
    return {
        f"GIL margin, λ_u = {lam:g}": toy.train_toy(
            problem, toy.toy_losses(uniformity_weight=lam, **knobs)["GIL margin"], steps=steps
        )
        for lam in lambdas
    }


def sweep_table(trajectories: Mapping[str, toy.ToyTrajectory]) -> pd.DataFrame:
    """Per run, the last step's ``smallest centre angle (°)`` and ``centre uniformity L_u``."""
    return pd.DataFrame(
        {
            name: {
                "smallest centre angle (°)": t.nearest_centre_angle[-1],
                "centre uniformity L_u": t.centre_uniformity[-1],
            }
            for name, t in trajectories.items()
        }
    ).T


def retrain_gil(
    problem: toy.ToyProblem,
    baseline: toy.ToyTrajectory,
    tau: float,
    kappa: float,
    lambda_u: float,
    steps: int = 150,
) -> dict[str, toy.ToyTrajectory]:
    """``triplet``: ``baseline`` as given (it has none of the three knobs); ``GIL margin`` and ``GIL softmax``:
    retrained from ``problem``'s start with the temperature ``tau``, crowding gain ``kappa`` and uniformity weight
    ``lambda_u``."""
    losses = toy.toy_losses(tau=tau, kappa=kappa, uniformity_weight=lambda_u)
    gil_losses = {name: loss for name, loss in losses.items() if name != "triplet"}
    return {"triplet": baseline, **toy.compare_losses(problem, gil_losses, steps=steps)}


def explorer(
    problem: toy.ToyProblem, baseline: toy.ToyTrajectory, steps: int = 150
) -> Callable[[float, float, float], None]:
    """The callback of the page's sliders, ``callback(tau, kappa, lambda_u)`` for ``ipywidgets.interact``: it runs
    :func:`retrain_gil` and shows two figures, the final points on whole-sphere maps and the training curves.

    It is the one function here that displays (``plt.show``): ``interact`` calls it for that, and shows what it
    returns besides, so it returns ``None``.
    """
    labels = problem.labels.numpy()

    def callback(tau: float, kappa: float, lambda_u: float) -> None:
        runs = retrain_gil(problem, baseline, tau, kappa, lambda_u, steps=steps)
        paths = {name: toy.centre_paths(t, labels) for name, t in runs.items()}
        maps = plots.sphere_panels({name: t.final for name, t in runs.items()}, labels, paths, ("map",))
        curves = plots.toy_history_panels(toy.history(runs))
        plt.show()
        plt.close(maps)
        plt.close(curves)

    return callback
