"""The compactor function against moto's Athena and S3: which statements it submits, in
what order, for which hours, and what it leaves in the bucket.

moto records every statement started (it does not run them), so these tests read the
statements back from moto's Athena backend in submission order and compare them with
events_api.table's builders. DuckDB proves the same steps on real data end to end
(tests/e2e/test_query.py).
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any, ClassVar

import boto3
import pytest
from moto import mock_aws
from moto.athena.models import athena_backends
from moto.core import DEFAULT_ACCOUNT_ID

from events_api import aws_clients, records
from events_api.consumer import ConsumerService, SourceRecord
from events_api.object_writer import S3ObjectWriter
from events_api.settings import ConsumerSettings
from events_api.table import Hour, athena_manifest_unload, athena_unload, athena_view
from tests.integration.conftest import BUCKET
from tests.support import FakeLambdaContext, load_function

pytestmark = pytest.mark.integration

WORKGROUP = "events-api-test"
DATABASE = "events_api_test"
REGION = "us-east-1"


class LongContext(FakeLambdaContext):
    def get_remaining_time_in_millis(self) -> int:
        return 900_000


@pytest.fixture
def compactor(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    monkeypatch.setenv("ATHENA_WORKGROUP", WORKGROUP)
    monkeypatch.setenv("ATHENA_DATABASE", DATABASE)
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        boto3.client("athena").create_work_group(
            Name=WORKGROUP,
            Configuration={"ResultConfiguration": {"OutputLocation": f"s3://{BUCKET}-results/"}},
        )
        module = load_function("compactor")
        yield module
        module.settings.cache_clear()


def submitted() -> list[str]:
    """Every statement started in the workgroup, in submission order."""
    backend = athena_backends[DEFAULT_ACCOUNT_ID][REGION]
    return [
        execution.query
        for execution in backend.executions.values()
        if execution.workgroup is not None and execution.workgroup.name == WORKGROUP
    ]


def store(dataset: str, received: datetime, events: list[bytes], name: str) -> None:
    """Through the consumer's own store path, with a receive time in the past."""
    at = received.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    [blob] = records.encode(records.RequestMeta(dataset, f"req-{name}", at), events, 1 << 20)
    service = ConsumerService(ConsumerSettings(BUCKET), S3ObjectWriter(BUCKET))
    assert service.store("sqs", [SourceRecord(name, name, blob)]) == set()


def hour_of(moment: datetime, dataset: str) -> Hour:
    return Hour(dataset, moment.strftime("%Y-%m-%d"), moment.strftime("%H"))


def keys(prefix: str) -> list[str]:
    answer = boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return [item["Key"] for item in answer.get("Contents", [])]


def invoke(module: ModuleType) -> dict[str, Any]:
    answer: dict[str, Any] = module.lambda_handler({}, LongContext())
    return answer


def test_view_first_then_unload_and_manifest_for_each_closed_hour_in_order(
    compactor: ModuleType,
) -> None:
    now = datetime.now(UTC)
    older, old = now - timedelta(hours=30), now - timedelta(hours=2)
    for n, moment in enumerate((older, old, older)):
        store("logs", moment, [b'{"message":"a"}', b'{"message":"b"}'], f"batch-{n}")
    store("logs", now, [b'{"message":"open hour"}'], "batch-now")
    store("web", old, [b'{"message":"c"}'], "batch-web")

    answer = invoke(compactor)

    hours = sorted([hour_of(older, "logs"), hour_of(old, "logs"), hour_of(old, "web")])
    expected = [athena_view(DATABASE)]
    for hour in hours:
        expected += [
            athena_unload(hour, DATABASE, BUCKET),
            athena_manifest_unload(hour, DATABASE, BUCKET),
        ]
    assert submitted() == expected
    assert answer["compacted"] == [
        {"hour": str(hour), "objects": 2 if hour == hour_of(older, "logs") else 1} for hour in hours
    ]
    assert answer["failed"] == []
    # Each compacted hour has its state, no lock is left, the open hour is untouched.
    state_keys = keys("compaction-state/")
    assert sorted(state_keys) == sorted(f"compaction-state/{h.raw_prefix}state.json" for h in hours)
    state = json.loads(
        boto3.client("s3")
        .get_object(Bucket=BUCKET, Key=f"compaction-state/{hours[0].raw_prefix}state.json")["Body"]
        .read()
    )
    assert state["objects"] == 1 + (hours[0] == hour_of(older, "logs"))


