"""Logging and metrics, created once and shared by both functions.

Powertools Logger with orjson, the request id as correlation id; Powertools Metrics (EMF)
for accepted, invalid and rejected events, bytes and stored objects. Nothing here ever
receives an API key: callers log key ids only.
"""

from __future__ import annotations

from typing import Any

import orjson
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

NAMESPACE = "EventsApi"


def _dumps(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def _loads(value: Any) -> Any:
    return orjson.loads(value)


logger = Logger(json_serializer=_dumps, json_deserializer=_loads, utc=True)
metrics = Metrics(namespace=NAMESPACE)


def count(name: str, value: float = 1, unit: MetricUnit = MetricUnit.Count) -> None:
    metrics.add_metric(name=name, unit=unit, value=value)


def count_rejection(reason: str) -> None:
    """Rejected requests by reason: a dimension of its own, so a separate EMF document.

    Called while an error answer is being built, so it never raises: a metrics failure
    must not turn a 4xx into a Lambda error.
    """
    try:
        with single_metric(
            name="RequestsRejected",
            unit=MetricUnit.Count,
            value=1,
            namespace=NAMESPACE,
            default_dimensions=metrics.default_dimensions,
        ) as metric:
            metric.add_dimension(name="Reason", value=reason)
    except Exception:
        logger.warning("rejection metric not recorded", extra={"reason": reason})
