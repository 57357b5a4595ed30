"""Item 9: the worst batches, against the functions' MemorySize and Timeout from template.yaml.

Records are made the way the ingest function makes them (its body decoder, its record
encoder, its record size), from 6 MiB requests whose events expand the most in the
consumer: ``{}`` (two million events a request) and highly compressible 256 KiB events (a
few KB of record for 6 MiB of text). A full Kinesis batch of them (the template's
BatchSize) goes, as Lambda's Kinesis event, to the real consumer handler in a fresh child
process (and a full SQS batch, whose records may hold more: see
``records.bounds``), S3 stubbed at botocore's HTTP layer; the ingest handler gets one 6 MiB gzip
request of ``{}``. Each child reports its peak RSS (VmHWM: the whole process, as Lambda
counts memory) and the CPU and wall time of the invocation. Lambda gives a function
of M MB M/1769 of a vCPU, so the time compared with the Timeout is the CPU time divided by
that share: what the invocation would take there on a core like this machine's.

Run a child alone: ``python -m benchmarks.worst consumer|ingest WORKLOAD [EVENT_FILE]``.
"""

from __future__ import annotations

import gzip
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import cost

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
SIX_MIB = 6 * 1024 * 1024
BIG_EVENT = 256 * 1024

#: workload -> (what it is, one event's text)
WORKLOADS = {
    "empty-objects": ("6 MiB requests of `{}`", b"{}"),
    "compressible-256kib": (
        "6 MiB requests of highly compressible 256 KiB events",
        b'{"message":"' + b"a" * (BIG_EVENT - len(b'{"message":""}')) + b'"}',
    ),
    # Not in the list: the consumer's slowest path per event (every stored field to
    # remove, a service that is no string, a timestamp to parse).
    "stored-fields": (
        "6 MiB requests of small events carrying every stored field",
        b'{"_id":1,"_dataset":2,"_service":3,"_namespace":4,"_timestamp":5,"_requestId":6,'
        b'"_receivedAt":7,"service":{"a":[1,2]},"namespace":[1],'
        b'"timestamp":"2026-01-02 03:04:05.5-01:30"}',
    ),
}


def request_body(event: bytes) -> bytes:
    """A JSON array of copies of ``event`` as close to 6 MiB as it goes."""
    count = (SIX_MIB - 2 + 1) // (len(event) + 1)
    return b"[" + b",".join([event] * count) + b"]"


def buffer_records(workload: str, wanted: int, buffer: str = "kinesis") -> tuple[list[bytes], int]:
    """``wanted`` records as ingest writes them for successive requests; and their events."""
    from events_api import records
    from events_api.ingest import batch
    from events_api.ingest.publishers import KinesisPublisher, SqsPublisher
    from events_api.settings import AWS_MAX_RECORD_BYTES

    publisher = KinesisPublisher if buffer == "kinesis" else SqsPublisher
    bounds = records.bounds(buffer)

    body = request_body(WORKLOADS[workload][1])
    decoded = batch.parse_json(body)
    out: list[bytes] = []
    events = 0
    n = 0
    while len(out) < wanted:
        meta = records.RequestMeta("bench", f"req-{n}", "2026-11-26T12:00:00.000Z", "bench")
        blobs = records.encode(
            meta,
            decoded.events,
            AWS_MAX_RECORD_BYTES - publisher.record_overhead,
            1,
            decoded.joined,
            decoded.starts,
            max_events=bounds.events,
            max_raw_bytes=bounds.raw_bytes,
        )
        for blob in blobs[: wanted - len(out)]:
            out.append(blob)
            events += records.decode(blob).event_ends().__len__()
        n += 1
    return out, events


def sqs_event(blobs: list[bytes]) -> dict[str, Any]:
    """What Lambda's SQS event source mapping delivers for these messages."""
    from events_api.records import SQS_ATTRIBUTE, SQS_BODY
    from events_api_cli.lambda_events import binary_attribute, sqs_record

    return {
        "Records": [
            sqs_record(
                message_id=f"00000000-0000-4000-8000-{n:012d}",
                receipt_handle=f"handle-{n}",
                body=SQS_BODY,
                attributes={"ApproximateReceiveCount": "1"},
                message_attributes={SQS_ATTRIBUTE: binary_attribute(blob)},
                md5_of_body="0",
                queue_arn="arn:aws:sqs:us-east-1:123456789012:events-bench",
            )
            for n, blob in enumerate(blobs)
        ]
    }


