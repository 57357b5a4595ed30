"""Logging and metrics, created once and shared by both functions.

Powertools Logger with orjson, the request id as correlation id; Powertools Metrics (EMF)
for accepted, invalid and rejected events, bytes and stored objects. Nothing here ever
receives an API key: callers log key ids only.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

import orjson
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

NAMESPACE = "EventsApi"


class Metric(StrEnum):
    """Every metric the functions emit under NAMESPACE: the one list the code counts with
    and template.yaml's alarms and dashboard are checked against."""

    # ingest and OTLP
    REQUESTS_REJECTED = "RequestsRejected"  # with a Reason dimension
    EVENTS_ACCEPTED = "EventsAccepted"
    EVENTS_INVALID = "EventsInvalid"
    EVENT_BYTES_ACCEPTED = "EventBytesAccepted"
    BUFFER_ENTRIES_RETRIED = "BufferEntriesRetried"
    OTLP_ITEMS_ACCEPTED = "OtlpItemsAccepted"
    OTLP_ITEMS_REJECTED = "OtlpItemsRejected"
    # consumer
    STORED_OBJECTS = "StoredObjects"
    STORED_EVENTS = "StoredEvents"
    RECORDS_FAILED = "RecordsFailed"
    RECORDS_QUARANTINED = "RecordsQuarantined"
    # compactor
    HOURS_COMPACTED = "HoursCompacted"
    COMPACTION_FAILURES = "CompactionFailures"
    OBJECTS_COMPACTED = "ObjectsCompacted"
    COMPACTION_BYTES_SCANNED = "CompactionBytesScanned"


def _dumps(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def _loads(value: Any) -> Any:
    return orjson.loads(value)


#: Lambda's level names that Python's logging spells otherwise.
_LAMBDA_LEVELS = {"TRACE": logging.DEBUG, "WARN": logging.WARNING, "FATAL": logging.CRITICAL}


def log_level(environ: Mapping[str, str]) -> int:
    """The functions' log level: POWERTOOLS_LOG_LEVEL (the template's LogLevel), never more
    verbose than Lambda's application log level (AWS_LAMBDA_LOG_LEVEL, which would drop
    anything below it anyway).

    Powertools prefers Lambda's level to its own when both are set, so with the template's
    application level at INFO (kept there so that the EMF metric lines, which carry no
    level and count as INFO, are never dropped) a LogLevel of ERROR would log at INFO.
    """
    levels = {**logging.getLevelNamesMapping(), **_LAMBDA_LEVELS}
    chosen = [
        levels.get(environ.get(name, "").upper(), 0)
        for name in ("POWERTOOLS_LOG_LEVEL", "AWS_LAMBDA_LOG_LEVEL")
    ]
    return max(chosen) or logging.INFO


logger = Logger(json_serializer=_dumps, json_deserializer=_loads, utc=True)
# Powertools' Logger is built at import (its idiom), and so is its level.
logging.getLogger(logger.service).setLevel(log_level(os.environ))
metrics = Metrics(namespace=NAMESPACE)
# A request rejected before it counted anything has no application metrics (its rejection is
# a document of its own, count_rejection): that is expected, not worth a warning.
warnings.filterwarnings("ignore", "No application metrics to publish", UserWarning)


def count(name: Metric, value: float = 1, unit: MetricUnit = MetricUnit.Count) -> None:
    metrics.add_metric(name=name.value, unit=unit, value=value)


def count_rejection(reason: str) -> None:
    """Rejected requests by reason: a dimension of its own, so a separate EMF document.

    Called while an error answer is being built, so it never raises: a metrics failure
    must not turn a 4xx into a Lambda error.
    """
    try:
        with single_metric(
            name=Metric.REQUESTS_REJECTED.value,
            unit=MetricUnit.Count,
            value=1,
            namespace=NAMESPACE,
            default_dimensions=metrics.default_dimensions,
        ) as metric:
            metric.add_dimension(name="Reason", value=reason)
    except Exception:
        logger.warning("rejection metric not recorded", extra={"reason": reason})
