"""What API Gateway and function URLs do between an HTTP request and the function, as data.

The pure half of the local front door (``gateway`` is the socket server around it): the
event for a request, the edge limits and their answers, the HTTP response for the function's
answer. No sockets, threads or invocations here, so tests and benchmarks build the very
events the local stack sends.

Each request becomes the event an HTTP API ``$default`` route with a Lambda proxy
integration (payload format 2.0) would send, or, with ``FrontDoor.FUNCTION_URL``, the
event a Lambda function URL sends (the same schema; see "Function URLs" below), and the
function's answer becomes the HTTP response. What AWS does at the edges, and what this
gateway mirrors:

- Request line and headers: HTTP APIs take at most 10,240 bytes of request line and header
  values ("Quotas for configuring and running an HTTP API", not adjustable). Over it this
  gateway answers 431 with the text AWS was reported answering, ``HTTP header is larger
  than 10240 bytes.`` (the status AWS uses is not documented; 431 is HTTP's own for it).
  The request line and every ``name: value`` header line are counted.
- Body: at most 10 MB ("Payload size" in the same table). Over 10,485,760 bytes: 413 with
  the text body ``HTTP content length exceeded 10485760 bytes.`` (what API Gateway was seen
  answering). A declared Content-Length over the limit is refused before the body is read
  (also in answer to ``Expect: 100-continue``, so curl never sends it); a chunked body is
  read only until it passes the limit. The rest of an oversized body is discarded, not
  kept, so that a client which sends it all before reading still gets the answer.
- Body encoding: payload 2.0 "infers the need for encoding based on the content-type
  header" (AWS Compute Blog, "Handling binary data using Amazon API Gateway HTTP APIs"):
  text (``text/*``), JSON (``application/json``, ``application/*+json``), XML and
  JavaScript bodies arrive as text, every other body base64-encoded with
  ``isBase64Encoded: true`` (NDJSON, form posts, a missing Content-Type) as does any body
  sent with a Content-Encoding (a gzip body is binary whatever its Content-Type). A text
  body that is not valid UTF-8 is base64-encoded too, so its bytes reach the function
  unchanged. No body: no ``body`` key and ``isBase64Encoded: false``.
- Headers: names lower-cased, repeated headers joined with commas; Cookie headers become
  the ``cookies`` list; ``x-forwarded-for/-port/-proto`` and ``x-amzn-trace-id`` are added
  as API Gateway adds them; hop-by-hop headers are dropped. Repeated query parameters are
  joined with commas in ``queryStringParameters``. ``pathParameters`` is absent (the
  ``$default`` route has none).
- Invoke payload: Lambda takes at most 6 MB (6,291,456 bytes) of synchronous invoke
  payload: the whole event as JSON, envelope, escaping and base64 included. Over it API
  Gateway answers 413 ``{"message":"Request Too Long"}`` and the function never runs.
- Function error (an exception, or an answer that is not a valid response): 500
  ``{"message":"Internal Server Error"}``, what HTTP APIs answer for a failed integration;
  the same when the function's resource policy does not let API Gateway invoke it
  (local/invoke_permissions.py).
- Responses: ``statusCode``, ``headers``, ``cookies`` (each a ``set-cookie``), ``body`` and
  ``isBase64Encoded`` as payload 2.0 defines them; an answer without ``statusCode`` is
  sent as a 200 JSON body. Every response carries ``apigw-requestid``, the request id the
  function saw in ``requestContext.requestId``.

Function URLs ("Invoking Lambda function URLs", request payload format) send the same
payload 2.0 schema with these differences, which ``build_event`` makes: ``requestContext``
holds the URL id as ``apiId`` and ``domainPrefix``, ``<url-id>.lambda-url.<region>.on.aws``
as ``domainName``, a UUID as ``requestId``, ``authentication`` and ``authorizer`` null
(auth type NONE), and ``accountId`` ``anonymous`` (what an auth-NONE URL was seen sending;
the docs' table says the owner's account); ``routeKey`` and ``stage`` are ``$default``
placeholders. A function whose resource policy refuses the URL's caller
(local/invoke_permissions.py) is never invoked: 403 ``{"Message":"Forbidden"}``. The body
is text only for ``text/*`` and ``application/json`` (AWS's own function URL material; the
docs say only "if the content type of the request is binary, the body is base64-encoded"):
NDJSON, XML and a gzip body arrive base64-encoded. The answer carries ``x-amzn-RequestId``
instead of ``apigw-requestid``. Not documented, so mirrored as API Gateway's: the status
and body of an oversized request (413) and the header limit.

Not mirrored: the 30-second integration timeout (the function's own time budget keeps it
well inside), throttling (HTTP API rate limits, a function URL's reserved concurrency),
TLS, custom domains and stages other than ``$default``.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
import string
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from ..defaults import LOCAL_ACCOUNT_ID, LOCAL_REGION

MAX_HEADER_BYTES = 10_240
#: API Gateway HTTP API's payload limit (the function's own limit is the contract's
#: events_api.settings.MAX_BODY_BYTES, checked after the gateway).
HTTP_API_MAX_BODY_BYTES = 10 * 1024 * 1024
HEADERS_TOO_LARGE_BODY = f"HTTP header is larger than {MAX_HEADER_BYTES} bytes."
BODY_TOO_LARGE_BODY = f"HTTP content length exceeded {HTTP_API_MAX_BODY_BYTES} bytes."
REQUEST_TOO_LONG = {"message": "Request Too Long"}
INTERNAL_SERVER_ERROR = {"message": "Internal Server Error"}
FUNCTION_URL_FORBIDDEN = {"Message": "Forbidden"}
DEFAULT_ROUTE = "$default"

_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "expect",
    }
)
_TEXT_SUBTYPES = frozenset({"json", "xml", "javascript", "x-javascript", "ecmascript"})
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class FrontDoor(StrEnum):
    """What producers post to: the template's FrontDoor parameter, as the CLI spells it."""

    HTTP_API = "http-api"
    FUNCTION_URL = "function-url"


