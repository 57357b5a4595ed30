"""Logging and metrics, created once and shared by both functions.

Powertools Logger with orjson, the request id as correlation id; Powertools Metrics (EMF)
for accepted, invalid and rejected events, bytes and stored objects. Nothing here ever
receives an API key: callers log key ids only.
"""

from __future__ import annotations

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
    REQUESTS = "Requests"
    REQUESTS_REJECTED = "RequestsRejected"  # with a Reason dimension
    EVENTS_ACCEPTED = "EventsAccepted"
    EVENTS_INVALID = "EventsInvalid"
    EVENT_BYTES_ACCEPTED = "EventBytesAccepted"
    BUFFER_RECORDS = "BufferRecords"
    BUFFER_ENTRIES_RETRIED = "BufferEntriesRetried"
    OTLP_REQUESTS = "OtlpRequests"
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


logger = Logger(json_serializer=_dumps, json_deserializer=_loads, utc=True)
metrics = Metrics(namespace=NAMESPACE)


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
