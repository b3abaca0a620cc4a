"""``gil book``: execute the notebooks with papermill and build the HTML book."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def _run(args: argparse.Namespace) -> int:
    from gil.experiments.book import build

    parameters: dict[str, Any] = {"data_root": str(Path(args.data).resolve()) if args.data else "data/syngait-small"}
    index = build(parameters, only=args.only, html=not args.no_html)
    print(f"book: {index}")
    return 0


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("book", help="execute the notebooks with papermill and build the HTML book")
    parser.add_argument("--data", help="dataset root passed to every notebook as `data_root`")
    parser.add_argument("--only", nargs="+", help="execute only notebooks whose name starts with these")
    parser.add_argument("--no-html", action="store_true", help="execute the notebooks but skip jupyter-book")
    parser.set_defaults(func=_run)
