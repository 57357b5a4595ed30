"""docs/openapi.yaml loaded, with its local $refs inlined, and responses checked against it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from typing import Any

import yaml
from openapi_schema_validator import OAS30Validator

from tests.support import ROOT

SPEC_PATH = ROOT / "docs" / "openapi.yaml"
PATH = "/v1/{dataset}"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@cache
def raw_spec() -> dict[str, Any]:
    return yaml.safe_load(SPEC_PATH.read_text())


def _inline(node: Any, seen: tuple[str, ...] = ()) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            reference = node["$ref"]
            assert reference.startswith("#/"), f"only local references: {reference}"
            assert reference not in seen, f"recursive reference {reference}"
            target: Any = raw_spec()
            for part in reference[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            return _inline(target, (*seen, reference))
        return {key: _inline(value, seen) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(value, seen) for value in node]
    return node


@cache
def spec() -> dict[str, Any]:
    """The spec with every $ref replaced by what it points at."""
    return _inline(raw_spec())


def operations() -> dict[str, dict[str, Any]]:
    item = spec()["paths"][PATH]
    return {method: item[method] for method in METHODS if method in item}


def declared_statuses() -> dict[str, set[int]]:
    return {
        method: {int(status) for status in operation["responses"]}
        for method, operation in operations().items()
    }


def response_spec(method: str, status: int) -> dict[str, Any]:
    responses = operations()[method.lower()]["responses"]
    assert str(status) in responses, f"{method.upper()} {PATH}: {status} is not in the spec"
    return responses[str(status)]


def validate(instance: Any, schema: Mapping[str, Any]) -> None:
    OAS30Validator(schema).validate(instance)


def check_response(method: str, response: Mapping[str, Any]) -> Any:
    """Validate an API Gateway (payload 2.0) response: status, headers and body.

    Returns the decoded body.
    """
    status = response["statusCode"]
    declared = response_spec(method, status)
    headers = {name.lower(): value for name, value in (response.get("headers") or {}).items()}
    media_type = headers.get("content-type", "").split(";")[0].strip()
    assert media_type in declared["content"], f"{status}: {media_type!r} is not declared"
    assert response.get("isBase64Encoded") is not True
    body = json.loads(response["body"]) if media_type == "application/json" else response["body"]
    validate(body, declared["content"][media_type]["schema"])
    for name, header in declared.get("headers", {}).items():
        value = headers.get(name.lower())
        if value is None:
            assert not header.get("required"), f"{status}: header {name} is missing"
            continue
        schema = header["schema"]
        validate(int(value) if schema.get("type") == "integer" else value, schema)
    return body
