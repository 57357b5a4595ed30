"""The OTLP/HTTP routes as a chain of steps, in the Events API's order (first failure wins).

request -> method -> key -> signal (path) -> dataset -> dataset scope -> encoding ->
content type -> body size -> decoding -> flattening -> buffer records -> delivery -> answer.

Keys, body reading, record packing and delivery are the Events API's own
(``ingest.service``, ``ingest.batch``); only the decoding, flattening and the answers'
shape are OTLP's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message

from ..errors import ApiError, BadRequest, MethodNotAllowed
from ..ingest import batch
from ..ingest.buffer import Publisher
from ..ingest.http_api import DATASET_RULE, HttpRequest, parse_event
from ..ingest.keys import KeyAuthenticator
from ..ingest.service import (
    admit,
    authenticate,
    buffer_events,
    build_key_authenticator,
    build_publisher,
    now_rfc3339,
)
from ..observability import Metric, count, count_rejection, logger
from ..settings import IngestSettings
from . import answers
from .decode import SIGNALS, Encoding, Signal, decode, encoding_of

DATASET_HEADER = "x-baselime-dataset"
DEFAULT_DATASET = "otel"
#: OTLP rejections are told apart from the Events API's in the RequestsRejected metric.
REJECTION_PREFIX = "otlp_"


class SignalNotServed(ApiError):
    status, message, reason_label = 404, "Not Found", "otlp_path"


def signal_of(raw_path: str) -> Signal:
    path = raw_path[:-1] if raw_path.endswith("/") and len(raw_path) > 1 else raw_path
    signal = SIGNALS.get(path)
    if signal is None:
        *others, last = SIGNALS
        served = f"{', '.join(others)} and {last}"
        raise SignalNotServed(f"{raw_path[:200]} is not served; OTLP/HTTP is served at {served}")
    return signal


def dataset_of(request: HttpRequest) -> str:
    value = (request.header(DATASET_HEADER) or "").strip()
    if not value:
        return DEFAULT_DATASET
    if DATASET_RULE.fullmatch(value) is None:
        raise BadRequest(
            f"header {DATASET_HEADER} must be 1 to 64 characters of a-z, 0-9, '_' and '-', "
            "starting with a letter or digit"
        )
    return value


def answer_encoding(request: HttpRequest | None) -> Encoding:
    """The encoding errors are answered in: the request's if it is OTLP's, else JSON."""
    try:
        return encoding_of(request.header("content-type") if request else None)
    except ApiError:
        return Encoding.JSON


@dataclass
class OtlpService:
    settings: IngestSettings
    keys: KeyAuthenticator
    publisher: Publisher

    def handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        request: HttpRequest | None = None
        try:
            request = parse_event(event)
            return self._handle(request)
        except ApiError as error:
            count_rejection(REJECTION_PREFIX + error.reason_label)
            logger.info(
                "otlp request rejected",
                extra={"status": error.status, "reason": error.reason or error.message},
            )
            return answers.failure(error, answer_encoding(request))
        except Exception:
            logger.exception("unexpected failure")
            count_rejection(REJECTION_PREFIX + "internal")
            return answers.failure(ApiError(), answer_encoding(request))

    def _handle(self, request: HttpRequest) -> dict[str, Any]:
        received_at = now_rfc3339()
        if request.method != "POST":
            raise MethodNotAllowed()
        key = authenticate(self.keys, request)
        signal = signal_of(request.raw_path)
        dataset = dataset_of(request)
        meta = admit(key, request, dataset, received_at)
        gzipped = batch.content_encoding(request.header("content-encoding"))
        encoding = encoding_of(request.header("content-type"))
        body = batch.read_body(request.raw_body(), gzipped)
        message: Message = decode(signal, body, encoding)
        flattened = signal.flatten(message)
        if flattened.events:
            buffer_events(self.settings, self.publisher, meta, flattened.events)
        count(Metric.OTLP_ITEMS_ACCEPTED, len(flattened.events))
        if flattened.rejected:
            count(Metric.OTLP_ITEMS_REJECTED, flattened.rejected)
        count(Metric.EVENT_BYTES_ACCEPTED, flattened.event_bytes)
        # As for the ingest function: a line per export only at DEBUG unless items were
        # rejected (metrics count the rest).
        log = logger.info if flattened.rejected else logger.debug
        log(
            "otlp export ingested",
            extra={
                "signal": signal.name,
                "dataset": dataset,
                "keyId": key.id,
                "accepted": len(flattened.events),
                "rejected": flattened.rejected,
                "bodyBytes": len(body),
            },
        )
        return answers.success(
            signal, encoding, flattened.rejected, flattened.error_message(signal.items)
        )


def build_otlp_service(settings: IngestSettings) -> OtlpService:
    """Wire the real adapters (no AWS call happens here; clients are created on first use)."""
    return OtlpService(settings, build_key_authenticator(settings), build_publisher(settings))
