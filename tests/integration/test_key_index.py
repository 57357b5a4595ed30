"""`events-api keys` keeps the key index beside the key parameters, against moto: built by
the first key, kept by create and revoke, rebuilt by reindex, and no update lost when
writers overlap (verify-after-write by version, repair from the key parameters)."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import pytest
from moto.core import DEFAULT_ACCOUNT_ID as ACCOUNT_ID
from moto.ssm.models import ssm_backends

from events_api.ingest import key_index
from events_api.ingest.key_index import CAPACITY, SHARDS, KeyIndexFull, shard_names
from events_api.ingest.key_index_writer import KeyIndexWriter
from events_api.ingest.key_store import SsmKeyStore
from events_api.ingest.keys import KeyRecord, generate_key, key_hash
from tests.moto_bridge import OnCall

pytestmark = pytest.mark.integration

PATH = "/events-api/test/keys/"


def indexed(store: SsmKeyStore, keys: list[str]) -> dict[str, bool | None]:
    index = store.read_index()
    return {key: index.verdict(key_hash(key)) for key in keys}


def live_hashes(store: SsmKeyStore) -> set[bytes]:
    return {key_index.entry(name[len(PATH) :]) for name, _ in store.items()}


def index_entries(ssm: Any) -> set[bytes]:
    found: set[bytes] = set()
    for name in shard_names(PATH):
        value = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
        found |= key_index.decode(value) or set()
    return found


def test_the_first_key_builds_every_shard_as_a_standard_securestring(ssm) -> None:
    store = SsmKeyStore(PATH)
    key = generate_key()
    store.create(key, "k1", "first")
    described = ssm.describe_parameters(
        ParameterFilters=[{"Key": "Path", "Option": "Recursive", "Values": [PATH + "index"]}]
    )["Parameters"]
    assert sorted(p["Name"] for p in described) == sorted(shard_names(PATH))
    assert {(p["Type"], p["Tier"]) for p in described} == {("SecureString", "Standard")}
    other = generate_key()
    assert indexed(store, [key, other]) == {key: True, other: False}
    assert [record.id for _, record in store.items()] == ["k1"]  # the index is not a key


def test_create_and_revoke_keep_the_index_to_the_live_keys(ssm) -> None:
    store = SsmKeyStore(PATH)
    keys = [generate_key() for _ in range(6)]
    for n, key in enumerate(keys):
        store.create(key, f"k{n}", "n")
    assert all(indexed(store, keys).values())
    assert store.revoke("k2") is True
    assert indexed(store, [keys[2]]) == {keys[2]: False}
    assert index_entries(ssm) == live_hashes(store)
    assert store.revoke("k2") is False


def test_the_function_reads_the_whole_index_in_one_call(ssm) -> None:
    store = SsmKeyStore(PATH)
    keys = [generate_key() for _ in range(20)]
    for n, key in enumerate(keys):
        store.create(key, f"k{n}", "n")
    calls: list[str] = []
    hook = OnCall("ssm", "GetParameters", before_call=lambda c: calls.append(c.operation)).install()
    try:
        index = store.read_index()
    finally:
        hook.uninstall()
    assert calls == ["GetParameters"]
    assert index.unreadable == frozenset()
    assert all(index.verdict(key_hash(key)) for key in keys)


def test_reindex_brings_in_keys_made_by_hand_and_drops_keys_deleted_by_hand(ssm) -> None:
    store = SsmKeyStore(PATH)
    kept, deleted = generate_key(), generate_key()
    store.create(kept, "kept", "n")
    store.create(deleted, "deleted", "n")
    by_hand = generate_key()
    doc = KeyRecord("hand", "made by hand", "2026-11-30T00:00:00Z").to_json().decode()
    ssm.put_parameter(Name=PATH + key_hash(by_hand), Value=doc, Type="SecureString")
    ssm.delete_parameter(Name=PATH + key_hash(deleted))
    revoked_mark = generate_key()
    marked = orjson.loads(doc) | {"revokedAt": "2026-12-01T00:00:00Z"}
    ssm.put_parameter(
        Name=PATH + key_hash(revoked_mark), Value=orjson.dumps(marked).decode(), Type="SecureString"
    )
    assert indexed(store, [by_hand, deleted]) == {by_hand: False, deleted: True}
    assert store.reindex() == 2
    assert indexed(store, [kept, by_hand, deleted, revoked_mark]) == {
        kept: True,
        by_hand: True,
        deleted: False,
        revoked_mark: False,
    }


def test_a_shard_overwritten_with_something_unreadable_is_rebuilt_on_the_next_change(
    ssm,
) -> None:
    store = SsmKeyStore(PATH)
    first = generate_key()
    store.create(first, "first", "n")
    for name in shard_names(PATH):
        ssm.put_parameter(Name=name, Value="garbage", Type="SecureString", Overwrite=True)
    assert store.read_index().unreadable == set(range(SHARDS))
    second = generate_key()
    store.create(second, "second", "n")
    assert indexed(store, [first, second]) == {first: True, second: True}
    assert store.read_index().unreadable == frozenset()


def test_a_full_shard_refuses_the_key_and_leaves_no_parameter_behind(ssm) -> None:
    store = SsmKeyStore(PATH)
    store.create(generate_key(), "k0", "n")
    key = generate_key()
    shard = key_index.shard_of(key_index.entry(key_hash(key)))
    full: set[bytes] = set()
    while len(full) < CAPACITY:  # entries of keys made elsewhere, filling the key's shard
        item = random.randbytes(key_index.ENTRY_BYTES)
        if key_index.shard_of(item) == shard:
            full.add(item)
    ssm.put_parameter(
        Name=shard_names(PATH)[shard],
        Value=key_index.encode(full),
        Type="SecureString",
        Overwrite=True,
    )
    with pytest.raises(KeyIndexFull):
        store.create(key, "k1", "one too many")
    assert [record.id for _, record in store.items()] == ["k0"]


def test_a_write_landing_between_another_writers_read_and_write_is_repaired(
    ssm, monkeypatch
) -> None:
    """Two creates in the same shard, interleaved: B writes between A's read and A's write.
    A's write then overwrites B's entry, sees a version that is not one past its read, and
    rebuilds the shard from the key parameters."""
    store = SsmKeyStore(PATH)
    store.create(generate_key(), "k0", "builds the index")
    first = generate_key()
    shard = key_index.shard_of(key_index.entry(key_hash(first)))
    second = generate_key()
    while key_index.shard_of(key_index.entry(key_hash(second))) != shard:
        second = generate_key()
    read_shard = KeyIndexWriter._read_shard
    interleaved: list[str] = []

    def read_then_let_another_writer_in(self: KeyIndexWriter, n: int) -> Any:
        answer = read_shard(self, n)
        if not interleaved:
            interleaved.append("B")
            SsmKeyStore(PATH).create(second, "B", "writes in between")
        return answer

    monkeypatch.setattr(KeyIndexWriter, "_read_shard", read_then_let_another_writer_in)
    store.create(first, "A", "overwrites B's entry, then repairs it")
    monkeypatch.undo()
    assert interleaved == ["B"]
    assert indexed(store, [first, second]) == {first: True, second: True}
    assert index_entries(ssm) == live_hashes(store)


@contextmanager
def one_call_at_a_time() -> Iterator[None]:
    """Each SSM call is atomic: one PutParameter gets one version of its own. moto's backend
    reads the last version and appends the next without a lock (and lists while others
    write), so two threads can be handed the same version. One lock around each call
    restores what SSM does; the calls of a writer still interleave with the others'."""
    backend = type(ssm_backends[ACCOUNT_ID]["us-east-1"])
    lock = threading.RLock()
    with pytest.MonkeyPatch.context() as patch:
        for name in (
            "put_parameter",
            "delete_parameter",
            "get_parameter",
            "get_parameters",
            "get_parameters_by_path",
            "get_parameter_history",
            "describe_parameters",
        ):
            patch.setattr(backend, name, _locked(getattr(backend, name), lock))
        yield


