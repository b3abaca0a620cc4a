"""Command line: ``gil data|train|eval|bench|study|book`` (also ``python -m gil``).

Each command group lives beside the code it drives and registers itself here through an
``add_parser(subparsers)`` function that sets ``func`` on its sub-parser.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    from gil.data import cli as data_cli

    parser = argparse.ArgumentParser(prog="gil", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    data_cli.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        return int(args.func(args) or 0)
    except (FileNotFoundError, ValueError) as err:
        print(f"gil {args.command}: error: {err}", file=sys.stderr)
        return 2
