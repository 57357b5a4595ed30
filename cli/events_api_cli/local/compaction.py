"""The local stack's compaction: what the deployed compactor function does with Athena,
done with DuckDB (``query_engine``) over the local bucket, by ``events-api compact`` on demand
and by ``events-api dev`` every few minutes. The order of the steps and the choice of hours
are events_api.analytics.compaction's.
"""

from __future__ import annotations

import logging
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

log = logging.getLogger("events_api_cli.compaction")


def compact_locally(
    bucket: str,
    grace: timedelta,
    lookback: timedelta,
    cache: Path | None = None,
    s3: Any = None,
) -> dict[str, Any]:
    """``s3``: the client to work with (``events-api dev`` gives it the compactor's role);
    by default the shared one of this process."""
    from events_api.analytics.compaction import Compactor
    from events_api.analytics.compaction_store import S3CompactionStore
    from events_api.aws import clients as aws_clients

    from .query_engine import BucketMirror, LocalCompactionEngine

    s3 = s3 or aws_clients.s3()
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


class ScheduledCompaction:
    """The compactor function's work as ``events-api dev`` runs it when the function's
    schedule fires: the settings are the compactor's environment from the template
    (bucket, grace, lookback), the S3 calls are made with its role's client, and Athena's
    part (UNLOAD to Parquet) is DuckDB's over a local copy of the objects."""

    def __init__(self, environment: dict[str, str], s3: Any) -> None:
        from events_api.settings import CompactorSettings

        self.settings = CompactorSettings.from_env(environment)
        self.s3 = s3
        # Its own copy of the objects, gone with the process (moto's bucket is too).
        self._cache = tempfile.TemporaryDirectory(prefix="events-api-dev-compaction-")

    def __call__(self) -> None:
        report = compact_locally(
            self.settings.bucket_name,
            timedelta(minutes=self.settings.grace_minutes),
            timedelta(hours=self.settings.lookback_hours),
            Path(self._cache.name),
            s3=self.s3,
        )
        for result in report["compacted"]:
            log.info("compacted %s (%d new objects)", result["hour"], result["objects"])
        for failure in report["failed"]:
            log.warning("could not compact %s: %s", failure["hour"], failure["error"])

    def close(self) -> None:
        self._cache.cleanup()
