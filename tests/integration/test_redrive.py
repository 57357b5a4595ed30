"""Redrive against moto: each failure place read as it is written, emptied once stored."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime

import boto3
import orjson
import pytest

from events_api import records
from events_api.records import SQS_ATTRIBUTE, SQS_BODY
from events_api.settings import ConsumerSettings
from events_api.store.consumer import ConsumerService
from events_api.store.object_writer import S3ObjectWriter
from events_api_cli import failed_batches
from events_api_cli.commands.redrive import Redriver
from tests.integration.conftest import BUCKET, kinesis_event

pytestmark = pytest.mark.integration

META = records.RequestMeta("logs", "req-1", "2026-11-26T10:15:00.000Z")


def blob(*events: bytes) -> bytes:
    [encoded] = records.encode(META, list(events), 1 << 20)
    return encoded


def redriver(dead_letter_queue: str | None = None, *, dry_run: bool = False) -> Redriver:
    service = ConsumerService(ConsumerSettings(bucket_name=BUCKET), S3ObjectWriter(BUCKET))
    return Redriver(service, BUCKET, dead_letter_queue, dry_run=dry_run)


def stored_events() -> list[dict[str, object]]:
    s3 = boto3.client("s3")
    events = []
    for item in s3.list_objects_v2(Bucket=BUCKET, Prefix="dataset=").get("Contents", []):
        body = gzip.decompress(s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read())
        events += [orjson.loads(line) for line in body.splitlines()]
    return events


def keys(prefix: str) -> list[str]:
    listed = boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return [item["Key"] for item in listed.get("Contents", [])]


def keep_failed_batch(*blobs: bytes) -> str:
    event = kinesis_event(list(blobs))
    now = datetime(2026, 11, 26, 10, 20, tzinfo=UTC)
    key = failed_batches.object_key("mapping", "shardId-000000000000", now)
    body = failed_batches.document(
        function_arn="arn:aws:lambda:us-east-1:123456789012:function:consumer",
        attempts=11,
        stream_arn="arn:aws:kinesis:us-east-1:123456789012:stream/events",
        shard_id="shardId-000000000000",
        records=event["Records"],
        when=now,
    )
    boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body=body)
    return key


@pytest.mark.parametrize("stack", ["kinesis"], indirect=True)
def test_a_failed_kinesis_batch_is_stored_and_removed_and_a_second_run_finds_nothing(
    stack,
) -> None:
    keep_failed_batch(blob(b'{"a":1}', b'{"a":2}'), blob(b'{"a":3}'))
    [place, _] = redriver().run()
    assert (place.found, place.moved, place.left) == (1, 1, [])
    assert sorted(e["a"] for e in stored_events()) == [1, 2, 3]
    assert keys(failed_batches.PREFIX) == []
    [again, _] = redriver().run()
    assert (again.found, again.moved) == (0, 0)
    assert sorted(e["a"] for e in stored_events()) == [1, 2, 3]


@pytest.mark.parametrize("stack", ["kinesis"], indirect=True)
def test_a_dry_run_reports_what_would_move_and_changes_nothing(stack) -> None:
    key = keep_failed_batch(blob(b'{"a":1}'))
    [place, _] = redriver(dry_run=True).run()
    assert (place.found, place.moved, place.left) == (1, 1, [])
    assert stored_events() == []
    assert keys(failed_batches.PREFIX) == [key]


@pytest.mark.parametrize("stack", ["kinesis"], indirect=True)
def test_a_failure_object_that_is_not_a_failed_batch_is_left_with_its_reason(stack) -> None:
    boto3.client("s3").put_object(Bucket=BUCKET, Key="aws/lambda/x/y", Body=b"{}")
    [place, _] = redriver().run()
    assert place.left == [("aws/lambda/x/y", "not a failed-batch record: 'payload'")]


@pytest.mark.parametrize("stack", ["sqs"], indirect=True)
def test_dead_lettered_messages_are_stored_under_their_message_ids_then_deleted(stack) -> None:
    sqs = boto3.client("sqs")
    dlq = sqs.create_queue(QueueName="events-dlq")["QueueUrl"]
    for n in range(3):
        sqs.send_message(
            QueueUrl=dlq,
            MessageBody=SQS_BODY,
            MessageAttributes={
                SQS_ATTRIBUTE: {"DataType": "Binary", "BinaryValue": blob(f'{{"m":{n}}}'.encode())}
            },
        )
    [_, place, _] = redriver(dlq).run()
    assert (place.found, place.moved, place.left) == (3, 3, [])
    assert sorted(e["m"] for e in stored_events()) == [0, 1, 2]
    assert sqs.receive_message(QueueUrl=dlq).get("Messages", []) == []


@pytest.mark.parametrize("stack", ["kinesis"], indirect=True)
def test_quarantined_records_that_now_decode_are_stored_and_the_rest_left(stack) -> None:
    s3 = boto3.client("s3")
    good = "quarantine/source=kinesis/shardId-000000000000_1000.bin"
    bad = "quarantine/source=kinesis/shardId-000000000000_1001.bin"
    s3.put_object(Bucket=BUCKET, Key=good, Body=blob(b'{"q":1}'))
    s3.put_object(Bucket=BUCKET, Key=bad, Body=b"not a record")
    [_, place] = redriver().run()
    assert place.found == 2
    assert place.moved == 1
    [(item, reason)] = place.left
    assert item == bad
    assert reason.startswith("still undecodable: ")
    assert [e["q"] for e in stored_events()] == [1]
    assert keys("quarantine/") == [bad]
