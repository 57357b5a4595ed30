"""The compactor function against moto's Athena and S3: which statements it submits, in
what order, for which hours, and what it leaves in the bucket.

moto records every statement started (it does not run them), so these tests read the
statements back from moto's Athena backend in submission order and compare them with
events_api.analytics.table's builders. DuckDB proves the same steps on real data end to end
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
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.athena.models import QueryResults, athena_backends
from moto.core import DEFAULT_ACCOUNT_ID

from events_api import records
from events_api.analytics.table import Hour, athena_sources, athena_unload, athena_view
from events_api.aws import clients as aws_clients
from events_api.settings import ConsumerSettings
from events_api.store.consumer import ConsumerService, SourceRecord
from events_api.store.object_writer import S3ObjectWriter
from events_api.timestamps import rfc3339
from events_api_cli.lambda_events import LambdaContext
from tests.integration.conftest import BUCKET
from tests.support import FakeLambdaContext, load_function

pytestmark = pytest.mark.integration

WORKGROUP = "events-api-test"
DATABASE = "events_api_test"
REGION = "us-east-1"


def long_context() -> LambdaContext:
    return FakeLambdaContext(remaining_ms=900_000)


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


def answer_next(*results: list[str]) -> None:
    """What moto's Athena answers the next statements, in order (it runs none of them):
    one column of rows per statement, with Athena's header row."""
    backend = athena_backends[DEFAULT_ACCOUNT_ID][REGION]
    for rows in results:
        backend.query_results_queue.append(
            QueryResults(
                rows=[{"Data": [{"VarCharValue": v}]} for v in ("_source", *rows)] if rows else [],
                column_info=[{"Name": "_source", "Type": "varchar"}],
            )
        )


def store(dataset: str, received: datetime, events: list[bytes], name: str) -> str:
    """Through the consumer's own store path, with a receive time in the past; the
    object's s3:// address."""
    at = rfc3339(received)
    [blob] = records.encode(records.RequestMeta(dataset, f"req-{name}", at), events, 1 << 20)
    service = ConsumerService(ConsumerSettings(BUCKET), S3ObjectWriter(BUCKET))
    before = set(keys(f"dataset={dataset}/"))
    assert service.store("sqs", [SourceRecord(name, name, blob)]) == set()
    (key,) = set(keys(f"dataset={dataset}/")) - before
    return f"s3://{BUCKET}/{key}"


def hour_of(moment: datetime, dataset: str) -> Hour:
    return Hour(dataset, moment.strftime("%Y-%m-%d"), moment.strftime("%H"))


def keys(prefix: str) -> list[str]:
    answer = boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return sorted(item["Key"] for item in answer.get("Contents", []))


def manifest(hour: Hour) -> list[dict[str, str]]:
    body = boto3.client("s3").get_object(Bucket=BUCKET, Key=hour.manifest_key)["Body"].read()
    return [json.loads(line) for line in body.splitlines()]


def invoke(module: ModuleType) -> dict[str, Any]:
    answer: dict[str, Any] = module.lambda_handler({}, long_context())
    return answer


