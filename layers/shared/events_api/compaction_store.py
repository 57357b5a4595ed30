"""The S3 side of compaction: raw objects per hour, prefixes to empty, state and locks.

State and locks live under ``compaction-state/``, away from the prefixes the Glue tables
read. The lock is an object created with ``If-None-Match: *`` (S3 conditional writes), so
two compactions of one hour never interleave; a lock older than its lease (a crashed run)
is taken over.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson

from .compaction import HourState, RawObject
from .table import Hour

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

STATE_PREFIX = "compaction-state/"
RAW_SUFFIX = ".ndjson.gz"


def _error_code(exc: Exception) -> str:
    response: dict[str, Any] = getattr(exc, "response", {}) or {}
    return str(response.get("Error", {}).get("Code", ""))


class S3CompactionStore:
    def __init__(self, s3: S3Client, bucket: str) -> None:
        self.s3 = s3
        self.bucket = bucket

    def _keys(self, prefix: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        for page in pages:
            items.extend(dict(item) for item in page.get("Contents", []))
        return items

    def datasets(self) -> list[str]:
        names = []
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix="dataset=", Delimiter="/"
        )
        for page in pages:
            for common in page.get("CommonPrefixes", []):
                names.append(common["Prefix"][len("dataset=") : -1])
        return sorted(names)

    def raw_objects(self, hour: Hour) -> list[RawObject]:
        return [
            RawObject(item["Key"], item["LastModified"].astimezone(UTC), int(item["Size"]))
            for item in self._keys(hour.raw_prefix)
            if item["Key"].endswith(RAW_SUFFIX)
        ]

    def delete_prefix(self, prefix: str) -> int:
        keys = [item["Key"] for item in self._keys(prefix)]
        for start in range(0, len(keys), 1000):
            chunk = keys[start : start + 1000]
            self.s3.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": key} for key in chunk], "Quiet": True},
            )
        return len(keys)

    def _state_key(self, hour: Hour) -> str:
        return f"{STATE_PREFIX}{hour.raw_prefix}state.json"

    def _lock_key(self, hour: Hour) -> str:
        return f"{STATE_PREFIX}{hour.raw_prefix}lock"

    def read_state(self, hour: Hour) -> HourState | None:
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=self._state_key(hour))["Body"]
        except self.s3.exceptions.NoSuchKey:
            return None
        document = orjson.loads(body.read())
        return HourState(datetime.fromisoformat(document["newest"]), int(document["objects"]))

    def write_state(self, hour: Hour, state: HourState) -> None:
        document = {"newest": state.newest.isoformat(), "objects": state.objects}
        self.s3.put_object(
            Bucket=self.bucket,
            Key=self._state_key(hour),
            Body=orjson.dumps(document),
            ContentType="application/json",
        )

    def delete_state(self, hour: Hour) -> None:
        self.s3.delete_object(Bucket=self.bucket, Key=self._state_key(hour))

    def acquire(self, hour: Hour, now: datetime, lease: timedelta) -> bool:
        key = self._lock_key(hour)
        for _ in range(2):
            try:
                self.s3.put_object(
                    Bucket=self.bucket, Key=key, Body=now.isoformat().encode(), IfNoneMatch="*"
                )
                return True
            except self.s3.exceptions.ClientError as exc:
                if _error_code(exc) not in {"PreconditionFailed", "ConditionalRequestConflict"}:
                    raise
            try:
                held = self.s3.head_object(Bucket=self.bucket, Key=key)["LastModified"]
            except self.s3.exceptions.ClientError:
                continue  # released meanwhile: try again
            if now - held.astimezone(UTC) < lease:
                return False
            self.s3.delete_object(Bucket=self.bucket, Key=key)
        return False

    def release(self, hour: Hour) -> None:
        self.s3.delete_object(Bucket=self.bucket, Key=self._lock_key(hour))
