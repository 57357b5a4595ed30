"""Compaction's choices and order (events_api.analytics.compaction), with a recording engine and an
in-memory bucket: which hours are closed, when an hour is due again, and that every step
of an hour happens in the order that keeps queries exact."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from events_api.analytics.athena import query_cost_usd
from events_api.analytics.compaction import (
    CompactionError,
    Compactor,
    Manifest,
    RawObject,
    closed_hours,
)
from events_api.analytics.table import Hour

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 29, 10, 20, tzinfo=UTC)
T0 = datetime(2026, 11, 29, 8, 30, tzinfo=UTC)


@dataclass
class Bucket:
    """The bucket as compaction sees it, recording what is done to it."""

    objects: dict[Hour, list[RawObject]] = field(default_factory=dict)
    manifests: dict[Hour, Manifest] = field(default_factory=dict)
    archived: list[str] = field(default_factory=list)
    locks: set[Hour] = field(default_factory=set)
    log: list[str] = field(default_factory=list)

    def datasets(self) -> list[str]:
        return sorted({hour.dataset for hour in self.objects})

    def raw_objects(self, hour: Hour) -> list[RawObject]:
        return list(self.objects.get(hour, []))

    def delete_prefix(self, prefix: str) -> int:
        self.log.append(f"empty {prefix}")
        return 0

    def read_manifest(self, hour: Hour) -> Manifest | None:
        return self.manifests.get(hour)

    def write_manifest(self, hour: Hour, manifest: Manifest) -> None:
        self.log.append(f"manifest {hour} slot={manifest.slot} {list(manifest.sources)}")
        self.manifests[hour] = manifest

    def archive(self, hour: Hour, sources: tuple[str, ...]) -> int:
        moved = [o for o in self.objects.get(hour, []) if f"s3://b/{o.key}" in sources]
        self.objects[hour] = [o for o in self.objects.get(hour, []) if o not in moved]
        self.archived += [o.key for o in moved]
        self.log.append(f"archive {[o.key for o in moved]}")
        return len(moved)

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
    """Writes what the hour shows into the slot: the raw objects' sources (and, after a
    first compaction, the previous slot's)."""

    bucket: Bucket
    failing: set[Hour] = field(default_factory=set)
    written: dict[tuple[Hour, str], list[str]] = field(default_factory=dict)

    def prepare(self) -> None:
        self.bucket.log.append("prepare")

    def compact(self, hour: Hour, slot: str) -> None:
        if hour in self.failing:
            raise CompactionError("HIVE_BAD_DATA: nope")
        live = self.bucket.manifests.get(hour)
        raw = [f"s3://b/{o.key}" for o in self.bucket.objects.get(hour, [])]
        self.written[(hour, slot)] = sorted({*(live.sources if live else ()), *raw})
        self.bucket.log.append(f"write {hour} slot={slot}")

    def sources(self, hour: Hour, slot: str) -> list[str]:
        return self.written[(hour, slot)]


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


def test_a_first_compaction_writes_slot_a_switches_the_manifest_then_archives() -> None:
    h = hour(T0)
    bucket = Bucket(objects={h: [RawObject("k1", T0), RawObject("k2", T0)]})
    report = compactor(bucket).run()
    assert bucket.log == [
        "prepare",
        f"lock {h}",
        f"empty {h.slot_prefix('a')}",
        f"write {h} slot=a",
        f"manifest {h} slot=a ['s3://b/k1', 's3://b/k2']",
        "archive ['k1', 'k2']",
        f"unlock {h}",
    ]
    assert [(r.hour, r.objects) for r in report.compacted] == [(h, 2)]


def test_a_late_object_makes_the_hour_due_and_is_folded_into_the_other_slot() -> None:
    h = hour(T0)
    bucket = Bucket(objects={h: [RawObject("k1", T0)]})
    compactor(bucket).run()
    assert compactor(bucket).due() == []
    bucket.objects[h].append(RawObject("late", T0 + timedelta(hours=2)))
    bucket.log.clear()
    assert compactor(bucket).due() == [h]
    compactor(bucket).run()
    assert bucket.log == [
        "prepare",
        f"lock {h}",
        f"empty {h.slot_prefix('b')}",
        f"write {h} slot=b",
        f"manifest {h} slot=b ['s3://b/k1', 's3://b/late']",
        "archive ['late']",
        f"empty {h.slot_prefix('a')}",
        f"unlock {h}",
    ]
    assert bucket.archived == ["k1", "late"]


def test_open_hours_and_hours_without_raw_objects_are_left_alone() -> None:
    bucket = Bucket(objects={hour(NOW): [RawObject("now", NOW)], hour(T0): []})
    report = compactor(bucket).run()
    assert report.due == []
    assert bucket.log == ["prepare"]


def test_a_failed_hour_keeps_its_manifest_and_objects_and_releases_its_lock() -> None:
    bad, good = hour(T0, "bad"), hour(T0, "good")
    bucket = Bucket(objects={bad: [RawObject("b", T0)], good: [RawObject("g", T0)]})
    report = compactor(bucket, Engine(bucket, failing={bad})).run()
    assert [(r.hour, r.error) for r in report.failed] == [(bad, "HIVE_BAD_DATA: nope")]
    assert [r.hour for r in report.compacted] == [good]
    assert bad not in bucket.manifests
    assert bucket.objects[bad] == [RawObject("b", T0)]
    assert bucket.locks == set()


def test_a_view_that_cannot_be_prepared_does_not_stop_the_hours() -> None:
    class Throttled(Exception):
        pass

    bucket = Bucket(objects={hour(T0): [RawObject("a", T0)]})
    engine = Engine(bucket)

    def throttled() -> None:
        raise Throttled("Rate exceeded")

    engine.prepare = throttled  # type: ignore[method-assign]
    report = compactor(bucket, engine).run()
    assert report.errors == ["Throttled: Rate exceeded"]
    assert [r.hour for r in report.compacted] == [hour(T0)]


def test_a_dataset_that_cannot_be_listed_leaves_the_others_due() -> None:
    denied, good = hour(T0, "denied"), hour(T0, "good")
    bucket = Bucket(objects={denied: [RawObject("d", T0)], good: [RawObject("g", T0)]})
    listing = bucket.raw_objects

    def raw_objects(h: Hour) -> list[RawObject]:
        if h.dataset == "denied":
            raise PermissionError("AccessDenied")
        return listing(h)

    bucket.raw_objects = raw_objects  # type: ignore[method-assign]
    report = compactor(bucket).run()
    assert report.errors == ["dataset denied not listed: PermissionError: AccessDenied"]
    assert [r.hour for r in report.compacted] == [good]


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
