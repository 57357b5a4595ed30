"""The contract's HTTP answers over real HTTP with the gateway presenting function URL events.

`events-api dev --front-door function-url`: the ingest function gets the events a Lambda
function URL sends (the full contract runs through both shapes in tests/integration; these
cases check the local stack end to end, request id and body encodings included).
"""

from __future__ import annotations

import gzip
import json
import uuid

import pytest

from tests.e2e.conftest import DevStack

pytestmark = pytest.mark.e2e

ACCEPTED = {"message": "Request Accepted"}


def test_stack_announces_its_front_door(function_url_stack: DevStack) -> None:
    assert function_url_stack.dev.ready["frontDoor"] == "function-url"


def test_events_are_stored_with_the_function_urls_request_id(function_url_stack: DevStack) -> None:
    stack = function_url_stack
    dataset = stack.new_dataset()
    response = stack.post_json(dataset, [{"message": "one"}, {"message": "two"}])
    assert (response.status, response.json()) == (202, ACCEPTED)
    request_id = response.headers["x-amzn-requestid"]
    assert str(uuid.UUID(request_id)) == request_id
    assert "apigw-requestid" not in response.headers
    stored = stack.wait_stored(dataset, 2)
    assert sorted(e["message"] for e in stored) == ["one", "two"]
    assert {e["_requestId"] for e in stored} == {request_id}


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b'{"message":"a"}\n{"message":"b"}\n', {"content-type": "application/x-ndjson"}),
        (
            gzip.compress(b'[{"message":"a"},{"message":"b"}]'),
            {"content-type": "application/json", "content-encoding": "gzip"},
        ),
    ],
    ids=["ndjson", "gzip"],
)
def test_base64_encoded_bodies_are_accepted(
    function_url_stack: DevStack, body: bytes, headers: dict[str, str]
) -> None:
    dataset = function_url_stack.new_dataset()
    response = function_url_stack.request("POST", f"/v1/{dataset}", body, headers)
    assert (response.status, response.json()) == (202, ACCEPTED)
    stored = function_url_stack.wait_stored(dataset, 2)
    assert sorted(e["message"] for e in stored) == ["a", "b"]


def test_refusals_are_the_contracts(function_url_stack: DevStack) -> None:
    stack = function_url_stack
    no_key = stack.request(
        "POST", "/v1/logs", b"[{}]", {"content-type": "application/json"}, key=None
    )
    assert (no_key.status, no_key.json()) == (401, {"message": "Unauthorised"})
    wrong_method = stack.request("GET", "/v1/logs", key=None)
    assert (wrong_method.status, wrong_method.json()) == (405, {"message": "Method Not Allowed"})
    assert wrong_method.headers["allow"] == "POST"
    bad_path = stack.request("POST", "/v2/logs", b"[{}]", {"content-type": "application/json"})
    assert bad_path.status == 400
    assert json.loads(bad_path.body)["message"] == "Bad Request"
