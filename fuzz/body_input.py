"""How fuzz_body.py reads one input: its first byte chooses the format and gzip (bit 1
NDJSON, 2 gzip); the rest is the body.

Read by hand, as otlp_input.py does, rather than with atheris's FuzzedDataProvider, whose
integers come from the *end* of the input: a seed is then that byte and a valid body, and
the unit tests check that every committed seed decodes to events.
"""

from __future__ import annotations


def parse(data: bytes) -> tuple[bool, bool, bytes]:
    """(ndjson, gzipped, body) of one fuzz input."""
    flags, body = (data[0], data[1:]) if data else (0, b"")
    return bool(flags & 1), bool(flags & 2), body
