"""The consumer path: buffer records -> stored events in S3, with partial batch failures.

decode (records) -> enrich and group by dataset/hour (store) -> one gzip NDJSON object per
group (object writer). A group whose write fails fails exactly its records; a record that
can never be decoded is kept, bytes and all, under ``quarantine/`` instead of being retried
forever or dropped.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from . import records, store
from .observability import count, logger
from .publishers import SQS_ATTRIBUTE
from .settings import ConsumerSettings

NDJSON_GZIP = "application/x-ndjson"
QUARANTINE_TYPE = "application/octet-stream"


class ObjectWriter(Protocol):
    def put(self, key: str, body: bytes, content_type: str) -> None: ...


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """One buffer record as Lambda delivers it."""

    item_id: str  # what batchItemFailures names: sequence number or message id
    name_key: str  # stable identity used in object names: event id or message id
    data: bytes


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
                )
            )
        else:
            attribute = (record.get("messageAttributes") or {}).get(SQS_ATTRIBUTE) or {}
            binary = attribute.get("binaryValue")
            data = base64.b64decode(binary) if binary else str(record.get("body", "")).encode()
            out.append(SourceRecord(record["messageId"], record["messageId"], data))
    return out


@dataclass
class ConsumerService:
    settings: ConsumerSettings
    writer: ObjectWriter

    def store(self, source: str, batch: list[SourceRecord]) -> set[str]:
        """Write the batch; the item ids of the records that must be retried."""
        failed: set[str] = set()
        plans: dict[str, store.ObjectPlan] = {}
        for item in batch:
            try:
                decoded = records.decode(item.data)
                text, events = store.enrich_text(decoded)
            except Exception as exc:
                if not self._quarantine(source, item, exc):
                    failed.add(item.item_id)
                continue
            prefix = store.partition_prefix(decoded.meta.dataset, decoded.meta.received_at)
            plan = plans.setdefault(prefix, store.ObjectPlan(prefix))
            plan.record_ids.append(item.item_id)
            plan.name_keys.append(item.name_key)
            plan.chunks.append(text)
            plan.events += events
        stored_events = 0
        for plan in plans.values():
            key = plan.key(source)
            try:
                self.writer.put(key, plan.body(self.settings.gzip_level), NDJSON_GZIP)
            except Exception as exc:
                logger.warning("object write failed", extra={"key": key, "error": str(exc)})
                failed.update(plan.record_ids)
                continue
            stored_events += plan.events + len(plan.lines)
            count("StoredObjects")
        count("StoredEvents", stored_events)
        if failed:
            count("RecordsFailed", len(failed))
        logger.info(
            "batch stored",
            extra={"records": len(batch), "objects": len(plans), "failed": len(failed)},
        )
        return failed

    def _quarantine(self, source: str, item: SourceRecord, error: Exception) -> bool:
        key = store.quarantine_key(source, item.name_key)
        logger.error("record quarantined", extra={"key": key, "error": str(error)})
        try:
            self.writer.put(key, item.data, QUARANTINE_TYPE)
        except Exception as exc:
            logger.warning("quarantine write failed", extra={"key": key, "error": str(exc)})
            return False
        count("RecordsQuarantined")
        return True


def build_consumer_service(settings: ConsumerSettings) -> ConsumerService:
    from .object_writer import S3ObjectWriter

    return ConsumerService(settings, S3ObjectWriter(settings.bucket_name))
