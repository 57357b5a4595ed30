"""Key format, checksum and hashing, and the bounded cache in front of the key store."""

from __future__ import annotations

import contextlib
import hashlib
import threading

import pytest

from events_api.ingest.key_index import REFRESH_SECONDS, KeyIndex, shard_values
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


PATH = "/unit/keys/"


class RecordingStore:
    """Our own KeyStore protocol (not an AWS API): counts look-ups and index reads.

    The index starts with every record's hash; without one (``with_index=False``, a
    deployment whose keys predate the index) every shard is unreadable and keys are looked
    up one by one.
    """

    def __init__(
        self, records: dict[str, KeyRecord] | None = None, *, with_index: bool = True
    ) -> None:
        self.records = dict(records or {})
        self.indexed: set[str] | None = set(self.records) if with_index else None
        self.calls: list[str] = []
        self.index_reads = 0
        self.failing = False
        self.index_failing = False

    def add(self, key: str, record: KeyRecord) -> None:
        """What ``events-api keys create`` does: the record, then the index entry."""
        self.records[key_hash(key)] = record
        if self.indexed is not None:
            self.indexed.add(key_hash(key))

    def get(self, hashed_key: str) -> KeyRecord | None:
        self.calls.append(hashed_key)
        if self.failing:
            raise KeyStoreUnavailable("ThrottlingException: Rate exceeded")
        return self.records.get(hashed_key)

    def read_index(self) -> KeyIndex:
        self.index_reads += 1
        if self.index_failing:
            raise KeyStoreUnavailable("ThrottlingException: Rate exceeded")
        if self.indexed is None:
            return KeyIndex.from_values(PATH, {})
        return KeyIndex.from_values(PATH, shard_values(PATH, self.indexed))

    @property
    def store_calls(self) -> int:
        return len(self.calls) + self.index_reads


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


def unindexed(records: dict[str, KeyRecord] | None = None) -> RecordingStore:
    """A store without an index: the look-up buckets alone bound the calls."""
    return RecordingStore(records, with_index=False)


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
    assert store.store_calls == 0


def test_known_key_is_looked_up_once_then_served_from_cache_until_ttl() -> None:
    key = generate_key()
    record = KeyRecord("k1", "n", "t")
    store, clock = RecordingStore({key_hash(key): record}), Clock()
    auth = authenticator(store, clock, ttl_seconds=30)
    assert auth.authenticate(key) == record
    clock.now += 29
    assert auth.authenticate(key) == record
    assert (store.index_reads, len(store.calls)) == (1, 1)
    # Revocation: once the entry expires the store's answer wins, whatever the index says.
    del store.records[key_hash(key)]
    clock.now += 2
    assert auth.authenticate(key) is None
    assert (store.index_reads, len(store.calls)) == (1, 2)


def test_flood_of_unknown_keys_is_refused_from_the_index_reading_it_once_per_interval() -> None:
    """A well-formed unknown key costs no store call of its own: 401 from memory. The index
    is read again (it may hold a key created since) at most once per REFRESH_SECONDS."""
    store, clock = RecordingStore(), Clock()
    auth = authenticator(store, clock, lookups_per_minute=10)
    answers = []
    for _ in range(1000):  # a hundred seconds at ten keys a second
        answers.append(auth.authenticate(generate_key()))
        clock.now += 0.1
    assert answers == [None] * 1000
    assert store.calls == []
    assert store.index_reads == 100 / REFRESH_SECONDS
    assert auth._cache == {}  # the flood leaves the cache to the keys that exist


def test_a_key_created_after_the_index_was_read_is_served_once_that_copy_is_old() -> None:
    """Why `events-api keys create` waits REFRESH_SECONDS before it prints a key: until the
    instance's copy of the index is that old, a key missing from it is refused."""
    store, clock = RecordingStore(), Clock()
    auth = authenticator(store, clock)
    assert auth.authenticate(generate_key()) is None  # the instance reads the index
    new = generate_key()
    store.add(new, KeyRecord("new", "n", "t"))
    clock.now += REFRESH_SECONDS / 2
    assert auth.authenticate(new) is None
    clock.now += REFRESH_SECONDS / 2
    assert auth.authenticate(new) == KeyRecord("new", "n", "t")
    assert (store.index_reads, len(store.calls)) == (2, 1)


