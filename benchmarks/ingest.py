"""Item 1 and 2: ingest CPU per batch beside a naive handler and the read-once floor, and
the buffer units the handler is billed for beside the minimum for the compressed bytes.

The real handler (functions/ingest/app.py) runs in full, Powertools decorators included;
only botocore's HTTP send is stubbed (``benchmarks.stubs``).
"""

from __future__ import annotations

import base64
import gzip
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
import orjson
import zstandard
from isal import igzip

from events_api.settings import MAX_EVENT_BYTES

from . import lambdas, stubs, timing
from .data import Batch, gzip_body

KINESIS_UNIT = 25 * 1024  # PUT payload unit (provisioned mode)
KINESIS_ON_DEMAND_ROUNDING = 1024  # on-demand meters each record rounded up to 1 KB
SQS_CHUNK = 64 * 1024  # every 64 KB of a request's payload is billed as one request
KINESIS_CALL_BYTES = 5 * 1024 * 1024
KINESIS_CALL_RECORDS = 500
SQS_CALL_BYTES = 1024 * 1024

_RAW_ARRAY = msgspec.json.Decoder(list[msgspec.Raw])


@dataclass
class Case:
    """One batch as the ingest function receives it."""

    name: str
    batch: Batch
    gzipped: bool = False
    body: bytes = b""  # what is on the wire (gzip'd or not)

    def __post_init__(self) -> None:
        self.body = gzip_body(self.batch.body) if self.gzipped else self.batch.body

    @property
    def raw_bytes(self) -> int:
        return len(self.batch.body)


def cases(batches: list[Batch]) -> list[Case]:
    out = [Case(b.name, b) for b in batches]
    largest = batches[-1]
    out.append(Case(f"{largest.name} gzip", largest, gzipped=True))
    return out


class NaiveIngest:
    """The baseline: what a first version would do (objects per event, a record per event)."""

    def __init__(self, client: Any, stream: str) -> None:
        self.client = client
        self.stream = stream

    def __call__(self, event: dict[str, Any], context: object) -> dict[str, Any]:
        body = event["body"]
        raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
        if (event.get("headers") or {}).get("content-encoding") == "gzip":
            raw = gzip.decompress(raw)
        parsed = orjson.loads(raw)
        events = parsed if isinstance(parsed, list) else [parsed]
        request_id = event["requestContext"]["requestId"]
        records, invalid = [], []
        for index, item in enumerate(events):
            text = orjson.dumps(item)
            if not isinstance(item, dict) or len(text) > MAX_EVENT_BYTES:
                invalid.append(index)
                continue
            records.append({"Data": text, "PartitionKey": f"{request_id}/{index}"})
        call: list[dict[str, Any]] = []
        size = 0
        for record in records:
            if len(call) == KINESIS_CALL_RECORDS or size + len(record["Data"]) > (
                KINESIS_CALL_BYTES
            ):
                self.client.put_records(StreamName=self.stream, Records=call)
                call, size = [], 0
            call.append(record)
            size += len(record["Data"])
        if call:
            self.client.put_records(StreamName=self.stream, Records=call)
        status = 400 if invalid else 202
        return {"statusCode": status, "body": orjson.dumps({"message": "ok"}).decode()}


def floor(case: Case) -> Callable[[], object]:
    """The read-once floor: inflate if gzip'd, one UTF-8 check of the body, a split into raw
    elements without a Python object per event, one zstd level-1 frame of the joined events."""
    compressor = zstandard.ZstdCompressor(level=1)
    wire = case.body
    event_body = lambdas.http_event(wire, "k", gzipped=case.gzipped)["body"]

    def run() -> object:
        body = base64.b64decode(event_body) if case.gzipped else event_body.encode()
        if case.gzipped:
            body = igzip.decompress(body)  # the fastest inflater at hand, as the handler's
        if not body.isascii():
            body.decode("utf-8")
        return compressor.compress(b"\n".join(_RAW_ARRAY.decode(body)))

    return run


@dataclass
class IngestResult:
    case: str
    raw_bytes: int
    events: int
    seconds: dict[str, float] = field(default_factory=dict)  # medians
    best: dict[str, float] = field(default_factory=dict)  # best rounds

    @property
    def speedup(self) -> float:
        return self.seconds["baseline"] / self.seconds["kinesis"]

    @property
    def floor_ratio(self) -> float:
        return self.seconds["kinesis"] / self.seconds["floor"]

    @property
    def best_speedup(self) -> float:
        return self.best["baseline"] / self.best["kinesis"]

    @property
    def best_floor_ratio(self) -> float:
        return self.best["kinesis"] / self.best["floor"]

    def mb_per_s(self, variant: str = "kinesis") -> float:
        return self.raw_bytes / self.seconds[variant] / 1e6


