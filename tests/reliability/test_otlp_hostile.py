"""Hostile OTLP input through the real OTLP handler and the real consumer, plus hypothesis.

Every request gets 200 (full or partial success) or a 4xx, never a 5xx and never an
exception; the answer is in the request's encoding; every item it did not count as
rejected is on the buffer, and the consumer stores every one of them.
"""

from __future__ import annotations

import gzip
import json
from typing import Any

from google.protobuf import json_format
from google.rpc.status_pb2 import Status
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric

from events_api import records
from events_api.errors import ApiError
from events_api.ingest import batch
from events_api.otlp.decode import SIGNALS, Encoding, Signal, decode
from events_api.otlp.flatten_metrics import TYPES
from events_api.settings import MAX_EVENT_BYTES
from tests.integration.conftest import Stack, kinesis_event, sqs_event
from tests.otlp_support import (
    JSON,
    PROTOBUF,
    attribute,
    logs_request,
    metrics_request,
    otlp_event,
    response_bytes,
    traces_request,
)
from tests.reliability.hostile import otlp_corpus
from tests.reliability.support import SCALE, record, scaled
from tests.support import FakeLambdaContext

ANSWERS = (200, 400, 404, 405, 413, 415)


def signal_named(name: str) -> Signal:
    return SIGNALS[f"/otlp/v1/{name}"]


def data_points(metric: Metric) -> int:
    kind = metric.WhichOneof("data")
    return len(getattr(metric, kind).data_points) if kind else 0


def items_in(signal: str, body: bytes, content_type: str) -> int:
    """How many log records, spans or data points the request holds (what 200 must
    account for), counted from the decoded message itself."""
    request = decode(
        signal_named(signal), body, Encoding.JSON if content_type == JSON else Encoding.PROTOBUF
    )
    if isinstance(request, ExportLogsServiceRequest):
        return sum(len(s.log_records) for r in request.resource_logs for s in r.scope_logs)
    if isinstance(request, ExportMetricsServiceRequest):
        return sum(
            data_points(m) for r in request.resource_metrics for s in r.scope_metrics
            for m in s.metrics
        )  # fmt: skip
    return sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)  # type: ignore[attr-defined]


def rejected_in(response: dict[str, Any], signal: str) -> int:
    body, named = response_bytes(response), signal_named(signal)
    if response["headers"]["content-type"] == JSON:
        return int(json.loads(body)["partialSuccess"].get(named.rejected_json, 0))
    partial = named.response.FromString(body).partial_success  # type: ignore[attr-defined]
    return int(getattr(partial, named.rejected_field))


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
    for case in otlp_corpus():
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
    named = signal_named(signal)
    try:
        message = decode(named, batch.read_body(body, gzipped), encoding)
    except ApiError as error:
        return error
    return named.flatten(message)


def check_events(flattened: Any) -> None:
    for text in flattened.events:
        assert b"\n" not in text
        assert len(text) <= MAX_EVENT_BYTES
        assert isinstance(json.loads(text), dict)


@HYPOTHESIS
@given(
    body=st.binary(max_size=2048),
    signal=st.sampled_from([signal.name for signal in SIGNALS.values()]),
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
_METRICS = metrics_request().SerializeToString()


@HYPOTHESIS
@given(
    case=st.one_of(
        _mutations(_LOGS).map(lambda b: ("logs", b)),
        _mutations(_SPANS).map(lambda b: ("traces", b)),
        _mutations(_METRICS).map(lambda b: ("metrics", b)),
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


_DOUBLES = st.floats()
_COUNTS = st.integers(0, 2**64 - 1)


@HYPOTHESIS
@given(
    value=st.one_of(_DOUBLES, st.integers(-(2**63), 2**63 - 1)),
    bounds=st.lists(_DOUBLES, max_size=6),
    counts=st.lists(st.integers(0, 2**40), max_size=7),
    count=_COUNTS,
    scale=st.integers(-(2**31), 2**31 - 1),
    offset=st.integers(-(2**31), 2**31 - 1),
    flags=st.integers(0, 3),
    attributes=st.lists(st.tuples(st.text(max_size=12), _VALUES), max_size=4),
)
def test_any_data_points_flatten_identically_from_protobuf_and_json(
    value, bounds, counts, count, scale, offset, flags, attributes
) -> None:
    """Whatever a point holds, every point is one event or one rejection, and OTLP/JSON
    (int64 as strings, enums as integers, NaN as "NaN") reads as protobuf does."""
    request = metrics_request()
    metrics = request.resource_metrics[0].scope_metrics[0].metrics
    for metric in metrics:
        point = getattr(metric, metric.WhichOneof("data")).data_points[0]
        point.flags = flags
        point.attributes.extend(attribute(k, v) for k, v in attributes)
    metrics[2].histogram.data_points[0].ClearField("exemplars")  # ids: hex in OTLP/JSON only
    number = metrics[0].sum.data_points[0]
    if isinstance(value, float):
        number.as_double = value
    else:
        number.as_int = value
    histogram = metrics[2].histogram.data_points[0]
    histogram.count = count
    histogram.explicit_bounds[:] = bounds
    histogram.bucket_counts[:] = counts
    exponential = metrics[3].exponential_histogram.data_points[0]
    exponential.scale, exponential.positive.offset = scale, offset
    exponential.positive.bucket_counts[:] = counts
    from_protobuf = outcome("metrics", request.SerializeToString(), Encoding.PROTOBUF, False)
    text = json_format.MessageToJson(request, use_integers_for_enums=True).encode()
    from_json = outcome("metrics", text, Encoding.JSON, False)
    assert not isinstance(from_protobuf, ApiError)
    assert not isinstance(from_json, ApiError)
    check_events(from_protobuf)
    assert len(from_protobuf.events) + from_protobuf.rejected == len(metrics)
    assert {json.loads(e)["type"] for e in from_protobuf.events} <= set(TYPES.values())
    assert from_json.events == from_protobuf.events
    assert from_json.rejected == from_protobuf.rejected
