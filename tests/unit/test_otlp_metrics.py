"""OTLP metrics decoding and flattening: the specification's example, every data point type,
OTLP/JSON's rules for metrics, and the points that cannot be stored."""

from __future__ import annotations

import base64
import json
from typing import Any

import msgspec
import orjson
import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)

from events_api.errors import BadRequest
from events_api.otlp import answers
from events_api.otlp.decode import METRICS, Encoding, decode
from events_api.otlp.flatten import Flattened
from events_api.otlp.flatten_metrics import flatten_metrics
from events_api.settings import MAX_EVENT_BYTES
from events_api.timestamps import normalise_timestamp
from tests.otlp_support import (
    SPEC_METRIC_EVENTS,
    attribute,
    metrics_request,
    spec_metrics,
    string_value,
)

pytestmark = pytest.mark.unit

TIME = "2026-11-26T12:00:00.000000000Z"
START = "2026-11-26T11:59:00.000000000Z"
CONTEXT = {"service.name": "checkout", "service": "checkout", "otel.scope.name": "tests"}


def json_metrics(document: dict[str, Any]) -> ExportMetricsServiceRequest:
    message = decode(METRICS, orjson.dumps(document), Encoding.JSON)
    assert isinstance(message, ExportMetricsServiceRequest)
    return message


def events(flattened: Flattened) -> list[dict[str, Any]]:
    return [json.loads(event) for event in flattened.events]


def by_name(flattened: Flattened) -> dict[str, dict[str, Any]]:
    return {event["name"]: event for event in events(flattened)}


