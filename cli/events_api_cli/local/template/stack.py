"""One stack of template.yaml as AWS would deploy it: transformed, resolved, and read out.

``load_stack`` checks the parameters, runs the SAM transform, evaluates conditions and
intrinsics against the stack's names (``names``) and returns a ``Stack``: each function's
effective configuration (code, handler, environment, memory, timeout, layers, log group,
role and its policies), the event source mappings with all their settings, the queues,
streams, buckets, log groups, routes, function URLs and schedules, and the Outputs. The
local stack (``events-api dev``), the tests and the benchmarks read the wiring from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import document as template_document
from .intrinsics import NO_VALUE, Resolver, TemplateError
from .names import Refs
from .parameters import check_parameters
from .transform import code_folder, managed_policy_document, sam_transform

DEFAULT_REGION = "us-east-1"
#: moto's default account, which is also what ARNs from moto carry.
DEFAULT_ACCOUNT = "123456789012"


@dataclass(frozen=True)
class Policy:
    """One policy of a role: an inline policy (``name``) or an AWS managed one (its ARN)."""

    name: str
    document: dict[str, Any]
    managed: bool = False

    @property
    def statements(self) -> list[dict[str, Any]]:
        statements = self.document.get("Statement", [])
        return list(statements) if isinstance(statements, list) else [statements]


@dataclass(frozen=True)
class Role:
    logical_id: str
    name: str
    arn: str
    policies: tuple[Policy, ...]
    #: The service principals allowed to assume it (lambda.amazonaws.com, ...).
    trusted_services: tuple[str, ...] = ()


@dataclass(frozen=True)
class Function:
    logical_id: str
    name: str
    arn: str
    code: Path
    handler: str
    runtime: str
    memory_mb: int
    timeout_seconds: int
    environment: dict[str, str]
    layers: tuple[Path, ...]
    role: Role
    log_group: str
    reserved_concurrency: int | None = None
    architectures: tuple[str, ...] = ("x86_64",)
    #: LoggingConfig's LogFormat, ApplicationLogLevel and SystemLogLevel (Text: no levels).
    log_format: str = "Text"
    application_log_level: str | None = None
    system_log_level: str | None = None


@dataclass(frozen=True)
class EventSourceMapping:
    logical_id: str
    uuid: str
    function: str  # logical id
    source_arn: str
    batch_size: int
    batching_window_seconds: int = 0
    starting_position: str | None = None
    function_response_types: tuple[str, ...] = ()
    bisect_on_error: bool = False
    maximum_retry_attempts: int = -1
    maximum_record_age_seconds: int = -1
    on_failure_destination: str | None = None
    enabled: bool = True
    #: Batches at a time per shard (streams); the local pollers run one.
    parallelization_factor: int = 1


@dataclass(frozen=True)
class Queue:
    logical_id: str
    name: str
    url: str
    arn: str
    attributes: dict[str, str]


@dataclass(frozen=True)
class Stream:
    logical_id: str
    name: str
    arn: str
    mode: str
    shard_count: int
    retention_hours: int
    encryption: dict[str, Any] | None


@dataclass(frozen=True)
class Bucket:
    logical_id: str
    name: str
    arn: str
    properties: dict[str, Any]
    #: Its bucket policy's document, when the stack gives it one.
    policy: dict[str, Any] | None = None


@dataclass(frozen=True)
class LogGroup:
    logical_id: str
    name: str
    arn: str
    retention_days: int | None


@dataclass(frozen=True)
class Route:
    """A route of the HTTP API (``$default``, ``ANY /otlp/{proxy+}``) to a function."""

    route_key: str
    function: str  # logical id
    payload_format: str
    timeout_ms: int
    api_id: str = ""


@dataclass(frozen=True)
class FunctionUrl:
    logical_id: str
    function: str  # logical id
    url: str
    auth_type: str


@dataclass(frozen=True)
class Schedule:
    logical_id: str
    name: str | None  # None: CloudFormation names it
    physical_name: str
    expression: str
    target_arn: str
    role_arn: str
    maximum_retry_attempts: int | None
    state: str


@dataclass
class Stack:
    name: str
    region: str
    account: str
    parameters: dict[str, Any]
    #: The transformed template, conditions still in it.
    transformed: dict[str, Any]
    #: Every created resource's resolved properties, by logical id.
    resources: dict[str, dict[str, Any]]
    types: dict[str, str]
    refs: Refs
    repository: Path
    functions: dict[str, Function] = field(default_factory=dict)
    roles: dict[str, Role] = field(default_factory=dict)
    event_source_mappings: dict[str, EventSourceMapping] = field(default_factory=dict)
    queues: dict[str, Queue] = field(default_factory=dict)
    streams: dict[str, Stream] = field(default_factory=dict)
    buckets: dict[str, Bucket] = field(default_factory=dict)
    log_groups: dict[str, LogGroup] = field(default_factory=dict)
    routes: list[Route] = field(default_factory=list)
    function_urls: dict[str, FunctionUrl] = field(default_factory=dict)
    schedules: dict[str, Schedule] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)

    @property
    def http_api_id(self) -> str:
        """The HTTP API's id, which its routes carry ("" with function URLs)."""
        return next((route.api_id for route in self.routes), "")

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if self.types[k] == kind}

    def function_by_arn(self, arn: str) -> Function | None:
        bare = arn.split(":function:", 1)[-1].split(":", 1)[0]
        return next((f for f in self.functions.values() if f.name == bare), None)

    def by_arn(self, arn: str) -> str | None:
        """The logical id of the resource whose Arn attribute is ``arn``."""
        for logical_id, kind in self.types.items():
            if kind.startswith("Custom::"):
                continue
            try:
                if self.refs[f"{logical_id}.Arn"] == arn:
                    return logical_id
            except (KeyError, TemplateError):
                continue
        return None


