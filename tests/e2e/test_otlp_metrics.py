"""OpenTelemetry's own Python SDK and OTLP/HTTP metric exporter against `events-api dev`.

One MeterProvider, two readers: one exporter configured for delta temporality and one for
cumulative (``OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE``, as users set it), each
to a dataset of its own. A counter, an up-down counter, a synchronous and an observable
gauge, a histogram and an exponential histogram record the same measurements in two
collection rounds; the stored events are compared field by field with what the SDK
exported, and docs/otlp.md's example queries run on them with `events-api query`.
"""

from __future__ import annotations

import gzip
import json
import math
import re
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    MetricExportResult,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from events_api.otlp.flatten import rfc3339_nanos
from events_api.store.enrichment import STORED_FIELDS
from tests.e2e.conftest import ROOT, DevStack
from tests.otlp_support import SPEC_METRIC_EVENTS, metrics_request, spec_metrics

pytestmark = pytest.mark.e2e

#: The default explicit bucket boundaries of the SDK's histograms.
BOUNDS = [0.0, 5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2500.0,
          5000.0, 7500.0, 10000.0]  # fmt: skip
DOCS = ROOT / "docs" / "otlp.md"


class RecordingMetricExporter(OTLPMetricExporter):
    """The real exporter, with what it was given and what it answered kept for the test."""

    def __init__(self) -> None:
        super().__init__()
        self.exported: list[MetricsData] = []
        self.results: list[MetricExportResult] = []

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        self.exported.append(metrics_data)
        result = super().export(metrics_data, timeout_millis=timeout_millis, **kwargs)
        self.results.append(result)
        return result


def exporter_for(
    stack: DevStack, monkeypatch: pytest.MonkeyPatch, temporality: str
) -> tuple[RecordingMetricExporter, str]:
    """An exporter set up from the SDK's standard variables only, to a dataset of its own."""
    dataset = stack.new_dataset()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"{stack.api}/otlp")
    monkeypatch.setenv(
        "OTEL_EXPORTER_OTLP_HEADERS", f"x-api-key={stack.api_key},x-baselime-dataset={dataset}"
    )
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", temporality)
    exporter = RecordingMetricExporter()
    assert exporter._endpoint == f"{stack.api}/otlp/v1/metrics"
    return exporter, dataset


def sdk_points(
    exporter: RecordingMetricExporter, measurements: dict[tuple[int, str], dict[str, Any]]
) -> Iterator[tuple[str, Any, dict[str, Any]]]:
    """(metric name, data point, its measurement) for every point the exporter sent; the
    measurement is ``measurements[(round, series)]``, each used once: a point exported
    twice, or an expected one not exported, fails the test."""
    left = dict(measurements)
    for round_, data in enumerate(exporter.exported, start=1):
        for resource_metrics in data.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    for point in metric.data.data_points:
                        channel = (point.attributes or {}).get("channel")
                        series = f"{metric.name}/{channel}" if channel else metric.name
                        yield metric.name, point, left.pop((round_, series))
    assert left == {}


def expected_event(
    common: dict[str, Any], name: str, point: Any, measurement: dict[str, Any]
) -> dict[str, Any]:
    """The stored event of one exported point: what the test recorded (its measurement)
    and what the SDK chose (times, exponential layout, exemplars)."""
    return {
        **common,
        **dict(point.attributes or {}),
        "name": name,
        **({"description": DESCRIPTIONS[name]} if name in DESCRIPTIONS else {}),
        **({"unit": UNITS[name]} if name in UNITS else {}),
        **times(point),
        **measurement,
        **(exponential_layout(point) if name == "payload.size" else {}),
        **exemplars(point),
    }


def times(point: Any) -> dict[str, Any]:
    out = {"timestamp": rfc3339_nanos(point.time_unix_nano)}
    if point.start_time_unix_nano:
        out["startTimestamp"] = rfc3339_nanos(point.start_time_unix_nano)
    return out


def counts(*indices: int) -> list[int]:
    """Bucket counts for values in the default buckets of these indices."""
    out = [0] * (len(BOUNDS) + 1)
    for index in indices:
        out[index] += 1
    return out


