"""The query model: parsed from URL parameters, compiled to SQL for DuckDB and Athena, and
what the compiled SQL selects when DuckDB runs it over a few stored lines (in memory)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import orjson
import pytest

from events_api.analytics.table import duckdb_raw_select, literal
from events_api_cli.explore import service, sql
from events_api_cli.explore.engines import check_read_only
from events_api_cli.explore.model import Calc, Filter, Query, QueryError

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 28, 3, 40, tzinfo=UTC)


def q(**params: str | list[str]) -> Query:
    return Query.from_params({k: v if isinstance(v, list) else [v] for k, v in params.items()})


# ---------------------------------------------------------------- the model


def test_every_contract_parameter_is_read_and_written_back_the_same() -> None:
    params = [
        ("dataset", "logs"),
        ("dataset", "otel"),
        ("from", "2026-11-28T03:00:00Z"),
        ("to", "2026-11-28T04:00:00Z"),
        ("search", "timed out"),
        ("where", "level = error"),
        ("where", "duration >= 120"),
        ("where", "http.route ~ /checkout"),
        ("where", "traceId exists"),
        ("calc", "count"),
        ("calc", "p95(duration)"),
        ("by", "service"),
        ("limit", "50"),
    ]
    query = Query.from_params({k: [v for n, v in params if n == k] for k, _ in params})
    assert query.datasets == ("logs", "otel")
    assert query.filters[1] == Filter("duration", ">=", "120")
    assert query.filters[3] == Filter("traceId", "exists")
    assert query.calcs == (Calc("count"), Calc("p95", "duration"))
    assert query.window(NOW) == (
        datetime(2026, 11, 28, 3, tzinfo=UTC),
        datetime(2026, 11, 28, 4, tzinfo=UTC),
    )
    assert query.params() == params


def test_defaults_are_the_last_hour_counted_and_left_out_of_the_url() -> None:
    query = q()
    assert (query.since, query.calcs, query.limit, query.by) == ("1h", (Calc("count"),), 100, "")
    assert query.window(NOW) == (NOW - timedelta(hours=1), NOW)
    assert query.params() == []
    assert q(since="7d").window(NOW)[0] == NOW - timedelta(days=7)


def test_calculations_may_be_given_as_one_comma_separated_value() -> None:
    assert q(calc="count, p95(duration),count_distinct(requestId)").calcs == (
        Calc("count"),
        Calc("p95", "duration"),
        Calc("count_distinct", "requestId"),
    )


def test_filter_values_may_be_quoted_and_hold_operators() -> None:
    assert Filter.parse("message = 'a = b'") == Filter("message", "=", "a = b")
    assert Filter.parse('message ~ "x"') == Filter("message", "~", "x")
    assert Filter.parse("a.b.c!=1") == Filter("a.b.c", "!=", "1")
    assert Filter.parse("level =") == Filter("level", "=", "")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"since": "1 hour"}, "since '1 hour': a number and a unit"),
        ({"since": "1h", "from": "2026-11-28T03:00:00Z"}, "give since, or from and to"),
        ({"to": "2026-11-28T03:00:00Z"}, "to needs from"),
        ({"from": "yesterday"}, "from 'yesterday': an RFC 3339 time"),
        ({"from": "2026-11-28T04:00:00Z", "to": "2026-11-28T03:00:00Z"}, "to must be after"),
        ({"since": "999d"}, "longer than 400 days"),
        ({"where": "level"}, "write FIELD OP VALUE"),
        ({"where": "level >"}, "> needs a value"),
        ({"where": "a'b = 1"}, 'field "a\'b": letters, digits'),
        ({"where": 'a"b = 1'}, "letters, digits"),
        ({"calc": "median(duration)"}, "calculation 'median(duration)': one of count"),
        ({"calc": "count(duration)"}, "count takes no field"),
        ({"calc": "p95"}, "p95 needs a field"),
        ({"by": "a b"}, "field 'a b'"),
        ({"dataset": "Logs"}, "dataset 'Logs': lower-case"),
        ({"limit": "0"}, "limit: from 1 to 1000"),
        ({"limit": "ten"}, "limit 'ten': a whole number"),
        ({"search": "a\x00b"}, "NUL characters are not allowed"),
        ({"by": ["a", "b"]}, "by is given 2 times"),
    ],
)
def test_a_bad_query_says_what_to_fix(params: dict[str, Any], message: str) -> None:
    with pytest.raises(QueryError) as raised:
        q(**params)
    assert message in str(raised.value)


# ---------------------------------------------------------------- SQL text


def test_the_time_range_selects_its_receive_hours_as_partitions() -> None:
    same_day = sql.partitions(datetime(2026, 11, 28, 3, 10, tzinfo=UTC), NOW)
    assert same_day == "dt = '2026-11-28' AND hour = '03'"
    assert sql.partitions(NOW - timedelta(hours=2), NOW - timedelta(minutes=20)) == (
        "dt = '2026-11-28' AND hour BETWEEN '01' AND '03'"
    )
    # Late arrivals: the hour after the range's end when the end is near it.
    assert sql.partitions(NOW, NOW.replace(minute=50)) == (
        "dt = '2026-11-28' AND hour BETWEEN '03' AND '04'"
    )
    assert sql.partitions(datetime(2026, 11, 26, 22, tzinfo=UTC), NOW) == (
        "dt BETWEEN '2026-11-26' AND '2026-11-28' AND (dt > '2026-11-26' OR hour >= '22') "
        "AND (dt < '2026-11-28' OR hour <= '03')"
    )
    assert sql.partitions(datetime(2026, 11, 26, tzinfo=UTC), NOW.replace(hour=23, minute=50)) == (
        "dt BETWEEN '2026-11-26' AND '2026-11-29' AND (dt < '2026-11-29' OR hour <= '00')"
    )


def test_fields_are_columns_when_the_table_has_them_else_json_paths() -> None:
    assert sql.resolve("level", sql.ATHENA).sql == '"level"'
    assert sql.resolve("service", sql.ATHENA).sql == '"_service"'
    assert sql.resolve("traceId", sql.DUCKDB).sql == '"traceid"'
    assert sql.resolve("duration", sql.DUCKDB).kind == "double"
    assert sql.resolve("dataset", sql.DUCKDB).sql == "dataset"
    assert sql.resolve("userId", sql.ATHENA).sql == "json_extract_scalar(event, '$[\"userId\"]')"
    assert sql.resolve("http.route", sql.ATHENA).sql == (
        "coalesce(json_extract_scalar(event, '$[\"http.route\"]'), "
        'json_extract_scalar(event, \'$["http"]["route"]\'))'
    )
    assert '\'$."http"."route"\'' in sql.resolve("http.route", sql.DUCKDB).sql


def test_values_are_literals_whatever_they_hold() -> None:
    hostile = "x' OR 1=1 --"
    text = sql.condition(Filter("message", "=", hostile), sql.ATHENA)
    assert text == f'"message" = {literal(hostile)}'
    assert "'x'' OR 1=1 --'" in text
    assert sql.search_condition('it\'s "quoted"') == (
        "strpos(lower(event), lower('it''s \\\"quoted\\\"')) > 0"
    )


def test_athena_and_duckdb_differ_only_in_their_dialects() -> None:
    query = q(dataset="logs", by="service", calc="p95(duration)", where="level = error")
    athena = sql.results_sql(query, NOW - timedelta(hours=1), NOW, sql.ATHENA)
    duck = sql.results_sql(query, NOW - timedelta(hours=1), NOW, sql.DUCKDB)
    assert 'approx_percentile("duration", 0.95)' in athena
    assert 'quantile_cont("duration", 0.95)' in duck
    assert athena.replace("approx_percentile", "quantile_cont") == duck
    assert "WHERE dataset = 'logs' AND dt = '2026-11-28' AND hour BETWEEN '02' AND '03'" in duck
    # No dataset picked: the service names every dataset there is; none is an error.
    with pytest.raises(QueryError, match="no dataset to query"):
        sql.where(query.with_datasets(()), NOW, NOW, sql.ATHENA)


def test_chart_steps_keep_the_buckets_few() -> None:
    assert sql.step_seconds(NOW - timedelta(minutes=15), NOW) == 10
    assert sql.step_seconds(NOW - timedelta(hours=1), NOW) == 30
    assert sql.step_seconds(NOW - timedelta(hours=24), NOW) == 1800
    assert sql.step_seconds(NOW - timedelta(days=7), NOW) == 3 * 3600


@pytest.mark.parametrize(
    "statement",
    [
        "select 1",
        "  -- a comment\nWITH a AS (SELECT 1) SELECT * FROM a;",
        "/* hi */ SELECT level FROM events",
    ],
)
def test_select_and_with_statements_pass_the_read_only_check(statement: str) -> None:
    assert check_read_only(statement) == statement.strip().rstrip(";")


@pytest.mark.parametrize(
    "statement",
    [
        "COPY (SELECT 1) TO '/tmp/x'",
        "INSERT INTO events VALUES (1)",
        "CREATE TABLE t AS SELECT 1",
        "UNLOAD (SELECT 1) TO 's3://b/'",
        "ATTACH 'x.db'",
        "-- SELECT\nDROP TABLE events",
        "",
    ],
)
def test_other_statements_are_refused(statement: str) -> None:
    with pytest.raises(QueryError, match="only one SELECT or WITH statement"):
        check_read_only(statement)


# ---------------------------------------------------------------- what the SQL selects (DuckDB)

EVENTS: list[dict[str, Any]] = [
    {
        "message": "GET /checkout took 120ms",
        "level": "error",
        "service": "checkout",
        "duration": 120,
        "http.route": "/checkout",
        "user": {"id": "u1"},
        "status": 500,
    },
    {
        "message": 'it\'s "quoted"',
        "level": "info",
        "service": "checkout",
        "duration": 5,
        "user": {"id": "u2"},
        "status": "200",
        "traceId": None,
    },
    {
        "message": "x' OR 1=1 --",
        "level": "warn",
        "service": "search",
        "duration": "12ms",
        "http": {"route": "/search"},
        "status": 200,
        "traceId": "t1",
    },
    {"message": "no service", "duration": 40.5},
]


@pytest.fixture
def events_table() -> Iterator[duckdb.DuckDBPyConnection]:
    """``events`` as the local engine shows stored lines, all received in NOW's hour."""
    connection = duckdb.connect()
    lines = []
    for n, event in enumerate(EVENTS):
        stored = {
            **event,
            "_dataset": "logs",
            "_id": f"id-{n}",
            "_timestamp": f"2026-11-28T03:{10 + n:02d}:00.000Z",
        }
        if "service" in event:
            stored["_service"] = event["service"]
        lines.append(orjson.dumps(stored).decode())
    values = ", ".join(f"({literal(line)}::JSON)" for line in lines)
    connection.execute(
        f"CREATE VIEW events AS SELECT {duckdb_raw_select('j')}, 'logs' AS dataset, "
        f"'2026-11-28' AS dt, '03' AS hour FROM (VALUES {values}) v(j)"
    )
    yield connection
    connection.close()


