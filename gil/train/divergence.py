"""What a run that met a non-finite value says: which tensors, where its last good state is, and what to change."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch


def divergence_error(
    what: str, bad: Sequence[str], step: int, checkpoint: Path, amp_dtype: torch.dtype | None, amp: str
) -> FloatingPointError:
    """The error for step ``step + 1``'s non-finite ``what`` (``bad``: the tensors or terms, by name).

    ``checkpoint`` is the run's ``last.pt``; ``amp_dtype`` the autocast dtype in use (None: full precision) and
    ``amp`` the ``trainer.amp`` setting that chose it. Before any update the advice names the precision or the data,
    never the learning rate."""
    last = f"{checkpoint} (its last good state)" if checkpoint.is_file() else "none yet"
    more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
    if step == 0 and amp_dtype is not None:  # no update yet: the precision, not the learning rate
        advice = (
            f"It happened before any update, under {str(amp_dtype).removeprefix('torch.')} autocast "
            f"(trainer.amp={amp}): run in full precision with trainer.amp=off"
        )
    elif step == 0:
        advice = (
            "It happened before any update, so the learning rate is not the cause: check the data and the loss "
            "settings, or set trainer.nonfinite=skip to skip such steps"
        )
    else:
        advice = "Lower optim.lr, set trainer.grad_clip, or set trainer.nonfinite=skip to skip such steps"
    return FloatingPointError(
        f"step {step + 1}: non-finite {what}: {', '.join(bad[:3])}{more}; training stopped before "
        f"this step was saved (checkpoint: {last}). {advice}"
    )
