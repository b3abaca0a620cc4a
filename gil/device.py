"""Picking the torch device a run asks for (``trainer.device``, ``gil eval --device``): used by training and
evaluation alike."""

from __future__ import annotations

import torch


def pick_device(requested: str = "auto", local_rank: int = 0) -> torch.device:
    """``auto`` -> CUDA (this process's local rank), else MPS, else CPU; explicit names are validated."""
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank % torch.cuda.device_count())
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(requested)
    except RuntimeError as err:
        raise ValueError(f"trainer.device: expected auto, cpu, cuda, cuda:N or mps, got '{requested}'") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"trainer.device is '{requested}' but this machine has no CUDA device visible to torch "
            f"(torch {torch.__version__}, torch.cuda.is_available() is False); use auto or cpu"
        )
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", local_rank % torch.cuda.device_count())
    if device.type == "cuda" and device.index >= torch.cuda.device_count():
        raise ValueError(
            f"trainer.device is '{requested}' but this machine has {torch.cuda.device_count()} CUDA "
            f"device(s): cuda:0 .. cuda:{torch.cuda.device_count() - 1}"
        )
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError(
            "trainer.device is 'mps' but this machine has no MPS device "
            "(torch.backends.mps.is_available() is False); use auto or cpu"
        )
    if device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"trainer.device: expected auto, cpu, cuda, cuda:N or mps, got '{requested}'")
    return device


__all__ = ["pick_device"]
