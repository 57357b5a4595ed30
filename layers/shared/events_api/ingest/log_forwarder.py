"""CloudWatch Logs -> the SQS buffer: the subscription's destination when the buffer is SQS.

CloudWatch Logs can put onto a Kinesis stream itself, but not onto a queue: with SQS it
invokes this function (asynchronously) with ``{"awslogs": {"data": <base64 gzip JSON>}}``.
The function puts the gzip bytes, untouched, on the queue as one record (the same binary
attribute the ingest side uses), so decoding, bounds, quarantine and redrive stay the
consumer's, in one place. It never inflates anything: its time and memory are those of one
SQS call on at most 1 MB. When the queue cannot confirm the record within the budget it
raises: Lambda retries the invocation twice, then keeps the whole invocation record (the
payload included) in the events bucket (the function's S3 on-failure destination), where
``events-api redrive`` finds it.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..settings import LogForwarderSettings
from .buffer import deliver
from .publishers import Entry, SqsPublisher


class NotLogData(ValueError):
    """The invocation is not a CloudWatch Logs subscription's."""


def log_data(event: Mapping[str, Any]) -> bytes:
    """The gzip bytes of a subscription's invocation event."""
    try:
        encoded = event["awslogs"]["data"]
        data = base64.b64decode(encoded, validate=True)
    except (KeyError, TypeError, binascii.Error) as exc:
        raise NotLogData(f"not a CloudWatch Logs subscription event: {exc}") from None
    if not data:
        raise NotLogData("empty CloudWatch Logs data")
    return data


@dataclass
class LogForwarder:
    settings: LogForwarderSettings

    def forward(self, data: bytes) -> None:
        """Put one record on the queue, confirmed; raises ``BufferUnavailable`` if not."""
        publisher = SqsPublisher(self.settings.queue_url)
        deliver(publisher, [Entry("0", data, "")], self.settings.buffer_budget_seconds)
