"""A stack of the template created in moto, as CloudFormation would create it.

Every resource moto can hold is created with the template's properties (buckets with
their encryption, public access block, ownership, lifecycle and policy; the stream with
its mode and encryption; the queues with their attributes and redrive policy; the log
groups with their retention; the Glue database and tables; the Athena workgroup; the
schedules). A resource whose name is already taken in the account and region (or, for a
bucket, anywhere) is refused, as CloudFormation refuses it: so two stacks of the template
can share one local account exactly when they could share an AWS account.

Bucket policies stay out of moto (local/iam evaluates them: moto would refuse every
plain HTTP call under the template's aws:SecureTransport deny). What moto cannot hold is
listed (``Deployed.not_created``) for ``events-api dev`` to say.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .template.stack import Stack

#: Resource types the local stack stands in for without creating them in moto, and how.
STOOD_IN_FOR = {
    "AWS::Lambda::Function": "run by events-api dev in worker processes",
    "AWS::IAM::Role": "enforced by events-api dev in front of moto",
    "AWS::Lambda::EventSourceMapping": "polled by events-api dev",
    "AWS::Lambda::LayerVersion": "put on the functions' path",
    "AWS::ApiGatewayV2::Api": "the local gateway",
    "AWS::ApiGatewayV2::Route": "the local gateway",
    "AWS::ApiGatewayV2::Integration": "the local gateway",
    "AWS::ApiGatewayV2::Stage": "the local gateway",
    "AWS::Lambda::Url": "the local gateway",
    "AWS::Logs::AccountPolicy": "the local subscriber (log_subscriptions.py)",
    "AWS::Lambda::EventInvokeConfig": "the local subscriptions' invocations",
    # Evaluated by events-api dev for the roles' calls. Not put in moto, which would apply
    # its aws:SecureTransport deny to the plain HTTP of every local call.
    "AWS::S3::BucketPolicy": "evaluated by events-api dev",
}


class NameCollision(Exception):
    """A resource of the stack would take a name another resource already has."""

    def __init__(self, logical_id: str, kind: str, name: str) -> None:
        super().__init__(
            f"{logical_id} ({kind}): {name} already exists in this account and region; "
            "CloudFormation would fail to create the stack"
        )
        self.logical_id, self.kind, self.name = logical_id, kind, name


@dataclass
class Deployed:
    created: list[str] = field(default_factory=list)
    #: (logical id, type) of resources neither created nor stood in for.
    not_created: list[tuple[str, str]] = field(default_factory=list)


Client = Callable[[str], Any]


def deploy(stack: Stack, client: Client) -> Deployed:
    """Create ``stack``'s resources with ``client(service)`` (an administrator's clients).
    Raises NameCollision before creating anything when a name is taken."""
    _refuse_taken_names(stack, client)
    deployed = Deployed()
    for bucket in stack.buckets.values():
        _bucket(client("s3"), bucket.name, bucket.properties)
        deployed.created.append(bucket.logical_id)
    for stream in stack.streams.values():
        kinesis = client("kinesis")
        args: dict[str, Any] = {
            "StreamName": stream.name,
            "StreamModeDetails": {"StreamMode": stream.mode},
        }
        if stream.mode == "PROVISIONED":
            args["ShardCount"] = stream.shard_count
        kinesis.create_stream(**args)
        kinesis.get_waiter("stream_exists").wait(
            StreamName=stream.name, WaiterConfig={"Delay": 0.1}
        )
        if stream.encryption:
            kinesis.start_stream_encryption(
                StreamName=stream.name,
                EncryptionType=stream.encryption["EncryptionType"],
                KeyId=stream.encryption["KeyId"],
            )
        deployed.created.append(stream.logical_id)
    # Dead-letter queues before the queues whose redrive policy names them.
    for queue in sorted(stack.queues.values(), key=lambda q: "RedrivePolicy" in q.attributes):
        client("sqs").create_queue(QueueName=queue.name, Attributes=queue.attributes)
        deployed.created.append(queue.logical_id)
    for group in stack.log_groups.values():
        logs = client("logs")
        logs.create_log_group(logGroupName=group.name)
        if group.retention_days is not None:
            logs.put_retention_policy(logGroupName=group.name, retentionInDays=group.retention_days)
        deployed.created.append(group.logical_id)
    glue = client("glue")
    for logical_id, p in stack.of_type("AWS::Glue::Database").items():
        glue.create_database(DatabaseInput=p["DatabaseInput"])
        deployed.created.append(logical_id)
    for logical_id, p in stack.of_type("AWS::Glue::Table").items():
        glue.create_table(DatabaseName=p["DatabaseName"], TableInput=p["TableInput"])
        deployed.created.append(logical_id)
    for logical_id, p in stack.of_type("AWS::Athena::WorkGroup").items():
        client("athena").create_work_group(
            Name=p["Name"],
            Description=p.get("Description", ""),
            Configuration=_workgroup_configuration(p.get("WorkGroupConfiguration") or {}),
        )
        deployed.created.append(logical_id)
    for schedule in stack.schedules.values():
        p = stack.resources[schedule.logical_id]
        client("scheduler").create_schedule(
            Name=schedule.physical_name,
            ScheduleExpression=schedule.expression,
            FlexibleTimeWindow=p["FlexibleTimeWindow"],
            Target=p["Target"],
            State=schedule.state,
            Description=p.get("Description", ""),
        )
        deployed.created.append(schedule.logical_id)
    done = set(deployed.created)
    for logical_id, kind in stack.types.items():
        if logical_id not in done and kind not in STOOD_IN_FOR:
            deployed.not_created.append((logical_id, kind))
    return deployed


def _workgroup_configuration(configuration: dict[str, Any]) -> dict[str, Any]:
    # moto's Athena takes the configuration's result location and enforcement only.
    keep = (
        "ResultConfiguration",
        "EnforceWorkGroupConfiguration",
        "PublishCloudWatchMetricsEnabled",
    )
    return {k: v for k, v in configuration.items() if k in keep}


def _bucket(s3: Any, name: str, p: dict[str, Any]) -> None:
    s3.create_bucket(Bucket=name)
    if "BucketEncryption" in p:
        # CloudFormation's ServerSideEncryptionByDefault is the API's ApplyServerSide...
        rules = [
            {
                "ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"],
                **(
                    {"BucketKeyEnabled": rule["BucketKeyEnabled"]}
                    if "BucketKeyEnabled" in rule
                    else {}
                ),
            }
            for rule in p["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        ]
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
    if "PublicAccessBlockConfiguration" in p:
        s3.put_public_access_block(
            Bucket=name, PublicAccessBlockConfiguration=p["PublicAccessBlockConfiguration"]
        )
    if "OwnershipControls" in p:
        s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=p["OwnershipControls"])
    lifecycle = (p.get("LifecycleConfiguration") or {}).get("Rules")
    if lifecycle:
        s3.put_bucket_lifecycle_configuration(
            Bucket=name, LifecycleConfiguration={"Rules": [_lifecycle_rule(r) for r in lifecycle]}
        )


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's rule properties in the S3 API's shape."""
    out: dict[str, Any] = {
        "ID": rule.get("Id", ""),
        "Status": rule["Status"],
        "Filter": {"Prefix": rule.get("Prefix", "")},
    }
    if "ExpirationInDays" in rule:
        out["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    upload = rule.get("AbortIncompleteMultipartUpload")
    if upload:
        out["AbortIncompleteMultipartUpload"] = {
            "DaysAfterInitiation": int(upload["DaysAfterInitiation"])
        }
    return out


def _refuse_taken_names(stack: Stack, client: Client) -> None:
    """CloudFormation's "already exists": any name of this stack another resource holds."""
    from botocore.exceptions import ClientError

    named: list[tuple[str, str, str]] = [
        *((b.logical_id, "AWS::S3::Bucket", b.name) for b in stack.buckets.values()),
        *((s.logical_id, "AWS::Kinesis::Stream", s.name) for s in stack.streams.values()),
        *((q.logical_id, "AWS::SQS::Queue", q.name) for q in stack.queues.values()),
        *((g.logical_id, "AWS::Logs::LogGroup", g.name) for g in stack.log_groups.values()),
        *(
            (logical_id, "AWS::Glue::Database", str(p["DatabaseInput"]["Name"]))
            for logical_id, p in stack.of_type("AWS::Glue::Database").items()
        ),
        *(
            (logical_id, "AWS::Athena::WorkGroup", str(p["Name"]))
            for logical_id, p in stack.of_type("AWS::Athena::WorkGroup").items()
        ),
        *(
            (s.logical_id, "AWS::Scheduler::Schedule", s.physical_name)
            for s in stack.schedules.values()
        ),
    ]
    for logical_id, kind, name in named:
        try:
            _LOOKUPS[kind](client, name)
        except ClientError:
            continue
        raise NameCollision(logical_id, kind, name)


def _log_group(client: Client, name: str) -> None:
    from botocore.exceptions import ClientError

    groups = client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    if not any(group["logGroupName"] == name for group in groups):
        raise ClientError(
            {"Error": {"Code": "ResourceNotFoundException", "Message": name}}, "DescribeLogGroups"
        )


def _work_group(client: Client, name: str) -> None:
    from botocore.exceptions import ClientError

    # moto answers GetWorkGroup for any name: look it up in the list instead.
    groups = client("athena").list_work_groups()["WorkGroups"]
    if not any(group["Name"] == name for group in groups):
        raise ClientError(
            {"Error": {"Code": "InvalidRequestException", "Message": name}}, "GetWorkGroup"
        )


#: How to ask whether a name is taken: each raises ClientError when it is free.
_LOOKUPS: dict[str, Callable[[Client, str], Any]] = {
    "AWS::S3::Bucket": lambda client, name: client("s3").head_bucket(Bucket=name),
    "AWS::Kinesis::Stream": lambda client, name: client("kinesis").describe_stream_summary(
        StreamName=name
    ),
    "AWS::SQS::Queue": lambda client, name: client("sqs").get_queue_url(QueueName=name),
    "AWS::Logs::LogGroup": _log_group,
    "AWS::Glue::Database": lambda client, name: client("glue").get_database(Name=name),
    "AWS::Athena::WorkGroup": _work_group,
    "AWS::Scheduler::Schedule": lambda client, name: client("scheduler").get_schedule(Name=name),
}
