"""Buffer adapters: one PutRecords / SendMessageBatch call each, per-entry failures out.

Both calls go through ``aws.http_client`` (the JSON protocol without botocore): the documents are
built here, with each record's data base64'd as the protocol carries blobs.
"""

from __future__ import annotations

from base64 import b64encode
from collections.abc import Sequence
from dataclasses import dataclass

from ..aws import http_client as aws_http
from ..records import SQS_ATTRIBUTE, SQS_BODY

_SQS_ATTRIBUTE_OVERHEAD = len(SQS_ATTRIBUTE) + len("Binary") + len(SQS_BODY)


@dataclass(frozen=True, slots=True)
class Entry:
    id: str
    data: bytes
    partition_key: str


class KinesisPublisher:
    max_entries_per_call = 500
    max_bytes_per_call = 5 * 1024 * 1024
    #: Bytes per record that are not the record's data (the partition key).
    record_overhead = 256

    def __init__(self, stream_name: str) -> None:
        self.stream_name = stream_name

    def entry_size(self, entry: Entry) -> int:
        return len(entry.data) + len(entry.partition_key)

    def send(self, entries: Sequence[Entry]) -> set[str]:
        answer = aws_http.client("kinesis").call(
            "PutRecords",
            {
                "StreamName": self.stream_name,
                "Records": [
                    {"Data": b64encode(e.data).decode(), "PartitionKey": e.partition_key}
                    for e in entries
                ],
            },
        )
        # Confirmed means a sequence number and no error: anything else is sent again.
        return {
            entry.id
            for entry, result in zip(entries, answer["Records"], strict=True)
            if result.get("ErrorCode") or not result.get("SequenceNumber")
        }


class SqsPublisher:
    max_entries_per_call = 10
    max_bytes_per_call = 1024 * 1024
    record_overhead = _SQS_ATTRIBUTE_OVERHEAD + 64

    def __init__(self, queue_url: str) -> None:
        self.queue_url = queue_url

    def entry_size(self, entry: Entry) -> int:
        return len(entry.data) + _SQS_ATTRIBUTE_OVERHEAD

    def send(self, entries: Sequence[Entry]) -> set[str]:
        answer = aws_http.client("sqs").call(
            "SendMessageBatch",
            {
                "QueueUrl": self.queue_url,
                "Entries": [
                    {
                        "Id": entry.id,
                        "MessageBody": SQS_BODY,
                        "MessageAttributes": {
                            SQS_ATTRIBUTE: {
                                "DataType": "Binary",
                                "BinaryValue": b64encode(entry.data).decode(),
                            }
                        },
                    }
                    for entry in entries
                ],
            },
        )
        # Confirmed means listed as Successful (and not Failed): an entry the answer does not
        # name is sent again, never assumed delivered.
        confirmed = {ok["Id"] for ok in answer.get("Successful", [])}
        confirmed.difference_update(failed["Id"] for failed in answer.get("Failed", []))
        return {entry.id for entry in entries if entry.id not in confirmed}
