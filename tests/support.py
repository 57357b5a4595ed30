"""Helpers shared by the test suites: event files, handler loading, a Lambda context."""

from __future__ import annotations

import base64
import copy
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
SAMPLE_KEY = "evk_SampleKeyForEventFiles0000000000073kyn"


def load_event(name: str) -> dict[str, Any]:
    """An event file from events/, the same files `sam local invoke -e` takes."""
    return json.loads((EVENTS / f"{name}.json").read_text())


def load_function(name: str) -> ModuleType:
    """functions/<name>/app.py as a fresh module (both functions' modules are named app)."""
    spec = importlib.util.spec_from_file_location(
        f"{name}_app", ROOT / "functions" / name / "app.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class FakeLambdaContext:
    function_name: str = "events-api-test"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:events-api-test"
    aws_request_id: str = "5b9f6a3e-2c1d-4e8f-9a7b-0c1d2e3f4a5b"

    def get_remaining_time_in_millis(self) -> int:
        return 20_000


def http_event(
    body: bytes | str | None = None,
    *,
    headers: dict[str, str | None] | None = None,
    method: str = "POST",
    path: str = "/v1/logs",
    request_id: str = "JKJaXmPLvHcESHA=",
    base64_body: bool | None = None,
) -> dict[str, Any]:
    """The valid-batch event file with its body, headers, method or path replaced."""
    event = copy.deepcopy(load_event("ingest-valid-batch"))
    merged = {**event["headers"], **(headers or {})}
    event["headers"] = {k: v for k, v in merged.items() if v is not None}
    event["rawPath"] = path
    event["requestContext"]["http"]["method"] = method
    event["requestContext"]["http"]["path"] = path
    event["requestContext"]["requestId"] = request_id
    if body is None:
        event.pop("body", None)
        event["isBase64Encoded"] = False
        return event
    raw = body.encode() if isinstance(body, str) else body
    if base64_body is None:
        base64_body = isinstance(body, bytes)
    event["isBase64Encoded"] = base64_body
    event["body"] = base64.b64encode(raw).decode() if base64_body else raw.decode()
    return event


def response_json(response: dict[str, Any]) -> Any:
    assert response["headers"]["content-type"] == "application/json"
    return json.loads(response["body"])
