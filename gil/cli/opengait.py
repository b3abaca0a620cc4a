"""``gil opengait install|uninstall OPENGAIT_ROOT``: make GIL a loss OpenGait's configs can name."""

from __future__ import annotations

import argparse


def _run(args: argparse.Namespace) -> int:
    from gil.integrations import opengait

    action = opengait.install if args.action == "install" else opengait.uninstall
    path, changed = action(args.root)
    if args.action == "install":
        state = "wrote" if changed else "already installed:"
        print(f"{state} {path}; name it in loss_cfg as `type: GeneralizedInterClassLoss`")
    else:
        print(f"removed {path}" if changed else f"nothing to remove ({path} does not exist)")
    return 0


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("opengait", help="install GIL as a loss of an OpenGait checkout (or remove it)")
    parser.add_argument("action", choices=("install", "uninstall"))
    parser.add_argument("root", help="the OpenGait checkout (the folder holding opengait/ and configs/)")
    parser.set_defaults(func=_run)
