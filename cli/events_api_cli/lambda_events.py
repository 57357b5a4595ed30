"""The Kinesis and SQS records Lambda's event source mappings deliver, built in one place.

The local stack's pollers and ``redrive`` build them from what they read (an SQS record
from a received message: ``sqs_event_record``); the event files
(scripts/generate_events.py), the tests and the benchmarks build them from buffer records
they made. Keys are in the order Lambda sends them.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .defaults import LOCAL_ACCOUNT_ID, LOCAL_REGION

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageTypeDef


def kinesis_record(
    data: bytes,
    *,
    sequence: str,
    partition_key: str,
    arrival: float,
    stream_arn: str,
    shard_id: str = "shardId-000000000000",
    role_arn: str = f"arn:aws:iam::{LOCAL_ACCOUNT_ID}:role/consumer",
    region: str = LOCAL_REGION,
) -> dict[str, Any]:
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": partition_key,
            "sequenceNumber": sequence,
            "data": base64.b64encode(data).decode("ascii"),
            "approximateArrivalTimestamp": arrival,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard_id}:{sequence}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": role_arn,
        "awsRegion": region,
        "eventSourceARN": stream_arn,
    }


def binary_attribute(value: bytes) -> dict[str, Any]:
    """A binary message attribute as the SQS event carries it."""
    return {
        "binaryValue": base64.b64encode(value).decode("ascii"),
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "Binary",
    }


def sqs_record(
    *,
    message_id: str,
    receipt_handle: str,
    body: str,
    attributes: Mapping[Any, str],
    message_attributes: Mapping[str, Any],
    md5_of_body: str,
    queue_arn: str,
    md5_of_message_attributes: str | None = None,
    region: str = LOCAL_REGION,
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "messageId": message_id,
        "receiptHandle": receipt_handle,
        "body": body,
        "attributes": dict(attributes),
        "messageAttributes": dict(message_attributes),
        "md5OfBody": md5_of_body,
    }
    if md5_of_message_attributes is not None:
        record["md5OfMessageAttributes"] = md5_of_message_attributes
    record.update({"eventSource": "aws:sqs", "eventSourceARN": queue_arn, "awsRegion": region})
    return record


def _sqs_attribute(value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "StringValue" in value:
        out["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        out["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode("ascii")
    out["stringListValues"] = list(value.get("StringListValues", []))
    out["binaryListValues"] = [
        base64.b64encode(item).decode("ascii") for item in value.get("BinaryListValues", [])
    ]
    out["dataType"] = value["DataType"]
    return out


def sqs_event_record(
    message: MessageTypeDef, queue_arn: str, region: str = LOCAL_REGION
) -> dict[str, Any]:
    """One record of the SQS event Lambda builds from a received message."""
    return sqs_record(
        message_id=message["MessageId"],
        receipt_handle=message["ReceiptHandle"],
        body=message.get("Body", ""),
        attributes=message.get("Attributes", {}),
        message_attributes={
            name: _sqs_attribute(value)
            for name, value in message.get("MessageAttributes", {}).items()
        },
        md5_of_body=message.get("MD5OfBody", ""),
        md5_of_message_attributes=message.get("MD5OfMessageAttributes"),
        queue_arn=queue_arn,
        region=region,
    )
