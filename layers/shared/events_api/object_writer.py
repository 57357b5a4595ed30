"""The S3 adapter for stored objects."""

from __future__ import annotations

from . import aws_clients


class S3ObjectWriter:
    def __init__(self, bucket: str) -> None:
        self.bucket = bucket

    def put(self, key: str, body: bytes, content_type: str) -> None:
        aws_clients.s3().put_object(
            Bucket=self.bucket, Key=key, Body=body, ContentType=content_type
        )