def unchunk(body: bytes) -> bytes:
    """An S3 PutObject body as sent with ``aws-chunked`` encoding (botocore's checksums):
    the object's bytes."""
    out, at = [], 0
    while True:
        line_end = body.index(b"\r\n", at)
        size = int(body[at:line_end].split(b";")[0], 16)
        if size == 0:
            return b"".join(out)
        out.append(body[line_end + 2 : line_end + 2 + size])
        at = line_end + 2 + size + 2


def _peak_rss() -> int:
    """The process's peak RSS. ``ru_maxrss`` would carry the parent's peak over from fork
    and exec (the parent builds the records), so read the new image's own high-water mark."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def consumer_child(event_file: str) -> dict[str, Any]:
    import orjson

    from . import lambdas, stubs
    from .consumer import kinesis_event

    stub = stubs.StubAws(record=True).install()
    lambdas.set_env("kinesis")
    module = lambdas.load_function("consumer", tag="_worst")
    context = lambdas.context()
    from events_api import records

    warm = records.encode(
        records.RequestMeta("bench", "w", "2026-11-26T12:00:00.000Z"), [b"{}"], 1 << 20
    )
    with lambdas.quiet():
        module.lambda_handler(kinesis_event(warm), context)
    stub.reset()
    event = orjson.loads(Path(event_file).read_bytes())  # as Lambda's runtime hands it over
    cpu, wall = time.process_time(), time.perf_counter()
    with lambdas.quiet():
        answer = module.lambda_handler(event, context)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    peak = _peak_rss()
    bodies = [unchunk(body) for body in stub.objects.values()]
    sizes = [len(body) for body in bodies]
    stored = sum(gzip.decompress(body).count(b"\n") for body in bodies)
    return {
        "peak_rss": peak,
        "cpu_s": cpu,
        "wall_s": wall,
        "failed": len(answer["batchItemFailures"]),
        "stored_events": stored,
        "objects": len(sizes),
        "largest_object": max(sizes, default=0),
    }


def ingest_child(workload: str) -> dict[str, Any]:
    from events_api.ingest.keys import KeyRecord, generate_key

    from . import data, ingest, lambdas

    key = generate_key()
    harness = ingest.Harness(key, KeyRecord("k1", "bench", "2026-11-26T00:00:00Z").to_json())
    with lambdas.quiet():
        harness.call("kinesis", lambdas.http_event(data.gzip_body(b"[{}]"), key, gzipped=True))
    body = data.gzip_body(request_body(WORKLOADS[workload][1]))
    event = lambdas.http_event(body, key, gzipped=True)
    del body
    cpu, wall = time.process_time(), time.perf_counter()
    with lambdas.quiet():
        answer = harness.call("kinesis", event)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {"peak_rss": _peak_rss(), "cpu_s": cpu, "wall_s": wall, "status": answer["statusCode"]}


@dataclass
class WorstResult:
    function: str  # "consumer" or "ingest"
    buffer: str
    workload: str
    records: int
    events: int
    stored_events: int
    objects: int
    largest_object: int
    peak_rss: int
    cpu_s: float
    wall_s: float
    memory_mb: int
    timeout_s: int
    status: str

    @property
    def rss_fraction(self) -> float:
        return self.peak_rss / (self.memory_mb * 1024 * 1024)

    @property
    def lambda_seconds(self) -> float:
        return cost.lambda_seconds(self.cpu_s, self.memory_mb)

    @property
    def time_fraction(self) -> float:
        return self.lambda_seconds / self.timeout_s


def _run_child(*args: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    answer = subprocess.run(
        [sys.executable, "-m", "benchmarks.worst", *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=ROOT,
    )
    if answer.returncode:
        raise RuntimeError(f"benchmarks.worst {' '.join(args)} failed: {answer.stderr[-2000:]}")
    row: dict[str, Any] = json.loads(answer.stdout.strip().splitlines()[-1])
    return row


def batch_size(buffer: str) -> int:
    """The template's BatchSize for the buffer's event source mapping."""
    from events_api_cli.local import template

    mapping = "KinesisEventSource" if buffer == "kinesis" else "SqsEventSource"
    return template.batch_size(TEMPLATE, mapping)


def consumer_event(blobs: list[bytes], buffer: str) -> dict[str, Any]:
    """Lambda's Kinesis or SQS event for these buffer records."""
    from .consumer import kinesis_event

    return kinesis_event(blobs) if buffer == "kinesis" else sqs_event(blobs)


