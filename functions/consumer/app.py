"""Consumer function: Kinesis or SQS batches -> gzip NDJSON objects in S3 by dataset and hour.

Wiring only. The batch is stored group by group first (one object per dataset and hour);
the answer then names exactly the records whose group failed, in the partial batch
response shape the event source mapping expects (``batchItemFailures``, in record order:
sequence numbers for Kinesis, message ids for SQS). Powertools' BatchProcessor would give
the same answer but costs over 100 ms of imports (asyncio, every event data class) on
each cold start, for a loop this small.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from events_api.consumer import (
    ConsumerService,
    build_consumer_service,
    source_of,
    source_records,
)
from events_api.observability import logger, metrics
from events_api.settings import ConsumerSettings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@cache
def service() -> ConsumerService:
    return build_consumer_service(ConsumerSettings.from_env())


def _item_id(record: dict[str, Any], source: str) -> str:
    return str(record["kinesis"]["sequenceNumber"] if source == "kinesis" else record["messageId"])


@metrics.log_metrics(raise_on_empty_metrics=False)
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    source = source_of(event)
    if source not in ("kinesis", "sqs"):
        raise ValueError("the consumer takes Kinesis or SQS events only")
    failed = service().store(source, source_records(event))
    return {
        "batchItemFailures": [
            {"itemIdentifier": item_id}
            for item_id in (_item_id(record, source) for record in event["Records"])
            if item_id in failed
        ]
    }
