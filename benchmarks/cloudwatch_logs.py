"""CloudWatch Logs as a source: what the consumer does with the records subscriptions deliver,
what a full batch of the largest ones costs the consumer against its memory and timeout,
and the dollars per GB of logs forwarded (benchmarks.log_cost).

Part of ``make bench``; alone: ``python -m benchmarks.run --only cloudwatch-logs`` (under
``flock /work/heavy.lock`` on shared machines). Figures go to benchmarks/results.json
(``cloudwatch_logs_*``) and the section between this module's markers in
docs/performance.md, its prose in benchmarks/templates/cloudwatch_logs.md.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from . import cost, log_cost, prose, worst
from .log_shapes import (
    ASYNC_RECORD_BYTES,
    KINESIS_RECORD_BYTES,
    LARGE_RECORDS,
    REQUEST,
    TYPICAL_INVOCATION,
    largest_record,
    record,
)

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results.json"
PERFORMANCE = ROOT / "docs" / "performance.md"
COMMAND = "python -m benchmarks.run --only cloudwatch-logs"
SECTION_START = "<!-- cloudwatch-logs:start -->"
SECTION_END = "<!-- cloudwatch-logs:end -->"
PROSE = prose.load(Path(__file__).with_name("templates") / "cloudwatch_logs.md")
PREFIX = "cloudwatch_logs_"

#: The typical delivery: 20 invocations' lines of one function (120 log events), one record.
INVOCATIONS_PER_DELIVERY = 20
TYPICAL_DELIVERIES = 200
#: 1 MiB records (typical Lambda logs) timed in-process.
LARGE_DELIVERIES = 3
#: What a shard takes in writes (Kinesis: 1 MiB a second).
SHARD_WRITE_BYTES_PER_S = 1024 * 1024
NO_LINE = "\u2013"  # a line item the column does not have (an en dash)


def _events(blob: bytes) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = orjson.loads(gzip.decompress(blob))["logEvents"]
    return events


def typical_deliveries(count: int = TYPICAL_DELIVERIES) -> list[bytes]:
    out = []
    for n in range(count):
        lines = [
            line.replace(REQUEST, f"{n:04d}{k:04d}-6b1d-4a8e-9d7c-2f3b4a5c6d7e")
            for k in range(INVOCATIONS_PER_DELIVERY)
            for line in TYPICAL_INVOCATION
        ]
        out.append(record(lines, first_id=n * 1000))
    return out


class _Memory:
    """An object writer that keeps only the byte count (S3 left out)."""

    def __init__(self) -> None:
        self.bytes = 0

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self.bytes += len(body)


@dataclass
class Throughput:
    name: str
    records: int
    compressed_bytes: int
    inflated_bytes: int
    message_bytes: int
    events: int
    stored_bytes: int
    cpu_seconds: float  # median of the rounds, the whole set of records
    best_seconds: float

    @property
    def events_per_s(self) -> float:
        return self.events / self.cpu_seconds

    @property
    def inflated_mb_per_s(self) -> float:
        return self.inflated_bytes / self.cpu_seconds / 1e6

    @property
    def seconds_per_record(self) -> float:
        return self.cpu_seconds / self.records


def measure_throughput(name: str, blobs: list[bytes], batch: int, rounds: int) -> Throughput:
    """The consumer's own path (decode, parse, enrich, gzip) on these records, in batches of
    ``batch``, CPU time of this process."""
    from events_api.settings import ConsumerSettings
    from events_api.store.consumer import ConsumerService, SourceRecord

    items = [SourceRecord(str(n), str(n), blob, 1_795_694_401.0) for n, blob in enumerate(blobs)]
    events = [_events(blob) for blob in blobs]
    times = []
    stored = 0
    for _ in range(rounds):
        writer = _Memory()
        service = ConsumerService(ConsumerSettings(bucket_name="bench"), writer)
        started = time.process_time()
        for start in range(0, len(items), batch):
            if service.store("kinesis", items[start : start + batch]):
                raise RuntimeError("the consumer failed a CloudWatch Logs record")
        times.append(time.process_time() - started)
        stored = writer.bytes
    return Throughput(
        name=name,
        records=len(blobs),
        compressed_bytes=sum(map(len, blobs)),
        inflated_bytes=sum(len(gzip.decompress(blob)) for blob in blobs),
        message_bytes=sum(len(e["message"].encode()) for each in events for e in each),
        events=sum(map(len, events)),
        stored_bytes=stored,
        cpu_seconds=statistics.median(times),
        best_seconds=min(times),
    )


def measure_forwarder(blob: bytes, rounds: int) -> float:
    """CPU seconds of one invocation of the real log forwarder (SQS stubbed) with ``blob``,
    as CloudWatch Logs invokes it; the median of ``rounds`` warm invocations."""
    from . import lambdas, stubs

    lambdas.set_env("sqs")
    stub = stubs.StubAws().install()
    try:
        module = lambdas.load_function("log_forwarder", tag="_cloudwatch_logs")
        event = {"awslogs": {"data": base64.b64encode(blob).decode()}}
        context = lambdas.context()
        with lambdas.quiet():
            module.lambda_handler(event, context)  # warm: imports, clients
            times = []
            for _ in range(rounds):
                started = time.process_time()
                module.lambda_handler(event, context)
                times.append(time.process_time() - started)
    finally:
        stub.uninstall()
    return statistics.median(times)


# -- full batches of the largest records -------------------------------------------------


def full_batch(workload: str, buffer: str) -> list[bytes]:
    """As many of the largest records of ``workload`` as one invocation gets: the template's
    BatchSize, or fewer when Lambda's 6 MB payload is full (the records' data base64'd in
    it, measured on the event itself)."""
    limit = KINESIS_RECORD_BYTES if buffer == "kinesis" else ASYNC_RECORD_BYTES
    blobs: list[bytes] = []
    while len(blobs) < worst.batch_size(buffer):
        blob = largest_record(workload, limit, first_id=len(blobs) * 1_000_000_000)
        size = len(json.dumps(worst.consumer_event([*blobs, blob], buffer)))
        if size > log_cost.PAYLOAD_BYTES:
            break
        blobs.append(blob)
    return blobs


def measure_worst(runs: int = 3) -> list[tuple[worst.WorstResult, int]]:
    """(the consumer's figures, the batch's compressed bytes) for a full batch of each
    workload's largest records, through the real handler in a fresh process, per buffer:
    the run with the least CPU of ``runs`` (other jobs on this machine can only add to it),
    the highest peak RSS of them."""
    out = []
    for buffer in ("kinesis", "sqs"):
        for workload in LARGE_RECORDS:
            blobs = full_batch(workload, buffer)
            events = sum(len(_events(blob)) for blob in blobs)
            tries = [
                worst.measure_consumer_batch(blobs, events, buffer, workload) for _ in range(runs)
            ]
            result = min(tries, key=lambda r: r.cpu_s)
            result.peak_rss = max(r.peak_rss for r in tries)
            out.append((result, sum(map(len, blobs))))
    return out


def shard_capacity(measured: list[tuple[worst.WorstResult, int]], factor: int) -> float:
    """The bytes a second one shard's batches store at ``factor`` batches at a time, for the
    slowest workload's Kinesis batch: each runs its Lambda time for its compressed bytes."""
    rates = [
        batch_bytes / result.lambda_seconds
        for result, batch_bytes in measured
        if result.buffer == "kinesis"
    ]
    return factor * min(rates)


