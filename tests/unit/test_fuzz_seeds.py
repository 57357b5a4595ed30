"""The fuzz targets start from inputs that get past decoding: every committed OTLP seed is a
valid export of the signal, encoding and compression its name says, for every signal, and
every Events API seed a body of the format and compression its name says."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from events_api.ingest import batch
from events_api.otlp.decode import SIGNALS, Encoding, decode

pytestmark = pytest.mark.unit

FUZZ = Path(__file__).resolve().parents[2] / "fuzz"
SEEDS = sorted((FUZZ / "corpus-otlp").iterdir())


def fuzz_module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, FUZZ / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("seed", SEEDS, ids=lambda path: path.name)
def test_each_seed_is_a_valid_export_of_what_its_name_says(seed: Path) -> None:
    signal, encoding, gzipped, body = fuzz_module("otlp_input").parse(seed.read_bytes())
    assert seed.name.split("-")[0] == signal.name
    assert ("json" in seed.name) == (encoding is Encoding.JSON)
    assert ("gzip" in seed.name) == gzipped
    flattened = signal.flatten(decode(signal, batch.read_body(body, gzipped), encoding))
    assert flattened.events
    assert flattened.rejected == 0


def test_every_signal_has_seeds_in_both_encodings() -> None:
    kinds = {tuple(seed.name.split("-")[:2]) for seed in SEEDS}
    assert kinds == {(s.name, e) for s in SIGNALS.values() for e in ("json", "protobuf")}


BODY_SEEDS = sorted((FUZZ / "corpus").iterdir())


@pytest.mark.parametrize("seed", BODY_SEEDS, ids=lambda path: path.name)
def test_each_body_seed_decodes_to_events_in_the_format_its_name_says(seed: Path) -> None:
    ndjson, gzipped, body = fuzz_module("body_input").parse(seed.read_bytes())
    assert ndjson == ("ndjson" in seed.name)
    assert gzipped == ("gzip" in seed.name)
    raw = batch.read_body(body, gzipped)
    decoded = batch.parse_ndjson(raw) if ndjson else batch.parse_json(raw)
    assert decoded.events
