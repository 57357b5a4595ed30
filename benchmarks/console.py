"""Console workload: how long the explore view takes to answer its typical query over one
million local events, before and after compaction.

The query is the one a Baselime user starts with: the count of events by service over the
last 24 hours, the chart of it (the top services per time bucket) and the first page of
events (the newest 100). It is answered as ``events-api ui`` answers ``/explore.json``
(events_api_cli.explore.service.explore on the local DuckDB engine, read-only), so the time
includes bringing the bucket's mirror up to date (a listing when nothing changed) and
opening the read-only database, not only the three statements.

Events are shaped like real logs (data.LogGenerator): a pool is generated once and each
event is a pool event with its own timestamp inside its receive hour (a pool of 100,000
covers an hour's 41,667 events without a repeat, so every hour's objects and every hour's
Parquet file hold distinct events). They are stored through the consumer's own store path
into moto's S3 (in-process), as 20 gzip NDJSON objects per hour for 24 closed hours; then
the local compaction rewrites those hours as Parquet and the same query runs again.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from .prose import load
from .query import in_process_moto

TEMPLATE = Path(__file__).resolve().parent / "templates" / "console.md"
BUCKET = "bench-console"
DATASET = "logs"
POOL = 100_000
ROUNDS = 3
COMMAND = "python -m benchmarks.run --only console"


@dataclass
class Answered:
    """One state of the bucket: the first answer and the best of ROUNDS after it."""

    first_s: float
    best_s: float
    statements: dict[str, float]
    groups: int
    total: int
    events: int


@dataclass
class ConsoleResult:
    events: int
    hours: int
    objects_per_hour: int
    event_text_bytes: int
    raw_bytes: int
    parquet_bytes: int
    store_s: float
    compaction_s: float
    raw: Answered
    compacted: Answered
    when: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))


def _pool(size: int) -> list[dict[str, Any]]:
    from .data import LogGenerator

    generator = LogGenerator(seed=20261203)
    return [orjson.loads(generator.event()) for _ in range(size)]


def _store(hours: list[datetime], total: int, objects_per_hour: int, pool_size: int) -> int:
    """``total`` events over ``hours`` through the consumer's store path; the text bytes."""
    from events_api import records
    from events_api.settings import ConsumerSettings
    from events_api.store.consumer import ConsumerService, SourceRecord
    from events_api.store.object_writer import S3ObjectWriter
    from events_api.timestamps import rfc3339

    pool = _pool(min(pool_size, total))
    service = ConsumerService(ConsumerSettings(BUCKET), S3ObjectWriter(BUCKET))
    per_hour = total // len(hours)
    per_object = -(-per_hour // objects_per_hour)
    text = 0
    n = 0
    for start in hours:
        start_ms = int(start.timestamp() * 1000)
        for part in range(objects_per_hour):
            count = min(per_object, per_hour - part * per_object)
            events = []
            for k in range(count):
                offset_ms = (part * per_object + k) * 3_600_000 // per_hour
                event = {**pool[n % len(pool)], "timestamp": start_ms + offset_ms}
                events.append(orjson.dumps(event))
                n += 1
            text += sum(len(e) for e in events)
            received = rfc3339(start + timedelta(minutes=59))
            meta = records.RequestMeta(DATASET, f"req-{start:%H}-{part}", received)
            batch = [
                SourceRecord(f"{start:%d%H}-{part}-{i}", f"{start:%d%H}-{part}-{i}", blob)
                for i, blob in enumerate(records.encode(meta, events, 1 << 20))
            ]
            assert service.store("sqs", batch) == set()
    return text


def _answer(engine: Any, query: Any) -> Answered:
    from events_api_cli.explore import service

    def once() -> tuple[float, dict[str, Any]]:
        started = time.perf_counter()
        answer = service.explore(query, engine)
        return time.perf_counter() - started, answer

    first, answer = once()
    best, best_answer = min((once() for _ in range(ROUNDS)), key=lambda pair: pair[0])
    rows = best_answer["results"]["rows"]
    assert rows == answer["results"]["rows"]
    return Answered(
        first_s=first,
        best_s=best,
        statements={s["name"]: s["seconds"] for s in best_answer["statements"]},
        groups=len(rows),
        total=sum(row[1] for row in rows),
        events=len(best_answer["events"]),
    )


def _bytes_under(s3: Any, prefix: str) -> int:
    total = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        total += sum(int(item["Size"]) for item in page.get("Contents", []))
    return total


def measure(
    events: int = 1_000_000, hours: int = 24, objects_per_hour: int = 20, pool: int = POOL
) -> ConsoleResult:
    import boto3

    from events_api.analytics.compaction import Compactor
    from events_api.analytics.compaction_store import S3CompactionStore
    from events_api.observability import metrics
    from events_api_cli.explore.engines import LocalEngine
    from events_api_cli.explore.model import Query
    from events_api_cli.local.query_engine import BucketMirror, LocalCompactionEngine

    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    starts = [end - timedelta(hours=hours - h) for h in range(hours)]
    query = Query(datasets=(DATASET,), since=None, start=starts[0], end=end, by="service")
    with in_process_moto(), tempfile.TemporaryDirectory() as scratch:
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):  # the consumer's EMF metrics
            text = _store(starts, events, objects_per_hour, pool)
            metrics.clear_metrics()
        store_seconds = time.perf_counter() - started
        raw_bytes = _bytes_under(s3, "dataset=")
        mirror = BucketMirror(s3, BUCKET, Path(scratch))
        engine = LocalEngine(mirror)
        try:
            raw = _answer(engine, query)
            compaction = LocalCompactionEngine(mirror)
            started = time.perf_counter()
            report = Compactor(
                S3CompactionStore(s3, BUCKET),
                compaction,
                grace=timedelta(0),
                lookback=timedelta(hours=hours + 1),
            ).run()
            compaction_seconds = time.perf_counter() - started
            compaction.close()
            assert len(report.compacted) == hours, report
            assert not report.failed, report
            compacted = _answer(engine, query)
        finally:
            engine.close()
        assert raw.total == compacted.total == hours * (events // hours)
        return ConsoleResult(
            events=hours * (events // hours),
            hours=hours,
            objects_per_hour=objects_per_hour,
            event_text_bytes=text,
            raw_bytes=raw_bytes,
            parquet_bytes=_bytes_under(s3, "compacted/"),
            store_s=store_seconds,
            compaction_s=compaction_seconds,
            raw=raw,
            compacted=compacted,
        )


def results(r: ConsoleResult) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "console_events": r.events,
        "console_raw_bytes": r.raw_bytes,
        "console_parquet_bytes": r.parquet_bytes,
        "console_compaction_s": round(r.compaction_s, 1),
        "console_speedup_compacted": round(r.raw.best_s / r.compacted.best_s, 1),
    }
    for name, answered in (("raw", r.raw), ("compacted", r.compacted)):
        figures[f"console_explore_{name}_s"] = round(answered.best_s, 2)
        figures[f"console_explore_{name}_first_s"] = round(answered.first_s, 2)
        for statement, seconds in answered.statements.items():
            figures[f"console_{statement}_{name}_s"] = round(seconds, 2)
    return figures


def markdown(r: ConsoleResult) -> str:
    blocks = load(TEMPLATE)
    rows = "\n".join(
        blocks["row"].format(
            label=label,
            a=answered,
            results=answered.statements["results"],
            series=answered.statements["series"],
            events=answered.statements["latest"] + answered.statements["events"],
            rest=answered.best_s - sum(answered.statements.values()),
        )
        for label, answered in (
            ("raw gzip NDJSON", r.raw),
            ("compacted Parquet (zstd)", r.compacted),
        )
    )
    return blocks["section"].format(
        r=r,
        rows=rows,
        command=COMMAND,
        rounds=ROUNDS,
        per_hour=r.events // r.hours,
        text_gb=r.event_text_bytes / 1e9,
        raw_mb=r.raw_bytes / 1e6,
        parquet_mb=r.parquet_bytes / 1e6,
        speedup=r.raw.best_s / r.compacted.best_s,
    )


def write_section(performance_md: Path, section: str) -> None:
    """Replace (or append) the console section of docs/performance.md."""
    start_mark, end_mark = "<!-- console:start -->", "<!-- console:end -->"
    text = performance_md.read_text() if performance_md.exists() else ""
    start, end = text.find(start_mark), text.find(end_mark)
    if start >= 0 and end > start:
        text = text[:start] + section.rstrip("\n") + text[end + len(end_mark) :]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    performance_md.write_text(text if text.endswith("\n") else text + "\n")
