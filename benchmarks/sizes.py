"""Item 8: the request sizes Baselime's own clients send, through both front doors.

``@baselime/winston-transport`` posts once per event-loop tick (often a single event),
``@baselime/edge-logger`` posts a JSON array every 100 logs (tens of KB, uncompressed), an
OpenTelemetry exporter a few hundred records, and ``events-api send`` 6 MiB gzip'd. For each
size this measures the real ingest handler's CPU per request for each front door's event
shape (the local gateway's event builder makes both) and buffer, and counts what the
request is billed on the buffer; ``benchmarks.cost`` turns those into dollars per GB.

The per-request overhead is compared with what any handler on this stack pays: a bare
handler with the same Powertools Logger and Metrics decorators that answers 202 without
work, plus the read-once floor of the same body (``benchmarks.ingest.floor``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from events_api_cli.local.api_gateway import FrontDoor, RawRequest, build_event

from . import cost, ingest, lambdas, timing
from .data import Batch, make_batch

#: name -> (target body bytes, gzip'd on the wire); "1 event" is a single median event.
SIZES: dict[str, tuple[int, bool]] = {
    "1 event": (0, False),
    "25 KB": (25_000, False),
    "100 KB": (100_000, False),
    "1 MB": (1_000_000, False),
    "6 MiB gzip": (6 * 1024 * 1024, True),
}
#: The size the per-request targets are set on (an edge-logger flush).
SMALL = "25 KB"
DOORS = tuple(FrontDoor)
#: Each timed sample repeats a call until it takes about this long (small requests take
#: well under a millisecond, below what one process_time sample resolves well).
SAMPLE_SECONDS = 0.02


def size_cases(seed: int = 20261126) -> list[ingest.Case]:
    out = []
    for name, (target, gzipped) in SIZES.items():
        if target:
            batch = make_batch(name, target, seed)
        else:
            pool = make_batch("pool", 25_000, seed).events
            event = sorted(pool, key=len)[len(pool) // 2]
            batch = Batch(name, [event], b"[" + event + b"]")
        out.append(ingest.Case(name, batch, gzipped=gzipped))
    return out


def door_event(case: ingest.Case, key: str, door: FrontDoor) -> dict[str, Any]:
    """The event ``door`` sends the ingest function for this request (one builder for both)."""
    headers = [
        ("content-type", "application/json"),
        ("x-api-key", key),
        ("x-service", "bench"),
        ("user-agent", "events-api-bench"),
    ]
    if case.gzipped:
        headers.append(("content-encoding", "gzip"))
    request = RawRequest(
        method="POST",
        target="/v1/bench",
        protocol="HTTP/1.1",
        headers=headers,
        body=case.body,
        source_ip="203.0.113.10",
        server_port=443,
    )
    api_id = "abcdefghijklmnopqrstuvwxyz012345" if door is FrontDoor.FUNCTION_URL else "abc123"
    return build_event(
        request, api_id=api_id, request_id=lambdas.REQUEST_ID, now=1795694400.0, front_door=door
    )


def _repeated(run: Callable[[], object]) -> tuple[Callable[[], object], int]:
    """``run`` repeated enough times per sample to take about SAMPLE_SECONDS, and the count."""
    import time

    run()
    begin = time.process_time()
    run()
    once = max(time.process_time() - begin, 1e-6)
    count = max(1, min(2000, round(SAMPLE_SECONDS / once)))

    def many() -> object:
        for _ in range(count):
            run()
        return None

    return many, count


def bare_handler() -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """A handler with the ingest function's decorators that answers 202 without work."""
    import warnings

    from aws_lambda_powertools.logging import correlation_paths

    from events_api.ingest.http_api import respond
    from events_api.observability import logger, metrics

    # It has no metric of its own (the ingest handler always has some): say nothing of it.
    warnings.filterwarnings("ignore", "No application metrics to publish")

    @metrics.log_metrics(raise_on_empty_metrics=False)
    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return respond(202, {"message": "Request Accepted"})

    return handler


def buffer_call(harness: ingest.Harness, case: ingest.Case) -> Callable[[], object]:
    """The Kinesis PutRecords call alone (``aws.http_client``: the JSON document, base64, SigV4
    signing, the stubbed send, the answer read) for this request's records: the share of
    the handler no body work can shave."""
    from events_api import records
    from events_api.ingest.publishers import Entry

    service = harness.services["kinesis"]
    meta = records.RequestMeta("bench", lambdas.REQUEST_ID, "2026-11-26T12:00:00.000Z")
    blobs = records.encode(meta, case.batch.events, service.settings.max_record_bytes - 256)
    entries = [Entry(f"r{n}", blob, f"{lambdas.REQUEST_ID}/{n}") for n, blob in enumerate(blobs)]
    return lambda: service.publisher.send(entries)


