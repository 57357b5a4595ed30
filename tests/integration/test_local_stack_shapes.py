"""The local stack's pieces in-process: the events it builds and the AWS behaviour it mirrors.

Fast checks behind the end-to-end runs: the gateway's payload 2.0 events and responses
against the event files in events/ (which `sam local generate-event` seeded), and the
pollers' partial batch handling against moto in-process.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from events_api_cli import failed_batches
from events_api_cli.local import poller as poller_module
from events_api_cli.local.api_gateway import (
    BODY_TOO_LARGE_BODY,
    REQUEST_ID_HEADERS,
    FrontDoor,
    RawRequest,
    build_event,
    http_response,
    is_text_body,
)
from events_api_cli.local.gateway import Gateway
from events_api_cli.local.lambda_runtime import MAX_REQUEST_PAYLOAD_BYTES, LocalFunction
from events_api_cli.local.poller import (
    KinesisPoller,
    SqsPoller,
    split_by_payload,
)
from events_api_cli.local.template import load_stack

EVENTS = Path(__file__).resolve().parents[2] / "events"


def sample(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"{name}.json").read_text())


def request(
    body: bytes = b"",
    headers: list[tuple[str, str]] | None = None,
    target: str = "/v1/logs",
    method: str = "POST",
) -> RawRequest:
    return RawRequest(
        method=method,
        target=target,
        protocol="HTTP/1.1",
        headers=headers if headers is not None else [("Content-Type", "application/json")],
        body=body,
        source_ip="127.0.0.1",
        server_port=3000,
    )


def test_event_has_the_shape_of_an_http_api_event() -> None:
    expected = sample("ingest-valid-batch")
    event = build_event(
        request(b"[]", [("Host", "localhost:3000"), ("Content-Type", "application/json")]),
        api_id="abc123",
        request_id="JKJaXmPLvHcESHA=",
        now=1795694400.0,
    )
    assert set(event) == set(expected)
    assert set(event["requestContext"]) == set(expected["requestContext"])
    assert set(event["requestContext"]["http"]) == set(expected["requestContext"]["http"])
    assert event["version"] == "2.0"
    assert event["routeKey"] == event["requestContext"]["routeKey"] == "$default"
    assert event["requestContext"]["stage"] == "$default"
    assert event["requestContext"]["time"] == "26/Nov/2026:12:00:00 +0000"
    assert event["requestContext"]["timeEpoch"] == 1795694400000
    assert event["requestContext"]["requestId"] == "JKJaXmPLvHcESHA="
    assert event["body"] == "[]"
    assert event["isBase64Encoded"] is False
    assert "pathParameters" not in event


def test_headers_cookies_and_query() -> None:
    event = build_event(
        request(
            b"{}",
            [
                ("Content-Type", "application/json"),
                ("X-Thing", "a"),
                ("x-thing", "b"),
                ("Cookie", "one=1; two=2"),
                ("Connection", "keep-alive"),
            ],
            target="/v1/logs?a=1&a=2&b=",
        ),
        api_id="abc123",
        request_id="r",
    )
    assert event["headers"]["x-thing"] == "a,b"
    assert "cookie" not in event["headers"]
    assert "connection" not in event["headers"]
    assert event["cookies"] == ["one=1", "two=2"]
    assert event["rawPath"] == "/v1/logs"
    assert event["rawQueryString"] == "a=1&a=2&b="
    assert event["queryStringParameters"] == {"a": "1,2", "b": ""}
    assert event["headers"]["x-forwarded-for"] == "127.0.0.1"
    assert event["headers"]["x-forwarded-proto"] == "http"
    assert event["headers"]["content-length"] == "2"


@pytest.mark.parametrize(
    ("content_type", "content_encoding", "text"),
    [
        ("application/json", None, True),
        ("application/json; charset=utf-8", None, True),
        ("application/vnd.api+json", None, True),
        ("text/plain", None, True),
        ("application/xml", None, True),
        ("application/atom+xml", None, True),
        ("application/javascript", None, True),
        ("application/x-ndjson", None, False),
        ("application/jsonl", None, False),
        ("application/x-www-form-urlencoded", None, False),
        ("application/octet-stream", None, False),
        (None, None, False),
        ("application/json", "gzip", False),
        ("text/plain", "br", False),
    ],
)
def test_which_bodies_are_base64_encoded(
    content_type: str | None, content_encoding: str | None, text: bool
) -> None:
    assert is_text_body(content_type, content_encoding) is text
    headers = [
        (n, v)
        for n, v in (("Content-Type", content_type), ("Content-Encoding", content_encoding))
        if v
    ]
    body = b'{"message":"hi"}'
    event = build_event(request(body, headers), api_id="a", request_id="r")
    assert event["isBase64Encoded"] is (not text)
    assert event["body"] == (body.decode() if text else base64.b64encode(body).decode())


def test_function_url_event_has_the_shape_of_a_function_url_event() -> None:
    expected = sample("ingest-function-url")
    url_id = expected["requestContext"]["apiId"]
    event = build_event(
        request(b"[]", [("Content-Type", "application/json")]),
        api_id=url_id,
        request_id="6f3c1a8e-2b4d-4e9f-8a7c-1d2e3f4a5b6c",
        now=1795694400.0,
        front_door=FrontDoor.FUNCTION_URL,
    )
    assert set(event) == set(expected)
    assert set(event["requestContext"]) == set(expected["requestContext"])
    context = event["requestContext"]
    # Same payload 2.0 schema; the route and stage are placeholders, auth type NONE.
    assert event["version"] == "2.0"
    assert event["routeKey"] == context["routeKey"] == context["stage"] == "$default"
    assert context["domainName"] == f"{url_id}.lambda-url.us-east-1.on.aws"
    assert context["domainPrefix"] == context["apiId"] == url_id
    assert (context["authentication"], context["authorizer"]) == (None, None)
    assert context["accountId"] == "anonymous"
    assert context["requestId"] == "6f3c1a8e-2b4d-4e9f-8a7c-1d2e3f4a5b6c"
    assert context["timeEpoch"] == 1795694400000


@pytest.mark.parametrize(
    ("content_type", "text"),
    [
        ("application/json", True),
        ("application/json; charset=utf-8", True),
        ("text/plain", True),
        ("application/vnd.api+json", False),
        ("application/xml", False),
        ("application/x-ndjson", False),
        (None, False),
    ],
)
def test_function_url_passes_only_text_and_json_bodies_as_text(
    content_type: str | None, text: bool
) -> None:
    assert is_text_body(content_type, None, FrontDoor.FUNCTION_URL) is text
    headers = [("Content-Type", content_type)] if content_type else []
    body = b'{"message":"hi"}'
    event = build_event(
        request(body, headers), api_id="u", request_id="r", front_door=FrontDoor.FUNCTION_URL
    )
    assert event["isBase64Encoded"] is (not text)
    assert event["body"] == (body.decode() if text else base64.b64encode(body).decode())
    gzipped = build_event(
        request(body, [*headers, ("Content-Encoding", "gzip")]),
        api_id="u",
        request_id="r",
        front_door=FrontDoor.FUNCTION_URL,
    )
    assert gzipped["isBase64Encoded"] is True


def test_gateway_as_a_function_url_sends_uuid_request_ids_in_its_own_header() -> None:
    seen: list[dict[str, Any]] = []

    def record(event: dict[str, Any], context: Any) -> Any:
        seen.append(event)
        return {"statusCode": 202, "body": "{}"}

    gateway = Gateway([("$default", _function(record))], front_door=FrontDoor.FUNCTION_URL)
    request_id, answer = gateway.handle(request(b"[]"))
    assert answer.status == 202
    (event,) = seen
    assert event["requestContext"]["requestId"] == request_id
    assert str(uuid.UUID(request_id)) == request_id
    assert event["requestContext"]["domainName"].endswith(".lambda-url.us-east-1.on.aws")
    assert len(gateway.api_id) == 32
    assert REQUEST_ID_HEADERS == {
        FrontDoor.HTTP_API: "apigw-requestid",
        FrontDoor.FUNCTION_URL: "x-amzn-RequestId",
    }


def test_text_body_that_is_not_utf8_arrives_base64_encoded() -> None:
    body = b'[{"message":"\xff"}]'
    event = build_event(request(body), api_id="a", request_id="r")
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == body


def test_no_body_means_no_body_key() -> None:
    event = build_event(request(b"", [], method="GET"), api_id="a", request_id="r")
    assert "body" not in event
    assert event["isBase64Encoded"] is False
    assert event["requestContext"]["http"]["method"] == "GET"


def test_responses_as_payload_2_defines_them() -> None:
    plain = http_response({"statusCode": 202, "headers": {"x-a": "1"}, "body": '{"ok":1}'})
    assert (plain.status, plain.body) == (202, b'{"ok":1}')
    assert ("x-a", "1") in plain.headers
    encoded = http_response(
        {"statusCode": 200, "body": base64.b64encode(b"\x00\x01").decode(), "isBase64Encoded": True}
    )
    assert encoded.body == b"\x00\x01"
    cookies = http_response({"statusCode": 204, "cookies": ["a=1", "b=2"]})
    assert [v for n, v in cookies.headers if n == "Set-Cookie"] == ["a=1", "b=2"]
    bare = http_response({"hello": "world"})
    assert (bare.status, json.loads(bare.body)) == (200, {"hello": "world"})
    with pytest.raises(ValueError, match="statusCode"):
        http_response({"statusCode": "teapot"})


def _function(handler: Any) -> LocalFunction:
    return LocalFunction("test", handler, timeout_seconds=5, memory_mb=128)


def test_function_errors_and_oversized_events_get_api_gateway_answers() -> None:
    def failing(event: dict[str, Any], context: Any) -> Any:
        raise RuntimeError("boom")

    request_id, answer = Gateway([("$default", _function(failing))]).handle(request(b"[]"))
    assert request_id
    assert (answer.status, json.loads(answer.body)) == (500, {"message": "Internal Server Error"})

    def echo(event: dict[str, Any], context: Any) -> Any:
        assert context.get_remaining_time_in_millis() > 0
        return {"statusCode": 200, "body": event["body"]}

    big = b"x" * MAX_REQUEST_PAYLOAD_BYTES
    _, answer = Gateway([("$default", _function(echo))]).handle(
        request(big, [("Content-Type", "text/plain")])
    )
    assert (answer.status, json.loads(answer.body)) == (413, {"message": "Request Too Long"})
    _, answer = Gateway([("$default", _function(echo))]).handle(
        request(b"hello", [("Content-Type", "text/plain")])
    )
    assert (answer.status, answer.body) == (200, b"hello")
    assert BODY_TOO_LARGE_BODY == "HTTP content length exceeded 10485760 bytes."


def test_batches_are_split_under_the_invoke_limit() -> None:
    records = [{"data": "x" * 1_400_000} for _ in range(10)]
    batches = list(split_by_payload(records, 100))
    assert sum(len(b) for b in batches) == 10
    assert all(len(json.dumps({"Records": b})) <= MAX_REQUEST_PAYLOAD_BYTES for b in batches)
    assert [len(b) for b in split_by_payload([{"n": i} for i in range(25)], 10)] == [10, 10, 5]


class Recorder:
    """A consumer stand-in: records each batch, fails the items it is told to, once."""

    def __init__(self, key: str, fail_once: set[str] | None = None, raise_once: bool = False):
        self.key = key
        self.fail_once = set(fail_once or ())
        self.raise_once = raise_once
        self.batches: list[list[str]] = []

    def item_id(self, record: dict[str, Any]) -> str:
        return str(
            record["kinesis"]["sequenceNumber"] if self.key == "kinesis" else record["messageId"]
        )

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        ids = [self.item_id(r) for r in event["Records"]]
        self.batches.append(ids)
        if self.raise_once:
            self.raise_once = False
            raise RuntimeError("the whole batch failed")
        failed = [i for i in ids if i in self.fail_once]
        self.fail_once -= set(failed)
        return {"batchItemFailures": [{"itemIdentifier": i} for i in failed]}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield


MAPPING_ID = "00000000-0000-4000-8000-000000000001"


def _kinesis_poller(recorder: Recorder, records: int) -> tuple[KinesisPoller, list[str]]:
    kinesis, s3 = boto3.client("kinesis"), boto3.client("s3")
    kinesis.create_stream(StreamName="s", ShardCount=1)
    s3.create_bucket(Bucket="events-bucket")
    arn = kinesis.describe_stream_summary(StreamName="s")["StreamDescriptionSummary"]["StreamARN"]
    sequences = [
        kinesis.put_record(StreamName="s", Data=f"r{n}".encode(), PartitionKey="p")[
            "SequenceNumber"
        ]
        for n in range(records)
    ]
    # Each look at the clock is a minute later: retry back-offs pass without sleeping.
    minutes = itertools.count(step=60)
    mapping = replace(
        load_stack(stack_name="test").event_source_mappings["KinesisEventSource"],
        source_arn=arn,
        on_failure_destination="arn:aws:s3:::events-bucket",
        uuid=MAPPING_ID,
    )
    poller = KinesisPoller(
        kinesis,
        s3,
        mapping,
        _function(recorder),
        "arn:aws:iam::123456789012:role/consumer",
        clock=lambda: float(next(minutes)),
    )
    return poller, sequences


def _drain(poller: poller_module.Poller, rounds: int = 10) -> None:
    for _ in range(rounds):
        poller.poll_once()


@pytest.mark.usefixtures("aws")
def test_kinesis_rereads_from_the_lowest_failed_sequence_number() -> None:
    recorder = Recorder("kinesis")
    poller, seqs = _kinesis_poller(recorder, 5)
    recorder.fail_once = {seqs[3], seqs[1]}
    _drain(poller)
    assert recorder.batches == [seqs, seqs[1:]]
    record = poller._record(
        "shardId-000000000000", {"SequenceNumber": "1", "PartitionKey": "p", "Data": b"x"}
    )  # type: ignore[typeddict-item]
    expected = sample("consumer-kinesis-batch")["Records"][0]
    assert set(record) == set(expected)
    assert set(record["kinesis"]) == set(expected["kinesis"])


@pytest.mark.usefixtures("aws")
def test_kinesis_function_error_retries_the_batch_halved() -> None:
    recorder = Recorder("kinesis", raise_once=True)
    poller, seqs = _kinesis_poller(recorder, 6)
    _drain(poller)
    assert recorder.batches[0] == seqs
    assert recorder.batches[1] == seqs[:3]
    assert [i for batch in recorder.batches[1:] for i in batch] == seqs


@pytest.mark.usefixtures("aws")
def test_sqs_deletes_only_what_was_stored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(poller_module, "SQS_RETRY_DELAY_SECONDS", 0)
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    ids = [
        sqs.send_message(
            QueueUrl=url,
            MessageBody="events-api record",
            MessageAttributes={"record": {"DataType": "Binary", "BinaryValue": f"m{n}".encode()}},
        )["MessageId"]
        for n in range(3)
    ]
    recorder = Recorder("sqs", fail_once={ids[1]})
    mapping = load_stack(stack_name="test", parameters={"BufferType": "SQS"})
    settings = replace(mapping.event_source_mappings["SqsEventSource"], source_arn=arn)
    poller = SqsPoller(sqs, url, settings, _function(recorder))
    assert poller.poll_once() is True
    assert sorted(recorder.batches[0]) == sorted(ids)
    assert poller.poll_once() is True
    assert recorder.batches[1] == [ids[1]]
    assert poller.poll_once() is False
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "0"

    expected = sample("consumer-sqs-batch")["Records"][0]
    sqs.send_message(
        QueueUrl=url,
        MessageBody="events-api record",
        MessageAttributes={"record": {"DataType": "Binary", "BinaryValue": b"x"}},
    )
    message = sqs.receive_message(
        QueueUrl=url, MessageAttributeNames=["All"], MessageSystemAttributeNames=["All"]
    )["Messages"][0]
    record = poller._record(message)
    assert set(record) == set(expected)
    assert record["messageAttributes"]["record"] == {
        "binaryValue": base64.b64encode(b"x").decode(),
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "Binary",
    }
    assert set(expected["attributes"]) <= set(record["attributes"])


@pytest.mark.usefixtures("aws")
def test_kinesis_gives_up_after_ten_retries_and_keeps_the_whole_batch_in_s3() -> None:
    recorder = Recorder("kinesis")
    poller, seqs = _kinesis_poller(recorder, 3)
    recorder.fail_once = set()

    def always_failing(event: dict[str, Any], context: Any) -> Any:
        recorder.batches.append([recorder.item_id(r) for r in event["Records"]])
        return {"batchItemFailures": [{"itemIdentifier": seqs[1]}]}

    poller.function = _function(always_failing)
    _drain(poller, rounds=15)
    # The first try and ten retries, then the poller moves past the batch.
    assert recorder.batches == [seqs] + [seqs[1:]] * 10
    s3 = boto3.client("s3")
    [kept] = s3.list_objects_v2(Bucket="events-bucket", Prefix="aws/lambda/")["Contents"]
    assert re.fullmatch(
        rf"aws/lambda/{MAPPING_ID}/shardId-000000000000/\d{{4}}/\d\d/\d\d/"
        r"\d{4}-\d\d-\d\dT\d\d\.\d\d\.\d\d-[0-9a-f-]{36}",
        kept["Key"],
    )
    body = s3.get_object(Bucket="events-bucket", Key=kept["Key"])["Body"].read()
    info = json.loads(body)["KinesisBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"]) == (seqs[1], seqs[2])
    assert info["batchSize"] == 2
    # The whole invocation: the records and their data, not only where they were.
    event = failed_batches.kinesis_event(body)
    assert [r["kinesis"]["sequenceNumber"] for r in event["Records"]] == seqs[1:]
    assert [base64.b64decode(r["kinesis"]["data"]) for r in event["Records"]] == [b"r1", b"r2"]
