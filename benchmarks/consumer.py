"""Item 3: the consumer's events per second per core (decode + enrich + group + gzip NDJSON,
S3 stubbed at botocore's HTTP layer) beside a naive consumer and the bulk-work floor."""

from __future__ import annotations

import base64
import gzip
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
import orjson
import zstandard
from isal import igzip

from . import lambdas, stubs, timing
from .data import Batch

_MAX_RECORD = 1024 * 1024 - 256  # what the ingest side packs records to (Kinesis)


def kinesis_event(blobs: list[bytes]) -> dict[str, Any]:
    """What Lambda's Kinesis event source mapping delivers for these records."""
    from events_api_cli.lambda_events import kinesis_record

    return {
        "Records": [
            kinesis_record(
                blob,
                sequence=str(49_000_000_000_000 + n),
                partition_key=f"pk-{n}",
                arrival=1795694401.0,
                stream_arn="arn:aws:kinesis:us-east-1:123456789012:stream/events-bench",
            )
            for n, blob in enumerate(blobs)
        ]
    }


def buffer_records(batches: list[Batch]) -> list[bytes]:
    """The buffer records the ingest side writes for these batches (one request each)."""
    from events_api import records

    out: list[bytes] = []
    for n, batch in enumerate(batches):
        meta = records.RequestMeta(
            dataset="bench",
            request_id=f"req-{n}",
            received_at="2026-11-26T12:00:00.000Z",
            service="bench",
        )
        out.extend(records.encode(meta, batch.events, _MAX_RECORD))
    return out


class NaiveConsumer:
    """The baseline: orjson per event, gzip level 6, one S3 object per record."""

    def __init__(self, s3: Any, bucket: str) -> None:
        self.s3 = s3
        self.bucket = bucket

    def __call__(self, event: dict[str, Any], context: object) -> dict[str, Any]:
        from events_api import records

        for item in event["Records"]:
            decoded = records.decode(base64.b64decode(item["kinesis"]["data"]))
            meta = decoded.meta
            lines = []
            for ordinal, text in enumerate(decoded.events(), decoded.first):
                doc = orjson.loads(text)
                doc["_dataset"] = meta.dataset
                service = doc.get("service")
                doc["_service"] = service if isinstance(service, str) else meta.service
                doc["_receivedAt"] = meta.received_at
                doc["_requestId"] = meta.request_id
                doc["_timestamp"] = doc.get("timestamp") or meta.received_at
                doc["_id"] = f"{meta.request_id}-{ordinal}"
                lines.append(orjson.dumps(doc))
            body = gzip.compress(b"\n".join(lines) + b"\n", compresslevel=6, mtime=0)
            key = f"dataset={meta.dataset}/naive-{item['kinesis']['sequenceNumber']}.ndjson.gz"
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)
        return {"batchItemFailures": []}


_SCAN = msgspec.json.Decoder(msgspec.Raw)


def consumer_floor(blobs_b64: list[str]) -> Callable[[], object]:
    """Bulk work only, no per-event Python: base64, zstd, one JSON scan, gzip level 1."""
    decompressor = zstandard.ZstdDecompressor()

    def run() -> object:
        texts = []
        for data in blobs_b64:
            blob = base64.b64decode(data)
            header = int.from_bytes(blob[4:8], "big")
            payload = decompressor.decompress(blob[8 + header :])
            _SCAN.decode_lines(payload)
            texts.append(payload)
        return igzip.compress(b"\n".join(texts), 1, mtime=0)

    return run


@dataclass
class ConsumerResult:
    events: int
    records: int
    raw_bytes: int
    seconds: dict[str, float] = field(default_factory=dict)  # medians
    best: dict[str, float] = field(default_factory=dict)  # best rounds

    def events_per_s(self, variant: str = "ours") -> float:
        return self.events / self.seconds[variant]

    @property
    def speedup(self) -> float:
        return self.seconds["baseline"] / self.seconds["ours"]

    @property
    def best_speedup(self) -> float:
        return self.best["baseline"] / self.best["ours"]


def measure(batches: list[Batch], rounds: int) -> ConsumerResult:
    stub = stubs.StubAws().install()
    lambdas.set_env("kinesis")
    module = lambdas.load_function("consumer", tag="_bench")
    from events_api.aws import clients as aws_clients

    naive = NaiveConsumer(aws_clients.s3(), lambdas.BUCKET)
    blobs = buffer_records(batches)
    event = kinesis_event(blobs)
    context = lambdas.context()
    events = sum(len(b.events) for b in batches)

    def ours() -> object:
        answer = module.lambda_handler(event, context)
        if answer["batchItemFailures"]:
            raise RuntimeError(f"consumer failed records: {answer}")
        return answer

    variants: dict[str, Callable[[], object]] = {
        "ours": ours,
        "baseline": lambda: naive(event, context),
        "floor": consumer_floor([r["kinesis"]["data"] for r in event["Records"]]),
    }
    try:
        with lambdas.quiet():
            timings = timing.interleaved(variants, rounds=rounds)
    finally:
        stub.uninstall()
    raw = sum(b.event_bytes for b in batches)
    return ConsumerResult(events, len(blobs), raw, timings.median, timings.best)


def stored_ratio(batches: list[Batch]) -> float:
    """Raw event bytes / stored gzip bytes, as the consumer writes them (level 1)."""
    from events_api import records
    from events_api.store.enrichment import enrich_text

    blobs = buffer_records(batches)
    text = b"".join(enrich_text(records.decode(blob))[0] for blob in blobs)
    raw = sum(b.event_bytes for b in batches)
    return raw / len(igzip.compress(text, 1, mtime=0))
