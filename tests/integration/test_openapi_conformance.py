"""The real ingest handler against docs/openapi.yaml, under moto, for both buffers.

Each case drives the handler to one answer; the answer's status must be declared for the
operation, and its headers and body must validate against the spec's schemas for that
status. A static check makes sure the cases produce every status the spec declares
(except the answers only API Gateway gives), so the spec cannot grow an answer the
handler never gives, or the handler one the spec does not describe, unnoticed.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from events_api import records
from events_api.ingest.key_store import SsmKeyStore
from events_api.ingest.keys import generate_key
from tests.integration.conftest import KEYS_PATH, Stack
from tests.moto_bridge import UNREACHABLE, OnCall, raising
from tests.openapi_spec import (
    PATH,
    check_response,
    declared_statuses,
    operations,
    spec,
    validate,
)
from tests.support import FakeLambdaContext, http_event, ingest_event, load_event

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("front_door")]

#: Answers only API Gateway gives (the function never does).
GATEWAY_ONLY = {("post", 429)}

Setup = Callable[[pytest.MonkeyPatch, Stack], dict[str, Any]]


def no_setup(monkeypatch: pytest.MonkeyPatch, stack: Stack) -> dict[str, Any]:
    return {}


def limited_key(monkeypatch: pytest.MonkeyPatch, stack: Stack) -> dict[str, Any]:
    key = generate_key()
    SsmKeyStore(KEYS_PATH).create(key, "limited", "only metrics", ("metrics",))
    return {"x-api-key": key}


def broken_encoder(monkeypatch: pytest.MonkeyPatch, stack: Stack) -> dict[str, Any]:
    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("bug")

    monkeypatch.setattr(records, "encode", broken)
    return {}


def key_store_outage(monkeypatch: pytest.MonkeyPatch, stack: Stack) -> dict[str, Any]:
    OnCall("ssm", "GetParameter", before_call=raising(UNREACHABLE)).install()
    return {}


def buffer_outage(monkeypatch: pytest.MonkeyPatch, stack: Stack) -> dict[str, Any]:
    monkeypatch.setenv("BUFFER_BUDGET_SECONDS", "0.3")
    if stack.buffer == "kinesis":
        OnCall("kinesis", "PutRecords", before_call=raising(UNREACHABLE)).install()
    else:
        OnCall("sqs", "SendMessageBatch", before_call=raising(UNREACHABLE)).install()
    return {}


@dataclass(frozen=True)
class Case:
    id: str
    status: int
    event: Callable[[], dict[str, Any]]
    setup: Setup = no_setup
    #: Headers the setup decides (a key it created), merged into the event.
    headers_from_setup: bool = False

    @property
    def method(self) -> str:
        return str(self.event()["requestContext"]["http"]["method"]).lower()


NDJSON = {"content-type": "application/x-ndjson"}
BOMB = gzip.compress(b"[" + b" " * (6 * 1024 * 1024) + b"]")

CASES = [
    Case("valid-batch", 202, lambda: ingest_event("ingest-valid-batch")),
    Case("single-event", 202, lambda: ingest_event("ingest-single-event")),
    Case("ndjson", 202, lambda: ingest_event("ingest-ndjson")),
    Case("gzip", 202, lambda: ingest_event("ingest-gzip")),
    Case("bad-path", 400, lambda: ingest_event("ingest-bad-path")),
    Case("bad-dataset", 400, lambda: http_event("[{}]", path="/v1/Bad%20Name")),
    Case("long-service", 400, lambda: http_event("[{}]", headers={"x-service": "s" * 257})),
    Case("empty-body", 400, lambda: http_event("")),
    Case("not-json", 400, lambda: http_event("[1")),
    Case("empty-batch", 400, lambda: http_event("[]")),
    Case("not-gzip", 400, lambda: http_event(b"[{}]", headers={"content-encoding": "gzip"})),
    Case("invalid-events", 400, lambda: ingest_event("ingest-invalid-events")),
    Case("ndjson-bad-line", 400, lambda: http_event('{"a":1}\n{nope\n', headers=NDJSON)),
    Case("bad-key", 401, lambda: ingest_event("ingest-bad-key")),
    Case("no-key", 401, lambda: http_event("[{}]", headers={"x-api-key": None})),
    Case("other-dataset", 403, lambda: http_event('[{"a":1}]'), limited_key, True),
    Case("wrong-method", 405, lambda: ingest_event("ingest-wrong-method")),
    *(
        Case(
            f"{method}-no-key",
            405,
            lambda m=method: http_event(method=m, headers={"x-api-key": None}),
        )
        for method in ("GET", "PUT", "PATCH", "DELETE")
    ),
    Case("gzip-bomb", 413, lambda: http_event(BOMB, headers={"content-encoding": "gzip"})),
    Case("brotli", 415, lambda: http_event(b"[{}]", headers={"content-encoding": "br"})),
    Case("unexpected", 500, lambda: ingest_event("ingest-valid-batch"), broken_encoder),
    Case("key-store-down", 503, lambda: ingest_event("ingest-valid-batch"), key_store_outage),
    Case("buffer-down", 503, lambda: ingest_event("ingest-valid-batch"), buffer_outage),
]


def test_cases_produce_every_status_the_spec_declares() -> None:
    produced: dict[str, set[int]] = {}
    for case in CASES:
        produced.setdefault(case.method, set()).add(case.status)
    for method, status in GATEWAY_ONLY:
        produced.setdefault(method, set()).add(status)
    assert produced == declared_statuses()


#: The message of each status when the function (not API Gateway) answers.
FUNCTION_MESSAGES = {
    202: "Request Accepted",
    400: "Bad Request",
    401: "Unauthorised",
    403: "Forbidden",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    500: "Internal Error",
    503: "Service Unavailable",
}
#: Only answers that depend on the buffer run against both; the rest against SQS (cheaper).
RUNS = [
    pytest.param(buffer, case, id=f"{buffer}-{case.id}")
    for case in CASES
    for buffer in (("kinesis", "sqs") if case.status in {202, 503} else ("sqs",))
]


@pytest.mark.parametrize(("stack", "case"), RUNS, indirect=["stack"])
def test_handler_answer_conforms_to_the_spec(
    ingest: Any, stack: Stack, monkeypatch: pytest.MonkeyPatch, case: Case
) -> None:
    headers = case.setup(monkeypatch, stack)
    event = case.event()
    if case.headers_from_setup:
        event["headers"].update(headers)

    response = ingest.lambda_handler(event, FakeLambdaContext())

    assert response["statusCode"] == case.status
    body = check_response(case.method, response)
    assert body["message"] == FUNCTION_MESSAGES[case.status]
    if case.status == 405:
        assert response["headers"]["allow"] == "POST"
    if case.status == 503:
        assert int(response["headers"]["retry-after"]) >= 1


def test_invalid_events_answer_uses_the_accepted_and_invalid_shape(
    ingest: Any, stack: Stack
) -> None:
    response = ingest.lambda_handler(ingest_event("ingest-invalid-events"), FakeLambdaContext())
    body = check_response("post", response)
    assert set(body) == {"message", "accepted", "invalid"}
    malformed = ingest.lambda_handler(ingest_event("ingest-bad-path"), FakeLambdaContext())
    assert set(check_response("post", malformed)) == {"message", "reason"}


@pytest.mark.parametrize(
    "name", ["ingest-valid-batch", "ingest-single-event", "ingest-ndjson", "ingest-gzip"]
)
def test_accepted_requests_are_requests_the_spec_allows(name: str) -> None:
    """What the handler accepts, the spec's request side accepts too (no stricter spec)."""
    event = load_event(name)
    headers = {key.lower(): value for key, value in event["headers"].items()}
    body = event["body"].encode()
    if event["isBase64Encoded"]:
        body = base64.b64decode(body)
    if headers.get("content-encoding") == "gzip":
        body = gzip.decompress(body)
    post = operations()["post"]
    media_type = headers.get("content-type", "application/json").split(";")[0].strip()
    content = post["requestBody"]["content"]
    schema = content.get(media_type, content["application/json"])["schema"]
    validate(body.decode() if schema.get("type") == "string" else json.loads(body), schema)
    for parameter in post["parameters"]:
        value = headers.get(parameter["name"].lower())
        if value is not None:
            validate(value, parameter["schema"])
    (dataset,) = spec()["paths"][PATH]["parameters"]
    validate(event["rawPath"].split("/")[2], dataset["schema"])
