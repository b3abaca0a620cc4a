"""Mixed precision and the torchrun process group — the trainer's environment (the device: :mod:`gil.device`).

``torchrun`` sets ``RANK``/``WORLD_SIZE``/``LOCAL_RANK``; a plain ``python -m gil train`` is a world of one
and never touches ``torch.distributed``. Under torchrun rank 0 alone logs and writes; :func:`data_parallel` wraps the
model in DDP (with ``trainer.sync_bn``, after :func:`sync_batchnorm`).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
from collections.abc import Collection
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from gil.device import pick_device

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Environment:
    device: torch.device
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup(requested_device: str = "auto") -> Environment:
    """Join the torchrun process group when launched by torchrun; otherwise a single process."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = pick_device(requested_device, local_rank)
    if world_size > 1 and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend=backend)
        if rank == 0:
            log.info("process group: %s, %d processes (rank 0 on %s)", backend, world_size, device)
    return Environment(device=device, rank=rank, local_rank=local_rank, world_size=world_size)


def teardown() -> None:
    """Destroy the process group; release every DDP module first (:meth:`gil.train.Trainer.release_data_parallel`).

    A released DDP module in a reference cycle still holds the group until collected, so a collection runs first:
    the group's own teardown then drops its last reference, with the GIL released while gloo's threads finish."""
    if dist.is_initialized():
        gc.collect()
        dist.destroy_process_group()


def autocast_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``trainer.amp`` on ``device`` (None = full fp32)."""
    if amp == "off" or (amp == "auto" and device.type == "cpu"):
        return None
    if amp == "auto":
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float16
    if amp == "bf16":
        return torch.bfloat16
    if amp == "fp16":
        return torch.float16
    raise ValueError(f"trainer.amp: expected auto, off, bf16 or fp16, got '{amp}'")


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def any_rank(flag: bool, device: torch.device) -> bool:
    """True on every rank when ``flag`` is True on any rank (a plain process: ``flag`` itself)."""
    if not dist.is_initialized():
        return flag
    value = torch.tensor(int(flag), device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value)


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def sync_batchnorm(model: nn.Module, env: Environment) -> nn.Module:
    """``trainer.sync_bn``: ``model`` with every BatchNorm layer a :class:`torch.nn.SyncBatchNorm`, whose statistics
    are those of the global batch (every rank's share), as one process training on it would compute them.

    The layers keep their parameters and buffers (the optimiser's references and the checkpoint's keys stay
    valid). A single process is returned as it is (its BatchNorm already sees the whole batch), with a logged line;
    under torchrun on a device other than CUDA it is refused: torch's SyncBatchNorm runs on GPU tensors only (its
    forward raises on CPU tensors, with gloo too)."""
    if env.world_size == 1:
        log.info("trainer.sync_bn: one process, whose BatchNorm already sees the whole batch: nothing to synchronise")
        return model
    if env.device.type != "cuda":
        raise ValueError(
            f"trainer.sync_bn=true needs CUDA devices: torch's SyncBatchNorm does not run on {env.device.type} tensors "
            f"(here {env.world_size} processes on {env.device}); set trainer.sync_bn=false, or train on GPUs"
        )
    layers = sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
    if env.is_main:
        log.info("trainer.sync_bn: %d BatchNorm layers synchronised over %d processes", layers, env.world_size)
    return nn.SyncBatchNorm.convert_sync_batchnorm(model)


class _ReadOutputs(nn.Module):
    """``model`` with the outputs that no loss term reads set to None (see :func:`data_parallel`)."""

    def __init__(self, model: nn.Module, read: Collection[str]) -> None:
        super().__init__()
        self.model = model
        self.read = frozenset(read)

    def forward(self, sils: torch.Tensor) -> dict[str, torch.Tensor | None]:
        return {key: value if key in self.read else None for key, value in self.model(sils).items()}


def unread_outputs(model: nn.Module, read: Collection[str], sils: torch.Tensor) -> list[str]:
    """The outputs of ``model`` on ``sils`` ``[n, s, h, w]`` that hold a tensor but that no loss term reads (a forward
    in eval mode without gradients: it changes no BatchNorm statistic and draws no random number)."""
    training = model.training
    model.eval()
    with torch.no_grad():
        outputs = model(sils)
    model.train(training)
    return sorted(key for key, value in outputs.items() if value is not None and key not in read)


def data_parallel(model: nn.Module, env: Environment, read: Collection[str], sils: torch.Tensor) -> nn.Module:
    """``model`` in DDP, for a loss whose terms read the outputs named in ``read``; ``sils`` ``[n, s, h, w]``: a
    sample input.

    GaitGL and GaitBase return classifier logits: without a ``ce`` term nothing reads them, so their classifier (and
    BNNeck) gets no gradient, and DDP, which expects a gradient for every parameter, fails on the second step. Only
    such a model gets ``find_unused_parameters=True`` (an extra autograd traversal every step), and its unread
    outputs are dropped before DDP sees them: DDP looks for unused parameters from the forward's outputs, and
    through the returned logits it would count the classifier as used (then warning on every rank that it found
    no unused parameter). Every other model and loss uses all its parameters: ``find_unused_parameters=False``."""
    unread = unread_outputs(model, read, sils)
    if unread:
        model = _ReadOutputs(model, read)
        if env.is_main:
            log.info("DDP: no loss term reads the model's %s: their parameters are found unused", ", ".join(unread))
    ids = [env.device.index] if env.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids, find_unused_parameters=bool(unread))
