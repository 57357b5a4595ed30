"""The local front door: HTTP on a socket -> the function -> HTTP back.

``api_gateway`` holds what API Gateway (HTTP API, payload 2.0) and function URLs do to a
request and to the function's answer, and the limits at the edge; this module is the server
around it: it reads requests off the socket (refusing oversized ones before their body, and
discarding what it will not keep), invokes the ingest or OTLP function with the event, and
writes the response with the front door's request-id header.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from .api_gateway import (
    BODY_TOO_LARGE_BODY,
    HTTP_API_MAX_BODY_BYTES,
    INTERNAL_SERVER_ERROR,
    REQUEST_ID_HEADERS,
    REQUEST_TOO_LONG,
    FrontDoor,
    HttpResponse,
    RawRequest,
    apply_route,
    build_event,
    http_response,
    json_response,
    new_api_id,
    new_request_id,
    new_url_id,
    not_invokable,
    refusal_at_edge,
    select_route,
    text_response,
)
from .lambda_runtime import Function, FunctionError, RequestTooLarge

#: An oversized body is read and thrown away up to this much, then the connection is cut.
_DISCARD_LIMIT = 8 * HTTP_API_MAX_BODY_BYTES
_CHUNK = 64 * 1024

log = logging.getLogger("events_api_cli.gateway")


class BodyTooLarge(Exception):
    pass


class BadFraming(Exception):
    """A body whose length cannot be known (a broken Content-Length or chunked encoding)."""


class Gateway:
    """Turns requests into events for the functions behind the front door and their answers
    into responses.

    ``routes`` are the front door's routes as the template gives them, route key to
    function: an HTTP API's (``$default``, ``ANY /otlp/{proxy+}``), whose selection shows in
    the event, or, with function URLs, one route per URL for the local gateway to tell them
    apart on its single port (a function URL's event always says ``$default``)."""

    def __init__(
        self,
        routes: Sequence[tuple[str, Function]],
        api_id: str | None = None,
        front_door: FrontDoor = FrontDoor.HTTP_API,
        refused: Mapping[str, str] | None = None,
    ) -> None:
        self.routes = dict(routes)
        self.front_door = front_door
        #: Route key -> why the front door may not invoke its function (invoke_permissions).
        self.refused = dict(refused or {})
        default_id = new_url_id() if front_door is FrontDoor.FUNCTION_URL else new_api_id()
        self.api_id = api_id or default_id

    def handle(self, request: RawRequest) -> tuple[str, HttpResponse]:
        request_id = new_request_id(self.front_door)
        event = build_event(
            request, api_id=self.api_id, request_id=request_id, front_door=self.front_door
        )
        selected = select_route(
            list(self.routes), event["requestContext"]["http"]["method"], event["rawPath"]
        )
        if selected is None:
            return request_id, json_response(404, {"message": "Not Found"})
        route_key, path_parameters = selected
        function = self.routes[route_key]
        if route_key in self.refused:
            log.warning("request %s: %s", request_id, self.refused[route_key])
            return request_id, not_invokable(self.front_door)
        if self.front_door is FrontDoor.HTTP_API:
            apply_route(event, route_key, path_parameters)
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
        return refusal_at_edge(self.requestline, self.headers.items())

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
                request = RawRequest(
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
            if total > HTTP_API_MAX_BODY_BYTES:
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
