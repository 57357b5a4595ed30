"""CloudWatch Logs records through the real handlers against moto: the consumer with real
Kinesis and SQS event shapes (stored events, partial failures, quarantine, redelivery), the
log forwarder, the log subscriber, and redrive of quarantined and forwarder-failed records."""

from __future__ import annotations

import base64
import gzip
import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from benchmarks import log_shapes
from events_api import records
from events_api.ingest.log_subscriptions import Subscriber
from events_api.settings import ConsumerSettings, LogSubscriberSettings
from events_api.store.consumer import ConsumerService
from events_api.store.object_writer import S3ObjectWriter
from events_api_cli import failed_batches
from events_api_cli.commands.redrive import Redriver
from tests.integration.conftest import BUCKET, consumer_event
from tests.integration.test_consumer_handler import fail_puts_for
from tests.support import FakeLambdaContext, load_function

pytestmark = pytest.mark.integration

#: The arrival time the conftest's events carry (Kinesis approximateArrivalTimestamp).
ARRIVAL = "2026-11-26T12:00:01.000Z"


def item_ids(event: dict[str, Any]) -> list[str]:
    return [
        r["kinesis"]["sequenceNumber"] if "kinesis" in r else r["messageId"]
        for r in event["Records"]
    ]


def objects() -> dict[str, list[dict[str, Any]]]:
    s3 = boto3.client("s3")
    out = {}
    for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        body = s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
        if item["Key"].endswith(".gz"):
            out[item["Key"]] = [json.loads(line) for line in gzip.decompress(body).splitlines()]
        else:
            out[item["Key"]] = [{"bytes": len(body)}]
    return out


def with_arrival(event: dict[str, Any]) -> dict[str, Any]:
    for record in event["Records"]:
        if "attributes" in record:  # SQS: when the forwarder (or ingest) sent it
            record["attributes"]["SentTimestamp"] = "1795694401000"
    return event


def test_a_typical_invocations_lines_are_stored_one_event_each(consumer, stack) -> None:
    data = log_shapes.record(log_shapes.TYPICAL_INVOCATION)
    event = with_arrival(consumer_event(stack.buffer, [data]))
    assert consumer.lambda_handler(event, FakeLambdaContext()) == {"batchItemFailures": []}
    [(key, stored)] = objects().items()
    assert key.startswith(f"dataset=lambda-logs/dt=2026-11-26/hour=12/{stack.buffer}-")
    assert stored[0]["message"].startswith("START RequestId:")
    assert [e.get("type") for e in stored] == [
        "platform.start",
        None,
        None,
        None,
        "platform.end",
        "platform.report",
    ]
    ids = [e["id"] for e in log_shapes.envelope(log_shapes.TYPICAL_INVOCATION)["logEvents"]]
    assert [e["_id"] for e in stored] == ids
    assert {e["_receivedAt"] for e in stored} == {ARRIVAL}
    assert {e["_service"] for e in stored} == {"orders-api"}
    assert stored[5]["durationMs"] == 45.12


def test_log_records_control_messages_and_our_own_records_share_a_batch(consumer, stack) -> None:
    ours = records.encode(
        records.RequestMeta("app", "req-1", "2026-11-16T08:00:00.000Z"), [b'{"a":1}'], 1 << 20
    )[0]
    control = log_shapes.record(
        ["CWL CONTROL MESSAGE: Checking health of destination Kinesis stream."],
        message_type="CONTROL_MESSAGE",
    )
    broken = b"\x1f\x8b" + b"\x00" * 40
    logs = log_shapes.record(["hello\n"], log_group="/ecs/web")
    event = with_arrival(consumer_event(stack.buffer, [ours, control, broken, logs]))
    assert consumer.lambda_handler(event, FakeLambdaContext()) == {"batchItemFailures": []}
    stored = objects()
    datasets = sorted(key.split("/")[0] for key in stored)
    assert datasets == ["dataset=app", "dataset=cloudwatch-logs", "quarantine"]
    [quarantined] = [key for key in stored if key.startswith("quarantine/")]
    assert quarantined.startswith(f"quarantine/source={stack.buffer}/")


def test_only_the_log_record_whose_object_failed_is_retried(consumer, stack) -> None:
    ours = records.encode(
        records.RequestMeta("app", "req-1", "2026-11-16T08:00:00.000Z"), [b'{"a":1}'], 1 << 20
    )[0]
    logs = log_shapes.record(["hello\n"])
    event = with_arrival(consumer_event(stack.buffer, [ours, logs]))
    fail_puts_for("dataset=lambda-logs/")
    response = consumer.lambda_handler(event, FakeLambdaContext())
    assert response == {"batchItemFailures": [{"itemIdentifier": item_ids(event)[1]}]}


def test_a_redelivered_record_rewrites_the_same_object_with_the_same_ids(consumer, stack) -> None:
    event = with_arrival(consumer_event(stack.buffer, [log_shapes.record(["a\n", "b\n"])]))
    consumer.lambda_handler(event, FakeLambdaContext())
    first = objects()
    consumer.lambda_handler(event, FakeLambdaContext())
    assert objects() == first


