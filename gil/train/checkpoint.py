"""Checkpoints: written atomically, loaded with ``weights_only=True``, resumed exactly.

A checkpoint holds the model, optimiser, scheduler and grad-scaler states, every RNG state (Python, NumPy,
torch CPU and CUDA) and the step; the sampler needs only the step, because batch ``b`` is a pure function
of ``(seed, b)``. Reading one back is :mod:`gil.checkpoints`' (``read_checkpoint``, ``checkpoint_weights``).
"""

from __future__ import annotations

import errno
import random
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gil.files import write_atomic


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's generators (a run's start; a resumed run restores :func:`rng_state`)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    numpy_state = np.random.get_state()
    state: dict[str, Any] = {
        "python": list(random.getstate()[1]) + [random.getstate()[2]],
        "python_version": random.getstate()[0],
        "numpy_keys": torch.from_numpy(numpy_state[1].astype(np.int64)),
        "numpy_pos": numpy_state[2],
        "numpy_gauss": [numpy_state[3], numpy_state[4]],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore :func:`rng_state`'s output; its tensors may sit on any device (a checkpoint mapped to the GPU)."""
    python = state["python"]
    random.setstate((state["python_version"], tuple(python[:-1]), python[-1]))
    np.random.set_state(
        ("MT19937", state["numpy_keys"].cpu().numpy().astype(np.uint32), state["numpy_pos"], *state["numpy_gauss"])
    )
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def nonfinite_tensors(tensors: Mapping[str, Any]) -> list[str]:
    """Names of the floating-point tensors in ``tensors`` (nested mappings allowed) holding NaN or Inf.

    One reduction per tensor and one device sync in the common, all-finite case.
    """
    flat = dict(_floating(tensors))
    if not flat:
        return []
    finite = torch.stack([torch.isfinite(t).all() for t in flat.values()])
    if bool(finite.all()):
        return []
    return [name for name, ok in zip(flat, finite.tolist(), strict=True) if not ok]


def _floating(tensors: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, torch.Tensor]]:
    for key, value in tensors.items():
        if isinstance(value, Mapping):
            yield from _floating(value, f"{prefix}{key}.")
        elif isinstance(value, torch.Tensor) and value.is_floating_point() and value.numel():
            yield f"{prefix}{key}", value.detach()


def save_atomic(obj: Any, path: str | Path) -> None:
    """``torch.save`` through :func:`gil.files.write_atomic` (flushed to disk before the rename).

    An interruption leaves the old file or the new one; a failed write (a full disk) raises ``OSError``
    naming ``path`` and keeps the old file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        write_atomic(path, lambda handle: torch.save(obj, handle), fsync=True)
    except OSError as err:
        kept = f"the previous {path.name} is kept" if path.is_file() else f"no {path.name} was written"
        reason = "the disk is full" if err.errno == errno.ENOSPC else (err.strerror or str(err))
        raise OSError(err.errno, f"{path}: could not write the checkpoint ({reason}); {kept}") from err
