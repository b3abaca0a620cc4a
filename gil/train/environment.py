"""Mixed precision and the torchrun process group — the trainer's environment (the device: :mod:`gil.device`).

``torchrun`` sets ``RANK``/``WORLD_SIZE``/``LOCAL_RANK``; a plain ``python -m gil train`` is a world of one
and never touches ``torch.distributed``.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

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
        log.info("process group: %s, rank %d of %d on %s", backend, rank, world_size, device)
    return Environment(device=device, rank=rank, local_rank=local_rank, world_size=world_size)


def teardown() -> None:
    if dist.is_initialized():
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
