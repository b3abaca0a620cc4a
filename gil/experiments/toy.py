"""A toy problem for the loss anatomy notebook: a few classes of points on the unit sphere in 3-D.

The points themselves are the parameters; each step projects them on the sphere and applies a loss to
the projected points as ``[n, 1, 3]`` embeddings (one part). Two pairs of classes start crowded
together, so the adaptive margin and the uniformity term have something to act on.

Everything the notebook shows is computed here with the loss's own functions
(:func:`gil.losses.gil.pair_weights`, :func:`~gil.losses.gil.class_centres`,
:func:`~gil.losses.gil.adaptive_margins`, :func:`~gil.losses.gil.uniformity`); figures are in
:mod:`gil.plots`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from gil.losses import GeneralizedInterClassLoss, TripletConfig, TripletLoss
from gil.losses.gil import GILConfig, adaptive_margins, class_centres, inverse_norm, pair_weights
from gil.losses.gil import uniformity as centre_uniformity_term
from gil.losses.pairs import PairIndex
from gil.metrics import uniformity

CROWDED_PAIRS = ((0, 1), (2, 3))  # the class pairs sphere_problem starts close together


@dataclass(frozen=True)
class ToyProblem:
    points: torch.Tensor  # [n, 3] initial unit vectors
    labels: torch.Tensor  # [n] class indices 0..C-1, sorted
    crowded: tuple[tuple[int, int], ...] = CROWDED_PAIRS  # class pairs that start close together

    @property
    def num_classes(self) -> int:
        return int(self.labels.max()) + 1


@dataclass
class ToyTrajectory:
    """What one toy training run went through; ``snapshots[i]`` is ``[n, 3]`` at ``steps[i]``."""

    steps: list[int] = field(default_factory=list)
    snapshots: list[np.ndarray] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    active_fraction: list[float] = field(default_factory=list)  # triplets (or pairs) still violating the margin
    uniformity: list[float] = field(default_factory=list)  # Wang–Isola over samples (gil.metrics.uniformity)
    centre_uniformity: list[float] = field(default_factory=list)  # the same over class centres: L_u (GIL's t)
    nearest_centre_angle: list[float] = field(default_factory=list)  # degrees, smallest centre–centre angle

    @property
    def final(self) -> np.ndarray:
        return self.snapshots[-1]

    def frame(self) -> pd.DataFrame:
        """One row per recorded step: ``step, loss, active_fraction, uniformity, centre_uniformity,
        nearest_centre_angle``."""
        return pd.DataFrame(
            {
                "step": self.steps,
                "loss": self.loss,
                "active_fraction": self.active_fraction,
                "uniformity": self.uniformity,
                "centre_uniformity": self.centre_uniformity,
                "nearest_centre_angle": self.nearest_centre_angle,
            }
        )


def sphere_problem(classes: int = 6, per_class: int = 8, spread: float = 0.35, seed: int = 0) -> ToyProblem:
    """``classes`` clusters of ``per_class`` points; classes 0/1 and 2/3 start with nearby centres (~20°)."""
    if classes < 4:
        raise ValueError(f"classes: the toy needs at least 4 classes (two crowded pairs), got {classes}")
    if per_class < 2:
        raise ValueError(f"per_class: the losses need at least 2 points per class, got {per_class}")
    gen = torch.Generator().manual_seed(seed)
    centres = F.normalize(torch.randn(classes, 3, generator=gen), dim=1)
    for a, b in CROWDED_PAIRS:  # crowd two pairs: b sits ~20° from a
        centres[b] = F.normalize(centres[a] + 0.35 * F.normalize(torch.randn(3, generator=gen), dim=0), dim=0)
    labels = torch.arange(classes).repeat_interleave(per_class)  # [n]
    points = F.normalize(centres[labels] + spread * torch.randn(len(labels), 3, generator=gen), dim=1)
    return ToyProblem(points=points, labels=labels)


def toy_losses(triplet: TripletConfig | None = None, **gil_settings: Any) -> dict[str, nn.Module]:
    """The three losses the notebook compares, by display name: the triplet baseline and both GIL forms.

    ``triplet``: the baseline's settings (default :class:`~gil.losses.triplet.TripletConfig()`); ``gil_settings``:
    :class:`~gil.losses.gil.GILConfig` fields (``tau``, ``kappa``, ``uniformity_weight`` …, not ``form``) given to both
    GIL forms; an unset one keeps its default there (``uniformity_weight``: each form's own, 0.01 for the margin form
    and 0.1 for the softmax form). ``tau`` acts on the softmax form only.
    """
    if "form" in gil_settings:
        raise ValueError("toy_losses: form is not a setting here (both GIL forms are built)")
    return {
        "triplet": TripletLoss(triplet),
        "GIL margin": GeneralizedInterClassLoss(form="margin", **gil_settings),
        "GIL softmax": GeneralizedInterClassLoss(form="softmax", **gil_settings),
    }


def _centres(points: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Unit class centres ``[C, 3]`` of unit-or-not ``points [n, 3]``, via the loss's ``class_centres``."""
    x = points[None].double()  # [p=1, n, 3]
    inv_norm = inverse_norm(x.pow(2).sum(-1))  # [1, n]
    return class_centres(x, inv_norm, PairIndex.from_labels(labels, "toy"))[0]


