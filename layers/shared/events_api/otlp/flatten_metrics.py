"""OTLP metrics -> flat events, one per data point.

The mapping is documented in docs/otlp.md. A point's event is built as a log record's is
(``flatten``: attributes flattened, the point's over its scope's over its resource's,
``service.name`` as ``service``, the point's time as ``timestamp``), then the metric's own
fields (``name``, ``description``, ``unit``, ``type``, ``temporality``, ``isMonotonic``)
and the point's measurement: ``value`` for gauges and sums; ``count``, ``sum``, ``min``,
``max`` and the buckets for histograms; ``quantiles`` for summaries. Fields are named as
in OTLP/JSON, so a reader of the specification finds them.

A point is rejected (counted in ``rejectedDataPoints``, the rest stored) when what it holds
cannot be read back truthfully: a metric without a name, a number point without a value,
buckets that break the specification's rules (counts for bounds, increasing bounds, counts
adding up to ``count``), exemplar ids of the wrong length, an event over 256 KiB.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    ExponentialHistogramDataPoint,
    HistogramDataPoint,
    Metric,
    NumberDataPoint,
    SummaryDataPoint,
)

from .flatten import (
    SPAN_ID_BYTES,
    TRACE_ID_BYTES,
    Flattened,
    attributes_of,
    enum_name,
    flatten_attributes,
    id_problem,
    keep_service,
    rfc3339_nanos,
    shared_fields,
)

NOUN = "data point"
#: Metric.data's members -> the event's ``type`` (OTLP/JSON's names).
TYPES = {
    "gauge": "gauge",
    "sum": "sum",
    "histogram": "histogram",
    "exponential_histogram": "exponentialHistogram",
    "summary": "summary",
}
_TEMPORALITIES = ("unspecified", "delta", "cumulative")
#: DataPointFlags.DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK: the point marks a gap (as
#: Prometheus's staleness marker does); it has no measurement to store.
NO_RECORDED_VALUE = 1
#: How much of a metric's name a rejection reason quotes.
_NAME_QUOTED = 80

Point = NumberDataPoint | HistogramDataPoint | ExponentialHistogramDataPoint | SummaryDataPoint


def _metric_fields(metric: Metric, kind: str) -> dict[str, Any]:
    """What every point of the metric carries after its own attributes."""
    fields: dict[str, Any] = {"meta.signal_type": "metric", "name": metric.name}
    if metric.description:
        fields["description"] = metric.description
    if metric.unit:
        fields["unit"] = metric.unit
    fields["type"] = TYPES[kind]
    data = getattr(metric, kind)
    if kind in ("sum", "histogram", "exponential_histogram"):
        fields["temporality"] = enum_name(_TEMPORALITIES, data.aggregation_temporality)
    if kind == "sum":
        fields["isMonotonic"] = data.is_monotonic
    return fields


def _statistics(
    event: dict[str, Any], point: HistogramDataPoint | ExponentialHistogramDataPoint
) -> None:
    """``count`` always; ``sum``, ``min`` and ``max`` only when the point has them."""
    event["count"] = point.count
    if point.HasField("sum"):
        event["sum"] = point.sum
    if point.HasField("min"):
        event["min"] = point.min
    if point.HasField("max"):
        event["max"] = point.max


def _number(event: dict[str, Any], point: NumberDataPoint) -> str | None:
    which = point.WhichOneof("value")
    if which is None:
        return "no value"
    event["value"] = getattr(point, which)
    return None


def _buckets_problem(counts: list[int], bounds: list[float], count: int) -> str | None:
    if len(counts) != len(bounds) + 1:
        return f"{len(counts)} bucket counts for {len(bounds)} bounds"
    if not all(low < high for low, high in pairwise(bounds)):
        return "bounds that do not increase"
    if sum(counts) != count:
        return "bucket counts that do not add up to its count"
    return None


def _histogram(event: dict[str, Any], point: HistogramDataPoint) -> str | None:
    counts, bounds = list(point.bucket_counts), list(point.explicit_bounds)
    if counts or bounds:
        problem = _buckets_problem(counts, bounds, point.count)
        if problem:
            return problem
    _statistics(event, point)
    if counts:
        event["explicitBounds"] = bounds
        event["bucketCounts"] = counts
    return None


def _exponential_histogram(
    event: dict[str, Any], point: ExponentialHistogramDataPoint
) -> str | None:
    positive, negative = list(point.positive.bucket_counts), list(point.negative.bucket_counts)
    if point.zero_count + sum(positive) + sum(negative) != point.count:
        return "bucket counts and zero count that do not add up to its count"
    _statistics(event, point)
    event["scale"] = point.scale
    event["zeroCount"] = point.zero_count
    event["zeroThreshold"] = point.zero_threshold
    # A side whose counts are all zero says nothing (SDKs send an empty negative side as [0]).
    if any(positive):
        event["positiveOffset"] = point.positive.offset
        event["positiveBucketCounts"] = positive
    if any(negative):
        event["negativeOffset"] = point.negative.offset
        event["negativeBucketCounts"] = negative
    return None


def _summary(event: dict[str, Any], point: SummaryDataPoint) -> str | None:
    event["count"] = point.count
    event["sum"] = point.sum
    event["quantiles"] = [
        {"quantile": item.quantile, "value": item.value} for item in point.quantile_values
    ]
    return None


_MEASURE: dict[str, Callable[[dict[str, Any], Any], str | None]] = {
    "gauge": _number,
    "sum": _number,
    "histogram": _histogram,
    "exponential_histogram": _exponential_histogram,
    "summary": _summary,
}


def _exemplars(event: dict[str, Any], point: Point) -> str | None:
    """``exemplars``: measurements with the trace they were taken in (hex ids, as spans)."""
    exemplars = getattr(point, "exemplars", ())
    if not exemplars:
        return None
    items = []
    for exemplar in exemplars:
        trace_id, span_id = exemplar.trace_id, exemplar.span_id
        problem = id_problem(trace_id, TRACE_ID_BYTES, "exemplar traceId", False) or id_problem(
            span_id, SPAN_ID_BYTES, "exemplar spanId", False
        )
        if problem:
            return problem
        item: dict[str, Any] = {}
        if exemplar.time_unix_nano:
            item["timestamp"] = rfc3339_nanos(exemplar.time_unix_nano)
        which = exemplar.WhichOneof("value")
        if which is not None:
            item["value"] = getattr(exemplar, which)
        if trace_id:
            item["traceId"] = trace_id.hex()
        if span_id:
            item["spanId"] = span_id.hex()
        item["attributes"] = attributes_of(exemplar.filtered_attributes)
        items.append(item)
    event["exemplars"] = items
    return None


def _point_event(
    shared: dict[str, Any], fields: dict[str, Any], kind: str, point: Point
) -> dict[str, Any] | str:
    """The point's event, or why it cannot be stored."""
    event = dict(shared)
    flatten_attributes(event, point.attributes)
    keep_service(event, shared)
    event.update(fields)
    if point.time_unix_nano:
        event["timestamp"] = rfc3339_nanos(point.time_unix_nano)
    if point.start_time_unix_nano:
        event["startTimestamp"] = rfc3339_nanos(point.start_time_unix_nano)
    flags = point.flags
    if flags:
        event["flags"] = flags
    if not flags & NO_RECORDED_VALUE:
        problem = _MEASURE[kind](event, point)
        if problem:
            return problem
    return _exemplars(event, point) or event


def flatten_metrics(request: ExportMetricsServiceRequest) -> Flattened:
    out = Flattened()
    for resource_metrics in request.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            scope = scope_metrics.scope if scope_metrics.HasField("scope") else None
            shared = shared_fields(resource_metrics.resource, scope)
            for metric in scope_metrics.metrics:
                kind = metric.WhichOneof("data")
                if kind is None:
                    continue  # no data: no data points to store or reject
                points = getattr(metric, kind).data_points
                if not metric.name:
                    for _ in points:
                        out.reject("a metric has no name")
                    continue
                fields = _metric_fields(metric, kind)
                where = f"{TYPES[kind]} {NOUN} of {metric.name[:_NAME_QUOTED]!r}"
                for point in points:
                    event = _point_event(shared, fields, kind, point)
                    if isinstance(event, str):
                        out.reject(f"{where}: {event}")
                    else:
                        out.add(event, NOUN)
    return out
