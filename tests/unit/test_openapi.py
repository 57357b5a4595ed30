"""docs/openapi.yaml: a valid OpenAPI document that states the code's own rules.

The handler's actual answers are checked against it in
tests/integration/test_openapi_conformance.py.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from jsonschema.exceptions import ValidationError
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate as validate_spec

from events_api import errors
from events_api.errors import ApiError
from events_api.ingest.batch import content_encoding
from events_api.ingest.http_api import DATASET_RULE, MAX_LABEL_CHARS, NDJSON_TYPES
from events_api.ingest.keys import generate_key
from tests.openapi_spec import PATH, operations, raw_spec, response_spec, spec, validate

pytestmark = pytest.mark.unit

#: Answers only API Gateway gives (the function never does).
GATEWAY_ONLY = {("post", 429)}


def api_errors() -> list[type[ApiError]]:
    found = [ApiError]
    for value in vars(errors).values():
        if isinstance(value, type) and issubclass(value, ApiError) and value is not ApiError:
            found.append(value)
    return found


def message_enum(schema: dict[str, Any]) -> set[str]:
    """Every message a response schema allows (through oneOf too)."""
    if "oneOf" in schema:
        return set().union(*(message_enum(option) for option in schema["oneOf"]))
    return set(schema["properties"]["message"]["enum"])


def test_spec_is_a_valid_openapi_document() -> None:
    validate_spec(raw_spec())
    assert raw_spec()["openapi"].startswith("3.0.")


def test_spec_describes_one_path_and_post_is_the_only_allowed_method() -> None:
    assert list(spec()["paths"]) == [PATH]
    for method, operation in operations().items():
        if method == "post":
            continue
        assert set(operation["responses"]) == {"405"}, method
        assert operation["security"] == [], method  # answered before the key is read


def test_every_schema_in_the_spec_is_itself_valid() -> None:
    for schema in spec()["components"]["schemas"].values():
        OAS30Validator.check_schema(schema)


def test_dataset_rule_is_the_codes() -> None:
    (dataset,) = spec()["paths"][PATH]["parameters"]
    assert dataset["in"] == "path"
    assert dataset["required"] is True
    pattern = dataset["schema"]["pattern"]
    assert pattern == f"^{DATASET_RULE.pattern}$"
    for name in ("logs", "a", "my_data-set", "9" * 64):
        assert re.fullmatch(pattern, name)
        assert DATASET_RULE.fullmatch(name)
    for name in ("", "Logs", "_logs", "-logs", "x" * 65, "a b", "a/b", "a.b"):
        assert not re.fullmatch(pattern, name)
        assert not DATASET_RULE.fullmatch(name)


def test_label_headers_are_the_codes() -> None:
    parameters = {p["name"]: p for p in operations()["post"]["parameters"]}
    for name in ("x-service", "x-namespace"):
        assert parameters[name]["in"] == "header"
        assert parameters[name]["required"] is False
        assert parameters[name]["schema"]["maxLength"] == MAX_LABEL_CHARS


def test_content_encodings_are_the_ones_the_code_accepts() -> None:
    parameters = {p["name"]: p for p in operations()["post"]["parameters"]}
    encodings = parameters["Content-Encoding"]["schema"]["enum"]
    assert set(encodings) == {"identity", "gzip"}
    for encoding in encodings:
        content_encoding(encoding)  # does not raise
    with pytest.raises(errors.UnsupportedMediaType):
        content_encoding("br")


def test_request_media_types_are_json_and_the_ndjson_types_the_code_knows() -> None:
    content = operations()["post"]["requestBody"]["content"]
    assert set(content) == {"application/json", *NDJSON_TYPES}
    for media_type in NDJSON_TYPES:
        assert content[media_type]["schema"]["type"] == "string"
    json_batch = content["application/json"]["schema"]
    validate([{"a": 1}, {}], json_batch)
    validate({"message": "one event"}, json_batch)
    for bad in ([], [1], "text", 3):
        with pytest.raises(ValidationError):
            validate(bad, json_batch)


def test_security_schemes_are_the_key_header_and_bearer() -> None:
    schemes = spec()["components"]["securitySchemes"]
    assert schemes["apiKey"] == {**schemes["apiKey"], "type": "apiKey", "in": "header"}
    assert schemes["apiKey"]["name"] == "x-api-key"
    assert (schemes["bearer"]["type"], schemes["bearer"]["scheme"]) == ("http", "bearer")
    assert raw_spec()["security"] == [{"apiKey": []}, {"bearer": []}]
    assert len(generate_key()) == 42  # as the scheme's description says


def test_every_error_the_function_raises_is_declared_with_its_exact_message() -> None:
    for error in api_errors():
        method = "get" if error is errors.MethodNotAllowed else "post"
        declared = response_spec(method, error.status)
        schema = declared["content"]["application/json"]["schema"]
        assert error.message in message_enum(schema), error.__name__
        instance = error("a reason") if error is not errors.ServiceUnavailable else error()
        validate(instance.body(), schema)
        for name in instance.headers():
            assert name in {h.lower() for h in declared.get("headers", {})}, (error, name)


def test_declared_headers_are_the_ones_the_errors_send() -> None:
    assert set(response_spec("get", 405)["headers"]) == {"Allow"}
    assert set(response_spec("post", 503)["headers"]) == {"Retry-After"}
    assert errors.MethodNotAllowed().headers() == {"allow": "POST"}
    assert int(errors.ServiceUnavailable().headers()["retry-after"]) >= 1


def test_bad_request_bodies_match_exactly_one_shape() -> None:
    schema = response_spec("post", 400)["content"]["application/json"]["schema"]
    assert len(schema["oneOf"]) == 2
    validate({"message": "Bad Request", "reason": "the batch is empty"}, schema)
    validate(
        {"message": "Bad Request", "accepted": 0, "invalid": [{"index": 0, "reason": "x"}]},
        schema,
    )
    for bad in (
        {"message": "Bad Request"},
        {"message": "Bad Request", "reason": "x", "accepted": 1, "invalid": []},
        {"message": "Bad Request", "accepted": 1, "invalid": []},
        {"message": "Unauthorised", "reason": "x"},
    ):
        with pytest.raises(ValidationError):
            validate(bad, schema)


def test_gateway_only_answers_are_declared() -> None:
    for method, status in GATEWAY_ONLY:
        assert response_spec(method, status)["content"]["application/json"]
    too_large = response_spec("post", 413)["content"]
    assert "Request Too Long" in message_enum(too_large["application/json"]["schema"])
    assert "text/plain" in too_large
    internal = response_spec("post", 500)["content"]["application/json"]["schema"]
    assert message_enum(internal) == {"Internal Error", "Internal Server Error"}
