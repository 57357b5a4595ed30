"""Running a read-only statement on the local stack (DuckDB) or a deployed stack (Athena).

Read-only by construction: the console runs only what ``sql`` builds, or one statement
that ``check_read_only`` accepts (it starts with SELECT or WITH; DuckDB's own parser must
also call it a single SELECT). Locally the view lives in a small database file that is
opened read-only, with file access limited to the bucket's mirror and the configuration
locked, so a statement can neither write nor read files beyond the events.
"""

from __future__ import annotations

import re
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from events_api.analytics.table import COMPACTED_PREFIX, MANIFEST_PREFIX, literal

from .model import QueryError

if TYPE_CHECKING:
    import duckdb
    from mypy_boto3_s3 import S3Client

    from events_api.analytics.athena import AthenaRunner, Execution

    from ..local.query_engine import BucketMirror

_NUMBERS = {"tinyint", "smallint", "integer", "bigint"}
_FLOATS = {"double", "float", "real", "decimal"}
_COMMENTS = re.compile(r"(--[^\n]*(\n|$)|/\*.*?\*/|\s)+", re.DOTALL)
_DATASET = re.compile(r"(?:compacted/)?dataset=([a-z0-9][a-z0-9_-]{0,63})/")


class StatementError(Exception):
    """The engine refused or failed the statement (its own words)."""


@dataclass(frozen=True, slots=True)
class Progress:
    state: str
    seconds: float
    scanned_bytes: int


@dataclass(frozen=True, slots=True)
class Answer:
    names: list[str]
    rows: list[tuple[Any, ...]]
    seconds: float
    #: Athena only: what it scanned and what that costs; None on DuckDB.
    scanned_bytes: int | None = None
    cost_usd: float | None = None


class Session(Protocol):
    def check(self, sql: str) -> str: ...

    def run(self, sql: str) -> Answer: ...


class Engine(Protocol):
    name: str
    dialect: str

    def datasets(self) -> list[str]: ...

    def session(
        self, datasets: tuple[str, ...], on_progress: Callable[[Progress], None] | None = None
    ) -> AbstractContextManager[Session]: ...

    def close(self) -> None: ...


def check_read_only(sql: str) -> str:
    """The statement, if it is one SELECT or WITH statement; QueryError otherwise."""
    text = _COMMENTS.sub(" ", sql).strip().rstrip(";").strip()
    first = text.split(None, 1)[0].lower() if text else ""
    if first not in {"select", "with"}:
        raise QueryError("only one SELECT or WITH statement can run here (read-only)")
    return sql.strip().rstrip(";")


def convert(value: str | None, kind: str) -> Any:
    """Athena returns text; numbers and booleans become JSON numbers and booleans."""
    if value is None:
        return None
    try:
        if kind in _NUMBERS:
            return int(value)
        if kind in _FLOATS:
            return float(value)
    except ValueError:
        return value
    if kind == "boolean":
        return value == "true"
    return value


def list_datasets(s3: S3Client, bucket: str) -> list[str]:
    """The datasets with stored events: raw prefixes and compacted ones."""
    found: set[str] = set()
    for prefix in ("dataset=", COMPACTED_PREFIX + "dataset="):
        pages = s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix, Delimiter="/"
        )
        for page in pages:
            for common in page.get("CommonPrefixes", []):
                match = _DATASET.fullmatch(common.get("Prefix", ""))
                if match:
                    found.add(match.group(1))
    return sorted(found)


# ---------------------------------------------------------------- DuckDB (the local stack)


