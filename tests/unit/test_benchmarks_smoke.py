"""The benchmark suite stays importable: its data generator and cost model, checked by hand.

`make bench` itself is not part of the test run (it takes minutes); this keeps the pieces
it is built from honest.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from benchmarks import cost, data

pytestmark = pytest.mark.unit


def test_generated_batches_are_log_like_json_arrays_under_the_target_size() -> None:
    batch = data.make_batch("test", 60_000)
    assert len(batch.body) <= 60_000
    events = json.loads(batch.body)
    assert len(events) == len(batch.events) > 10
    for event, text in zip(events, batch.events, strict=True):
        assert isinstance(event, dict)
        assert {"message", "requestId", "namespace", "timestamp", "duration"} <= set(event)
        assert data.GENERATED_MIN_EVENT_BYTES <= len(text) <= data.GENERATED_MAX_EVENT_BYTES
    assert any("error" in e for e in json.loads(data.make_batch("errors", 400_000).body))
    # Deterministic for a seed: the same run compares the same data.
    assert data.make_batch("again", 60_000).body == batch.body


def test_small_cost_formulas() -> None:
    assert cost.api_gateway_units(1) == 1
    assert cost.api_gateway_units(512 * 1024) == 1
    assert cost.api_gateway_units(1_100_000) == 3  # 512 KB increments
    assert cost.lambda_seconds(0.1, 512) == pytest.approx(0.1 * 1769 / 512)
    assert cost.lambda_seconds(0.1, 3008) == pytest.approx(0.1)  # a full core and more
    # 1 M calls of 0.5 s at 1 GB: $0.20 of requests + 500,000 GB-s at $0.0000133334.
    assert cost.lambda_cost(1e6, 0.5, 1024) == pytest.approx(0.2 + 6.6667)
    assert cost.provisioned_shards(2.5e6, 100) == 3  # 1 MB/s per shard
    assert cost.provisioned_shards(0.5e6, 2_500) == 3  # 1,000 records/s per shard
    assert cost.provisioned_shards(0, 0) == 1


def test_monthly_cost_on_a_hand_computed_workload() -> None:
    mib = 1024 * 1024
    work = cost.Workload(
        request_raw_bytes=mib,  # 10 GB/day = 10 * 1024 requests a day, 307,200 a month
        request_wire_bytes=512 * 1024,  # one API Gateway unit each
        ingest_cpu_seconds={"kinesis": 0.05, "sqs": 0.05},
        buffer_bytes=200 * 1024,
        records=1,
        kinesis_put_units=10,
        kinesis_on_demand_kb=200,
        sqs_send_chunks=4,
        sqs_calls=1,
        consumer_cpu_seconds_per_raw_byte=1e-8,
        stored_ratio=5.0,
        ingest_memory_mb=512,
        consumer_memory_mb=512,
        log_bytes_per_request=725,
    )
    out = cost.monthly_cost(work, "kinesis provisioned", 10.0).monthly
    assert out["API Gateway"] == pytest.approx(307_200 * 1.00 / 1e6)
    # 0.05 s of one core at 512 MB -> 0.1727539 s, plus 20 ms of network: billed 0.193 s.
    assert out["Lambda ingest"] == pytest.approx(0.06144 + 307_200 * 0.193 * 0.5 * 1.33334e-5)
    # 0.12 records/s on one shard: each 5 s batching window holds less than one record, so
    # every record is a consumer call (1 MiB: 36.2 ms of CPU at 512 MB + 20 ms, billed 57 ms)
    # and an S3 object.
    assert out["Lambda consumer"] == pytest.approx(0.06144 + 307_200 * 0.057 * 0.5 * 1.33334e-5)
    assert out["S3 PUT"] == pytest.approx(307_200 * 0.005 / 1000)
    assert out["S3 storage (1 month)"] == pytest.approx(300 / 5 * 0.023)
    assert out["Kinesis shard-hours"] == pytest.approx(1 * 730 * 0.015)  # well under 1 MB/s
    assert out["Kinesis PUT units"] == pytest.approx(307_200 * 10 * 0.014 / 1e6)
    breakdown = cost.monthly_cost(work, "kinesis provisioned", 10.0)
    assert breakdown.per_gb == pytest.approx(breakdown.total_monthly / 300)

    on_demand = cost.monthly_cost(work, "kinesis on-demand", 10.0).monthly
    assert on_demand["Kinesis stream-hours"] == pytest.approx(730 * 0.04)
    assert on_demand["Kinesis data in"] == pytest.approx(300 * (200 / 1024) * 0.08)  # KB per MiB
    assert on_demand["Kinesis data out"] == pytest.approx(300 * (200 / 1024) * 0.04)

    sqs = cost.monthly_cost(work, "sqs", 10.0).monthly
    idle_polls = 5 * 3 * 60 * 24 * 30
    # Send and receive 4 chunks of 64 KB per 200 KB message, a delete per batch of one.
    expected = 307_200 * 4 * 2 + 307_200 + idle_polls
    assert sqs["SQS requests"] == pytest.approx(expected * 0.40 / 1e6)

    url = cost.monthly_cost(work, "kinesis provisioned", 10.0, "FunctionUrl").monthly
    assert "API Gateway" not in url
    assert {k: v for k, v in out.items() if k != "API Gateway"} == url

    assert "CloudWatch Logs" not in out
    logged = cost.monthly_cost(work, "kinesis provisioned", 10.0, logs=True).monthly
    # 725 bytes written per request, at $0.50 per GB; the template's SystemLogLevel WARN
    # leaves out Lambda's own records.
    assert logged["CloudWatch Logs"] == pytest.approx(307_200 * 725 / 1024**3 * 0.50)
    assert {k: v for k, v in logged.items() if k != "CloudWatch Logs"} == out
    # At INFO, Lambda's start and report records per invocation of each function too (one
    # consumer invocation per record here): 375 bytes, newlines included.
    info = replace(work, system_log_level="INFO")
    verbose = cost.monthly_cost(info, "kinesis provisioned", 10.0, logs=True).monthly
    log_bytes = 307_200 * (725 + 375) + 307_200 * 375
    assert verbose["CloudWatch Logs"] == pytest.approx(log_bytes / 1024**3 * 0.50)


def test_the_model_prices_the_memory_the_template_deploys() -> None:
    from events_api_cli.local.template import function_limits

    work = cost.Workload(1, 1, {}, 1, 1, 1, 1, 1, 1, 0.0, 1.0)
    assert work.ingest_memory_mb == function_limits(cost.TEMPLATE, "IngestFunction").memory_mb
    assert work.consumer_memory_mb == (function_limits(cost.TEMPLATE, "ConsumerFunction").memory_mb)


def test_the_log_model_prices_the_forwarder_the_template_creates_only_for_sqs() -> None:
    """Item 12 builds its workload with these defaults: the forwarder exists only with the
    SQS buffer and a subscription, not in the default stack."""
    from benchmarks import log_cost
    from events_api_cli.local.template import default_stack, function_limits, load_stack

    assert "LogForwarderFunction" not in default_stack(cost.TEMPLATE).functions
    forwarder = load_stack(
        cost.TEMPLATE,
        stack_name="events-api",
        parameters={"BufferType": "SQS", "LogSubscription": "Account"},
    ).functions["LogForwarderFunction"]
    work = log_cost.LogWorkload(1, 1, 1, 0.0, 1, 0.0)
    assert work.forwarder_memory_mb == forwarder.memory_mb
    assert function_limits(cost.TEMPLATE, "LogForwarderFunction") == forwarder


def test_consumer_batches_fill_by_size_payload_or_time() -> None:
    assert cost.records_per_batch(100, 20, 1_000, 5) == 20  # the payload limit
    assert cost.records_per_batch(100, 500, 1_000, 5) == 100  # the batch size
    assert cost.records_per_batch(100, 500, 3, 5) == 15  # what arrives in the window
    assert cost.records_per_batch(100, 500, 0.01, 5) == 1  # at least the one record


def test_http_api_price_drops_past_300_million_requests() -> None:
    assert cost.api_gateway_cost(1e6) == pytest.approx(1.00)
    assert cost.api_gateway_cost(400e6) == pytest.approx(300 + 90)


def test_firehose_rounds_every_record_up_to_5_kb() -> None:
    assert cost.firehose_per_gb() == 0.029
    assert cost.firehose_per_gb(5 * 1024) == pytest.approx(0.029)
    assert cost.firehose_per_gb(1024) == pytest.approx(0.029 * 5)
    assert cost.firehose_per_gb(6 * 1024) == pytest.approx(0.029 * 10 / 6)
    assert cost.datadog_per_gb() == 0.10


def test_every_price_says_where_and_when_it_was_seen() -> None:
    for name, price in cost.PRICES.items():
        assert price.value > 0 or name == "lambda_function_url", name
        assert price.source, name
        assert price.seen.startswith("20"), name
    assert cost.firehose_per_gb() == cost.PRICES["firehose_gb"].value


def test_query_workload_on_a_small_bucket_reads_fewer_bytes_after_compaction(
    tmp_path: Path,
) -> None:
    from benchmarks import query

    measured = query.measure(objects_per_hour=6, events_per_object=40, hours=1)
    assert measured.raw_objects == 6
    assert measured.parquet_objects == 1
    assert measured.rows == measured.rows_after
    assert measured.parquet_bytes_read < measured.raw_bytes
    section = query.markdown(measured)
    page = tmp_path / "performance.md"
    page.write_text("# Performance\n\nbefore\n")
    query.write_section(page, section)
    query.write_section(page, section)  # replaced, not appended twice
    assert page.read_text().count("<!-- query:start -->") == 1
    assert page.read_text().startswith("# Performance\n\nbefore\n")


def test_console_workload_counts_every_event_before_and_after_compaction(
    tmp_path: Path,
) -> None:
    from benchmarks import console

    measured = console.measure(events=600, hours=2, objects_per_hour=3, pool=500)
    assert measured.events == 600
    assert measured.raw.total == measured.compacted.total == 600
    assert measured.raw.events == measured.compacted.events == 100
    assert set(measured.raw.statements) == {"results", "series", "latest", "events"}
    assert measured.parquet_bytes > 0
    page = tmp_path / "performance.md"
    page.write_text("# Performance\n")
    console.write_section(page, console.markdown(measured))
    console.write_section(page, console.markdown(measured))
    text = page.read_text()
    assert text.count("<!-- console:start -->") == 1
    assert "| compacted Parquet (zstd) | **" in text
    assert set(console.results(measured)) >= {"console_explore_raw_s", "console_speedup_compacted"}


@pytest.mark.parametrize("signal", ["logs", "traces", "metrics"])
def test_otlp_bench_compares_paths_that_make_the_same_events(signal: str) -> None:
    from benchmarks import otlp

    body = otlp.WORKLOADS[signal](20)
    ours = [json.loads(e) for e in otlp.ours(signal, body)]
    assert len(ours) == 20
    assert ours == [json.loads(e) for e in otlp.naive(signal, body)]


def test_otlp_bench_section_replaces_itself_in_the_performance_page() -> None:
    from benchmarks import otlp

    figures = {
        "rounds": 3,
        "cold_start_runs": 5,
        **{f"{s}_items": 10 for s in otlp.WORKLOADS},
        **{f"{s}_body_bytes": 100 for s in otlp.WORKLOADS},
        **{f"{s}_per_s_{v}": 1 for s in otlp.WORKLOADS for v in ("ours", "naive")},
        **{f"{s}_speedup{b}": 3.5 for s in otlp.WORKLOADS for b in ("", "_best")},
        "cold_start_ms": {"ingest, with OTLP": 1.0},
        "cold_start_import_ms": {"ingest, with OTLP": 1.0},
        "ingest_cold_start_change": 0.0,
        "ingest_cold_start_paired_difference_ms": 0.0,
        "ingest_modules_loaded": {"with": 100, "without": 100},
        "ingest_loads_protobuf": False,
    }
    text = otlp.markdown(figures, "now", "python -m benchmarks.otlp")
    assert text.startswith(otlp.SECTION_START)
    assert text.rstrip().endswith(otlp.SECTION_END)
    assert "| log records | 1 | 1 | 3.5\u00d7 (3.5\u00d7) | \u2265 3\u00d7: met |" in text
    assert "| data points | 1 | 1 | 3.5\u00d7 (3.5\u00d7) | \u2265 3\u00d7: met |" in text
    assert "loads 100 modules from the full build and 100 from the build without OTLP" in text
    assert "protobuf loaded: no" in text


def hand_log_workload(**changes: object) -> Any:
    from benchmarks import log_cost

    values: dict[str, Any] = {
        "message_bytes": 1024 * 1024,  # 10 GB/day = 10,240 deliveries a day, 307,200 a month
        "events": 1000,
        "record_bytes": 100 * 1024,  # 100 KB gzip'd: 100 KB written, 4 PUT units, 2 chunks
        "consumer_cpu_seconds": 0.1,
        "stored_bytes": 200 * 1024,
        "forwarder_cpu_seconds": 0.001,
        "consumer_memory_mb": 1024,
        "forwarder_memory_mb": 128,
        "parallelization_factor": 1,
    }
    values.update(changes)
    return log_cost.LogWorkload(**values)


def test_log_cost_per_delivery_on_a_hand_computed_workload() -> None:
    from benchmarks import log_cost

    work = hand_log_workload()
    assert work.deliveries(10.0) == pytest.approx(307_200)
    # 193 ms billed (0.1 s of CPU at 1024/1769 of a vCPU, plus 20 ms of network), 1 GB:
    # 307,200 x 0.193 GB-s at $0.0000133334, plus 307,200 requests at $0.20 a million.
    consumer = 307_200 * 0.193 * 0.0000133334 + 307_200 * 0.2e-6
    on_demand = log_cost.log_monthly_cost(work, "kinesis on-demand", 10.0).monthly
    assert on_demand == pytest.approx(
        {
            "Kinesis stream-hours": 730 * 0.04,
            "Kinesis data in": 307_200 * 100 / 1024**2 * 0.08,  # KB -> GB
            "Kinesis data out": 307_200 * 100 / 1024**2 * 0.04,
            # A record every 34 s per shard: each batch is one record.
            "Lambda consumer": consumer,
            "S3 PUT": 307_200 * 0.005 / 1000,
            "S3 storage (1 month)": 307_200 * 200 / 1024**2 * 0.023,
        }
    )
    provisioned = log_cost.log_monthly_cost(work, "kinesis provisioned", 10.0).monthly
    assert provisioned["Kinesis shard-hours"] == pytest.approx(730 * 0.015)  # one shard
    assert provisioned["Kinesis PUT units"] == pytest.approx(307_200 * 4 * 0.014 / 1e6)
    sqs = log_cost.log_monthly_cost(work, "sqs", 10.0).monthly
    # The forwarder: 0.001 s at 128/1769 of a vCPU plus 20 ms: 34 ms billed at 128 MB.
    assert sqs["Lambda log forwarder"] == pytest.approx(
        307_200 * 0.034 * 0.125 * 0.0000133334 + 307_200 * 0.2e-6
    )
    # Sends of 2 chunks; a batch of one: a receive of 2 chunks and a delete; idle polls.
    requests = 307_200 * 2 + 307_200 * 3 + 5 * 3 * 60 * 24 * 30
    assert sqs["SQS requests"] == pytest.approx(requests * 0.40 / 1e6)
    firehose = log_cost.firehose_monthly_cost(work, 10.0).monthly
    assert firehose == pytest.approx(
        {
            "Firehose ingestion": 307_200 * 100 / 1024**2 * 0.029,  # 100 KB: 20 x 5 KB
            "S3 storage (1 month)": 307_200 * 100 / 1024**2 * 0.023,
        }
    )
    datadog = log_cost.datadog_monthly_cost(work, 10.0).monthly
    assert datadog == pytest.approx(
        {
            "Datadog ingestion": 10 * 30 * 0.10,
            "Datadog indexing": 307_200 * 1000 / 1e6 * 1.70,
            "Lambda (Datadog forwarder)": consumer,
        }
    )


def test_log_batches_hold_what_six_megabytes_of_base64_hold() -> None:
    work = hand_log_workload(record_bytes=1024 * 1024)
    assert int(work.records_per_payload) == 4  # 1 MiB records: 1.33 MiB each in the event
    # 12 such records a second on 4 shards: a batch is as full as the payload lets it be.
    from benchmarks import log_cost

    busy = hand_log_workload(record_bytes=1024 * 1024)
    month = log_cost.log_monthly_cost(busy, "kinesis on-demand", 1024.0)
    deliveries = busy.deliveries(1024.0)
    assert month.monthly["S3 PUT"] == pytest.approx(
        deliveries / busy.records_per_payload * 0.005 / 1000
    )


def test_the_cloudwatch_logs_section_replaces_itself_in_the_performance_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from benchmarks import cloudwatch_logs

    page, results = tmp_path / "performance.md", tmp_path / "results.json"
    page.write_text("# Performance\n\nbefore\n")
    results.write_text(json.dumps({"kept": 1, "cloudwatch_logs_stale": 2}))
    monkeypatch.setattr(cloudwatch_logs, "PERFORMANCE", page)
    monkeypatch.setattr(cloudwatch_logs, "RESULTS", results)
    section = f"{cloudwatch_logs.SECTION_START}\none\n{cloudwatch_logs.SECTION_END}\n"
    cloudwatch_logs.write({"cloudwatch_logs_new": 3}, section)
    cloudwatch_logs.write({"cloudwatch_logs_new": 4}, section.replace("one", "two"))
    assert page.read_text() == (
        f"# Performance\n\nbefore\n\n{cloudwatch_logs.SECTION_START}\ntwo\n"
        f"{cloudwatch_logs.SECTION_END}\n"
    )
    assert json.loads(results.read_text()) == {"kept": 1, "cloudwatch_logs_new": 4}


def test_the_largest_records_fill_what_cloudwatch_logs_may_put() -> None:
    import gzip

    from benchmarks import log_shapes

    for workload in log_shapes.LARGE_RECORDS:
        data = log_shapes.largest_record(workload, 200_000)
        assert 0.995 * 200_000 <= len(data) <= 200_000
        envelope = json.loads(gzip.decompress(data))
        assert envelope["messageType"] == "DATA_MESSAGE"
        assert len(envelope["logEvents"]) > 1000
    # The async payload holds the record base64'd in {"awslogs": {"data": ...}}.
    wrapped = '{"awslogs":{"data":"' + "A" * (log_shapes.ASYNC_RECORD_BYTES // 3 * 4) + '"}}'
    assert len(wrapped) <= 1024 * 1024