#: The header each front door answers with, carrying the request id the function saw.
REQUEST_ID_HEADERS = {
    FrontDoor.HTTP_API: "apigw-requestid",
    FrontDoor.FUNCTION_URL: "x-amzn-RequestId",
}


def new_api_id() -> str:
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(10))


def new_url_id() -> str:
    """Shaped like a function URL id (32 lower-case letters and digits)."""
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(32))


def new_request_id(front_door: FrontDoor = FrontDoor.HTTP_API) -> str:
    """An HTTP API request id (base64 of 11 bytes, e.g. ``JKJaXmPLvHcESHA=``), or the UUID
    of the invocation behind a function URL."""
    if front_door is FrontDoor.FUNCTION_URL:
        return str(uuid.uuid4())
    return base64.b64encode(os.urandom(11)).decode()


def _trace_id(now: float) -> str:
    return f"Root=1-{int(now):08x}-{secrets.token_hex(12)}"


def _clf_time(now: float) -> str:
    """``26/Nov/2026:12:00:00 +0000``, independent of the locale."""
    moment = time.gmtime(now)
    return (
        f"{moment.tm_mday:02d}/{_MONTHS[moment.tm_mon - 1]}/{moment.tm_year}:"
        f"{moment.tm_hour:02d}:{moment.tm_min:02d}:{moment.tm_sec:02d} +0000"
    )


def is_text_body(
    content_type: str | None,
    content_encoding: str | None,
    front_door: FrontDoor = FrontDoor.HTTP_API,
) -> bool:
    """Whether this front door passes the body as text rather than base64."""
    if content_encoding is not None and content_encoding.strip():
        return False
    media = (content_type or "").split(";")[0].strip().lower()
    major, _, minor = media.partition("/")
    if major == "text":
        return True
    if major != "application":
        return False
    if front_door is FrontDoor.FUNCTION_URL:
        return minor == "json"
    return minor in _TEXT_SUBTYPES or minor.endswith(("+json", "+xml"))


