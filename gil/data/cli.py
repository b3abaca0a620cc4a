"""``gil data generate|pretreat|info`` (placeholder until the data package lands)."""

from __future__ import annotations

import argparse


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("data", help="generate, convert or inspect gait data")
    parser.set_defaults(func=lambda args: parser.print_help())