def expected_measurements(delta: bool) -> dict[tuple[int, str], dict[str, Any]]:
    """What each series holds after each round, given the measurements below.

    Under the "delta" preference, counters and histograms are delta and up-down counters
    cumulative (the SDK's rule); a delta series without new measurements is not exported."""
    temporality = "delta" if delta else "cumulative"
    counter = {"type": "sum", "temporality": temporality, "isMonotonic": True}
    up_down = {"type": "sum", "temporality": "cumulative", "isMonotonic": False}
    histogram = {"type": "histogram", "temporality": temporality}
    exponential = {"type": "exponentialHistogram", "temporality": temporality}
    gauge = {"type": "gauge"}
    rounds: dict[tuple[int, str], dict[str, Any]] = {
        (1, "orders.placed/web"): {**counter, "value": 2},
        (1, "orders.placed/app"): {**counter, "value": 1},
        (1, "requests.inflight"): {**up_down, "value": 2},
        (1, "queue.depth"): {**gauge, "value": 7},
        (1, "memory.used"): {**gauge, "value": 123},
        (1, "http.server.duration"): {**histogram, "count": 2, "sum": 262.5, "min": 12.5,
                                      "max": 250.0, "explicitBounds": BOUNDS,
                                      "bucketCounts": counts(3, 7)},
        (1, "payload.size"): {**exponential, "count": 2, "sum": 3100.0, "min": 100.0,
                              "max": 3000.0},
        (2, "orders.placed/web"): {**counter, "value": 5 if delta else 7},
        (2, "requests.inflight"): {**up_down, "value": 0},
        (2, "queue.depth"): {**gauge, "value": 4},
        (2, "memory.used"): {**gauge, "value": 456},
        (2, "http.server.duration"): {**histogram, "explicitBounds": BOUNDS,
                                      **({"count": 1, "sum": 40.0, "min": 40.0, "max": 40.0,
                                          "bucketCounts": counts(4)} if delta else
                                         {"count": 3, "sum": 302.5, "min": 12.5, "max": 250.0,
                                          "bucketCounts": counts(3, 4, 7)})},
        (2, "payload.size"): {**exponential, **({"count": 1, "sum": 5.0, "min": 5.0, "max": 5.0}
                                                if delta else
                                                {"count": 3, "sum": 3105.0, "min": 5.0,
                                                 "max": 3000.0})},
    }  # fmt: skip
    if not delta:
        rounds[(2, "orders.placed/app")] = {**counter, "value": 1}
    return rounds


def exponential_layout(point: Any) -> dict[str, Any]:
    """The buckets the SDK chose (its scale depends on the values it saw). Every value
    recorded is positive: the negative side the SDK sends is all zeros, not stored."""
    assert not any(point.negative.bucket_counts)
    return {
        "scale": point.scale,
        "zeroCount": 0,
        "zeroThreshold": 0.0,
        "positiveOffset": point.positive.offset,
        "positiveBucketCounts": list(point.positive.bucket_counts),
    }


def exemplars(point: Any) -> dict[str, Any]:
    if not point.exemplars:
        return {}
    return {
        "exemplars": [
            {
                "timestamp": rfc3339_nanos(exemplar.time_unix_nano),
                "value": exemplar.value,
                "traceId": f"{exemplar.trace_id:032x}",
                "spanId": f"{exemplar.span_id:016x}",
                "attributes": dict(exemplar.filtered_attributes or {}),
            }
            for exemplar in point.exemplars
        ]
    }


DESCRIPTIONS = {"orders.placed": "Orders placed", "http.server.duration": "Request duration"}
UNITS = {"orders.placed": "{order}", "http.server.duration": "ms", "payload.size": "By",
         "memory.used": "By"}  # fmt: skip


def own_fields(event: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k not in STORED_FIELDS}


