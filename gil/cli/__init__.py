"""Command line: gil data | train | eval | compare | config | bench | book | study | calibrate | select | curves |
opengait.

Each command group is a module here with an ``add_parser(commands)`` function that sets ``func`` on its
sub-parser; the library and the reproduction's tooling it calls know nothing of argparse. Building the parser imports
no torch, pandas or numpy (``gil --help`` answers at once): a module here imports them inside its commands, and the
names its options offer come from light modules (:mod:`gil.experiments.catalog`, :mod:`gil.data.presets`).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence


class _Version(argparse.Action):
    """``--version``: ``gil <version>`` of the installed distribution, read only when asked (``gil.__version__``)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, help: str | None = None) -> None:
        super().__init__(option_strings, dest=dest, default=argparse.SUPPRESS, nargs=0, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        import gil

        print(f"gil {gil.__version__}")  # on stdout, as argparse's own version action prints
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    from gil.cli import book, calibrate, compare, config, curves, data, noise, opengait, select, study, train

    parser = argparse.ArgumentParser(prog="gil", description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--version", action=_Version, help="print gil's version and exit")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in (data, train, compare, config, book, study, calibrate, select, curves, noise, opengait):
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
