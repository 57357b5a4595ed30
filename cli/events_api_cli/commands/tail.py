"""``events-api tail DATASET``: stored events from S3 as NDJSON, in time order.

Only the ``dataset=/dt=/hour=`` partitions of the window are listed. ``--follow`` keeps
polling for new objects until Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime

from ..defaults import LOCAL_STACK_NAME
from ..local.template import bucket_name


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "tail",
        help="print stored events of a dataset as NDJSON",
        description=(
            "Print the stored events of a dataset received in a time window, as NDJSON, "
            "ordered by _timestamp."
        ),
    )
    parser.add_argument("dataset")
    parser.add_argument("--since", default="1h", help="1h, 30m, 2d, 45s or an ISO time")
    parser.add_argument("--until", help="an ISO time or a duration ago (default: now)")
    parser.add_argument("--limit", type=int, help="print only the last N events")
    parser.add_argument("--follow", "-f", action="store_true", help="keep printing new events")
    parser.add_argument("--interval", type=float, default=2.0, help="--follow poll seconds")
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--bucket", help=f"the events bucket (default {bucket_name(LOCAL_STACK_NAME)})"
    )
    where.add_argument("--stack", help="a deployed stack whose BucketName output to use")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from ..client.reader import EventReader, parse_when
    from .aws_target import TargetError, prepare_environment, stack_output

    prepare_environment()
    now = datetime.now(UTC)
    try:
        bucket = stack_output(args.stack, "BucketName") if args.stack else args.bucket
        since = parse_when(args.since, now)
        until = parse_when(args.until, now) if args.until else now
    except (TargetError, ValueError) as exc:
        print(f"events-api: {exc}", file=sys.stderr)
        return 2
    reader = EventReader(bucket or bucket_name(LOCAL_STACK_NAME))
    out = sys.stdout.buffer
    try:
        events = reader.read(args.dataset, since, until)
        if args.limit is not None:
            events = events[-args.limit :] if args.limit > 0 else []
        for event in events:
            out.write(event.line + b"\n")
        out.flush()
        while args.follow:
            time.sleep(args.interval)
            for event in reader.read(args.dataset, since, datetime.now(UTC)):
                out.write(event.line + b"\n")
            out.flush()
    except (BotoCoreError, ClientError) as exc:
        print(f"events-api: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:
        return 0
    return 0
