"""API keys: format, checksum, hashing, and the cached look-up the ingest function uses.

A key is ``evk_`` + 32 random base62 characters + a 6-character base62 CRC32 of those 32
characters (the scheme GitHub uses for its tokens). A key that fails the format or the
checksum is rejected before any AWS call. Only the SHA-256 of a key is ever stored.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import orjson

PREFIX = "evk_"
RANDOM_LENGTH = 32
CHECKSUM_LENGTH = 6
KEY_LENGTH = len(PREFIX) + RANDOM_LENGTH + CHECKSUM_LENGTH
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_KEY_SHAPE = re.compile(r"evk_[0-9A-Za-z]{38}")


def _base62(number: int, width: int) -> str:
    digits = []
    while number:
        number, rest = divmod(number, 62)
        digits.append(BASE62[rest])
    return "".join(reversed(digits)).rjust(width, "0")


def checksum(random_part: str) -> str:
    return _base62(zlib.crc32(random_part.encode("ascii")), CHECKSUM_LENGTH)


def generate_key() -> str:
    random_part = "".join(secrets.choice(BASE62) for _ in range(RANDOM_LENGTH))
    return f"{PREFIX}{random_part}{checksum(random_part)}"


def is_well_formed(key: str) -> bool:
    """Format and checksum, without any I/O."""
    if len(key) != KEY_LENGTH or _KEY_SHAPE.fullmatch(key) is None:
        return False
    random_part = key[len(PREFIX) : len(PREFIX) + RANDOM_LENGTH]
    return key[-CHECKSUM_LENGTH:] == checksum(random_part)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("ascii")).hexdigest()


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """What the key store holds for one key (never the key itself)."""

    id: str
    name: str
    created_at: str
    datasets: tuple[str, ...] | None = None

    def allows(self, dataset: str) -> bool:
        return self.datasets is None or dataset in self.datasets

    def to_json(self) -> bytes:
        doc: dict[str, object] = {"id": self.id, "name": self.name, "createdAt": self.created_at}
        if self.datasets is not None:
            doc["datasets"] = list(self.datasets)
        return orjson.dumps(doc)

    @classmethod
    def from_json(cls, text: str | bytes) -> KeyRecord | None:
        """None for a document that is not a live key (malformed or marked revoked)."""
        try:
            doc = orjson.loads(text)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(doc, dict) or doc.get("revokedAt"):
            return None
        key_id, name, created = doc.get("id"), doc.get("name"), doc.get("createdAt")
        if not (isinstance(key_id, str) and isinstance(name, str) and isinstance(created, str)):
            return None
        datasets = doc.get("datasets")
        if datasets is not None:
            if not isinstance(datasets, list) or not all(isinstance(d, str) for d in datasets):
                return None
            return cls(key_id, name, created, tuple(datasets))
        return cls(key_id, name, created)


class KeyStore(Protocol):
    def get(self, hashed_key: str) -> KeyRecord | None:
        """The live record for a key hash, None when there is none. Raises on store errors."""
        ...


class KeyStoreUnavailable(Exception):
    """The key store could not answer; the request is answered 503, never let in."""


class _TokenBucket:
    """Bounds look-ups of keys not in the cache, so a flood of unknown keys stays cheap."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float]) -> None:
        self._rate, self._burst, self._clock = rate, burst, clock
        self._tokens, self._stamp = burst, clock()

    def take(self) -> bool:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class KeyAuthenticator:
    """Resolves keys to records through a bounded LRU cache of hits and misses.

    Both hits and misses expire after ``ttl`` seconds, so a revoked key stops working and a
    new key starts working within that time. Keys not known to be good cost a store call
    each, so those calls go through a token bucket: past it, an unknown key is refused
    without a call (a genuinely new key may then wait for the bucket to refill).
    """

    def __init__(
        self,
        store: KeyStore,
        *,
        ttl_seconds: float,
        max_entries: int,
        lookups_per_second: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._ttl = ttl_seconds
        self._max = max_entries
        self._clock = clock
        self._cache: OrderedDict[str, tuple[float, KeyRecord | None]] = OrderedDict()
        self._lock = threading.Lock()
        self._bucket = _TokenBucket(lookups_per_second, max(1.0, lookups_per_second), clock)

    def authenticate(self, key: str | None) -> KeyRecord | None:
        if key is None or not is_well_formed(key):
            return None
        hashed = key_hash(key)
        now = self._clock()
        with self._lock:
            cached = self._cache.get(hashed)
            if cached is not None and cached[0] > now:
                self._cache.move_to_end(hashed)
                return cached[1]
            # Refreshing a key known to be good never waits on the bucket: a flood of
            # unknown keys must not lock out producers whose cache entry just expired.
            known_good = cached is not None and cached[1] is not None
            if not known_good and not self._bucket.take():
                return None
        record = self._store.get(hashed)
        with self._lock:
            self._cache[hashed] = (now + self._ttl, record)
            self._cache.move_to_end(hashed)
            while len(self._cache) > self._max:
                self._cache.popitem(last=False)
        return record
