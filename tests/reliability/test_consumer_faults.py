"""Consumer fault matrix: the real consumer handler, moto S3, faults injected in botocore.

S3 errors (500, 503, SlowDown, connection refused, a timeout after the object was written) on
some datasets of a batch, a crash after writing some objects, undecodable records, an
all-failed batch. Each invocation's partial batch response must name exactly the records
whose object (or quarantine copy) was not confirmed written. Batches are then retried the way
Lambda's event source mappings do (SQS: failed messages come back, in new batches; Kinesis:
from the lowest failed sequence number, and a crashed batch is bisected, as the template sets
``BisectBatchOnFunctionError``), until everything is stored; then a full scan of the bucket:
missing events must be 0; duplicates are counted and must carry the same ``_id``.
"""

from __future__ import annotations

import gzip
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
import orjson
import pytest

from events_api import records
from events_api.aws import clients as aws_clients
from events_api.store import object_writer
from events_api_cli.local import event_source_mapping as mapping
from events_api_cli.local.faults import NO_FAULT, CallFault, FaultInjector
from tests.integration.conftest import BUCKET, consumer_event
from tests.reliability.support import event_ids, make_events, record, scaled
from tests.support import FakeLambdaContext

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

DATASETS = ("alpha", "beta", "gamma", "delta")
HOURS = ("10", "11")


class Crash(BaseException):  # what a Lambda timeout or an OOM kill looks like
    """The function dies mid-batch: nothing is answered, the whole batch comes back."""


@dataclass
class Item:
    """One buffer record: its id in the source and what is inside."""

    item_id: str
    blob: bytes
    prefix: str
    events: list[bytes]