def record_two_rounds(provider: MeterProvider, readers: Iterable[Any]) -> Any:
    """The measurements of ``expected_measurements``; the span the duration 12.5 was
    recorded in (its exemplar's trace)."""
    meter = provider.get_meter("e2e.metrics", "2.0")
    orders = meter.create_counter("orders.placed", unit="{order}", description="Orders placed")
    inflight = meter.create_up_down_counter("requests.inflight")
    depth = meter.create_gauge("queue.depth")
    memory = [123]  # each reader's collection calls the callback

    def observe(_options: CallbackOptions) -> Iterable[Observation]:
        yield Observation(memory[0], {"pool": "heap"})

    meter.create_observable_gauge("memory.used", [observe], unit="By")
    duration = meter.create_histogram(
        "http.server.duration", unit="ms", description="Request duration"
    )
    size = meter.create_histogram("payload.size", unit="By")
    tracer = TracerProvider().get_tracer("e2e.metrics")
    route = {"http.route": "/orders"}

    orders.add(2, {"channel": "web"})
    orders.add(1, {"channel": "app"})
    inflight.add(3)
    inflight.add(-1)
    depth.set(7)
    with tracer.start_as_current_span("POST /orders") as span:
        duration.record(12.5, route)
    duration.record(250, route)
    size.record(100)
    size.record(3000)
    for reader in readers:
        reader.force_flush()
    orders.add(5, {"channel": "web"})
    memory[0] = 456
    inflight.add(-2)
    depth.set(4)
    duration.record(40, route)
    size.record(5)
    for reader in readers:
        reader.force_flush()
    return span


