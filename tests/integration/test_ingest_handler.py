"""The real ingest handler against moto: every row of the contract's table, both buffers."""

from __future__ import annotations

import gzip
import io
import json
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from events_api import records
from events_api.aws.http_client import Call
from events_api.ingest.key_index import REFRESH_SECONDS
from events_api.ingest.key_store import SsmKeyStore
from events_api.ingest.keys import generate_key, key_hash
from events_api.ingest.service import build_key_authenticator
from tests.integration.conftest import KEYS_PATH, Stack
from tests.moto_bridge import SSM_THROTTLING, UNREACHABLE, OnCall, raising
from tests.support import (
    SAMPLE_KEY,
    FakeLambdaContext,
    http_event,
    ingest_event,
    load_event,
    raw_body,
    response_json,
)

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("front_door")]

ACCEPTED = {"message": "Request Accepted"}
SAMPLE_EVENTS = [
    json.dumps(e, separators=(",", ":")).encode()
    for e in json.loads(load_event("ingest-valid-batch")["body"])
]


def invoke(app: Any, event: dict[str, Any]) -> dict[str, Any]:
    return app.lambda_handler(event, FakeLambdaContext())


def buffered_events(stack: Stack) -> list[tuple[records.RequestMeta, bytes]]:
    out = []
    for blob in stack.buffered():
        decoded = records.decode(blob)
        out.extend((decoded.meta, event) for event in decoded.events())
    return out


@pytest.mark.parametrize(
    ("name", "status", "body"),
    [
        ("ingest-valid-batch", 202, ACCEPTED),
        ("ingest-single-event", 202, ACCEPTED),
        ("ingest-ndjson", 202, ACCEPTED),
        ("ingest-gzip", 202, ACCEPTED),
        (
            "ingest-invalid-events",
            400,
            {
                "message": "Bad Request",
                "accepted": 1,
                "invalid": [
                    {"index": 1, "reason": "event is not a JSON object"},
                    {"index": 2, "reason": "event is not a JSON object"},
                ],
            },
        ),
        ("ingest-bad-key", 401, {"message": "Unauthorised"}),
        (
            "ingest-bad-path",
            400,
            {"message": "Bad Request", "reason": "the path must be /v1/{dataset}"},
        ),
        ("ingest-wrong-method", 405, {"message": "Method Not Allowed"}),
    ],
)
def test_every_event_file_gets_its_contract_answer(ingest, stack, name, status, body) -> None:
    response = invoke(ingest, ingest_event(name))
    assert response["statusCode"] == status
    assert response_json(response) == body


@pytest.mark.parametrize("name", ["ingest-valid-batch", "ingest-ndjson", "ingest-gzip"])
def test_accepted_events_are_on_the_buffer_exactly_as_sent(ingest, stack, name) -> None:
    assert invoke(ingest, ingest_event(name))["statusCode"] == 202
    buffered = buffered_events(stack)
    assert [json.loads(e) for _, e in buffered] == [json.loads(e) for e in SAMPLE_EVENTS]
    meta = buffered[0][0]
    assert (meta.dataset, meta.service, meta.namespace, meta.request_id) == (
        "logs",
        "my-service",
        None,
        "JKJaXmPLvHcESHA=",
    )


def test_function_url_event_file_is_accepted_with_its_request_id(ingest, stack) -> None:
    event = load_event("ingest-function-url")
    assert (invoke(ingest, event)["statusCode"], event["requestContext"]["authorizer"]) == (
        202,
        None,
    )
    buffered = buffered_events(stack)
    assert [json.loads(e) for _, e in buffered] == [json.loads(e) for e in SAMPLE_EVENTS]
    assert buffered[0][0].request_id == "6f3c1a8e-2b4d-4e9f-8a7c-1d2e3f4a5b6c"


def test_valid_events_of_a_partly_invalid_batch_are_ingested(ingest, stack) -> None:
    event = ingest_event("ingest-invalid-events")
    invoke(ingest, event)
    sent = json.loads(raw_body(event))[0]
    assert [json.loads(e) for _, e in buffered_events(stack)] == [sent]


def test_wrong_method_answers_405_with_allow_header_before_checking_the_key(ingest, stack) -> None:
    response = invoke(ingest, http_event(method="PUT", headers={"x-api-key": None}))
    assert response["statusCode"] == 405
    assert response["headers"]["allow"] == "POST"


