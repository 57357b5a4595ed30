"""atheris fuzz target: the ingest body decoder (gzip cap, JSON / NDJSON, per-event checks).

Any bytes, gzipped or not, as a JSON or an NDJSON body: the decoder answers with events or
with one of the contract's errors (ApiError), nothing else; every accepted event is one JSON
object on one line, at most 256 KiB. ``make fuzz`` runs it for a bounded time; a crash
leaves its input as ``crash-*`` in build/fuzz/.

    python fuzz/fuzz_body.py fuzz/corpus -max_total_time=60
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

import atheris

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "shared"), str(ROOT / "fuzz")]

with atheris.instrument_imports():
    from body_input import parse

    from events_api.errors import ApiError
    from events_api.ingest import batch
    from events_api.settings import MAX_EVENT_BYTES


def TestOneInput(data: bytes) -> None:
    ndjson, gzipped, body = parse(data)
    try:
        raw = batch.read_body(body, gzipped)
        decoded = batch.parse_ndjson(raw) if ndjson else batch.parse_json(raw)
    except ApiError:
        return
    if not decoded.events and not decoded.invalid:
        raise AssertionError("a decoded batch with neither events nor invalid ones")
    for event in decoded.events:
        text = bytes(event)
        if not text.startswith(b"{") or not text.endswith(b"}"):
            raise AssertionError(f"accepted event is not an object: {text[:80]!r}")
        if b"\n" in text or len(text) > MAX_EVENT_BYTES:
            raise AssertionError("accepted event has a newline or is too large")
        # A second parser agrees it is JSON (unless it is deeper than Python's parser goes).
        with contextlib.suppress(RecursionError):
            json.loads(text)


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
