"""``gil curves``: learning curves of the study's variants (snapshots every 100 steps up to 900, test identities)."""

from __future__ import annotations

import argparse

from gil.cli.study import add_cell_arguments, cell_overrides
from gil.experiments.catalog import BACKBONES, CURVE_STEPS, SNAPSHOT_EVERY, VARIANTS  # light: no torch


def _run(args: argparse.Namespace) -> int:
    from gil.experiments.curves import CURVE_SEEDS, CURVE_VARIANTS, gap_by_step, run_curves

    frame = run_curves(
        args.out,
        args.variant or list(CURVE_VARIANTS),
        args.seed if args.seed is not None else list(CURVE_SEEDS),
        args.base,
        cell_overrides(args),
        args.runs_root,
        backbones=args.backbone,
        steps=args.steps,
        snapshot_every=args.snapshot_every,
        command="gil " + " ".join(args.argv),
    )
    print(frame.groupby(["backbone", "variant", "step"], sort=False)["rank1"].mean().unstack("step").round(1))
    for variant in sorted(set(frame["variant"]) - {"triplet"}):
        if (frame["variant"] == "triplet").any():
            print(f"\n{variant} - triplet (paired over seeds):")
            print(gap_by_step(frame, variant).round(2).to_string(index=False))
    return 0


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("curves", help="learning curves: the study's variants scored at snapshots")
    parser.add_argument("--variant", action="append", choices=list(VARIANTS), help="only this variant (repeatable)")
    parser.add_argument("--backbone", action="append", choices=list(BACKBONES), help="default: the base config's")
    parser.add_argument("--steps", type=int, default=CURVE_STEPS, help=f"training budget (default {CURVE_STEPS})")
    parser.add_argument("--snapshot-every", type=int, default=SNAPSHOT_EVERY, help="steps between scored snapshots")
    add_cell_arguments(parser, "curves.csv and curves.json", "base config (the study's)")
    parser.set_defaults(func=_run)
