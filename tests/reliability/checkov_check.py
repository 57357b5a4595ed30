"""``make checkov``: checkov on template.yaml; every finding is fixed or suppressed with a
reason in tests/reliability/checkov-suppressions.yaml (resource by resource).

Fails on an unexplained finding, on a suppression without a reason, and on a suppression
that no longer matches any finding. Figures go to build/reliability-long/checkov.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
SUPPRESSIONS = Path(__file__).with_name("checkov-suppressions.yaml")
RESULTS = Path(os.environ.get("RELIABILITY_RESULTS", ROOT / "build" / "reliability-long"))


def load_suppressions() -> dict[str, dict[str, Any]]:
    data = yaml.safe_load(SUPPRESSIONS.read_text())
    for check, entry in data.items():
        if not str(entry.get("reason", "")).strip() or len(entry["reason"]) < 40:
            raise ValueError(f"{check}: a suppression needs a reason")
        if not entry.get("resources"):
            raise ValueError(f"{check}: a suppression names its resources")
    return dict(data)


def run_checkov(checkov: str, template: Path) -> dict[str, Any]:
    command = [
        checkov,
        "--file",
        str(template),
        "--framework",
        "cloudformation",
        "--skip-download",  # no call to the vendor's platform
        "--output",
        "json",
        "--quiet",
    ]
    answer = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    text = answer.stdout
    if "{" not in text:
        raise RuntimeError(f"checkov gave no JSON (exit {answer.returncode}): {answer.stderr}")
    report = json.loads(text[text.index("{") :])
    return report[0] if isinstance(report, list) else report


def evaluate(report: dict[str, Any], suppressions: dict[str, dict[str, Any]]) -> dict[str, Any]:
    failed = [
        (c["check_id"], c["resource"], c["check_name"]) for c in report["results"]["failed_checks"]
    ]
    explained, unexplained = [], []
    used: set[tuple[str, str]] = set()
    for check, resource, name in failed:
        entry = suppressions.get(check)
        if entry and resource in entry["resources"]:
            explained.append({"check": check, "resource": resource, "name": name})
            used.add((check, resource))
        else:
            unexplained.append({"check": check, "resource": resource, "name": name})
    stale = [
        f"{check} {resource}"
        for check, entry in suppressions.items()
        for resource in entry["resources"]
        if (check, resource) not in used
    ]
    summary = report.get("summary", {})
    return {
        "checkov_version": summary.get("checkov_version"),
        "resources": summary.get("resource_count"),
        "passed": summary.get("passed"),
        "failed": summary.get("failed"),
        "explained": len(explained),
        "unexplained": unexplained,
        "stale_suppressions": stale,
        "suppressions": {
            check: {"resources": entry["resources"], "reason": " ".join(entry["reason"].split())}
            for check, entry in suppressions.items()
        },
        "command": "make checkov",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checkov", default=str(ROOT / ".venv-checkov" / "bin" / "checkov"))
    parser.add_argument("--template", default=str(ROOT / "template.yaml"))
    args = parser.parse_args(argv)
    figures = evaluate(run_checkov(args.checkov, Path(args.template)), load_suppressions())
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "checkov.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(
        f"checkov {figures['checkov_version']}: {figures['passed']} passed, "
        f"{figures['failed']} failed, {figures['explained']} suppressed with a reason, "
        f"{len(figures['unexplained'])} unexplained, "
        f"{len(figures['stale_suppressions'])} stale suppressions"
    )
    for item in figures["unexplained"]:
        print(f"  UNEXPLAINED {item['check']} {item['resource']}: {item['name']}")
    for item in figures["stale_suppressions"]:
        print(f"  STALE {item}")
    return 1 if figures["unexplained"] or figures["stale_suppressions"] else 0


if __name__ == "__main__":
    sys.exit(main())
