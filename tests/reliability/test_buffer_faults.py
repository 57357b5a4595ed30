"""Buffer fault matrix: the real ingest handler, moto, and faults injected in botocore.

Every mix of per-entry failures (Kinesis ProvisionedThroughputExceededException /
InternalFailure, SQS Failed entries), whole-call faults (throttled, 500, 503, connection
refused, timeout before sending, timeout after a hidden success), transient or persistent,
plus seeded random runs and a slow peer. For each request:

- 202 exactly when every buffer entry of the request was confirmed to the publisher (an
  observer registered around the fault hooks sees what the publisher saw), else 503 with
  Retry-After;
- the handler returns within the time budget plus one call;
- every event of a 202 is on the buffer (duplicates counted, never missing).
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

import orjson
import pytest

from events_api import records
from events_api.aws import http_client as aws_http
from events_api_cli.local.faults import (
    CALL_FAULTS,
    NO_FAULT,
    CallFault,
    FaultInjector,
    Policy,
    RandomPolicy,
)
from tests.integration.conftest import Stack
from tests.moto_bridge import OnCall
from tests.reliability.support import (
    BufferObserver,
    ScriptedPolicy,
    b64,
    event_ids,
    make_events,
    record,
    scaled,
)
from tests.support import FakeLambdaContext, http_event

# Small records so one request makes ~12 entries (SQS: two calls of at most 10).
RECORD_BYTES = 64 * 1024
EVENTS_PER_REQUEST = 300
PAD = 2_000
#: What a call may add past the budget: the call in flight when it runs out, and scheduling.
SLACK_SECONDS = 0.5

ENTRY_MIXES: dict[str, Any] = {
    "none": None,
    "throttled-some": "throttled",
    "internal-some": "internal",
    "mixed-some": "mixed",
    "all-entries": "all",
}


def entry_fault(mix: str | None, entries: int) -> dict[int, str]:
    if mix is None:
        return {}
    if mix == "all":
        return {n: ("throttled", "internal")[n % 2] for n in range(entries)}
    # Every other entry (the first included, so a retried single entry keeps failing).
    chosen = range(0, entries, 2)
    if mix == "mixed":
        return {n: ("throttled", "internal")[(n // 2) % 2] for n in chosen}
    return dict.fromkeys(chosen, mix)


class MatrixPolicy:
    """One cell: a whole-call fault on the first call, entry faults on the second; transient
    cells then succeed, persistent cells repeat both for ever."""

    def __init__(self, call: str | None, mix: str | None, persistent: bool) -> None:
        self.call, self.mix, self.persistent = call, mix, persistent
        self.calls = 0

    def buffer_call(self, service: str, entries: int) -> CallFault:
        self.calls += 1
        steps: list[CallFault | None] = []
        if self.call is not None:
            steps.append(CallFault(call=self.call))
        if self.mix is not None:
            steps.append(None)  # entry faults, sized to this call
        if not steps or (not self.persistent and self.calls > len(steps)):
            return NO_FAULT
        step = steps[(self.calls - 1) % len(steps)]
        return step if step is not None else CallFault(entries=entry_fault(self.mix, entries))

    def s3_put(self, key: str) -> CallFault:
        return NO_FAULT


@dataclass
class Outcome:
    cell: str
    status: int
    all_confirmed: bool
    seconds: float
    budget: float
    entries: int
    calls: int
    missing_events: int
    duplicate_events: int
    correct: bool
    problem: str = ""


class Harness:
    def __init__(self, ingest: Any, stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
        self.ingest, self.stack, self.monkeypatch = ingest, stack, monkeypatch
        monkeypatch.setenv("MAX_RECORD_BYTES", str(RECORD_BYTES))
        self.client = aws_http.client(stack.buffer)
        self.observer = BufferObserver(stack.buffer)
        self.requests = 0

    def run(
        self,
        cell: str,
        policy: Policy,
        budget: float,
        events: int = EVENTS_PER_REQUEST,
        pad: int = PAD,
        slack: float = SLACK_SECONDS,
    ) -> Outcome:
        self.monkeypatch.setenv("BUFFER_BUDGET_SECONDS", str(budget))
        self.ingest.service.cache_clear()
        self.requests += 1
        sent = make_events(cell, 0, events, pad=pad, seed=self.requests)
        injector = FaultInjector(policy).install(
            kinesis=self.client if self.stack.buffer == "kinesis" else None,
            sqs=self.client if self.stack.buffer == "sqs" else None,
        )
        # The observer wraps the injector: first before it, last after it.
        self.observer.reset()
        self.observer.install()
        try:
            started = time.monotonic()
            response = self.ingest.lambda_handler(
                http_event(b"[" + b",".join(sent) + b"]", request_id=f"req-{self.requests}"),
                FakeLambdaContext(),
            )
            seconds = time.monotonic() - started
        finally:
            self.observer.uninstall()
            injector.uninstall()
        blobs = self.stack.buffered()
        stored = event_ids(e for blob in blobs for e in records.decode(blob).events())
        wanted = event_ids(sent)
        missing = sum(1 for k in wanted if stored[k] == 0)
        duplicates = sum(n - 1 for n in stored.values() if n > 1)
        status = response["statusCode"]
        confirmed = self.observer.all_confirmed()
        problems = []
        if status == 202 and not confirmed:
            problems.append("202 without every entry confirmed")
        if status != 202 and confirmed:
            problems.append(f"{status} although every entry was confirmed")
        if status not in (202, 503):
            problems.append(f"unexpected status {status}: {response['body']}")
        if status == 503 and not int(response["headers"].get("retry-after", "0")) > 0:
            problems.append("503 without Retry-After")
        if status == 202 and missing:
            problems.append(f"{missing} accepted events missing from the buffer")
        if seconds > budget + slack:
            problems.append(f"took {seconds:.2f} s, budget {budget} s")
        unconfirmed_but_missing = {b64(b) for b in blobs}
        if not self.observer.confirmed <= unconfirmed_but_missing:
            problems.append("an entry confirmed to the publisher is not on the buffer")
        return Outcome(
            cell=cell,
            status=status,
            all_confirmed=confirmed,
            seconds=round(seconds, 3),
            budget=budget,
            entries=len(self.observer.sent),
            calls=self.observer.calls,
            missing_events=missing,
            duplicate_events=duplicates,
            correct=not problems,
            problem="; ".join(problems),
        )


def matrix_cells() -> list[tuple[str, str | None, str | None, bool]]:
    cells = []
    for (mix_name, mix), call, persistent in itertools.product(
        ENTRY_MIXES.items(), (None, *CALL_FAULTS), (False, True)
    ):
        if mix is None and call is None and persistent:
            continue  # the same as the no-fault cell
        name = f"{call or 'no-call-fault'}+{mix_name}+{'persistent' if persistent else 'once'}"
        cells.append((name, call, mix, persistent))
    return cells


def summarise(outcomes: list[Outcome]) -> dict[str, Any]:
    statuses = Counter(o.status for o in outcomes)
    return {
        "cells": len(outcomes),
        "correct": sum(o.correct for o in outcomes),
        "status_202": statuses[202],
        "status_503": statuses[503],
        "other_status": sum(n for s, n in statuses.items() if s not in (202, 503)),
        "missing_events_after_202": sum(o.missing_events for o in outcomes if o.status == 202),
        "duplicate_events": sum(o.duplicate_events for o in outcomes),
        "max_seconds_over_budget": round(max(o.seconds - o.budget for o in outcomes), 3),
    }


def test_buffer_fault_matrix(ingest, stack, monkeypatch) -> None:
    harness = Harness(ingest, stack, monkeypatch)
    outcomes = []
    for name, call, mix, persistent in matrix_cells():
        policy = MatrixPolicy(call, mix, persistent)
        outcomes.append(harness.run(name, policy, budget=0.2 if persistent else 1.5))
    # A slow peer: every call hangs as long as the whole budget, then times out. With SQS a
    # request of ~50 records takes 5 calls per attempt: no new call may start past the budget.
    slow = CallFault(call="timeout", delay=0.3)
    outcomes.append(
        harness.run("slow-peer", ScriptedPolicy(then=slow), 0.3, events=1500, slack=0.3 + 0.2)
    )
    # Seeded random faults over many requests.
    for n in range(scaled(12, 300)):
        policy = RandomPolicy(buffer_rate=0.3, s3_rate=0.0, seed=n)
        outcomes.append(harness.run(f"random-{n}", policy, budget=1.0))
    figures = summarise(outcomes)
    figures["seconds_by_cell"] = {o.cell: o.seconds for o in outcomes}
    figures["cells_by_kind"] = {
        "matrix": len(matrix_cells()),
        "slow_peer": 1,
        "random": scaled(12, 300),
    }
    figures["failures"] = [asdict(o) for o in outcomes if not o.correct]
    record(f"buffer-matrix-{stack.buffer}", figures)
    assert figures["failures"] == []
    assert figures["status_202"] > 0
    assert figures["status_503"] > 0
    # Transient faults are retried away: every "once" matrix cell ends in 202.
    assert all(o.status == 202 for o in outcomes if o.cell.endswith("+once")), [
        o.cell for o in outcomes if o.cell.endswith("+once") and o.status != 202
    ]
    assert all(o.status == 503 for o in outcomes if o.cell.endswith("+persistent"))


def test_no_call_starts_once_the_budget_is_spent() -> None:
    """Regression: deliver() used to make every call of an attempt before looking at the
    clock, so a slow peer stretched a request to (calls x timeout), past the Lambda timeout."""
    from events_api.ingest.buffer import BufferUnavailable, deliver
    from events_api.ingest.publishers import Entry

    now = [0.0]

    class SlowPublisher:
        max_entries_per_call, max_bytes_per_call, record_overhead = 1, 1 << 20, 0
        calls = 0

        def entry_size(self, entry: Entry) -> int:
            return len(entry.data)

        def send(self, entries: Any) -> set[str]:
            self.calls += 1
            now[0] += 7.0  # connect + read timeout
            raise aws_http.AwsUnreachable("read timeout")

    publisher = SlowPublisher()
    entries = [Entry(f"r{n}", b"x", "p") for n in range(7)]
    with pytest.raises(BufferUnavailable):
        deliver(publisher, entries, 8.0, clock=lambda: now[0], sleep=lambda _: None)
    assert publisher.calls == 2  # the second started at 7 s, inside the 8 s budget
    assert now[0] <= 8.0 + 7.0


def test_entry_in_neither_list_of_an_sqs_answer_is_not_confirmed(ingest, stack, monkeypatch):
    """A SendMessageBatch answer that names an entry neither Successful nor Failed has not
    confirmed it: the request must not be answered 202."""
    if stack.buffer != "sqs":
        pytest.skip("an SQS answer shape")

    def drop_from_answer(call: aws_http.Call, answer: dict[str, Any]) -> None:
        answer["Successful"] = answer.get("Successful", [])[1:]

    hook = OnCall("sqs", "SendMessageBatch", after_call=drop_from_answer).install()
    monkeypatch.setenv("BUFFER_BUDGET_SECONDS", "0.3")
    try:
        response = ingest.lambda_handler(http_event(b'[{"a":1}]'), FakeLambdaContext())
    finally:
        hook.uninstall()
    assert response["statusCode"] == 503, orjson.loads(response["body"])
