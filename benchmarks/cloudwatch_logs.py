"""CloudWatch Logs records through the consumer: events per second for typical Lambda logs
and for 1 MB (compressed) records, S3 left out (an in-memory writer), on one core.

``python -m benchmarks.cloudwatch_logs`` runs this part alone (under ``flock
/work/heavy.lock`` on shared machines) and prints JSON; it is not yet part of
``make bench``'s report (docs/cloudwatch-logs.md quotes its figures).
"""

from __future__ import annotations

import gzip
import sys
import time
from typing import Any

import orjson

from .log_shapes import REQUEST, TYPICAL_INVOCATION, record


class _Memory:
    def __init__(self) -> None:
        self.bytes = 0

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self.bytes += len(body)


def measure(blobs: list[bytes], batch: int) -> dict[str, Any]:
    from events_api.settings import ConsumerSettings
    from events_api.store.consumer import ConsumerService, SourceRecord

    writer = _Memory()
    service = ConsumerService(ConsumerSettings(bucket_name="bench"), writer)
    items = [SourceRecord(str(n), str(n), blob, 1_795_694_401.0) for n, blob in enumerate(blobs)]
    events = sum(len(orjson.loads(gzip.decompress(b))["logEvents"]) for b in blobs)
    raw = sum(len(gzip.decompress(b)) for b in blobs)
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for start in range(0, len(items), batch):
            assert not service.store("kinesis", items[start : start + batch])
        best = min(best, time.perf_counter() - started)
    return {
        "records": len(blobs),
        "compressedBytesPerRecord": sum(map(len, blobs)) // len(blobs),
        "inflatedBytesPerRecord": raw // len(blobs),
        "eventsPerRecord": events // len(blobs),
        "eventsPerSecond": round(events / best),
        "inflatedMBPerSecond": round(raw / best / 1e6, 1),
        "secondsPerRecord": round(best / len(blobs), 4),
    }


def main() -> int:
    import os

    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    typical = [record(TYPICAL_INVOCATION * 20, first_id=n * 1000) for n in range(200)]
    large = []
    for n in range(3):
        lines = [
            m.replace(REQUEST, f"{n:04d}{k:04d}-6b1d-4a8e-9d7c-2f3b4a5c6d7e")
            for k in range(17_500)
            for m in TYPICAL_INVOCATION
        ]
        large.append(record(lines, first_id=n * 100_000))
    results = {
        "typicalLambdaLogs": measure(typical, 100),
        "oneMegabyteRecords": measure(large, 1),
    }
    print(orjson.dumps(results, option=orjson.OPT_INDENT_2).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
