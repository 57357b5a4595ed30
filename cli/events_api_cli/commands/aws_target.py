"""Where the AWS-facing commands point: a deployed stack, an explicit path, or the local stack.

boto3 reads the standard variables, so ``AWS_ENDPOINT_URL=http://127.0.0.1:4566`` points
every command at ``events-api dev``'s moto. moto takes any credentials; when the endpoint is
on loopback and none are configured, dummy ones are filled in so that command just works.
"""

from __future__ import annotations

import os
from functools import cache
from urllib.parse import urlsplit

from ..defaults import LOCAL_REGION

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class TargetError(Exception):
    """The command cannot tell where to go (a clear message for the user)."""


def use_local_stack_by_default() -> str:
    """For commands whose default is the local stack: ``AWS_ENDPOINT_URL``, else where
    ``events-api dev`` serves AWS by default. The endpoint in use."""
    from ..defaults import DEFAULT_AWS_PORT, DEFAULT_HOST

    if not os.environ.get("AWS_ENDPOINT_URL"):
        os.environ["AWS_ENDPOINT_URL"] = f"http://{DEFAULT_HOST}:{DEFAULT_AWS_PORT}"
    prepare_environment()
    return os.environ["AWS_ENDPOINT_URL"]


def prepare_environment() -> None:
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "")
    host = urlsplit(endpoint).hostname if endpoint else None
    if host in _LOOPBACK or (host or "").startswith("127."):
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
        os.environ.setdefault("AWS_DEFAULT_REGION", LOCAL_REGION)


@cache
def stack_outputs(stack: str) -> dict[str, str]:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        answer = boto3.client("cloudformation").describe_stacks(StackName=stack)
    except (BotoCoreError, ClientError) as exc:
        raise TargetError(f"cannot read stack {stack!r}: {exc}") from None
    outputs = answer["Stacks"][0].get("Outputs", [])
    return {o["OutputKey"]: o["OutputValue"] for o in outputs}


def stack_output(stack: str, name: str) -> str:
    value = stack_outputs(stack).get(name)
    if not value:
        raise TargetError(f"stack {stack!r} has no output {name}")
    return value
