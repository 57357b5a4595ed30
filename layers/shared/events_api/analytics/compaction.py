"""Compaction of closed hours: which dataset-hours to rewrite, and the order of the steps.

The same orchestration runs in AWS (the compactor function, Athena doing the rewriting)
and locally (``events-api dev`` / ``events-api compact``, DuckDB doing it). An engine knows
how to write an hour into a slot and what sources a slot holds; a store knows the bucket.

An hour is due when its raw prefix holds objects: new ones, or late ones for an hour
compacted before (compaction moves the objects it covers to ``archive/``). One hour is
compacted in this order, and the ``events`` table (table.py) counts every event exactly
once at each step, since it reads the manifest's slot for the objects the manifest names
and the raw prefix for every other object:

1. take the hour's lock (two compactions of one hour never interleave);
2. empty the slot that is not live (what a crashed run may have left);
3. write the hour as ``events`` shows it now (live slot plus raw objects) into that slot;
4. list the distinct sources of that slot;
5. PUT the manifest naming that slot and those sources: one object, so queries switch
   from the old slot and the raw objects to the new slot at once;
6. move the raw objects the manifest names to ``archive/`` (from here on queries over the
   hour read Parquet only);
7. empty the old slot.

A crash anywhere leaves the table exact: before step 5 the old manifest still rules and
the new slot is invisible; after it, objects not yet moved are excluded by the manifest
and the next run moves them. Re-running an hour rewrites the same rows, never doubles
them. An object that arrives late (a slow or retried batch) sits in the raw prefix, is
read from NDJSON meanwhile, and makes its hour due again. Hours older than the look-back
window are not looked at; late objects there stay readable from NDJSON.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from .table import SLOTS, Hour


@dataclass(frozen=True, slots=True)
class RawObject:
    key: str
    last_modified: datetime
    size: int = 0


@dataclass(frozen=True, slots=True)
class Manifest:
    slot: str
    #: ``s3://bucket/key`` of every raw object whose rows the slot holds.
    sources: tuple[str, ...]


class CompactionStore(Protocol):
    """The bucket, as compaction sees it."""

    def datasets(self) -> list[str]: ...

    def raw_objects(self, hour: Hour) -> list[RawObject]: ...

    def delete_prefix(self, prefix: str) -> int: ...

    def read_manifest(self, hour: Hour) -> Manifest | None: ...

    def write_manifest(self, hour: Hour, manifest: Manifest) -> None: ...

    def archive(self, hour: Hour, sources: tuple[str, ...]) -> int:
        """Move the hour's raw objects named in ``sources`` under ``archive/``."""
        ...

    def acquire(self, hour: Hour, now: datetime, lease: timedelta) -> bool: ...

    def release(self, hour: Hour) -> None: ...


class CompactionEngine(Protocol):
    """What rewrites data: Athena in AWS, DuckDB locally."""

    def prepare(self) -> None:
        """Once per run, before any hour (Athena: the ``events`` view)."""

    def compact(self, hour: Hour, slot: str) -> None:
        """Write the hour's rows of ``events``, with their sources, into the emptied slot."""

    def sources(self, hour: Hour, slot: str) -> list[str]:
        """The distinct sources of the rows in the slot."""


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


def other_slot(manifest: Manifest | None) -> str:
    if manifest is None:
        return SLOTS[0]
    return SLOTS[1] if manifest.slot == SLOTS[0] else SLOTS[0]


class CompactionError(Exception):
    """An engine could not rewrite an hour (the reason is for people)."""


class HourBusy(Exception):
    """Another compaction holds the hour's lock."""


@dataclass
class Compactor:
    store: CompactionStore
    engine: CompactionEngine
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    grace: timedelta = timedelta(minutes=15)
    lookback: timedelta = timedelta(hours=48)
    lease: timedelta = timedelta(minutes=30)

    def due(self, errors: list[str] | None = None) -> list[Hour]:
        """The closed hours with raw objects. A dataset whose listing fails is left for
        the next run (its error appended to ``errors``), not the others."""
        now = self.clock()
        due = []
        for dataset in self.store.datasets():
            try:
                for start in closed_hours(now, self.grace, self.lookback):
                    hour = Hour(dataset, start.strftime("%Y-%m-%d"), start.strftime("%H"))
                    if self.store.raw_objects(hour):
                        due.append(hour)
            except Exception as exc:
                if errors is None:
                    raise
                errors.append(f"dataset {dataset} not listed: {_describe(exc)}")
        return sorted(due)

    def compact_hour(self, hour: Hour) -> HourResult:
        if not self.store.acquire(hour, self.clock(), self.lease):
            raise HourBusy(str(hour))
        try:
            live = self.store.read_manifest(hour)
            target = other_slot(live)
            self.store.delete_prefix(hour.slot_prefix(target))
            self.engine.compact(hour, target)
            sources = tuple(sorted(self.engine.sources(hour, target)))
            self.store.write_manifest(hour, Manifest(target, sources))
            moved = self.store.archive(hour, sources)
            if live is not None:
                self.store.delete_prefix(hour.slot_prefix(live.slot))
            return HourResult(hour, moved)
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
        report = Report()
        try:
            self.engine.prepare()
        except Exception as exc:  # the hours do not depend on the view
            report.errors.append(_describe(exc))
        try:
            report.due = self.due(report.errors) if hours is None else list(hours)
        except Exception as exc:  # no listing of datasets: nothing to do this time
            report.errors.append(f"datasets not listed: {_describe(exc)}")
            return report
        for hour in report.due:
            if time_left() < seconds_per_hour:
                report.skipped.append(hour)
                continue
            try:
                report.compacted.append(self.compact_hour(hour))
            except HourBusy:
                report.skipped.append(hour)
            except Exception as exc:
                # One hour's failure (a failed statement, a throttle, an AccessDenied)
                # leaves that hour for the next run and does not stop the others.
                report.failed.append(HourResult(hour, 0, _describe(exc)))
        return report


def _describe(exc: Exception) -> str:
    """A failure for people: a CompactionError's own words, else its type and message."""
    return str(exc) if isinstance(exc, CompactionError) else f"{type(exc).__name__}: {exc}"
