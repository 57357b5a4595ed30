"""The contract's error answers, each with its exact status and body."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class InvalidEvent:
    """One event of a request that is not accepted, by its position: an item of a 207
    answer's ``invalid`` list, and of a client's report of what it could not send."""

    index: int
    reason: str


class ApiError(Exception):
    """An answer other than 202, raised anywhere on the request path and rendered once."""

    status: int = 500
    message: str = "Internal Error"
    #: Low-cardinality label for the rejected-requests metric.
    reason_label: str = "internal"

    def __init__(self, reason: str | None = None) -> None:
        super().__init__(reason or self.message)
        self.reason = reason

    def body(self) -> dict[str, Any]:
        return {"message": self.message}

    def headers(self) -> dict[str, str]:
        return {}


class MethodNotAllowed(ApiError):
    status, message, reason_label = 405, "Method Not Allowed", "method"

    def headers(self) -> dict[str, str]:
        return {"allow": "POST"}


class Unauthorised(ApiError):
    status, message, reason_label = 401, "Unauthorised", "unauthorised"


class BadRequest(ApiError):
    status, message, reason_label = 400, "Bad Request", "bad_request"

    def body(self) -> dict[str, Any]:
        return {"message": self.message, "reason": self.reason or "the request is malformed"}


class Forbidden(ApiError):
    status, message, reason_label = 403, "Forbidden", "forbidden"


class UnsupportedMediaType(ApiError):
    status, message, reason_label = 415, "Unsupported Media Type", "unsupported_encoding"


class PayloadTooLarge(ApiError):
    status, message, reason_label = 413, "Payload Too Large", "too_large"


class TooManyRequests(ApiError):
    """A well-formed key that could not be looked up yet (contract check 2a)."""

    status, message, reason_label = 429, "Too Many Requests", "throttled"

    def __init__(self, reason: str | None = None, retry_after_seconds: int = 1) -> None:
        super().__init__(reason)
        self.retry_after_seconds = retry_after_seconds

    def headers(self) -> dict[str, str]:
        return {"retry-after": str(self.retry_after_seconds)}


class ServiceUnavailable(ApiError):
    status, message, reason_label = 503, "Service Unavailable", "unavailable"

    def __init__(self, reason: str | None = None, retry_after_seconds: int = 5) -> None:
        super().__init__(reason)
        self.retry_after_seconds = retry_after_seconds

    def headers(self) -> dict[str, str]:
        return {"retry-after": str(self.retry_after_seconds)}
