"""The local front door: HTTP requests -> payload 2.0 events -> the ingest function.

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
  ``{"message":"Internal Server Error"}``, what HTTP APIs answer for a failed integration.
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
placeholders. The body is text only for ``text/*`` and ``application/json`` (AWS's own
function URL material; the docs say only "if the content type of the request is binary,
the body is base64-encoded"): NDJSON, XML and a gzip body arrive base64-encoded. The
answer carries ``x-amzn-RequestId`` instead of ``apigw-requestid``. Not documented, so
mirrored as API Gateway's: the status and body of an oversized request (413) and the
header limit.

Not mirrored: the 30-second integration timeout (the function's own time budget keeps it
well inside), throttling (HTTP API rate limits, a function URL's reserved concurrency),
TLS, custom domains and stages other than ``$default``.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import secrets
import socket
import string
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import Message
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from ..defaults import LOCAL_ACCOUNT_ID, LOCAL_REGION
from .lambda_runtime import Function, FunctionError, RequestTooLarge

MAX_HEADER_BYTES = 10_240
MAX_BODY_BYTES = 10 * 1024 * 1024
HEADERS_TOO_LARGE_BODY = f"HTTP header is larger than {MAX_HEADER_BYTES} bytes."
BODY_TOO_LARGE_BODY = f"HTTP content length exceeded {MAX_BODY_BYTES} bytes."
REQUEST_TOO_LONG = {"message": "Request Too Long"}
INTERNAL_SERVER_ERROR = {"message": "Internal Server Error"}
#: The OTLP function's route (template.yaml); every other path is the $default route's.
OTLP_PREFIX = "/otlp/"
OTLP_ROUTE_KEY = "ANY /otlp/{proxy+}"
#: An oversized body is read and thrown away up to this much, then the connection is cut.
_DISCARD_LIMIT = 8 * MAX_BODY_BYTES
_CHUNK = 64 * 1024

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

log = logging.getLogger("events_api_cli.gateway")


class FrontDoor(StrEnum):
    """What producers post to: the template's FrontDoor parameter, as the CLI spells it."""

    HTTP_API = "http-api"
    FUNCTION_URL = "function-url"


#: The header each front door answers with, carrying the request id the function saw.
REQUEST_ID_HEADERS = {
    FrontDoor.HTTP_API: "apigw-requestid",
    FrontDoor.FUNCTION_URL: "x-amzn-RequestId",
}


class BodyTooLarge(Exception):
    pass


class BadFraming(Exception):
    """A body whose length cannot be known (a broken Content-Length or chunked encoding)."""


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
class HttpRequest:
    """One request as it arrived, before API Gateway shapes it."""

    method: str
    target: str
    protocol: str
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str
    server_port: int


def header_block_size(request_line: str, headers: Message) -> int:
    return len(request_line.encode("latin-1", "replace")) + sum(
        len(f"{name}: {value}".encode("latin-1", "replace")) for name, value in headers.items()
    )


