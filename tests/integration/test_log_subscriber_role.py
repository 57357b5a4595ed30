"""The log subscriber (LogSubscription LogGroups) with its role from template.yaml enforced:
each scheduled run lists the log groups, subscribes the selected ones to the stream and
passes CloudWatch Logs its role, through the local stack's enforcer; its calls are recorded
for the IAM report like the e2e suites' (tests/iam_record.py). No e2e suite runs this mode:
locally every log group is subscribed by the account policy (contract §10)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.enforced import admin, function_with_its_role
from tests.support import FakeLambdaContext, load_function

PARAMETERS = {"LogSubscription": "LogGroups", "SubscribedLogGroups": "/app/*"}


@pytest.fixture
def subscriber(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any, Any]]:
    with function_with_its_role("LogSubscriberFunction", monkeypatch, PARAMETERS) as run:
        module = load_function("log_subscriber")
        yield module, run.moto, run.stack
        module.subscriber.cache_clear()


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
