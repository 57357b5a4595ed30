"""Item 6: dollars per GB ingested, from the counted calls and bytes and measured CPU.

Every price is in ``PRICES`` (us-east-1, list prices, no free tier), with where it was seen
and when. The model is a set of small pure functions so ``tests/unit`` can check them on
a hand-computed example.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

GB = 1024**3
HOURS_PER_MONTH = 730
DAYS_PER_MONTH = 30


@dataclass(frozen=True)
class Price:
    value: float
    unit: str
    source: str
    seen: str  # when the figure was checked
    verified: bool  # False: the public list price as known, not confirmed on a page this time


_KDS = (
    "aws.amazon.com/kinesis/data-streams/pricing (structure); "
    "trek10.com KDS on-demand vs provisioned comparison (figures)"
)
PRICES: dict[str, Price] = {
    "kinesis_on_demand_stream_hour": Price(0.04, "$ per stream-hour", _KDS, "2026-11-26", False),
    "kinesis_on_demand_gb_in": Price(
        0.08, "$ per GB written (records rounded up to 1 KB)", _KDS, "2026-11-26", False
    ),
    "kinesis_on_demand_gb_out": Price(0.04, "$ per GB read", _KDS, "2026-11-26", False),
    "kinesis_shard_hour": Price(0.015, "$ per shard-hour", _KDS, "2026-11-26", False),
    "kinesis_put_units": Price(
        0.014, "$ per million PUT payload units (25 KB)", _KDS, "2026-11-26", False
    ),
    "sqs_requests": Price(
        0.40,
        "$ per million requests (64 KB chunks), standard queue",
        "aws.amazon.com/sqs/pricing via cloudburn.io SQS pricing guide (Mar 2026)",
        "2026-11-26",
        True,
    ),
    "api_gateway_http_requests": Price(
        1.00,
        "$ per million HTTP API requests (first 300 M), metered per 512 KB",
        "docs.aws.amazon.com whitepaper 'Best practices for API Gateway private APIs', table 4",
        "2026-11-26",
        True,
    ),
    "api_gateway_http_requests_over_300m": Price(
        0.90,
        "$ per million HTTP API requests beyond 300 M a month",
        "third-party guides quoting aws.amazon.com/api-gateway/pricing (amnic.com, "
        "apigatewaycost.com)",
        "2026-11-29",
        False,
    ),
    "lambda_function_url": Price(
        0.0,
        "no charge of its own: the function's requests and duration only",
        "docs.aws.amazon.com/lambda (function URLs); aws.amazon.com/lambda/pricing",
        "2026-11-29",
        True,
    ),
    "lambda_requests": Price(
        0.20, "$ per million requests", "aws.amazon.com/lambda/pricing", "2026-11-26", True
    ),
    "lambda_arm_gb_second": Price(
        0.0000133334,
        "$ per GB-second, arm64 (first 7.5 B GB-s)",
        "aws.amazon.com/lambda/pricing via cloudchipr.com Lambda pricing guide",
        "2026-11-26",
        True,
    ),
    "s3_put": Price(
        0.005,
        "$ per 1,000 PUT requests, S3 Standard",
        "aws.amazon.com/s3/pricing (list price as known)",
        "2026-11-26",
        False,
    ),
    "s3_storage_gb_month": Price(
        0.023,
        "$ per GB-month, S3 Standard first 50 TB",
        "aws.amazon.com/s3/pricing (list price as known)",
        "2026-11-26",
        False,
    ),
    "firehose_gb": Price(
        0.029,
        "$ per GB ingested, Direct PUT (CloudWatch Logs subscriptions too), first 500 TB/month "
        "(records rounded up to 5 KB)",
        "aws.amazon.com/firehose/pricing (structure seen again: Direct PUT and KDS sources per "
        "GB in 5 KB increments, vended logs without; the figure is the list price as known; "
        "no price for CloudWatch Logs decompression found)",
        "2026-12-03",
        False,
    ),
    "cloudwatch_logs_gb": Price(
        0.50,
        "$ per GB of Lambda logs ingested into CloudWatch Logs, Standard class, first 10 TB "
        "a month (tiered since May 2025, down to $0.05 past 50 TB)",
        "AWS's Lambda logging pricing change of 1 May 2025, as described by duckbillgroup.com",
        "2026-11-29",
        False,
    ),
    "datadog_logs_ingest_gb": Price(
        0.10,
        "$ per GB of logs ingested (list; indexing is billed on top, per million events)",
        "Datadog's documented starting price as quoted by doit.com ('Datadog pricing "
        "explained') and michaelscodingspot.com; datadoghq.com/pricing not available here",
        "2026-12-03",
        False,
    ),
    "datadog_logs_index_million": Price(
        1.70,
        "$ per million log events indexed, 15-day retention, annual commitment ($2.55 on demand)",
        "doit.com 'Datadog pricing explained' and michaelscodingspot.com (list price as quoted)",
        "2026-12-03",
        False,
    ),
}

#: Firehose meters every record rounded up to the next 5 KB.
FIREHOSE_RECORD_ROUNDING = 5 * 1024
FRONT_DOORS = ("HttpApi", "FunctionUrl")

#: Lambda gives a function one full vCPU at 1,769 MB, and a proportional share below.
LAMBDA_FULL_CPU_MB = 1769
#: Lambda's own records per invocation in the JSON log format at SystemLogLevel INFO, at
#: their documented shapes with a request id and typical figures. At WARN (the template's
#: default) Lambda writes none of them.
LAMBDA_PLATFORM_RECORDS = (
    '{"time":"2026-11-29T12:00:00.000Z","type":"platform.start","record":'
    '{"requestId":"6f7f0961-5bc7-4b2e-9a7f-6d1e2f3a4b5c","version":"$LATEST"}}',
    '{"time":"2026-11-29T12:00:00.002Z","type":"platform.report","record":'
    '{"requestId":"6f7f0961-5bc7-4b2e-9a7f-6d1e2f3a4b5c","metrics":{"durationMs":1.52,'
    '"billedDurationMs":2,"memorySizeMB":512,"maxMemoryUsedMB":98},"status":"success"}}',
)
TEMPLATE = Path(__file__).resolve().parent.parent / "template.yaml"


def platform_log_bytes(system_log_level: str | None = None) -> int:
    """What Lambda logs of its own per invocation at ``system_log_level`` (the template's
    SystemLogLevel default unless given)."""
    from events_api_cli.local.template import parameter_default

    level = system_log_level or parameter_default(TEMPLATE, "SystemLogLevel")
    if level == "WARN":
        return 0
    return sum(len(record) + 1 for record in LAMBDA_PLATFORM_RECORDS)


def deployed_memory_mb(logical_id: str) -> int:
    """The function's MemorySize in template.yaml (the model prices what is deployed)."""
    from events_api_cli.local.template import function_limits

    return function_limits(TEMPLATE, logical_id).memory_mb


