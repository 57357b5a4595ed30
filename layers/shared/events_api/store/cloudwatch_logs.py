"""CloudWatch Logs records: what a subscription delivers, as stored events.

CloudWatch Logs puts gzip'd JSON on the buffer (straight onto the Kinesis stream, or through
the forwarder function onto the SQS queue)::

    {"messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": "/aws/lambda/fn",
     "logStream": "2026/01/01/[$LATEST]0a1b", "subscriptionFilters": ["..."],
     "logEvents": [{"id": "3661...", "timestamp": 1767225600000, "message": "..."}, ...]}

The consumer tells these records from its own by gzip's magic (``EVR`` starts its own).
A record is up to about 1 MB compressed and may inflate far more, so it is never inflated
whole past ``CHUNK_BYTES``: a record that fits is decoded in one call; a larger one is read
member by member from a bounded window of inflated text (twice: once for the envelope,
which may come after the events, once for the events), and stored in slices like any
record. ``CONTROL_MESSAGE`` records (CloudWatch Logs checking that the destination is
reachable) hold no events. Each log event becomes one stored event (contract section 10):
the line's own JSON members as sent, what the line says (``log_lines``), the delivery's
facts, and the stored fields.
"""

from __future__ import annotations

import codecs
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import msgspec

from ..records import RecordError
from ..timestamps import rfc3339_millis
from . import log_lines
from .enrichment import STORED_FIELDS

GZIP_MAGIC = b"\x1f\x8b"
#: Inflated text held at once for one record: a record that inflates to more is read in
#: windows of this size instead of whole.
CHUNK_BYTES = 16 * 1024 * 1024
#: Never inflate more than this from one record (gzip's best ratio is about 1,000:1, so a
#: 1 MB record stays under it; anything claiming more is not what CloudWatch Logs sends).
MAX_INFLATED_BYTES = 2 * 1024 * 1024 * 1024
LAMBDA_PREFIX = "/aws/lambda/"
LAMBDA_DATASET = "lambda-logs"
OTHER_DATASET = "cloudwatch-logs"
DATA_MESSAGE = "DATA_MESSAGE"
CONTROL_MESSAGE = "CONTROL_MESSAGE"
_GZIP_WBITS = 31
_ENVELOPE_KEYS = ("messageType", "owner", "logGroup", "logStream")


def is_log_record(data: bytes) -> bool:
    return data[:2] == GZIP_MAGIC


class LogEvent(msgspec.Struct):
    id: str | int
    timestamp: int
    message: str


class _Whole(msgspec.Struct):
    messageType: str = ""
    owner: str = ""
    logGroup: str = ""
    logStream: str = ""
    logEvents: list[LogEvent] = msgspec.field(default_factory=list)


_WHOLE = msgspec.json.Decoder(_Whole)
_EVENT = msgspec.convert


@dataclass(frozen=True, slots=True)
class Envelope:
    message_type: str
    owner: str
    log_group: str
    log_stream: str

    @property
    def dataset(self) -> str:
        return LAMBDA_DATASET if self.log_group.startswith(LAMBDA_PREFIX) else OTHER_DATASET

    @property
    def function_name(self) -> str | None:
        if self.log_group.startswith(LAMBDA_PREFIX):
            return self.log_group[len(LAMBDA_PREFIX) :] or None
        return None


class LogRecord:
    """One CloudWatch Logs record, opened: its envelope, and its events in slices."""

    def __init__(self, data: bytes, received_at: str, chunk_bytes: int = CHUNK_BYTES) -> None:
        self.data, self.received_at, self.chunk_bytes = data, received_at, chunk_bytes
        self._whole: list[LogEvent] | None = None
        inflater = zlib.decompressobj(_GZIP_WBITS)
        try:
            first = inflater.decompress(data, chunk_bytes)
        except zlib.error as exc:
            raise RecordError(f"bad CloudWatch Logs record: {exc}") from None
        if inflater.eof:
            try:
                whole = _WHOLE.decode(first)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                raise RecordError(f"bad CloudWatch Logs record: {exc}") from None
            self.envelope = Envelope(
                whole.messageType, whole.owner, whole.logGroup, whole.logStream
            )
            self._whole = whole.logEvents
        else:
            del first
            found: dict[str, Any] = {}
            for key, value in _members(data, chunk_bytes):
                if key in _ENVELOPE_KEYS:
                    found[key] = value
            self.envelope = Envelope(*(str(found.get(key, "")) for key in _ENVELOPE_KEYS))
        if self.envelope.message_type not in (DATA_MESSAGE, CONTROL_MESSAGE):
            raise RecordError(f"not a CloudWatch Logs message: {self.envelope.message_type!r}")
        if self.envelope.message_type == DATA_MESSAGE and not self.envelope.log_group:
            raise RecordError("CloudWatch Logs record without a log group")

    @property
    def is_control(self) -> bool:
        return self.envelope.message_type == CONTROL_MESSAGE

    def events(self) -> Iterator[LogEvent]:
        if self.is_control:
            return
        if self._whole is not None:
            yield from self._whole
            return
        for key, value in _members(self.data, self.chunk_bytes, events=True):
            if key == "logEvents":
                try:
                    yield _EVENT(value, LogEvent)
                except msgspec.ValidationError as exc:
                    raise RecordError(f"bad log event: {exc}") from None

    def slices(self, max_events: int, max_bytes: int) -> Iterator[tuple[bytes, int]]:
        """Stored NDJSON text (newline-terminated lines) and its event count, at most
        ``max_events`` events and about ``max_bytes`` of text at a time."""
        lines: list[bytes] = []
        size = 0
        stored = _Stored(self.envelope, self.received_at)
        for event in self.events():
            line = stored.line(event)
            lines.append(line)
            size += len(line)
            if len(lines) >= max_events or size >= max_bytes:
                yield b"".join(lines), len(lines)
                lines, size = [], 0
        if lines:
            yield b"".join(lines), len(lines)