# -- figures, page --------------------------------------------------------------------------


def workload(typical: Throughput, forwarder_cpu: float) -> log_cost.LogWorkload:
    per = typical.records
    return log_cost.LogWorkload(
        message_bytes=typical.message_bytes // per,
        events=typical.events // per,
        record_bytes=typical.compressed_bytes // per,
        consumer_cpu_seconds=typical.cpu_seconds / per,
        stored_bytes=typical.stored_bytes // per,
        forwarder_cpu_seconds=forwarder_cpu,
    )


def _slug(text: str) -> str:
    return text.lower().replace(" ", "_").replace("/", "_").replace("-", "_")


def results(
    throughput: list[Throughput],
    forwarder_cpu: float,
    measured: list[tuple[worst.WorstResult, int]],
    costs: dict[str, dict[str, cost.Breakdown]],
    when: str,
) -> dict[str, Any]:
    from events_api_cli.local.template import mapping

    kinesis = mapping(cost.TEMPLATE, "KinesisEventSource", log_cost.LOGS_ON_KINESIS)
    factor, retries = kinesis.parallelization_factor, kinesis.maximum_retry_attempts
    out: dict[str, Any] = {"measured_at": when}
    for t in throughput:
        out[f"{t.name}_records"] = t.records
        out[f"{t.name}_compressed_bytes_per_record"] = t.compressed_bytes // t.records
        out[f"{t.name}_inflated_bytes_per_record"] = t.inflated_bytes // t.records
        out[f"{t.name}_message_bytes_per_record"] = t.message_bytes // t.records
        out[f"{t.name}_events_per_record"] = t.events // t.records
        out[f"{t.name}_events_per_s"] = round(t.events_per_s)
        out[f"{t.name}_inflated_mb_per_s"] = round(t.inflated_mb_per_s, 1)
        out[f"{t.name}_seconds_per_record"] = round(t.seconds_per_record, 4)
        out[f"{t.name}_stored_bytes_per_message_byte"] = round(t.stored_bytes / t.message_bytes, 3)
    out["forwarder_cpu_ms"] = round(forwarder_cpu * 1000, 3)
    for result, batch_bytes in measured:
        slug = f"worst_{result.buffer}_{_slug(result.workload)}"
        out[f"{slug}_records"] = result.records
        out[f"{slug}_compressed_bytes"] = batch_bytes
        out[f"{slug}_events"] = result.events
        out[f"{slug}_stored"] = result.status == "stored"
        out[f"{slug}_cpu_s"] = round(result.cpu_s, 2)
        out[f"{slug}_lambda_s"] = round(result.lambda_seconds, 1)
        out[f"{slug}_time_fraction"] = round(result.time_fraction, 3)
        out[f"{slug}_peak_rss_mb"] = round(result.peak_rss / 2**20, 1)
        out[f"{slug}_peak_rss_fraction"] = round(result.rss_fraction, 3)
    results_only = [result for result, _ in measured]
    out["worst_time_fraction"] = round(max(r.time_fraction for r in results_only), 3)
    out["worst_peak_rss_fraction"] = round(max(r.rss_fraction for r in results_only), 3)
    out["worst_all_stored"] = all(r.status == "stored" for r in results_only)
    kinesis_records = max(r.records for r in results_only if r.buffer == "kinesis")
    out["kinesis_batch_records_max"] = kinesis_records
    out["sqs_batch_records_max"] = max(r.records for r in results_only if r.buffer == "sqs")
    # Each invocation stores at least its first record, so a batch is done after at most
    # this many partial answers even if every one counted as a retry.
    out["partial_answers_max"] = kinesis_records - 1
    out["maximum_retry_attempts"] = retries
    out["parallelization_factor"] = factor
    out["shard_capacity_mib_per_s"] = round(shard_capacity(measured, factor) / 2**20, 2)
    out["shard_capacity_mib_per_s_one_batch"] = round(shard_capacity(measured, 1) / 2**20, 2)
    for volume, row in costs.items():
        for column, breakdown in row.items():
            out[f"cost_per_gb_{_slug(volume)}_{_slug(column)}"] = round(breakdown.per_gb, 5)
    out["cloudwatch_ingest_per_gb"] = log_cost.cloudwatch_logs_per_gb()
    return {PREFIX + key: value for key, value in out.items()}


