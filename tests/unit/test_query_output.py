"""Query results as users read them: a table, NDJSON or CSV, the same rows from either
engine (Athena's text values converted by their column types)."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime

import pytest

from events_api_cli.commands.query_output import MAX_CELL, write
from events_api_cli.explore.engines import convert

pytestmark = pytest.mark.unit

NAMES = ["event_time", "level", "n", "duration", "message"]
ROWS = [
    (datetime(2026, 11, 28, 3, 0, 0, 125000), "error", 3, 12.5, 'a,b "quoted"'),
    (None, None, 0, None, "x" * 200),
]


def written(fmt: str) -> str:
    out = io.BytesIO()
    assert write(out, fmt, NAMES, iter(ROWS)) == 2
    return out.getvalue().decode()


def test_ndjson_keeps_types_and_gives_times_in_rfc3339() -> None:
    lines = [json.loads(line) for line in written("ndjson").splitlines()]
    assert lines[0] == {
        "event_time": "2026-11-28T03:00:00.125Z",
        "level": "error",
        "n": 3,
        "duration": 12.5,
        "message": 'a,b "quoted"',
    }
    assert lines[1]["event_time"] is None
    assert lines[1]["message"] == "x" * 200


def test_csv_has_a_header_and_quotes_what_needs_it() -> None:
    rows = list(csv.reader(io.StringIO(written("csv"))))
    assert rows[0] == NAMES
    assert rows[1] == ["2026-11-28 03:00:00.125", "error", "3", "12.5", 'a,b "quoted"']
    assert rows[2] == ["", "", "0", "", "x" * 200]


def test_table_aligns_columns_and_cuts_long_cells() -> None:
    lines = written("table").splitlines()
    assert lines[0].split(" | ")[0].strip() == "event_time"
    assert set(lines[1]) <= {"-", "+"}
    assert len(lines) == 4
    assert ("x" * (MAX_CELL - 1) + "…") in lines[3]
    assert "x" * MAX_CELL not in lines[3]


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        ("42", "bigint", 42),
        ("12.5", "double", 12.5),
        ("true", "boolean", True),
        ("2026-11-28 03:00:00.000", "timestamp", "2026-11-28 03:00:00.000"),
        (None, "varchar", None),
        ("not a number", "bigint", "not a number"),
    ],
)
def test_athena_text_values_become_json_values_by_column_type(
    value: str | None, kind: str, expected: object
) -> None:
    assert convert(value, kind) == expected
