"""Kinesis batches the event source mapping gave up on, as its S3 on-failure destination
keeps them: one owner for the shape, written by the local poller, read by ``redrive``.

Lambda writes one JSON object per batch it gives up on (retries or record age exhausted),
under ``aws/lambda/<mapping id>/<shard id>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<uuid>``: the
invocation's metadata (``requestContext``, ``responseContext``, ``KinesisBatchInfo``,
``timestamp``, ``version``) and, unlike an SQS or SNS destination, the whole invocation
(the Kinesis event the function was given) in ``payload``, as JSON text. The reader also
takes ``payload`` as an object, in case a producer of these records nests it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson

from events_api.timestamps import rfc3339

PREFIX = "aws/lambda/"


def object_key(mapping_id: str, shard_id: str, when: datetime, unique: str | None = None) -> str:
    moment = when.astimezone(UTC)
    return (
        f"{PREFIX}{mapping_id}/{shard_id}/{moment:%Y/%m/%d}/"
        f"{moment:%Y-%m-%dT%H.%M.%S}-{unique or uuid.uuid4()}"
    )


def document(
    *,
    function_arn: str,
    attempts: int,
    stream_arn: str,
    shard_id: str,
    records: list[dict[str, Any]],
    when: datetime,
    condition: str = "RetryAttemptsExhausted",
) -> bytes:
    """The object Lambda writes for one batch given up on (``records``: the event's)."""
    first, last = records[0]["kinesis"], records[-1]["kinesis"]
    return orjson.dumps(
        {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": function_arn,
                "condition": condition,
                "approximateInvokeCount": attempts,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "version": "1.0",
            "timestamp": rfc3339(when),
            "KinesisBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": first["sequenceNumber"],
                "endSequenceNumber": last["sequenceNumber"],
                "approximateArrivalOfFirstRecord": first["approximateArrivalTimestamp"],
                "approximateArrivalOfLastRecord": last["approximateArrivalTimestamp"],
                "batchSize": len(records),
                "streamArn": stream_arn,
            },
            "payload": orjson.dumps({"Records": records}).decode(),
        }
    )


def kinesis_event(body: bytes) -> dict[str, Any]:
    """The Kinesis event kept in one failure object; ValueError when it holds none."""
    try:
        doc = orjson.loads(body)
        payload = doc["payload"] if isinstance(doc, dict) else None
        event = orjson.loads(payload) if isinstance(payload, str | bytes) else payload
    except (orjson.JSONDecodeError, KeyError) as exc:
        raise ValueError(f"not a failed-batch record: {exc}") from None
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list) or not all(
        isinstance(r, dict) and isinstance(r.get("kinesis"), dict) for r in records
    ):
        raise ValueError("not a failed-batch record: its payload holds no Kinesis records")
    return {"Records": records}


# -- the log forwarder's asynchronous invocations ----------------------------------------
# Lambda's S3 on-failure destination for asynchronous invocations keeps one JSON object per
# invocation given up on: ``version``, ``timestamp``, ``requestContext`` (``requestId``,
# ``functionArn``, ``condition``, ``approximateInvokeCount``), ``requestPayload`` (the
# event, whole: here CloudWatch Logs' ``{"awslogs": {"data": ...}}``), ``responseContext``
# and ``responsePayload``. The local stack writes the same for its forwarder.


def async_document(
    *,
    function_arn: str,
    request_id: str,
    payload: dict[str, Any],
    attempts: int,
    when: datetime,
    error: str,
    condition: str = "RetriesExhausted",
) -> bytes:
    return orjson.dumps(
        {
            "version": "1.0",
            "timestamp": rfc3339(when),
            "requestContext": {
                "requestId": request_id,
                "functionArn": f"{function_arn}:$LATEST",
                "condition": condition,
                "approximateInvokeCount": attempts,
            },
            "requestPayload": payload,
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "responsePayload": {"errorMessage": error, "errorType": "BufferUnavailable"},
        }
    )


def async_key(function_name: str, when: datetime, unique: str | None = None) -> str:
    moment = when.astimezone(UTC)
    return (
        f"{PREFIX}async/{function_name}/{moment:%Y/%m/%d}/"
        f"{moment:%Y-%m-%dT%H.%M.%S}-{unique or uuid.uuid4()}"
    )


def async_invocation(body: bytes) -> tuple[str, dict[str, Any]] | None:
    """(request id, the invocation's event) of an asynchronous invocation record; None for
    any other object."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(doc, dict) or "requestPayload" not in doc:
        return None
    payload = doc["requestPayload"]
    if isinstance(payload, str):
        try:
            payload = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return None
    context = doc.get("requestContext") or {}
    if not isinstance(payload, dict) or not isinstance(context, dict):
        return None
    return str(context.get("requestId") or ""), payload
