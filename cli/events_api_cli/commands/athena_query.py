"""``events-api query --stack NAME``: the query on Amazon Athena in the stack's workgroup.

The stack's Outputs name the workgroup and database. Progress (state, seconds, bytes
scanned so far) goes to stderr while it runs; results are paged through and written as
they come; the bytes scanned and their cost close the run. A failed query prints Athena's
reason and exits 1.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from events_api.analytics.athena import AthenaRunner, Execution, QueryFailed, query_cost_usd

from ..explore.engines import convert
from .query_output import write


class Progress:
    """One line on stderr, rewritten in place on a terminal."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.live = sys.stderr.isatty()

    def __call__(self, execution: Execution) -> None:
        if not self.live:
            return
        seconds = time.monotonic() - self.started
        print(
            f"\r{execution.state.lower():<10} {seconds:5.1f} s  "
            f"{execution.scanned_bytes / 1e6:10.1f} MB scanned",
            end="",
            file=sys.stderr,
            flush=True,
        )

    def done(self) -> None:
        if self.live:
            print("\r" + " " * 48 + "\r", end="", file=sys.stderr, flush=True)


def run_on_athena(
    sql: str,
    stack: str,
    fmt: str,
    out: BinaryIO,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from .aws_target import stack_output

    workgroup = stack_output(stack, "AthenaWorkGroup")
    database = stack_output(stack, "AthenaDatabase")
    import boto3

    runner = AthenaRunner(boto3.client("athena"), workgroup, database, sleep=sleep)
    progress = Progress()
    try:
        execution_id = runner.start(sql)
        try:
            execution = runner.wait(execution_id, progress)
        finally:
            progress.done()
        pages = runner.pages(execution_id)
        columns, first_rows = next(pages, ([], []))
        names = [column["Name"] for column in columns]
        kinds = [str(column.get("Type", "varchar")) for column in columns]

        def rows() -> Iterator[list[Any]]:
            for batch in (first_rows, *(page for _columns, page in pages)):
                for row in batch:
                    yield [convert(v, k) for v, k in zip(row, kinds, strict=False)]

        count = write(out, fmt, names, rows())
    except QueryFailed as exc:
        print(f"events-api query: {exc}", file=sys.stderr)
        _summary(exc.execution)
        return 1
    except ClientError as exc:
        # Athena refuses some statements at start (InvalidRequestException): say why.
        print(f"events-api query: {exc.response['Error'].get('Message', exc)}", file=sys.stderr)
        return 1
    except BotoCoreError as exc:
        print(f"events-api query: {exc}", file=sys.stderr)
        return 2
    print(f"{count} rows", end="; ", file=sys.stderr)
    _summary(execution)
    return 0


def _summary(execution: Execution) -> None:
    print(
        f"query {execution.id} {execution.state.lower()} in {execution.elapsed_ms / 1000:.1f} s, "
        f"scanned {execution.scanned_bytes / 1e6:.1f} MB "
        f"(${query_cost_usd(execution.scanned_bytes):.6f})",
        file=sys.stderr,
    )
