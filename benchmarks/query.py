"""Query workload: what a typical filtered query reads on compacted Parquet against raw
gzip NDJSON for the same hour, and what Athena charges for it at 1 TB/day.

Events shaped like real logs (data.LogGenerator) are stored through the consumer's own
store path into moto's S3 (in-process), many small objects per hour as a busy consumer
writes them; then the local stack's compaction (DuckDB, events_api.analytics.compaction's steps)
rewrites the closed hours. The query is "what happened at 3 am in service X":

    SELECT event_time, level, message, duration FROM events
    WHERE dataset = 'logs' AND dt = ... AND hour = '03'
      AND _service = 'checkout-api' AND level IN ('warn', 'error')

Bytes read are what Athena reads and bills: on NDJSON every object of the hour whole
(gzip cannot be split or skipped into); on Parquet the column chunks of the columns the
query names (plus ``_source`` for the view's join) in every row group, each file's footer,
and the hour's manifest. Those are counted from the files' own metadata, not estimated.
DuckDB's wall time for the same query, before and after compaction, is shown beside it. The
section's prose is in benchmarks/templates/query.md.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from . import prose

#: The columns the workload's filtered query reads: their Parquet column chunks are counted.
QUERY_COLUMNS = ("event_time", "level", "message", "duration", "_service", "_source")
SERVICE = "checkout-api"
DATASET = "logs"
TB = 10**12
#: Objects a consumer writes per dataset-hour at 1 TB/day: about one every 2 seconds.
OBJECTS_PER_HOUR_AT_1TB_DAY = 1800
#: S3 COPY (PUT tier) per 1,000 requests, us-east-1: moving a compacted object to archive/.
S3_COPY_PER_1000 = 0.005
SECTION_START = "<!-- query:start -->"
SECTION_END = "<!-- query:end -->"
#: The section's prose, with the figures as fields (benchmarks/prose.py describes the format).
PROSE = prose.load(Path(__file__).with_name("templates") / "query.md")


@dataclass
class QueryResult:
    hours: int
    objects_per_hour: int
    events_per_hour: int
    event_text_bytes_per_hour: int
    raw_objects: int
    raw_bytes: int
    parquet_objects: int
    parquet_file_bytes: int
    parquet_bytes_read: int
    manifest_bytes: int
    rows: int
    rows_after: int
    duckdb_raw_s: float
    duckdb_parquet_s: float
    compaction_s: float

    @property
    def bytes_ratio(self) -> float:
        return self.raw_bytes / self.parquet_bytes_read

    def monthly(self) -> dict[str, float]:
        """Athena per query at 1 TB/day of events as sent (an hour's query, a 30-day one),
        and what compaction costs a month (its scan plus the archive copies)."""
        from events_api.analytics.athena import query_cost_usd

        hour_text = TB / 24
        scale = hour_text / self.event_text_bytes_per_hour
        raw_hour = self.raw_bytes * scale
        parquet_hour = self.parquet_bytes_read * scale
        stored_month = raw_hour * 24 * 30
        return {
            "raw_bytes_hour_query": raw_hour,
            "parquet_bytes_hour_query": parquet_hour,
            "cost_hour_query_ndjson": query_cost_usd(int(raw_hour)),
            "cost_hour_query_parquet": query_cost_usd(int(parquet_hour)),
            "cost_month_query_ndjson": query_cost_usd(int(raw_hour * 24 * 30)),
            "cost_month_query_parquet": query_cost_usd(int(parquet_hour * 24 * 30)),
            "compaction_scan_per_month": query_cost_usd(int(stored_month)),
            "archive_copies_per_month": OBJECTS_PER_HOUR_AT_1TB_DAY
            * 24
            * 30
            / 1000
            * S3_COPY_PER_1000,
        }


@contextlib.contextmanager
def in_process_moto() -> Iterator[None]:
    """moto in this process, quiet functions; the environment is put back afterwards."""
    from moto import mock_aws

    from events_api import aws, observability

    environment = {
        "AWS_ENDPOINT_URL": None,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
    }
    saved = {name: os.environ.get(name) for name in environment}
    for name, value in environment.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    aws.reset()
    # The functions' logger took its level when it was imported, before this environment.
    functions_log = logging.getLogger(observability.logger.service)
    level = functions_log.level
    functions_log.setLevel(observability.log_level(os.environ))
    try:
        with mock_aws():
            yield
    finally:
        functions_log.setLevel(level)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        aws.reset()


def _store(hours: list[datetime], objects_per_hour: int, events_per_object: int) -> int:
    """Events through the consumer's store path; the bytes of event text stored per hour."""
    from events_api import records
    from events_api.settings import ConsumerSettings
    from events_api.store.consumer import ConsumerService, SourceRecord
    from events_api.store.object_writer import S3ObjectWriter
    from events_api.timestamps import rfc3339

    from .data import LogGenerator

    generator = LogGenerator(seed=20261129)
    service = ConsumerService(ConsumerSettings("bench-events"), S3ObjectWriter("bench-events"))
    text = 0
    for start in hours:
        for n in range(objects_per_hour):
            at = start + timedelta(seconds=n * 3600 // objects_per_hour)
            events = [generator.event() for _ in range(events_per_object)]
            text += sum(len(e) for e in events)
            received = rfc3339(at)
            meta = records.RequestMeta(DATASET, f"req-{start:%H}-{n}", received)
            blobs = records.encode(meta, events, 1 << 20)
            batch = [
                SourceRecord(f"{start:%H}-{n}-{i}", f"{start:%H}-{n}-{i}", blob)
                for i, blob in enumerate(blobs)
            ]
            assert service.store("sqs", batch) == set()
    return text // len(hours)


def _parquet_bytes_read(files: list[Path]) -> tuple[int, int]:
    """(bytes of the query's column chunks plus footers, whole file bytes)."""
    import duckdb

    read = whole = 0
    with duckdb.connect() as connection:
        for path in files:
            size = path.stat().st_size
            whole += size
            with path.open("rb") as handle:
                handle.seek(size - 8)
                footer = int.from_bytes(handle.read(4), "little") + 8
            (chunks,) = connection.execute(
                "SELECT sum(total_compressed_size) FROM parquet_metadata(?) "
                "WHERE path_in_schema IN (SELECT unnest(?::VARCHAR[]))",
                [str(path), list(QUERY_COLUMNS)],
            ).fetchone() or (0,)
            read += int(chunks or 0) + footer
    return read, whole


def _timed_query(engine: Any, sql: str) -> tuple[int, float]:
    best = float("inf")
    rows = 0
    for _ in range(3):
        started = time.perf_counter()
        with engine.open() as connection:
            rows = len(connection.execute(sql).fetchall())
        best = min(best, time.perf_counter() - started)
    return rows, best


def measure(
    objects_per_hour: int = 120, events_per_object: int = 200, hours: int = 2
) -> QueryResult:
    import boto3

    from events_api.analytics.compaction import Compactor
    from events_api.analytics.compaction_store import S3CompactionStore
    from events_api.analytics.table import Hour
    from events_api.observability import metrics
    from events_api_cli.local.query_engine import BucketMirror, LocalCompactionEngine, LocalEngine

    yesterday = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=1)
    starts = [yesterday.replace(hour=3) + timedelta(hours=h) for h in range(hours)]
    target = Hour(DATASET, starts[0].strftime("%Y-%m-%d"), starts[0].strftime("%H"))
    sql = (
        "SELECT event_time, level, message, duration FROM events "
        f"WHERE dataset = '{DATASET}' AND dt = '{target.dt}' AND hour = '{target.hour}' "
        f"AND _service = '{SERVICE}' AND level IN ('warn', 'error') ORDER BY event_time"
    )
    with in_process_moto(), tempfile.TemporaryDirectory() as scratch:
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="bench-events")
        with contextlib.redirect_stdout(io.StringIO()):  # the consumer's EMF metrics
            text_per_hour = _store(starts, objects_per_hour, events_per_object)
            metrics.clear_metrics()
        mirror = BucketMirror(s3, "bench-events", Path(scratch))
        raw = s3.list_objects_v2(Bucket="bench-events", Prefix=target.raw_prefix)["Contents"]
        rows, raw_seconds = _timed_query(LocalEngine(mirror), sql)

        engine = LocalCompactionEngine(mirror)
        started = time.perf_counter()
        report = Compactor(
            S3CompactionStore(s3, "bench-events"), engine, lookback=timedelta(days=3)
        ).run()
        compaction_seconds = time.perf_counter() - started
        engine.close()
        assert len(report.compacted) == hours, report
        assert not report.failed, report

        rows_after, parquet_seconds = _timed_query(LocalEngine(mirror), sql)
        listing = s3.list_objects_v2(Bucket="bench-events", Prefix=target.compacted_prefix)
        parquet_keys = [item["Key"] for item in listing["Contents"]]
        files = [mirror.directory / key for key in parquet_keys]
        read, whole = _parquet_bytes_read(files)
        manifest = s3.head_object(Bucket="bench-events", Key=target.manifest_key)
        left = s3.list_objects_v2(Bucket="bench-events", Prefix=target.raw_prefix)
        assert left["KeyCount"] == 0  # the view reads no NDJSON for this hour now
        return QueryResult(
            hours=hours,
            objects_per_hour=objects_per_hour,
            events_per_hour=objects_per_hour * events_per_object,
            event_text_bytes_per_hour=text_per_hour,
            raw_objects=len(raw),
            raw_bytes=sum(int(item["Size"]) for item in raw),
            parquet_objects=len(files),
            parquet_file_bytes=whole,
            parquet_bytes_read=read + int(manifest["ContentLength"]),
            manifest_bytes=int(manifest["ContentLength"]),
            rows=rows,
            rows_after=rows_after,
            duckdb_raw_s=raw_seconds,
            duckdb_parquet_s=parquet_seconds,
            compaction_s=compaction_seconds,
        )


