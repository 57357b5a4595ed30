"""benchmarks/results.json (flat) and docs/performance.md from one run's measurements."""

# ruff: noqa: RUF001  (the page uses the multiplication sign and en dash on purpose)

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import cost, lambdas, prose, sizes
from .data import Batch, gzip_body
from .size_report import SIZE_VOLUME, size_misses, size_results, size_section

HEADLINE = (
    "ingest_speedup_6mib",
    "ingest_floor_ratio_6mib",
    "ingest_mb_per_s_6mib",
    "kinesis_units_ratio",
    "sqs_chunks_ratio",
    "compression_ratio",
    "consumer_events_per_s",
    "consumer_speedup",
    "cold_start_ratio",
    "peak_rss_ratio_6mib",
    "cost_per_gb_1tb_day_best",
    "firehose_cost_per_gb_1tb_day",
    "consumer_worst_peak_rss_fraction",
    "consumer_worst_time_fraction",
    "cost_per_gb_25kb_best",
    "cost_per_gb_25kb_http_api_best",
    "small_request_overhead_ratio",
)

COMMAND = "make bench   # = .venv/bin/python -m benchmarks.run"


@dataclass
class Context:
    when: str
    quick: bool
    rounds: int
    batches: list[Batch]
    ingest: list[Any]
    billing: list[Any]
    consumer: Any
    stored_ratio: float
    cold: Any
    rss: dict[str, dict[str, float]]
    workload: cost.Workload
    costs: dict[str, dict[str, cost.Breakdown]]
    e2e: list[Any]
    e2e_note: str
    seconds: float
    worst: list[Any]
    sizes: list[sizes.SizeResult]
    size_billing: dict[str, dict[str, Any]]
    size_workloads: dict[str, dict[str, cost.Workload]]
    #: volume -> size -> front door -> buffer mode -> the month
    size_costs: dict[str, dict[str, dict[str, dict[str, cost.Breakdown]]]]


def cold_start_events(batch: Batch, key: str) -> dict[str, Any]:
    """A first request for each handler: the 100 KB batch gzip'd (as producers send it),
    and the records it makes."""
    from events_api import records

    from .consumer import kinesis_event

    meta = records.RequestMeta("bench", "req-cold", "2026-11-26T12:00:00.000Z")
    blobs = records.encode(meta, batch.events, 1_000_000)
    body = gzip_body(batch.body)
    return {
        "ingest": lambdas.http_event(body, key, gzipped=True),
        "consumer": kinesis_event(blobs),
    }


def _slug(name: str) -> str:
    return name.lower().replace(" ", "_").replace("6_mib", "6mib").replace("_kb", "kb")