def test_bad_key_is_checked_before_the_path(ingest, stack) -> None:
    response = invoke(ingest, http_event("[{}]", path="/nope", headers={"x-api-key": None}))
    assert (response["statusCode"], response_json(response)) == (401, {"message": "Unauthorised"})


@pytest.mark.parametrize(
    "headers",
    [
        {"x-api-key": None},
        {"x-api-key": "evk_tooshort"},
        {"x-api-key": SAMPLE_KEY[:-1] + ("A" if SAMPLE_KEY[-1] != "A" else "B")},
        {"x-api-key": generate_key()},
        {"x-api-key": None, "authorization": "Basic " + SAMPLE_KEY},
    ],
    ids=["missing", "malformed", "bad-checksum", "unknown", "not-bearer"],
)
def test_missing_malformed_and_unknown_keys_are_unauthorised(ingest, stack, headers) -> None:
    response = invoke(ingest, http_event("[{}]", headers=headers))
    assert (response["statusCode"], response_json(response)) == (401, {"message": "Unauthorised"})
    assert stack.buffered() == []


def test_bearer_token_is_accepted(ingest, stack) -> None:
    event = http_event(
        '[{"a":1}]', headers={"x-api-key": None, "authorization": f"Bearer {SAMPLE_KEY}"}
    )
    assert invoke(ingest, event)["statusCode"] == 202


def test_revoked_key_is_refused_once_the_cache_entry_expires(ingest, stack, monkeypatch) -> None:
    monkeypatch.setenv("KEY_CACHE_TTL_SECONDS", "0")
    assert invoke(ingest, http_event('[{"a":1}]'))["statusCode"] == 202
    boto3.client("ssm").delete_parameter(Name=KEYS_PATH + key_hash(SAMPLE_KEY))
    response = invoke(ingest, http_event('[{"a":1}]'))
    assert (response["statusCode"], response_json(response)) == (401, {"message": "Unauthorised"})


def test_key_limited_to_other_datasets_is_forbidden(ingest, stack) -> None:
    key = generate_key()
    SsmKeyStore(KEYS_PATH).create(key, "limited", "only metrics", ("metrics",))
    headers = {"x-api-key": key}
    assert (
        invoke(ingest, http_event('[{"a":1}]', path="/v1/metrics", headers=headers))["statusCode"]
        == 202
    )
    response = invoke(ingest, http_event('[{"a":1}]', path="/v1/logs", headers=headers))
    assert (response["statusCode"], response_json(response)) == (403, {"message": "Forbidden"})


def test_bad_dataset_name_is_a_bad_request(ingest, stack) -> None:
    response = invoke(ingest, http_event("[{}]", path="/v1/Bad%20Name"))
    assert response["statusCode"] == 400
    assert response_json(response)["reason"].startswith("the dataset name must be")


def test_overlong_service_header_is_a_bad_request(ingest, stack) -> None:
    response = invoke(ingest, http_event("[{}]", headers={"x-service": "s" * 257}))
    assert response_json(response) == {
        "message": "Bad Request",
        "reason": "header x-service is longer than 256 characters",
    }


def test_unsupported_content_encoding_is_415(ingest, stack) -> None:
    response = invoke(ingest, http_event(b"[{}]", headers={"content-encoding": "br"}))
    assert (response["statusCode"], response_json(response)) == (
        415,
        {"message": "Unsupported Media Type"},
    )


def test_body_inflating_past_6_mib_is_413(ingest, stack) -> None:
    bomb = gzip.compress(b"[" + b" " * (6 * 1024 * 1024) + b"]")
    response = invoke(ingest, http_event(bomb, headers={"content-encoding": "gzip"}))
    assert (response["statusCode"], response_json(response)) == (
        413,
        {"message": "Payload Too Large"},
    )


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("", "the body is empty"),
        ("[]", "the batch is empty"),
        ("[1", "body is not valid JSON: Input data was truncated"),
        ('[{"a": NaN}]', "body is not valid JSON: JSON is malformed: invalid character (byte 7)"),
        ("true", "body must be a JSON array of objects or a single JSON object"),
    ],
)
def test_unparseable_bodies_are_400_with_a_reason(ingest, stack, body, reason) -> None:
    response = invoke(ingest, http_event(body))
    assert (response["statusCode"], response_json(response)) == (
        400,
        {"message": "Bad Request", "reason": reason},
    )


