"""Event timestamps: RFC 3339 text or epoch numbers, normalised to RFC 3339 UTC with
milliseconds (the form every stored timestamp takes)."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import msgspec

# Epoch milliseconds up to 9999-12-31T23:59:59.999Z.
_MAX_EPOCH_MS = 253_402_300_799_999
_RFC3339 = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})"
)
_STRING = msgspec.json.Decoder(str)
_NUMBER = msgspec.json.Decoder(int | float)


def rfc3339(moment: datetime) -> str:
    """The one RFC 3339 form this project writes: UTC, milliseconds, ``Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


#: Epoch numbers are told apart by magnitude: below 1e11 seconds (until the year 5138),
#: then milliseconds, microseconds and nanoseconds, each unit a thousand times the last.
_EPOCH_UNITS = tuple(
    (10**bound, Decimal(10) ** power) for bound, power in ((11, 3), (14, 0), (17, -3), (20, -6))
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _epoch_millis(value: int | Decimal) -> int | None:
    """Epoch seconds, milliseconds, microseconds or nanoseconds as whole milliseconds
    (exact decimal arithmetic: ``1700000000.123`` is 123 ms, whatever its float is)."""
    if value < 0:
        return None
    for bound, to_millis in _EPOCH_UNITS:
        if value < bound:
            millis = math.floor(value * to_millis)
            return millis if millis <= _MAX_EPOCH_MS else None
    return None


def normalise_timestamp(raw: msgspec.Raw) -> str | None:
    """RFC 3339 text or an epoch number, as RFC 3339 UTC with milliseconds; else None."""
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
            return rfc3339(datetime.fromisoformat(f"{date}T{clock}.{fraction:0<6}{zone}"))
        if text[0] in b"0123456789":
            number = _NUMBER.decode(text)
            millis = _epoch_millis(number if isinstance(number, int) else Decimal(text.decode()))
            if millis is not None:
                return rfc3339(_EPOCH + timedelta(milliseconds=millis))
    except (msgspec.DecodeError, ValueError, OverflowError):
        return None
    return None


def rfc3339_millis(millis: int) -> str | None:
    """Epoch milliseconds (CloudWatch Logs' timestamps) as RFC 3339; None out of range."""
    if not 0 <= millis <= _MAX_EPOCH_MS:
        return None
    return rfc3339(_EPOCH + timedelta(milliseconds=millis))
