"""Item 8 of docs/performance.md and its results: request sizes and front doors (the prose in
benchmarks/templates/size_report.md)."""

# ruff: noqa: RUF001  (the breakdown table marks an absent line item with an en dash)

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from . import cost, prose, sizes

#: The daily volume the request-size figures and targets are quoted at.
SIZE_VOLUME = "1 TB/day"
DOOR_LABELS = {"HttpApi": "HTTP API", "FunctionUrl": "function URL"}
#: The section's prose, with the figures as fields (benchmarks/prose.py describes the format).
PROSE = prose.load(Path(__file__).with_name("templates") / "size_report.md")
#: What-if variants of the cost model at the small size: label -> Workload fields changed.
LEVERS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("as deployed, best buffer", {}),
    ("ingest 256 MB, best buffer", {"ingest_memory_mb": 256}),
    ("ingest 128 MB, best buffer", {"ingest_memory_mb": 128}),
    ("SQS as deployed (batches of up to 10, no window)", {}),
    (
        "SQS with a 5 s batching window, batches of up to 100",
        {"sqs_batch_size": 100, "sqs_fill_seconds": 5.0},
    ),
)


def slug_of(name: str) -> str:
    return name.lower().replace(" ", "_").replace("6_mib", "6mib").replace("_kb", "kb")


def size_chart_series(
    results: list[sizes.SizeResult], costs: dict[str, dict[str, dict[str, cost.Breakdown]]]
) -> dict[str, Any]:
    """The request-size chart's lines at SIZE_VOLUME: each front door with its cheapest
    buffer, Firehose with a record per event and per request, Datadog's ingestion."""
    series: dict[str, list[float]] = {}
    for door, label in DOOR_LABELS.items():
        series[f"events-api, {label} (best buffer)"] = [
            cost.best(costs[r.case][door]).per_gb for r in results
        ]
    series["Firehose, a record per event"] = [
        cost.firehose_per_gb(r.raw_bytes / r.events) for r in results
    ]
    series["Firehose, a record per request"] = [
        cost.firehose_per_gb(min(r.raw_bytes, 1000 * 1024)) for r in results
    ]
    series["Datadog log ingestion (list)"] = [cost.datadog_per_gb() for _ in results]
    dashed = {"linestyle": "--", "color": "black"}
    return {
        "names": [r.case for r in results],
        "bytes": [r.raw_bytes for r in results],
        "series": series,
        "styles": {
            "Firehose, a record per event": dashed,
            "Firehose, a record per request": {**dashed, "linestyle": ":"},
            "Datadog log ingestion (list)": {"linestyle": "-.", "color": "purple"},
        },
        "volume": SIZE_VOLUME,
    }


