"""Delivery to the buffer: every entry confirmed, or a clear failure within a time budget.

Kinesis PutRecords and SQS SendMessageBatch can fail entry by entry while the call itself
succeeds; only the failed entries are sent again, with exponential backoff and full jitter,
until all are confirmed or the budget would be exceeded.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from ..aws.http_client import AwsCallFailed
from ..retry import backoff_delay
from .publishers import Entry

_BASE_DELAY = 0.05
_MAX_DELAY = 1.0


class Publisher(Protocol):
    max_entries_per_call: int
    max_bytes_per_call: int
    record_overhead: int

    def entry_size(self, entry: Entry) -> int: ...

    def send(self, entries: Sequence[Entry]) -> set[str]:
        """Ids of the entries the service did not take; raises when the call failed."""
        ...


class BufferUnavailable(Exception):
    def __init__(self, pending: int, attempts: int, last_error: str | None) -> None:
        super().__init__(f"{pending} buffer entries unconfirmed after {attempts} attempts")
        self.pending = pending
        self.attempts = attempts
        self.last_error = last_error


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    entries: int
    calls: int
    attempts: int
    retried_entries: int


def _calls(publisher: Publisher, entries: Sequence[Entry]) -> Iterator[list[Entry]]:
    call: list[Entry] = []
    size = 0
    for entry in entries:
        entry_size = publisher.entry_size(entry)
        if call and (
            len(call) == publisher.max_entries_per_call
            or size + entry_size > publisher.max_bytes_per_call
        ):
            yield call
            call, size = [], 0
        call.append(entry)
        size += entry_size
    if call:
        yield call


def deliver(
    publisher: Publisher,
    entries: Sequence[Entry],
    budget_seconds: float,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    jitter: Callable[[float, float], float] = random.uniform,
) -> DeliveryReport:
    deadline = clock() + budget_seconds
    pending = list(entries)
    attempts = calls = retried = 0
    last_error: str | None = None
    while True:
        attempts += 1
        failed: list[Entry] = []
        for call in _calls(publisher, pending):
            if calls and clock() >= deadline:
                # The budget is spent: start no new call, so a slow peer cannot stretch the
                # request past the budget plus the one call in flight.
                failed.extend(call)
                last_error = last_error or "time budget spent"
                continue
            calls += 1
            try:
                rejected = publisher.send(call)
            except AwsCallFailed as exc:
                # The whole call failed (throttled, timed out, 5xx): resend all of it. A
                # timeout may hide a success, so this can duplicate; it cannot lose.
                last_error = str(exc)
                failed.extend(call)
                continue
            if rejected:
                last_error = f"{len(rejected)} entries rejected by the buffer"
                failed.extend(entry for entry in call if entry.id in rejected)
        if not failed:
            return DeliveryReport(len(entries), calls, attempts, retried)
        retried += len(failed)
        pending = failed
        delay = backoff_delay(attempts, base=_BASE_DELAY, cap=_MAX_DELAY, jitter=jitter)
        if clock() + delay >= deadline:
            raise BufferUnavailable(len(pending), attempts, last_error)
        sleep(delay)