def test_view_first_then_unload_and_sources_for_each_closed_hour_in_order(
    compactor: ModuleType,
) -> None:
    now = datetime.now(UTC)
    older, old = now - timedelta(hours=30), now - timedelta(hours=2)
    logs_older = [store("logs", older, [b'{"m":"a"}', b'{"m":"b"}'], f"o{n}") for n in range(2)]
    logs_old = store("logs", old, [b'{"m":"c"}'], "old")
    web_old = store("web", old, [b'{"m":"d"}'], "web")
    store("logs", now, [b'{"m":"open hour"}'], "now")
    hours = sorted([hour_of(older, "logs"), hour_of(old, "logs"), hour_of(old, "web")])
    sources = {
        hour_of(older, "logs"): sorted(logs_older),
        hour_of(old, "logs"): [logs_old],
        hour_of(old, "web"): [web_old],
    }
    answer_next([], *(rows for h in hours for rows in ([], sources[h])))

    answer = invoke(compactor)

    expected = [athena_view(DATABASE)]
    for hour in hours:
        expected += [
            athena_unload(hour, "a", DATABASE, BUCKET),
            athena_sources(hour, "a", DATABASE),
        ]
    assert submitted() == expected
    assert answer["compacted"] == [{"hour": str(h), "objects": len(sources[h])} for h in hours]
    assert answer["failed"] == []
    for hour in hours:
        # The manifest names slot a and the sources Athena listed; those objects moved.
        assert manifest(hour) == [{"source": s, "slot": "a"} for s in sources[hour]]
        assert keys(hour.raw_prefix) == []
        assert keys(f"archive/{hour.raw_prefix}") == [
            f"archive/{s.removeprefix(f's3://{BUCKET}/')}" for s in sources[hour]
        ]
    # The open hour is untouched and no lock is left.
    assert len(keys(hour_of(now, "logs").raw_prefix)) == 1
    assert keys("compaction-locks/") == []


def test_nothing_is_rewritten_until_an_object_arrives_late_then_the_other_slot(
    compactor: ModuleType,
) -> None:
    old = datetime.now(UTC) - timedelta(hours=3)
    hour = hour_of(old, "logs")
    first = store("logs", old, [b'{"n":1}'], "first")
    answer_next([], [], [first])
    invoke(compactor)
    # What Athena's UNLOAD would have left in slot a (moto's Athena writes nothing).
    boto3.client("s3").put_object(Bucket=BUCKET, Key=f"{hour.slot_prefix('a')}0_0", Body=b"x")
    done = len(submitted())

    assert invoke(compactor)["compacted"] == []
    assert submitted()[done:] == [athena_view(DATABASE)]

    late = store("logs", old, [b'{"n":2}'], "late")
    answer_next([], [], [first, late])
    answer = invoke(compactor)
    assert answer["compacted"] == [{"hour": str(hour), "objects": 1}]
    assert submitted()[done + 1 :] == [
        athena_view(DATABASE),
        athena_unload(hour, "b", DATABASE, BUCKET),
        athena_sources(hour, "b", DATABASE),
    ]
    assert manifest(hour) == [{"source": s, "slot": "b"} for s in sorted([first, late])]
    assert keys(hour.slot_prefix("a")) == []
    assert keys(hour.raw_prefix) == []


def test_objects_the_manifest_does_not_name_stay_in_the_raw_prefix(
    compactor: ModuleType,
) -> None:
    old = datetime.now(UTC) - timedelta(hours=3)
    hour = hour_of(old, "logs")
    seen = store("logs", old, [b'{"n":1}'], "seen")
    unseen = store("logs", old, [b'{"n":2}'], "unseen")  # say it landed after the UNLOAD
    answer_next([], [], [seen])
    invoke(compactor)
    assert [f"s3://{BUCKET}/{k}" for k in keys(hour.raw_prefix)] == [unseen]
    assert manifest(hour) == [{"source": seen, "slot": "a"}]


