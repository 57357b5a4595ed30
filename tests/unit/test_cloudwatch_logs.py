"""CloudWatch Logs records: the line parser on every captured shape, the envelope decoder's
bounds (a window of inflated text, never the whole record) and the stored events."""

from __future__ import annotations

import gzip
import json
from typing import Any

import orjson
import pytest

from benchmarks import log_shapes
from benchmarks.log_shapes import SHAPES, Shape
from events_api.records import RecordError
from events_api.store import cloudwatch_logs
from events_api.store.cloudwatch_logs import LogRecord
from events_api.store.consumer import SLICE_BYTES, SLICE_EVENTS, undecodable
from events_api.store.log_lines import parse

pytestmark = pytest.mark.unit

RECEIVED = "2026-01-02T03:04:06.000Z"
FACTS = {
    "logGroup": "/aws/lambda/orders-api",
    "logStream": "2026/01/02/[$LATEST]0123456789abcdef0123456789abcdef",
    "owner": "123456789012",
}


def stored(data: bytes, chunk_bytes: int = cloudwatch_logs.CHUNK_BYTES) -> list[dict[str, Any]]:
    record = LogRecord(data, RECEIVED, chunk_bytes)
    text = b"".join(part for part, _ in record.slices(SLICE_EVENTS, SLICE_BYTES))
    return [json.loads(line) for line in text.splitlines()]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda shape: shape.name)
def test_each_captured_line_is_stored_with_what_it_says(shape: Shape) -> None:
    [event] = stored(log_shapes.record([shape.message]))
    event_id = f"{log_shapes.envelope([''])['logEvents'][0]['id']}"
    own = {k: v for k, v in event.items() if not k.startswith("_")}
    assert own == {**FACTS, "logEventId": event_id, **shape.fields}
    stored_fields = {k: v for k, v in event.items() if k.startswith("_")}
    expected = {
        "_dataset": "lambda-logs",
        "_service": "orders-api",
        "_receivedAt": RECEIVED,
        "_timestamp": "2026-01-02T03:04:05.678Z",
        "_id": event_id,
    }
    assert stored_fields == expected
    # The line's own members come first, as sent; then what is added.
    members, _ = parse(shape.message.rstrip("\n"))
    if members:
        assert list(event)[: len(members)] == list(members)


def test_a_line_that_is_json_keeps_its_values_byte_for_byte() -> None:
    line = '{"amount":12345678901234567890123,"ratio":1.50,"message":"m"}'
    [data] = [log_shapes.record([line])]
    text = b"".join(p for p, _ in LogRecord(data, RECEIVED).slices(10, 1 << 20))
    assert text.startswith(b'{"amount":12345678901234567890123,"ratio":1.50,"message":"m",')


def test_stored_fields_overwrite_the_lines_own_and_facts_fill_in_only() -> None:
    line = '{"_id":"mine","_dataset":"x","_timestamp":"1999","owner":"team-a","service":"billing"}'
    [event] = stored(log_shapes.record([line], log_group="/ecs/billing"))
    assert event["_id"] == log_shapes.envelope([""])["logEvents"][0]["id"]
    assert event["_dataset"] == "cloudwatch-logs"
    assert event["_timestamp"] == "2026-01-02T03:04:05.678Z"
    # The line's own "owner" is kept as sent; the account id does not overwrite it.
    assert event["owner"] == "team-a"
    # Outside /aws/lambda/, _service is the line's own service (contract section 3).
    assert event["_service"] == "billing"
    assert event["logGroup"] == "/ecs/billing"


def test_other_groups_are_cloudwatch_logs_without_a_service() -> None:
    [event] = stored(log_shapes.record(["plain line\n"], log_group="/aws/vpc/flow-logs"))
    assert event["_dataset"] == "cloudwatch-logs"
    assert "_service" not in event
    assert event["message"] == "plain line"


def test_moto_style_integer_ids_and_key_order_are_read_too() -> None:
    doc = {
        "logEvents": [{"id": 7, "timestamp": 1_767_323_045_678, "message": "hi\n"}],
        "logGroup": "/aws/lambda/fn",
        "logStream": "s",
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "subscriptionFilters": ["f"],
    }
    data = gzip.compress(orjson.dumps(doc))
    for chunk in (cloudwatch_logs.CHUNK_BYTES, 16):
        [event] = stored(data, chunk)
        assert event["_id"] == "7"
        assert event["logEventId"] == "7"
        assert event["_service"] == "fn"


def test_a_control_message_holds_no_events_and_is_not_an_error() -> None:
    data = log_shapes.record(
        ["CWL CONTROL MESSAGE: Checking health of destination"],
        message_type="CONTROL_MESSAGE",
        log_group="",
        log_stream="",
    )
    record = LogRecord(data, RECEIVED)
    assert record.is_control
    assert list(record.slices(10, 1 << 20)) == []
    assert undecodable(data) is None


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x1f\x8bnot gzip at all", "bad CloudWatch Logs record"),
        (gzip.compress(b'{"messageType":"DATA_MESSAGE","logEvents":['), "bad CloudWatch Logs"),
        (gzip.compress(b'{"messageType":"SOMETHING","logGroup":"g"}'), "not a CloudWatch Logs"),
        (gzip.compress(b'{"messageType":"DATA_MESSAGE","logEvents":[]}'), "without a log group"),
        (gzip.compress(b"\xff\xfe"), "bad CloudWatch Logs record"),
    ],
    # gzip writes the time into its header: ids from the bytes would differ between
    # pytest-xdist's workers collecting in different seconds.
    ids=["not-gzip", "cut-short-json", "other-message-type", "no-log-group", "not-utf8-json"],
)
def test_undecodable_records_raise_record_error(data: bytes, reason: str) -> None:
    with pytest.raises(RecordError, match=reason):
        for _ in LogRecord(data, RECEIVED, 16).slices(10, 1 << 20):
            pass
    assert undecodable(data) is not None


def test_a_record_past_the_window_is_read_in_windows_and_stores_the_same_events() -> None:
    messages = [f"line {n} " + "x" * (n % 50) + "\n" for n in range(2_000)]
    messages[100] = log_shapes.SHAPES[4].message  # a multi-line traceback across windows
    data = log_shapes.record(messages)
    whole = stored(data)
    assert len(whole) == 2_000
    windowed = stored(data, chunk_bytes=4096)
    assert windowed == whole


def test_slices_are_bounded_by_events_and_bytes() -> None:
    data = log_shapes.record([f"line {n}\n" for n in range(1_000)])
    record = LogRecord(data, RECEIVED, 4096)
    parts = list(record.slices(300, 1 << 20))
    assert [count for _, count in parts] == [300, 300, 300, 100]
    parts = list(LogRecord(data, RECEIVED).slices(10_000, 20_000))
    assert all(len(text) < 20_000 + 1_000 for text, _ in parts)
    assert sum(count for _, count in parts) == 1_000


def test_inflation_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cloudwatch_logs, "MAX_INFLATED_BYTES", 64 * 1024)
    data = log_shapes.record(["y" * 1000 + "\n"] * 200)
    with pytest.raises(RecordError, match="inflates past"):
        for _ in LogRecord(data, RECEIVED, 4096).slices(10, 1 << 20):
            pass


def test_the_gzip_magic_tells_log_records_from_events_api_records() -> None:
    assert cloudwatch_logs.is_log_record(log_shapes.record(["x"]))
    assert not cloudwatch_logs.is_log_record(b"EVR\x01...")
