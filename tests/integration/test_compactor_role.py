"""The compactor as it runs in AWS (Athena's engine, not the local DuckDB stand-in), with
its role from template.yaml enforced: its calls to Athena (its workgroup) and S3 (list,
read, manifest, archive copy, delete, locks) go through the local stack's enforcer and are
recorded for the IAM report like the e2e suites' calls (tests/iam_record.py).

moto's Athena runs no statement: it answers what ``answer_next`` queues, as in
tests/integration/test_compactor.py, whose flow this follows for one closed hour.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.athena.models import QueryResults, athena_backends

from events_api import aws
from events_api.analytics.table import Hour
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


def admin(moto: MotoServer, service: str) -> Any:
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=moto.endpoint_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def answer_next(*results: list[str]) -> None:
    backend = athena_backends[ACCOUNT][REGION]
    for rows in results:
        backend.query_results_queue.append(
            QueryResults(
                rows=[{"Data": [{"VarCharValue": v}]} for v in ("_source", *rows)] if rows else [],
                column_info=[{"Name": "_source", "Type": "varchar"}],
            )
        )


@pytest.fixture
def enforced(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[tuple[Any, Any, str]]:
    stack = load_stack(stack_name=LOCAL_STACK_NAME)
    authority = Authority(ACCOUNT)
    recorder = CallRecorder(stack)
    authority.listeners.append(recorder)
    moto = MotoServer("127.0.0.1", 0, authority)
    moto.start()
    try:
        deploy(stack, lambda service: admin(moto, service))
        compactor = stack.functions["CompactorFunction"]
        role = compactor.role
        credentials = authority.mint(role.logical_id, role.arn, compactor.name, role_policies(role))
        environment = function_environment(compactor, credentials, moto.endpoint_url, REGION)
        for name in [n for n in list(__import__("os").environ) if n.startswith("AWS_")]:
            monkeypatch.delenv(name)
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        aws.reset()
        module = load_function("compactor")
        yield module, moto, stack.buckets["EventsBucket"].name
        module.settings.cache_clear()
    finally:
        aws.reset()
        moto.stop()
        recorder.write(iam_record.record_file(tmp_path))


def test_the_compactor_compacts_an_hour_with_only_its_roles_rights(
    enforced: tuple[Any, Any, str],
) -> None:
    module, moto, bucket = enforced
    old = datetime.now(UTC) - timedelta(hours=3)
    hour = Hour("logs", old.strftime("%Y-%m-%d"), old.strftime("%H"))
    key = f"{hour.raw_prefix}sqs-one.ndjson.gz"
    s3 = admin(moto, "s3")
    s3.put_object(Bucket=bucket, Key=key, Body=gzip.compress(b'{"_id":"a","message":"m"}\n'))
    answer_next([], [], [f"s3://{bucket}/{key}"])

    answer = module.lambda_handler({}, FakeLambdaContext(remaining_ms=900_000))

    assert answer["failed"] == []
    assert answer["errors"] == []
    assert answer["compacted"] == [{"hour": str(hour), "objects": 1}]
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="archive/")["Contents"]
    assert [item["Key"] for item in listed] == [f"archive/{key}"]
    assert s3.list_objects_v2(Bucket=bucket, Prefix=hour.raw_prefix).get("Contents") is None
