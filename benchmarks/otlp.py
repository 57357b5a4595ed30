"""OTLP: decode + flatten throughput beside a naive path, and what OTLP costs the Events API.

Two measurements, both in one run:

1. Throughput: an OTLP/HTTP protobuf export (logs, traces, then metrics) turned into the
   flat events the buffer carries, by ``events_api.otlp`` (upb parsing, one pass over the
   messages, one ``orjson.dumps`` per event) and by a naive path: ``MessageToDict`` of the
   whole request, then each record's event built from the dicts and ``json.dumps``'d. Both
   produce the same events (checked before timing); CPU time, interleaved rounds.
2. Cold start of the Events API's ingest function from a build without OTLP (the shared
   package without ``events_api.otlp``, as before OTLP) and from the full build, fresh
   processes interleaved (``benchmarks.coldstart``'s children); the OTLP function's own
   cold start beside them.

``python -m benchmarks.otlp [--quick]`` runs just this part and writes its figures into
benchmarks/results.json (key ``otlp``) and docs/performance.md (its own section, the prose in
benchmarks/templates/otlp.md); ``make bench`` runs it with everything else.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import lambdas, prose
from .timing import interleaved

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results.json"
PERFORMANCE = ROOT / "docs" / "performance.md"
SECTION_START = "<!-- otlp:start -->"
SECTION_END = "<!-- otlp:end -->"
LOG_RECORDS = 2_000
SPANS = 1_000
DATA_POINTS = 1_000
#: The section's prose, with the figures as fields (benchmarks/prose.py describes the format).
PROSE = prose.load(Path(__file__).with_name("templates") / "otlp.md")


# ---------------------------------------------------------------- workloads


def _attributes(target: Any, values: dict[str, Any]) -> None:
    for key, value in values.items():
        item = target.add()
        item.key = key
        if isinstance(value, bool):
            item.value.bool_value = value
        elif isinstance(value, int):
            item.value.int_value = value
        elif isinstance(value, float):
            item.value.double_value = value
        else:
            item.value.string_value = value


_RESOURCE = {
    "service.name": "checkout",
    "service.version": "2.14.1",
    "deployment.environment": "production",
    "host.name": "ip-10-0-12-34.ec2.internal",
    "cloud.provider": "aws",
    "cloud.region": "eu-west-1",
    "telemetry.sdk.language": "python",
    "telemetry.sdk.name": "opentelemetry",
    "telemetry.sdk.version": "1.45.2",
}


def logs_body(records: int = LOG_RECORDS) -> bytes:
    """An SDK-like export: one resource, two scopes, records with eight attributes."""
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    request = ExportLogsServiceRequest()
    resource_logs = request.resource_logs.add()
    _attributes(resource_logs.resource.attributes, _RESOURCE)
    for scope_number in range(2):
        scope_logs = resource_logs.scope_logs.add()
        scope_logs.scope.name = f"app.module{scope_number}"
        scope_logs.scope.version = "1.0.0"
        for n in range(records // 2):
            record = scope_logs.log_records.add()
            record.time_unix_nano = 1_795_694_400_000_000_000 + n * 1_000_003
            record.observed_time_unix_nano = record.time_unix_nano + 5_000
            record.severity_number = 9
            record.severity_text = "INFO"
            record.body.string_value = f"order {n} paid: 3 items, total 42.50 EUR, card ending 4242"
            record.trace_id = n.to_bytes(16, "big")
            record.span_id = (n + 1).to_bytes(8, "big")
            record.flags = 1
            _attributes(
                record.attributes,
                {
                    "order.id": f"o-{n:08d}",
                    "customer.id": f"c-{n % 977:06d}",
                    "http.request.method": "POST",
                    "http.route": "/orders/{id}/pay",
                    "http.response.status_code": 200,
                    "duration_ms": 12.5 + n % 100,
                    "retry": n % 7 == 0,
                    "code.function.name": "pay_order",
                },
            )
    return request.SerializeToString()


def traces_body(spans: int = SPANS) -> bytes:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    _attributes(resource_spans.resource.attributes, _RESOURCE)
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = "opentelemetry.instrumentation.flask"
    scope_spans.scope.version = "0.66b2"
    for n in range(spans):
        span = scope_spans.spans.add()
        span.trace_id = (n // 4).to_bytes(16, "big")
        span.span_id = (n + 1).to_bytes(8, "big")
        if n % 4:
            span.parent_span_id = (n - n % 4 + 1).to_bytes(8, "big")
        span.name = "POST /orders/{id}/pay"
        span.kind = 2
        span.start_time_unix_nano = 1_795_694_400_000_000_000 + n * 1_000_003
        span.end_time_unix_nano = span.start_time_unix_nano + 12_345_678
        span.status.code = 1
        _attributes(
            span.attributes,
            {
                "http.request.method": "POST",
                "http.route": "/orders/{id}/pay",
                "http.response.status_code": 200,
                "url.scheme": "https",
                "server.address": "api.example.com",
                "client.address": "203.0.113.10",
                "user_agent.original": "python-requests/2.32",
                "order.id": f"o-{n:08d}",
            },
        )
        if n % 2 == 0:
            event = span.events.add()
            event.name = "cache miss"
            event.time_unix_nano = span.start_time_unix_nano + 1_000_000
            _attributes(event.attributes, {"cache.key": f"order:{n}"})
    return request.SerializeToString()


_BOUNDS = [0.0, 5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2500.0,
           5000.0, 7500.0, 10000.0]  # fmt: skip
_ROUTES = ("/orders", "/orders/{id}", "/orders/{id}/pay", "/cart", "/search")


def metrics_body(points: int = DATA_POINTS) -> bytes:
    """An SDK-like export of a busy service: a request-duration histogram (the SDK's default
    bounds), a counter, a gauge and an exponential histogram (4 / 3 / 2 / 1 of every ten
    points), delta temporality, three attributes a point, an exemplar on every tenth."""
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
        ExportMetricsServiceRequest,
    )

    request = ExportMetricsServiceRequest()
    resource_metrics = request.resource_metrics.add()
    _attributes(resource_metrics.resource.attributes, _RESOURCE)
    scope_metrics = resource_metrics.scope_metrics.add()
    scope_metrics.scope.name = "checkout.metrics"
    scope_metrics.scope.version = "1.0.0"
    start, end = 1_795_694_340_000_000_000, 1_795_694_400_000_000_000

    def metric(name: str, unit: str, share: int) -> tuple[Any, range]:
        added = scope_metrics.metrics.add(name=name, unit=unit, description=f"{name} ({unit})")
        return added, range(points * share // 10)

    def series(point: Any, n: int) -> None:
        _attributes(
            point.attributes,
            {
                "http.route": _ROUTES[n % len(_ROUTES)],
                "http.request.method": "POST" if n % 3 else "GET",
                "http.response.status_code": 200 if n % 7 else 500,
            },
        )

    duration, count = metric("http.server.request.duration", "ms", 4)
    duration.histogram.aggregation_temporality = 1
    for n in count:
        buckets = [n % 3, n % 5, n % 7, 9, 4, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, n % 2]
        point = duration.histogram.data_points.add(
            start_time_unix_nano=start, time_unix_nano=end, count=sum(buckets),
            sum=12.5 * sum(buckets), min=0.5, max=10_500.0 if n % 2 else 260.0,
            explicit_bounds=_BOUNDS, bucket_counts=buckets,
        )  # fmt: skip
        series(point, n)
        if n % 10 == 0:
            exemplar = point.exemplars.add(time_unix_nano=end - n, as_double=260.0)
            exemplar.trace_id, exemplar.span_id = n.to_bytes(16, "big"), (n + 1).to_bytes(8, "big")
    orders, count = metric("orders.placed", "{order}", 3)
    orders.sum.aggregation_temporality, orders.sum.is_monotonic = 1, True
    for n in count:
        series(orders.sum.data_points.add(start_time_unix_nano=start, time_unix_nano=end,
                                          as_int=n % 50), n)  # fmt: skip
    depth, count = metric("queue.depth", "{message}", 2)
    for n in count:
        series(depth.gauge.data_points.add(time_unix_nano=end, as_double=n / 4), n)
    size, count = metric("http.server.request.body.size", "By", 1)
    size.exponential_histogram.aggregation_temporality = 1
    for n in count:
        point = size.exponential_histogram.data_points.add(
            start_time_unix_nano=start, time_unix_nano=end, count=30, sum=48_000.0, min=40.0,
            max=9_000.0, scale=3, zero_count=0,
        )  # fmt: skip
        point.positive.offset = 42
        point.positive.bucket_counts.extend([1, 2, 3, 4, 5, 4, 3, 2, 1, 1, 1, 1, 1, 1])
        series(point, n)
    return request.SerializeToString()


WORKLOADS = {"logs": logs_body, "traces": traces_body, "metrics": metrics_body}


# ---------------------------------------------------------------- the two paths


def ours(signal: str, body: bytes) -> list[bytes]:
    from events_api.otlp.decode import SIGNALS, Encoding, decode

    named = SIGNALS[f"/otlp/v1/{signal}"]
    return named.flatten(decode(named, body, Encoding.PROTOBUF)).events


def _naive_value(value: dict[str, Any]) -> Any:
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        return int(value["intValue"])
    if "doubleValue" in value:
        return value["doubleValue"]
    if "boolValue" in value:
        return value["boolValue"]
    if "arrayValue" in value:
        return [_naive_value(v) for v in value["arrayValue"].get("values", [])]
    if "kvlistValue" in value:
        return {kv["key"]: _naive_value(kv["value"]) for kv in value["kvlistValue"]["values"]}
    if "bytesValue" in value:
        return value["bytesValue"]
    return None


def _naive_attributes(into: dict[str, Any], items: list[dict[str, Any]]) -> None:
    for item in items:
        into[item["key"]] = _naive_value(item.get("value", {}))


def _naive_hex(value: str) -> str:
    return base64.b64decode(value).hex()


def _naive_time(nanos: str) -> str:
    from events_api.otlp.flatten import rfc3339_nanos

    return rfc3339_nanos(int(nanos))


def _naive_context(parent: dict[str, Any], scope_key: str) -> list[tuple[dict[str, Any], Any]]:
    out = []
    resource: dict[str, Any] = {}
    _naive_attributes(resource, parent.get("resource", {}).get("attributes", []))
    for scoped in parent.get(scope_key, []):
        shared = dict(resource)
        scope = scoped.get("scope", {})
        _naive_attributes(shared, scope.get("attributes", []))
        if scope.get("name"):
            shared["otel.scope.name"] = scope["name"]
        if scope.get("version"):
            shared["otel.scope.version"] = scope["version"]
        if "service.name" in shared:
            shared["service"] = shared["service.name"]
        out.append((shared, scoped))
    return out


_NAIVE_KINDS = {"gauge": "gauge", "sum": "sum", "histogram": "histogram",
                "exponentialHistogram": "exponentialHistogram"}  # fmt: skip


def _naive_point(kind: str, point: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {"timestamp": _naive_time(point["timeUnixNano"])}
    if "startTimeUnixNano" in point:
        fields["startTimestamp"] = _naive_time(point["startTimeUnixNano"])
    if kind in ("gauge", "sum"):
        fields["value"] = int(point["asInt"]) if "asInt" in point else point["asDouble"]
        return fields
    fields.update(count=int(point["count"]), sum=point["sum"], min=point["min"], max=point["max"])
    if kind == "histogram":
        fields["explicitBounds"] = point["explicitBounds"]
        fields["bucketCounts"] = [int(n) for n in point["bucketCounts"]]
    else:
        positive = point["positive"]
        fields.update(scale=point["scale"], zeroCount=int(point.get("zeroCount", 0)),
                      zeroThreshold=point.get("zeroThreshold", 0.0),
                      positiveOffset=positive.get("offset", 0),
                      positiveBucketCounts=[int(n) for n in positive["bucketCounts"]])  # fmt: skip
    if point.get("exemplars"):
        fields["exemplars"] = [
            {"timestamp": _naive_time(e["timeUnixNano"]), "value": e["asDouble"],
             "traceId": _naive_hex(e["traceId"]), "spanId": _naive_hex(e["spanId"]),
             "attributes": {}}
            for e in point["exemplars"]
        ]  # fmt: skip
    return fields


def _naive_metrics(body: bytes) -> list[bytes]:
    from google.protobuf.json_format import MessageToDict
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
        ExportMetricsServiceRequest,
    )

    events: list[bytes] = []
    temporalities = {1: "delta", 2: "cumulative"}
    document = MessageToDict(
        ExportMetricsServiceRequest.FromString(body), use_integers_for_enums=True
    )
    for parent in document.get("resourceMetrics", []):
        for shared, scoped in _naive_context(parent, "scopeMetrics"):
            for metric in scoped.get("metrics", []):
                kind = next(k for k in _NAIVE_KINDS if k in metric)
                data = metric[kind]
                fields: dict[str, Any] = {
                    "meta.signal_type": "metric",
                    "name": metric["name"],
                    "description": metric["description"],
                    "unit": metric["unit"],
                    "type": _NAIVE_KINDS[kind],
                }
                if kind != "gauge":
                    fields["temporality"] = temporalities[data["aggregationTemporality"]]
                if kind == "sum":
                    fields["isMonotonic"] = data.get("isMonotonic", False)
                for point in data["dataPoints"]:
                    event = dict(shared)
                    _naive_attributes(event, point.get("attributes", []))
                    event.update(fields)
                    event.update(_naive_point(kind, point))
                    events.append(json.dumps(event, separators=(",", ":")).encode())
    return events


def naive(signal: str, body: bytes) -> list[bytes]:
    """MessageToDict, then each record's event from the dicts, json.dumps'd one by one."""
    from google.protobuf.json_format import MessageToDict
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    if signal == "metrics":
        return _naive_metrics(body)
    events: list[bytes] = []
    if signal == "logs":
        document = MessageToDict(
            ExportLogsServiceRequest.FromString(body), use_integers_for_enums=True
        )
        for parent in document.get("resourceLogs", []):
            for shared, scoped in _naive_context(parent, "scopeLogs"):
                for record in scoped.get("logRecords", []):
                    event = dict(shared)
                    _naive_attributes(event, record.get("attributes", []))
                    event["meta.signal_type"] = "log"
                    event["timestamp"] = _naive_time(record["timeUnixNano"])
                    event["message"] = _naive_value(record["body"])
                    event["level"] = record["severityText"]
                    event["severityNumber"] = record["severityNumber"]
                    event["traceId"] = _naive_hex(record["traceId"])
                    event["spanId"] = _naive_hex(record["spanId"])
                    event["flags"] = record["flags"]
                    events.append(json.dumps(event, separators=(",", ":")).encode())
        return events
    kinds = {2: "server"}
    codes = {1: "ok"}
    document = MessageToDict(
        ExportTraceServiceRequest.FromString(body), use_integers_for_enums=True
    )
    for parent in document.get("resourceSpans", []):
        for shared, scoped in _naive_context(parent, "scopeSpans"):
            for span in scoped.get("spans", []):
                event = dict(shared)
                _naive_attributes(event, span.get("attributes", []))
                event["meta.signal_type"] = "trace"
                event["timestamp"] = _naive_time(span["startTimeUnixNano"])
                event["name"] = span["name"]
                event["kind"] = kinds[span["kind"]]
                event["traceId"] = _naive_hex(span["traceId"])
                event["spanId"] = _naive_hex(span["spanId"])
                if "parentSpanId" in span:
                    event["parentSpanId"] = _naive_hex(span["parentSpanId"])
                start, end = int(span["startTimeUnixNano"]), int(span["endTimeUnixNano"])
                event["durationMs"] = (end - start) / 1e6
                event["statusCode"] = codes[span["status"]["code"]]
                if span.get("events"):
                    items = []
                    for item in span["events"]:
                        attributes: dict[str, Any] = {}
                        _naive_attributes(attributes, item.get("attributes", []))
                        items.append(
                            {
                                "name": item["name"],
                                "timestamp": _naive_time(item["timeUnixNano"]),
                                "attributes": attributes,
                            }
                        )
                    event["events"] = items
                events.append(json.dumps(event, separators=(",", ":")).encode())
    return events


# ---------------------------------------------------------------- measurements


@dataclass
class Throughput:
    signal: str
    items: int
    body_bytes: int
    seconds: dict[str, float]
    best: dict[str, float]
    rounds: int

    def per_second(self, variant: str) -> float:
        return self.items / self.seconds[variant]

    @property
    def speedup(self) -> float:
        return self.seconds["naive"] / self.seconds["ours"]

    @property
    def best_speedup(self) -> float:
        return self.best["naive"] / self.best["ours"]


def measure_throughput(signal: str, rounds: int) -> Throughput:
    body = WORKLOADS[signal]()
    mine, theirs = ours(signal, body), naive(signal, body)
    # Same work on both sides: the same events, field for field.
    assert [json.loads(e) for e in mine] == [json.loads(e) for e in theirs], signal
    timings = interleaved(
        {"ours": lambda: ours(signal, body), "naive": lambda: naive(signal, body)},
        rounds=rounds,
    )
    return Throughput(signal, len(mine), len(body), timings.median, timings.best, timings.rounds)


def _build(directory: Path, with_otlp: bool) -> Path:
    """The layer's package and the functions as a deployment would ship them."""
    ignore = shutil.ignore_patterns("__pycache__", *(() if with_otlp else ("otlp",)))
    shutil.copytree(
        ROOT / "layers/shared/events_api", directory / "layers/shared/events_api", ignore=ignore
    )
    functions = ("ingest", "otlp") if with_otlp else ("ingest",)
    for name in functions:
        shutil.copytree(ROOT / "functions" / name, directory / "functions" / name, ignore=ignore)
    return directory


