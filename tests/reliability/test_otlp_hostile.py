"""Hostile OTLP input through the real OTLP handler and the real consumer, plus hypothesis.

Every request gets 200 (full or partial success) or a 4xx, never a 5xx and never an
exception; the answer is in the request's encoding; every item it did not count as
rejected is on the buffer, and the consumer stores every one of them.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from google.rpc.status_pb2 import Status
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from events_api import batch, records
from events_api.errors import ApiError
from events_api.otlp.decode import LOGS, TRACES, Encoding, decode
from events_api.otlp.flatten import flatten_logs, flatten_traces
from events_api.settings import MAX_EVENT_BYTES
from tests.integration.conftest import Stack, kinesis_event, sqs_event
from tests.otlp_support import (
    JSON,
    PROTOBUF,
    attribute,
    deeply_nested_logs,
    logs_request,
    otlp_event,
    response_bytes,
    spec_logs,
    spec_trace,
    traces_request,
)
from tests.reliability.support import SCALE, record, scaled
from tests.support import FakeLambdaContext

pytestmark = pytest.mark.integration

MIB = 1024 * 1024
ANSWERS = (200, 400, 404, 405, 413, 415)


@dataclass
class Case:
    name: str
    body: bytes
    signal: str = "logs"
    content_type: str = PROTOBUF
    headers: dict[str, str | None] = field(default_factory=dict)
    expect: int | None = None  # None: 200 or a 4xx
    rejected: int | None = None  # items a 200 must count as rejected


def _spans_with(**changes: bytes) -> bytes:
    request = traces_request("kept", "changed")
    span = request.resource_spans[0].scope_spans[0].spans[1]
    for name, value in changes.items():
        setattr(span, name, value)
    return request.SerializeToString()


def _json_trace_with(**changes: Any) -> bytes:
    document = spec_trace()
    document["resourceSpans"][0]["scopeSpans"][0]["spans"][0].update(changes)
    return orjson.dumps(document)


def _json_log_with(**changes: Any) -> bytes:
    document = spec_logs()
    document["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0].update(changes)
    return orjson.dumps(document)


def corpus() -> Iterator[Case]:
    valid = logs_request("a", "b").SerializeToString()
    yield Case("truncated protobuf", valid[:-5], expect=400)
    yield Case("truncated by one byte", valid[:-1], expect=400)
    yield Case("garbage", bytes(range(256)) * 4, expect=400)
    yield Case("only a tag", b"\x0a", expect=400)
    yield Case("length past the end", b"\x0a\x80\x80\x80\x80\x01", expect=400)
    # Protobuf keeps a field of the wrong wire type as an unknown field: nothing to store.
    yield Case("wrong wire type for a message", b"\x08\x01", expect=200, rejected=0)
    yield Case("wrong wire type inside", b"\x0a\x02\x10\x01", expect=200, rejected=0)
    yield Case("wrong wire type, truncated fixed32", b"\x0a\x02\x15\x00", expect=400)
    yield Case("end group without start", b"\x0c", expect=400)
    yield Case("deeply nested AnyValue", deeply_nested_logs(150), expect=400)
    yield Case("nested AnyValue within the limit", deeply_nested_logs(25), expect=200)
    yield Case("invalid UTF-8 in a string", b"\x0a\x08\x12\x06\x12\x04\x2a\x02\x0a\xff", expect=400)
    yield Case("empty protobuf body", b"", expect=200, rejected=0)
    yield Case("empty JSON body", b"", content_type=JSON, expect=400)
    yield Case("JSON null", b"null", content_type=JSON, expect=400)
    yield Case("JSON array", b"[]", content_type=JSON, expect=400)
    yield Case("JSON empty object", b"{}", content_type=JSON, expect=200, rejected=0)
    yield Case("JSON lone surrogate", b'{"a": "\\ud800"}', content_type=JSON, expect=400)
    yield Case("JSON invalid UTF-8", b'{"a": "\xff"}', content_type=JSON, expect=400)
    yield Case(
        "JSON nested past the parser",
        b'{"a":' * 5000 + b"1" + b"}" * 5000,
        content_type=JSON,
        expect=400,
    )
    yield Case(
        "JSON id not hex",
        _json_trace_with(traceId="not hex at all!"),
        signal="traces",
        content_type=JSON,
        expect=400,
    )
    yield Case(
        "JSON id in base64 (protobuf's own JSON rule)",
        _json_trace_with(spanId="7uGbfsPBsXQ="),
        signal="traces",
        content_type=JSON,
        expect=400,
    )
    yield Case(
        "JSON id of the wrong length",
        _json_trace_with(spanId="abcd"),
        signal="traces",
        content_type=JSON,
        expect=200,
        rejected=1,
    )
    yield Case(
        "JSON id not a string",
        _json_trace_with(traceId=12),
        signal="traces",
        content_type=JSON,
        expect=400,
    )
    for value in ("18446744073709551616", "-1", "1" * 400, "1.5", "0x10", ""):
        yield Case(
            f"JSON uint64 {value[:20]!r}",
            _json_log_with(timeUnixNano=value),
            content_type=JSON,
            expect=400,
        )
    yield Case(
        "JSON huge int attribute",
        _json_log_with(attributes=[{"key": "k", "value": {"intValue": "9" * 30}}]),
        content_type=JSON,
        expect=400,
    )
    yield Case(
        "JSON max int64 attribute",
        _json_log_with(attributes=[{"key": "k", "value": {"intValue": str(2**63 - 1)}}]),
        content_type=JSON,
        expect=200,
        rejected=0,
    )
    yield Case(
        "JSON NaN double",
        _json_log_with(attributes=[{"key": "k", "value": {"doubleValue": "NaN"}}]),
        content_type=JSON,
        expect=200,
        rejected=0,
    )
    yield Case(
        "JSON unknown enum number",
        _json_trace_with(kind=99),
        signal="traces",
        content_type=JSON,
        expect=200,
        rejected=0,
    )
    # An enum name the schema does not know is an unknown value, ignored like unknown fields.
    yield Case(
        "JSON unknown enum name",
        _json_log_with(severityNumber="LOUD"),
        content_type=JSON,
        expect=200,
        rejected=0,
    )
    yield Case(
        "JSON wrong type for a field",
        _json_log_with(severityNumber={"a": 1}),
        content_type=JSON,
        expect=400,
    )
    yield Case(
        "JSON wrong type for a list",
        _json_log_with(attributes={"key": "k"}),
        content_type=JSON,
        expect=400,
    )
    yield Case("span without trace id", _spans_with(trace_id=b""), signal="traces", rejected=1)
    yield Case("span id too long", _spans_with(span_id=b"\x01" * 9), signal="traces", rejected=1)
    big = logs_request("small", "x" * MAX_EVENT_BYTES).SerializeToString()
    yield Case("a record over 256 KiB flattened", big, expect=200, rejected=1)
    many = logs_request(*(str(n) for n in range(scaled(5_000, 50_000)))).SerializeToString()
    yield Case("many tiny records", many, expect=200, rejected=0)
    yield Case(
        "gzip bomb",
        gzip.compress(b"\x00" * (7 * MIB)),
        headers={"content-encoding": "gzip"},
        expect=413,
    )
    yield Case("not gzip", b"plain", headers={"content-encoding": "gzip"}, expect=400)
    yield Case(
        "gzip of garbage",
        gzip.compress(b"\xff" * 100),
        headers={"content-encoding": "gzip"},
        expect=400,
    )
    yield Case("over 6 MiB raw", b"\x00" * (6 * MIB + 1), expect=413)
    yield Case("brotli", b"", headers={"content-encoding": "br"}, expect=415)
    yield Case("text body", b"hello", content_type="text/plain", expect=415)
    yield Case("metrics", b"", signal="metrics", expect=404)


def items_in(signal: str, body: bytes, content_type: str) -> int:
    """How many log records or spans the request holds (what 200 must account for)."""
    request = decode(
        TRACES if signal == "traces" else LOGS,
        body,
        Encoding.JSON if content_type == JSON else Encoding.PROTOBUF,
    )
    if isinstance(request, ExportTraceServiceRequest):
        return sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)
    assert isinstance(request, ExportLogsServiceRequest)
    return sum(len(s.log_records) for r in request.resource_logs for s in r.scope_logs)


def rejected_in(response: dict[str, Any], signal: str) -> int:
    body = response_bytes(response)
    if response["headers"]["content-type"] == JSON:
        partial = json.loads(body)["partialSuccess"]
        return int(partial.get("rejectedSpans" if signal == "traces" else "rejectedLogRecords", 0))
    if signal == "traces":
        return ExportTraceServiceResponse.FromString(body).partial_success.rejected_spans
    return ExportLogsServiceResponse.FromString(body).partial_success.rejected_log_records


def check_answer(response: dict[str, Any], content_type: str) -> None:
    """The answer is in the request's encoding (JSON when that is not OTLP's)."""
    expected = content_type if content_type in (JSON, PROTOBUF) else JSON
    assert response["headers"]["content-type"] == expected
    if response["statusCode"] != 200:
        body = response_bytes(response)
        if expected == JSON:
            assert set(json.loads(body)) == {"code", "message"}
        else:
            assert Status.FromString(body).message


def batch_event(buffer: str, blobs: list[bytes], offset: int) -> dict[str, Any]:
    """A consumer batch whose records are named apart from every earlier batch's (objects
    are named after their records, so equal names would overwrite each other)."""
    if buffer == "kinesis":
        return kinesis_event(blobs, first_sequence=10_000_000 + offset)
    event = sqs_event(blobs)
    for n, message in enumerate(event["Records"]):
        message["messageId"] = f"msg-{offset + n}"
    return event


def test_hostile_otlp_corpus(otlp, consumer, stack: Stack) -> None:
    outcomes: dict[str, int] = {}
    buffered_total = 0
    for case in corpus():
        event = otlp_event(
            case.body,
            signal=case.signal,
            content_type=case.content_type,
            headers={"x-baselime-dataset": "hostile", **case.headers},
        )
        response = otlp.lambda_handler(event, FakeLambdaContext())
        status = response["statusCode"]
        outcomes[case.name] = status
        assert status in ANSWERS, (case.name, response)
        if case.expect is not None:
            assert status == case.expect, (case.name, response)
        check_answer(response, case.content_type)
        blobs = stack.buffered()
        on_buffer = sum(len(records.decode(blob).events()) for blob in blobs)
        if status != 200:
            assert on_buffer == 0, case.name
            continue
        rejected = rejected_in(response, case.signal)
        if case.rejected is not None:
            assert rejected == case.rejected, case.name
        raw = gzip.decompress(case.body) if case.headers.get("content-encoding") else case.body
        assert on_buffer == items_in(case.signal, raw, case.content_type) - rejected, case.name
        if blobs:
            result = consumer.lambda_handler(
                batch_event(stack.buffer, blobs, buffered_total), FakeLambdaContext()
            )
            assert result == {"batchItemFailures": []}, case.name
        buffered_total += on_buffer
    stored = sum(len(body.splitlines()) for body in stack.stored().values())
    assert stored == buffered_total
    if stack.buffer == "kinesis":
        record(
            "otlp_hostile",
            {
                "cases": len(outcomes),
                "by_status": {
                    str(s): sorted(n for n, v in outcomes.items() if v == s)
                    for s in sorted(set(outcomes.values()))
                },
                "events_stored": stored,
            },
        )


# ---------------------------------------------------------------- hypothesis

HYPOTHESIS = settings(
    max_examples=scaled(100, 2_000),
    deadline=None,
    derandomize=SCALE == "short",
)


def outcome(signal: str, body: bytes, encoding: Encoding, gzipped: bool) -> Any:
    try:
        message = decode(
            TRACES if signal == "traces" else LOGS, batch.read_body(body, gzipped), encoding
        )
    except ApiError as error:
        return error
    return flatten_traces(message) if signal == "traces" else flatten_logs(message)  # type: ignore[arg-type]


def check_events(flattened: Any) -> None:
    for text in flattened.events:
        assert b"\n" not in text
        assert len(text) <= MAX_EVENT_BYTES
        assert isinstance(json.loads(text), dict)


@HYPOTHESIS
@given(
    body=st.binary(max_size=2048),
    signal=st.sampled_from(["logs", "traces"]),
    encoding=st.sampled_from(list(Encoding)),
    gzipped=st.booleans(),
)
def test_decoding_any_bytes_is_events_or_a_contract_error(body, signal, encoding, gzipped) -> None:
    result = outcome(signal, gzip.compress(body) if gzipped else body, encoding, gzipped)
    if not isinstance(result, ApiError):
        check_events(result)


def _mutations(data: bytes) -> st.SearchStrategy[bytes]:
    """A valid request with bytes flipped, cut or inserted: near-valid protobuf."""
    positions = st.integers(0, max(0, len(data) - 1))
    return st.one_of(
        st.tuples(positions, st.integers(0, 255)).map(
            lambda p: data[: p[0]] + bytes([p[1]]) + data[p[0] + 1 :]
        ),
        positions.map(lambda p: data[:p]),
        st.tuples(positions, st.binary(min_size=1, max_size=8)).map(
            lambda p: data[: p[0]] + p[1] + data[p[0] :]
        ),
    )


_LOGS = logs_request("hello", "world").SerializeToString()
_SPANS = traces_request("a", "b").SerializeToString()


@HYPOTHESIS
@given(
    case=st.one_of(
        _mutations(_LOGS).map(lambda b: ("logs", b)),
        _mutations(_SPANS).map(lambda b: ("traces", b)),
    )
)
def test_near_valid_protobuf_is_events_or_a_bad_request(case) -> None:
    signal, body = case
    result = outcome(signal, body, Encoding.PROTOBUF, False)
    if not isinstance(result, ApiError):
        check_events(result)
    else:
        assert result.status == 400


def _array(values: list[AnyValue]) -> AnyValue:
    value = AnyValue()
    value.array_value.values.extend(values)
    return value


def _kvlist(items: list[tuple[str, AnyValue]]) -> AnyValue:
    value = AnyValue()
    value.kvlist_value.values.extend(attribute(k, v) for k, v in items)
    return value


_VALUES = st.recursive(
    st.one_of(
        st.text(max_size=20).map(lambda s: AnyValue(string_value=s)),
        st.integers(-(2**63), 2**63 - 1).map(lambda i: AnyValue(int_value=i)),
        st.floats().map(lambda f: AnyValue(double_value=f)),
        st.booleans().map(lambda b: AnyValue(bool_value=b)),
        st.binary(max_size=10).map(lambda b: AnyValue(bytes_value=b)),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(_array),
        st.lists(st.tuples(st.text(max_size=8), inner), max_size=3).map(_kvlist),
    ),
    max_leaves=10,
)


@HYPOTHESIS
@given(attributes=st.lists(st.tuples(st.text(max_size=12), _VALUES), max_size=6), body=_VALUES)
def test_any_attributes_flatten_identically_from_protobuf_and_json(attributes, body) -> None:
    from google.protobuf import json_format

    request = logs_request("x")
    record_ = request.resource_logs[0].scope_logs[0].log_records[0]
    record_.body.CopyFrom(body)
    record_.attributes.extend(attribute(k, v) for k, v in attributes)
    from_protobuf = outcome("logs", request.SerializeToString(), Encoding.PROTOBUF, False)
    # protobuf's JSON writer follows the OTLP/JSON rules here (no ids in this request).
    text = json_format.MessageToJson(request).encode()
    from_json = outcome("logs", text, Encoding.JSON, False)
    assert not isinstance(from_protobuf, ApiError)
    assert not isinstance(from_json, ApiError)
    check_events(from_protobuf)
    assert [json.loads(e) for e in from_json.events] == [
        json.loads(e) for e in from_protobuf.events
    ]
