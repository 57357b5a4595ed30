"""`events-api dev` is template.yaml: its parameters are checked as CloudFormation checks
them, each function runs with its role, and a grant missing from the template is an
AccessDenied at the same place as in AWS."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.e2e.conftest import ROOT, DevProcess, DevStack, events_api_command

pytestmark = pytest.mark.e2e


def dev_refused(*options: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.run(
        [*events_api_command(), "dev", "--port", "0", "--aws-port", "0", *options],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=False,
    )


def test_a_parameter_outside_its_allowed_values_stops_dev_with_exit_code_2() -> None:
    done = dev_refused("--parameter", "LogRetentionDays=2")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "events-api dev: template.yaml cannot be deployed: Parameters: LogRetentionDays: "
        "'2' is not one of the AllowedValues: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, "
        "400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653"
    )
    assert dev_refused("--buffer", "sqs", "--parameter", "BufferType=Kinesis").returncode == 2


@pytest.mark.one_front_door
def test_the_functions_logs_are_in_their_log_groups_written_with_their_roles(
    stack: DevStack,
) -> None:
    assert stack.post_json(stack.new_dataset(), [{"message": "hello"}]).status == 202
    logs = boto3.client(
        "logs",
        endpoint_url=str(stack.dev.ready["awsEndpoint"]),
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    group = str(stack.dev.ready["outputs"]["IngestLogGroupName"])
    assert group == "/aws/lambda/local-ingest"
    deadline = time.monotonic() + 15
    streams: list[dict[str, Any]] = []
    while not streams and time.monotonic() < deadline:
        time.sleep(0.5)  # Lambda ships logs a moment after the invocation, so does the agent
        streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert streams
    assert all("[$LATEST]" in s["logStreamName"] for s in streams)
    # The request's metrics (EMF) are there, for CloudWatch to turn into metrics.
    events = logs.get_log_events(logGroupName=group, logStreamName=streams[0]["logStreamName"])
    assert any('"_aws"' in event["message"] for event in events["events"])


def checkout_without(directory: Path, start: str, end: str) -> Path:
    """A copy of the checkout in ``directory`` whose template.yaml lacks its lines from the
    one starting ``start`` up to (not including) the next one starting ``end``."""
    text = (ROOT / "template.yaml").read_text()
    first = text.index(start)
    last = text.index(end, first)
    (directory / "template.yaml").write_text(text[:first] + text[last:])
    for folder in ("functions", "layers"):
        (directory / folder).symlink_to(ROOT / folder)
    return directory


@pytest.fixture
def checkout_without_key_lookups(tmp_path: Path) -> Path:
    """A copy of the checkout whose ingest role lacks its SSM statement."""
    return checkout_without(
        tmp_path,
        "        # The SSMParameter*ReadPolicy templates add",
        "  # The function names its log group (LoggingConfig)",
    )


def test_a_grant_missing_from_the_template_is_access_denied_where_aws_would_deny_it(
    checkout_without_key_lookups: Path, tmp_path: Path
) -> None:
    dev = DevProcess.start(
        "sqs",
        tmp_path / "dev",
        options=("--compact-every", "0", "--repo", str(checkout_without_key_lookups)),
        record=False,
    )
    try:
        own = DevStack(dev, "sqs")
        response = own.post_json(own.new_dataset(), [{"message": "hello"}])
        # The key store cannot be read: a valid key is never refused 401 for that.
        assert response.status == 503, response.body
        assert response.json() == {"message": "Service Unavailable"}
        errors = dev.stderr.read_text(errors="replace")
        # The first call a key check makes is the key index's read (one GetParameters).
        assert "is not authorized to perform: ssm:GetParameters on resource: " in errors
        assert "/keys/index/" in errors
    finally:
        assert dev.terminate() == 0


@pytest.fixture
def checkout_without_url_invoke(tmp_path: Path) -> Path:
    """A copy of the checkout whose ingest function lacks the lambda:InvokeFunction
    permission a function URL has needed since October 2025."""
    return checkout_without(tmp_path, "  FunctionUrlInvokeAccess:\n", "  IngestFunction:\n")


def test_a_function_url_the_functions_policy_does_not_allow_answers_403_and_stores_nothing(
    checkout_without_url_invoke: Path, tmp_path: Path
) -> None:
    dev = DevProcess.start(
        "sqs",
        tmp_path / "dev",
        "function-url",
        options=("--compact-every", "0", "--repo", str(checkout_without_url_invoke)),
        record=False,
    )
    try:
        own = DevStack(dev, "sqs")
        dataset = own.new_dataset()
        refused = own.post_json(dataset, [{"message": "hello"}])
        assert (refused.status, refused.json()) == (403, {"Message": "Forbidden"})
        # The OTLP function keeps both of its permissions: its URL still answers.
        otlp = own.request("POST", "/otlp/v1/logs", b"{}", {"content-type": "application/json"})
        assert otlp.status == 200, otlp.body
        errors = dev.stderr.read_text(errors="replace")
        assert (
            "IngestFunction's resource policy does not allow an anonymous caller "
            "lambda:InvokeFunction (AccessDenied)"
        ) in errors
        assert own.objects(dataset) == []
    finally:
        assert dev.terminate() == 0
