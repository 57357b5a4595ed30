"""Failed data is kept and comes back: an S3 outage outlasts every retry, then redrive.

On its own `events-api dev` (faults read from a file, so the outage can be lifted while the
stack runs): S3 writes fail until the consumer's retries and the event source mapping's are
spent (Kinesis: the batch is written whole under aws/lambda/; SQS: messages move to the
dead-letter queue). The outage is lifted, `events-api redrive` runs twice, and every accepted
event is stored exactly once.
"""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.e2e.conftest import DevProcess, DevStack

pytestmark = pytest.mark.e2e

REQUESTS = 6
EVENTS_PER_REQUEST = 25
#: Kinesis: ten retries with backoff up to 8 s (about a minute); SQS: five receives.
GIVE_UP_TIMEOUT = 180.0


def redrive(stack: DevStack, *args: str) -> subprocess.CompletedProcess[str]:
    return stack.cli("redrive", *args)


def kept(stack: DevStack) -> int:
    """Records waiting in the failure place: SQS dead letters, or Kinesis records kept in
    failed-batch objects."""
    endpoint = str(stack.dev.ready["awsEndpoint"])
    options: dict[str, Any] = {
        "endpoint_url": endpoint,
        "region_name": "us-east-1",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    if stack.buffer == "sqs":
        sqs = boto3.client("sqs", **options)
        url = str(stack.dev.ready["deadLetterQueueUrl"])
        attributes = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"])
    from events_api_cli import failed_batches

    s3 = stack.s3()
    listed = s3.list_objects_v2(Bucket=stack.bucket, Prefix=failed_batches.PREFIX)
    total = 0
    for item in listed.get("Contents", []):
        body = s3.get_object(Bucket=stack.bucket, Key=item["Key"])["Body"].read()
        total += len(failed_batches.kinesis_event(body)["Records"])
    return total


def batches(stack: DevStack) -> int:
    from events_api_cli import failed_batches

    listed = stack.s3().list_objects_v2(Bucket=stack.bucket, Prefix=failed_batches.PREFIX)
    return len(listed.get("Contents", []))


@pytest.fixture(params=["kinesis", "sqs"])
def outage(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    faults = tmp_path / "faults"
    faults.write_text("s3-down:1\n")
    monkeypatch.setenv("EVENTS_API_DEV_FAULTS", f"@{faults}")
    dev = DevProcess.start(str(request.param), tmp_path / "dev")
    try:
        yield DevStack(dev, str(request.param)), faults
    finally:
        assert dev.terminate() == 0, dev.stderr.read_text(errors="replace")


def test_events_kept_through_an_s3_outage_are_stored_once_by_redrive(outage) -> None:
    stack, faults = outage
    dataset = stack.new_dataset()
    sent = [
        [
            {"n": r * EVENTS_PER_REQUEST + i, "message": f"event {i}"}
            for i in range(EVENTS_PER_REQUEST)
        ]
        for r in range(REQUESTS)
    ]
    for events in sent:
        assert stack.post_json(dataset, events).status == 202
    deadline = time.monotonic() + GIVE_UP_TIMEOUT
    while kept(stack) < REQUESTS and time.monotonic() < deadline:
        time.sleep(1)
    assert kept(stack) == REQUESTS  # one buffer record per request, all given up on
    assert stack.stored(dataset) == []

    faults.write_text("")  # the outage is over
    # One failed batch per shard that held records (the template's on-demand stream has
    # four), or one dead letter per request.
    moved = batches(stack) if stack.buffer == "kinesis" else REQUESTS
    first = redrive(stack)
    assert first.returncode == 0, first.stdout + first.stderr
    place = "failed Kinesis batches" if stack.buffer == "kinesis" else "dead-lettered messages"
    [line] = [line for line in first.stdout.splitlines() if line.startswith(place)]
    assert line.endswith(f"found {moved}, moved {moved}, left 0")

    stored = stack.stored(dataset)
    counts = Counter(event["n"] for event in stored)
    assert counts == Counter(range(REQUESTS * EVENTS_PER_REQUEST))  # every event, once
    assert kept(stack) == 0

    second = redrive(stack)
    assert second.returncode == 0, second.stdout + second.stderr
    assert f"{place}" in second.stdout
    assert all(
        line.endswith("found 0, moved 0, left 0")
        for line in second.stdout.splitlines()
        if not line.startswith("  ")
    )
    assert sorted(e["_id"] for e in stack.stored(dataset)) == sorted(e["_id"] for e in stored)
