"""``events-api query "SQL"``: SQL over the stored events, table ``events``.

Without ``--stack`` it runs on the local stack with DuckDB embedded here (no AWS, works
offline); with ``--stack NAME`` on Amazon Athena in the stack's workgroup. Both engines
show the same columns (events_api.analytics.table). Bad SQL is one line on stderr and exit code 1;
a target that cannot be reached is exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack
from typing import BinaryIO

from ..defaults import LOCAL_STACK_NAME
from ..local.template import bucket_name
from .query_output import FORMATS, write


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "query",
        help="run SQL over the stored events (table events)",
        description=(
            "Run SQL over the stored events: one table, events (docs/query.md lists its "
            "columns). Without --stack it reads the local stack's bucket with DuckDB "
            "(at AWS_ENDPOINT_URL, by default http://127.0.0.1:4566 where events-api dev "
            "serves it); with --stack it runs on "
            "Amazon Athena in the stack's workgroup and prints the bytes scanned and their "
            "cost."
        ),
        epilog=(
            'Example: events-api query "SELECT level, count(*) FROM events '
            "WHERE dataset = 'logs' AND dt = '2026-11-28' GROUP BY level\""
        ),
    )
    parser.add_argument("sql", help="one SQL statement over the table events")
    parser.add_argument("--stack", help="a deployed stack: run on Athena in its workgroup")
    parser.add_argument(
        "--bucket", help=f"the local events bucket (default {bucket_name(LOCAL_STACK_NAME)})"
    )
    parser.add_argument("--format", choices=FORMATS, default="table", help="default: table")
    parser.add_argument("--output", "-o", help="write the results to this file")
    parser.set_defaults(func=run)


def _error(message: str) -> None:
    print(f"events-api query: {message}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from .aws_target import TargetError, prepare_environment

    prepare_environment()
    with ExitStack() as stack:
        out: BinaryIO = (
            stack.enter_context(open(args.output, "wb")) if args.output else sys.stdout.buffer
        )
        try:
            if args.stack:
                from .athena_query import run_on_athena

                return run_on_athena(args.sql, args.stack, args.format, out)
            return _run_locally(
                args.sql, args.bucket or bucket_name(LOCAL_STACK_NAME), args.format, out
            )
        except TargetError as exc:
            _error(str(exc))
            return 2
        except BrokenPipeError:
            return 0
    return 0


def _run_locally(sql: str, bucket: str, fmt: str, out: BinaryIO) -> int:
    import duckdb
    from botocore.exceptions import BotoCoreError, ClientError

    from events_api.aws import clients as aws_clients

    from ..local.query_engine import BucketMirror, LocalEngine, rows_of
    from .aws_target import use_local_stack_by_default

    endpoint = use_local_stack_by_default()
    engine = LocalEngine(BucketMirror(aws_clients.s3(), bucket))
    try:
        connection = engine.open()
    except (BotoCoreError, ClientError) as exc:
        _error(
            f"cannot read the bucket {bucket!r} at {endpoint} ({exc}); is `events-api dev` "
            "running there? (AWS_ENDPOINT_URL names another endpoint; --stack NAME queries "
            "a deployed stack)"
        )
        return 2
    with connection:
        try:
            names, rows = rows_of(connection, sql)
        except duckdb.Error as exc:
            _error(str(exc).strip())
            return 1
    count = write(out, fmt, names, rows)
    sync = engine.sync
    if sync is not None:
        print(
            f"{count} rows; read {sync.objects} objects ({sync.bytes / 1e6:.2f} MB) "
            f"from s3://{bucket}",
            file=sys.stderr,
        )
    return 0
