"""Whether the front door may invoke the functions behind it: each function's resource-based
policy, as Lambda builds it from the stack's ``AWS::Lambda::Permission`` resources, asked
what AWS asks before it invokes.

- An HTTP API invokes as ``apigateway.amazonaws.com``: ``lambda:InvokeFunction`` with the
  route's ARN (``arn:aws:execute-api:<region>:<account>:<api>/<stage>/<route>``) as
  ``aws:SourceArn``. Refused, the API answers 500 ``{"message":"Internal Server Error"}``
  (the integration fails with "Invalid permissions on Lambda function").
- A function URL of auth type NONE is called by anyone: ``lambda:InvokeFunctionUrl`` with
  ``lambda:FunctionUrlAuthType`` ``NONE``, and, for URLs created since October 2025,
  ``lambda:InvokeFunction`` with ``lambda:InvokedViaFunctionUrl`` true ("Control access to
  Lambda function URLs"). Refused, the URL answers 403 ``{"Message":"Forbidden"}``.

The policies are the template's, fixed for the stack's life, so each route is decided once,
when the gateway starts (``refusals``), and a refused route is logged then and on every
request it refuses.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .api_gateway import DEFAULT_ROUTE, FrontDoor
from .iam.policy import NamedDocument, Outcome, Request, evaluate
from .template.stack import Function, Stack

API_GATEWAY = "apigateway.amazonaws.com"
ANYONE = "*"
#: An auth-NONE function URL's caller signs nothing: only a ``"*"`` principal matches it.
ANONYMOUS = ""


def _statement(logical_id: str, permission: Mapping[str, Any], arn: str) -> dict[str, Any]:
    """One statement of the policy, as Lambda's AddPermission writes it."""
    principal = str(permission["Principal"])
    if principal == ANYONE:
        who: Any = ANYONE
    elif principal.endswith(".amazonaws.com"):
        who = {"Service": principal}
    else:
        who = {"AWS": principal}
    condition: dict[str, dict[str, str]] = {}
    if "SourceArn" in permission:
        condition.setdefault("ArnLike", {})["AWS:SourceArn"] = str(permission["SourceArn"])
    if "SourceAccount" in permission:
        condition.setdefault("StringEquals", {})["AWS:SourceAccount"] = str(
            permission["SourceAccount"]
        )
    if "FunctionUrlAuthType" in permission:
        condition.setdefault("StringEquals", {})["lambda:FunctionUrlAuthType"] = str(
            permission["FunctionUrlAuthType"]
        )
    if str(permission.get("InvokedViaFunctionUrl", "")).lower() == "true":
        condition.setdefault("Bool", {})["lambda:InvokedViaFunctionUrl"] = "true"
    statement: dict[str, Any] = {
        "Sid": logical_id,
        "Effect": "Allow",
        "Principal": who,
        "Action": str(permission["Action"]),
        "Resource": arn,
    }
    if condition:
        statement["Condition"] = condition
    return statement


def function_policy(stack: Stack, function: Function) -> NamedDocument:
    """``function``'s resource-based policy: a statement per permission naming it."""
    statements = [
        _statement(logical_id, permission, function.arn)
        for logical_id, permission in stack.of_type("AWS::Lambda::Permission").items()
        if str(permission.get("FunctionName")) in {function.name, function.arn}
    ]
    document = {"Version": "2012-10-17", "Statement": statements}
    return NamedDocument(f"{function.logical_id} resource policy", document)


def route_arn(stack: Stack, route_key: str) -> str:
    """The ARN API Gateway invokes a route's integration with (its ``aws:SourceArn``)."""
    api_id = stack.http_api_id
    stage = next(
        (
            str(p.get("StageName"))
            for p in stack.of_type("AWS::ApiGatewayV2::Stage").values()
            if str(p.get("ApiId")) == api_id
        ),
        DEFAULT_ROUTE,
    )
    method, _, path = route_key.partition(" ")
    route = route_key if not path else f"{'*' if method == 'ANY' else method}{path}"
    return f"arn:aws:execute-api:{stack.region}:{stack.account}:{api_id}/{stage}/{route}"


def _asked(
    front_door: FrontDoor, function: Function, source_arn: str, account: str
) -> list[tuple[str, Request]]:
    """(principal, request) pairs AWS evaluates before this front door invokes."""
    if front_door is FrontDoor.HTTP_API:
        context = {"aws:SourceArn": source_arn, "aws:SourceAccount": account}
        return [(API_GATEWAY, Request("lambda:InvokeFunction", function.arn, context))]
    via_url = {"lambda:FunctionUrlAuthType": "NONE"}
    return [
        (ANONYMOUS, Request("lambda:InvokeFunctionUrl", function.arn, via_url)),
        (
            ANONYMOUS,
            Request(
                "lambda:InvokeFunction", function.arn, {"lambda:InvokedViaFunctionUrl": "true"}
            ),
        ),
    ]


def refusal(
    stack: Stack, front_door: FrontDoor, function: Function, source_arn: str = ""
) -> str | None:
    """Why the front door may not invoke ``function`` (None: it may)."""
    policy = function_policy(stack, function)
    for principal, request in _asked(front_door, function, source_arn, stack.account):
        decision = evaluate(
            (), request, resource_policies=(policy,), principal_arn=principal, account=""
        )
        if decision.outcome is not Outcome.ALLOWED:
            source = f" from {source_arn}" if source_arn else ""
            who = principal or "an anonymous caller"
            return (
                f"{function.logical_id}'s resource policy does not allow {who} "
                f"{request.action}{source} (AccessDenied)"
            )
    return None


def refusals(
    stack: Stack, front_door: FrontDoor, routes: Iterable[tuple[str, str]]
) -> dict[str, str]:
    """Route key -> why the front door may not invoke its function, for ``routes`` given as
    (route key, function logical id); routes it may invoke are absent."""
    refused = {}
    for route_key, logical_id in routes:
        source = route_arn(stack, route_key) if front_door is FrontDoor.HTTP_API else ""
        why = refusal(stack, front_door, stack.functions[logical_id], source)
        if why is not None:
            refused[route_key] = why
    return refused
