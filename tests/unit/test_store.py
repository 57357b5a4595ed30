"""Stored events: the contract's fields, timestamps, object keys and names."""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timedelta, timezone

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events_api import records
from events_api.store.enrichment import STORED_FIELDS, enrich, enrich_text
from events_api.store.stored_objects import (
    ObjectPlan,
    object_name,
    partition_prefix,
    quarantine_key,
)
from events_api.timestamps import normalise_timestamp, rfc3339

pytestmark = pytest.mark.unit

META = records.RequestMeta(
    dataset="logs",
    request_id="req-1",
    received_at="2026-11-26T05:06:07.890Z",
    service="header-service",
    namespace="header-namespace",
)


def stored(events: list[bytes], meta: records.RequestMeta = META, first: int = 0) -> list[dict]:
    record = records.DecodedRecord(meta, first, b"\n".join(events))
    return [json.loads(line) for line in enrich(record)]


def test_stored_event_is_the_event_as_sent_plus_the_contract_fields() -> None:
    [line] = enrich(records.DecodedRecord(META, 7, b'{"message":"hi","n":1}'))
    assert line == (
        b'{"message":"hi","n":1,"_dataset":"logs","_service":"header-service",'
        b'"_namespace":"header-namespace","_receivedAt":"2026-11-26T05:06:07.890Z",'
        b'"_requestId":"req-1","_timestamp":"2026-11-26T05:06:07.890Z","_id":"req-1-7"}'
    )


def test_event_service_and_namespace_win_over_headers_and_absent_stays_absent() -> None:
    events = [b'{"service":"own","namespace":"ns"}', b'{"service":42}', b"{}"]
    out = stored(events)
    assert [(e["_service"], e["_namespace"]) for e in out] == [
        ("own", "ns"),
        ("header-service", "header-namespace"),
        ("header-service", "header-namespace"),
    ]
    bare = records.RequestMeta("logs", "r", "2026-11-26T05:06:07.890Z")
    [event] = stored([b'{"a":1}'], bare)
    assert "_service" not in event
    assert "_namespace" not in event


def test_ids_are_request_id_and_ordinal_unique_across_records() -> None:
    first = stored([b"{}", b"{}"], first=0)
    second = stored([b"{}"], first=2)
    assert [e["_id"] for e in first + second] == ["req-1-0", "req-1-1", "req-1-2"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('"2026-01-02T03:04:05Z"', "2026-01-02T03:04:05.000Z"),
        ('"2026-01-02T03:04:05.123456789Z"', "2026-01-02T03:04:05.123Z"),
        ('"2026-01-02t03:04:05.5+02:00"', "2026-01-02T01:04:05.500Z"),
        ('"2026-01-02 03:04:05.120-01:30"', "2026-01-02T04:34:05.120Z"),
        ("1767323045123", "2026-01-02T03:04:05.123Z"),
        ("0", "1970-01-01T00:00:00.000Z"),
        # Epoch numbers are told apart by magnitude: seconds below 1e11, then ms, µs, ns.
        ("1767323045", "2026-01-02T03:04:05.000Z"),
        ("1767323045.123", "2026-01-02T03:04:05.123Z"),
        ("1767323045.1239", "2026-01-02T03:04:05.123Z"),
        ("1.767323045123e9", "2026-01-02T03:04:05.123Z"),
        ("99999999999", "5138-11-16T09:46:39.000Z"),
        ("100000000000", "1973-03-03T09:46:40.000Z"),
        ("1767323045123.9", "2026-01-02T03:04:05.123Z"),
        ("1767323045123456", "2026-01-02T03:04:05.123Z"),
        ("1767323045123456.7", "2026-01-02T03:04:05.123Z"),
        ("1767323045123456789", "2026-01-02T03:04:05.123Z"),
        ("1500", "1970-01-01T00:25:00.000Z"),
    ],
)
def test_rfc3339_and_epoch_timestamps_are_normalised_to_utc(value, expected) -> None:
    assert normalise_timestamp(msgspec.Raw(value.encode())) == expected
    [event] = stored([b'{"timestamp":' + value.encode() + b"}"])
    assert event["_timestamp"] == expected
    assert event["timestamp"] == json.loads(value)


@pytest.mark.parametrize(
    "value",
    [
        '"yesterday"',
        '"2026-01-02"',
        '"2026-13-02T03:04:05Z"',
        '"2026-01-02T03:04:05"',
        "-5",
        "-1767323045",
        "true",
        "null",
        "{}",
        "123456789012345678901234567890",
        "100000000000000000000",
        "1e20",
    ],
)
def test_other_timestamps_fall_back_to_received_at(value) -> None:
    [event] = stored([b'{"timestamp":' + value.encode() + b"}"])
    assert event["_timestamp"] == META.received_at


