"""``gil data generate|pretreat|info``: make the embedded data set, convert raw PNGs, inspect a root."""

from __future__ import annotations

import argparse
from pathlib import Path


def _generate(args: argparse.Namespace) -> int:
    from gil.data.syngait import generate

    out = generate(args.preset, Path(args.out), seed=args.seed, workers=args.workers, progress=True)
    print(f"wrote {out}")
    return 0


def _pretreat(args: argparse.Namespace) -> int:
    from gil.data.pretreat import convert

    report = convert(args.src, args.dst, workers=args.workers, min_frames=args.min_frames)
    print(report)
    return 0


def _info(args: argparse.Namespace) -> int:
    from gil.data.opengait import dataset_info, summarize

    info = dataset_info(args.root, frames=not args.no_frames)
    print(f"{args.root}: {info['subject'].nunique()} subjects, {len(info)} sequences")
    print(summarize(info).to_string())
    return 0


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Register ``gil data`` and its sub-commands on the top-level parser."""
    from gil.data.presets import PRESETS  # not gil.data.syngait: the parser imports no numpy

    parser = commands.add_parser("data", help="generate, convert or inspect gait data")
    parser.set_defaults(func=lambda args: parser.print_help())
    sub = parser.add_subparsers(dest="data_command", metavar="SUBCOMMAND")

    gen = sub.add_parser("generate", help="render the embedded SynGait data set (OpenGait pkl layout)")
    gen.add_argument("--preset", default="small", choices=sorted(PRESETS), help="size and difficulty")
    gen.add_argument("--out", required=True, help="output root (must not exist yet)")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    gen.set_defaults(func=_generate)

    pre = sub.add_parser("pretreat", help="convert raw PNG silhouettes RAW/<subject>/<cond>/<view>/*.png to pkl")
    pre.add_argument("--src", required=True, help="raw PNG root")
    pre.add_argument("--dst", required=True, help="pkl output root")
    pre.add_argument("--workers", type=int, default=None)
    pre.add_argument("--min-frames", type=int, default=5, help="skip sequences with fewer valid frames")
    pre.set_defaults(func=_pretreat)

    info = sub.add_parser("info", help="counts per condition and view, frame statistics")
    info.add_argument("root", help="data root in OpenGait's pkl layout")
    info.add_argument("--no-frames", action="store_true", help="layout only (do not open the pkls)")
    info.set_defaults(func=_info)
