"""The local engine: DuckDB embedded in the CLI over a mirror of the local stack's bucket.

DuckDB's own S3 access (httpfs) is an extension it downloads at run time, which an
offline machine cannot do, so nothing here loads extensions: the objects are copied from
S3 with boto3 into a cache directory that mirrors the bucket's keys (only new or changed
objects are fetched, by ETag), and DuckDB reads the files with its built-in JSON and
Parquet readers. Rows keep their S3 identity: a raw row's ``path`` is
``s3://bucket/key`` of its object, the value compaction records as ``_source``.

The same module compacts an hour locally (``LocalCompactionEngine``), with the SQL of
events_api.analytics.table and the steps of events_api.analytics.compaction, so the local
stack follows the same rules as Athena does in AWS.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from events_api.analytics.compaction import CompactionError
from events_api.analytics.table import (
    COLUMN_NAMES,
    COMPACTED_PREFIX,
    MANIFEST_COLUMN,
    MANIFEST_NAME,
    MANIFEST_PREFIX,
    SOURCE,
    TABLE,
    Hour,
    duckdb_empty_compacted,
    duckdb_view,
    literal,
    quote,
)

if TYPE_CHECKING:
    import duckdb
    from mypy_boto3_s3 import S3Client

RAW_PREFIX = "dataset="
ALL_HOURS = "dataset=*/dt=*/hour=*/"
_INDEX = ".etags.json"
_lock = threading.Lock()


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "events-api" / "query"


@dataclass(frozen=True, slots=True)
class SyncReport:
    objects: int
    bytes: int
    fetched: int


class BucketMirror:
    """A directory holding the bucket's objects under their keys, brought up to date on
    demand (one per endpoint and bucket)."""

    def __init__(self, s3: S3Client, bucket: str, root: Path | None = None) -> None:
        self.s3 = s3
        self.bucket = bucket
        endpoint = str(getattr(s3.meta, "endpoint_url", ""))
        slot = hashlib.sha256(f"{endpoint}\n{bucket}".encode()).hexdigest()[:16]
        # The directory is named after the bucket, so a file's path under the cache root
        # is "bucket/key" and its S3 address is "s3://" + that.
        self.base = (root or cache_root()) / slot
        self.directory = self.base / bucket

    def s3_path_sql(self, column: str) -> str:
        """SQL turning a mirrored file's path into its ``s3://bucket/key``."""
        return f"'s3://' || substr({column}, {len(str(self.base)) + 2})"

    def _listing(self, prefix: str) -> dict[str, tuple[str, int]]:
        found: dict[str, tuple[str, int]] = {}
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        for page in pages:
            for item in page.get("Contents", []):
                found[item["Key"]] = (item["ETag"], int(item["Size"]))
        return found

    def sync(self, prefixes: tuple[str, ...]) -> SyncReport:
        """Fetch new and changed objects under the prefixes; drop files whose object is gone."""
        with _lock:
            self.directory.mkdir(parents=True, exist_ok=True)
            index_path = self.directory / _INDEX
            index: dict[str, str] = (
                orjson.loads(index_path.read_bytes()) if index_path.exists() else {}
            )
            listing: dict[str, tuple[str, int]] = {}
            for prefix in prefixes:
                listing.update(self._listing(prefix))
            fetched = 0
            for key, (etag, _size) in listing.items():
                target = self.directory / key
                if index.get(key) == etag and target.exists():
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
                partial = target.with_name(target.name + ".part")
                partial.write_bytes(body)
                partial.replace(target)
                index[key] = etag
                fetched += 1
            for key in [k for k in index if k.startswith(prefixes) and k not in listing]:
                (self.directory / key).unlink(missing_ok=True)
                del index[key]
            index_path.write_bytes(orjson.dumps(index))
            return SyncReport(
                objects=len(listing),
                bytes=sum(size for _etag, size in listing.values()),
                fetched=fetched,
            )


def connect() -> duckdb.DuckDBPyConnection:
    import duckdb

    connection = duckdb.connect(config={"autoinstall_known_extensions": False})
    connection.execute("SET autoload_known_extensions = false")
    connection.execute("SET TimeZone = 'UTC'")
    # Athena's names for the JSON functions, so a query written for one engine runs on both.
    connection.execute("CREATE MACRO json_extract_scalar(j, p) AS json_extract_string(j, p)")
    return connection


def _has_files(directory: Path, pattern: str) -> bool:
    return next(directory.glob(pattern), None) is not None


def _relation(mirror: BucketMirror, pattern: str, reader: str, empty: str) -> str:
    """``reader`` over the mirrored files matching ``pattern``, or ``empty`` if none."""
    if not _has_files(mirror.directory, pattern):
        return f"({empty})"
    files = literal(str(mirror.directory / pattern))
    return f"({reader.format(files=files)})"


_HIVE = "hive_partitioning = true, hive_types_autocast = false"


