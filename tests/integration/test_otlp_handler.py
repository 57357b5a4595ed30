"""The real OTLP handler against moto: status, body and content type per OTLP/HTTP, both
buffers, and the events it buffers stored by the real consumer."""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

import orjson
import pytest
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from events_api import records
from events_api.ingest.key_store import SsmKeyStore
from events_api.ingest.keys import generate_key
from tests.integration.conftest import KEYS_PATH, Stack, consumer_event
from tests.integration.test_ingest_handler import failing_buffer  # noqa: F401 - a fixture
from tests.moto_bridge import UNREACHABLE, OnCall, raising
from tests.otlp_support import (
    JSON,
    PROTOBUF,
    SPEC_LOG_EVENT,
    SPEC_METRIC_EVENTS,
    SPEC_SPAN_EVENT,
    logs_request,
    metrics_request,
    otlp_event,
    response_bytes,
    spec_logs,
    spec_metrics,
    spec_trace,
    traces_request,
)
from tests.support import FakeLambdaContext, load_event

pytestmark = pytest.mark.integration


def invoke(app: Any, event: dict[str, Any]) -> dict[str, Any]:
    return app.lambda_handler(event, FakeLambdaContext())


def buffered(stack: Stack) -> list[tuple[records.RequestMeta, dict[str, Any]]]:
    out = []
    for blob in stack.buffered():
        decoded = records.decode(blob)
        out.extend((decoded.meta, json.loads(event)) for event in decoded.events())
    return out


def status_of(response: dict[str, Any]) -> tuple[int, int, str]:
    """(HTTP status, google.rpc code, message), checking the body's encoding."""
    content_type = response["headers"]["content-type"]
    if content_type == PROTOBUF:
        status = Status.FromString(response_bytes(response))
        return response["statusCode"], status.code, status.message
    assert content_type == JSON
    assert response["isBase64Encoded"] is False
    document = json.loads(response["body"])
    assert set(document) == {"code", "message"}
    return response["statusCode"], document["code"], document["message"]


# ---------------------------------------------------------------- accepted


def test_json_logs_are_answered_in_json_and_buffered_as_flat_events(otlp, stack) -> None:
    response = invoke(otlp, otlp_event(orjson.dumps(spec_logs()), content_type=JSON))
    assert response["statusCode"] == 200
    assert response["headers"] == {"content-type": JSON}
    assert json.loads(response["body"]) == {"partialSuccess": {}}
    ((meta, event),) = buffered(stack)
    assert (meta.dataset, meta.service, meta.request_id) == ("otel", None, "JKJaXmPLvHcESHA=")
    assert event == SPEC_LOG_EVENT


def test_gzip_protobuf_traces_are_answered_in_protobuf(otlp, stack) -> None:
    body = traces_request("a", "b").SerializeToString()
    event = otlp_event(body, signal="traces", gzipped=True, headers={"x-baselime-dataset": "web"})
    response = invoke(otlp, event)
    assert (response["statusCode"], response["isBase64Encoded"]) == (200, True)
    assert response["headers"] == {"content-type": PROTOBUF}
    answer = ExportTraceServiceResponse.FromString(response_bytes(response))
    assert answer.HasField("partial_success")
    assert (answer.partial_success.rejected_spans, answer.partial_success.error_message) == (0, "")
    spans = buffered(stack)
    assert [(meta.dataset, event["name"], event["durationMs"]) for meta, event in spans] == [
        ("web", "a", 250.0),
        ("web", "b", 250.0),
    ]


