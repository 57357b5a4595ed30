"""The SSM Parameter Store adapter for API keys: one SecureString per key hash.

The look-up on every request goes through ``aws.http_client``; managing keys (the CLI) uses
botocore, imported only there.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from ..aws import clients as aws_clients
from ..aws import http_client as aws_http
from .keys import KeyRecord, KeyStoreUnavailable, key_hash


class SsmKeyStore:
    def __init__(self, path: str) -> None:
        self._path = path

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

    def create(
        self, key: str, key_id: str, name: str, datasets: tuple[str, ...] | None = None
    ) -> KeyRecord:
        record = KeyRecord(
            id=key_id,
            name=name,
            created_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            datasets=datasets,
        )
        aws_clients.ssm().put_parameter(
            Name=self._path + key_hash(key),
            Value=record.to_json().decode(),
            Type="SecureString",
            Overwrite=False,
            Description=f"events-api key {key_id} ({name})",
        )
        return record

    def items(self) -> Iterator[tuple[str, KeyRecord]]:
        """(parameter name, record) for every live key under the path."""
        pages = aws_clients.ssm().get_paginator("get_parameters_by_path")
        for page in pages.paginate(Path=self._path, Recursive=False, WithDecryption=True):
            for parameter in page.get("Parameters", []):
                record = KeyRecord.from_json(parameter.get("Value", ""))
                if record is not None:
                    yield parameter["Name"], record

    def revoke(self, key_id: str) -> bool:
        """Delete the key with this id; False when there is none."""
        for name, record in self.items():
            if record.id == key_id:
                aws_clients.ssm().delete_parameter(Name=name)
                return True
        return False
