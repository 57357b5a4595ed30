"""Stored objects: partition prefixes, object and quarantine keys, and the gzip NDJSON
body of one object."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from isal import isal_zlib

_GZIP_WBITS = 31


def partition_prefix(dataset: str, received_at: str) -> str:
    """``dataset=…/dt=YYYY-MM-DD/hour=HH/`` from the UTC receive time."""
    return f"dataset={dataset}/dt={received_at[:10]}/hour={received_at[11:13]}/"


def object_name(source: str, record_ids: Iterable[str]) -> str:
    """Derived from the source records only, so a retried batch rewrites the same object."""
    digest = hashlib.sha256("\n".join(sorted(record_ids)).encode()).hexdigest()[:40]
    return f"{source}-{digest}"


def quarantine_key(source: str, record_id: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", record_id)
    return f"quarantine/source={source}/{safe}.bin"


@dataclass(slots=True)
class ObjectPlan:
    """One S3 object: events of one dataset and hour from consecutive records of a batch,
    gzip-compressed as they are added (only the compressed bytes are held).

    An object is cut into parts when its text would pass a size cap. Part 0 is named after
    its records alone, as every object was before parts existed; a later part carries its
    number too, so a record spanning parts names each part differently. Names come from
    the source records and the cap only, so a retried batch rewrites the same objects.
    """

    prefix: str
    level: int = 1
    part: int = 0
    record_ids: list[str] = field(default_factory=list)
    name_keys: list[str] = field(default_factory=list)
    events: int = 0
    #: Uncompressed NDJSON bytes added, and the compressed bytes produced so far.
    text_bytes: int = 0
    compressed_bytes: int = 0
    _chunks: list[bytes] = field(default_factory=list)
    _compressor: Any = None
    _finished: bool = False

    def key(self, source: str) -> str:
        name = object_name(source, self.name_keys)
        return f"{self.prefix}{name}{f'-{self.part}' if self.part else ''}.ndjson.gz"

    def add(self, text: bytes, events: int) -> None:
        """NDJSON lines, each newline-terminated."""
        if self._finished:
            raise RuntimeError("the object's body was already taken")
        if self._compressor is None:
            self._compressor = isal_zlib.compressobj(self.level, isal_zlib.DEFLATED, _GZIP_WBITS)
        self._keep(self._compressor.compress(text))
        self.text_bytes += len(text)
        self.events += events

    def _keep(self, chunk: bytes) -> None:
        if chunk:
            self._chunks.append(chunk)
            self.compressed_bytes += len(chunk)

    def body(self) -> bytes:
        """The whole gzip member (no timestamp in its header: retries write equal bytes)."""
        if self._compressor is None:
            self.add(b"", 0)
        self._keep(self._compressor.flush())
        self._finished, self._compressor = True, None
        chunks, self._chunks = self._chunks, []
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def next_part(self) -> ObjectPlan:
        return ObjectPlan(self.prefix, self.level, self.part + 1)
