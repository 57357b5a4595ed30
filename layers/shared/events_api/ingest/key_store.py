"""The SSM Parameter Store adapter for API keys: one SecureString per key hash, and the key
index beside them (``key_index``).

The ingest function's two calls (the whole index, one key) go through
``aws.http_client``; managing keys (the CLI) uses botocore, imported only there.

Managing keys keeps the index. A key's parameter is written before its index entry and
deleted before it leaves the index, so the key parameters stay the store of record and
the index can always be rebuilt from them (``reindex``, also what a first key does).
Parameter Store has no compare-and-swap, but PutParameter returns the version it wrote and
versions count every write: a write that is not exactly one past the version its writer
read followed another writer's, and one of the two changes may be lost, so the writer that
sees it rebuilds the shard from the key parameters (read the version, list the keys, write,
check again). The writer whose change was overwritten saw a clean write; the one that
overwrote it did not, and repairs both.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ..aws import clients as aws_clients
from ..aws import http_client as aws_http
from ..retry import backoff_delay
from . import key_index
from .key_index import KeyIndex
from .keys import KeyRecord, KeyStoreUnavailable, key_hash

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

_HASH_NAME = re.compile(r"[0-9a-f]{64}")
#: Rebuilds of a shard that kept being written by others before this writer gives up
#: (``events-api keys reindex`` then finishes the job).
REBUILD_ATTEMPTS = 8


class KeyIndexConflict(Exception):
    """The index could not be brought in line with the key parameters (it kept changing
    while this writer rebuilt it, or a write failed): ``reindex`` finishes the job."""


class SsmKeyStore:
    def __init__(self, path: str, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self._path = path
        self._sleep = sleep

    # -- the ingest function's calls ------------------------------------------------------

    def get(self, hashed_key: str) -> KeyRecord | None:
        try:
            answer = aws_http.client("ssm").call(
                "GetParameter", {"Name": self._path + hashed_key, "WithDecryption": True}
            )
        except aws_http.AwsError as exc:
            if exc.code == "ParameterNotFound":
                return None
            raise KeyStoreUnavailable(str(exc)) from None
        except aws_http.AwsCallFailed as exc:
            raise KeyStoreUnavailable(str(exc)) from None
        return KeyRecord.from_json(str(answer.get("Parameter", {}).get("Value", "")))

    def read_index(self) -> KeyIndex:
        """Every shard in one call; a shard that does not exist comes back in
        InvalidParameters and is unreadable (keys there are looked up one by one)."""
        document = {"Names": key_index.shard_names(self._path), "WithDecryption": True}
        try:
            answer = aws_http.client("ssm").call("GetParameters", document)
        except aws_http.AwsCallFailed as exc:
            raise KeyStoreUnavailable(str(exc)) from None
        values = {str(p.get("Name")): str(p.get("Value", "")) for p in answer.get("Parameters", [])}
        return KeyIndex.from_values(self._path, values)

    # -- managing keys ---------------------------------------------------------------------

    def create(
        self, key: str, key_id: str, name: str, datasets: tuple[str, ...] | None = None
    ) -> KeyRecord:
        """Store the key's record, then its index entry. A key whose entry could not be
        written is deleted again (it was never shown to anyone). Instances may refuse it
        for ``key_index.REFRESH_SECONDS``: ``events-api keys create`` waits that long."""
        record = KeyRecord(
            id=key_id,
            name=name,
            created_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            datasets=datasets,
        )
        hashed = key_hash(key)
        _ssm().put_parameter(
            Name=self._path + hashed,
            Value=record.to_json().decode(),
            Type="SecureString",
            Overwrite=False,
            Description=f"events-api key {key_id} ({name})",
        )
        try:
            self._index_change(hashed, add=True)
        except BaseException:
            _ssm().delete_parameter(Name=self._path + hashed)
            raise
        return record

    def items(self) -> Iterator[tuple[str, KeyRecord]]:
        """(parameter name, record) for every live key under the path (not the index,
        which is one level further down)."""
        pages = _ssm().get_paginator("get_parameters_by_path")
        for page in pages.paginate(Path=self._path, Recursive=False, WithDecryption=True):
            for parameter in page.get("Parameters", []):
                record = KeyRecord.from_json(parameter.get("Value", ""))
                if record is not None:
                    yield parameter["Name"], record

    def revoke(self, key_id: str) -> bool:
        """Delete the key with this id, then its index entry; False when there is none."""
        for name, record in self.items():
            if record.id == key_id:
                _ssm().delete_parameter(Name=name)
                try:
                    self._index_change(name[len(self._path) :], add=False)
                except Exception as exc:
                    raise KeyIndexConflict(
                        f"key {key_id} is revoked (its parameter is deleted) but is still in "
                        f"the key index ({exc}): run `events-api keys reindex`"
                    ) from exc
                return True
        return False

    def reindex(self) -> int:
        """Rebuild every shard of the index from the key parameters (keys made or deleted
        by hand in Parameter Store); the number of keys indexed."""
        return self._rebuild(set(range(key_index.SHARDS)))

    # -- the index ------------------------------------------------------------------------

    def _index_change(self, hashed: str, *, add: bool) -> None:
        item = key_index.entry(hashed)
        shard = key_index.shard_of(item)
        current, version = self._read_shard(shard)
        if current is None:  # no index yet, or one this version cannot read: build it all
            self._rebuild(set(range(key_index.SHARDS)))
            return
        wanted = current | {item} if add else current - {item}
        if wanted == current or self._write_shard(shard, wanted, version):
            return
        # Another write landed between this one's read and write: one of the two changes
        # may be lost, and only the key parameters know which.
        self._rebuild({shard})

    def _rebuild(self, shards: set[int]) -> int:
        pending = set(shards)
        for attempt in range(1, REBUILD_ATTEMPTS + 1):
            # Versions first, then the keys: a write by anyone after these reads makes the
            # write below land more than one version later, and it is tried again.
            read = {shard: self._read_shard(shard) for shard in sorted(pending)}
            live = self._live_entries()
            for shard, (current, version) in read.items():
                if current == live[shard] or self._write_shard(shard, live[shard], version):
                    pending.discard(shard)
            if not pending:
                return sum(len(entries) for entries in live.values())
            self._sleep(backoff_delay(attempt, base=0.05, cap=2.0))
        raise KeyIndexConflict(
            f"the key index kept changing while it was rebuilt (shards {sorted(pending)}): "
            "run `events-api keys reindex`"
        )

    def _live_entries(self) -> dict[int, frozenset[bytes]]:
        """Each shard's entries as the key parameters have them."""
        names = (name[len(self._path) :] for name, _ in self.items())
        return key_index.group(hashed for hashed in names if _HASH_NAME.fullmatch(hashed))

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
