"""The optimiser and the learning-rate schedule of a config (torch's own classes, chosen by name)."""

from __future__ import annotations

from typing import Any

import torch

from gil.config import RunConfig


def build_optimizer(config: RunConfig, params: Any) -> torch.optim.Optimizer:
    o = config.optim
    if o.name == "sgd":
        return torch.optim.SGD(params, lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay, nesterov=o.nesterov)
    if o.name == "adam":
        return torch.optim.Adam(params, lr=o.lr, weight_decay=o.weight_decay)
    if o.name == "adamw":
        return torch.optim.AdamW(params, lr=o.lr, weight_decay=o.weight_decay)
    raise ValueError(f"optim.name: expected sgd, adam or adamw, got '{o.name}'")


def build_scheduler(config: RunConfig, optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LRScheduler:
    """torch's scheduler for :meth:`RunConfig.resolved_schedule` (milestones and warm-up in this run's steps)."""
    s = config.resolved_schedule()
    steps = s.steps
    sched = torch.optim.lr_scheduler
    warmup = s.warmup_steps
    if s.name == "multistep":
        main = sched.MultiStepLR(optimizer, milestones=[m - warmup for m in s.milestones], gamma=s.gamma)
    elif s.name == "cosine":
        main = sched.CosineAnnealingLR(optimizer, T_max=max(1, steps - warmup))
    elif s.name == "constant":
        main = sched.ConstantLR(optimizer, factor=1.0, total_iters=0)
    else:
        raise ValueError(f"schedule.name: expected multistep, cosine or constant, got '{s.name}'")
    if warmup <= 0:
        return main
    ramp = sched.LinearLR(optimizer, start_factor=1.0 / warmup, end_factor=1.0, total_iters=warmup)
    return sched.SequentialLR(optimizer, [ramp, main], milestones=[warmup])
