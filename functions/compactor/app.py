"""Compactor function: started hourly by EventBridge Scheduler, it has Athena rewrite the
closed hours of stored events as Parquet (events_api.analytics.compaction says which and in what
order). CloudFormation also calls it once per deployment (the EventsView custom resource)
so that the events view exists from the start. Wiring only."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from events_api.analytics import compactor
from events_api.analytics.custom_resource import is_stack_request
from events_api.observability import logger, metrics
from events_api.settings import CompactorSettings


@cache
def settings() -> CompactorSettings:
    return CompactorSettings.from_env()


@metrics.log_metrics(raise_on_empty_metrics=False)
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    def time_left() -> float:
        return context.get_remaining_time_in_millis() / 1000

    if is_stack_request(event):
        return compactor.on_stack_request(settings, event, time_left)
    return compactor.run(settings(), time_left)
