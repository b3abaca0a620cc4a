"""``gil noise``: the study's noise split into training (seed) and evaluation (test identities) shares."""

from __future__ import annotations

import argparse

from gil.cli.study import add_cell_arguments, cell_overrides
from gil.experiments.catalog import BACKBONES, SECOND_TWIN_ROOT, VARIANTS  # light: no torch


def _run(args: argparse.Namespace) -> int:
    from gil.experiments.noise import NOISE_VARIANTS, plan_table, run_noise, variance_split
    from gil.experiments.study import DEFAULT_SEEDS

    frame = run_noise(
        args.out,
        args.twin,
        args.backbone or ["gaitgl"],
        args.variant or list(NOISE_VARIANTS),
        args.seed if args.seed is not None else list(DEFAULT_SEEDS),
        args.runs_root,
        args.base,
        cell_overrides(args),
        command="gil " + " ".join(args.argv),
    )
    split = variance_split(frame)
    if not split.empty:
        print(split.round(2).to_string(index=False))
        print("\nplanned half-width of the paired 95% interval (seeds × test identities):")
        print(plan_table(split).round(1).to_string())
    return 0


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "noise", help="split the study's paired differences' variance into training and evaluation noise"
    )
    parser.add_argument("--variant", action="append", choices=list(VARIANTS), help="default: triplet and the GIL forms")
    parser.add_argument("--backbone", action="append", choices=list(BACKBONES), help="default: gaitgl (repeatable)")
    parser.add_argument(
        "--twin",
        default=SECOND_TWIN_ROOT,
        help=f"the second test twin: the study data's preset with another seed (default: {SECOND_TWIN_ROOT})",
    )
    add_cell_arguments(parser, "noise.csv and noise.json", "base config (the study's)")
    parser.set_defaults(func=_run)
