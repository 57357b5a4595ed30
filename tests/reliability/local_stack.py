"""`events-api dev` for the reliability suite: started as the e2e suite starts it (its
``DevProcess``), optionally with test-only faults (``EVENTS_API_DEV_FAULTS``), plus a
keep-alive HTTP client and a full scan of what the stack stored."""

from __future__ import annotations

import gzip
import http.client
import os
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

from events_api_cli.local.faults import ENV as FAULTS_ENV
from tests.e2e.conftest import DevProcess, DevStack


@contextmanager
def local_stack(
    buffer: str, directory: Path, faults: str | None = None, front_door: str = "http-api"
) -> Iterator[DevStack]:
    """A running `events-api dev` (faults on when ``faults`` is set); stopped on exit."""
    saved = os.environ.get(FAULTS_ENV)
    if faults:
        os.environ[FAULTS_ENV] = faults
    else:
        os.environ.pop(FAULTS_ENV, None)
    try:
        dev = DevProcess.start(buffer, directory, front_door)
    finally:
        if saved is None:
            os.environ.pop(FAULTS_ENV, None)
        else:
            os.environ[FAULTS_ENV] = saved
    try:
        yield DevStack(dev, buffer)
    finally:
        code = dev.terminate()
        assert code == 0, dev.stderr.read_text(errors="replace")[-4000:]


class Client:
    """One keep-alive HTTP/1.1 connection to the gateway (reconnects when it is closed)."""

    def __init__(self, api: str, timeout: float = 60.0) -> None:
        parts = urlsplit(api)
        self.host, self.port, self.timeout = parts.hostname or "127.0.0.1", parts.port, timeout
        self._connection: http.client.HTTPConnection | None = None

    def post(
        self, path: str, body: bytes, headers: Mapping[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        for attempt in (1, 2):
            if self._connection is None:
                self._connection = http.client.HTTPConnection(
                    self.host, self.port, timeout=self.timeout
                )
            try:
                self._connection.request("POST", path, body=body, headers=dict(headers))
                answer = self._connection.getresponse()
                data = answer.read()
                head = {k.lower(): v for k, v in answer.getheaders()}
                if head.get("connection", "").lower() == "close":
                    self.close()
                return answer.status, head, data
            except (ConnectionError, http.client.HTTPException):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


@dataclass
class Scan:
    """Every stored event of some datasets, by (run, producer, seq)."""

    counts: Counter[tuple[str, int, int]] = field(default_factory=Counter)
    ids: dict[tuple[str, int, int], set[str]] = field(default_factory=dict)
    objects: int = 0
    lines: int = 0
    foreign: int = 0  # lines without our ids: unexpected events
    quarantined: int = 0


def alive(stack: DevStack) -> bool:
    """The stack is up: its process runs and nothing has told it to stop."""
    return stack.dev.process.poll() is None and "dev: stopping" not in stack.dev.stderr.read_text(
        errors="replace"
    )


def scan(stack: DevStack, prefixes: list[str], run: str) -> Scan:
    s3 = stack_client(stack, "s3")
    out = Scan()
    for prefix in prefixes:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=stack.bucket, Prefix=prefix)
        for page in pages:
            for item in page.get("Contents", []):
                body = s3.get_object(Bucket=stack.bucket, Key=item["Key"])["Body"].read()
                out.objects += 1
                for line in gzip.decompress(body).splitlines():
                    out.lines += 1
                    event = orjson.loads(line)
                    if event.get("run") != run:
                        out.foreign += 1
                        continue
                    key = (run, int(event["producer"]), int(event["seq"]))
                    out.counts[key] += 1
                    out.ids.setdefault(key, set()).add(event["_id"])
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=stack.bucket, Prefix="quarantine/")
    out.quarantined = sum(len(page.get("Contents", [])) for page in pages)
    return out


def parked(stack: DevStack) -> dict[str, int]:
    """What the stack's failure places hold: messages in the SQS dead-letter queue, batches
    the Kinesis mapping gave up on (objects under aws/lambda/ in the events bucket)."""
    from events_api_cli import failed_batches

    sqs = stack_client(stack, "sqs")
    out = {}
    url = str(stack.dev.ready.get("deadLetterQueueUrl") or "")
    if url:
        attributes = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        out["dead-letter queue"] = int(attributes.get("ApproximateNumberOfMessages", "0"))
    pages = stack_client(stack, "s3").get_paginator("list_objects_v2")
    listed = pages.paginate(Bucket=stack.bucket, Prefix=failed_batches.PREFIX)
    out[failed_batches.PREFIX] = sum(len(page.get("Contents", [])) for page in listed)
    return out


def stack_client(stack: DevStack, service: str) -> Any:
    """A client for moto's endpoint with short timeouts: a stack that stopped answering
    fails the test in seconds instead of hanging it."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        endpoint_url=str(stack.dev.ready["awsEndpoint"]),
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(connect_timeout=5, read_timeout=60, retries={"total_max_attempts": 2}),
    )


def wait_until(
    check: Any, timeout: float, idle: float = 0.5, stack: DevStack | None = None
) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stack is not None and not alive(stack):
            raise AssertionError(
                "events-api dev stopped during the test (was it stopped from outside?)"
            )
        if check():
            return True
        time.sleep(idle)
    return bool(check())
