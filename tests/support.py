"""Helpers shared by the test suites: event files, handler loading, a Lambda context."""

from __future__ import annotations

import base64
import copy
import functools
import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

from events_api_cli.lambda_events import lambda_context
from events_api_cli.local.api_gateway import FrontDoor, RawRequest, build_event

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
SAMPLE_KEY = "evk_SampleKeyForEventFiles0000000000073kyn"
SAMPLE_URL_ID = "a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6"

#: The front door the ingest events of a test come through: the ``front_door`` fixture sets
#: it, so that the same contract cases run as HTTP API events and as function URL events.
front_door = FrontDoor.HTTP_API


def load_event(name: str) -> dict[str, Any]:
    """An event file from events/, the same files `sam local invoke -e` takes."""
    return json.loads((EVENTS / f"{name}.json").read_text())


def raw_body(event: dict[str, Any]) -> bytes:
    body = event.get("body") or ""
    return base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()


def through_front_door(event: dict[str, Any], door: FrontDoor | None = None) -> dict[str, Any]:
    """An HTTP API event as ``door`` (default: the current front door) would send its request.

    HTTP API events pass unchanged (the files in events/ are real ones); for a function URL
    the local gateway's event builder makes the event from the same request, so the two
    shapes come from one place.
    """
    door = door or front_door
    if door is FrontDoor.HTTP_API:
        return event
    context = event["requestContext"]
    query = event.get("rawQueryString") or ""
    # The builder adds the forwarding headers and the host of the front door itself.
    edge = {"host", "x-forwarded-for", "x-forwarded-port", "x-forwarded-proto"}
    headers = [(k, v) for k, v in event.get("headers", {}).items() if k not in edge]
    request = RawRequest(
        method=context["http"]["method"],
        target=event["rawPath"] + (f"?{query}" if query else ""),
        protocol=context["http"].get("protocol", "HTTP/1.1"),
        headers=[("host", f"{SAMPLE_URL_ID}.lambda-url.us-east-1.on.aws"), *headers],
        body=raw_body(event),
        source_ip=context["http"].get("sourceIp", "203.0.113.10"),
        server_port=443,
    )
    return build_event(
        request,
        api_id=SAMPLE_URL_ID,
        request_id=context["requestId"],
        now=context.get("timeEpoch", 1795694400000) / 1000,
        front_door=door,
    )


def ingest_event(name: str) -> dict[str, Any]:
    """An ingest event file from events/, through the current front door."""
    return through_front_door(load_event(name))


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


#: The context every test invocation gets (the local stack's shape, a fixed request id and
#: 20 s always left).
FakeLambdaContext = functools.partial(lambda_context, "events-api-test")


def http_event(
    body: bytes | str | None = None,
    *,
    headers: dict[str, str | None] | None = None,
    method: str = "POST",
    path: str = "/v1/logs",
    request_id: str = "JKJaXmPLvHcESHA=",
    base64_body: bool | None = None,
) -> dict[str, Any]:
    """The valid-batch event file with its body, headers, method or path replaced, through
    the current front door. ``base64_body`` forces the body's encoding; by default bytes are
    base64-encoded for an HTTP API, and a function URL encodes by content type."""
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
        return through_front_door(event)
    raw = body.encode() if isinstance(body, str) else body
    forced = base64_body
    if base64_body is None:
        base64_body = isinstance(body, bytes)
    event["isBase64Encoded"] = base64_body
    event["body"] = base64.b64encode(raw).decode() if base64_body else raw.decode()
    event = through_front_door(event)
    if forced is not None and raw:
        event["isBase64Encoded"] = forced
        event["body"] = base64.b64encode(raw).decode() if forced else raw.decode()
    return event


def response_json(response: dict[str, Any]) -> Any:
    assert response["headers"]["content-type"] == "application/json"
    return json.loads(response["body"])
