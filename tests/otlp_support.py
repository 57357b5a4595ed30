"""OTLP request bodies for the tests: the specification's examples and protobuf builders.

``SPEC_LOGS``, ``SPEC_TRACE`` and ``SPEC_METRICS`` are the OTLP/JSON examples of the
opentelemetry-proto repository (examples/logs.json, trace.json and metrics.json: the shape
the Collector's documentation points to), written out here as data.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import gzip
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from tests.support import SAMPLE_KEY, http_event

PROTOBUF = "application/x-protobuf"
JSON = "application/json"


def _attr(key: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"key": key, "value": value}


_RESOURCE = {"attributes": [_attr("service.name", {"stringValue": "my.service"})]}
_SCOPE = {
    "name": "my.library",
    "version": "1.0.0",
    "attributes": [_attr("my.scope.attribute", {"stringValue": "some scope attribute"})],
}

SPEC_LOGS: dict[str, Any] = {
    "resourceLogs": [
        {
            "resource": _RESOURCE,
            "scopeLogs": [
                {
                    "scope": _SCOPE,
                    "logRecords": [
                        {
                            "timeUnixNano": "1544712660300000000",
                            "observedTimeUnixNano": "1544712660300000000",
                            "severityNumber": 10,
                            "severityText": "Information",
                            "traceId": "5B8EFFF798038103D269B633813FC60C",
                            "spanId": "EEE19B7EC3C1B174",
                            "body": {"stringValue": "Example log record"},
                            "attributes": [
                                _attr("string.attribute", {"stringValue": "some string"}),
                                _attr("boolean.attribute", {"boolValue": True}),
                                _attr("int.attribute", {"intValue": "10"}),
                                _attr("double.attribute", {"doubleValue": 637.704}),
                                _attr(
                                    "array.attribute",
                                    {
                                        "arrayValue": {
                                            "values": [
                                                {"stringValue": "many"},
                                                {"stringValue": "values"},
                                            ]
                                        }
                                    },
                                ),
                                _attr(
                                    "map.attribute",
                                    {
                                        "kvlistValue": {
                                            "values": [
                                                _attr("some.map.key", {"stringValue": "some value"})
                                            ]
                                        }
                                    },
                                ),
                            ],
                        }
                    ],
                }
            ],
        }
    ]
}

#: The flat event the specification's log example becomes (docs/otlp.md's mapping).
SPEC_LOG_EVENT: dict[str, Any] = {
    "service.name": "my.service",
    "service": "my.service",
    "otel.scope.name": "my.library",
    "otel.scope.version": "1.0.0",
    "my.scope.attribute": "some scope attribute",
    "string.attribute": "some string",
    "boolean.attribute": True,
    "int.attribute": 10,
    "double.attribute": 637.704,
    "array.attribute": ["many", "values"],
    "map.attribute.some.map.key": "some value",
    "meta.signal_type": "log",
    "timestamp": "2018-12-13T14:51:00.300000000Z",
    "message": "Example log record",
    "level": "Information",
    "severityNumber": 10,
    "traceId": "5b8efff798038103d269b633813fc60c",
    "spanId": "eee19b7ec3c1b174",
}

SPEC_TRACE: dict[str, Any] = {
    "resourceSpans": [
        {
            "resource": _RESOURCE,
            "scopeSpans": [
                {
                    "scope": _SCOPE,
                    "spans": [
                        {
                            "traceId": "5B8EFFF798038103D269B633813FC60C",
                            "spanId": "EEE19B7EC3C1B174",
                            "parentSpanId": "EEE19B7EC3C1B173",
                            "name": "I'm a server span",
                            "startTimeUnixNano": "1544712660000000000",
                            "endTimeUnixNano": "1544712661000000000",
                            "kind": 2,
                            "attributes": [_attr("my.span.attr", {"stringValue": "some value"})],
                        }
                    ],
                }
            ],
        }
    ]
}

SPEC_SPAN_EVENT: dict[str, Any] = {
    "service.name": "my.service",
    "service": "my.service",
    "otel.scope.name": "my.library",
    "otel.scope.version": "1.0.0",
    "my.scope.attribute": "some scope attribute",
    "my.span.attr": "some value",
    "meta.signal_type": "trace",
    "timestamp": "2018-12-13T14:51:00.000000000Z",
    "name": "I'm a server span",
    "kind": "server",
    "traceId": "5b8efff798038103d269b633813fc60c",
    "spanId": "eee19b7ec3c1b174",
    "parentSpanId": "eee19b7ec3c1b173",
    "durationMs": 1000.0,
    "statusCode": "unset",
}


def _point(name: str, **fields: Any) -> dict[str, Any]:
    """A data point of the metrics example: its times and its one attribute."""
    times = {"timeUnixNano": "1544712660300000000"}
    if "startTimeUnixNano" not in fields and name != "my.gauge":
        times["startTimeUnixNano"] = "1544712660300000000"
    attributes = [_attr(f"{name}.attr", {"stringValue": "some value"})]
    return {**fields, **times, "attributes": attributes}


SPEC_METRICS: dict[str, Any] = {
    "resourceMetrics": [
        {
            "resource": _RESOURCE,
            "scopeMetrics": [
                {
                    "scope": _SCOPE,
                    "metrics": [
                        {
                            "name": "my.counter",
                            "unit": "1",
                            "description": "I am a Counter",
                            "sum": {
                                "aggregationTemporality": 1,
                                "isMonotonic": True,
                                "dataPoints": [_point("my.counter", asDouble=5)],
                            },
                        },
                        {
                            "name": "my.gauge",
                            "unit": "1",
                            "description": "I am a Gauge",
                            "gauge": {"dataPoints": [_point("my.gauge", asDouble=10)]},
                        },
                        {
                            "name": "my.histogram",
                            "unit": "1",
                            "description": "I am a Histogram",
                            "histogram": {
                                "aggregationTemporality": 1,
                                "dataPoints": [
                                    _point(
                                        "my.histogram",
                                        count="2",
                                        sum=2,
                                        bucketCounts=["1", "1"],
                                        explicitBounds=[1],
                                        min=0,
                                        max=2,
                                    )
                                ],
                            },
                        },
                        {
                            "name": "my.exponential.histogram",
                            "unit": "1",
                            "description": "I am an Exponential Histogram",
                            "exponentialHistogram": {
                                "aggregationTemporality": 1,
                                "dataPoints": [
                                    _point(
                                        "my.exponential.histogram",
                                        count="3",
                                        sum=10,
                                        scale=0,
                                        zeroCount="1",
                                        positive={"offset": 1, "bucketCounts": ["0", "2"]},
                                        min=0,
                                        max=5,
                                        zeroThreshold=0,
                                    )
                                ],
                            },
                        },
                    ],
                }
            ],
        }
    ]
}


def _metric_event(name: str, description: str, **fields: Any) -> dict[str, Any]:
    common = {key: value for key, value in SPEC_LOG_EVENT.items() if key in _CONTEXT_FIELDS}
    times = {"timestamp": "2018-12-13T14:51:00.300000000Z"}
    if fields.get("type") != "gauge":
        times["startTimestamp"] = "2018-12-13T14:51:00.300000000Z"
    return {
        **common,
        f"{name}.attr": "some value",
        "meta.signal_type": "metric",
        "name": name,
        "description": description,
        "unit": "1",
        **times,
        **fields,
    }


_CONTEXT_FIELDS = ("service.name", "service", "otel.scope.name", "otel.scope.version",
                   "my.scope.attribute")  # fmt: skip

#: The flat events the specification's metrics example becomes, one per data point.
SPEC_METRIC_EVENTS: list[dict[str, Any]] = [
    _metric_event(
        "my.counter", "I am a Counter", type="sum", temporality="delta", isMonotonic=True,
        value=5.0,
    ),
    _metric_event("my.gauge", "I am a Gauge", type="gauge", value=10.0),
    _metric_event(
        "my.histogram", "I am a Histogram", type="histogram", temporality="delta", count=2,
        sum=2.0, min=0.0, max=2.0, explicitBounds=[1.0], bucketCounts=[1, 1],
    ),
    _metric_event(
        "my.exponential.histogram", "I am an Exponential Histogram",
        type="exponentialHistogram", temporality="delta", count=3, sum=10.0, min=0.0, max=5.0,
        scale=0, zeroCount=1, zeroThreshold=0.0, positiveOffset=1, positiveBucketCounts=[0, 2],
    ),
]  # fmt: skip


def spec_logs() -> dict[str, Any]:
    return copy.deepcopy(SPEC_LOGS)


def spec_trace() -> dict[str, Any]:
    return copy.deepcopy(SPEC_TRACE)


def spec_metrics() -> dict[str, Any]:
    return copy.deepcopy(SPEC_METRICS)


def string_value(text: str) -> AnyValue:
    return AnyValue(string_value=text)


def attribute(key: str, value: AnyValue) -> KeyValue:
    return KeyValue(key=key, value=value)


def logs_request(*bodies: str, service: str = "checkout") -> ExportLogsServiceRequest:
    request = ExportLogsServiceRequest()
    resource_logs = request.resource_logs.add()
    resource_logs.resource.attributes.append(attribute("service.name", string_value(service)))
    scope_logs = resource_logs.scope_logs.add()
    scope_logs.scope.name = "tests"
    for n, body in enumerate(bodies):
        record = scope_logs.log_records.add()
        record.time_unix_nano = 1_795_694_400_123_456_789 + n
        record.severity_number = 9
        record.body.string_value = body
    return request


def traces_request(*names: str, service: str = "checkout") -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.append(attribute("service.name", string_value(service)))
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = "tests"
    for n, name in enumerate(names):
        span = scope_spans.spans.add()
        span.trace_id = bytes(range(1, 17))
        span.span_id = bytes([n + 1] * 8)
        span.name = name
        span.kind = 3
        span.start_time_unix_nano = 1_795_694_400_000_000_000
        span.end_time_unix_nano = 1_795_694_400_250_000_000
    return request


METRIC_TIME = 1_795_694_400_000_000_000
METRIC_START = METRIC_TIME - 60_000_000_000


def metrics_request(service: str = "checkout") -> ExportMetricsServiceRequest:
    """One metric of each type, one data point each, as an SDK exports them (the histogram's
    point with an exemplar)."""
    request = ExportMetricsServiceRequest()
    resource_metrics = request.resource_metrics.add()
    resource_metrics.resource.attributes.append(attribute("service.name", string_value(service)))
    scope_metrics = resource_metrics.scope_metrics.add()
    scope_metrics.scope.name = "tests"
    route = attribute("http.route", string_value("/orders"))

    def metric(name: str, unit: str = "") -> Any:
        added = scope_metrics.metrics.add()
        added.name, added.unit = name, unit
        return added

    counter = metric("orders.placed", "{order}").sum
    counter.aggregation_temporality, counter.is_monotonic = 1, True  # type: ignore[assignment]
    point = counter.data_points.add(start_time_unix_nano=METRIC_START, time_unix_nano=METRIC_TIME)
    point.as_int = 3
    point.attributes.append(route)
    gauge = metric("queue.depth").gauge
    gauge.data_points.add(time_unix_nano=METRIC_TIME, as_double=7.5)
    histogram = metric("http.server.duration", "ms").histogram
    histogram.aggregation_temporality = 2  # type: ignore[assignment]
    hpoint = histogram.data_points.add(
        start_time_unix_nano=METRIC_START, time_unix_nano=METRIC_TIME, count=4, sum=61.0,
        min=3.0, max=40.0, explicit_bounds=[5.0, 10.0, 25.0], bucket_counts=[1, 2, 0, 1],
    )  # fmt: skip
    hpoint.attributes.append(route)
    exemplar = hpoint.exemplars.add(time_unix_nano=METRIC_TIME - 5, as_double=40.0)
    exemplar.trace_id, exemplar.span_id = bytes(range(1, 17)), bytes([7] * 8)
    exponential = metric("payload.size", "By").exponential_histogram
    exponential.aggregation_temporality = 1  # type: ignore[assignment]
    epoint = exponential.data_points.add(
        start_time_unix_nano=METRIC_START, time_unix_nano=METRIC_TIME, count=5, sum=31.0,
        scale=1, zero_count=1,
    )  # fmt: skip
    epoint.positive.offset = 2
    epoint.positive.bucket_counts.extend([3, 0, 1])
    summary = metric("gc.pause", "s").summary
    spoint = summary.data_points.add(
        start_time_unix_nano=METRIC_START, time_unix_nano=METRIC_TIME, count=10, sum=1.5
    )
    spoint.quantile_values.add(quantile=0.5, value=0.1)
    spoint.quantile_values.add(quantile=0.99, value=0.4)
    return request


def otlp_event(
    body: bytes,
    *,
    signal: str = "logs",
    content_type: str = PROTOBUF,
    gzipped: bool = False,
    headers: dict[str, str | None] | None = None,
    method: str = "POST",
    path: str | None = None,
) -> dict[str, Any]:
    """What API Gateway's /otlp/{proxy+} route hands the OTLP function."""
    raw = gzip.compress(body) if gzipped else body
    merged: dict[str, str | None] = {
        "content-type": content_type,
        "x-api-key": SAMPLE_KEY,
        "x-service": None,
        "content-encoding": "gzip" if gzipped else None,
        **(headers or {}),
    }
    path = path or f"/otlp/v1/{signal}"
    event = http_event(raw, headers=merged, method=method, path=path)
    # API Gateway base64-encodes every body that is not text (protobuf, gzip).
    if not gzipped and content_type == JSON:
        # Not UTF-8: passed on base64-encoded, as the local gateway does.
        with contextlib.suppress(UnicodeDecodeError):
            event["body"], event["isBase64Encoded"] = raw.decode(), False
    event["routeKey"] = event["requestContext"]["routeKey"] = "ANY /otlp/{proxy+}"
    event["pathParameters"] = {"proxy": path.removeprefix("/otlp/")}
    return event


def response_bytes(response: dict[str, Any]) -> bytes:
    body = response.get("body") or ""
    return base64.b64decode(body) if response.get("isBase64Encoded") else body.encode()


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field (wire type 2)."""
    size, length = b"", len(payload)
    while True:
        byte, length = length & 0x7F, length >> 7
        size += bytes([byte | (0x80 if length else 0)])
        if not length:
            break
    return bytes([number << 3 | 2]) + size + payload


def deeply_nested_logs(depth: int) -> bytes:
    """An ExportLogsServiceRequest whose one body nests ``depth`` key-value lists."""
    value = _field(1, b"bottom")  # AnyValue.string_value
    for _ in range(depth):
        key_value = _field(1, b"k") + _field(2, value)  # KeyValue
        value = _field(6, _field(1, key_value))  # AnyValue.kvlist_value.values
    record = _field(5, value)  # LogRecord.body
    return _field(1, _field(2, _field(2, record)))  # resource_logs.scope_logs.log_records