def results(r: QueryResult) -> dict[str, Any]:
    money = r.monthly()
    return {
        "query_raw_objects": r.raw_objects,
        "query_raw_bytes": r.raw_bytes,
        "query_parquet_objects": r.parquet_objects,
        "query_parquet_bytes_read": r.parquet_bytes_read,
        "query_parquet_file_bytes": r.parquet_file_bytes,
        "query_bytes_ratio": round(r.bytes_ratio, 1),
        "query_rows": r.rows,
        "query_duckdb_raw_ms": round(r.duckdb_raw_s * 1000, 1),
        "query_duckdb_parquet_ms": round(r.duckdb_parquet_s * 1000, 1),
        "query_compaction_s": round(r.compaction_s, 2),
        "query_cost_hour_ndjson_1tb_day": round(money["cost_hour_query_ndjson"], 4),
        "query_cost_hour_parquet_1tb_day": round(money["cost_hour_query_parquet"], 4),
        "query_cost_month_ndjson_1tb_day": round(money["cost_month_query_ndjson"], 2),
        "query_cost_month_parquet_1tb_day": round(money["cost_month_query_parquet"], 2),
        "compaction_cost_per_month_1tb_day": round(
            money["compaction_scan_per_month"] + money["archive_copies_per_month"], 2
        ),
    }


