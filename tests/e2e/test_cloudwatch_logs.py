"""CloudWatch Logs on the local stack: a new log group is subscribed within 5 s, and real
runtime lines put into it come back from S3 as stored events, through both buffers (with
SQS through the real log forwarder function)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import boto3
import pytest

from benchmarks.log_shapes import SHAPES
from tests.e2e.conftest import DevStack

# Log groups reach the buffer through CloudWatch Logs, not through a front door.
pytestmark = [pytest.mark.e2e, pytest.mark.one_front_door]

SUBSCRIBED_WITHIN_SECONDS = 5.0


def logs_client(stack: DevStack) -> Any:
    return boto3.client(
        "logs",
        endpoint_url=str(stack.dev.ready["awsEndpoint"]),
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def wait_subscribed(logs: Any, group: str) -> float:
    started = time.monotonic()
    while time.monotonic() - started < SUBSCRIBED_WITHIN_SECONDS:
        if logs.describe_subscription_filters(logGroupName=group)["subscriptionFilters"]:
            return time.monotonic() - started
        time.sleep(0.1)
    pytest.fail(f"{group} not subscribed within {SUBSCRIBED_WITHIN_SECONDS} s")


def test_log_lines_put_into_a_new_log_group_are_stored(stack: DevStack) -> None:
    logs = logs_client(stack)
    function = f"e2e-{uuid.uuid4().hex[:10]}"
    group, log_stream = f"/aws/lambda/{function}", "2026/01/02/[$LATEST]0123abcd"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=log_stream)
    wait_subscribed(logs, group)
    now = int(time.time() * 1000) - len(SHAPES)
    sent = [{"timestamp": now + n, "message": shape.message} for n, shape in enumerate(SHAPES)]
    logs.put_log_events(logGroupName=group, logStreamName=log_stream, logEvents=sent)
    ids = [e["eventId"] for e in logs.filter_log_events(logGroupName=group)["events"]]
    assert len(ids) == len(SHAPES)

    events = [
        e
        for e in stack.wait_stored("lambda-logs", len(SHAPES), timeout=60)
        if e.get("logGroup") == group
    ]
    deadline = time.monotonic() + 30
    while len(events) < len(SHAPES) and time.monotonic() < deadline:
        time.sleep(0.5)
        events = [e for e in stack.stored("lambda-logs") if e.get("logGroup") == group]
    events.sort(key=lambda e: e["_timestamp"])
    assert len(events) == len(SHAPES)
    for n, (event, shape, event_id) in enumerate(zip(events, SHAPES, ids, strict=True)):
        own = {k: v for k, v in event.items() if not k.startswith("_")}
        assert own == {
            **shape.fields,
            "logGroup": group,
            "logStream": log_stream,
            "owner": "123456789012",
            "logEventId": event_id,
        }, shape.name
        received = event.pop("_receivedAt")
        assert received.endswith("Z")
        assert {k: v for k, v in event.items() if k.startswith("_")} == {
            "_dataset": "lambda-logs",
            "_service": function,
            "_timestamp": _rfc3339(now + n),
            "_id": event_id,
        }, shape.name


def test_other_log_groups_are_stored_as_cloudwatch_logs(stack: DevStack) -> None:
    logs = logs_client(stack)
    group = f"/e2e/app-{uuid.uuid4().hex[:10]}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    wait_subscribed(logs, group)
    now = int(time.time() * 1000)
    line = '{"level":"warn","message":"disk 91% full","service":"storage"}'
    logs.put_log_events(
        logGroupName=group, logStreamName="s", logEvents=[{"timestamp": now, "message": line}]
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = [e for e in stack.stored("cloudwatch-logs") if e.get("logGroup") == group]
        if found:
            break
        time.sleep(0.5)
    [event] = found
    assert event["level"] == "warn"
    assert event["message"] == "disk 91% full"
    assert event["_service"] == "storage"
    assert event["_dataset"] == "cloudwatch-logs"
    assert event["_timestamp"] == _rfc3339(now)


def _rfc3339(millis: int) -> str:
    from events_api.timestamps import rfc3339_millis

    text = rfc3339_millis(millis)
    assert text is not None
    return text
