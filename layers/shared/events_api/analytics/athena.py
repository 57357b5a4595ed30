"""Amazon Athena: run a statement in a workgroup and wait for it, and compaction's engine.

Athena runs statements asynchronously: start, then poll the execution until it succeeds,
fails or is cancelled. The runner takes the client, the clock and the sleep, so tests run
it against moto's Athena without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .compaction import CompactionError
from .table import Hour, athena_sources, athena_unload, athena_view

if TYPE_CHECKING:
    from mypy_boto3_athena import AthenaClient

#: Athena's price for SQL queries (us-east-1 and most regions, 2026): per TiB scanned,
#: rounded up to the megabyte, at least 10 MB per query. DDL and failed queries are free.
USD_PER_TB_SCANNED = 5.0
MIN_BILLED_BYTES = 10 * 1000 * 1000
_DONE = {"SUCCEEDED", "FAILED", "CANCELLED"}


def query_cost_usd(scanned_bytes: int) -> float:
    if scanned_bytes <= 0:
        return 0.0
    megabytes = -(-scanned_bytes // 1_000_000)
    billed = max(megabytes * 1_000_000, MIN_BILLED_BYTES)
    return billed / 2**40 * USD_PER_TB_SCANNED


@dataclass(frozen=True, slots=True)
class Execution:
    id: str
    state: str
    reason: str
    scanned_bytes: int
    elapsed_ms: int

    @classmethod
    def of(cls, answer: dict[str, Any]) -> Execution:
        status = answer.get("Status", {})
        statistics = answer.get("Statistics", {})
        return cls(
            id=str(answer["QueryExecutionId"]),
            state=str(status.get("State", "QUEUED")),
            reason=str(status.get("StateChangeReason", "")),
            scanned_bytes=int(statistics.get("DataScannedInBytes", 0)),
            elapsed_ms=int(statistics.get("TotalExecutionTimeInMillis", 0)),
        )


class QueryFailed(Exception):
    def __init__(self, execution: Execution) -> None:
        super().__init__(execution.reason or f"the query ended {execution.state}")
        self.execution = execution


class QueryTimedOut(QueryFailed):
    def __init__(self, execution: Execution) -> None:
        super().__init__(execution)
        self.args = (f"the query was still {execution.state} when its time ran out",)


class AthenaRunner:
    def __init__(
        self,
        client: AthenaClient,
        workgroup: str,
        database: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        poll_seconds: float = 1.0,
    ) -> None:
        self.client = client
        self.workgroup = workgroup
        self.database = database
        self.sleep = sleep
        self.clock = clock
        self.poll_seconds = poll_seconds

    def start(self, sql: str) -> str:
        answer = self.client.start_query_execution(
            QueryString=sql,
            WorkGroup=self.workgroup,
            QueryExecutionContext={"Database": self.database},
        )
        return answer["QueryExecutionId"]

    def wait(
        self,
        execution_id: str,
        on_progress: Callable[[Execution], None] | None = None,
        *,
        timeout: float | None = None,
    ) -> Execution:
        """Poll until the statement ends; QueryFailed unless it succeeded, QueryTimedOut
        if it is still running after ``timeout`` seconds (it is left to run: a statement
        compaction gave up on only ever writes into a slot no manifest names)."""
        started = self.clock()
        while True:
            answer = self.client.get_query_execution(QueryExecutionId=execution_id)
            execution = Execution.of(dict(answer["QueryExecution"]))
            if on_progress is not None:
                on_progress(execution)
            if execution.state in _DONE:
                break
            if timeout is not None and self.clock() - started + self.poll_seconds > timeout:
                raise QueryTimedOut(execution)
            self.sleep(self.poll_seconds)
        if execution.state != "SUCCEEDED":
            raise QueryFailed(execution)
        return execution

    def run(self, sql: str, *, timeout: float | None = None) -> Execution:
        return self.wait(self.start(sql), timeout=timeout)

    def pages(self, execution_id: str) -> Iterator[tuple[list[dict[str, Any]], list[list[Any]]]]:
        """(column info, rows as lists of strings or None) per page; the header row of a
        SELECT's first page is left out."""
        token: str | None = None
        first = True
        while True:
            kwargs: dict[str, Any] = {"QueryExecutionId": execution_id, "MaxResults": 1000}
            if token:
                kwargs["NextToken"] = token
            answer = self.client.get_query_results(**kwargs)
            result = answer["ResultSet"]
            columns = [dict(c) for c in result.get("ResultSetMetadata", {}).get("ColumnInfo", [])]
            rows = [[cell.get("VarCharValue") for cell in row["Data"]] for row in result["Rows"]]
            if first and rows and [c["Name"] for c in columns] == rows[0]:
                rows = rows[1:]
            first = False
            yield columns, rows
            token = answer.get("NextToken")
            if not token:
                return


class AthenaCompactionEngine:
    """Compaction's engine in AWS: Athena's UNLOAD rewrites an hour into a slot; a SELECT
    DISTINCT lists the sources the slot holds."""

    def __init__(
        self,
        runner: AthenaRunner,
        bucket: str,
        time_left: Callable[[], float] = lambda: float("inf"),
        reserve_seconds: float = 0.0,
    ) -> None:
        self.runner = runner
        self.bucket = bucket
        #: A statement is waited for until ``reserve_seconds`` before the time runs out,
        #: so that the function always has time to answer and report.
        self.time_left = time_left
        self.reserve_seconds = reserve_seconds
        self.scanned_bytes = 0

    def _run(self, sql: str) -> Execution:
        timeout = self.time_left() - self.reserve_seconds
        try:
            execution = self.runner.run(sql, timeout=None if timeout == float("inf") else timeout)
        except QueryFailed as exc:
            raise CompactionError(str(exc)) from exc
        self.scanned_bytes += execution.scanned_bytes
        return execution

    def prepare(self) -> None:
        self._run(athena_view(self.runner.database))

    def compact(self, hour: Hour, slot: str) -> None:
        self._run(athena_unload(hour, slot, self.runner.database, self.bucket))

    def sources(self, hour: Hour, slot: str) -> list[str]:
        execution = self._run(athena_sources(hour, slot, self.runner.database))
        found: list[str] = []
        for _columns, rows in self.runner.pages(execution.id):
            found.extend(str(row[0]) for row in rows if row and row[0])
        return found
