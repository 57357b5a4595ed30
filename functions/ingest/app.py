"""Ingest function: HTTP API or function URL (payload 2.0) -> validated events on the buffer.

Wiring only; the contract's steps live in ``events_api.ingest.service``. The service is built on
the first invocation (settings read once, clients created lazily), never at import time.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.logging import correlation_paths

from events_api.ingest.service import IngestService, build_ingest_service
from events_api.observability import logger, metrics
from events_api.settings import IngestSettings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@cache
def service() -> IngestService:
    return build_ingest_service(IngestSettings.from_env())


@metrics.log_metrics(raise_on_empty_metrics=False)
# requestContext.requestId: the request id of either front door (function URLs use the
# same path, correlation_paths.LAMBDA_FUNCTION_URL).
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return service().handle(event)