def _record(
    trajectory: ToyTrajectory, step: int, unit: torch.Tensor, info: dict[str, float], labels: torch.Tensor
) -> None:
    snapshot = unit.detach().numpy().copy()  # [n, 3]
    centres = _centres(unit.detach(), labels)  # [C, 3]
    cos = (centres @ centres.T).clamp(-1, 1).fill_diagonal_(-1.0)  # [C, C], self never the nearest
    trajectory.steps.append(step)
    trajectory.snapshots.append(snapshot)
    trajectory.loss.append(info["loss"])
    trajectory.active_fraction.append(info.get("active_fraction", float("nan")))
    trajectory.uniformity.append(float(uniformity(snapshot[:, None, :]).mean()))
    trajectory.centre_uniformity.append(float(centre_uniformity_term(centres[None], t=GILConfig().t)[0]))
    trajectory.nearest_centre_angle.append(float(torch.rad2deg(torch.arccos(cos.max()))))


@contextmanager
def _one_thread() -> Iterator[None]:
    """Run on one intra-op thread: on ``[n, 3]`` tensors extra threads only add synchronisation (and, on a
    busy machine, a several-fold slowdown); the previous setting is restored."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def train_toy(
    problem: ToyProblem, loss_fn: nn.Module, steps: int = 150, lr: float = 0.02, record_every: int = 5
) -> ToyTrajectory:
    """Optimise the points with Adam under ``loss_fn(embeddings [n, 1, 3], labels)``; returns the trajectory.

    Adam (the same ``lr`` for every loss) moves every point by about ``lr`` radians a step whatever the
    loss's scale, so losses are compared at equal step sizes; a loss that reaches 0 stops moving points.
    Runs on one CPU thread (see :func:`_one_thread`).
    """
    if steps < 0 or record_every < 1:
        raise ValueError(f"train_toy: steps must be >= 0 and record_every >= 1, got {steps}, {record_every}")
    params = nn.Parameter(problem.points.clone())
    optimizer = torch.optim.Adam([params], lr=lr)
    trajectory = ToyTrajectory()
    with _one_thread():
        for step in range(steps + 1):
            unit = F.normalize(params, dim=1)  # [n, 3]
            loss, info = loss_fn(unit[:, None, :], problem.labels)
            if step % record_every == 0 or step == steps:
                _record(trajectory, step, unit, info, problem.labels)
            if step == steps:
                break
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return trajectory


def compare_losses(
    problem: ToyProblem, losses: Mapping[str, nn.Module], steps: int = 150, lr: float = 0.02, record_every: int = 5
) -> dict[str, ToyTrajectory]:
    """:func:`train_toy` from the same start for each named loss."""
    return {name: train_toy(problem, fn, steps=steps, lr=lr, record_every=record_every) for name, fn in losses.items()}


def history(trajectories: Mapping[str, ToyTrajectory]) -> pd.DataFrame:
    """All trajectories as one tidy table: :meth:`ToyTrajectory.frame` plus a ``loss_name`` column."""
    return pd.concat([t.frame().assign(loss_name=name) for name, t in trajectories.items()], ignore_index=True)


def pair_weight_matrix(
    points: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor
) -> tuple[np.ndarray, np.ndarray]:
    """Cosine ``s [n, n]`` and GIL's dynamic pair weight ``w [n, n]`` of ``points [n, 3]``, rows sorted by class.

    ``w`` comes from :func:`gil.losses.gil.pair_weights` (max over the whole matrix, as in the loss).
    """
    x = torch.as_tensor(np.asarray(points), dtype=torch.float64)
    order = torch.as_tensor(np.argsort(np.asarray(labels), kind="stable"))
    x = x[order][None]  # [p=1, n, 3]
    inv_norm = inverse_norm(x.pow(2).sum(-1))  # [1, n]
    inner = x @ x.transpose(1, 2)  # [1, n, n]
    cos = inner * inv_norm[:, :, None] * inv_norm[:, None, :]
    return cos[0].numpy(), pair_weights(inner, inv_norm)[0].numpy()


def margin_table(
    points: np.ndarray | torch.Tensor,
    labels: np.ndarray | torch.Tensor,
    crowded: tuple[tuple[int, int], ...] = CROWDED_PAIRS,
    settings: GILConfig | None = None,
) -> pd.DataFrame:
    """GIL's adaptive margin for every class pair ``a < b`` of ``points [n, 3]``.

    Columns: ``a, b, pair`` ("a–b"), ``centre_cos`` (μ_a·μ_b), ``centre_angle`` (degrees), ``margin``
    (:func:`gil.losses.gil.adaptive_margins` under ``settings``, default :class:`~gil.losses.gil.GILConfig()`),
    ``crowded`` (the pair is in ``crowded``).
    """
    labels_t = torch.as_tensor(np.asarray(labels))
    centres = _centres(torch.as_tensor(np.asarray(points), dtype=torch.float64), labels_t)  # [C, 3]
    margins = adaptive_margins(centres[None], settings or GILConfig())[0]  # [C, C]
    cos = (centres @ centres.T).clamp(-1, 1)
    a, b = np.triu_indices(len(centres), k=1)
    crowded_set = {tuple(sorted(pair)) for pair in crowded}
    return pd.DataFrame(
        {
            "a": a,
            "b": b,
            "pair": [f"{i}–{j}" for i, j in zip(a, b, strict=True)],
            "centre_cos": cos[a, b].numpy(),
            "centre_angle": np.degrees(np.arccos(cos[a, b].numpy())),
            "margin": margins[a, b].numpy(),
            "crowded": [(int(i), int(j)) in crowded_set for i, j in zip(a, b, strict=True)],
        }
    )


def centre_paths(trajectory: ToyTrajectory, labels: np.ndarray | torch.Tensor) -> np.ndarray:
    """Unit class centres at every recorded step, ``[T, C, 3]`` (how the classes moved)."""
    labels_t = torch.as_tensor(np.asarray(labels))
    return np.stack([_centres(torch.as_tensor(s, dtype=torch.float64), labels_t).numpy() for s in trajectory.snapshots])