def _int(value: Any, default: int) -> int:
    return default if value is None or value is NO_VALUE else int(value)


def load_stack(
    template: Path | None = None,
    *,
    stack_name: str,
    parameters: Mapping[str, str] | None = None,
    region: str = DEFAULT_REGION,
    account: str = DEFAULT_ACCOUNT,
    document: dict[str, Any] | None = None,
) -> Stack:
    """The stack ``stack_name`` of the template at ``template`` (or ``document``) for these
    parameter values. Raises TemplateError (resource, property, reason) when the parameters
    or the template would be refused."""
    path = (template or template_document.TEMPLATE_PATH).resolve()
    raw = document if document is not None else template_document.load(path)
    values = check_parameters(raw, parameters or {})
    pseudo = {
        "AWS::StackName": stack_name,
        "AWS::Region": region,
        "AWS::AccountId": account,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::StackId": f"arn:aws:cloudformation:{region}:{account}:stack/{stack_name}/local",
        "AWS::NotificationARNs": [],
    }
    refused = Resolver(raw, Refs(raw, values, pseudo)).refused_by_rules()
    if refused:
        raise TemplateError("Rules", "Assertions", "; ".join(refused))
    transformed = sam_transform(raw, {**values, **pseudo}, region)
    refs = Refs(transformed, values, pseudo)
    resolver = refs.resolver
    resources: dict[str, dict[str, Any]] = {}
    types: dict[str, str] = {}
    for logical_id, resource in transformed["Resources"].items():
        if not resolver.exists(logical_id):
            continue
        types[logical_id] = resource["Type"]
        try:
            resources[logical_id] = resolver.resolve(resource.get("Properties") or {})
        except TemplateError as exc:
            raise TemplateError(logical_id, exc.property_path, exc.reason) from None
    stack = Stack(
        stack_name, region, account, values, transformed, resources, types, refs, path.parent
    )
    _read_out(stack)
    return stack


