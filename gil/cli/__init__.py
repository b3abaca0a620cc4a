"""Command line: gil data | train | eval | config | bench | book | study | calibrate | select | curves | opengait.

Each command group is a module here with an ``add_parser(commands)`` function that sets ``func`` on its
sub-parser; the library and the reproduction's tooling it calls know nothing of argparse.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    from gil.cli import book, calibrate, config, curves, data, opengait, select, study, train

    parser = argparse.ArgumentParser(prog="gil", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in (data, train, config, book, study, calibrate, select, curves, opengait):
        group.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.argv = argv  # recorded in provenance by commands that write results
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        return int(args.func(args) or 0)
    except (OSError, ValueError, FloatingPointError) as err:  # named errors: bad input, a full disk, a divergence
        print(f"gil {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: one line (a training run logged where it stands), the shell's status
        print(f"gil {args.command}: interrupted", file=sys.stderr)
        return 130
