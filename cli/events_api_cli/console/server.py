"""The console's HTTP server: standard library only, one thread per request.

Every view is a page (the same markup; the script renders the view from its JSON) and a
JSON endpoint with the same query parameters. A JSON request that asks for
``application/x-ndjson`` gets the engine's progress as lines before the answer (Athena
takes seconds). Nothing here writes anywhere: the engines are read-only (explore.engines).

Guard: the Host header must name this server (a DNS-rebinding page cannot talk to it),
and with a token (any ``--host`` other than loopback) every request must carry it, as
``?token=`` (answered with a cookie), the cookie, or ``Authorization: Bearer``; it is
compared in constant time.
"""

from __future__ import annotations

import hmac
import html
import ipaddress
import logging
import mimetypes
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from string import Template
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from ..explore import service
from ..explore.engines import Engine, Progress, StatementError
from ..explore.model import Query, QueryError

log = logging.getLogger("events_api_cli.console")

COOKIE = "events_api_ui"
NDJSON = "application/x-ndjson"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
PAGES = ("/", "/sql")


def _package_files() -> dict[str, tuple[bytes, str]]:
    """``/static/...`` paths to their bytes and type: the only files ever served."""
    root = resources.files("events_api_cli.console") / "static"
    found: dict[str, tuple[bytes, str]] = {}

    def walk(node: Any, prefix: str) -> None:
        for child in node.iterdir():
            if child.is_dir():
                walk(child, f"{prefix}{child.name}/")
            elif not child.name.startswith("."):
                kind = mimetypes.guess_type(child.name)[0] or "application/octet-stream"
                if kind.startswith("text/") or kind.endswith("javascript"):
                    kind += "; charset=utf-8"
                found[f"/static/{prefix}{child.name}"] = (child.read_bytes(), kind)

    walk(root, "")
    return found


