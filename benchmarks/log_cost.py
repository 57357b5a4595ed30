"""Dollars per GB of CloudWatch Logs forwarded: through this pipeline (both buffers), beside
Firehose's CloudWatch Logs destination and Datadog's Lambda forwarder at list price.

A GB of logs is a GB (2^30 bytes) of log event messages, what CloudWatch Logs ingests and
bills; its own ingestion price is the same whichever way the logs leave it, so it is left out
of every column. The unit of work is one subscription delivery (one buffer record), measured
by ``benchmarks.cloudwatch_logs``; prices and the shared formulas are ``benchmarks.cost``'s.
Small pure functions, so ``tests/unit`` can check them on a hand-computed example.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from . import cost
from .cost import DAYS_PER_MONTH, GB, HOURS_PER_MONTH, Breakdown, price

KB = 1024
#: Lambda hands a function at most this much per invocation (synchronous payload); a
#: Kinesis record's data is base64'd in it, with about this much JSON around each record.
PAYLOAD_BYTES = 6 * 1024 * 1024
RECORD_FRAMING_BYTES = 512
#: Datadog's forwarder as its own CloudFormation template deploys it by default (the
#: MemorySize parameter, arm64): DataDog/datadog-serverless-functions,
#: aws/logs_monitoring/template.yaml, read 2026-12-03.
DATADOG_FORWARDER_MEMORY_MB = 1024

MODES = ("kinesis on-demand", "kinesis provisioned", "sqs")
VOLUMES = {"10 GB/day": 10.0, "100 GB/day": 100.0, "1 TB/day": 1024.0}


def _memory(logical_id: str) -> int:
    return cost.deployed_memory_mb(logical_id)


#: The template's parameters for CloudWatch Logs on the Kinesis buffer.
LOGS_ON_KINESIS = {"BufferType": "Kinesis", "LogSubscription": "Account"}


def _parallelization_factor() -> int:
    from events_api_cli.local.template import mapping

    return mapping(cost.TEMPLATE, "KinesisEventSource", LOGS_ON_KINESIS).parallelization_factor


@dataclass(frozen=True)
class LogWorkload:
    """One CloudWatch Logs delivery and what handling it takes, as measured."""

    message_bytes: int  # the log events' messages: what a GB of logs counts
    events: int
    record_bytes: int  # the gzip'd delivery, as it sits on the buffer
    consumer_cpu_seconds: float  # storing it, on one full core
    stored_bytes: int  # the gzip NDJSON the consumer writes for it
    forwarder_cpu_seconds: float  # the log forwarder putting it on the queue (SQS)
    consumer_memory_mb: int = field(default_factory=lambda: _memory("ConsumerFunction"))
    forwarder_memory_mb: int = field(default_factory=lambda: _memory("LogForwarderFunction"))
    parallelization_factor: int = field(default_factory=_parallelization_factor)
    #: Assumptions shared with the events model (benchmarks.cost.Workload): network wait
    #: per AWS call, how long the mappings gather a batch, the shards an on-demand stream
    #: starts with, and the peak over the average for sizing provisioned shards.
    network_seconds_per_call: float = 0.020
    kinesis_batch_size: int = 100
    kinesis_batching_window_seconds: float = 5.0
    sqs_batch_size: int = 10
    sqs_fill_seconds: float = 1.0
    on_demand_shards: int = 4
    peak_factor: float = 3.0

    def deliveries(self, gb_per_day: float) -> float:
        """Deliveries a month at ``gb_per_day`` of logs."""
        return gb_per_day * GB * DAYS_PER_MONTH / self.message_bytes

    @property
    def records_per_payload(self) -> float:
        """Records Lambda's 6 MB payload holds (base64 makes 4 bytes of 3)."""
        return PAYLOAD_BYTES / (self.record_bytes * 4 / 3 + RECORD_FRAMING_BYTES)