def price(name: str) -> float:
    return PRICES[name].value


@dataclass(frozen=True)
class Workload:
    """What one ingest request and its consumption cost, as measured by the benchmark."""

    request_raw_bytes: int  # decompressed events per request
    request_wire_bytes: int  # the body on the wire (gzip'd)
    ingest_cpu_seconds: dict[str, float]  # per request, by buffer ("kinesis", "sqs")
    buffer_bytes: int  # record bytes on the buffer per request
    records: int  # buffer records per request
    kinesis_put_units: int  # per request
    kinesis_on_demand_kb: int  # per request, records rounded up to 1 KB
    sqs_send_chunks: int  # 64 KB chunks per request (SendMessageBatch)
    sqs_calls: int  # SendMessageBatch calls per request
    consumer_cpu_seconds_per_raw_byte: float
    stored_ratio: float  # raw event bytes / stored gzip bytes
    ingest_memory_mb: int = field(default_factory=lambda: deployed_memory_mb("IngestFunction"))
    consumer_memory_mb: int = field(default_factory=lambda: deployed_memory_mb("ConsumerFunction"))
    #: What the ingest function writes to its log per request (measured: its log line
    #: and EMF metrics); priced only when the model is asked to include logs.
    log_bytes_per_request: int = 0
    #: Lambda's SystemLogLevel (None: the template's default).
    system_log_level: str | None = None
    #: Assumption (no AWS here): wall time per buffer call spent waiting on the network.
    network_seconds_per_call: float = 0.020
    #: Assumption: raw bytes per consumer invocation (Lambda's 6 MB payload, base64 data).
    consumer_raw_bytes_per_invocation: int = 20 * 1024 * 1024
    #: Assumption: peak write rate over the daily average, for sizing provisioned shards.
    peak_factor: float = 3.0
    #: The template's event source mappings: records per consumer batch, and how long the
    #: Kinesis mapping waits to fill one (MaximumBatchingWindowInSeconds).
    kinesis_batch_size: int = 100
    kinesis_batching_window_seconds: float = 5.0
    sqs_batch_size: int = 10
    #: Assumption: the SQS mapping has no batching window, so a batch holds what arrived
    #: within about this long (Lambda's pollers return as soon as messages are there).
    sqs_fill_seconds: float = 1.0
    #: On-demand streams start with 4 shards' write capacity (4 MB/s); each shard is a
    #: separate stream of consumer batches.
    on_demand_shards: int = 4


