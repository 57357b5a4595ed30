"""A moto-backed stack (in-process mock_aws) for the real handlers, for either buffer."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.metrics.provider import cold_start
from moto import mock_aws

from events_api import aws
from events_api.ingest.key_store import SsmKeyStore
from events_api.observability import metrics
from events_api.records import SQS_ATTRIBUTE, SQS_BODY
from events_api_cli import lambda_events
from events_api_cli.local.api_gateway import FrontDoor
from tests import support
from tests.support import SAMPLE_KEY, load_function

KEYS_PATH = "/events-api/test/keys/"
BUCKET = "events-api-test-bucket"


@dataclass
class Stack:
    """The stack the handlers run against in-process: moto's buffer (Kinesis stream or SQS
    queue) and events bucket (a running ``events-api dev`` is ``e2e.conftest.DevStack``)."""

    buffer: str
    stream_name: str = ""
    queue_url: str = ""
    _kinesis_iterator: str | None = None
    _seen_sqs: set[str] = field(default_factory=set)

    def buffered(self) -> list[bytes]:
        """Records put on the buffer since the last call (in order for Kinesis)."""
        if self.buffer == "kinesis":
            client = boto3.client("kinesis")
            if self._kinesis_iterator is None:
                shard = client.describe_stream(StreamName=self.stream_name)["StreamDescription"][
                    "Shards"
                ][0]["ShardId"]
                self._kinesis_iterator = client.get_shard_iterator(
                    StreamName=self.stream_name, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
            answer = client.get_records(ShardIterator=self._kinesis_iterator, Limit=10_000)
            self._kinesis_iterator = answer["NextShardIterator"]
            return [r["Data"] for r in answer["Records"]]
        client = boto3.client("sqs")
        blobs = []
        while True:
            answer = client.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
            )
            messages = answer.get("Messages", [])
            if not messages:
                return blobs
            for message in messages:
                assert message["Body"] == SQS_BODY
                blobs.append(message["MessageAttributes"][SQS_ATTRIBUTE]["BinaryValue"])
                client.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )

    def stored(self) -> dict[str, bytes]:
        """Every object in the bucket, gunzipped when it is an events object."""
        s3 = boto3.client("s3")
        out = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
            for item in page.get("Contents", []):
                body = s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
                out[item["Key"]] = gzip.decompress(body) if item["Key"].endswith(".gz") else body
        return out


def kinesis_event(blobs: list[bytes], first_sequence: int = 1000) -> dict[str, Any]:
    """What Lambda's Kinesis event source mapping delivers for these records."""
    return {
        "Records": [
            lambda_events.kinesis_record(
                blob,
                sequence=str(first_sequence + n),
                partition_key=f"pk-{n}",
                arrival=1795694401.0,
                stream_arn="arn:aws:kinesis:us-east-1:123456789012:stream/events",
            )
            for n, blob in enumerate(blobs)
        ]
    }


def sqs_event(blobs: list[bytes]) -> dict[str, Any]:
    """What Lambda's SQS event source mapping delivers for these messages."""
    return {
        "Records": [
            lambda_events.sqs_record(
                message_id=f"msg-{n}",
                receipt_handle=f"handle-{n}",
                body=SQS_BODY,
                attributes={"ApproximateReceiveCount": "1"},
                message_attributes={SQS_ATTRIBUTE: lambda_events.binary_attribute(blob)},
                md5_of_body="0",
                queue_arn="arn:aws:sqs:us-east-1:123456789012:events",
            )
            for n, blob in enumerate(blobs)
        ]
    }


def consumer_event(buffer: str, blobs: list[bytes]) -> dict[str, Any]:
    return kinesis_event(blobs) if buffer == "kinesis" else sqs_event(blobs)


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "events-api")
    monkeypatch.setenv("API_KEYS_PATH", KEYS_PATH)
    monkeypatch.setenv("BUCKET_NAME", BUCKET)
    aws.reset()
    metrics.clear_metrics()
    cold_start.is_cold_start = True
    yield
    aws.reset()
    metrics.clear_metrics()


@pytest.fixture
def ssm() -> Iterator[Any]:
    """moto's SSM alone, with the package's clients reset around it (the key tests)."""
    with mock_aws():
        aws.reset()
        yield boto3.client("ssm")
    aws.reset()


@pytest.fixture(params=["kinesis", "sqs"])
def stack(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        SsmKeyStore(KEYS_PATH).create(SAMPLE_KEY, "sample", "events files")
        if request.param == "kinesis":
            boto3.client("kinesis").create_stream(StreamName="events", ShardCount=1)
            current = Stack("kinesis", stream_name="events")
            monkeypatch.setenv("BUFFER_TYPE", "kinesis")
            monkeypatch.setenv("STREAM_NAME", "events")
        else:
            url = boto3.client("sqs").create_queue(QueueName="events")["QueueUrl"]
            current = Stack("sqs", queue_url=url)
            monkeypatch.setenv("BUFFER_TYPE", "sqs")
            monkeypatch.setenv("QUEUE_URL", url)
        yield current


@pytest.fixture(params=list(FrontDoor), ids=[door.value for door in FrontDoor])
def front_door(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> FrontDoor:
    """Runs a test once per front door: the ingest events it builds take that door's shape."""
    door = FrontDoor(request.param)
    monkeypatch.setattr(support, "front_door", door)
    return door


@pytest.fixture
def ingest(stack: Stack) -> Iterator[ModuleType]:
    module = load_function("ingest")
    yield module
    module.service.cache_clear()


@pytest.fixture
def consumer(stack: Stack) -> Iterator[ModuleType]:
    module = load_function("consumer")
    yield module
    module.service.cache_clear()


@pytest.fixture
def otlp(stack: Stack) -> Iterator[ModuleType]:
    module = load_function("otlp")
    yield module
    module.service.cache_clear()
