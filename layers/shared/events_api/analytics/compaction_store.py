"""The S3 side of compaction: raw objects per hour, slots to empty, the manifest, moving
compacted objects to ``archive/``, and a lock per hour.

The manifest is one JSON-lines object per hour (one line per source, each naming the
slot), so a single PUT switches queries over and Athena reads it as a table. The lock is
an object created with ``If-None-Match: *`` (S3 conditional writes), so two compactions of
one hour never interleave; a lock older than its lease (a crashed run) is taken over.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson

from .compaction import Manifest, RawObject
from .table import ARCHIVE_PREFIX, MANIFEST_COLUMN, Hour

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

LOCK_PREFIX = "compaction-locks/"
RAW_SUFFIX = ".ndjson.gz"


def _error_code(exc: Exception) -> str:
    response: dict[str, Any] = getattr(exc, "response", {}) or {}
    return str(response.get("Error", {}).get("Code", ""))


def manifest_lines(manifest: Manifest) -> bytes:
    return b"".join(
        orjson.dumps({MANIFEST_COLUMN: source, "slot": manifest.slot}) + b"\n"
        for source in manifest.sources
    )


def parse_manifest(body: bytes) -> Manifest | None:
    rows = [orjson.loads(line) for line in body.splitlines() if line.strip()]
    if not rows:
        return None
    return Manifest(str(rows[0]["slot"]), tuple(str(row[MANIFEST_COLUMN]) for row in rows))


class S3CompactionStore:
    def __init__(self, s3: S3Client, bucket: str) -> None:
        self.s3 = s3
        self.bucket = bucket

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def _items(self, prefix: str) -> list[dict[str, Any]]:
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
            for item in self._items(hour.raw_prefix)
            if item["Key"].endswith(RAW_SUFFIX)
        ]

    def _delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):
            chunk = keys[start : start + 1000]
            self.s3.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": key} for key in chunk], "Quiet": True},
            )

    def delete_prefix(self, prefix: str) -> int:
        keys = [item["Key"] for item in self._items(prefix)]
        self._delete(keys)
        return len(keys)

    def read_manifest(self, hour: Hour) -> Manifest | None:
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=hour.manifest_key)["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            return None
        return parse_manifest(body)

    def write_manifest(self, hour: Hour, manifest: Manifest) -> None:
        self.s3.put_object(
            Bucket=self.bucket,
            Key=hour.manifest_key,
            Body=manifest_lines(manifest),
            ContentType="application/x-ndjson",
        )

    def archive(self, hour: Hour, sources: tuple[str, ...]) -> int:
        """Copy, then delete: an object is in one place or both, never in neither."""
        named = set(sources)
        moved = [o.key for o in self.raw_objects(hour) if self.uri(o.key) in named]
        for key in moved:
            self.s3.copy_object(
                Bucket=self.bucket,
                Key=ARCHIVE_PREFIX + key,
                CopySource={"Bucket": self.bucket, "Key": key},
            )
        self._delete(moved)
        return len(moved)

    def _lock_key(self, hour: Hour) -> str:
        return f"{LOCK_PREFIX}{hour.raw_prefix}lock"

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
