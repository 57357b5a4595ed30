"""Two stacks of the template in one account and region: the local stack refuses any
resource name they would share, as CloudFormation does (issue 16 §4: the compactor's
ScheduleV2 event without a name collides; with OmitName it does not)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from events_api_cli.local.deploy import NameCollision, deploy
from events_api_cli.local.template import load_stack
from events_api_cli.local.template.document import template


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield lambda service: boto3.client(service, region_name="us-east-1")


def with_omit_name(omit: bool) -> dict[str, Any]:
    document = copy.deepcopy(template())
    hourly = document["Resources"]["CompactorFunction"]["Properties"]["Events"]["Hourly"]
    hourly["Properties"]["OmitName"] = omit
    return document


def test_an_unnamed_schedule_v2_event_makes_a_second_stack_collide(account: Any) -> None:
    document = with_omit_name(False)
    deploy(load_stack(stack_name="dev", document=document), account)
    with pytest.raises(NameCollision) as collision:
        deploy(load_stack(stack_name="prod", document=document), account)
    assert (collision.value.logical_id, collision.value.kind, collision.value.name) == (
        "CompactorFunctionHourly",
        "AWS::Scheduler::Schedule",
        "CompactorFunctionHourly",
    )
    # Nothing of the second stack was created.
    assert not any("prod" in b["Name"] for b in account("s3").list_buckets()["Buckets"])


@pytest.mark.parametrize("buffer", ["Kinesis", "SQS"])
def test_with_omit_name_two_stacks_share_no_name(account: Any, buffer: str) -> None:
    document = with_omit_name(True)
    stacks = [
        load_stack(stack_name=name, document=document, parameters={"BufferType": buffer})
        for name in ("dev", "prod")
    ]
    for stack in stacks:
        deploy(stack, account)
    names = [s["Name"] for s in account("scheduler").list_schedules()["Schedules"]]
    assert sorted(names) == sorted(
        s.schedules["CompactorFunctionHourly"].physical_name for s in stacks
    )
    assert all(name.startswith(("dev-", "prod-")) for name in names)
    assert len(account("s3").list_buckets()["Buckets"]) == 4


def test_the_template_as_committed_deploys_twice_only_if_its_schedule_omits_its_name(
    account: Any,
) -> None:
    hourly = template()["Resources"]["CompactorFunction"]["Properties"]["Events"]["Hourly"]
    omits = bool(hourly["Properties"].get("OmitName", False))
    deploy(load_stack(stack_name="dev"), account)
    if omits:
        deploy(load_stack(stack_name="prod"), account)
    else:
        with pytest.raises(NameCollision):
            deploy(load_stack(stack_name="prod"), account)
