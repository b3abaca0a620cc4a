"""The checks every config value passes when its section is built: each error names the dotted key, what was
expected and the value it got (``config key 'trainer.steps': expected an integer >= 1, got 0``)."""

from __future__ import annotations

from typing import Any


def expect(ok: bool, key: str, expected: str, value: Any) -> None:
    """Raise naming the dotted ``key`` unless ``ok``: ``config key 'trainer.steps': expected …, got 0``."""
    if not ok:
        raise ValueError(f"config key '{key}': expected {expected}, got {value!r}")


def one_of(value: Any, choices: tuple[str, ...] | list[str], key: str) -> None:
    expect(value in choices, key, f"one of {', '.join(choices)}", value)


# the largest value a setting takes: beyond it a run cannot mean what it says, or cannot fit in memory
AT_MOST: dict[str, float] = {
    "data.frames": 1000,  # a clip of 1000 frames: CASIA-B's longest sequences have ~200
    "data.identities": 100_000,  # OU-MVLP has 10,307
    "data.per_identity": 1000,
    "data.workers": 256,
    "model.width": 16.0,  # 1.0 is OpenGait's
    "optim.lr": 1000.0,
    "optim.weight_decay": 1.0,
    "schedule.gamma": 10.0,
    "schedule.warmup_steps": 10**9,
    "schedule.written_for_steps": 10**9,
    "trainer.steps": 10**9,
    "trainer.seed": 2**32 - 1,  # numpy's seeds
    "trainer.log_every": 10**9,
    "trainer.checkpoint_every": 10**9,
    "trainer.snapshot_every": 10**9,
    "trainer.grad_clip": 1e6,
    "trainer.threads": 4096,
    "eval.batch_size": 65_536,
}
MAX_BATCH_VALUES = 2**32  # P × K × frames × h × w of one training batch: 16 GiB as float32


def at_most(section: Any, name: str) -> None:
    """Check every :data:`AT_MOST` bound of ``section`` (a config section named ``name``)."""
    for key, top in AT_MOST.items():
        if key.startswith(name + "."):
            value = getattr(section, key.split(".", 1)[1])
            expect(value is None or value <= top, key, f"at most {top:,}", value)