def results(c: Context) -> dict[str, Any]:
    by_case = {r.case: r for r in c.ingest}
    six = by_case["6 MiB"]
    out: dict[str, Any] = {
        "ingest_speedup_6mib": round(six.speedup, 2),
        "ingest_floor_ratio_6mib": round(six.floor_ratio, 3),
        "ingest_mb_per_s_6mib": round(six.mb_per_s(), 1),
        "kinesis_units_ratio": round(max(b.ratio for b in c.billing if b.buffer == "kinesis"), 3),
        "sqs_chunks_ratio": round(max(b.ratio for b in c.billing if b.buffer == "sqs"), 3),
        "compression_ratio": round(
            min(b.compression for b in c.billing if b.buffer == "kinesis"), 2
        ),
        "consumer_events_per_s": round(c.consumer.events_per_s()),
        "consumer_speedup": round(c.consumer.speedup, 2),
        "consumer_speedup_best_rounds": round(c.consumer.best_speedup, 2),
        "ingest_speedup_6mib_best_rounds": round(six.best_speedup, 2),
        "ingest_floor_ratio_6mib_best_rounds": round(six.best_floor_ratio, 3),
        "consumer_floor_events_per_s": round(c.consumer.events_per_s("floor")),
        "consumer_baseline_events_per_s": round(c.consumer.events_per_s("baseline")),
        "cold_start_ratio": round(c.cold.ratio("ingest"), 3),
        "cold_start_consumer_ratio": round(c.cold.ratio("consumer"), 3),
        "cold_start_ratio_source_only": round(c.cold.ratio("ingest source"), 3),
        "cold_start_ingest_ms": round(c.cold.total("ingest") * 1000, 1),
        "cold_start_boto3_ms": round(c.cold.total("boto3") * 1000, 1),
        "peak_rss_ratio_6mib": round(c.rss["ours"]["ratio"], 3),
        "peak_rss_ratio_6mib_gzip": round(c.rss["ours gzip"]["ratio"], 3),
        "peak_rss_ratio_6mib_baseline": round(c.rss["baseline"]["ratio"], 3),
        "stored_gzip_ratio": round(c.stored_ratio, 2),
        "firehose_cost_per_gb_1tb_day": cost.firehose_per_gb(),
        "quick_run": c.quick,
        "rounds": c.rounds,
        "measured_at": c.when,
    }
    for r in c.ingest:
        slug = _slug(r.case)
        out[f"ingest_ms_{slug}"] = round(r.seconds["kinesis"] * 1000, 2)
        out[f"ingest_sqs_ms_{slug}"] = round(r.seconds["sqs"] * 1000, 2)
        out[f"ingest_baseline_ms_{slug}"] = round(r.seconds["baseline"] * 1000, 2)
        out[f"ingest_floor_ms_{slug}"] = round(r.seconds["floor"] * 1000, 2)
        out[f"ingest_mb_per_s_{slug}"] = round(r.mb_per_s(), 1)
        out[f"ingest_speedup_{slug}"] = round(r.speedup, 2)
        out[f"ingest_floor_ratio_{slug}"] = round(r.floor_ratio, 3)
    for b in c.billing:
        slug = _slug(b.case)
        out[f"{b.buffer}_units_ratio_{slug}"] = round(b.ratio, 3)
        out[f"compression_ratio_{slug}"] = round(b.compression, 2)
    best = None
    for volume, row in c.costs.items():
        for mode, breakdown in row.items():
            out[f"cost_per_gb_{_slug(volume.replace('/', '_'))}_{mode.replace(' ', '_')}"] = round(
                breakdown.per_gb, 5
            )
            if volume == "1 TB/day" and (best is None or breakdown.per_gb < best.per_gb):
                best = breakdown
    assert best is not None
    out["cost_per_gb_1tb_day_best"] = round(best.per_gb, 5)
    out["cost_best_mode_1tb_day"] = best.mode
    out.update(size_results(c))
    for r in c.e2e:
        out[f"e2e_{r.buffer}_requests_per_s"] = round(r.requests_per_s, 1)
        out[f"e2e_{r.buffer}_p50_s"] = round(r.p50, 3)
        out[f"e2e_{r.buffer}_p99_s"] = round(r.p99, 3)
        out[f"e2e_{r.buffer}_dev_cpu_cores"] = round(r.dev_cpu_share, 2)
    if c.e2e_note:
        out["e2e_note"] = c.e2e_note
    out.update(worst_results(c.worst))
    return out


def worst_results(worst: list[Any]) -> dict[str, Any]:
    """Item 9's keys: the worst consumer batch's fractions, and each workload's figures."""
    consumers = [w for w in worst if w.function == "consumer"]
    out: dict[str, Any] = {
        "consumer_worst_peak_rss_fraction": round(max(w.rss_fraction for w in consumers), 3),
        "consumer_worst_time_fraction": round(max(w.time_fraction for w in consumers), 3),
        "consumer_worst_all_stored": all(w.status == "stored" for w in consumers),
        # The configuration measured: tests/unit/test_template.py holds the template to it.
        "consumer_worst_memory_mb": consumers[0].memory_mb,
        "consumer_worst_timeout_s": consumers[0].timeout_s,
    }
    for buffer in ("kinesis", "sqs"):
        out[f"consumer_worst_batch_records_{buffer}"] = max(
            (w.records for w in consumers if w.buffer == buffer), default=0
        )
    for w in worst:
        slug = f"{w.function}_worst_{w.workload.replace('-', '_')}"
        if w.function == "consumer":
            slug = f"consumer_worst_{w.buffer}_{w.workload.replace('-', '_')}"
        out[f"{slug}_peak_rss_mb"] = round(w.peak_rss / 2**20, 1)
        out[f"{slug}_peak_rss_fraction"] = round(w.rss_fraction, 3)
        out[f"{slug}_cpu_s"] = round(w.cpu_s, 2)
        out[f"{slug}_time_fraction"] = round(w.time_fraction, 3)
    return out