def lambda_seconds(cpu_seconds: float, memory_mb: int) -> float:
    """Duration at ``memory_mb`` for work measured on one full core."""
    return cpu_seconds * max(1.0, LAMBDA_FULL_CPU_MB / memory_mb)


def lambda_cost(invocations: float, seconds_each: float, memory_mb: int) -> float:
    """Requests plus duration, billed in whole milliseconds (rounded up) per invocation."""
    billed = math.ceil(round(seconds_each * 1000, 6)) / 1000
    gb_seconds = invocations * billed * memory_mb / 1024
    return invocations * price("lambda_requests") / 1e6 + gb_seconds * price("lambda_arm_gb_second")


def api_gateway_units(wire_bytes: int) -> int:
    """HTTP APIs meter each request in 512 KB increments."""
    return max(1, math.ceil(wire_bytes / (512 * 1024)))


def api_gateway_cost(metered_requests_per_month: float) -> float:
    """HTTP API requests a month: $1.00 per million up to 300 M, $0.90 beyond."""
    first = min(metered_requests_per_month, 300e6)
    rest = metered_requests_per_month - first
    return (
        first * price("api_gateway_http_requests")
        + rest * price("api_gateway_http_requests_over_300m")
    ) / 1e6


def records_per_batch(
    limit: int, payload_records: float, records_per_s: float, fill_seconds: float
) -> float:
    """Records in one consumer invocation: the batch size, what fits Lambda's payload, or
    what arrives while the batch fills, whichever is least (at least one)."""
    return max(1.0, min(float(limit), payload_records, records_per_s * fill_seconds))


def provisioned_shards(buffer_bytes_per_s: float, records_per_s: float) -> int:
    """1 MB/s and 1,000 records/s of writes per shard."""
    return max(1, math.ceil(buffer_bytes_per_s / 1e6), math.ceil(records_per_s / 1000))


@dataclass
class Breakdown:
    mode: str
    gb_per_day: float
    monthly: dict[str, float] = field(default_factory=dict)

    @property
    def total_monthly(self) -> float:
        return sum(self.monthly.values())

    @property
    def per_gb(self) -> float:
        return self.total_monthly / (self.gb_per_day * DAYS_PER_MONTH)


