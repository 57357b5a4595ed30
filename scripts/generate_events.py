"""Regenerates events/*.json: one realistic Lambda event per scenario.

Run: .venv/bin/python scripts/generate_events.py
The API Gateway events carry the sample key below; the tests register it in moto, and with
`sam local invoke` you put your own key (from `events-api keys create`) in its place.
"""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path

from events_api import records
from events_api.ingest.publishers import SQS_ATTRIBUTE, SQS_BODY
from events_api_cli.lambda_events import binary_attribute, kinesis_record, sqs_record

REQUEST_IDS = ("JKJaXmPLvHcESHA=", "JKJbBnQMvHcEJvw=")
SAMPLE_KEY = "evk_SampleKeyForEventFiles0000000000073kyn"
EVENTS = Path(__file__).resolve().parent.parent / "events"
LOGS = [
    {
        "message": "This is an example log event",
        "error": "TypeError: Cannot read property 'something' of undefined",
        "requestId": "6092d6f0-3bfa-4d62-9d0b-5bc7ae6518a1",
        "namespace": "https://api.domain.com/resource/{id}",
        "timestamp": "2026-11-26T12:00:00.123Z",
    },
    {
        "message": "This is another example log event",
        "requestId": "6092d6f0-3bfa-4d62-9d0b-5bc7ae6518a1",
        "data": {"userId": "01HBRCB38K2K4V5SDR7YC1D0ZB"},
        "duration": 127,
        "timestamp": 1795694400123,
    },
]


def http_event(
    method: str = "POST",
    path: str = "/v1/logs",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    base64_body: bool = False,
) -> dict[str, object]:
    all_headers = {
        "accept": "*/*",
        "content-type": "application/json",
        "host": "abc123.execute-api.us-east-1.amazonaws.com",
        "user-agent": "curl/8.5.0",
        "x-amzn-trace-id": "Root=1-6745b8a0-3f0c5a1e2b7d4c6e8f901234",
        "x-api-key": SAMPLE_KEY,
        "x-forwarded-for": "203.0.113.10",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
        "x-service": "my-service",
    }
    all_headers.update(headers or {})
    all_headers = {k: v for k, v in all_headers.items() if v}
    event: dict[str, object] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": all_headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.10",
                "userAgent": "curl/8.5.0",
            },
            "requestId": "JKJaXmPLvHcESHA=",
            "routeKey": "$default",
            "stage": "$default",
            "time": "26/Nov/2026:12:00:00 +0000",
            "timeEpoch": 1795694400000,
        },
        "isBase64Encoded": base64_body,
    }
    if body is not None:
        event["body"] = base64.b64encode(body).decode() if base64_body else body.decode()
    return event


def buffer_blobs() -> list[bytes]:
    """Two records, as two requests a second apart would put them on the buffer."""
    events = [json.dumps(e, separators=(",", ":")).encode() for e in LOGS]
    blobs = []
    for n, (request_id, event) in enumerate(zip(REQUEST_IDS, events, strict=True)):
        meta = records.RequestMeta(
            dataset="logs",
            request_id=request_id,
            received_at=f"2026-11-26T12:00:0{n + 1}.000Z",
            service="my-service",
        )
        blobs.extend(records.encode(meta, [event], 1_000_000))
    return blobs


def kinesis_event() -> dict[str, object]:
    arn = "arn:aws:kinesis:us-east-1:123456789012:stream/events-api-dev-EventsStream"
    return {
        "Records": [
            kinesis_record(
                blob,
                sequence=f"4965906587406741098113587917649245645958237011936788{n:04d}",
                partition_key=f"JKJaXmPLvHcESHA=/{n}",
                arrival=1795694401.0 + n,
                stream_arn=arn,
                role_arn="arn:aws:iam::123456789012:role/events-api-consumer",
            )
            for n, blob in enumerate(buffer_blobs())
        ]
    }


def sqs_event() -> dict[str, object]:
    arn = "arn:aws:sqs:us-east-1:123456789012:events-api-dev-EventsQueue"
    attributes = {
        "ApproximateReceiveCount": "1",
        "SentTimestamp": "1795694401000",
        "SenderId": "AIDAIENQZJOLO23YVJ4VO",
        "ApproximateFirstReceiveTimestamp": "1795694401005",
    }
    return {
        "Records": [
            sqs_record(
                message_id=f"059f36b4-87a3-44ab-83d2-66197{n:07d}",
                receipt_handle=f"AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a{n}",
                body=SQS_BODY,
                attributes=attributes,
                message_attributes={SQS_ATTRIBUTE: binary_attribute(blob)},
                md5_of_body="7b270e59b47ff90a553787216d55d91d",
                md5_of_message_attributes="00484c68f4a3b5b5e5a8e4d3c2b1a090",
                queue_arn=arn,
            )
            for n, blob in enumerate(buffer_blobs())
        ]
    }


def otlp_event(path: str, body: bytes, content_type: str, gzipped: bool) -> dict[str, object]:
    """What the ``ANY /otlp/{proxy+}`` route hands the OTLP function."""
    headers = {"content-type": content_type, "x-service": ""}
    if gzipped:
        body = gzip.compress(body, mtime=0)
        headers["content-encoding"] = "gzip"
    event = http_event(path=path, body=body, headers=headers, base64_body=gzipped)
    context = event["requestContext"]
    assert isinstance(context, dict)
    event["routeKey"] = context["routeKey"] = "ANY /otlp/{proxy+}"
    event["pathParameters"] = {"proxy": path.removeprefix("/otlp/")}
    return event


