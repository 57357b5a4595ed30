"""`events-api query --stack NAME` against moto: CloudFormation gives the workgroup and
database, Athena runs the statement there, results are paged and converted, failures end
with Athena's state and a non-zero exit code."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.athena.models import QueryResults, athena_backends
from moto.core import DEFAULT_ACCOUNT_ID
from moto.moto_api import state_manager

from events_api_cli.commands import aws_target
from events_api_cli.commands.athena_query import run_on_athena

pytestmark = pytest.mark.integration

STACK_NAME = "events-api-prod"
WORKGROUP, DATABASE = "events-api-prod", "events_api_prod"


def backend() -> Any:
    return athena_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]


@pytest.fixture
def deployed() -> Iterator[None]:
    with mock_aws():
        boto3.client("athena").create_work_group(
            Name=WORKGROUP,
            Configuration={"ResultConfiguration": {"OutputLocation": "s3://results/"}},
        )
        template = {
            "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
            "Outputs": {
                "AthenaWorkGroup": {"Value": WORKGROUP},
                "AthenaDatabase": {"Value": DATABASE},
            },
        }
        boto3.client("cloudformation").create_stack(
            StackName=STACK_NAME, TemplateBody=json.dumps(template)
        )
        aws_target.stack_outputs.cache_clear()
        yield
        aws_target.stack_outputs.cache_clear()
        state_manager.unset_transition("athena::execution")


def seed(names_and_types: list[tuple[str, str]], rows: list[list[str | None]]) -> None:
    """The result moto's Athena hands the next statement (header row first, as Athena)."""
    header = [{"VarCharValue": name} for name, _ in names_and_types]
    data = [[{} if v is None else {"VarCharValue": v} for v in row] for row in rows]
    backend().query_results_queue.append(
        QueryResults(
            rows=[{"Data": header}, *({"Data": row} for row in data)],
            column_info=[{"Name": name, "Type": kind} for name, kind in names_and_types],
        )
    )


def test_query_runs_in_the_stacks_workgroup_and_prints_typed_rows(
    deployed: None, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(
        [("level", "varchar"), ("n", "bigint"), ("p50", "double")],
        [["error", "3", "12.5"], [None, "1", None]],
    )
    state_manager.set_transition("athena::execution", {"progression": "manual", "times": 1})
    sleeps: list[float] = []
    out = io.BytesIO()
    sql = "SELECT level, count(*) AS n FROM events WHERE dataset = 'logs' GROUP BY level"

    assert run_on_athena(sql, STACK_NAME, "ndjson", out, sleep=sleeps.append) == 0

    assert [json.loads(line) for line in out.getvalue().splitlines()] == [
        {"level": "error", "n": 3, "p50": 12.5},
        {"level": None, "n": 1, "p50": None},
    ]
    (execution,) = backend().executions.values()
    assert execution.query == sql
    assert execution.workgroup.name == WORKGROUP
    assert execution.context == {"Database": DATABASE}
    # moto moves one state per poll: RUNNING (wait a second), then SUCCEEDED.
    assert sleeps == [1.0]
    stderr = capsys.readouterr().err
    assert f"query {execution.id} succeeded" in stderr
    assert "scanned 0.0 MB ($0.000000)" in stderr
    assert stderr.startswith("2 rows; ")


def test_failed_query_prints_why_and_exits_non_zero(
    deployed: None, capsys: pytest.CaptureFixture[str]
) -> None:
    def fail(parsed: dict[str, Any], **_: Any) -> None:
        backend().executions[parsed["QueryExecutionId"]].status = "FAILED"

    # The CLI's own client (boto3's default session): fail every statement it starts.
    boto3.DEFAULT_SESSION = None
    boto3.setup_default_session()
    assert boto3.DEFAULT_SESSION is not None
    boto3.DEFAULT_SESSION.events.register("after-call.athena.StartQueryExecution", fail)
    out = io.BytesIO()
    try:
        code = run_on_athena("SELECT nope FROM events", STACK_NAME, "table", out)
    finally:
        boto3.DEFAULT_SESSION = None
    assert code == 1
    assert out.getvalue() == b""
    stderr = capsys.readouterr().err
    assert stderr.splitlines()[0] == "events-api query: the query ended FAILED"
    assert " failed in " in stderr


def test_a_stack_without_athena_outputs_is_a_clear_error(
    deployed: None, capsys: pytest.CaptureFixture[str]
) -> None:
    template = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}}
    boto3.client("cloudformation").create_stack(
        StackName="older", TemplateBody=json.dumps(template)
    )
    with pytest.raises(aws_target.TargetError, match="'older' has no output AthenaWorkGroup"):
        run_on_athena("SELECT 1", "older", "table", io.BytesIO())
    with pytest.raises(aws_target.TargetError, match="cannot read stack 'missing'"):
        run_on_athena("SELECT 1", "missing", "table", io.BytesIO())
