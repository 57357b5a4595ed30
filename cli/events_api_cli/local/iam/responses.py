"""AccessDenied as each service answers it, so that the SDKs raise what they raise in AWS."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from xml.sax.saxutils import escape

from .policy import Decision, Outcome, Request

#: JSON protocol services whose AccessDenied code differs from AccessDeniedException, and
#: those answering with another HTTP status than 400.
_JSON_TYPES = {"sqs": "com.amazon.coral.service#AccessDeniedException"}
_JSON_STATUS = {"sqs": 403}


@dataclass(frozen=True)
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def message(principal_arn: str, request: Request, decision: Decision) -> str:
    """IAM's wording (the documented form of an AccessDenied message)."""
    if decision.outcome is Outcome.EXPLICIT_DENY:
        where = (
            "a resource-based policy" if decision.resource_policy else "an identity-based policy"
        )
        why = f"with an explicit deny in {where}"
    else:
        why = f"because no identity-based policy allows the {request.action} action"
    return (
        f"User: {principal_arn} is not authorized to perform: {request.action} "
        f"on resource: {request.resource} {why}"
    )


def access_denied(service: str, protocol: str, text: str) -> Answer:
    request_id = str(uuid.uuid4())
    if protocol == "json":
        kind = _JSON_TYPES.get(service, "AccessDeniedException")
        headers = [
            (
                "Content-Type",
                "application/x-amz-json-1.0" if service == "sqs" else "application/x-amz-json-1.1",
            ),
            ("x-amzn-RequestId", request_id),
        ]
        if service == "sqs":
            # What SQS's JSON protocol adds so that SDKs report the query protocol's code.
            headers.append(("x-amzn-query-error", "AccessDenied;Sender"))
        body = json.dumps({"__type": kind, "message": text}).encode()
        return Answer(_JSON_STATUS.get(service, 400), headers, body)
    if protocol == "rest-xml":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>AccessDenied</Code><Message>{escape(text)}</Message>"
            f"<RequestId>{request_id}</RequestId><HostId>{request_id}</HostId></Error>"
        ).encode()
        return Answer(
            403, [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)], body
        )
    body = (
        f"<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
        f"<Message>{escape(text)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    ).encode()
    return Answer(403, [("Content-Type", "text/xml")], body)


def cannot_authorize(text: str) -> Answer:
    """A request on a role's credentials that the local stack cannot map to IAM: refused
    loudly (501), never let through unchecked."""
    body = json.dumps({"__type": "LocalStackCannotAuthorize", "message": text}).encode()
    return Answer(501, [("Content-Type", "application/x-amz-json-1.1")], body)