def measure_consumer(workload: str, buffer: str = "kinesis") -> WorstResult:
    blobs, events = buffer_records(workload, batch_size(buffer), buffer)
    return measure_consumer_batch(blobs, events, buffer, workload)


def measure_consumer_batch(
    blobs: list[bytes], events: int, buffer: str, workload: str
) -> WorstResult:
    """One full batch of ``blobs`` (holding ``events`` events) through the real consumer
    handler in a fresh process."""
    from events_api_cli.local.template import function_limits

    limits = function_limits(TEMPLATE, "ConsumerFunction")
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        handle.write(json.dumps(consumer_event(blobs, buffer)).encode())
    try:
        row = _run_child("consumer", workload, handle.name)
    finally:
        os.unlink(handle.name)
    return WorstResult(
        function="consumer",
        buffer=buffer,
        workload=workload,
        records=len(blobs),
        events=events,
        stored_events=row["stored_events"],
        objects=row["objects"],
        largest_object=row["largest_object"],
        peak_rss=row["peak_rss"],
        cpu_s=row["cpu_s"],
        wall_s=row["wall_s"],
        memory_mb=limits.memory_mb,
        timeout_s=limits.timeout_seconds,
        status="stored" if row["failed"] == 0 and row["stored_events"] == events else "FAILED",
    )


def measure_ingest(workload: str) -> WorstResult:
    from events_api_cli.local.template import function_limits

    limits = function_limits(TEMPLATE, "IngestFunction")
    row = _run_child("ingest", workload)
    return WorstResult(
        function="ingest",
        buffer="kinesis",
        workload=workload,
        records=0,
        events=len(request_body(WORKLOADS[workload][1])) // (len(WORKLOADS[workload][1]) + 1),
        stored_events=0,
        objects=0,
        largest_object=0,
        peak_rss=row["peak_rss"],
        cpu_s=row["cpu_s"],
        wall_s=row["wall_s"],
        memory_mb=limits.memory_mb,
        timeout_s=limits.timeout_seconds,
        status=str(row["status"]),
    )


def billing_6mib() -> dict[str, float]:
    """Item 2's billing of the 6 MiB log batch with the bounded records (more, smaller
    records for requests of many small events)."""
    from events_api.ingest.keys import KeyRecord, generate_key

    from . import data, ingest

    key = generate_key()
    harness = ingest.Harness(key, KeyRecord("k1", "bench", "2026-11-26T00:00:00Z").to_json())
    try:
        case = next(c for c in ingest.cases(data.make_batches()) if c.name == "6 MiB")
        return {
            f"bounded_records_{b.buffer}_{name}": value
            for b in ingest.measure_billing(harness, case)
            for name, value in (("records_6mib", b.records), ("units_ratio_6mib", b.ratio))
        }
    finally:
        harness.stub.uninstall()


def measure() -> list[WorstResult]:
    results = [
        measure_consumer(name, buffer) for buffer in ("kinesis", "sqs") for name in WORKLOADS
    ]
    results.append(measure_ingest("empty-objects"))
    return results


if __name__ == "__main__":
    if sys.argv[1] == "consumer":
        print(json.dumps(consumer_child(sys.argv[3])))
    else:
        print(json.dumps(ingest_child(sys.argv[2])))
