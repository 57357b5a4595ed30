"""Delivery retries: per-entry failures, whole-call failures, the time budget, call sizes."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from events_api.aws.http_client import AwsError, AwsUnreachable
from events_api.ingest.buffer import BufferUnavailable, deliver
from events_api.ingest.publishers import Entry, KinesisPublisher, SqsPublisher

pytestmark = pytest.mark.unit


class ScriptedPublisher:
    """Our Publisher protocol, failing the entries a script names, attempt by attempt."""

    max_entries_per_call = 3
    max_bytes_per_call = 1000
    record_overhead = 0

    def __init__(self, script: list[object]) -> None:
        self.script = list(script)
        self.calls: list[list[str]] = []
        self.confirmed: list[str] = []

    def entry_size(self, entry: Entry) -> int:
        return len(entry.data)

    def send(self, entries: Sequence[Entry]) -> set[str]:
        self.calls.append([e.id for e in entries])
        step = self.script.pop(0) if self.script else set()
        if isinstance(step, Exception):
            raise step
        failed = {e.id for e in entries if e.id in step}  # type: ignore[operator]
        self.confirmed.extend(e.id for e in entries if e.id not in failed)
        return failed


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def entries(n: int, size: int = 10) -> list[Entry]:
    return [Entry(f"r{i}", b"x" * size, f"k{i}") for i in range(n)]


def run(publisher: ScriptedPublisher, items: list[Entry], budget: float = 5.0) -> FakeTime:
    fake = FakeTime()
    deliver(publisher, items, budget, clock=fake.clock, sleep=fake.sleep, jitter=lambda lo, hi: hi)
    return fake


def test_all_entries_confirmed_first_time_means_one_attempt() -> None:
    publisher = ScriptedPublisher([set(), set()])
    fake = run(publisher, entries(5))
    assert publisher.calls == [["r0", "r1", "r2"], ["r3", "r4"]]
    assert fake.sleeps == []


def test_only_failed_entries_are_resent_with_growing_backoff() -> None:
    publisher = ScriptedPublisher([{"r1"}, set(), {"r1"}, set()])
    fake = run(publisher, entries(4))
    assert publisher.calls == [["r0", "r1", "r2"], ["r3"], ["r1"], ["r1"]]
    assert sorted(publisher.confirmed) == ["r0", "r1", "r2", "r3"]
    assert fake.sleeps == [0.1, 0.2]


def test_whole_call_failures_are_resent_entirely() -> None:
    throttled = AwsError(400, "ProvisionedThroughputExceededException", "Rate exceeded")
    publisher = ScriptedPublisher([throttled, AwsUnreachable("connect timeout"), set()])
    run(publisher, entries(2))
    assert publisher.calls == [["r0", "r1"], ["r0", "r1"], ["r0", "r1"]]


def test_persistent_failure_ends_within_the_budget() -> None:
    publisher = ScriptedPublisher([{"r0"}] * 100)
    fake = FakeTime()
    with pytest.raises(BufferUnavailable) as error:
        deliver(
            publisher, entries(2), 2.0, clock=fake.clock, sleep=fake.sleep, jitter=lambda lo, hi: hi
        )
    assert fake.now <= 2.0
    assert error.value.pending == 1
    assert "r1" in publisher.confirmed


def test_calls_respect_the_byte_limit() -> None:
    publisher = ScriptedPublisher([])
    run(
        publisher,
        [Entry("a", b"x" * 600, "k"), Entry("b", b"x" * 600, "k"), Entry("c", b"x" * 300, "k")],
    )
    assert publisher.calls == [["a"], ["b", "c"]]


def test_publisher_limits_match_aws() -> None:
    assert (KinesisPublisher.max_entries_per_call, KinesisPublisher.max_bytes_per_call) == (
        500,
        5 * 1024 * 1024,
    )
    assert (SqsPublisher.max_entries_per_call, SqsPublisher.max_bytes_per_call) == (10, 1024 * 1024)
    entry = Entry("e", b"x" * 100, "pk")
    assert KinesisPublisher("s").entry_size(entry) == 102
    assert SqsPublisher("q").entry_size(entry) > 100
