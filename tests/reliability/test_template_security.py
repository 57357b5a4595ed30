"""checkov on template.yaml: zero unexplained findings (``make checkov`` installs checkov in
its own virtual environment, .venv-checkov, because its pins clash with boto3 and moto)."""

from __future__ import annotations

import pytest

from tests.reliability import checkov_check
from tests.support import ROOT

CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"


def test_every_suppression_names_its_resources_and_gives_a_reason() -> None:
    suppressions = checkov_check.load_suppressions()
    assert suppressions
    for entry in suppressions.values():
        assert len(" ".join(entry["reason"].split())) >= 40
        assert all("." in resource for resource in entry["resources"])


@pytest.mark.skipif(not CHECKOV.exists(), reason="checkov is not installed: run make checkov")
def test_checkov_finds_nothing_unexplained() -> None:
    report = checkov_check.run_checkov(str(CHECKOV), ROOT / "template.yaml")
    figures = checkov_check.evaluate(report, checkov_check.load_suppressions())
    assert figures["unexplained"] == []
    assert figures["stale_suppressions"] == []
