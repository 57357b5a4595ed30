"""Compactor function: started hourly by EventBridge Scheduler, it has Athena rewrite the
closed hours of stored events as Parquet (events_api.compaction says which and in what
order). Wiring only."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from events_api import compactor
from events_api.observability import logger, metrics
from events_api.settings import CompactorSettings


@cache
def settings() -> CompactorSettings:
    return CompactorSettings.from_env()


@metrics.log_metrics(raise_on_empty_metrics=False)
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return compactor.run(settings(), lambda: context.get_remaining_time_in_millis() / 1000)