@dataclass(frozen=True, slots=True)
class RawRequest:
    """One HTTP request as it arrived at the front door, before API Gateway shapes it (the
    function's parsed view of the event it becomes is
    ``events_api.ingest.http_api.HttpRequest``)."""

    method: str
    target: str
    protocol: str
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str
    server_port: int


def header_block_size(request_line: str, headers: Iterable[tuple[str, str]]) -> int:
    """What counts against the header quota: the request line and every ``name: value``."""
    return len(request_line.encode("latin-1", "replace")) + sum(
        len(f"{name}: {value}".encode("latin-1", "replace")) for name, value in headers
    )


def build_event(
    request: RawRequest,
    *,
    api_id: str,
    request_id: str,
    now: float | None = None,
    front_door: FrontDoor = FrontDoor.HTTP_API,
) -> dict[str, Any]:
    """The payload format 2.0 event for ``request``: what an HTTP API's ``$default`` route
    sends, or what a function URL sends (``api_id`` is then the URL id)."""
    now = time.time() if now is None else now
    target = request.target
    if target.startswith(("http://", "https://")):
        parts = urlsplit(target)
        raw_path, raw_query = parts.path or "/", parts.query
    else:
        raw_path, _, raw_query = target.partition("?")

    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        key = name.lower()
        if key in _HOP_BY_HOP:
            continue
        if key == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    forwarded = headers.get("x-forwarded-for")
    headers["x-forwarded-for"] = (
        f"{forwarded}, {request.source_ip}" if forwarded else request.source_ip
    )
    headers["x-forwarded-port"] = str(request.server_port)
    headers["x-forwarded-proto"] = "http"
    headers.setdefault("x-amzn-trace-id", _trace_id(now))
    if request.body:
        headers["content-length"] = str(len(request.body))

    if front_door is FrontDoor.FUNCTION_URL:
        default_domain = f"{api_id}.lambda-url.{LOCAL_REGION}.on.aws"
    else:
        default_domain = f"{api_id}.execute-api.{LOCAL_REGION}.amazonaws.com"
    domain = headers.get("host") or default_domain
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    if raw_query:
        query: dict[str, str] = {}
        for key, value in parse_qsl(raw_query, keep_blank_values=True):
            query[key] = f"{query[key]},{value}" if key in query else value
        event["queryStringParameters"] = query
    context: dict[str, Any] = {
        "accountId": LOCAL_ACCOUNT_ID,
        "apiId": api_id,
        "domainName": domain,
        "domainPrefix": domain.split(".")[0],
    }
    if front_door is FrontDoor.FUNCTION_URL:
        context.update(accountId="anonymous", domainPrefix=api_id, authentication=None)
        context["authorizer"] = None
    event["requestContext"] = {
        **context,
        "http": {
            "method": request.method,
            "path": raw_path,
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": "$default",
        "stage": "$default",
        "time": _clf_time(now),
        "timeEpoch": int(now * 1000),
    }
    if request.body:
        text = None
        if is_text_body(headers.get("content-type"), headers.get("content-encoding"), front_door):
            try:
                text = request.body.decode("utf-8")
            except UnicodeDecodeError:
                text = None
        if text is None:
            event["body"] = base64.b64encode(request.body).decode("ascii")
            event["isBase64Encoded"] = True
        else:
            event["body"] = text
            event["isBase64Encoded"] = False
    else:
        event["isBase64Encoded"] = False
    return event


def _route_pattern(route_key: str) -> tuple[str, re.Pattern[str], int]:
    method, _, path = route_key.partition(" ")
    parts = []
    literal = 0
    for segment in path.strip("/").split("/"):
        variable = re.fullmatch(r"\{([A-Za-z0-9_]+)(\+?)\}", segment)
        if variable is None:
            parts.append(re.escape(segment))
            literal += 1
        elif variable.group(2):
            parts.append(f"(?P<{variable.group(1)}>.+)")
        else:
            parts.append(f"(?P<{variable.group(1)}>[^/]+)")
    return method, re.compile("/" + "/".join(parts)), literal


def select_route(
    route_keys: Sequence[str], method: str, path: str
) -> tuple[str, dict[str, str]] | None:
    """API Gateway's route selection for an HTTP API: the route matching the method and
    path with the most literal segments (a greedy ``{proxy+}`` last), else ``$default``."""
    best: tuple[int, str, dict[str, str]] | None = None
    for key in route_keys:
        if key == DEFAULT_ROUTE:
            continue
        route_method, pattern, literal = _route_pattern(key)
        if route_method not in {"ANY", method.upper()}:
            continue
        found = pattern.fullmatch(path)
        if found and (best is None or literal > best[0]):
            best = (literal, key, {k: v for k, v in found.groupdict().items() if v is not None})
    if best is not None:
        return best[1], best[2]
    return (DEFAULT_ROUTE, {}) if DEFAULT_ROUTE in route_keys else None


def apply_route(event: dict[str, Any], route_key: str, path_parameters: dict[str, str]) -> None:
    """What an HTTP API puts in the event for the route it selected."""
    event["routeKey"] = event["requestContext"]["routeKey"] = route_key
    if path_parameters:
        event["pathParameters"] = path_parameters


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def json_response(status: int, document: Any) -> HttpResponse:
    return HttpResponse(status, [("Content-Type", "application/json")], orjson.dumps(document))


def not_invokable(front_door: FrontDoor) -> HttpResponse:
    """The answer when the function's resource policy refuses the front door
    (local/invoke_permissions.py): an HTTP API's failed integration, or the 403 a function
    URL was seen answering."""
    if front_door is FrontDoor.FUNCTION_URL:
        return json_response(403, FUNCTION_URL_FORBIDDEN)
    return json_response(500, INTERNAL_SERVER_ERROR)


def text_response(status: int, text: str) -> HttpResponse:
    return HttpResponse(status, [("Content-Type", "text/plain; charset=utf-8")], text.encode())


def http_response(result: Any) -> HttpResponse:
    """A payload 2.0 answer as an HTTP response; ValueError when it is not a valid one."""
    if not (isinstance(result, dict) and "statusCode" in result):
        # Valid JSON without a statusCode: API Gateway sends it as a 200 JSON body.
        return json_response(200, result)
    status = result["statusCode"]
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise ValueError(f"statusCode {status!r} is not an HTTP status")
    headers: list[tuple[str, str]] = []
    for name, value in (result.get("headers") or {}).items():
        headers.append((str(name), str(value)))
    for cookie in result.get("cookies") or []:
        headers.append(("Set-Cookie", str(cookie)))
    body = result.get("body")
    if body is None:
        payload = b""
    elif not isinstance(body, str):
        raise ValueError("body must be a string")
    elif result.get("isBase64Encoded"):
        try:
            payload = base64.b64decode(body, validate=True)
        except binascii.Error as exc:
            raise ValueError(f"body is not valid base64: {exc}") from None
    else:
        payload = body.encode("utf-8", "surrogatepass")
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/json"))
    return HttpResponse(status, headers, payload)


def refusal_at_edge(request_line: str, headers: Sequence[tuple[str, str]]) -> HttpResponse | None:
    """The answer the front door gives before the body is read (header block or declared
    Content-Length over the limit), or None when the request may go on."""
    if header_block_size(request_line, headers) > MAX_HEADER_BYTES:
        return text_response(431, HEADERS_TOO_LARGE_BODY)
    length = next((value for name, value in headers if name.lower() == "content-length"), None)
    if length is not None and length.strip().isdigit() and int(length) > HTTP_API_MAX_BODY_BYTES:
        return text_response(413, BODY_TOO_LARGE_BODY)
    return None
