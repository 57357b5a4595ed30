"""The versioned buffer record format: round trip, packing under the limit, poison bytes."""

from __future__ import annotations

import os
import struct

import pytest
import zstandard

from events_api import records

pytestmark = pytest.mark.unit

META = records.RequestMeta(
    dataset="logs",
    request_id="req-1",
    received_at="2026-11-26T12:00:00.000Z",
    service="api",
    namespace=None,
)


def events(count: int, size: int = 200, random: bool = False) -> list[bytes]:
    out = []
    for n in range(count):
        filler = os.urandom(size // 2).hex() if random else "x" * size
        out.append(b'{"n":%d,"pad":"%s"}' % (n, filler.encode()))
    return out


def test_one_record_round_trips_metadata_and_events_exactly() -> None:
    batch = events(10)
    [blob] = records.encode(META, batch, 1_000_000)
    assert blob.startswith(b"EVR\x01")
    decoded = records.decode(blob)
    assert decoded.meta == META
    assert decoded.first == 0
    assert decoded.events() == batch


def test_large_incompressible_batch_is_split_under_the_limit_in_order() -> None:
    batch = events(400, size=2000, random=True)  # ~800 KB of hex, compresses ~2x
    limit = 100_000
    blobs = records.encode(META, batch, limit)
    assert len(blobs) > 1
    assert all(len(b) <= limit for b in blobs)
    decoded = [records.decode(b) for b in blobs]
    assert [e for d in decoded for e in d.events()] == batch
    # `first` is the ordinal of each record's first event, so ids stay unique and stable.
    firsts = [d.first for d in decoded]
    counts = [len(d.events()) for d in decoded]
    assert firsts == [sum(counts[:i]) for i in range(len(counts))]


def test_packing_uses_few_records_for_compressible_data() -> None:
    batch = events(3500, size=500)  # ~1.8 MB raw, highly compressible
    blobs = records.encode(META, batch, 1_000_000)
    assert len(blobs) == 1


def test_no_events_means_no_records() -> None:
    assert records.encode(META, [], 1_000_000) == []


def test_single_event_over_the_limit_is_refused() -> None:
    with pytest.raises(records.RecordError):
        records.encode(META, events(1, size=200_000, random=True), 50_000)


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        b"garbage",
        b"EVR\x02" + b"\x00" * 10,
        b"EVR\x01\x00\x00\x00\x05{bad}",
        b"EVR\x01\x00\x00\x00\x02{}" + b"not zstd",
    ],
    ids=["empty", "magic", "version", "header", "payload"],
)
def test_poison_bytes_raise_record_error(blob) -> None:
    with pytest.raises(records.RecordError):
        records.decode(blob)


def test_header_count_must_match_payload() -> None:
    [blob] = records.encode(META, events(3), 1_000_000)
    header_length = struct.unpack(">I", blob[4:8])[0]
    header = blob[8 : 8 + header_length].replace(b'"count":3', b'"count":4')
    forged = blob[:4] + struct.pack(">I", len(header)) + header + blob[8 + header_length :]
    with pytest.raises(records.RecordError, match="count"):
        records.decode(forged)


def _frame_claiming(size: int) -> bytes:
    """A zstd frame header declaring ``size`` bytes of content, then one empty last block."""
    magic = b"\x28\xb5\x2f\xfd"
    descriptor = b"\xe0"  # 8-byte content size field, single segment
    return magic + descriptor + struct.pack("<Q", size) + b"\x01\x00\x00"


def test_payload_declaring_a_huge_size_is_refused_without_allocating_it() -> None:
    forged_payload = _frame_claiming(1 << 40)
    assert zstandard.frame_content_size(forged_payload) == 1 << 40
    header = b'{"dataset":"d","requestId":"r","receivedAt":"t","first":0,"count":1}'
    blob = b"EVR\x01" + struct.pack(">I", len(header)) + header + forged_payload
    with pytest.raises(records.RecordError, match="declares"):
        records.decode(blob)


@pytest.mark.parametrize(
    ("event", "count"),
    [(b"{}", 2_097_151), (b'{"m":"' + b"a" * (256 * 1024 - 9) + b'"}', 24), (b'{"n":1}', 30_001)],
    ids=["6 MiB of {}", "6 MiB of compressible 256 KiB events", "just over three records"],
)
def test_a_record_never_expands_past_its_event_and_raw_byte_bounds(event, count) -> None:
    blobs = records.encode(META, [event] * count, 1_000_000)
    decoded = [records.decode(blob) for blob in blobs]
    assert all(len(d.event_ends()) <= records.MAX_RECORD_EVENTS for d in decoded)
    assert all(len(d.payload) <= records.MAX_RECORD_RAW_BYTES for d in decoded)
    assert sum(len(d.event_ends()) for d in decoded) == count
    assert [d.first for d in decoded] == [
        sum(len(x.event_ends()) for x in decoded[:i]) for i in range(len(decoded))
    ]
    # Not more records than the bounds need (plus one for uneven cuts).
    raw = count * (len(event) + 1) - 1
    needed = max(-(-count // records.MAX_RECORD_EVENTS), -(-raw // records.MAX_RECORD_RAW_BYTES))
    assert len(blobs) <= needed + 1


def test_slices_keep_every_event_and_its_ordinal() -> None:
    batch = events(25, size=100)
    [blob] = records.encode(META, batch, 1_000_000)
    decoded = records.decode(blob)
    slices = list(decoded.slices(max_events=10, max_bytes=1_000))
    assert [len(s.events()) for s in slices] == [8, 8, 8, 1]  # ~120-byte events, 1,000 bytes
    assert [e for s in slices for e in s.events()] == batch
    assert [s.first for s in slices] == [0, 8, 16, 24]
    assert all(s.event_ends() == records.line_ends(s.payload) for s in slices)
    assert list(decoded.slices(max_events=100, max_bytes=1 << 20)) == [decoded]


def test_a_consumer_batch_holds_the_same_budget_on_either_buffer() -> None:
    for buffer, per_batch in records.CONSUMER_BATCH_RECORDS.items():
        bounds = records.bounds(buffer)
        assert bounds.events * per_batch == records.BATCH_MAX_EVENTS
        assert bounds.raw_bytes * per_batch <= records.BATCH_MAX_RAW_BYTES
        assert bounds.raw_bytes <= records.MAX_PAYLOAD_BYTES  # the consumer can decode them
    sqs = records.bounds("sqs")
    blobs = records.encode(META, [b"{}"] * 120_000, 1_000_000, max_events=sqs.events)
    assert [len(records.decode(b).event_ends()) for b in blobs] == [40_000] * 3