def test_a_record_inflating_past_the_window_is_stored_in_slices(
    consumer, stack, monkeypatch
) -> None:
    from events_api.store import cloudwatch_logs

    monkeypatch.setattr(cloudwatch_logs, "CHUNK_BYTES", 64 * 1024)
    messages = [f"line {n} {'x' * 200}\n" for n in range(5_000)]
    event = with_arrival(consumer_event(stack.buffer, [log_shapes.record(messages)]))
    assert consumer.lambda_handler(event, FakeLambdaContext()) == {"batchItemFailures": []}
    stored = [e for events in objects().values() for e in events]
    assert [e["message"] for e in stored] == [m[:-1] for m in messages]


@pytest.mark.parametrize("stack", ["sqs"], indirect=True)
def test_the_forwarder_puts_the_delivery_on_the_queue_untouched(stack) -> None:
    forwarder = load_function("log_forwarder")
    try:
        data = log_shapes.record(log_shapes.TYPICAL_INVOCATION)
        event = {"awslogs": {"data": base64.b64encode(data).decode()}}
        assert forwarder.lambda_handler(event, FakeLambdaContext()) is None
        assert stack.buffered() == [data]
        with pytest.raises(ValueError, match="not a CloudWatch Logs subscription event"):
            forwarder.lambda_handler({"Records": []}, FakeLambdaContext())
    finally:
        forwarder.forwarder.cache_clear()


@pytest.mark.parametrize("stack", ["sqs"], indirect=True)
def test_the_forwarder_raises_when_the_queue_does_not_confirm(stack, monkeypatch) -> None:
    from events_api.ingest.buffer import BufferUnavailable

    monkeypatch.setenv("QUEUE_URL", stack.queue_url + "-gone")
    monkeypatch.setenv("BUFFER_BUDGET_SECONDS", "0.2")
    forwarder = load_function("log_forwarder")
    try:
        event = {"awslogs": {"data": base64.b64encode(log_shapes.record(["x"])).decode()}}
        with pytest.raises(BufferUnavailable):
            forwarder.lambda_handler(event, FakeLambdaContext())
    finally:
        forwarder.forwarder.cache_clear()


def redriver() -> Redriver:
    service = ConsumerService(ConsumerSettings(bucket_name=BUCKET), S3ObjectWriter(BUCKET))
    return Redriver(service, BUCKET, None)


@pytest.mark.parametrize("stack", ["sqs"], indirect=True)
def test_redrive_stores_the_forwarders_failed_deliveries_and_quarantined_log_records(
    stack,
) -> None:
    s3 = boto3.client("s3")
    when = datetime(2026, 11, 16, 8, 40, tzinfo=UTC)
    data = log_shapes.record(["from a failed delivery\n"])
    key = failed_batches.async_key("forwarder", when)
    body = failed_batches.async_document(
        function_arn="arn:aws:lambda:us-east-1:123456789012:function:forwarder",
        request_id="4b1c-request",
        payload={"awslogs": {"data": base64.b64encode(data).decode()}},
        attempts=3,
        when=when,
        error="1 buffer entries unconfirmed",
    )
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    quarantined = "quarantine/source=kinesis/shardId-000000000000_77.bin"
    s3.put_object(
        Bucket=BUCKET, Key=quarantined, Body=log_shapes.record(["from quarantine\n"], first_id=9)
    )
    places = redriver().run()
    assert [(p.found, p.moved, p.left) for p in places] == [(1, 1, []), (1, 1, [])]
    stored = sorted(e["message"] for events in objects().values() for e in events)
    assert stored == ["from a failed delivery", "from quarantine"]
    assert [p.found for p in redriver().run()] == [0, 0]


def test_the_subscriber_subscribes_names_and_prefixes_but_never_the_stacks_own(stack) -> None:
    logs = boto3.client("logs")
    kinesis = boto3.client("kinesis")
    kinesis.create_stream(StreamName="logs-destination", ShardCount=1)
    arn = kinesis.describe_stream_summary(StreamName="logs-destination")[
        "StreamDescriptionSummary"
    ]["StreamARN"]
    for group in (
        "/aws/lambda/orders-api",
        "/aws/lambda/orders-worker",
        "/aws/lambda/billing",
        "/ecs/api",
        "/ecs/api-2",
        "/aws/lambda/orders-events-api-ingest",
    ):
        logs.create_log_group(logGroupName=group)
    settings = LogSubscriberSettings(
        selection=("/aws/lambda/orders-*", "/ecs/api"),
        excluded=frozenset({"/aws/lambda/orders-events-api-ingest"}),
        filter_name="stack-events-api",
        destination_arn=arn,
        role_arn="arn:aws:iam::123456789012:role/logs",
    )
    subscriber = Subscriber(settings, logs, sleep=lambda _: None)
    outcome = subscriber.subscribe()
    assert sorted(outcome.subscribed) == [
        "/aws/lambda/orders-api",
        "/aws/lambda/orders-worker",
        "/ecs/api",
    ]
    assert outcome.failed == {}
    [subscription] = logs.describe_subscription_filters(logGroupName="/ecs/api")[
        "subscriptionFilters"
    ]
    assert subscription["filterName"] == "stack-events-api"
    assert subscription["destinationArn"] == arn
    # Groups created before the window are left to the deployment-time run.
    assert subscriber.subscribe(created_after_ms=2**62).subscribed == []
    assert sorted(subscriber.unsubscribe().removed) == sorted(outcome.subscribed)
    assert logs.describe_subscription_filters(logGroupName="/ecs/api")["subscriptionFilters"] == []
