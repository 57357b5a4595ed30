"""The buffer record format, version 1: encoded by the ingest side, decoded by the consumer.

One owner for both directions, so the two sides cannot drift. A record is::

    b"EVR" + version byte (1)
    header length, 4 bytes big-endian
    header: JSON object with the request metadata, carried once per record
    payload: one zstd frame of the events' raw JSON text joined by b"\\n"

A request's accepted events are packed into as few records as the buffer's size limit
allows. ``first`` is the ordinal (among the request's accepted events) of the record's
first event, so ``_id`` = request id + ordinal is unique and stable across retries.
"""

from __future__ import annotations

import struct
from collections.abc import Buffer, Sequence
from dataclasses import dataclass

import orjson
import zstandard

MAGIC = b"EVR"
VERSION = 1
_PREFIX = MAGIC + bytes([VERSION])
_LENGTH = struct.Struct(">I")
_OVERHEAD = len(_PREFIX) + _LENGTH.size
#: Refuse to inflate a record past this, whatever its frame header claims.
MAX_PAYLOAD_BYTES = 64 * 1024 * 1024
#: Aim a little under the limit when splitting, so one split is usually enough.
_SPLIT_TARGET = 0.85


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

    def events(self) -> list[bytes]:
        return self.payload.split(b"\n") if self.payload else []


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
    meta: RequestMeta, events: Sequence[Buffer], max_bytes: int, level: int = 1
) -> list[bytes]:
    """Pack events into records of at most ``max_bytes`` each, in order."""
    compressor = zstandard.ZstdCompressor(level=level)
    offsets = [0]
    for event in events:
        offsets.append(offsets[-1] + memoryview(event).nbytes + 1)
    out: list[bytes] = []

    def emit(lo: int, hi: int) -> None:
        header = _header(meta, lo, hi - lo)
        payload = compressor.compress(b"\n".join(events[lo:hi]))
        blob = b"".join((_PREFIX, _LENGTH.pack(len(header)), header, payload))
        if len(blob) <= max_bytes:
            out.append(blob)
            return
        if hi - lo == 1:
            raise RecordError(f"one event compresses to {len(blob)} bytes, over {max_bytes}")
        # Split by raw bytes into as many parts as the measured ratio says are needed.
        parts = min(hi - lo, max(2, -(-len(blob) // int(max_bytes * _SPLIT_TARGET))))
        span = (offsets[hi] - offsets[lo]) / parts
        start = lo
        for part in range(1, parts + 1):
            if part == parts:
                end = hi
            else:
                target = offsets[lo] + span * part
                end = start + 1
                while end < hi - (parts - part) and offsets[end] < target:
                    end += 1
            emit(start, end)
            start = end

    if events:
        emit(0, len(events))
    return out


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
    record = DecodedRecord(meta, first, payload)
    if count != (payload.count(b"\n") + 1 if payload else 0):
        raise RecordError("record event count does not match its header")
    return record