def size_results(c: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    doors = {"HttpApi": "http_api", "FunctionUrl": "function_url"}
    for r in c.sizes:
        slug = slug_of(r.case)
        for key, value in r.seconds.items():
            name = key.replace("http-api", "http_api").replace("function-url", "function_url")
            name = name.replace("/", "_").replace(" ", "_")
            out[f"request_ingest_ms_{slug}_{name}"] = round(value * 1000, 3)
        out[f"request_raw_bytes_{slug}"] = r.raw_bytes
        out[f"request_log_bytes_{slug}"] = r.log_bytes
        out[f"request_events_{slug}"] = r.events
        out[f"firehose_cost_per_gb_{slug}_record_per_event"] = round(
            cost.firehose_per_gb(r.raw_bytes / r.events), 5
        )
        for volume, by_size in c.size_costs.items():
            vslug = slug_of(volume.replace("/", "_"))
            for door, row in by_size[r.case].items():
                for mode, breakdown in row.items():
                    key = f"cost_per_gb_{slug}_{doors[door]}_{mode.replace(' ', '_')}_{vslug}"
                    out[key] = round(breakdown.per_gb, 5)
    small = next(r for r in c.sizes if r.case == sizes.SMALL)
    at = c.size_costs[SIZE_VOLUME][small.case]
    url, api = cost.best(at["FunctionUrl"]), cost.best(at["HttpApi"])
    out["cost_per_gb_25kb_best"] = round(url.per_gb, 5)
    out["cost_per_gb_25kb_best_mode"] = url.mode
    out["cost_per_gb_25kb_http_api_best"] = round(api.per_gb, 5)
    out["cost_per_gb_25kb_http_api_best_mode"] = api.mode
    out["cost_per_gb_25kb_best_without_ingest_cpu"] = round(cpu_free(c, "FunctionUrl").per_gb, 5)
    out["cost_per_gb_25kb_http_api_best_without_ingest_cpu"] = round(
        cpu_free(c, "HttpApi").per_gb, 5
    )
    out["cost_per_gb_25kb_best_with_logs"] = round(with_logs(c, "FunctionUrl").per_gb, 5)
    out["cost_per_gb_25kb_http_api_best_with_logs"] = round(with_logs(c, "HttpApi").per_gb, 5)
    out["firehose_cost_per_gb_25kb_record_per_event"] = round(
        cost.firehose_per_gb(small.raw_bytes / small.events), 5
    )
    out["datadog_ingest_cost_per_gb"] = cost.datadog_per_gb()
    out["small_request_overhead_ratio"] = round(small.overhead_ratio, 3)
    out["small_request_overhead_ratio_best_rounds"] = round(small.best_overhead_ratio, 3)
    out["small_request_bare_handler_ms"] = round(small.seconds["bare"] * 1000, 3)
    out["small_request_floor_ms"] = round(small.seconds["floor"] * 1000, 3)
    out["small_request_buffer_call_ms"] = round(small.seconds["buffer call"] * 1000, 3)
    out["front_door_event_cpu_spread"] = round(sizes.door_spread(c.sizes), 3)
    return out


def at_volume(work: cost.Workload, door: str, *, logs: bool = False) -> cost.Breakdown:
    """The cheapest buffer at SIZE_VOLUME for ``work`` through ``door``."""
    return cost.best(cost.door_table(work, cost.VOLUMES[SIZE_VOLUME], logs=logs)[door])


def with_logs(
    c: Any, door: str, case: str = sizes.SMALL, system_log_level: str | None = None
) -> cost.Breakdown:
    """``case`` through ``door`` with CloudWatch Logs included (the functions' log lines, EMF
    metrics and Lambda's platform records at ``system_log_level``, else the template's)."""
    work = replace(c.size_workloads[case][door], system_log_level=system_log_level)
    return at_volume(work, door, logs=True)


def cpu_free(c: Any, door: str, case: str = sizes.SMALL) -> cost.Breakdown:
    """``case`` through ``door`` if the ingest function took no CPU: what the prices and the
    model's assumptions cost before any work."""
    work = c.size_workloads[case][door]
    return at_volume(
        replace(work, ingest_cpu_seconds=dict.fromkeys(work.ingest_cpu_seconds, 0.0)), door
    )


def size_section(c: Any, r: dict[str, Any]) -> list[str]:
    lines = [PROSE["section"]]
    add = lines.append
    url, api = "function-url", "http-api"
    for x in c.sizes:
        bill = c.size_billing[x.case]
        add(
            PROSE["size_row"].format(
                x=x,
                api_kinesis_ms=x.seconds[f"{api}/kinesis"] * 1000,
                api_sqs_ms=x.seconds[f"{api}/sqs"] * 1000,
                url_kinesis_ms=x.seconds[f"{url}/kinesis"] * 1000,
                url_sqs_ms=x.seconds[f"{url}/sqs"] * 1000,
                kinesis=bill["kinesis"],
                sqs=bill["sqs"],
            )
        )
    add("")
    add(PROSE["doors"].format(r=r))
    add("")
    small = next(x for x in c.sizes if x.case == sizes.SMALL)
    add(
        PROSE["overhead"].format(
            r=r,
            small=sizes.SMALL,
            handler_ms=small.seconds[f"{api}/kinesis"] * 1000,
            bare_ms=small.seconds["bare"] * 1000,
            floor_ms=small.seconds["floor"] * 1000,
            buffer_call_ms=small.seconds["buffer call"] * 1000,
        )
    )
    add("")

    at = c.size_costs[SIZE_VOLUME]
    deployed = c.size_workloads[sizes.SMALL]["HttpApi"]
    add(
        PROSE["cost"].format(
            volume=SIZE_VOLUME,
            ingest_mb=deployed.ingest_memory_mb,
            consumer_mb=deployed.consumer_memory_mb,
            datadog_index=cost.price("datadog_logs_index_million"),
        )
    )
    add("")
    head = " | ".join(f"{DOOR_LABELS[d]}, {m}" for d in cost.FRONT_DOORS for m in cost.MODES)
    add(f"| request | {head} | Firehose, record per event | Firehose, record per request |")
    add("|---|" + "---|" * (len(cost.FRONT_DOORS) * len(cost.MODES) + 2))
    for x in c.sizes:
        cells = " | ".join(
            f"${at[x.case][d][m].per_gb:.4f}" for d in cost.FRONT_DOORS for m in cost.MODES
        )
        firehose = cost.firehose_per_gb(x.raw_bytes / x.events)
        packed = cost.firehose_per_gb(min(x.raw_bytes, 1000 * 1024))
        add(f"| {x.case} | {cells} | ${firehose:.4f} | ${packed:.4f} |")
    add("")
    add(PROSE["cost_by_volume"].format(datadog=cost.datadog_per_gb()))
    add("")
    volumes = list(c.size_costs)
    add(
        "| request | "
        + " | ".join(f"{DOOR_LABELS[d]}, {v}" for v in volumes for d in cost.FRONT_DOORS)
        + " |"
    )
    add("|---|" + "---|" * (len(volumes) * len(cost.FRONT_DOORS)))
    for x in c.sizes:
        cells = " | ".join(
            f"${cost.best(c.size_costs[v][x.case][d]).per_gb:.4f} "
            f"({cost.best(c.size_costs[v][x.case][d]).mode})"
            for v in volumes
            for d in cost.FRONT_DOORS
        )
        add(f"| {x.case} | {cells} |")
    add("")
    add(PROSE["breakdown"].format(small=sizes.SMALL, volume=SIZE_VOLUME))
    add("")
    rows = {
        f"{DOOR_LABELS[d]}, {cost.best(at[small.case][d]).mode}": cost.best(at[small.case][d])
        for d in cost.FRONT_DOORS
    }
    items = sorted({k for b in rows.values() for k in b.monthly})
    add("| line item | " + " | ".join(rows) + " |")
    add("|---|" + "---|" * len(rows))
    month_gb = {name: b.gb_per_day * cost.DAYS_PER_MONTH for name, b in rows.items()}
    for item in items:
        cells = " | ".join(
            f"{b.monthly[item] / month_gb[n]:.5f}" if item in b.monthly else "–"
            for n, b in rows.items()
        )
        add(f"| {item} | {cells} |")
    add("| **total** | " + " | ".join(f"**{b.per_gb:.5f}**" for b in rows.values()) + " |")
    add("")
    logged = {d: with_logs(c, d) for d in cost.FRONT_DOORS}
    extra = {
        d: with_logs(c, d, system_log_level="INFO").per_gb - logged[d].per_gb
        for d in cost.FRONT_DOORS
    }
    add(
        PROSE["logs"].format(
            log_bytes=small.log_bytes,
            platform_bytes=cost.platform_log_bytes("INFO"),
            info_extra=", ".join(
                PROSE["logs_extra"].format(per_gb=extra[d]) for d in cost.FRONT_DOORS
            ),
            doors=" and ".join(DOOR_LABELS[d] for d in cost.FRONT_DOORS),
            log_price=cost.price("cloudwatch_logs_gb"),
            totals=", ".join(
                PROSE["logs_total"].format(b=logged[d], door=DOOR_LABELS[d])
                for d in cost.FRONT_DOORS
            ),
        )
    )
    add("")
    add(PROSE["levers"].format(volume=SIZE_VOLUME))
    for label, change in LEVERS:
        cells = []
        for d in cost.FRONT_DOORS:
            work = replace(c.size_workloads[small.case][d], **change)
            row = cost.door_table(work, cost.VOLUMES[SIZE_VOLUME])[d]
            pick = row["sqs"] if label.startswith("SQS") else cost.best(row)
            cells.append(f"${pick.per_gb:.4f} ({pick.mode})")
        add(f"| {label} | {' | '.join(cells)} |")
    add("")
    add(PROSE["per_request"])
    add("")
    return lines


def size_misses(c: Any, r: dict[str, Any]) -> list[str]:
    out = []
    at = c.size_costs[SIZE_VOLUME][sizes.SMALL]
    floor = {d: cpu_free(c, d) for d in cost.FRONT_DOORS}
    if r["cost_per_gb_25kb_best"] > 0.02:
        best = cost.best(at["FunctionUrl"])
        gb = best.gb_per_day * cost.DAYS_PER_MONTH
        top = sorted(best.monthly.items(), key=lambda item: -item[1])[:3]
        largest = ", ".join(
            PROSE["miss_cost_url_line"].format(name=name, per_gb=value / gb) for name, value in top
        )
        out.append(
            PROSE["miss_cost_url"].format(
                r=r, largest=largest, cpu_free=floor["FunctionUrl"].per_gb
            )
        )
    if r["cost_per_gb_25kb_http_api_best"] > 0.06:
        out.append(PROSE["miss_cost_api"].format(r=r, cpu_free=floor["HttpApi"].per_gb))
    if r["small_request_overhead_ratio"] > 2:
        together = r["small_request_bare_handler_ms"] + r["small_request_floor_ms"]
        out.append(PROSE["miss_overhead"].format(r=r, bare_and_floor_ms=together))
    return out
