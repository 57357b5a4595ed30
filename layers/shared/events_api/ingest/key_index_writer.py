"""Keeping the key index (``key_index``) in line with the key parameters, for
``events-api keys``: one entry added or removed, or shards rebuilt from the key parameters.

Parameter Store has no compare-and-swap, but every write of a parameter gets the next
version, PutParameter says which, and the last 100 versions stay readable. A writer reads
a shard (version v), writes its change and checks that it got v + 1. If not, others wrote
in between and this write replaced what they wrote: the writer writes back every entry any
version since v held, except those some later version lacked whose key parameter is gone
(removed, not lost), applies its own change again, and checks again. The writer whose
change was overwritten saw a clean write; the one that overwrote it did not, and repairs
both. If the versions needed are no longer kept, the shard is rebuilt from the key
parameters (``rebuild``, also what ``events-api keys reindex`` and the first key do).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from ..aws import clients as aws_clients
from ..retry import backoff_delay
from . import key_index

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

#: How long a writer keeps trying to land a write that others keep overtaking before it
#: gives up (``events-api keys reindex`` then finishes the job).
WRITE_BUDGET_SECONDS = 60.0


class KeyIndexConflict(Exception):
    """The index could not be brought in line with the key parameters (it kept changing
    while this writer wrote, or a write failed): ``events-api keys reindex`` finishes the
    job."""


class KeyIndexWriter:
    def __init__(
        self,
        keys_path: str,
        live_hashes: Callable[[], Iterable[str]],
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``live_hashes`` lists the hashes of the live keys: the store of record."""
        self._path = keys_path
        self._live_hashes = live_hashes
        self._sleep = sleep
        self._clock = clock

    def change(self, hashed: str, *, add: bool) -> None:
        """Add or remove one key's entry."""
        item = key_index.entry(hashed)
        shard = key_index.shard_of(item)
        current, version = self._read_shard(shard)
        if current is None:  # no index yet, or one this version cannot read: build it all
            self.rebuild()
            return
        if self._write_change(shard, current, current, version, item, add):
            return
        self._repair(shard, version, current, item, add)

    def rebuild(self, shards: Iterable[int] = range(key_index.SHARDS)) -> int:
        """Bring these shards in line with the key parameters; the number of keys indexed.
        Every live key's entry is written; an entry with no key behind it in the listing is
        dropped only once its key parameter is confirmed gone (a listing taken while others
        write is not trusted to say what is missing)."""
        pending = set(shards)
        for _ in self._attempts():
            # Versions first, then the keys: a write by anyone after these reads makes the
            # write below land more than one version later, and it is tried again.
            read = {shard: self._read_shard(shard) for shard in sorted(pending)}
            live = key_index.group(self._live_hashes())
            for shard, (current, version) in read.items():
                wanted = live[shard]
                if current is not None:
                    gone = {e for e in current - wanted if not self._key_exists(e)}
                    wanted = (current | wanted) - gone
                if current == wanted or self._write_shard(shard, wanted, version):
                    pending.discard(shard)
            if not pending:
                return sum(len(entries) for entries in live.values())
        raise KeyIndexConflict(
            f"the key index kept changing while it was rebuilt (shards {sorted(pending)}): "
            "run `events-api keys reindex` again"
        )

    def _write_change(
        self,
        shard: int,
        stored: frozenset[bytes],
        entries: frozenset[bytes],
        version: int,
        item: bytes,
        add: bool,
    ) -> bool:
        """Write ``entries`` with ``item`` added or removed over ``stored`` (read at
        ``version``); True when nothing else was written since. An addition already stored
        is not written again; a removal is written even when it changes nothing: a writer
        repairing the shard may have seen the key before its parameter was deleted and put
        the entry back, and this write then lands between that writer's read and write
        (which makes it check again), or after it and on top of it."""
        wanted = entries | {item} if add else entries - {item}
        if add and wanted == stored:
            return True
        return self._write_shard(shard, wanted, version)

    def _repair(
        self, shard: int, since: int, base: frozenset[bytes], item: bytes, add: bool
    ) -> None:
        """This writer read version ``since`` (entries ``base``), and its write replaced
        versions others wrote after it. Every entry of a version since is written back,
        but an entry that some later version lacked was either lost to an overwrite or
        removed: its key parameter decides which. Then this writer's change, again; and if
        that write too lands over others', the same from the version it read."""
        carried = base
        for _ in self._attempts():
            current, version = self._read_shard(shard)
            written = self._versions_after(shard, since, version)
            if current is None or written is None:  # beyond the history SSM keeps
                self.rebuild({shard})
                return
            seen: set[bytes] = set()
            dropped_once: set[bytes] = set()
            for entries in [carried, base, *written]:
                dropped_once |= seen - entries
                seen |= entries
            gone = {e for e in dropped_once - {item} if not self._key_exists(e)}
            kept = frozenset(seen - gone)
            if self._write_change(shard, current, kept, version, item, add):
                return
            carried, since, base = kept, version, current
        raise KeyIndexConflict(
            f"the key index kept changing while this change was written (shard {shard}): "
            "run `events-api keys reindex`"
        )

    def _attempts(self) -> Iterator[int]:
        """Attempt numbers, with a backoff before each but the first, for as long as the
        write budget lasts."""
        deadline = self._clock() + WRITE_BUDGET_SECONDS
        attempt = 1
        yield attempt
        while self._clock() < deadline:
            self._sleep(backoff_delay(attempt, base=0.05, cap=1.0))
            attempt += 1
            yield attempt

    def _key_exists(self, item: bytes) -> bool:
        """Whether a key parameter whose hash starts with this entry exists."""
        found = _ssm().describe_parameters(
            ParameterFilters=[
                {"Key": "Name", "Option": "BeginsWith", "Values": [self._path + item.hex()]}
            ],
            MaxResults=1,
        )
        return bool(found.get("Parameters"))

    def _versions_after(self, shard: int, since: int, last: int) -> list[frozenset[bytes]] | None:
        """The entries of each version ``since`` + 1 to ``last``; None when one of them is
        no longer kept or cannot be read."""
        pages = _ssm().get_paginator("get_parameter_history")
        found: dict[int, frozenset[bytes] | None] = {}
        name = key_index.shard_name(self._path, shard)
        for page in pages.paginate(Name=name, WithDecryption=True):
            for parameter in page.get("Parameters", []):
                number = int(parameter.get("Version", 0))
                if since < number <= last:
                    found[number] = key_index.decode(parameter.get("Value", ""))
        entries = [found.get(number) for number in range(since + 1, last + 1)]
        if any(e is None for e in entries):
            return None
        return [e for e in entries if e is not None]

    def _read_shard(self, shard: int) -> tuple[frozenset[bytes] | None, int]:
        """The shard's entries (None when it is missing or unreadable) and its version (0
        when it is missing)."""
        ssm = _ssm()
        try:
            parameter = ssm.get_parameter(
                Name=key_index.shard_name(self._path, shard), WithDecryption=True
            )["Parameter"]
        except ssm.exceptions.ParameterNotFound:
            return None, 0
        return key_index.decode(parameter.get("Value", "")), int(parameter.get("Version", 0))

    def _write_shard(self, shard: int, entries: Iterable[bytes], version: int) -> bool:
        """Write the shard; True when nothing else was written to it since ``version``."""
        value = key_index.encode(entries)
        ssm = _ssm()
        try:
            written = ssm.put_parameter(
                Name=key_index.shard_name(self._path, shard),
                Value=value,
                Type="SecureString",
                Tier="Standard",
                Overwrite=version > 0,
                Description=f"events-api key index, shard {shard} of {key_index.SHARDS}",
            )["Version"]
        except ssm.exceptions.ParameterAlreadyExists:
            return False
        return written == version + 1


def _ssm() -> SSMClient:
    return aws_clients.ssm()
