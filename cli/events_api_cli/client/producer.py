"""The producer client: batches events under the API's limits, gzips, sends, retries.

Both the ``events-api send`` command and users' own code import this module::

    from events_api_cli.client import EventsClient

    client = EventsClient("https://events.example.com", api_key)
    report = client.send("logs", [{"message": "hello"}])
    assert report.ok, report.rejected

Requests are retried on 429, 5xx and network errors with exponential backoff and full jitter
(honouring ``Retry-After``); other 4xx answers are final. Every event ends up either accepted
or listed in the report with the reason, by its index in the input.
"""

from __future__ import annotations

import gzip
import http.client
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import msgspec
import orjson

from events_api.errors import InvalidEvent
from events_api.settings import MAX_BODY_BYTES, MAX_EVENT_BYTES

#: Lambda's 6 MB invoke payload holds the body base64'd (+33%) inside a JSON envelope, so a
#: gzip body is kept under this many bytes (4 MiB * 4/3 leaves room for the envelope).
MAX_COMPRESSED_BYTES = 4 * 1024 * 1024
__all__ = ["MAX_BODY_BYTES", "MAX_EVENT_BYTES", "EventsClient", "InvalidEvent", "SendReport"]
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
USER_AGENT = "events-api-client/0.1"


@dataclass(slots=True)
class SendReport:
    events: int = 0
    accepted: int = 0
    bytes_sent: int = 0
    requests: int = 0
    retries: int = 0
    rejected: list[InvalidEvent] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.rejected and self.accepted == self.events


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: dict[str, Any]
    retry_after: float | None


class SendError(Exception):
    """A batch could not be delivered (final answer, or retries exhausted)."""


Progress = Callable[[SendReport], None]


_RAW = msgspec.json.Decoder(msgspec.Raw)


class NotAnEvent(ValueError):
    pass


def _encode(event: Any) -> bytes:
    """The event's JSON text: objects are serialised, text is checked and sent as it is."""
    if isinstance(event, str):
        event = event.encode()
    if not isinstance(event, bytes | bytearray | memoryview):
        return orjson.dumps(event)
    text = bytes(event).strip()
    try:
        text.decode("utf-8")
        _RAW.decode(text)
    except (UnicodeDecodeError, msgspec.DecodeError, RecursionError) as exc:
        raise NotAnEvent(f"not valid JSON: {exc}") from None
    if not text.startswith(b"{"):
        raise NotAnEvent("not a JSON object")
    return text


def batches(events: Iterable[Any]) -> Iterator[tuple[list[int], list[bytes], list[InvalidEvent]]]:
    """(indexes, encoded events, local rejections) per request body under the size limit."""
    indexes: list[int] = []
    encoded: list[bytes] = []
    rejected: list[InvalidEvent] = []
    size = 2  # the brackets
    for index, event in enumerate(events):
        try:
            text = _encode(event)
        except NotAnEvent as exc:
            rejected.append(InvalidEvent(index, str(exc)))
            continue
        except (TypeError, orjson.JSONEncodeError) as exc:
            rejected.append(InvalidEvent(index, f"not serialisable as JSON: {exc}"))
            continue
        if len(text) > MAX_EVENT_BYTES:
            rejected.append(
                InvalidEvent(index, f"event is {len(text)} bytes, over {MAX_EVENT_BYTES}")
            )
            continue
        if encoded and size + len(text) + 1 > MAX_BODY_BYTES:
            yield indexes, encoded, rejected
            indexes, encoded, rejected, size = [], [], [], 2
        indexes.append(index)
        encoded.append(text)
        size += len(text) + 1
    if encoded or rejected:
        yield indexes, encoded, rejected


