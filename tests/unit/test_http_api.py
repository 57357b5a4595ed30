"""Request parsing: path and dataset rules, key headers, labels, body transport."""

from __future__ import annotations

import base64

import pytest

from events_api.errors import BadRequest
from events_api.ingest.http_api import HttpRequest, dataset_from_path, parse_event, respond

pytestmark = pytest.mark.unit


def request(headers: dict[str, str], body: str | None = None, b64: bool = False) -> HttpRequest:
    return HttpRequest("POST", "/v1/logs", headers, body, b64, "rid")


@pytest.mark.parametrize(
    ("path", "dataset"),
    [
        ("/v1/logs", "logs"),
        ("/v1/a", "a"),
        ("/v1/web-app_2", "web-app_2"),
        ("/v1/" + "a" * 64, "a" * 64),
        ("/v1/%6Cogs", "logs"),
        ("/v1/logs/", "logs"),
    ],
)
def test_valid_paths_name_the_dataset(path, dataset) -> None:
    assert dataset_from_path(path) == dataset


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "",
        "/v1",
        "/v1/",
        "/v1//",
        "/v2/logs",
        "/v1/logs//",
        "/v1/logs/x",
        "/v1/logs/x/",
        "//v1/logs",
        "/V1/logs",
    ],
)
def test_paths_other_than_v1_dataset_are_bad_requests(path) -> None:
    with pytest.raises(BadRequest) as error:
        dataset_from_path(path)
    assert error.value.reason == "the path must be /v1/{dataset}"


@pytest.mark.parametrize(
    "segment",
    [
        "Logs",
        "_logs",
        "-logs",
        "a" * 65,
        "lo gs",
        "..",
        "%2E%2E",
        "a%2Fb",
        "a%252Fb",
        "l%C3%B6gs",
        "%FF",
    ],
)
def test_dataset_names_breaking_the_rule_are_bad_requests(segment) -> None:
    with pytest.raises(BadRequest) as error:
        dataset_from_path(f"/v1/{segment}")
    assert error.value.reason.startswith("the dataset name must be")


def test_api_key_comes_from_x_api_key_or_bearer() -> None:
    assert request({"x-api-key": " k1 "}).api_key() == "k1"
    assert request({"authorization": "Bearer k2"}).api_key() == "k2"
    assert request({"authorization": "bearer   k3"}).api_key() == "k3"
    assert request({"x-api-key": "k1", "authorization": "Bearer k2"}).api_key() == "k1"
    assert request({"authorization": "Basic abc"}).api_key() is None
    assert request({"authorization": "Bearer "}).api_key() is None
    assert request({}).api_key() is None


def test_ndjson_content_types_are_recognised_with_parameters() -> None:
    assert request({"content-type": "application/x-ndjson; charset=utf-8"}).is_ndjson()
    assert request({"content-type": "Application/NDJSON"}).is_ndjson()
    assert not request({"content-type": "application/json"}).is_ndjson()
    assert not request({}).is_ndjson()


def test_labels_are_optional_and_at_most_256_characters() -> None:
    assert request({}).label("x-service") is None
    assert request({"x-service": "s" * 256}).label("x-service") == "s" * 256
    with pytest.raises(BadRequest, match="x-service"):
        request({"x-service": "s" * 257}).label("x-service")


@pytest.mark.parametrize("value", ["", "  ", "undefined", "null"])
def test_labels_that_javascript_clients_send_for_unset_options_count_as_absent(value) -> None:
    assert request({"x-service": value}).label("x-service") is None
    assert request({"x-namespace": value}).label("x-namespace") is None


def test_labels_named_like_absent_values_but_longer_are_kept() -> None:
    assert request({"x-service": "nullable"}).label("x-service") == "nullable"
    assert request({"x-service": "Undefined"}).label("x-service") == "Undefined"


def test_body_is_decoded_from_base64_or_text() -> None:
    assert request({}, base64.b64encode(b"\x1f\x8b").decode(), b64=True).raw_body() == b"\x1f\x8b"
    assert request({}, "[{}]").raw_body() == b"[{}]"
    assert request({}, None).raw_body() == b""


def test_event_headers_are_lower_cased_and_request_context_read() -> None:
    parsed = parse_event(
        {
            "rawPath": "/v1/logs",
            "headers": {"X-Api-Key": "k"},
            "requestContext": {"http": {"method": "post"}, "requestId": "abc="},
        }
    )
    assert (parsed.method, parsed.raw_path, parsed.api_key(), parsed.request_id) == (
        "POST",
        "/v1/logs",
        "k",
        "abc=",
    )


def test_responses_are_json_with_extra_headers() -> None:
    assert respond(405, {"message": "Method Not Allowed"}, {"allow": "POST"}) == {
        "statusCode": 405,
        "headers": {"content-type": "application/json", "allow": "POST"},
        "body": '{"message":"Method Not Allowed"}',
        "isBase64Encoded": False,
    }


def test_function_url_events_parse_like_http_api_events() -> None:
    """Same payload 2.0 fields; the function URL's null authorizer and UUID request id."""
    from tests.support import SAMPLE_KEY, load_event

    api = parse_event(load_event("ingest-valid-batch"))
    url_event = load_event("ingest-function-url")
    assert url_event["requestContext"]["authorizer"] is None
    url = parse_event(url_event)
    assert (url.method, url.raw_path, url.is_base64, url.api_key()) == (
        "POST",
        "/v1/logs",
        False,
        SAMPLE_KEY,
    )
    assert url.request_id == "6f3c1a8e-2b4d-4e9f-8a7c-1d2e3f4a5b6c"
    assert url.raw_body() == api.raw_body()
    assert url.label("x-service") == api.label("x-service") == "my-service"
