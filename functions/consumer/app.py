"""Consumer function: Kinesis or SQS batches -> gzip NDJSON objects in S3 by dataset and hour.

Wiring only. The batch is stored group by group first (one object per dataset and hour);
Powertools' BatchProcessor then reports exactly the records whose group failed, in the
partial batch response shape the event source mapping expects. Its import costs about
100 ms of cold start; the consumer runs behind the buffer, where that is invisible to
producers, and the project keeps one well-known mechanism for the response shape.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from events_api.observability import logger, metrics
from events_api.settings import ConsumerSettings
from events_api.store.consumer import (
    ConsumerService,
    build_consumer_service,
    source_of,
    source_records,
)

_EVENT_TYPES = {"kinesis": EventType.KinesisDataStreams, "sqs": EventType.SQS}


class RecordNotStored(Exception):
    """The record's object could not be written; the source will deliver it again."""


@cache
def service() -> ConsumerService:
    return build_consumer_service(ConsumerSettings.from_env())


@metrics.log_metrics(raise_on_empty_metrics=False)
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    source = source_of(event)
    if source not in _EVENT_TYPES:
        raise ValueError("the consumer takes Kinesis or SQS events only")
    failed = service().store(source, source_records(event), context.get_remaining_time_in_millis)

    def record_handler(record: Any) -> None:
        item_id = record.kinesis.sequence_number if source == "kinesis" else record.message_id
        if item_id in failed:
            raise RecordNotStored(item_id)

    processor = BatchProcessor(event_type=_EVENT_TYPES[source], raise_on_entire_batch_failure=False)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
