"""atheris fuzz target: OTLP/HTTP decoding and flattening (events_api.otlp).

Any bytes, gzipped or not, as an OTLP logs, traces or metrics body in protobuf or JSON: the path
answers with flat events (and a count of rejected items) or with one of the contract's
errors (ApiError), nothing else; every event is one JSON object on one line, at most
256 KiB. ``make fuzz`` runs it after the body decoder's target.

    python fuzz/fuzz_otlp.py fuzz/corpus-otlp -max_total_time=60

The first byte chooses the signal, encoding and gzip (fuzz/otlp_input.py); each seed in
fuzz/corpus-otlp is that byte followed by a valid body.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import atheris

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "shared"), str(ROOT / "fuzz")]

with atheris.instrument_imports():
    from otlp_input import parse

    from events_api.errors import ApiError
    from events_api.ingest import batch
    from events_api.otlp.decode import decode
    from events_api.settings import MAX_EVENT_BYTES


def TestOneInput(data: bytes) -> None:
    signal, encoding, gzipped, body = parse(data)
    try:
        message = decode(signal, batch.read_body(body, gzipped), encoding)
    except ApiError:
        return
    flattened = signal.flatten(message)
    if flattened.rejected < 0:
        raise AssertionError("a negative rejected count")
    for text in flattened.events:
        if b"\n" in text or len(text) > MAX_EVENT_BYTES:
            raise AssertionError("an event has a newline or is too large")
        if not isinstance(json.loads(text), dict):
            raise AssertionError(f"an event is not a JSON object: {text[:80]!r}")


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
