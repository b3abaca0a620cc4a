"""``gil select``: GIL's default margin form chosen on validation identities (backbone × candidate × seed)."""

from __future__ import annotations

import argparse

from gil.cli.study import add_cell_arguments, cell_overrides
from gil.experiments.catalog import CANDIDATES, CHECKED_BACKBONES, VALIDATION_ROOT  # light: the parser imports no torch
from gil.experiments.catalog import SELECTION_BACKBONES as BACKBONES


def _run(args: argparse.Namespace) -> int:
    from gil.experiments.selection import SEEDS, default_check, run_selection, verdict

    frame = run_selection(
        args.out,
        args.backbone or list(BACKBONES),
        args.candidate or list(CANDIDATES),
        args.seed if args.seed is not None else list(SEEDS),
        args.validation_data,
        args.runs_root,
        args.base,
        cell_overrides(args),
        command="gil " + " ".join(args.argv),
        skip_collapsed=not args.all_seeds,
    )
    print(frame.groupby(["backbone", "candidate"], sort=False)[["rank1", "mean_norm"]].mean().round(2).to_string())
    decided = frame[frame["backbone"].isin(BACKBONES)]
    if (decided["candidate"] == "triplet").any() and (decided["candidate"] != "triplet").any():
        rule = verdict(frame)
        print("\n" + rule.round(2).to_string())
        for backbone in CHECKED_BACKBONES:
            check = default_check(frame, backbone) if rule["chosen"].any() else None
            if check is not None and len(check):
                print(f"\nthe chosen default on {backbone} (joined after the decision):\n{check.round(2).to_string()}")
    return 0


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "select", help="choose GIL's default margin form on validation identities (backbone x candidate x seed)"
    )
    parser.add_argument(
        "--backbone",
        action="append",
        choices=list(BACKBONES + CHECKED_BACKBONES),
        help=f"only this backbone (repeatable; default: {', '.join(BACKBONES)}, the ones the rule decides on; "
        f"{', '.join(CHECKED_BACKBONES)}: the chosen default checked for collapse)",
    )
    parser.add_argument("--candidate", action="append", choices=list(CANDIDATES), help="only this one (repeatable)")
    parser.add_argument(
        "--validation-data", default=VALIDATION_ROOT, help=f"the validation twin's root (default: {VALIDATION_ROOT})"
    )
    parser.add_argument(
        "--all-seeds",
        action="store_true",
        help="train every seed of a candidate that collapsed on an earlier one (default: skip it; it is out anyway)",
    )
    add_cell_arguments(parser, "selection.csv and selection.json", "base config (the study's)")
    parser.set_defaults(func=_run)
