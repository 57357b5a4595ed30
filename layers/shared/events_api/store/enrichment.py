"""Stored events: the stored fields, the reference enrichment, and the consumer's own.

Events are stored exactly as sent (their own text) with the stored fields appended. Only
the three fields the enrichment reads (``timestamp``, ``service``, ``namespace``) are
decoded, as raw JSON. An event that already carries one of the stored fields at its top
level has those keys removed first (the rest of its text is re-encoded then, values kept
byte for byte); every other event is spliced as text, untouched.

Two implementations side by side, because one is the specification of the other:

- ``enrich`` is the reference: plain Python per event, easy to read and to check;
- ``enrich_text`` is what the consumer stores through: the same bytes, built with one
  decode per record and one formatting call, without Python work per event where it can
  be. Records it cannot vouch for go through ``enrich``. A property test holds the two
  equal (tests/unit/test_store.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from itertools import chain
from operator import attrgetter
from typing import Annotated, Any

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


# -- the consumer's path: enrich_text, equal to enrich -----------------------------------

#: A value no JSON text satisfies: an event carrying a stored field fails to decode as
#: ``_Scan``, which sends its record down the general path.
_Absent = Annotated[int, msgspec.Meta(gt=0, lt=0)]


class _Scan(msgspec.Struct):
    # Field order matters to msgspec's key lookup (it resumes after the last match): with
    # the stored names first and these three in the order producers usually write them,
    # the scan measured about a third faster than the other way round.
    stored_dataset: _Absent = msgspec.field(default=0, name="_dataset")
    stored_service: _Absent = msgspec.field(default=0, name="_service")
    stored_namespace: _Absent = msgspec.field(default=0, name="_namespace")
    stored_received_at: _Absent = msgspec.field(default=0, name="_receivedAt")
    stored_timestamp: _Absent = msgspec.field(default=0, name="_timestamp")
    stored_request_id: _Absent = msgspec.field(default=0, name="_requestId")
    stored_id: _Absent = msgspec.field(default=0, name="_id")
    # Decoded as values: a string is what the label uses, anything else means "fall back
    # to the header", so values can key the per-record cache (unhashable ones take the
    # general path).
    namespace: Any = None
    service: Any = None
    timestamp: msgspec.Raw = _EMPTY


_SCAN = msgspec.json.Decoder(_Scan)
_TIMESTAMP = attrgetter("timestamp")
_SERVICE = attrgetter("service")
_NAMESPACE = attrgetter("namespace")
#: Epoch milliseconds below this convert exactly with integer arithmetic (a float of
#: seconds under 2**32 is within half a microsecond of the true value).
_EXACT_EPOCH_MS = 2**32 * 1000


class _Parts(dict[object, bytes]):
    """A field's decoded value -> its stored-field text, computed once per distinct value."""

    __slots__ = ("_make",)

    def __init__(self, make: Callable[[object], bytes]) -> None:
        super().__init__()
        self._make = make

    def __missing__(self, value: object) -> bytes:
        part = self[value] = self._make(value)
        return part


class _TimestampParts(dict[bytes, bytes]):
    """Raw ``timestamp`` value -> its ``,"_timestamp":...`` text (one call per distinct value)."""

    __slots__ = ("_fallback",)

    def __init__(self, fallback: bytes) -> None:
        super().__init__()
        self._fallback = fallback

    def __missing__(self, raw: bytes) -> bytes:
        text = _timestamp_text(raw)
        part = self[raw] = b',"_timestamp":' + text if text else self._fallback
        return part


def _iso_tail(raw: bytes) -> bool:
    return raw[20] == 0x2E and raw[24:] == b'Z"' and raw[21:24].isdigit()


#: Per-second caches (bounded): events of a batch mostly share their second.
_EPOCH_SECONDS: dict[bytes, bytes] = {}  # epoch seconds digits -> b'"YYYY-MM-DDTHH:MM:SS.'
_ISO_SECONDS: dict[bytes, int] = {}  # b'"YYYY-MM-DDTHH:MM:SS' -> 1 valid, 0 invalid, -1 other
_SECONDS_CACHE_LIMIT = 1 << 16
_CANONICAL_SECONDS = re.compile(rb'"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}')


def _epoch_prefix(seconds: bytes) -> bytes:
    """The quoted date and time of whole epoch seconds, b"" past the exact range."""
    value = int(seconds)
    prefix = b""
    if value < _EXACT_EPOCH_MS // 1000:
        moment = datetime.fromtimestamp(value, UTC)
        prefix = b'"' + moment.strftime("%Y-%m-%dT%H:%M:%S.").encode()
    if len(_EPOCH_SECONDS) >= _SECONDS_CACHE_LIMIT:
        _EPOCH_SECONDS.clear()
    _EPOCH_SECONDS[seconds] = prefix
    return prefix


