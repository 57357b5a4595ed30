"""One function of the template run in this process as in AWS: a stack deployed into moto's
server behind the local IAM enforcer, the function's environment and its role's minted
credentials in this process's environment, its calls recorded for the IAM report
(tests/iam_record.py). Used by the role tests, which run code no e2e stack runs as in AWS."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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
from events_api_cli.local.template import Stack, load_stack
from tests import iam_record

ACCOUNT, REGION = "123456789012", "us-east-1"


def admin(moto: MotoServer, service: str) -> Any:
    """A client with the stack owner's (unenforced) credentials."""
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=moto.endpoint_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@dataclass(frozen=True)
class Enforced:
    moto: MotoServer
    stack: Stack


@contextmanager
def function_with_its_role(
    logical_id: str,
    monkeypatch: pytest.MonkeyPatch,
    parameters: dict[str, str] | None = None,
) -> Iterator[Enforced]:
    """The stack deployed and ``logical_id``'s environment and credentials set here."""
    stack = load_stack(stack_name=LOCAL_STACK_NAME, parameters=parameters or {})
    authority = Authority(ACCOUNT)
    recorder = CallRecorder(stack)
    authority.listeners.append(recorder)
    moto = MotoServer("127.0.0.1", 0, authority)
    moto.start()
    try:
        deploy(stack, lambda service: admin(moto, service))
        function = stack.functions[logical_id]
        role = function.role
        credentials = authority.mint(role.logical_id, role.arn, function.name, role_policies(role))
        for name in [n for n in os.environ if n.startswith("AWS_")]:
            monkeypatch.delenv(name)
        environment = function_environment(function, credentials, moto.endpoint_url, REGION)
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        aws.reset()
        yield Enforced(moto, stack)
    finally:
        aws.reset()
        moto.stop()
        recorder.write(iam_record.record_file())