class Harness:
    """Both real handlers (Kinesis and SQS settings) and the stub, wired once."""

    def __init__(self, key: str, key_document: bytes) -> None:
        self.key = key
        self.stub = stubs.StubAws(key_document=key_document, key=key).install()
        self.context = lambdas.context()
        self.handlers: dict[str, Any] = {}
        self.services: dict[str, Any] = {}
        for buffer in ("kinesis", "sqs"):
            lambdas.set_env(buffer)
            module = lambdas.load_function("ingest", tag=f"_{buffer}")
            # Settings are read on first use: this pins each module's buffer.
            self.services[buffer] = module.service()
            self.handlers[buffer] = module.lambda_handler
        lambdas.set_env("kinesis")
        from events_api.aws import clients as aws_clients

        self.naive = NaiveIngest(aws_clients.kinesis(), lambdas.STREAM)

    def call(self, variant: str, event: dict[str, Any]) -> dict[str, Any]:
        handler = self.naive if variant == "baseline" else self.handlers[variant]
        answer: dict[str, Any] = handler(event, self.context)
        if answer["statusCode"] != 202:
            raise RuntimeError(f"{variant} answered {answer['statusCode']}: {answer['body']}")
        return answer


def measure_cpu(harness: Harness, case: Case, rounds: int) -> IngestResult:
    event = lambdas.http_event(case.body, harness.key, gzipped=case.gzipped)
    variants: dict[str, Callable[[], object]] = {
        "kinesis": lambda: harness.call("kinesis", event),
        "sqs": lambda: harness.call("sqs", event),
        "baseline": lambda: harness.call("baseline", event),
        "floor": floor(case),
    }
    with lambdas.quiet():
        timings = timing.interleaved(variants, rounds=rounds)
    return IngestResult(
        case.name, case.raw_bytes, len(case.batch.events), timings.median, timings.best
    )


@dataclass
class Billing:
    case: str
    buffer: str
    calls: int
    records: int
    record_bytes: int  # bytes on the buffer (record data, partition key / attributes)
    billed_units: int  # Kinesis PUT payload units or SQS 64 KB chunks
    minimum_units: int
    minimum_calls: int
    on_demand_kb: int  # Kinesis on-demand: each record rounded up to 1 KB
    compressed_bytes: int  # one zstd level-1 frame of all the events: the minimum
    raw_event_bytes: int
    baseline_units: int  # the naive handler: one record / message per event

    @property
    def ratio(self) -> float:
        return self.billed_units / self.minimum_units

    @property
    def compression(self) -> float:
        return self.raw_event_bytes / self.record_bytes


def kinesis_units(sizes: list[int]) -> int:
    return sum(math.ceil(size / KINESIS_UNIT) for size in sizes)


def sqs_chunks(call_payloads: list[int]) -> int:
    return sum(math.ceil(size / SQS_CHUNK) for size in call_payloads)


def measure_billing(harness: Harness, case: Case) -> list[Billing]:
    compressed = len(zstandard.ZstdCompressor(level=1).compress(b"\n".join(case.batch.events)))
    raw = case.batch.event_bytes
    event = lambdas.http_event(case.body, harness.key, gzipped=case.gzipped)
    out = []
    harness.stub.record = True
    try:
        for buffer in ("kinesis", "sqs"):
            harness.stub.reset()
            with lambdas.quiet():
                harness.call(buffer, event)
            calls = [c for c in harness.stub.calls if not c.operation.startswith("s3")]
            sizes = [size for call in calls for size in call.entries]
            if buffer == "kinesis":
                billed = kinesis_units(sizes)
                minimum = math.ceil(compressed / KINESIS_UNIT)
                minimum_calls = math.ceil(compressed / KINESIS_CALL_BYTES)
                baseline = len(case.batch.events)  # every event is under 25 KB: one unit each
            else:
                billed = sqs_chunks([sum(call.entries) for call in calls])
                minimum = math.ceil(compressed / SQS_CHUNK)
                minimum_calls = math.ceil(compressed / SQS_CALL_BYTES)
                baseline = math.ceil(len(case.batch.events) / 10)  # 10 messages per call
            on_demand = sum(math.ceil(size / KINESIS_ON_DEMAND_ROUNDING) for size in sizes)
            out.append(
                Billing(
                    case=case.name,
                    buffer=buffer,
                    calls=len(calls),
                    records=len(sizes),
                    record_bytes=sum(sizes),
                    billed_units=billed,
                    minimum_units=minimum,
                    minimum_calls=minimum_calls,
                    on_demand_kb=on_demand,
                    compressed_bytes=compressed,
                    raw_event_bytes=raw,
                    baseline_units=baseline,
                )
            )
    finally:
        harness.stub.record = False
        harness.stub.reset()
    return out
