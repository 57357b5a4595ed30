"""The contract's HTTP answers, over real HTTP, through the local gateway, for both buffers."""

from __future__ import annotations

import gzip
import json

import pytest

from events_api.ingest.keys import generate_key
from tests.e2e.conftest import DevStack

pytestmark = pytest.mark.e2e

ACCEPTED = {"message": "Request Accepted"}
UNAUTHORISED = {"message": "Unauthorised"}
SIX_MIB = 6 * 1024 * 1024
MAX_EVENT = 256 * 1024


def test_json_array_is_accepted_and_stored(stack: DevStack) -> None:
    dataset = stack.new_dataset()
    response = stack.post_json(dataset, [{"message": "one"}, {"message": "two", "n": 2}])
    assert response.status == 202
    assert response.json() == ACCEPTED
    stored = stack.wait_stored(dataset, 2)
    assert sorted(e["message"] for e in stored) == ["one", "two"]


def test_single_object_is_a_batch_of_one(stack: DevStack) -> None:
    dataset = stack.new_dataset()
    response = stack.post_json(dataset, {"message": "alone"})
    assert response.status == 202
    assert response.json() == ACCEPTED
    [event] = stack.wait_stored(dataset, 1)
    assert event["message"] == "alone"


def test_ndjson_is_accepted(stack: DevStack) -> None:
    dataset = stack.new_dataset()
    body = b'{"message":"first"}\n\n{"message":"second"}\n'
    response = stack.request(
        "POST", f"/v1/{dataset}", body, {"content-type": "application/x-ndjson"}
    )
    assert response.status == 202
    assert response.json() == ACCEPTED
    stored = stack.wait_stored(dataset, 2)
    assert sorted(e["message"] for e in stored) == ["first", "second"]


def test_gzip_body_is_accepted(stack: DevStack) -> None:
    dataset = stack.new_dataset()
    events = [{"message": f"zipped {n}"} for n in range(3)]
    response = stack.post_json(dataset, events, gzipped=True)
    assert response.status == 202
    assert response.json() == ACCEPTED
    stored = stack.wait_stored(dataset, 3)
    assert sorted(e["message"] for e in stored) == [f"zipped {n}" for n in range(3)]


def test_bearer_key_is_accepted(stack: DevStack) -> None:
    dataset = stack.new_dataset()
    response = stack.request(
        "POST",
        f"/v1/{dataset}",
        b'[{"message":"bearer"}]',
        {"content-type": "application/json", "authorization": f"Bearer {stack.api_key}"},
        key=None,
    )
    assert response.status == 202
    assert response.json() == ACCEPTED


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(None, id="no-key"),
        pytest.param("evk_not-a-key", id="malformed"),
        pytest.param(generate_key(), id="unknown"),
    ],
)
def test_unauthorised(stack: DevStack, key: str | None) -> None:
    response = stack.request(
        "POST",
        "/v1/logs",
        b'[{"message":"x"}]',
        {"content-type": "application/json"},
        key=key,
    )
    assert response.status == 401
    assert response.json() == UNAUTHORISED


def test_get_is_not_allowed(stack: DevStack) -> None:
    response = stack.request("GET", "/v1/logs")
    assert response.status == 405
    assert response.headers["allow"] == "POST"
    assert response.json() == {"message": "Method Not Allowed"}


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        pytest.param("/v2/logs", "the path must be /v1/{dataset}", id="bad-path"),
        pytest.param("/v1/logs/extra", "the path must be /v1/{dataset}", id="extra-segment"),
        pytest.param(
            "/v1/Bad.Name",
            "the dataset name must be 1 to 64 characters of a-z, 0-9, '_' and '-', "
            "starting with a letter or digit",
            id="bad-dataset",
        ),
    ],
)
def test_bad_request_path(stack: DevStack, path: str, reason: str) -> None:
    response = stack.request(
        "POST", path, b'[{"message":"x"}]', {"content-type": "application/json"}
    )
    assert response.status == 400
    assert response.json() == {"message": "Bad Request", "reason": reason}


def test_brotli_is_unsupported(stack: DevStack) -> None:
    response = stack.request(
        "POST",
        "/v1/logs",
        b"\x0b\x02\x80[]\x03",
        {"content-type": "application/json", "content-encoding": "br"},
    )
    assert response.status == 415
    assert response.json() == {"message": "Unsupported Media Type"}


def test_gzip_inflating_past_six_mib_is_too_large(stack: DevStack) -> None:
    body = gzip.compress(b"[" + b" " * SIX_MIB + b"{}]")
    response = stack.request(
        "POST",
        f"/v1/{stack.new_dataset()}",
        body,
        {"content-type": "application/json", "content-encoding": "gzip"},
    )
    assert response.status == 413
    assert response.json() == {"message": "Payload Too Large"}


def test_oversized_event_is_reported_and_the_rest_stored(stack: DevStack) -> None:
    dataset = stack.new_dataset()
    big = {"message": "big", "pad": "x" * MAX_EVENT}
    big_size = len(json.dumps(big, separators=(",", ":")))
    response = stack.post_json(dataset, [{"message": "small"}, big, {"message": "after"}])
    assert response.status == 400
    assert response.json() == {
        "message": "Bad Request",
        "accepted": 2,
        "invalid": [
            {
                "index": 1,
                "reason": f"event is {big_size} bytes, larger than the {MAX_EVENT}-byte limit",
            }
        ],
    }
    stored = stack.wait_stored(dataset, 2)
    assert sorted(e["message"] for e in stored) == ["after", "small"]