def view_sql(mirror: BucketMirror, hours: str = ALL_HOURS) -> str:
    """``CREATE VIEW events`` over the mirrored files of the hours matching ``hours``."""
    raw = _relation(
        mirror,
        f"{hours}*.ndjson.gz",
        f"SELECT json, {mirror.s3_path_sql('filename')} AS path, dataset, dt, hour "
        f"FROM read_ndjson_objects({{files}}, filename = true, {_HIVE}, ignore_errors = true)",
        "SELECT NULL::JSON AS json, NULL::VARCHAR AS path, NULL::VARCHAR AS dataset, "
        "NULL::VARCHAR AS dt, NULL::VARCHAR AS hour WHERE false",
    )
    compacted = _relation(
        mirror,
        f"{COMPACTED_PREFIX}{hours}slot=*/*.parquet",
        f"SELECT * FROM read_parquet({{files}}, {_HIVE}, union_by_name = true)",
        duckdb_empty_compacted(),
    )
    manifest = _relation(
        mirror,
        f"{MANIFEST_PREFIX}{hours}{MANIFEST_NAME}",
        f"SELECT * FROM read_json({{files}}, format = 'newline_delimited', {_HIVE}, "
        f"columns = {{{{'{MANIFEST_COLUMN}': 'VARCHAR', 'slot': 'VARCHAR'}}}})",
        f"SELECT NULL::VARCHAR AS {MANIFEST_COLUMN}, NULL::VARCHAR AS slot, "
        "NULL::VARCHAR AS dataset, NULL::VARCHAR AS dt, NULL::VARCHAR AS hour WHERE false",
    )
    return duckdb_view(compacted=compacted, raw=raw, manifest=manifest)


class LocalEngine:
    """``events`` on DuckDB: the live slots' Parquet for the objects the manifests name,
    NDJSON for every other object."""

    def __init__(self, mirror: BucketMirror) -> None:
        self.mirror = mirror
        self.sync: SyncReport | None = None

    def open(self, hour: Hour | None = None) -> duckdb.DuckDBPyConnection:
        """A connection with the view; only one hour's objects fetched when ``hour`` is given."""
        scope = hour.raw_prefix if hour else RAW_PREFIX
        self.sync = self.mirror.sync((scope, COMPACTED_PREFIX + scope, MANIFEST_PREFIX + scope))
        connection = connect()
        connection.execute(view_sql(self.mirror, hour.raw_prefix if hour else ALL_HOURS))
        return connection


class LocalCompactionEngine:
    """Compaction's engine on DuckDB: what ``events`` shows of an hour, written as one
    Parquet (zstd) file into the slot's prefix, where Athena's UNLOAD writes in AWS."""

    PARQUET = f"(FORMAT PARQUET, COMPRESSION ZSTD, ROW_GROUP_SIZE {1 << 17})"

    def __init__(self, mirror: BucketMirror) -> None:
        self.mirror = mirror
        self._written: dict[tuple[Hour, str], Path] = {}
        self._scratch = tempfile.TemporaryDirectory(prefix="events-api-compact-")

    def prepare(self) -> None:
        """Nothing to set up: the query engine builds its view per query."""

    def compact(self, hour: Hour, slot: str) -> None:
        try:
            self._compact(hour, slot)
        except Exception as exc:  # duckdb's or botocore's: the run goes on with other hours
            raise CompactionError(f"{type(exc).__name__}: {exc}") from exc

    def sources(self, hour: Hour, slot: str) -> list[str]:
        data = self._written.pop((hour, slot))
        try:
            with connect() as connection:
                rows = connection.execute(
                    f"SELECT DISTINCT {quote(SOURCE)} FROM read_parquet({literal(str(data))})"
                ).fetchall()
        except Exception as exc:
            raise CompactionError(f"{type(exc).__name__}: {exc}") from exc
        finally:
            data.unlink(missing_ok=True)
        return [str(row[0]) for row in rows]

    def _compact(self, hour: Hour, slot: str) -> None:
        target = Path(self._scratch.name) / f"{hour.dataset}-{hour.dt}-{hour.hour}-{slot}.parquet"
        columns = ", ".join(quote(name) for name in (*COLUMN_NAMES, SOURCE))
        with LocalEngine(self.mirror).open(hour) as connection:
            connection.execute(
                f"COPY (SELECT {columns} FROM {TABLE} WHERE {hour.where()}) "
                f"TO {literal(str(target))} {self.PARQUET}"
            )
        with target.open("rb") as body:
            self.mirror.s3.put_object(
                Bucket=self.mirror.bucket,
                Key=hour.slot_prefix(slot) + "part-00000.parquet",
                Body=body,
            )
        self._written[(hour, slot)] = target

    def close(self) -> None:
        self._scratch.cleanup()


def rows_of(
    connection: duckdb.DuckDBPyConnection, sql: str
) -> tuple[list[str], list[tuple[Any, ...]]]:
    relation = connection.execute(sql)
    names = [column[0] for column in relation.description or []]
    return names, relation.fetchall()
