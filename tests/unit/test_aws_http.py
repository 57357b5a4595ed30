"""The ingest path's own AWS client: signing, endpoints, errors and hooks (no network)."""

from __future__ import annotations

import calendar
import time
from typing import Any

import orjson
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotocoreCredentials

from events_api.aws import http_client as aws_http
from events_api.aws.http_client import Call, Credentials, JsonClient, Response, Signer

#: AWS's Signature Version 4 test suite: credentials and the time of every case.
SUITE_CREDENTIALS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
SUITE_TIME = calendar.timegm((2015, 8, 30, 12, 36, 0))


def test_signature_matches_the_aws_sigv4_suite_post_vanilla_case() -> None:
    headers: dict[str, str] = {}
    Signer("service", "us-east-1").sign(
        "example.amazonaws.com", headers, b"", SUITE_CREDENTIALS, SUITE_TIME
    )
    assert headers == {
        "X-Amz-Date": "20150830T123600Z",
        "Authorization": "AWS4-HMAC-SHA256 "
        "Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        "SignedHeaders=host;x-amz-date, "
        "Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
    }


def test_signature_equals_botocores_for_a_json_call_with_a_session_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    body = orjson.dumps(
        {"StreamName": "events", "Records": [{"Data": "eA==", "PartitionKey": "p"}]}
    )
    headers = {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "Kinesis_20131202.PutRecords",
    }
    creds = Credentials("AKIDEXAMPLE", "secret/key", "session-token")
    ours = dict(headers)
    Signer("kinesis", "eu-west-1").sign(
        "kinesis.eu-west-1.amazonaws.com", ours, body, creds, SUITE_TIME
    )

    import botocore.auth

    class Frozen(botocore.auth.datetime.datetime):  # type: ignore[name-defined,misc]
        @classmethod
        def utcnow(cls) -> Any:
            return cls(2015, 8, 30, 12, 36, 0)

        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return cls(2015, 8, 30, 12, 36, 0, tzinfo=tz)

    monkeypatch.setattr(botocore.auth.datetime, "datetime", Frozen)
    request = AWSRequest("POST", "https://kinesis.eu-west-1.amazonaws.com/", dict(headers), body)
    SigV4Auth(
        BotocoreCredentials("AKIDEXAMPLE", "secret/key", "session-token"), "kinesis", "eu-west-1"
    ).add_auth(request)
    assert ours["Authorization"] == request.headers["Authorization"]
    assert ours["X-Amz-Security-Token"] == "session-token"


@pytest.mark.parametrize(
    ("environ", "url"),
    [
        ({}, "https://sqs.eu-west-1.amazonaws.com/"),
        ({"AWS_ENDPOINT_URL": "http://127.0.0.1:4566"}, "http://127.0.0.1:4566/"),
        (
            {"AWS_ENDPOINT_URL": "http://127.0.0.1:4566", "AWS_ENDPOINT_URL_SQS": "http://sqs:1/"},
            "http://sqs:1/",
        ),
    ],
)
def test_endpoint_is_the_service_variable_then_the_global_one_then_the_region(
    environ: dict[str, str], url: str
) -> None:
    assert aws_http.endpoint_url("sqs", "eu-west-1", environ) == url


def test_china_regions_use_their_own_domain() -> None:
    assert (
        aws_http.endpoint_url("ssm", "cn-north-1", {}) == "https://ssm.cn-north-1.amazonaws.com.cn/"
    )


class Recorder:
    """A transport that records what it is given and answers from a list."""

    def __init__(self, *answers: Response | Exception) -> None:
        self.answers = list(answers)
        self.sent: list[tuple[str, dict[str, str], bytes]] = []

    def send(
        self, method: str, url: str, headers: dict[str, str], body: bytes, timeout: float
    ) -> Response:
        self.sent.append((url, headers, body))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


ENVIRON = {
    "AWS_ACCESS_KEY_ID": "AKID",
    "AWS_SECRET_ACCESS_KEY": "secret",
    "AWS_SESSION_TOKEN": "token",
    "AWS_REGION": "us-east-1",
}


def client(transport: Recorder, service: str = "kinesis") -> JsonClient:
    return JsonClient(service, environ=ENVIRON, transport=lambda: transport, clock=lambda: 0.0)


def test_a_call_posts_the_document_with_the_protocols_headers_and_reads_the_answer() -> None:
    transport = Recorder(Response(200, b'{"FailedRecordCount":0,"Records":[]}'))
    answer = client(transport, "sqs").call("SendMessageBatch", {"QueueUrl": "q", "Entries": []})
    assert answer == {"FailedRecordCount": 0, "Records": []}
    [(url, headers, body)] = transport.sent
    assert url == "https://sqs.us-east-1.amazonaws.com/"
    assert body == b'{"QueueUrl":"q","Entries":[]}'
    assert headers["Content-Type"] == "application/x-amz-json-1.0"
    assert headers["X-Amz-Target"] == "AmazonSQS.SendMessageBatch"
    assert headers["X-Amz-Security-Token"] == "token"
    assert headers["Authorization"].startswith(
        "AWS4-HMAC-SHA256 Credential=AKID/19700101/us-east-1/sqs/aws4_request, "
        "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, "
    )


