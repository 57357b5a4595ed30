"""Body decoding and per-event validation: the hot path of the ingest function.

Events are only size-checked and forwarded, so they never become Python objects: the body
is checked once for UTF-8, split into the raw text of each element by msgspec (which still
validates the JSON grammar of every element), and each element is checked to be an object
of at most 256 KiB. The raw slices are what the buffer records carry.
"""

from __future__ import annotations

import math
import re
from array import array
from bisect import bisect_right
from collections.abc import Buffer, MutableSequence, Sequence, Sized
from dataclasses import dataclass, field
from itertools import accumulate, islice
from typing import cast

import msgspec
from isal import isal_zlib

from ..errors import BadRequest, InvalidEvent, PayloadTooLarge, UnsupportedMediaType
from ..settings import MAX_BODY_BYTES, MAX_EVENT_BYTES

_ARRAY = msgspec.json.Decoder(list[msgspec.Raw])
_VALUE = msgspec.json.Decoder(msgspec.Raw)
_WHITESPACE = b" \t\r\n"
_OBJECT_START = ord("{")
_UTF8_BOM = b"\xef\xbb\xbf"
_GZIP_WBITS = 31
_InflateError = cast(type[Exception], isal_zlib.IsalError)
#: Text that may hold a number literal overflowing a double (``1e999``, or 309 digits and
#: more before a fraction), found in one pass: the text is mapped onto a few classes
#: (digits; exponent letters and "+"; what may end a number; anything else), then searched
#: for a digit, an exponent of three digits or more, and an end. Strings can match too (a
#: hex id followed by a space); only the events holding a match are parsed to find out.
_NUMBER_CLASSES = bytes(
    b"0"[0]
    if byte in b"0123456789"
    else b"e"[0]
    if byte in b"eE+"
    else b":"[0]
    if byte in b",]} \t\r\n"
    else b"a"[0]
    for byte in range(256)
)
_HUGE_EXPONENT = re.compile(rb"0ee?0{3,}:")
_HUGE_MANTISSA = b"0" * 309
_NUMBER_BYTES = frozenset(b"0123456789.-+eE")
_ANY = msgspec.json.Decoder()


@dataclass(slots=True)
class DecodedBatch:
    """The raw text of each accepted event (no newlines inside) and the rejected ones."""

    events: list[Buffer] = field(default_factory=list)
    invalid: list[InvalidEvent] = field(default_factory=list)
    event_bytes: int = 0
    #: The accepted events joined by newlines, when checking built it (records reuse it),
    #: and each event's offset in it (one more entry: the text's length plus one).
    joined: bytes | None = None
    starts: MutableSequence[int] | None = None


def content_encoding(header: str | None) -> bool:
    """True when the body is gzip; raises 415 for anything but identity or gzip."""
    value = (header or "").strip().lower()
    if value in ("", "identity"):
        return False
    if value == "gzip":
        return True
    raise UnsupportedMediaType(f"Content-Encoding {value!r} is not supported")


def inflate(body: bytes, limit: int = MAX_BODY_BYTES) -> bytes:
    """Gunzip with a hard cap: inflation stops one byte past ``limit`` (gzip bombs are cheap)."""
    out: list[bytes] = []
    produced = 0
    data = body
    while True:
        inflater = isal_zlib.decompressobj(wbits=_GZIP_WBITS)
        try:
            chunk = inflater.decompress(data, limit - produced + 1)
        except _InflateError as exc:
            raise BadRequest(f"body is not valid gzip: {exc}") from None
        produced += len(chunk)
        if produced > limit:
            raise PayloadTooLarge(f"body inflates past {limit} bytes")
        out.append(chunk)
        if not inflater.eof:
            raise BadRequest("body is not valid gzip: truncated stream")
        data = inflater.unused_data
        # Concatenated gzip members are one stream (RFC 1952); trailing zero padding is not.
        if not data.strip(b"\x00"):
            break
    return out[0] if len(out) == 1 else b"".join(out)


def read_body(body: bytes, gzip: bool) -> bytes:
    if gzip:
        body = inflate(body)
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"body is {len(body)} bytes, the limit is {MAX_BODY_BYTES}")
    return body


def _utf8_error(data: bytes) -> str | None:
    if data.isascii():
        return None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"invalid UTF-8 at byte {exc.start}"
    return None


def _decode_failure(exc: Exception) -> str:
    if isinstance(exc, RecursionError):
        return "JSON is nested too deeply"
    return str(exc)


def overflow_suspects(text: bytes, starts: Sequence[int]) -> set[int]:
    """Indexes of the events (at ``starts`` in ``text``) that may overflow a double."""
    classes = text.translate(_NUMBER_CLASSES) + b":"
    # A three-digit exponent: only when the number around it is infinite as a double can
    # it be an overflowing literal (text in a string, "session 2275e301 ended", is not).
    found = [
        match.start()
        for match in _HUGE_EXPONENT.finditer(classes)
        if _infinite_token(text, match.start(), match.end() - 1)
    ]
    at = classes.find(_HUGE_MANTISSA)
    while at >= 0:
        found.append(at)
        at = classes.find(_HUGE_MANTISSA, at + len(_HUGE_MANTISSA))
    return {bisect_right(starts, position) - 1 for position in found}


def _infinite_token(text: bytes, start: int, end: int) -> bool:
    """Whether the number-like run of characters around ``text[start:end]`` is infinite."""
    while start > 0 and text[start - 1] in _NUMBER_BYTES:
        start -= 1
    try:
        return math.isinf(float(text[start:end]))
    except ValueError:
        return True  # not a plain number: let the decoder judge the event


