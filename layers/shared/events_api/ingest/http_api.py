"""The HTTP side of the contract: payload 2.0 events in, answers out.

API Gateway HTTP APIs and Lambda function URLs send the same payload format 2.0; only
``requestContext`` differs (a function URL's holds null ``authorizer`` and
``authentication`` and a UUID ``requestId``), and this module reads none of the differences.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import orjson

from ..errors import ApiError, BadRequest

DATASET_RULE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
MAX_LABEL_CHARS = 256
#: What JavaScript clients send for an unset option: the header counts as absent.
ABSENT_LABELS = frozenset({"", "undefined", "null"})
NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl")
_JSON_HEADERS = {"content-type": "application/json"}


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    raw_path: str
    headers: Mapping[str, str]
    body: str | None
    is_base64: bool
    request_id: str

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def api_key(self) -> str | None:
        key = self.headers.get("x-api-key")
        if key:
            return key.strip()
        scheme, _, credentials = (self.headers.get("authorization") or "").strip().partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            return credentials.strip()
        return None

    def is_ndjson(self) -> bool:
        media_type = (self.headers.get("content-type") or "").split(";")[0].strip().lower()
        return media_type in NDJSON_TYPES

    def raw_body(self) -> bytes:
        if not self.body:
            return b""
        if self.is_base64:
            try:
                return binascii.a2b_base64(self.body, strict_mode=False)
            except binascii.Error:
                raise BadRequest("body is not valid base64") from None
        return self.body.encode("utf-8", "surrogatepass")

    def label(self, name: str) -> str | None:
        """An optional x-service / x-namespace header, at most 256 characters."""
        value = self.headers.get(name)
        if value is None or value.strip() in ABSENT_LABELS:
            return None
        if len(value) > MAX_LABEL_CHARS:
            raise BadRequest(f"header {name} is longer than {MAX_LABEL_CHARS} characters")
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:  # a lone surrogate: no valid text, nothing to store
                raise BadRequest(f"header {name} is not valid Unicode text") from None
        return value


def parse_event(event: Mapping[str, Any]) -> HttpRequest:
    context = event.get("requestContext") or {}
    http = context.get("http") or {}
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    return HttpRequest(
        method=str(http.get("method") or event.get("httpMethod") or "").upper(),
        raw_path=str(event.get("rawPath") or event.get("path") or ""),
        headers=headers,
        body=event.get("body"),
        is_base64=bool(event.get("isBase64Encoded")),
        request_id=str(context.get("requestId") or ""),
    )


def dataset_from_path(raw_path: str) -> str:
    parts = raw_path.split("/")
    if len(parts) == 4 and parts[3] == "":  # one trailing slash: /v1/logs/ is /v1/logs
        parts.pop()
    if len(parts) != 3 or parts[0] != "" or parts[1] != "v1" or not parts[2]:
        raise BadRequest("the path must be /v1/{dataset}")
    dataset = unquote(parts[2], errors="replace")
    if DATASET_RULE.fullmatch(dataset) is None:
        raise BadRequest(
            "the dataset name must be 1 to 64 characters of a-z, 0-9, '_' and '-', "
            "starting with a letter or digit"
        )
    return dataset


def respond(
    status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None
) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {**_JSON_HEADERS, **(headers or {})},
        "body": orjson.dumps(body).decode(),
        "isBase64Encoded": False,
    }


def error_response(error: ApiError) -> dict[str, Any]:
    return respond(error.status, error.body(), error.headers())
