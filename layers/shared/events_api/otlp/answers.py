"""OTLP/HTTP answers, in the request's encoding: export responses and ``google.rpc.Status``.

The Events API's own error classes (one place for every status) are rendered here in the
OTLP body shape; headers such as ``Retry-After`` and ``Allow`` are kept.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import orjson
from google.rpc.status_pb2 import Status

from ..errors import ApiError
from .decode import Encoding, Signal

#: HTTP status -> google.rpc.Code, as gRPC gateways map them.
_RPC_CODES = {
    400: 3,  # INVALID_ARGUMENT
    401: 16,  # UNAUTHENTICATED
    403: 7,  # PERMISSION_DENIED
    404: 5,  # NOT_FOUND
    405: 12,  # UNIMPLEMENTED
    413: 3,  # INVALID_ARGUMENT: the body is too large to take, whatever the retry
    415: 3,
    429: 8,  # RESOURCE_EXHAUSTED
    503: 14,  # UNAVAILABLE
}
_INTERNAL = 13


def _respond(
    status: int, body: bytes, encoding: Encoding, headers: Mapping[str, str] | None = None
) -> dict[str, Any]:
    binary = encoding is Encoding.PROTOBUF
    return {
        "statusCode": status,
        "headers": {"content-type": encoding.value, **(headers or {})},
        # API Gateway and function URLs pass a binary body only base64-encoded.
        "body": base64.b64encode(body).decode("ascii") if binary else body.decode(),
        "isBase64Encoded": binary,
    }


def success(
    signal: Signal, encoding: Encoding, rejected: int, error_message: str
) -> dict[str, Any]:
    """200 with ``partialSuccess``: empty when everything was taken."""
    if encoding is Encoding.PROTOBUF:
        response = signal.response()
        partial = getattr(response, "partial_success")  # noqa: B009 - typed per signal
        partial.SetInParent()
        if rejected:
            setattr(partial, signal.rejected_field, rejected)
            partial.error_message = error_message
        return _respond(200, response.SerializeToString(), encoding)
    document: dict[str, Any] = {}
    if rejected:
        document = {signal.rejected_json: rejected, "errorMessage": error_message}
    return _respond(200, orjson.dumps({"partialSuccess": document}), encoding)


def status_text(error: ApiError) -> str:
    if error.reason and error.reason != error.message:
        return f"{error.message}: {error.reason}"
    return error.message


def failure(error: ApiError, encoding: Encoding) -> dict[str, Any]:
    code = _RPC_CODES.get(error.status, _INTERNAL)
    message = status_text(error)
    if encoding is Encoding.PROTOBUF:
        body = Status(code=code, message=message).SerializeToString()
    else:
        body = orjson.dumps({"code": code, "message": message})
    return _respond(error.status, body, encoding, error.headers())
