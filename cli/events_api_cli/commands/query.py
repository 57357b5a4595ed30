"""``events-api query "SQL"``: SQL over the stored events, table ``events``; or the query
model's options instead of SQL (``--dataset``, ``--since``, ``--search``, ``--where``,
``--calc``, ``--by``: the console's query, explore.model).

Without ``--stack`` it runs on the local stack with DuckDB embedded here (no AWS, works
offline); with ``--stack NAME`` on Amazon Athena in the stack's workgroup. Both engines
show the same columns (events_api.analytics.table). Bad SQL or a bad option is one line on
stderr and exit code 1; a target that cannot be reached is exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import BinaryIO

from ..defaults import LOCAL_STACK_NAME
from ..local.template import bucket_name
from .query_output import FORMATS, write


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "query",
        help="run SQL, or the console's query model, over the stored events (table events)",
        description=(
            "Run SQL over the stored events: one table, events (docs/query.md lists its "
            "columns). Without --stack it reads the local stack's bucket with DuckDB "
            "(at AWS_ENDPOINT_URL, by default http://127.0.0.1:4566 where events-api dev "
            "serves it); with --stack it runs on "
            "Amazon Athena in the stack's workgroup and prints the bytes scanned and their "
            "cost."
        ),
        epilog=(
            'Examples: events-api query "SELECT level, count(*) FROM events '
            "WHERE dataset = 'logs' AND dt = '2026-11-28' GROUP BY level\"; "
            "events-api query --dataset logs --since 24h --where 'level = error' "
            "--calc count --calc 'p95(duration)' --by service"
        ),
    )
    parser.add_argument("sql", nargs="?", help="one SQL statement over the table events")
    model = parser.add_argument_group(
        "the query model, instead of SQL (docs/console.md; the console's URL parameters)"
    )
    model.add_argument("--dataset", action="append", default=[], help="repeatable; default all")
    model.add_argument("--since", help="15m, 1h, 24h, 7d ... (default 1h)")
    model.add_argument("--from", dest="start", help="RFC 3339 time (with --to)")
    model.add_argument("--to", dest="end", help="RFC 3339 time")
    model.add_argument("--search", help="case-insensitive text anywhere in the event")
    model.add_argument(
        "--where", action="append", default=[], help="FIELD OP VALUE or FIELD exists; repeatable"
    )
    model.add_argument(
        "--calc",
        action="append",
        default=[],
        help="count (default), p95(duration), ...; repeatable",
    )
    model.add_argument("--by", help="a field to group by")
    model.add_argument("--limit", type=int, help="groups, or events with --events (default 100)")
    model.add_argument(
        "--events", action="store_true", help="print the matching events, newest first"
    )
    model.add_argument(
        "--print-sql", action="store_true", help="print the SQL the options compile to; run nothing"
    )
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
    params = model_params(args)
    if bool(params) == bool(args.sql):
        _error("give one SQL statement, or the query model's options (--dataset, --since, ...)")
        return 1
    with ExitStack() as stack:
        out: BinaryIO = (
            stack.enter_context(open(args.output, "wb")) if args.output else sys.stdout.buffer
        )
        try:
            if params:
                return _run_model(args, params, out)
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


def model_params(args: argparse.Namespace) -> dict[str, list[str]]:
    """The model's options as the console's URL parameters (explore.model reads both)."""
    single = {
        "since": args.since,
        "from": args.start,
        "to": args.end,
        "search": args.search,
        "by": args.by,
        "limit": None if args.limit is None else str(args.limit),
    }
    params = {name: [value] for name, value in single.items() if value}
    for name, values in (("dataset", args.dataset), ("where", args.where), ("calc", args.calc)):
        if values:
            params[name] = list(values)
    if (args.events or args.print_sql) and not params:
        params["since"] = ["1h"]
    return params


def _run_model(args: argparse.Namespace, params: dict[str, list[str]], out: BinaryIO) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from ..explore import service, sql
    from ..explore.engines import Engine, Progress, StatementError
    from ..explore.model import Query, QueryError
    from .ui import athena_engine, local_engine

    try:
        query = Query.from_params(params)
    except QueryError as exc:
        _error(str(exc))
        return 1
    engine: Engine = athena_engine(args.stack) if args.stack else local_engine(args.bucket)
    live = sys.stderr.isatty()

    def progress(update: Progress) -> None:
        if live:
            print(
                f"\r{update.state:<10} {update.seconds:5.1f} s "
                f"{update.scanned_bytes / 1e6:10.1f} MB scanned",
                end="",
                file=sys.stderr,
                flush=True,
            )

    try:
        datasets = query.datasets or tuple(engine.datasets())
        query = query.with_datasets(datasets)
        start, end = query.window(datetime.now(UTC))
        dialect = sql.ATHENA if engine.dialect == "athena" else sql.DUCKDB
        build = sql.events_sql if args.events else sql.results_sql
        statement = build(query, start, end, dialect)
        if args.print_sql:
            out.write(statement.encode() + b"\n")
            return 0
        with engine.session(datasets, progress) as session:
            recorder = service.Recorder(session)
            answer = recorder.run("events" if args.events else "results", statement)
    except QueryError as exc:
        _error(str(exc))
        return 1
    except StatementError as exc:
        _error(str(exc))
        return 1
    except (BotoCoreError, ClientError) as exc:
        _error(f"cannot read the events ({exc}); is `events-api dev` (or the stack) up?")
        return 2
    finally:
        if live:
            print("\r" + " " * 48 + "\r", end="", file=sys.stderr, flush=True)
        engine.close()
    count = write(out, args.format, answer.names, answer.rows)
    summary = recorder.summary()
    cost = (
        f", scanned {summary['scannedBytes'] / 1e6:.1f} MB (${summary['costUsd']:.6f})"
        if summary["scannedBytes"] is not None
        else ""
    )
    print(f"{count} rows in {summary['seconds']:.2f} s on {engine.name}{cost}", file=sys.stderr)
    return 0
