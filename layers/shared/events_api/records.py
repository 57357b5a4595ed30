"""The buffer record format, version 1: encoded by the ingest side, decoded by the consumer.

One owner for both directions, so the two sides cannot drift. A record is::

    b"EVR" + version byte (1)
    header length, 4 bytes big-endian
    header: JSON object with the request metadata, carried once per record
    payload: one zstd frame of the events' raw JSON text joined by b"\\n"

A request's accepted events are packed into as few records as the buffer's size limit
allows, within two bounds on what one record expands to: at most ``bounds(buffer)``
events and raw text, a consumer batch's budget shared among its records. Compression
alone would let a few KB carry a whole request (6 MiB of ``{}`` is two million events),
and the consumer's work and memory grow with events and raw bytes, not with record
bytes: these bounds keep a full batch of the worst records within its memory and time.
``first`` is the ordinal (among the request's accepted events) of the record's first
event, so ``_id`` = request id + ordinal is unique and stable across retries.
"""

from __future__ import annotations

import struct
from bisect import bisect_left, bisect_right
from collections.abc import Buffer, Callable, Iterator, MutableSequence, Sequence, Sized
from dataclasses import dataclass, field
from itertools import accumulate
from typing import cast

import orjson
import zstandard

MAGIC = b"EVR"
VERSION = 1
_PREFIX = MAGIC + bytes([VERSION])
_LENGTH = struct.Struct(">I")
_OVERHEAD = len(_PREFIX) + _LENGTH.size
#: Refuse to inflate a record past this, whatever its frame header claims. Records written
#: before the bounds below held at most one request's events (a 6 MiB body).
MAX_PAYLOAD_BYTES = 8 * 1024 * 1024
#: What one consumer invocation is sized for: a full batch holds at most this many events
#: and this much raw text, whatever its records hold. Events on the consumer's slowest
#: per-event path (carrying stored fields) and raw text on its slowest per-byte path
#: (re-encoding such events) cost about the same at these bounds, and a batch of the worst
#: records stays within a third of the consumer's timeout and a tenth of its memory
#: (``make bench``, item 8 of docs/performance.md).
BATCH_MAX_EVENTS = 500_000
BATCH_MAX_RAW_BYTES = 200 * 1024 * 1024
#: Records per consumer invocation for each buffer: the BatchSize of its event source
#: mapping in template.yaml (tests/unit/test_template.py holds them equal).
CONSUMER_BATCH_RECORDS = {"kinesis": 100, "sqs": 10}
#: How a record travels on SQS: as a binary message attribute, which SQS bills at its raw
#: size (a base64 body would cost a third more), under a fixed body.
SQS_BODY = "events-api record"
SQS_ATTRIBUTE = "record"


@dataclass(frozen=True, slots=True)
class RecordBounds:
    """What one record may expand to: events, and raw text (events joined by newlines)."""

    events: int
    raw_bytes: int


def bounds(buffer: str) -> RecordBounds:
    """A batch's share for one record on ``buffer``: SQS batches hold a tenth of the
    records Kinesis batches do, so its records may hold ten times the events."""
    per_batch = CONSUMER_BATCH_RECORDS[buffer]
    return RecordBounds(
        BATCH_MAX_EVENTS // per_batch, min(BATCH_MAX_RAW_BYTES // per_batch, MAX_PAYLOAD_BYTES)
    )


#: The tighter bounds (Kinesis): the default for callers that do not name a buffer.
MAX_RECORD_EVENTS = bounds("kinesis").events
MAX_RECORD_RAW_BYTES = bounds("kinesis").raw_bytes
#: Aim a little under the limit when splitting, so one split is usually enough.
_SPLIT_TARGET = 0.85
#: Planned parts aim this full, going by the sample's (low) estimate of the ratio.
_FILL_TARGET = 0.9
_SAMPLE_BYTES = 128 * 1024


class RecordError(ValueError):
    """Bytes that are not a record this code can read (a poison record)."""


