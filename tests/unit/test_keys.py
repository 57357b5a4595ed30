"""Key format, checksum and hashing, and the bounded cache in front of the key store."""

from __future__ import annotations

import contextlib
import hashlib

import pytest

from events_api.ingest.keys import (
    KEY_LENGTH,
    MAX_STALE_SECONDS,
    KeyAuthenticator,
    KeyLookupThrottled,
    KeyRecord,
    KeyStoreUnavailable,
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
        self.failing = False

    def get(self, hashed_key: str) -> KeyRecord | None:
        self.calls.append(hashed_key)
        if self.failing:
            raise KeyStoreUnavailable("ThrottlingException: Rate exceeded")
        return self.records.get(hashed_key)


def authenticator(store: RecordingStore, clock: Clock, **overrides: float) -> KeyAuthenticator:
    options = {"ttl_seconds": 30.0, "max_entries": 100, "lookups_per_minute": 10.0}
    options.update(overrides)
    return KeyAuthenticator(
        store,
        ttl_seconds=options["ttl_seconds"],
        max_entries=int(options["max_entries"]),
        lookups_per_minute=options["lookups_per_minute"],
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


def throttled(auth: KeyAuthenticator, key: str) -> int:
    with pytest.raises(KeyLookupThrottled) as error:
        auth.authenticate(key)
    return error.value.retry_after_seconds


def test_flood_of_unknown_well_formed_keys_is_throttled_never_refused() -> None:
    store, clock = RecordingStore(), Clock()
    auth = authenticator(store, clock, lookups_per_minute=10)
    answers = []
    for _ in range(1000):
        try:
            answers.append(auth.authenticate(generate_key()))
        except KeyLookupThrottled as exc:
            answers.append(exc.retry_after_seconds)
    # Half the minute's allowance as a burst (looked up: definitely unknown), then 429s
    # telling the producer when the next look-up can happen (one every 12 s).
    assert answers[:5] == [None] * 5
    assert answers[5:] == [12] * 995
    assert len(store.calls) == 5


def test_a_fresh_valid_key_after_a_flood_is_throttled_then_served_never_401() -> None:
    store, clock = RecordingStore(), Clock()
    auth = authenticator(store, clock, lookups_per_minute=10)
    for _ in range(80):
        with contextlib.suppress(KeyLookupThrottled):
            auth.authenticate(generate_key())
    new = generate_key()
    store.records[key_hash(new)] = KeyRecord("new", "n", "t")
    retry_after = throttled(auth, new)
    clock.now += retry_after
    assert auth.authenticate(new) == KeyRecord("new", "n", "t")


def test_store_calls_in_any_minute_stay_within_twice_the_setting_whatever_the_traffic() -> None:
    good = [generate_key() for _ in range(50)]
    store = RecordingStore({key_hash(k): KeyRecord(str(i), "n", "t") for i, k in enumerate(good)})
    clock = Clock()
    auth = authenticator(store, clock, lookups_per_minute=10, ttl_seconds=5)
    call_times: list[float] = []
    for step in range(6000):  # ten minutes at ten requests a second, good and unknown keys
        clock.now += 0.1
        key = good[step % len(good)] if step % 3 else generate_key()
        before = len(store.calls)
        with contextlib.suppress(KeyLookupThrottled):
            auth.authenticate(key)
        call_times += [clock.now] * (len(store.calls) - before)
    worst = max(sum(1 for t in call_times if start <= t < start + 60) for start in call_times)
    assert worst <= 2 * 10


def test_known_good_key_refreshes_even_when_a_flood_emptied_the_new_key_bucket() -> None:
    good = generate_key()
    store, clock = RecordingStore({key_hash(good): KeyRecord("k", "n", "t")}), Clock()
    auth = authenticator(store, clock, ttl_seconds=10, lookups_per_minute=4)
    assert auth.authenticate(good) is not None
    clock.now += 11
    for _ in range(100):
        with contextlib.suppress(KeyLookupThrottled):
            auth.authenticate(generate_key())
    calls = len(store.calls)
    assert auth.authenticate(good) is not None
    assert len(store.calls) == calls + 1


def test_known_good_key_is_served_stale_while_its_refresh_is_throttled_until_the_bound() -> None:
    a, b, c = keys = [generate_key() for _ in range(3)]
    store = RecordingStore({key_hash(k): KeyRecord(str(i), "n", "t") for i, k in enumerate(keys)})
    clock = Clock()
    # Four a minute: bursts of two, one more token every 30 s, in each bucket.
    auth = authenticator(store, clock, ttl_seconds=10, lookups_per_minute=4)
    assert auth.authenticate(a)
    assert auth.authenticate(b)
    clock.now += 30
    assert auth.authenticate(c)
    clock.now += 11
    assert auth.authenticate(a)
    assert auth.authenticate(b)
    calls = len(store.calls)
    assert auth.authenticate(c) == KeyRecord("2", "n", "t")  # throttled: served stale
    assert len(store.calls) == calls
    store.records.pop(key_hash(c))  # revoked meanwhile
    clock.now += MAX_STALE_SECONDS - 11
    assert auth.authenticate(c) is None  # past the bound: looked up, never stale
    assert len(store.calls) == calls + 1


def test_a_good_key_idle_through_a_long_flood_is_looked_up_on_the_refresh_allowance() -> None:
    good = generate_key()
    store, clock = RecordingStore({key_hash(good): KeyRecord("k", "n", "t")}), Clock()
    auth = authenticator(store, clock, ttl_seconds=30, lookups_per_minute=10)
    assert auth.authenticate(good) is not None
    for _ in range(300):  # five minutes of unknown keys: the new-key allowance stays spent
        clock.now += 1
        with contextlib.suppress(KeyLookupThrottled):
            auth.authenticate(generate_key())
    assert auth.authenticate(good) == KeyRecord("k", "n", "t")


def test_known_good_key_is_served_from_cache_when_the_store_fails_within_the_bound() -> None:
    good = generate_key()
    store, clock = RecordingStore({key_hash(good): KeyRecord("k", "n", "t")}), Clock()
    auth = authenticator(store, clock, ttl_seconds=30, lookups_per_minute=100)
    assert auth.authenticate(good) == KeyRecord("k", "n", "t")
    store.failing = True
    clock.now += 45
    assert auth.authenticate(good) == KeyRecord("k", "n", "t")
    clock.now += 15  # 60 s since the store last confirmed it: no longer vouched for
    with pytest.raises(KeyStoreUnavailable):
        auth.authenticate(good)


def test_unknown_key_when_the_store_fails_is_unavailable_not_refused() -> None:
    store, clock = RecordingStore(), Clock()
    store.failing = True
    auth = authenticator(store, clock)
    with pytest.raises(KeyStoreUnavailable):
        auth.authenticate(generate_key())


def test_cache_is_bounded_and_evicts_least_recently_used() -> None:
    keys = [generate_key() for _ in range(5)]
    store = RecordingStore({key_hash(k): KeyRecord(str(i), "n", "t") for i, k in enumerate(keys)})
    clock = Clock()
    auth = authenticator(store, clock, max_entries=3, lookups_per_minute=100)
    for key in keys:
        auth.authenticate(key)
    assert len(auth._cache) == 3
    calls = len(store.calls)
    auth.authenticate(keys[0])  # evicted: looked up again
    assert len(store.calls) == calls + 1