def _iso_seconds(prefix: bytes) -> int:
    """1 when the canonical date and time are valid, 0 when not, -1 if not canonical."""
    state = -1
    if _CANONICAL_SECONDS.fullmatch(prefix):
        try:
            datetime.fromisoformat(prefix[1:].decode())
            state = 1
        except ValueError:
            state = 0
    if len(_ISO_SECONDS) >= _SECONDS_CACHE_LIMIT:
        _ISO_SECONDS.clear()
    _ISO_SECONDS[prefix] = state
    return state


#: Integer epoch digits by length: (digits that are whole seconds, slice of the millis).
_EPOCH_DIGITS = {
    **{size: (size, None) for size in range(1, 12)},
    **{size: (size - 3, slice(-3, None)) for size in range(12, 15)},
    **{size: (size - 6, slice(-6, -3)) for size in range(15, 18)},
    **{size: (size - 9, slice(-9, -6)) for size in range(18, 21)},
}


def _timestamp_text(raw: bytes) -> bytes | None:
    """The quoted ``normalise_timestamp`` of a raw value, fast for the two common shapes:
    integer epoch digits (split into seconds and milliseconds by length, which is the
    magnitude rule for JSON integers; integer arithmetic is exact below 2**32 s) and
    RFC 3339 already in UTC with milliseconds (valid as it stands, or not at all)."""
    size = len(raw)
    if raw.isdigit():  # a JSON integer: no sign, no leading zero (the text is valid JSON)
        split = _EPOCH_DIGITS.get(size)
        if split is not None:
            whole, millis = split
            prefix = _EPOCH_SECONDS.get(raw[:whole])
            if prefix is None:
                prefix = _epoch_prefix(raw[:whole])
            if prefix:
                return prefix + (raw[millis] if millis else b"000") + b'Z"'
    elif size == 26 and _iso_tail(raw):
        state = _ISO_SECONDS.get(raw[:20])
        if state is None:
            state = _iso_seconds(raw[:20])
        if state >= 0:
            return raw if state else None
    text = normalise_timestamp(msgspec.Raw(raw))
    return None if text is None else orjson.dumps(text)


def enrich_text(record: DecodedRecord) -> tuple[bytes, int]:
    """``enrich``'s lines, each ending in a newline, as one text; and how many there are.

    Same output as ``b"".join(line + b"\\n" for line in enrich(record))``, built without
    Python work per event where it can be: one decode finds the three fields, values are
    turned into stored fields once per distinct value, and one formatting call splices
    every event. Records this path cannot vouch for (an event carrying a stored field,
    an empty object, text around an event) go through ``enrich``.
    """
    payload = record.payload
    if not payload:
        return b"", 0
    ends = record.event_ends()
    count = len(ends)
    starts = [0, *map((1).__add__, ends[:-1])]
    lasts = list(map((-1).__add__, ends))
    try:
        fields = _SCAN.decode_lines(payload)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        fields = []
    # One event per line, each line exactly an object with members: "{" first, "}" last,
    # and neither "}" nor whitespace right after the "{".
    get = payload.__getitem__
    if (
        len(fields) != count
        or bytes(map(get, starts)).count(b"{") != count
        or bytes(map(get, lasts)).count(b"}") != count
        or len(bytes(map(get, map((1).__add__, starts))).translate(None, b"} \t\r\n")) != count
    ):
        lines = enrich(record)
        return b"".join(line + b"\n" for line in lines), len(lines)
    meta = record.meta

    def label(own: object, fallback: str | None, name: bytes) -> bytes:
        value = own if isinstance(own, str) else fallback
        return b"" if value is None else b',"' + name + b'":' + orjson.dumps(value)

    received = orjson.dumps(meta.received_at)
    services = _Parts(lambda own: label(own, meta.service, b"_service"))
    namespaces = _Parts(lambda own: label(own, meta.namespace, b"_namespace"))
    timestamps = _TimestampParts(b',"_timestamp":' + received)
    template = b"".join(
        (
            b"%b,",
            _literal(b'"_dataset":' + orjson.dumps(meta.dataset)),
            b"%b%b",
            _literal(
                b',"_receivedAt":' + received + b',"_requestId":' + orjson.dumps(meta.request_id)
            ),
            b'%b,"_id":',
            _literal(orjson.dumps(meta.request_id + "-")[:-1]),
            b'%d"}\n',
        )
    )
    view = memoryview(payload)
    bodies = map(view.__getitem__, map(slice, starts, lasts))
    values = zip(
        bodies,
        map(services.__getitem__, map(_SERVICE, fields)),
        map(namespaces.__getitem__, map(_NAMESPACE, fields)),
        map(timestamps.__getitem__, map(bytes, map(_TIMESTAMP, fields))),
        range(record.first, record.first + count),
        strict=True,
    )
    try:
        arguments = tuple(chain.from_iterable(values))
    except TypeError:  # a service or namespace that is an object or array: unhashable
        lines = enrich(record)
        return b"".join(line + b"\n" for line in lines), len(lines)
    return (template * count) % arguments, count


def _literal(text: bytes) -> bytes:
    return text.replace(b"%", b"%%")
