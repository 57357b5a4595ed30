"""The ``events-api`` command: an argparse dispatcher over one module per command.

Each command module has ``register(subparsers)``, which adds its parser and sets ``func``
(``args -> exit code``). Adding a command is adding a module to ``COMMANDS``. Command
modules import their heavy dependencies (boto3, moto) inside ``func``, so that
``events-api --help`` and ``keys generate`` start fast.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from .commands import compact, keys, query, redrive, send, tail, ui
from .local import dev

COMMANDS = (dev, keys, send, tail, query, ui, compact, redrive)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="events-api",
        description="Self-hosted, Baselime-compatible events ingestion API for AWS.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
