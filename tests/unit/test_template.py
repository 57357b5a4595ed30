"""template.yaml: the properties cfn-lint and `sam validate --lint` cannot check.

Neither linter catches a bad Runtime or a misspelled FunctionResponseTypes inside an
AWS::Serverless::Function, nor an over-broad IAM statement, nor environment variables that
drift from what events_api.settings reads. These tests parse the template (CloudFormation
short tags become the usual {"Ref": ...} / {"Fn::...": ...} dicts) and, where a value
depends on parameters, evaluate it the way CloudFormation would for each buffer choice.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from events_api import records
from events_api import settings as settings_module
from events_api.ingest import http_api
from events_api.ingest.key_index import REFRESH_SECONDS, shard_names
from events_api.observability import NAMESPACE, Metric
from events_api.settings import BufferType, CompactorSettings, ConsumerSettings, IngestSettings
from events_api_cli.local.template.deployment import ACCOUNT, REGION, STACK, Deployment
from events_api_cli.local.template.document import (
    ROOT,
    TEMPLATE_PATH,
    function_property,
    function_variables,
    functions,
    if_branches,
    resources,
    template,
    walk,
)
from events_api_cli.local.template.intrinsics import NO_VALUE

pytestmark = pytest.mark.unit

#: SAM policy templates checked by hand to scope every statement to their argument (none
#: expands to Resource "*"). SSMParameterReadPolicy, for one, adds DescribeParameters on "*".
VETTED_POLICY_TEMPLATES = {"SQSSendMessagePolicy"}
INGEST_VARIABLES = {
    "BUFFER_TYPE",
    "STREAM_NAME",
    "QUEUE_URL",
    "API_KEYS_PATH",
    "KEY_LOOKUPS_PER_MINUTE",
}
#: Parameter Store's default throughput (GetParameter, GetParameters and
#: GetParametersByPath share it), per account and region.
SSM_DEFAULT_TPS = 40
_NO_VALUE = NO_VALUE


def ssm_statement(
    function: str = "IngestFunction", action: str = "ssm:GetParameter"
) -> dict[str, Any]:
    for entry in functions()[function]["Properties"]["Policies"]:
        for policy in if_branches(entry):
            for statement in policy.get("Statement", []):
                if statement["Action"] == action:
                    return statement
    raise AssertionError(f"{function} has no {action} statement")


def ssm_actions(function: str) -> set[str]:
    return {
        str(statement["Action"])
        for entry in functions()[function]["Properties"]["Policies"]
        for policy in if_branches(entry)
        for statement in policy.get("Statement", [])
        if str(statement["Action"]).startswith("ssm:")
    }


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
    # layers/shared/Makefile builds it: arm64 wheels, and bytecode shipped for cold starts.
    assert layer["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": "arm64"}
    makefile = (ROOT / "layers" / "shared" / "Makefile").read_text()
    assert "build-SharedLayer:" in makefile
    assert "--platform manylinux2014_aarch64" in makefile
    assert "--python-version 3.12" in makefile
    assert "--invalidation-mode unchecked-hash" in makefile


def test_functions_point_at_their_handlers() -> None:
    ingest, consumer = functions()["IngestFunction"], functions()["ConsumerFunction"]
    assert ingest["Properties"]["CodeUri"] == "functions/ingest/"
    assert consumer["Properties"]["CodeUri"] == "functions/consumer/"
    otlp = functions()["OtlpFunction"]
    assert otlp["Properties"]["CodeUri"] == "functions/otlp/"
    for function in (ingest, consumer, otlp):
        assert function["Properties"]["Handler"] == "app.lambda_handler"


# ---------------------------------------------------------------- front doors

#: The resources only one front door has: everything else exists under both.
FRONT_DOOR_RESOURCES = {
    "UseHttpApi": {
        "HttpApi",
        "HttpApiIntegration",
        "HttpApiDefaultRoute",
        "HttpApiStage",
        "HttpApiInvokePermission",
        "HttpApiOtlpIntegration",
        "HttpApiOtlpRoute",
        "HttpApiOtlpInvokePermission",
    },
    "UseFunctionUrl": {
        "IngestFunctionUrl",
        "FunctionUrlPublicAccess",
        "FunctionUrlInvokeAccess",
        "IngestThrottleAlarm",
        "OtlpFunctionUrl",
        "OtlpFunctionUrlPublicAccess",
        "OtlpFunctionUrlInvokeAccess",
    },
}


@pytest.mark.parametrize(
    ("door", "own", "other"),
    [
        ("HttpApi", "UseHttpApi", "UseFunctionUrl"),
        ("FunctionUrl", "UseFunctionUrl", "UseHttpApi"),
    ],
)
def test_only_the_chosen_front_doors_resources_are_created(door: str, own: str, other: str) -> None:
    assert template()["Parameters"]["FrontDoor"]["AllowedValues"] == ["HttpApi", "FunctionUrl"]
    assert template()["Parameters"]["FrontDoor"]["Default"] == "HttpApi"
    by_condition: dict[str, set[str]] = {}
    for name, resource in resources().items():
        by_condition.setdefault(resource.get("Condition", ""), set()).add(name)
    assert by_condition["UseHttpApi"] == FRONT_DOOR_RESOURCES["UseHttpApi"]
    assert by_condition["UseFunctionUrl"] == FRONT_DOOR_RESOURCES["UseFunctionUrl"]
    for kind in ("AWS::Serverless::HttpApi", "AWS::Serverless::Api", "AWS::ApiGatewayV2::Api"):
        assert set(resources(kind)) <= FRONT_DOOR_RESOURCES["UseHttpApi"]
    # No SAM event either: its generated permission could not carry the condition.
    for function in functions().values():
        for event in function["Properties"].get("Events", {}).values():
            assert event["Type"] not in {"HttpApi", "Api"}
    stack = Deployment(FrontDoor=door)
    created = {name for name in resources() if stack.exists(name)}
    assert FRONT_DOOR_RESOURCES[own] <= created
    assert not FRONT_DOOR_RESOURCES[other] & created
    # (That nothing else references an absent front door's resource is cfn-lint's check.)


def test_every_method_and_path_reaches_the_ingest_function_through_the_http_api() -> None:
    route = resources()["HttpApiDefaultRoute"]["Properties"]
    # The $default route: the handler (not API Gateway's 404) answers every method and
    # path, the root included.
    assert route == {
        "ApiId": {"Ref": "HttpApi"},
        "RouteKey": "$default",
        "Target": {"Fn::Sub": "integrations/${HttpApiIntegration}"},
    }
    integration = resources()["HttpApiIntegration"]["Properties"]
    assert integration["IntegrationType"] == "AWS_PROXY"
    assert integration["IntegrationUri"] == {"Fn::GetAtt": ["IngestFunction", "Arn"]}
    assert integration["PayloadFormatVersion"] == "2.0"
    stage = resources()["HttpApiStage"]["Properties"]
    assert (stage["StageName"], stage["AutoDeploy"]) == ("$default", True)
    assert resources()["HttpApi"]["Properties"]["ProtocolType"] == "HTTP"


def test_http_api_may_invoke_only_the_ingest_function_from_this_api() -> None:
    permission = Deployment().resolve(resources()["HttpApiInvokePermission"]["Properties"])
    assert permission == {
        "FunctionName": Deployment().refs["IngestFunction"],
        "Action": "lambda:InvokeFunction",
        "Principal": "apigateway.amazonaws.com",
        "SourceArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{Deployment().refs['HttpApi']}/*",
    }


def test_otlp_paths_reach_the_otlp_function_on_the_same_api() -> None:
    route = resources()["HttpApiOtlpRoute"]["Properties"]
    # A greedy path under /otlp: OTEL_EXPORTER_OTLP_ENDPOINT=<api>/otlp gives /otlp/v1/logs,
    # /otlp/v1/traces and /otlp/v1/metrics; every method, so the handler answers 405 as the
    # API does.
    assert route == {
        "ApiId": {"Ref": "HttpApi"},
        "RouteKey": "ANY /otlp/{proxy+}",
        "Target": {"Fn::Sub": "integrations/${HttpApiOtlpIntegration}"},
    }
    from events_api.otlp.decode import SIGNALS

    assert sorted(SIGNALS) == ["/otlp/v1/logs", "/otlp/v1/metrics", "/otlp/v1/traces"]
    prefix = route["RouteKey"].removeprefix("ANY ").removesuffix("{proxy+}")
    assert all(path.startswith(prefix) for path in SIGNALS)
    integration = resources()["HttpApiOtlpIntegration"]["Properties"]
    assert integration["IntegrationUri"] == {"Fn::GetAtt": ["OtlpFunction", "Arn"]}
    assert integration["PayloadFormatVersion"] == "2.0"
    timeout_ms = integration["TimeoutInMillis"]
    assert function_property("OtlpFunction", "Timeout") * 1000 < timeout_ms <= 30_000
    permission = resources()["HttpApiOtlpInvokePermission"]["Properties"]
    assert permission["FunctionName"] == {"Ref": "OtlpFunction"}


def test_with_function_urls_the_otlp_function_has_its_own_url_and_endpoint_output() -> None:
    url = resources()["OtlpFunctionUrl"]["Properties"]
    assert url["TargetFunctionArn"] == {"Fn::GetAtt": ["OtlpFunction", "Arn"]}
    assert url["AuthType"] == "NONE"
    endpoint = template()["Outputs"]["OtlpEndpoint"]["Value"]
    assert Deployment(FrontDoor="FunctionUrl").resolve(endpoint).endswith(".on.aws/otlp")
    assert Deployment().resolve(endpoint).endswith(".amazonaws.com/otlp")
    assert (
        resources()["OtlpFunction"]["Properties"]["ReservedConcurrentExecutions"]
        == (resources()["IngestFunction"]["Properties"]["ReservedConcurrentExecutions"])
    )


def test_local_gateway_selects_the_templates_routes_as_an_http_api_does() -> None:
    from events_api_cli.local.api_gateway import select_route

    keys = [
        "$default",
        resources()["HttpApiOtlpRoute"]["Properties"]["RouteKey"],
    ]
    assert select_route(keys, "POST", "/otlp/v1/logs") == (keys[1], {"proxy": "v1/logs"})
    assert select_route(keys, "GET", "/otlp/v1/traces") == (keys[1], {"proxy": "v1/traces"})
    assert select_route(keys, "POST", "/v1/logs") == ("$default", {})
    assert select_route(keys, "POST", "/otlp") == ("$default", {})


@pytest.mark.parametrize("buffer", ["Kinesis", "SQS"])
def test_otlp_function_has_the_ingest_functions_settings_and_buffer_rights(buffer: str) -> None:
    stack = Deployment(BufferType=buffer)
    ingest = stack.resolve(function_variables("IngestFunction"))
    assert stack.resolve(function_variables("OtlpFunction")) == ingest
    IngestSettings.from_env(ingest)
    assert stack.resolve(functions()["OtlpFunction"]["Properties"]["Policies"]) == stack.resolve(
        functions()["IngestFunction"]["Properties"]["Policies"]
    )


def test_otlp_reads_only_parameters_under_the_api_keys_path() -> None:
    assert ssm_actions("OtlpFunction") == ssm_actions("IngestFunction")
    for action in ssm_actions("IngestFunction"):
        assert ssm_statement("OtlpFunction", action) == ssm_statement("IngestFunction", action)


def test_otlp_alarm_counts_its_crashes_and_unexpected_errors() -> None:
    from events_api.otlp import service as otlp_service

    stack = Deployment()
    metrics = alarm_metrics(alarms()["OtlpErrorsAlarm"])
    crashes = {
        (m["Namespace"], m["MetricName"], stack.resolve(m["Dimensions"][0]["Value"]))
        for m in metrics
    }
    assert ("AWS/Lambda", "Errors", stack.refs["OtlpFunction"]) in crashes
    (internal,) = [m for m in metrics if m["Namespace"] == "EventsApi"]
    assert internal["MetricName"] == "RequestsRejected"
    assert {d["Name"]: d["Value"] for d in internal["Dimensions"]} == {
        "Reason": otlp_service.REJECTION_PREFIX + "internal",
        "service": "events-api",
    }


def test_outputs_give_the_otlp_endpoint_beside_the_api_url() -> None:
    outputs = template()["Outputs"]
    stack = Deployment()
    api = stack.resolve(outputs["ApiUrl"]["Value"])
    assert stack.resolve(outputs["OtlpEndpoint"]["Value"]) == f"{api}otlp"
    assert stack.resolve(outputs["OtlpFunctionName"]["Value"]) == stack.refs["OtlpFunction"]


def test_gateway_waits_for_the_ingest_function_but_no_longer_than_it_can() -> None:
    timeout_ms = resources()["HttpApiIntegration"]["Properties"]["TimeoutInMillis"]
    assert function_property("IngestFunction", "Timeout") * 1000 < timeout_ms <= 30_000


def test_function_url_is_public_and_leaves_the_key_check_to_the_handler() -> None:
    url = resources()["IngestFunctionUrl"]["Properties"]
    assert url["TargetFunctionArn"] == {"Fn::GetAtt": ["IngestFunction", "Arn"]}
    assert url["AuthType"] == "NONE"
    # Buffered: the whole answer at once, under the same 6 MB invoke payload as the API.
    assert url["InvokeMode"] == "BUFFERED"


def test_function_url_grants_both_permissions_a_new_function_url_needs() -> None:
    """Since October 2025: lambda:InvokeFunctionUrl and lambda:InvokeFunction, both."""
    public = resources()["FunctionUrlPublicAccess"]["Properties"]
    assert public == {
        "FunctionName": {"Ref": "IngestFunction"},
        "Action": "lambda:InvokeFunctionUrl",
        "Principal": "*",
        "FunctionUrlAuthType": "NONE",
    }
    invoke = resources()["FunctionUrlInvokeAccess"]["Properties"]
    # Only through the function URL: nobody may call the Invoke API on the function.
    assert invoke == {
        "FunctionName": {"Ref": "IngestFunction"},
        "Action": "lambda:InvokeFunction",
        "Principal": "*",
        "InvokedViaFunctionUrl": True,
    }


def test_reserved_concurrency_throttles_the_function_url_only() -> None:
    parameter = template()["Parameters"]["IngestReservedConcurrency"]
    assert parameter["MinValue"] >= 1
    # Lambda keeps 100 of an account's concurrency unreserved (1,000 by default).
    assert parameter["MinValue"] <= parameter["Default"] <= parameter["MaxValue"] <= 900
    assert 1 <= parameter["Default"] <= 100
    reserved = functions()["IngestFunction"]["Properties"]["ReservedConcurrentExecutions"]
    assert Deployment(FrontDoor="FunctionUrl").resolve(reserved) == str(parameter["Default"])
    assert (
        Deployment(FrontDoor="FunctionUrl", IngestReservedConcurrency="7").resolve(reserved) == "7"
    )
    assert Deployment(FrontDoor="HttpApi").resolve(reserved) is NO_VALUE
    assert "ReservedConcurrentExecutions" not in functions()["ConsumerFunction"]["Properties"]


@pytest.mark.parametrize(
    ("door", "host"),
    [("HttpApi", ".execute-api.us-east-1.amazonaws.com/"), ("FunctionUrl", ".on.aws/")],
)
def test_api_url_output_names_whichever_front_door_exists(door: str, host: str) -> None:
    stack = Deployment(FrontDoor=door)
    url = stack.resolve(template()["Outputs"]["ApiUrl"]["Value"])
    assert url.startswith("https://")
    assert url.endswith(host)
    assert stack.resolve(template()["Outputs"]["FrontDoor"]["Value"]) == door


# ---------------------------------------------------------------- environment


@pytest.mark.parametrize(
    ("buffer", "expected"), [("Kinesis", BufferType.KINESIS), ("SQS", BufferType.SQS)]
)
@pytest.mark.parametrize("keys_path", ["", "/team/events/keys/"])
def test_ingest_environment_is_accepted_by_ingest_settings(
    buffer: str, expected: BufferType, keys_path: str
) -> None:
    stack = Deployment(BufferType=buffer, ApiKeysPath=keys_path)
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


def test_default_key_look_up_rate_keeps_forty_instances_under_ssm_default_throughput() -> None:
    stack = Deployment()
    env = stack.resolve(function_variables("IngestFunction"))
    per_minute = IngestSettings.from_env(env).key_lookups_per_minute
    # Two buckets of look-ups per instance, each at most per_minute a minute (first
    # look-ups, refreshes of keys known to be good), and the key index read at most once
    # per REFRESH_SECONDS.
    per_instance = (2 * per_minute + 60 / REFRESH_SECONDS) / 60
    assert 40 * per_instance <= SSM_DEFAULT_TPS
    # With function URLs, reserved concurrency caps the ingest and OTLP functions' fleet.
    reserved = int(template()["Parameters"]["IngestReservedConcurrency"]["Default"])
    assert 2 * reserved * per_instance <= SSM_DEFAULT_TPS


def test_consumer_environment_names_the_events_bucket() -> None:
    own = functions()["ConsumerFunction"]["Properties"]["Environment"]["Variables"]
    assert own == {"BUCKET_NAME": {"Ref": "EventsBucket"}}
    stack = Deployment()
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
        if set(statement) == {"Fn::If"}:  # a statement only some deployments have
            _, statement, otherwise = statement["Fn::If"]
            assert otherwise == {"Ref": "AWS::NoValue"}
        if statement["Effect"] == "Deny":
            continue  # NotResource narrows in a Deny; in an Allow it would grant the rest
        assert "NotResource" not in statement, statement
        if "Principal" in statement and "Resource" not in statement:
            assert statement["Action"] == "sts:AssumeRole", statement  # a role's trust policy
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
    assert ssm_actions("IngestFunction") == {"ssm:GetParameter", "ssm:GetParameters"}
    statement = ssm_statement()
    for keys_path in ("", "/team/events/keys/"):
        stack = Deployment(ApiKeysPath=keys_path)
        path = keys_path or f"/events-api/{STACK}/keys/"
        # The path's own leading slash follows "parameter": no double slash.
        expected = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{path}*"
        assert stack.resolve(statement["Resource"]) == expected


@pytest.mark.parametrize("function", ["IngestFunction", "OtlpFunction"])
def test_functions_read_exactly_the_key_index_shards_together(function: str) -> None:
    """GetParameters is granted on each shard's own ARN, the names the function asks for."""
    statement = ssm_statement(function, "ssm:GetParameters")
    for keys_path in ("", "/team/events/keys/"):
        stack = Deployment(ApiKeysPath=keys_path)
        path = keys_path or f"/events-api/{STACK}/keys/"
        arns = [f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{name}" for name in shard_names(path)]
        assert stack.resolve(statement["Resource"]) == arns


def test_api_keys_path_parameter_requires_slashes_at_both_ends() -> None:
    pattern = re.compile(template()["Parameters"]["ApiKeysPath"]["AllowedPattern"])
    for good in ("", "/keys/", "/events-api/prod/keys/"):
        assert pattern.fullmatch(good), good
    for bad in ("/", "keys/", "/keys", "/a//b/", "/with space/"):
        assert not pattern.fullmatch(bad), bad


def granted(function: str, stack: Deployment) -> set[tuple[str, str]]:
    """Every (action, resource) the function's inline statements allow in ``stack``
    (policy templates, checked apart, are left out)."""
    pairs = set()
    for policy in stack.resolve(functions()[function]["Properties"]["Policies"]):
        for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
            assert statement["Effect"] == "Allow"
            actions, targets = statement["Action"], statement["Resource"]
            for action in [actions] if isinstance(actions, str) else actions:
                for target in [targets] if isinstance(targets, str) else targets:
                    pairs.add((action, target))
    return pairs


def bucket_denies(stack: Deployment) -> dict[str, dict[str, Any]]:
    """The events bucket policy's Deny statements in ``stack``, by Sid."""
    policy = stack.resolve(resources()["EventsBucketPolicy"]["Properties"]["PolicyDocument"])
    return {s["Sid"]: s for s in policy["Statement"] if s["Effect"] == "Deny"}


def role_may_put_only(stack: Deployment, sid: str, role: str) -> list[str]:
    """The keys the bucket policy's ``sid`` leaves ``role`` to put objects under (every
    other PutObject of the role is denied, whatever the role's own grants say)."""
    statement = bucket_denies(stack)[sid]
    assert statement["Principal"] == "*"
    assert statement["Action"] == "s3:PutObject"
    assert statement["Condition"] == {"ArnEquals": {"aws:PrincipalArn": stack.refs[role]}}
    keys = statement["NotResource"]
    return [keys] if isinstance(keys, str) else keys


def test_consumer_writes_only_stored_events_quarantine_and_failed_batches() -> None:
    stack = Deployment(BufferType="Kinesis")
    bucket, stream = stack.refs["EventsBucket.Arn"], stack.refs["EventStream.Arn"]
    # S3WritePolicy would add PutLifecycleConfiguration: the consumer only creates objects,
    # under dataset= and quarantine/; its event source mapping writes failed batches under
    # aws/lambda/<mapping id>/ (with ListBucket) and reads the stream with exactly these
    # actions. Lambda refuses to create the mapping unless the role may put any object in
    # the bucket: the role has bucket/*, and the bucket policy takes back all but those keys.
    assert granted("ConsumerFunction", stack) == {
        ("s3:PutObject", f"{bucket}/dataset=*"),
        ("s3:PutObject", f"{bucket}/quarantine/*"),
        ("s3:PutObject", f"{bucket}/*"),
        ("s3:ListBucket", bucket),
        *(
            (f"kinesis:{action}", stream)
            for action in (
                "DescribeStream",
                "DescribeStreamSummary",
                "GetRecords",
                "GetShardIterator",
                "ListShards",
            )
        ),
    }
    mapping = stack.refs["KinesisEventSource"]
    sid = "ConsumerWritesOnlyEventsQuarantineAndFailedBatches"
    assert role_may_put_only(stack, sid, "ConsumerFunctionRole.Arn") == [
        f"{bucket}/dataset=*",
        f"{bucket}/quarantine/*",
        f"{bucket}/aws/lambda/{mapping}/*",
    ]
    sqs = Deployment(BufferType="SQS")
    sqs_bucket = sqs.refs["EventsBucket.Arn"]
    # The SQS mapping receives, deletes and reads the queue's attributes, nothing else.
    assert granted("ConsumerFunction", sqs) == {
        ("s3:PutObject", f"{sqs_bucket}/dataset=*"),
        ("s3:PutObject", f"{sqs_bucket}/quarantine/*"),
        *(
            (f"sqs:{action}", sqs.refs["EventQueue.Arn"])
            for action in ("ReceiveMessage", "DeleteMessage", "GetQueueAttributes")
        ),
    }
    assert role_may_put_only(sqs, sid, "ConsumerFunctionRole.Arn") == [
        f"{sqs_bucket}/dataset=*",
        f"{sqs_bucket}/quarantine/*",
    ]


@pytest.mark.parametrize("function", ["IngestFunction", "OtlpFunction"])
def test_the_ingest_side_puts_record_batches_and_reads_keys_only(function: str) -> None:
    stack = Deployment(BufferType="Kinesis")
    path = f"/events-api/{STACK}/keys/"
    parameter = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter"
    # Each key by its name, and the key index's shards together.
    reads = {("ssm:GetParameter", f"{parameter}{path}*")} | {
        ("ssm:GetParameters", f"{parameter}{name}") for name in shard_names(path)
    }
    # PutRecords only: the functions never call PutRecord.
    assert granted(function, stack) == {
        ("kinesis:PutRecords", stack.refs["EventStream.Arn"]),
        *reads,
    }
    assert granted(function, Deployment(BufferType="SQS")) == reads


# ---------------------------------------------------------------- buffers and event sources


def test_only_the_chosen_buffers_resources_are_created() -> None:
    for stack, present, absent in (
        (Deployment(BufferType="Kinesis"), "UseKinesis", "UseSqs"),
        (Deployment(BufferType="SQS"), "UseSqs", "UseKinesis"),
    ):
        assert stack.condition(present)
        assert not stack.condition(absent)
    by_condition: dict[str, set[str]] = {}
    for name, resource in resources().items():
        by_condition.setdefault(resource.get("Condition", ""), set()).add(name)
    assert by_condition["UseKinesis"] == {
        "EventStream",
        "KinesisEventSource",
        "StreamIteratorAgeAlarm",
        "FailedBatchesAlarm",
        "ConsumerFailureDestinationAlarm",
    }
    assert by_condition["UseSqs"] == {
        "EventQueue",
        "EventDeadLetterQueue",
        "SqsEventSource",
        "QueueAgeAlarm",
        "DeadLetterQueueAlarm",
    }


def test_kinesis_batches_run_five_at_a_time_per_shard_only_with_cloudwatch_logs() -> None:
    from events_api_cli.local.template import mapping

    properties = resources()["KinesisEventSource"]["Properties"]
    for logs, factor in (("Account", "5"), ("LogGroups", "5"), ("None", "1")):
        extra = {"SubscribedLogGroups": "/a"} if logs == "LogGroups" else {}
        stack = Deployment(BufferType="Kinesis", LogSubscription=logs, **extra)
        assert str(stack.resolve(properties["ParallelizationFactor"])) == factor
    # What the local stack and the benchmarks read (docs/performance.md measures a shard at
    # this factor).
    logs_on = mapping(TEMPLATE_PATH, "KinesisEventSource", {"LogSubscription": "Account"})
    assert logs_on.parallelization_factor == 5
    assert mapping(TEMPLATE_PATH, "KinesisEventSource").parallelization_factor == 1


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


def test_the_consumer_is_configured_as_its_worst_batch_was_measured() -> None:
    # make bench (item 9) sized a full batch of the worst records against this memory and
    # timeout: a larger batch or a smaller function needs the measurement again.
    results = json.loads((ROOT / "benchmarks" / "results.json").read_text())
    for buffer, mapping in (("kinesis", "KinesisEventSource"), ("sqs", "SqsEventSource")):
        size = resources()[mapping]["Properties"]["BatchSize"]
        # The record bounds share a batch's budget among this many records.
        assert size == records.CONSUMER_BATCH_RECORDS[buffer]
        assert size <= results[f"consumer_worst_batch_records_{buffer}"]
    assert (
        function_property("ConsumerFunction", "MemorySize") == results["consumer_worst_memory_mb"]
    )
    assert function_property("ConsumerFunction", "Timeout") == results["consumer_worst_timeout_s"]
    assert results["consumer_worst_all_stored"]
    assert results["consumer_worst_peak_rss_fraction"] <= 0.5
    assert results["consumer_worst_time_fraction"] <= 0.5


def test_kinesis_batches_given_up_are_kept_whole_in_the_events_bucket() -> None:
    source = resources()["KinesisEventSource"]["Properties"]
    assert source["EventSourceArn"] == {"Fn::GetAtt": ["EventStream", "Arn"]}
    assert source["StartingPosition"] == "TRIM_HORIZON"
    assert source["BisectBatchOnFunctionError"] is True
    assert 0 < source["MaximumRetryAttempts"] <= 10_000
    # An S3 destination keeps the whole invocation record, not a pointer into the stream.
    assert source["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["EventsBucket", "Arn"]
    }
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
    assert len(queues) == 2
    for name, queue in queues.items():
        assert queue["Properties"].get("SqsManagedSseEnabled") is True, name
    for name, stream in resources("AWS::Kinesis::Stream").items():
        encryption = stream["Properties"]["StreamEncryption"]
        assert encryption == {"EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"}, name


def test_kinesis_shard_count_is_set_only_for_provisioned_streams() -> None:
    shard_count = resources()["EventStream"]["Properties"]["ShardCount"]
    assert Deployment(KinesisStreamMode="ON_DEMAND").resolve(shard_count) is _NO_VALUE
    assert Deployment(KinesisStreamMode="PROVISIONED", KinesisShardCount="4").resolve(shard_count)


# ---------------------------------------------------------------- storage


def test_buckets_are_the_events_and_the_query_results() -> None:
    assert set(resources("AWS::S3::Bucket")) == {"EventsBucket", "QueryResultsBucket"}


@pytest.mark.parametrize("name", ["EventsBucket", "QueryResultsBucket"])
def test_every_bucket_is_encrypted_private_and_outlives_the_stack(name: str) -> None:
    bucket = resources("AWS::S3::Bucket")[name]
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
    # Events are the product; query results empty themselves through their lifecycle
    # rule, and retaining the bucket keeps a stack deletion from failing on it.
    assert bucket["DeletionPolicy"] == "Retain"
    assert bucket["UpdateReplacePolicy"] == "Retain"


@pytest.mark.parametrize("name", ["EventsBucket", "QueryResultsBucket"])
def test_every_bucket_refuses_requests_without_tls(name: str) -> None:
    (policy,) = (
        policy
        for policy in resources("AWS::S3::BucketPolicy").values()
        if policy["Properties"]["Bucket"] == {"Ref": name}
    )
    (statement,) = (
        statement
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement.get("Sid") == "DenyInsecureTransport"
    )
    assert statement["Effect"] == "Deny"
    assert statement["Principal"] == "*"
    assert statement["Action"] == "s3:*"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert {"Fn::GetAtt": [name, "Arn"]} in statement["Resource"]
    assert {"Fn::Sub": f"${{{name}.Arn}}/*"} in statement["Resource"]


def test_events_expire_only_when_an_expiration_is_set() -> None:
    bucket = resources("AWS::S3::Bucket")["EventsBucket"]
    lifecycle = bucket["Properties"]["LifecycleConfiguration"]
    assert Deployment(EventsExpirationDays="0").resolve(lifecycle) is _NO_VALUE
    (rule,) = Deployment(EventsExpirationDays="400").resolve(lifecycle)["Rules"]
    assert rule["Status"] == "Enabled"
    assert rule["ExpirationInDays"] == "400"


# ---------------------------------------------------------------- logs and outputs


def test_every_function_logs_to_its_own_group_created_before_it_with_the_chosen_retention() -> None:
    groups = resources("AWS::Logs::LogGroup")
    used = set()
    for name, function in functions().items():
        ref = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        group = groups[ref]["Properties"]
        assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        # Named from the stack, not the function: the function depends on its group (no
        # race with the first invocation), never the other way round.
        assert "${AWS::StackName}" in group["LogGroupName"]["Fn::Sub"]
        assert name not in group["LogGroupName"]["Fn::Sub"]
        used.add(ref)
    assert len(used) == len(functions())


def test_functions_log_json_with_lambdas_platform_lines_at_warn_unless_asked() -> None:
    shared = template()["Globals"]["Function"]["LoggingConfig"]
    assert shared["LogFormat"] == "JSON"
    assert shared["SystemLogLevel"] == {"Ref": "SystemLogLevel"}
    parameter = template()["Parameters"]["SystemLogLevel"]
    assert parameter["Default"] == "WARN"
    assert parameter["AllowedValues"] == ["WARN", "INFO", "DEBUG"]
    # The application level never filters the EMF metric lines (no level: INFO to Lambda)
    # whatever LogLevel says; with LogLevel DEBUG it lets the debug lines through.
    for log_level in template()["Parameters"]["LogLevel"]["AllowedValues"]:
        expected = "DEBUG" if log_level == "DEBUG" else "INFO"
        assert Deployment(LogLevel=log_level).resolve(shared["ApplicationLogLevel"]) == expected
    # Each function adds only its log group: none overrides the format or the levels.
    for function in functions().values():
        assert set(function["Properties"]["LoggingConfig"]) == {"LogGroup"}


#: Resources whose physical name the template sets: each must derive from the stack name,
#: so that two stacks (dev and prod) in one account and region never collide.
STACK_NAMED = {
    "QueryWorkGroup": ("Name",),
    "AnalyticsDatabase": ("DatabaseInput", "Name"),
    "EventsDashboard": ("DashboardName",),
    "HttpApi": ("Name",),
}


def test_no_resource_name_is_hard_coded() -> None:
    name_properties = {"FunctionName", "QueueName", "BucketName", "Name", "TableName"}
    for name, resource in resources().items():
        if resource["Type"] in {
            "AWS::Lambda::EventSourceMapping",
            "AWS::Lambda::EventInvokeConfig",
            "AWS::Lambda::Permission",
            "AWS::Athena::NamedQuery",
        }:
            continue  # a reference there, and a saved query's label
        if name in STACK_NAMED:
            continue
        assert not name_properties & set(resource.get("Properties", {})), name


def test_names_the_template_sets_derive_from_the_stack_name() -> None:
    other = Deployment()
    other.refs["AWS::StackName"] = "other-stack"
    for name, path in STACK_NAMED.items():
        value: Any = resources()[name]["Properties"]
        for key in path:
            value = value[key]
        assert Deployment().resolve(value) != other.resolve(value), name


def test_outputs_give_the_api_url_bucket_and_api_keys_path() -> None:
    outputs = template()["Outputs"]
    assert {"ApiUrl", "BucketName", "ApiKeysPath"} <= set(outputs)
    stack = Deployment()
    assert stack.resolve(outputs["ApiUrl"]["Value"]).startswith("https://")
    assert stack.resolve(outputs["ApiUrl"]["Value"]).endswith(".amazonaws.com/")
    assert "Condition" not in outputs["ApiUrl"]
    env = stack.resolve(function_variables("IngestFunction"))
    assert stack.resolve(outputs["ApiKeysPath"]["Value"]) == env["API_KEYS_PATH"]
    assert outputs["StreamName"]["Condition"] == "UseKinesis"
    assert outputs["QueueUrl"]["Condition"] == "UseSqs"


# ---------------------------------------------------------------- edge: throttling


def test_stage_throttling_comes_from_parameters_with_safe_defaults() -> None:
    settings = resources()["HttpApiStage"]["Properties"]["DefaultRouteSettings"]
    assert settings == {
        "ThrottlingRateLimit": {"Ref": "ThrottlingRateLimit"},
        "ThrottlingBurstLimit": {"Ref": "ThrottlingBurstLimit"},
    }
    parameters = template()["Parameters"]
    rate, burst = parameters["ThrottlingRateLimit"], parameters["ThrottlingBurstLimit"]
    # Well under the account's regional API Gateway quota (10,000 rps, burst 5,000), so one
    # misbehaving producer meets this API's 429 before it starves the account's other APIs.
    assert 1 <= rate["Default"] <= 1000
    assert rate["Default"] <= burst["Default"] <= 5000
    assert rate["MinValue"] >= 1
    assert burst["MinValue"] >= 1


# ---------------------------------------------------------------- edge: CORS


def cors(stack: Deployment) -> Any:
    return stack.resolve(resources()["HttpApi"]["Properties"]["CorsConfiguration"])


def function_url_cors(stack: Deployment) -> Any:
    return stack.resolve(resources()["IngestFunctionUrl"]["Properties"]["Cors"])


def test_cors_is_off_unless_origins_are_given() -> None:
    assert not Deployment().condition("HasCors")
    assert cors(Deployment()) is NO_VALUE
    assert function_url_cors(Deployment(FrontDoor="FunctionUrl")) is NO_VALUE


def test_cors_allows_the_given_origins_to_post_with_every_header_the_api_reads() -> None:
    origins = "https://app.example.com,https://admin.example.com:8443"
    configuration = cors(Deployment(CorsOrigins=origins))
    assert configuration["AllowOrigins"] == origins.split(",")
    assert configuration["AllowMethods"] == ["POST", "OPTIONS"]
    headers = set(configuration["AllowHeaders"])
    assert {"x-api-key", "authorization", "x-service", "x-namespace"} <= headers
    assert {"content-type", "content-encoding"} <= headers
    # Every request header the handler reads is allowed (header names are lower-case).
    package = Path(http_api.__file__).parent
    source = (package / "http_api.py").read_text() + (package / "service.py").read_text()
    read = set(re.findall(r'(?:headers\.get|\.label|\.header)\(\s*"([a-z-]+)"', source))
    assert {"x-api-key", "authorization", "x-service", "content-encoding"} <= read
    assert read <= headers
    assert "retry-after" in configuration["ExposeHeaders"]
    assert "AllowCredentials" not in configuration  # keys are not cookies


def test_function_url_cors_allows_the_same_origins_and_headers_as_the_http_api() -> None:
    origins = "https://app.example.com,https://admin.example.com:8443"
    api = cors(Deployment(CorsOrigins=origins))
    url = function_url_cors(Deployment(FrontDoor="FunctionUrl", CorsOrigins=origins))
    # Lambda answers preflight requests itself; OPTIONS is not a method it lets you list.
    assert url["AllowMethods"] == ["POST"]
    for key in ("AllowOrigins", "AllowHeaders", "ExposeHeaders", "MaxAge"):
        assert url[key] == api[key], key
    assert "AllowCredentials" not in url


def test_cors_origins_parameter_accepts_origins_only() -> None:
    pattern = re.compile(template()["Parameters"]["CorsOrigins"]["AllowedPattern"])
    for good in ("", "*", "https://app.example.com", "https://a.example.com,http://localhost:5173"):
        assert pattern.fullmatch(good), good
    for bad in ("app.example.com", "https://a.com, https://b.com", "https://a.com/path", ","):
        assert not pattern.fullmatch(bad), bad


# ---------------------------------------------------------------- edge: custom domain

DOMAIN = "events.example.com"
CERTIFICATE = f"arn:aws:acm:{REGION}:{ACCOUNT}:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789"


def test_custom_domain_resources_exist_only_with_a_domain_and_certificate() -> None:
    conditional = {
        name
        for name, resource in resources().items()
        if resource.get("Condition") == "HasCustomDomain"
    }
    assert conditional == {"CustomDomain", "CustomDomainMapping"}
    assert not Deployment().condition("HasCustomDomain")
    assert Deployment(CustomDomainName=DOMAIN, CustomDomainCertificateArn=CERTIFICATE).condition(
        "HasCustomDomain"
    )
    assert not Deployment(
        FrontDoor="FunctionUrl", CustomDomainName=DOMAIN, CustomDomainCertificateArn=CERTIFICATE
    ).condition("HasCustomDomain")


def test_a_custom_domain_with_a_function_url_is_refused_before_deploying() -> None:
    assert Deployment(FrontDoor="FunctionUrl").refused_by_rules() == []
    assert Deployment(
        FrontDoor="FunctionUrl", CustomDomainName=DOMAIN, CustomDomainCertificateArn=CERTIFICATE
    ).refused_by_rules() == ["CustomDomainName needs FrontDoor HttpApi"]


def test_a_custom_domain_without_certificate_is_refused_before_deploying() -> None:
    assert Deployment().refused_by_rules() == []
    assert (
        Deployment(
            CustomDomainName=DOMAIN, CustomDomainCertificateArn=CERTIFICATE
        ).refused_by_rules()
        == []
    )
    assert Deployment(CustomDomainName=DOMAIN).refused_by_rules() == [
        "CustomDomainName needs CustomDomainCertificateArn"
    ]


def test_custom_domain_is_regional_and_maps_its_root_to_the_api_stage() -> None:
    domain = resources()["CustomDomain"]["Properties"]
    assert domain["DomainName"] == {"Ref": "CustomDomainName"}
    (configuration,) = domain["DomainNameConfigurations"]
    assert configuration == {
        "CertificateArn": {"Ref": "CustomDomainCertificateArn"},
        "EndpointType": "REGIONAL",
        "SecurityPolicy": "TLS_1_2",
    }
    mapping = resources()["CustomDomainMapping"]["Properties"]
    assert mapping["DomainName"] == {"Ref": "CustomDomain"}
    assert mapping["ApiId"] == {"Ref": "HttpApi"}
    assert mapping["Stage"] == {"Ref": "HttpApiStage"}
    # No ApiMappingKey: https://<domain>/v1/{dataset}, the same paths as the API's own URL.
    assert "ApiMappingKey" not in mapping


def test_outputs_give_the_custom_domain_target_for_the_dns_record() -> None:
    outputs = template()["Outputs"]
    for name in ("CustomDomainUrl", "CustomDomainTarget", "CustomDomainHostedZoneId"):
        assert outputs[name]["Condition"] == "HasCustomDomain"
    assert outputs["CustomDomainTarget"]["Value"] == {
        "Fn::GetAtt": ["CustomDomain", "RegionalDomainName"]
    }
    stack = Deployment(CustomDomainName=DOMAIN, CustomDomainCertificateArn=CERTIFICATE)
    assert stack.resolve(outputs["CustomDomainUrl"]["Value"]) == f"https://{DOMAIN}/"


def test_domain_and_certificate_parameters_accept_what_they_should() -> None:
    parameters = template()["Parameters"]
    domain = re.compile(parameters["CustomDomainName"]["AllowedPattern"])
    for good in ("", DOMAIN, "ingest.eu-1.example.co.uk"):
        assert domain.fullmatch(good), good
    for bad in ("Events.Example.com", "events.example.com.", "-a.example.com", "localhost"):
        assert not domain.fullmatch(bad), bad
    certificate = re.compile(parameters["CustomDomainCertificateArn"]["AllowedPattern"])
    assert certificate.fullmatch(CERTIFICATE)
    assert certificate.fullmatch("")
    assert not certificate.fullmatch("arn:aws:iam::123456789012:server-certificate/x")


# ---------------------------------------------------------------- operations: alarms


def alarms() -> dict[str, dict[str, Any]]:
    return resources("AWS::CloudWatch::Alarm")


def alarm_metrics(alarm: dict[str, Any], stack: Deployment | None = None) -> list[dict[str, Any]]:
    """Every metric an alarm reads: its single metric, or each MetricStat of its math.

    A metric chosen by a condition (Fn::If) is the one ``stack`` (default parameters) picks.
    """
    stack = stack or Deployment()
    properties = alarm["Properties"]
    if "MetricName" in properties:
        return [
            {
                "Namespace": properties["Namespace"],
                "MetricName": properties["MetricName"],
                "Dimensions": properties.get("Dimensions", []),
            }
        ]
    chosen = []
    for query in properties["Metrics"]:
        if "MetricStat" in query:
            metric = query["MetricStat"]["Metric"]
            if set(metric) == {"Fn::If"}:
                condition, then, otherwise = metric["Fn::If"]
                metric = then if stack.condition(condition) else otherwise
            chosen.append(metric)
    return chosen


def emitted_metrics() -> set[str]:
    """The EventsApi metric names the shared package emits: its Metric enumeration."""
    return {metric.value for metric in Metric}


def created_alarms(stack: Deployment) -> set[str]:
    return {name for name in alarms() if stack.exists(name)}


def test_each_buffer_gets_its_lag_and_failure_alarms() -> None:
    common = {
        "ApiErrorRateAlarm",
        "IngestErrorsAlarm",
        "OtlpErrorsAlarm",
        "ConsumerErrorsAlarm",
        "QuarantineAlarm",
        "RecordsFailedAlarm",
        "CompactionFailuresAlarm",
        "CompactorErrorsAlarm",
    }
    assert created_alarms(Deployment(BufferType="Kinesis")) == common | {
        "StreamIteratorAgeAlarm",
        "FailedBatchesAlarm",
        "ConsumerFailureDestinationAlarm",
    }
    assert created_alarms(Deployment(BufferType="SQS")) == common | {
        "QueueAgeAlarm",
        "DeadLetterQueueAlarm",
    }


def test_function_url_adds_a_throttle_alarm_on_the_ingest_function() -> None:
    assert "IngestThrottleAlarm" not in created_alarms(Deployment())
    assert "IngestThrottleAlarm" in created_alarms(Deployment(FrontDoor="FunctionUrl"))
    stack = Deployment(FrontDoor="FunctionUrl")
    (metric,) = alarm_metrics(alarms()["IngestThrottleAlarm"], stack)
    assert (metric["Namespace"], metric["MetricName"]) == ("AWS/Lambda", "Throttles")
    assert stack.resolve(metric["Dimensions"]) == [
        {"Name": "FunctionName", "Value": stack.refs["IngestFunction"]}
    ]


@pytest.mark.parametrize("topic", ["", f"arn:aws:sns:{REGION}:{ACCOUNT}:events-api-alarms"])
def test_alarms_notify_the_topic_only_when_one_is_given(topic: str) -> None:
    stack = Deployment(AlarmTopicArn=topic)
    assert stack.condition("HasAlarmTopic") is bool(topic)
    for name, alarm in alarms().items():
        properties = stack.resolve(alarm["Properties"])
        for key in ("AlarmActions", "OKActions"):
            if topic:
                assert properties[key] == [topic], name
            else:
                assert key not in properties, name
        assert properties["TreatMissingData"] == "notBreaching", name


@pytest.mark.parametrize(
    ("door", "namespace", "names", "dimensions"),
    [
        # HTTP APIs publish 5xx and Count (REST APIs: 5XXError), by ApiId and Stage.
        ("HttpApi", "AWS/ApiGateway", {"5xx", "Count"}, {"ApiId": "HttpApi", "Stage": None}),
        # Function URLs: Url5xxCount and UrlRequestCount in AWS/Lambda, by FunctionName.
        (
            "FunctionUrl",
            "AWS/Lambda",
            {"Url5xxCount", "UrlRequestCount"},
            {"FunctionName": "IngestFunction"},
        ),
    ],
)
def test_api_error_alarm_is_a_5xx_rate_of_this_front_door(
    door: str, namespace: str, names: set[str], dimensions: dict[str, str | None]
) -> None:
    properties = alarms()["ApiErrorRateAlarm"]["Properties"]
    stack = Deployment(FrontDoor=door)
    by_name = {
        metric["MetricName"]: metric
        for metric in alarm_metrics(alarms()["ApiErrorRateAlarm"], stack)
    }
    assert set(by_name) == names
    expected = {k: stack.refs[v] if v else "$default" for k, v in dimensions.items()}
    for metric in by_name.values():
        assert metric["Namespace"] == namespace
        assert {d["Name"]: stack.resolve(d["Value"]) for d in metric["Dimensions"]} == expected
    (expression,) = [q for q in properties["Metrics"] if "Expression" in q]
    assert expression["ReturnData"] is True
    assert "100 *" in expression["Expression"]
    assert properties["Threshold"] == {"Ref": "ApiErrorRateAlarmPercent"}


def test_ingest_alarm_counts_crashes_and_unexpected_errors() -> None:
    stack = Deployment()
    metrics = alarm_metrics(alarms()["IngestErrorsAlarm"])
    crashes = {
        (m["Namespace"], m["MetricName"], stack.resolve(m["Dimensions"][0]["Value"]))
        for m in metrics
    }
    assert ("AWS/Lambda", "Errors", stack.refs["IngestFunction"]) in crashes
    (internal,) = [m for m in metrics if m["Namespace"] == "EventsApi"]
    assert internal["MetricName"] == "RequestsRejected"
    assert {d["Name"]: d["Value"] for d in internal["Dimensions"]} == {
        "Reason": "internal",
        "service": "events-api",
    }


@pytest.mark.parametrize(
    ("buffer", "lag_alarm"),
    [("Kinesis", "StreamIteratorAgeAlarm"), ("SQS", "QueueAgeAlarm")],
)
def test_lag_alarms_watch_this_buffer(buffer: str, lag_alarm: str) -> None:
    stack = Deployment(BufferType=buffer)
    (lag,) = alarm_metrics(alarms()[lag_alarm])
    if buffer == "Kinesis":
        assert (lag["Namespace"], lag["MetricName"]) == ("AWS/Lambda", "IteratorAge")
        # IteratorAge is in milliseconds: the alarm compares seconds.
        expressions = [
            q["Expression"]
            for q in alarms()[lag_alarm]["Properties"]["Metrics"]
            if "Expression" in q
        ]
        assert expressions == ["age / 1000"]
    else:
        assert (lag["Namespace"], lag["MetricName"]) == ("AWS/SQS", "ApproximateAgeOfOldestMessage")
        assert stack.resolve(lag["Dimensions"][0]["Value"]) == stack.refs["EventQueue.QueueName"]
    assert alarms()[lag_alarm]["Properties"]["Threshold"] == {"Ref": "BufferAgeAlarmSeconds"}


def test_dead_letter_alarm_fires_on_the_first_message() -> None:
    (depth,) = alarm_metrics(alarms()["DeadLetterQueueAlarm"])
    assert (depth["Namespace"], depth["MetricName"]) == (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
    )
    assert depth["Dimensions"][0]["Value"] == {"Fn::GetAtt": ["EventDeadLetterQueue", "QueueName"]}
    assert alarms()["DeadLetterQueueAlarm"]["Properties"]["Threshold"] == 1


def test_failed_batches_alarm_counts_objects_the_failure_destination_writes() -> None:
    stack = Deployment(BufferType="Kinesis")
    (puts,) = alarm_metrics(alarms()["FailedBatchesAlarm"])
    assert (puts["Namespace"], puts["MetricName"]) == ("AWS/S3", "PutRequests")
    dimensions = {d["Name"]: stack.resolve(d["Value"]) for d in puts["Dimensions"]}
    assert dimensions == {"BucketName": stack.refs["EventsBucket"], "FilterId": "FailedBatches"}
    bucket = stack.resolve(resources()["EventsBucket"]["Properties"])
    assert bucket["MetricsConfigurations"] == [{"Id": "FailedBatches", "Prefix": "aws/lambda/"}]
    assert "MetricsConfigurations" not in Deployment(BufferType="SQS").resolve(
        resources()["EventsBucket"]["Properties"]
    )
    assert alarms()["FailedBatchesAlarm"]["Properties"]["Threshold"] == 1


def test_records_failed_alarm_watches_the_count_partial_batch_failures_leave() -> None:
    properties = alarms()["RecordsFailedAlarm"]["Properties"]
    assert (properties["Namespace"], properties["MetricName"]) == (NAMESPACE, Metric.RECORDS_FAILED)
    assert properties["Threshold"] == 1
    assert properties["DatapointsToAlarm"] == properties["EvaluationPeriods"] == 3


def test_alarms_on_powertools_metrics_use_names_and_dimensions_the_code_emits() -> None:
    service = template()["Globals"]["Function"]["Environment"]["Variables"][
        "POWERTOOLS_SERVICE_NAME"
    ]
    for name, alarm in alarms().items():
        for metric in alarm_metrics(alarm):
            if metric["Namespace"] != NAMESPACE:
                continue
            assert metric["MetricName"] in emitted_metrics(), name
            dimensions = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
            assert dimensions.pop("service") == service, name
            # Only RequestsRejected carries a second dimension.
            assert set(dimensions) == (
                {"Reason"} if metric["MetricName"] == Metric.REQUESTS_REJECTED else set()
            )


def test_alarm_threshold_parameters_have_sane_bounds() -> None:
    parameters = template()["Parameters"]
    assert parameters["AlarmTopicArn"]["Default"] == ""
    pattern = re.compile(parameters["AlarmTopicArn"]["AllowedPattern"])
    assert pattern.fullmatch(f"arn:aws:sns:{REGION}:{ACCOUNT}:ops-alerts")
    assert not pattern.fullmatch(f"arn:aws:sqs:{REGION}:{ACCOUNT}:ops-alerts")
    assert 0 < parameters["ApiErrorRateAlarmPercent"]["Default"] < 100
    # Below Kinesis's 24 h retention and the 6 h give-up age, so the alarm comes first.
    give_up = resources()["KinesisEventSource"]["Properties"]["MaximumRecordAgeInSeconds"]
    assert 0 < parameters["BufferAgeAlarmSeconds"]["Default"] < give_up


# ---------------------------------------------------------------- operations: dashboard


def dashboard(stack: Deployment) -> dict[str, Any]:
    body = stack.resolve(resources()["EventsDashboard"]["Properties"]["DashboardBody"])
    return json.loads(body)


def dashboard_metrics(body: dict[str, Any]) -> list[list[Any]]:
    return [
        row
        for widget in body["widgets"]
        if widget["type"] == "metric"
        for row in widget["properties"]["metrics"]
    ]


@pytest.mark.parametrize("door", ["HttpApi", "FunctionUrl"])
@pytest.mark.parametrize("buffer", ["Kinesis", "SQS"])
def test_dashboard_body_is_valid_json_with_widgets_on_the_grid(buffer: str, door: str) -> None:
    body = dashboard(Deployment(BufferType=buffer, FrontDoor=door))
    cells: set[tuple[int, int]] = set()
    for widget in body["widgets"]:
        assert widget["x"] + widget["width"] <= 24
        for x in range(widget["x"], widget["x"] + widget["width"]):
            for y in range(widget["y"], widget["y"] + widget["height"]):
                assert (x, y) not in cells, f"widgets overlap at {(x, y)}"
                cells.add((x, y))
        if widget["type"] == "metric":
            assert widget["properties"]["region"] == REGION
            assert widget["properties"]["title"]


@pytest.mark.parametrize(
    ("door", "front_door_metrics", "absent"),
    [
        ("HttpApi", {("AWS/ApiGateway", "Latency"), ("AWS/ApiGateway", "5xx")}, "UrlRequest"),
        (
            "FunctionUrl",
            {
                ("AWS/Lambda", "UrlRequestLatency"),
                ("AWS/Lambda", "Url5xxCount"),
                ("AWS/Lambda", "Throttles"),
            },
            "AWS/ApiGateway",
        ),
    ],
)
def test_dashboard_shows_events_bytes_latency_and_stored_objects(
    door: str, front_door_metrics: set[tuple[str, str]], absent: str
) -> None:
    body = dashboard(Deployment(FrontDoor=door))
    rows = dashboard_metrics(body)
    names = {(row[0], row[1]) for row in rows if isinstance(row[0], str)}
    assert {
        ("EventsApi", "EventsAccepted"),
        ("EventsApi", "EventsInvalid"),
        ("EventsApi", "EventBytesAccepted"),
        ("EventsApi", "StoredObjects"),
        ("EventsApi", "StoredEvents"),
    } | front_door_metrics <= names
    assert absent not in json.dumps(body)
    expressions = [row[0]["expression"] for row in rows if isinstance(row[0], dict)]
    assert any("RequestsRejected" in expression for expression in expressions)


def test_dashboard_shows_each_http_functions_latency_and_errors() -> None:
    stack = Deployment()
    rows = dashboard_metrics(dashboard(stack))
    lambda_rows = {(row[1], row[3]) for row in rows if row[0] == "AWS/Lambda"}
    for function in ("IngestFunction", "OtlpFunction"):
        name = stack.refs[function]
        assert {("Duration", name), ("Errors", name)} <= lambda_rows, function


def test_dashboard_powertools_metrics_use_names_and_dimensions_the_code_emits() -> None:
    service = template()["Globals"]["Function"]["Environment"]["Variables"][
        "POWERTOOLS_SERVICE_NAME"
    ]
    for buffer in ("Kinesis", "SQS"):
        for row in dashboard_metrics(dashboard(Deployment(BufferType=buffer))):
            if row[0] != NAMESPACE:
                continue
            assert row[1] in emitted_metrics(), row
            assert row[2:4] == ["service", service], row


@pytest.mark.parametrize(
    ("buffer", "own", "other"),
    [
        ("Kinesis", ["EventStream", "EventsBucket"], ["EventQueue.QueueName"]),
        ("SQS", ["EventQueue.QueueName", "EventDeadLetterQueue.QueueName"], ["EventStream"]),
    ],
)
def test_dashboard_shows_the_lag_of_this_buffer_only(
    buffer: str, own: list[str], other: list[str]
) -> None:
    stack = Deployment(BufferType=buffer)
    text = json.dumps(dashboard(stack))
    for name in own:
        assert stack.refs[name] in text, name
    for name in other:
        assert stack.refs[name] not in text, name
    lag = "IteratorAge" if buffer == "Kinesis" else "ApproximateAgeOfOldestMessage"
    assert lag in text


def test_outputs_point_at_the_dashboard() -> None:
    url = Deployment().resolve(template()["Outputs"]["DashboardUrl"]["Value"])
    assert url.endswith(f"#dashboards:name={STACK}")
    assert f"region={REGION}" in url


# ---------------------------------------------------------------- compaction


def compactor_statements() -> list[dict[str, Any]]:
    return [
        statement
        for entry in functions()["CompactorFunction"]["Properties"]["Policies"]
        for policy in if_branches(entry)
        for statement in policy.get("Statement", [])
    ]


def test_compactor_environment_is_accepted_by_its_settings_for_every_allowed_value() -> None:
    parameters = template()["Parameters"]
    for grace in parameters["CompactionGraceMinutes"]["AllowedValues"]:
        for lookback in parameters["CompactionLookbackHours"]["AllowedValues"]:
            stack = Deployment(
                CompactionGraceMinutes=str(grace), CompactionLookbackHours=str(lookback)
            )
            env = stack.resolve(function_variables("CompactorFunction"))
            settings = CompactorSettings.from_env(env)
            assert settings.bucket_name == stack.refs["EventsBucket"]
            assert settings.workgroup == stack.refs["QueryWorkGroup"]
            assert settings.database == stack.refs["AnalyticsDatabase"]
            assert (settings.grace_minutes, settings.lookback_hours) == (grace, lookback)


def test_compactor_sets_exactly_the_variables_settings_reads() -> None:
    own = set(functions()["CompactorFunction"]["Properties"]["Environment"]["Variables"])
    source = Path(settings_module.__file__).read_text()
    section = source[source.index("class CompactorSettings") :]
    assert own == set(re.findall(r'"([A-Z_]+)"', section))


def test_compactor_runs_hourly_one_at_a_time_within_lambdas_longest_timeout() -> None:
    properties = functions()["CompactorFunction"]["Properties"]
    assert properties["CodeUri"] == "functions/compactor/"
    assert properties["Handler"] == "app.lambda_handler"
    assert properties["ReservedConcurrentExecutions"] == 1
    assert properties["Timeout"] == 900
    (event,) = properties["Events"].values()
    assert event["Type"] == "ScheduleV2"
    # Minute 20 of every hour: after the default 15-minute grace of the hour that ended.
    assert event["Properties"]["ScheduleExpression"] == "cron(20 * * * ? *)"


def test_compactor_is_granted_exactly_what_compaction_and_athena_need() -> None:
    stack = Deployment()
    bucket, results = stack.refs["EventsBucket.Arn"], stack.refs["QueryResultsBucket.Arn"]
    database = stack.refs["AnalyticsDatabase"]
    glue = f"arn:aws:glue:{REGION}:{ACCOUNT}"
    workgroup = f"arn:aws:athena:{REGION}:{ACCOUNT}:workgroup/{stack.refs['QueryWorkGroup']}"
    catalog_and_database = (f"{glue}:catalog", f"{glue}:database/{database}")
    expected = {
        ("s3:ListBucket", bucket),
        ("s3:GetBucketLocation", bucket),
        # What Athena reads for the events view, and the compactor's own reads: never
        # quarantine/, aws/lambda/ (failed batches) or archive/.
        *(
            ("s3:GetObject", f"{bucket}/{prefix}*")
            for prefix in ("dataset=", "compacted/", "compaction-manifests/", "compaction-locks/")
        ),
        # UNLOAD's Parquet (multipart for large files) and emptied slots.
        *(
            (action, f"{bucket}/compacted/*")
            for action in (
                "s3:PutObject",
                "s3:DeleteObject",
                "s3:AbortMultipartUpload",
                "s3:ListMultipartUploadParts",
            )
        ),
        ("s3:PutObject", f"{bucket}/compaction-manifests/*"),
        ("s3:PutObject", f"{bucket}/archive/*"),
        ("s3:PutObject", f"{bucket}/compaction-locks/*"),
        ("s3:DeleteObject", f"{bucket}/compaction-locks/*"),
        ("s3:DeleteObject", f"{bucket}/dataset=*"),
        # Start, wait for and read statements; none is ever stopped.
        ("athena:StartQueryExecution", workgroup),
        ("athena:GetQueryExecution", workgroup),
        ("athena:GetQueryResults", workgroup),
        # Athena's required grant on the default database and the catalog.
        ("glue:GetDatabase", f"{glue}:catalog"),
        ("glue:GetDatabase", f"{glue}:database/default"),
        ("glue:CreateDatabase", f"{glue}:catalog"),
        ("glue:CreateDatabase", f"{glue}:database/default"),
        # The tables' definitions (partition projection: no partition calls), and the
        # view, the one table it creates or replaces.
        *(("glue:GetDatabase", arn) for arn in catalog_and_database),
        *(("glue:GetTable", arn) for arn in (*catalog_and_database, f"{glue}:table/{database}/*")),
        *(
            (action, arn)
            for action in ("glue:CreateTable", "glue:UpdateTable")
            for arn in (*catalog_and_database, f"{glue}:table/{database}/events")
        ),
        # Statement results in the workgroup's own bucket.
        ("s3:ListBucket", results),
        ("s3:GetBucketLocation", results),
        *(
            (action, f"{results}/*")
            for action in ("s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload")
        ),
    }
    assert granted("CompactorFunction", stack) == expected


def test_a_second_stack_in_the_account_gets_a_schedule_name_of_its_own() -> None:
    (event,) = functions()["CompactorFunction"]["Properties"]["Events"].values()
    # Without OmitName SAM names the schedule after the event (CompactorFunctionHourly), and
    # schedule names are unique per account and region.
    assert event["Properties"]["OmitName"] is True
    assert "Name" not in event["Properties"]


def test_cloudformation_waits_for_the_events_view_less_than_the_functions_timeout() -> None:
    from events_api.analytics.compactor import STACK_REQUEST_SECONDS

    service_timeout = resources()["EventsView"]["Properties"]["ServiceTimeout"]
    timeout = functions()["CompactorFunction"]["Properties"]["Timeout"]
    # The function answers within STACK_REQUEST_SECONDS; CloudFormation gives up soon
    # after on a function that could not run at all, instead of waiting an hour.
    assert STACK_REQUEST_SECONDS < service_timeout < timeout


def test_the_events_view_is_created_at_deployment_by_the_compactor() -> None:
    view = resources()["EventsView"]
    assert view["Type"] == "Custom::EventsView"
    assert view["Properties"]["ServiceToken"] == {"Fn::GetAtt": ["CompactorFunction", "Arn"]}
    assert {"EventsCompactedTable", "EventsCompactionManifestTable", "EventsRawTable"} <= set(
        view["DependsOn"]
    )


def test_compaction_alarms_watch_failures_and_crashes() -> None:
    (failures,) = alarm_metrics(alarms()["CompactionFailuresAlarm"])
    assert (failures["Namespace"], failures["MetricName"]) == (
        NAMESPACE,
        Metric.COMPACTION_FAILURES,
    )
    (crashes,) = alarm_metrics(alarms()["CompactorErrorsAlarm"])
    assert (crashes["Namespace"], crashes["MetricName"]) == ("AWS/Lambda", "Errors")
    assert crashes["Dimensions"][0]["Value"] == {"Ref": "CompactorFunction"}
    for name in ("CompactionFailuresAlarm", "CompactorErrorsAlarm"):
        assert alarms()[name]["Properties"]["Threshold"] == 1


def test_outputs_name_the_compactor_for_events_api_compact() -> None:
    assert template()["Outputs"]["CompactorFunctionName"]["Value"] == {"Ref": "CompactorFunction"}


def test_the_local_stack_polls_and_retries_as_the_templates_event_source_mappings_do() -> None:
    from events_api_cli.local import event_source_mapping as mapping

    kinesis = resources()["KinesisEventSource"]["Properties"]
    sqs = resources()["SqsEventSource"]["Properties"]
    assert kinesis["BatchSize"] == mapping.KINESIS_BATCH_SIZE
    assert kinesis["MaximumRetryAttempts"] == mapping.KINESIS_MAX_RETRIES
    assert sqs["BatchSize"] == mapping.SQS_BATCH_SIZE
    redrive = resources()["EventQueue"]["Properties"]["RedrivePolicy"]
    assert redrive["maxReceiveCount"] == mapping.SQS_MAX_RECEIVE_COUNT


# ---------------------------------------------------------------- log sources: CloudWatch Logs

LOG_RESOURCES = {
    "LogSubscriptionRole",
    "LogForwarderFunction",
    "LogForwarderLogGroup",
    "LogForwarderInvokeConfig",
    "LogForwarderInvokePermission",
    "AccountLogSubscription",
    "LogSubscriberFunction",
    "LogSubscriberLogGroup",
    "LogGroupSubscriptions",
    "LogForwarderFailureDestinationAlarm",
}
LOG_GROUPS = "/aws/lambda/orders-*,/ecs/api"


def log_stack(buffer: str, mode: str) -> Deployment:
    extra = {"SubscribedLogGroups": LOG_GROUPS} if mode == "LogGroups" else {}
    return Deployment(BufferType=buffer, LogSubscription=mode, **extra)


def own_log_groups(stack: Deployment) -> set[str]:
    """The log group of every function the deployment has (each names one: LoggingConfig)."""
    groups = set()
    for name, function in functions().items():
        if stack.exists(name):
            group = function["Properties"]["LoggingConfig"]["LogGroup"]
            assert group == {"Ref": group["Ref"]}, name
            groups.add(stack.resolve(resources()[group["Ref"]]["Properties"]["LogGroupName"]))
    return groups


@pytest.mark.parametrize(
    ("buffer", "mode", "expected"),
    [
        ("Kinesis", "None", set()),
        ("SQS", "None", set()),
        ("Kinesis", "Account", {"LogSubscriptionRole", "AccountLogSubscription"}),
        (
            "SQS",
            "Account",
            {
                "LogForwarderFunction",
                "LogForwarderLogGroup",
                "LogForwarderInvokeConfig",
                "LogForwarderInvokePermission",
                "AccountLogSubscription",
                "LogForwarderFailureDestinationAlarm",
            },
        ),
        (
            "Kinesis",
            "LogGroups",
            {
                "LogSubscriptionRole",
                "LogSubscriberFunction",
                "LogSubscriberLogGroup",
                "LogGroupSubscriptions",
            },
        ),
        (
            "SQS",
            "LogGroups",
            LOG_RESOURCES - {"LogSubscriptionRole", "AccountLogSubscription"},
        ),
    ],
)
def test_log_subscription_creates_only_what_its_mode_and_buffer_need(
    buffer: str, mode: str, expected: set[str]
) -> None:
    stack = log_stack(buffer, mode)
    assert {name for name in LOG_RESOURCES if stack.exists(name)} == expected
    assert stack.refused_by_rules() == []


def test_log_subscription_is_off_by_default() -> None:
    assert template()["Parameters"]["LogSubscription"]["Default"] == "None"
    assert not any(Deployment().exists(name) for name in LOG_RESOURCES)


def test_log_groups_mode_refuses_an_empty_selection() -> None:
    assert Deployment(LogSubscription="LogGroups").refused_by_rules() == [
        "LogSubscription LogGroups needs SubscribedLogGroups"
    ]


@pytest.mark.parametrize(
    ("value", "allowed"),
    [
        ("", True),
        ("/aws/lambda/orders", True),
        ("/aws/lambda/orders-*,/ecs/api,API-Gateway-Execution-Logs_abc/prod", True),
        ("*", False),
        ("/a/*b", False),
        ("/a, /b", False),
        ("/a,,/b", False),
    ],
)
def test_subscribed_log_groups_accepts_names_and_prefixes_only(value: str, allowed: bool) -> None:
    pattern = template()["Parameters"]["SubscribedLogGroups"]["AllowedPattern"]
    assert (re.fullmatch(pattern, value) is not None) is allowed


def test_cloudwatch_logs_may_put_only_onto_the_stream_and_only_for_this_account() -> None:
    stack = log_stack("Kinesis", "Account")
    role = stack.resolve(resources()["LogSubscriptionRole"]["Properties"])
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust == {
        "Effect": "Allow",
        "Principal": {"Service": "logs.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {
            "StringLike": {"aws:SourceArn": f"arn:aws:logs:{REGION}:{ACCOUNT}:*"},
            "StringEquals": {"aws:SourceAccount": ACCOUNT},
        },
    }
    [policy] = role["Policies"]
    assert policy["PolicyDocument"]["Statement"] == [
        {
            "Effect": "Allow",
            "Action": "kinesis:PutRecord",
            "Resource": stack.refs["EventStream.Arn"],
        }
    ]


@pytest.mark.parametrize("buffer", ["Kinesis", "SQS"])
def test_the_account_policy_excludes_every_log_group_of_the_stack(buffer: str) -> None:
    stack = log_stack(buffer, "Account")
    policy = stack.resolve(resources()["AccountLogSubscription"]["Properties"])
    assert policy["PolicyType"] == "SUBSCRIPTION_FILTER_POLICY"
    assert policy["Scope"] == "ALL"
    criteria = policy["SelectionCriteria"]
    assert criteria.startswith("LogGroupName NOT IN ")
    excluded = set(json.loads(criteria.removeprefix("LogGroupName NOT IN ")))
    assert excluded == own_log_groups(stack)
    document = json.loads(policy["PolicyDocument"])
    if buffer == "Kinesis":
        assert document == {
            "DestinationArn": stack.refs["EventStream.Arn"],
            "RoleArn": stack.refs["LogSubscriptionRole.Arn"],
            "FilterPattern": "",
            "Distribution": "Random",
        }
    else:
        assert document == {
            "DestinationArn": stack.refs["LogForwarderFunction.Arn"],
            "FilterPattern": "",
        }


@pytest.mark.parametrize("buffer", ["Kinesis", "SQS"])
def test_the_subscriber_leaves_out_every_log_group_of_the_stack(buffer: str) -> None:
    from events_api.settings import LogSubscriberSettings

    stack = log_stack(buffer, "LogGroups")
    settings = LogSubscriberSettings.from_env(
        stack.resolve(function_variables("LogSubscriberFunction"))
    )
    assert settings.selection == ("/aws/lambda/orders-*", "/ecs/api")
    assert own_log_groups(stack) <= settings.excluded
    assert settings.filter_name == f"{STACK}-events-api"
    if buffer == "Kinesis":
        assert settings.destination_arn == stack.refs["EventStream.Arn"]
        assert settings.role_arn == stack.refs["LogSubscriptionRole.Arn"]
    else:
        assert settings.destination_arn == stack.refs["LogForwarderFunction.Arn"]
        assert settings.role_arn is None


def test_the_subscriber_runs_every_minute_once_at_a_time_and_at_deployment() -> None:
    properties = functions()["LogSubscriberFunction"]["Properties"]
    assert properties["ReservedConcurrentExecutions"] == 1
    [schedule] = properties["Events"].values()
    assert schedule["Type"] == "ScheduleV2"
    assert schedule["Properties"]["ScheduleExpression"] == "rate(1 minute)"
    custom = resources()["LogGroupSubscriptions"]
    assert custom["Properties"]["ServiceToken"] == {"Fn::GetAtt": ["LogSubscriberFunction", "Arn"]}
    assert custom["Properties"]["SubscribedLogGroups"] == {"Ref": "SubscribedLogGroups"}


def test_the_subscriber_may_pass_only_the_stream_role() -> None:
    stack = log_stack("Kinesis", "LogGroups")
    pass_role = {
        (action, resource)
        for action, resource in granted("LogSubscriberFunction", stack)
        if action.startswith("iam:")
    }
    assert pass_role == {("iam:PassRole", stack.refs["LogSubscriptionRole.Arn"])}
    # No iam:PassedToService condition: PutSubscriptionFilter does not set that key, so the
    # condition would refuse the call (the template says where that is reported).
    statements = stack.resolve(functions()["LogSubscriberFunction"]["Properties"]["Policies"])
    assert "Condition" not in str(statements)
    sqs = log_stack("SQS", "LogGroups")
    assert not any(a.startswith("iam:") for a, _ in granted("LogSubscriberFunction", sqs))


def log_group_grants(stack: Deployment, entries: list[str]) -> set[tuple[str, str]]:
    """PutSubscriptionFilter and DeleteSubscriptionFilter on each entry in both forms, and
    the empty slots' ARNs, which name no log group."""
    prefix = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:"
    arns = {f"{prefix}{entry}{form}" for entry in [*entries, ""] for form in ("", ":*")}
    if len(entries) == 20:
        arns -= {prefix, f"{prefix}:*"}
    return {
        (action, arn)
        for action in ("logs:PutSubscriptionFilter", "logs:DeleteSubscriptionFilter")
        for arn in arns
    }


@pytest.mark.parametrize("buffer", ["Kinesis", "SQS"])
def test_the_subscriber_may_change_only_the_selected_log_groups(buffer: str) -> None:
    stack = log_stack(buffer, "LogGroups")
    logs = {(a, r) for a, r in granted("LogSubscriberFunction", stack) if a.startswith("logs:")}
    # Listing the groups takes every group of the account and region: DescribeLogGroups
    # filters by a name prefix in the request, not by resource (and shows names only).
    assert logs == {
        ("logs:DescribeLogGroups", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:*"),
        *log_group_grants(stack, ["/aws/lambda/orders-*", "/ecs/api"]),
    }


def test_the_largest_selection_is_granted_whole_within_iam_policy_limits() -> None:
    pattern = template()["Parameters"]["SubscribedLogGroups"]["AllowedPattern"]
    limit = template()["Parameters"]["SubscribedLogGroups"]["MaxLength"]
    entries = [f"/aws/lambda/{n:02d}-" + "a" * 79 + "*" for n in range(20)]
    value = ",".join(entries)
    assert len(value) <= limit
    assert re.fullmatch(pattern, value)
    assert re.fullmatch(pattern, value + ",/x") is None  # a 21st entry is refused
    stack = Deployment(LogSubscription="LogGroups", SubscribedLogGroups=value)
    logs = {(a, r) for a, r in granted("LogSubscriberFunction", stack) if a.startswith("logs:")}
    assert log_group_grants(stack, entries) <= logs
    # IAM's limit: 10,240 characters for all of a role's inline policies, white space aside.
    policies = stack.resolve(functions()["LogSubscriberFunction"]["Properties"]["Policies"])
    assert len(json.dumps(policies, separators=(",", ":"))) < 10_240


def test_the_forwarder_keeps_failed_deliveries_whole_in_the_events_bucket() -> None:
    stack = log_stack("SQS", "Account")
    config = stack.resolve(resources()["LogForwarderInvokeConfig"]["Properties"])
    assert config == {
        "FunctionName": stack.refs["LogForwarderFunction"],
        "Qualifier": "$LATEST",
        "MaximumRetryAttempts": 2,
        "MaximumEventAgeInSeconds": 21600,
        "DestinationConfig": {"OnFailure": {"Destination": stack.refs["EventsBucket.Arn"]}},
    }


def test_the_forwarder_may_write_only_where_lambda_keeps_its_failed_deliveries() -> None:
    stack = log_stack("SQS", "Account")
    bucket = stack.refs["EventsBucket.Arn"]
    # Lambda refuses the destination unless the role may put any object in the bucket: the
    # role has bucket/*, and the bucket policy takes back all but the forwarder's own
    # asynchronous invocation records (aws/lambda/async/<function name>/YYYY/MM/DD/...).
    assert granted("LogForwarderFunction", stack) == {
        ("s3:PutObject", f"{bucket}/*"),
        ("s3:ListBucket", bucket),
    }
    function = stack.refs["LogForwarderFunction"]
    sid = "ForwarderWritesOnlyItsFailedDeliveries"
    assert role_may_put_only(stack, sid, "LogForwarderFunctionRole.Arn") == [
        f"{bucket}/aws/lambda/async/{function}/*"
    ]
    assert sid not in bucket_denies(log_stack("Kinesis", "Account"))
    assert sid not in bucket_denies(log_stack("SQS", "None"))


@pytest.mark.parametrize(
    ("stack", "alarm", "function"),
    [
        (Deployment(BufferType="Kinesis"), "ConsumerFailureDestinationAlarm", "ConsumerFunction"),
        (
            log_stack("SQS", "Account"),
            "LogForwarderFailureDestinationAlarm",
            "LogForwarderFunction",
        ),
    ],
)
def test_a_failure_destination_refusing_a_record_raises_an_alarm(
    stack: Deployment, alarm: str, function: str
) -> None:
    assert alarm in created_alarms(stack)
    (metric,) = alarm_metrics(alarms()[alarm], stack)
    assert (metric["Namespace"], metric["MetricName"]) == (
        "AWS/Lambda",
        "DestinationDeliveryFailures",
    )
    assert stack.resolve(metric["Dimensions"]) == [
        {"Name": "FunctionName", "Value": stack.refs[function]}
    ]
    properties = alarms()[alarm]["Properties"]
    assert (properties["Threshold"], properties["EvaluationPeriods"]) == (1, 1)
    assert "LogForwarderFailureDestinationAlarm" not in created_alarms(
        log_stack("Kinesis", "Account")
    )
    assert "ConsumerFailureDestinationAlarm" not in created_alarms(Deployment(BufferType="SQS"))


def test_only_cloudwatch_logs_of_this_account_may_invoke_the_forwarder() -> None:
    stack = log_stack("SQS", "Account")
    permission = stack.resolve(resources()["LogForwarderInvokePermission"]["Properties"])
    assert permission == {
        "FunctionName": stack.refs["LogForwarderFunction.Arn"],
        "Action": "lambda:InvokeFunction",
        "Principal": "logs.amazonaws.com",
        "SourceArn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:*",
        "SourceAccount": ACCOUNT,
    }


def test_the_forwarder_reads_its_settings_from_the_template() -> None:
    from events_api.settings import LogForwarderSettings

    stack = log_stack("SQS", "Account")
    settings = LogForwarderSettings.from_env(
        stack.resolve(function_variables("LogForwarderFunction"))
    )
    assert settings.queue_url == stack.refs["EventQueue"]
    assert function_property("LogForwarderFunction", "MemorySize") == 128


@pytest.mark.parametrize(
    ("function", "settings_class", "next_class"),
    [
        ("LogForwarderFunction", "LogForwarderSettings", "LogSubscriberSettings"),
        ("LogSubscriberFunction", "LogSubscriberSettings", "CompactorSettings"),
    ],
)
def test_log_functions_set_exactly_the_variables_settings_reads(
    function: str, settings_class: str, next_class: str
) -> None:
    own = set(functions()[function]["Properties"]["Environment"]["Variables"])
    source = Path(settings_module.__file__).read_text()
    section = source[source.index(f"class {settings_class}") : source.index(f"class {next_class}")]
    optional = {"BUFFER_BUDGET_SECONDS"}  # a default the template leaves alone
    assert own == set(re.findall(r'"([A-Z_]+)"', section)) - optional