def build_event(
    request: HttpRequest,
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


def route_to_otlp(event: dict[str, Any]) -> None:
    """What the template's ``ANY /otlp/{proxy+}`` route puts in the event."""
    event["routeKey"] = event["requestContext"]["routeKey"] = OTLP_ROUTE_KEY
    event["pathParameters"] = {"proxy": event["rawPath"][len(OTLP_PREFIX) :]}


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def json_response(status: int, document: Any) -> HttpResponse:
    return HttpResponse(status, [("Content-Type", "application/json")], orjson.dumps(document))


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


class Gateway:
    """Turns requests into events for one function and its answers into responses."""

    def __init__(
        self,
        function: Function,
        api_id: str | None = None,
        front_door: FrontDoor = FrontDoor.HTTP_API,
        otlp: Function | None = None,
    ) -> None:
        self.function = function
        self.front_door = front_door
        default_id = new_url_id() if front_door is FrontDoor.FUNCTION_URL else new_api_id()
        self.api_id = api_id or default_id
        self.otlp = otlp

    def handle(self, request: HttpRequest) -> tuple[str, HttpResponse]:
        request_id = new_request_id(self.front_door)
        event = build_event(
            request, api_id=self.api_id, request_id=request_id, front_door=self.front_door
        )
        function = self.function
        if self.otlp is not None and event["rawPath"].startswith(OTLP_PREFIX):
            # Behind an HTTP API, the /otlp/{proxy+} route; behind function URLs, the OTLP
            # function's own URL (the local gateway serves both doors on one port).
            function = self.otlp
            if self.front_door is FrontDoor.HTTP_API:
                route_to_otlp(event)
        try:
            result = function.invoke_payload(orjson.dumps(event))
        except RequestTooLarge as exc:
            log.warning("request %s: invoke payload too large (%d bytes)", request_id, exc.size)
            return request_id, json_response(413, REQUEST_TOO_LONG)
        except FunctionError as exc:
            log.warning("request %s: the function failed: %s", request_id, exc)
            return request_id, json_response(500, INTERNAL_SERVER_ERROR)
        try:
            return request_id, http_response(result)
        except ValueError as exc:
            log.warning("request %s: malformed function response: %s", request_id, exc)
            return request_id, json_response(500, INTERNAL_SERVER_ERROR)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # A client that stops sending mid-request must not hold a thread forever.
    timeout = 60
    server: GatewayServer

    def handle_expect_100(self) -> bool:
        refusal = self._edge_refusal()
        if refusal is None:
            return super().handle_expect_100()
        # Refused before the client sends the body: it never has to be read.
        self.close_connection = True
        self._send(refusal)
        self.server.access_log(self.client_address[0], self.command, self.path, refusal.status, 0)
        return False

    def _edge_refusal(self) -> HttpResponse | None:
        if header_block_size(self.requestline, self.headers) > MAX_HEADER_BYTES:
            return text_response(431, HEADERS_TOO_LARGE_BODY)
        length = self.headers.get("Content-Length")
        if length is not None and length.strip().isdigit() and int(length) > MAX_BODY_BYTES:
            return text_response(413, BODY_TOO_LARGE_BODY)
        return None

    def _dispatch(self) -> None:
        with self.server.in_flight():
            self._serve()

    def _serve(self) -> None:
        started = time.perf_counter()
        refusal = self._edge_refusal()
        request_id = ""
        if refusal is not None:
            response = refusal
            self._discard_body()
        else:
            try:
                body = self._read_body()
            except BodyTooLarge:
                response = text_response(413, BODY_TOO_LARGE_BODY)
                self.close_connection = True
            except BadFraming as exc:
                response = text_response(400, f"Bad Request: {exc}")
                self.close_connection = True
            else:
                request = HttpRequest(
                    method=self.command,
                    target=self.path,
                    protocol=self.request_version,
                    headers=list(self.headers.items()),
                    body=body,
                    source_ip=self.client_address[0],
                    server_port=self.server.server_address[1],
                )
                request_id, response = self.server.gateway.handle(request)
        self._send(response, request_id)
        self.server.access_log(
            self.client_address[0],
            self.command,
            self.path,
            response.status,
            (time.perf_counter() - started) * 1000,
        )

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _dispatch

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        if not length.strip().isdigit():
            raise BadFraming("invalid Content-Length")
        body = self.rfile.read(int(length))
        if len(body) != int(length):
            raise BadFraming("the body is shorter than its Content-Length")
        return body

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                raise BadFraming("invalid chunk size") from None
            if size == 0:
                # Trailer section, up to the blank line that ends the message.
                while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)
            total += size
            if total > MAX_BODY_BYTES:
                raise BodyTooLarge()
            chunk = self.rfile.read(size)
            if len(chunk) != size:
                raise BadFraming("truncated chunk")
            parts.append(chunk)
            self.rfile.readline(8)

    def _discard_body(self) -> None:
        """Read an unwanted body into the void, so the client gets to read the answer."""
        self.close_connection = True
        length = self.headers.get("Content-Length")
        if length is None or not length.strip().isdigit():
            return
        remaining = min(int(length), _DISCARD_LIMIT)
        self.connection.settimeout(5)
        try:
            while remaining > 0:
                chunk = self.rfile.read(min(_CHUNK, remaining))
                if not chunk:
                    break
                remaining -= len(chunk)
        except OSError:
            pass

    def _send(self, response: HttpResponse, request_id: str = "") -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            if name.lower() not in ("content-length", "connection", "date", "server"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if request_id:
            self.send_header(REQUEST_ID_HEADERS[self.server.gateway.front_door], request_id)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and response.body:
            try:
                self.wfile.write(response.body)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

    def version_string(self) -> str:
        return "events-api-dev"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # The server's access log has the line, with the time taken.
        return None

    def log_message(self, format: str, *args: Any) -> None:
        # http.server's own log lines (malformed requests) go to the gateway's logger.
        log.info("%s %s", self.address_string(), format % args)


class GatewayServer(ThreadingHTTPServer):
    # Connection threads are not joined on close: an idle keep-alive connection would hold
    # the shutdown for the whole socket timeout. Requests in flight are waited for instead.
    daemon_threads = True
    block_on_close = False
    # Bursts of new connections (dozens of producers at once) must wait, not be reset.
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        gateway: Gateway,
        access_log: Callable[[str, str, str, int, float], None] | None = None,
    ) -> None:
        self.gateway = gateway
        self.access_log = access_log or _no_access_log
        self._busy = 0
        self._idle = threading.Condition()
        super().__init__(address, _RequestHandler)

    @contextmanager
    def in_flight(self) -> Iterator[None]:
        with self._idle:
            self._busy += 1
        try:
            yield
        finally:
            with self._idle:
                self._busy -= 1
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no request is being served; False if some still are after ``timeout``."""
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout)

    def server_bind(self) -> None:
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        super().server_bind()

    @property
    def port(self) -> int:
        return int(self.server_address[1])


def _no_access_log(source: str, method: str, path: str, status: int, millis: float) -> None:
    return None


class GatewayThread:
    """The server on a background thread, with a clean stop."""

    def __init__(self, server: GatewayServer) -> None:
        self.server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="gateway"
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self, grace_seconds: float = 30.0) -> None:
        """Stop accepting, let requests in flight finish (within the grace time), close."""
        self.server.shutdown()
        self._thread.join()
        if not self.server.wait_idle(grace_seconds):
            log.warning("stopping with requests still in flight")
        self.server.server_close()