def markdown(r: QueryResult) -> str:
    m = r.monthly()
    compaction = m["compaction_scan_per_month"] + m["archive_copies_per_month"]
    saved_month = max(m["cost_month_query_ndjson"] - m["cost_month_query_parquet"], 1e-9)
    saved_hour = max(m["cost_hour_query_ndjson"] - m["cost_hour_query_parquet"], 1e-9)
    section = PROSE["section"].format(
        r=r,
        m=m,
        figures=results(r),
        command=COMMAND,
        service=SERVICE,
        columns=", ".join(QUERY_COLUMNS),
        verdict=PROSE["met" if r.bytes_ratio >= 10 else "not_met"],
        text_mb=r.event_text_bytes_per_hour / 1e6,
        hour_ndjson_gb=m["raw_bytes_hour_query"] / 1e9,
        hour_parquet_gb=m["parquet_bytes_hour_query"] / 1e9,
        compaction=compaction,
        archived_per_hour=OBJECTS_PER_HOUR_AT_1TB_DAY,
        month_queries=compaction / saved_month,
        hour_queries=compaction / saved_hour,
    )
    return "\n".join([SECTION_START, section, SECTION_END, ""])


COMMAND = "python -m benchmarks.run --only query"


def write_section(performance_md: Path, section: str) -> None:
    """Replace (or append) the query section of docs/performance.md."""
    text = performance_md.read_text() if performance_md.exists() else ""
    start, end = text.find(SECTION_START), text.find(SECTION_END)
    if start >= 0 and end > start:
        text = text[:start] + section.rstrip("\n") + text[end + len(SECTION_END) :]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    performance_md.write_text(text if text.endswith("\n") else text + "\n")
