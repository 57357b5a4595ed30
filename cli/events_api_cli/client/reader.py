"""Reading stored events back from S3: only the partitions of the time window are listed.

Objects live under ``dataset=…/dt=YYYY-MM-DD/hour=HH/`` by UTC receive time (under
``archive/dataset=…`` once compaction has folded their hour into Parquet), so a window
``[since, until]`` maps to a list of hour prefixes; events inside those objects are kept
when their ``_receivedAt`` falls in the window and printed in ``_timestamp`` order.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import msgspec

from events_api.analytics.table import ARCHIVE_PREFIX
from events_api.aws import clients as aws_clients
from events_api.store.stored_objects import partition_prefix
from events_api.timestamps import rfc3339

_DURATION = re.compile(r"(\d+)\s*([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


class _Times(msgspec.Struct, rename={"timestamp": "_timestamp", "received_at": "_receivedAt"}):
    timestamp: str = ""
    received_at: str = ""


_TIMES = msgspec.json.Decoder(_Times, strict=False)


@dataclass(frozen=True, slots=True)
class StoredEvent:
    timestamp: str
    received_at: str
    line: bytes


def parse_when(text: str, now: datetime) -> datetime:
    """``1h``, ``30m``, ``2d``, ``45s`` (ago), or an ISO 8601 / RFC 3339 time."""
    match = _DURATION.fullmatch(text.strip())
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        return now - timedelta(**{_UNITS[unit]: amount})
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def hour_prefixes(dataset: str, since: datetime, until: datetime) -> list[str]:
    hour = since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    end = until.astimezone(UTC)
    prefixes = []
    while hour <= end:
        prefixes.append(partition_prefix(dataset, rfc3339(hour)))
        hour += timedelta(hours=1)
    return prefixes


def parse_lines(body: bytes) -> Iterator[StoredEvent]:
    for line in gzip.decompress(body).splitlines():
        if not line.strip():
            continue
        try:
            times = _TIMES.decode(line)
        except msgspec.DecodeError:
            continue
        yield StoredEvent(times.timestamp, times.received_at, line)


class EventReader:
    def __init__(self, bucket: str) -> None:
        self.bucket = bucket
        self._seen: set[str] = set()

    def new_objects(self, prefixes: list[str]) -> list[str]:
        """Keys under the prefixes, or moved under archive/ by compaction, not read before
        (an object is known by its original key wherever it is now), in listing order."""
        s3 = aws_clients.s3()
        keys = []
        for prefix in prefixes:
            for where in (prefix, ARCHIVE_PREFIX + prefix):
                pages = s3.get_paginator("list_objects_v2").paginate(
                    Bucket=self.bucket, Prefix=where
                )
                for page in pages:
                    for item in page.get("Contents", []):
                        if item["Key"].removeprefix(ARCHIVE_PREFIX) not in self._seen:
                            keys.append(item["Key"])
        return keys

    def read(self, dataset: str, since: datetime, until: datetime) -> list[StoredEvent]:
        """Events received in [since, until] from objects not read before, in time order."""
        low, high = rfc3339(since), rfc3339(until)
        events: list[StoredEvent] = []
        s3 = aws_clients.s3()
        for key in self.new_objects(hour_prefixes(dataset, since, until)):
            original = key.removeprefix(ARCHIVE_PREFIX)
            if original in self._seen:
                continue  # moved while this listing ran
            try:
                body = s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            except s3.exceptions.NoSuchKey:  # moved to archive/ since it was listed
                moved = ARCHIVE_PREFIX + original
                body = s3.get_object(Bucket=self.bucket, Key=moved)["Body"].read()
            self._seen.add(original)
            events.extend(e for e in parse_lines(body) if low <= e.received_at <= high)
        events.sort(key=lambda e: (e.timestamp, e.received_at))
        return events