def test_a_failed_statement_fails_its_hour_only_and_is_counted(
    compactor: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    moment = datetime.now(UTC) - timedelta(hours=5)
    bad, good = hour_of(moment, "bad"), hour_of(moment, "good")
    store("bad", moment, [b'{"n":1}'], "bad")
    good_source = store("good", moment, [b'{"n":1}'], "good")
    answer_next([], [], [], [good_source])

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
    # The failed hour has no manifest and keeps its objects: queries read it from NDJSON,
    # the next run tries again; its lock is released.
    assert athena_sources(bad, "a", DATABASE) not in submitted()
    assert keys(f"compaction-manifests/{bad.raw_prefix}") == []
    assert len(keys(bad.raw_prefix)) == 1
    assert keys("compaction-locks/") == []
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
    compactor.lambda_handler(invoke_with, long_context())

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
    compactor.lambda_handler(stack_request("Delete", response_url), long_context())
    assert submitted() == []
    ((_path, _type, body),) = _ResponseCatcher.received
    assert json.loads(body)["Status"] == "SUCCESS"


def _deny(operation: str, when: str) -> Any:
    """A botocore hook failing ``operation`` with AccessDenied when its parameters mention
    ``when``, as IAM would refuse it."""

    def hook(params: dict[str, Any], **_: Any) -> None:
        if when in json.dumps(params, default=str):
            raise ClientError(
                {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, operation
            )

    return hook


def test_an_hour_failing_with_any_error_leaves_the_other_hours_to_be_compacted(
    compactor: ModuleType,
) -> None:
    moment = datetime.now(UTC) - timedelta(hours=5)
    denied, good = hour_of(moment, "denied"), hour_of(moment, "good")
    store("denied", moment, [b'{"n":1}'], "denied")
    good_source = store("good", moment, [b'{"n":1}'], "good")
    # The denied hour's copy to the archive is refused (not a CompactionError).
    answer_next([], [], [f"s3://{BUCKET}/{keys(denied.raw_prefix)[0]}"], [], [good_source])
    aws_clients.s3().meta.events.register(
        "before-call.s3.CopyObject", _deny("CopyObject", "dataset=denied")
    )

    answer = invoke(compactor)

    ((failed),) = answer["failed"]
    assert failed["hour"] == str(denied)
    assert failed["error"].startswith("ClientError: An error occurred (AccessDenied)")
    assert answer["compacted"] == [{"hour": str(good), "objects": 1}]
    assert keys(good.raw_prefix) == []
    assert keys("compaction-locks/") == []


def test_a_view_that_fails_with_any_error_still_answers_cloudformation(
    compactor: ModuleType, response_url: str
) -> None:
    aws_clients.athena().meta.events.register(
        "before-call.athena.StartQueryExecution", _deny("StartQueryExecution", "VIEW")
    )
    compactor.lambda_handler(stack_request("Create", response_url), long_context())

    ((_path, _type, body),) = _ResponseCatcher.received
    answer = json.loads(body)
    # The deployment goes on; every scheduled run creates the view again.
    assert answer["Status"] == "SUCCESS"
    assert answer["PhysicalResourceId"] == f"{DATABASE}.events"
    assert answer["Reason"].startswith("view not created (the next scheduled run creates it)")
    assert "AccessDenied" in answer["Reason"]


def test_a_function_without_its_settings_still_answers_cloudformation(
    compactor: ModuleType, response_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ATHENA_WORKGROUP")
    compactor.lambda_handler(stack_request("Update", response_url), long_context())

    ((_path, _type, body),) = _ResponseCatcher.received
    answer = json.loads(body)
    assert answer["Status"] == "SUCCESS"
    assert "ATHENA_WORKGROUP" in answer["Reason"]
    assert submitted() == []


def test_a_view_statement_still_running_is_answered_before_cloudformation_gives_up(
    compactor: ModuleType, response_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def keep_running(parsed: dict[str, Any], **_: Any) -> None:
        # moto's Athena finishes a statement when it is polled: this one never does.
        parsed["QueryExecution"]["Status"]["State"] = "RUNNING"

    aws_clients.athena().meta.events.register("after-call.athena.GetQueryExecution", keep_running)
    # A short budget for the test: the function answers once it is spent.
    monkeypatch.setattr(compactor.compactor, "STACK_REQUEST_SECONDS", 31.5)
    compactor.lambda_handler(stack_request("Create", response_url), long_context())

    ((_path, _type, body),) = _ResponseCatcher.received
    answer = json.loads(body)
    assert answer["Status"] == "SUCCESS"
    assert "still RUNNING when its time ran out" in answer["Reason"]
