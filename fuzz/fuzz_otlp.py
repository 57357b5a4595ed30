"""atheris fuzz target: OTLP/HTTP decoding and flattening (events_api.otlp).

Any bytes, gzipped or not, as an OTLP logs or traces body in protobuf or JSON: the path
answers with flat events (and a count of rejected items) or with one of the contract's
errors (ApiError), nothing else; every event is one JSON object on one line, at most
256 KiB. ``make fuzz`` runs it after the body decoder's target.

    python fuzz/fuzz_otlp.py fuzz/corpus-otlp -max_total_time=60
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import atheris

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / "layers" / "shared")]

with atheris.instrument_imports():
    from events_api.errors import ApiError
    from events_api.ingest import batch
    from events_api.otlp.decode import LOGS, TRACES, Encoding, decode
    from events_api.otlp.flatten import flatten_logs, flatten_traces
    from events_api.settings import MAX_EVENT_BYTES


def TestOneInput(data: bytes) -> None:
    provider = atheris.FuzzedDataProvider(data)
    flags = provider.ConsumeIntInRange(0, 7)
    body = provider.ConsumeBytes(provider.remaining_bytes())
    traces, as_json, gzipped = bool(flags & 1), bool(flags & 2), bool(flags & 4)
    try:
        raw = batch.read_body(body, gzipped)
        encoding = Encoding.JSON if as_json else Encoding.PROTOBUF
        message = decode(TRACES if traces else LOGS, raw, encoding)
    except ApiError:
        return
    flattened = flatten_traces(message) if traces else flatten_logs(message)  # type: ignore[arg-type]
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
