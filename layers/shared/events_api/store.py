"""Stored events: enrichment, grouping by dataset and hour, object naming, gzip NDJSON.

Events are stored exactly as sent (their own text) with the stored fields appended. Only
the three fields the enrichment reads (``timestamp``, ``service``, ``namespace``) are
decoded, as raw JSON. An event that already carries one of the stored fields at its top
level has those keys removed first (the rest of its text is re-encoded then, values kept
byte for byte); every other event is spliced as text, untouched.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import msgspec
import orjson
from isal import igzip

from .records import DecodedRecord

STORED_FIELDS = (
    "_dataset",
    "_service",
    "_namespace",
    "_receivedAt",
    "_timestamp",
    "_requestId",
    "_id",
)
_EMPTY = msgspec.Raw()
# Epoch milliseconds up to 9999-12-31T23:59:59.999Z.
_MAX_EPOCH_MS = 253_402_300_799_999
_RFC3339 = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})"
)


class _Fields(msgspec.Struct):
    timestamp: msgspec.Raw = _EMPTY
    service: msgspec.Raw = _EMPTY
    namespace: msgspec.Raw = _EMPTY


_FIELDS = msgspec.json.Decoder(list[_Fields])
_OBJECT = msgspec.json.Decoder(dict[str, msgspec.Raw])
_STRING = msgspec.json.Decoder(str)
_INT = msgspec.json.Decoder(int)


def format_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def normalise_timestamp(raw: msgspec.Raw) -> str | None:
    """RFC 3339 text or epoch milliseconds, as RFC 3339 UTC with milliseconds; else None."""
    text = bytes(raw)
    if not text:
        return None
    try:
        if text[0] == 0x22:  # a JSON string
            match = _RFC3339.fullmatch(_STRING.decode(text))
            if match is None:
                return None
            date, clock, fraction, zone = match.groups()
            zone = "+00:00" if zone in "Zz" else zone
            fraction = (fraction or "0")[:6]
            return format_utc(datetime.fromisoformat(f"{date}T{clock}.{fraction:0<6}{zone}"))
        if text[0] in b"0123456789":
            millis = _INT.decode(text)
            if millis <= _MAX_EPOCH_MS:
                return format_utc(datetime.fromtimestamp(millis / 1000, UTC))
    except (msgspec.DecodeError, ValueError, OverflowError):
        return None
    return None


def _string(raw: msgspec.Raw) -> str | None:
    text = bytes(raw)
    if not text or text[0] != 0x22:
        return None
    try:
        return _STRING.decode(text)
    except msgspec.DecodeError:
        return None


def _without_stored_fields(event: bytes) -> bytes:
    """The event with any top-level stored field removed (text kept where none is present)."""
    if b'"_' not in event and b"\\u" not in event:
        return event
    try:
        members = _OBJECT.decode(event)
    except msgspec.DecodeError:
        return event
    if not any(name in members for name in STORED_FIELDS):
        return event
    for name in STORED_FIELDS:
        members.pop(name, None)
    return msgspec.json.encode(members)


def _splice(event: bytes, fields: bytes) -> bytes:
    body = event[1:-1]
    if body.strip():
        return b"".join((event[:-1], b",", fields, b"}"))
    return b"".join((b"{", fields, b"}"))


def enrich(record: DecodedRecord) -> list[bytes]:
    """Each event of the record as one stored NDJSON line (without the newline)."""
    events = record.events()
    if not events:
        return []
    meta = record.meta
    fields = _FIELDS.decode(b"[" + b",".join(events) + b"]")
    quoted: dict[str | None, bytes] = {}

    def quote(value: str | None) -> bytes:
        cached = quoted.get(value)
        if cached is None:
            cached = quoted[value] = orjson.dumps(value)
        return cached

    head = b'"_dataset":' + quote(meta.dataset)
    received = quote(meta.received_at)
    tail = b',"_receivedAt":' + received + b',"_requestId":' + quote(meta.request_id)
    id_prefix = meta.request_id + "-"
    lines = []
    for ordinal, (event, found) in enumerate(zip(events, fields, strict=True), record.first):
        service = _string(found.service) if found.service else None
        namespace = _string(found.namespace) if found.namespace else None
        service = service if service is not None else meta.service
        namespace = namespace if namespace is not None else meta.namespace
        timestamp = normalise_timestamp(found.timestamp) if found.timestamp else None
        parts = [head]
        if service is not None:
            parts.append(b',"_service":' + quote(service))
        if namespace is not None:
            parts.append(b',"_namespace":' + quote(namespace))
        parts.append(tail)
        parts.append(b',"_timestamp":' + (quote(timestamp) if timestamp else received))
        parts.append(b',"_id":' + orjson.dumps(f"{id_prefix}{ordinal}"))
        lines.append(_splice(_without_stored_fields(event), b"".join(parts)))
    return lines


def partition_prefix(dataset: str, received_at: str) -> str:
    """``dataset=…/dt=YYYY-MM-DD/hour=HH/`` from the UTC receive time."""
    return f"dataset={dataset}/dt={received_at[:10]}/hour={received_at[11:13]}/"


def object_name(source: str, record_ids: Iterable[str]) -> str:
    """Derived from the source records only, so a retried batch rewrites the same object."""
    digest = hashlib.sha256("\n".join(sorted(record_ids)).encode()).hexdigest()[:40]
    return f"{source}-{digest}"


def quarantine_key(source: str, record_id: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", record_id)
    return f"quarantine/source={source}/{safe}.bin"


@dataclass(slots=True)
class ObjectPlan:
    """One S3 object: the events of every record of one dataset and hour in this batch."""

    prefix: str
    record_ids: list[str] = field(default_factory=list)
    name_keys: list[str] = field(default_factory=list)
    lines: list[bytes] = field(default_factory=list)

    def key(self, source: str) -> str:
        return f"{self.prefix}{object_name(source, self.name_keys)}.ndjson.gz"

    def body(self, level: int) -> bytes:
        return igzip.compress(b"\n".join(self.lines) + b"\n", level, mtime=0)