def test_stored_fields_in_the_event_are_overwritten_not_duplicated() -> None:
    [line] = enrich(
        records.DecodedRecord(
            META, 0, b'{"_id":"mine","_dataset":"x","keep":12345678901234567890123}'
        )
    )
    assert line.count(b'"_id"') == 1
    assert line.count(b'"_dataset"') == 1
    event = json.loads(line)
    assert event["_id"] == "req-1-0"
    assert event["_dataset"] == "logs"
    # Integers past 64 bits survive byte for byte even on the re-encoding path.
    assert b'"keep":12345678901234567890123' in line


def test_escaped_stored_field_names_are_recognised() -> None:
    [event] = stored([b'{"\\u005fid":"mine"}'])
    assert event["_id"] == "req-1-0"


def test_events_with_unrelated_underscore_keys_keep_their_exact_text() -> None:
    event = b'{"_private": 1,  "dup": 1, "dup": 2}'
    [line] = enrich(records.DecodedRecord(META, 0, event))
    assert line.startswith(b'{"_private": 1,  "dup": 1, "dup": 2,"_dataset"')


def test_empty_object_gets_only_the_stored_fields() -> None:
    [event] = stored([b"{ }"])
    assert set(event) == set(STORED_FIELDS)


def test_partition_prefix_uses_receive_time_date_and_hour() -> None:
    assert partition_prefix("logs", META.received_at) == "dataset=logs/dt=2026-11-26/hour=05/"


def test_object_name_depends_only_on_the_source_records() -> None:
    a = object_name("kinesis", ["shard:1", "shard:2"])
    assert a == object_name("kinesis", ["shard:2", "shard:1"])
    assert a != object_name("kinesis", ["shard:1"])
    assert a.startswith("kinesis-")


def test_quarantine_key_is_safe_for_any_record_id() -> None:
    assert quarantine_key("kinesis", "shardId-0:49/../x") == (
        "quarantine/source=kinesis/shardId-0_49_.._x.bin"
    )


def test_object_body_is_deterministic_gzip_ndjson() -> None:
    bodies = []
    for _ in range(2):
        plan = ObjectPlan("dataset=logs/dt=2026-11-26/hour=05/", level=1)
        plan.add(b'{"a":1}\n', 1)
        plan.add(b'{"b":2}\n', 1)
        bodies.append(plan.body())
    assert bodies[0] == bodies[1]  # no timestamp in the gzip header: retries write equal bytes
    assert gzip.decompress(bodies[0]) == b'{"a":1}\n{"b":2}\n'
    assert plan.events == 2


def test_later_parts_of_an_object_carry_their_part_number() -> None:
    first = ObjectPlan("dataset=logs/dt=2026-11-26/hour=05/", name_keys=["shard:1"])
    second = first.next_part()
    second.name_keys.append("shard:1")
    assert first.key("kinesis") == (
        f"dataset=logs/dt=2026-11-26/hour=05/{object_name('kinesis', ['shard:1'])}.ndjson.gz"
    )
    assert second.key("kinesis") == first.key("kinesis").replace(".ndjson.gz", "-1.ndjson.gz")


_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
_TIMESTAMPS = st.one_of(
    st.integers(min_value=0, max_value=10**20),
    st.floats(min_value=0, max_value=1e20, allow_nan=False),
    st.sampled_from(
        ["2026-01-02T03:04:05Z", "2026-01-02T03:04:05.123Z", "2026-13-02T03:04:05.000Z", "x"]
    ),
    _SCALARS,
)
_KEYS = st.sampled_from(
    ["message", "level", "service", "namespace", "timestamp", "a", "_x", *STORED_FIELDS]
)
_EVENTS = st.dictionaries(
    _KEYS,
    st.one_of(_SCALARS, _TIMESTAMPS, st.lists(_SCALARS, max_size=3)),
    max_size=6,
)


@given(
    st.lists(_EVENTS, min_size=1, max_size=12),
    st.sampled_from([None, "header-service"]),
    st.integers(min_value=0, max_value=10**6),
)
@settings(max_examples=300, deadline=None, derandomize=True)
def test_the_fast_enrichment_stores_exactly_what_the_reference_enrichment_does(
    events, service, first
) -> None:
    payload = b"\n".join(json.dumps(e, separators=(",", ":")).encode() for e in events)
    meta = records.RequestMeta("logs", "req-1", "2026-11-26T05:06:07.890Z", service, None)
    record = records.DecodedRecord(meta, first, payload)
    reference = enrich(record)
    text, count = enrich_text(record)
    assert (text, count) == (b"".join(line + b"\n" for line in reference), len(reference))


def test_rfc3339_is_utc_with_milliseconds_and_z_whatever_the_offset() -> None:
    moment = datetime(2026, 11, 26, 7, 6, 7, 890_123, tzinfo=timezone(timedelta(hours=2)))
    assert rfc3339(moment) == "2026-11-26T05:06:07.890Z"