def test_stored_events_carry_the_otlp_service_and_time(otlp, consumer, stack) -> None:
    invoke(otlp, otlp_event(orjson.dumps(spec_logs()), content_type=JSON))
    traces = otlp_event(orjson.dumps(spec_trace()), signal="traces", content_type=JSON)
    traces["requestContext"]["requestId"] = "KLKaXmPLvHcESHB="
    invoke(otlp, traces)
    blobs = stack.buffered()
    result = consumer.lambda_handler(consumer_event(stack.buffer, blobs), FakeLambdaContext())
    assert result == {"batchItemFailures": []}
    stored = stack.stored()
    lines = [json.loads(line) for body in stored.values() for line in body.splitlines()]
    assert all(key.startswith("dataset=otel/dt=") for key in stored)
    by_signal = {line["meta.signal_type"]: line for line in lines}
    log, span = by_signal["log"], by_signal["trace"]
    assert {k: v for k, v in log.items() if not k.startswith("_")} == SPEC_LOG_EVENT
    assert {k: v for k, v in span.items() if not k.startswith("_")} == SPEC_SPAN_EVENT
    assert (log["_dataset"], log["_service"], log["_timestamp"]) == (
        "otel",
        "my.service",
        "2018-12-13T14:51:00.300Z",
    )
    assert (span["_service"], span["_timestamp"]) == ("my.service", "2018-12-13T14:51:00.000Z")
    assert (log["_requestId"], span["_requestId"]) == ("JKJaXmPLvHcESHA=", "KLKaXmPLvHcESHB=")
    assert (log["_id"], span["_id"]) == ("JKJaXmPLvHcESHA=-0", "KLKaXmPLvHcESHB=-0")


def test_some_spans_rejected_is_a_partial_success(otlp, stack) -> None:
    request = traces_request("kept", "no trace id")
    request.resource_spans[0].scope_spans[0].spans[1].trace_id = b""
    response = invoke(otlp, otlp_event(request.SerializeToString(), signal="traces"))
    assert response["statusCode"] == 200
    answer = ExportTraceServiceResponse.FromString(response_bytes(response))
    assert answer.partial_success.rejected_spans == 1
    assert answer.partial_success.error_message == "1 spans rejected: span traceId is empty (1)"
    assert [event["name"] for _, event in buffered(stack)] == ["kept"]


def test_oversized_log_record_is_a_partial_success_in_json(otlp, stack) -> None:
    records_ = [{"body": {"stringValue": "x" * 300_000}}, {"body": {"stringValue": "small"}}]
    document = {"resourceLogs": [{"scopeLogs": [{"logRecords": records_}]}]}
    response = invoke(otlp, otlp_event(orjson.dumps(document), content_type=JSON))
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {
        "partialSuccess": {
            "rejectedLogRecords": 1,
            "errorMessage": "1 log records rejected: a flattened log record is larger than "
            "the 262144-byte event limit (1)",
        }
    }
    assert [event["message"] for _, event in buffered(stack)] == ["small"]


def test_an_empty_export_is_a_full_success_with_nothing_buffered(otlp, stack) -> None:
    response = invoke(otlp, otlp_event(b""))
    assert response["statusCode"] == 200
    assert ExportLogsServiceResponse.FromString(response_bytes(response)).HasField(
        "partial_success"
    )
    assert buffered(stack) == []


def test_json_metrics_are_buffered_as_one_flat_event_per_data_point(otlp, stack) -> None:
    event = otlp_event(orjson.dumps(spec_metrics()), signal="metrics", content_type=JSON)
    response = invoke(otlp, event)
    assert (response["statusCode"], response["headers"]) == (200, {"content-type": JSON})
    assert json.loads(response["body"]) == {"partialSuccess": {}}
    points = buffered(stack)
    assert {meta.dataset for meta, _ in points} == {"otel"}
    assert [event for _, event in points] == SPEC_METRIC_EVENTS


def test_gzip_protobuf_metrics_with_rejected_points_are_a_partial_success(otlp, stack) -> None:
    request = metrics_request()
    gauge = request.resource_metrics[0].scope_metrics[0].metrics[1]
    gauge.gauge.data_points[0].ClearField("as_double")
    event = otlp_event(request.SerializeToString(), signal="metrics", gzipped=True,
                       headers={"x-baselime-dataset": "metrics"})  # fmt: skip
    response = invoke(otlp, event)
    assert (response["statusCode"], response["headers"]) == (200, {"content-type": PROTOBUF})
    answer = ExportMetricsServiceResponse.FromString(response_bytes(response))
    assert answer.partial_success.rejected_data_points == 1
    assert answer.partial_success.error_message == (
        "1 data points rejected: gauge data point of 'queue.depth': no value (1)"
    )
    assert [(meta.dataset, event["name"]) for meta, event in buffered(stack)] == [
        ("metrics", "orders.placed"),
        ("metrics", "http.server.duration"),
        ("metrics", "payload.size"),
        ("metrics", "gc.pause"),
    ]


