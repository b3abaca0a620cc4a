"""``gil study``: the multi-seed ablation (variants × seeds) on the embedded twin; the options it shares with
``gil calibrate`` (seeds, output folder, data, base config, runs root, overrides) are defined here once."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from gil.experiments.catalog import BACKBONES, BASE_CONFIG, VARIANTS  # light: the parser imports no torch


def add_cell_arguments(parser: argparse.ArgumentParser, written: str, base_help: str) -> None:
    """``--seed --out --data --base --runs-root --set``: ``written`` names the CSV the command writes to ``--out``."""
    parser.add_argument("--seed", action="append", type=int, help="only this seed (repeatable)")
    parser.add_argument(
        "--out",
        required=True,
        help=f"folder for {written} (cells merge into what it holds; the committed study is results/study: name it "
        "to write there)",
    )
    parser.add_argument("--data", help="dataset root (default: the base config's)")
    parser.add_argument("--base", default=BASE_CONFIG, help=base_help)
    parser.add_argument("--runs-root", default="runs/study")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")


def cell_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """``--set`` pairs with ``--data`` as ``data.root`` (absolute: from the current directory)."""
    from gil.config import parse_overrides

    overrides = parse_overrides(args.overrides)
    if args.data:
        overrides["data.root"] = str(Path(args.data).resolve())
    return overrides


def _run(args: argparse.Namespace) -> int:
    from gil.experiments.study import DEFAULT_SEEDS, compare_rows, load_study, run_study

    variants = args.variant or list(VARIANTS)
    seeds = args.seed if args.seed is not None else list(DEFAULT_SEEDS)
    command = "gil " + " ".join(args.argv)
    frame = run_study(
        args.out,
        variants,
        seeds,
        args.base,
        cell_overrides(args),
        args.runs_root,
        command=command,
        backbones=args.backbone,
    )
    print(frame.to_string(index=False))
    if args.compare:
        committed, _ = load_study(args.compare)
        table = compare_rows(frame, committed, args.tolerance)
        print(f"\nagainst {args.compare} (tolerance {args.tolerance} points):")
        print(table.to_string(index=False))
        return 0 if bool(table["within"].all()) else 1
    return 0


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("study", help="the multi-seed ablation (variants × seeds) on the embedded twin")
    parser.add_argument("--variant", action="append", choices=list(VARIANTS), help="only this variant (repeatable)")
    parser.add_argument(
        "--backbone",
        action="append",
        choices=list(BACKBONES),
        help="train this backbone (repeatable; default: the base config's)",
    )
    add_cell_arguments(parser, "ablation.csv and provenance.json", "base config whose loss terms each variant replaces")
    parser.add_argument(
        "--compare", metavar="DIR", help="compare this call's rank-1 with the study in DIR (exit 1 beyond --tolerance)"
    )
    parser.add_argument("--tolerance", type=float, default=0.1, help="rank-1 points allowed by --compare")
    parser.set_defaults(func=_run)
