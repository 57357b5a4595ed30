"""The OTLP fuzz target starts from inputs that reach flattening: every committed seed is a
valid export of the signal, encoding and compression its name says, for every signal."""

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


def otlp_input() -> ModuleType:
    spec = importlib.util.spec_from_file_location("otlp_input", FUZZ / "otlp_input.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("seed", SEEDS, ids=lambda path: path.name)
def test_each_seed_is_a_valid_export_of_what_its_name_says(seed: Path) -> None:
    signal, encoding, gzipped, body = otlp_input().parse(seed.read_bytes())
    assert seed.name.split("-")[0] == signal.name
    assert ("json" in seed.name) == (encoding is Encoding.JSON)
    assert ("gzip" in seed.name) == gzipped
    flattened = signal.flatten(decode(signal, batch.read_body(body, gzipped), encoding))
    assert flattened.events
    assert flattened.rejected == 0


def test_every_signal_has_seeds_in_both_encodings() -> None:
    kinds = {tuple(seed.name.split("-")[:2]) for seed in SEEDS}
    assert kinds == {(s.name, e) for s in SIGNALS.values() for e in ("json", "protobuf")}