def test_a_second_run_rewrites_nothing_until_an_object_arrives_late(
    compactor: ModuleType,
) -> None:
    old = datetime.now(UTC) - timedelta(hours=3)
    hour = hour_of(old, "logs")
    store("logs", old, [b'{"n":1}'], "first")
    invoke(compactor)
    first = len(submitted())

    assert invoke(compactor)["compacted"] == []
    assert submitted()[first:] == [athena_view(DATABASE)]

    store("logs", old, [b'{"n":2}'], "late")
    answer = invoke(compactor)
    assert answer["compacted"] == [{"hour": str(hour), "objects": 2}]
    assert submitted()[first + 1 :] == [
        athena_view(DATABASE),
        athena_unload(hour, DATABASE, BUCKET),
        athena_manifest_unload(hour, DATABASE, BUCKET),
    ]


def test_before_rewriting_an_hour_its_manifest_and_parquet_are_deleted(
    compactor: ModuleType,
) -> None:
    old = datetime.now(UTC) - timedelta(hours=3)
    hour = hour_of(old, "logs")
    store("logs", old, [b'{"n":1}'], "first")
    s3 = boto3.client("s3")
    # What a previous run's UNLOADs left (moto's Athena writes nothing itself).
    s3.put_object(Bucket=BUCKET, Key=f"{hour.compacted_prefix}20261128_old_0", Body=b"x")
    s3.put_object(Bucket=BUCKET, Key=f"{hour.manifest_prefix}20261128_old_0", Body=b"x")

    invoke(compactor)

    assert keys(hour.compacted_prefix) == []
    assert keys(hour.manifest_prefix) == []


def test_a_failed_statement_fails_its_hour_only_and_is_counted(
    compactor: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC)
    bad, good = hour_of(now - timedelta(hours=5), "bad"), hour_of(now - timedelta(hours=5), "good")
    store("bad", now - timedelta(hours=5), [b'{"n":1}'], "bad")
    store("good", now - timedelta(hours=5), [b'{"n":1}'], "good")

    def fail_bad_unloads(parsed: dict[str, Any], **_: Any) -> None:
        backend = athena_backends[DEFAULT_ACCOUNT_ID][REGION]
        execution = backend.executions[parsed["QueryExecutionId"]]
        if "dataset = 'bad'" in execution.query:
            execution.status = "FAILED"

    aws_clients.athena().meta.events.register(
        "after-call.athena.StartQueryExecution", fail_bad_unloads
    )
    capsys.readouterr()
    answer = invoke(compactor)

    assert answer["failed"] == [{"hour": str(bad), "error": "the query ended FAILED"}]
    assert answer["compacted"] == [{"hour": str(good), "objects": 1}]
    # The failed hour has no manifest statement, no state and no lock: queries read it
    # from NDJSON and the next run tries again.
    assert athena_manifest_unload(bad, DATABASE, BUCKET) not in submitted()
    assert keys(f"compaction-state/{bad.raw_prefix}") == []
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line]
    (document,) = metrics
    assert document["CompactionFailures"] == [1.0]
    assert document["HoursCompacted"] == [1.0]
    assert document["ObjectsCompacted"] == [1.0]


class _ResponseCatcher(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, str, bytes]]] = []

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        self.received.append((self.path, self.headers.get("content-type", ""), body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def response_url() -> Iterator[str]:
    """A loopback HTTP server standing in for CloudFormation's presigned response URL."""
    _ResponseCatcher.received.clear()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ResponseCatcher)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/response?signature=x"
    server.shutdown()
    server.server_close()


def stack_request(kind: str, url: str) -> dict[str, Any]:
    return {
        "RequestType": kind,
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:compactor",
        "ResponseURL": url,
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/events-api-test/1",
        "RequestId": "7d2f9d7c-1111-2222-3333-444455556666",
        "ResourceType": "Custom::EventsView",
        "LogicalResourceId": "EventsView",
        "ResourceProperties": {"Database": DATABASE},
    }


@pytest.mark.parametrize("kind", ["Create", "Update"])
def test_deployment_creates_the_events_view_and_answers_cloudformation(
    compactor: ModuleType, response_url: str, kind: str
) -> None:
    invoke_with = stack_request(kind, response_url)
    compactor.lambda_handler(invoke_with, LongContext())

    assert submitted() == [athena_view(DATABASE)]
    ((path, content_type, body),) = _ResponseCatcher.received
    assert path == "/response?signature=x"
    assert content_type == ""
    answer = json.loads(body)
    assert answer["Status"] == "SUCCESS"
    assert answer["PhysicalResourceId"] == f"{DATABASE}.events"
    assert answer["RequestId"] == invoke_with["RequestId"]
    assert answer["LogicalResourceId"] == "EventsView"


def test_stack_deletion_leaves_the_view_and_answers_success(
    compactor: ModuleType, response_url: str
) -> None:
    compactor.lambda_handler(stack_request("Delete", response_url), LongContext())
    assert submitted() == []
    ((_path, _type, body),) = _ResponseCatcher.received
    assert json.loads(body)["Status"] == "SUCCESS"