def otlp_event(key: str) -> dict[str, Any]:
    import gzip

    event = lambdas.http_event(gzip.compress(logs_body(100)), key, gzipped=True)
    event["headers"]["content-type"] = "application/x-protobuf"
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/otlp/v1/logs"
    event["routeKey"] = event["requestContext"]["routeKey"] = "ANY /otlp/{proxy+}"
    return event


@dataclass
class ColdStarts:
    runs: int
    medians: dict[str, float]  # kind -> median ms (import + first invocation)
    imports: dict[str, float]
    paired_difference_ms: float  # median over rounds of (with OTLP - without), ingest
    modules: dict[str, dict[str, Any]]  # build -> modules the ingest function loads


def measure_cold_starts(runs: int) -> ColdStarts:
    from events_api.ingest.keys import KeyRecord, generate_key

    from . import data, report

    key = generate_key()
    key_document = KeyRecord("bench", "bench", "2026-11-26T00:00:00Z").to_json()
    batch = data.make_batches()[0]
    events = {**report.cold_start_events(batch, key), "otlp": otlp_event(key)}
    kinds = {
        "ingest, without OTLP": ("without", "ingest"),
        "ingest, with OTLP": ("with", "ingest"),
        "otlp function": ("with", "otlp"),
    }
    totals: dict[str, list[float]] = {k: [] for k in kinds}
    imports: dict[str, list[float]] = {k: [] for k in kinds}
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    with tempfile.TemporaryDirectory() as work:
        roots = {
            "without": _build(Path(work) / "without", with_otlp=False),
            "with": _build(Path(work) / "with", with_otlp=True),
        }
        spec = Path(work) / "events.json"
        spec.write_text(json.dumps({**events, "key": key, "key_document": key_document.decode()}))
        for run in range(runs):
            # The order flips every round, so that drift on a shared machine favours no kind.
            order = list(kinds.items()) if run % 2 == 0 else list(reversed(kinds.items()))
            for label, (build, function) in order:
                answer = subprocess.run(
                    [sys.executable, "-m", "benchmarks.coldstart", function, str(spec)],
                    capture_output=True,
                    text=True,
                    check=True,
                    env={**env, "BENCH_CODE_ROOT": str(roots[build])},
                    cwd=ROOT,
                )
                row = json.loads(answer.stdout.strip().splitlines()[-1])
                totals[label].append((row["import"] + row["first"]) * 1000)
                imports[label].append(row["import"] * 1000)
        modules = {build: _ingest_modules(root, env) for build, root in roots.items()}
    with_, without = totals["ingest, with OTLP"], totals["ingest, without OTLP"]
    return ColdStarts(
        runs,
        {k: statistics.median(v) for k, v in totals.items()},
        {k: statistics.median(v) for k, v in imports.items()},
        statistics.median(a - b for a, b in zip(with_, without, strict=True)),
        modules,
    )


