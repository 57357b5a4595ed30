"""Key format, checksum and hashing, and the bounded cache in front of the key store."""

from __future__ import annotations

import hashlib

import pytest

from events_api.keys import (
    KEY_LENGTH,
    KeyAuthenticator,
    KeyRecord,
    checksum,
    generate_key,
    is_well_formed,
    key_hash,
)

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class RecordingStore:
    """Our own KeyStore protocol (not an AWS API): counts look-ups."""

    def __init__(self, records: dict[str, KeyRecord] | None = None) -> None:
        self.records = dict(records or {})
        self.calls: list[str] = []

    def get(self, hashed_key: str) -> KeyRecord | None:
        self.calls.append(hashed_key)
        return self.records.get(hashed_key)


def authenticator(store: RecordingStore, clock: Clock, **overrides: float) -> KeyAuthenticator:
    options = {"ttl_seconds": 30.0, "max_entries": 100, "lookups_per_second": 5.0}
    options.update(overrides)
    return KeyAuthenticator(
        store,
        ttl_seconds=options["ttl_seconds"],
        max_entries=int(options["max_entries"]),
        lookups_per_second=options["lookups_per_second"],
        clock=clock,
    )


def test_generated_keys_have_prefix_length_and_valid_checksum() -> None:
    keys = {generate_key() for _ in range(200)}
    assert len(keys) == 200
    for key in keys:
        assert key.startswith("evk_")
        assert len(key) == KEY_LENGTH == 42
        assert is_well_formed(key)
        assert key[-6:] == checksum(key[4:36])


@pytest.mark.parametrize(
    "mutate",
    [
        lambda k: k[:-1],
        lambda k: k + "0",
        lambda k: "evx_" + k[4:],
        lambda k: k.upper(),
        lambda k: k[:10] + ("A" if k[10] != "A" else "B") + k[11:],
        lambda k: k[:-1] + ("0" if k[-1] != "0" else "1"),
        lambda k: k[:20] + "-" + k[21:],
        lambda k: "",
    ],
    ids=[
        "truncated",
        "extended",
        "prefix",
        "case",
        "body-char",
        "checksum-char",
        "symbol",
        "empty",
    ],
)
def test_mutated_keys_fail_the_format_or_checksum(mutate) -> None:
    key = generate_key()
    while key.upper() == key:  # pragma: no cover - astronomically unlikely
        key = generate_key()
    assert not is_well_formed(mutate(key))


def test_key_hash_is_sha256_hex_of_the_key() -> None:
    key = generate_key()
    assert key_hash(key) == hashlib.sha256(key.encode()).hexdigest()


def test_key_record_round_trips_and_revoked_or_malformed_documents_are_not_live() -> None:
    record = KeyRecord("k1", "ci", "2026-11-26T00:00:00Z", ("logs", "metrics"))
    assert KeyRecord.from_json(record.to_json()) == record
    assert KeyRecord.from_json(b'{"id":"k","name":"n","createdAt":"t","revokedAt":"x"}') is None
    assert KeyRecord.from_json(b"not json") is None
    assert KeyRecord.from_json(b'{"id":"k"}') is None
    assert KeyRecord.from_json(b'{"id":"k","name":"n","createdAt":"t","datasets":"logs"}') is None


def test_dataset_allow_list_limits_a_key() -> None:
    assert KeyRecord("k", "n", "t").allows("anything")
    limited = KeyRecord("k", "n", "t", ("logs",))
    assert limited.allows("logs")
    assert not limited.allows("metrics")


def test_malformed_keys_never_reach_the_store() -> None:
    store, clock = RecordingStore(), Clock()
    auth = authenticator(store, clock)
    for bad in [None, "", "evk_short", "Bearer x", generate_key()[:-1] + "!"]:
        assert auth.authenticate(bad) is None
    assert store.calls == []


def test_known_key_is_looked_up_once_then_served_from_cache_until_ttl() -> None:
    key = generate_key()
    record = KeyRecord("k1", "n", "t")
    store, clock = RecordingStore({key_hash(key): record}), Clock()
    auth = authenticator(store, clock, ttl_seconds=30)
    assert auth.authenticate(key) == record
    clock.now += 29
    assert auth.authenticate(key) == record
    assert len(store.calls) == 1
    # Revocation: once the entry expires the store's answer wins.
    del store.records[key_hash(key)]
    clock.now += 2
    assert auth.authenticate(key) is None
    assert len(store.calls) == 2


def test_unknown_key_is_cached_negatively_and_a_new_key_is_seen_after_ttl() -> None:
    key = generate_key()
    store, clock = RecordingStore(), Clock()
    auth = authenticator(store, clock, ttl_seconds=10)
    assert auth.authenticate(key) is None
    assert auth.authenticate(key) is None
    assert len(store.calls) == 1
    store.records[key_hash(key)] = KeyRecord("k", "n", "t")
    clock.now += 11
    assert auth.authenticate(key) is not None


def test_flood_of_unknown_well_formed_keys_is_bounded_by_the_token_bucket() -> None:
    store, clock = RecordingStore(), Clock()
    auth = authenticator(store, clock, lookups_per_second=5)
    for _ in range(1000):
        assert auth.authenticate(generate_key()) is None
    assert len(store.calls) == 5  # the burst, nothing more within the same instant
    clock.now += 1
    for _ in range(1000):
        auth.authenticate(generate_key())
    assert len(store.calls) == 10


def test_known_good_key_refreshes_even_when_a_flood_emptied_the_bucket() -> None:
    good = generate_key()
    store, clock = RecordingStore({key_hash(good): KeyRecord("k", "n", "t")}), Clock()
    auth = authenticator(store, clock, ttl_seconds=10, lookups_per_second=2)
    assert auth.authenticate(good) is not None
    clock.now += 11
    for _ in range(100):
        auth.authenticate(generate_key())
    assert auth.authenticate(good) is not None


def test_cache_is_bounded_and_evicts_least_recently_used() -> None:
    keys = [generate_key() for _ in range(5)]
    store = RecordingStore({key_hash(k): KeyRecord(str(i), "n", "t") for i, k in enumerate(keys)})
    clock = Clock()
    auth = authenticator(store, clock, max_entries=3, lookups_per_second=100)
    for key in keys:
        auth.authenticate(key)
    assert len(auth._cache) == 3
    calls = len(store.calls)
    auth.authenticate(keys[0])  # evicted: looked up again
    assert len(store.calls) == calls + 1
