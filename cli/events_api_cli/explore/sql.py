"""The query model compiled to SQL over the ``events`` table, for DuckDB or Athena.

Fields are the table's columns when one holds them (events_api.analytics.table: ``level``,
``_service``, ``duration``, ...; ``service`` and ``namespace`` name ``_service`` and
``_namespace``), else read from the stored JSON in ``event``: ``a.b.c`` is the top-level
key ``a.b.c`` when an event has one (OpenTelemetry's flattened attributes) and the nested
path ``a`` -> ``b`` -> ``c`` otherwise. Every value is written as an escaped literal
(``literal``) or a number Python formatted; field names are checked (model.FIELD_RULE)
and quoted segment by segment in JSON paths, so nothing a user types becomes SQL.

The time range is on ``event_time`` (the event's own time); it also selects the
partitions (``dt``, ``hour``: receive time) from the range's first hour to the hour
``LATE_ARRIVAL`` after its end, so Athena reads only those hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from events_api.analytics.table import COLUMNS, TABLE, Column, Kind, literal, quote

from .model import EXISTS, Calc, Filter, Query, QueryError, number

#: Events received up to this long after the end of a range are still found in it.
LATE_ARRIVAL = timedelta(minutes=15)
#: Chart steps, seconds: the smallest that gives at most MAX_BUCKETS buckets is used.
STEPS = (1, 5, 10, 30, 60, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400)
MAX_BUCKETS = 120
#: Groups drawn as series on the chart (the Results table lists up to the query's limit).
TOP_GROUPS = 5
MAX_SPANS = 2000
FIELD_SAMPLE = 300
_ALIASES = {"service": "_service", "namespace": "_namespace"}
_BY_NAME = {c.name: c for c in COLUMNS if c.field}
_BY_FIELD = {c.field: c for c in COLUMNS if c.field and c.name not in {"event_time"}}
_PERCENTILES = {"p50": 0.5, "p90": 0.9, "p95": 0.95, "p99": 0.99}


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str

    @property
    def athena(self) -> bool:
        return self.name == "athena"

    def path(self, segments: tuple[str, ...]) -> str:
        """A JSON path with each segment quoted (field names hold no quote or backslash)."""
        if self.athena:
            return literal("$" + "".join(f'["{s}"]' for s in segments))
        return literal("$" + "".join(f'."{s}"' for s in segments))

    def scalar(self, path: str) -> str:
        """A field's scalar as text; NULL for a missing field, null, an object or an array."""
        if self.athena:
            return f"json_extract_scalar(event, {path})"
        return (
            f"CASE WHEN json_type(event, {path}) IN ('OBJECT', 'ARRAY', 'NULL') THEN NULL "
            f"ELSE json_extract_string(event, {path}) END"
        )

    def present(self, path: str) -> str:
        """The field is there with a value other than null."""
        if self.athena:
            return f"coalesce(json_format(json_extract(event, {path})), 'null') <> 'null'"
        return f"coalesce(json_type(event, {path}), 'NULL') <> 'NULL'"

    def epoch(self, expression: str) -> str:
        return f"to_unixtime({expression})" if self.athena else f"epoch({expression})"

    def percentile(self, expression: str, fraction: float) -> str:
        if self.athena:
            return f"approx_percentile({expression}, {fraction})"
        return f"quantile_cont({expression}, {fraction})"


DUCKDB = Dialect("duckdb")
ATHENA = Dialect("athena")


@dataclass(frozen=True, slots=True)
class Field:
    """A field as SQL: its value (typed as ``kind``) and the JSON paths that hold it."""

    sql: str
    kind: Kind
    paths: tuple[str, ...]


def resolve(name: str, dialect: Dialect) -> Field:
    name = _ALIASES.get(name, name)
    if name == "dataset":
        return Field("dataset", "string", ())
    column: Column | None = _BY_NAME.get(name) or _BY_FIELD.get(name)
    if column is not None:
        return Field(quote(column.name), column.kind, (dialect.path((column.field,)),))
    flat = dialect.path((name,))
    if "." not in name:
        return Field(dialect.scalar(flat), "string", (flat,))
    nested = dialect.path(tuple(name.split(".")))
    return Field(
        f"coalesce({dialect.scalar(flat)}, {dialect.scalar(nested)})", "string", (flat, nested)
    )


def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def _timestamp(moment: datetime) -> str:
    text = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    return f"TIMESTAMP {literal(text)}"


def _as_double(f: Field) -> str:
    return f.sql if f.kind == "double" else f"try_cast({f.sql} AS double)"


