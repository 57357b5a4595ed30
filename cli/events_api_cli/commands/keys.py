"""``events-api keys ...``: API key management.

``generate`` prints a new well-formed key and stores nothing. ``create``, ``list``,
``revoke`` and ``reindex`` work on the key path of a deployed stack (``--stack``, read from
its Outputs), an explicit ``--path``, or with neither the path ``events-api dev`` serves
(``defaults.LOCAL_KEYS_PATH``). ``create`` prints the key, and only the key, on stdout, once,
and only once no instance can refuse it (``key_index.REFRESH_SECONDS`` after its index entry
was written). ``reindex`` rebuilds the key index from the key parameters, for keys made or
deleted by hand in Parameter Store.
"""

from __future__ import annotations

import argparse
import re
import secrets
import sys
import time
from typing import TYPE_CHECKING

from ..defaults import LOCAL_KEYS_PATH
from .aws_target import TargetError, prepare_environment, stack_output

if TYPE_CHECKING:
    from events_api.ingest.key_store import SsmKeyStore

_DATASET = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


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

    create = keys.add_parser(
        "create",
        help="create a key and print it once",
        description="Store a new key's hash under the key path and print the key once.",
    )
    create.add_argument("--name", required=True, help="who or what the key is for")
    create.add_argument(
        "--datasets", help="comma-separated datasets the key may write (default: all)"
    )
    _target_options(create)
    create.set_defaults(func=create_command)

    listing = keys.add_parser(
        "list", help="list keys (never the keys themselves)", description="List keys."
    )
    _target_options(listing)
    listing.set_defaults(func=list_command)

    revoke = keys.add_parser(
        "revoke",
        help="revoke a key by id",
        description="Revoke a key: the ingest function refuses it within its cache TTL (60 s).",
    )
    revoke.add_argument("id", help="the key id shown by create and list")
    _target_options(revoke)
    revoke.set_defaults(func=revoke_command)

    reindex = keys.add_parser(
        "reindex",
        help="rebuild the key index from the key parameters",
        description=(
            "Rebuild the key index (the hashes the functions check unknown keys against) "
            "from the key parameters under the key path. Run it after creating or deleting "
            "a key parameter by hand in Parameter Store, or after upgrading a stack whose "
            "keys predate the index."
        ),
    )
    _target_options(reindex)
    reindex.set_defaults(func=reindex_command)


def _target_options(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--stack", help="a deployed stack: its ApiKeysPath output is used")
    where.add_argument("--path", help=f"an SSM key path (default {LOCAL_KEYS_PATH})")


def _keys_path(args: argparse.Namespace) -> str:
    prepare_environment()
    if args.stack:
        return stack_output(args.stack, "ApiKeysPath")
    path = args.path or LOCAL_KEYS_PATH
    if not (path.startswith("/") and path.endswith("/")):
        raise TargetError(f"--path must start and end with '/': {path!r}")
    return str(path)


def _store(args: argparse.Namespace) -> SsmKeyStore:
    from events_api.ingest.key_store import SsmKeyStore

    return SsmKeyStore(_keys_path(args))


def _fail(message: str) -> int:
    print(f"events-api: {message}", file=sys.stderr)
    return 2


def generate_command(args: argparse.Namespace) -> int:
    from events_api.ingest.keys import generate_key

    print(generate_key())
    return 0


def _failures() -> tuple[type[Exception], ...]:
    """What managing keys may raise that is the user's to read, not a crash."""
    from botocore.exceptions import BotoCoreError, ClientError

    from events_api.ingest.key_index import KeyIndexFull
    from events_api.ingest.key_index_writer import KeyIndexConflict

    return (TargetError, BotoCoreError, ClientError, KeyIndexFull, KeyIndexConflict)


def create_command(args: argparse.Namespace) -> int:
    from events_api.ingest.key_index import REFRESH_SECONDS
    from events_api.ingest.keys import generate_key

    datasets = None
    if args.datasets:
        datasets = tuple(d.strip() for d in args.datasets.split(",") if d.strip())
        bad = [d for d in datasets if not _DATASET.fullmatch(d)]
        if bad or not datasets:
            return _fail(f"not valid dataset names: {', '.join(bad) or args.datasets!r}")
    key = generate_key()
    key_id = secrets.token_hex(6)
    try:
        _store(args).create(key, key_id, args.name, datasets)
    except _failures() as exc:
        return _fail(str(exc))
    scope = ", ".join(datasets) if datasets else "all datasets"
    print(
        f"created key {key_id} ({args.name}, {scope}); printing it in {REFRESH_SECONDS:g} s, "
        "when every instance accepts it (it is not shown again)",
        file=sys.stderr,
    )
    # An instance that read the index just before the key's entry was written refuses keys
    # missing from it until its copy is this old; then it reads the index again.
    time.sleep(REFRESH_SECONDS)
    print(key)
    return 0


def list_command(args: argparse.Namespace) -> int:
    try:
        records = sorted((r for _, r in _store(args).items()), key=lambda r: r.created_at)
    except _failures() as exc:
        return _fail(str(exc))
    print(f"{'ID':<14}{'CREATED':<22}{'DATASETS':<24}NAME")
    for record in records:
        datasets = ",".join(record.datasets) if record.datasets else "*"
        print(f"{record.id:<14}{record.created_at:<22}{datasets:<24}{record.name}")
    return 0


def revoke_command(args: argparse.Namespace) -> int:
    try:
        revoked = _store(args).revoke(args.id)
    except _failures() as exc:
        return _fail(str(exc))
    if not revoked:
        return _fail(f"no key with id {args.id}")
    print(f"revoked key {args.id}", file=sys.stderr)
    return 0


def reindex_command(args: argparse.Namespace) -> int:
    try:
        indexed = _store(args).reindex()
    except _failures() as exc:
        return _fail(str(exc))
    print(f"indexed {indexed} keys", file=sys.stderr)
    return 0
