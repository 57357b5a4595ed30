"""A standard ``logging.Handler`` that ships log records as events in the background.

    import logging
    from events_api_cli.client import EventsHandler

    logging.getLogger().addHandler(EventsHandler(url, api_key, dataset="logs", service="app"))

``emit`` never blocks and never raises: records go to a bounded queue (when it is full the
record is dropped and counted) and a daemon thread sends them in batches. At interpreter exit
the queue is flushed for at most ``exit_timeout`` seconds, so a program exits promptly even
when the endpoint is down.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import queue
import threading
import time
import traceback
from datetime import UTC, datetime
from typing import Any

from events_api.timestamps import rfc3339

from .producer import EventsClient

# Attributes every LogRecord has; anything else on a record came from `extra=` and is kept.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
_STOP = object()


class EventsHandler(logging.Handler):
    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        dataset: str = "logs",
        service: str | None = None,
        namespace: str | None = None,
        capacity: int = 10_000,
        batch_size: int = 500,
        flush_interval: float = 1.0,
        exit_timeout: float = 2.0,
        level: int = logging.NOTSET,
        client: EventsClient | None = None,
    ) -> None:
        super().__init__(level)
        self.dataset, self.service, self.namespace = dataset, service, namespace
        self.dropped = 0
        self.sent = 0
        self.failed = 0
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._exit_timeout = exit_timeout
        # Few, short attempts: a log shipper must not pile up behind a dead endpoint.
        self._client = client or EventsClient(url, api_key, timeout=5.0, max_attempts=3)
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=capacity)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="events-log-shipper", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            event = self.to_event(record)
            self._queue.put_nowait(event)
        except queue.Full:
            self.dropped += 1
        except Exception:
            self.handleError(record)

    def to_event(self, record: logging.LogRecord) -> dict[str, Any]:
        event: dict[str, Any] = {
            "message": record.getMessage(),
            "level": record.levelname,
            "logger": record.name,
            "timestamp": rfc3339(datetime.fromtimestamp(record.created, UTC)),
        }
        if record.exc_info:
            event["error"] = "".join(traceback.format_exception(*record.exc_info)).strip()
        for name, value in vars(record).items():
            if name not in _STANDARD and not name.startswith("_"):
                event[name] = value if isinstance(value, str | int | float | bool) else repr(value)
        return event

    def flush(self) -> None:
        self.wait_sent()

    def wait_sent(self, timeout: float | None = None) -> bool:
        """Wait until everything queued so far was sent (or given up); False on timeout."""
        deadline = time.monotonic() + (self._exit_timeout if timeout is None else timeout)
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._queue.unfinished_tasks

    def close(self) -> None:
        if self._stopping.is_set():
            return
        self._stopping.set()
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(_STOP)
        self._thread.join(self._exit_timeout)
        self._client.close()
        super().close()

    def _run(self) -> None:
        stop = False
        while not stop:
            batch: list[dict[str, Any]] = []
            taken = 0
            deadline = time.monotonic() + self._flush_interval
            while len(batch) < self._batch_size:
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                taken += 1
                if item is _STOP:
                    stop = True
                    break
                batch.append(item)
            try:
                if batch:
                    report = self._client.send(
                        self.dataset, batch, service=self.service, namespace=self.namespace
                    )
                    self.sent += report.accepted
                    self.failed += len(report.rejected)
            except Exception:
                self.failed += len(batch)
            finally:
                for _ in range(taken):
                    self._queue.task_done()
            if stop:
                self._drain_remaining()

    def _drain_remaining(self) -> None:
        """At close: one last bounded attempt for whatever is still queued."""
        rest: list[dict[str, Any]] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            self._queue.task_done()
            if item is not _STOP:
                rest.append(item)
        if rest:
            try:
                report = self._client.send(self.dataset, rest)
                self.sent += report.accepted
                self.failed += len(report.rejected)
            except Exception:
                self.failed += len(rest)
