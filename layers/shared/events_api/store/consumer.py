"""The consumer path: buffer records -> stored events in S3, with partial batch failures.

decode (records) -> enrich and group by dataset/hour (enrichment) -> gzip NDJSON objects per
group, cut into parts at a size cap (object writer). An object whose write fails fails
exactly its records; a record that can never be decoded is kept, bytes and all, under
``quarantine/`` instead of being retried forever or dropped.

Two kinds of record share the buffer, told apart by their first bytes: the ingest side's
own (``EVR``, ``records``) and what CloudWatch Logs subscriptions deliver (gzip,
``cloudwatch_logs``). Both go through the same slices, objects, bounds and quarantine.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from .. import records
from ..observability import Metric, count, logger
from ..records import SQS_ATTRIBUTE
from ..settings import ConsumerSettings
from ..timestamps import rfc3339
from . import cloudwatch_logs
from .enrichment import enrich_text
from .stored_objects import ObjectPlan, partition_prefix, quarantine_key

NDJSON_GZIP = "application/x-ndjson"
QUARANTINE_TYPE = "application/octet-stream"
#: Compressed bytes the open objects of a batch may hold together before the largest is
#: written early (a batch of many datasets and hours, each under the object cap).
MAX_BUFFERED_BYTES = 32 * 1024 * 1024
#: Time kept for writing the open objects: a record is not started with less left (each
#: takes well under a second; see docs/performance.md, item 8).
RESERVE_MS = 10_000
#: Records are enriched and compressed this much at a time: what the consumer holds of a
#: record's stored text, and the granularity at which objects are cut.
SLICE_EVENTS = 2_500
SLICE_BYTES = 512 * 1024


class _OutOfTime(Exception):
    """Less than half the reserve is left in the middle of a record."""


class ObjectWriter(Protocol):
    def put(self, key: str, body: bytes, content_type: str) -> None: ...


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """One buffer record as Lambda delivers it."""

    item_id: str  # what batchItemFailures names: sequence number or message id
    name_key: str  # stable identity used in object names: event id or message id
    data: bytes
    #: When the buffer took the record (epoch seconds): CloudWatch Logs records' receive
    #: time, the same on every delivery. None: now.
    arrived_at: float | None = None


def source_of(event: Mapping[str, Any]) -> str:
    first = (event.get("Records") or [{}])[0]
    source = str(first.get("eventSource") or first.get("EventSource") or "")
    return {"aws:kinesis": "kinesis", "aws:sqs": "sqs"}.get(source, "unknown")


def source_records(event: Mapping[str, Any]) -> list[SourceRecord]:
    out = []
    for record in event.get("Records") or []:
        if "kinesis" in record:
            kinesis = record["kinesis"]
            out.append(
                SourceRecord(
                    item_id=kinesis["sequenceNumber"],
                    name_key=str(record.get("eventID") or kinesis["sequenceNumber"]),
                    data=base64.b64decode(kinesis["data"]),
                    arrived_at=_seconds(kinesis.get("approximateArrivalTimestamp")),
                )
            )
        else:
            attribute = (record.get("messageAttributes") or {}).get(SQS_ATTRIBUTE) or {}
            binary = attribute.get("binaryValue")
            data = base64.b64decode(binary) if binary else str(record.get("body", "")).encode()
            sent = _seconds((record.get("attributes") or {}).get("SentTimestamp"), 1000)
            out.append(SourceRecord(record["messageId"], record["messageId"], data, sent))
    return out


def _seconds(value: Any, per_second: int = 1) -> float | None:
    try:
        return float(value) / per_second if value is not None else None
    except (TypeError, ValueError):
        return None


def received_at(item: SourceRecord) -> str:
    """The RFC 3339 receive time of a record that does not carry its own."""
    if item.arrived_at is None:
        return rfc3339(datetime.now(UTC))
    return rfc3339(datetime.fromtimestamp(item.arrived_at, UTC))


#: Dataset/hour prefix of a record, and its stored text in slices; None for a record that
#: holds no events (a CloudWatch Logs control message).
Opened = tuple[str, Iterator[tuple[bytes, int]]] | None


def open_record(item: SourceRecord) -> Opened:
    """Decode a record enough to know where it goes; raises for one that cannot be read."""
    if cloudwatch_logs.is_log_record(item.data):
        log_record = cloudwatch_logs.LogRecord(item.data, received_at(item))
        if log_record.is_control:
            return None
        prefix = partition_prefix(log_record.envelope.dataset, log_record.received_at)
        return prefix, log_record.slices(SLICE_EVENTS, SLICE_BYTES)
    decoded = records.decode(item.data)
    prefix = partition_prefix(decoded.meta.dataset, decoded.meta.received_at)
    return prefix, map(enrich_text, decoded.slices(SLICE_EVENTS, SLICE_BYTES))


def undecodable(data: bytes) -> str | None:
    """Why a record cannot be stored (read through to its end), or None when it can."""
    try:
        opened = open_record(SourceRecord("check", "check", data))
        if opened is not None and cloudwatch_logs.is_log_record(data):
            for _ in opened[1]:
                pass
    except Exception as exc:
        return str(exc) or type(exc).__name__
    return None


@dataclass
class _Objects:
    """The open objects of one batch, one per dataset and hour, and the rules that close
    them: an object is written before text that would take it past the size cap, and the
    largest open one is written when their compressed bytes together pass the memory cap.
    So the batch's text is never held, only a bounded amount of compressed bytes."""

    source: str
    level: int
    max_text_bytes: int
    writer: ObjectWriter
    open: dict[str, ObjectPlan] = field(default_factory=dict)
    failed: set[str] = field(default_factory=set)
    objects: int = 0
    events: int = 0

    def plan(self, prefix: str, item: SourceRecord, text_bytes: int) -> ObjectPlan:
        """The object the next text of ``item`` goes to (its records list includes it)."""
        plan = self.open.get(prefix)
        if plan is None:
            plan = self.open[prefix] = ObjectPlan(prefix, self.level)
        elif plan.text_bytes and plan.text_bytes + text_bytes > self.max_text_bytes:
            self.write(plan)
            plan = self.open[prefix] = plan.next_part()
        if not plan.record_ids or plan.record_ids[-1] != item.item_id:
            plan.record_ids.append(item.item_id)
            plan.name_keys.append(item.name_key)
        return plan

    def bound_memory(self) -> None:
        while sum(p.compressed_bytes for p in self.open.values()) > MAX_BUFFERED_BYTES:
            largest = max(self.open.values(), key=lambda p: p.compressed_bytes)
            self.write(largest)
            self.open[largest.prefix] = largest.next_part()

    def drop(self, prefix: str, item: SourceRecord) -> None:
        """Abandon the open object of ``prefix`` if it holds part of ``item``: its other
        records are retried."""
        plan = self.open.get(prefix)
        if plan is not None and item.item_id in plan.record_ids:
            self.failed.update(r for r in plan.record_ids if r != item.item_id)
            self.open[prefix] = plan.next_part()

    def write(self, plan: ObjectPlan) -> None:
        if not plan.record_ids:
            return
        key = plan.key(self.source)
        try:
            self.writer.put(key, plan.body(), NDJSON_GZIP)
        except Exception as exc:
            logger.warning("object write failed", extra={"key": key, "error": str(exc)})
            self.failed.update(plan.record_ids)
            return
        self.objects += 1
        self.events += plan.events
        count(Metric.STORED_OBJECTS)

    def close(self) -> None:
        for plan in self.open.values():
            self.write(plan)
        self.open.clear()