def spec_metric(document: dict[str, Any], n: int) -> dict[str, Any]:
    metric: dict[str, Any] = document["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][n]
    return metric


def metric_of(request: ExportMetricsServiceRequest, name: str) -> Any:
    (metric,) = (m for m in request.resource_metrics[0].scope_metrics[0].metrics if m.name == name)
    return metric


# ---------------------------------------------------------------- the specification's example


def test_spec_metrics_example_becomes_one_flat_event_per_data_point() -> None:
    flattened = flatten_metrics(json_metrics(spec_metrics()))
    assert events(flattened) == SPEC_METRIC_EVENTS
    assert flattened.rejected == 0


def test_protobuf_and_json_of_the_same_metrics_flatten_to_the_same_bytes() -> None:
    from_json = json_metrics(spec_metrics())
    again = decode(METRICS, from_json.SerializeToString(), Encoding.PROTOBUF)
    assert isinstance(again, ExportMetricsServiceRequest)
    assert flatten_metrics(again).events == flatten_metrics(from_json).events


def test_stored_timestamp_is_the_points_time_to_the_millisecond() -> None:
    (counter, *_) = events(flatten_metrics(json_metrics(spec_metrics())))
    raw = msgspec.Raw(orjson.dumps(counter["timestamp"]))
    assert normalise_timestamp(raw) == "2018-12-13T14:51:00.300Z"


# ---------------------------------------------------------------- each data point type


def test_a_sum_point_has_its_value_temporality_and_monotonicity() -> None:
    assert by_name(flatten_metrics(metrics_request()))["orders.placed"] == {
        **CONTEXT,
        "http.route": "/orders",
        "meta.signal_type": "metric",
        "name": "orders.placed",
        "unit": "{order}",
        "type": "sum",
        "temporality": "delta",
        "isMonotonic": True,
        "timestamp": TIME,
        "startTimestamp": START,
        "value": 3,
    }


def test_a_gauge_point_has_its_value_and_no_temporality() -> None:
    assert by_name(flatten_metrics(metrics_request()))["queue.depth"] == {
        **CONTEXT,
        "meta.signal_type": "metric",
        "name": "queue.depth",
        "type": "gauge",
        "timestamp": TIME,
        "value": 7.5,
    }


def test_a_histogram_point_has_its_statistics_buckets_and_exemplars() -> None:
    assert by_name(flatten_metrics(metrics_request()))["http.server.duration"] == {
        **CONTEXT,
        "http.route": "/orders",
        "meta.signal_type": "metric",
        "name": "http.server.duration",
        "unit": "ms",
        "type": "histogram",
        "temporality": "cumulative",
        "timestamp": TIME,
        "startTimestamp": START,
        "count": 4,
        "sum": 61.0,
        "min": 3.0,
        "max": 40.0,
        "explicitBounds": [5.0, 10.0, 25.0],
        "bucketCounts": [1, 2, 0, 1],
        "exemplars": [
            {
                "timestamp": "2026-11-26T11:59:59.999999995Z",
                "value": 40.0,
                "traceId": "0102030405060708090a0b0c0d0e0f10",
                "spanId": "0707070707070707",
                "attributes": {},
            }
        ],
    }


def test_an_exponential_histogram_point_has_its_scale_and_buckets() -> None:
    request = metrics_request()
    point = metric_of(request, "payload.size").exponential_histogram.data_points[0]
    point.negative.offset = -1
    point.negative.bucket_counts.append(2)
    point.count += 2
    point.zero_threshold = 0.001
    point.ClearField("sum")  # a population with negative values has no sum
    assert by_name(flatten_metrics(request))["payload.size"] == {
        **CONTEXT,
        "meta.signal_type": "metric",
        "name": "payload.size",
        "unit": "By",
        "type": "exponentialHistogram",
        "temporality": "delta",
        "timestamp": TIME,
        "startTimestamp": START,
        "count": 7,
        "scale": 1,
        "zeroCount": 1,
        "zeroThreshold": 0.001,
        "positiveOffset": 2,
        "positiveBucketCounts": [3, 0, 1],
        "negativeOffset": -1,
        "negativeBucketCounts": [2],
    }


def test_an_exponential_side_whose_counts_are_all_zero_is_not_stored() -> None:
    request = metrics_request()
    point = metric_of(request, "payload.size").exponential_histogram.data_points[0]
    point.negative.bucket_counts.append(0)  # what the Python SDK sends without negatives
    point.positive.bucket_counts[:] = [0, 0]
    point.zero_count = point.count
    event = by_name(flatten_metrics(request))["payload.size"]
    assert (event["count"], event["zeroCount"]) == (5, 5)
    assert not {"positiveOffset", "positiveBucketCounts", "negativeOffset",
                "negativeBucketCounts"} & set(event)  # fmt: skip


def test_a_summary_point_has_its_count_sum_and_quantiles() -> None:
    assert by_name(flatten_metrics(metrics_request()))["gc.pause"] == {
        **CONTEXT,
        "meta.signal_type": "metric",
        "name": "gc.pause",
        "unit": "s",
        "type": "summary",
        "timestamp": TIME,
        "startTimestamp": START,
        "count": 10,
        "sum": 1.5,
        "quantiles": [{"quantile": 0.5, "value": 0.1}, {"quantile": 0.99, "value": 0.4}],
    }


def test_a_histogram_without_buckets_or_optional_statistics_keeps_what_it_has() -> None:
    request = metrics_request()
    point = metric_of(request, "http.server.duration").histogram.data_points[0]
    for name in ("sum", "min", "max", "explicit_bounds", "bucket_counts", "exemplars"):
        point.ClearField(name)
    event = by_name(flatten_metrics(request))["http.server.duration"]
    assert event["count"] == 4
    assert not {"sum", "min", "max", "explicitBounds", "bucketCounts", "exemplars"} & set(event)


def test_every_point_of_a_metric_is_an_event_and_a_metric_without_data_is_nothing() -> None:
    request = metrics_request()
    gauge = metric_of(request, "queue.depth").gauge
    gauge.data_points.add(time_unix_nano=1, as_int=-(2**63))
    request.resource_metrics[0].scope_metrics[0].metrics.add(name="declared.only")
    flattened = flatten_metrics(request)
    values = [e["value"] for e in events(flattened) if e["name"] == "queue.depth"]
    assert values == [7.5, -(2**63)]
    assert "declared.only" not in by_name(flattened)
    assert (len(flattened.events), flattened.rejected) == (6, 0)


def test_point_attributes_win_over_scope_over_resource_and_metric_fields_over_all() -> None:
    request = metrics_request(service="svc")
    resource = request.resource_metrics[0].resource
    scope = request.resource_metrics[0].scope_metrics[0].scope
    point = metric_of(request, "queue.depth").gauge.data_points[0]
    for key in ("a", "b", "c"):
        resource.attributes.append(attribute(key, string_value("resource")))
    for key in ("b", "c"):
        scope.attributes.append(attribute(key, string_value("scope")))
    for key in ("c", "name", "value", "service"):
        point.attributes.append(attribute(key, string_value("point")))
    event = by_name(flatten_metrics(request))["queue.depth"]
    assert (event["a"], event["b"], event["c"]) == ("resource", "scope", "point")
    assert (event["name"], event["value"], event["service"]) == ("queue.depth", 7.5, "svc")


def test_times_are_stored_only_when_set() -> None:
    request = metrics_request()
    point = metric_of(request, "orders.placed").sum.data_points[0]
    point.time_unix_nano = point.start_time_unix_nano = 0
    event = by_name(flatten_metrics(request))["orders.placed"]
    assert "timestamp" not in event  # the consumer stores _receivedAt as _timestamp
    assert "startTimestamp" not in event


@pytest.mark.parametrize(("temporality", "stored"), [(0, "unspecified"), (2, "cumulative"),
                                                     (9, "9")])  # fmt: skip
def test_temporality_is_named_and_unknown_values_kept_as_numbers(
    temporality: int, stored: str
) -> None:
    request = metrics_request()
    metric_of(request, "orders.placed").sum.aggregation_temporality = temporality
    assert by_name(flatten_metrics(request))["orders.placed"]["temporality"] == stored


def test_a_point_with_no_recorded_value_is_stored_without_a_measurement() -> None:
    request = metrics_request()
    metric_of(request, "queue.depth").gauge.data_points[0].flags = 1
    histogram = metric_of(request, "http.server.duration").histogram.data_points[0]
    histogram.flags = 1
    histogram.bucket_counts.append(9)  # whatever it holds is not read
    flattened = by_name(flatten_metrics(request))
    gauge, duration = flattened["queue.depth"], flattened["http.server.duration"]
    assert gauge["flags"] == 1
    assert "value" not in gauge
    assert not {"count", "sum", "bucketCounts", "explicitBounds"} & set(duration)
    assert duration["exemplars"][0]["value"] == 40.0


def test_non_finite_values_are_json_null() -> None:
    request = metrics_request()
    metric_of(request, "queue.depth").gauge.data_points[0].as_double = float("nan")
    (gauge,) = (e for e in flatten_metrics(request).events if b'"queue.depth"' in e)
    assert b'"value":null' in gauge


# ---------------------------------------------------------------- OTLP/JSON rules for metrics


def test_json_exemplar_ids_are_hex_in_either_case_under_every_point_type() -> None:
    document = spec_metrics()
    exemplar = {"traceId": "5B8EFFF798038103D269B633813FC60C", "spanId": "eee19b7ec3c1b174",
                "asInt": "7", "timeUnixNano": "1544712660300000000"}  # fmt: skip
    for n, data in enumerate(("sum", "gauge", "histogram", "exponentialHistogram")):
        spec_metric(document, n)[data]["dataPoints"][0]["exemplars"] = [dict(exemplar)]
    for event in events(flatten_metrics(json_metrics(document))):
        assert event["exemplars"] == [
            {
                "timestamp": "2018-12-13T14:51:00.300000000Z",
                "value": 7,
                "traceId": "5b8efff798038103d269b633813fc60c",
                "spanId": "eee19b7ec3c1b174",
                "attributes": {},
            }
        ]


def test_json_exemplar_ids_that_are_not_hex_are_a_bad_request() -> None:
    document = spec_metrics()
    spec_metric(document, 2)["histogram"]["dataPoints"][0]["exemplars"] = [{"spanId": "xyz"}]
    with pytest.raises(BadRequest, match=r"exemplar\.spanId is not a hex string: 'xyz'"):
        json_metrics(document)


def test_json_int64_may_be_a_string_or_a_number_and_enums_integers() -> None:
    as_numbers = spec_metrics()
    histogram = spec_metric(as_numbers, 2)["histogram"]["dataPoints"][0]
    histogram.update(count=2, bucketCounts=[1, 1], timeUnixNano=1544712660300000000)
    assert events(flatten_metrics(json_metrics(as_numbers))) == SPEC_METRIC_EVENTS


def test_json_unknown_fields_are_ignored_in_metrics() -> None:
    document = spec_metrics()
    counter = spec_metric(document, 0)
    counter["newKind"] = {"dataPoints": [{"asInt": "1"}]}
    counter["sum"]["dataPoints"][0]["futureField"] = True
    assert events(flatten_metrics(json_metrics(document))) == SPEC_METRIC_EVENTS


@pytest.mark.parametrize(
    "body",
    [
        b'{"resourceMetrics": [{"scopeMetrics": [{"metrics": [{"gauge": 5}]}]}]}',
        b'{"resourceMetrics": [{"scopeMetrics": [{"metrics": [{"sum": {"dataPoints": '
        b'[{"asInt": "1.5"}]}}]}]}]}',
        b'{"resourceMetrics": [{"scopeMetrics": [{"metrics": [{"histogram": {"dataPoints": '
        b'[{"count": "-1"}]}}]}]}]}',
    ],
)
def test_undecodable_metrics_are_a_bad_request(body: bytes) -> None:
    with pytest.raises(BadRequest, match="not a valid ExportMetricsServiceRequest"):
        decode(METRICS, body, Encoding.JSON)


# ---------------------------------------------------------------- points that cannot be stored


def rejected(request: ExportMetricsServiceRequest) -> tuple[list[str], str]:
    flattened = flatten_metrics(request)
    return sorted(by_name(flattened)), flattened.error_message("data points")


ALL = ["gc.pause", "http.server.duration", "orders.placed", "payload.size", "queue.depth"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda p: p.ClearField("bucket_counts"),
         "histogram data point of 'http.server.duration': 0 bucket counts for 3 bounds"),
        (lambda p: p.explicit_bounds.__setitem__(1, 5.0),
         "histogram data point of 'http.server.duration': bounds that do not increase"),
        (lambda p: p.explicit_bounds.__setitem__(1, float("nan")),
         "histogram data point of 'http.server.duration': bounds that do not increase"),
        (lambda p: setattr(p, "count", 5),
         "histogram data point of 'http.server.duration': bucket counts that do not add up "
         "to its count"),
        (lambda p: setattr(p.exemplars[0], "trace_id", b"\x01" * 8),
         "histogram data point of 'http.server.duration': exemplar traceId is 8 bytes, not 16"),
        (lambda p: setattr(p.exemplars[0], "span_id", b"\x01"),
         "histogram data point of 'http.server.duration': exemplar spanId is 1 bytes, not 8"),
    ],
)  # fmt: skip
def test_histogram_points_breaking_the_buckets_rules_are_rejected(change: Any, reason: str) -> None:
    request = metrics_request()
    change(metric_of(request, "http.server.duration").histogram.data_points[0])
    names, message = rejected(request)
    assert names == [name for name in ALL if name != "http.server.duration"]
    assert message == f"1 data points rejected: {reason} (1)"