#: The page's prose, with the figures as fields (benchmarks/prose.py describes the format).
PROSE = prose.load(Path(__file__).with_name("templates") / "performance.md")
#: Item 9's heading: `--only worst` replaces the section from here.
WORST_HEADING = PROSE["worst"].split("\n", 1)[0]


def worst_summary(r: dict[str, Any]) -> list[str]:
    rss, time_ = r["consumer_worst_peak_rss_fraction"], r["consumer_worst_time_fraction"]
    stored = r["consumer_worst_all_stored"]
    return [
        PROSE["summary_worst_rss"].format(rss=rss, met=_met(rss <= 0.5 and stored)),
        PROSE["summary_worst_time"].format(time=time_, met=_met(time_ <= 0.5 and stored)),
    ]


def worst_markdown(worst: list[Any], when: str, r: dict[str, Any]) -> list[str]:
    from events_api.records import MAX_RECORD_EVENTS, MAX_RECORD_RAW_BYTES

    from .worst import WORKLOADS

    lines = [
        PROSE["worst"].format(max_events=MAX_RECORD_EVENTS, max_mib=MAX_RECORD_RAW_BYTES / 2**20)
    ]
    add = lines.append
    for w in worst:
        add(
            PROSE["worst_row"].format(
                w=w,
                buffer=f", {w.buffer}" if w.function == "consumer" else "",
                workload=WORKLOADS[w.workload][0],
                records=w.records or "-",
                objects=(
                    PROSE["worst_objects"].format(w=w, largest_mb=w.largest_object / 1e6)
                    if w.objects
                    else "-"
                ),
                rss_mib=w.peak_rss / 2**20,
            )
        )
    add("")
    if "bounded_records_kinesis_units_ratio_6mib" in r:
        billing = PROSE["worst_billing"].format(r=r)
    else:
        billing = PROSE["worst_billing_elsewhere"]
    add(PROSE["worst_after"].format(billing=billing, when=when))
    add("")
    return lines