def otlp_logs_json() -> bytes:
    """One log record with a trace context, as an SDK's OTLP/JSON exporter sends it."""
    attribute = {"key": "service.name", "value": {"stringValue": "my-service"}}
    record = {
        "timeUnixNano": "1795694400123000000",
        "severityNumber": 17,
        "severityText": "ERROR",
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b174",
        "body": {"stringValue": "TypeError: Cannot read property 'something' of undefined"},
        "attributes": [{"key": "http.route", "value": {"stringValue": "/resource/{id}"}}],
    }
    document = {
        "resourceLogs": [
            {
                "resource": {"attributes": [attribute]},
                "scopeLogs": [{"scope": {"name": "my.library"}, "logRecords": [record]}],
            }
        ]
    }
    return json.dumps(document, indent=2).encode()


def otlp_traces_protobuf() -> bytes:
    """Two spans of one trace, as an SDK's OTLP/HTTP protobuf exporter sends them."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    service = resource_spans.resource.attributes.add()
    service.key, service.value.string_value = "service.name", "my-service"
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = "my.library"
    for n, name in enumerate(("GET /resource/{id}", "SELECT resource")):
        span = scope_spans.spans.add()
        span.trace_id = bytes.fromhex("5b8efff798038103d269b633813fc60c")
        span.span_id = (
            bytes.fromhex("eee19b7ec3c1b174") if n == 0 else bytes.fromhex("b7ad6b7169203331")
        )
        if n:
            span.parent_span_id = bytes.fromhex("eee19b7ec3c1b174")
        span.name = name
        span.kind = 2 if n == 0 else 3  # SERVER, CLIENT
        span.start_time_unix_nano = 1_795_694_400_000_000_000 + n * 5_000_000
        span.end_time_unix_nano = 1_795_694_400_127_000_000 - n * 20_000_000
    return request.SerializeToString()


def otlp_metrics_protobuf() -> bytes:
    """A delta counter and a delta histogram, as an SDK's OTLP/HTTP protobuf exporter sends
    them from a Lambda function."""
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
        ExportMetricsServiceRequest,
    )

    request = ExportMetricsServiceRequest()
    resource_metrics = request.resource_metrics.add()
    service = resource_metrics.resource.attributes.add()
    service.key, service.value.string_value = "service.name", "my-service"
    scope_metrics = resource_metrics.scope_metrics.add()
    scope_metrics.scope.name = "my.library"
    start, end = 1_795_694_340_000_000_000, 1_795_694_400_000_000_000
    counter = scope_metrics.metrics.add(name="orders.placed", unit="{order}")
    counter.sum.aggregation_temporality, counter.sum.is_monotonic = 1, True  # DELTA
    counter.sum.data_points.add(start_time_unix_nano=start, time_unix_nano=end, as_int=12)
    duration = scope_metrics.metrics.add(name="http.server.request.duration", unit="s")
    duration.description = "Duration of HTTP server requests."
    duration.histogram.aggregation_temporality = 1
    point = duration.histogram.data_points.add(
        start_time_unix_nano=start,
        time_unix_nano=end,
        count=12,
        sum=1.46,
        min=0.021,
        max=0.62,
        explicit_bounds=[0.025, 0.05, 0.1, 0.25, 0.5, 1.0],
        bucket_counts=[1, 3, 5, 2, 0, 1, 0],
    )
    route = point.attributes.add()
    route.key, route.value.string_value = "http.route", "/orders"
    return request.SerializeToString()


def main() -> None:
    array = json.dumps(LOGS, indent=2).encode()
    ndjson = b"\n".join(json.dumps(e).encode() for e in LOGS) + b"\n"
    scenarios = {
        "ingest-valid-batch": http_event(body=array),
        "ingest-single-event": http_event(body=json.dumps(LOGS[0]).encode()),
        "ingest-ndjson": http_event(
            body=ndjson, headers={"content-type": "application/x-ndjson"}, base64_body=True
        ),
        "ingest-gzip": http_event(
            body=gzip.compress(array, mtime=0),
            headers={"content-encoding": "gzip"},
            base64_body=True,
        ),
        "ingest-invalid-events": http_event(
            body=json.dumps([LOGS[0], "not an object", 42]).encode()
        ),
        "ingest-bad-key": http_event(body=array, headers={"x-api-key": "evk_not-a-real-key"}),
        "ingest-bad-path": http_event(path="/v2/logs/extra", body=array),
        "ingest-wrong-method": http_event(method="GET"),
        "otlp-logs-json": otlp_event(
            "/otlp/v1/logs", otlp_logs_json(), "application/json", gzipped=False
        ),
        "otlp-traces-protobuf": otlp_event(
            "/otlp/v1/traces", otlp_traces_protobuf(), "application/x-protobuf", gzipped=True
        ),
        "otlp-metrics-protobuf": otlp_event(
            "/otlp/v1/metrics", otlp_metrics_protobuf(), "application/x-protobuf", gzipped=True
        ),
        "consumer-kinesis-batch": kinesis_event(),
        "consumer-sqs-batch": sqs_event(),
    }
    for name, event in scenarios.items():
        (EVENTS / f"{name}.json").write_text(json.dumps(event, indent=2) + "\n")


if __name__ == "__main__":
    main()
