"""Gather a batch from every DDP rank before pairing, so a metric loss sees the global batch.

Under ``torch.distributed`` with world size > 1, :func:`gather_batch` concatenates the ranks'
embeddings (rank order) with gradient, through ``torch.distributed.nn.functional.all_gather``,
and their labels; otherwise it returns its inputs unchanged. Ranks may hold different batch
sizes (padded to the largest for the collective, then trimmed).

Gradient bookkeeping: every rank computes the same loss L on the gathered batch, and the
all-gather's backward *sums* the ranks' gradients, so rank r's local embeddings receive
``world_size · ∂L/∂e_r``. DDP then *averages* parameter gradients over ranks, which gives exactly
``∂L/∂θ`` of the loss on the concatenated batch — no extra scaling is needed (OpenGait multiplies
its loss by the world size instead, because its gather passes gradient to the local slice only).
"""

from __future__ import annotations

import warnings

import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_fn
from torch import Tensor


def is_distributed() -> bool:
    """True inside an initialised process group with more than one rank."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def gather_batch(x: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """``x [n_r, ...]``, ``labels [n_r]`` on each rank → ``[Σ n_r, ...]``, ``[Σ n_r]`` on every rank."""
    if not is_distributed():
        return x, labels
    world = dist.get_world_size()
    sizes = [torch.zeros(1, dtype=torch.long, device=x.device) for _ in range(world)]
    dist.all_gather(sizes, torch.tensor([x.shape[0]], dtype=torch.long, device=x.device))
    sizes = [int(s) for s in sizes]
    pad = max(sizes) - x.shape[0]
    if pad:
        x = torch.cat([x, x.new_zeros((pad, *x.shape[1:]))])
        labels = torch.cat([labels, labels.new_zeros(pad)])
    with warnings.catch_warnings():
        # The autograd all_gather is marked deprecated in favour of a private functional API;
        # it is still the documented way to gather with gradient on every backend (gloo too).
        warnings.filterwarnings("ignore", message=r".*all_gather is deprecated", category=FutureWarning)
        xs = dist_fn.all_gather(x.contiguous())
    label_list = [torch.empty_like(labels) for _ in range(world)]
    dist.all_gather(label_list, labels.contiguous())
    x_all = torch.cat([xi[:size] for xi, size in zip(xs, sizes, strict=True)])
    labels_all = torch.cat([li[:size] for li, size in zip(label_list, sizes, strict=True)])
    return x_all, labels_all
