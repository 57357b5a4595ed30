"""Stored events: the stored fields and the reference enrichment.

Events are stored exactly as sent (their own text) with the stored fields appended. Only
the three fields the enrichment reads (``timestamp``, ``service``, ``namespace``) are
decoded, as raw JSON. An event that already carries one of the stored fields at its top
level has those keys removed first (the rest of its text is re-encoded then, values kept
byte for byte); every other event is spliced as text, untouched.

``enrich`` is the reference: plain Python per event. The consumer stores through
``fast_enrichment.enrich_text``, which must give the same bytes (a property test holds it).
"""

from __future__ import annotations

import msgspec
import orjson

from ..records import DecodedRecord
from ..timestamps import normalise_timestamp

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


class _Fields(msgspec.Struct):
    timestamp: msgspec.Raw = _EMPTY
    service: msgspec.Raw = _EMPTY
    namespace: msgspec.Raw = _EMPTY


_FIELDS = msgspec.json.Decoder(list[_Fields])
_ONE_FIELDS = msgspec.json.Decoder(_Fields)
_OBJECT = msgspec.json.Decoder(dict[str, msgspec.Raw])
_STRING = msgspec.json.Decoder(str)


def _fields_of(event: bytes) -> _Fields:
    """One event's fields; none for an event nested deeper than this stack can decode (the
    parser's depth limit depends on the caller's stack), which is stored rather than
    quarantined."""
    try:
        return _ONE_FIELDS.decode(event)
    except RecursionError:
        return _Fields()


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
    except (msgspec.DecodeError, RecursionError):
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
    try:
        fields = _FIELDS.decode(b"[" + b",".join(events) + b"]")
    except RecursionError:
        # The array adds a level: an event nested as deep as ingest allows (a single object
        # or an NDJSON line) may only decode on its own.
        fields = [_fields_of(event) for event in events]
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
