"""The generated documents: prose from the template files, figures from saved results."""

from __future__ import annotations

import json
import os
import platform
import re
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from benchmarks import cloudwatch_logs, ingest, otlp, prose, query, size_report, sizes
from benchmarks import report as performance
from tests.reliability import report as reliability

FIGURES = Path(__file__).with_name("reliability_figures")
#: Figures for the benchmark sections, and the pages their code wrote before the prose moved
#: to templates.
BENCH_FIGURES = Path(__file__).with_name("report_figures")


def test_reliability_page_renders_saved_figures_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    """expected.md is the page the report wrote before its prose moved to a template."""
    monkeypatch.setattr(reliability, "RESULTS", FIGURES)
    monkeypatch.setattr(platform, "system", lambda: "Linux")
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(platform, "python_version", lambda: "3.12.1")
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    page = reliability.render("2026-11-29 12:00 UTC", "abc1234")
    assert page == (FIGURES / "expected.md").read_text()


def test_reliability_page_says_not_run_for_suites_without_figures(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(reliability, "RESULTS", tmp_path)
    page = reliability.render("2026-11-29 12:00 UTC", "abc1234")
    assert "| Lost events, kinesis, faults on | not run |  |" in page
    assert "| Template security (checkov) | not run | `make checkov` |" in page


@pytest.mark.parametrize(
    "report", [performance, reliability, cloudwatch_logs, size_report, otlp, query]
)
def test_every_template_block_is_used_by_its_report(report: ModuleType) -> None:
    template: dict[str, str] = report.PROSE
    text = Path(str(report.__file__)).read_text()
    # A block is named in full, or chosen by a prefix: PROSE[f"memory_{name}"].
    prefixes = tuple(re.findall(r'PROSE\[f"(\w+_)\{', text))
    unused = [
        name for name in template if f'"{name}"' not in text and not name.startswith(prefixes)
    ]
    assert unused == []


def test_blocks_are_the_text_between_their_markers(tmp_path: Path) -> None:
    path = tmp_path / "page.md"
    path.write_text("<!-- a -->\nline {x}\n\n<!-- b -->\none\n\ntwo\n")
    assert prose.load(path) == {"a": "line {x}", "b": "one\n\ntwo"}
    path.write_text("stray\n<!-- a -->\n")
    with pytest.raises(ValueError, match="before the first block"):
        prose.load(path)


def test_otlp_section_renders_saved_figures_exactly() -> None:
    saved = json.loads((BENCH_FIGURES / "otlp.json").read_text())
    text = otlp.markdown(saved["figures"], saved["when"], saved["command"])
    assert text == (BENCH_FIGURES / "otlp_expected.md").read_text()


def test_otlp_section_says_what_differs_between_the_builds() -> None:
    figures = json.loads((BENCH_FIGURES / "otlp.json").read_text())["figures"]
    figures.update(
        ingest_modules_loaded={"with": 230, "without": 218},
        ingest_loads_protobuf=True,
        logs_speedup=3.0,
    )
    text = otlp.markdown(figures, "now", "python -m benchmarks.otlp")
    assert "| log records | 52,732 | 12,857 | 3.0\u00d7 (4.22\u00d7) | ≥ 3\u00d7: met |" in text
    assert (
        "loads 230 modules from the full build and 218 from the build without OTLP; "
        "protobuf loaded: yes."
    ) in text


def test_query_section_renders_saved_figures_exactly() -> None:
    measured = query.QueryResult(**json.loads((BENCH_FIGURES / "query.json").read_text()))
    assert query.markdown(measured) == (BENCH_FIGURES / "query_expected.md").read_text()


def test_query_section_says_when_the_bytes_target_is_not_met() -> None:
    measured = query.QueryResult(**json.loads((BENCH_FIGURES / "query.json").read_text()))
    measured.parquet_bytes_read = measured.raw_bytes // 4
    text = query.markdown(measured)
    assert "**4.0x fewer bytes** on Parquet (target at least 10x: **not met**). Bytes" in text


def _size_context() -> SimpleNamespace:
    """Item 8's measurements as fixed figures: CPU per request growing with the size, the
    25 KB request with its bare handler, floor and buffer call, a billing per buffer."""
    results, billing = [], {}
    for n, name in enumerate(sizes.SIZES, start=1):
        raw = {"1 event": 1_380, "25 KB": 23_953}.get(name, 100_000 * n)
        cpu = {"http-api/kinesis": 0.0004 * n, "http-api/sqs": 0.0005 * n}
        cpu |= {"function-url/kinesis": 0.00042 * n, "function-url/sqs": 0.00052 * n}
        if name == sizes.SMALL:
            cpu |= {"bare": 0.00002, "floor": 0.00008, "buffer call": 0.00007}
        results.append(sizes.SizeResult(name, raw, raw - n, 10 * n, cpu, cpu, 288))
        billing[name] = {
            "kinesis": ingest.Billing(name, "kinesis", 1, n, raw // 6, n + 1, n, 1, n, 0, raw, 0),
            "sqs": ingest.Billing(name, "sqs", 1, 1, raw // 6, n + 2, n, 1, 0, 0, raw, 0),
        }
    consumer = SimpleNamespace(seconds={"ours": 0.05}, raw_bytes=6 * 2**20)
    workloads = sizes.workloads(results, billing, consumer, 8.0)
    costs = sizes.costs(workloads)
    return SimpleNamespace(
        sizes=results, size_billing=billing, size_workloads=workloads, size_costs=costs
    )


def test_request_size_section_puts_each_figure_in_its_sentence() -> None:
    c = _size_context()
    r: dict[str, Any] = size_report.size_results(c)
    text = "\n".join(size_report.size_section(c, r))
    assert "{" not in text
    assert "}" not in text
    assert text.startswith("## 8. Request sizes and front doors\n\nWhat Baselime's own clients")
    assert (
        "| 25 KB | 20 | 23,953 B | 23,951 B | 0.80 ms | 1.00 ms | 0.84 ms | 1.04 ms | 2 (3) | 4 |"
    ) in text
    assert "(the largest difference in this run, Kinesis: 5%)." in text
    assert "### Per-request overhead (25 KB)\n\nThe handler beside a **bare handler**" in text
    assert "| **ratio** handler ÷ (bare + floor) | **8.0\u00d7** (best rounds 8.0\u00d7) |" in text
    assert "### Cost per GB by request size (1 TB/day)" in text
    work = c.size_workloads["25 KB"]["HttpApi"]
    assert (
        f"ingest {work.ingest_memory_mb} MB, consumer {work.consumer_memory_mb} MB), the buffer"
    ) in text
    assert "Datadog log ingestion: $0.10 per GB at every size." in text
    assert "Where the money goes at 25 KB requests, 1 TB/day ($ per GB):" in text
    logged = size_report.with_logs(c, "FunctionUrl")
    assert "The handler writes 288 bytes to its log per request" in text
    assert f"**${logged.per_gb:.4f}** (function URL, {logged.mode}) per GB. Log retention" in text
    assert "| variant (25 KB, 1 TB/day) | HTTP API | function URL |\n|---|---|---|\n" in text
    assert text.endswith("the function URL removes the HTTP API's share.\n")


def test_request_size_misses_say_what_limits_each_target() -> None:
    c = _size_context()
    r = size_report.size_results(c) | {
        "cost_per_gb_25kb_best": 0.0321,
        "cost_per_gb_25kb_http_api_best": 0.0712,
        "small_request_overhead_ratio": 2.41,
    }
    url, api, overhead = size_report.size_misses(c, r)
    free = size_report.cpu_free(c, "FunctionUrl").per_gb
    assert url.startswith(
        "**Cost at 25 KB, function URL** ($0.0321 against $0.02 per GB): the largest lines are "
    )
    assert f"takes no CPU at all gives ${free:.4f}: Lambda's request price" in url
    free = size_report.cpu_free(c, "HttpApi").per_gb
    assert api.startswith("**Cost at 25 KB, HTTP API** ($0.0712 against $0.06 per GB)")
    assert api.endswith(f"with no ingest CPU at all the model gives ${free:.4f}.")
    assert overhead.startswith(
        "**Per-request overhead** (2.41\u00d7 against 2\u00d7): the bare handler and the floor "
        "together take 0.10 ms; the buffer call (now without botocore) takes 0.07 ms, and the rest"
    )
    met = r | {
        "cost_per_gb_25kb_best": 0.02,
        "cost_per_gb_25kb_http_api_best": 0.06,
        "small_request_overhead_ratio": 2,
    }
    assert size_report.size_misses(c, met) == []