def monthly_cost(
    work: Workload,
    mode: str,
    gb_per_day: float,
    front_door: str = "HttpApi",
    *,
    logs: bool = False,
) -> Breakdown:
    """Dollars per month for ``gb_per_day`` of raw events, by line item; ``logs`` adds what
    the functions' logs cost in CloudWatch Logs (not among the issue's line items)."""
    requests = gb_per_day * GB * DAYS_PER_MONTH / work.request_raw_bytes  # per month
    seconds = DAYS_PER_MONTH * 86_400
    buffer = "kinesis" if mode.startswith("kinesis") else "sqs"
    calls = 1 if buffer == "kinesis" else work.sqs_calls
    out = Breakdown(mode, gb_per_day)
    if front_door == "HttpApi":
        units = api_gateway_units(work.request_wire_bytes)
        out.monthly["API Gateway"] = api_gateway_cost(requests * units)
    elif front_door != "FunctionUrl":
        raise ValueError(f"unknown front door {front_door!r}")
    ingest_seconds = (
        lambda_seconds(work.ingest_cpu_seconds[buffer], work.ingest_memory_mb)
        + calls * work.network_seconds_per_call
    )
    out.monthly["Lambda ingest"] = lambda_cost(requests, ingest_seconds, work.ingest_memory_mb)
    raw_per_month = requests * work.request_raw_bytes
    records = requests * work.records
    raw_per_record = work.request_raw_bytes / work.records
    payload_records = work.consumer_raw_bytes_per_invocation / raw_per_record
    if mode == "kinesis provisioned":
        peak_bytes = requests * work.buffer_bytes / seconds * work.peak_factor
        peak_records = records / seconds * work.peak_factor
        shards = provisioned_shards(peak_bytes, peak_records)
    else:
        shards = work.on_demand_shards
    if buffer == "kinesis":
        per_batch = records_per_batch(
            work.kinesis_batch_size,
            payload_records,
            records / seconds / shards,
            work.kinesis_batching_window_seconds,
        )
    else:
        per_batch = records_per_batch(
            work.sqs_batch_size, payload_records, records / seconds, work.sqs_fill_seconds
        )
    invocations = records / per_batch
    consumer_seconds = (
        lambda_seconds(
            work.consumer_cpu_seconds_per_raw_byte * raw_per_record * per_batch,
            work.consumer_memory_mb,
        )
        + work.network_seconds_per_call
    )
    out.monthly["Lambda consumer"] = lambda_cost(
        invocations, consumer_seconds, work.consumer_memory_mb
    )
    if logs:
        platform = platform_log_bytes(work.system_log_level)
        log_bytes = requests * (work.log_bytes_per_request + platform)
        log_bytes += invocations * platform
        out.monthly["CloudWatch Logs"] = log_bytes / GB * price("cloudwatch_logs_gb")
    # One object per batch (one dataset and hour per batch).
    out.monthly["S3 PUT"] = invocations * price("s3_put") / 1000
    out.monthly["S3 storage (1 month)"] = (
        raw_per_month / work.stored_ratio / GB * price("s3_storage_gb_month")
    )
    buffer_gb = requests * work.buffer_bytes / GB
    if mode == "kinesis on-demand":
        out.monthly["Kinesis stream-hours"] = HOURS_PER_MONTH * price(
            "kinesis_on_demand_stream_hour"
        )
        written_gb = requests * work.kinesis_on_demand_kb * 1024 / GB
        out.monthly["Kinesis data in"] = written_gb * price("kinesis_on_demand_gb_in")
        out.monthly["Kinesis data out"] = buffer_gb * price("kinesis_on_demand_gb_out")
    elif mode == "kinesis provisioned":
        out.monthly["Kinesis shard-hours"] = shards * HOURS_PER_MONTH * price("kinesis_shard_hour")
        out.monthly["Kinesis PUT units"] = (
            requests * work.kinesis_put_units * price("kinesis_put_units") / 1e6
        )
    elif mode == "sqs":
        # Each call is billed per 64 KB of its payload: sends as counted; each receive of a
        # batch moves the same bytes in chunks of its own; one delete call per batch;
        # Lambda's five pollers long-poll (20 s) an idle queue all month.
        sent = requests * work.sqs_send_chunks
        batch_bytes = work.buffer_bytes / work.records * per_batch
        receive = invocations * max(1, math.ceil(batch_bytes / (64 * 1024)))
        deletes = invocations
        idle_polls = 5 * 3 * 60 * 24 * DAYS_PER_MONTH
        total = sent + receive + deletes + idle_polls
        out.monthly["SQS requests"] = total * price("sqs_requests") / 1e6
    else:
        raise ValueError(f"unknown mode {mode!r}")
    return out


def firehose_per_gb(record_bytes: float | None = None) -> float:
    """Firehose Direct PUT list price per GB ingested, with each record of ``record_bytes``
    rounded up to the next 5 KB (None: records of 5 KB or more, the bare list price)."""
    if record_bytes is None:
        return price("firehose_gb")
    billed = math.ceil(record_bytes / FIREHOSE_RECORD_ROUNDING) * FIREHOSE_RECORD_ROUNDING
    return price("firehose_gb") * billed / record_bytes


def datadog_per_gb() -> float:
    """Datadog's list price for ingesting a GB of logs (indexing them is extra)."""
    return price("datadog_logs_ingest_gb")


MODES = ("kinesis on-demand", "kinesis provisioned", "sqs")
VOLUMES = {"10 GB/day": 10.0, "100 GB/day": 100.0, "1 TB/day": 1024.0}


def table(work: Workload) -> dict[str, dict[str, Breakdown]]:
    return {
        volume: {mode: monthly_cost(work, mode, gb) for mode in MODES}
        for volume, gb in VOLUMES.items()
    }


def door_table(
    work: Workload, gb_per_day: float, *, logs: bool = False
) -> dict[str, dict[str, Breakdown]]:
    """Front door -> buffer mode -> the month at ``gb_per_day``."""
    return {
        door: {mode: monthly_cost(work, mode, gb_per_day, door, logs=logs) for mode in MODES}
        for door in FRONT_DOORS
    }


def best(row: dict[str, Breakdown]) -> Breakdown:
    return min(row.values(), key=lambda b: b.per_gb)