_PROBE = (
    "import json, runpy, sys; sys.path.insert(0, 'layers/shared');"
    "runpy.run_path('functions/ingest/app.py');"
    "print(json.dumps({'modules': len(sys.modules), 'protobuf': 'google.protobuf' in sys.modules}))"
)


def _ingest_modules(root: Path, env: dict[str, str]) -> dict[str, Any]:
    """What importing the ingest function loads from this build (a fresh interpreter)."""
    answer = subprocess.run(
        [sys.executable, "-c", _PROBE],
        capture_output=True,
        text=True,
        check=True,
        env={k: v for k, v in env.items() if k != "PYTHONPATH"},
        cwd=root,
    )
    result: dict[str, Any] = json.loads(answer.stdout.strip().splitlines()[-1])
    return result


# ---------------------------------------------------------------- figures and report


def results(throughput: list[Throughput], cold: ColdStarts) -> dict[str, Any]:
    out: dict[str, Any] = {"rounds": throughput[0].rounds, "cold_start_runs": cold.runs}
    for t in throughput:
        out[f"{t.signal}_items"] = t.items
        out[f"{t.signal}_body_bytes"] = t.body_bytes
        out[f"{t.signal}_per_s_ours"] = round(t.per_second("ours"))
        out[f"{t.signal}_per_s_naive"] = round(t.per_second("naive"))
        out[f"{t.signal}_speedup"] = round(t.speedup, 2)
        out[f"{t.signal}_speedup_best"] = round(t.best_speedup, 2)
    out["cold_start_ms"] = {k: round(v, 1) for k, v in cold.medians.items()}
    out["cold_start_import_ms"] = {k: round(v, 1) for k, v in cold.imports.items()}
    without = cold.medians["ingest, without OTLP"]
    out["ingest_cold_start_change"] = round(cold.medians["ingest, with OTLP"] / without - 1, 3)
    out["ingest_cold_start_paired_difference_ms"] = round(cold.paired_difference_ms, 1)
    out["ingest_modules_loaded"] = {b: m["modules"] for b, m in cold.modules.items()}
    out["ingest_loads_protobuf"] = any(m["protobuf"] for m in cold.modules.values())
    return out


