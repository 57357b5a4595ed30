"""A small client for the AWS JSON protocol: the ingest path's three calls without botocore.

The producers' side of the pipeline makes three calls: Kinesis PutRecords, SQS
SendMessageBatch and SSM GetParameter. Each is a fixed JSON document POSTed to the
service's endpoint, signed with Signature Version 4. botocore spends about a millisecond
of CPU on each (model-driven validation and serialisation, some forty event hooks, its
header classes) and a quarter of a second importing, which on small requests costs more
than everything else the function does. This module does the same three calls over one
kept-alive connection per endpoint, with the standard SDK settings:

- credentials: ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN``
  (what Lambda sets), else botocore's credential chain (profiles, SSO; imported only then);
- region: ``AWS_REGION``, else ``AWS_DEFAULT_REGION``, else botocore's configuration;
- endpoint: ``AWS_ENDPOINT_URL_<SERVICE>``, else ``AWS_ENDPOINT_URL``, else the service's
  regional endpoint.

Timeouts are botocore's as configured in ``clients`` (2 s to connect, 5 s to read), and
one attempt per call: the callers' own retry loops own the time budget. The one exception
is a kept-alive connection the peer closed while idle (a frozen Lambda sandbox finds those
on thaw), which is reopened and the request sent once more at once.

Tests and the local stack's fault injection hook in with :class:`Hook` (before and after
each call) and :func:`use_transport` (where requests go: moto in-process in the tests).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import orjson

CONNECT_TIMEOUT = 2.0
READ_TIMEOUT = 5.0

#: service -> (X-Amz-Target prefix, JSON protocol version)
PROTOCOLS: dict[str, tuple[str, str]] = {
    "kinesis": ("Kinesis_20131202", "1.1"),
    "sqs": ("AmazonSQS", "1.0"),
    "ssm": ("AmazonSSM", "1.1"),
}


class AwsCallFailed(Exception):
    """The call did not succeed; whether the service acted on it is unknown for timeouts."""


class AwsError(AwsCallFailed):
    """The service answered with an error."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code} ({status}): {message}")
        self.status = status
        self.code = code


class AwsUnreachable(AwsCallFailed):
    """No answer: the connection failed or timed out."""


@dataclass(frozen=True, slots=True)
class Credentials:
    access_key: str
    secret_key: str
    token: str | None = None


@dataclass(slots=True)
class Response:
    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


class Transport(Protocol):
    def send(
        self, method: str, url: str, headers: dict[str, str], body: bytes, timeout: float
    ) -> Response:
        """Send one request; raise OSError (or http.client.HTTPException) when no answer."""
        ...


@dataclass
class Call:
    """One call as hooks see it: they may edit ``document`` before it is sent."""

    service: str
    operation: str
    document: dict[str, Any]
    context: dict[str, Any] = field(default_factory=dict)


class Hook(Protocol):
    def before(self, call: Call) -> dict[str, Any] | None:
        """An answer to use instead of sending, or None; may raise AwsCallFailed."""
        ...

    def after(self, call: Call, answer: dict[str, Any]) -> None:
        """May edit the service's answer, or raise AwsCallFailed (a hidden success)."""
        ...


# -- signing ------------------------------------------------------------------------------


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


