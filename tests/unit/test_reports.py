"""The generated documents: prose from the template files, figures from saved results."""

from __future__ import annotations

import json
import os
import platform
import re
from pathlib import Path
from types import ModuleType

import pytest

from benchmarks import cloudwatch_logs, otlp, prose, query
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


@pytest.mark.parametrize("report", [performance, reliability, cloudwatch_logs, otlp, query])
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
