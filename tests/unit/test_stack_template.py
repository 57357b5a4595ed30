"""local/template: template.yaml read as AWS deploys it (SAM transform, intrinsics), the
one source of the local stack's wiring."""

from __future__ import annotations

import copy
import json

import pytest

from events_api_cli.local.template import TemplateError, load_stack
from events_api_cli.local.template.document import template
from events_api_cli.local.template.names import generated_name

pytestmark = pytest.mark.unit


def test_a_parameter_outside_its_allowed_values_is_refused_with_its_name() -> None:
    with pytest.raises(TemplateError) as refused:
        load_stack(stack_name="s", parameters={"BufferType": "Kafka"})
    assert (refused.value.resource, refused.value.property_path) == ("Parameters", "BufferType")
    assert "'Kafka' is not one of the AllowedValues: Kinesis, SQS" in refused.value.reason


def test_a_number_outside_its_range_and_an_unknown_parameter_are_refused() -> None:
    with pytest.raises(TemplateError, match="IngestReservedConcurrency: 901 is above MaxValue"):
        load_stack(stack_name="s", parameters={"IngestReservedConcurrency": "901"})
    with pytest.raises(TemplateError, match="Parameters: Buffer: the template declares no such"):
        load_stack(stack_name="s", parameters={"Buffer": "SQS"})


def test_a_rule_the_parameters_break_is_refused() -> None:
    with pytest.raises(TemplateError, match="CustomDomainName needs CustomDomainCertificateArn"):
        load_stack(stack_name="s", parameters={"CustomDomainName": "events.example.com"})


def test_a_template_the_sam_transform_refuses_names_the_resource_and_property() -> None:
    broken = copy.deepcopy(template())
    policies = broken["Resources"]["ConsumerFunction"]["Properties"]["Policies"]
    policies.append({"NoSuchPolicyTemplate": {"QueueName": "q"}})
    index = len(policies) - 1
    with pytest.raises(TemplateError) as refused:
        load_stack(stack_name="s", document=broken)
    assert (refused.value.resource, refused.value.property_path) == ("ConsumerFunction", "Policies")
    assert (
        f"Policy at index {index} in the 'Policies' property is not valid" in refused.value.reason
    )


def test_functions_get_the_transformed_templates_environment_limits_layers_and_log_group() -> None:
    stack = load_stack(
        stack_name="dev",
        parameters={"BufferType": "SQS", "LogLevel": "DEBUG", "KeyLookupsPerMinute": "30"},
    )
    ingest = stack.functions["IngestFunction"]
    queue = stack.queues["EventQueue"]
    assert ingest.environment == {
        "POWERTOOLS_SERVICE_NAME": "events-api",
        "POWERTOOLS_METRICS_NAMESPACE": "EventsApi",
        "POWERTOOLS_LOG_LEVEL": "DEBUG",
        "BUFFER_TYPE": "sqs",
        "QUEUE_URL": queue.url,
        "API_KEYS_PATH": "/events-api/dev/keys/",
        "KEY_LOOKUPS_PER_MINUTE": "30",
    }
    assert (ingest.memory_mb, ingest.timeout_seconds) == (512, 20)
    assert ingest.code == stack.repository / "functions" / "ingest"
    assert ingest.layers == (stack.repository / "layers" / "shared",)
    assert ingest.log_group == "/aws/lambda/dev-ingest"
    assert queue.url == f"https://sqs.us-east-1.amazonaws.com/123456789012/{queue.name}"
    assert queue.attributes["VisibilityTimeout"] == "360"
    dead_letters = stack.queues["EventDeadLetterQueue"]
    assert json.loads(queue.attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": dead_letters.arn,
        "maxReceiveCount": 5,
    }


def test_event_source_mappings_carry_every_setting() -> None:
    stack = load_stack(stack_name="dev")
    mapping = stack.event_source_mappings["KinesisEventSource"]
    assert mapping.function == "ConsumerFunction"
    assert mapping.source_arn == stack.streams["EventStream"].arn
    assert (mapping.batch_size, mapping.batching_window_seconds) == (100, 5)
    assert mapping.function_response_types == ("ReportBatchItemFailures",)
    assert mapping.bisect_on_error is True
    assert (mapping.maximum_retry_attempts, mapping.maximum_record_age_seconds) == (10, 21600)
    assert mapping.on_failure_destination == stack.buckets["EventsBucket"].arn
    assert mapping.starting_position == "TRIM_HORIZON"


def test_roles_hold_the_expanded_policy_templates_and_managed_policies() -> None:
    stack = load_stack(stack_name="dev", parameters={"BufferType": "SQS"})
    role = stack.functions["ConsumerFunction"].role
    poller = next(p for p in role.policies if "sqs:ReceiveMessage" in json.dumps(p.document))
    assert poller.statements[0]["Resource"] == stack.queues["EventQueue"].arn
    managed = [p for p in role.policies if p.managed]
    assert [p.name for p in managed] == [
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    ]
    assert managed[0].statements[0]["Action"] == [
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    ]
    assert role.trusted_services == ("lambda.amazonaws.com",)


def test_routes_function_urls_and_schedules_follow_the_front_door() -> None:
    api = load_stack(stack_name="dev")
    assert {(r.route_key, r.function) for r in api.routes} == {
        ("$default", "IngestFunction"),
        ("ANY /otlp/{proxy+}", "OtlpFunction"),
    }
    assert api.function_urls == {}
    urls = load_stack(stack_name="dev", parameters={"FrontDoor": "FunctionUrl"})
    assert urls.routes == []
    assert {u.function for u in urls.function_urls.values()} == {"IngestFunction", "OtlpFunction"}
    (schedule,) = api.schedules.values()
    assert schedule.expression == "cron(20 * * * ? *)"
    assert schedule.target_arn == api.functions["CompactorFunction"].arn
    assert schedule.maximum_retry_attempts == 0


def test_generated_names_are_stable_per_stack_and_within_the_services_limits() -> None:
    name = generated_name(
        "a-rather-long-stack-name-for-testing", "ConsumerFunctionRole", "AWS::IAM::Role"
    )
    assert len(name) <= 64
    assert name == generated_name(
        "a-rather-long-stack-name-for-testing", "ConsumerFunctionRole", "AWS::IAM::Role"
    )
    bucket = generated_name("Dev", "EventsBucket", "AWS::S3::Bucket")
    assert bucket == bucket.lower()
    assert bucket != generated_name("prod", "EventsBucket", "AWS::S3::Bucket")


def test_the_local_commands_defaults_are_the_local_stacks_outputs() -> None:
    from events_api_cli.defaults import LOCAL_KEYS_PATH, LOCAL_STACK_NAME
    from events_api_cli.local.template import bucket_name, dead_letter_queue_name

    stack = load_stack(stack_name=LOCAL_STACK_NAME, parameters={"BufferType": "SQS"})
    assert stack.outputs["ApiKeysPath"] == LOCAL_KEYS_PATH
    assert stack.outputs["BucketName"] == bucket_name(LOCAL_STACK_NAME)
    assert stack.outputs["DeadLetterQueueUrl"].endswith(
        "/" + dead_letter_queue_name(LOCAL_STACK_NAME)
    )
