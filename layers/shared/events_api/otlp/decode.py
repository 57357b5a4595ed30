"""OTLP/HTTP request bodies -> the maintained protobuf request classes.

Both encodings end in the same ``Export*ServiceRequest`` message, so one flattening path
serves them. Protobuf bodies go straight to the upb parser. JSON bodies follow the OTLP/JSON
rules, which differ from protobuf's canonical JSON mapping in one place: trace and span ids
(of log records, spans, links and metric exemplars) are hex, not base64. Those ids are
rewritten to base64 before ``ParseDict`` (which already accepts lowerCamelCase keys, int64
as strings or numbers, and enums as integers); unknown fields are ignored as the
specification asks.

``SIGNALS`` is the one list of the signals served: each one's path, messages, id rules and
flattening, which the service, the tests, the fuzz target and the benchmarks all use.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from ..errors import BadRequest, UnsupportedMediaType
from .flatten import Flattened, flatten_logs, flatten_traces
from .flatten_metrics import flatten_metrics

#: Protobuf's parsers stop here; OTLP data nests a few levels per AnyValue.
MAX_JSON_DEPTH = 100


class Encoding(Enum):
    PROTOBUF = "application/x-protobuf"
    JSON = "application/json"


def encoding_of(content_type: str | None) -> Encoding:
    """The body's encoding from its Content-Type; 415 for anything else."""
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type in ("application/x-protobuf", "application/protobuf"):
        return Encoding.PROTOBUF
    if media_type == "application/json":
        return Encoding.JSON
    raise UnsupportedMediaType("Content-Type must be application/x-protobuf or application/json")


def _hex_to_base64(value: object, where: str) -> object:
    if not isinstance(value, str):
        return value  # ParseDict rejects a non-string for a bytes field itself
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise BadRequest(f"{where} is not a hex string: {value[:64]!r}") from None
    return base64.b64encode(raw).decode("ascii")


def _rewrite_ids(items: object, keys: tuple[str, ...], where: str) -> None:
    if not isinstance(items, list):
        return
    for item in items:
        if isinstance(item, dict):
            for key in keys:
                if key in item:
                    item[key] = _hex_to_base64(item[key], f"{where}.{key}")


def _children(parent: object, *names: str) -> list[Any]:
    """The list under the first of ``names`` present (lowerCamelCase or the proto name)."""
    if not isinstance(parent, dict):
        return []
    for name in names:
        value = parent.get(name)
        if isinstance(value, list):
            return value
    return []


_LOG_IDS = ("traceId", "spanId", "trace_id", "span_id")
_SPAN_IDS = (*_LOG_IDS, "parentSpanId", "parent_span_id")


def _hex_ids_logs(document: dict[str, Any]) -> None:
    for resource in _children(document, "resourceLogs", "resource_logs"):
        for scope in _children(resource, "scopeLogs", "scope_logs"):
            _rewrite_ids(_children(scope, "logRecords", "log_records"), _LOG_IDS, "logRecord")


def _hex_ids_traces(document: dict[str, Any]) -> None:
    for resource in _children(document, "resourceSpans", "resource_spans"):
        for scope in _children(resource, "scopeSpans", "scope_spans"):
            spans = _children(scope, "spans")
            _rewrite_ids(spans, _SPAN_IDS, "span")
            for span in spans:
                _rewrite_ids(_children(span, "links"), _LOG_IDS, "link")


#: Metric.data's members, as OTLP/JSON (and protobuf's JSON parser) name them.
_METRIC_DATA = ("gauge", "sum", "histogram", "exponentialHistogram", "exponential_histogram")


def _hex_ids_metrics(document: dict[str, Any]) -> None:
    """Exemplars carry the only ids in a metrics request."""
    for resource in _children(document, "resourceMetrics", "resource_metrics"):
        for scope in _children(resource, "scopeMetrics", "scope_metrics"):
            for metric in _children(scope, "metrics"):
                if not isinstance(metric, dict):
                    continue
                for data in (metric.get(name) for name in _METRIC_DATA):
                    for point in _children(data, "dataPoints", "data_points"):
                        _rewrite_ids(_children(point, "exemplars"), _LOG_IDS, "exemplar")


@dataclass(frozen=True, slots=True)
class Signal:
    """One OTLP signal this API takes: its path, request and response classes, how its
    items become events, and what its items are called (in counts of rejected ones)."""

    name: str
    path: str
    request: type[Message]
    response: type[Message]
    rejected_field: str
    rejected_json: str
    rewrite_ids: Callable[[dict[str, Any]], None]
    flatten: Callable[[Any], Flattened]
    items: str


LOGS = Signal(
    "logs",
    "/otlp/v1/logs",
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
    "rejected_log_records",
    "rejectedLogRecords",
    _hex_ids_logs,
    flatten_logs,
    "log records",
)
TRACES = Signal(
    "traces",
    "/otlp/v1/traces",
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
    "rejected_spans",
    "rejectedSpans",
    _hex_ids_traces,
    flatten_traces,
    "spans",
)
METRICS = Signal(
    "metrics",
    "/otlp/v1/metrics",
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
    "rejected_data_points",
    "rejectedDataPoints",
    _hex_ids_metrics,
    flatten_metrics,
    "data points",
)
SIGNALS = {signal.path: signal for signal in (LOGS, TRACES, METRICS)}


def decode(signal: Signal, body: bytes, encoding: Encoding) -> Message:
    """The request message; 400 for a body that is not one."""
    message = signal.request()
    if encoding is Encoding.PROTOBUF:
        try:
            message.ParseFromString(body)
        except (DecodeError, RecursionError) as exc:
            raise BadRequest(f"body is not a valid {signal.request.__name__}: {exc}") from None
        return message
    if not body.strip():
        # An empty JSON body is not the empty message: JSON needs at least "{}".
        raise BadRequest("the body is empty")
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"body is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise BadRequest(f"body must be a JSON object ({signal.request.__name__})")
    signal.rewrite_ids(document)
    try:
        json_format.ParseDict(
            document, message, ignore_unknown_fields=True, max_recursion_depth=MAX_JSON_DEPTH
        )
    except (json_format.ParseError, RecursionError, ValueError, TypeError) as exc:
        raise BadRequest(f"body is not a valid {signal.request.__name__}: {exc}") from None
    return message
