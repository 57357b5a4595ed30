"""CloudWatch Logs in the local stack: every log group subscribed, as the account policy
(``LogSubscription: Account``) would subscribe it in AWS.

moto's CloudWatch Logs delivers a subscription's records (gzip'd, in the real envelope) to
a Kinesis stream on ``put_log_events``, but implements no account policy and cannot run a
function destination. So:

- a subscriber thread puts a subscription filter on every log group within a second of its
  creation (``events_api.ingest.log_subscriptions.Subscriber``, the deployed subscriber's
  code, with the selection ``*``), leaving out the stack's own function log groups;
- with the Kinesis buffer the filters point at the events stream itself, as in AWS;
- with the SQS buffer they point at a stream of their own (``LOG_STREAM_NAME``), which a
  poller reads to invoke the real log forwarder function with the event CloudWatch Logs
  would send (``{"awslogs": {"data": ...}}``), asynchronously as Lambda does: two retries,
  then the invocation record goes to the events bucket (``failed_batches.async_key``),
  where ``events-api redrive`` finds it.

What this emulates, for a stack built from template.yaml: ``AccountLogSubscription``
(the subscriber thread), ``LogSubscriptionRole`` (the filters' role ARN), and with SQS
``LogForwarderInvokePermission`` / ``LogForwarderInvokeConfig`` (the poller, its retries
and its S3 failure records).
"""

from __future__ import annotations

import base64
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import failed_batches
from ..defaults import LOCAL_ACCOUNT_ID
from .lambda_runtime import Function, FunctionError
from .poller import Poller

if TYPE_CHECKING:
    from .moto_aws import Resources

log = logging.getLogger("events_api_cli.logs")

FILTER_NAME = "events-api-local"
LOG_STREAM_NAME = "events-api-local-logs"
FORWARDER_FUNCTION = "events-api-local-log-forwarder"
ROLE_ARN = f"arn:aws:iam::{LOCAL_ACCOUNT_ID}:role/events-api-local-logs"
#: How often the subscriber looks for new log groups (the contract asks for 5 s at most).
SUBSCRIBE_EVERY_SECONDS = 1.0
#: Lambda's default for asynchronous invocations (the template's MaximumRetryAttempts).
ASYNC_RETRIES = 2


def own_log_groups(function_names: list[str]) -> frozenset[str]:
    """The stack's function log groups: never subscribed."""
    return frozenset(f"/aws/lambda/{name}" for name in function_names)


class _SubscriberThread(Poller):
    name = "log-subscriber"

    def __init__(self, logs: Any, excluded: frozenset[str], destination_arn: str) -> None:
        from events_api.ingest.log_subscriptions import Subscriber
        from events_api.settings import LogSubscriberSettings

        super().__init__(idle_seconds=SUBSCRIBE_EVERY_SECONDS)
        settings = LogSubscriberSettings(
            selection=("*",),
            excluded=excluded,
            filter_name=FILTER_NAME,
            destination_arn=destination_arn,
            role_arn=ROLE_ARN,
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


class _ForwarderPoller(Poller):
    """The log stream -> the forwarder function, as CloudWatch Logs invokes it."""

    name = "log-forwarder-poller"

    def __init__(self, kinesis: Any, s3: Any, bucket: str, forwarder: Function) -> None:
        super().__init__()
        self.kinesis, self.s3, self.bucket = kinesis, s3, bucket
        self.forwarder = forwarder
        self.iterator: str | None = None

    def poll_once(self) -> bool:
        if self.iterator is None:
            shard = self.kinesis.list_shards(StreamName=LOG_STREAM_NAME)["Shards"][0]["ShardId"]
            self.iterator = self.kinesis.get_shard_iterator(
                StreamName=LOG_STREAM_NAME, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
        answer = self.kinesis.get_records(ShardIterator=self.iterator, Limit=100)
        self.iterator = answer["NextShardIterator"]
        for record in answer["Records"]:
            self.invoke(record["Data"])
        return bool(answer["Records"])

    def invoke(self, data: bytes) -> None:
        event = {"awslogs": {"data": base64.b64encode(data).decode("ascii")}}
        error = ""
        for _attempt in range(1 + ASYNC_RETRIES):
            try:
                self.forwarder.invoke(event)
                return
            except FunctionError as exc:
                error = str(exc)
        now = datetime.now(UTC)
        key = failed_batches.async_key(FORWARDER_FUNCTION, now)
        body = failed_batches.async_document(
            function_arn=self.forwarder.arn,
            request_id=str(uuid.uuid4()),
            payload=event,
            attempts=1 + ASYNC_RETRIES,
            when=now,
            error=error,
        )
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)
        log.error("log forwarder gave up on a delivery; kept in s3://%s/%s", self.bucket, key)


@dataclass
class LocalLogSubscriptions:
    """Started by ``events-api dev``; ``stop`` ends what it started."""

    threads: list[Poller] = field(default_factory=list)
    workers: list[Any] = field(default_factory=list)

    def stop(self) -> None:
        for thread in self.threads:
            thread.stop()
        for worker in self.workers:
            worker.stop()


def start(
    endpoint: str,
    resources: Resources,
    function_names: list[str],
    repository: Path,
) -> LocalLogSubscriptions:
    from . import moto_aws, template_limits
    from .lambda_worker import WorkerFunction

    logs = moto_aws.client("logs", endpoint)
    kinesis = moto_aws.client("kinesis", endpoint)
    started = LocalLogSubscriptions()
    names = list(function_names)
    if resources.buffer == "kinesis":
        destination = resources.stream_arn
    else:
        kinesis.create_stream(StreamName=LOG_STREAM_NAME, ShardCount=1)
        destination = kinesis.describe_stream_summary(StreamName=LOG_STREAM_NAME)[
            "StreamDescriptionSummary"
        ]["StreamARN"]
        limits = template_limits.function_limits(
            repository / "template.yaml", "LogForwarderFunction"
        )
        forwarder = WorkerFunction(
            FORWARDER_FUNCTION,
            repository,
            "log_forwarder",
            limits.timeout_seconds,
            limits.memory_mb,
        ).start()
        started.workers.append(forwarder)
        names.append(FORWARDER_FUNCTION)
        s3 = moto_aws.client("s3", endpoint)
        started.threads.append(_ForwarderPoller(kinesis, s3, resources.bucket, forwarder))
    started.threads.append(_SubscriberThread(logs, own_log_groups(names), destination))
    for thread in started.threads:
        thread.start()
    return started
