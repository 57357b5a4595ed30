"""``events-api keys ...``: API key management.

``generate`` prints a new well-formed key and stores nothing. Subcommands that store keys
(``create``, ``list``, ``revoke``) belong here too; with neither ``--stack`` nor
``--path`` they use ``defaults.LOCAL_KEYS_PATH``, the path ``events-api dev`` serves.
"""

from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "keys", help="manage API keys", description="Manage the API keys of events-api."
    )
    keys = parser.add_subparsers(dest="keys_command", metavar="COMMAND", required=True)
    generate = keys.add_parser(
        "generate",
        help="print a new well-formed key (stores nothing)",
        description="Print a new well-formed API key. Nothing is stored anywhere.",
    )
    generate.set_defaults(func=generate_command)


def generate_command(args: argparse.Namespace) -> int:
    from events_api.keys import generate_key

    print(generate_key())
    return 0