def log_monthly_cost(work: LogWorkload, mode: str, gb_per_day: float) -> Breakdown:
    """Dollars a month for ``gb_per_day`` of logs through this pipeline, by line item."""
    deliveries = work.deliveries(gb_per_day)
    seconds = DAYS_PER_MONTH * 86_400
    out = Breakdown(mode, gb_per_day)
    if mode.startswith("kinesis"):
        if mode == "kinesis provisioned":
            peak_bytes = deliveries * work.record_bytes / seconds * work.peak_factor
            shards = cost.provisioned_shards(peak_bytes, deliveries / seconds * work.peak_factor)
            out.monthly["Kinesis shard-hours"] = (
                shards * HOURS_PER_MONTH * price("kinesis_shard_hour")
            )
            units = deliveries * math.ceil(work.record_bytes / (25 * KB))
            out.monthly["Kinesis PUT units"] = units * price("kinesis_put_units") / 1e6
        elif mode == "kinesis on-demand":
            shards = work.on_demand_shards
            out.monthly["Kinesis stream-hours"] = HOURS_PER_MONTH * price(
                "kinesis_on_demand_stream_hour"
            )
            written = deliveries * math.ceil(work.record_bytes / KB) * KB
            out.monthly["Kinesis data in"] = written / GB * price("kinesis_on_demand_gb_in")
            out.monthly["Kinesis data out"] = (
                deliveries * work.record_bytes / GB * price("kinesis_on_demand_gb_out")
            )
        else:
            raise ValueError(f"unknown mode {mode!r}")
        # Each shard runs ParallelizationFactor batches at once, each gathered on its own.
        per_batch = cost.records_per_batch(
            work.kinesis_batch_size,
            work.records_per_payload,
            deliveries / seconds / (shards * work.parallelization_factor),
            work.kinesis_batching_window_seconds,
        )
    elif mode == "sqs":
        # CloudWatch Logs invokes the forwarder once per delivery; it makes one SQS call.
        forwarder_seconds = (
            cost.lambda_seconds(work.forwarder_cpu_seconds, work.forwarder_memory_mb)
            + work.network_seconds_per_call
        )
        out.monthly["Lambda log forwarder"] = cost.lambda_cost(
            deliveries, forwarder_seconds, work.forwarder_memory_mb
        )
        per_batch = cost.records_per_batch(
            work.sqs_batch_size,
            work.records_per_payload,
            deliveries / seconds,
            work.sqs_fill_seconds,
        )
        chunks = math.ceil(work.record_bytes / (64 * KB))
        receives = math.ceil(work.record_bytes * per_batch / (64 * KB))
        idle_polls = 5 * 3 * 60 * 24 * DAYS_PER_MONTH  # as benchmarks.cost: Lambda's pollers
        requests = deliveries * chunks + deliveries / per_batch * (receives + 1) + idle_polls
        out.monthly["SQS requests"] = requests * price("sqs_requests") / 1e6
    else:
        raise ValueError(f"unknown mode {mode!r}")
    invocations = deliveries / per_batch
    consumer_seconds = (
        cost.lambda_seconds(work.consumer_cpu_seconds * per_batch, work.consumer_memory_mb)
        + work.network_seconds_per_call  # one object (one dataset and hour) per batch
    )
    out.monthly["Lambda consumer"] = cost.lambda_cost(
        invocations, consumer_seconds, work.consumer_memory_mb
    )
    out.monthly["S3 PUT"] = invocations * price("s3_put") / 1000
    out.monthly["S3 storage (1 month)"] = (
        deliveries * work.stored_bytes / GB * price("s3_storage_gb_month")
    )
    return out


def firehose_monthly_cost(work: LogWorkload, gb_per_day: float) -> Breakdown:
    """Firehose's CloudWatch Logs destination: ingestion of the deliveries as CloudWatch Logs
    puts them (gzip'd, each rounded up to 5 KB) and a month of S3 storage of what it writes
    (the deliveries, gzip'd as they came). Its objects are large (buffered up to 128 MiB), so
    their PUTs are left out; so are decompression and message extraction, whose price this
    model does not have (docs/performance.md)."""
    deliveries = work.deliveries(gb_per_day)
    out = Breakdown("firehose", gb_per_day)
    billed = math.ceil(work.record_bytes / cost.FIREHOSE_RECORD_ROUNDING)
    billed_bytes = deliveries * billed * cost.FIREHOSE_RECORD_ROUNDING
    out.monthly["Firehose ingestion"] = billed_bytes / GB * price("firehose_gb")
    out.monthly["S3 storage (1 month)"] = (
        deliveries * work.record_bytes / GB * price("s3_storage_gb_month")
    )
    return out


def datadog_monthly_cost(
    work: LogWorkload, gb_per_day: float, *, forwarder_cpu_seconds: float | None = None
) -> Breakdown:
    """Datadog's Lambda forwarder at list price: Datadog's ingestion per GB and indexing per
    million events (15-day retention, annual commitment), and the forwarder's own Lambda
    invocations (one per delivery, at Datadog's default memory). Its CPU per delivery is
    taken as our consumer's (it too inflates, parses and sends every event) unless given."""
    deliveries = work.deliveries(gb_per_day)
    out = Breakdown("datadog", gb_per_day)
    out.monthly["Datadog ingestion"] = gb_per_day * DAYS_PER_MONTH * price("datadog_logs_ingest_gb")
    out.monthly["Datadog indexing"] = (
        deliveries * work.events / 1e6 * price("datadog_logs_index_million")
    )
    cpu = work.consumer_cpu_seconds if forwarder_cpu_seconds is None else forwarder_cpu_seconds
    seconds = cost.lambda_seconds(cpu, DATADOG_FORWARDER_MEMORY_MB) + work.network_seconds_per_call
    out.monthly["Lambda (Datadog forwarder)"] = cost.lambda_cost(
        deliveries, seconds, DATADOG_FORWARDER_MEMORY_MB
    )
    return out


def table(work: LogWorkload) -> dict[str, dict[str, Breakdown]]:
    """Volume -> column -> the month: our three modes, Firehose and Datadog."""
    out: dict[str, dict[str, Breakdown]] = {}
    for volume, gb in VOLUMES.items():
        row = {mode: log_monthly_cost(work, mode, gb) for mode in MODES}
        row["firehose"] = firehose_monthly_cost(work, gb)
        row["datadog"] = datadog_monthly_cost(work, gb)
        out[volume] = row
    return out


def cloudwatch_logs_per_gb() -> float:
    """What CloudWatch Logs itself charges to ingest a GB of logs (paid whichever way)."""
    return price("cloudwatch_logs_gb")
