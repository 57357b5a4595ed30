"""template.yaml: the properties cfn-lint and `sam validate --lint` cannot check.

Neither linter catches a bad Runtime or a misspelled FunctionResponseTypes inside an
AWS::Serverless::Function, nor an over-broad IAM statement, nor environment variables that
drift from what events_api.settings reads. These tests parse the template (CloudFormation
short tags become the usual {"Ref": ...} / {"Fn::...": ...} dicts) and, where a value
depends on parameters, evaluate it the way CloudFormation would for each buffer choice.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from events_api import settings as settings_module
from events_api.settings import BufferType, ConsumerSettings, IngestSettings

pytestmark = pytest.mark.unit

TEMPLATE_PATH = Path(__file__).resolve().parents[2] / "template.yaml"

#: SAM policy templates checked by hand to scope every statement to their argument (none
#: expands to Resource "*"). SSMParameterReadPolicy, for one, adds DescribeParameters on "*".
VETTED_POLICY_TEMPLATES = {"SQSSendMessagePolicy", "SQSPollerPolicy", "KinesisStreamReadPolicy"}
INGEST_VARIABLES = {"BUFFER_TYPE", "STREAM_NAME", "QUEUE_URL", "API_KEYS_PATH"}
REGION, ACCOUNT, STACK = "us-east-1", "123456789012", "events-api-test"


# ---------------------------------------------------------------- parsing


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


def walk(node: Any) -> Any:
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


# ---------------------------------------------------------------- evaluating

_NO_VALUE = object()


class Stack:
    """The template's intrinsics evaluated for one set of parameter values."""

    def __init__(self, **overrides: str) -> None:
        declared = template()["Parameters"]
        unknown = set(overrides) - set(declared)
        assert not unknown, f"no such parameters: {unknown}"
        self.parameters = {
            name: str(overrides.get(name, spec.get("Default", "")))
            for name, spec in declared.items()
        }
        self.refs: dict[str, str] = {
            **self.parameters,
            "AWS::StackName": STACK,
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "EventStream": f"{STACK}-EventStream-1A2B3C",
            "EventStream.Arn": f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{STACK}-EventStream",
            "EventQueue": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{STACK}-EventQueue",
            "EventQueue.QueueName": f"{STACK}-EventQueue",
            "EventsBucket": f"{STACK}-eventsbucket-1a2b3c",
            "HttpApi": "a1b2c3d4e5",
        }

    def condition(self, name: str) -> bool:
        return self._truth(template()["Conditions"][name])

    def _truth(self, expression: Any) -> bool:
        ((key, value),) = expression.items()
        if key == "Condition":
            return self.condition(value)
        if key == "Fn::Equals":
            left, right = (str(self.resolve(side)) for side in value)
            return left == right
        if key == "Fn::Not":
            return not self._truth(value[0])
        if key == "Fn::And":
            return all(self._truth(item) for item in value)
        if key == "Fn::Or":
            return any(self._truth(item) for item in value)
        raise AssertionError(f"unexpected condition function {key}")

    def resolve(self, node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            ((key, value),) = node.items()
            if key == "Fn::If":
                name, then, otherwise = value
                return self.resolve(then if self.condition(name) else otherwise)
            if key == "Ref":
                return _NO_VALUE if value == "AWS::NoValue" else self.refs[value]
            if key == "Fn::GetAtt":
                return self.refs[".".join(value)]
            if key == "Fn::Sub":
                text, variables = (value, {}) if isinstance(value, str) else value
                names = {**self.refs, **{k: self.resolve(v) for k, v in variables.items()}}
                return re.sub(r"\$\{([^}!]+)\}", lambda match: names[match.group(1)], text)
        if isinstance(node, dict):
            pairs = ((key, self.resolve(value)) for key, value in node.items())
            return {key: value for key, value in pairs if value is not _NO_VALUE}
        if isinstance(node, list):
            items = (self.resolve(value) for value in node)
            return [value for value in items if value is not _NO_VALUE]
        return node


def ssm_statement() -> dict[str, Any]:
    for entry in functions()["IngestFunction"]["Properties"]["Policies"]:
        for policy in if_branches(entry):
            for statement in policy.get("Statement", []):
                if "ssm:GetParameter" in str(statement["Action"]):
                    return statement
    raise AssertionError("the ingest function has no ssm:GetParameter statement")


# ---------------------------------------------------------------- runtime and packaging


def test_every_function_runs_python312_on_arm64() -> None:
    assert functions()
    for name in functions():
        assert function_property(name, "Runtime") == "python3.12", name
        assert function_property(name, "Architectures") == ["arm64"], name


def test_every_function_loads_the_shared_layer() -> None:
    for name in functions():
        assert function_property(name, "Layers") == [{"Ref": "SharedLayer"}], name


def test_shared_layer_is_built_for_the_functions_runtime_and_architecture() -> None:
    layer = resources()["SharedLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Properties"]["ContentUri"] == "layers/shared"
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.12"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    # Without BuildArchitecture, sam build fetches x86_64 wheels whatever the above says.
    assert layer["Metadata"] == {"BuildMethod": "python3.12", "BuildArchitecture": "arm64"}


def test_functions_point_at_their_handlers() -> None:
    ingest, consumer = functions()["IngestFunction"], functions()["ConsumerFunction"]
    assert ingest["Properties"]["CodeUri"] == "functions/ingest/"
    assert consumer["Properties"]["CodeUri"] == "functions/consumer/"
    for function in (ingest, consumer):
        assert function["Properties"]["Handler"] == "app.lambda_handler"


# ---------------------------------------------------------------- HTTP API


def test_every_method_and_path_reaches_the_ingest_function() -> None:
    events = functions()["IngestFunction"]["Properties"]["Events"]
    (event,) = events.values()
    assert event["Type"] == "HttpApi"
    # No Path and no Method: SAM makes this the API's $default route, so the handler (not
    # API Gateway's 404) answers every request, the root path included.
    assert "Path" not in event["Properties"]
    assert "Method" not in event["Properties"]
    assert event["Properties"]["ApiId"] == {"Ref": "HttpApi"}
    assert event["Properties"]["PayloadFormatVersion"] == "2.0"
    assert resources()["HttpApi"]["Properties"]["StageName"] == "$default"


def test_gateway_waits_for_the_ingest_function_but_no_longer_than_it_can() -> None:
    (event,) = functions()["IngestFunction"]["Properties"]["Events"].values()
    timeout_ms = event["Properties"]["TimeoutInMillis"]
    assert function_property("IngestFunction", "Timeout") * 1000 < timeout_ms <= 30_000


# ---------------------------------------------------------------- environment


@pytest.mark.parametrize(
    ("buffer", "expected"), [("Kinesis", BufferType.KINESIS), ("SQS", BufferType.SQS)]
)
@pytest.mark.parametrize("keys_path", ["", "/team/events/keys/"])
def test_ingest_environment_is_accepted_by_ingest_settings(
    buffer: str, expected: BufferType, keys_path: str
) -> None:
    stack = Stack(BufferType=buffer, ApiKeysPath=keys_path)
    env = stack.resolve(function_variables("IngestFunction"))

    settings = IngestSettings.from_env(env)

    assert settings.buffer_type is expected
    assert settings.api_keys_path == (keys_path or f"/events-api/{STACK}/keys/")
    if expected is BufferType.KINESIS:
        assert settings.stream_name == stack.refs["EventStream"]
        assert "QUEUE_URL" not in env
    else:
        assert settings.queue_url == stack.refs["EventQueue"]
        assert "STREAM_NAME" not in env


def test_ingest_sets_exactly_the_variables_settings_reads() -> None:
    own = functions()["IngestFunction"]["Properties"]["Environment"]["Variables"]
    assert set(own) == INGEST_VARIABLES
    source = Path(settings_module.__file__).read_text()
    for name in own:
        assert f'"{name}"' in source, f"events_api.settings never reads {name}"


def test_consumer_environment_names_the_events_bucket() -> None:
    own = functions()["ConsumerFunction"]["Properties"]["Environment"]["Variables"]
    assert own == {"BUCKET_NAME": {"Ref": "EventsBucket"}}
    stack = Stack()
    settings = ConsumerSettings.from_env(stack.resolve(function_variables("ConsumerFunction")))
    assert settings.bucket_name == stack.refs["EventsBucket"]


def test_powertools_is_configured_for_every_function() -> None:
    variables = template()["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["POWERTOOLS_SERVICE_NAME"] == "events-api"
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "EventsApi"
    assert variables["POWERTOOLS_LOG_LEVEL"] == {"Ref": "LogLevel"}


# ---------------------------------------------------------------- IAM


def test_no_iam_statement_grants_every_resource() -> None:
    statements = [
        statement
        for node in walk(template()["Resources"])
        if isinstance(node, dict) and isinstance(node.get("Statement"), list)
        for statement in node["Statement"]
    ]
    assert statements
    for statement in statements:
        assert "NotResource" not in statement, statement
        if statement["Effect"] == "Deny":
            continue
        granted = statement["Resource"]
        granted = granted if isinstance(granted, list) else [granted]
        assert "*" not in granted, statement


def test_functions_use_only_policy_templates_scoped_to_one_resource() -> None:
    for name in functions():
        for entry in functions()[name]["Properties"].get("Policies", []):
            for policy in if_branches(entry):
                # A bare string is a managed policy, whose statements this test cannot see.
                assert isinstance(policy, dict), f"{name}: {policy!r}"
                if "Statement" not in policy:
                    (template_name,) = policy
                    assert template_name in VETTED_POLICY_TEMPLATES, f"{name}: {template_name}"


def test_ingest_reads_only_parameters_under_the_api_keys_path() -> None:
    statement = ssm_statement()
    assert statement["Action"] == "ssm:GetParameter"
    for keys_path in ("", "/team/events/keys/"):
        stack = Stack(ApiKeysPath=keys_path)
        path = keys_path or f"/events-api/{STACK}/keys/"
        # The path's own leading slash follows "parameter": no double slash.
        expected = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{path}*"
        assert stack.resolve(statement["Resource"]) == expected


def test_api_keys_path_parameter_requires_slashes_at_both_ends() -> None:
    pattern = re.compile(template()["Parameters"]["ApiKeysPath"]["AllowedPattern"])
    for good in ("", "/keys/", "/events-api/prod/keys/"):
        assert pattern.fullmatch(good), good
    for bad in ("/", "keys/", "/keys", "/a//b/", "/with space/"):
        assert not pattern.fullmatch(bad), bad


def test_consumer_writes_objects_but_cannot_change_the_bucket() -> None:
    actions: set[str] = set()
    for entry in functions()["ConsumerFunction"]["Properties"]["Policies"]:
        for policy in if_branches(entry):
            for statement in policy.get("Statement", []):
                granted = statement["Action"]
                actions.update([granted] if isinstance(granted, str) else granted)
    assert {action for action in actions if action.startswith("s3:")} == {"s3:PutObject"}


# ---------------------------------------------------------------- buffers and event sources


def test_only_the_chosen_buffers_resources_are_created() -> None:
    for stack, present, absent in (
        (Stack(BufferType="Kinesis"), "UseKinesis", "UseSqs"),
        (Stack(BufferType="SQS"), "UseSqs", "UseKinesis"),
    ):
        assert stack.condition(present)
        assert not stack.condition(absent)
    by_condition: dict[str, set[str]] = {}
    for name, resource in resources().items():
        by_condition.setdefault(resource.get("Condition", ""), set()).add(name)
    assert by_condition["UseKinesis"] == {"EventStream", "StreamFailureQueue", "KinesisEventSource"}
    assert by_condition["UseSqs"] == {"EventQueue", "EventDeadLetterQueue", "SqsEventSource"}


def event_sources() -> list[dict[str, Any]]:
    """Every event source mapping's properties: standalone ones and SAM Events."""
    found = [r["Properties"] for r in resources("AWS::Lambda::EventSourceMapping").values()]
    for function in functions().values():
        for event in function["Properties"].get("Events", {}).values():
            if event["Type"] in {"Kinesis", "SQS", "DynamoDB"}:
                found.append(event["Properties"])
    return found


def test_every_event_source_reports_batch_item_failures() -> None:
    assert len(event_sources()) == 2
    for source in event_sources():
        assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert source["FunctionName"] == {"Ref": "ConsumerFunction"}


def test_kinesis_batches_end_in_the_failure_queue_while_still_in_the_stream() -> None:
    source = resources()["KinesisEventSource"]["Properties"]
    assert source["EventSourceArn"] == {"Fn::GetAtt": ["EventStream", "Arn"]}
    assert source["StartingPosition"] == "TRIM_HORIZON"
    assert source["BisectBatchOnFunctionError"] is True
    assert 0 < source["MaximumRetryAttempts"] <= 10_000
    assert source["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["StreamFailureQueue", "Arn"]
    }
    # The failure message only points at the records: they must outlive the give-up time.
    retention_s = resources()["EventStream"]["Properties"]["RetentionPeriodHours"] * 3600
    assert 0 < source["MaximumRecordAgeInSeconds"] < retention_s


def test_sqs_messages_end_in_the_dead_letter_queue_after_bounded_receives() -> None:
    queue = resources()["EventQueue"]["Properties"]
    dead_letters = resources()["EventDeadLetterQueue"]["Properties"]
    redrive = queue["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["EventDeadLetterQueue", "Arn"]}
    assert 1 <= redrive["maxReceiveCount"] <= 10
    # Messages keep their first enqueue time in the DLQ, so it must keep them longer.
    assert dead_letters["MessageRetentionPeriod"] > queue["MessageRetentionPeriod"]
    assert resources()["SqsEventSource"]["Properties"]["BatchSize"] == 10


def test_sqs_visibility_timeout_is_at_least_six_consumer_timeouts() -> None:
    consumer_timeout = function_property("ConsumerFunction", "Timeout")
    assert consumer_timeout == 60
    for queue in resources("AWS::SQS::Queue").values():
        if "RedrivePolicy" in queue["Properties"]:
            assert queue["Properties"]["VisibilityTimeout"] >= 6 * consumer_timeout


def test_every_queue_and_stream_is_encrypted() -> None:
    queues = resources("AWS::SQS::Queue")
    assert len(queues) == 3
    for name, queue in queues.items():
        assert queue["Properties"].get("SqsManagedSseEnabled") is True, name
    for name, stream in resources("AWS::Kinesis::Stream").items():
        encryption = stream["Properties"]["StreamEncryption"]
        assert encryption == {"EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"}, name


def test_kinesis_shard_count_is_set_only_for_provisioned_streams() -> None:
    shard_count = resources()["EventStream"]["Properties"]["ShardCount"]
    assert Stack(KinesisStreamMode="ON_DEMAND").resolve(shard_count) is _NO_VALUE
    assert Stack(KinesisStreamMode="PROVISIONED", KinesisShardCount="4").resolve(shard_count)


# ---------------------------------------------------------------- storage


def test_events_bucket_is_encrypted_private_and_outlives_the_stack() -> None:
    (bucket,) = resources("AWS::S3::Bucket").values()
    properties = bucket["Properties"]
    (rule,) = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert properties["OwnershipControls"] == {
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]
    }
    assert bucket["DeletionPolicy"] == "Retain"
    assert bucket["UpdateReplacePolicy"] == "Retain"


def test_events_bucket_refuses_requests_without_tls() -> None:
    (policy,) = resources("AWS::S3::BucketPolicy").values()
    assert policy["Properties"]["Bucket"] == {"Ref": "EventsBucket"}
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Principal"] == "*"
    assert statement["Action"] == "s3:*"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert {"Fn::GetAtt": ["EventsBucket", "Arn"]} in statement["Resource"]
    assert {"Fn::Sub": "${EventsBucket.Arn}/*"} in statement["Resource"]


def test_events_expire_only_when_an_expiration_is_set() -> None:
    (bucket,) = resources("AWS::S3::Bucket").values()
    lifecycle = bucket["Properties"]["LifecycleConfiguration"]
    assert Stack(EventsExpirationDays="0").resolve(lifecycle) is _NO_VALUE
    (rule,) = Stack(EventsExpirationDays="400").resolve(lifecycle)["Rules"]
    assert rule["Status"] == "Enabled"
    assert rule["ExpirationInDays"] == "400"


# ---------------------------------------------------------------- logs and outputs


def test_every_function_has_a_log_group_with_the_chosen_retention() -> None:
    log_groups = {
        group["Properties"]["LogGroupName"]["Fn::Sub"]: group["Properties"]
        for group in resources("AWS::Logs::LogGroup").values()
    }
    for name in functions():
        group = log_groups[f"/aws/lambda/${{{name}}}"]
        assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_no_resource_name_is_hard_coded() -> None:
    name_properties = {"FunctionName", "QueueName", "BucketName", "Name", "TableName"}
    for name, resource in resources().items():
        if resource["Type"] == "AWS::Lambda::EventSourceMapping":
            continue  # FunctionName there is a reference, not a name
        assert not name_properties & set(resource.get("Properties", {})), name


def test_outputs_give_the_api_url_bucket_and_api_keys_path() -> None:
    outputs = template()["Outputs"]
    assert {"ApiUrl", "BucketName", "ApiKeysPath"} <= set(outputs)
    stack = Stack()
    assert stack.resolve(outputs["ApiUrl"]["Value"]).startswith("https://")
    assert stack.resolve(outputs["ApiUrl"]["Value"]).endswith(".amazonaws.com/")
    env = stack.resolve(function_variables("IngestFunction"))
    assert stack.resolve(outputs["ApiKeysPath"]["Value"]) == env["API_KEYS_PATH"]
    assert outputs["StreamName"]["Condition"] == "UseKinesis"
    assert outputs["QueueUrl"]["Condition"] == "UseSqs"
