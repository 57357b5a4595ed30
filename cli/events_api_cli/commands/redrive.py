"""``events-api redrive``: what the consumer could not store, back through its own store path.

Three places hold it, each read here the way it was written:

- failed Kinesis batches: objects under ``aws/lambda/`` in the events bucket, written whole
  by the event source mapping's S3 on-failure destination (``failed_batches``), and beside
  them the log forwarder's failed invocations (CloudWatch Logs deliveries it could not put
  on the queue), written whole by its asynchronous S3 on-failure destination;
- dead-lettered SQS messages: the queue's dead-letter queue;
- quarantined records: ``quarantine/source=.../<record id>.bin`` in the events bucket, the
  bytes of buffer records the consumer could not decode.

Every record goes through the consumer's own ``ConsumerService.store`` under the same source
identity as the first time (sequence numbers, message ids, record ids), so stored objects get
the names they would have got then, and a place is emptied only after its records are
confirmed stored: running it twice, or after an interruption, stores nothing twice.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..defaults import DEFAULT_AWS_PORT, LOCAL_STACK_NAME
from ..local.template import bucket_name, dead_letter_queue_name

if TYPE_CHECKING:
    from events_api.store.consumer import ConsumerService, SourceRecord

QUARANTINE_PREFIX = "quarantine/"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "redrive",
        help="store what the consumer gave up on: failed batches, dead letters, quarantine",
        description=(
            "Bring every failed Kinesis batch (aws/lambda/ in the events bucket), "
            "dead-lettered SQS message and quarantined record that can now be decoded back "
            "through the consumer, idempotently, and print what was found, moved and left. "
            "Without --stack it works on the local stack (AWS_ENDPOINT_URL, by default "
            f"http://127.0.0.1:{DEFAULT_AWS_PORT})."
        ),
    )
    parser.add_argument("--stack", help="a deployed stack (reads BucketName, DeadLetterQueueUrl)")
    parser.add_argument(
        "--dry-run", action="store_true", help="report what would be moved; change nothing"
    )
    parser.set_defaults(func=run)


@dataclass
class Place:
    """What one failure place held and what became of it."""

    title: str
    found: int = 0
    moved: int = 0
    left: list[tuple[str, str]] = field(default_factory=list)  # (item, reason)

    def lines(self, dry_run: bool) -> Iterator[str]:
        verb = "would move" if dry_run else "moved"
        yield f"{self.title}: found {self.found}, {verb} {self.moved}, left {len(self.left)}"
        for item, reason in self.left:
            yield f"  left {item}: {reason}"


class Redriver:
    def __init__(
        self,
        service: ConsumerService,
        bucket: str,
        dead_letter_queue_url: str | None,
        *,
        dry_run: bool = False,
    ) -> None:
        from events_api.aws import clients as aws_clients

        self.service, self.bucket = service, bucket
        self.dead_letter_queue_url = dead_letter_queue_url
        self.dry_run = dry_run
        self.s3, self.sqs = aws_clients.s3(), aws_clients.sqs()

    def run(self) -> list[Place]:
        places = [self.failed_batches(), self.quarantined()]
        if self.dead_letter_queue_url:
            places.insert(1, self.dead_letters(self.dead_letter_queue_url))
        return places

    def _keys(self, prefix: str) -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def _store(self, source: str, items: list[SourceRecord]) -> set[str]:
        """Item ids not stored (the undecodable ones on a dry run)."""
        from events_api.store.consumer import undecodable

        if self.dry_run:
            return {item.item_id for item in items if undecodable(item.data) is not None}
        return self.service.store(source, items)

    def failed_batches(self) -> Place:
        from events_api.store.consumer import source_records

        from .. import failed_batches

        place = Place(f"failed Kinesis batches (s3://{self.bucket}/{failed_batches.PREFIX})")
        for key in self._keys(failed_batches.PREFIX):
            place.found += 1
            body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            source = "kinesis"
            try:
                invocation = failed_batches.async_invocation(body)
                if invocation is not None:
                    source, items = "sqs", [_log_delivery(key, *invocation)]
                else:
                    items = source_records(failed_batches.kinesis_event(body))
            except (ValueError, KeyError) as exc:
                place.left.append((key, str(exc)))
                continue
            failed = self._store(source, items)
            if failed:
                place.left.append((key, f"{len(failed)} of {len(items)} records not stored"))
                continue
            if not self.dry_run:
                self.s3.delete_object(Bucket=self.bucket, Key=key)
            place.moved += 1
        return place

    def dead_letters(self, queue_url: str) -> Place:
        from events_api.store.consumer import source_records

        from ..lambda_events import sqs_event_record

        place = Place(f"dead-lettered messages ({queue_url})")
        arn = self.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        kept: list[str] = []  # receipt handles of messages left in the queue
        while True:
            # Received messages stay hidden while this run lasts, so each is seen once.
            messages = self.sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=10,
                MessageAttributeNames=["All"],
                MessageSystemAttributeNames=["All"],
                VisibilityTimeout=300,
                WaitTimeSeconds=0,
            ).get("Messages", [])
            if not messages:
                break
            place.found += len(messages)
            event = {"Records": [sqs_event_record(message, arn) for message in messages]}
            failed = self._store("sqs", source_records(event))
            for message in messages:
                if message["MessageId"] in failed:
                    place.left.append((message["MessageId"], "not stored"))
                    kept.append(message["ReceiptHandle"])
                elif self.dry_run:
                    place.moved += 1
                    kept.append(message["ReceiptHandle"])
                else:
                    self.sqs.delete_message(
                        QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"]
                    )
                    place.moved += 1
        for handle in kept:  # visible again for the next run
            self.sqs.change_message_visibility(
                QueueUrl=queue_url, ReceiptHandle=handle, VisibilityTimeout=0
            )
        return place

    def quarantined(self) -> Place:
        from events_api.store.consumer import SourceRecord, undecodable

        place = Place(f"quarantined records (s3://{self.bucket}/{QUARANTINE_PREFIX})")
        for key in self._keys(QUARANTINE_PREFIX):
            place.found += 1
            source, name = _quarantine_parts(key)
            data = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            reason = undecodable(data)
            if reason is not None:
                place.left.append((key, f"still undecodable: {reason}"))
                continue
            if self._store(source, [SourceRecord(item_id=key, name_key=name, data=data)]):
                place.left.append((key, "not stored"))
                continue
            if not self.dry_run:
                self.s3.delete_object(Bucket=self.bucket, Key=key)
            place.moved += 1
        return place


def _log_delivery(key: str, request_id: str, event: dict[str, Any]) -> SourceRecord:
    """The CloudWatch Logs record of a failed forwarder invocation, named after it."""
    from events_api.ingest.log_forwarder import log_data
    from events_api.store.consumer import SourceRecord

    return SourceRecord(item_id=key, name_key=request_id or key, data=log_data(event))


def _quarantine_parts(key: str) -> tuple[str, str]:
    """(source, record id) of ``quarantine/source={source}/{record id}.bin``."""
    _, folder, file = key.split("/", 2)
    return folder.removeprefix("source="), file.removesuffix(".bin")


def _target(stack: str | None) -> tuple[str, str | None]:
    """(events bucket, dead-letter queue URL or None)."""
    from events_api.aws import clients as aws_clients

    from .aws_target import stack_outputs

    if stack:
        outputs = stack_outputs(stack)
        bucket = outputs.get("BucketName")
        if not bucket:
            from .aws_target import TargetError

            raise TargetError(f"stack {stack!r} has no output BucketName")
        return bucket, outputs.get("DeadLetterQueueUrl")
    sqs: Any = aws_clients.sqs()
    try:
        url = sqs.get_queue_url(QueueName=dead_letter_queue_name(LOCAL_STACK_NAME))["QueueUrl"]
    except sqs.exceptions.QueueDoesNotExist:
        url = None
    return bucket_name(LOCAL_STACK_NAME), url


def run(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from .aws_target import TargetError, prepare_environment

    if not args.stack:
        os.environ.setdefault("AWS_ENDPOINT_URL", f"http://127.0.0.1:{DEFAULT_AWS_PORT}")
    prepare_environment()
    # The consumer's code runs here: no metrics documents or info logs on the terminal.
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    from events_api.settings import ConsumerSettings
    from events_api.store.consumer import ConsumerService
    from events_api.store.object_writer import S3ObjectWriter

    try:
        bucket, dead_letter_queue = _target(args.stack)
        service = ConsumerService(ConsumerSettings(bucket_name=bucket), S3ObjectWriter(bucket))
        places = Redriver(service, bucket, dead_letter_queue, dry_run=args.dry_run).run()
    except TargetError as exc:
        print(f"events-api: {exc}", file=sys.stderr)
        return 2
    except (BotoCoreError, ClientError) as exc:
        print(f"events-api: {exc}", file=sys.stderr)
        return 2
    for place in places:
        print("\n".join(place.lines(args.dry_run)))
    return 1 if any(place.left for place in places) else 0
