"""The ``events`` table: one definition of its columns, for every engine that reads events.

Stored events are free-form JSON lines (enrichment.py). Queries see them as one table,
``events``, with the same columns on Athena (AWS) and DuckDB (the local stack):

- the partitions ``dataset``, ``dt`` and ``hour`` (UTC receive time, as the object keys);
- the stored fields (``_dataset`` ... ``_id``), ``event_time`` (``_timestamp`` as a
  timestamp, for time ranges) and common event fields (``message``, ``level``, ...);
- ``event``: the whole stored line as JSON text, for every other field.

Values are read from the stored line the same way in both engines: a string column holds a
scalar's text (a string unquoted, a number or boolean as written) and NULL for a missing
field, ``null``, an object or an array; a double column holds the number, or NULL for
anything that is not one (``"12ms"``), so one odd producer never fails a query.

Closed hours are compacted into Parquet (compaction.py) under ``compacted/``, in one of
two slots per hour (``slot=a`` or ``slot=b``), with the same columns plus ``_source`` (the
raw object each row was stored in). One manifest object per hour, under
``compaction-manifests/``, names the live slot and the raw objects its rows came from; the
raw objects it names are then moved under ``archive/``. The union below reads the live
slot's rows whose source is in the manifest, and every raw object the manifest does not
name: every event exactly once, whatever arrives late and whenever a compaction runs
(rewriting goes to the other slot, and one PUT of the manifest switches over). Because
covered objects leave the raw prefix, a query over compacted hours reads Parquet only.

This module builds text only (SQL and Glue column lists); it never talks to AWS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: The table users query, in both engines.
TABLE = "events"
#: Athena/Glue names of the tables under the view.
RAW_TABLE = "events_raw"
COMPACTED_TABLE = "events_compacted"
MANIFEST_TABLE = "events_compaction_manifest"
PARTITIONS = ("dataset", "dt", "hour")
#: Key prefixes of compacted data, manifests and compacted raw objects (outside
#: ``dataset=``, so the raw tables' projection never sees them).
COMPACTED_PREFIX = "compacted/"
MANIFEST_PREFIX = "compaction-manifests/"
ARCHIVE_PREFIX = "archive/"
MANIFEST_NAME = "manifest.json"
SLOTS = ("a", "b")
#: The column naming the raw object (``s3://bucket/key``) an event was stored in.
SOURCE = "_source"
MANIFEST_COLUMN = "source"
PARQUET_OPTIONS = "format = 'PARQUET', compression = 'ZSTD'"

Kind = Literal["string", "double", "timestamp"]
_GLUE_TYPES: dict[Kind, str] = {"string": "string", "double": "double", "timestamp": "timestamp"}
_DUCKDB_TYPES: dict[Kind, str] = {"string": "VARCHAR", "double": "DOUBLE", "timestamp": "TIMESTAMP"}


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: Kind
    #: The top-level field of the stored event it is read from ("" for the whole line).
    field: str
    comment: str

    @property
    def glue_type(self) -> str:
        return _GLUE_TYPES[self.kind]

    @property
    def duckdb_type(self) -> str:
        return _DUCKDB_TYPES[self.kind]


COLUMNS: tuple[Column, ...] = (
    Column("event_time", "timestamp", "_timestamp", "_timestamp as a UTC timestamp"),
    Column("_timestamp", "string", "_timestamp", "event's timestamp, else _receivedAt (RFC 3339)"),
    Column("_receivedat", "string", "_receivedAt", "receive time (RFC 3339 UTC, milliseconds)"),
    Column("_dataset", "string", "_dataset", "dataset the event was posted to"),
    Column("_service", "string", "_service", "event's service, else the x-service header"),
    Column("_namespace", "string", "_namespace", "event's namespace, else x-namespace"),
    Column("_requestid", "string", "_requestId", "id of the HTTP request that carried it"),
    Column("_id", "string", "_id", "unique per event, stable across retries"),
    Column("level", "string", "level", "the event's level"),
    Column("message", "string", "message", "the event's message"),
    Column("timestamp", "string", "timestamp", "the event's own timestamp, as sent"),
    Column("requestid", "string", "requestId", "the event's own requestId"),
    Column("traceid", "string", "traceId", "the event's traceId"),
    Column("spanid", "string", "spanId", "the event's spanId"),
    Column("duration", "double", "duration", "the event's duration when it is a number"),
    Column("error", "string", "error", "the event's error when it is a scalar"),
    Column("event", "string", "", "the whole stored event as JSON text"),
)
COLUMN_NAMES = tuple(column.name for column in COLUMNS)
#: What ``SELECT *`` on ``events`` gives, in both engines.
VIEW_COLUMNS = (*COLUMN_NAMES, SOURCE, *PARTITIONS)


def quote(name: str) -> str:
    """A double-quoted identifier (Athena needs it for _names and keywords; DuckDB accepts it)."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True, slots=True, order=True)