def test_stored_metric_events_carry_the_services_and_points_time(otlp, consumer, stack) -> None:
    invoke(otlp, otlp_event(metrics_request().SerializeToString(), signal="metrics"))
    blobs = stack.buffered()
    result = consumer.lambda_handler(consumer_event(stack.buffer, blobs), FakeLambdaContext())
    assert result == {"batchItemFailures": []}
    stored = stack.stored()
    assert all(key.startswith("dataset=otel/dt=") for key in stored)
    lines = [json.loads(line) for body in stored.values() for line in body.splitlines()]
    assert sorted(line["name"] for line in lines) == [
        "gc.pause", "http.server.duration", "orders.placed", "payload.size", "queue.depth"
    ]  # fmt: skip
    for n, line in enumerate(sorted(lines, key=lambda line: line["_id"])):
        assert (line["_dataset"], line["_service"]) == ("otel", "checkout")
        assert line["_timestamp"] == "2026-11-26T12:00:00.000Z"
        assert line["_id"] == f"JKJaXmPLvHcESHA=-{n}"


# ---------------------------------------------------------------- refused


@pytest.mark.parametrize("content_type", [PROTOBUF, JSON])
def test_bad_key_is_401_unauthenticated_in_the_requests_encoding(otlp, stack, content_type) -> None:
    event = otlp_event(b"{}", content_type=content_type, headers={"x-api-key": "evk_nope"})
    response = invoke(otlp, event)
    assert response["headers"]["content-type"] == content_type
    assert status_of(response) == (401, 16, "Unauthorised")


def test_key_limited_to_other_datasets_is_403(otlp, stack) -> None:
    key = generate_key()
    SsmKeyStore(KEYS_PATH).create(key, "limited", "web only", ("web",))
    body = logs_request("hi").SerializeToString()
    allowed = otlp_event(body, headers={"x-api-key": key, "x-baselime-dataset": "web"})
    assert invoke(otlp, allowed)["statusCode"] == 200
    refused = invoke(otlp, otlp_event(body, headers={"x-api-key": key}))  # dataset otel
    assert status_of(refused) == (403, 7, "Forbidden")
    assert [meta.dataset for meta, _ in buffered(stack)] == ["web"]


def test_bad_dataset_header_is_400(otlp, stack) -> None:
    event = otlp_event(b"", headers={"x-baselime-dataset": "Not Valid"})
    status, code, message = status_of(invoke(otlp, event))
    assert (status, code) == (400, 3)
    assert message.startswith("Bad Request: header x-baselime-dataset must be")


def test_undecodable_protobuf_is_400_and_nothing_is_buffered(otlp, stack) -> None:
    body = logs_request("hello").SerializeToString()[:-2]
    status, code, message = status_of(invoke(otlp, otlp_event(body)))
    assert (status, code) == (400, 3)
    assert message.startswith("Bad Request: body is not a valid ExportLogsServiceRequest")
    assert buffered(stack) == []


def test_invalid_hex_id_in_json_is_400(otlp, stack) -> None:
    document = spec_trace()
    document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"] = "zz"
    event = otlp_event(orjson.dumps(document), signal="traces", content_type=JSON)
    assert status_of(invoke(otlp, event)) == (
        400,
        3,
        "Bad Request: span.traceId is not a hex string: 'zz'",
    )


def test_gzip_bomb_is_413_without_inflating_it(otlp, stack) -> None:
    bomb = gzip.compress(b"\x00" * (7 * 1024 * 1024))
    event = otlp_event(bomb, headers={"content-encoding": "gzip"})
    status, code, message = status_of(invoke(otlp, event))
    assert (status, code) == (413, 3)
    assert message == "Payload Too Large: body inflates past 6291456 bytes"


