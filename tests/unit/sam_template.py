"""template.yaml parsed and evaluated, for the template tests.

CloudFormation short tags become the usual {"Ref": ...} / {"Fn::...": ...} dicts, and
``Deployment`` evaluates conditions, rules and intrinsics the way CloudFormation would for one
set of parameter values (resource attributes get plausible stand-in values).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "template.yaml"
REGION, ACCOUNT, STACK = "us-east-1", "123456789012", "events-api-test"


class CloudFormationLoader(yaml.SafeLoader):
    """A YAML loader that knows !Ref, !Sub, !GetAtt, !If and the other short forms."""


def _short_form(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    key = suffix if suffix in {"Ref", "Condition"} else f"Fn::{suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {key: value}


CloudFormationLoader.add_multi_constructor("!", _short_form)


@cache
def template() -> dict[str, Any]:
    return yaml.load(TEMPLATE_PATH.read_text(), Loader=CloudFormationLoader)


def resources(kind: str | None = None) -> dict[str, dict[str, Any]]:
    return {
        name: resource
        for name, resource in template()["Resources"].items()
        if kind is None or resource["Type"] == kind
    }


def functions() -> dict[str, dict[str, Any]]:
    return resources("AWS::Serverless::Function")


def function_property(name: str, key: str) -> Any:
    """A function's property as deployed: its own value, else the Globals one."""
    own = functions()[name].get("Properties", {})
    return own.get(key, template().get("Globals", {}).get("Function", {}).get(key))


def function_variables(name: str) -> dict[str, Any]:
    shared = template()["Globals"]["Function"].get("Environment", {}).get("Variables", {})
    own = functions()[name]["Properties"].get("Environment", {}).get("Variables", {})
    return {**shared, **own}


def walk(node: Any) -> Iterator[Any]:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def if_branches(entry: Any) -> list[Any]:
    """Both outcomes of a Fn::If (recursively), or the entry itself."""
    if isinstance(entry, dict) and set(entry) == {"Fn::If"}:
        _, then, otherwise = entry["Fn::If"]
        return [*if_branches(then), *if_branches(otherwise)]
    if entry == {"Ref": "AWS::NoValue"}:
        return []
    return [entry]


NO_VALUE = object()
_SUB_VARIABLE = re.compile(r"\$\{([^}!]+)\}")


