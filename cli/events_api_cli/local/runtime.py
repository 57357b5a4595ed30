"""The running stack's wiring, all of it read from the template (local/template):

- each function's environment as Lambda builds it: the template's variables, Lambda's own
  (name, memory, log group, handler...), the role's credentials and the local endpoint;
- the front door's routes (an HTTP API's route keys, or one route per function URL);
- what an event source mapping checks of its role when it is created;
- what the local stack does differently from AWS, by name, for ``events-api dev`` to say.
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Mapping
from typing import Any

from .deploy import Deployed
from .iam.enforcer import Authority, Credentials
from .iam.policy import NamedDocument, Request
from .lambda_runtime import Function as Invocable
from .template.stack import EventSourceMapping, Function, Role, Stack

#: What Lambda needs of the execution role to create each kind of event source mapping
#: (Lambda developer guide, "Execution role permissions"): creating it fails otherwise.
MAPPING_ACTIONS = {
    "kinesis": (
        "kinesis:DescribeStream",
        "kinesis:DescribeStreamSummary",
        "kinesis:GetRecords",
        "kinesis:GetShardIterator",
        "kinesis:ListShards",
    ),
    "sqs": ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"),
}
#: A failed SQS message comes back after this many seconds locally (ChangeMessageVisibility).
SQS_RETRY_DELAY_SECONDS = 2


def role_policies(role: Role) -> tuple[NamedDocument, ...]:
    return tuple(NamedDocument(policy.name, policy.document) for policy in role.policies)


def function_environment(
    function: Function, credentials: Credentials, endpoint: str, region: str
) -> dict[str, str]:
    """The worker's whole environment: what Lambda gives the function, pointed at moto."""
    keep = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "POWERTOOLS_", "_HANDLER", "LAMBDA_"))
    }
    # What Lambda sets from LoggingConfig when the format is JSON (Powertools reads both).
    log_settings = (
        {
            "AWS_LAMBDA_LOG_FORMAT": "JSON",
            "AWS_LAMBDA_LOG_LEVEL": function.application_log_level or "INFO",
        }
        if function.log_format == "JSON"
        else {}
    )
    return {
        **keep,
        **function.environment,
        "AWS_LAMBDA_FUNCTION_NAME": function.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": function.log_group,
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        **log_settings,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.runtime}",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "LAMBDA_TASK_ROOT": str(function.code),
        "_HANDLER": function.handler,
        "TZ": ":UTC",
        "PYTHONUNBUFFERED": "1",
        **credentials.environment(),
        # Local only: AWS is moto, and nothing from the developer's AWS set-up leaks in.
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def role_client(service: str, endpoint: str, credentials: Credentials, region: str) -> Any:
    """A client signing with a role's credentials (an event source mapping's, a log agent's)."""
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        service,  # type: ignore[call-overload]
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=credentials.access_key,
        aws_secret_access_key=credentials.secret_key,
        aws_session_token=credentials.token,
        config=Config(retries={"mode": "standard", "max_attempts": 3}, max_pool_connections=16),
    )


def source_kind(mapping: EventSourceMapping) -> str:
    return mapping.source_arn.split(":")[2]


def refused_mapping_actions(
    authority: Authority, mapping: EventSourceMapping, role: Role, session: str
) -> list[str]:
    """The actions creating ``mapping`` needs that ``role`` does not allow on its source."""
    principal = authority.principal_for_service(
        role.logical_id, role.arn, session, role_policies(role)
    )
    refused = []
    for action in MAPPING_ACTIONS.get(source_kind(mapping), ()):
        decision = authority.decide(
            principal, "CreateEventSourceMapping", Request(action, mapping.source_arn)
        )
        if not decision.allowed:
            refused.append(action)
    return refused


def route_functions(stack: Stack) -> list[tuple[str, str]]:
    """Route key -> function logical id. An HTTP API's are its routes; function URLs are told
    apart by the paths the stack's Outputs give producers under each URL (``OtlpEndpoint``
    ends in ``otlp``), the one at its root taking ``$default``."""
    if stack.routes:
        return [(route.route_key, route.function) for route in stack.routes]
    routes: list[tuple[str, str]] = []
    for url in stack.function_urls.values():
        suffixes = {
            str(value)[len(url.url) :].strip("/")
            for value in stack.outputs.values()
            if isinstance(value, str) and value.startswith(url.url)
        }
        for suffix in sorted(suffixes):
            key = f"ANY /{suffix}/{{proxy+}}" if suffix else "$default"
            routes.append((key, url.function))
    return routes


def gateway_routes(stack: Stack, functions: Mapping[str, Invocable]) -> list[tuple[str, Invocable]]:
    """Route key -> the running function behind it (``route_functions``)."""
    return [(key, functions[logical_id]) for key, logical_id in route_functions(stack)]


def differences(stack: Stack, deployed: Deployed, schedule_every: float | None) -> list[str]:
    """What the local stack does differently from AWS, by name."""
    notes: list[str] = []
    by_type: dict[str, list[str]] = {}
    for logical_id, kind in deployed.not_created:
        by_type.setdefault(kind, []).append(logical_id)
    for kind, names in sorted(by_type.items()):
        notes.append(f"{kind} not created locally: {', '.join(sorted(names))}")
    machine = f"Python {sys.version_info.major}.{sys.version_info.minor} on {platform.machine()}"
    for function in stack.functions.values():
        runtime = f"{function.runtime} {'/'.join(function.architectures)}"
        notes.append(
            f"{function.logical_id}: {runtime} runs as {machine}, one invocation at a time"
        )
    for mapping in stack.event_source_mappings.values():
        if mapping.batching_window_seconds:
            notes.append(
                f"{mapping.logical_id}: MaximumBatchingWindowInSeconds "
                f"{mapping.batching_window_seconds} not waited for"
            )
        if source_kind(mapping) == "sqs":
            queue = next(q for q in stack.queues.values() if q.arn == mapping.source_arn)
            visibility = queue.attributes.get("VisibilityTimeout", "30")
            notes.append(
                f"{mapping.logical_id}: a failed message comes back after "
                f"{SQS_RETRY_DELAY_SECONDS} s (ChangeMessageVisibility), not after "
                f"{queue.logical_id}'s VisibilityTimeout {visibility} s"
            )
    if stack.routes:
        notes.append(
            "HttpApi: no throttling (HttpApiStage ThrottlingRateLimit/BurstLimit), no CORS "
            "preflight answers, no custom domain"
        )
    for url in stack.function_urls.values():
        notes.append(f"{url.logical_id}: no reserved-concurrency throttling (429)")
    for schedule in stack.schedules.values():
        when = (
            f"every {schedule_every:g} s instead of {schedule.expression}"
            if schedule_every
            else ("never (--compact-every 0)" if schedule_every == 0 else schedule.expression)
        )
        notes.append(f"{schedule.logical_id}: fires {when}")
    notes.append(
        "requests to the local AWS endpoint are plain HTTP on loopback, evaluated as "
        "aws:SecureTransport true; KMS keys of AWS managed aliases are not checked; trust "
        "policies are checked for the service they name, not for their conditions"
    )
    return notes