class Hour:
    """One dataset-hour: the unit of compaction."""

    dataset: str
    dt: str
    hour: str

    @property
    def raw_prefix(self) -> str:
        return f"dataset={self.dataset}/dt={self.dt}/hour={self.hour}/"

    @property
    def compacted_prefix(self) -> str:
        return COMPACTED_PREFIX + self.raw_prefix

    def slot_prefix(self, slot: str) -> str:
        return f"{self.compacted_prefix}slot={slot}/"

    @property
    def manifest_key(self) -> str:
        return MANIFEST_PREFIX + self.raw_prefix + MANIFEST_NAME

    def where(self, alias: str = "") -> str:
        at = f"{alias}." if alias else ""
        return (
            f"{at}dataset = {literal(self.dataset)} AND {at}dt = {literal(self.dt)} "
            f"AND {at}hour = {literal(self.hour)}"
        )

    def __str__(self) -> str:
        return f"{self.dataset} {self.dt} {self.hour}:00"


# ---------------------------------------------------------------- Glue (template.yaml)


def glue_columns(*, with_source: bool = False) -> list[dict[str, str]]:
    """The StorageDescriptor columns of the compacted table (template.yaml is checked
    against this by tests/unit/test_athena_table.py)."""
    columns = [{"Name": c.name, "Type": c.glue_type, "Comment": c.comment} for c in COLUMNS]
    if with_source:
        columns.append({"Name": SOURCE, "Type": "string", "Comment": "raw object of the row"})
    return columns


# ---------------------------------------------------------------- Athena


def _athena_expression(column: Column, line: str) -> str:
    if not column.field:
        return line
    path = literal(f"$.{column.field}")
    text = f"json_extract_scalar({line}, {path})"
    if column.kind == "double":
        return f"try_cast({text} AS double)"
    if column.kind == "timestamp":
        return f"try(CAST(from_iso8601_timestamp({text}) AS timestamp(3)))"
    return text


def athena_raw_select(line: str = "line") -> str:
    """The columns of ``events`` computed from a stored line (``events_raw.line``)."""
    return ", ".join(f"{_athena_expression(c, line)} AS {quote(c.name)}" for c in COLUMNS)


def athena_unload(hour: Hour, slot: str, database: str, bucket: str) -> str:
    """Rewrite one hour, as ``events`` shows it, into an (emptied) slot as Parquet."""
    columns = ", ".join(quote(name) for name in (*COLUMN_NAMES, SOURCE))
    return (
        f"UNLOAD (SELECT {columns} FROM {quote(database)}.{quote(TABLE)} "
        f"WHERE {hour.where()}) "
        f"TO {literal(f's3://{bucket}/{hour.slot_prefix(slot)}')} WITH ({PARQUET_OPTIONS})"
    )


def athena_sources(hour: Hour, slot: str, database: str) -> str:
    """The raw objects whose rows a slot holds: what the manifest will list."""
    return (
        f"SELECT DISTINCT {quote(SOURCE)} FROM {quote(database)}.{quote(COMPACTED_TABLE)} "
        f"WHERE {hour.where()} AND slot = {literal(slot)}"
    )


