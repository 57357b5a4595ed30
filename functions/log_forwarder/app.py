"""Log forwarder function (BufferType SQS): a CloudWatch Logs subscription's records onto the
queue, untouched (events_api.ingest.log_forwarder says why). Wiring only: an error is
raised, never swallowed, so that Lambda's retries and S3 on-failure destination keep the
data."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from events_api.ingest.log_forwarder import LogForwarder, log_data
from events_api.observability import logger
from events_api.settings import LogForwarderSettings


@cache
def forwarder() -> LogForwarder:
    return LogForwarder(LogForwarderSettings.from_env())


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> None:
    data = log_data(event)
    forwarder().forward(data)
    logger.debug("log record forwarded", extra={"bytes": len(data)})
