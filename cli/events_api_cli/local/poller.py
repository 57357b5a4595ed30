"""Event source mappings, locally: Kinesis or SQS -> the consumer function, real event shapes.

Each poller is one of the template's ``AWS::Lambda::EventSourceMapping`` resources, with
its settings (local/template): batch size, starting position, bisection, maximum retries and
record age, the on-failure destination and ``FunctionResponseTypes``. It reads the buffer
the way Lambda's event source mapping does, with the clients it is given (``events-api
dev`` gives it the function's execution role, as AWS does), builds the event Lambda would
send (same keys, same encodings) and honours the function's partial batch response:

- Kinesis: records are read per shard in order. After a batch, the shard moves on past its
  last record; when records failed it reads again from the lowest failed sequence number
  (``AT_SEQUENCE_NUMBER``), and when the function itself failed, from the batch's first
  record with the batch halved (``BisectBatchOnFunctionError``). After 10 retries
  (``MaximumRetryAttempts``) the batch is written whole to the events bucket under
  ``aws/lambda/``, as the template's S3 ``OnFailure`` destination does, and skipped.
- SQS: messages the function did not name in ``batchItemFailures`` are deleted. The failed
  ones come back after the queue's visibility timeout in AWS; locally the stack's own
  client (not the role: AWS makes no such call) shortens it to a few seconds with
  ChangeMessageVisibility, so the queue keeps the template's value. After
  ``maxReceiveCount`` receives the queue's redrive policy moves them to the dead-letter queue.

Batches are split so that no event exceeds Lambda's 6 MB invoke payload. Lambda's batching
window is not waited for (``events-api dev`` says so): locally, stored events should show
up as soon as possible.
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
from ..defaults import LOCAL_REGION
from .event_source_mapping import Outcome, after_kinesis_batch, split_sqs_batch
from .lambda_runtime import MAX_REQUEST_PAYLOAD_BYTES, Function, FunctionError
from .runtime import SQS_RETRY_DELAY_SECONDS
from .template.stack import EventSourceMapping

if TYPE_CHECKING:
    from mypy_boto3_kinesis import KinesisClient
    from mypy_boto3_kinesis.type_defs import RecordTypeDef
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

log = logging.getLogger("events_api_cli.poller")

#: Room left in the payload for the envelope around the records.
_ENVELOPE_BYTES = 1024
#: MaximumRetryAttempts -1: retried until the records expire.
_FOREVER = 2**31


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


def failed_item_ids(
    function: Function, event: dict[str, Any], *, report_failures: bool = True
) -> set[str] | None:
    """The ``batchItemFailures`` of one invocation; None when the function itself failed.
    Without ``ReportBatchItemFailures`` in the mapping, Lambda ignores them."""
    try:
        answer = function.invoke(event)
    except FunctionError:
        return None
    if not isinstance(answer, dict) or not report_failures:
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
    max_batch: int = 100
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
        mapping: EventSourceMapping,
        function: Function,
        role_arn: str,
        idle_seconds: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(idle_seconds)
        self.kinesis, self.s3 = kinesis, s3
        self.mapping = mapping
        self.stream_arn = mapping.source_arn
        self.stream_name = mapping.source_arn.rsplit("/", 1)[-1]
        destination = mapping.on_failure_destination or ""
        self.failure_bucket = destination.split(":::", 1)[1] if ":s3:::" in destination else None
        self.function = function
        self.role_arn = role_arn
        self.clock, self.wall_clock = clock, wall_clock
        self.max_retries = (
            _FOREVER if mapping.maximum_retry_attempts < 0 else mapping.maximum_retry_attempts
        )
        self.report_failures = "ReportBatchItemFailures" in mapping.function_response_types
        self.shards: dict[str, _Shard] = {}
        self._destination_checked = False

    def _refresh_shards(self) -> None:
        pages = self.kinesis.get_paginator("list_shards").paginate(StreamARN=self.stream_arn)
        start = self.mapping.starting_position or "TRIM_HORIZON"
        for page in pages:
            for shard in page["Shards"]:
                self.shards.setdefault(
                    shard["ShardId"],
                    _Shard(shard["ShardId"], start_type=start, max_batch=self.mapping.batch_size),
                )

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
                "StreamARN": self.stream_arn,
                "ShardId": shard.shard_id,
                "ShardIteratorType": shard.start_type,
            }
            if shard.start_sequence is not None:
                args["StartingSequenceNumber"] = shard.start_sequence
            shard.iterator = self.kinesis.get_shard_iterator(**args)["ShardIterator"]
        return shard.iterator

    def _poll_shard(self, shard: _Shard) -> bool:
        answer = self.kinesis.get_records(
            ShardIterator=self._iterator(shard), Limit=shard.max_batch, StreamARN=self.stream_arn
        )
        shard.iterator = answer.get("NextShardIterator")
        if shard.iterator is None:
            shard.closed = True
        records = answer["Records"]
        if not records:
            return False
        events = [self._record(shard.shard_id, record) for record in records]
        expired = self._expired(events)
        if expired:
            # MaximumRecordAgeInSeconds: records older than that go to the destination unread.
            self._give_up(shard, events[:expired], reason="record age")
            shard.attempts = 0
            shard.restart("AFTER_SEQUENCE_NUMBER", events[expired - 1]["kinesis"]["sequenceNumber"])
            return True
        for batch in split_by_payload(events, shard.max_batch):
            if not self._deliver(shard, batch):
                break
        return True

    def _expired(self, events: list[dict[str, Any]]) -> int:
        """How many of the first records are past the mapping's maximum record age."""
        age = self.mapping.maximum_record_age_seconds
        if age < 0:
            return 0
        oldest_allowed = self.wall_clock() - age
        count = 0
        for event in events:
            if float(event["kinesis"]["approximateArrivalTimestamp"]) >= oldest_allowed:
                break
            count += 1
        return count

    def _record(self, shard_id: str, record: RecordTypeDef) -> dict[str, Any]:
        return lambda_events.kinesis_record(
            record["Data"],
            sequence=record["SequenceNumber"],
            partition_key=record["PartitionKey"],
            arrival=_epoch_seconds(record.get("ApproximateArrivalTimestamp")),
            stream_arn=self.stream_arn,
            shard_id=shard_id,
            role_arn=self.role_arn,
            region=LOCAL_REGION,
        )

    def _deliver(self, shard: _Shard, batch: list[dict[str, Any]]) -> bool:
        """Invoke for one batch; False when the shard must be read again from a checkpoint."""
        sequences = [record["kinesis"]["sequenceNumber"] for record in batch]
        failed = failed_item_ids(
            self.function, {"Records": batch}, report_failures=self.report_failures
        )
        step = after_kinesis_batch(
            sequences,
            failed,
            attempts=shard.attempts,
            batch_size=shard.max_batch,
            full_batch_size=self.mapping.batch_size,
            max_retries=self.max_retries,
            bisect=self.mapping.bisect_on_error,
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

    def _give_up(self, shard: _Shard, batch: list[dict[str, Any]], reason: str = "retries") -> None:
        first, last = batch[0]["kinesis"]["sequenceNumber"], batch[-1]["kinesis"]["sequenceNumber"]
        if self.failure_bucket is None:
            log.error(
                "%s: gave up on records %s..%s (%s); the mapping has no S3 destination that "
                "the local stack can write, so they are dropped as AWS would drop them",
                shard.shard_id,
                first,
                last,
                reason,
            )
            return
        if not self._destination_checked:
            # The mapping needs s3:ListBucket on an S3 destination besides s3:PutObject
            # (Lambda developer guide): it looks the bucket up before writing to it.
            self.s3.head_bucket(Bucket=self.failure_bucket)
            self._destination_checked = True
        now = datetime.now(UTC)
        key = failed_batches.object_key(self.mapping.uuid, shard.shard_id, now)
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
            "%s: gave up on records %s..%s (%s, %d attempts); kept in s3://%s/%s",
            shard.shard_id,
            first,
            last,
            reason,
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
        mapping: EventSourceMapping,
        function: Function,
        retry_sqs: SQSClient | None = None,
        idle_seconds: float = 0.25,
    ) -> None:
        """``sqs`` reads and deletes as the mapping does (with the function's role);
        ``retry_sqs`` (the stack's own client) shortens a failed message's wait."""
        super().__init__(idle_seconds)
        self.sqs = sqs
        self.retry_sqs = retry_sqs or sqs
        self.queue_url, self.queue_arn = queue_url, mapping.source_arn
        self.mapping = mapping
        self.batch_size = min(mapping.batch_size, 10)
        self.report_failures = "ReportBatchItemFailures" in mapping.function_response_types
        self.function = function

    def poll_once(self) -> bool:
        answer = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
            WaitTimeSeconds=0,
        )
        messages = answer.get("Messages", [])
        if not messages:
            return False
        records = [self._record(message) for message in messages]
        for batch in split_by_payload(records, self.mapping.batch_size):
            self._deliver(batch)
        return True

    def _record(self, message: MessageTypeDef) -> dict[str, Any]:
        return lambda_events.sqs_event_record(message, self.queue_arn, region=LOCAL_REGION)

    def _deliver(self, batch: list[dict[str, Any]]) -> None:
        failed = failed_item_ids(
            self.function, {"Records": batch}, report_failures=self.report_failures
        )
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
            self.retry_sqs.change_message_visibility_batch(
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
