"""The ingest path's own AWS client (``events_api.aws.http_client``) answered by moto in-process.

botocore clients reach moto's in-process backends through a botocore event hook that
``mock_aws`` switches on. ``aws.http_client`` does not use botocore, so while ``mock_aws`` is on
its requests go to the same backends through moto's own request handler (the one that hook
calls), and otherwise over the network as in production (to moto's server in e2e tests).
Either way, moto parses the exact bytes the function would send AWS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.awsrequest import AWSPreparedRequest
from botocore.compat import HTTPHeaders
from moto.core.models import botocore_stubber

from events_api.aws import http_client as aws_http
from events_api.aws.http_client import Call, HttpTransport, Response


class InProcessMoto:
    def __init__(self) -> None:
        self.network = HttpTransport()

    def send(
        self, method: str, url: str, headers: dict[str, str], body: bytes, timeout: float
    ) -> Response:
        if botocore_stubber.enabled:
            fields = HTTPHeaders()
            for name, value in headers.items():
                fields[name] = value
            request = AWSPreparedRequest(method, url, fields, body, stream_output=False)
            answer = botocore_stubber.process_request(request)
            if answer is not None:
                status, answer_headers, payload = answer
                data = payload.encode() if isinstance(payload, str) else bytes(payload or b"")
                return Response(
                    status, data, {k.lower(): str(v) for k, v in answer_headers.items()}
                )
        return self.network.send(method, url, headers, body, timeout)


@dataclass
class OnCall:
    """An ``aws.http_client`` hook made of plain functions, for one operation of one service."""

    service: str
    operation: str
    before_call: Callable[[Call], dict[str, Any] | None] | None = None
    after_call: Callable[[Call, dict[str, Any]], None] | None = None

    def before(self, call: Call) -> dict[str, Any] | None:
        if self.before_call is None or call.operation != self.operation:
            return None
        return self.before_call(call)

    def after(self, call: Call, answer: dict[str, Any]) -> None:
        if self.after_call is not None and call.operation == self.operation:
            self.after_call(call, answer)

    def install(self) -> OnCall:
        aws_http.client(self.service).add_hook(self)
        return self

    def uninstall(self) -> None:
        aws_http.client(self.service).remove_hook(self)


def raising(error: Exception) -> Callable[[Call], dict[str, Any] | None]:
    def before(call: Call) -> dict[str, Any] | None:
        raise error

    return before


#: What a client sees when the service cannot be reached, and when SSM throttles it.
UNREACHABLE = aws_http.AwsUnreachable("injected: connection refused")
SSM_THROTTLING = aws_http.AwsError(400, "ThrottlingException", "Rate exceeded")