class LocalEngine:
    """DuckDB over a mirror of the local bucket, opened read-only per session."""

    name = "DuckDB (local stack)"
    dialect = "duckdb"

    def __init__(self, mirror: BucketMirror) -> None:
        self.mirror = mirror
        self._scratch = tempfile.TemporaryDirectory(prefix="events-api-ui-")

    def datasets(self) -> list[str]:
        return list_datasets(self.mirror.s3, self.mirror.bucket)

    @contextmanager
    def session(
        self, datasets: tuple[str, ...], on_progress: Callable[[Progress], None] | None = None
    ) -> Iterator[LocalSession]:
        scopes = [f"dataset={d}/" for d in datasets] or ["dataset="]
        self.mirror.sync(
            tuple(p + s for s in scopes for p in ("", COMPACTED_PREFIX, MANIFEST_PREFIX))
        )
        connection = self._open()
        try:
            yield LocalSession(connection)
        finally:
            connection.close()

    def _open(self) -> duckdb.DuckDBPyConnection:
        import duckdb

        from ..local.query_engine import view_sql

        path = Path(self._scratch.name) / f"{uuid.uuid4().hex}.duckdb"
        config: dict[str, str | bool | int | float | list[str]] = {
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
        }
        with duckdb.connect(str(path), config=config) as build:
            build.execute("CREATE MACRO json_extract_scalar(j, p) AS json_extract_string(j, p)")
            build.execute(view_sql(self.mirror))
        connection = duckdb.connect(str(path), read_only=True, config=config)
        path.unlink()  # the open connection keeps it; nothing is left behind
        connection.execute("SET TimeZone = 'UTC'")
        connection.execute(f"SET allowed_directories = [{literal(str(self.mirror.directory))}]")
        connection.execute("SET enable_external_access = false")
        connection.execute("SET lock_configuration = true")
        return connection

    def close(self) -> None:
        self._scratch.cleanup()


class LocalSession:
    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self.connection = connection

    def check(self, sql: str) -> str:
        """check_read_only, and DuckDB's parser must see exactly one SELECT."""
        import duckdb

        sql = check_read_only(sql)
        try:
            statements = self.connection.extract_statements(sql)
        except duckdb.Error as exc:
            raise StatementError(str(exc).strip()) from None
        if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
            raise QueryError("only one SELECT or WITH statement can run here (read-only)")
        return sql

    def run(self, sql: str) -> Answer:
        import duckdb

        started = time.perf_counter()
        try:
            relation = self.connection.execute(sql)
            names = [column[0] for column in relation.description or []]
            rows = relation.fetchall()
        except duckdb.Error as exc:
            raise StatementError(str(exc).strip()) from None
        return Answer(names, rows, time.perf_counter() - started)


# ---------------------------------------------------------------- Athena (a deployed stack)


class AthenaEngine:
    """Athena in the stack's workgroup; the stack's bucket lists the datasets."""

    dialect = "athena"

    def __init__(self, runner: AthenaRunner, s3: S3Client, bucket: str, stack: str) -> None:
        self.runner, self.s3, self.bucket = runner, s3, bucket
        self.name = f"Athena ({stack}, workgroup {runner.workgroup})"

    def datasets(self) -> list[str]:
        return list_datasets(self.s3, self.bucket)

    @contextmanager
    def session(
        self, datasets: tuple[str, ...], on_progress: Callable[[Progress], None] | None = None
    ) -> Iterator[AthenaSession]:
        yield AthenaSession(self.runner, on_progress)

    def close(self) -> None:
        """Nothing held."""


class AthenaSession:
    def __init__(
        self, runner: AthenaRunner, on_progress: Callable[[Progress], None] | None
    ) -> None:
        self.runner, self.on_progress = runner, on_progress
        self._lock = threading.Lock()

    def check(self, sql: str) -> str:
        return check_read_only(sql)

    def run(self, sql: str) -> Answer:
        from botocore.exceptions import BotoCoreError, ClientError

        from events_api.analytics.athena import QueryFailed, query_cost_usd

        started = time.perf_counter()

        def progress(execution: Execution) -> None:
            if self.on_progress is not None:
                with self._lock:
                    self.on_progress(
                        Progress(
                            execution.state.lower(),
                            time.perf_counter() - started,
                            execution.scanned_bytes,
                        )
                    )

        try:
            execution_id = self.runner.start(sql)
            execution = self.runner.wait(execution_id, progress)
            names: list[str] = []
            rows: list[tuple[Any, ...]] = []
            for columns, page in self.runner.pages(execution_id):
                names = names or [c["Name"] for c in columns]
                kinds = [str(c.get("Type", "varchar")) for c in columns]
                rows += [
                    tuple(convert(v, k) for v, k in zip(row, kinds, strict=False)) for row in page
                ]
        except QueryFailed as exc:
            raise StatementError(str(exc)) from None
        except ClientError as exc:
            raise StatementError(str(exc.response["Error"].get("Message", exc))) from None
        except BotoCoreError as exc:
            raise StatementError(str(exc)) from None
        return Answer(
            names,
            rows,
            time.perf_counter() - started,
            execution.scanned_bytes,
            query_cost_usd(execution.scanned_bytes),
        )
