"""How fuzz_otlp.py reads one input: its first byte chooses the signal, the encoding and
gzip (bit 1 traces, 2 JSON, 4 gzip, 8 metrics over 1); the rest is the body.

Read by hand rather than with atheris's FuzzedDataProvider, whose integers come from the
*end* of the input: a seed is then simply that byte and a valid body, and the unit tests
check that every committed seed reaches flattening (this module needs no atheris).
"""

from __future__ import annotations

from events_api.otlp.decode import LOGS, METRICS, TRACES, Encoding, Signal


def parse(data: bytes) -> tuple[Signal, Encoding, bool, bytes]:
    """(signal, encoding, gzipped, body) of one fuzz input."""
    flags, body = (data[0], data[1:]) if data else (0, b"")
    signal = METRICS if flags & 8 else TRACES if flags & 1 else LOGS
    return signal, Encoding.JSON if flags & 2 else Encoding.PROTOBUF, bool(flags & 4), body
