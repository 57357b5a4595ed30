"""The SSM Parameter Store adapter for API keys: one SecureString per key hash, and the key
index beside them (``key_index``).

The ingest function's two calls (the whole index, one key) go through
``aws.http_client``; managing keys (the CLI) uses botocore, imported only there.

Managing keys keeps the index (``key_index_writer``). A key's parameter is written before
its index entry and deleted before it leaves the index, so the key parameters stay the
store of record, and ``reindex`` rebuilds the index from them.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ..aws import clients as aws_clients
from ..aws import http_client as aws_http
from . import key_index
from .key_index import KeyIndex, KeyIndexFull
from .key_index_writer import KeyIndexConflict, KeyIndexWriter
from .keys import KeyRecord, KeyStoreUnavailable, key_hash

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

_HASH_NAME = re.compile(r"[0-9a-f]{64}")


class SsmKeyStore:
    def __init__(
        self,
        path: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._path = path
        self._sleep = sleep
        self._clock = clock

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
            self._index().change(hashed, add=True)
        except BaseException as exc:
            _ssm().delete_parameter(Name=self._path + hashed)
            if isinstance(exc, Exception) and not isinstance(exc, KeyIndexFull):
                raise KeyIndexConflict(
                    f"the key was not created: its index entry could not be written ({exc}); "
                    "if other keys are refused, run `events-api keys reindex`"
                ) from exc
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
        """Revoke the key with this id; False when there is none."""
        for name, record in self.items():
            if record.id == key_id:
                return self.delete(name[len(self._path) :], key_id)
        return False

    def delete(self, hashed_key: str, key_id: str = "") -> bool:
        """Delete a key's parameter, then its index entry; False when there is none."""
        ssm = _ssm()
        try:
            ssm.delete_parameter(Name=self._path + hashed_key)
        except ssm.exceptions.ParameterNotFound:
            return False
        try:
            self._index().change(hashed_key, add=False)
        except Exception as exc:
            raise KeyIndexConflict(
                f"key {key_id or hashed_key[:12]} is revoked (its parameter is deleted) but "
                f"is still in the key index ({exc}): run `events-api keys reindex`"
            ) from exc
        return True

    def reindex(self) -> int:
        """Rebuild every shard of the index from the key parameters (keys made or deleted
        by hand in Parameter Store); the number of keys indexed."""
        return self._index().rebuild()

    def _index(self) -> KeyIndexWriter:
        return KeyIndexWriter(self._path, self._live_hashes, sleep=self._sleep, clock=self._clock)

    def _live_hashes(self) -> Iterator[str]:
        for name, _ in self.items():
            hashed = name[len(self._path) :]
            if _HASH_NAME.fullmatch(hashed):
                yield hashed


def _ssm() -> SSMClient:
    return aws_clients.ssm()