def matches(connection: duckdb.DuckDBPyConnection, **params: str | list[str]) -> list[str]:
    query = q(
        dataset="logs", **{"from": "2026-11-28T03:00:00Z", "to": "2026-11-28T04:00:00Z"}, **params
    )
    start, end = query.window(NOW)
    rows = connection.execute(sql.events_sql(query, start, end, sql.DUCKDB)).fetchall()
    return sorted(row[4] for row in rows)


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("level = error", [0]),
        ("level != error", [1, 2, 3]),  # an event without the field is not equal
        ("status = 200", [1, 2]),  # a number matches as text or as a number
        ("status >= 300", [0]),
        ("duration > 10", [0, 3]),  # "12ms" is not a number
        ("duration <= 5", [1]),
        ("http.route = /checkout", [0]),  # OTLP's flat key
        ("http.route ~ SEARCH", [2]),  # the nested path; contains, any case
        ("user.id = u2", [1]),
        ("traceId exists", [2]),  # null does not exist
        ("service = checkout", [0, 1]),
        ("message = x' OR 1=1 --", [2]),
        ("dataset = logs", [0, 1, 2, 3]),
    ],
)
def test_filters_select_what_they_say(
    events_table: duckdb.DuckDBPyConnection, where: str, expected: list[int]
) -> None:
    assert matches(events_table, where=where) == sorted(EVENTS[n]["message"] for n in expected)


