"""Event source mappings, locally: Kinesis or SQS -> the consumer function, real event shapes.

Each poller reads the buffer the way Lambda's event source mapping does, builds the event
Lambda would send (same keys, same encodings) and honours the function's partial batch
response (``ReportBatchItemFailures``, as template.yaml configures both mappings):

- Kinesis: records are read per shard in order. After a batch, the shard moves on past its
  last record; when records failed it reads again from the lowest failed sequence number
  (``AT_SEQUENCE_NUMBER``), and when the function itself failed, from the batch's first
  record with the batch halved (``BisectBatchOnFunctionError``). After 10 retries
  (``MaximumRetryAttempts``) the batch is written whole to the events bucket under
  ``aws/lambda/``, as the template's S3 ``OnFailure`` destination does, and skipped.
- SQS: messages the function did not name in ``batchItemFailures`` are deleted. The failed
  ones are made visible again after a few seconds (AWS waits for the queue's visibility
  timeout); after 5 receives the queue's redrive policy moves them to the dead-letter queue.

Batches hold at most 100 Kinesis records / 10 SQS messages (the template's batch sizes)
and are split so that no event exceeds Lambda's 6 MB invoke payload. Lambda's batching
window (5 s for Kinesis in the template) is not waited for: locally, stored events should
show up as soon as possible.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from .. import failed_batches, lambda_events
from ..defaults import LOCAL_ACCOUNT_ID, LOCAL_REGION
from .event_source_mapping import (
    KINESIS_BATCH_SIZE,
    SQS_BATCH_SIZE,
    Outcome,
    after_kinesis_batch,
    split_sqs_batch,
)
from .lambda_runtime import MAX_REQUEST_PAYLOAD_BYTES, Function, FunctionError

if TYPE_CHECKING:
    from mypy_boto3_kinesis import KinesisClient
    from mypy_boto3_kinesis.type_defs import RecordTypeDef
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

log = logging.getLogger("events_api_cli.poller")

#: How long a failed SQS message stays hidden before it is delivered again.
SQS_RETRY_DELAY_SECONDS = 2
#: Room left in the payload for the envelope around the records.
_ENVELOPE_BYTES = 1024
CONSUMER_ROLE_ARN = f"arn:aws:iam::{LOCAL_ACCOUNT_ID}:role/events-api-local-consumer"
#: The local Kinesis event source mapping's id (in AWS, its UUID).
KINESIS_MAPPING_ID = "00000000-0000-4000-8000-000000000001"


def split_by_payload(
    records: Sequence[dict[str, Any]], max_records: int, max_bytes: int = MAX_REQUEST_PAYLOAD_BYTES
) -> Iterator[list[dict[str, Any]]]:
    """Consecutive batches of at most ``max_records`` whose event fits in ``max_bytes``."""
    batch: list[dict[str, Any]] = []
    size = _ENVELOPE_BYTES
    for record in records:
        record_size = len(orjson.dumps(record)) + 1
        if batch and (len(batch) >= max_records or size + record_size > max_bytes):
            yield batch
            batch, size = [], _ENVELOPE_BYTES
        batch.append(record)
        size += record_size
    if batch:
        yield batch


def failed_item_ids(function: Function, event: dict[str, Any]) -> set[str] | None:
    """The ``batchItemFailures`` of one invocation; None when the function itself failed."""
    try:
        answer = function.invoke(event)
    except FunctionError:
        return None
    if not isinstance(answer, dict):
        return set()
    failures = answer.get("batchItemFailures") or []
    ids = {str(item.get("itemIdentifier")) for item in failures if isinstance(item, dict)}
    # An empty or null identifier fails the whole batch, as Lambda treats it.
    if "" in ids or "None" in ids:
        return None
    return ids


class Poller:
    """A loop on its own thread; ``stop`` lets the batch in hand finish first."""

    name = "poller"

    def __init__(self, idle_seconds: float = 0.25) -> None:
        self.idle_seconds = idle_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.name)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.poll_once()
            except Exception:
                log.exception("%s: polling failed", self.name)
                busy = False
            if not busy:
                self._stop.wait(self.idle_seconds)

    def poll_once(self) -> bool:
        """Deliver what is there; True when there was something (poll again at once)."""
        raise NotImplementedError


@dataclass
class _Shard:
    shard_id: str
    iterator: str | None = None
    #: Where to read next, when the iterator has to be made again.
    start_type: str = "TRIM_HORIZON"
    start_sequence: str | None = None
    attempts: int = 0
    max_batch: int = KINESIS_BATCH_SIZE
    not_before: float = 0.0
    closed: bool = False

    def restart(self, kind: str, sequence: str | None) -> None:
        self.iterator, self.start_type, self.start_sequence = None, kind, sequence


def _epoch_seconds(moment: Any) -> float:
    if isinstance(moment, datetime):
        return moment.timestamp()
    return float(moment or time.time())


class KinesisPoller(Poller):
    name = "kinesis-poller"

    def __init__(
        self,
        kinesis: KinesisClient,
        s3: S3Client,
        stream_name: str,
        stream_arn: str,
        failure_bucket: str,
        function: Function,
        idle_seconds: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(idle_seconds)
        self.kinesis, self.s3 = kinesis, s3
        self.stream_name, self.stream_arn = stream_name, stream_arn
        self.failure_bucket = failure_bucket
        self.function = function
        self.clock = clock
        self.shards: dict[str, _Shard] = {}

    def _refresh_shards(self) -> None:
        pages = self.kinesis.get_paginator("list_shards").paginate(StreamName=self.stream_name)
        for page in pages:
            for shard in page["Shards"]:
                self.shards.setdefault(shard["ShardId"], _Shard(shard["ShardId"]))

    def poll_once(self) -> bool:
        if not self.shards:
            self._refresh_shards()
        busy = False
        for shard in self.shards.values():
            if shard.closed or shard.not_before > self.clock():
                continue
            busy |= self._poll_shard(shard)
        return busy

    def _iterator(self, shard: _Shard) -> str:
        if shard.iterator is None:
            args: dict[str, Any] = {
                "StreamName": self.stream_name,
                "ShardId": shard.shard_id,
                "ShardIteratorType": shard.start_type,
            }
            if shard.start_sequence is not None:
                args["StartingSequenceNumber"] = shard.start_sequence
            shard.iterator = self.kinesis.get_shard_iterator(**args)["ShardIterator"]
        return shard.iterator

    def _poll_shard(self, shard: _Shard) -> bool:
        answer = self.kinesis.get_records(
            ShardIterator=self._iterator(shard), Limit=shard.max_batch
        )
        shard.iterator = answer.get("NextShardIterator")
        if shard.iterator is None:
            shard.closed = True
        records = answer["Records"]
        if not records:
            return False
        events = [self._record(shard.shard_id, record) for record in records]
        for batch in split_by_payload(events, shard.max_batch):
            if not self._deliver(shard, batch):
                break
        return True

    def _record(self, shard_id: str, record: RecordTypeDef) -> dict[str, Any]:
        return lambda_events.kinesis_record(
            record["Data"],
            sequence=record["SequenceNumber"],
            partition_key=record["PartitionKey"],
            arrival=_epoch_seconds(record.get("ApproximateArrivalTimestamp")),
            stream_arn=self.stream_arn,
            shard_id=shard_id,
            role_arn=CONSUMER_ROLE_ARN,
            region=LOCAL_REGION,
        )

    def _deliver(self, shard: _Shard, batch: list[dict[str, Any]]) -> bool:
        """Invoke for one batch; False when the shard must be read again from a checkpoint."""
        sequences = [record["kinesis"]["sequenceNumber"] for record in batch]
        failed = failed_item_ids(self.function, {"Records": batch})
        step = after_kinesis_batch(
            sequences, failed, attempts=shard.attempts, batch_size=shard.max_batch
        )
        shard.attempts, shard.max_batch = step.attempts, step.batch_size
        if step.outcome is Outcome.DONE:
            return True
        if step.outcome is Outcome.GIVE_UP:
            self._give_up(shard, batch)
            shard.attempts = step.carried_attempts
            shard.restart("AFTER_SEQUENCE_NUMBER", sequences[-1])
            return False
        resume = sequences[step.resume_at]
        if failed is None:
            log.warning(
                "%s: the consumer failed on %d records from %s; retrying (attempt %d)",
                shard.shard_id,
                len(batch),
                resume,
                shard.attempts,
            )
        else:
            log.warning(
                "%s: %d of %d records not stored; retrying from %s (attempt %d)",
                shard.shard_id,
                len(failed),
                len(batch),
                resume,
                shard.attempts,
            )
        shard.restart("AT_SEQUENCE_NUMBER", resume)
        shard.not_before = self.clock() + min(0.5 * 2 ** (shard.attempts - 1), 8.0)
        return False

    def _give_up(self, shard: _Shard, batch: list[dict[str, Any]]) -> None:
        now = datetime.now(UTC)
        key = failed_batches.object_key(KINESIS_MAPPING_ID, shard.shard_id, now)
        body = failed_batches.document(
            function_arn=self.function.arn,
            attempts=shard.attempts,
            stream_arn=self.stream_arn,
            shard_id=shard.shard_id,
            records=batch,
            when=now,
        )
        self.s3.put_object(Bucket=self.failure_bucket, Key=key, Body=body)
        log.error(
            "%s: gave up on records %s..%s after %d attempts; kept in s3://%s/%s",
            shard.shard_id,
            batch[0]["kinesis"]["sequenceNumber"],
            batch[-1]["kinesis"]["sequenceNumber"],
            shard.attempts,
            self.failure_bucket,
            key,
        )


class SqsPoller(Poller):
    name = "sqs-poller"

    def __init__(
        self,
        sqs: SQSClient,
        queue_url: str,
        queue_arn: str,
        function: Function,
        idle_seconds: float = 0.25,
    ) -> None:
        super().__init__(idle_seconds)
        self.sqs = sqs
        self.queue_url, self.queue_arn = queue_url, queue_arn
        self.function = function

    def poll_once(self) -> bool:
        answer = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=SQS_BATCH_SIZE,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
            WaitTimeSeconds=0,
        )
        messages = answer.get("Messages", [])
        if not messages:
            return False
        records = [self._record(message) for message in messages]
        for batch in split_by_payload(records, SQS_BATCH_SIZE):
            self._deliver(batch)
        return True

    def _record(self, message: MessageTypeDef) -> dict[str, Any]:
        return lambda_events.sqs_event_record(message, self.queue_arn, region=LOCAL_REGION)

    def _deliver(self, batch: list[dict[str, Any]]) -> None:
        failed = failed_item_ids(self.function, {"Records": batch})
        done, retry = split_sqs_batch(batch, failed, lambda record: str(record["messageId"]))
        for start in range(0, len(done), 10):
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(n), "ReceiptHandle": r["receiptHandle"]}
                    for n, r in enumerate(done[start : start + 10])
                ],
            )
        if retry:
            log.warning(
                "%d of %d messages not stored; delivering them again in %d s",
                len(retry),
                len(batch),
                SQS_RETRY_DELAY_SECONDS,
            )
            self.sqs.change_message_visibility_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {
                        "Id": str(n),
                        "ReceiptHandle": r["receiptHandle"],
                        "VisibilityTimeout": SQS_RETRY_DELAY_SECONDS,
                    }
                    for n, r in enumerate(retry)
                ],
            )