def markdown(r: dict[str, Any], when: str, command: str) -> str:
    load_average = ", ".join(str(x) for x in r.get("load_average", []))
    lines = [
        SECTION_START,
        PROSE["intro"].format(r=r, when=when, command=command, load_average=load_average),
    ]
    for signal in WORKLOADS:
        lines.append(
            PROSE["throughput_row"].format(
                export=PROSE[f"export_{signal}"],
                ours=r[f"{signal}_per_s_ours"],
                naive=r[f"{signal}_per_s_naive"],
                speedup=r[f"{signal}_speedup"],
                best=r[f"{signal}_speedup_best"],
                verdict=PROSE["target_met" if r[f"{signal}_speedup"] >= 3 else "target_missed"],
            )
        )
    cold = r["cold_start_ms"]
    imports = r["cold_start_import_ms"]
    lines += ["", PROSE["cold_start"].format(r=r)]
    for name in cold:
        lines.append(
            PROSE["cold_start_row"].format(name=name, import_ms=imports[name], total_ms=cold[name])
        )
    loaded = r["ingest_modules_loaded"]
    same = loaded.get("with") == loaded.get("without")
    lines += [
        "",
        PROSE["after"].format(
            r=r,
            change=r["ingest_cold_start_change"] * 100,
            with_otlp=loaded.get("with"),
            without_otlp=loaded.get("without"),
            as_many=PROSE["as_many"] if same else "",
            protobuf="yes" if r["ingest_loads_protobuf"] else "no",
        ),
        SECTION_END,
        "",
    ]
    return "\n".join(lines)


