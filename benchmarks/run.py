"""`make bench`: run every measurement, then write benchmarks/results.json, the charts and
docs/performance.md. ``--quick`` runs fewer rounds (a smoke run, not for quoting)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results.json"
DOCS = ROOT / "docs"


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds, shorter e2e")
    parser.add_argument("--skip-e2e", action="store_true", help="leave out item 7")
    parser.add_argument(
        "--only",
        choices=("query", "worst", "console", "cloudwatch-logs"),
        help=(
            "run one workload (query: item 10; worst: item 9; console: item 11; "
            "cloudwatch-logs: item 12) and update its part of results.json and "
            "docs/performance.md"
        ),
    )
    args = parser.parse_args(argv)
    if args.only == "query":
        return run_query(quick=args.quick)
    if args.only == "worst":
        return only_worst()
    if args.only == "console":
        return run_console(quick=args.quick)
    if args.only == "cloudwatch-logs":
        return run_cloudwatch_logs(quick=args.quick)
    rounds = 3 if args.quick else 13
    started = time.monotonic()

    from events_api.ingest.keys import KeyRecord, generate_key

    from . import charts, consumer, cost, data, e2e, ingest, memory, report, size_report, sizes
    from .coldstart import measure as cold_measure

    log("generating batches")
    batches = data.make_batches()
    key = generate_key()
    key_document = KeyRecord("bench", "bench", "2026-11-26T00:00:00Z").to_json()
    harness = ingest.Harness(key, key_document)

    log("1. ingest CPU per batch (ours, SQS, naive baseline, read-once floor)")
    ingest_results = []
    billing = []
    for case in ingest.cases(batches):
        ingest_results.append(ingest.measure_cpu(harness, case, rounds))
        log(f"   {case.name}: {ingest_results[-1].seconds}")
        billing.extend(ingest.measure_billing(harness, case))

    log("8. request sizes producers send, through both front doors")
    size_results = []
    size_billing: dict[str, dict[str, Any]] = {}
    for case in sizes.size_cases():
        size_results.append(sizes.measure(harness, case, rounds))
        size_billing[case.name] = {b.buffer: b for b in ingest.measure_billing(harness, case)}
        log(f"   {case.name}: {size_results[-1].seconds}")
    harness.stub.uninstall()

    log("3. consumer events/s")
    consumer_result = consumer.measure([batches[2]], rounds * 2)  # ~0.3 s a round
    stored_ratio = consumer.stored_ratio([batches[2]])

    log("4. cold start (fresh processes)")
    cold_events = report.cold_start_events(batches[0], key)
    cold = cold_measure(cold_events, key, key_document, runs=5 if args.quick else 21)

    log("4b. OTLP decode + flatten throughput, and the ingest cold start with and without OTLP")
    from . import otlp

    otlp_results, otlp_section = otlp.run(args.quick)

    log("5. peak RSS")
    rss = {
        "ours": memory.measure("ours", "plain"),
        "ours gzip": memory.measure("ours", "gzip"),
        "baseline": memory.measure("baseline", "plain"),
    }

    log("6. cost model")
    gzip_case = next(r for r in ingest_results if r.case.endswith("gzip"))
    gzip_bill = {b.buffer: b for b in billing if b.case == gzip_case.case}
    workload = cost.Workload(
        request_raw_bytes=gzip_case.raw_bytes,
        request_wire_bytes=len(data.gzip_body(batches[-1].body)),
        ingest_cpu_seconds={
            "kinesis": gzip_case.seconds["kinesis"],
            "sqs": gzip_case.seconds["sqs"],
        },
        buffer_bytes=gzip_bill["kinesis"].record_bytes,
        records=gzip_bill["kinesis"].records,
        kinesis_put_units=gzip_bill["kinesis"].billed_units,
        kinesis_on_demand_kb=gzip_bill["kinesis"].on_demand_kb,
        sqs_send_chunks=gzip_bill["sqs"].billed_units,
        sqs_calls=gzip_bill["sqs"].calls,
        consumer_cpu_seconds_per_raw_byte=consumer_result.seconds["ours"]
        / consumer_result.raw_bytes,
        stored_ratio=stored_ratio,
    )
    costs = cost.table(workload)
    size_workloads = sizes.workloads(size_results, size_billing, consumer_result, stored_ratio)
    size_costs = sizes.costs(size_workloads)

    e2e_results: list[Any] = []
    e2e_note = ""
    if args.skip_e2e:
        e2e_note = "skipped (--skip-e2e)"
    else:
        ok, why = e2e.available()
        if not ok:
            e2e_note = f"skipped: {why}"
        else:
            for buffer in ("kinesis", "sqs"):
                log(f"7. end to end on events-api dev ({buffer})")
                try:
                    e2e_results.append(e2e.run(buffer, produce_seconds=6 if args.quick else 12))
                except Exception as exc:  # report, do not fail the whole run
                    e2e_note = f"{buffer} run failed: {exc}"
                    log(e2e_note)

    log("8. worst batches against the functions' memory and timeout")
    from . import worst

    worst_results = worst.measure()

    log("writing results, charts and docs/performance.md")
    DOCS.mkdir(exist_ok=True)
    charts.cost_chart(
        DOCS / "perf-cost-per-gb.png",
        {v: {m: b.per_gb for m, b in row.items()} for v, row in costs.items()},
        cost.firehose_per_gb(),
    )
    charts.ingest_chart(
        DOCS / "perf-ingest-mb-per-s.png",
        {
            r.case: {
                "events-api (Kinesis)": r.mb_per_s("kinesis"),
                "naive baseline": r.mb_per_s("baseline"),
                "read-once floor": r.mb_per_s("floor"),
            }
            for r in ingest_results
        },
    )
    charts.size_cost_chart(
        DOCS / "perf-cost-per-gb-by-request-size.png",
        size_report.size_chart_series(size_results, size_costs[size_report.SIZE_VOLUME]),
    )
    context = report.Context(
        when=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        quick=args.quick,
        rounds=rounds,
        batches=batches,
        ingest=ingest_results,
        billing=billing,
        consumer=consumer_result,
        stored_ratio=stored_ratio,
        cold=cold,
        rss=rss,
        workload=workload,
        costs=costs,
        e2e=e2e_results,
        e2e_note=e2e_note,
        sizes=size_results,
        size_billing=size_billing,
        size_workloads=size_workloads,
        size_costs=size_costs,
        seconds=time.monotonic() - started,
        worst=worst_results,
    )
    results = report.results(context)
    results["otlp"] = otlp_results
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    (DOCS / "performance.md").write_text(report.markdown(context, results) + "\n" + otlp_section)
    run_query(quick=args.quick)
    run_console(quick=args.quick)
    run_cloudwatch_logs(quick=args.quick)
    log(f"done in {time.monotonic() - started:.0f} s")
    for name in report.HEADLINE:
        log(f"   {name} = {results[name]}")
    return 0


def run_query(*, quick: bool = False) -> int:
    """The query workload (benchmarks/query.py): merged into results.json, and its own
    section of docs/performance.md."""
    from . import query

    log("10. queries: compacted Parquet against raw NDJSON")
    measured = query.measure(objects_per_hour=40 if quick else 120)
    figures = query.results(measured)
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    RESULTS.write_text(json.dumps({**previous, **figures}, indent=2, sort_keys=True) + "\n")
    DOCS.mkdir(exist_ok=True)
    query.write_section(DOCS / "performance.md", query.markdown(measured))
    for name in ("query_bytes_ratio", "query_cost_hour_parquet_1tb_day"):
        log(f"   {name} = {figures[name]}")
    return 0


def run_console(*, quick: bool = False) -> int:
    """The console workload (benchmarks/console.py): merged into results.json, and its own
    section of docs/performance.md."""
    from . import console

    log("11. the console's explore view over a million local events, raw and compacted")
    measured = console.measure(events=100_000 if quick else 1_000_000)
    figures = console.results(measured)
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    RESULTS.write_text(json.dumps({**previous, **figures}, indent=2, sort_keys=True) + "\n")
    DOCS.mkdir(exist_ok=True)
    console.write_section(DOCS / "performance.md", console.markdown(measured))
    for name in ("console_explore_raw_s", "console_explore_compacted_s"):
        log(f"   {name} = {figures[name]}")
    return 0


def run_cloudwatch_logs(*, quick: bool = False) -> int:
    """CloudWatch Logs (benchmarks/cloudwatch_logs.py): merged into results.json, and its own
    section of docs/performance.md."""
    from . import cloudwatch_logs

    figures = cloudwatch_logs.run(quick=quick, log=log)
    for name in (
        "typical_events_per_s",
        "one_mib_events_per_s",
        "worst_time_fraction",
        "shard_capacity_mib_per_s",
        "cost_per_gb_1_tb_day_kinesis_on_demand",
        "cost_per_gb_1_tb_day_datadog",
    ):
        log(f"   {name} = {figures[cloudwatch_logs.PREFIX + name]}")
    return 0


def only_worst() -> int:
    """Item 9 alone: its keys merged into results.json, its section and summary rows
    replaced in docs/performance.md (the other items keep the figures of their last run)."""
    from . import report, worst

    log("9. worst batches against the functions' memory and timeout")
    measured = worst.measure()
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    stale = ("consumer_worst_", "ingest_worst_", "bounded_records_")
    results = {k: v for k, v in results.items() if not k.startswith(stale)}
    figures = {**report.worst_results(measured), **worst.billing_6mib()}
    results.update({k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()})
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    page = (DOCS / "performance.md").read_text()
    lines = [line for line in page.splitlines() if not line.startswith("| 9 |")]
    summary_end = next(n for n, line in enumerate(lines) if line.startswith("Reproduce:")) - 1
    lines[summary_end:summary_end] = report.worst_summary(figures)
    text = "\n".join(lines) + "\n"
    section = "\n".join(report.worst_markdown(measured, when, figures))
    start = text.find(report.WORST_HEADING)
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + "\n" + text[end + 1 :]
    else:
        anchor = text.index("## Optimisations")
        text = text[:anchor] + section + "\n" + text[anchor:]
    (DOCS / "performance.md").write_text(text)
    for name in ("consumer_worst_peak_rss_fraction", "consumer_worst_time_fraction"):
        log(f"   {name} = {figures[name]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
