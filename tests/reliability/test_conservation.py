"""Conservation: nothing accepted is ever lost, end to end on `events-api dev`, with faults.

Many producers send events with unique (run, producer, seq) ids through the local gateway
while the stack fails buffer entries and S3 writes at random (``EVENTS_API_DEV_FAULTS``,
test-only). A 503 is retried with the same events, as a producer does. Once the producers
are done and the pipeline has drained, a full scan of the bucket:

    missing = accepted - stored  (must be 0)

plus duplicates (same event stored twice: at-least-once, same ``_id``), unexpected events
(stored, never sent), and events stored from requests that never got a 202.
Short form in ``make test``; ``make reliability`` sends 1,000,000 events per buffer.
"""

from __future__ import annotations

import gzip
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest

from events_api_cli.local.faults import SUMMARY_PREFIX
from tests.reliability.local_stack import Client, local_stack, parked, scan, wait_until
from tests.reliability.support import SCALE, record, scaled

# Short runs fail more (few requests), long runs less (SQS parks a message after 5 failed
# receives, as the template's redrive policy does: at 0.05 that is a 3e-7 chance each).
FAULTS = "buffer:0.2,s3:0.1,seed:{seed}" if SCALE == "short" else "buffer:0.1,s3:0.05,seed:{seed}"
DATASETS = ("conservation-a", "conservation-b", "conservation-c")
PRODUCERS = 8
MAX_ATTEMPTS = 8


@dataclass
class Tally:
    sent: set[tuple[str, int, int]] = field(default_factory=set)
    accepted: set[tuple[str, int, int]] = field(default_factory=set)
    statuses: Counter[int] = field(default_factory=Counter)
    requests: int = 0
    retried_requests: int = 0
    given_up: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def produce(
    api: str, key: str, run: str, producer: int, events: int, batch: int, tally: Tally
) -> None:
    client = Client(api)
    rng = random.Random(producer)
    try:
        for first in range(0, events, batch):
            ids = range(first, min(first + batch, events))
            body = (
                b"["
                + b",".join(
                    orjson.dumps(
                        {
                            "run": run,
                            "producer": producer,
                            "seq": seq,
                            "message": f"producer {producer} event {seq}",
                            "timestamp": 1795694400000 + seq,
                            "level": rng.choice(("info", "warn", "error")),
                        }
                    )
                    for seq in ids
                )
                + b"]"
            )
            dataset = DATASETS[(first // batch) % len(DATASETS)]
            headers = {
                "x-api-key": key,
                "content-type": "application/json",
                "content-encoding": "gzip",
                "x-service": f"producer-{producer}",
            }
            payload = gzip.compress(body, 1)
            with tally.lock:
                tally.sent.update((run, producer, seq) for seq in ids)
            for attempt in range(1, MAX_ATTEMPTS + 1):
                status, head, _ = client.post(f"/v1/{dataset}", payload, headers)
                with tally.lock:
                    tally.requests += 1
                    tally.statuses[status] += 1
                    if attempt > 1:
                        tally.retried_requests += 1
                if status == 202:
                    with tally.lock:
                        tally.accepted.update((run, producer, seq) for seq in ids)
                    break
                assert status == 503, (status, head)
                time.sleep(min(2.0, 0.05 * 2**attempt) * rng.random())
            else:
                with tally.lock:
                    tally.given_up += 1
    finally:
        client.close()


@pytest.mark.timeout(2400)
@pytest.mark.parametrize("buffer", ["kinesis", "sqs"])
def test_no_accepted_event_is_lost_with_faults(buffer: str, tmp_path) -> None:
    events_per_producer = scaled(2_500, 125_000)
    batch = scaled(250, 1_000)
    run = f"run-{buffer}-{int(time.time())}"
    # Seeds whose S3 draws fail a write among the first five (the short run makes ~15).
    faults = FAULTS.format(seed=6 if buffer == "kinesis" else 14)
    tally = Tally()
    with local_stack(buffer, tmp_path / "dev", faults) as stack:
        started = time.monotonic()
        threads = [
            threading.Thread(
                target=produce,
                args=(stack.api, stack.api_key, run, p, events_per_producer, batch, tally),
            )
            for p in range(PRODUCERS)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        produce_seconds = time.monotonic() - started
        prefixes = [f"dataset={d}/" for d in DATASETS]
        latest: dict[str, Any] = {}

        def drained() -> bool:
            latest["scan"] = scan(stack, prefixes, run)
            return tally.accepted <= set(latest["scan"].counts)

        wait_until(drained, timeout=scaled(120, 1_800), idle=2.0, stack=stack)
        drain_seconds = time.monotonic() - started - produce_seconds
        # A last look a little later: late duplicates (retried consumer batches) included.
        time.sleep(3)
        result = scan(stack, prefixes, run)
        parked_messages = parked(stack)
    dev_log = stack.dev.stderr.read_text(errors="replace") + stack.dev.stdout.read_text(
        errors="replace"
    )
    injected = injected_faults(dev_log)
    stored = set(result.counts)
    missing = tally.accepted - stored
    figures = {
        "buffer": buffer,
        "faults": faults,
        "producers": PRODUCERS,
        "events_sent": len(tally.sent),
        "events_accepted": len(tally.accepted),
        "events_stored_distinct": len(stored),
        "missing": len(missing),
        "missing_examples": sorted(missing)[:5],
        "duplicates": sum(n - 1 for n in result.counts.values() if n > 1),
        "unexpected": result.foreign + len(stored - tally.sent),
        "stored_without_202": len(stored - tally.accepted),
        "ids_per_event_max": max((len(v) for v in result.ids.values()), default=0),
        "requests": tally.requests,
        "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
        "retried_requests": tally.retried_requests,
        "requests_given_up": tally.given_up,
        "objects": result.objects,
        "quarantined_objects": result.quarantined,
        "parked_messages": parked_messages,
        "produce_seconds": round(produce_seconds, 1),
        "drain_seconds": round(drain_seconds, 1),
        "faults_logged": "test-only faults on" in dev_log,
        "faults_injected": injected,
        "command": (
            "make reliability"
            if SCALE == "long"
            else "pytest tests/reliability/test_conservation.py"
        ),
    }
    record(f"conservation-{buffer}", figures)
    assert figures["faults_logged"]
    assert figures["missing"] == 0, figures
    assert figures["unexpected"] == 0, figures
    assert figures["quarantined_objects"] == 0, figures
    assert figures["ids_per_event_max"] == 1, figures  # a duplicate keeps its _id
    # The faults did bite, on the buffer and on S3.
    assert sum(v for k, v in injected.items() if not k.startswith("s3:")) > 0, injected
    assert sum(v for k, v in injected.items() if k.startswith("s3:")) > 0, injected


def injected_faults(log: str) -> dict[str, int]:
    for line in log.splitlines():
        if SUMMARY_PREFIX in line:
            return dict(orjson.loads(line.split(SUMMARY_PREFIX, 1)[1]))
    raise AssertionError("the dev stack logged no fault summary")
