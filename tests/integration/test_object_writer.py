"""The S3 adapter against moto: writes retried with backoff, then failed; outages cut short."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from events_api.aws import clients as aws_clients
from events_api.store.object_writer import WRITE_ATTEMPTS, S3ObjectWriter
from tests.integration.conftest import BUCKET

pytestmark = pytest.mark.integration


class S3Faults:
    """Fails the next ``count`` PutObject calls with S3's SlowDown, as S3 answers them."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.calls = 0
        aws_clients.s3().meta.events.register("before-call.s3.PutObject", self)

    def __call__(self, **_: Any) -> Any:
        self.calls += 1
        if self.count > 0:
            self.count -= 1
            raise ClientError({"Error": {"Code": "SlowDown", "Message": "Reduce"}}, "PutObject")
        return None

    def close(self) -> None:
        aws_clients.s3().meta.events.unregister("before-call.s3.PutObject", self)


@pytest.fixture
def faults(stack) -> Any:
    made: list[S3Faults] = []

    def make(count: int) -> S3Faults:
        made.append(S3Faults(count))
        return made[-1]

    yield make
    for fault in made:
        fault.close()


def stored_keys() -> list[str]:
    answer = boto3.client("s3").list_objects_v2(Bucket=BUCKET)
    return [item["Key"] for item in answer.get("Contents", [])]


@pytest.mark.parametrize("stack", ["kinesis"], indirect=True)
def test_a_write_failing_then_succeeding_is_retried_with_growing_delays(stack, faults) -> None:
    sleeps: list[float] = []
    writer = S3ObjectWriter(BUCKET, sleep=sleeps.append, jitter=lambda low, high: high)
    fault = faults(WRITE_ATTEMPTS - 1)
    writer.put("a.ndjson.gz", b"x", "application/x-ndjson")
    assert fault.calls == WRITE_ATTEMPTS
    assert sleeps == [0.2, 0.4, 0.8]
    assert stored_keys() == ["a.ndjson.gz"]


@pytest.mark.parametrize("stack", ["kinesis"], indirect=True)
def test_a_persistent_failure_fails_the_write_then_later_writes_try_once(stack, faults) -> None:
    sleeps: list[float] = []
    writer = S3ObjectWriter(BUCKET, sleep=sleeps.append, jitter=lambda low, high: high)
    fault = faults(100)
    with pytest.raises(ClientError):
        writer.put("a.ndjson.gz", b"x", "application/x-ndjson")
    assert fault.calls == WRITE_ATTEMPTS
    with pytest.raises(ClientError):
        writer.put("b.ndjson.gz", b"x", "application/x-ndjson")
    assert fault.calls == WRITE_ATTEMPTS + 1  # S3 is failing: one attempt, no waiting
    assert len(sleeps) == WRITE_ATTEMPTS - 1
    fault.count = 0
    writer.put("c.ndjson.gz", b"x", "application/x-ndjson")
    assert stored_keys() == ["c.ndjson.gz"]
    fault.count = 1  # recovered: the next failure is retried in full again
    writer.put("d.ndjson.gz", b"x", "application/x-ndjson")
    assert stored_keys() == ["c.ndjson.gz", "d.ndjson.gz"]