class EventsClient:
    """Sends events to one Events API endpoint. Thread-safe: one connection per thread."""

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        timeout: float = 30.0,
        max_attempts: int = 8,
        backoff_base: float = 0.25,
        backoff_cap: float = 20.0,
        gzip_level: int = 6,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port
        self._base = parts.path.rstrip("/")
        self._api_key = api_key
        self._timeout = timeout
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._gzip_level = gzip_level
        self._sleep = sleep
        self._local = threading.local()

    # -- public --------------------------------------------------------------------------
    def send(
        self,
        dataset: str,
        events: Iterable[Any],
        *,
        service: str | None = None,
        namespace: str | None = None,
        progress: Progress | None = None,
    ) -> SendReport:
        report = SendReport()
        for indexes, encoded, rejected in batches(events):
            report.events += len(indexes) + len(rejected)
            report.rejected.extend(rejected)
            if encoded:
                self._send_split(dataset, indexes, encoded, service, namespace, report)
            if progress is not None:
                progress(report)
        report.rejected.sort(key=lambda r: r.index)
        return report

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None

    # -- batching ------------------------------------------------------------------------
    def _send_split(
        self,
        dataset: str,
        indexes: list[int],
        encoded: list[bytes],
        service: str | None,
        namespace: str | None,
        report: SendReport,
    ) -> None:
        body = gzip.compress(b"[" + b",".join(encoded) + b"]", self._gzip_level, mtime=0)
        if len(body) > MAX_COMPRESSED_BYTES and len(encoded) > 1:
            half = len(encoded) // 2
            self._send_split(dataset, indexes[:half], encoded[:half], service, namespace, report)
            self._send_split(dataset, indexes[half:], encoded[half:], service, namespace, report)
            return
        try:
            answer = self._post(dataset, body, service, namespace, report)
        except SendError as exc:
            report.rejected.extend(InvalidEvent(i, str(exc)) for i in indexes)
            return
        report.bytes_sent += len(body)
        if answer.status == 202:
            report.accepted += len(indexes)
            return
        invalid = answer.body.get("invalid")
        if answer.status == 400 and isinstance(invalid, list):
            report.accepted += int(answer.body.get("accepted", 0))
            for item in invalid:
                position = int(item.get("index", -1))
                if 0 <= position < len(indexes):
                    report.rejected.append(InvalidEvent(indexes[position], str(item.get("reason"))))
            return
        reason = answer.body.get("reason") or answer.body.get("message") or "rejected"
        report.rejected.extend(InvalidEvent(i, f"{answer.status} {reason}") for i in indexes)

    # -- HTTP ----------------------------------------------------------------------------
    def _connection(self) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            factory = (
                http.client.HTTPSConnection
                if self._scheme == "https"
                else http.client.HTTPConnection
            )
            connection = factory(self._host, self._port, timeout=self._timeout)
            self._local.connection = connection
        return connection

    def _post(
        self,
        dataset: str,
        body: bytes,
        service: str | None,
        namespace: str | None,
        report: SendReport,
    ) -> Answer:
        headers = {
            "x-api-key": self._api_key,
            "content-type": "application/json",
            "content-encoding": "gzip",
            "user-agent": USER_AGENT,
        }
        if service:
            headers["x-service"] = service
        if namespace:
            headers["x-namespace"] = namespace
        path = f"{self._base}/v1/{quote(dataset, safe='')}"
        last = "no attempt"
        for attempt in range(self._max_attempts):
            if attempt:
                report.retries += 1
            report.requests += 1
            try:
                answer = self._exchange(path, body, headers)
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                last = f"network error: {exc.__class__.__name__}: {exc}"
                self._backoff(attempt, None)
                continue
            if answer.status not in RETRYABLE_STATUSES:
                return answer
            last = f"{answer.status} {answer.body.get('message', '')}".strip()
            self._backoff(attempt, answer.retry_after)
        raise SendError(f"not delivered after {self._max_attempts} attempts: {last}")

    def _exchange(self, path: str, body: bytes, headers: dict[str, str]) -> Answer:
        connection = self._connection()
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        raw = response.read()
        if response.getheader("connection", "").lower() == "close":
            self.close()
        try:
            parsed = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            parsed = {"message": raw[:200].decode("utf-8", "replace")}
        if not isinstance(parsed, dict):
            parsed = {"message": str(parsed)}
        return Answer(response.status, parsed, _retry_after(response.getheader("retry-after")))

    def _backoff(self, attempt: int, retry_after: float | None) -> None:
        if attempt + 1 >= self._max_attempts:
            return
        delay = random.uniform(0, min(self._backoff_cap, self._backoff_base * 2**attempt))
        if retry_after is not None:
            delay = max(delay, min(retry_after, self._backoff_cap))
        self._sleep(delay)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
