"""CloudWatch Logs subscriptions in the local stack, from the template's resources.

The template's ``AWS::Logs::AccountPolicy`` (``LogSubscription: Account``, which ``events-api
dev`` uses unless told otherwise: contract §10) subscribes every log group of the account
but the stack's own. moto's CloudWatch Logs implements no account policy and cannot run a
function destination, and it delivers a subscription's records (gzip'd, in the real
envelope) to a Kinesis stream on ``put_log_events``. So, reading everything from the policy:

- a subscriber thread puts the policy's filter (its name, destination, role and the
  ``LogGroupName NOT IN [...]`` exclusions of its selection criteria) on every log group
  within a second of its creation, with the deployed subscriber's code
  (``events_api.ingest.log_subscriptions.Subscriber``) and CloudWatch Logs' own rights;
- a Kinesis destination gets the records from moto directly. CloudWatch Logs puts them with
  the policy's role: when it starts, the local stack asks the enforcer whether that role may
  ``kinesis:PutRecord`` on the stream (AWS checks it with a test record), and refuses to
  start if not;
- a function destination (the log forwarder, with the SQS buffer) is invoked as CloudWatch
  Logs invokes it, asynchronously: the filters point at a stream of the local stack's own,
  which a poller reads to invoke the function's worker with ``{"awslogs": {"data": ...}}``,
  retried and then recorded as its ``AWS::Lambda::EventInvokeConfig`` says, the failure
  record written to its S3 destination with the function's role (as Lambda writes it). The
  function's ``AWS::Lambda::Permission`` for ``logs.amazonaws.com`` must exist.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from .. import failed_batches
from .iam.enforcer import Authority, Credentials
from .iam.policy import Request
from .lambda_runtime import Function as Invocable
from .lambda_runtime import FunctionError
from .poller import Poller
from .runtime import role_policies
from .template.stack import Function, Stack


class Running(Protocol):
    """What of the running stack (running.py) the subscriptions use."""

    stack: Stack
    authority: Authority
    endpoint: str

    @property
    def invocables(self) -> Mapping[str, Invocable]: ...

    def credentials(self, function: Function, session: str) -> Credentials: ...

    def client(self, service: str, credentials: Credentials) -> Any: ...


log = logging.getLogger("events_api_cli.logs")

#: How often the subscriber looks for new log groups (the contract asks for 5 s at most).
SUBSCRIBE_EVERY_SECONDS = 1.0


@dataclass(frozen=True)
class AccountSubscription:
    """The template's subscription filter policy, read out."""

    logical_id: str
    filter_name: str
    destination_arn: str
    role_arn: str | None
    excluded: frozenset[str]


def account_subscription(stack: Stack) -> AccountSubscription | None:
    for logical_id, p in stack.of_type("AWS::Logs::AccountPolicy").items():
        if p.get("PolicyType") != "SUBSCRIPTION_FILTER_POLICY":
            continue
        document = json.loads(p["PolicyDocument"])
        criteria = str(p.get("SelectionCriteria", ""))
        excluded = re.findall(r'"([^"]+)"', criteria) if "NOT IN" in criteria else []
        return AccountSubscription(
            logical_id,
            str(p["PolicyName"]),
            str(document["DestinationArn"]),
            document.get("RoleArn"),
            frozenset(excluded),
        )
    return None


def destination_function(stack: Stack) -> Function | None:
    """The function CloudWatch Logs invokes for the account policy, if it invokes one."""
    subscription = account_subscription(stack)
    if subscription is None or ":function:" not in subscription.destination_arn:
        return None
    return stack.function_by_arn(subscription.destination_arn)


class _SubscriberThread(Poller):
    name = "log-subscriber"

    def __init__(self, logs: Any, subscription: AccountSubscription, destination_arn: str) -> None:
        from events_api.ingest.log_subscriptions import Subscriber
        from events_api.settings import LogSubscriberSettings

        super().__init__(idle_seconds=SUBSCRIBE_EVERY_SECONDS)
        settings = LogSubscriberSettings(
            selection=("*",),
            excluded=subscription.excluded,
            filter_name=subscription.filter_name,
            destination_arn=destination_arn,
            role_arn=subscription.role_arn,
        )
        self.subscriber = Subscriber(settings, logs)
        self.subscribed: set[str] = set()

    def poll_once(self) -> bool:
        from events_api.ingest.log_subscriptions import Outcome

        outcome = Outcome()
        for name in self.subscriber.groups():
            if name not in self.subscribed:
                self.subscriber.subscribe_group(name, outcome)
        for name in outcome.subscribed:
            log.info("log group %s subscribed", name)
        self.subscribed.update(outcome.subscribed)
        return False  # look again after SUBSCRIBE_EVERY_SECONDS


@dataclass(frozen=True)
class AsyncSettings:
    """A function's ``AWS::Lambda::EventInvokeConfig`` (Lambda's defaults without one)."""

    retries: int = 2
    failure_bucket: str | None = None


def async_settings(stack: Stack, function: Function) -> AsyncSettings:
    for p in stack.of_type("AWS::Lambda::EventInvokeConfig").values():
        if str(p["FunctionName"]) in {function.name, function.arn}:
            destination = ((p.get("DestinationConfig") or {}).get("OnFailure") or {}).get(
                "Destination", ""
            )
            bucket = destination.split(":::", 1)[1] if ":s3:::" in destination else None
            return AsyncSettings(int(p.get("MaximumRetryAttempts", 2)), bucket)
    return AsyncSettings()


