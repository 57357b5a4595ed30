"""The real consumer handler against moto S3: stored layout, partial failures, quarantine."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from botocore.exceptions import ClientError

from benchmarks import worst
from events_api import records
from events_api.aws import clients as aws_clients
from events_api.store.consumer import RESERVE_MS
from events_api_cli.local.template import TEMPLATE_PATH, batch_size
from tests.integration.conftest import consumer_event
from tests.support import FakeLambdaContext, http_event, load_event

pytestmark = pytest.mark.integration


def invoke(app: Any, event: dict[str, Any]) -> dict[str, Any]:
    return app.lambda_handler(event, FakeLambdaContext())


def lines(body: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in body.decode().splitlines()]


def blob(dataset: str, events: list[bytes], request_id: str = "req", hour: str = "12") -> bytes:
    meta = records.RequestMeta(dataset, request_id, f"2026-11-26T{hour}:30:00.000Z", "svc")
    [encoded] = records.encode(meta, events, 1_000_000)
    return encoded


def fail_puts_for(prefix: str) -> Any:
    """Make S3 PutObject fail (as S3 throttling does) for keys under ``prefix``."""

    def hook(params: dict[str, Any], **_: Any) -> None:
        if params["Key"].startswith(prefix):
            raise ClientError({"Error": {"Code": "SlowDown", "Message": "slow"}}, "PutObject")

    aws_clients.s3().meta.events.register("before-parameter-build.s3.PutObject", hook)
    return hook


@pytest.mark.parametrize("name", ["consumer-kinesis-batch", "consumer-sqs-batch"])
def test_event_files_are_stored_as_gzip_ndjson_by_dataset_and_hour(consumer, stack, name) -> None:
    response = invoke(consumer, load_event(name))
    assert response == {"batchItemFailures": []}
    stored = stack.stored()
    [key] = stored
    source = "kinesis" if "kinesis" in name else "sqs"
    assert key.startswith(f"dataset=logs/dt=2026-11-26/hour=12/{source}-")
    assert key.endswith(".ndjson.gz")
    sent = json.loads(load_event("ingest-valid-batch")["body"])
    assert lines(stored[key]) == [
        {
            **sent[0],
            "_dataset": "logs",
            "_service": "my-service",
            "_namespace": "https://api.domain.com/resource/{id}",
            "_receivedAt": "2026-11-26T12:00:01.000Z",
            "_requestId": "JKJaXmPLvHcESHA=",
            "_timestamp": "2026-11-26T12:00:00.123Z",
            "_id": "JKJaXmPLvHcESHA=-0",
        },
        {
            **sent[1],
            "_dataset": "logs",
            "_service": "my-service",
            "_receivedAt": "2026-11-26T12:00:02.000Z",
            "_requestId": "JKJbBnQMvHcEJvw=",
            "_timestamp": "2026-11-26T12:00:00.123Z",
            "_id": "JKJbBnQMvHcEJvw=-0",
        },
    ]


def test_ingested_events_round_trip_through_the_buffer_to_s3(ingest, consumer, stack) -> None:
    sent = [{"message": f"event {n}", "n": n, "timestamp": 1795694400000 + n} for n in range(50)]
    response = ingest.lambda_handler(
        http_event(json.dumps(sent), headers={"x-namespace": "ns"}), FakeLambdaContext()
    )
    assert response["statusCode"] == 202
    assert invoke(consumer, consumer_event(stack.buffer, stack.buffered())) == {
        "batchItemFailures": []
    }
    [(key, body)] = stack.stored().items()
    assert key.startswith("dataset=logs/dt=")
    stored = lines(body)
    assert [{k: v for k, v in e.items() if not k.startswith("_")} for e in stored] == sent
    assert [e["_id"] for e in stored] == [f"JKJaXmPLvHcESHA=-{n}" for n in range(50)]
    assert {e["_namespace"] for e in stored} == {"ns"}
    assert stored[3]["_timestamp"] == "2026-11-26T12:00:00.003Z"


def test_records_of_several_datasets_and_hours_go_to_separate_objects(consumer, stack) -> None:
    blobs = [
        blob("logs", [b'{"a":1}'], "r1", "10"),
        blob("logs", [b'{"a":2}'], "r2", "10"),
        blob("logs", [b'{"a":3}'], "r3", "11"),
        blob("metrics", [b'{"m":1}'], "r4", "10"),
    ]
    assert invoke(consumer, consumer_event(stack.buffer, blobs)) == {"batchItemFailures": []}
    stored = stack.stored()
    prefixes = sorted(key.rsplit("/", 1)[0] for key in stored)
    assert prefixes == [
        "dataset=logs/dt=2026-11-26/hour=10",
        "dataset=logs/dt=2026-11-26/hour=11",
        "dataset=metrics/dt=2026-11-26/hour=10",
    ]
    hour10 = next(
        v for k, v in stored.items() if k.startswith("dataset=logs/dt=2026-11-26/hour=10")
    )
    assert [e["a"] for e in lines(hour10)] == [1, 2]


def test_retried_batch_rewrites_the_same_objects(consumer, stack) -> None:
    event = consumer_event(stack.buffer, [blob("logs", [b'{"a":1}']), blob("other", [b"{}"])])
    invoke(consumer, event)
    first = stack.stored()
    invoke(consumer, event)
    assert stack.stored() == first
    assert len(first) == 2


def test_failed_write_reports_exactly_the_records_of_that_object(consumer, stack) -> None:
    blobs = [blob("logs", [b'{"a":1}']), blob("broken", [b'{"b":1}']), blob("logs", [b'{"a":2}'])]
    event = consumer_event(stack.buffer, blobs)
    fail_puts_for("dataset=broken/")
    response = invoke(consumer, event)
    ids = [
        r["kinesis"]["sequenceNumber"] if stack.buffer == "kinesis" else r["messageId"]
        for r in event["Records"]
    ]
    assert response == {"batchItemFailures": [{"itemIdentifier": ids[1]}]}
    assert [k.split("/")[0] for k in stack.stored()] == ["dataset=logs"]


def test_all_records_failing_are_all_reported(consumer, stack) -> None:
    event = consumer_event(stack.buffer, [blob("logs", [b"{}"]), blob("logs", [b"{}"], "r2")])
    fail_puts_for("dataset=")
    response = invoke(consumer, event)
    assert len(response["batchItemFailures"]) == 2
    assert stack.stored() == {}


def test_undecodable_record_is_quarantined_with_its_bytes_and_not_retried(consumer, stack) -> None:
    poison = b"\x00not a record\xff"
    event = consumer_event(stack.buffer, [poison, blob("logs", [b'{"ok":true}'])])
    assert invoke(consumer, event) == {"batchItemFailures": []}
    stored = stack.stored()
    [quarantined] = [k for k in stored if k.startswith("quarantine/")]
    assert quarantined.startswith(f"quarantine/source={stack.buffer}/")
    assert stored[quarantined] == poison
    assert any(k.startswith("dataset=logs/") for k in stored)


def test_poison_record_is_retried_when_quarantine_cannot_be_written(consumer, stack) -> None:
    event = consumer_event(stack.buffer, [b"garbage"])
    fail_puts_for("quarantine/")
    response = invoke(consumer, event)
    assert len(response["batchItemFailures"]) == 1


@pytest.mark.parametrize("workload", ["empty-objects", "compressible-256kib"])
def test_a_full_batch_of_the_worst_records_is_stored_whole_in_objects_under_the_cap(
    consumer, stack, monkeypatch, workload
) -> None:
    cap = 1024 * 1024
    monkeypatch.setenv("STORE_OBJECT_MAX_BYTES", str(cap))  # read on the first invocation
    mapping = "KinesisEventSource" if stack.buffer == "kinesis" else "SqsEventSource"
    blobs, events = worst.buffer_records(workload, batch_size(TEMPLATE_PATH, mapping), stack.buffer)
    assert invoke(consumer, consumer_event(stack.buffer, blobs)) == {"batchItemFailures": []}
    expected: set[bytes] = set()
    for blob in blobs:
        decoded = records.decode(blob)
        ids = range(decoded.first, decoded.first + len(decoded.event_ends()))
        expected.update(f"{decoded.meta.request_id}-{n}".encode() for n in ids)
    assert len(expected) == events
    sent = worst.WORKLOADS[workload][1]
    stored_ids: list[bytes] = []
    stored = stack.stored()
    assert len(stored) > 1
    for key, text in stored.items():
        assert key.endswith(".ndjson.gz")
        assert len(text) <= cap
        lines = text.splitlines()
        assert all(line.startswith(sent[:-1]) for line in lines)
        stored_ids.extend(re.findall(rb'"_id":"([^"]+)"', text))
    assert len(stored_ids) == events
    assert set(stored_ids) == expected


def test_records_not_started_before_the_timeout_are_retried_not_lost(consumer, stack) -> None:
    blobs = [blob("logs", [b'{"a":%d}' % n], f"r{n}") for n in range(3)]
    event = consumer_event(stack.buffer, blobs)
    ids = [
        r["kinesis"]["sequenceNumber"] if stack.buffer == "kinesis" else r["messageId"]
        for r in event["Records"]
    ]
    context = FakeLambdaContext(remaining_ms=RESERVE_MS - 1)
    response = consumer.lambda_handler(event, context)
    # The first record is always stored, so a retried batch always makes progress.
    assert response == {"batchItemFailures": [{"itemIdentifier": i} for i in ids[1:]]}
    [text] = stack.stored().values()
    assert [e["a"] for e in lines(text)] == [0]
    context.remaining_ms = RESERVE_MS
    assert consumer.lambda_handler(event, context) == {"batchItemFailures": []}