def make_items(run: str, count: int, per_record: int) -> list[Item]:
    items = []
    for n in range(count):
        dataset, hour = DATASETS[n % len(DATASETS)], HOURS[(n // len(DATASETS)) % 2]
        events = make_events(run, n * per_record, per_record)
        meta = records.RequestMeta(dataset, f"{run}-req-{n}", f"2026-11-26T{hour}:15:00.000Z")
        [blob] = records.encode(meta, events, 1 << 20)
        prefix = f"dataset={dataset}/dt=2026-11-26/hour={hour}/"
        items.append(Item(str(1000 + n), blob, prefix, events))
    return items


def event_for(buffer: str, batch: list[Item]) -> dict[str, Any]:
    """The Lambda event for these records, with their own sequence numbers / message ids."""
    event = consumer_event(buffer, [item.blob for item in batch])
    for record_, item in zip(event["Records"], batch, strict=True):
        if buffer == "kinesis":
            record_["kinesis"]["sequenceNumber"] = item.item_id
            record_["eventID"] = f"shardId-000000000000:{item.item_id}"
        else:
            record_["messageId"] = item.item_id
    return event


class S3Faults:
    """A policy for PutObject: fail keys under some prefixes ``times`` times (or for ever),
    crash on the n-th put; remembers which keys it failed."""

    def __init__(self) -> None:
        self.rules: list[tuple[str, str, int]] = []  # (prefix, fault, remaining; -1 = always)
        self.crash_after: int | None = None
        self.puts = 0
        self.failed_keys: list[str] = []
        #: Every put in order: (key, failed). The writer retries, so a key is unwritten only
        #: when its last put of an invocation failed.
        self.outcomes: list[tuple[str, bool]] = []

    def fail(self, prefix: str, fault: str, times: int = 1) -> S3Faults:
        self.rules.append((prefix, fault, times))
        return self

    def buffer_call(self, service: str, entries: int) -> CallFault:
        return NO_FAULT

    def s3_put(self, key: str) -> CallFault:
        self.puts += 1
        if self.crash_after is not None and self.puts > self.crash_after:
            self.crash_after = None
            raise Crash(f"killed before writing {key}")
        for n, (prefix, fault, remaining) in enumerate(self.rules):
            if key.startswith(prefix) and remaining != 0:
                self.rules[n] = (prefix, fault, remaining - 1 if remaining > 0 else -1)
                self.failed_keys.append(key)
                self.outcomes.append((key, True))
                return CallFault(call=fault)
        self.outcomes.append((key, False))
        return NO_FAULT


@dataclass
class Report:
    invocations: int = 0
    crashes: int = 0
    exact_responses: int = 0
    problems: list[str] = field(default_factory=list)


class Mapping:
    """Lambda's event source mapping, simplified: batches and the retry rules of
    ``events_api_cli.local.event_source_mapping`` (checkpoints, bisection, giving up)."""

    def __init__(
        self, consumer: Any, buffer: str, items: list[Item], faults: S3Faults, batch_size: int
    ) -> None:
        self.consumer, self.buffer, self.faults = consumer, buffer, faults
        self.items, self.batch_size = items, batch_size
        self.report = Report()

    def invoke(self, batch: list[Item]) -> set[str] | None:
        """The item ids reported failed, or None when the function crashed."""
        self.report.invocations += 1
        outcomes_before = len(self.faults.outcomes)
        try:
            response = self.consumer.lambda_handler(
                event_for(self.buffer, batch), FakeLambdaContext()
            )
        except Crash:
            self.report.crashes += 1
            return None
        reported = {f["itemIdentifier"] for f in response["batchItemFailures"]}
        last = dict(self.faults.outcomes[outcomes_before:])
        failed_now = [key for key, failed in last.items() if failed]
        expected = {
            item.item_id for item in batch if any(k.startswith(item.prefix) for k in failed_now)
        }
        if reported == expected:
            self.report.exact_responses += 1
        else:
            self.report.problems.append(f"reported {sorted(reported)}, expected {sorted(expected)}")
        return reported

    def run(self, limit: int = 500) -> Report:
        if self.buffer == "sqs":
            self._run_sqs(limit)
        else:
            self._run_kinesis(limit)
        return self.report

    def _run_sqs(self, limit: int) -> None:
        queue, receives = list(self.items), Counter[str]()
        while queue and self.report.invocations < limit:
            batch, queue = queue[: self.batch_size], queue[self.batch_size :]
            receives.update(item.item_id for item in batch)
            reported = self.invoke(batch)
            _, back = mapping.split_sqs_batch(batch, reported, lambda item: item.item_id)
            dead = [item for item in back if mapping.dead_lettered(receives[item.item_id])]
            if dead:
                self.report.problems.append(f"{len(dead)} messages moved to the dead-letter queue")
            # Visible again after the visibility timeout, behind the rest.
            queue.extend(item for item in back if not mapping.dead_lettered(receives[item.item_id]))
        if queue:
            self.report.problems.append(f"{len(queue)} messages never stored")

    def _run_kinesis(self, limit: int) -> None:
        checkpoint, size, attempts = 0, self.batch_size, 0
        while checkpoint < len(self.items) and self.report.invocations < limit:
            batch = self.items[checkpoint : checkpoint + size]
            reported = self.invoke(batch)
            step = mapping.after_kinesis_batch(
                [item.item_id for item in batch],
                reported,
                attempts=attempts,
                batch_size=size,
                full_batch_size=self.batch_size,
            )
            if step.outcome is mapping.Outcome.GIVE_UP:
                self.report.problems.append(
                    f"gave up on {len(batch)} records after {step.attempts} attempts"
                )
            checkpoint += step.resume_at
            size, attempts = step.batch_size, step.carried_attempts
        if checkpoint < len(self.items):
            self.report.problems.append("the shard was never drained")


def scan() -> tuple[Counter[tuple[str, int]], dict[tuple[str, int], set[str]], dict[str, bytes]]:
    """Every stored event's (run, seq), the _id values seen for each, and quarantined bytes."""
    s3 = boto3.client("s3")
    stored: Counter[tuple[str, int]] = Counter()
    ids: dict[tuple[str, int], set[str]] = {}
    quarantined = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
            if item["Key"].startswith("quarantine/"):
                quarantined[item["Key"]] = body
                continue
            for line in gzip.decompress(body).splitlines():
                event = orjson.loads(line)
                key = (event["run"], event["seq"])
                stored[key] += 1
                ids.setdefault(key, set()).add(event["_id"])
    return stored, ids, quarantined


SCENARIOS: dict[str, Callable[[S3Faults], None]] = {
    "none": lambda f: None,
    "500-on-one-dataset": lambda f: f.fail("dataset=beta/", "server-error", 2),
    "slowdown-on-two-datasets": lambda f: (
        f.fail("dataset=alpha/", "throttled", 3),
        f.fail("dataset=gamma/dt=2026-11-26/hour=11/", "throttled", 1),
    ),
    "503-and-connection": lambda f: (
        f.fail("dataset=delta/", "unavailable", 1),
        f.fail("dataset=alpha/", "connection", 1),
    ),
    "timeout-after-hidden-success": lambda f: f.fail("dataset=gamma/", "timeout-after-success"),
    "every-put-fails-twice": lambda f: f.fail("dataset=", "server-error", 2 * 8),
    "crash-after-two-objects": lambda f: setattr(f, "crash_after", 2),
    "crash-and-throttling": lambda f: (
        setattr(f, "crash_after", 5),
        f.fail("dataset=delta/", "throttled", 2),
    ),
}


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """The writer's backoff (real seconds in AWS) is not what this matrix measures."""
    monkeypatch.setattr(object_writer, "_BASE_DELAY", 0.0)


def empty_bucket() -> None:
    s3 = boto3.client("s3")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=BUCKET, Key=item["Key"])


def run_scenario(consumer: Any, buffer: str, scenario: str) -> dict[str, Any]:
    empty_bucket()
    run = f"consumer-{scenario}"
    items = make_items(run, scaled(24, 200), per_record=scaled(5, 50))
    faults = S3Faults()
    SCENARIOS[scenario](faults)
    injector = FaultInjector(faults).install(s3=aws_clients.s3())
    try:
        report = Mapping(consumer, buffer, items, faults, batch_size=10).run()
    finally:
        injector.uninstall()
    stored, ids, _ = scan()
    wanted = event_ids(e for item in items for e in item.events)
    return {
        "scenario": scenario,
        "records": len(items),
        "events": len(wanted),
        "invocations": report.invocations,
        "crashes": report.crashes,
        "injected_s3_failures": len(faults.failed_keys),
        "exact_partial_responses": report.exact_responses,
        "responses": report.invocations - report.crashes,
        "missing": sum(1 for key in wanted if stored[key] == 0),
        "duplicates": sum(n - 1 for n in stored.values() if n > 1),
        "unexpected": sum(n for key, n in stored.items() if key not in wanted),
        "ids_per_event_max": max(len(v) for v in ids.values()),
        "problems": report.problems,
    }


def test_consumer_fault_matrix(consumer, stack) -> None:
    results = [run_scenario(consumer, stack.buffer, scenario) for scenario in SCENARIOS]
    record(f"consumer-matrix-{stack.buffer}", {"buffer": stack.buffer, "scenarios": results})
    for result in results:
        assert result["problems"] == [], result
        assert result["exact_partial_responses"] == result["responses"], result
        assert result["missing"] == 0, result
        assert result["unexpected"] == 0, result
        # A duplicate is the same event with the same _id, never a second identity.
        assert result["ids_per_event_max"] == 1, result
        # Only a write retried in a batch of another composition can duplicate: SQS brings
        # back just the failed messages, whose objects were not written.
        scenario = result["scenario"]
        if scenario == "none" or (
            stack.buffer == "sqs" and "hidden" not in scenario and "crash" not in scenario
        ):
            assert result["duplicates"] == 0, result


def test_a_crashed_batch_retried_whole_rewrites_the_same_objects(consumer, stack) -> None:
    for crash_after in (0, 1, 3):
        empty_bucket()
        items = make_items(f"crash-{crash_after}", 16, per_record=4)
        faults = S3Faults()
        faults.crash_after = crash_after
        injector = FaultInjector(faults).install(s3=aws_clients.s3())
        event = event_for(stack.buffer, items)
        try:
            with pytest.raises(Crash):
                consumer.lambda_handler(event, FakeLambdaContext())
            written = set(stack.stored())
            assert len(written) == crash_after
            assert consumer.lambda_handler(event, FakeLambdaContext()) == {"batchItemFailures": []}
        finally:
            injector.uninstall()
        assert written <= set(stack.stored())
        stored, _, _ = scan()
        assert set(stored) == set(event_ids(e for item in items for e in item.events))
        assert set(stored.values()) == {1}


UNDECODABLE = {
    "garbage": b"\x00\xffnot a record at all",
    "wrong-version": records.MAGIC + b"\x09" + b"\x00" * 8,
    "short-header": records.MAGIC + b"\x01\x00\x00",
    "header-not-json": records.MAGIC + b"\x01\x00\x00\x00\x03abc",
}


def _tampered(items: list[Item]) -> dict[str, bytes]:
    good = items[0].blob
    header_length = int.from_bytes(good[4:8], "big")
    return {
        **UNDECODABLE,
        "truncated-payload": good[:-5],
        "bad-zstd": good[: 8 + header_length] + b"\x28\xb5\x2f\xfd" + b"\xff" * 20,
        "count-mismatch": good.replace(b'"count":', b'"count":1', 1),
        "header-length-past-end": good[:4] + (10**6).to_bytes(4, "big") + good[8:],
    }


def test_undecodable_records_are_kept_with_their_bytes(consumer, stack) -> None:
    items = make_items("poison", 8, per_record=3)
    poison = [
        Item(f"p{n}", blob, "quarantine/", []) for n, blob in enumerate(_tampered(items).values())
    ]
    mixed = [x for pair in zip(items, poison, strict=False) for x in pair] + poison[len(items) :]
    response = consumer.lambda_handler(event_for(stack.buffer, mixed), FakeLambdaContext())
    assert response == {"batchItemFailures": []}
    stored, _, quarantined = scan()
    assert set(stored) == set(event_ids(e for item in items for e in item.events))
    kept = sorted(quarantined.values())
    assert kept == sorted(item.blob for item in poison)
    record(
        f"consumer-poison-{stack.buffer}",
        {"poison_records": len(poison), "quarantined_byte_equal": len(kept)},
    )


def test_all_failed_batch_names_every_record(consumer, stack) -> None:
    items = make_items("all-failed", 10, per_record=2)
    faults = S3Faults().fail("", "server-error", -1)
    injector = FaultInjector(faults).install(s3=aws_clients.s3())
    try:
        response = consumer.lambda_handler(event_for(stack.buffer, items), FakeLambdaContext())
    finally:
        injector.uninstall()
    assert {f["itemIdentifier"] for f in response["batchItemFailures"]} == {
        item.item_id for item in items
    }
    assert stack.stored() == {}
