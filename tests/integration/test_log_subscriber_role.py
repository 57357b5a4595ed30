"""The log subscriber (LogSubscription LogGroups) with its role from template.yaml enforced:
each scheduled run lists the log groups, subscribes the selected ones to the stream and
passes CloudWatch Logs its role, through the local stack's enforcer; its calls are recorded
for the IAM report like the e2e suites' (tests/iam_record.py). No e2e suite runs this mode:
locally every log group is subscribed by the account policy (contract §10)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from events_api import aws
from events_api_cli.defaults import LOCAL_STACK_NAME
from events_api_cli.local.deploy import deploy
from events_api_cli.local.iam.calls import CallRecorder
from events_api_cli.local.iam.enforcer import Authority
from events_api_cli.local.moto_aws import MotoServer
from events_api_cli.local.runtime import function_environment, role_policies
from events_api_cli.local.template import load_stack
from tests import iam_record
from tests.support import FakeLambdaContext, load_function

ACCOUNT, REGION = "123456789012", "us-east-1"
PARAMETERS = {"LogSubscription": "LogGroups", "SubscribedLogGroups": "/app/*"}


def admin(moto: MotoServer, service: str) -> Any:
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=moto.endpoint_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def subscriber(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[tuple[Any, Any, Any]]:
    stack = load_stack(stack_name=LOCAL_STACK_NAME, parameters=PARAMETERS)
    authority = Authority(ACCOUNT)
    recorder = CallRecorder(stack)
    authority.listeners.append(recorder)
    moto = MotoServer("127.0.0.1", 0, authority)
    moto.start()
    try:
        deploy(stack, lambda service: admin(moto, service))
        function = stack.functions["LogSubscriberFunction"]
        role = function.role
        credentials = authority.mint(role.logical_id, role.arn, function.name, role_policies(role))
        for name in [n for n in os.environ if n.startswith("AWS_")]:
            monkeypatch.delenv(name)
        for name, value in function_environment(
            function, credentials, moto.endpoint_url, REGION
        ).items():
            monkeypatch.setenv(name, value)
        aws.reset()
        module = load_function("log_subscriber")
        yield module, moto, stack
        module.subscriber.cache_clear()
    finally:
        aws.reset()
        moto.stop()
        recorder.write(iam_record.record_file(tmp_path))


def test_a_scheduled_run_subscribes_the_selected_groups_with_only_its_roles_rights(
    subscriber: tuple[Any, Any, Any],
) -> None:
    module, moto, stack = subscriber
    logs = admin(moto, "logs")
    for group in ("/app/orders", "/app/payments", "/other/thing"):
        logs.create_log_group(logGroupName=group)

    answer = module.lambda_handler({}, FakeLambdaContext(remaining_ms=900_000))

    assert (sorted(answer["subscribed"]), answer["failed"]) == (
        ["/app/orders", "/app/payments"],
        {},
    )
    [kept] = logs.describe_subscription_filters(logGroupName="/app/orders")["subscriptionFilters"]
    assert kept["destinationArn"] == stack.streams["EventStream"].arn
    assert kept["roleArn"] == stack.roles["LogSubscriptionRole"].arn
    assert (
        logs.describe_subscription_filters(logGroupName="/other/thing")["subscriptionFilters"] == []
    )
