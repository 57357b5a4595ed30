"""local/iam: moto's server behind the enforcer refuses, in each service's own error shape,
what a role's policies do not allow, resource by resource (real boto3 and aws_http calls
signed with a role's minted credentials)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from events_api.aws import http_client as aws_http
from events_api_cli.local.iam.enforcer import Authority, Call, Credentials
from events_api_cli.local.iam.policy import NamedDocument
from events_api_cli.local.moto_aws import MotoServer
from tests.integration.enforced import ACCOUNT, REGION, admin

ROLE = f"arn:aws:iam::{ACCOUNT}:role/test-role"


def arn(service: str, rest: str) -> str:
    return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{rest}"


POLICY = {
    "Statement": [
        {
            "Effect": "Allow",
            "Action": "kinesis:PutRecords",
            "Resource": arn("kinesis", "stream/allowed"),
        },
        {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": arn("sqs", "allowed")},
        {
            "Effect": "Allow",
            "Action": "ssm:GetParameter",
            "Resource": arn("ssm", "parameter/keys/*"),
        },
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::bucket/dataset=*"},
        {
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": "arn:aws:s3:::bucket",
            "Condition": {"StringLike": {"s3:prefix": "dataset=*"}},
        },
        {
            "Effect": "Allow",
            "Action": "s3:DeleteObject",
            "Resource": "arn:aws:s3:::bucket/dataset=*",
        },
        {
            "Effect": "Allow",
            "Action": "athena:StartQueryExecution",
            "Resource": arn("athena", "workgroup/ours"),
        },
        {
            "Effect": "Allow",
            "Action": "glue:GetTable",
            "Resource": [
                arn("glue", "catalog"),
                arn("glue", "database/db"),
                arn("glue", "table/db/events"),
            ],
        },
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": arn("logs", "log-group:/aws/lambda/ours:*"),
        },
    ]
}


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[MotoServer, Authority, Credentials, list[Call]]]:
    authority = Authority(ACCOUNT)
    calls: list[Call] = []
    authority.listeners.append(calls.append)
    moto = MotoServer("127.0.0.1", 0, authority)
    moto.start()
    credentials = authority.mint(
        "TestRole", ROLE, "test-function", [NamedDocument("TestRolePolicy", POLICY)]
    )
    s3_admin = admin(moto, "s3")
    s3_admin.create_bucket(Bucket="bucket")
    for name in ("allowed", "other"):
        admin(moto, "kinesis").create_stream(StreamName=name, ShardCount=1)
        admin(moto, "sqs").create_queue(QueueName=name)
    ssm = admin(moto, "ssm")
    ssm.put_parameter(Name="/keys/a", Value="v", Type="SecureString")
    ssm.put_parameter(Name="/other/a", Value="v", Type="SecureString")
    key = admin(moto, "kms").create_key()["KeyMetadata"]["KeyId"]
    ssm.put_parameter(Name="/keys/cmk", Value="v", Type="SecureString", KeyId=key)
    admin(moto, "athena").create_work_group(Name="ours", Configuration={})
    admin(moto, "athena").create_work_group(Name="theirs", Configuration={})
    glue = admin(moto, "glue")
    glue.create_database(DatabaseInput={"Name": "db"})
    for table in ("events", "other"):
        glue.create_table(DatabaseName="db", TableInput={"Name": table})
    logs = admin(moto, "logs")
    for group in ("/aws/lambda/ours", "/aws/lambda/theirs"):
        logs.create_log_group(logGroupName=group)
    try:
        yield moto, authority, credentials, calls
    finally:
        moto.stop()


def role_client(server: Any, service: str) -> Any:
    moto, _, credentials, _ = server
    return boto3.client(
        service,
        endpoint_url=moto.endpoint_url,
        region_name=REGION,
        aws_access_key_id=credentials.access_key,
        aws_secret_access_key=credentials.secret_key,
        aws_session_token=credentials.token,
    )


def denied(call: Any) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as error:
        call()
    response = error.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


def test_kinesis_refuses_another_stream_with_access_denied_exception(server: Any) -> None:
    kinesis = role_client(server, "kinesis")
    records = [{"Data": b"x", "PartitionKey": "p"}]
    assert kinesis.put_records(StreamName="allowed", Records=records)["FailedRecordCount"] == 0
    code, status, message = denied(lambda: kinesis.put_records(StreamName="other", Records=records))
    assert (code, status) == ("AccessDeniedException", 400)
    assert message == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/test-role/test-function is not authorized to "
        f"perform: kinesis:PutRecords on resource: {arn('kinesis', 'stream/other')} because no "
        "identity-based policy allows the kinesis:PutRecords action"
    )
    # An action the role lacks, on its own stream.
    assert (
        denied(lambda: kinesis.put_record(StreamName="allowed", Data=b"x", PartitionKey="p"))[0]
        == "AccessDeniedException"
    )


def test_sqs_refuses_another_queue_as_sqs_does(server: Any) -> None:
    sqs = role_client(server, "sqs")
    moto = server[0]
    allowed = admin(moto, "sqs").get_queue_url(QueueName="allowed")["QueueUrl"]
    other = admin(moto, "sqs").get_queue_url(QueueName="other")["QueueUrl"]
    sqs.send_message(QueueUrl=allowed, MessageBody="x")
    code, status, _ = denied(lambda: sqs.send_message(QueueUrl=other, MessageBody="x"))
    assert (code, status) == ("AccessDenied", 403)


def test_aws_http_sees_the_same_refusal(server: Any) -> None:
    moto, _, credentials, _ = server
    client = aws_http.JsonClient(
        "kinesis",
        environ={
            "AWS_ENDPOINT_URL": moto.endpoint_url,
            "AWS_REGION": REGION,
            **credentials.environment(),
        },
    )
    with pytest.raises(aws_http.AwsError) as error:
        client.call(
            "PutRecords",
            {"StreamName": "other", "Records": [{"Data": "eA==", "PartitionKey": "p"}]},
        )
    assert (error.value.status, error.value.code) == (400, "AccessDeniedException")


def test_ssm_parameters_are_scoped_by_path_and_a_customer_key_needs_kms_decrypt(
    server: Any,
) -> None:
    ssm = role_client(server, "ssm")
    assert ssm.get_parameter(Name="/keys/a", WithDecryption=True)["Parameter"]["Value"] == "v"
    assert denied(lambda: ssm.get_parameter(Name="/other/a", WithDecryption=True))[:2] == (
        "AccessDeniedException",
        400,
    )
    code, _, message = denied(lambda: ssm.get_parameter(Name="/keys/cmk", WithDecryption=True))
    assert code == "AccessDeniedException"
    assert "kms:Decrypt on resource: arn:aws:kms:us-east-1:123456789012:key/" in message
    # Without decryption, the key is not used.
    assert ssm.get_parameter(Name="/keys/cmk")["Parameter"]["Name"] == "/keys/cmk"


def test_s3_objects_are_scoped_by_prefix_and_listing_by_the_prefix_condition(server: Any) -> None:
    s3 = role_client(server, "s3")
    s3.put_object(Bucket="bucket", Key="dataset=a/x", Body=b"x")
    code, status, message = denied(
        lambda: s3.put_object(Bucket="bucket", Key="compacted/x", Body=b"x")
    )
    assert (code, status) == ("AccessDenied", 403)
    assert "perform: s3:PutObject on resource: arn:aws:s3:::bucket/compacted/x because" in message
    assert [
        o["Key"] for o in s3.list_objects_v2(Bucket="bucket", Prefix="dataset=")["Contents"]
    ] == ["dataset=a/x"]
    assert (
        denied(lambda: s3.list_objects_v2(Bucket="bucket", Prefix="quarantine/"))[0]
        == "AccessDenied"
    )
    assert denied(lambda: s3.list_objects_v2(Bucket="bucket"))[0] == "AccessDenied"
    assert denied(lambda: s3.get_object(Bucket="bucket", Key="dataset=a/x"))[0] == "AccessDenied"
    # DeleteObjects: every key it names.
    admin(server[0], "s3").put_object(Bucket="bucket", Key="archive/x", Body=b"x")
    answer = s3.delete_objects(Bucket="bucket", Delete={"Objects": [{"Key": "dataset=a/x"}]})
    assert [d["Key"] for d in answer["Deleted"]] == ["dataset=a/x"]
    mixed = {"Objects": [{"Key": "dataset=a/y"}, {"Key": "archive/x"}]}
    assert denied(lambda: s3.delete_objects(Bucket="bucket", Delete=mixed))[0] == "AccessDenied"


def test_athena_workgroups_and_glue_tables(server: Any) -> None:
    athena = role_client(server, "athena")
    athena.start_query_execution(QueryString="SELECT 1", WorkGroup="ours")
    assert (
        denied(lambda: athena.start_query_execution(QueryString="SELECT 1", WorkGroup="theirs"))[0]
        == "AccessDeniedException"
    )
    glue = role_client(server, "glue")
    assert glue.get_table(DatabaseName="db", Name="events")["Table"]["Name"] == "events"
    code, _, message = denied(lambda: glue.get_table(DatabaseName="db", Name="other"))
    assert code == "AccessDeniedException"
    assert message.endswith(
        f"on resource: {arn('glue', 'table/db/other')} because no identity-based policy "
        "allows the glue:GetTable action"
    )


def test_logs_writes_are_scoped_to_the_log_group(server: Any) -> None:
    logs = role_client(server, "logs")
    logs.create_log_stream(logGroupName="/aws/lambda/ours", logStreamName="s")
    logs.put_log_events(
        logGroupName="/aws/lambda/ours",
        logStreamName="s",
        logEvents=[{"timestamp": 1, "message": "m"}],
    )
    assert (
        denied(
            lambda: logs.create_log_stream(logGroupName="/aws/lambda/theirs", logStreamName="s")
        )[0]
        == "AccessDeniedException"
    )


def test_every_decision_is_reported_to_listeners(server: Any) -> None:
    _, _, _, calls = server
    denied_calls = [c for c in calls if not c.decision.allowed]
    assert {c.request.action for c in denied_calls} >= {
        "kinesis:PutRecords",
        "s3:PutObject",
        "glue:GetTable",
    }
    assert all(c.principal.session == "test-function" for c in calls)
    assert json.dumps([c.request.resource for c in calls])