@dataclass
class Signer:
    """Signature Version 4 for a POST to ``/`` with a JSON body."""

    service: str
    region: str
    _keys: dict[tuple[str, str], bytes] = field(default_factory=dict)

    def _signing_key(self, secret: str, day: str) -> bytes:
        key = self._keys.get((secret, day))
        if key is None:
            key = _hmac(("AWS4" + secret).encode(), day)
            for part in (self.region, self.service, "aws4_request"):
                key = _hmac(key, part)
            self._keys.clear()  # one day and one secret at a time
            self._keys[(secret, day)] = key
        return key

    def sign(
        self, host: str, headers: dict[str, str], body: bytes, creds: Credentials, now: float
    ) -> None:
        """Add ``X-Amz-Date``, the session token and ``Authorization`` to ``headers``."""
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
        day = stamp[:8]
        headers["X-Amz-Date"] = stamp
        if creds.token:
            headers["X-Amz-Security-Token"] = creds.token
        signed = {"host": host, **{name.lower(): value.strip() for name, value in headers.items()}}
        names = sorted(signed)
        canonical = "\n".join(
            (
                "POST",
                "/",
                "",
                "".join(f"{name}:{signed[name]}\n" for name in names),
                ";".join(names),
                hashlib.sha256(body).hexdigest(),
            )
        )
        scope = f"{day}/{self.region}/{self.service}/aws4_request"
        to_sign = "\n".join(
            ("AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest())
        )
        signature = hmac.new(
            self._signing_key(creds.secret_key, day), to_sign.encode(), hashlib.sha256
        ).hexdigest()
        headers["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={creds.access_key}/{scope}, "
            f"SignedHeaders={';'.join(names)}, Signature={signature}"
        )


# -- the network --------------------------------------------------------------------------


class HttpTransport:
    """Kept-alive HTTP(S) connections, one idle connection per endpoint at a time."""

    def __init__(self, connect_timeout: float = CONNECT_TIMEOUT) -> None:
        self._connect_timeout = connect_timeout
        self._idle: dict[str, list[Any]] = {}
        self._lock = threading.Lock()
        self._tls: Any = None

    def _connect(self, scheme: str, netloc: str) -> Any:
        import http.client

        if scheme == "https":
            if self._tls is None:
                import ssl

                self._tls = ssl.create_default_context()
            return http.client.HTTPSConnection(
                netloc, timeout=self._connect_timeout, context=self._tls
            )
        return http.client.HTTPConnection(netloc, timeout=self._connect_timeout)

    def send(
        self, method: str, url: str, headers: dict[str, str], body: bytes, timeout: float
    ) -> Response:
        import http.client

        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        path = parts.path or "/"
        for attempt in (1, 2):
            with self._lock:
                idle = self._idle.get(origin)
                connection = idle.pop() if idle else None
            reused = connection is not None
            if connection is None:
                connection = self._connect(parts.scheme, parts.netloc)
            try:
                if connection.sock is None:
                    connection.connect()
                connection.sock.settimeout(timeout)
                connection.request(method, path, body=body, headers=headers)
                answer = connection.getresponse()
                data = answer.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                connection.close()
                if reused and attempt == 1:
                    continue  # the peer closed the idle connection: open a new one
                raise
            except BaseException:
                connection.close()
                raise
            if answer.will_close:
                connection.close()
            else:
                with self._lock:
                    self._idle.setdefault(origin, []).append(connection)
            return Response(answer.status, data, {k.lower(): v for k, v in answer.getheaders()})
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            for connections in self._idle.values():
                for connection in connections:
                    connection.close()
            self._idle.clear()


# -- the client ---------------------------------------------------------------------------


def _environment_credentials(environ: Mapping[str, str]) -> Credentials | None:
    access, secret = environ.get("AWS_ACCESS_KEY_ID"), environ.get("AWS_SECRET_ACCESS_KEY")
    if access and secret:
        return Credentials(access, secret, environ.get("AWS_SESSION_TOKEN") or None)
    return None


def _botocore_credentials() -> Any:
    """botocore's credential chain (profiles, SSO), from the session its clients share; the
    object refreshes itself, so it is resolved once per client."""
    from .session import shared_session

    found = shared_session().get_credentials()
    if found is None:
        raise AwsUnreachable("no AWS credentials found")
    return found


def _region(environ: Mapping[str, str]) -> str:
    region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
    if region:
        return region
    from .session import shared_session

    return str(shared_session().get_config_variable("region") or "us-east-1")


def endpoint_url(service: str, region: str, environ: Mapping[str, str]) -> str:
    configured = environ.get(f"AWS_ENDPOINT_URL_{service.upper()}") or environ.get(
        "AWS_ENDPOINT_URL"
    )
    if configured:
        return configured.rstrip("/") + "/"
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://{service}.{region}.{suffix}/"


def _error(response: Response) -> AwsError:
    try:
        document = orjson.loads(response.body)
    except orjson.JSONDecodeError:
        document = None
    if not isinstance(document, dict):
        return AwsError(response.status, f"HTTP{response.status}", response.body[:200].decode())
    code = str(document.get("__type") or document.get("code") or f"HTTP{response.status}")
    message = str(document.get("message") or document.get("Message") or "")
    return AwsError(response.status, code.rpartition("#")[2], message)


class JsonClient:
    """One service's JSON-protocol calls."""

    def __init__(
        self,
        service: str,
        *,
        environ: Mapping[str, str] | None = None,
        transport: Callable[[], Transport] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        env = os.environ if environ is None else environ
        self.service = service
        self._target, version = PROTOCOLS[service]
        self._content_type = f"application/x-amz-json-{version}"
        self._fixed_credentials = _environment_credentials(env)
        self._refreshing_credentials: Any = None
        region = _region(env)
        self.url = endpoint_url(service, region, env)
        self._host = urlsplit(self.url).netloc
        self._signer = Signer(service, region)
        self._transport = transport or current_transport
        self._clock = clock
        self.hooks: list[Hook] = []

    def add_hook(self, hook: Hook, *, first: bool = False) -> None:
        """Hooks run before a call in order, and after it in reverse order: the first one
        sees the request before any other hook and the answer after every other."""
        if first:
            self.hooks.insert(0, hook)
        else:
            self.hooks.append(hook)

    def remove_hook(self, hook: Hook) -> None:
        self.hooks.remove(hook)

    def call(self, operation: str, document: dict[str, Any]) -> dict[str, Any]:
        if not self.hooks:
            return self._send(operation, document)
        call = Call(self.service, operation, document)
        answer: dict[str, Any] | None = None
        ran: list[Hook] = []
        for hook in self.hooks:
            ran.append(hook)
            answer = hook.before(call)
            if answer is not None:
                break
        if answer is None:
            answer = self._send(operation, call.document)
        for hook in reversed(ran):
            hook.after(call, answer)
        return answer

    def _chain_credentials(self) -> Credentials:
        if self._refreshing_credentials is None:
            self._refreshing_credentials = _botocore_credentials()
        frozen = self._refreshing_credentials.get_frozen_credentials()
        return Credentials(str(frozen.access_key), str(frozen.secret_key), frozen.token)

    def _send(self, operation: str, document: dict[str, Any]) -> dict[str, Any]:
        body = orjson.dumps(document)
        headers = {
            "Content-Type": self._content_type,
            "X-Amz-Target": f"{self._target}.{operation}",
        }
        creds = self._fixed_credentials or self._chain_credentials()
        self._signer.sign(self._host, headers, body, creds, self._clock())
        try:
            response = self._transport().send("POST", self.url, headers, body, READ_TIMEOUT)
        except AwsCallFailed:
            raise
        except Exception as exc:  # OSError, timeouts, http.client.HTTPException: no answer
            raise AwsUnreachable(f"{self.service} {operation}: {exc!r}") from None
        if response.status >= 300:
            raise _error(response)
        try:
            answer = orjson.loads(response.body) if response.body else {}
        except orjson.JSONDecodeError:
            raise AwsUnreachable(f"{self.service} {operation}: answer is not JSON") from None
        if not isinstance(answer, dict):
            raise AwsUnreachable(f"{self.service} {operation}: answer is not an object")
        return answer


_transports: list[Transport] = []
_clients: dict[str, JsonClient] = {}
_lock = threading.Lock()


def current_transport() -> Transport:
    if not _transports:
        with _lock:
            if not _transports:
                _transports.append(HttpTransport())
    return _transports[0]


def use_transport(transport: Transport | None) -> None:
    """Send every client's requests through ``transport`` (None: the network again)."""
    with _lock:
        _transports.clear()
        if transport is not None:
            _transports.append(transport)


def client(service: str) -> JsonClient:
    """The shared client for ``service``, created on first use (never at import time)."""
    found = _clients.get(service)
    if found is None:
        with _lock:
            found = _clients.get(service)
            if found is None:
                found = _clients[service] = JsonClient(service)
    return found


def reset() -> None:
    """Forget every client (tests and the local stack switch endpoints and credentials)."""
    with _lock:
        _clients.clear()