class Deployment:
    """A deployment of the template: its intrinsics evaluated for one set of parameter values."""

    def __init__(self, **overrides: str) -> None:
        declared = template()["Parameters"]
        unknown = set(overrides) - set(declared)
        assert not unknown, f"no such parameters: {unknown}"
        self.parameters = {
            name: str(overrides.get(name, spec.get("Default", "")))
            for name, spec in declared.items()
        }
        queue = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}"
        self.refs: dict[str, str] = {
            **self.parameters,
            "AWS::StackName": STACK,
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "EventStream": f"{STACK}-EventStream-1A2B3C",
            "EventStream.Arn": f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{STACK}-EventStream",
            "EventQueue": f"{queue}/{STACK}-EventQueue",
            "EventQueue.QueueName": f"{STACK}-EventQueue",
            "EventDeadLetterQueue": f"{queue}/{STACK}-EventDeadLetterQueue",
            "EventDeadLetterQueue.QueueName": f"{STACK}-EventDeadLetterQueue",
            "EventsBucket": f"{STACK}-eventsbucket-1a2b3c",
            "EventsBucket.Arn": f"arn:aws:s3:::{STACK}-eventsbucket-1a2b3c",
            "QueryResultsBucket": f"{STACK}-queryresultsbucket-4d5e6f",
            "QueryResultsBucket.Arn": f"arn:aws:s3:::{STACK}-queryresultsbucket-4d5e6f",
            "HttpApi": "a1b2c3d4e5",
            "HttpApiStage": "$default",
            "HttpApiIntegration": "f6g7h8i",
            "IngestFunction": f"{STACK}-IngestFunction-AbCdEf",
            "OtlpFunction": f"{STACK}-OtlpFunction-AbCdEf",
            "IngestFunction.Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:"
            f"{STACK}-IngestFunction-AbCdEf",
            "IngestFunctionUrl.FunctionUrl": "https://abcdefghijklmnopqrstuvwxyz012345"
            f".lambda-url.{REGION}.on.aws/",
            "OtlpFunctionUrl.FunctionUrl": "https://6789abcdefghijklmnopqrstuvwxyz01"
            f".lambda-url.{REGION}.on.aws/",
            "ConsumerFunction": f"{STACK}-ConsumerFunction-GhIjKl",
            "CompactorFunction": f"{STACK}-CompactorFunction-MnOpQr",
            "CompactorFunction.Arn": (
                f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{STACK}-CompactorFunction-MnOpQr"
            ),
            "AnalyticsDatabase": STACK.replace("-", "_"),
            "QueryWorkGroup": STACK,
            "EventsDashboard": STACK,
            "LogSubscriptionRole.Arn": f"arn:aws:iam::{ACCOUNT}:role/{STACK}-LogSubscriptionRole",
            "LogForwarderFunction": f"{STACK}-LogForwarderFunction-StUvWx",
            "LogForwarderFunction.Arn": (
                f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{STACK}-LogForwarderFunction-StUvWx"
            ),
            "LogForwarderInvokePermission": f"{STACK}-LogForwarderInvokePermission-1",
            "LogSubscriberFunction": f"{STACK}-LogSubscriberFunction-YzAbCd",
            "LogSubscriberFunction.Arn": (
                f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{STACK}-LogSubscriberFunction-YzAbCd"
            ),
            "IngestLogGroup": f"/aws/lambda/{STACK}-ingest",
            "OtlpLogGroup": f"/aws/lambda/{STACK}-otlp",
            "ConsumerLogGroup": f"/aws/lambda/{STACK}-consumer",
            "CompactorLogGroup": f"/aws/lambda/{STACK}-compactor",
            "LogForwarderLogGroup": f"/aws/lambda/{STACK}-log-forwarder",
            "LogSubscriberLogGroup": f"/aws/lambda/{STACK}-log-subscriber",
            "CustomDomain": self.parameters["CustomDomainName"],
            "CustomDomain.RegionalDomainName": f"d-0a1b2c3d4e.execute-api.{REGION}.amazonaws.com",
            "CustomDomain.RegionalHostedZoneId": "Z1UJRXOUMOOFQ8",
        }

    def condition(self, name: str) -> bool:
        return self.truth(template()["Conditions"][name])

    def truth(self, expression: Any) -> bool:
        ((key, value),) = expression.items()
        if key == "Condition":
            return self.condition(value)
        if key == "Fn::Equals":
            left, right = (str(self.resolve(side)) for side in value)
            return left == right
        if key == "Fn::Not":
            return not self.truth(value[0])
        if key == "Fn::And":
            return all(self.truth(item) for item in value)
        if key == "Fn::Or":
            return any(self.truth(item) for item in value)
        raise AssertionError(f"unexpected condition function {key}")

    def refused_by_rules(self) -> list[str]:
        """The AssertDescription of every rule assertion these parameters break."""
        refused = []
        for rule in template().get("Rules", {}).values():
            if "RuleCondition" in rule and not self.truth(rule["RuleCondition"]):
                continue
            for assertion in rule["Assertions"]:
                if not self.truth(assertion["Assert"]):
                    refused.append(assertion["AssertDescription"])
        return refused

    def exists(self, resource_name: str) -> bool:
        condition = template()["Resources"][resource_name].get("Condition")
        return condition is None or self.condition(condition)

    def resolve(self, node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            ((key, value),) = node.items()
            if key == "Fn::If":
                name, then, otherwise = value
                return self.resolve(then if self.condition(name) else otherwise)
            if key == "Ref":
                return NO_VALUE if value == "AWS::NoValue" else self.refs[value]
            if key == "Fn::GetAtt":
                return self.refs[".".join(value)]
            if key == "Fn::Sub":
                text, variables = (value, {}) if isinstance(value, str) else value
                names = {**self.refs, **{k: self.resolve(v) for k, v in variables.items()}}
                substituted = _SUB_VARIABLE.sub(lambda match: names[match.group(1)], text)
                # ${!Literal} is how Fn::Sub writes a literal ${Literal}.
                return substituted.replace("${!", "${")
            if key == "Fn::Join":
                separator, items = value
                return separator.join(self.resolve(items))
            if key == "Fn::Split":
                separator, text = value
                return self.resolve(text).split(separator)
        if isinstance(node, dict):
            pairs = ((key, self.resolve(value)) for key, value in node.items())
            return {key: value for key, value in pairs if value is not NO_VALUE}
        if isinstance(node, list):
            items = (self.resolve(value) for value in node)
            return [value for value in items if value is not NO_VALUE]
        return node