def test_the_newest_ids_then_their_hours_give_the_same_events(
    events_table: duckdb.DuckDBPyConnection,
) -> None:
    query = q(dataset="logs", limit="3", since="400d")
    start, end = query.window(NOW)
    whole = events_table.execute(sql.events_sql(query, start, end, sql.DUCKDB)).fetchall()
    latest = events_table.execute(sql.latest_sql(query, start, end, sql.DUCKDB)).fetchall()
    assert latest == [
        ("id-3", "2026-11-28", "03"),
        ("id-2", "2026-11-28", "03"),
        ("id-1", "2026-11-28", "03"),
    ]
    narrowed = sql.events_sql(query, start, end, sql.DUCKDB, latest=latest)
    assert (
        """ AND ((dt = '2026-11-28' AND hour IN ('03'))) AND "_id" IN ('id-3', 'id-2', 'id-1')"""
        in narrowed
    )
    assert events_table.execute(narrowed).fetchall() == whole


def test_search_finds_text_anywhere_in_any_case_as_json_writes_it(
    events_table: duckdb.DuckDBPyConnection,
) -> None:
    assert matches(events_table, search="CHECKOUT") == sorted(EVENTS[n]["message"] for n in (0, 1))
    assert matches(events_table, search='"quoted"') == [EVENTS[1]["message"]]
    assert matches(events_table, search="u1") == [EVENTS[0]["message"]]