def test_exponential_points_whose_buckets_do_not_add_up_are_rejected() -> None:
    request = metrics_request()
    metric_of(request, "payload.size").exponential_histogram.data_points[0].zero_count = 0
    assert rejected(request) == (
        [name for name in ALL if name != "payload.size"],
        "1 data points rejected: exponentialHistogram data point of 'payload.size': bucket "
        "counts and zero count that do not add up to its count (1)",
    )


def test_number_points_without_a_value_and_metrics_without_a_name_are_rejected() -> None:
    request = metrics_request()
    metric_of(request, "queue.depth").gauge.data_points[0].ClearField("as_double")
    nameless = metric_of(request, "orders.placed")
    nameless.sum.data_points.add(as_int=1)
    nameless.name = ""
    names, message = rejected(request)
    assert names == ["gc.pause", "http.server.duration", "payload.size"]
    assert message == (
        "3 data points rejected: a metric has no name (2); "
        "gauge data point of 'queue.depth': no value (1)"
    )


def test_a_long_metric_name_is_cut_in_the_reason() -> None:
    request = metrics_request()
    metric = metric_of(request, "queue.depth")
    metric.name = "m" * 1000
    metric.gauge.data_points[0].ClearField("as_double")
    assert rejected(request)[1] == (
        f"1 data points rejected: gauge data point of {'m' * 80!r}: no value (1)"
    )


