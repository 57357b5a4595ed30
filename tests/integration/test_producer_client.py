"""The producer client and the logging handler against a scripted server on loopback.

The server speaks the contract's answers (no AWS involved), so these tests pin the client's
batching, retry and reporting rules with real HTTP.
"""

from __future__ import annotations

import gzip
import json
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from events_api_cli.client.log_handler import EventsHandler
from events_api_cli.client.producer import MAX_BODY_BYTES, EventsClient, InvalidEvent

pytestmark = pytest.mark.integration


class ScriptedServer:
    """Answers each POST with the next scripted (status, body, headers); then 202."""

    def __init__(self) -> None:
        self.script: list[tuple[int, dict[str, Any], dict[str, str]]] = []
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["content-length"]))
                body = (
                    gzip.decompress(raw) if self.headers.get("content-encoding") == "gzip" else raw
                )
                outer.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "events": json.loads(body)}
                )
                status, answer, headers = (
                    outer.script.pop(0)
                    if outer.script
                    else (202, {"message": "Request Accepted"}, {})
                )
                data = json.dumps(answer).encode()
                self.send_response(status)
                for name, value in {"content-type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    scripted = ScriptedServer()
    yield scripted
    scripted.close()


def client(url: str, **options: Any) -> EventsClient:
    sleeps: list[float] = []
    made = EventsClient(url, "evk_test", sleep=sleeps.append, **options)
    made.sleeps = sleeps  # type: ignore[attr-defined]
    return made


def test_events_are_sent_gzipped_with_key_and_labels(server) -> None:
    report = client(server.url).send("logs", [{"a": 1}, {"b": 2}], service="svc", namespace="ns")
    assert report.ok
    assert (report.events, report.accepted, report.requests) == (2, 2, 1)
    [request] = server.requests
    assert request["path"] == "/v1/logs"
    assert request["events"] == [{"a": 1}, {"b": 2}]
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert headers["x-api-key"] == "evk_test"
    assert headers["content-encoding"] == "gzip"
    assert (headers["x-service"], headers["x-namespace"]) == ("svc", "ns")


def test_large_input_is_split_into_requests_under_the_body_limit(server) -> None:
    event = {"pad": "x" * 100_000}
    report = client(server.url).send("logs", [event] * 130)  # ~13 MB
    assert report.ok
    assert len(server.requests) == 3
    for request in server.requests:
        assert len(json.dumps(request["events"], separators=(",", ":"))) <= MAX_BODY_BYTES
    assert sum(len(r["events"]) for r in server.requests) == 130


def test_oversized_and_unserialisable_events_are_rejected_locally_by_index(server) -> None:
    report = client(server.url).send("logs", [{"ok": 1}, {"pad": "x" * 300_000}, {"s": {1, 2}}])
    assert report.accepted == 1
    assert [r.index for r in report.rejected] == [1, 2]
    assert not report.ok


def test_per_event_rejections_are_mapped_back_to_input_indexes(server) -> None:
    server.script.append(
        (
            400,
            {"message": "Bad Request", "accepted": 2, "invalid": [{"index": 1, "reason": "nope"}]},
            {},
        )
    )
    report = client(server.url).send("logs", [{"a": 0}, {"pad": "x" * 300_000}, {"a": 2}, {"a": 3}])
    # The oversized event (input 1) never left; the server's index 1 is input 2.
    assert report.rejected == [
        InvalidEvent(1, "event is 300010 bytes, over 262144"),
        InvalidEvent(2, "nope"),
    ]
    assert report.accepted == 2


def test_429_and_5xx_are_retried_with_backoff_honouring_retry_after(server) -> None:
    server.script += [
        (503, {"message": "Service Unavailable"}, {"retry-after": "3"}),
        (429, {"message": "Too Many Requests"}, {}),
        (502, {"message": "Bad Gateway"}, {}),
    ]
    sender = client(server.url)
    report = sender.send("logs", [{"a": 1}])
    assert report.ok
    assert (report.requests, report.retries) == (4, 3)
    assert sender.sleeps[0] >= 3  # type: ignore[attr-defined]


def test_other_4xx_answers_are_final_and_reported(server) -> None:
    server.script.append((401, {"message": "Unauthorised"}, {}))
    report = client(server.url).send("logs", [{"a": 1}, {"a": 2}])
    assert report.requests == 1
    assert report.rejected == [
        InvalidEvent(0, "401 Unauthorised"),
        InvalidEvent(1, "401 Unauthorised"),
    ]


def test_persistent_failure_is_reported_after_the_last_attempt(server) -> None:
    server.script += [(503, {"message": "Service Unavailable"}, {})] * 3
    report = client(server.url, max_attempts=3).send("logs", [{"a": 1}])
    assert report.requests == 3
    assert report.rejected[0].reason.startswith("not delivered after 3 attempts: 503")


def test_unreachable_endpoint_is_a_reported_network_failure() -> None:
    report = client("http://127.0.0.1:9", max_attempts=2).send("logs", [{"a": 1}])
    assert report.rejected[0].reason.startswith("not delivered after 2 attempts: network error")


def test_logging_handler_ships_records_with_extra_fields(server) -> None:
    handler = EventsHandler(
        server.url, "evk_test", dataset="app-logs", service="sample", flush_interval=0.05
    )
    log = logging.getLogger("events-api-test-shipper")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        log.info("user %s signed in", "ada", extra={"userId": 42})
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("failed")
        assert handler.wait_sent(5)
    finally:
        log.removeHandler(handler)
        handler.close()
    events = [e for r in server.requests for e in r["events"]]
    assert [e["message"] for e in events] == ["user ada signed in", "failed"]
    assert events[0]["userId"] == 42
    assert events[0]["level"] == "INFO"
    assert "ValueError: boom" in events[1]["error"]
    assert server.requests[0]["path"] == "/v1/app-logs"
    assert handler.sent == 2


def test_logging_handler_never_blocks_and_drops_when_full() -> None:
    handler = EventsHandler("http://127.0.0.1:9", "evk_test", capacity=10, flush_interval=10)
    record = logging.makeLogRecord({"msg": "x"})
    started = time.monotonic()
    for _ in range(1000):
        handler.emit(record)
    assert time.monotonic() - started < 1
    assert handler.dropped >= 990 - handler._batch_size
    handler.close()


def test_program_using_the_handler_exits_promptly_when_the_endpoint_is_down(tmp_path) -> None:
    program = tmp_path / "app.py"
    program.write_text(
        "import logging\n"
        "from events_api_cli.client.log_handler import EventsHandler\n"
        "log = logging.getLogger('app')\n"
        "log.addHandler(EventsHandler('http://127.0.0.1:9', 'evk_x', exit_timeout=1.0))\n"
        "log.warning('about to exit')\n"
    )
    started = time.monotonic()
    done = subprocess.run([sys.executable, str(program)], capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 10