@dataclass(frozen=True, slots=True)
class RequestMeta:
    """What the ingest side knows of the request, stored once per record."""

    dataset: str
    request_id: str
    received_at: str
    service: str | None = None
    namespace: str | None = None


@dataclass(frozen=True, slots=True)
class DecodedRecord:
    meta: RequestMeta
    first: int
    payload: bytes
    #: Offset of each event's end (its newline, or the payload's end), when decode found them.
    ends: list[int] | None = field(default=None, compare=False, repr=False)

    def events(self) -> list[bytes]:
        return self.payload.split(b"\n") if self.payload else []

    def event_ends(self) -> list[int]:
        """Where each event ends: the offset of its newline, or of the payload's end."""
        if self.ends is not None:
            return self.ends
        return line_ends(self.payload) if self.payload else []

    def slices(self, max_events: int, max_bytes: int) -> Iterator[DecodedRecord]:
        """The record as consecutive records of at most ``max_events`` events and about
        ``max_bytes`` of text (a single event may be longer), ordinals kept."""
        ends = self.event_ends()
        if len(ends) <= max_events and len(self.payload) <= max_bytes:
            yield self
            return
        lo = start = 0
        while lo < len(ends):
            limit = bisect_right(ends, start + max_bytes, lo, min(len(ends), lo + max_events))
            hi = max(limit, lo + 1)
            end = ends[hi - 1]
            part = self.payload[start:end]
            yield DecodedRecord(self.meta, self.first + lo, part, [e - start for e in ends[lo:hi]])
            lo, start = hi, end + 1


def line_ends(payload: bytes) -> list[int]:
    """Offsets of every newline, then the payload's length (memchr, no per-byte loop)."""
    ends: list[int] = []
    find = payload.find
    at = find(b"\n")
    while at >= 0:
        ends.append(at)
        at = find(b"\n", at + 1)
    ends.append(len(payload))
    return ends


def _header(meta: RequestMeta, first: int, count: int) -> bytes:
    doc: dict[str, object] = {
        "dataset": meta.dataset,
        "requestId": meta.request_id,
        "receivedAt": meta.received_at,
        "first": first,
        "count": count,
    }
    if meta.service is not None:
        doc["service"] = meta.service
    if meta.namespace is not None:
        doc["namespace"] = meta.namespace
    return orjson.dumps(doc)