def test_a_new_key_is_served_on_its_first_request_during_a_flood_warm_or_cold() -> None:
    """As `events-api keys create` hands it out (REFRESH_SECONDS after its index entry)."""
    store, clock = RecordingStore(), Clock()
    warm = authenticator(store, clock, lookups_per_minute=1)
    for _ in range(500):
        assert warm.authenticate(generate_key()) is None
    new = generate_key()
    store.add(new, KeyRecord("new", "n", "t"))
    clock.now += REFRESH_SECONDS
    cold = authenticator(store, clock, lookups_per_minute=1)
    for auth in (warm, cold):
        for _ in range(500):
            assert auth.authenticate(generate_key()) is None
        assert auth.authenticate(new) == KeyRecord("new", "n", "t")


def test_a_revoked_key_still_in_an_old_copy_is_looked_up_and_refused() -> None:
    key = generate_key()
    store, clock = RecordingStore({key_hash(key): KeyRecord("k", "n", "t")}), Clock()
    auth = authenticator(store, clock, ttl_seconds=10)
    assert auth.authenticate(generate_key()) is None  # index read with the key in it
    del store.records[key_hash(key)]  # revoked: the parameter goes first
    assert auth.authenticate(key) is None
    assert auth.authenticate(key) is None  # cached as absent
    assert (store.index_reads, len(store.calls)) == (1, 1)


def test_store_calls_in_any_minute_stay_within_the_bound_whatever_the_traffic() -> None:
    """Twice the setting for look-ups, and an index read every REFRESH_SECONDS at most."""
    good = [generate_key() for _ in range(50)]
    records = {key_hash(k): KeyRecord(str(i), "n", "t") for i, k in enumerate(good)}
    for store in (RecordingStore(records), unindexed(records)):
        clock = Clock()
        auth = authenticator(store, clock, lookups_per_minute=10, ttl_seconds=5)
        call_times: list[float] = []
        for step in range(6000):  # ten minutes at ten requests a second, good and unknown keys
            clock.now += 0.1
            key = good[step % len(good)] if step % 3 else generate_key()
            before = store.store_calls
            with contextlib.suppress(KeyLookupThrottled):
                auth.authenticate(key)
            call_times += [clock.now] * (store.store_calls - before)
        worst = max(sum(1 for t in call_times if start <= t < start + 60) for start in call_times)
        assert worst <= 2 * 10 + 60 / REFRESH_SECONDS


def test_index_reads_during_an_outage_are_spaced_and_unknown_keys_get_unavailable() -> None:
    """SSM failing: 503 rather than 401 (the key may be new), one read per interval."""
    known = generate_key()
    store, clock = RecordingStore({key_hash(known): KeyRecord("k", "n", "t")}), Clock()
    auth = authenticator(store, clock, ttl_seconds=30)
    assert auth.authenticate(generate_key()) is None  # a copy of the index, with `known`
    store.index_failing = True
    clock.now += REFRESH_SECONDS
    for _ in range(100):
        with pytest.raises(KeyStoreUnavailable):
            auth.authenticate(generate_key())
    assert store.index_reads == 2
    # A key in the old copy is still looked up in its own parameter.
    assert auth.authenticate(known) == KeyRecord("k", "n", "t")
    store.index_failing = False
    clock.now += REFRESH_SECONDS
    assert auth.authenticate(generate_key()) is None
    assert store.index_reads == 3


def test_a_cold_instance_whose_index_read_fails_answers_unavailable_not_refused() -> None:
    store, clock = RecordingStore(), Clock()
    store.index_failing = True
    auth = authenticator(store, clock)
    with pytest.raises(KeyStoreUnavailable):
        auth.authenticate(generate_key())


