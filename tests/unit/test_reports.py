"""The generated documents: prose from the template files, figures from saved results."""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path
from types import ModuleType

import pytest

from benchmarks import cloudwatch_logs, prose
from benchmarks import report as performance
from tests.reliability import report as reliability

FIGURES = Path(__file__).with_name("reliability_figures")


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


@pytest.mark.parametrize("report", [performance, reliability, cloudwatch_logs])
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