def test_sdk_metrics_are_stored_one_flat_event_per_data_point(
    stack: DevStack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    delta, delta_dataset = exporter_for(stack, monkeypatch, "delta")
    cumulative, cumulative_dataset = exporter_for(stack, monkeypatch, "cumulative")
    readers = [PeriodicExportingMetricReader(e, export_interval_millis=math.inf)
               for e in (delta, cumulative)]  # fmt: skip
    resource = Resource.create({"service.name": "checkout", "deployment.environment": "e2e"})
    exponential = View(
        instrument_name="payload.size", aggregation=ExponentialBucketHistogramAggregation()
    )
    provider = MeterProvider(resource=resource, metric_readers=readers, views=[exponential])
    span = record_two_rounds(provider, readers)
    provider.shutdown()
    assert delta.results == cumulative.results == [MetricExportResult.SUCCESS] * 2

    common = {
        **dict(resource.attributes),
        "service": "checkout",
        "otel.scope.name": "e2e.metrics",
        "otel.scope.version": "2.0",
        "meta.signal_type": "metric",
    }
    for exporter, dataset, is_delta in ((delta, delta_dataset, True),
                                        (cumulative, cumulative_dataset, False)):  # fmt: skip
        measurements = expected_measurements(is_delta)
        expected = [
            expected_event(common, name, point, measurement)
            for name, point, measurement in sdk_points(exporter, measurements)
        ]
        assert len(expected) == len(measurements)
        stored = stack.wait_stored(dataset, len(expected))
        key = lambda event: (event["timestamp"], event["name"], event.get("channel", ""))  # noqa: E731
        assert len(stored) == len(expected)
        for got, want in zip(sorted(map(own_fields, stored), key=key),
                             sorted(expected, key=key), strict=True):  # fmt: skip
            assert got == want
        for event in stored:
            assert (event["_dataset"], event["_service"]) == (dataset, "checkout")
            assert event["_timestamp"] == event["timestamp"][:23] + "Z"
        check_temporality(stored, is_delta)

    # The exemplar stored above is the measurement taken inside the span, with its ids.
    first_export = delta.exported[0].resource_metrics[0].scope_metrics[0].metrics
    (duration,) = (metric for metric in first_export if metric.name == "http.server.duration")
    (exemplar,) = duration.data.data_points[0].exemplars
    context = span.get_span_context()
    assert (exemplar.value, exemplar.trace_id) == (12.5, context.trace_id)
    assert exemplar.span_id == context.span_id
    check_doc_queries(stack, tmp_path, delta_dataset, cumulative_dataset)


def check_temporality(stored: list[dict[str, Any]], delta: bool) -> None:
    """Delta points cover consecutive intervals; cumulative ones share their start."""
    web = sorted((e for e in stored if e.get("channel") == "web"), key=lambda e: e["timestamp"])
    first, second = web
    if delta:
        assert second["startTimestamp"] == first["timestamp"]
    else:
        assert second["startTimestamp"] == first["startTimestamp"]


# ---------------------------------------------------------------- docs/otlp.md's queries


def doc_query(name: str) -> str:
    """The SQL block after ``<!-- query: NAME -->`` in docs/otlp.md."""
    text = DOCS.read_text()
    found = re.search(rf"<!-- query: {name} -->\s*```sql\n(.*?)```", text, re.DOTALL)
    assert found, name
    return found.group(1)


def for_dataset(sql: str, stack: DevStack, dataset: str) -> str:
    """The documented query on this test's dataset and receive dates."""
    days = sorted({o.key.split("/")[1].removeprefix("dt=") for o in stack.objects(dataset)})
    dates = ", ".join(f"'{day}'" for day in days)
    assert sql.count("dataset = 'otel'") == 1
    assert sql.count("dt = '2026-11-28'") == 1
    return sql.replace("dataset = 'otel'", f"dataset = '{dataset}'").replace(
        "dt = '2026-11-28'", f"dt IN ({dates})"
    )


def query(stack: DevStack, cache: Path, sql: str) -> list[dict[str, Any]]:
    done = stack.cli("query", sql, "--format", "ndjson", env={"XDG_CACHE_HOME": str(cache)})
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def check_doc_queries(stack: DevStack, cache: Path, delta: str, cumulative: str) -> None:
    rate = doc_query("counter-rate")
    for dataset in (delta, cumulative):
        rows = query(stack, cache, for_dataset(rate, stack, dataset))
        increases: dict[str, float] = {}
        for row in rows:
            increases[row["channel"]] = increases.get(row["channel"], 0) + row["per_second"] * 60
        assert increases == {"web": pytest.approx(7), "app": pytest.approx(1)}, rows
    p95 = doc_query("histogram-p95-duckdb")
    athena = doc_query("histogram-p95-athena")
    assert athena == p95.replace("BIGINT[]", "ARRAY(BIGINT)").replace("DOUBLE[]", "ARRAY(DOUBLE)")
    (row,) = query(stack, cache, for_dataset(p95, stack, delta))
    # 12.5, 250 and 40 ms: the 95th of 3 is 85% into the (100, 250] bucket.
    assert row == {"p95": pytest.approx(227.5)}


def test_the_collectors_json_example_over_http_is_stored(stack: DevStack) -> None:
    dataset = stack.new_dataset()
    headers = {"content-type": "application/json", "x-baselime-dataset": dataset}
    response = stack.request("POST", "/otlp/v1/metrics", json.dumps(spec_metrics()).encode(),
                             headers)  # fmt: skip
    assert (response.status, response.json()) == (200, {"partialSuccess": {}})
    stored = stack.wait_stored(dataset, len(SPEC_METRIC_EVENTS))
    by_name = {event["name"]: event for event in stored}
    assert [own_fields(by_name[e["name"]]) for e in SPEC_METRIC_EVENTS] == SPEC_METRIC_EVENTS
    assert {event["_timestamp"] for event in stored} == {"2018-12-13T14:51:00.300Z"}


def test_metrics_reach_the_otlp_function_through_function_urls(
    function_url_stack: DevStack,
) -> None:
    """The other front door: the OTLP function's own URL, gzip'd protobuf as SDKs send it."""
    stack = function_url_stack
    dataset = stack.new_dataset()
    headers = {"content-type": "application/x-protobuf", "content-encoding": "gzip",
               "x-baselime-dataset": dataset}  # fmt: skip
    body = gzip.compress(metrics_request().SerializeToString())
    response = stack.request("POST", "/otlp/v1/metrics", body, headers)
    assert (response.status, response.headers["content-type"]) == (200, "application/x-protobuf")
    answer = ExportMetricsServiceResponse.FromString(response.body)
    assert answer.HasField("partial_success")
    assert answer.partial_success.rejected_data_points == 0
    stored = stack.wait_stored(dataset, 5)
    assert sorted(event["name"] for event in stored) == [
        "gc.pause", "http.server.duration", "orders.placed", "payload.size", "queue.depth"
    ]  # fmt: skip
    (request_id,) = {event["_requestId"] for event in stored}
    assert str(uuid.UUID(request_id)) == request_id