def _locked(method: Any, lock: Any) -> Any:
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        with lock:
            return method(self, *args, **kwargs)

    return call


def test_concurrent_creates_and_revokes_lose_no_update(ssm, monkeypatch) -> None:
    """Eight writers at once, each creating keys and revoking every other one it made: the
    index ends holding exactly the live keys, though writers overwrote each other."""
    store = SsmKeyStore(PATH)
    store.create(generate_key(), "k0", "builds the index")
    repairs: list[int] = []
    repair = KeyIndexWriter._repair

    def counted(self: KeyIndexWriter, shard: int, *args: Any) -> None:
        repairs.append(shard)
        repair(self, shard, *args)

    monkeypatch.setattr(KeyIndexWriter, "_repair", counted)
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        # Revoked by hash (what revoke does once it has found the id): finding an id lists
        # every key, and moto pages a listing by offset, which skips keys when others
        # delete meanwhile.
        try:
            mine = SsmKeyStore(PATH)
            start.wait()
            made = []
            for m in range(12):
                made.append(generate_key())
                mine.create(made[-1], f"w{n}-{m}", "concurrent")
                if m % 2:
                    assert mine.delete(key_hash(made[-2]))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    with one_call_at_a_time():
        threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    live = live_hashes(store)
    assert len(live) == 1 + 8 * 6
    assert index_entries(ssm) == live
    assert repairs  # the writers did overwrite each other, and repaired it
