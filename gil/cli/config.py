"""``gil config show | list``: the effective config a run would train and record, without training."""

from __future__ import annotations

import argparse
import sys


def _show(args: argparse.Namespace) -> int:
    from gil import config as config_lib
    from gil.cli.train import load_config

    config, changed = load_config(args)
    for line in changed:  # what the overrides changed, on stderr: stdout is exactly the run folder's config.yaml
        print(f"# override: {line}", file=sys.stderr)
    print(f"# schedule: {config.resolved_schedule().describe(config.optim.lr)}", file=sys.stderr)
    sys.stdout.write(config_lib.dump(config, args.format))
    return 0


def _list(args: argparse.Namespace) -> int:
    from gil.config import bundled_configs

    print("\n".join(bundled_configs()))
    return 0


def add_parser(commands: argparse._SubParsersAction) -> None:
    from gil.cli.train import add_config_arguments

    group = commands.add_parser("config", help="show the effective config of a run, or list the bundled configs")
    actions = group.add_subparsers(dest="action", required=True, metavar="ACTION")
    show = actions.add_parser(
        "show",
        help="print the effective config (every default resolved) that `gil train` with the same arguments would "
        "run and record as its config.yaml",
    )
    add_config_arguments(show, required=True, positional=True)
    show.add_argument("--format", choices=("yaml", "json"), default="yaml", help="output format (default: yaml)")
    show.set_defaults(func=_show)
    listing = actions.add_parser("list", help="the bundled configs' names")
    listing.set_defaults(func=_list)