def _as_text(f: Field) -> str:
    return f.sql if f.kind == "string" else f"CAST({f.sql} AS varchar)"


def condition(flt: Filter, dialect: Dialect) -> str:
    f = resolve(flt.field, dialect)
    if flt.op == EXISTS:
        if not f.paths:
            return "TRUE"
        return "(" + " OR ".join(dialect.present(p) for p in f.paths) + ")"
    if flt.op == "~":
        return f"strpos(lower({_as_text(f)}), lower({literal(flt.value)})) > 0"
    if f.kind == "timestamp":
        try:
            moment = datetime.fromisoformat(flt.value.replace("Z", "+00:00"))
        except ValueError:
            raise QueryError(f"{flt.field}: compare it with an RFC 3339 time") from None
        value = _timestamp(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
        equal = f"{f.sql} = {value}"
        compared = f"{f.sql} {flt.op} {value}"
    else:
        amount = number(flt.value)
        if f.kind == "double":
            if amount is None:
                raise QueryError(f"{flt.field} is a number: compare it with a number")
            equal = f"{f.sql} = {_number(amount)}"
            compared = f"{f.sql} {flt.op} {_number(amount)}"
        elif amount is None:
            equal = f"{f.sql} = {literal(flt.value)}"
            compared = f"{f.sql} {flt.op} {literal(flt.value)}"
        else:
            # A number matches as text or as a number ("200" and 200; 1.5 and 1.50).
            equal = f"({f.sql} = {literal(flt.value)} OR {_as_double(f)} = {_number(amount)})"
            compared = f"{_as_double(f)} {flt.op} {_number(amount)}"
    if flt.op == "=":
        return equal
    if flt.op == "!=":
        # Events without the field are not equal to the value, so they are kept.
        return f"({f.sql} IS NULL OR NOT {equal})"
    return compared


def search_condition(needle: str) -> str:
    """Case-insensitive text anywhere in the event's JSON text; the needle is matched as
    JSON writes it (a quote as \\", a backslash as \\\\)."""
    import json

    escaped = json.dumps(needle, ensure_ascii=False)[1:-1]
    return f"strpos(lower(event), lower({literal(escaped)})) > 0"


def calc_sql(calc: Calc, dialect: Dialect) -> str:
    if calc.fn == "count":
        return "count(*)"
    f = resolve(calc.field, dialect)
    if calc.fn == "count_distinct":
        return f"count(DISTINCT {_as_text(f)})"
    if calc.fn in _PERCENTILES:
        return dialect.percentile(_as_double(f), _PERCENTILES[calc.fn])
    return f"{calc.fn}({_as_double(f)})"


def hour_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def partitions(start: datetime, end: datetime) -> str:
    """``dt``/``hour`` predicates for the receive hours of [start, end + LATE_ARRIVAL]."""
    first, last = hour_of(start), hour_of(end + LATE_ARRIVAL)
    d0, h0, d1, h1 = (
        literal(first.strftime("%Y-%m-%d")),
        literal(first.strftime("%H")),
        literal(last.strftime("%Y-%m-%d")),
        literal(last.strftime("%H")),
    )
    if d0 == d1:
        hours = f"hour = {h0}" if h0 == h1 else f"hour BETWEEN {h0} AND {h1}"
        return f"dt = {d0} AND {hours}"
    parts = [f"dt BETWEEN {d0} AND {d1}"]
    if h0 != "'00'":
        parts.append(f"(dt > {d0} OR hour >= {h0})")
    if h1 != "'23'":
        parts.append(f"(dt < {d1} OR hour <= {h1})")
    return " AND ".join(parts)


def datasets_condition(datasets: tuple[str, ...]) -> str:
    if not datasets:
        raise QueryError("no dataset to query: pick one (none has events yet?)")
    if len(datasets) == 1:
        return f"dataset = {literal(datasets[0])}"
    return f"dataset IN ({', '.join(literal(d) for d in datasets)})"


def where(query: Query, start: datetime, end: datetime, dialect: Dialect) -> str:
    parts = [
        datasets_condition(query.datasets),
        partitions(start, end),
        f"event_time >= {_timestamp(start)} AND event_time < {_timestamp(end)}",
    ]
    if query.search:
        parts.append(search_condition(query.search))
    parts += [condition(f, dialect) for f in query.filters]
    return " AND ".join(parts)


def step_seconds(start: datetime, end: datetime) -> int:
    span = (end - start).total_seconds()
    return next((s for s in STEPS if span / s <= MAX_BUCKETS), STEPS[-1])


def results_sql(query: Query, start: datetime, end: datetime, dialect: Dialect) -> str:
    calcs = ", ".join(f"{calc_sql(c, dialect)} AS {quote(c.name)}" for c in query.calcs)
    condition_sql = where(query, start, end, dialect)
    if not query.by:
        return f"SELECT {calcs} FROM {TABLE} WHERE {condition_sql}"
    group = _as_text(resolve(query.by, dialect))
    return (
        f"SELECT {group} AS {quote(query.by)}, {calcs} FROM {TABLE} WHERE {condition_sql} "
        f"GROUP BY 1 ORDER BY 2 DESC NULLS LAST, 1 LIMIT {query.limit}"
    )


def series_sql(
    query: Query,
    start: datetime,
    end: datetime,
    dialect: Dialect,
    groups: tuple[str | None, ...] = (),
) -> str:
    """The first calculation per time bucket (``t``, epoch seconds), per group of ``groups``."""
    step = step_seconds(start, end)
    bucket = f"floor({dialect.epoch('event_time')} / {step}) * {step}"
    value = calc_sql(query.calcs[0], dialect)
    condition_sql = where(query, start, end, dialect)
    if not query.by:
        return (
            f'SELECT {bucket} AS "t", {value} AS "v" FROM {TABLE} WHERE {condition_sql} '
            "GROUP BY 1 ORDER BY 1"
        )
    group = _as_text(resolve(query.by, dialect))
    named = [g for g in groups if g is not None]
    chosen = [f"{group} IN ({', '.join(literal(g) for g in named)})"] if named else []
    if None in groups:
        chosen.append(f"{group} IS NULL")
    only = f" AND ({' OR '.join(chosen)})" if chosen else " AND FALSE"
    return (
        f'SELECT {bucket} AS "t", {group} AS "g", {value} AS "v" FROM {TABLE} '
        f"WHERE {condition_sql}{only} GROUP BY 1, 2 ORDER BY 1"
    )


def latest_sql(query: Query, start: datetime, end: datetime, dialect: Dialect) -> str:
    """The newest matching events' ids and hours: the small columns only, so that the whole
    events are then read from those hours alone (``events_sql``)."""
    return (
        f'SELECT "_id", dt, hour FROM {TABLE} WHERE {where(query, start, end, dialect)} '
        f'ORDER BY event_time DESC, "_id" LIMIT {query.limit}'
    )


def events_sql(
    query: Query,
    start: datetime,
    end: datetime,
    dialect: Dialect,
    latest: list[tuple[str, str, str]] | None = None,
) -> str:
    """The newest matching events, whole; with ``latest`` (``latest_sql``'s rows) only
    those events are read, from their hours."""
    narrowed = ""
    if latest is not None:
        days: dict[str, set[str]] = {}
        for _id, dt, hour in latest:
            days.setdefault(dt, set()).add(hour)
        hours = " OR ".join(
            f"(dt = {literal(dt)} AND hour IN ({', '.join(literal(h) for h in sorted(hs))}))"
            for dt, hs in sorted(days.items())
        )
        ids = ", ".join(literal(row[0]) for row in latest)
        narrowed = f' AND ({hours}) AND "_id" IN ({ids})'
    return (
        f'SELECT event_time, dataset, "_service", level, message, traceid, "_id", event '
        f"FROM {TABLE} WHERE {where(query, start, end, dialect)}{narrowed} "
        f'ORDER BY event_time DESC, "_id" LIMIT {query.limit}'
    )


def trace_sql(
    trace_id: str, datasets: tuple[str, ...], start: datetime, end: datetime, dialect: Dialect
) -> str:
    """The spans of a trace: its events with a span id, in start order."""
    return (
        f'SELECT event_time, dataset, "_service", spanid, "_id", event FROM {TABLE} '
        f"WHERE {datasets_condition(datasets)} AND {partitions(start, end)} "
        f"AND traceid = {literal(trace_id)} AND spanid IS NOT NULL "
        f"ORDER BY event_time, spanid LIMIT {MAX_SPANS}"
    )


def sample_sql(datasets: tuple[str, ...], start: datetime, end: datetime) -> str:
    """Recent events whose keys the field suggestions list."""
    return (
        f"SELECT event FROM {TABLE} WHERE {datasets_condition(datasets)} "
        f"AND {partitions(start, end)} ORDER BY event_time DESC LIMIT {FIELD_SAMPLE}"
    )
