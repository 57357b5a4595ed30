"""The compactor function's work: Athena compacts the due hours, metrics say how it went.

The function only starts statements; Athena reads and writes the data, so a busy month
costs the same Lambda time as a quiet one (polling), and Athena's scan is the cost.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from ..aws import clients as aws_clients
from ..observability import Metric, count, logger
from ..settings import CompactorSettings
from . import custom_resource
from .athena import AthenaCompactionEngine, AthenaRunner
from .compaction import Compactor, Report
from .compaction_store import S3CompactionStore
from .table import TABLE

#: An hour is not started with less time than this left: an UNLOAD of a busy hour and its
#: manifest take a minute or two, and an interrupted hour is only redone, never wrong.
SECONDS_PER_HOUR = 180.0
#: A statement is not waited for past this much time before the function's end, so that
#: the run always reports (metrics, log, answer) instead of dying with the timeout.
RESERVE_SECONDS = 30.0
#: How long a CloudFormation request may take before the function answers anyway: under
#: the EventsView custom resource's ServiceTimeout (300 s in template.yaml).
STACK_REQUEST_SECONDS = 240.0


def build(
    settings: CompactorSettings, time_left: Callable[[], float]
) -> tuple[Compactor, AthenaCompactionEngine]:
    runner = AthenaRunner(aws_clients.athena(), settings.workgroup, settings.database)
    engine = AthenaCompactionEngine(runner, settings.bucket_name, time_left, RESERVE_SECONDS)
    compactor = Compactor(
        S3CompactionStore(aws_clients.s3(), settings.bucket_name),
        engine,
        grace=timedelta(minutes=settings.grace_minutes),
        lookback=timedelta(hours=settings.lookback_hours),
    )
    return compactor, engine


def record(report: Report, scanned_bytes: int) -> dict[str, Any]:
    """Metrics and one log line for a run; the report as the function's answer."""
    count(Metric.HOURS_COMPACTED, len(report.compacted))
    count(Metric.COMPACTION_FAILURES, len(report.failed) + len(report.errors))
    count(Metric.OBJECTS_COMPACTED, report.objects)
    count(Metric.COMPACTION_BYTES_SCANNED, scanned_bytes)
    for error in report.errors:
        logger.error("events view not created", extra={"error": error})
    for failure in report.failed:
        logger.error(
            "hour not compacted", extra={"hour": str(failure.hour), "error": failure.error}
        )
    answer = {
        "compacted": [{"hour": str(r.hour), "objects": r.objects} for r in report.compacted],
        "failed": [{"hour": str(r.hour), "error": r.error} for r in report.failed],
        "skipped": [str(hour) for hour in report.skipped],
        "errors": report.errors,
        "scannedBytes": scanned_bytes,
    }
    logger.info(
        "compaction run", extra={k: len(v) if isinstance(v, list) else v for k, v in answer.items()}
    )
    return answer


def run(settings: CompactorSettings, time_left: Callable[[], float]) -> dict[str, Any]:
    compactor, engine = build(settings, time_left)
    report = compactor.run(time_left=time_left, seconds_per_hour=SECONDS_PER_HOUR)
    return record(report, engine.scanned_bytes)


def on_stack_request(
    settings: Callable[[], CompactorSettings],
    event: Mapping[str, Any],
    time_left: Callable[[], float],
) -> dict[str, Any]:
    """The EventsView custom resource: the ``events`` view exists from deployment on
    rather than from the first scheduled run.

    CloudFormation waits for an answer, so one is always sent, within
    ``STACK_REQUEST_SECONDS`` whatever happens (settings, S3, Athena, an AccessDenied). A
    failure is logged and counted but does not fail the deployment: every scheduled run
    creates the view again. Only a failure to send the answer raises, so that Lambda's
    retry of the asynchronous invocation sends it again.
    """
    database = str((event.get("ResourceProperties") or {}).get("Database") or "")
    physical_id = event.get("PhysicalResourceId") or f"{database}.{TABLE}"
    reason = "events view in place"
    if event["RequestType"] in {"Create", "Update"}:
        started = time_left()

        def stack_time_left() -> float:
            return min(time_left(), STACK_REQUEST_SECONDS - (started - time_left()))

        try:
            _compactor, engine = build(settings(), stack_time_left)
            engine.prepare()
        except Exception as exc:  # the stack must be answered whatever failed
            count(Metric.COMPACTION_FAILURES)
            logger.exception("events view not created")
            reason = f"view not created (the next scheduled run creates it): {exc}"
    try:
        return custom_resource.respond(event, str(physical_id), reason=reason)
    except Exception:
        logger.exception("CloudFormation could not be answered")
        raise
