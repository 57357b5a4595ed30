"""The front door invokes a function only if the function's resource-based policy (the
template's ``AWS::Lambda::Permission`` resources) lets it, as AWS checks before invoking:
each permission the front doors need, removed from a copy of the template, refuses its
route, and a refused route gets AWS's answer without the function running."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from events_api_cli.defaults import LOCAL_STACK_NAME
from events_api_cli.local import invoke_permissions
from events_api_cli.local.api_gateway import FrontDoor, RawRequest
from events_api_cli.local.gateway import Gateway
from events_api_cli.local.lambda_runtime import LocalFunction
from events_api_cli.local.runtime import route_functions
from events_api_cli.local.template import load_stack
from events_api_cli.local.template.document import template
from events_api_cli.local.template.stack import Stack

pytestmark = pytest.mark.unit

PARAMETER = {FrontDoor.HTTP_API: "HttpApi", FrontDoor.FUNCTION_URL: "FunctionUrl"}
#: The permissions each front door needs, by the route whose function they name.
NEEDED = {
    FrontDoor.HTTP_API: {
        "HttpApiInvokePermission": "$default",
        "HttpApiOtlpInvokePermission": "ANY /otlp/{proxy+}",
    },
    FrontDoor.FUNCTION_URL: {
        "FunctionUrlPublicAccess": "$default",
        "FunctionUrlInvokeAccess": "$default",
        "OtlpFunctionUrlPublicAccess": "ANY /otlp/{proxy+}",
        "OtlpFunctionUrlInvokeAccess": "ANY /otlp/{proxy+}",
    },
}


def stack_of(front_door: FrontDoor, document: dict[str, Any] | None = None) -> Stack:
    return load_stack(
        stack_name=LOCAL_STACK_NAME,
        parameters={"FrontDoor": PARAMETER[front_door]},
        document=document,
    )


def refusals(stack: Stack, front_door: FrontDoor) -> dict[str, str]:
    return invoke_permissions.refusals(stack, front_door, route_functions(stack))


@pytest.mark.parametrize("front_door", list(FrontDoor))
def test_the_template_lets_each_front_door_invoke_every_function_behind_it(
    front_door: FrontDoor,
) -> None:
    stack = stack_of(front_door)
    assert [key for key, _ in route_functions(stack)] == ["$default", "ANY /otlp/{proxy+}"]
    assert refusals(stack, front_door) == {}


@pytest.mark.parametrize(
    ("front_door", "permission"),
    [(door, name) for door, names in NEEDED.items() for name in names],
)
def test_each_permission_removed_refuses_its_route(front_door: FrontDoor, permission: str) -> None:
    document = copy.deepcopy(template())
    del document["Resources"][permission]
    stack = stack_of(front_door, document)
    route = NEEDED[front_door][permission]
    function = dict(route_functions(stack))[route]
    action = {
        "HttpApiInvokePermission": "apigateway.amazonaws.com lambda:InvokeFunction",
        "HttpApiOtlpInvokePermission": "apigateway.amazonaws.com lambda:InvokeFunction",
        "FunctionUrlPublicAccess": "an anonymous caller lambda:InvokeFunctionUrl",
        "FunctionUrlInvokeAccess": "an anonymous caller lambda:InvokeFunction",
        "OtlpFunctionUrlPublicAccess": "an anonymous caller lambda:InvokeFunctionUrl",
        "OtlpFunctionUrlInvokeAccess": "an anonymous caller lambda:InvokeFunction",
    }[permission]
    source = ""
    if front_door is FrontDoor.HTTP_API:
        source = " from " + invoke_permissions.route_arn(stack, route)
    assert refusals(stack, front_door) == {
        route: f"{function}'s resource policy does not allow {action}{source} (AccessDenied)"
    }


def test_an_api_gateway_permission_for_another_api_is_refused() -> None:
    document = copy.deepcopy(template())
    permission = document["Resources"]["HttpApiInvokePermission"]["Properties"]
    permission["SourceArn"] = "arn:aws:execute-api:us-east-1:123456789012:otherapi/*"
    stack = stack_of(FrontDoor.HTTP_API, document)
    assert list(refusals(stack, FrontDoor.HTTP_API)) == ["$default"]


def test_the_http_api_invokes_with_its_routes_arn() -> None:
    stack = stack_of(FrontDoor.HTTP_API)
    api = stack.routes[0].api_id
    prefix = f"arn:aws:execute-api:us-east-1:123456789012:{api}/$default/"
    assert [invoke_permissions.route_arn(stack, r.route_key) for r in stack.routes] == [
        prefix + "$default",
        prefix + "*/otlp/{proxy+}",
    ]


@pytest.mark.parametrize(
    ("front_door", "status", "body"),
    [
        (FrontDoor.HTTP_API, 500, {"message": "Internal Server Error"}),
        (FrontDoor.FUNCTION_URL, 403, {"Message": "Forbidden"}),
    ],
)
def test_a_refused_route_gets_the_front_doors_answer_and_the_function_never_runs(
    front_door: FrontDoor, status: int, body: dict[str, str]
) -> None:
    invoked: list[Any] = []

    def handler(event: dict[str, Any], context: Any) -> Any:
        invoked.append(event)
        return {"statusCode": 202, "body": "{}"}

    function = LocalFunction("ingest", handler, timeout_seconds=5, memory_mb=128)
    gateway = Gateway(
        [("$default", function)], front_door=front_door, refused={"$default": "not allowed"}
    )
    request = RawRequest(
        method="POST",
        target="/v1/logs",
        protocol="HTTP/1.1",
        headers=[("Content-Type", "application/json")],
        body=b"[]",
        source_ip="127.0.0.1",
        server_port=3000,
    )
    _, answer = gateway.handle(request)
    assert (answer.status, json.loads(answer.body)) == (status, body)
    assert invoked == []
