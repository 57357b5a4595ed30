"""OTLP decoding and flattening: the specification's examples, both encodings, the edges."""

from __future__ import annotations

import base64
import json
import sys
from typing import Any

import msgspec
import orjson
import pytest
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValueList

from events_api.errors import ApiError, BadRequest, PayloadTooLarge, UnsupportedMediaType
from events_api.otlp import answers
from events_api.otlp.decode import LOGS, TRACES, Encoding, decode, encoding_of
from events_api.otlp.flatten import flatten_logs, flatten_traces, rfc3339_nanos, value_of
from events_api.settings import MAX_EVENT_BYTES
from events_api.timestamps import normalise_timestamp
from tests.otlp_support import (
    SPEC_LOG_EVENT,
    SPEC_SPAN_EVENT,
    attribute,
    deeply_nested_logs,
    logs_request,
    spec_logs,
    spec_trace,
    string_value,
    traces_request,
)

pytestmark = pytest.mark.unit


def json_logs(document: dict[str, Any]) -> ExportLogsServiceRequest:
    message = decode(LOGS, orjson.dumps(document), Encoding.JSON)
    assert isinstance(message, ExportLogsServiceRequest)
    return message


def json_traces(document: dict[str, Any]) -> ExportTraceServiceRequest:
    message = decode(TRACES, orjson.dumps(document), Encoding.JSON)
    assert isinstance(message, ExportTraceServiceRequest)
    return message


def events(flattened: Any) -> list[dict[str, Any]]:
    return [json.loads(event) for event in flattened.events]


# ---------------------------------------------------------------- the specification's examples


def test_spec_log_example_becomes_one_flat_event() -> None:
    flattened = flatten_logs(json_logs(spec_logs()))
    assert events(flattened) == [SPEC_LOG_EVENT]
    assert flattened.rejected == 0


def test_spec_trace_example_becomes_one_flat_event() -> None:
    flattened = flatten_traces(json_traces(spec_trace()))
    assert events(flattened) == [SPEC_SPAN_EVENT]


def test_protobuf_and_json_of_the_same_request_flatten_to_the_same_bytes() -> None:
    from_json = json_logs(spec_logs())
    from_protobuf = decode(LOGS, from_json.SerializeToString(), Encoding.PROTOBUF)
    assert isinstance(from_protobuf, ExportLogsServiceRequest)
    assert flatten_logs(from_protobuf).events == flatten_logs(from_json).events
    spans = json_traces(spec_trace())
    again = decode(TRACES, spans.SerializeToString(), Encoding.PROTOBUF)
    assert isinstance(again, ExportTraceServiceRequest)
    assert flatten_traces(again).events == flatten_traces(spans).events


def test_stored_timestamp_is_the_records_time_to_the_millisecond() -> None:
    (event,) = events(flatten_logs(json_logs(spec_logs())))
    raw = msgspec.Raw(orjson.dumps(event["timestamp"]))
    assert normalise_timestamp(raw) == "2018-12-13T14:51:00.300Z"


# ---------------------------------------------------------------- OTLP/JSON rules