def _role(stack: Stack, logical_id: str) -> Role:
    properties = stack.resources[logical_id]
    policies = [
        Policy(str(policy["PolicyName"]), dict(policy["PolicyDocument"]))
        for policy in properties.get("Policies", [])
    ]
    policies += [
        Policy(str(arn), managed_policy_document(str(arn)), managed=True)
        for arn in properties.get("ManagedPolicyArns", [])
    ]
    services: list[str] = []
    for statement in properties.get("AssumeRolePolicyDocument", {}).get("Statement", []):
        service = statement.get("Principal", {}).get("Service", [])
        services += [service] if isinstance(service, str) else list(service)
    return Role(
        logical_id,
        str(stack.refs[logical_id]),
        str(stack.refs[f"{logical_id}.Arn"]),
        tuple(policies),
        tuple(services),
    )


def _read_out(stack: Stack) -> None:
    refs = stack.refs
    for logical_id in stack.of_type("AWS::IAM::Role"):
        stack.roles[logical_id] = _role(stack, logical_id)
    role_by_arn = {role.arn: role for role in stack.roles.values()}
    layer_folders = {
        str(refs[logical_id]): folder
        for logical_id, properties in stack.of_type("AWS::Lambda::LayerVersion").items()
        if (folder := code_folder(properties.get("Content"))) is not None
    }
    for logical_id, p in stack.of_type("AWS::Lambda::Function").items():
        folder = code_folder(p.get("Code"))
        if folder is None:
            raise TemplateError(logical_id, "CodeUri", "the local stack runs code from folders")
        role = role_by_arn.get(str(p.get("Role")))
        if role is None:
            raise TemplateError(logical_id, "Role", "a role of this stack is needed locally")
        variables = (p.get("Environment") or {}).get("Variables") or {}
        logging_config = p.get("LoggingConfig") or {}
        name = str(refs[logical_id])
        reserved = p.get("ReservedConcurrentExecutions")
        stack.functions[logical_id] = Function(
            logical_id=logical_id,
            name=name,
            arn=str(refs[f"{logical_id}.Arn"]),
            code=stack.repository / folder,
            handler=str(p["Handler"]),
            runtime=str(p.get("Runtime", "")),
            # Lambda's own defaults when the template sets neither.
            memory_mb=_int(p.get("MemorySize"), 128),
            timeout_seconds=_int(p.get("Timeout"), 3),
            environment={str(k): str(v) for k, v in variables.items()},
            layers=tuple(stack.repository / layer_folders[str(arn)] for arn in p.get("Layers", [])),
            role=role,
            log_group=str(logging_config.get("LogGroup") or f"/aws/lambda/{name}"),
            reserved_concurrency=None if reserved is None else int(reserved),
            architectures=tuple(p.get("Architectures") or ("x86_64",)),
            log_format=str(logging_config.get("LogFormat", "Text")),
            application_log_level=logging_config.get("ApplicationLogLevel"),
            system_log_level=logging_config.get("SystemLogLevel"),
        )
    by_name = {f.name: f.logical_id for f in stack.functions.values()}
    for logical_id, p in stack.of_type("AWS::Lambda::EventSourceMapping").items():
        target = str(p["FunctionName"]).split(":function:", 1)[-1].split(":", 1)[0]
        on_failure = ((p.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        stack.event_source_mappings[logical_id] = EventSourceMapping(
            logical_id=logical_id,
            uuid=str(refs[logical_id]),
            function=by_name[target],
            source_arn=str(p["EventSourceArn"]),
            batch_size=_int(p.get("BatchSize"), 100 if ":kinesis:" in p["EventSourceArn"] else 10),
            batching_window_seconds=_int(p.get("MaximumBatchingWindowInSeconds"), 0),
            starting_position=p.get("StartingPosition"),
            function_response_types=tuple(p.get("FunctionResponseTypes") or ()),
            bisect_on_error=bool(p.get("BisectBatchOnFunctionError", False)),
            maximum_retry_attempts=_int(p.get("MaximumRetryAttempts"), -1),
            maximum_record_age_seconds=_int(p.get("MaximumRecordAgeInSeconds"), -1),
            on_failure_destination=on_failure,
            enabled=bool(p.get("Enabled", True)),
            parallelization_factor=_int(p.get("ParallelizationFactor"), 1),
        )
    for logical_id, p in stack.of_type("AWS::SQS::Queue").items():
        attributes = {
            key: (
                _json(value)
                if isinstance(value, dict)
                else str(value).lower()
                if isinstance(value, bool)
                else str(value)
            )
            for key, value in p.items()
            if key not in {"QueueName", "Tags"}
        }
        stack.queues[logical_id] = Queue(
            logical_id,
            str(refs[f"{logical_id}.QueueName"]),
            str(refs[logical_id]),
            str(refs[f"{logical_id}.Arn"]),
            attributes,
        )
    for logical_id, p in stack.of_type("AWS::Kinesis::Stream").items():
        mode = str((p.get("StreamModeDetails") or {}).get("StreamMode", "PROVISIONED"))
        stack.streams[logical_id] = Stream(
            logical_id,
            str(refs[logical_id]),
            str(refs[f"{logical_id}.Arn"]),
            mode,
            _int(p.get("ShardCount"), 1),
            _int(p.get("RetentionPeriodHours"), 24),
            p.get("StreamEncryption"),
        )
    policies = {
        str(p["Bucket"]): p["PolicyDocument"]
        for p in stack.of_type("AWS::S3::BucketPolicy").values()
    }
    for logical_id, p in stack.of_type("AWS::S3::Bucket").items():
        name = str(refs[logical_id])
        stack.buckets[logical_id] = Bucket(
            logical_id, name, str(refs[f"{logical_id}.Arn"]), p, policies.get(name)
        )
    for logical_id, p in stack.of_type("AWS::Logs::LogGroup").items():
        retention = p.get("RetentionInDays")
        stack.log_groups[logical_id] = LogGroup(
            logical_id,
            str(refs[logical_id]),
            str(refs[f"{logical_id}.Arn"]),
            None if retention is None else int(retention),
        )
    function_by_arn = {f.arn: f.logical_id for f in stack.functions.values()}
    integrations = stack.of_type("AWS::ApiGatewayV2::Integration")
    for logical_id, p in stack.of_type("AWS::ApiGatewayV2::Route").items():
        target = str(p.get("Target", "")).removeprefix("integrations/")
        integration = next((i for k, i in integrations.items() if str(refs[k]) == target), None)
        if integration is None:
            raise TemplateError(logical_id, "Target", "no integration of this stack")
        stack.routes.append(
            Route(
                str(p["RouteKey"]),
                function_by_arn[str(integration["IntegrationUri"])],
                str(integration.get("PayloadFormatVersion", "1.0")),
                _int(integration.get("TimeoutInMillis"), 30000),
                str(p.get("ApiId", "")),
            )
        )
    for logical_id, p in stack.of_type("AWS::Lambda::Url").items():
        stack.function_urls[logical_id] = FunctionUrl(
            logical_id,
            function_by_arn[str(p["TargetFunctionArn"])],
            str(refs[f"{logical_id}.FunctionUrl"]),
            str(p.get("AuthType", "AWS_IAM")),
        )
    for logical_id, p in stack.of_type("AWS::Scheduler::Schedule").items():
        target = p["Target"]
        retry = (target.get("RetryPolicy") or {}).get("MaximumRetryAttempts")
        stack.schedules[logical_id] = Schedule(
            logical_id,
            None if "Name" not in p else str(p["Name"]),
            str(refs[logical_id]),
            str(p["ScheduleExpression"]),
            str(target["Arn"]),
            str(target["RoleArn"]),
            None if retry is None else int(retry),
            str(p.get("State", "ENABLED")),
        )
    for name, output in (stack.transformed.get("Outputs") or {}).items():
        condition = output.get("Condition")
        if condition is None or refs.resolver.condition(condition):
            stack.outputs[name] = refs.resolver.resolve(output["Value"])


def _json(value: Any) -> str:
    import json

    return json.dumps(value, separators=(",", ":"))