@dataclass
class ConsumerService:
    settings: ConsumerSettings
    writer: ObjectWriter

    def store(
        self,
        source: str,
        batch: list[SourceRecord],
        remaining_ms: Callable[[], int] | None = None,
    ) -> set[str]:
        """Write the batch; the item ids of the records that must be retried.

        Records are handled one at a time, each in slices, so memory is bounded by one
        slice's text plus the open objects' compressed bytes, whatever a record holds. With
        ``remaining_ms`` (the Lambda context's), records are not started once less than
        ``RESERVE_MS`` is left: they are reported failed, and retried.
        """
        objects = _Objects(
            source, self.settings.gzip_level, self.settings.object_max_bytes, self.writer
        )
        for position, item in enumerate(batch):
            if position and remaining_ms is not None and remaining_ms() < RESERVE_MS:
                # Out of time: the records not started are retried in a later invocation
                # rather than lost with this one when the timeout strikes.
                left = [later.item_id for later in batch[position:]]
                logger.warning("batch cut short by the timeout", extra={"deferred": len(left)})
                objects.failed.update(left)
                break
            try:
                opened = open_record(item)
            except Exception as exc:
                if not self._quarantine(source, item, exc):
                    objects.failed.add(item.item_id)
                continue
            if opened is None:
                continue  # a control message: nothing to store, nothing failed
            prefix, parts = opened
            try:
                for text, events in parts:
                    objects.plan(prefix, item, len(text)).add(text, events)
                    del text
                    objects.bound_memory()
                    if remaining_ms is not None and remaining_ms() < RESERVE_MS // 2:
                        raise _OutOfTime
            except _OutOfTime:
                # A record too large for the time left (CloudWatch Logs records are not
                # sized by us): it and the records after it are retried; what of it was
                # written already is written again then (at-least-once, never lost).
                left = [later.item_id for later in batch[position:]]
                logger.warning("record cut short by the timeout", extra={"deferred": len(left)})
                objects.drop(prefix, item)
                objects.failed.update(left)
                break
            except Exception as exc:
                # Enrichment does not fail on anything ingest accepts; if it ever does, the
                # record is kept whole in quarantine and the object holding part of it is
                # not written (its other records are retried).
                logger.exception("record could not be stored")
                objects.drop(prefix, item)
                if not self._quarantine(source, item, exc):
                    objects.failed.add(item.item_id)
        objects.close()
        failed = objects.failed
        count(Metric.STORED_EVENTS, objects.events)
        if failed:
            count(Metric.RECORDS_FAILED, len(failed))
        logger.info(
            "batch stored",
            extra={"records": len(batch), "objects": objects.objects, "failed": len(failed)},
        )
        return failed

    def _quarantine(self, source: str, item: SourceRecord, error: Exception) -> bool:
        key = quarantine_key(source, item.name_key)
        logger.error("record quarantined", extra={"key": key, "error": str(error)})
        try:
            self.writer.put(key, item.data, QUARANTINE_TYPE)
        except Exception as exc:
            logger.warning("quarantine write failed", extra={"key": key, "error": str(exc)})
            return False
        count(Metric.RECORDS_QUARANTINED)
        return True


def build_consumer_service(settings: ConsumerSettings) -> ConsumerService:
    from .object_writer import S3ObjectWriter

    return ConsumerService(settings, S3ObjectWriter(settings.bucket_name))