def test_json_ids_are_hex_in_either_case() -> None:
    document = spec_logs()
    record = document["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]
    record["traceId"] = record["traceId"].lower()
    (event,) = events(flatten_logs(json_logs(document)))
    assert event["traceId"] == "5b8efff798038103d269b633813fc60c"


@pytest.mark.parametrize("bad", ["not-hex", "5B8EF", "W47/95gDgQPSabYzgT/GDA=="])
def test_json_ids_that_are_not_hex_are_a_bad_request(bad: str) -> None:
    document = spec_trace()
    document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["spanId"] = bad
    with pytest.raises(BadRequest, match=r"span\.spanId is not a hex string"):
        json_traces(document)


def test_json_link_ids_are_hex_too() -> None:
    document = spec_trace()
    span = document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    span["links"] = [{"traceId": "0102030405060708090a0b0c0d0e0f10", "spanId": "1112131415161718"}]
    (event,) = events(flatten_traces(json_traces(document)))
    assert event["links"] == [
        {
            "traceId": "0102030405060708090a0b0c0d0e0f10",
            "spanId": "1112131415161718",
            "attributes": {},
        }
    ]


def test_json_int64_may_be_a_string_or_a_number() -> None:
    as_number = spec_logs()
    record = as_number["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]
    record["timeUnixNano"] = 1544712660300000000
    record["attributes"][2]["value"]["intValue"] = 10
    assert flatten_logs(json_logs(as_number)).events == flatten_logs(json_logs(spec_logs())).events


@pytest.mark.parametrize("value", ["99999999999999999999999", "1e400", "ten"])
def test_json_int64_out_of_range_or_not_a_number_is_a_bad_request(value: str) -> None:
    document = spec_logs()
    document["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]["timeUnixNano"] = value
    with pytest.raises(BadRequest, match="not a valid ExportLogsServiceRequest"):
        json_logs(document)


def test_json_unknown_fields_are_ignored_at_every_level() -> None:
    document = spec_logs()
    document["future"] = {"x": 1}
    document["resourceLogs"][0]["schemaUrlV2"] = "x"
    document["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]["newField"] = [1, 2]
    assert events(flatten_logs(json_logs(document))) == [SPEC_LOG_EVENT]


def test_protobuf_unknown_fields_are_ignored() -> None:
    body = logs_request("hello").SerializeToString() + b"\xf8\x07\x01"  # field 127, varint
    message = decode(LOGS, body, Encoding.PROTOBUF)
    assert isinstance(message, ExportLogsServiceRequest)
    assert [e["message"] for e in events(flatten_logs(message))] == ["hello"]


@pytest.mark.parametrize(
    ("body", "encoding"),
    [
        (logs_request("hello").SerializeToString()[:-3], Encoding.PROTOBUF),
        (b"\x0a\x05\x08\x01", Encoding.PROTOBUF),  # a length past the end
        (b"\x0b\x00", Encoding.PROTOBUF),  # start-group wire type where a message is
        (b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", Encoding.PROTOBUF),
        (b"", Encoding.JSON),
        (b"[]", Encoding.JSON),
        (b"{", Encoding.JSON),
        (b'{"resourceLogs": 5}', Encoding.JSON),
        (b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"body": 1}]}]}]}', Encoding.JSON),
    ],
)
def test_undecodable_bodies_are_a_bad_request(body: bytes, encoding: Encoding) -> None:
    with pytest.raises(BadRequest):
        decode(LOGS, body, encoding)


def test_an_empty_protobuf_body_is_an_empty_request() -> None:
    message = decode(LOGS, b"", Encoding.PROTOBUF)
    assert isinstance(message, ExportLogsServiceRequest)
    flattened = flatten_logs(message)
    assert (flattened.events, flattened.rejected) == ([], 0)


def nested(depth: int) -> AnyValue:
    value = string_value("bottom")
    for _ in range(depth):
        value = AnyValue(kvlist_value=KeyValueList(values=[attribute("k", value)]))
    return value


