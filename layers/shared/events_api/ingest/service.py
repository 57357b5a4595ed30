"""The ingest path as a chain of small steps, in the contract's order (first failure wins).

request -> method -> key -> path and labels -> dataset scope -> encoding -> body size ->
body decoding -> per-event checks -> buffer records -> delivery -> answer.
"""

from __future__ import annotations

import time
from collections.abc import Buffer, Callable, Mapping, MutableSequence, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .. import records
from ..errors import (
    ApiError,
    Forbidden,
    MethodNotAllowed,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorised,
)
from ..observability import Metric, count, count_rejection, logger
from ..settings import IngestSettings
from ..timestamps import rfc3339
from . import batch
from .buffer import BufferUnavailable, Publisher, deliver
from .http_api import HttpRequest, dataset_from_path, error_response, parse_event, respond
from .keys import KeyAuthenticator, KeyLookupThrottled, KeyRecord, KeyStoreUnavailable
from .publishers import Entry

ACCEPTED = {"message": "Request Accepted"}


def now_rfc3339() -> str:
    return rfc3339(datetime.now(UTC))


@dataclass
class IngestService:
    settings: IngestSettings
    keys: KeyAuthenticator
    publisher: Publisher

    def handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        try:
            return self._handle(event)
        except ApiError as error:
            count_rejection(error.reason_label)
            logger.info(
                "request rejected",
                extra={"status": error.status, "reason": error.reason or error.message},
            )
            return error_response(error)
        except Exception:
            logger.exception("unexpected failure")
            count_rejection("internal")
            return error_response(ApiError())

    def _handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        received_at = now_rfc3339()
        request = parse_event(event)
        if request.method != "POST":
            raise MethodNotAllowed()
        key = authenticate(self.keys, request)
        dataset = dataset_from_path(request.raw_path)
        meta = admit(key, request, dataset, received_at)
        gzipped = batch.content_encoding(request.header("content-encoding"))
        body = batch.read_body(request.raw_body(), gzipped)
        decoded = batch.parse_ndjson(body) if request.is_ndjson() else batch.parse_json(body)
        if decoded.events:
            self._buffer(meta, decoded.events, decoded.joined, decoded.starts)
        accepted, invalid = len(decoded.events), len(decoded.invalid)
        # Two metrics per request, more only when something went wrong: each one is CPU
        # and bytes in the EMF document logged with every request (requests themselves are
        # the function's Invocations, records put the stream's or queue's own metrics).
        count(Metric.EVENTS_ACCEPTED, accepted)
        count(Metric.EVENT_BYTES_ACCEPTED, decoded.event_bytes)
        if invalid:
            count(Metric.EVENTS_INVALID, invalid)
        # A line per accepted request only at DEBUG: metrics count them, and at the small
        # requests real clients send the line would cost more in CloudWatch Logs ingestion
        # and CPU than the rest of the request (docs/performance.md, item 8).
        log = logger.info if decoded.invalid else logger.debug
        log(
            "batch ingested",
            extra={
                "dataset": dataset,
                "keyId": key.id,
                "accepted": accepted,
                "invalid": invalid,
                "bodyBytes": len(body),
            },
        )
        if decoded.invalid:
            count_rejection("invalid_events")
            return respond(
                400,
                {
                    "message": "Bad Request",
                    "accepted": accepted,
                    "invalid": [{"index": i.index, "reason": i.reason} for i in decoded.invalid],
                },
            )
        return respond(202, ACCEPTED)

    def _buffer(
        self,
        meta: records.RequestMeta,
        events: list[Any],
        joined: bytes | None = None,
        starts: MutableSequence[int] | None = None,
    ) -> None:
        buffer_events(self.settings, self.publisher, meta, events, joined, starts)


def admit(
    key: KeyRecord, request: HttpRequest, dataset: str, received_at: str
) -> records.RequestMeta:
    """The request's metadata for its buffer records, once the labels are valid (400) and
    the key may write to the dataset (403); shared with the OTLP routes."""
    meta = records.RequestMeta(
        dataset=dataset,
        request_id=request.request_id,
        received_at=received_at,
        service=request.label("x-service"),
        namespace=request.label("x-namespace"),
    )
    if not key.allows(dataset):
        raise Forbidden()
    return meta


def authenticate(keys: KeyAuthenticator, request: HttpRequest) -> KeyRecord:
    """The request's key, known good; 401, 429 or 503 otherwise (shared with the OTLP
    routes)."""
    try:
        key = keys.authenticate(request.api_key())
    except KeyLookupThrottled as exc:
        raise TooManyRequests(str(exc), exc.retry_after_seconds) from None
    except KeyStoreUnavailable as exc:
        logger.warning("key store unavailable", extra={"error": str(exc)})
        raise ServiceUnavailable("key store unavailable") from None
    if key is None:
        raise Unauthorised()
    return key


def buffer_events(
    settings: IngestSettings,
    publisher: Publisher,
    meta: records.RequestMeta,
    events: Sequence[Buffer],
    joined: bytes | None = None,
    starts: MutableSequence[int] | None = None,
) -> None:
    """Pack accepted events into buffer records and deliver every one, or raise 503."""
    bounds = records.bounds(settings.buffer_type.value)
    blobs = records.encode(
        meta,
        events,
        settings.max_record_bytes - publisher.record_overhead,
        settings.compression_level,
        joined,
        starts,
        max_events=bounds.events,
        max_raw_bytes=bounds.raw_bytes,
    )
    entries = [
        Entry(id=f"r{n}", data=blob, partition_key=f"{meta.request_id}/{n}")
        for n, blob in enumerate(blobs)
    ]
    try:
        report = deliver(publisher, entries, settings.buffer_budget_seconds)
    except BufferUnavailable as exc:
        logger.error(
            "buffer unavailable",
            extra={"pending": exc.pending, "attempts": exc.attempts, "error": exc.last_error},
        )
        raise ServiceUnavailable("buffer unavailable") from None
    if report.retried_entries:
        count(Metric.BUFFER_ENTRIES_RETRIED, report.retried_entries)


def build_publisher(settings: IngestSettings) -> Publisher:
    from ..settings import BufferType
    from .publishers import KinesisPublisher, SqsPublisher

    if settings.buffer_type is BufferType.KINESIS:
        return KinesisPublisher(settings.stream_name)
    return SqsPublisher(settings.queue_url)


def build_key_authenticator(
    settings: IngestSettings, clock: Callable[[], float] = time.monotonic
) -> KeyAuthenticator:
    from .key_store import SsmKeyStore

    return KeyAuthenticator(
        SsmKeyStore(settings.api_keys_path),
        ttl_seconds=settings.key_cache_ttl_seconds,
        max_entries=settings.key_cache_max_entries,
        lookups_per_minute=settings.key_lookups_per_minute,
        clock=clock,
    )


def build_ingest_service(settings: IngestSettings) -> IngestService:
    """Wire the real adapters (no AWS call happens here; clients are created on first use)."""
    return IngestService(settings, build_key_authenticator(settings), build_publisher(settings))
