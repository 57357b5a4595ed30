"""The key index: every live key's hash, cut short, in a few parameters beside the keys.

The ingest function reads the whole index with one ``GetParameters`` call and then answers a
well-formed key that is not in it 401 from memory, so that a flood of unknown keys costs no
call of its own; only keys in the index are looked up one by one. The index only ever says
"no": a key in it is still looked up in its own parameter, the store of record.

Layout, a rule shared by the function (which reads it) and ``events-api keys`` (which keeps
it): ``SHARDS`` SecureString parameters ``{API_KEYS_PATH}index/{n}``, each holding the first
``ENTRY_BYTES`` bytes of the SHA-256 of every live key whose entry falls in shard ``n``,
sorted, base64'd after a format tag. Six bytes (48 bits) of a hash of a 190-bit random key:
a random unknown key matches one of 5,000 entries once in 56 billion, and then costs a
single look-up. A standard parameter holds 4,096 characters, so a shard holds 511 entries
and the index at least 4,500 keys (99 times in 100; 4,800 half the time) before its fullest
shard is full, when ``events-api keys create`` refuses, saying so; the account's own limit
is 10,000 standard parameters a Region, keys included.
A shard that is missing or unreadable is not "empty": keys that fall in it are looked up
one by one, as they were before the index existed.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

SHARDS = 10
ENTRY_BYTES = 6
#: The value's first characters: the format, so that a later one can be told apart.
TAG = "1:"
#: A standard-tier parameter's value (Parameter Store, 2025): advanced parameters hold 8 KB
#: but are billed per parameter-month and per API interaction, reads included.
MAX_VALUE_CHARS = 4096
#: Base64 of six bytes is eight characters, with no padding.
CAPACITY = (MAX_VALUE_CHARS - len(TAG)) // (ENTRY_BYTES * 4 // 3)
#: ``events-api keys create`` waits this long before it prints a key, and an instance reads
#: the index again when a key is missing from a copy older than this (at most once in this
#: many seconds, whatever the traffic): so no instance can answer a printed key 401.
REFRESH_SECONDS = 5.0


class KeyIndexFull(Exception):
    """A shard would exceed a standard parameter's size."""


def folder(keys_path: str) -> str:
    return f"{keys_path}index/"


def shard_name(keys_path: str, shard: int) -> str:
    return f"{folder(keys_path)}{shard}"


def shard_names(keys_path: str) -> list[str]:
    return [shard_name(keys_path, n) for n in range(SHARDS)]


def entry(hashed_key: str) -> bytes:
    """The index entry of a key hash (64 hex characters)."""
    return bytes.fromhex(hashed_key[: 2 * ENTRY_BYTES])


def shard_of(item: bytes) -> int:
    return int.from_bytes(item[:4], "big") % SHARDS


def group(hashed_keys: Iterable[str]) -> dict[int, frozenset[bytes]]:
    """Every shard's entries for these key hashes (empty shards included)."""
    shards: dict[int, set[bytes]] = {n: set() for n in range(SHARDS)}
    for hashed in hashed_keys:
        item = entry(hashed)
        shards[shard_of(item)].add(item)
    return {n: frozenset(items) for n, items in shards.items()}


def shard_values(keys_path: str, hashed_keys: Iterable[str]) -> dict[str, str]:
    """Every shard parameter's value for an index of exactly these key hashes."""
    return {shard_name(keys_path, n): encode(items) for n, items in group(hashed_keys).items()}


def encode(entries: Iterable[bytes]) -> str:
    items = sorted(set(entries))
    if len(items) > CAPACITY:
        raise KeyIndexFull(
            f"a key index shard holds at most {CAPACITY} keys and this one would hold "
            f"{len(items)}: revoke keys that are no longer used"
        )
    return TAG + base64.b64encode(b"".join(items)).decode("ascii")


def decode(value: str) -> frozenset[bytes] | None:
    """A shard's entries; None for a value this version cannot read."""
    if not value.startswith(TAG):
        return None
    try:
        raw = base64.b64decode(value[len(TAG) :], validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(raw) % ENTRY_BYTES:
        return None
    return frozenset(raw[n : n + ENTRY_BYTES] for n in range(0, len(raw), ENTRY_BYTES))


@dataclass(frozen=True, slots=True)
class KeyIndex:
    """One reading of the index: the entries of the shards it could read."""

    entries: frozenset[bytes]
    unreadable: frozenset[int]

    @classmethod
    def from_values(cls, keys_path: str, values: Mapping[str, str]) -> KeyIndex:
        """From shard parameter values by name; a shard absent from ``values`` is
        unreadable."""
        entries: set[bytes] = set()
        unreadable: set[int] = set()
        for shard, name in enumerate(shard_names(keys_path)):
            decoded = decode(values[name]) if name in values else None
            if decoded is None:
                unreadable.add(shard)
            else:
                entries |= {e for e in decoded if shard_of(e) == shard}
        return cls(frozenset(entries), frozenset(unreadable))

    def verdict(self, hashed_key: str) -> bool | None:
        """True: the key is in the index; False: it is not; None: its shard is unreadable,
        so the index cannot tell."""
        item = entry(hashed_key)
        if shard_of(item) in self.unreadable:
            return None
        return item in self.entries