def _page(engine: Engine) -> bytes:
    template = (resources.files("events_api_cli.console") / "templates" / "page.html").read_text()
    tail_ms = 10_000 if engine.dialect == "athena" else 2_000  # Athena bills every poll
    return Template(template).substitute(engine=html.escape(engine.name), tail_ms=tail_ms).encode()


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def allowed_hosts(host: str, port: int) -> frozenset[str] | None:
    """The Host header values this server answers; None (any) for a wildcard address,
    where only the token protects it."""
    if host in {"0.0.0.0", "::"}:  # noqa: S104 - the user asked for every interface
        return None
    names = {f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"}
    names.add(f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
    return frozenset(name.lower() for name in names)


@dataclass
class Console:
    engine: Engine
    hosts: frozenset[str] | None
    token: str | None = None

    def __post_init__(self) -> None:
        self.files = _package_files()
        self.page = _page(self.engine)

    def authorised(self, given: str | None) -> bool:
        if self.token is None:
            return True
        return given is not None and hmac.compare_digest(given.encode(), self.token.encode())


class Handler(BaseHTTPRequestHandler):
    server_version = "events-api-ui"
    sys_version = ""
    console: Console

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    # ------------------------------------------------------------ answers

    def _send(
        self, status: int, body: bytes, kind: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for name, value in {**SECURITY_HEADERS, **(headers or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, answer: Any) -> None:
        self._send(status, service.encode(answer), "application/json")

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": message})

    # ------------------------------------------------------------ requests

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_POST(self) -> None:
        self._refuse()

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_POST

    def _refuse(self) -> None:
        self._send(
            HTTPStatus.METHOD_NOT_ALLOWED,
            service.encode({"error": "read-only: GET only"}),
            "application/json",
            {"Allow": "GET, HEAD"},
        )

    def do_GET(self) -> None:
        console = self.console
        host = (self.headers.get("Host") or "").lower()
        if console.hosts is not None and host not in console.hosts:
            self._error(HTTPStatus.FORBIDDEN, "unexpected Host header")
            return
        parts = urlsplit(self.path)
        params = parse_qs(parts.query, keep_blank_values=False)
        given = params.pop("token", [None])[0]
        if console.token is not None and given is not None and console.authorised(given):
            # Trade the token in the URL for a cookie, and show the URL without it.
            rest = urlencode([(k, v) for k, vs in params.items() for v in vs])
            self._send(
                HTTPStatus.SEE_OTHER,
                b"",
                "text/plain",
                {
                    "Location": parts.path + (f"?{rest}" if rest else ""),
                    "Set-Cookie": f"{COOKIE}={console.token}; HttpOnly; SameSite=Strict; Path=/",
                },
            )
            return
        if not console.authorised(given or self._credential()):
            self._error(HTTPStatus.UNAUTHORIZED, "a token is required: use the URL printed")
            return
        try:
            self._route(parts.path, params)
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception:
            log.exception("console request failed: %s", parts.path)
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error (see the console's log)")

    def _credential(self) -> str | None:
        header = self.headers.get("Authorization") or ""
        if header.lower().startswith("bearer "):
            return header[7:].strip()
        cookie = SimpleCookie()
        try:
            cookie.load(self.headers.get("Cookie") or "")
        except Exception:
            return None
        morsel = cookie.get(COOKIE)
        return morsel.value if morsel else None

    def _route(self, path: str, params: dict[str, list[str]]) -> None:
        console = self.console
        if path in console.files:
            body, kind = console.files[path]
            self._send(HTTPStatus.OK, body, kind)
        elif path in PAGES or (path.startswith("/trace/") and not path.endswith(".json")):
            self._send(HTTPStatus.OK, console.page, "text/html; charset=utf-8")
        elif path == "/explore.json":
            self._answer(
                lambda progress: service.explore(
                    Query.from_params(params),
                    console.engine,
                    on_progress=progress,
                    parts=("events",) if params.get("tail") == ["1"] else service.PARTS,
                )
            )
        elif path.startswith("/trace/") and path.endswith(".json"):
            trace_id = unquote(path[len("/trace/") : -len(".json")])
            if not {"since", "from"} & params.keys():
                params["since"] = [service.TRACE_DEFAULT_SINCE]
            self._answer(
                lambda progress: service.trace(
                    trace_id, Query.from_params(params), console.engine, on_progress=progress
                )
            )
        elif path == "/sql.json":
            statement = (params.get("q") or [""])[0]
            datasets = tuple(params.get("dataset", ()))
            self._answer(lambda _progress: service.run_sql(statement, console.engine, datasets))
        elif path == "/datasets.json":
            self._answer(lambda _progress: {"datasets": console.engine.datasets()})
        elif path == "/fields.json":
            datasets = tuple(params.get("dataset", ()))
            self._answer(lambda _progress: {"fields": service.fields(datasets, console.engine)})
        else:
            self._error(HTTPStatus.NOT_FOUND, "no such page")

    def _answer(self, work: Callable[[Callable[[Progress], None] | None], Any]) -> None:
        """Run ``work``; as one JSON document, or as NDJSON progress lines and the answer."""
        if NDJSON not in (self.headers.get("Accept") or ""):
            try:
                self._json(HTTPStatus.OK, work(None))
            except QueryError as exc:
                self._error(HTTPStatus.BAD_REQUEST, str(exc))
            except StatementError as exc:
                self._error(HTTPStatus.BAD_REQUEST, str(exc))
            except _UNREACHABLE as exc:
                self._error(HTTPStatus.BAD_GATEWAY, _unreachable(exc))
            return
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", NDJSON)
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        self.end_headers()  # HTTP/1.0: the body ends when the connection closes
        lock = threading.Lock()

        def line(document: Any) -> None:
            with lock:
                self.wfile.write(service.encode(document) + b"\n")
                self.wfile.flush()

        def progress(update: Progress) -> None:
            line(
                {
                    "progress": {
                        "state": update.state,
                        "seconds": round(update.seconds, 1),
                        "scannedBytes": update.scanned_bytes,
                    }
                }
            )

        try:
            line({"answer": work(progress)})
        except (QueryError, StatementError) as exc:
            line({"error": str(exc), "status": 400})
        except _UNREACHABLE as exc:
            line({"error": _unreachable(exc), "status": 502})
        except (BrokenPipeError, ConnectionResetError):
            raise
        except Exception:  # the status line is sent: the error has to be a line too
            log.exception("console request failed: %s", self.path)
            line({"error": "internal error (see the console's log)", "status": 500})


def _unreachable_errors() -> tuple[type[Exception], ...]:
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError)


_UNREACHABLE = _unreachable_errors()


def _unreachable(exc: Exception) -> str:
    return f"cannot reach the events' store ({exc}); is the stack (or `events-api dev`) up?"


class ConsoleServer(ThreadingHTTPServer):
    daemon_threads = True


class ConsoleServer6(ConsoleServer):
    address_family = socket.AF_INET6


def serve(console: Console, host: str, port: int) -> ConsoleServer:
    """A bound server (port 0: a free one); ``serve_forever`` runs it."""
    handler = type("ConsoleHandler", (Handler,), {"console": console})
    server = ConsoleServer6 if ":" in host else ConsoleServer
    return server((host, port), handler)
