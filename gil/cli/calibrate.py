"""``gil calibrate``: the twin's calibration (sequence model vs single-frame model vs trivial cues)."""

from __future__ import annotations

import argparse

from gil.cli.study import add_cell_arguments, cell_overrides
from gil.experiments.catalog import CALIBRATION_MODELS as MODELS  # light: the parser imports no torch


def _run(args: argparse.Namespace) -> int:
    from gil.experiments.calibration import DEFAULT_SEEDS, run_calibration, summarize

    frame = run_calibration(
        args.out,
        args.model or list(MODELS),
        args.seed if args.seed is not None else list(DEFAULT_SEEDS),
        args.base,
        cell_overrides(args),
        args.runs_root,
        command="gil " + " ".join(args.argv),
    )
    print(summarize(frame).round(1).to_string())
    return 0


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "calibrate", help="calibration of the embedded twin: sequence vs single-frame model vs trivial cues"
    )
    parser.add_argument("--model", action="append", choices=list(MODELS), help="only this model (repeatable)")
    add_cell_arguments(parser, "calibration.csv and provenance.json", "base config (its triplet form is trained)")
    parser.set_defaults(func=_run)