def write(r: dict[str, Any], text: str) -> None:
    """Merge the figures into results.json and this section into docs/performance.md."""
    existing = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    existing["otlp"] = r
    RESULTS.write_text(json.dumps(existing, indent=2, sort_keys=True) + "\n")
    doc = PERFORMANCE.read_text() if PERFORMANCE.exists() else ""
    if SECTION_START in doc and SECTION_END in doc:
        before, rest = doc.split(SECTION_START, 1)
        after = rest.split(SECTION_END, 1)[1].lstrip("\n")
        doc = before + text + after
    else:
        doc = doc.rstrip("\n") + "\n\n" + text
    PERFORMANCE.write_text(doc)


def run(quick: bool) -> tuple[dict[str, Any], str]:
    from datetime import UTC, datetime

    rounds = 3 if quick else 13
    throughput = [measure_throughput(signal, rounds) for signal in WORKLOADS]
    cold = measure_cold_starts(5 if quick else 21)
    r = results(throughput, cold)
    r["load_average"] = [round(x, 2) for x in os.getloadavg()]
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return r, markdown(r, when, "python -m benchmarks.otlp" + (" --quick" if quick else ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds (not for quoting)")
    args = parser.parse_args(argv)
    r, text = run(args.quick)
    write(r, text)
    print(json.dumps(r, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
