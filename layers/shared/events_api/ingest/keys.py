"""API keys: format, checksum, hashing, and the look-up the ingest function uses (the key
index first, then a bounded cache of per-key look-ups).

A key is ``evk_`` + 32 random base62 characters + a 6-character base62 CRC32 of those 32
characters (the scheme GitHub uses for its tokens). A key that fails the format or the
checksum is rejected before any AWS call. Only the SHA-256 of a key is ever stored.
"""

from __future__ import annotations

import hashlib
import math
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

from .key_index import REFRESH_SECONDS, KeyIndex

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

    def read_index(self) -> KeyIndex:
        """The key index as it is now (one call). Raises KeyStoreUnavailable."""
        ...


class KeyStoreUnavailable(Exception):
    """The key store could not answer; the request is answered 503, never let in."""


class KeyLookupThrottled(Exception):
    """A well-formed key could not be looked up yet: answered 429, never 401."""

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(f"key look-up throttled; retry after {retry_after_seconds} s")
        self.retry_after_seconds = retry_after_seconds


#: The revocation bound (contract section 2): a key known to be good may be served from
#: the cache this long after it was last confirmed, when the store cannot be asked.
MAX_STALE_SECONDS = 60.0


class _TokenBucket:
    """At most ``per_minute`` takes in any 60 s window: half of it as a burst, the rest
    refilled evenly over the minute."""

    def __init__(self, per_minute: float, clock: Callable[[], float]) -> None:
        self._burst = max(1.0, per_minute / 2)
        self._rate = max(per_minute - self._burst, 0.0) / 60.0
        self._clock = clock
        self._tokens, self._stamp = self._burst, clock()

    def take(self) -> bool:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def seconds_to_next(self) -> int:
        if self._rate <= 0:
            return 60
        return max(1, math.ceil((1.0 - self._tokens) / self._rate))


class KeyAuthenticator:
    """Resolves keys to records: an index of every key's hash answers unknown keys, and a
    bounded LRU cache of look-ups serves the keys in it.

    A well-formed key that is not in the index is refused from memory: a flood of unknown
    keys costs no store call of its own. The index is read again when a key is missing from
    a copy older than ``key_index.REFRESH_SECONDS`` (or ``ttl`` if shorter), but never more
    than once in that many seconds, whatever the traffic; ``events-api keys create`` waits
    as long before it prints a key, so a new key is never refused. The index only ever says
    no: a key in it, or in a shard that could not be read (read again after ``ttl``), is
    looked up in the store of record.

    Look-ups are fresh for ``ttl`` seconds, so a revoked key stops working within that time.
    Store calls are bounded per instance, whatever the traffic: index reads by their
    interval (at most ``60 / REFRESH_SECONDS`` a minute), look-ups by two buckets of
    ``lookups_per_minute`` each, one for keys seen for the first time (past it a key is
    answered 429, never 401: it may be new and valid), one for refreshing keys known to be
    good. A key known to be good is served from the cache, up to ``MAX_STALE_SECONDS``
    after it was last confirmed, when its refresh is throttled or the store fails.
    """

    def __init__(
        self,
        store: KeyStore,
        *,
        ttl_seconds: float,
        max_entries: int,
        lookups_per_minute: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._ttl = ttl_seconds
        self._max = max_entries
        self._clock = clock
        #: key hash -> (when the store last answered, its answer)
        self._cache: OrderedDict[str, tuple[float, KeyRecord | None]] = OrderedDict()
        self._lock = threading.Lock()
        self._new_keys = _TokenBucket(lookups_per_minute, clock)
        self._refreshes = _TokenBucket(lookups_per_minute, clock)
        self._index: KeyIndex | None = None
        self._index_read_at = -math.inf  # when the read that gave self._index started
        self._index_tried_at = -math.inf  # when the last read, good or failed, started
        self._index_miss_age = min(REFRESH_SECONDS, ttl_seconds)
        self._index_lock = threading.Lock()  # one read at a time; the others wait for it

    def authenticate(self, key: str | None) -> KeyRecord | None:
        """The key's record; None for a key known to be bad. Raises KeyLookupThrottled
        or KeyStoreUnavailable when a key's standing cannot be known now."""
        if key is None or not is_well_formed(key):
            return None
        hashed = key_hash(key)
        now = self._clock()
        with self._lock:
            cached = self._cache.get(hashed)
            if cached is not None and now - cached[0] < self._ttl:
                self._cache.move_to_end(hashed)
                return cached[1]
            known = cached is not None and cached[1] is not None
        if not known and self._index_verdict(hashed, now) is False:
            return None
        with self._lock:
            # Keys seen to be good (still in the cache) refresh on their own allowance, which
            # other keys cannot spend; within the revocation bound they may also be served
            # stale.
            stale = None
            if cached is not None and known and now - cached[0] < MAX_STALE_SECONDS:
                stale = cached[1]
            usable = stale is not None
            bucket = self._refreshes if known else self._new_keys
            if not bucket.take():
                if usable:
                    return stale
                raise KeyLookupThrottled(bucket.seconds_to_next())
        try:
            record = self._store.get(hashed)
        except KeyStoreUnavailable:
            if usable:
                return stale
            raise
        with self._lock:
            self._cache[hashed] = (now, record)
            self._cache.move_to_end(hashed)
            while len(self._cache) > self._max:
                self._cache.popitem(last=False)
        return record

    def _index_verdict(self, hashed: str, now: float) -> bool | None:
        """What the index says about a key this instance does not know to be good (True,
        False, or None when it cannot tell), reading it again when the copy in memory is
        too old to answer."""
        answer = self._answer_from_copy(hashed, now)
        if answer is not None:
            return answer[0]
        with self._index_lock:
            answer = self._answer_from_copy(hashed, now)  # another thread may have read it
            if answer is not None:
                return answer[0]
            older = self._index.verdict(hashed) if self._index is not None else False
            if now - self._index_tried_at < self._index_miss_age:
                # Tried a moment ago and failed (a read that worked would be recent): what
                # the old copy cannot refuse is looked up; anything else must wait.
                if older is not False:
                    return older
                raise KeyStoreUnavailable("key index unavailable")
            started = self._clock()
            self._index_tried_at = started
            index = self._store.read_index()
            self._index, self._index_read_at = index, started
            return index.verdict(hashed)

    def _answer_from_copy(self, hashed: str, now: float) -> tuple[bool | None] | None:
        """(verdict,) when the copy in memory may answer for this key without a read: a key
        in it is always looked up; "no" holds for ``_index_miss_age`` seconds, "cannot
        tell" (a shard that could not be read) for ``ttl``."""
        if self._index is None:
            return None
        verdict = self._index.verdict(hashed)
        age = now - self._index_read_at
        if verdict is False and age >= self._index_miss_age:
            return None
        if verdict is None and age >= self._ttl:
            return None
        return (verdict,)