def _met(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


COLUMNS = {
    "kinesis on-demand": "ours, Kinesis on-demand",
    "kinesis provisioned": "ours, Kinesis provisioned",
    "sqs": "ours, SQS",
    "firehose": "Firehose (CloudWatch Logs destination)",
    "datadog": "Datadog forwarder",
}


def markdown(
    r: dict[str, Any],
    throughput: list[Throughput],
    measured: list[tuple[worst.WorstResult, int]],
    work: log_cost.LogWorkload,
    costs: dict[str, dict[str, cost.Breakdown]],
) -> str:
    f = {key.removeprefix(PREFIX): value for key, value in r.items()}
    lines = [SECTION_START, PROSE["intro"].format(r=f, command=COMMAND), ""]
    add = lines.append
    add(PROSE["throughput"])
    for t in throughput:
        add(
            PROSE["throughput_row"].format(
                t=t,
                label=PROSE[f"throughput_{t.name}"],
                kb=t.compressed_bytes / t.records / 1024,
                inflated_mb=t.inflated_bytes / t.records / 1e6,
                events=t.events // t.records,
            )
        )
    add("")
    add(PROSE["throughput_after"].format(r=f))
    add("")
    add(PROSE["worst"].format(r=f))
    for result, batch_bytes in measured:
        add(
            PROSE["worst_row"].format(
                w=result,
                workload=LARGE_RECORDS[result.workload][0],
                mib=batch_bytes / 2**20,
                rss_mib=result.peak_rss / 2**20,
            )
        )
    add("")
    capacity_ok = f["shard_capacity_mib_per_s"] >= SHARD_WRITE_BYTES_PER_S / 2**20
    add(
        PROSE["worst_after"].format(
            r=f,
            time_met=_met(f["worst_time_fraction"] <= 0.5 and f["worst_all_stored"]),
            rss_met=_met(f["worst_peak_rss_fraction"] <= 0.5),
            retries_met=_met(f["partial_answers_max"] < f["maximum_retry_attempts"]),
            capacity_met=_met(capacity_ok),
        )
    )
    add("")
    add(
        PROSE["cost"].format(
            w=work,
            r=f,
            kb=work.record_bytes / 1024,
            message_kb=work.message_bytes / 1024,
            consumer_ms=work.consumer_cpu_seconds * 1000,
            forwarder_ms=work.forwarder_cpu_seconds * 1000,
            datadog_mb=log_cost.DATADOG_FORWARDER_MEMORY_MB,
        )
    )
    add("")
    add("| daily volume of logs | " + " | ".join(COLUMNS.values()) + " |")
    add("|---|" + "---:|" * len(COLUMNS))
    for volume, row in costs.items():
        cells = " | ".join(
            PROSE["cost_cell"].format(per_gb=row[column].per_gb) for column in COLUMNS
        )
        add(f"| {volume} | {cells} |")
    add("")
    add(PROSE["cost_breakdown"])
    add("")
    tb = costs["1 TB/day"]
    items = sorted({item for b in tb.values() for item in b.monthly})
    add("| line item | " + " | ".join(COLUMNS.values()) + " |")
    add("|---|" + "---:|" * len(COLUMNS))
    for item in items:
        cells = " | ".join(
            f"{tb[c].monthly[item]:,.2f}" if item in tb[c].monthly else NO_LINE for c in COLUMNS
        )
        add(f"| {item} | {cells} |")
    totals = " | ".join(f"**{tb[c].total_monthly:,.2f}**" for c in COLUMNS)
    add(f"| **total** | {totals} |")
    add("")
    best = min((tb[mode] for mode in log_cost.MODES), key=lambda b: b.per_gb)
    datadog = tb["datadog"]
    unindexed = datadog.total_monthly - datadog.monthly["Datadog indexing"]
    add(
        PROSE["cost_after"].format(
            r=f,
            ours=best.per_gb,
            mode=best.mode,
            datadog=datadog.per_gb,
            datadog_unindexed=unindexed / (datadog.gb_per_day * cost.DAYS_PER_MONTH),
            firehose=tb["firehose"].per_gb,
            datadog_ratio=datadog.per_gb / best.per_gb,
            events_per_gb=cost.GB / work.message_bytes * work.events / 1e6,
            event_bytes=work.message_bytes / work.events,
            cloudwatch=log_cost.cloudwatch_logs_per_gb(),
            sqs=tb["sqs"].per_gb,
        )
    )
    add(SECTION_END)
    add("")
    return "\n".join(lines)


def write(figures: dict[str, Any], section: str) -> None:
    """Merge the figures into results.json and the section into docs/performance.md."""
    existing = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    existing = {k: v for k, v in existing.items() if not k.startswith(PREFIX)}
    RESULTS.write_text(json.dumps({**existing, **figures}, indent=2, sort_keys=True) + "\n")
    text = PERFORMANCE.read_text() if PERFORMANCE.exists() else ""
    start, end = text.find(SECTION_START), text.find(SECTION_END)
    if start >= 0 and end > start:
        text = text[:start] + section.rstrip("\n") + text[end + len(SECTION_END) :]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    PERFORMANCE.write_text(text if text.endswith("\n") else text + "\n")


def run(quick: bool = False, log: Any = print) -> dict[str, Any]:
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    rounds = 3 if quick else 9
    log("12. CloudWatch Logs: typical deliveries and 1 MiB records through the consumer")
    typical = measure_throughput("typical", typical_deliveries(), 100, rounds)
    large = [largest_record("typical", KINESIS_RECORD_BYTES, first_id=n * 10**9) for n in range(3)]
    big = measure_throughput("one_mib", large, 1, 1 if quick else 3)
    forwarder_cpu = measure_forwarder(typical_deliveries(1)[0], 50 if quick else 200)
    log("    full batches of the largest records, fresh processes")
    measured = measure_worst(1 if quick else 3)
    work = workload(typical, forwarder_cpu)
    costs = log_cost.table(work)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    figures = results([typical, big], forwarder_cpu, measured, costs, when)
    write(figures, markdown(figures, [typical, big], measured, work, costs))
    return figures