class _Stored:
    """Builds stored lines for the events of one envelope (its constant parts made once)."""

    def __init__(self, envelope: Envelope, received_at: str) -> None:
        self.facts = {
            "logGroup": envelope.log_group,
            "logStream": envelope.log_stream,
            "owner": envelope.owner,
        }
        self.dataset = envelope.dataset
        self.function_name = envelope.function_name
        self.received_at = received_at

    def line(self, event: LogEvent) -> bytes:
        text = event.message[:-1] if event.message.endswith("\n") else event.message
        members, said = log_lines.parse(text)
        event_id = str(event.id)
        out: dict[str, Any] = {}
        if members is not None:
            out.update((k, v) for k, v in members.items() if k not in STORED_FIELDS)
        # What the line carries is kept as sent; what is added fills in what it lacks.
        for name, value in said.items():
            out.setdefault(name, value)
        for name, value in self.facts.items():
            out.setdefault(name, value)
        out.setdefault("logEventId", event_id)
        out["_dataset"] = self.dataset
        service = self.function_name or _own_string(members, "service")
        if service is not None:
            out["_service"] = service
        namespace = _own_string(members, "namespace")
        if namespace is not None:
            out["_namespace"] = namespace
        out["_receivedAt"] = self.received_at
        out["_timestamp"] = rfc3339_millis(event.timestamp) or self.received_at
        out["_id"] = event_id
        return msgspec.json.encode(out) + b"\n"


def _own_string(members: dict[str, msgspec.Raw] | None, name: str) -> str | None:
    if not members or name not in members:
        return None
    raw = bytes(members[name])
    if not raw.startswith(b'"'):
        return None
    try:
        value = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return None
    return value if isinstance(value, str) else None


# -- records that inflate past the window ------------------------------------------------


class _Window:
    """Inflated text of one record, a bounded window at a time, as ``str``."""

    def __init__(self, data: bytes, chunk_bytes: int) -> None:
        self._inflater = zlib.decompressobj(_GZIP_WBITS)
        self._pending = data
        self._text = codecs.getincrementaldecoder("utf-8")()
        self._chunk = chunk_bytes
        self._inflated = 0
        self.buffer = ""
        self.pos = 0
        self.done = False

    def more(self) -> bool:
        """Read the next window; False at the end of the record."""
        if self.done:
            return False
        try:
            out = self._inflater.decompress(self._pending, self._chunk)
        except zlib.error as exc:
            raise RecordError(f"bad CloudWatch Logs record: {exc}") from None
        self._pending = self._inflater.unconsumed_tail
        self._inflated += len(out)
        if self._inflated > MAX_INFLATED_BYTES:
            raise RecordError(f"record inflates past {MAX_INFLATED_BYTES} bytes")
        final = self._inflater.eof or not self._pending
        try:
            text = self._text.decode(out, final=final)
        except UnicodeDecodeError as exc:
            raise RecordError(f"bad CloudWatch Logs record: {exc}") from None
        self.done = final
        self.buffer = self.buffer[self.pos :] + text
        self.pos = 0
        return True

    def skip_space(self) -> str:
        """The next character that is not white space ('' at the end)."""
        while True:
            while self.pos < len(self.buffer) and self.buffer[self.pos] in " \t\r\n":
                self.pos += 1
            if self.pos < len(self.buffer):
                return self.buffer[self.pos]
            if not self.more():
                return ""

    def expect(self, characters: str) -> str:
        found = self.skip_space()
        if not found or found not in characters:
            raise RecordError(f"bad CloudWatch Logs record: expected one of {characters!r}")
        self.pos += 1
        return found

    def value(self) -> Any:
        self.skip_space()
        while True:
            try:
                value, end = _SCANNER.raw_decode(self.buffer, self.pos)
            except json.JSONDecodeError as exc:
                # A value cut by the window's end: read on (a real error stays one).
                if self.more():
                    continue
                raise RecordError(f"bad CloudWatch Logs record: {exc}") from None
            # A number at the window's end may go on in the next window.
            cut = end == len(self.buffer) and not isinstance(value, dict | list | str)
            if cut and not self.done and self.more():
                continue
            self.pos = end
            return value


_SCANNER = json.JSONDecoder()


def _members(data: bytes, chunk_bytes: int, *, events: bool = False) -> Iterator[tuple[str, Any]]:
    """The record's top-level members in order; ``logEvents`` as one ("logEvents", event)
    per event when ``events`` (else skipped, event by event)."""
    window = _Window(data, chunk_bytes)
    window.more()
    window.expect("{")
    if window.skip_space() == "}":
        return
    while True:
        key = window.value()
        if not isinstance(key, str):
            raise RecordError("bad CloudWatch Logs record: a member name is not a string")
        window.expect(":")
        if key == "logEvents":
            window.expect("[")
            if window.skip_space() == "]":
                window.pos += 1
            else:
                while True:
                    event = window.value()
                    if events:
                        yield key, event
                    if window.expect(",]") == "]":
                        break
        else:
            yield key, window.value()
        if window.expect(",}") == "}":
            break
    if window.skip_space():
        raise RecordError("bad CloudWatch Logs record: text after the object")
