"""Item 8 of docs/performance.md and its results: request sizes and front doors."""

# ruff: noqa: RUF001  (the page uses the multiplication sign on purpose)

from __future__ import annotations

from dataclasses import replace
from typing import Any

from . import cost, sizes

#: The daily volume the request-size figures and targets are quoted at.
SIZE_VOLUME = "1 TB/day"
DOOR_LABELS = {"HttpApi": "HTTP API", "FunctionUrl": "function URL"}
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


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def size_section(c: Any, r: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    add = lines.append
    url, api = "function-url", "http-api"
    add("## 8. Request sizes and front doors")
    add("")
    add(
        "What Baselime's own clients send: `@baselime/winston-transport` posts once per "
        "event-loop tick (often **1 event**), `@baselime/edge-logger` a JSON array every 100 "
        "logs (**25 KB**, uncompressed), an OpenTelemetry exporter a few hundred records "
        "(**100 KB**), a busy service **1 MB**, and `events-api send` **6 MiB gzip**'d. The "
        "events are the generated log events of item 1; the single event is the median-sized "
        "one of the 25 KB batch. For each size, the real ingest handler gets the event each "
        "front door sends (both built by the local gateway's one event builder, "
        "`events_api_cli.local.api_gateway.build_event`) with AWS stubbed as in item 1; CPU per "
        "request is the median over rounds, each round repeating a small request until it "
        "takes about 20 ms of CPU."
    )
    add("")
    add(
        "| request | events | raw | on the wire | HTTP API, Kinesis | HTTP API, SQS | "
        "function URL, Kinesis | function URL, SQS | Kinesis records (PUT units) | "
        "SQS 64 KB chunks |"
    )
    add("|---|---|---|---|---|---|---|---|---|---|")
    for x in c.sizes:
        bill = c.size_billing[x.case]
        add(
            f"| {x.case} | {x.events:,} | {x.raw_bytes:,} B | {x.wire_bytes:,} B | "
            f"{_ms(x.seconds[f'{api}/kinesis'])} | {_ms(x.seconds[f'{api}/sqs'])} | "
            f"{_ms(x.seconds[f'{url}/kinesis'])} | {_ms(x.seconds[f'{url}/sqs'])} | "
            f"{bill['kinesis'].records} ({bill['kinesis'].billed_units}) | "
            f"{bill['sqs'].billed_units} |"
        )
    add("")
    add(
        "The handler reads the same fields of both event shapes and does the same work, so "
        "the HTTP API and function URL columns differ by this machine's noise only (the "
        f"largest difference in this run, Kinesis: {r['front_door_event_cpu_spread']:.0%})."
    )
    add("")
    small = next(x for x in c.sizes if x.case == sizes.SMALL)
    add(f"### Per-request overhead ({sizes.SMALL})")
    add("")
    add(
        "The handler beside a **bare handler** (the same Powertools Logger and Metrics "
        "decorators, answering 202 without work) and the **read-once floor** of the same body "
        "(item 1), and the handler's **buffer call alone**: the Kinesis PutRecords of the "
        "request's record through `events_api.aws.http_client` (the JSON document with the record "
        "base64'd, SigV4 signing, the answer read; the send stubbed). The ingest path has "
        "made its three calls (SSM GetParameter, Kinesis PutRecords, SQS SendMessageBatch) "
        "without botocore since the 2026-11-29 run: the same PutRecords through botocore "
        "took 0.96 ms in the run before, against the whole bare handler's 0.04 ms."
    )
    add("")
    add("| | CPU per request |")
    add("|---|---|")
    add(
        f"| events-api handler (HTTP API event, Kinesis) | {_ms(small.seconds[f'{api}/kinesis'])} |"
    )
    add(f"| bare Powertools handler | {_ms(small.seconds['bare'])} |")
    add(f"| read-once floor | {_ms(small.seconds['floor'])} |")
    add(f"| the buffer call alone (PutRecords) | {_ms(small.seconds['buffer call'])} |")
    add(
        f"| **ratio** handler ÷ (bare + floor) | **{r['small_request_overhead_ratio']}×** "
        f"(best rounds {r['small_request_overhead_ratio_best_rounds']}×) |"
    )
    add("")

    at = c.size_costs[SIZE_VOLUME]
    add(f"### Cost per GB by request size ({SIZE_VOLUME})")
    add("")
    add(
        "The item 6 model per size and front door, from each size's measured CPU and counted "
        "buffer calls and bytes: the front door (HTTP API: $1.00 per million requests, $0.90 "
        "past 300 million a month, metered per 512 KB; function URL: nothing beyond Lambda), "
        "Lambda requests and duration (billed per whole millisecond, plus 20 ms of "
        f"network wait per buffer call, an assumption; memory as the template deploys it: "
        f"ingest {c.size_workloads[sizes.SMALL]['HttpApi'].ingest_memory_mb} MB, consumer "
        f"{c.size_workloads[sizes.SMALL]['HttpApi'].consumer_memory_mb} MB), the buffer, "
        "the consumer (invoked per "
        "batch: the event source mapping's batch size, Lambda's 6 MB payload, or what "
        "arrives while a batch fills, whichever is least: 5 s for Kinesis as the template "
        "sets, about 1 s assumed for SQS, which has no batching window), one S3 PUT per "
        "batch and a month of S3 storage. Firehose is its Direct PUT ingestion price alone "
        "with every record rounded up to 5 KB, sending a record per event (as log shippers "
        "do) or one packed record per request; Datadog is its list price for log ingestion "
        f"alone (indexing, ${cost.price('datadog_logs_index_million'):.2f} per million "
        "events, comes on top)."
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
    add("![Cost per GB by request size](perf-cost-per-gb-by-request-size.png)")
    add("")
    add(
        f"Datadog log ingestion: ${cost.datadog_per_gb():.2f} per GB at every size. The same, "
        "cheapest buffer only, at each daily volume (fixed monthly costs such as Kinesis "
        "stream-hours weigh more at low volume):"
    )
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
    add(f"Where the money goes at {sizes.SMALL} requests, {SIZE_VOLUME} ($ per GB):")
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
    add(
        "Not among those line items, and at this size as large as several of them: "
        "**CloudWatch Logs**. The handler writes "
        f"{small.log_bytes:,} bytes to its log per request at the default level (its EMF "
        "metrics document; the per-request line is at DEBUG since the 2026-11-29 run, "
        "rejections are logged at INFO); Lambda's own start and report records are left "
        "out by the template's default SystemLogLevel WARN (with INFO they add about "
        f"{cost.platform_log_bytes('INFO')} bytes an invocation, for the consumer too, "
        "$"
        + ", $".join(
            f"{with_logs(c, d, system_log_level='INFO').per_gb - logged[d].per_gb:.4f}"
            for d in cost.FRONT_DOORS
        )
        + " per GB more through the "
        + " and ".join(DOOR_LABELS[d] for d in cost.FRONT_DOORS)
        + f"). At ${cost.price('cloudwatch_logs_gb'):.2f} per GB of logs the totals "
        "are "
        + ", ".join(
            f"**${logged[d].per_gb:.4f}** ({DOOR_LABELS[d]}, {logged[d].mode})"
            for d in cost.FRONT_DOORS
        )
        + " per GB. Log retention is the template's `LogRetentionDays`; storage of the "
        "logs is not counted."
    )
    add("")
    add(
        "Levers the model shows at this size (not the template's defaults; each trades "
        "something): a smaller ingest function (the duration is mostly waiting on the "
        "buffer call, and a request's CPU is small; cold starts and 6 MiB requests get "
        "slower), and a batching window on the SQS event source (bigger consumer batches: "
        "fewer invocations and S3 objects, events stored later):"
    )
    add("")
    add("| variant (25 KB, " + SIZE_VOLUME + ") | HTTP API | function URL |")
    add("|---|---|---|")
    for label, change in LEVERS:
        cells = []
        for d in cost.FRONT_DOORS:
            work = replace(c.size_workloads[small.case][d], **change)
            row = cost.door_table(work, cost.VOLUMES[SIZE_VOLUME])[d]
            pick = row["sqs"] if label.startswith("SQS") else cost.best(row)
            cells.append(f"${pick.per_gb:.4f} ({pick.mode})")
        add(f"| {label} | {' | '.join(cells)} |")
    add("")
    add(
        "Per request, whatever its size, the front door and Lambda each charge a request "
        "price and the buffer call waits on the network: at 25 KB a GB is about 43,000 "
        "requests, so $1.00 per million (HTTP API) is about $0.04 per GB and Lambda's $0.20 "
        "per million about $0.009 per GB. Sending fewer, larger requests (batching in the "
        "client, gzip) is the largest saving there is; the function URL removes the HTTP "
        "API's share."
    )
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
        parts = ", ".join(f"{name} ${value / gb:.4f}" for name, value in top)
        out.append(
            f"**Cost at 25 KB, function URL** (${r['cost_per_gb_25kb_best']:.4f} against "
            f"$0.02 per GB): the largest lines are {parts}. The same model with an ingest "
            f"function that takes no CPU at all gives ${floor['FunctionUrl'].per_gb:.4f}: "
            "Lambda's request price (about $0.009 per GB at this size), the assumed 20 ms "
            "of network wait per buffer call, a month of S3 storage and the shard-hours "
            "are above the target before any work is done."
        )
    if r["cost_per_gb_25kb_http_api_best"] > 0.06:
        out.append(
            f"**Cost at 25 KB, HTTP API** (${r['cost_per_gb_25kb_http_api_best']:.4f} against "
            "$0.06 per GB): the HTTP API's request price is about $0.04 per GB on its own; "
            f"with no ingest CPU at all the model gives ${floor['HttpApi'].per_gb:.4f}."
        )
    if r["small_request_overhead_ratio"] > 2:
        out.append(
            f"**Per-request overhead** ({r['small_request_overhead_ratio']}× against 2×): "
            f"the bare handler and the floor together take "
            f"{r['small_request_bare_handler_ms'] + r['small_request_floor_ms']:.2f} ms; the "
            f"buffer call (now without botocore) takes "
            f"{r['small_request_buffer_call_ms']:.2f} ms, and the rest is work the floor "
            "does not do: the key check, the per-event checks and the scan for numbers that "
            "overflow a double (contract section 1), the record's header, and the EMF "
            "metrics document."
        )
    return out
