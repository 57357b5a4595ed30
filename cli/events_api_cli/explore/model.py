"""The query model: what a Baselime user picks instead of writing SQL.

A query is read from the console's URL parameters (contract section 11) or from
``events-api query``'s options, which carry the same names: ``dataset`` (repeatable),
``since`` or ``from``/``to``, ``search``, ``where`` (repeatable), ``calc`` (repeatable),
``by`` and ``limit``. Anything malformed is a ``QueryError`` with a message for the user;
nothing here touches SQL (``sql`` compiles a valid query).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from events_api.ingest.http_api import DATASET_RULE

from ..client.reader import parse_when

#: Operators of a filter, longest first so that ``>=`` is not read as ``>``.
OPERATORS = ("!=", ">=", "<=", "=", ">", "<", "~")
EXISTS = "exists"
FUNCTIONS = ("count", "count_distinct", "sum", "avg", "min", "max", "p50", "p90", "p95", "p99")
#: Field names: what producers use (dots for nesting or for OTLP's flat keys, dashes,
#: colons, slashes); no quotes or backslashes, so a field always makes a clean JSON path.
FIELD_RULE = re.compile(r"[A-Za-z0-9_@$][A-Za-z0-9_@$.:/-]{0,199}")
SINCE_RULE = re.compile(r"[1-9][0-9]{0,5}[smhd]")
DEFAULT_SINCE = "1h"
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_RANGE = timedelta(days=400)
_FILTER = re.compile(
    r"\s*(?P<field>[^\s=!<>~]+)\s*(?:(?P<exists>exists)|(?P<op>!=|>=|<=|=|>|<|~)\s*(?P<value>.*?))\s*",
    re.DOTALL,
)
_CALC = re.compile(r"\s*(?P<fn>[a-z_0-9]+)\s*(?:\(\s*(?P<field>[^()\s]*)\s*\))?\s*")


class QueryError(ValueError):
    """A query the user must fix; the message says how."""


def check_field(name: str) -> str:
    if not FIELD_RULE.fullmatch(name):
        raise QueryError(
            f"field {name[:80]!r}: letters, digits and _ @ $ . : / - only (a.b.c for nesting)"
        )
    return name


def number(text: str) -> float | None:
    """The value as a finite number, if it is one."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


@dataclass(frozen=True, slots=True)
class Filter:
    field: str
    op: str
    value: str = ""

    @classmethod
    def parse(cls, text: str) -> Filter:
        match = _FILTER.fullmatch(text)
        if not match:
            raise QueryError(
                f"filter {text[:80]!r}: write FIELD OP VALUE with OP one of "
                f"{' '.join(OPERATORS)}, or FIELD exists"
            )
        name = check_field(match["field"])
        if match["exists"]:
            return cls(name, EXISTS)
        value = match["value"]
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        if match["op"] in {">", ">=", "<", "<="} and value == "":
            raise QueryError(f"filter {text[:80]!r}: {match['op']} needs a value")
        return cls(name, match["op"], value)

    def __str__(self) -> str:
        if self.op == EXISTS:
            return f"{self.field} exists"
        return f"{self.field} {self.op} {self.value}"