def test_index_reads_never_spend_the_look_up_allowance() -> None:
    """Their interval bounds them: a flood is answered 401 whatever KeyLookupsPerMinute."""
    key = generate_key()
    store, clock = RecordingStore({key_hash(key): KeyRecord("k", "n", "t")}), Clock()
    auth = authenticator(store, clock, lookups_per_minute=1)  # a burst of one
    for _ in range(100):
        clock.now += REFRESH_SECONDS
        assert auth.authenticate(generate_key()) is None
    assert store.index_reads == 100
    assert auth.authenticate(key) == KeyRecord("k", "n", "t")


def test_keys_in_shards_that_cannot_be_read_are_looked_up_one_by_one() -> None:
    """A deployment whose keys predate the index: the look-up buckets, as before it."""
    store, clock = unindexed(), Clock()
    auth = authenticator(store, clock, lookups_per_minute=10)
    answers = []
    for _ in range(100):
        try:
            answers.append(auth.authenticate(generate_key()))
        except KeyLookupThrottled as exc:
            answers.append(exc.retry_after_seconds)
    # A burst of five look-ups, then 429s telling the producer when the next look-up can
    # happen (one every 12 s).
    assert answers[:5] == [None] * 5
    assert answers[5:] == [12] * 95
    assert (store.index_reads, len(store.calls)) == (1, 5)


def test_a_shard_that_could_not_be_read_is_read_again_after_ttl() -> None:
    """`events-api keys reindex` on an upgraded stack takes effect within the TTL."""
    key = generate_key()
    store, clock = unindexed({key_hash(key): KeyRecord("k", "n", "t")}), Clock()
    auth = authenticator(store, clock, ttl_seconds=30, lookups_per_minute=100)
    assert auth.authenticate(generate_key()) is None  # looked up: absent
    store.indexed = {key_hash(key)}
    clock.now += 29
    auth.authenticate(generate_key())
    assert (store.index_reads, len(store.calls)) == (1, 2)
    clock.now += 1
    assert auth.authenticate(generate_key()) is None
    assert (store.index_reads, len(store.calls)) == (2, 2)  # now refused from the index


def test_with_a_zero_ttl_every_unknown_key_reads_the_index() -> None:
    store, clock = RecordingStore(), Clock()
    auth = authenticator(store, clock, ttl_seconds=0, lookups_per_minute=1000)
    new = generate_key()
    assert auth.authenticate(generate_key()) is None
    store.add(new, KeyRecord("new", "n", "t"))
    assert auth.authenticate(new) == KeyRecord("new", "n", "t")
    assert store.index_reads == 2


def test_threads_flooding_one_instance_share_its_index_reads() -> None:
    store, clock = RecordingStore(), Clock()
    auth = authenticator(store, clock)

    def flood() -> None:
        for _ in range(200):
            assert auth.authenticate(generate_key()) is None

    threads = [threading.Thread(target=flood) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.index_reads == 1


def throttled(auth: KeyAuthenticator, key: str) -> int:
    with pytest.raises(KeyLookupThrottled) as error:
        auth.authenticate(key)
    return error.value.retry_after_seconds


def test_known_good_key_refreshes_even_when_unknown_keys_emptied_the_new_key_bucket() -> None:
    good = generate_key()
    store, clock = unindexed({key_hash(good): KeyRecord("k", "n", "t")}), Clock()
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
    assert auth.authenticate(a)  # the index read and a's look-up
    clock.now += 30
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
    store, clock = unindexed({key_hash(good): KeyRecord("k", "n", "t")}), Clock()
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
    store.failing = store.index_failing = True
    clock.now += 45
    assert auth.authenticate(good) == KeyRecord("k", "n", "t")
    clock.now += 15  # 60 s since the store last confirmed it: no longer vouched for
    with pytest.raises(KeyStoreUnavailable):
        auth.authenticate(good)


def test_indexed_key_when_the_store_fails_is_unavailable_not_refused() -> None:
    key = generate_key()
    store, clock = RecordingStore({key_hash(key): KeyRecord("k", "n", "t")}), Clock()
    store.failing = True
    auth = authenticator(store, clock)
    with pytest.raises(KeyStoreUnavailable):
        auth.authenticate(key)


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