class _ForwarderPoller(Poller):
    """The local delivery stream -> the function, as CloudWatch Logs invokes it."""

    name = "log-forwarder-poller"

    def __init__(
        self,
        kinesis: Any,
        stream_name: str,
        s3: Any,
        settings: AsyncSettings,
        function: Invocable,
        function_name: str,
    ) -> None:
        super().__init__()
        self.kinesis, self.stream_name, self.s3 = kinesis, stream_name, s3
        self.settings = settings
        self.function, self.function_name = function, function_name
        self.iterator: str | None = None

    def poll_once(self) -> bool:
        if self.iterator is None:
            shard = self.kinesis.list_shards(StreamName=self.stream_name)["Shards"][0]["ShardId"]
            self.iterator = self.kinesis.get_shard_iterator(
                StreamName=self.stream_name, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
        answer = self.kinesis.get_records(ShardIterator=self.iterator, Limit=100)
        self.iterator = answer["NextShardIterator"]
        for record in answer["Records"]:
            self.invoke(record["Data"])
        return bool(answer["Records"])

    def invoke(self, data: bytes) -> None:
        event = {"awslogs": {"data": base64.b64encode(data).decode("ascii")}}
        error = ""
        for _attempt in range(1 + self.settings.retries):
            try:
                self.function.invoke(event)
                return
            except FunctionError as exc:
                error = str(exc)
        if self.settings.failure_bucket is None:
            log.error("%s: gave up on a delivery (no S3 destination): dropped", self.function_name)
            return
        now = datetime.now(UTC)
        key = failed_batches.async_key(self.function_name, now)
        body = failed_batches.async_document(
            function_arn=self.function.arn,
            request_id=str(uuid.uuid4()),
            payload=event,
            attempts=1 + self.settings.retries,
            when=now,
            error=error,
        )
        self.s3.put_object(Bucket=self.settings.failure_bucket, Key=key, Body=body)
        log.error(
            "%s gave up on a delivery; kept in s3://%s/%s",
            self.function_name,
            self.settings.failure_bucket,
            key,
        )


@dataclass
class LocalLogSubscriptions:
    """Started by ``events-api dev``; ``stop`` ends what it started."""

    threads: list[Poller] = field(default_factory=list)

    def stop(self) -> None:
        for thread in self.threads:
            thread.stop()


class SubscriptionRefused(Exception):
    """What CloudWatch Logs would refuse when the policy is put (the stack fails to create)."""


def _invokable_by_logs(stack: Stack, function: Function) -> bool:
    for p in stack.of_type("AWS::Lambda::Permission").values():
        if (
            str(p.get("FunctionName")) in {function.name, function.arn}
            and p.get("Principal") == "logs.amazonaws.com"
            and p.get("Action") in {"lambda:InvokeFunction", "lambda:*"}
        ):
            return True
    return False


def start(running: Running) -> LocalLogSubscriptions | None:
    """The account policy's subscriptions, when the stack has one. Raises
    SubscriptionRefused when CloudWatch Logs could not deliver to the destination."""
    from . import moto_aws

    stack = running.stack
    subscription = account_subscription(stack)
    if subscription is None:
        return None
    logs = moto_aws.client("logs", running.endpoint)
    started = LocalLogSubscriptions()
    destination = subscription.destination_arn
    if ":kinesis:" in destination:
        role = next((r for r in stack.roles.values() if r.arn == subscription.role_arn), None)
        if role is None:
            raise SubscriptionRefused(f"{subscription.logical_id}: no role of this stack to use")
        if "logs.amazonaws.com" not in role.trusted_services:
            raise SubscriptionRefused(
                f"{subscription.logical_id}: CloudWatch Logs cannot assume {role.logical_id}"
            )
        principal = running.authority.principal_for_service(
            role.logical_id, role.arn, "logs", role_policies(role)
        )
        decision = running.authority.decide(
            principal, "PutAccountPolicy", Request("kinesis:PutRecord", destination)
        )
        if not decision.allowed:
            raise SubscriptionRefused(
                f"{subscription.logical_id}: CloudWatch Logs cannot put onto {destination} "
                f"with role {role.logical_id} (kinesis:PutRecord is not allowed)"
            )
    else:
        function = stack.function_by_arn(destination)
        if function is None or function.logical_id not in running.invocables:
            raise SubscriptionRefused(f"{subscription.logical_id}: {destination} is not run here")
        if not _invokable_by_logs(stack, function):
            raise SubscriptionRefused(
                f"{subscription.logical_id}: {function.logical_id} has no permission for "
                "logs.amazonaws.com to invoke it"
            )
        kinesis = moto_aws.client("kinesis", running.endpoint)
        stream = f"{stack.name}-local-log-deliveries"
        kinesis.create_stream(StreamName=stream, ShardCount=1)
        kinesis.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 0.1})
        destination = kinesis.describe_stream_summary(StreamName=stream)[
            "StreamDescriptionSummary"
        ]["StreamARN"]
        credentials = running.credentials(function, "lambda-async")
        started.threads.append(
            _ForwarderPoller(
                kinesis,
                stream,
                running.client("s3", credentials),
                async_settings(stack, function),
                running.invocables[function.logical_id],
                function.name,
            )
        )
    if ":kinesis:" not in subscription.destination_arn:
        # The stand-in stream is the local stack's plumbing: moto wants a role for it, and
        # no one checks it (the invocation's permission was checked above).
        subscription = AccountSubscription(
            subscription.logical_id,
            subscription.filter_name,
            destination,
            f"arn:aws:iam::{stack.account}:role/{stack.name}-local-log-deliveries",
            subscription.excluded,
        )
    started.threads.append(_SubscriberThread(logs, subscription, destination))
    for thread in started.threads:
        thread.start()
    return started
