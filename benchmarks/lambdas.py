"""The real handlers, loaded and wired the way Lambda runs them, against stubbed AWS."""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from events_api_cli.lambda_events import LambdaContext, lambda_context

ROOT = Path(__file__).resolve().parent.parent
KEYS_PATH = "/events-api/bench/keys/"
STREAM = "events-bench"
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/events-bench"
BUCKET = "events-bench-bucket"
REQUEST_ID = "JKJaXmPLvHcESHA="

BASE_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_SESSION_TOKEN": "bench",
    "API_KEYS_PATH": KEYS_PATH,
    "STREAM_NAME": STREAM,
    "QUEUE_URL": QUEUE_URL,
    "BUCKET_NAME": BUCKET,
    "POWERTOOLS_SERVICE_NAME": "events-api",
    "POWERTOOLS_METRICS_NAMESPACE": "EventsApi",
    "AWS_LAMBDA_FUNCTION_NAME": "events-api-bench",
}


def context() -> LambdaContext:
    """The context every benchmark invocation gets (20 s always left)."""
    return lambda_context("events-api-bench")


def set_env(buffer: str = "kinesis") -> None:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        os.environ.pop(name, None)
    os.environ.update(BASE_ENV)
    os.environ["BUFFER_TYPE"] = buffer


def load_function(name: str, tag: str = "") -> ModuleType:
    """functions/<name>/app.py as a fresh module (its settings are read on first use)."""
    shared = str(ROOT / "layers" / "shared")
    if shared not in sys.path:
        sys.path.insert(0, shared)
    spec = importlib.util.spec_from_file_location(
        f"bench_{name}_app{tag}", ROOT / "functions" / name / "app.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def http_event(
    body: bytes, key: str, *, gzipped: bool = False, ndjson: bool = False
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event, base64 where API Gateway would use it."""
    headers = {
        "content-type": "application/x-ndjson" if ndjson else "application/json",
        "x-api-key": key,
        "x-service": "bench",
        "host": "abc123.execute-api.us-east-1.amazonaws.com",
        "user-agent": "events-api-bench",
    }
    binary = gzipped or ndjson  # API Gateway base64-encodes non-text media types
    if gzipped:
        headers["content-encoding"] = "gzip"
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/v1/bench",
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "http": {"method": "POST", "path": "/v1/bench", "protocol": "HTTP/1.1"},
            "requestId": REQUEST_ID,
            "routeKey": "$default",
            "stage": "$default",
            "timeEpoch": 1795694400000,
        },
        "isBase64Encoded": binary,
        "body": base64.b64encode(body).decode() if binary else body.decode(),
    }


@contextlib.contextmanager
def _stdout_to(fd: int) -> Iterator[None]:
    """fd 1 (Powertools' log lines and EMF metrics) goes to ``fd`` for the duration."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(fd, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def stdout_bytes(run: Callable[[], object]) -> int:
    """The bytes ``run`` writes to fd 1: what Lambda sends CloudWatch Logs for it."""
    with tempfile.TemporaryFile() as sink:
        with _stdout_to(sink.fileno()):
            run()
        return os.fstat(sink.fileno()).st_size


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Send fd 1 (Powertools' log lines and EMF metrics) to /dev/null for the duration."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        with _stdout_to(devnull):
            yield
    finally:
        os.close(devnull)
