"""Compaction's choices and order (events_api.compaction), with a recording engine and an
in-memory bucket: which hours are closed, when an hour is due again, and that every step
of an hour happens in the order that keeps queries exact."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from events_api.athena import query_cost_usd
from events_api.compaction import (
    CompactionError,
    Compactor,
    HourState,
    RawObject,
    closed_hours,
    is_due,
)
from events_api.table import Hour

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 29, 10, 20, tzinfo=UTC)
T0 = datetime(2026, 11, 29, 8, 30, tzinfo=UTC)


@dataclass
class Bucket:
    """The bucket as compaction sees it, recording what is done to it."""

    objects: dict[Hour, list[RawObject]] = field(default_factory=dict)
    states: dict[Hour, HourState] = field(default_factory=dict)
    locks: set[Hour] = field(default_factory=set)
    log: list[str] = field(default_factory=list)

    def datasets(self) -> list[str]:
        return sorted({hour.dataset for hour in self.objects})

    def raw_objects(self, hour: Hour) -> list[RawObject]:
        return list(self.objects.get(hour, []))

    def delete_prefix(self, prefix: str) -> int:
        self.log.append(f"delete {prefix}")
        return 0

    def read_state(self, hour: Hour) -> HourState | None:
        return self.states.get(hour)

    def write_state(self, hour: Hour, state: HourState) -> None:
        self.log.append(f"state {hour}")
        self.states[hour] = state

    def delete_state(self, hour: Hour) -> None:
        self.log.append(f"forget {hour}")
        self.states.pop(hour, None)

    def acquire(self, hour: Hour, now: datetime, lease: timedelta) -> bool:
        if hour in self.locks:
            return False
        self.locks.add(hour)
        self.log.append(f"lock {hour}")
        return True

    def release(self, hour: Hour) -> None:
        self.locks.discard(hour)
        self.log.append(f"unlock {hour}")


@dataclass
class Engine:
    bucket: Bucket
    failing: set[Hour] = field(default_factory=set)

    def prepare(self) -> None:
        self.bucket.log.append("prepare")

    def compact(self, hour: Hour) -> None:
        if hour in self.failing:
            raise CompactionError("HIVE_BAD_DATA: nope")
        self.bucket.log.append(f"parquet {hour}")

    def write_manifest(self, hour: Hour) -> None:
        self.bucket.log.append(f"manifest {hour}")


def hour(at: datetime, dataset: str = "logs") -> Hour:
    return Hour(dataset, at.strftime("%Y-%m-%d"), at.strftime("%H"))


def compactor(bucket: Bucket, engine: Engine | None = None) -> Compactor:
    return Compactor(bucket, engine or Engine(bucket), clock=lambda: NOW)


def test_closed_hours_end_a_grace_period_ago_and_go_back_the_lookback() -> None:
    hours = closed_hours(NOW, timedelta(minutes=15), timedelta(hours=3))
    # 10:20 now: 09:00-10:00 ended 20 minutes ago (closed), 10:00 is open.
    assert hours == [
        datetime(2026, 11, 29, 9, tzinfo=UTC),
        datetime(2026, 11, 29, 8, tzinfo=UTC),
        datetime(2026, 11, 29, 7, tzinfo=UTC),
    ]
    # With a 30-minute grace, 09:00 is not closed yet.
    assert closed_hours(NOW, timedelta(minutes=30), timedelta(hours=3))[0].hour == 8


def test_an_hour_is_due_when_never_compacted_or_when_objects_arrived_since() -> None:
    first = RawObject("a", T0)
    assert not is_due([], None)
    assert is_due([first], None)
    assert not is_due([first], HourState(T0, 1))
    assert is_due([first, RawObject("late", T0 + timedelta(hours=2))], HourState(T0, 1))
    # Same second as the listing's newest object (S3 times have whole seconds): the count.
    assert is_due([first, RawObject("same second", T0)], HourState(T0, 1))
    # A retried batch rewrote an object: newer, same count.
    assert is_due([RawObject("a", T0 + timedelta(seconds=5))], HourState(T0, 1))


def test_each_hour_is_locked_forgotten_emptied_rewritten_listed_then_recorded() -> None:
    bucket = Bucket(objects={hour(T0): [RawObject("a", T0)]})
    report = compactor(bucket).run()
    h = hour(T0)
    assert bucket.log == [
        "prepare",
        f"lock {h}",
        f"forget {h}",
        f"delete {h.manifest_prefix}",
        f"delete {h.compacted_prefix}",
        f"parquet {h}",
        f"manifest {h}",
        f"state {h}",
        f"unlock {h}",
    ]
    assert [r.hour for r in report.compacted] == [h]
    assert bucket.states[h] == HourState(T0, 1)


def test_open_hours_and_compacted_hours_without_news_are_left_alone() -> None:
    open_hour = hour(NOW)
    done = hour(T0 - timedelta(hours=1))
    bucket = Bucket(
        objects={
            open_hour: [RawObject("now", NOW)],
            done: [RawObject("old", T0 - timedelta(hours=1))],
        },
        states={done: HourState(T0 - timedelta(hours=1), 1)},
    )
    report = compactor(bucket).run()
    assert report.due == []
    assert bucket.log == ["prepare"]


def test_a_failed_hour_keeps_no_state_and_releases_its_lock_and_others_go_on() -> None:
    bad, good = hour(T0, "bad"), hour(T0, "good")
    bucket = Bucket(objects={bad: [RawObject("b", T0)], good: [RawObject("g", T0)]})
    report = compactor(bucket, Engine(bucket, failing={bad})).run()
    assert [(r.hour, r.error) for r in report.failed] == [(bad, "HIVE_BAD_DATA: nope")]
    assert [r.hour for r in report.compacted] == [good]
    assert bad not in bucket.states
    assert f"manifest {bad}" not in bucket.log
    assert bucket.locks == set()


def test_an_hour_locked_by_another_run_is_skipped_untouched() -> None:
    h = hour(T0)
    bucket = Bucket(objects={h: [RawObject("a", T0)]}, locks={h})
    report = compactor(bucket).run()
    assert report.skipped == [h]
    assert bucket.log == ["prepare"]


def test_hours_are_not_started_when_time_runs_short() -> None:
    bucket = Bucket(objects={hour(T0): [RawObject("a", T0)]})
    report = compactor(bucket).run(time_left=lambda: 60.0, seconds_per_hour=180.0)
    assert report.skipped == [hour(T0)]
    assert report.compacted == []


@pytest.mark.parametrize(
    ("scanned", "dollars"),
    [
        (0, 0.0),
        (1, 10_000_000 / 2**40 * 5),  # the 10 MB minimum
        (10_000_001, 11_000_000 / 2**40 * 5),  # rounded up to the megabyte
        (2**40, 5.0),
    ],
)
def test_athena_cost_per_query(scanned: int, dollars: float) -> None:
    assert query_cost_usd(scanned) == pytest.approx(dollars)
