"""The local stack's wiring rules: requests as IAM sees them, the log agent's filters, the
scheduler's expressions, the front door's routes and the functions' environment."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from events_api_cli.local.function_logs import kept_at, shown_on_console
from events_api_cli.local.iam.enforcer import Credentials
from events_api_cli.local.iam.requests import AwsRequest, Mapper, Unmapped
from events_api_cli.local.runtime import function_environment, gateway_routes
from events_api_cli.local.scheduler import UnsupportedExpression, next_time
from events_api_cli.local.template import load_stack

pytestmark = pytest.mark.unit

ACCOUNT, REGION = "123456789012", "us-east-1"


class NoLookups:
    def parameter_key(self, name: str) -> str | None:
        return "1234abcd" if name.endswith("/cmk") else None

    def kms_key_id(self, key: str) -> str | None:
        return None

    def query_workgroup(self, execution_id: str) -> str:
        return "wg"

    def shard_iterator_stream(self, iterator: str) -> str:
        return "from-iterator"


def authorise(service: str, target: str | None = None, body: Any = None, **request: Any) -> Any:
    headers = {"x-amz-target": target} if target else {}
    headers.update(request.pop("headers", {}))
    raw = json.dumps(body).encode() if isinstance(body, dict) else (body or b"")
    aws = AwsRequest(
        method=request.pop("method", "POST"),
        path=request.pop("path", "/"),
        query=request.pop("query", ""),
        headers=headers,
        body=raw,
        service=service,
        region=REGION,
    )
    found = Mapper(ACCOUNT, NoLookups()).authorization(aws)
    return [(r.action, r.resource, dict(r.context)) for r in found.requests]


def arn(service: str, rest: str) -> str:
    return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{rest}"


def test_sqs_batch_calls_need_the_single_actions() -> None:
    url = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/q"
    assert authorise("sqs", "AmazonSQS.SendMessageBatch", {"QueueUrl": url}) == [
        ("sqs:SendMessage", arn("sqs", "q"), {})
    ]
    assert authorise("sqs", "AmazonSQS.DeleteMessageBatch", {"QueueUrl": url})[0][0] == (
        "sqs:DeleteMessage"
    )


def test_kinesis_calls_name_the_stream_by_name_arn_or_iterator() -> None:
    stream = arn("kinesis", "stream/s")
    assert authorise("kinesis", "Kinesis_20131202.PutRecords", {"StreamName": "s"})[0][1] == stream
    assert (
        authorise("kinesis", "Kinesis_20131202.GetRecords", {"StreamARN": stream})[0][1] == stream
    )
    assert authorise("kinesis", "Kinesis_20131202.GetRecords", {"ShardIterator": "x"})[0][1] == (
        arn("kinesis", "stream/from-iterator")
    )
    assert authorise("kinesis", "Kinesis_20131202.ListStreams", {}) == [
        ("kinesis:ListStreams", "*", {})
    ]


def test_ssm_parameters_and_the_kms_key_of_a_customer_managed_secure_string() -> None:
    assert authorise("ssm", "AmazonSSM.GetParameter", {"Name": "/k/a", "WithDecryption": True}) == [
        ("ssm:GetParameter", arn("ssm", "parameter/k/a"), {})
    ]
    [_, kms] = authorise(
        "ssm", "AmazonSSM.GetParameter", {"Name": "/k/cmk", "WithDecryption": True}
    )
    assert kms == (
        "kms:Decrypt",
        arn("kms", "key/1234abcd"),
        {
            "kms:ViaService": f"ssm.{REGION}.amazonaws.com",
            "kms:EncryptionContext:PARAMETER_ARN": arn("ssm", "parameter/k/cmk"),
        },
    )
    assert authorise("ssm", "AmazonSSM.GetParametersByPath", {"Path": "/k/"})[0][1] == (
        arn("ssm", "parameter/k")
    )


def test_s3_requests_map_to_object_and_bucket_actions_with_their_keys() -> None:
    assert authorise("s3", method="GET", path="/b", query="list-type=2&prefix=dataset%3Da/") == [
        (
            "s3:ListBucket",
            "arn:aws:s3:::b",
            {"aws:SecureTransport": "true", "s3:prefix": "dataset=a/"},
        )
    ]
    assert authorise("s3", method="HEAD", path="/b/k")[0][:2] == (
        "s3:GetObject",
        "arn:aws:s3:::b/k",
    )
    copy = authorise("s3", method="PUT", path="/b/archive/k", headers={"x-amz-copy-source": "/b/k"})
    assert [(a, r) for a, r, _ in copy] == [
        ("s3:PutObject", "arn:aws:s3:::b/archive/k"),
        ("s3:GetObject", "arn:aws:s3:::b/k"),
    ]
    delete = b"<Delete><Object><Key>a/1</Key></Object><Object><Key>a/&amp;2</Key></Object></Delete>"
    assert [
        r for _, r, _ in authorise("s3", method="POST", path="/b", query="delete", body=delete)
    ] == [
        "arn:aws:s3:::b/a/1",
        "arn:aws:s3:::b/a/&2",
    ]
    assert authorise("s3", method="DELETE", path="/b/k", query="uploadId=1")[0][0] == (
        "s3:AbortMultipartUpload"
    )


def test_athena_glue_and_logs_resources() -> None:
    assert authorise("athena", "AmazonAthena.GetQueryResults", {"QueryExecutionId": "q"})[0][1] == (
        arn("athena", "workgroup/wg")
    )
    assert [
        r for _, r, _ in authorise("glue", "AWSGlue.GetTable", {"DatabaseName": "d", "Name": "t"})
    ] == [
        arn("glue", "catalog"),
        arn("glue", "database/d"),
        arn("glue", "table/d/t"),
    ]
    put = authorise(
        "logs", "Logs_20140328.PutLogEvents", {"logGroupName": "/g", "logStreamName": "s"}
    )
    assert put[0][1] == arn("logs", "log-group:/g:log-stream:s")


def test_a_subscription_filter_with_a_role_needs_iam_pass_role() -> None:
    role = f"arn:aws:iam::{ACCOUNT}:role/r"
    body = {"logGroupName": "/g", "filterName": "f", "destinationArn": "d", "roleArn": role}
    assert authorise("logs", "Logs_20140328.PutSubscriptionFilter", body) == [
        ("logs:PutSubscriptionFilter", arn("logs", "log-group:/g:*"), {}),
        ("iam:PassRole", role, {"iam:PassedToService": "logs.amazonaws.com"}),
    ]


def test_configurations_read_back_with_commas_in_values() -> None:
    from events_api_cli.local.iam.calls import parameters_of

    assert parameters_of(
        "BufferType=SQS,SubscribedLogGroups=/a/*,/b,LogSubscription=LogGroups"
    ) == {
        "BufferType": "SQS",
        "SubscribedLogGroups": "/a/*,/b",
        "LogSubscription": "LogGroups",
    }


def test_a_service_the_local_stack_does_not_map_is_refused_not_passed() -> None:
    with pytest.raises(Unmapped):
        authorise("dynamodb", "DynamoDB_20120810.GetItem", {"TableName": "t"})


def test_the_log_agent_keeps_what_lambda_keeps_and_shows_what_a_developer_needs() -> None:
    assert not kept_at('{"level":"DEBUG","message":"m"}', "INFO")
    assert kept_at('{"level":"WARNING","message":"m"}', "INFO")
    assert kept_at('{"_aws":{"CloudWatchMetrics":[]}}', "WARN")
    assert kept_at("a plain line", "ERROR")
    assert shown_on_console('{"level":"ERROR","message":"m"}')
    assert not shown_on_console('{"level":"INFO","message":"m"}')
    assert not shown_on_console('{"_aws":{}}')
    assert shown_on_console("Traceback (most recent call last):")


def test_schedule_expressions() -> None:
    at = datetime(2026, 12, 3, 8, 25, tzinfo=UTC)
    assert next_time("cron(20 * * * ? *)", at) == datetime(2026, 12, 3, 9, 20, tzinfo=UTC)
    assert next_time("cron(0/15 8 * * ? *)", at) == datetime(2026, 12, 3, 8, 30, tzinfo=UTC)
    assert next_time("rate(5 minutes)", at) == datetime(2026, 12, 3, 8, 30, tzinfo=UTC)
    with pytest.raises(UnsupportedExpression):
        next_time("cron(0 12 ? * MON-FRI *)", at)


def test_function_urls_are_told_apart_by_the_paths_the_outputs_give() -> None:
    stack = load_stack(stack_name="local", parameters={"FrontDoor": "FunctionUrl"})
    routes = gateway_routes(stack, {"IngestFunction": "ingest", "OtlpFunction": "otlp"})  # type: ignore[dict-item]
    assert sorted(routes) == [("$default", "ingest"), ("ANY /otlp/{proxy+}", "otlp")]


def test_a_functions_environment_is_the_templates_and_lambdas() -> None:
    stack = load_stack(stack_name="local")
    ingest = stack.functions["IngestFunction"]
    env = function_environment(
        ingest, Credentials("ASIAX", "secret", "token"), "http://127.0.0.1:1", REGION
    )
    assert {k: env[k] for k in ingest.environment} == ingest.environment
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == ingest.name
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "512"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/local-ingest"
    assert (env["AWS_LAMBDA_LOG_FORMAT"], env["AWS_LAMBDA_LOG_LEVEL"]) == ("JSON", "INFO")
    assert (env["AWS_ACCESS_KEY_ID"], env["AWS_SESSION_TOKEN"]) == ("ASIAX", "token")
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:1"


def test_recorded_calls_are_written_relative_to_the_template_and_replay_exactly() -> None:
    from events_api_cli.local.iam.calls import Entry, Names, normalise_resource, replay

    stack = load_stack(stack_name="local")
    names = Names(stack)
    bucket = stack.buckets["EventsBucket"].name
    key = f"arn:aws:s3:::{bucket}/dataset=e2e-1a2b/dt=2026-12-03/hour=09/sqs-4f.ndjson.gz"
    assert normalise_resource(key, names) == "arn:aws:s3:::${EventsBucket}/dataset=_/dt=_/hour=_/_"
    parameter = arn("ssm", "parameter/events-api/local/keys/9f86d081884c7d65")
    assert normalise_resource(parameter, names) == (
        "arn:aws:ssm:${AWS::Region}:${AWS::AccountId}:parameter/events-api/${AWS::StackName}/keys/_"
    )
    entry = Entry(
        "default",
        "ConsumerFunction",
        "ConsumerFunctionRole",
        "function",
        "s3:PutObject",
        normalise_resource(key, names),
    )
    assert replay(entry, names).resource == f"arn:aws:s3:::{bucket}/dataset=_/dt=_/hour=_/_"


def test_a_schedule_runs_its_target_only_if_its_role_may_invoke_it() -> None:
    from dataclasses import replace

    from events_api_cli.local.iam.enforcer import Authority
    from events_api_cli.local.scheduler import LocalSchedule
    from events_api_cli.local.template.stack import Policy

    stack = load_stack(stack_name="local")
    schedule = stack.schedules["CompactorFunctionHourly"]
    role = stack.roles["CompactorFunctionHourlyRole"]
    runs: list[int] = []

    def fire(with_role: Any) -> bool:
        return LocalSchedule(schedule, with_role, Authority(ACCOUNT), lambda: runs.append(1)).fire()

    assert fire(role)
    other = "arn:aws:lambda:us-east-1:123456789012:function:other"
    assert not fire(
        replace(
            role,
            policies=(
                Policy(
                    "p",
                    {
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": "lambda:InvokeFunction",
                                "Resource": other,
                            }
                        ]
                    },
                ),
            ),
        )
    )
    assert not fire(replace(role, trusted_services=("lambda.amazonaws.com",)))
    assert runs == [1]