@dataclass(frozen=True, slots=True)
class Calc:
    fn: str
    field: str = ""

    @classmethod
    def parse(cls, text: str) -> Calc:
        match = _CALC.fullmatch(text)
        if not match or match["fn"] not in FUNCTIONS:
            raise QueryError(
                f"calculation {text[:80]!r}: one of count, count_distinct(F), sum(F), avg(F), "
                "min(F), max(F), p50(F), p90(F), p95(F), p99(F)"
            )
        fn, name = match["fn"], match["field"] or ""
        if fn == "count" and name:
            raise QueryError("count takes no field: count_distinct(F) counts distinct values")
        if fn != "count" and not name:
            raise QueryError(f"{fn} needs a field: {fn}(duration)")
        return cls(fn, check_field(name) if name else "")

    @property
    def name(self) -> str:
        return f"{self.fn}({self.field})" if self.field else self.fn

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class Query:
    datasets: tuple[str, ...] = ()
    since: str | None = DEFAULT_SINCE
    start: datetime | None = None
    end: datetime | None = None
    search: str = ""
    filters: tuple[Filter, ...] = ()
    calcs: tuple[Calc, ...] = field(default_factory=lambda: (Calc("count"),))
    by: str = ""
    limit: int = DEFAULT_LIMIT

    def window(self, now: datetime) -> tuple[datetime, datetime]:
        """The time range as [start, end) in UTC."""
        if self.start is not None:
            return self.start, self.end or now
        return parse_when(self.since or DEFAULT_SINCE, now), now

    def with_datasets(self, datasets: Sequence[str]) -> Query:
        return replace(self, datasets=tuple(datasets))

    def params(self) -> list[tuple[str, str]]:
        """The query as URL parameters, in the contract's names (defaults left out)."""
        out = [("dataset", name) for name in self.datasets]
        if self.start is not None:
            out.append(("from", _rfc3339(self.start)))
            if self.end is not None:
                out.append(("to", _rfc3339(self.end)))
        elif self.since and self.since != DEFAULT_SINCE:
            out.append(("since", self.since))
        if self.search:
            out.append(("search", self.search))
        out += [("where", str(f)) for f in self.filters]
        if self.calcs != (Calc("count"),):
            out += [("calc", c.name) for c in self.calcs]
        if self.by:
            out.append(("by", self.by))
        if self.limit != DEFAULT_LIMIT:
            out.append(("limit", str(self.limit)))
        return out

    @classmethod
    def from_params(cls, params: Mapping[str, Sequence[str]]) -> Query:
        """From URL parameters (each name to its values, as ``parse_qs`` gives them)."""

        for name, values in params.items():
            if any("\x00" in value for value in values):
                raise QueryError(f"{name[:40]}: NUL characters are not allowed")

        def one(name: str) -> str:
            values = [v for v in params.get(name, ()) if v.strip()]
            if len(values) > 1:
                raise QueryError(f"{name} is given {len(values)} times: give it once")
            return values[0].strip() if values else ""

        datasets = tuple(dict.fromkeys(v.strip() for v in params.get("dataset", ()) if v.strip()))
        for name in datasets:
            if not DATASET_RULE.fullmatch(name):
                raise QueryError(f"dataset {name[:80]!r}: lower-case letters, digits, _ and -")
        since, start, end = one("since"), _moment(one("from"), "from"), _moment(one("to"), "to")
        if since and start:
            raise QueryError("give since, or from and to, not both")
        if end and not start:
            raise QueryError("to needs from")
        if since and not SINCE_RULE.fullmatch(since):
            raise QueryError(f"since {since[:20]!r}: a number and a unit, as 15m, 1h, 24h or 7d")
        if start and end and end <= start:
            raise QueryError("to must be after from")
        calcs = tuple(
            Calc.parse(part)
            for text in params.get("calc", ())
            for part in _split_calcs(text)
            if part.strip()
        )
        by = one("by")
        limit_text = one("limit")
        try:
            limit = int(limit_text) if limit_text else DEFAULT_LIMIT
        except ValueError:
            raise QueryError(f"limit {limit_text[:20]!r}: a whole number") from None
        if not 1 <= limit <= MAX_LIMIT:
            raise QueryError(f"limit: from 1 to {MAX_LIMIT}")
        query = cls(
            datasets=datasets,
            since=None if start else (since or DEFAULT_SINCE),
            start=start,
            end=end,
            search=one("search"),
            filters=tuple(Filter.parse(v) for v in params.get("where", ()) if v.strip()),
            calcs=calcs or (Calc("count"),),
            by=check_field(by) if by else "",
            limit=limit,
        )
        begin, finish = query.window(datetime.now(UTC))
        if finish - begin > MAX_RANGE:
            raise QueryError(f"the time range is longer than {MAX_RANGE.days} days")
        return query


def _split_calcs(text: str) -> list[str]:
    """``count, p95(duration)`` -> two calculations (a field never holds a comma)."""
    return re.findall(r"[^,()]+(?:\([^()]*\))?", text)


def _moment(text: str, name: str) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise QueryError(
            f"{name} {text[:40]!r}: an RFC 3339 time, as 2026-11-28T03:00:00Z"
        ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def _rfc3339(moment: datetime) -> str:
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z").replace(".000Z", "Z")
