"""OpenTelemetry's own Python SDK and OTLP/HTTP exporters against `events-api dev`.

Configured only as users configure them (``OTEL_EXPORTER_OTLP_ENDPOINT=<api>/otlp``,
``OTEL_EXPORTER_OTLP_HEADERS``, gzip), protobuf on the wire; then the stored events are
read back from S3 and compared field by field with what the SDK exported.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

import pytest
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExportResult, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind, Status, StatusCode

from events_api.otlp.flatten import rfc3339_nanos
from events_api.store.enrichment import STORED_FIELDS
from tests.e2e.conftest import DevStack
from tests.otlp_support import SPEC_LOG_EVENT, spec_logs

pytestmark = pytest.mark.e2e


def own_fields(event: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k not in STORED_FIELDS}


@pytest.fixture
def dataset(stack: DevStack, monkeypatch: pytest.MonkeyPatch) -> str:
    """The SDK's standard variables, pointing at the local stack, for a dataset of its own."""
    name = stack.new_dataset()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"{stack.api}/otlp")
    monkeypatch.setenv(
        "OTEL_EXPORTER_OTLP_HEADERS", f"x-api-key={stack.api_key},x-baselime-dataset={name}"
    )
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
    return name


class RecordingSpanExporter(SpanExporter):
    """The real exporter, with what it was given and what it answered kept for the test."""

    def __init__(self) -> None:
        self.exporter = OTLPSpanExporter()
        self.spans: list[ReadableSpan] = []
        self.results: list[SpanExportResult] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans.extend(spans)
        result = self.exporter.export(spans)
        self.results.append(result)
        return result

    def shutdown(self) -> None:
        self.exporter.shutdown()


def resource_fields(resource: Resource) -> dict[str, Any]:
    return {**dict(resource.attributes), "service": resource.attributes["service.name"]}


def test_sdk_spans_are_stored_one_flat_event_each(stack: DevStack, dataset: str) -> None:
    resource = Resource.create({"service.name": "checkout", "deployment.environment": "e2e"})
    exporter = RecordingSpanExporter()
    assert exporter.exporter._endpoint == f"{stack.api}/otlp/v1/traces"
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("e2e.tests", "1.2.3")
    with (
        tracer.start_as_current_span(
            "GET /cart", kind=SpanKind.SERVER, attributes={"http.request.method": "GET"}
        ),
        tracer.start_as_current_span("SELECT cart") as child,
    ):
        child.add_event("cache miss", {"cache.key": "cart:1", "attempt": 2})
        child.set_status(Status(StatusCode.ERROR, "timeout"))
    provider.shutdown()
    assert exporter.results == [SpanExportResult.SUCCESS, SpanExportResult.SUCCESS]

    stored = {event["name"]: event for event in stack.wait_stored(dataset, 2)}
    child_span, parent_span = exporter.spans
    assert set(stored) == {"GET /cart", "SELECT cart"}
    common = {
        **resource_fields(resource),
        "otel.scope.name": "e2e.tests",
        "otel.scope.version": "1.2.3",
        "meta.signal_type": "trace",
    }

    def timing(span: ReadableSpan) -> dict[str, Any]:
        assert span.start_time is not None
        assert span.end_time is not None
        return {
            "timestamp": rfc3339_nanos(span.start_time),
            "durationMs": (span.end_time - span.start_time) / 1e6,
        }

    trace_id = f"{parent_span.context.trace_id:032x}"
    assert own_fields(stored["GET /cart"]) == {
        **common,
        **timing(parent_span),
        "http.request.method": "GET",
        "name": "GET /cart",
        "kind": "server",
        "traceId": trace_id,
        "spanId": f"{parent_span.context.span_id:016x}",
        "statusCode": "unset",
    }
    (event,) = child_span.events
    assert own_fields(stored["SELECT cart"]) == {
        **common,
        **timing(child_span),
        "name": "SELECT cart",
        "kind": "internal",
        "traceId": trace_id,
        "spanId": f"{child_span.context.span_id:016x}",
        "parentSpanId": f"{parent_span.context.span_id:016x}",
        "statusCode": "error",
        "statusMessage": "timeout",
        "error": True,
        "events": [
            {
                "name": "cache miss",
                "timestamp": rfc3339_nanos(event.timestamp),
                "attributes": {"cache.key": "cart:1", "attempt": 2},
            }
        ],
    }
    for stored_event in stored.values():
        assert stored_event["_dataset"] == dataset
        assert stored_event["_service"] == "checkout"
        assert stored_event["_timestamp"] == stored_event["timestamp"][:23] + "Z"