def test_unknown_content_type_is_415_answered_in_json(otlp, stack) -> None:
    event = otlp_event(b"hello", content_type="text/plain")
    assert status_of(invoke(otlp, event)) == (
        415,
        3,
        "Unsupported Media Type: Content-Type must be application/x-protobuf or application/json",
    )


def test_unknown_content_encoding_is_415(otlp, stack) -> None:
    event = otlp_event(b"", headers={"content-encoding": "br"})
    assert status_of(invoke(otlp, event))[:2] == (415, 3)


@pytest.mark.parametrize("path", ["/otlp/v1/profiles", "/otlp/v2/metrics", "/otlp/v1/metrics/x"])
def test_other_otlp_paths_are_404_naming_the_served_ones(otlp, stack, path) -> None:
    status, code, message = status_of(invoke(otlp, otlp_event(b"", path=path)))
    assert (status, code) == (404, 5)
    assert message == (
        f"Not Found: {path} is not served; OTLP/HTTP is served at /otlp/v1/logs, "
        "/otlp/v1/traces and /otlp/v1/metrics"
    )


def test_trailing_slash_is_the_same_signal(otlp, stack) -> None:
    assert invoke(otlp, otlp_event(b"", path="/otlp/v1/traces/"))["statusCode"] == 200


def test_wrong_method_is_405_with_allow(otlp, stack) -> None:
    response = invoke(otlp, otlp_event(b"", method="GET"))
    assert status_of(response) == (405, 12, "Method Not Allowed")
    assert response["headers"]["allow"] == "POST"


def test_buffer_failing_past_the_budget_is_503_with_retry_after(
    otlp, stack, request, monkeypatch
) -> None:
    monkeypatch.setenv("BUFFER_BUDGET_SECONDS", "0.3")
    request.getfixturevalue("failing_buffer")[0] = 10_000
    response = invoke(otlp, otlp_event(logs_request("hi").SerializeToString()))
    assert status_of(response) == (503, 14, "Service Unavailable: buffer unavailable")
    assert int(response["headers"]["retry-after"]) > 0


def test_key_store_outage_is_503_with_retry_after(otlp, stack) -> None:
    OnCall("ssm", "GetParameter", before_call=raising(UNREACHABLE)).install()
    response = invoke(otlp, otlp_event(b"", content_type=JSON))
    assert status_of(response)[:2] == (503, 14)
    assert int(response["headers"]["retry-after"]) > 0


def test_unexpected_failure_is_500_internal(otlp, stack, monkeypatch) -> None:
    from dataclasses import replace

    from events_api.otlp.decode import LOGS, SIGNALS

    def boom(_: Any) -> Any:
        raise RuntimeError("bug")

    monkeypatch.setitem(SIGNALS, LOGS.path, replace(LOGS, flatten=boom))
    response = invoke(otlp, otlp_event(logs_request("x").SerializeToString()))
    assert status_of(response) == (500, 13, "Internal Error")


def test_no_key_ever_appears_in_the_answer(otlp, stack) -> None:
    secret = generate_key()
    response = invoke(otlp, otlp_event(b"", headers={"x-api-key": secret}))
    assert secret not in base64.b64decode(response["body"]).decode("latin-1")


@pytest.mark.parametrize(
    ("name", "content_type", "names"),
    [
        ("otlp-logs-json", JSON, ["TypeError: Cannot read property 'something' of undefined"]),
        ("otlp-traces-protobuf", PROTOBUF, ["GET /resource/{id}", "SELECT resource"]),
        ("otlp-metrics-protobuf", PROTOBUF, ["orders.placed", "http.server.request.duration"]),
    ],
)
def test_event_files_are_accepted_whole(otlp, stack, name, content_type, names) -> None:
    response = invoke(otlp, load_event(name))
    assert (response["statusCode"], response["headers"]["content-type"]) == (200, content_type)
    buffered_events = buffered(stack)
    assert [e.get("message", e.get("name")) for _, e in buffered_events] == names
    assert {e["service"] for _, e in buffered_events} == {"my-service"}