def test_deeply_nested_any_value_is_a_bad_request_in_either_encoding() -> None:
    # upb will not even build such a message, so its bytes are written out by hand.
    body = deeply_nested_logs(200)
    with pytest.raises(BadRequest, match="not a valid ExportLogsServiceRequest"):
        decode(LOGS, body, Encoding.PROTOBUF)
    value: dict[str, Any] = {"stringValue": "bottom"}
    for _ in range(60):  # 180 messages deep: past ParseDict's limit, within orjson's
        value = {"kvlistValue": {"values": [{"key": "k", "value": value}]}}
    document = spec_logs()
    document["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]["body"] = value
    with pytest.raises(BadRequest, match="not a valid ExportLogsServiceRequest"):
        json_logs(document)


def test_nesting_within_the_parsers_limit_flattens() -> None:
    (event,) = events(flatten_logs(decode(LOGS, deeply_nested_logs(20), Encoding.PROTOBUF)))
    text = event["message"]
    assert text.count('{"k":') == 20


def test_json_nested_past_the_parsers_limit_is_a_bad_request() -> None:
    with pytest.raises(BadRequest, match="not valid JSON"):
        decode(LOGS, b'{"a":' * 2000 + b"1" + b"}" * 2000, Encoding.JSON)


# ---------------------------------------------------------------- the mapping


def test_nested_attributes_flatten_with_dots_and_arrays_stay_arrays() -> None:
    request = logs_request("x")
    record = request.resource_logs[0].scope_logs[0].log_records[0]
    record.attributes.append(attribute("http", nested(0)))
    inner = AnyValue(kvlist_value=KeyValueList(values=[attribute("method", string_value("GET"))]))
    record.attributes.append(
        attribute("req", AnyValue(kvlist_value=KeyValueList(values=[attribute("http", inner)])))
    )
    array = AnyValue()
    array.array_value.values.add().CopyFrom(inner)
    array.array_value.values.add().bytes_value = b"\x00\xff"
    record.attributes.append(attribute("list", array))
    (event,) = events(flatten_logs(request))
    assert event["http"] == "bottom"
    assert event["req.http.method"] == "GET"
    assert event["list"] == [{"method": "GET"}, base64.b64encode(b"\x00\xff").decode()]


def test_record_attributes_win_over_scope_over_resource_and_otlp_fields_over_all() -> None:
    request = logs_request("the body", service="svc")
    resource = request.resource_logs[0].resource
    scope = request.resource_logs[0].scope_logs[0].scope
    record = request.resource_logs[0].scope_logs[0].log_records[0]
    for key in ("a", "b", "c"):
        resource.attributes.append(attribute(key, string_value("resource")))
    for key in ("b", "c"):
        scope.attributes.append(attribute(key, string_value("scope")))
    record.attributes.append(attribute("c", string_value("record")))
    record.attributes.append(attribute("message", string_value("an attribute")))
    record.attributes.append(attribute("service", string_value("an attribute")))
    (event,) = events(flatten_logs(request))
    assert (event["a"], event["b"], event["c"]) == ("resource", "scope", "record")
    assert event["message"] == "the body"
    assert event["service"] == "svc"


@pytest.mark.parametrize(
    ("number", "level"),
    [(0, None), (1, "TRACE"), (5, "DEBUG"), (9, "INFO"), (12, "INFO"), (13, "WARN"),
     (17, "ERROR"), (21, "FATAL"), (24, "FATAL"), (25, None)],
)  # fmt: skip
def test_level_is_the_severity_text_else_the_severity_numbers_band(
    number: int, level: str | None
) -> None:
    request = logs_request("x")
    record = request.resource_logs[0].scope_logs[0].log_records[0]
    record.severity_number = number  # type: ignore[assignment]
    (event,) = events(flatten_logs(request))
    assert event.get("level") == level
    record.severity_text = "Warning"
    (event,) = events(flatten_logs(request))
    assert event["level"] == "Warning"


def test_non_string_bodies_become_their_json_text() -> None:
    request = logs_request("x")
    record = request.resource_logs[0].scope_logs[0].log_records[0]
    record.body.CopyFrom(
        AnyValue(kvlist_value=KeyValueList(values=[attribute("k", string_value("v"))]))
    )
    (event,) = events(flatten_logs(request))
    assert event["message"] == '{"k":"v"}'


def test_log_time_falls_back_to_observed_time_then_to_receive_time() -> None:
    request = logs_request("x")
    record = request.resource_logs[0].scope_logs[0].log_records[0]
    record.time_unix_nano = 0
    record.observed_time_unix_nano = 1_000_000_001
    (event,) = events(flatten_logs(request))
    assert event["timestamp"] == "1970-01-01T00:00:01.000000001Z"
    record.observed_time_unix_nano = 0
    (event,) = events(flatten_logs(request))
    assert "timestamp" not in event  # the consumer stores _receivedAt as _timestamp


def test_span_fields_events_links_and_error_status() -> None:
    request = traces_request("GET /")
    span = request.resource_spans[0].scope_spans[0].spans[0]
    span.parent_span_id = b"\x09" * 8
    span.trace_state = "vendor=1"
    span.status.code = 2  # type: ignore[assignment]
    span.status.message = "boom"
    item = span.events.add()
    item.name = "exception"
    item.time_unix_nano = 1_795_694_400_100_000_000
    item.attributes.append(attribute("exception.type", string_value("ValueError")))
    link = span.links.add()
    link.trace_id = b"\x01" * 16
    link.span_id = b"\x02" * 8
    link.trace_state = "t=1"
    (event,) = events(flatten_traces(request))
    assert event == {
        "service.name": "checkout",
        "service": "checkout",
        "otel.scope.name": "tests",
        "meta.signal_type": "trace",
        "timestamp": "2026-11-26T12:00:00.000000000Z",
        "name": "GET /",
        "kind": "client",
        "traceId": "0102030405060708090a0b0c0d0e0f10",
        "spanId": "0101010101010101",
        "parentSpanId": "0909090909090909",
        "traceState": "vendor=1",
        "durationMs": 250.0,
        "statusCode": "error",
        "statusMessage": "boom",
        "error": True,
        "events": [
            {
                "name": "exception",
                "timestamp": "2026-11-26T12:00:00.100000000Z",
                "attributes": {"exception.type": "ValueError"},
            }
        ],
        "links": [
            {
                "traceId": "01" * 16,
                "spanId": "02" * 8,
                "attributes": {},
                "traceState": "t=1",
            }
        ],
    }


# ---------------------------------------------------------------- items that cannot be stored


def test_spans_with_invalid_ids_are_rejected_and_the_rest_kept() -> None:
    request = traces_request("ok", "no trace", "short span", "short parent")
    spans = request.resource_spans[0].scope_spans[0].spans
    spans[1].trace_id = b""
    spans[2].span_id = b"\x01\x02"
    spans[3].parent_span_id = b"\x01"
    flattened = flatten_traces(request)
    assert [e["name"] for e in events(flattened)] == ["ok"]
    assert flattened.rejected == 3
    assert flattened.error_message("spans") == (
        "3 spans rejected: span traceId is empty (1); span spanId is 2 bytes, not 8 (1); "
        "span parentSpanId is 1 bytes, not 8 (1)"
    )


def test_log_records_with_wrong_length_ids_are_rejected_but_empty_ids_are_fine() -> None:
    request = logs_request("no ids", "bad trace")
    request.resource_logs[0].scope_logs[0].log_records[1].trace_id = b"\x01" * 8
    flattened = flatten_logs(request)
    assert [e["message"] for e in events(flattened)] == ["no ids"]
    assert flattened.error_message("log records") == (
        "1 log records rejected: log record traceId is 8 bytes, not 16 (1)"
    )


def test_a_flattened_event_over_256_kib_is_rejected_and_the_rest_kept() -> None:
    request = logs_request("small", "x" * MAX_EVENT_BYTES, "also small")
    flattened = flatten_logs(request)
    assert [e["message"] for e in events(flattened)] == ["small", "also small"]
    assert flattened.rejected == 1
    assert "larger than the 262144-byte event limit" in flattened.error_message("log records")
    assert all(len(event) <= MAX_EVENT_BYTES for event in flattened.events)


def test_values_are_plain_json() -> None:
    assert value_of(AnyValue(double_value=float("nan"))) != value_of(AnyValue())  # NaN kept
    assert orjson.dumps({"v": value_of(AnyValue(double_value=float("inf")))}) == b'{"v":null}'
    assert value_of(AnyValue(int_value=-(2**63))) == -(2**63)
    assert rfc3339_nanos(2**64 - 1) == "2554-07-21T23:34:33.709551615Z"


# ---------------------------------------------------------------- content types and answers


@pytest.mark.parametrize(
    ("header", "encoding"),
    [
        ("application/x-protobuf", Encoding.PROTOBUF),
        ("Application/X-Protobuf; charset=binary", Encoding.PROTOBUF),
        ("application/protobuf", Encoding.PROTOBUF),
        ("application/json", Encoding.JSON),
        ("application/json; charset=utf-8", Encoding.JSON),
    ],
)
def test_otlp_content_types(header: str, encoding: Encoding) -> None:
    assert encoding_of(header) is encoding


@pytest.mark.parametrize("header", [None, "", "text/plain", "application/x-ndjson"])
def test_other_content_types_are_unsupported(header: str | None) -> None:
    with pytest.raises(UnsupportedMediaType):
        encoding_of(header)


def test_full_success_is_an_empty_partial_success_in_either_encoding() -> None:
    response = answers.success(LOGS, Encoding.PROTOBUF, 0, "")
    assert (response["statusCode"], response["isBase64Encoded"]) == (200, True)
    assert response["headers"] == {"content-type": "application/x-protobuf"}
    parsed = ExportLogsServiceResponse.FromString(base64.b64decode(response["body"]))
    assert parsed.HasField("partial_success")
    assert parsed.partial_success.rejected_log_records == 0
    response = answers.success(TRACES, Encoding.JSON, 0, "")
    assert response["headers"] == {"content-type": "application/json"}
    assert json.loads(response["body"]) == {"partialSuccess": {}}


def test_partial_success_counts_rejected_items_in_either_encoding() -> None:
    response = answers.success(TRACES, Encoding.PROTOBUF, 2, "2 spans rejected")
    parsed = ExportTraceServiceResponse.FromString(base64.b64decode(response["body"]))
    assert parsed.partial_success.rejected_spans == 2
    assert parsed.partial_success.error_message == "2 spans rejected"
    response = answers.success(LOGS, Encoding.JSON, 3, "why")
    assert json.loads(response["body"]) == {
        "partialSuccess": {"rejectedLogRecords": 3, "errorMessage": "why"}
    }


@pytest.mark.parametrize(
    ("error", "code", "message"),
    [
        (BadRequest("the body is empty"), 3, "Bad Request: the body is empty"),
        (PayloadTooLarge("too big"), 3, "Payload Too Large: too big"),
        (ApiError(), 13, "Internal Error"),
    ],
)
def test_failures_are_a_google_rpc_status_in_either_encoding(
    error: ApiError, code: int, message: str
) -> None:
    response = answers.failure(error, Encoding.PROTOBUF)
    assert response["statusCode"] == error.status
    status = Status.FromString(base64.b64decode(response["body"]))
    assert (status.code, status.message) == (code, message)
    response = answers.failure(error, Encoding.JSON)
    assert json.loads(response["body"]) == {"code": code, "message": message}


# ---------------------------------------------------------------- the Events API pays nothing


def test_the_ingest_function_never_loads_protobuf() -> None:
    """A fresh interpreter importing functions/ingest/app.py, as Lambda's init does."""
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    probe = (
        "import sys, runpy; sys.path.insert(0, 'layers/shared');"
        "runpy.run_path('functions/ingest/app.py');"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('google', 'opentelemetry') or m.startswith('events_api.otlp')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=root, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