def test_a_flattened_point_over_256_kib_is_rejected_and_the_rest_kept() -> None:
    request = metrics_request()
    point = metric_of(request, "queue.depth").gauge.data_points[0]
    point.attributes.append(attribute("big", string_value("x" * MAX_EVENT_BYTES)))
    names, message = rejected(request)
    assert names == [name for name in ALL if name != "queue.depth"]
    assert message == (
        "1 data points rejected: a flattened data point is larger than the 262144-byte "
        "event limit (1)"
    )


# ---------------------------------------------------------------- answers


def test_metrics_answers_count_rejected_data_points_in_either_encoding() -> None:
    response = answers.success(METRICS, Encoding.PROTOBUF, 2, "2 data points rejected")
    parsed = ExportMetricsServiceResponse.FromString(base64.b64decode(response["body"]))
    assert parsed.partial_success.rejected_data_points == 2
    assert parsed.partial_success.error_message == "2 data points rejected"
    response = answers.success(METRICS, Encoding.JSON, 0, "")
    assert json.loads(response["body"]) == {"partialSuccess": {}}
    response = answers.success(METRICS, Encoding.JSON, 1, "why")
    assert json.loads(response["body"]) == {
        "partialSuccess": {"rejectedDataPoints": 1, "errorMessage": "why"}
    }
