"""The key index's format: entries, shards, the value's encoding and its size limit."""

from __future__ import annotations

import base64
import os
from collections import Counter

import pytest

from events_api.ingest.key_index import (
    CAPACITY,
    ENTRY_BYTES,
    MAX_VALUE_CHARS,
    SHARDS,
    KeyIndex,
    KeyIndexFull,
    decode,
    encode,
    entry,
    shard_names,
    shard_of,
    shard_values,
)
from events_api.ingest.keys import generate_key, key_hash

pytestmark = pytest.mark.unit

PATH = "/team/keys/"


def entries_in(shard: int, count: int) -> set[bytes]:
    found: set[bytes] = set()
    while len(found) < count:
        item = os.urandom(ENTRY_BYTES)
        if shard_of(item) == shard:
            found.add(item)
    return found


def test_shards_sit_one_level_below_the_key_path_where_key_listing_does_not_reach() -> None:
    assert shard_names(PATH) == [f"/team/keys/index/{n}" for n in range(SHARDS)]


def test_an_entry_is_the_first_six_bytes_of_the_key_hash() -> None:
    key = generate_key()
    assert entry(key_hash(key)) == bytes.fromhex(key_hash(key))[:6]


def test_keys_spread_evenly_over_the_shards() -> None:
    counts = Counter(shard_of(entry(key_hash(generate_key()))) for _ in range(20_000))
    assert set(counts) == set(range(SHARDS))
    assert max(counts.values()) < 1.1 * 20_000 / SHARDS


def test_a_shard_round_trips_sorted_and_tagged() -> None:
    items = entries_in(3, 100)
    value = encode(items)
    assert value.startswith("1:")
    assert base64.b64decode(value[2:]) == b"".join(sorted(items))
    assert decode(value) == items
    assert decode(encode(set())) == frozenset()


def test_a_full_shard_fits_a_standard_parameter_and_one_more_entry_is_refused() -> None:
    items = entries_in(0, CAPACITY + 1)
    full = encode(list(items)[:CAPACITY])
    assert len(full) <= MAX_VALUE_CHARS
    assert CAPACITY == 511
    with pytest.raises(KeyIndexFull, match="at most 511 keys"):
        encode(items)


@pytest.mark.parametrize("value", ["", "2:AAAAAAAA", "1:not base64!", "1:AAAA", "[]"])
def test_a_value_this_version_cannot_read_is_none(value: str) -> None:
    assert decode(value) is None


def test_the_index_says_yes_no_or_cannot_tell() -> None:
    present, absent = generate_key(), generate_key()
    values = shard_values(PATH, [key_hash(present)])
    index = KeyIndex.from_values(PATH, values)
    assert index.unreadable == frozenset()
    assert index.verdict(key_hash(present)) is True
    assert index.verdict(key_hash(absent)) is False
    missing_shard = shard_of(entry(key_hash(absent)))
    del values[shard_names(PATH)[missing_shard]]
    partial = KeyIndex.from_values(PATH, values)
    assert partial.unreadable == {missing_shard}
    assert partial.verdict(key_hash(absent)) is None


def test_an_entry_written_into_the_wrong_shard_is_ignored() -> None:
    key = key_hash(generate_key())
    right = shard_of(entry(key))
    wrong = (right + 1) % SHARDS
    values = shard_values(PATH, [])
    values[shard_names(PATH)[wrong]] = encode([entry(key)])
    assert KeyIndex.from_values(PATH, values).verdict(key) is False


def test_an_index_without_parameters_cannot_tell_anything() -> None:
    index = KeyIndex.from_values(PATH, {})
    assert index.unreadable == set(range(SHARDS))
    assert index.verdict(key_hash(generate_key())) is None


def test_an_index_of_4000_keys_fits_and_random_unknown_keys_do_not_match_it() -> None:
    """48 bits: 20,000 unknown keys against 4,000 entries, 3e-7 matches expected (and
    4,000 keys overflow a shard about once in 100,000 indexes)."""
    keys = [key_hash(generate_key()) for _ in range(4_000)]
    index = KeyIndex.from_values(PATH, shard_values(PATH, keys))
    assert all(index.verdict(key) for key in keys)
    assert not any(index.verdict(key_hash(generate_key())) for _ in range(20_000))
