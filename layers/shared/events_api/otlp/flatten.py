"""OTLP logs and spans -> flat events, one per log record and one per span.

The mapping is documented in docs/otlp.md. Attributes are flattened with dotted keys
(nested key-value lists too), the record's over its scope's over its resource's; the
OTLP fields this module names (``message``, ``level``, ``traceId``, ...) win over any
attribute of the same name. ``service.name`` becomes the event's ``service`` (which the
consumer stores as ``_service``) and the record's time its ``timestamp`` (RFC 3339 with
nanoseconds, which the consumer stores as ``_timestamp``).

What every signal shares (``Flattened``, the attributes, the resource and scope context,
times, ids and enum names) lives here; ``flatten_metrics`` builds data points' events
from it.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from ..settings import MAX_EVENT_BYTES

TRACE_ID_BYTES = 16
SPAN_ID_BYTES = 8
#: OTLP severity numbers come in six bands of four (TRACE 1-4 ... FATAL 21-24).
_SEVERITY_BANDS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
_SPAN_KINDS = ("unspecified", "internal", "server", "client", "producer", "consumer")
_STATUS_CODES = ("unset", "ok", "error")
_STATUS_ERROR = 2
#: How many distinct reasons the partial-success message quotes.
_REASONS_QUOTED = 3
_SECONDS: dict[int, str] = {}
_SECONDS_LIMIT = 1 << 14


@dataclass(slots=True)
class Flattened:
    """The events of one request (JSON text, each one line) and what could not be stored."""

    events: list[bytes] = field(default_factory=list)
    rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    event_bytes: int = 0

    def reject(self, reason: str) -> None:
        self.rejected += 1
        self.reasons[reason] = self.reasons.get(reason, 0) + 1

    def add(self, event: dict[str, Any], noun: str) -> None:
        text = orjson.dumps(event)
        if len(text) > MAX_EVENT_BYTES:
            self.reject(f"a flattened {noun} is larger than the {MAX_EVENT_BYTES}-byte event limit")
            return
        self.events.append(text)
        self.event_bytes += len(text)

    def error_message(self, noun: str) -> str:
        if not self.rejected:
            return ""
        quoted = "; ".join(
            f"{reason} ({count})" for reason, count in list(self.reasons.items())[:_REASONS_QUOTED]
        )
        return f"{self.rejected} {noun} rejected: {quoted}"


def rfc3339_nanos(unix_nano: int) -> str:
    """``YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`` (uint64 nanoseconds end in 2554: always valid)."""
    seconds, nanos = divmod(unix_nano, 1_000_000_000)
    prefix = _SECONDS.get(seconds)
    if prefix is None:
        if len(_SECONDS) >= _SECONDS_LIMIT:
            _SECONDS.clear()
        prefix = _SECONDS[seconds] = datetime.fromtimestamp(seconds, UTC).strftime(
            "%Y-%m-%dT%H:%M:%S"
        )
    return f"{prefix}.{nanos:09d}Z"


#: AnyValue members that are plain JSON as they are (one getattr, no conversion).
_SCALARS = frozenset({"string_value", "int_value", "double_value", "bool_value"})


def value_of(value: AnyValue) -> Any:
    """An AnyValue as plain JSON data (bytes as base64, as OTLP/JSON writes them).

    Doubles stay floats: NaN and the infinities become null in the JSON text."""
    kind = value.WhichOneof("value")
    if kind in _SCALARS:
        return getattr(value, kind)
    if kind == "kvlist_value":
        return {item.key: value_of(item.value) for item in value.kvlist_value.values}
    if kind == "array_value":
        return [value_of(item) for item in value.array_value.values]
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    return None  # unset, or a string-table index (profiles only)


def flatten_attributes(
    into: dict[str, Any], attributes: Iterable[KeyValue], prefix: str = ""
) -> None:
    """Dotted keys: ``{"http": {"method": "GET"}}`` is ``http.method``; arrays stay arrays."""
    scalars = _SCALARS
    for attribute in attributes:
        value = attribute.value
        kind = value.WhichOneof("value")
        if kind in scalars:
            into[prefix + attribute.key] = getattr(value, kind)
        elif kind == "kvlist_value":
            flatten_attributes(into, value.kvlist_value.values, f"{prefix}{attribute.key}.")
        else:
            into[prefix + attribute.key] = value_of(value)


def shared_fields(resource: Resource, scope: InstrumentationScope | None) -> dict[str, Any]:
    """What every record of a scope shares: resource attributes, then scope attributes.

    ``service`` (from ``service.name``) is set again after each record's own attributes."""
    shared: dict[str, Any] = {}
    flatten_attributes(shared, resource.attributes)
    if scope is not None:
        flatten_attributes(shared, scope.attributes)
        if scope.name:
            shared["otel.scope.name"] = scope.name
        if scope.version:
            shared["otel.scope.version"] = scope.version
    service = shared.get("service.name")
    if isinstance(service, str) and service:
        shared["service"] = service
    return shared


def keep_service(event: dict[str, Any], shared: dict[str, Any]) -> None:
    if "service" in shared:
        event["service"] = shared["service"]


