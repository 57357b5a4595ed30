"""Where AWS's limits bite: the gateway answers as API Gateway and Lambda do."""

from __future__ import annotations

import gzip
import json
import uuid

import pytest

from tests.e2e.conftest import DevStack

pytestmark = pytest.mark.e2e

TEN_MIB = 10 * 1024 * 1024
SIX_MIB = 6 * 1024 * 1024
REQUEST_TOO_LONG = {"message": "Request Too Long"}


def test_body_over_ten_mib_is_refused_by_the_gateway(stack: DevStack) -> None:
    response = stack.request(
        "POST",
        f"/v1/{stack.new_dataset()}",
        b"[" + b" " * TEN_MIB + b"]",
        {"content-type": "application/json"},
    )
    assert response.status == 413
    assert response.headers["content-type"].startswith("text/plain")
    assert response.body == b"HTTP content length exceeded 10485760 bytes."


def test_headers_over_the_quota_are_refused_by_the_gateway(stack: DevStack) -> None:
    response = stack.request(
        "POST",
        "/v1/logs",
        b"[]",
        {"content-type": "application/json", "x-padding": "p" * 10_240},
    )
    assert response.status == 431
    assert response.body == b"HTTP header is larger than 10240 bytes."


def test_ndjson_body_over_the_invoke_limit_once_base64_encoded(stack: DevStack) -> None:
    # 5 MiB of NDJSON is under the 6 MiB body limit, but API Gateway base64-encodes it
    # (+33%) and the event no longer fits Lambda's 6 MB invoke payload.
    line = b'{"message":"' + b"n" * 1000 + b'"}\n'
    body = line * (5 * 1024 * 1024 // len(line))
    response = stack.request(
        "POST", f"/v1/{stack.new_dataset()}", body, {"content-type": "application/x-ndjson"}
    )
    assert response.status == 413
    assert response.json() == REQUEST_TOO_LONG


def test_json_body_under_six_mib_over_the_invoke_limit_once_escaped(stack: DevStack) -> None:
    # A JSON body travels as a JSON string inside the event: every quote gains a
    # backslash, and a body just under 6 MiB ends up over the 6 MB payload limit.
    event = {"k": "v", "q": "a", "r": "b", "s": "c"}
    text = json.dumps(event, separators=(",", ":"))
    count = (SIX_MIB - 1000) // (len(text) + 1)
    body = ("[" + ",".join([text] * count) + "]").encode()
    assert len(body) < SIX_MIB
    response = stack.request(
        "POST", f"/v1/{stack.new_dataset()}", body, {"content-type": "application/json"}
    )
    assert response.status == 413
    assert response.json() == REQUEST_TOO_LONG


def test_six_mib_gzip_batch_is_accepted_and_stored(stack: DevStack) -> None:
    dataset = stack.new_dataset()
    ids: list[str] = []
    parts: list[bytes] = []
    size = 2
    while True:
        event_id = uuid.uuid4().hex
        text = json.dumps(
            {"id": event_id, "message": "bulk load", "pad": "0123456789" * 20},
            separators=(",", ":"),
        ).encode()
        if size + len(text) + 1 > SIX_MIB:
            break
        ids.append(event_id)
        parts.append(text)
        size += len(text) + 1
    body = b"[" + b",".join(parts) + b"]"
    assert SIX_MIB - 512 < len(body) <= SIX_MIB
    response = stack.request(
        "POST",
        f"/v1/{dataset}",
        gzip.compress(body, 6),
        {"content-type": "application/json", "content-encoding": "gzip"},
        timeout=120,
    )
    assert response.status == 202
    assert response.json() == {"message": "Request Accepted"}
    stored = stack.wait_stored(dataset, len(ids))
    assert sorted(e["id"] for e in stored) == sorted(ids)
