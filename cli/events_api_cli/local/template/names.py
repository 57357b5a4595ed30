"""What each resource is called once deployed: its ``Ref`` value and its attributes.

A resource with a name property (``BucketName``, ``LogGroupName``, ``Name``...) is called
that; one without gets a name CloudFormation-style, ``{stack}-{LogicalId}-{SUFFIX}``, cut to
the service's length limit. AWS makes the suffix random; here it is a hash of the stack and
the logical id, so a local stack restarted under the same name gets the same names (and two
stacks of different names never share a generated one, as in AWS).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from .intrinsics import Resolver, TemplateError

#: The name property of each resource type that has one.
NAME_PROPERTIES: dict[str, str] = {
    "AWS::S3::Bucket": "BucketName",
    "AWS::Kinesis::Stream": "Name",
    "AWS::SQS::Queue": "QueueName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::IAM::Role": "RoleName",
    "AWS::Scheduler::Schedule": "Name",
    "AWS::Athena::WorkGroup": "Name",
    "AWS::CloudWatch::Dashboard": "DashboardName",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::Lambda::LayerVersion": "LayerName",
    "AWS::ApiGatewayV2::DomainName": "DomainName",
}
#: Longest generated name per type (services' own limits).
_MAX_LENGTH = {
    "AWS::S3::Bucket": 63,
    "AWS::Lambda::Function": 64,
    "AWS::IAM::Role": 64,
    "AWS::SQS::Queue": 80,
    "AWS::Scheduler::Schedule": 64,
}
_LOWER_CASE = {"AWS::S3::Bucket"}


def suffix(stack: str, logical_id: str, length: int = 13) -> str:
    digest = hashlib.sha256(f"{stack}/{logical_id}".encode()).digest()
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return "".join(alphabet[byte % len(alphabet)] for byte in digest[:length])


def generated_name(stack: str, logical_id: str, kind: str) -> str:
    limit = _MAX_LENGTH.get(kind, 128)
    tail = suffix(stack, logical_id, 12 if kind in _LOWER_CASE else 13)
    room = limit - len(tail) - 2
    stack_part = stack[: max(1, room // 2)] if len(stack) + len(logical_id) > room else stack
    logical_part = logical_id[: room - len(stack_part)]
    name = f"{stack_part}-{logical_part}-{tail}"
    return name.lower() if kind in _LOWER_CASE else name


def _short_id(stack: str, logical_id: str, length: int) -> str:
    return hashlib.sha256(f"{stack}/{logical_id}".encode()).hexdigest()[:length]


def _generated_role(document: dict[str, Any], logical_id: str) -> dict[str, Any] | None:
    """The role SAM makes for a function that names none (``<Function>Role``), which the
    template may refer to before the transform (a bucket policy naming a function's role)."""
    function = document["Resources"].get(logical_id.removesuffix("Role"))
    if not logical_id.endswith("Role") or function is None:
        return None
    if function["Type"] != "AWS::Serverless::Function":
        return None
    if "Role" in (function.get("Properties") or {}):
        return None
    return {"Type": "AWS::IAM::Role", "Properties": {}}


class Refs(dict[str, Any]):
    """Parameter values, pseudo parameters, and every resource's Ref value and attributes,
    worked out on first use (a name may depend on other names: ``!Sub ${AWS::StackName}``)."""

    def __init__(
        self, document: dict[str, Any], values: dict[str, Any], pseudo: dict[str, Any]
    ) -> None:
        super().__init__({**values, **pseudo})
        self.document = document
        self.resolver = Resolver(document, self)

    def __missing__(self, key: str) -> Any:
        logical_id, _, attribute = key.partition(".")
        resource = self.document["Resources"].get(logical_id) or _generated_role(
            self.document, logical_id
        )
        if resource is None:
            raise KeyError(key)
        values = self._resource_values(logical_id, resource)
        if (attribute or "Ref") not in values:
            raise TemplateError(logical_id, attribute or "Ref", "attribute not known locally")
        return values[attribute or "Ref"]

    def _name_of(self, logical_id: str, resource: dict[str, Any]) -> str:
        kind = resource["Type"]
        properties = resource.get("Properties") or {}
        prop = NAME_PROPERTIES.get(kind)
        if prop and prop in properties:
            return str(self.resolver.resolve(properties[prop]))
        return generated_name(str(self["AWS::StackName"]), logical_id, kind)

    def _resource_values(self, logical_id: str, resource: dict[str, Any]) -> dict[str, Any]:
        kind: str = resource["Type"]
        properties = resource.get("Properties") or {}
        stack = str(self["AWS::StackName"])
        region, account = str(self["AWS::Region"]), str(self["AWS::AccountId"])
        partition = str(self["AWS::Partition"])
        resolve: Callable[[Any], Any] = self.resolver.resolve

        def arn(service: str, rest: str, *, regional: bool = True, owned: bool = True) -> str:
            where = f"{region if regional else ''}:{account if owned else ''}"
            return f"arn:{partition}:{service}:{where}:{rest}"

        if kind == "AWS::S3::Bucket":
            name = self._name_of(logical_id, resource)
            return {
                "Ref": name,
                "Arn": f"arn:{partition}:s3:::{name}",
                "DomainName": f"{name}.s3.amazonaws.com",
                "RegionalDomainName": f"{name}.s3.{region}.amazonaws.com",
            }
        if kind == "AWS::Kinesis::Stream":
            name = self._name_of(logical_id, resource)
            return {"Ref": name, "Arn": arn("kinesis", f"stream/{name}")}
        if kind == "AWS::SQS::Queue":
            name = self._name_of(logical_id, resource)
            url = f"https://sqs.{region}.amazonaws.com/{account}/{name}"
            return {"Ref": url, "QueueUrl": url, "QueueName": name, "Arn": arn("sqs", name)}
        if kind == "AWS::Logs::LogGroup":
            name = self._name_of(logical_id, resource)
            return {"Ref": name, "Arn": arn("logs", f"log-group:{name}:*")}
        if kind in {"AWS::Lambda::Function", "AWS::Serverless::Function"}:
            name = self._name_of(logical_id, {**resource, "Type": "AWS::Lambda::Function"})
            return {"Ref": name, "Arn": arn("lambda", f"function:{name}")}
        if kind == "AWS::IAM::Role":
            name = self._name_of(logical_id, resource)
            path = resolve(properties.get("Path", "/"))
            return {
                "Ref": name,
                "Arn": f"arn:{partition}:iam::{account}:role{path}{name}",
                "RoleId": "AROA" + suffix(stack, logical_id, 17),
            }
        if kind == "AWS::Scheduler::Schedule":
            name = self._name_of(logical_id, resource)
            group = resolve(properties.get("GroupName", "default"))
            return {"Ref": name, "Arn": arn("scheduler", f"schedule/{group}/{name}")}
        if kind in {"AWS::Lambda::LayerVersion", "AWS::Serverless::LayerVersion"}:
            name = self._name_of(logical_id, {**resource, "Type": "AWS::Lambda::LayerVersion"})
            return {"Ref": arn("lambda", f"layer:{name}:1")}
        if kind == "AWS::Glue::Database":
            return {"Ref": resolve(properties["DatabaseInput"]["Name"])}
        if kind == "AWS::Glue::Table":
            return {"Ref": resolve(properties["TableInput"]["Name"])}
        if kind == "AWS::ApiGatewayV2::Api":
            api_id = _short_id(stack, logical_id, 10)
            return {
                "Ref": api_id,
                "ApiId": api_id,
                "ApiEndpoint": f"https://{api_id}.execute-api.{region}.amazonaws.com",
            }
        if kind == "AWS::ApiGatewayV2::Stage":
            return {"Ref": resolve(properties["StageName"])}
        if kind == "AWS::ApiGatewayV2::DomainName":
            name = self._name_of(logical_id, resource)
            return {
                "Ref": name,
                "RegionalDomainName": f"d-{_short_id(stack, logical_id, 10)}"
                f".execute-api.{region}.amazonaws.com",
                # API Gateway's regional hosted zone (us-east-1's; a stand-in elsewhere).
                "RegionalHostedZoneId": "Z1UJRXOUMOOFQ8",
            }
        if kind == "AWS::Lambda::Url":
            url_id = _short_id(stack, logical_id, 32)
            return {
                "Ref": url_id,
                "FunctionUrl": f"https://{url_id}.lambda-url.{region}.on.aws/",
                "FunctionArn": resolve(properties["TargetFunctionArn"]),
            }
        if kind == "AWS::Lambda::EventSourceMapping":
            digest = _short_id(stack, logical_id, 32)
            uuid = f"{digest[:8]}-{digest[8:12]}-4{digest[13:16]}-8{digest[17:20]}-{digest[20:32]}"
            return {"Ref": uuid, "Id": uuid}
        if kind == "AWS::Athena::NamedQuery":
            return {"Ref": _short_id(stack, logical_id, 32)}
        if kind == "AWS::CloudWatch::Alarm":
            name = self._name_of(logical_id, resource)
            return {"Ref": name, "Arn": arn("cloudwatch", f"alarm:{name}")}
        if kind in NAME_PROPERTIES:
            return {"Ref": self._name_of(logical_id, resource)}
        # Permissions, policies, integrations, routes, custom resources: an opaque id.
        return {"Ref": f"{stack}-{logical_id}-{suffix(stack, logical_id)}"}
