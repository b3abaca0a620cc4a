"""``gil select``: GIL's default margin form chosen on validation identities (backbone × candidate × seed)."""

from __future__ import annotations

import argparse

from gil.cli.study import add_cell_arguments, cell_overrides
from gil.experiments.catalog import CANDIDATES, VALIDATION_ROOT  # light: the parser imports no torch
from gil.experiments.catalog import SELECTION_BACKBONES as BACKBONES


def _run(args: argparse.Namespace) -> int:
    from gil.experiments.selection import SEEDS, run_selection, verdict

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
    if (frame["candidate"] == "triplet").any() and (frame["candidate"] != "triplet").any():
        print("\n" + verdict(frame).round(2).to_string())
    return 0


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "select", help="choose GIL's default margin form on validation identities (backbone x candidate x seed)"
    )
    parser.add_argument("--backbone", action="append", choices=list(BACKBONES), help="only this backbone (repeatable)")
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