def enum_name(names: tuple[str, ...], value: int) -> str:
    """An OTLP enum's value by its name in ``names``; one this API does not know as its number."""
    return names[value] if 0 <= value < len(names) else str(value)


def _message(body: AnyValue) -> Any:
    """The log body as text: a string as it is, anything else as its JSON text."""
    value = value_of(body)
    if value is None or isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def _band(severity_number: int) -> str | None:
    """The severity number's band name (1-4 TRACE ... 21-24 FATAL), None outside them."""
    if 1 <= severity_number <= 4 * len(_SEVERITY_BANDS):
        return _SEVERITY_BANDS[(severity_number - 1) // 4]
    return None


def id_problem(raw: bytes, size: int, name: str, required: bool) -> str | None:
    if len(raw) == size or (not raw and not required):
        return None
    if not raw:
        return f"{name} is empty"
    return f"{name} is {len(raw)} bytes, not {size}"


def _log_event(
    shared: dict[str, Any], record: LogRecord, trace_id: bytes, span_id: bytes
) -> dict[str, Any]:
    event = dict(shared)
    flatten_attributes(event, record.attributes)
    keep_service(event, shared)
    event["meta.signal_type"] = "log"
    moment = record.time_unix_nano or record.observed_time_unix_nano
    if moment:
        event["timestamp"] = rfc3339_nanos(moment)
    if record.HasField("body"):
        body = record.body
        event["message"] = (
            body.string_value if body.WhichOneof("value") == "string_value" else _message(body)
        )
    severity = record.severity_number
    level = record.severity_text or _band(severity)
    if level:
        event["level"] = level
    if severity:
        event["severityNumber"] = severity
    if trace_id:
        event["traceId"] = trace_id.hex()
    if span_id:
        event["spanId"] = span_id.hex()
    flags = record.flags
    if flags:
        event["flags"] = flags
    name = record.event_name
    if name:
        event["eventName"] = name
    return event


def flatten_logs(request: ExportLogsServiceRequest) -> Flattened:
    out = Flattened()
    for resource_logs in request.resource_logs:
        for scope_logs in resource_logs.scope_logs:
            scope = scope_logs.scope if scope_logs.HasField("scope") else None
            shared = shared_fields(resource_logs.resource, scope)
            for record in scope_logs.log_records:
                trace_id, span_id = record.trace_id, record.span_id
                problem = id_problem(trace_id, TRACE_ID_BYTES, "traceId", False) or id_problem(
                    span_id, SPAN_ID_BYTES, "spanId", False
                )
                if problem:
                    out.reject(f"log record {problem}")
                    continue
                out.add(_log_event(shared, record, trace_id, span_id), "log record")
    return out


def attributes_of(attributes: Iterable[KeyValue]) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    flatten_attributes(flat, attributes)
    return flat


def _span_event(shared: dict[str, Any], span: Span) -> dict[str, Any]:
    event = dict(shared)
    flatten_attributes(event, span.attributes)
    keep_service(event, shared)
    event["meta.signal_type"] = "trace"
    if span.start_time_unix_nano:
        event["timestamp"] = rfc3339_nanos(span.start_time_unix_nano)
    event["name"] = span.name
    event["kind"] = enum_name(_SPAN_KINDS, span.kind)
    event["traceId"] = span.trace_id.hex()
    event["spanId"] = span.span_id.hex()
    if span.parent_span_id:
        event["parentSpanId"] = span.parent_span_id.hex()
    if span.trace_state:
        event["traceState"] = span.trace_state
    if span.start_time_unix_nano and span.end_time_unix_nano >= span.start_time_unix_nano:
        event["durationMs"] = (span.end_time_unix_nano - span.start_time_unix_nano) / 1e6
    code = span.status.code
    event["statusCode"] = enum_name(_STATUS_CODES, code)
    if span.status.message:
        event["statusMessage"] = span.status.message
    if code == _STATUS_ERROR:
        event["error"] = True
    if span.events:
        event["events"] = [
            {
                "name": item.name,
                "timestamp": rfc3339_nanos(item.time_unix_nano),
                "attributes": attributes_of(item.attributes),
            }
            for item in span.events
        ]
    if span.links:
        links = []
        for link in span.links:
            entry: dict[str, Any] = {
                "traceId": link.trace_id.hex(),
                "spanId": link.span_id.hex(),
                "attributes": attributes_of(link.attributes),
            }
            if link.trace_state:
                entry["traceState"] = link.trace_state
            links.append(entry)
        event["links"] = links
    return event


def _span_problem(span: Span) -> str | None:
    return (
        id_problem(span.trace_id, TRACE_ID_BYTES, "traceId", True)
        or id_problem(span.span_id, SPAN_ID_BYTES, "spanId", True)
        or id_problem(span.parent_span_id, SPAN_ID_BYTES, "parentSpanId", False)
    )


def flatten_traces(request: ExportTraceServiceRequest) -> Flattened:
    out = Flattened()
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            scope = scope_spans.scope if scope_spans.HasField("scope") else None
            shared = shared_fields(resource_spans.resource, scope)
            for span in scope_spans.spans:
                problem = _span_problem(span)
                if problem:
                    out.reject(f"span {problem}")
                    continue
                out.add(_span_event(shared, span), "span")
    return out
