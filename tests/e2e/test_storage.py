"""What ends up in S3: the stored fields, the object layout, and no event lost or doubled."""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from events_api.store.enrichment import STORED_FIELDS
from tests.e2e.conftest import DevStack

pytestmark = pytest.mark.e2e

RFC3339_MILLIS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
KEY_LAYOUT = re.compile(
    r"dataset=(?P<dataset>[a-z0-9_-]+)/dt=(?P<dt>\d{4}-\d{2}-\d{2})/hour=(?P<hour>\d{2})/"
    r"[^/]+\.ndjson\.gz"
)


def own_fields(event: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k not in STORED_FIELDS}


def test_stored_events_carry_the_contract_fields(stack: DevStack) -> None:
    dataset = stack.new_dataset()
    sent = [
        {
            "message": "with an RFC 3339 timestamp",
            "level": "info",
            "nested": {"list": [1, 2.5, None, True], "text": "é ✓ 🙂"},
            "timestamp": "2026-01-02T03:04:05.678Z",
        },
        {
            "message": "epoch millis and its own service",
            "timestamp": 1767323045678,
            "service": "own",
        },
        {"message": "no usable timestamp", "timestamp": "yesterday", "_id": "spoofed"},
    ]
    before = datetime.now(UTC) - timedelta(seconds=1)
    response = stack.post_json(dataset, sent, {"x-service": "checkout"})
    after = datetime.now(UTC) + timedelta(seconds=1)
    assert response.status == 202
    assert response.json() == {"message": "Request Accepted"}
    request_id = response.headers[stack.request_id_header]

    objects = stack.objects(dataset)
    deadline = time.monotonic() + 60
    while sum(len(o.events) for o in objects) < len(sent) and time.monotonic() < deadline:
        time.sleep(0.25)
        objects = stack.objects(dataset)
    stored = {e["message"]: e for o in objects for e in o.events}
    assert len(stored) == len(sent)

    for original in sent:
        event = stored[original["message"]]
        assert own_fields(event) == own_fields(original)
        assert event["_dataset"] == dataset
        assert event["_requestId"] == request_id
        assert "_namespace" not in event
        assert RFC3339_MILLIS.fullmatch(event["_receivedAt"])
        received = datetime.fromisoformat(event["_receivedAt"])
        assert before <= received <= after
    first, second, third = (stored[e["message"]] for e in sent)
    assert first["_service"] == "checkout"
    assert second["_service"] == "own"
    assert third["_service"] == "checkout"
    assert first["_timestamp"] == "2026-01-02T03:04:05.678Z"
    assert second["_timestamp"] == "2026-01-02T03:04:05.678Z"
    assert third["_timestamp"] == third["_receivedAt"]
    ids = [e["_id"] for e in stored.values()]
    assert len(set(ids)) == len(ids)
    assert "spoofed" not in ids
    assert all(i.startswith(request_id) for i in ids)

    for stored_object in objects:
        match = KEY_LAYOUT.fullmatch(stored_object.key)
        assert match, stored_object.key
        assert match["dataset"] == dataset
        for event in stored_object.events:
            assert event["_receivedAt"][:10] == match["dt"]
            assert event["_receivedAt"][11:13] == match["hour"]


def test_ten_thousand_events_from_eight_producers_are_stored_exactly_once(stack: DevStack) -> None:
    dataset = stack.new_dataset()
    producers, requests_each, batch = 8, 25, 50
    total = producers * requests_each * batch
    statuses: Counter[int] = Counter()
    errors: list[BaseException] = []
    lock = threading.Lock()

    def produce(producer: int) -> None:
        try:
            for n in range(requests_each):
                events = [
                    {"uid": f"{producer}-{n}-{i}-{uuid.uuid4().hex[:8]}", "producer": producer}
                    for i in range(batch)
                ]
                # Half the producers gzip, as the producer client does.
                response = stack.post_json(dataset, events, gzipped=producer % 2 == 0)
                with lock:
                    statuses[response.status] += 1
                    sent_ids.extend(e["uid"] for e in events)
        except BaseException as exc:
            errors.append(exc)

    sent_ids: list[str] = []
    threads = [threading.Thread(target=produce, args=(p,)) for p in range(producers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert statuses == {202: producers * requests_each}

    stored = stack.wait_stored(dataset, total, timeout=90)
    # Nothing arrives late, twice.
    time.sleep(1.0)
    stored = stack.stored(dataset)
    assert len(stored) == total
    uids = [e["uid"] for e in stored]
    assert len(set(uids)) == total
    assert set(uids) == set(sent_ids)
    assert len({e["_id"] for e in stored}) == total
