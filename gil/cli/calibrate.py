"""``gil calibrate``: the twin's calibration (sequence model vs single-frame model vs trivial cues)."""

from __future__ import annotations

import argparse
from pathlib import Path

from gil.config import parse_overrides
from gil.experiments.calibration import DEFAULT_SEEDS, MODELS, run_calibration, summarize
from gil.experiments.study import BASE_CONFIG


def _run(args: argparse.Namespace) -> int:
    overrides = parse_overrides(args.overrides)
    if args.data:
        overrides["data.root"] = str(Path(args.data).resolve())
    frame = run_calibration(
        args.out,
        args.model or list(MODELS),
        args.seed if args.seed is not None else list(DEFAULT_SEEDS),
        args.base,
        overrides,
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
    parser.add_argument("--seed", action="append", type=int, help="only this seed of the trained models (repeatable)")
    parser.add_argument("--out", default="results/study", help="folder for calibration.csv and provenance.json")
    parser.add_argument("--data", help="dataset root (default: the base config's)")
    parser.add_argument("--base", default=BASE_CONFIG, help="base config (its triplet form is trained)")
    parser.add_argument("--runs-root", default="runs/study")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.set_defaults(func=_run)