def test_six_mib_gzip_batch_is_accepted_in_few_buffer_records(ingest, stack) -> None:
    line = (
        b'{"message":"GET /api/items 200",'
        b'"requestId":"6092d6f0-3bfa-4d62-9d0b-5bc7ae6518a1","n":"%06d"}'
    )
    events = [line % n for n in range(60_000)]
    body = b"[" + b",".join(events) + b"]"
    assert len(body) <= 6 * 1024 * 1024
    response = invoke(ingest, http_event(gzip.compress(body), headers={"content-encoding": "gzip"}))
    assert response["statusCode"] == 202
    blobs = stack.buffered()
    # As few as the bound on events per record allows (the bytes fit in one).
    assert len(blobs) == -(-len(events) // records.bounds(stack.buffer).events)
    assert [e for blob in blobs for e in records.decode(blob).events()] == events


# --- the buffer failing: per-entry failures retried, persistent ones answered 503 ---------


@pytest.fixture
def failing_buffer(stack: Stack) -> Iterator[list[int]]:
    """Fail every entry of the first N buffer calls (list holds N) before they are sent.

    A short-circuited call never reaches moto, so what moto holds afterwards is exactly
    what was confirmed.
    """
    remaining = [0]

    def fail(call: Call) -> dict[str, Any] | None:
        if remaining[0] <= 0:
            return None
        remaining[0] -= 1
        if stack.buffer == "kinesis":
            entries = call.document["Records"]
            return {
                "FailedRecordCount": len(entries),
                "Records": [
                    {
                        "ErrorCode": "ProvisionedThroughputExceededException",
                        "ErrorMessage": "slow down",
                    }
                    for _ in entries
                ],
            }
        return {
            "Successful": [],
            "Failed": [
                {"Id": e["Id"], "SenderFault": False, "Code": "InternalError"}
                for e in call.document["Entries"]
            ],
        }

    hook = buffer_hook(stack.buffer, before=fail).install()
    yield remaining
    hook.uninstall()


def buffer_hook(buffer: str, before: Callable[[Call], dict[str, Any] | None]) -> OnCall:
    if buffer == "kinesis":
        return OnCall("kinesis", "PutRecords", before_call=before)
    return OnCall("sqs", "SendMessageBatch", before_call=before)


def test_entries_failing_then_succeeding_are_retried_and_accepted(
    ingest, stack, failing_buffer
) -> None:
    failing_buffer[0] = 2
    response = invoke(ingest, ingest_event("ingest-valid-batch"))
    assert (response["statusCode"], response_json(response)) == (202, ACCEPTED)
    assert failing_buffer[0] == 0
    assert [json.loads(e) for _, e in buffered_events(stack)] == [
        json.loads(e) for e in SAMPLE_EVENTS
    ]


def test_buffer_failing_past_the_budget_is_503_with_retry_after(
    ingest, stack, failing_buffer, monkeypatch
) -> None:
    monkeypatch.setenv("BUFFER_BUDGET_SECONDS", "0.3")
    failing_buffer[0] = 10_000
    response = invoke(ingest, ingest_event("ingest-valid-batch"))
    assert (response["statusCode"], response_json(response)) == (
        503,
        {"message": "Service Unavailable"},
    )
    assert int(response["headers"]["retry-after"]) > 0


def test_key_store_outage_is_503_not_401(ingest, stack) -> None:
    OnCall("ssm", "GetParameter", before_call=raising(UNREACHABLE)).install()
    response = invoke(ingest, ingest_event("ingest-valid-batch"))
    assert (response["statusCode"], response_json(response)) == (
        503,
        {"message": "Service Unavailable"},
    )


def ssm_throttling() -> OnCall:
    return OnCall("ssm", "GetParameter", before_call=raising(SSM_THROTTLING))


class SsmCalls:
    """Counts the functions' SSM calls by operation (the index read, key look-ups)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._hooks = [
            OnCall("ssm", operation, before_call=self._count).install()
            for operation in ("GetParameter", "GetParameters")
        ]

    def _count(self, call: Call) -> None:
        self.counts[call.operation] += 1

    def close(self) -> None:
        for hook in self._hooks:
            hook.uninstall()


def test_a_flood_of_unknown_keys_is_401_from_the_key_index_and_a_new_key_is_accepted(
    ingest, stack
) -> None:
    """A cold instance, 80 well-formed unknown keys (anyone can mint them), then a key
    created a moment ago, handed out as `events-api keys create` does: REFRESH_SECONDS
    after its index entry was written. The flood costs one read of the index, no look-up."""
    clock = [1000.0]
    service = ingest.service()
    service.keys = build_key_authenticator(service.settings, clock=lambda: clock[0])
    calls = SsmCalls()
    try:
        statuses = [
            invoke(ingest, http_event("[{}]", headers={"x-api-key": generate_key()}))["statusCode"]
            for _ in range(80)
        ]
        flood_calls = dict(calls.counts)
        new = generate_key()
        SsmKeyStore(KEYS_PATH).create(new, "new", "created a moment ago")
        clock[0] += REFRESH_SECONDS
        response = invoke(ingest, http_event('[{"a":1}]', headers={"x-api-key": new}))
    finally:
        calls.close()
    assert statuses == [401] * 80
    assert flood_calls == {"GetParameters": 1}
    assert (response["statusCode"], response_json(response)) == (202, ACCEPTED)
    assert calls.counts == {"GetParameters": 2, "GetParameter": 1}
    assert [bytes(event) for _, event in buffered_events(stack)] == [b'{"a":1}']


def test_a_key_made_by_hand_is_refused_until_reindexed(ingest, stack, monkeypatch) -> None:
    """A parameter put in Parameter Store by hand is not in the index; `events-api keys
    reindex` (SsmKeyStore.reindex) brings it in."""
    monkeypatch.setenv("KEY_CACHE_TTL_SECONDS", "0")  # every unknown key reads the index
    key = generate_key()
    document = {"id": "by-hand", "name": "made by hand", "createdAt": "2026-11-30T00:00:00Z"}
    boto3.client("ssm").put_parameter(
        Name=KEYS_PATH + key_hash(key), Value=json.dumps(document), Type="SecureString"
    )
    event = http_event('[{"a":1}]', headers={"x-api-key": key})
    assert invoke(ingest, event)["statusCode"] == 401
    assert SsmKeyStore(KEYS_PATH).reindex() == 2  # SAMPLE_KEY and this one
    assert invoke(ingest, event)["statusCode"] == 202


def test_an_unknown_key_while_the_key_index_cannot_be_read_is_503_not_401(ingest, stack) -> None:
    throttling = OnCall("ssm", "GetParameters", before_call=raising(SSM_THROTTLING)).install()
    try:
        response = invoke(ingest, http_event("[{}]", headers={"x-api-key": generate_key()}))
    finally:
        throttling.uninstall()
    assert (response["statusCode"], response_json(response)) == (
        503,
        {"message": "Service Unavailable"},
    )


def test_a_cached_key_is_served_while_ssm_throttles(ingest, stack, monkeypatch) -> None:
    monkeypatch.setenv("KEY_CACHE_TTL_SECONDS", "0")  # every request wants a refresh
    assert invoke(ingest, http_event('[{"a":1}]'))["statusCode"] == 202
    throttling = ssm_throttling().install()
    try:
        response = invoke(ingest, http_event('[{"b":2}]'))
    finally:
        throttling.uninstall()
    assert (response["statusCode"], response_json(response)) == (202, ACCEPTED)
    assert [bytes(event) for _, event in buffered_events(stack)] == [b'{"a":1}', b'{"b":2}']


def test_an_uncached_key_while_ssm_throttles_is_503_not_401(ingest, stack) -> None:
    throttling = ssm_throttling().install()
    try:
        response = invoke(ingest, http_event('[{"a":1}]'))
    finally:
        throttling.uninstall()
    assert (response["statusCode"], response_json(response)) == (
        503,
        {"message": "Service Unavailable"},
    )


def test_unexpected_failure_is_500_internal_error(ingest, stack, monkeypatch) -> None:
    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("bug")

    monkeypatch.setattr(records, "encode", broken)
    response = invoke(ingest, ingest_event("ingest-valid-batch"))
    assert (response["statusCode"], response_json(response)) == (500, {"message": "Internal Error"})


def test_no_key_ever_appears_in_logs_or_metrics(ingest, stack, capfd) -> None:
    from events_api.observability import logger

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    logger.addHandler(handler)
    try:
        for name in [
            "ingest-valid-batch",
            "ingest-bad-key",
            "ingest-invalid-events",
            "ingest-bad-path",
        ]:
            invoke(ingest, ingest_event(name))
    finally:
        logger.removeHandler(handler)
    captured = capfd.readouterr()
    output = stream.getvalue() + captured.out + captured.err
    assert '"keyId":"sample"' in output  # the logs are there, and name the key by id
    assert '"EventsAccepted"' in output  # and so are the metrics
    assert SAMPLE_KEY not in output
    assert "evk_not-a-real-key" not in output