def test_calculations_grouped_by_a_field(events_table: duckdb.DuckDBPyConnection) -> None:
    query = q(
        dataset="logs",
        by="service",
        calc="count, max(duration), count_distinct(level)",
        **{"from": "2026-11-28T03:00:00Z", "to": "2026-11-28T04:00:00Z"},
    )
    start, end = query.window(NOW)
    rows = events_table.execute(sql.results_sql(query, start, end, sql.DUCKDB)).fetchall()
    assert rows == [("checkout", 2, 120.0, 2), ("search", 1, None, 1), (None, 1, 40.5, 0)]


def test_series_buckets_the_first_calculation_per_group(
    events_table: duckdb.DuckDBPyConnection,
) -> None:
    query = q(
        dataset="logs",
        by="service",
        **{"from": "2026-11-28T03:00:00Z", "to": "2026-11-28T04:00:00Z"},
    )
    start, end = query.window(NOW)
    rows = events_table.execute(
        sql.series_sql(query, start, end, sql.DUCKDB, ("checkout", None))
    ).fetchall()
    base = int(datetime(2026, 11, 28, 3, 10, tzinfo=UTC).timestamp())
    assert sorted(rows, key=lambda r: r[0]) == [
        (base, "checkout", 1),
        (base + 60, "checkout", 1),
        (base + 180, None, 1),
    ]


# ---------------------------------------------------------------- answers


def span(span_id: str, parent: str | None, start: float) -> dict[str, Any]:
    return {"spanId": span_id, "parentSpanId": parent, "start": start}


def test_spans_nest_depth_first_children_in_start_order() -> None:
    spans = [
        span("c", "a", 5),
        span("a", None, 0),
        span("b", "a", 2),
        span("d", "b", 3),
        span("orphan", "gone", 1),
        span("x", "y", 7),
        span("y", "x", 8),
    ]
    nested = service.nest(spans)
    assert [(s["spanId"], s["depth"]) for s in nested] == [
        ("a", 0),
        ("b", 1),
        ("d", 2),
        ("c", 1),
        ("orphan", 0),
        ("x", 0),
        ("y", 1),
    ]


def test_answers_with_lone_surrogates_are_still_json() -> None:
    encoded = service.encode({"event": "bad \ud800 text"})
    assert encoded == b'{"event": "bad \\ud800 text"}'
