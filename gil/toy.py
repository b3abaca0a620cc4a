"""A toy problem for the loss anatomy notebook: a few classes of points on the unit sphere in 3-D.

The points themselves are the parameters; each step projects them on the sphere and applies a loss to
the projected points as ``[n, 1, 3]`` embeddings (one part). Two pairs of classes start crowded
together, so the adaptive margin and the uniformity term have something to act on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gil.metrics import centre_geometry, uniformity


@dataclass(frozen=True)
class ToyProblem:
    points: torch.Tensor  # [n, 3] initial unit vectors
    labels: torch.Tensor  # [n] class indices


@dataclass
class ToyTrajectory:
    """What one toy training run went through; ``snapshots[i]`` is ``[n, 3]`` at ``steps[i]``."""

    steps: list[int] = field(default_factory=list)
    snapshots: list[np.ndarray] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    uniformity: list[float] = field(default_factory=list)  # Wang–Isola, over samples
    nearest_centre_angle: list[float] = field(default_factory=list)  # degrees, min over classes

    @property
    def final(self) -> np.ndarray:
        return self.snapshots[-1]


def sphere_problem(classes: int = 6, per_class: int = 8, spread: float = 0.35, seed: int = 0) -> ToyProblem:
    """``classes`` clusters of ``per_class`` points; classes 0/1 and 2/3 start with nearby centres."""
    if classes < 4:
        raise ValueError(f"classes: the toy needs at least 4 classes (two crowded pairs), got {classes}")
    gen = torch.Generator().manual_seed(seed)
    centres = F.normalize(torch.randn(classes, 3, generator=gen), dim=1)
    for a, b in ((0, 1), (2, 3)):  # crowd two pairs: b sits ~20° from a
        centres[b] = F.normalize(centres[a] + 0.35 * F.normalize(torch.randn(3, generator=gen), dim=0), dim=0)
    labels = torch.arange(classes).repeat_interleave(per_class)  # [n]
    points = F.normalize(centres[labels] + spread * torch.randn(len(labels), 3, generator=gen), dim=1)
    return ToyProblem(points=points, labels=labels)


def train_toy(
    problem: ToyProblem, loss_fn: nn.Module, steps: int = 150, lr: float = 0.05, record_every: int = 5
) -> ToyTrajectory:
    """Optimise the points with SGD under ``loss_fn(embeddings [n, 1, 3], labels)``; returns the trajectory."""
    params = nn.Parameter(problem.points.clone())
    optimizer = torch.optim.SGD([params], lr=lr)
    trajectory = ToyTrajectory()
    for step in range(steps + 1):
        unit = F.normalize(params, dim=1)  # [n, 3]
        loss, _ = loss_fn(unit[:, None, :], problem.labels)
        if step % record_every == 0 or step == steps:
            snapshot = unit.detach().numpy().copy()
            trajectory.steps.append(step)
            trajectory.snapshots.append(snapshot)
            trajectory.loss.append(float(loss))
            trajectory.uniformity.append(float(uniformity(snapshot[:, None, :]).mean()))
            geometry = centre_geometry(snapshot[:, None, :], problem.labels.numpy())
            trajectory.nearest_centre_angle.append(float(geometry.nearest["mean"].min()))
        if step == steps:
            break
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return trajectory
