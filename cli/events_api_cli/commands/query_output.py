"""Query results as a table, NDJSON or CSV, written as rows arrive (Athena pages them)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, BinaryIO

import orjson

FORMATS = ("table", "ndjson", "csv")
#: Table cells longer than this are cut (the whole value is in --format ndjson or csv).
MAX_CELL = 80


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="milliseconds")
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        text = value.isoformat(timespec="milliseconds")
        return text + ("Z" if value.tzinfo is None else "")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return str(value)


def write(out: BinaryIO, fmt: str, names: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Write every row; the number of rows written."""
    count = 0
    if fmt == "ndjson":
        for row in rows:
            out.write(
                orjson.dumps(
                    dict(zip(names, row, strict=True)),
                    default=_json_default,
                    option=orjson.OPT_PASSTHROUGH_DATETIME,
                )
            )
            out.write(b"\n")
            count += 1
    elif fmt == "csv":
        text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
        writer = csv.writer(text)
        writer.writerow(names)
        for row in rows:
            writer.writerow([_text(value) for value in row])
            count += 1
        text.detach()
    else:
        cells = [[_text(value) for value in row] for row in rows]
        count = len(cells)
        out.write(table(names, cells).encode())
    out.flush()
    return count


def table(names: Sequence[str], cells: list[list[str]]) -> str:
    def cut(text: str) -> str:
        text = text.replace("\n", " ")
        return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"

    shown = [[cut(cell) for cell in row] for row in cells]
    widths = [len(name) for name in names]
    for row in shown:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]
    lines = [
        " | ".join(name.ljust(width) for name, width in zip(names, widths, strict=True)),
        "-+-".join("-" * width for width in widths),
    ]
    lines += [
        " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in shown
    ]
    return "\n".join(lines) + "\n"
