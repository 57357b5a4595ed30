"""AWS stubbed at the HTTP layer: requests are built and signed as usual (by botocore or by
``events_api.aws.http_client``), then answered here instead of going over the network.

``StubAws.install()`` replaces ``URLLib3Session.send`` (the one place botocore touches the
network) and is ``aws.http_client``'s transport, so a handler's own code and its clients' run in
full. It answers Kinesis PutRecords, SQS SendMessageBatch, SSM GetParameter, the key
index's GetParameters (an index holding ``key``) and S3 PutObject, and with ``record=True``
it also decodes every request to count what AWS would bill (records, bytes, calls).
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

_ID = re.compile(rb'"Id": ?"([^"]+)"')


class _Raw:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, *args: object, **kwargs: object) -> Iterator[bytes]:
        yield self._data


@dataclass
class Call:
    operation: str
    request_bytes: int  # the HTTP body as sent (base64 and JSON framing included)
    entries: list[int] = field(default_factory=list)  # billed size of each record/message


@dataclass
class StubAws:
    key_document: bytes = b""  # SSM parameter value returned for every key look-up
    key: str = ""  # the key the key index holds (none: an index with no key in it)
    record: bool = False
    calls: list[Call] = field(default_factory=list)
    objects: dict[str, bytes] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _original: Callable[..., Any] | None = None

    # installation ---------------------------------------------------------------------
    def install(self) -> StubAws:
        self.install_transport()
        return self.install_botocore()

    def install_botocore(self) -> StubAws:
        from botocore import httpsession

        if self._original is None:
            self._original = httpsession.URLLib3Session.send
            stub = self

            def send(session: object, request: Any) -> Any:
                return stub.send_botocore(request)

            httpsession.URLLib3Session.send = send  # type: ignore[method-assign]
        return self

    def install_transport(self) -> StubAws:
        """Answer ``events_api.aws.http_client``'s requests (botocore is not imported for this)."""
        from events_api.aws import http_client as aws_http

        aws_http.use_transport(self)
        return self

    def uninstall(self) -> None:
        from botocore import httpsession

        from events_api.aws import http_client as aws_http

        aws_http.use_transport(None)
        if self._original is not None:
            httpsession.URLLib3Session.send = self._original  # type: ignore[method-assign]
            self._original = None

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.objects.clear()

    # answering ------------------------------------------------------------------------
    def send(
        self, method: str, url: str, headers: dict[str, str], body: bytes, timeout: float
    ) -> Any:
        """``aws.http_client``'s transport."""
        from events_api.aws.http_client import Response

        status, answer_headers, payload = self.answer(
            method, url, headers.get("X-Amz-Target", ""), body
        )
        return Response(status, payload, answer_headers)

    def send_botocore(self, request: Any) -> Any:
        """botocore's ``URLLib3Session.send``: the same answers."""
        from botocore.awsrequest import AWSResponse

        body = request.body or b""
        if not isinstance(body, bytes | bytearray):
            body = body.read() if hasattr(body, "read") else bytes(body)
        status, headers, payload = self.answer(
            request.method, request.url, request.headers.get("X-Amz-Target", b""), body
        )
        return AWSResponse(request.url, status, headers, _Raw(payload))

    def answer(
        self, method: str, url: str, target: str | bytes, body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        if isinstance(target, bytes):
            target = target.decode()
        status, headers, payload = 200, {"Content-Type": "application/x-amz-json-1.1"}, b"{}"
        if target.endswith(".PutRecords"):
            payload = self._put_records(body)
        elif target.endswith(".SendMessageBatch"):
            headers = {"Content-Type": "application/x-amz-json-1.0"}
            payload = self._send_message_batch(body)
        elif target.endswith(".GetParameters"):
            payload = self._key_index(body)
        elif target.endswith(".GetParameter"):
            payload = json.dumps(
                {
                    "Parameter": {
                        "Name": "/k",
                        "Type": "SecureString",
                        "Value": self.key_document.decode(),
                        "Version": 1,
                    }
                }
            ).encode()
        elif method == "PUT":
            headers = {"ETag": '"0"'}
            payload = b""
            self._put_object(url, bytes(body))
        return status, headers, payload

    def _key_index(self, body: bytes) -> bytes:
        from events_api.ingest.key_index import shard_values
        from events_api.ingest.keys import key_hash

        names = json.loads(body)["Names"]
        path = names[0][: names[0].rindex("index/")]
        values = shard_values(path, [key_hash(self.key)] if self.key else [])
        parameters = [
            {"Name": name, "Type": "SecureString", "Value": values[name], "Version": 1}
            for name in names
        ]
        return json.dumps({"Parameters": parameters, "InvalidParameters": []}).encode()

    def _put_records(self, body: bytes) -> bytes:
        count = body.count(b'"PartitionKey":')
        if self.record:
            doc = json.loads(body)
            sizes = [
                len(base64.b64decode(r["Data"])) + len(r["PartitionKey"].encode())
                for r in doc["Records"]
            ]
            self._log(Call("kinesis.PutRecords", len(body), sizes))
        result = b'{"SequenceNumber": "1", "ShardId": "shardId-000000000000"}'
        return b'{"FailedRecordCount": 0, "Records": [' + b",".join([result] * count) + b"]}"

    def _send_message_batch(self, body: bytes) -> bytes:
        ids = _ID.findall(body)
        if self.record:
            doc = json.loads(body)
            sizes = []
            for entry in doc["Entries"]:
                size = len(entry.get("MessageBody", "").encode())
                for name, attribute in (entry.get("MessageAttributes") or {}).items():
                    value = attribute.get("BinaryValue")
                    raw = base64.b64decode(value) if value else attribute["StringValue"].encode()
                    size += len(name) + len(attribute["DataType"]) + len(raw)
                sizes.append(size)
            self._log(Call("sqs.SendMessageBatch", len(body), sizes))
        done = [
            {"Id": i.decode(), "MessageId": f"m-{i.decode()}", "MD5OfMessageBody": "0"} for i in ids
        ]
        return json.dumps({"Successful": done, "Failed": []}).encode()

    def _put_object(self, url: str, body: bytes) -> None:
        if self.record:
            self._log(Call("s3.PutObject", len(body), [len(body)]))
            with self._lock:
                self.objects[url] = body

    def _log(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)
