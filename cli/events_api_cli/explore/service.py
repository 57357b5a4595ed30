"""Answers to the console's views, as JSON-ready dicts: an explore (results, chart series,
events), a trace (its spans nested by parent) and the fields seen in datasets.

Each answer lists the statements it ran, with their SQL, time and, on Athena, the bytes
scanned and their cost. ``encode`` writes an answer as JSON whatever the events hold.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson

from . import sql
from .engines import Answer, Engine, Progress, Session
from .model import FIELD_RULE, Query, QueryError

TRACE_ID_RULE = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
TRACE_DEFAULT_SINCE = "24h"
FIELDS_SINCE = timedelta(hours=24)
MAX_FIELDS = 200
#: What an explore answers; live tail asks for the events alone.
PARTS = ("results", "series", "events")


def plain(value: Any) -> Any:
    """A value of a result row as JSON has it (times as RFC 3339 UTC)."""
    if isinstance(value, datetime):
        text = value.isoformat(timespec="milliseconds")
        return text + "Z" if value.tzinfo is None else text.replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _epoch_ms(value: Any) -> float | None:
    if not isinstance(value, datetime):
        return None
    moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    return moment.timestamp() * 1000


class Recorder:
    """A session that notes every statement it runs (for the page's "SQL it ran")."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.statements: list[dict[str, Any]] = []

    def run(self, name: str, statement: str) -> Answer:
        answer = self.session.run(statement)
        self.statements.append(
            {
                "name": name,
                "sql": statement,
                "seconds": round(answer.seconds, 4),
                "rows": len(answer.rows),
                "scannedBytes": answer.scanned_bytes,
                "costUsd": answer.cost_usd,
            }
        )
        return answer

    def summary(self) -> dict[str, Any]:
        scanned = [s["scannedBytes"] for s in self.statements if s["scannedBytes"] is not None]
        costs = [s["costUsd"] for s in self.statements if s["costUsd"] is not None]
        return {
            "statements": self.statements,
            "seconds": round(sum(s["seconds"] for s in self.statements), 4),
            "scannedBytes": sum(scanned) if scanned else None,
            "costUsd": sum(costs) if costs else None,
        }


def _dialect(engine: Engine) -> sql.Dialect:
    return sql.ATHENA if engine.dialect == "athena" else sql.DUCKDB


def explore(
    query: Query,
    engine: Engine,
    now: datetime | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    parts: tuple[str, ...] = PARTS,
) -> dict[str, Any]:
    """Results (a row per group), the first calculation over time (top groups) and the
    newest matching events; ``parts`` says which of the three."""
    datasets = query.datasets or tuple(engine.datasets())
    query = query.with_datasets(datasets)
    start, end = query.window(now or datetime.now(UTC))
    dialect = _dialect(engine)
    step = sql.step_seconds(start, end)
    answer: dict[str, Any] = {
        "engine": engine.name,
        "query": {
            "params": query.params(),
            "datasets": list(datasets),
            "from": plain(start),
            "to": plain(end),
            "calcs": [c.name for c in query.calcs],
            "by": query.by,
            "step": step,
        },
        **_empty(start, end, step),
    }
    if not datasets:
        return {**answer, "statements": [], "seconds": 0}
    with engine.session(datasets, on_progress) as session:
        recorder = Recorder(session)
        if "results" in parts or "series" in parts:
            results = recorder.run("results", sql.results_sql(query, start, end, dialect))
            answer["results"] = {
                "columns": results.names,
                "rows": [[plain(v) for v in row] for row in results.rows],
            }
        if "series" in parts:
            groups: tuple[str | None, ...] = ()
            if query.by:
                groups = tuple(row[0] for row in results.rows[: sql.TOP_GROUPS])
            series = recorder.run("series", sql.series_sql(query, start, end, dialect, groups))
            answer["series"] = _series(series, query, start, end, step, groups)
        if "events" in parts:
            latest = recorder.run("latest", sql.latest_sql(query, start, end, dialect)).rows
            if latest:
                ids = [(str(i), str(dt), str(hour)) for i, dt, hour in latest]
                events = recorder.run(
                    "events", sql.events_sql(query, start, end, dialect, latest=ids)
                )
                answer["events"] = [_event(row) for row in events.rows]
    return {**answer, **recorder.summary()}


def _empty(start: datetime, end: datetime, step: int) -> dict[str, Any]:
    return {
        "results": {"columns": [], "rows": []},
        "series": {"step": step, "times": _buckets(start, end, step), "series": []},
        "events": [],
    }


def _buckets(start: datetime, end: datetime, step: int) -> list[int]:
    first = int(start.timestamp()) // step * step
    return list(range(first, int(end.timestamp()), step)) or [first]


def _series(
    answer: Answer,
    query: Query,
    start: datetime,
    end: datetime,
    step: int,
    groups: tuple[str | None, ...],
) -> dict[str, Any]:
    """Every bucket of the range, a series per group; an empty bucket counts 0 (count and
    sum) or has no value (the other calculations)."""
    times = _buckets(start, end, step)
    index = {t: n for n, t in enumerate(times)}
    empty = 0 if query.calcs[0].fn in {"count", "count_distinct", "sum"} else None
    order = list(groups) if query.by else [None]
    values: dict[str | None, list[Any]] = {g: [empty] * len(times) for g in order}
    for row in answer.rows:
        t = int(row[0])
        group = row[1] if query.by else None
        if t in index and group in values:
            values[group][index[t]] = plain(row[-1])
    return {
        "step": step,
        "times": times,
        "series": [{"group": g, "values": values[g]} for g in order],
    }


def _event(row: tuple[Any, ...]) -> dict[str, Any]:
    time, dataset, service, level, message, trace_id, event_id, text = row
    return {
        "time": plain(time),
        "dataset": dataset,
        "service": service,
        "level": level,
        "message": message,
        "traceId": trace_id,
        "id": event_id,
        "event": text,
    }


# ---------------------------------------------------------------- traces


def trace(
    trace_id: str,
    query: Query,
    engine: Engine,
    now: datetime | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> dict[str, Any]:
    """The trace's spans in start order, depth-first: each after its parent, with its depth."""
    if not TRACE_ID_RULE.fullmatch(trace_id):
        raise QueryError("a trace id is letters, digits and _ . : - (at most 128)")
    datasets = query.datasets or tuple(engine.datasets())
    start, end = query.window(now or datetime.now(UTC))
    answer: dict[str, Any] = {"engine": engine.name, "traceId": trace_id, "spans": []}
    if not datasets:
        return {**answer, "statements": [], "seconds": 0}
    with engine.session(datasets, on_progress) as session:
        recorder = Recorder(session)
        rows = recorder.run(
            "spans", sql.trace_sql(trace_id, datasets, start, end, _dialect(engine))
        ).rows
    answer["spans"] = nest([_span(row) for row in rows])
    return {**answer, **recorder.summary()}


def _span(row: tuple[Any, ...]) -> dict[str, Any]:
    time, dataset, service, span_id, event_id, text = row
    try:
        event = orjson.loads(text)
    except orjson.JSONDecodeError:
        event = {}
    event = event if isinstance(event, dict) else {}
    duration = event.get("durationMs", event.get("duration"))
    parent = event.get("parentSpanId")
    return {
        "spanId": span_id,
        "parentSpanId": parent if isinstance(parent, str) and parent else None,
        "name": str(event.get("name") or event.get("message") or span_id),
        "service": service,
        "dataset": dataset,
        "start": _epoch_ms(time),
        "time": plain(time),
        "durationMs": duration if isinstance(duration, int | float) else None,
        "status": event.get("statusCode"),
        "statusMessage": event.get("statusMessage"),
        "kind": event.get("kind"),
        "id": event_id,
        "event": text,
    }


def nest(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Depth-first from the roots (spans whose parent is not in the trace), children in
    start order; ``depth`` is the nesting level. A cycle's spans are listed as roots."""
    known = {s["spanId"] for s in spans}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for span in spans:
        parent = span["parentSpanId"] if span["parentSpanId"] in known else None
        children.setdefault(parent, []).append(span)
    ordered: list[dict[str, Any]] = []
    placed: set[int] = set()

    def visit(span: dict[str, Any], depth: int) -> None:
        stack = [(span, depth)]
        while stack:
            item, level = stack.pop()
            if id(item) in placed:
                continue
            placed.add(id(item))
            ordered.append({**item, "depth": level})
            kids = sorted(children.get(item["spanId"], []), key=_start_key)
            stack.extend((kid, level + 1) for kid in reversed(kids))

    for root in sorted(children.get(None, []), key=_start_key):
        visit(root, 0)
    for span in sorted(spans, key=_start_key):  # what a cycle left out
        if id(span) not in placed:
            visit(span, 0)
    return ordered


def _start_key(span: dict[str, Any]) -> tuple[float, str]:
    return (span["start"] if span["start"] is not None else float("inf"), span["spanId"] or "")


# ---------------------------------------------------------------- fields


def fields(datasets: tuple[str, ...], engine: Engine, now: datetime | None = None) -> list[str]:
    """Fields seen in recent events of the datasets, most frequent first (nested objects
    as dotted paths, as filters and group by take them)."""
    datasets = datasets or tuple(engine.datasets())
    if not datasets:
        return []
    end = now or datetime.now(UTC)
    seen: Counter[str] = Counter()
    with engine.session(datasets) as session:
        rows = session.run(sql.sample_sql(datasets, end - FIELDS_SINCE, end)).rows
    for (text,) in rows:
        try:
            event = orjson.loads(text)
        except (orjson.JSONDecodeError, TypeError):
            continue
        if isinstance(event, dict):
            _keys(event, "", 0, seen)
    return [name for name, _count in seen.most_common(MAX_FIELDS)]


def _keys(event: dict[str, Any], prefix: str, depth: int, seen: Counter[str]) -> None:
    for key, value in event.items():
        name = prefix + key
        if not FIELD_RULE.fullmatch(name):
            continue
        if isinstance(value, dict) and depth < 2:
            _keys(value, name + ".", depth + 1, seen)
        else:
            seen[name] += 1


# ---------------------------------------------------------------- the SQL tab


def run_sql(statement: str, engine: Engine, datasets: tuple[str, ...] = ()) -> dict[str, Any]:
    """One read-only statement, as typed (checked first)."""
    with engine.session(datasets) as session:
        checked = session.check(statement)
        recorder = Recorder(session)
        answer = recorder.run("sql", checked)
    return {
        "engine": engine.name,
        "columns": answer.names,
        "rows": [[plain(v) for v in row] for row in answer.rows],
        **recorder.summary(),
    }


def encode(answer: Any) -> bytes:
    """JSON of an answer; text that orjson refuses (lone surrogates) is written escaped."""
    try:
        return orjson.dumps(answer, default=plain)
    except TypeError:
        return json.dumps(answer, default=plain, ensure_ascii=True).encode()
