"""What Lambda does with a function's output: every line to its log group in CloudWatch Logs.

Each worker (a Lambda instance) gets a log stream of its own, named as Lambda names them
(``YYYY/MM/DD/[$LATEST]<32 hex>``), in the log group the template gives the function
(``LoggingConfig``). Lambda writes the lines with the function's execution role, so the
agent's CloudWatch Logs client signs with the role's credentials: a role without
``logs:CreateLogStream`` and ``logs:PutLogEvents`` on its group loses its logs here as in
AWS (the dev console says so). The dev console also shows what a developer needs to see:
lines at WARNING and above, and anything that is not a structured log line (tracebacks);
metric documents (EMF) go to CloudWatch Logs only, where AWS turns them into metrics.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import IO, Any

import orjson

log = logging.getLogger("events_api_cli.logs")

#: CloudWatch Logs' limits for one PutLogEvents call and one event.
_MAX_BATCH_EVENTS = 10_000
_MAX_BATCH_BYTES = 1_048_576
_EVENT_OVERHEAD = 26
_MAX_EVENT_BYTES = 262_144 - _EVENT_OVERHEAD
_FLUSH_SECONDS = 0.5
_SHOWN_LEVELS = {"WARNING", "ERROR", "CRITICAL"}
#: Lambda's application log levels, lowest first (LoggingConfig ApplicationLogLevel).
_LEVELS = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"]
_SPELLINGS = {"WARNING": "WARN", "CRITICAL": "FATAL"}


def kept_at(line: str, application_log_level: str | None) -> bool:
    """Whether Lambda keeps a JSON log line at this ApplicationLogLevel: a line whose
    ``level`` is below it is dropped; lines without a level (metric documents) are kept."""
    if application_log_level is None or not line.startswith("{"):
        return True
    try:
        document = orjson.loads(line)
    except orjson.JSONDecodeError:
        return True
    level = str(document.get("level", "")).upper() if isinstance(document, dict) else ""
    level = _SPELLINGS.get(level, level)
    if level not in _LEVELS:
        return True
    return _LEVELS.index(level) >= _LEVELS.index(application_log_level.upper())


def stream_name(now: datetime | None = None) -> str:
    day = (now or datetime.now(UTC)).strftime("%Y/%m/%d")
    return f"{day}/[$LATEST]{uuid.uuid4().hex}"


def shown_on_console(line: str) -> bool:
    """Whether the dev console echoes this line of a function's output."""
    if not line.startswith("{"):
        return bool(line.strip())
    try:
        document = orjson.loads(line)
    except orjson.JSONDecodeError:
        return True
    if not isinstance(document, dict) or "_aws" in document:
        return False
    return str(document.get("level", "")).upper() in _SHOWN_LEVELS


class FunctionLogs:
    """One function's log agent: reads each worker's output, ships it, echoes some of it."""

    def __init__(
        self,
        function_name: str,
        log_group: str,
        logs_client: Callable[[], Any],
        echo: Callable[[str], None],
        application_log_level: str | None = None,
    ) -> None:
        self.function_name = function_name
        self.application_log_level = application_log_level
        self.log_group = log_group
        self._client = logs_client
        self._echo = echo
        self._lines: queue.Queue[tuple[str, int, str] | None] = queue.Queue()
        self._shipper = threading.Thread(
            target=self._ship, name=f"logs-{function_name}", daemon=True
        )
        self._shipper.start()
        self.refused: str | None = None

    def __call__(self, stdout: IO[bytes], stderr: IO[bytes]) -> None:
        """A new worker started: a new log stream, and readers for its two pipes."""
        stream = stream_name()
        for pipe in (stdout, stderr):
            threading.Thread(
                target=self._read,
                args=(pipe, stream),
                name=f"logs-{self.function_name}",
                daemon=True,
            ).start()

    def _read(self, pipe: IO[bytes], stream: str) -> None:
        with pipe:
            for raw in iter(pipe.readline, b""):
                line = raw.decode(errors="replace").rstrip("\n")
                if shown_on_console(line):
                    self._echo(line)
                if kept_at(line, self.application_log_level):
                    self._lines.put((stream, int(time.time() * 1000), line))

    def stop(self, timeout: float = 5.0) -> None:
        self._lines.put(None)
        self._shipper.join(timeout)

    def _ship(self) -> None:
        pending: dict[str, list[dict[str, Any]]] = {}
        created: set[str] = set()
        stopping = False
        while not stopping:
            deadline = time.monotonic() + _FLUSH_SECONDS
            while time.monotonic() < deadline:
                try:
                    item = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                stream, millis, line = item
                message = line.encode()[:_MAX_EVENT_BYTES].decode(errors="ignore") or " "
                pending.setdefault(stream, []).append({"timestamp": millis, "message": message})
            for stream, events in list(pending.items()):
                if events:
                    self._put(stream, events, created)
                pending[stream] = []

    def _put(self, stream: str, events: list[dict[str, Any]], created: set[str]) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        client = self._client()
        try:
            if stream not in created:
                client.create_log_stream(logGroupName=self.log_group, logStreamName=stream)
                created.add(stream)
            for batch in _batches(events):
                client.put_log_events(
                    logGroupName=self.log_group, logStreamName=stream, logEvents=batch
                )
        except (BotoCoreError, ClientError) as exc:
            reason = str(exc)
            if reason != self.refused:
                self.refused = reason
                log.error(
                    "%s: its log lines are lost: CloudWatch Logs refused them (%s)",
                    self.function_name,
                    reason,
                )


def _batches(events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    batches: list[list[dict[str, Any]]] = [[]]
    size = 0
    for event in events:
        event_size = len(event["message"].encode()) + _EVENT_OVERHEAD
        if batches[-1] and (
            len(batches[-1]) >= _MAX_BATCH_EVENTS or size + event_size > _MAX_BATCH_BYTES
        ):
            batches.append([])
            size = 0
        batches[-1].append(event)
        size += event_size
    return batches