def _overflows(raw: Buffer) -> bool:
    """True when the event holds a number literal that is infinite as a double."""
    if not overflow_suspects(bytes(raw), (0,)):
        return False
    try:
        _ANY.decode(raw)
    except msgspec.DecodeError as exc:
        return "out of range" in str(exc)
    except RecursionError:
        return False
    return False


def _join(raws: Sequence[Buffer], chunk: int = 1 << 16) -> bytes:
    """``b"\\n".join(raws)`` in steps: joining buffers that are not bytes holds a buffer
    view (80 bytes) of every item at once, 160 MB for two million events."""
    if len(raws) <= chunk:
        return b"\n".join(raws)
    return b"\n".join([b"\n".join(raws[at : at + chunk]) for at in range(0, len(raws), chunk)])


def _check_events(raws: Sequence[Buffer], indexes: Sequence[int] | None = None) -> DecodedBatch:
    count = len(raws)
    # Fast path, without Python work per event: each element's size and offset in the
    # newline-joined text (which the buffer records reuse), and its first byte read there.
    # Offsets are machine integers and nothing is copied: 6 MiB of ``{}`` is two million
    # events, and the ingest function must hold them within its memory.
    if count:
        sized = cast(Sequence[Sized], raws)
        starts = array("q", accumulate(map((1).__add__, map(len, sized)), initial=0))
        joined = _join(raws)
        firsts = bytes(map(joined.__getitem__, islice(starts, count)))
        if (
            firsts.count(b"{") == count
            and max(map(len, sized)) <= MAX_EVENT_BYTES
            and not any(map(_overflows, map(raws.__getitem__, overflow_suspects(joined, starts))))
        ):
            events = raws if isinstance(raws, list) else list(raws)
            return DecodedBatch(events, [], len(joined) - count + 1, joined, starts)
    batch = DecodedBatch()
    accepted = batch.events
    total = 0
    for position, raw in enumerate(raws):
        view = memoryview(raw)
        size = view.nbytes
        if view[0] != _OBJECT_START:
            reason = "event is not a JSON object"
        elif size > MAX_EVENT_BYTES:
            reason = f"event is {size} bytes, larger than the {MAX_EVENT_BYTES}-byte limit"
        elif _overflows(raw):
            reason = "event holds a number that overflows to infinity"
        else:
            accepted.append(raw)
            total += size
            continue
        index = position if indexes is None else indexes[position]
        batch.invalid.append(InvalidEvent(index, reason))
    batch.event_bytes = total
    return batch


def parse_json(body: bytes) -> DecodedBatch:
    """A JSON array of objects, or a single object (a batch of one)."""
    if body.startswith(_UTF8_BOM):
        body = body[len(_UTF8_BOM) :]
    stripped = body.lstrip(_WHITESPACE)
    if not stripped:
        raise BadRequest("the body is empty")
    error = _utf8_error(body)
    if error:
        raise BadRequest(f"body is not valid UTF-8: {error}")
    # Any newline in valid JSON is whitespace, so flattening keeps every event one line.
    if b"\n" in body:
        body = body.replace(b"\n", b" ")
    if b"\r" in body:
        body = body.replace(b"\r", b" ")
    first = stripped[0]
    try:
        if first == ord("["):
            raws = cast(list[Buffer], _ARRAY.decode(body))
        elif first == _OBJECT_START:
            raws = [_VALUE.decode(body)]
        else:
            _VALUE.decode(body)
            raise BadRequest("body must be a JSON array of objects or a single JSON object")
    except (msgspec.DecodeError, RecursionError) as exc:
        raise BadRequest(f"body is not valid JSON: {_decode_failure(exc)}") from None
    if not raws:
        raise BadRequest("the batch is empty")
    return _check_events(raws)


def parse_ndjson(body: bytes) -> DecodedBatch:
    """One object per line; blank lines are skipped; a bad line is one invalid event."""
    if body.startswith(_UTF8_BOM):
        body = body[len(_UTF8_BOM) :]
    # Each line without its surrounding whitespace (the same object when there is none).
    lines = [line for line in map(_strip, body.split(b"\n")) if line]
    if not lines:
        raise BadRequest("the body is empty")
    # Fast path: every line valid, parsed in one call as if it were an array. Each line is
    # judged alone: element i spans exactly line i when every element is as long as its
    # line (elements and lines are laid out in the same order, one comma apart), so an
    # object split over lines, or two objects on one line, falls to the line-by-line path.
    if _utf8_error(body) is None:
        try:
            raws = cast(list[Buffer], _ARRAY.decode(b"[" + b",".join(lines) + b"]"))
        except (msgspec.DecodeError, RecursionError):
            pass
        else:
            if len(raws) == len(lines) and all(
                map(int.__eq__, map(len, cast(list[Sized], raws)), map(len, lines))
            ):
                return _check_events(raws)
    return _parse_lines(lines)


def _strip(line: bytes) -> bytes:
    return line.strip(_WHITESPACE)


def _parse_lines(lines: list[bytes]) -> DecodedBatch:
    raws: list[Buffer] = []
    indexes: list[int] = []
    invalid: list[InvalidEvent] = []
    for index, line in enumerate(lines):
        error = _utf8_error(line)
        if error is None:
            try:
                raws.append(_VALUE.decode(line.replace(b"\r", b" ")))
                indexes.append(index)
                continue
            except (msgspec.DecodeError, RecursionError) as exc:
                error = _decode_failure(exc)
        invalid.append(InvalidEvent(index, f"line is not valid JSON: {error}"))
    batch = _check_events(raws, indexes)
    batch.invalid = sorted(invalid + batch.invalid, key=lambda item: item.index)
    return batch
