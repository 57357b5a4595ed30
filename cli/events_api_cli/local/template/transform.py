"""The SAM transform, as ``sam deploy`` has CloudFormation run it: aws-sam-translator (the
library ``sam validate`` uses), with AWS managed policies by their documented statements
(the documents moto ships, a copy of IAM's)."""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from typing import Any

from .intrinsics import TemplateError

#: Where the code of a function or layer is said to be, as ``sam package`` would upload it:
#: the transform wants an S3 location, the local stack wants the folder back.
CODE_BUCKET = "events-api-local-code"


@cache
def managed_policies() -> dict[str, dict[str, Any]]:
    """Every AWS managed policy moto knows, by name: ``{"Arn": ..., "Document": ...}``."""
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    policies: dict[str, dict[str, Any]] = {}
    for name, policy in json.loads(aws_managed_policies_data).items():
        arn = f"arn:aws:iam::aws:policy{policy.get('Path', '/')}{name}"
        policies[name] = {"Arn": arn, "Document": policy["Document"]}
    return policies


def managed_policy_document(arn: str) -> dict[str, Any]:
    """The documented statements of an AWS managed policy by ARN (any partition)."""
    name = arn.rsplit("/", 1)[-1]
    policy = managed_policies().get(name)
    if policy is None or policy["Arn"].split(":", 2)[2] != arn.split(":", 2)[2]:
        raise TemplateError("ManagedPolicyArns", arn, "not an AWS managed policy known locally")
    return dict(policy["Document"])


def _code_uri(value: Any) -> Any:
    if isinstance(value, str) and not value.startswith("s3://"):
        return f"s3://{CODE_BUCKET}/{value.strip('/')}"
    return value


def code_folder(code: Any) -> str | None:
    """The folder a transformed ``Code``/``Content`` points at (``{S3Bucket, S3Key}``)."""
    if isinstance(code, dict) and code.get("S3Bucket") == CODE_BUCKET:
        return str(code["S3Key"])
    return None


def sam_transform(document: dict[str, Any], values: dict[str, Any], region: str) -> dict[str, Any]:
    """The template after the SAM transform for these parameter values. A template the
    transform refuses raises TemplateError with the resource, the property and the reason."""
    import boto3
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    source = copy.deepcopy(document)
    for resource in (source.get("Resources") or {}).values():
        properties = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::Serverless::Function" and "CodeUri" in properties:
            properties["CodeUri"] = _code_uri(properties["CodeUri"])
        if resource.get("Type") == "AWS::Serverless::LayerVersion" and "ContentUri" in properties:
            properties["ContentUri"] = _code_uri(properties["ContentUri"])
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=region))
    policy_map = {name: policy["Arn"] for name, policy in managed_policies().items()}
    try:
        return translator.translate(  # type: ignore[no-any-return]
            source,
            parameter_values=dict(values),
            get_managed_policy_map=lambda: policy_map,
        )
    except InvalidDocumentException as exc:
        first = exc.causes[0] if exc.causes else exc
        resource = getattr(first, "_logical_id", None) or "Transform"
        reason = str(getattr(first, "message", None) or first)
        named = re.search(r"[Pp]roperty '([^']+)'|'([A-Z][A-Za-z.]+)'", reason)
        prop = next((group for group in named.groups() if group), "-") if named else "-"
        raise TemplateError(str(resource), prop, reason) from None
    finally:
        # The transform counts what it did for CloudWatch; nothing is sent, say so.
        translator.metrics.publish()
