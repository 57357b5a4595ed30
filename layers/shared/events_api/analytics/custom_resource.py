"""CloudFormation custom resources: the answer a function owes the stack for each request.

CloudFormation waits (up to an hour) for a PUT of the outcome to the request's presigned
ResponseURL, so the answer is sent whatever happened, and the function never raises.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Mapping
from typing import Any

import orjson


def is_stack_request(event: Mapping[str, Any]) -> bool:
    return "RequestType" in event and "ResponseURL" in event and "StackId" in event


def respond(
    event: Mapping[str, Any],
    physical_id: str,
    *,
    ok: bool = True,
    reason: str = "",
    timeout: float = 10.0,
) -> dict[str, Any]:
    """PUT the outcome to CloudFormation; the body sent."""
    body = {
        "Status": "SUCCESS" if ok else "FAILED",
        "Reason": reason[:1000] or "see the function's log",
        "PhysicalResourceId": physical_id,
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "Data": {},
    }
    data = orjson.dumps(body)
    # The presigned URL is signed without a content type: send an empty one.
    request = urllib.request.Request(  # noqa: S310 (CloudFormation's https URL)
        str(event["ResponseURL"]),
        data=data,
        method="PUT",
        headers={"content-type": "", "content-length": str(len(data))},
    )
    with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
        answer.read()
    return body
