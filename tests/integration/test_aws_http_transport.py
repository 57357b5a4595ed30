"""``aws.http_client``'s network transport against a real HTTP server on loopback: connections kept
alive, reopened when the peer closed them while idle, and a silent peer timed out."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator

import pytest

from events_api.aws import http_client as aws_http
from events_api.aws.http_client import HttpTransport, JsonClient


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    delay = 0.0
    #: Close the connection after answering without saying so (as a peer that drops an
    #: idle kept-alive connection does).
    close_silently = False
    connections: set[int] = set()  # shared by every request of a server

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        Handler.connections.add(self.client_address[1])
        time.sleep(Handler.delay)
        body = b'{"ok":true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        if Handler.close_silently:
            self.close_connection = True

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[http.server.ThreadingHTTPServer]:
    Handler.delay = 0.0
    Handler.close_silently = False
    Handler.connections = set()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def client_for(server: http.server.ThreadingHTTPServer, transport: HttpTransport) -> JsonClient:
    host, port = server.server_address[:2]
    environ = {
        "AWS_ACCESS_KEY_ID": "a",
        "AWS_SECRET_ACCESS_KEY": "b",
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://{host!s}:{port}",
    }
    return JsonClient("kinesis", environ=environ, transport=lambda: transport)


def test_calls_reuse_one_kept_alive_connection(server: http.server.ThreadingHTTPServer) -> None:
    transport = HttpTransport()
    client = client_for(server, transport)
    answers = [client.call("PutRecords", {"Records": []}) for _ in range(5)]
    assert answers == [{"ok": True}] * 5
    assert len(Handler.connections) == 1
    transport.close()


def test_a_connection_the_peer_closed_while_idle_is_reopened_and_the_call_made(
    server: http.server.ThreadingHTTPServer,
) -> None:
    client = client_for(server, HttpTransport())
    Handler.close_silently = True
    assert client.call("PutRecords", {"Records": []}) == {"ok": True}
    time.sleep(0.1)  # the peer's close arrives while the connection is idle
    Handler.close_silently = False
    assert client.call("PutRecords", {"Records": []}) == {"ok": True}
    assert len(Handler.connections) == 2


def test_a_silent_peer_is_unreachable_after_the_read_timeout(
    server: http.server.ThreadingHTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(aws_http, "READ_TIMEOUT", 0.2)
    Handler.delay = 1.0
    client = client_for(server, HttpTransport())
    started = time.monotonic()
    with pytest.raises(aws_http.AwsUnreachable):
        client.call("PutRecords", {"Records": []})
    assert time.monotonic() - started < 1.0


def test_nothing_listening_is_unreachable() -> None:
    environ = {
        "AWS_ACCESS_KEY_ID": "a",
        "AWS_SECRET_ACCESS_KEY": "b",
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # the discard port: nothing listens
    }
    client = JsonClient("ssm", environ=environ, transport=HttpTransport)
    with pytest.raises(aws_http.AwsUnreachable):
        client.call("GetParameter", {"Name": "/k"})
