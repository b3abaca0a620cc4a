"""The learning-rate schedule's section (:class:`ScheduleConfig`) and what it becomes for one run
(:class:`ResolvedSchedule`, :func:`resolve_schedule`): milestones written for one run length follow any other."""

from __future__ import annotations

from dataclasses import dataclass

from gil.config.checks import AT_MOST
from gil.config.checks import at_most as _at_most
from gil.config.checks import expect as _expect
from gil.config.checks import one_of as _one_of

SCHEDULES = ("multistep", "cosine", "constant")


@dataclass(frozen=True)
class ScheduleConfig:
    """The learning-rate schedule. ``milestones`` and ``warmup_steps`` are steps of a run of ``written_for_steps``
    steps: a run of ``trainer.steps`` steps scales them by ``trainer.steps / written_for_steps`` (rounded), so the
    rate drops at the same point of any run (:meth:`RunConfig.resolved_schedule`). ``written_for_steps: null``
    keeps them absolute (OpenGait's iterations); they must then fall inside the run."""

    name: str = "multistep"  # multistep | cosine | constant
    milestones: tuple[int, ...] = (70_000,)
    gamma: float = 0.1
    warmup_steps: int = 0  # linear warm-up before the main schedule
    written_for_steps: int | None = None  # the run length milestones and warm-up are written for; None: absolute

    def __post_init__(self) -> None:
        _one_of(self.name, SCHEDULES, "schedule.name")
        _expect(self.gamma > 0, "schedule.gamma", "a number > 0", self.gamma)
        _expect(self.warmup_steps >= 0, "schedule.warmup_steps", "an integer >= 0", self.warmup_steps)
        if self.written_for_steps is not None:
            _expect(self.written_for_steps >= 1, "schedule.written_for_steps", "an integer >= 1 or null",
                    self.written_for_steps)  # fmt: skip
        _at_most(self, "schedule")
        top = AT_MOST["trainer.steps"]
        within = all(m <= top for m in self.milestones)
        _expect(within, "schedule.milestones", f"steps of at most {top:,}", list(self.milestones))
        increasing = all(a < b for a, b in zip(self.milestones, self.milestones[1:], strict=False))
        _expect(
            increasing and all(m > self.warmup_steps for m in self.milestones),
            "schedule.milestones",
            f"increasing steps after the warm-up (> schedule.warmup_steps = {self.warmup_steps})",
            list(self.milestones),
        )


@dataclass(frozen=True)
class ResolvedSchedule:
    """The schedule a run of ``steps`` steps follows: warm-up and milestones in that run's steps."""

    name: str
    steps: int
    warmup_steps: int
    milestones: tuple[int, ...]
    gamma: float
    scale: float | None  # trainer.steps / schedule.written_for_steps; None: written in absolute steps

    def describe(self, lr: float) -> str:
        """One line: ``multistep, lr 0.1, ×0.1 at step 38 of 50 (the config's 3 of 4 steps, scaled ×12.5)``."""
        parts = [f"{self.name}, lr {lr:g}"]
        if self.warmup_steps:
            parts.append(f"linear warm-up over {self.warmup_steps:,} steps")
        if self.name == "multistep":
            at = ", ".join(f"{m:,}" for m in self.milestones) or "no step"
            parts.append(f"×{self.gamma:g} at step {at} of {self.steps:,}")
        elif self.name == "cosine":
            parts.append(f"cosine decay to 0 at step {self.steps:,}")
        line = ", ".join(parts)
        if self.scale is None:
            return f"{line} (absolute steps)"
        if self.scale != 1:
            return f"{line} (the config's steps scaled ×{self.scale:g} to this run's length)"
        return line


def resolve_schedule(schedule: ScheduleConfig, steps: int) -> ResolvedSchedule:
    """``schedule``'s warm-up and milestones in the steps of a run of ``steps`` steps: scaled by ``steps /
    schedule.written_for_steps`` (rounded to the nearest step; a milestone stays after the warm-up), or as written
    when ``written_for_steps`` is null."""
    s = schedule
    if s.written_for_steps is None:
        return ResolvedSchedule(s.name, steps, s.warmup_steps, s.milestones, s.gamma, None)
    scale = steps / s.written_for_steps
    warmup = round(s.warmup_steps * scale)
    milestones = tuple(max(warmup + 1, round(m * scale)) for m in s.milestones)
    return ResolvedSchedule(s.name, steps, warmup, milestones, s.gamma, scale)