@pytest.mark.parametrize(
    ("answer", "status", "code"),
    [
        (
            Response(400, b'{"__type":"com.amazonaws.ssm#ParameterNotFound","message":"no"}'),
            400,
            "ParameterNotFound",
        ),
        (
            Response(400, b'{"__type":"ThrottlingException","Message":"Rate"}'),
            400,
            "ThrottlingException",
        ),
        (Response(503, b"<html>Service Unavailable</html>"), 503, "HTTP503"),
    ],
)
def test_an_error_answer_raises_with_the_services_code(
    answer: Response, status: int, code: str
) -> None:
    with pytest.raises(aws_http.AwsError) as raised:
        client(Recorder(answer), "ssm").call("GetParameter", {"Name": "/k"})
    assert (raised.value.status, raised.value.code) == (status, code)


@pytest.mark.parametrize(
    "failure", [ConnectionRefusedError(), TimeoutError("timed out"), ValueError("bad answer")]
)
def test_no_answer_raises_unreachable(failure: Exception) -> None:
    with pytest.raises(aws_http.AwsUnreachable):
        client(Recorder(failure)).call("PutRecords", {"Records": []})


def test_an_answer_that_is_not_a_json_object_is_no_answer() -> None:
    with pytest.raises(aws_http.AwsUnreachable):
        client(Recorder(Response(200, b"[1]"))).call("PutRecords", {"Records": []})


class Tracing:
    def __init__(self, name: str, log: list[str], answer: dict[str, Any] | None = None) -> None:
        self.name, self.log, self.answer = name, log, answer

    def before(self, call: Call) -> dict[str, Any] | None:
        self.log.append(f"before {self.name}")
        return self.answer

    def after(self, call: Call, answer: dict[str, Any]) -> None:
        self.log.append(f"after {self.name}")


def test_hooks_wrap_the_call_and_the_first_one_sees_the_answer_last() -> None:
    log: list[str] = []
    transport = Recorder(Response(200, b"{}"))
    json_client = client(transport)
    json_client.add_hook(Tracing("b", log))
    json_client.add_hook(Tracing("a", log), first=True)
    json_client.call("PutRecords", {"Records": []})
    assert log == ["before a", "before b", "after b", "after a"]
    assert len(transport.sent) == 1


def test_a_hooks_answer_is_used_instead_of_sending() -> None:
    log: list[str] = []
    transport = Recorder()
    json_client = client(transport)
    json_client.add_hook(Tracing("a", log, answer={"injected": True}))
    json_client.add_hook(Tracing("b", log))
    assert json_client.call("PutRecords", {"Records": []}) == {"injected": True}
    assert log == ["before a", "after a"]
    assert transport.sent == []


def test_a_hook_that_edits_the_document_changes_what_is_sent() -> None:
    class Drop:
        def before(self, call: Call) -> None:
            call.document = {**call.document, "Records": call.document["Records"][1:]}

        def after(self, call: Call, answer: dict[str, Any]) -> None:
            pass

    transport = Recorder(Response(200, b"{}"))
    json_client = client(transport)
    json_client.add_hook(Drop())
    json_client.call("PutRecords", {"Records": [1, 2]})
    assert transport.sent[0][2] == b'{"Records":[2]}'


def test_signing_uses_the_clock_of_the_call() -> None:
    transport = Recorder(Response(200, b"{}"))
    JsonClient("ssm", environ=ENVIRON, transport=lambda: transport, clock=lambda: SUITE_TIME).call(
        "GetParameter", {"Name": "/k"}
    )
    assert transport.sent[0][1]["X-Amz-Date"] == time.strftime(
        "%Y%m%dT%H%M%SZ", time.gmtime(SUITE_TIME)
    )


def test_without_environment_credentials_the_chain_is_resolved_once_and_read_per_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Refreshing:
        """botocore's refreshable credentials: a new frozen set on each read."""

        reads = 0

        def get_frozen_credentials(self) -> Any:
            Refreshing.reads += 1
            return BotocoreCredentials(f"AKID{self.reads}", "secret", None)

    resolved: list[Refreshing] = []
    monkeypatch.setattr(
        aws_http, "_botocore_credentials", lambda: resolved.append(Refreshing()) or resolved[-1]
    )
    transport = Recorder(Response(200, b"{}"), Response(200, b"{}"))
    environ = {"AWS_REGION": "us-east-1"}
    json_client = JsonClient("ssm", environ=environ, transport=lambda: transport)
    json_client.call("GetParameter", {"Name": "/k"})
    json_client.call("GetParameter", {"Name": "/k"})
    assert len(resolved) == 1
    assert [h["Authorization"].split("/")[0] for _, h, _ in transport.sent] == [
        "AWS4-HMAC-SHA256 Credential=AKID1",
        "AWS4-HMAC-SHA256 Credential=AKID2",
    ]
