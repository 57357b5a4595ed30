"""The Kinesis and SQS records Lambda's event source mappings deliver, and the context object
a handler is called with, built in one place.

The local stack's pollers and ``redrive`` build them from what they read (an SQS record
from a received message: ``sqs_event_record``); the event files
(scripts/generate_events.py), the tests and the benchmarks build them from buffer records
they made. Keys are in the order Lambda sends them.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping
from dataclasses import dataclass
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


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:{LOCAL_REGION}:{LOCAL_ACCOUNT_ID}:function:{name}"


#: The request id of every context made for a test or a benchmark (a fixed one keeps their
#: log lines comparable); the local stack gives each invocation its own.
FIXED_REQUEST_ID = "5b9f6a3e-2c1d-4e8f-9a7b-0c1d2e3f4a5b"


@dataclass
class LambdaContext:
    """What the Python runtime's context object offers (the handlers and Powertools read it)."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    #: ``time.monotonic()`` when the invocation times out; None: ``remaining_ms`` always (a
    #: test or a benchmark calls one context many times).
    deadline: float | None = None
    remaining_ms: int = 20_000
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    identity: Any = None
    client_context: Any = None

    def get_remaining_time_in_millis(self) -> int:
        if self.deadline is None:
            return self.remaining_ms
        return max(0, int((self.deadline - time.monotonic()) * 1000))


def lambda_context(
    function_name: str,
    *,
    memory_mb: int = 512,
    request_id: str = FIXED_REQUEST_ID,
    deadline: float | None = None,
    remaining_ms: int = 20_000,
) -> LambdaContext:
    """The context of one invocation of ``function_name`` (its log group named as the
    template names every function's)."""
    return LambdaContext(
        function_name=function_name,
        memory_limit_in_mb=memory_mb,
        invoked_function_arn=function_arn(function_name),
        aws_request_id=request_id,
        deadline=deadline,
        remaining_ms=remaining_ms,
        log_group_name=f"/aws/lambda/{function_name}",
        log_stream_name=time.strftime("%Y/%m/%d/[$LATEST]local"),
    )