@dataclass
class SizeResult:
    case: str
    raw_bytes: int
    wire_bytes: int
    events: int
    #: CPU seconds per request, medians: "<door>/<buffer>" for the handler, plus "bare"
    #: and "floor" for the small size.
    seconds: dict[str, float] = field(default_factory=dict)
    best: dict[str, float] = field(default_factory=dict)
    #: Bytes the handler writes to its log per request (HTTP API event, Kinesis): the
    #: EMF metrics document, and a log line at the default level when there is one.
    log_bytes: int = 0

    def per_request(self, door: FrontDoor, buffer: str) -> float:
        return self.seconds[f"{door.value}/{buffer}"]

    @property
    def overhead_ratio(self) -> float:
        """The handler (HTTP API event, Kinesis) over the bare handler plus the floor."""
        ours = self.seconds[f"{FrontDoor.HTTP_API.value}/kinesis"]
        return ours / (self.seconds["bare"] + self.seconds["floor"])

    @property
    def best_overhead_ratio(self) -> float:
        ours = self.best[f"{FrontDoor.HTTP_API.value}/kinesis"]
        return ours / (self.best["bare"] + self.best["floor"])


def measure(harness: ingest.Harness, case: ingest.Case, rounds: int) -> SizeResult:
    variants: dict[str, Callable[[], object]] = {}
    for door in DOORS:
        event = door_event(case, harness.key, door)
        for buffer in ("kinesis", "sqs"):
            variants[f"{door.value}/{buffer}"] = (
                lambda b=buffer, e=event: harness.call(b, e)  # type: ignore[misc]
            )
    if case.name == SMALL:
        bare = bare_handler()
        event = door_event(case, harness.key, FrontDoor.HTTP_API)
        variants["bare"] = lambda: bare(event, harness.context)
        variants["floor"] = ingest.floor(case)
        variants["buffer call"] = buffer_call(harness, case)
    counts: dict[str, int] = {}
    log_event = door_event(case, harness.key, FrontDoor.HTTP_API)
    log_bytes = lambdas.stdout_bytes(lambda: harness.call("kinesis", log_event))
    with lambdas.quiet():
        for name, run in list(variants.items()):
            variants[name], counts[name] = _repeated(run)
        timings = timing.interleaved(variants, rounds=rounds)
    return SizeResult(
        case.name,
        case.raw_bytes,
        len(case.body),
        len(case.batch.events),
        {name: value / counts[name] for name, value in timings.median.items()},
        {name: value / counts[name] for name, value in timings.best.items()},
        log_bytes,
    )


def door_spread(results: list[SizeResult], buffer: str = "kinesis") -> float:
    """The largest relative difference in CPU between the two front doors' event shapes."""
    url, api = FrontDoor.FUNCTION_URL, FrontDoor.HTTP_API
    return max(abs(r.per_request(url, buffer) / r.per_request(api, buffer) - 1) for r in results)


def workload(
    result: SizeResult, billing: dict[str, Any], door: str, consumer: Any, stored_ratio: float
) -> cost.Workload:
    """The cost model's inputs for one size through one front door (billing by buffer)."""
    shape = FrontDoor.HTTP_API if door == "HttpApi" else FrontDoor.FUNCTION_URL
    kinesis, sqs = billing["kinesis"], billing["sqs"]
    return cost.Workload(
        request_raw_bytes=result.raw_bytes,
        request_wire_bytes=result.wire_bytes,
        ingest_cpu_seconds={b: result.per_request(shape, b) for b in ("kinesis", "sqs")},
        buffer_bytes=kinesis.record_bytes,
        records=kinesis.records,
        kinesis_put_units=kinesis.billed_units,
        kinesis_on_demand_kb=kinesis.on_demand_kb,
        sqs_send_chunks=sqs.billed_units,
        sqs_calls=sqs.calls,
        consumer_cpu_seconds_per_raw_byte=consumer.seconds["ours"] / consumer.raw_bytes,
        stored_ratio=stored_ratio,
        log_bytes_per_request=result.log_bytes,
    )


def workloads(
    results: list[SizeResult],
    billing: dict[str, dict[str, Any]],
    consumer: Any,
    stored_ratio: float,
) -> dict[str, dict[str, cost.Workload]]:
    """``workload`` for every size through every front door: size -> door -> inputs."""
    return {
        r.case: {
            door: workload(r, billing[r.case], door, consumer, stored_ratio)
            for door in cost.FRONT_DOORS
        }
        for r in results
    }


def costs(
    by_size: dict[str, dict[str, cost.Workload]],
) -> dict[str, dict[str, dict[str, dict[str, cost.Breakdown]]]]:
    """Each size's cost through its front door at each volume: volume -> size -> door ->
    buffer mode."""
    return {
        volume: {
            name: {door: cost.door_table(work, gb)[door] for door, work in by_door.items()}
            for name, by_door in by_size.items()
        }
        for volume, gb in cost.VOLUMES.items()
    }