def _met(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def _mb(n: float) -> str:
    return f"{n / 1e6:.2f} MB"


def markdown(c: Context, r: dict[str, Any]) -> str:
    by_case = {x.case: x for x in c.ingest}
    six = by_case["6 MiB"]
    lines: list[str] = []
    add = lines.append
    add(PROSE["intro"])
    add("")
    add(
        PROSE["last_run"].format(
            when=c.when,
            machine=platform.machine(),
            python=platform.python_version(),
            rounds=c.rounds,
            seconds=c.seconds,
            quick=PROSE["quick"] if c.quick else "",
        )
    )
    add("")
    add(PROSE["summary_head"])
    for name, ok in (
        ("summary_ingest_speedup", r["ingest_speedup_6mib"] >= 5),
        ("summary_ingest_floor", r["ingest_floor_ratio_6mib"] <= 2),
        ("summary_kinesis_units", r["kinesis_units_ratio"] <= 1.1),
        ("summary_sqs_chunks", r["sqs_chunks_ratio"] <= 1.1),
        ("summary_compression", r["compression_ratio"] >= 4),
        ("summary_consumer_rate", True),
        ("summary_consumer_speedup", r["consumer_speedup"] >= 3),
        ("summary_cold_start", r["cold_start_ratio"] <= 1.3),
        ("summary_peak_rss", r["peak_rss_ratio_6mib"] <= 4),
        ("summary_cost_1tb", r["cost_per_gb_1tb_day_best"] <= 0.01),
        ("summary_cost_25kb_url", r["cost_per_gb_25kb_best"] <= 0.02),
        ("summary_cost_25kb_api", r["cost_per_gb_25kb_http_api_best"] <= 0.06),
        ("summary_small_request", r["small_request_overhead_ratio"] <= 2),
    ):
        add(PROSE[name].format(r=r, met=_met(ok), volume=SIZE_VOLUME))
    if c.e2e:
        parts = [PROSE["summary_e2e_part"].format(x=x) for x in c.e2e]
        add(PROSE["summary_e2e"].format(parts="; ".join(parts)))
    else:
        add(PROSE["summary_e2e_not_run"].format(note=c.e2e_note))
    lines.extend(worst_summary(r))
    add("")
    add(PROSE["reproduce"].format(command=COMMAND))
    add("")

    # 1 ------------------------------------------------------------------------------------
    add(PROSE["ingest"])
    for x in c.ingest:
        s = x.seconds
        add(
            PROSE["ingest_row"].format(
                x=x,
                mb=_mb(x.raw_bytes),
                kinesis_ms=s["kinesis"] * 1000,
                sqs_ms=s["sqs"] * 1000,
                baseline_ms=s["baseline"] * 1000,
                floor_ms=s["floor"] * 1000,
                mb_per_s=x.mb_per_s(),
            )
        )
    add("")
    add(PROSE["ingest_after"].format(six=six))
    add("")

    # 2 ------------------------------------------------------------------------------------
    add(PROSE["billing"])
    for b in c.billing:
        add(PROSE["billing_row"].format(b=b))
    add("")
    add(PROSE["billing_after"])
    add("")

    # 3 ------------------------------------------------------------------------------------
    cr = c.consumer
    add(PROSE["consumer"].format(cr=cr, mb=_mb(cr.raw_bytes)))
    for name, label in (
        ("ours", "events-api"),
        ("baseline", "naive consumer"),
        ("floor", "bulk-work floor"),
    ):
        add(
            PROSE["consumer_row"].format(
                label=label, ms=cr.seconds[name] * 1000, events_per_s=cr.events_per_s(name)
            )
        )
    add("")
    add(PROSE["consumer_after"].format(cr=cr, stored_ratio=c.stored_ratio))
    add("")

    # 4 ------------------------------------------------------------------------------------
    cold = c.cold
    add(PROSE["cold_start"].format(cold=cold))
    for kind in ("boto3", "ingest", "consumer", "ingest source"):
        m = cold.medians[kind]
        add(
            PROSE["cold_start_row"].format(
                label=PROSE[f"cold_start_kind_{kind.replace(' ', '_')}"],
                import_ms=m["import"] * 1000,
                first_ms=m["first"] * 1000,
                total_ms=m["total"] * 1000,
                ratio=m["total"] / cold.total("boto3"),
            )
        )
    add("")

    # 5 ------------------------------------------------------------------------------------
    add(PROSE["memory"])
    for name, row in c.rss.items():
        add(
            PROSE["memory_row"].format(
                label=PROSE[f"memory_{name.replace(' ', '_')}"],
                baseline_mib=row["baseline_rss"] / 2**20,
                above_mib=row["above"] / 2**20,
                ratio=row["ratio"],
            )
        )
    add("")

    # 6 ------------------------------------------------------------------------------------
    w = c.workload
    add(
        PROSE["cost"].format(
            w=w,
            vcpu=w.ingest_memory_mb / cost.LAMBDA_FULL_CPU_MB,
            network_ms=w.network_seconds_per_call * 1000,
            raw_mb=_mb(w.request_raw_bytes),
            wire_mb=_mb(w.request_wire_bytes),
            api_units=cost.api_gateway_units(w.request_wire_bytes),
            kinesis_ms=w.ingest_cpu_seconds["kinesis"] * 1000,
            sqs_ms=w.ingest_cpu_seconds["sqs"] * 1000,
            consumer_ms_per_mib=w.consumer_cpu_seconds_per_raw_byte * 2**20 * 1000,
        )
    )
    for volume, row in c.costs.items():
        cells = " | ".join(PROSE["cost_cell"].format(per_gb=row[m].per_gb) for m in cost.MODES)
        add(PROSE["cost_row"].format(volume=volume, cells=cells, firehose=cost.firehose_per_gb()))
    add("")
    add(PROSE["cost_breakdown"])
    add("")
    tb = c.costs["1 TB/day"]
    items = sorted({k for b in tb.values() for k in b.monthly})
    add("| line item | " + " | ".join(cost.MODES) + " |")
    add("|---|" + "---|" * len(cost.MODES))
    for item in items:
        cells = " | ".join(
            f"{tb[m].monthly[item]:,.2f}" if item in tb[m].monthly else "–" for m in cost.MODES
        )
        add(f"| {item} | {cells} |")
    add("| **total** | " + " | ".join(f"**{tb[m].total_monthly:,.2f}**" for m in cost.MODES) + " |")
    add("")
    add(PROSE["cost_after"])
    for name, p in cost.PRICES.items():
        add(
            PROSE["price_row"].format(
                name=name, p=p, verified="yes" if p.verified else "unverified"
            )
        )
    add("")
    add(PROSE["prices_after"])
    add("")

    # 7 ------------------------------------------------------------------------------------
    add(PROSE["e2e"])
    add("")
    if not c.e2e:
        add(PROSE["e2e_not_run"].format(note=c.e2e_note))
    else:
        add(PROSE["e2e_method"].format(events_per_request=c.e2e[0].events_per_request))
        small = c.ingest[0]
        ingest_per_event = small.seconds["kinesis"] / small.events
        consumer_per_event = c.consumer.seconds["ours"] / c.consumer.events
        for x in c.e2e:
            events_per_s = x.requests_per_s * x.events_per_request
            handlers = events_per_s * (ingest_per_event + consumer_per_event)
            add(PROSE["e2e_row"].format(x=x, events_per_s=events_per_s, handlers=handlers))
        add("")
        dev_share = max(x.dev_cpu_share for x in c.e2e)
        load_share = max(x.load_cpu_share for x in c.e2e)
        handler_share = max(
            x.requests_per_s * x.events_per_request * (ingest_per_event + consumer_per_event)
            for x in c.e2e
        )
        load = max(x.load_average for x in c.e2e)
        bound = (
            PROSE["e2e_cpu_bound"]
            if dev_share >= 0.85
            else PROSE["e2e_queued"].format(dev_share=dev_share, load=load, cores=os.cpu_count())
        )
        add(
            PROSE["e2e_limits"].format(
                bound=bound,
                ingest_us=ingest_per_event * 1e6,
                consumer_us=consumer_per_event * 1e6,
                handler_share=handler_share,
                load_share=load_share,
            )
        )
        if c.e2e_note:
            add("")
            add(PROSE["e2e_note"].format(note=c.e2e_note))
    add("")
    lines.extend(size_section(c, r))
    lines.extend(worst_markdown(c.worst, c.when, r))
    add(PROSE["optimisations"])
    add("")
    misses = _misses(c, r)
    if not misses:
        add(PROSE["all_met"])
    for text in misses:
        add(f"- {text}")
    add("")
    return "\n".join(lines) + "\n"


def _misses(c: Context, r: dict[str, Any]) -> list[str]:
    """One paragraph per target this run did not meet: by how much, and what limits it."""
    out = []
    cr = c.consumer
    if r["ingest_speedup_6mib"] < 5:
        out.append(PROSE["miss_ingest_speedup"].format(r=r))
    if r["ingest_floor_ratio_6mib"] > 2:
        out.append(PROSE["miss_ingest_floor"].format(r=r))
    for key, name in (("kinesis_units_ratio", "Kinesis units"), ("sqs_chunks_ratio", "SQS")):
        if r[key] > 1.1:
            out.append(PROSE["miss_billing"].format(name=name, ratio=r[key]))
    if r["compression_ratio"] < 4:
        out.append(PROSE["miss_compression"].format(r=r))
    if r["consumer_speedup"] < 3:
        bound = cr.seconds["baseline"] / cr.seconds["floor"]
        out.append(PROSE["miss_consumer_speedup"].format(r=r, bound=bound))
    if r["cold_start_ratio"] > 1.3:
        out.append(PROSE["miss_cold_start"].format(r=r))
    out.extend(size_misses(c, r))
    if r["peak_rss_ratio_6mib"] > 4:
        out.append(PROSE["miss_peak_rss"].format(r=r))
    if r["consumer_worst_peak_rss_fraction"] > 0.5 or r["consumer_worst_time_fraction"] > 0.5:
        out.append(PROSE["miss_worst"].format(r=r))
    if r["cost_per_gb_1tb_day_best"] > 0.01:
        out.append(PROSE["miss_cost"].format(r=r))
    return out
