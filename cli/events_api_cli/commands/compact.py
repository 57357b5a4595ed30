"""``events-api compact``: rewrite closed hours of stored events as Parquet, now.

Locally (the default) DuckDB does the rewriting, as ``events-api dev`` does on its own
every few minutes; with ``--stack NAME`` the stack's compactor function runs (Athena does
the rewriting there) and its report is printed. Either way the order of the steps and the
choice of hours are events_api.analytics.compaction's.
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta

import orjson

from ..defaults import LOCAL_STACK_NAME
from ..local.template import bucket_name

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def duration(text: str) -> timedelta:
    """``15m``, ``2h``, ``3d``, ``0s``."""
    text = text.strip()
    if len(text) < 2 or text[-1] not in _UNITS or not text[:-1].isdigit():
        raise argparse.ArgumentTypeError(f"not a duration like 15m, 2h or 3d: {text!r}")
    return timedelta(**{_UNITS[text[-1]]: int(text[:-1])})


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "compact",
        help="compact closed hours of stored events into Parquet now",
        description=(
            "Rewrite the gzip NDJSON objects of each closed dataset-hour as one Parquet "
            "(zstd) file under compacted/, with a manifest of the objects it holds, and move "
            "those objects under archive/; queries then read those hours from Parquet. "
            "Idempotent: an hour is only rewritten when objects arrived for it since (late "
            "events are read from NDJSON until then). Locally with DuckDB; with "
            "--stack by invoking the stack's compactor function (Athena)."
        ),
    )
    parser.add_argument("--stack", help="a deployed stack: invoke its compactor function")
    parser.add_argument(
        "--bucket", help=f"the local events bucket (default {bucket_name(LOCAL_STACK_NAME)})"
    )
    parser.add_argument(
        "--grace",
        type=duration,
        default=timedelta(minutes=15),
        help="an hour is closed this long after its end (default 15m)",
    )
    parser.add_argument(
        "--lookback",
        type=duration,
        default=timedelta(hours=48),
        help="consider the hours of this last stretch of time (default 48h)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from ..local.compaction import compact_locally
    from .aws_target import TargetError, prepare_environment, use_local_stack_by_default

    prepare_environment()
    try:
        if args.stack:
            return _invoke(args.stack)
        use_local_stack_by_default()
        report = compact_locally(
            args.bucket or bucket_name(LOCAL_STACK_NAME), args.grace, args.lookback
        )
    except (TargetError, BotoCoreError, ClientError) as exc:
        print(f"events-api compact: {exc}", file=sys.stderr)
        return 2
    for result in report["compacted"]:
        print(f"compacted {result['hour']}: {result['objects']} new objects")
    for result in report["failed"]:
        print(f"failed {result['hour']}: {result['error']}", file=sys.stderr)
    print(
        f"{len(report['compacted'])} hours compacted, {len(report['failed'])} failed, "
        f"{len(report['skipped'])} left for later",
        file=sys.stderr,
    )
    return 1 if report["failed"] else 0


def _invoke(stack: str) -> int:
    import boto3

    from .aws_target import stack_output

    name = stack_output(stack, "CompactorFunctionName")
    print(
        f"invoking {name} (Athena compacts the due hours; this can take minutes)", file=sys.stderr
    )
    answer = boto3.client("lambda").invoke(FunctionName=name, Payload=b"{}")
    payload = answer["Payload"].read()
    if answer.get("FunctionError"):
        print(f"events-api compact: the compactor failed: {payload.decode()}", file=sys.stderr)
        return 1
    print(orjson.dumps(orjson.loads(payload), option=orjson.OPT_INDENT_2).decode())
    return 0
