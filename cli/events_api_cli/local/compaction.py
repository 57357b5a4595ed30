"""The local stack's compaction: what the deployed compactor function does with Athena,
done with DuckDB (``query_engine``) over the local bucket, by ``events-api compact`` on demand
and by ``events-api dev`` every few minutes. The order of the steps and the choice of hours
are events_api.analytics.compaction's.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

log = logging.getLogger("events_api_cli.compaction")


def compact_locally(
    bucket: str, grace: timedelta, lookback: timedelta, cache: Path | None = None
) -> dict[str, Any]:
    from events_api.analytics.compaction import Compactor
    from events_api.analytics.compaction_store import S3CompactionStore
    from events_api.aws import clients as aws_clients

    from .query_engine import BucketMirror, LocalCompactionEngine

    s3 = aws_clients.s3()
    engine = LocalCompactionEngine(BucketMirror(s3, bucket, cache))
    try:
        compactor = Compactor(S3CompactionStore(s3, bucket), engine, grace=grace, lookback=lookback)
        return summary(compactor.run())
    finally:
        engine.close()


def summary(report: Any) -> dict[str, Any]:
    return {
        "compacted": [{"hour": str(r.hour), "objects": r.objects} for r in report.compacted],
        "failed": [{"hour": str(r.hour), "error": r.error} for r in report.failed],
        "skipped": [str(hour) for hour in report.skipped],
    }


class PeriodicCompaction(threading.Thread):
    """``events-api dev``'s compaction: every ``interval`` seconds, the closed hours."""

    def __init__(self, bucket: str, interval: float, grace: timedelta) -> None:
        super().__init__(name="compaction", daemon=True)
        self.bucket, self.interval, self.grace = bucket, interval, grace
        self._stopping = threading.Event()
        # Its own copy of the objects, gone with the process (moto's bucket is too).
        self._cache = tempfile.TemporaryDirectory(prefix="events-api-dev-compaction-")

    def run(self) -> None:
        while not self._stopping.wait(self.interval):
            try:
                report = compact_locally(
                    self.bucket, self.grace, timedelta(hours=48), Path(self._cache.name)
                )
            except Exception as exc:  # the next round tries again; dev keeps serving
                log.warning("compaction failed: %s", exc)
                continue
            for result in report["compacted"]:
                log.info("compacted %s (%d new objects)", result["hour"], result["objects"])

    def stop(self) -> None:
        self._stopping.set()
        self.join(timeout=5)  # a round over small local hours takes well under that
        self._cache.cleanup()
