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
from typing import Any

import pytest
from moto.athena.models import QueryResults, athena_backends

from events_api.analytics.table import Hour
from tests.integration.enforced import ACCOUNT, REGION, admin, function_with_its_role
from tests.support import FakeLambdaContext, load_function


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
def enforced(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any, str]]:
    with function_with_its_role("CompactorFunction", monkeypatch) as run:
        module = load_function("compactor")
        yield module, run.moto, run.stack.buckets["EventsBucket"].name
        module.settings.cache_clear()


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
