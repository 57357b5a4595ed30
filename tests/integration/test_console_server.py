"""The console's server in-process over moto's S3 (events stored by the consumer's own
path) and moto's Athena: every view a page and a JSON endpoint, the guard (Host header,
token, cookie), read-only SQL, and the same explore compiled for Athena."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import boto3
import pytest
from moto import mock_aws
from moto.athena.models import QueryResults, athena_backends
from moto.core import DEFAULT_ACCOUNT_ID

from events_api import aws, records
from events_api.analytics.athena import AthenaRunner, query_cost_usd
from events_api.settings import ConsumerSettings
from events_api.store.consumer import ConsumerService, SourceRecord
from events_api.store.object_writer import S3ObjectWriter
from events_api.timestamps import rfc3339
from events_api_cli.console.server import Console, allowed_hosts, serve
from events_api_cli.explore import service
from events_api_cli.explore.engines import AthenaEngine, LocalEngine
from events_api_cli.explore.model import Query
from events_api_cli.local.query_engine import BucketMirror

pytestmark = pytest.mark.integration

BUCKET = "events-console-test"


@pytest.fixture
def stored() -> Iterator[Any]:
    """A bucket with 6 events in ``logs`` and 1 in ``otel``, stored by the consumer."""
    with mock_aws():
        aws.reset()
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        consumer = ConsumerService(ConsumerSettings(BUCKET), S3ObjectWriter(BUCKET))
        now = rfc3339(datetime.now(UTC))
        for dataset, events in {
            "logs": [
                {"message": f"m{n}", "level": "error" if n % 2 else "info", "service": "api"}
                for n in range(6)
            ],
            "otel": [{"message": "span", "traceId": "t1", "spanId": "s1", "durationMs": 3}],
        }.items():
            meta = records.RequestMeta(dataset, f"req-{dataset}", now, "test")
            [blob] = records.encode(meta, [json.dumps(e).encode() for e in events], 1 << 20)
            assert consumer.store("sqs", [SourceRecord(dataset, dataset, blob)]) == set()
        yield s3
        aws.reset()


@pytest.fixture
def engine(stored: Any, tmp_path: Path) -> Iterator[LocalEngine]:
    local = LocalEngine(BucketMirror(stored, BUCKET, tmp_path))
    yield local
    local.close()


class Client:
    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.port, self.host = port, host

    def get(
        self, path: str, headers: dict[str, str] | None = None, method: str = "GET"
    ) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(
                method, path, headers={"Host": f"{self.host}:{self.port}", **(headers or {})}
            )
            answer = connection.getresponse()
            return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
        finally:
            connection.close()

    def json(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        status, _headers, body = self.get(path, headers)
        return status, json.loads(body)


def running(console: Console, host: str = "127.0.0.1") -> Iterator[Client]:
    server = serve(console, host, 0)
    port = server.server_address[1]
    console.hosts = allowed_hosts(host, port)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield Client(port)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def client(engine: LocalEngine) -> Iterator[Client]:
    yield from running(Console(engine, hosts=None))


def test_every_view_is_a_page_with_a_strict_content_policy(client: Client) -> None:
    for path in ("/", "/?dataset=logs&by=level", "/trace/abc", "/sql?q=select%201"):
        status, headers, body = client.get(path)
        assert status == 200, path
        assert headers["content-type"] == "text/html; charset=utf-8"
        assert "script-src 'self'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert b'<table id="events" aria-label="Events">' in body
    status, headers, body = client.get("/static/vendor/uplot/uPlot.iife.min.js")
    assert (status, headers["content-type"]) == (200, "text/javascript; charset=utf-8")
    for path in ("/static/../server.py", "/static/%2e%2e/server.py", "/nope", "/static/"):
        assert client.get(path)[0] == 404, path


def test_explore_answers_as_json_what_was_stored(client: Client) -> None:
    status, answer = client.json("/explore.json?dataset=logs&by=level&calc=count")
    assert status == 200
    assert answer["results"] == {"columns": ["level", "count"], "rows": [["error", 3], ["info", 3]]}
    assert sorted(e["message"] for e in answer["events"]) == [f"m{n}" for n in range(6)]
    assert [s["group"] for s in answer["series"]["series"]] == ["error", "info"]
    assert [sum(s["values"]) for s in answer["series"]["series"]] == [3, 3]
    assert [s["name"] for s in answer["statements"]] == ["results", "series", "latest", "events"]
    # The whole events are read from the hours of the newest ids only.
    assert """AND ((dt = '""" in answer["statements"][3]["sql"]
    assert '"_id" IN (' in answer["statements"][3]["sql"]
    assert all("dataset = 'logs' AND dt = " in s["sql"] for s in answer["statements"])
    # Without a dataset: every dataset there is.
    status, answer = client.json("/explore.json")
    assert (status, answer["query"]["datasets"], answer["results"]["rows"]) == (
        200,
        ["logs", "otel"],
        [[7]],
    )
    assert client.json("/datasets.json") == (200, {"datasets": ["logs", "otel"]})
    status, fields = client.json("/fields.json?dataset=logs")
    assert status == 200
    assert {"message", "level", "service", "_id"} <= set(fields["fields"])


def test_a_progress_stream_ends_with_the_answer(client: Client) -> None:
    status, headers, body = client.get(
        "/explore.json?dataset=logs", {"Accept": "application/x-ndjson"}
    )
    assert (status, headers["content-type"]) == (200, "application/x-ndjson")
    *_progress, last = [json.loads(line) for line in body.splitlines()]
    assert last["answer"]["results"]["rows"] == [[6]]


def test_bad_queries_are_400_with_the_reason(client: Client) -> None:
    assert client.json("/explore.json?where=level") == (
        400,
        {
            "error": "filter 'level': write FIELD OP VALUE with OP one of != >= <= = > < ~, "
            "or FIELD exists"
        },
    )
    status, _headers, body = client.get(
        "/explore.json?since=nope", {"Accept": "application/x-ndjson"}
    )
    assert status == 200
    assert json.loads(body)["status"] == 400
    assert client.json("/trace/%3Cscript%3E.json")[0] == 400


def test_the_sql_tab_runs_one_select_and_nothing_else(client: Client, tmp_path: Path) -> None:
    status, answer = client.json("/sql.json?q=" + quote("SELECT count(*) AS n FROM events"))
    assert (status, answer["columns"], answer["rows"]) == (200, ["n"], [[7]])
    target = tmp_path / "written.csv"
    for statement in (
        f"COPY (SELECT 1) TO '{target}'",
        "SELECT 1; SELECT 2",
        "WITH a AS (SELECT 1) INSERT INTO t SELECT * FROM a",
        "CREATE TABLE t AS SELECT 1",
        "ATTACH ':memory:' AS other",
        "SET enable_external_access = true",
    ):
        status, answer = client.json("/sql.json?q=" + quote(statement))
        assert status == 400, statement
        assert "only one SELECT or WITH statement" in answer["error"], statement
    status, answer = client.json("/sql.json?q=" + quote("SELECT * FROM read_text('/etc/passwd')"))
    assert status == 400
    assert "disabled by configuration" in answer["error"]
    assert not target.exists()


def test_only_get_and_head_are_answered(client: Client) -> None:
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        status, headers, _body = client.get("/explore.json", method=method)
        assert (status, headers["allow"]) == (405, "GET, HEAD")


def test_a_foreign_host_header_is_refused(engine: LocalEngine) -> None:
    for client in running(Console(engine, hosts=None)):
        client.host = "attacker.example"
        assert client.json("/datasets.json") == (403, {"error": "unexpected Host header"})
        client.host = "localhost"
        assert client.json("/datasets.json")[0] == 200


def test_with_a_token_every_request_must_carry_it(engine: LocalEngine) -> None:
    token = "s3cret-token"
    for client in running(Console(engine, hosts=None, token=token)):
        assert client.json("/datasets.json") == (
            401,
            {"error": "a token is required: use the URL printed"},
        )
        assert client.get("/?token=wrong")[0] == 401
        assert client.get("/static/console.js")[0] == 401
        status, headers, _body = client.get(f"/?dataset=logs&token={token}")
        assert status == 303
        assert headers["location"] == "/?dataset=logs"
        cookie = headers["set-cookie"]
        assert cookie == f"events_api_ui={token}; HttpOnly; SameSite=Strict; Path=/"
        assert client.get("/", {"Cookie": cookie.split(";")[0]})[0] == 200
        assert client.json("/datasets.json", {"Authorization": f"Bearer {token}"})[0] == 200
        assert client.get("/", {"Cookie": "events_api_ui=wrong"})[0] == 401


# ---------------------------------------------------------------- Athena


def test_explore_on_athena_runs_the_same_model_with_athenas_dialect(stored: Any) -> None:
    athena = boto3.client("athena")
    athena.create_work_group(
        Name="wg", Configuration={"ResultConfiguration": {"OutputLocation": "s3://results/"}}
    )
    backend = athena_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    for names, kinds, rows in (
        (["level", "count"], ["varchar", "bigint"], [["error", "3"]]),
        (["t", "g", "v"], ["double", "varchar", "bigint"], [["1795694400.0", "error", "3"]]),
        (["_id", "dt", "hour"], ["varchar", "varchar", "varchar"], []),
    ):
        backend.query_results_queue.append(
            QueryResults(
                rows=[{"Data": [{"VarCharValue": n} for n in names]}]
                + [{"Data": [{"VarCharValue": v} for v in row]} for row in rows],
                column_info=[{"Name": n, "Type": k} for n, k in zip(names, kinds, strict=True)],
            )
        )
    progress: list[Any] = []
    engine = AthenaEngine(
        AthenaRunner(athena, "wg", "db", sleep=lambda _s: None), stored, BUCKET, "prod"
    )
    answer = service.explore(
        Query.from_params({"dataset": ["logs"], "by": ["level"], "where": ["user.id = u1"]}),
        engine,
        on_progress=progress.append,
    )
    submitted = [e.query for e in backend.executions.values()]
    assert [s["sql"] for s in answer["statements"]] == submitted
    assert len(submitted) == 3
    assert all('json_extract_scalar(event, \'$["user"]["id"]\')' in s for s in submitted)
    assert all("dataset = 'logs' AND dt = " in s for s in submitted)
    assert "to_unixtime(event_time)" in submitted[1]
    assert answer["results"] == {"columns": ["level", "count"], "rows": [["error", 3]]}
    assert answer["events"] == []  # no newest ids: the events themselves are not read
    assert [s["name"] for s in answer["statements"]] == ["results", "series", "latest"]
    assert answer["scannedBytes"] == 0
    assert answer["costUsd"] == 3 * query_cost_usd(0)
    assert progress[-1].state == "succeeded"
    assert answer["engine"] == "Athena (prod, workgroup wg)"


def test_athena_datasets_are_the_buckets_dataset_prefixes(stored: Any) -> None:
    engine = AthenaEngine(AthenaRunner(boto3.client("athena"), "wg", "db"), stored, BUCKET, "p")
    assert engine.datasets() == ["logs", "otel"]
