"""Write docs/reliability.md from the figures in build/reliability-long/ (make reliability).

    make reliability            # long form: runs everything, then this
    .venv/bin/python -m tests.reliability.report

Every figure is printed with the command that reproduces it. A figure whose suite did not
run is shown as "not run" rather than guessed.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(os.environ.get("RELIABILITY_RESULTS", ROOT / "build" / "reliability-long"))
OUT = ROOT / "docs" / "reliability.md"
BUFFERS = ("kinesis", "sqs")
PYTEST = "RELIABILITY_SCALE=long .venv/bin/pytest"


def load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def num(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def scale_note(*figures: dict[str, Any] | None) -> str:
    scales = {f.get("scale") for f in figures if f}
    return "" if scales <= {"long"} else " (short form)"


def code(text: str) -> str:
    return f"`{text}`"


def rows() -> list[tuple[str, str, str]]:
    out: list[tuple[str, str, str]] = []
    not_run = "not run"

    # 1. Lost events, both buffers, faults on.
    conservation = {b: load(f"conservation-{b}") for b in BUFFERS}
    for buffer, figures in conservation.items():
        if figures is None:
            out.append((f"Lost events, {buffer}, faults on", not_run, ""))
            continue
        value = (
            f"**{figures['missing']}** missing of {num(figures['events_accepted'])} accepted "
            f"({num(figures['duplicates'])} duplicates, {figures['unexpected']} unexpected; "
            f"faults `{figures['faults']}`){scale_note(figures)}"
        )
        out.append(
            (
                f"Lost events (accepted - stored), {buffer}, faults on",
                value,
                code(f"{PYTEST} tests/reliability/test_conservation.py -k {buffer}"),
            )
        )

    # 2. 202 correctness over the buffer fault matrix.
    matrices = [load(f"buffer-matrix-{b}") for b in BUFFERS]
    if all(matrices):
        cells = sum(m["cells"] for m in matrices if m)
        correct = sum(m["correct"] for m in matrices if m)
        missing = sum(m["missing_events_after_202"] for m in matrices if m)
        out.append(
            (
                "202 correctness, buffer fault matrix (both buffers)",
                f"**{100 * correct / cells:.0f} %** ({correct} of {cells} cells; "
                f"{missing} accepted events missing from the buffer){scale_note(*matrices)}",
                code(f"{PYTEST} tests/reliability/test_buffer_faults.py"),
            )
        )
    else:
        out.append(("202 correctness, buffer fault matrix", not_run, ""))

    # Consumer matrix.
    consumers = [load(f"consumer-matrix-{b}") for b in BUFFERS]
    if all(consumers):
        scenarios = [s for c in consumers if c for s in c["scenarios"]]
        exact = sum(s["exact_partial_responses"] for s in scenarios)
        responses = sum(s["responses"] for s in scenarios)
        missing = sum(s["missing"] for s in scenarios)
        out.append(
            (
                "Consumer fault matrix: exact partial batch responses",
                f"**{exact} of {responses}** responses name exactly the failed records; "
                f"{missing} events missing after retries{scale_note(*consumers)}",
                code(f"{PYTEST} tests/reliability/test_consumer_faults.py"),
            )
        )

    # 4. Keys.
    keys = load("keys-hostile")
    if keys:
        out.append(
            (
                "False accepts (random and mutated keys)",
                f"**{keys['false_accepts']}** of {num(keys['keys'])} "
                f"({num(keys['through_handler'])} through the handler)",
                code(f"{PYTEST} tests/reliability/test_keys.py -k mutated"),
            )
        )
    flood = load("keys-malformed-flood")
    if flood:
        out.append(
            (
                "SSM calls per malformed key",
                f"**{flood['ssm_calls_per_key']:g}** ({flood['ssm_calls']} calls for "
                f"{num(flood['malformed_keys'])} malformed keys)",
                code(f"{PYTEST} tests/reliability/test_keys.py -k malformed"),
            )
        )
    unknown = load("keys-unknown-flood")
    if unknown:
        out.append(
            (
                "SSM calls during a flood of well-formed unknown keys",
                f"{unknown['ssm_calls']} calls for {num(unknown['unknown_keys'])} keys in "
                f"{unknown['seconds']} s (bound: half of "
                f"{unknown.get('lookups_per_minute_setting', 0):g} a minute as a burst, the "
                f"rest over the minute = {unknown['ssm_call_bound']}); answers "
                f"{unknown.get('statuses', {})}",
                code(f"{PYTEST} tests/reliability/test_keys.py -k unknown"),
            )
        )
    fresh = load("keys-fresh-after-flood")
    if fresh:
        out.append(
            (
                "A key created a moment ago, first used after a flood on a cold instance",
                f"answers {fresh['new_key_statuses']} (429 with Retry-After, then served once "
                f"the producer comes back; never 401) after a flood answered {fresh['flood']}",
                code(f"{PYTEST} tests/reliability/test_keys.py -k fresh"),
            )
        )

    # 5. Hostile input and fuzzing.
    corpora = [load(f"hostile-corpus-{b}") for b in BUFFERS]
    if all(corpora):
        cases = sum(c["cases"] for c in corpora if c)
        five = sum(len(c["five_xx"]) for c in corpora if c)
        wrong = sum(len(c["not_byte_equal"]) for c in corpora if c)
        examples = (corpora[0] or {}).get("hypothesis_examples", {})
        out.append(
            (
                "Hostile corpus: 5xx answers",
                f"**{five}** of {cases} requests; {wrong} accepted events not stored byte for "
                f"byte; hypothesis: {num(sum(examples.values()))} examples per buffer run",
                code(f"{PYTEST} tests/reliability/test_hostile_input.py"),
            )
        )
    fuzz = load("fuzz")
    if fuzz:
        out.append(
            (
                "Fuzzing the body decoder (atheris)",
                f"{num(fuzz['executions'])} executions in {fuzz['seconds']} s, "
                f"**{fuzz['crashes']} crashes**",
                code(fuzz["command"]),
            )
        )
    else:
        out.append(("Fuzzing the body decoder (atheris)", not_run, code("make fuzz")))
    otlp_fuzz = load("fuzz-otlp")
    if otlp_fuzz:
        out.append(
            (
                "Fuzzing OTLP decoding and flattening (atheris)",
                f"{num(otlp_fuzz['executions'])} executions in {otlp_fuzz['seconds']} s, "
                f"**{otlp_fuzz['crashes']} crashes**",
                code(otlp_fuzz["command"]),
            )
        )
    otlp_hostile = load("otlp_hostile")
    if otlp_hostile:
        statuses = ", ".join(
            f"{status}: {len(names)}" for status, names in otlp_hostile["by_status"].items()
        )
        out.append(
            (
                "Hostile OTLP corpus (handler and consumer)",
                f"{otlp_hostile['cases']} requests: {statuses}; "
                f"{num(otlp_hostile['events_stored'])} accepted events all stored",
                code(f"{PYTEST} tests/reliability/test_otlp_hostile.py"),
            )
        )

    # 6. Conformance.
    conformance = load("conformance")
    if conformance:
        calls = conformance["calls"]
        out.append(
            (
                "API conformance (schemathesis, docs/openapi.yaml)",
                f"**{conformance['five_xx']} 5xx**, {conformance['failure_count']} check "
                f"failures in {num(calls['with_key'] + calls['without_key'])} calls; every "
                f"call without a key: 401 (POST) / 405 (others){scale_note(conformance)}",
                code(f"{PYTEST} tests/reliability/test_api_conformance.py"),
            )
        )

    # 7. Load.
    for buffer in BUFFERS:
        load_figures = load(f"load-{buffer}")
        if not load_figures:
            continue
        shapes = load_figures["shapes"]
        parts = [
            f"{name} p50 {s['p50_ms']} ms / p99 {s['p99_ms']} ms, errors {s['error_rate']:.1%}"
            for name, s in shapes.items()
        ]
        out.append(
            (
                f"Load, {buffer}",
                "; ".join(parts)
                + f"; **{load_figures['missing']}** of {num(load_figures['events_accepted'])} "
                f"accepted events missing{scale_note(load_figures)}",
                code(f"{PYTEST} tests/reliability/test_load.py -k {buffer}"),
            )
        )

    # 8. checkov.
    checkov = load("checkov")
    if checkov:
        out.append(
            (
                "Template security (checkov)",
                f"{checkov['passed']} passed, {checkov['failed']} failed: "
                f"{checkov['explained']} suppressed with a reason, "
                f"**{len(checkov['unexplained'])} unexplained**",
                code("make checkov"),
            )
        )
    else:
        out.append(("Template security (checkov)", not_run, code("make checkov")))
    return out


def details() -> list[str]:
    lines: list[str] = []
    for buffer in BUFFERS:
        figures = load(f"conservation-{buffer}")
        if figures:
            lines += [
                f"### Conservation run, {buffer}",
                "",
                "| figure | value |",
                "|---|---|",
            ]
            for key in (
                "events_sent",
                "events_accepted",
                "events_stored_distinct",
                "missing",
                "duplicates",
                "unexpected",
                "stored_without_202",
                "requests",
                "statuses",
                "retried_requests",
                "requests_given_up",
                "faults_injected",
                "parked_messages",
                "objects",
                "produce_seconds",
                "drain_seconds",
            ):
                lines.append(f"| {key} | {json.dumps(figures.get(key))} |")
            lines.append("")
    for buffer in BUFFERS:
        figures = load(f"buffer-matrix-{buffer}")
        if figures:
            lines += [
                f"### Buffer fault matrix, {buffer}",
                "",
                f"{figures['cells']} cells ({json.dumps(figures['cells_by_kind'])}): "
                f"{figures['status_202']} answered 202, {figures['status_503']} answered 503, "
                f"{figures['other_status']} anything else; {figures['duplicate_events']} "
                f"duplicate events on the buffer (timeouts after a hidden success); at most "
                f"{figures['max_seconds_over_budget']} s past the time budget.",
                "",
            ]
    for buffer in BUFFERS:
        figures = load(f"consumer-matrix-{buffer}")
        if figures:
            lines += [
                f"### Consumer fault matrix, {buffer}",
                "",
                "| scenario | invocations | crashes | S3 faults | exact responses | missing |"
                " duplicates |",
                "|---|---|---|---|---|---|---|",
            ]
            for s in figures["scenarios"]:
                lines.append(
                    f"| {s['scenario']} | {s['invocations']} | {s['crashes']} | "
                    f"{s['injected_s3_failures']} | {s['exact_partial_responses']}/"
                    f"{s['responses']} | {s['missing']} | {s['duplicates']} |"
                )
            lines.append("")
    for buffer in BUFFERS:
        figures = load(f"load-{buffer}")
        if figures:
            lines += [
                f"### Load, {buffer}",
                "",
                f"Settings: {json.dumps(figures['settings'])}.",
                "",
                "| shape | requests | statuses | error rate | p50 ms | p99 ms | max ms |",
                "|---|---|---|---|---|---|---|",
            ]
            for name, s in figures["shapes"].items():
                lines.append(
                    f"| {name} | {s['requests']} | {json.dumps(s['statuses'])} | "
                    f"{s['error_rate']:.2%} | {s['p50_ms']} | {s['p99_ms']} | {s['max_ms']} |"
                )
            lines.append("")
    checkov = load("checkov")
    if checkov:
        lines += [
            "### checkov suppressions",
            "",
            "Each finding that is not fixed is listed in "
            "`tests/reliability/checkov-suppressions.yaml` with the resources it covers and "
            "why; `make checkov` fails on a finding not listed there and on a stale entry.",
            "",
            "| check | resources | reason |",
            "|---|---|---|",
        ]
        for check, entry in checkov["suppressions"].items():
            resources = ", ".join(r.split(".", 1)[1] for r in entry["resources"])
            lines.append(f"| {check} | {resources} | {entry['reason']} |")
        lines.append("")
    return lines


def commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> None:
    body = [
        "# Reliability",
        "",
        "Every figure here is produced by the project's own suites and written by "
        "`make reliability` (the long form; `make test` runs the same suites in a short form). "
        "The command next to a figure reproduces it alone. "
        f"Generated {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} at commit {commit()} "
        f"on {platform.system()} {platform.machine()}, Python {platform.python_version()}, "
        f"{os.cpu_count()} cores.",
        "",
        "| figure | value | command |",
        "|---|---|---|",
        *(f"| {name} | {value} | {command} |" for name, value, command in rows()),
        "",
        (ROOT / "tests" / "reliability" / "method.md").read_text().rstrip(),
        "",
        "## Details",
        "",
        *details(),
    ]
    OUT.write_text("\n".join(body).rstrip() + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
