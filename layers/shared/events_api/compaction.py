"""Compaction of closed hours: which dataset-hours to rewrite, and the order of the steps.

The same orchestration runs in AWS (the compactor function, Athena doing the rewriting)
and locally (``events-api dev`` / ``events-api compact``, DuckDB doing it). An engine only
knows how to write an hour's Parquet and its manifest; a store knows the bucket.

One hour is compacted in this order, and queries count every event exactly once at each
step, because the ``events`` table reads Parquet rows only for raw objects listed in the
manifest and raw rows only for objects that are not (table.py):

1. take the hour's lock (two compactions of one hour never interleave);
2. forget the hour's state, delete its manifest (from here queries read NDJSON only), then
   its Parquet;
3. rewrite every raw object of the hour as Parquet, each row naming its source object;
4. write the manifest: the distinct sources of that Parquet (queries switch to it);
5. record the state: the newest raw object listed before step 3, and how many there were.

Re-running an hour rewrites it, never doubles it. An object that arrives late for an hour
(a retried batch, a slow consumer) is not in the manifest, so queries read it from NDJSON;
its hour is due again (an object newer than the state's newest, or a new count) and the next run
folds it into Parquet. Hours older than the look-back window are left as they are; late
objects there stay readable from NDJSON.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from .table import Hour


@dataclass(frozen=True, slots=True)
class RawObject:
    key: str
    last_modified: datetime
    size: int = 0


@dataclass(frozen=True, slots=True)
class HourState:
    """What the listing before the last compaction saw: its newest object and how many.
    S3's own timestamps only, so no clock is compared with S3's."""

    newest: datetime
    objects: int


class CompactionStore(Protocol):
    """The bucket, as compaction sees it."""

    def datasets(self) -> list[str]: ...

    def raw_objects(self, hour: Hour) -> list[RawObject]: ...

    def delete_prefix(self, prefix: str) -> int: ...

    def read_state(self, hour: Hour) -> HourState | None: ...

    def write_state(self, hour: Hour, state: HourState) -> None: ...

    def delete_state(self, hour: Hour) -> None: ...

    def acquire(self, hour: Hour, now: datetime, lease: timedelta) -> bool: ...

    def release(self, hour: Hour) -> None: ...


class CompactionEngine(Protocol):
    """What rewrites data: Athena in AWS, DuckDB locally."""

    def prepare(self) -> None:
        """Once per run, before any hour (Athena: the ``events`` view)."""

    def compact(self, hour: Hour) -> None:
        """Write the hour's raw objects as Parquet under its (emptied) compacted prefix."""

    def write_manifest(self, hour: Hour) -> None:
        """Write the distinct sources of the hour's Parquet under its manifest prefix."""


@dataclass(slots=True)
class HourResult:
    hour: Hour
    objects: int
    error: str = ""


@dataclass(slots=True)
class Report:
    due: list[Hour] = field(default_factory=list)
    compacted: list[HourResult] = field(default_factory=list)
    failed: list[HourResult] = field(default_factory=list)
    skipped: list[Hour] = field(default_factory=list)
    #: Failures that belong to no hour (the engine's preparation).
    errors: list[str] = field(default_factory=list)

    @property
    def objects(self) -> int:
        return sum(result.objects for result in self.compacted)


def hour_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def closed_hours(now: datetime, grace: timedelta, lookback: timedelta) -> list[datetime]:
    """Starts of the hours that ended at least ``grace`` ago, within ``lookback`` of now."""
    last = hour_of(now - grace) - timedelta(hours=1)
    first = hour_of(now - lookback)
    hours = []
    while last >= first:
        hours.append(last)
        last -= timedelta(hours=1)
    return hours


def is_due(objects: list[RawObject], state: HourState | None) -> bool:
    if not objects:
        return False
    if state is None:
        return True
    # A new object, or one rewritten by a retried batch, is newer than the listing's newest
    # or changes the count (S3 times have whole seconds: the count catches a same-second
    # arrival). Either way the hour is rewritten, which is harmless.
    newest = max(item.last_modified for item in objects)
    return newest > state.newest or len(objects) != state.objects


@dataclass
class Compactor:
    store: CompactionStore
    engine: CompactionEngine
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    grace: timedelta = timedelta(minutes=15)
    lookback: timedelta = timedelta(hours=48)
    lease: timedelta = timedelta(minutes=30)

    def due(self, datasets: list[str] | None = None) -> list[Hour]:
        now = self.clock()
        due = []
        for dataset in datasets if datasets is not None else self.store.datasets():
            for start in closed_hours(now, self.grace, self.lookback):
                hour = Hour(dataset, start.strftime("%Y-%m-%d"), start.strftime("%H"))
                if is_due(self.store.raw_objects(hour), self.store.read_state(hour)):
                    due.append(hour)
        return sorted(due)

    def compact_hour(self, hour: Hour) -> HourResult:
        if not self.store.acquire(hour, self.clock(), self.lease):
            raise HourBusy(str(hour))
        try:
            self.store.delete_state(hour)
            self.store.delete_prefix(hour.manifest_prefix)
            self.store.delete_prefix(hour.compacted_prefix)
            objects = self.store.raw_objects(hour)
            if objects:
                self.engine.compact(hour)
                self.engine.write_manifest(hour)
                newest = max(item.last_modified for item in objects)
                self.store.write_state(hour, HourState(newest, len(objects)))
            return HourResult(hour, len(objects))
        finally:
            self.store.release(hour)

    def run(
        self,
        hours: list[Hour] | None = None,
        *,
        time_left: Callable[[], float] = lambda: float("inf"),
        seconds_per_hour: float = 0.0,
    ) -> Report:
        """Compact the given hours (else every due one) until time runs short."""
        report = Report(due=self.due() if hours is None else list(hours))
        try:
            self.engine.prepare()
        except CompactionError as exc:
            report.errors.append(str(exc))
        for hour in report.due:
            if time_left() < seconds_per_hour:
                report.skipped.append(hour)
                continue
            try:
                report.compacted.append(self.compact_hour(hour))
            except HourBusy:
                report.skipped.append(hour)
            except CompactionError as exc:
                report.failed.append(HourResult(hour, 0, str(exc)))
        return report


class CompactionError(Exception):
    """An engine could not rewrite an hour (the reason is for people)."""


class HourBusy(Exception):
    """Another compaction holds the hour's lock."""