def _union(compacted: str, raw_columns: str, raw: str, raw_path: str, manifest: str) -> str:
    """The live slot's rows whose source is in the manifest, plus every raw object the
    manifest does not name.

    Joins on the partitions as well as the source, so a query's ``dataset = '...'`` reaches
    the manifest table too (Athena's injected projection needs it on every table read).
    """
    names = ", ".join(f"c.{quote(n)}" for n in (*COLUMN_NAMES, SOURCE, *PARTITIONS))
    on = " AND ".join(f"m.{p} = {{side}}.{p}" for p in PARTITIONS)
    manifest_rows = (
        f"SELECT DISTINCT {', '.join(PARTITIONS)}, slot, {MANIFEST_COLUMN} FROM {manifest}"
    )
    return (
        f"SELECT {names} FROM {compacted} c "
        f"JOIN ({manifest_rows}) m ON {on.format(side='c')} AND m.slot = c.slot "
        f"AND m.{MANIFEST_COLUMN} = c.{quote(SOURCE)}"
        " UNION ALL "
        f"SELECT {raw_columns}, {raw_path} AS {SOURCE}, r.dataset, r.dt, r.hour FROM {raw} r "
        f"LEFT JOIN ({manifest_rows}) m ON {on.format(side='r')} "
        f"AND m.{MANIFEST_COLUMN} = {raw_path} WHERE m.{MANIFEST_COLUMN} IS NULL"
    )


def athena_view(database: str) -> str:
    """``CREATE OR REPLACE VIEW events``: at deployment and before every compaction run."""
    body = _union(
        compacted=f"{quote(database)}.{quote(COMPACTED_TABLE)}",
        raw_columns=athena_raw_select("r.line"),
        raw=f"{quote(database)}.{quote(RAW_TABLE)}",
        raw_path='r."$path"',
        manifest=f"{quote(database)}.{quote(MANIFEST_TABLE)}",
    )
    return f"CREATE OR REPLACE VIEW {quote(database)}.{quote(TABLE)} AS {body}"


# ---------------------------------------------------------------- DuckDB


def _duckdb_expression(column: Column, json: str) -> str:
    if not column.field:
        return f"CAST({json} AS VARCHAR)"
    path = literal(f"$.{column.field}")
    # json_extract_string gives an object's text; Athena's json_extract_scalar gives NULL.
    text = (
        f"CASE WHEN json_type({json}, {path}) IN ('OBJECT', 'ARRAY', 'NULL') THEN NULL "
        f"ELSE json_extract_string({json}, {path}) END"
    )
    if column.kind == "double":
        return f"TRY_CAST({text} AS DOUBLE)"
    if column.kind == "timestamp":
        # _timestamp is always RFC 3339 UTC ending in Z (timestamps.py normalises it).
        return f"TRY_CAST(rtrim({text}, 'Z') AS TIMESTAMP)"
    return text


def duckdb_raw_select(json: str = "json") -> str:
    return ", ".join(f"{_duckdb_expression(c, json)} AS {quote(c.name)}" for c in COLUMNS)


def duckdb_empty_compacted() -> str:
    """A typed relation of no rows shaped like the compacted Parquet, for a bucket with none."""
    columns = [f"CAST(NULL AS {c.duckdb_type}) AS {quote(c.name)}" for c in COLUMNS]
    columns += [f"CAST(NULL AS VARCHAR) AS {n}" for n in (SOURCE, *PARTITIONS, "slot")]
    return f"SELECT {', '.join(columns)} WHERE false"


def duckdb_view(compacted: str, raw: str, manifest: str) -> str:
    """``CREATE VIEW events`` over three relations with the shapes the compactor writes:
    ``compacted`` (columns, _source, partitions, slot), ``raw`` (json, path, partitions)
    and ``manifest`` (source, slot, partitions)."""
    body = _union(
        compacted=compacted,
        raw_columns=duckdb_raw_select("r.json"),
        raw=raw,
        raw_path="r.path",
        manifest=manifest,
    )
    return f"CREATE OR REPLACE VIEW {TABLE} AS {body}"