def encode(
    meta: RequestMeta,
    events: Sequence[Buffer],
    max_bytes: int,
    level: int = 1,
    joined: Buffer | None = None,
    starts: MutableSequence[int] | None = None,
    *,
    max_events: int = MAX_RECORD_EVENTS,
    max_raw_bytes: int = MAX_RECORD_RAW_BYTES,
) -> list[bytes]:
    """Pack events into records of at most ``max_bytes`` each, in order, each holding at
    most ``max_events`` events and ``max_raw_bytes`` of raw text (joined by newlines).

    ``joined``, when given, must be ``b"\\n".join(events)``, and ``starts`` each event's
    offset in it followed by ``len(joined) + 1`` (the batch decoder builds both anyway).

    Each event is compressed once in the common case: a batch whose raw text fits in one
    record is compressed whole; a larger one is cut, by raw bytes, into as many parts as
    the compression ratio of a small sample says are needed. Only a part that still comes
    out over the limit is split and compressed again.
    """
    if not events:
        return []
    compressor = zstandard.ZstdCompressor(level=level)
    count = len(events)
    payload = memoryview(b"\n".join(events) if joined is None else joined)
    if starts is None:
        starts = []
    out: list[bytes] = []

    def start_of(index: int) -> int:
        # Offset of each event in the payload; starts[count] is one past the payload's end.
        if not starts:
            sizes = map(len, cast(Sequence[Sized], events))
            starts.extend(accumulate(map((1).__add__, sizes), initial=0))
        return starts[index]

    def emit(lo: int, hi: int, data: memoryview) -> None:
        header = _header(meta, lo, hi - lo)
        frame = compressor.compress(data)
        size = _OVERHEAD + len(header) + len(frame)
        if size <= max_bytes:
            out.append(b"".join((_PREFIX, _LENGTH.pack(len(header)), header, frame)))
            return
        if hi - lo == 1:
            raise RecordError(f"one event compresses to {size} bytes, over {max_bytes}")
        # Split by raw bytes into as many parts as the measured ratio says are needed.
        split(lo, hi, min(hi - lo, max(2, -(-size // int(max_bytes * _SPLIT_TARGET)))))

    def split(lo: int, hi: int, parts: int, then: Callable[[int, int], None] | None = None) -> None:
        span = (start_of(hi) - start_of(lo)) / parts
        begin = lo
        for part in range(1, parts + 1):
            if part == parts:
                end = hi
            else:
                target = start_of(lo) + span * part
                end = bisect_left(starts, target, begin + 1, hi - (parts - part))
            if then is None:
                emit(begin, end, payload[start_of(begin) : start_of(end) - 1])
            else:
                then(begin, end)
            begin = end

    def pack(lo: int, hi: int, data: memoryview) -> None:
        if len(data) + _OVERHEAD + len(_header(meta, lo, hi - lo)) <= max_bytes:
            emit(lo, hi, data)  # compressed text is (almost) never larger than raw text
            return
        parts = -(-len(data) // int(max_bytes * _FILL_TARGET * _ratio(compressor, data)))
        if parts <= 1:
            emit(lo, hi, data)
        else:
            split(lo, hi, min(parts, hi - lo))

    def bounded(lo: int, hi: int) -> None:
        raw = start_of(hi) - 1 - start_of(lo)
        if hi - lo <= max_events and raw <= max_raw_bytes:
            pack(lo, hi, payload[start_of(lo) : start_of(hi) - 1])
            return
        parts = max(2, -(-(hi - lo) // max_events), -(-raw // max_raw_bytes))
        split(lo, hi, min(parts, hi - lo), bounded)

    if count <= max_events and len(payload) <= max_raw_bytes:
        pack(0, count, payload)
    else:
        bounded(0, count)
    return out


def _ratio(compressor: zstandard.ZstdCompressor, payload: memoryview) -> float:
    """Raw / compressed size of a sample from the middle of the payload (a low estimate:
    a small sample has less history to draw on than the whole)."""
    middle = len(payload) // 2
    sample = payload[max(0, middle - _SAMPLE_BYTES // 2) : middle + _SAMPLE_BYTES // 2]
    return len(sample) / max(1, len(compressor.compress(sample)))


def decode(blob: bytes) -> DecodedRecord:
    if not blob.startswith(MAGIC):
        raise RecordError("not an events-api record")
    if len(blob) < _OVERHEAD or blob[len(MAGIC)] != VERSION:
        raise RecordError(f"unsupported record version {blob[len(MAGIC) : len(MAGIC) + 1]!r}")
    (header_length,) = _LENGTH.unpack_from(blob, len(_PREFIX))
    header_end = _OVERHEAD + header_length
    try:
        header = orjson.loads(blob[_OVERHEAD:header_end])
        meta = RequestMeta(
            dataset=header["dataset"],
            request_id=header["requestId"],
            received_at=header["receivedAt"],
            service=header.get("service"),
            namespace=header.get("namespace"),
        )
        first = int(header["first"])
        count = int(header["count"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise RecordError(f"bad record header: {exc}") from None
    try:
        declared = zstandard.frame_content_size(blob[header_end:])
        if declared > MAX_PAYLOAD_BYTES:
            raise RecordError(f"record payload declares {declared} bytes")
        payload = zstandard.ZstdDecompressor().decompress(
            blob[header_end:], max_output_size=MAX_PAYLOAD_BYTES
        )
    except zstandard.ZstdError as exc:
        raise RecordError(f"bad record payload: {exc}") from None
    ends = line_ends(payload) if payload else []
    if count != len(ends):
        raise RecordError("record event count does not match its header")
    return DecodedRecord(meta, first, payload, ends)