def test_sdk_log_records_are_stored_one_flat_event_each(stack: DevStack, dataset: str) -> None:
    resource = Resource.create({"service.name": "payments"})
    exporter = OTLPLogExporter()
    assert exporter._endpoint == f"{stack.api}/otlp/v1/logs"
    results: list[LogRecordExportResult] = []
    exported: list[ReadableLogRecord] = []

    class Recording(SimpleLogRecordProcessor):
        def on_emit(self, log_record: Any) -> None:
            exported.append(log_record)
            super().on_emit(log_record)

    original = exporter.export

    def export(batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        result = original(batch)
        results.append(result)
        return result

    exporter.export = export  # type: ignore[method-assign]
    provider = LoggerProvider(resource=resource)
    provider.add_log_record_processor(Recording(exporter))
    otel_logger = provider.get_logger("e2e.logs", "0.1")
    tracer = TracerProvider(resource=resource).get_tracer("e2e.logs")
    now = time.time_ns()
    with tracer.start_as_current_span("charge") as span:
        otel_logger.emit(
            LogRecord(
                timestamp=now,
                severity_number=SeverityNumber.WARN,
                severity_text="WARN",
                body="payment p-1 failed",
                attributes={"order.id": "o-9", "amount": 12.5, "tags": ["a", "b"]},
            )
        )
    otel_logger.emit(
        LogRecord(
            timestamp=now + 1,
            severity_number=SeverityNumber.INFO,
            body={"structured": True, "count": 3},
        )
    )
    provider.shutdown()
    assert results == [LogRecordExportResult.SUCCESS, LogRecordExportResult.SUCCESS]

    stored = sorted(stack.wait_stored(dataset, 2), key=lambda e: e["timestamp"])
    common = {
        **resource_fields(resource),
        "otel.scope.name": "e2e.logs",
        "otel.scope.version": "0.1",
        "meta.signal_type": "log",
    }
    context = span.get_span_context()
    warning, structured = (own_fields(event) for event in stored)
    assert warning == {
        **common,
        "order.id": "o-9",
        "amount": 12.5,
        "tags": ["a", "b"],
        "timestamp": rfc3339_nanos(now),
        "message": "payment p-1 failed",
        "level": "WARN",
        "severityNumber": 13,
        "traceId": f"{context.trace_id:032x}",
        "spanId": f"{context.span_id:016x}",
        "flags": int(exported[0].log_record.trace_flags),
    }
    assert structured == {
        **common,
        "timestamp": rfc3339_nanos(now + 1),
        "message": json.dumps({"structured": True, "count": 3}, separators=(",", ":")),
        "level": "INFO",
        "severityNumber": 9,
    }
    assert len(exported) == 2
    assert [event["_service"] for event in stored] == ["payments", "payments"]


def test_spec_json_example_over_http_is_stored(stack: DevStack) -> None:
    dataset = stack.new_dataset()
    body = json.dumps(spec_logs()).encode()
    headers = {"content-type": "application/json", "x-baselime-dataset": dataset}
    response = stack.request("POST", "/otlp/v1/logs", body, headers)
    assert (response.status, response.json()) == (200, {"partialSuccess": {}})
    (event,) = stack.wait_stored(dataset, 1)
    assert own_fields(event) == SPEC_LOG_EVENT
    assert event["_timestamp"] == "2018-12-13T14:51:00.300Z"


def test_garbage_protobuf_over_http_is_400_in_protobuf(stack: DevStack) -> None:
    from google.rpc.status_pb2 import Status as RpcStatus

    headers = {"content-type": "application/x-protobuf"}
    response = stack.request("POST", "/otlp/v1/traces", b"\x0a\xff\xff", headers)
    assert response.status == 400
    assert response.headers["content-type"] == "application/x-protobuf"
    status = RpcStatus.FromString(response.body)
    assert status.code == 3
    assert status.message.startswith("Bad Request: body is not a valid ExportTraceServiceRequest")


def test_the_events_api_is_unchanged_beside_the_otlp_routes(stack: DevStack) -> None:
    dataset = stack.new_dataset()
    assert stack.post_json(dataset, [{"message": "plain"}]).status == 202
    response = stack.request("POST", "/otlp", b"{}", {"content-type": "application/json"})
    assert response.status == 400  # not an OTLP route: the Events API's path rule answers
    assert response.json()["reason"] == "the path must be /v1/{dataset}"
