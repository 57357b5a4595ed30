"""OTLP function: OTLP/HTTP logs, traces and metrics (API Gateway payload 2.0) -> buffered events.

Wiring only; the steps live in ``events_api.otlp.service``. A function of its own, so the
Events API's ingest function never loads protobuf. The service is built on the first
invocation (settings read once, clients created lazily), never at import time.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.logging import correlation_paths

from events_api.observability import logger, metrics
from events_api.otlp.service import OtlpService, build_otlp_service
from events_api.settings import IngestSettings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@cache
def service() -> OtlpService:
    return build_otlp_service(IngestSettings.from_env())


@metrics.log_metrics(raise_on_empty_metrics=False)
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return service().handle(event)
