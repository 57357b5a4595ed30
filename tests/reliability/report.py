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

from benchmarks import prose

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(os.environ.get("RELIABILITY_RESULTS", ROOT / "build" / "reliability-long"))
OUT = ROOT / "docs" / "reliability.md"
BUFFERS = ("kinesis", "sqs")
PYTEST = "RELIABILITY_SCALE=long .venv/bin/pytest"
#: The page's prose, with the figures as fields (benchmarks/prose.py describes the format).
PROSE = prose.load(Path(__file__).with_name("templates") / "reliability.md")


def load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def num(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def scale_note(*figures: dict[str, Any] | None) -> str:
    scales = {f.get("scale") for f in figures if f}
    return "" if scales <= {"long"} else PROSE["short_form"]


def code(text: str) -> str:
    return f"`{text}`"


def rows() -> list[tuple[str, str, str]]:
    out: list[tuple[str, str, str]] = []
    not_run = PROSE["not_run"]

    # 1. Lost events, both buffers, faults on.
    conservation = {b: load(f"conservation-{b}") for b in BUFFERS}
    for buffer, figures in conservation.items():
        if figures is None:
            out.append((PROSE["conservation_not_run"].format(buffer=buffer), not_run, ""))
            continue
        value = PROSE["conservation_value"].format(
            f=figures,
            accepted=num(figures["events_accepted"]),
            duplicates=num(figures["duplicates"]),
            scale=scale_note(figures),
        )
        out.append(
            (
                PROSE["conservation"].format(buffer=buffer),
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
                PROSE["buffer_matrix"],
                PROSE["buffer_matrix_value"].format(
                    percent=100 * correct / cells,
                    correct=correct,
                    cells=cells,
                    missing=missing,
                    scale=scale_note(*matrices),
                ),
                code(f"{PYTEST} tests/reliability/test_buffer_faults.py"),
            )
        )
    else:
        out.append((PROSE["buffer_matrix_not_run"], not_run, ""))

    # Consumer matrix.
    consumers = [load(f"consumer-matrix-{b}") for b in BUFFERS]
    if all(consumers):
        scenarios = [s for c in consumers if c for s in c["scenarios"]]
        out.append(
            (
                PROSE["consumer_matrix"],
                PROSE["consumer_matrix_value"].format(
                    exact=sum(s["exact_partial_responses"] for s in scenarios),
                    responses=sum(s["responses"] for s in scenarios),
                    missing=sum(s["missing"] for s in scenarios),
                    scale=scale_note(*consumers),
                ),
                code(f"{PYTEST} tests/reliability/test_consumer_faults.py"),
            )
        )

    # 4. Keys.
    keys = load("keys-hostile")
    if keys:
        out.append(
            (
                PROSE["keys_hostile"],
                PROSE["keys_hostile_value"].format(
                    f=keys, keys=num(keys["keys"]), through_handler=num(keys["through_handler"])
                ),
                code(f"{PYTEST} tests/reliability/test_keys.py -k mutated"),
            )
        )
    flood = load("keys-malformed-flood")
    if flood:
        out.append(
            (
                PROSE["keys_malformed"],
                PROSE["keys_malformed_value"].format(
                    f=flood, malformed_keys=num(flood["malformed_keys"])
                ),
                code(f"{PYTEST} tests/reliability/test_keys.py -k malformed"),
            )
        )
    unknown = load("keys-unknown-flood")
    if unknown:
        out.append(
            (
                PROSE["keys_unknown"],
                PROSE["keys_unknown_value"].format(
                    f=unknown,
                    unknown_keys=num(unknown["unknown_keys"]),
                    by_operation=", ".join(
                        f"{op} {n}" for op, n in sorted(unknown["aws_calls_by_operation"].items())
                    ),
                    statuses=", ".join(f"{k}: {num(v)}" for k, v in unknown["statuses"].items()),
                    scale=scale_note(unknown),
                ),
                code(f"{PYTEST} tests/reliability/test_keys.py -k unknown"),
            )
        )
    fresh = load("keys-fresh-after-flood")
    if fresh:
        out.append(
            (
                PROSE["keys_fresh"],
                PROSE["keys_fresh_value"].format(
                    f=fresh,
                    flood=", ".join(f"{k}: {num(v)}" for k, v in fresh["flood"].items()),
                ),
                code(f"{PYTEST} tests/reliability/test_keys.py -k brand_new"),
            )
        )
    steady = load("keys-steady-state")
    if steady:
        out.append(
            (
                PROSE["keys_steady"],
                PROSE["keys_steady_value"].format(f=steady, scale=scale_note(steady)),
                code(f"{PYTEST} tests/reliability/test_keys.py -k steady"),
            )
        )

    # 5. Hostile input and fuzzing.
    corpora = [load(f"hostile-corpus-{b}") for b in BUFFERS]
    if all(corpora):
        examples = (corpora[0] or {}).get("hypothesis_examples", {})
        out.append(
            (
                PROSE["hostile"],
                PROSE["hostile_value"].format(
                    five=sum(len(c["five_xx"]) for c in corpora if c),
                    cases=sum(c["cases"] for c in corpora if c),
                    wrong=sum(len(c["not_byte_equal"]) for c in corpora if c),
                    examples=num(sum(examples.values())),
                ),
                code(f"{PYTEST} tests/reliability/test_hostile_input.py"),
            )
        )
    fuzz = load("fuzz")
    if fuzz:
        out.append(
            (
                PROSE["fuzz"],
                PROSE["fuzz_value"].format(f=fuzz, executions=num(fuzz["executions"])),
                code(fuzz["command"]),
            )
        )
    else:
        out.append((PROSE["fuzz"], not_run, code("make fuzz")))
    otlp_fuzz = load("fuzz-otlp")
    if otlp_fuzz:
        out.append(
            (
                PROSE["fuzz_otlp"],
                PROSE["fuzz_value"].format(f=otlp_fuzz, executions=num(otlp_fuzz["executions"])),
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
                PROSE["otlp_hostile"],
                PROSE["otlp_hostile_value"].format(
                    f=otlp_hostile,
                    statuses=statuses,
                    events_stored=num(otlp_hostile["events_stored"]),
                ),
                code(f"{PYTEST} tests/reliability/test_otlp_hostile.py"),
            )
        )

    # 6. Conformance.
    conformance = load("conformance")
    if conformance:
        calls = conformance["calls"]
        out.append(
            (
                PROSE["conformance"],
                PROSE["conformance_value"].format(
                    f=conformance,
                    calls=num(calls["with_key"] + calls["without_key"]),
                    scale=scale_note(conformance),
                ),
                code(f"{PYTEST} tests/reliability/test_api_conformance.py"),
            )
        )

    # 7. Load.
    for buffer in BUFFERS:
        load_figures = load(f"load-{buffer}")
        if not load_figures:
            continue
        shapes = "; ".join(
            PROSE["load_shape"].format(name=name, s=s) for name, s in load_figures["shapes"].items()
        )
        out.append(
            (
                PROSE["load"].format(buffer=buffer),
                PROSE["load_value"].format(
                    f=load_figures,
                    shapes=shapes,
                    accepted=num(load_figures["events_accepted"]),
                    scale=scale_note(load_figures),
                ),
                code(f"{PYTEST} tests/reliability/test_load.py -k {buffer}"),
            )
        )

    # 8. checkov.
    checkov = load("checkov")
    if checkov:
        out.append(
            (
                PROSE["checkov"],
                PROSE["checkov_value"].format(f=checkov, unexplained=len(checkov["unexplained"])),
                code("make checkov"),
            )
        )
    else:
        out.append((PROSE["checkov"], not_run, code("make checkov")))
    return out


#: The figures of a conservation run, in the order its table lists them.
CONSERVATION_FIGURES = (
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
)


def details() -> list[str]:
    lines: list[str] = []
    for buffer in BUFFERS:
        figures = load(f"conservation-{buffer}")
        if figures:
            lines.append(PROSE["conservation_details"].format(buffer=buffer))
            for key in CONSERVATION_FIGURES:
                lines.append(
                    PROSE["figure_row"].format(key=key, value=json.dumps(figures.get(key)))
                )
            lines.append("")
    for buffer in BUFFERS:
        figures = load(f"buffer-matrix-{buffer}")
        if figures:
            lines.append(
                PROSE["buffer_matrix_details"].format(
                    buffer=buffer, f=figures, cells_by_kind=json.dumps(figures["cells_by_kind"])
                )
            )
            lines.append("")
    for buffer in BUFFERS:
        figures = load(f"consumer-matrix-{buffer}")
        if figures:
            lines.append(PROSE["consumer_matrix_details"].format(buffer=buffer))
            for s in figures["scenarios"]:
                lines.append(PROSE["consumer_matrix_row"].format(s=s))
            lines.append("")
    for buffer in BUFFERS:
        figures = load(f"load-{buffer}")
        if figures:
            lines.append(
                PROSE["load_details"].format(
                    buffer=buffer, settings=json.dumps(figures["settings"])
                )
            )
            for name, s in figures["shapes"].items():
                lines.append(
                    PROSE["load_row"].format(name=name, s=s, statuses=json.dumps(s["statuses"]))
                )
            lines.append("")
    checkov = load("checkov")
    if checkov:
        lines.append(PROSE["checkov_details"])
        for check, entry in checkov["suppressions"].items():
            resources = ", ".join(r.split(".", 1)[1] for r in entry["resources"])
            lines.append(PROSE["checkov_row"].format(check=check, resources=resources, f=entry))
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


def render(when: str, commit_id: str) -> str:
    """docs/reliability.md from the figures in RESULTS."""
    body = [
        PROSE["intro"].format(
            when=when,
            commit=commit_id,
            system=platform.system(),
            machine=platform.machine(),
            python=platform.python_version(),
            cores=os.cpu_count(),
        ),
        *(
            PROSE["row"].format(name=name, value=value, command=command)
            for name, value, command in rows()
        ),
        "",
        (ROOT / "tests" / "reliability" / "method.md").read_text().rstrip(),
        "",
        PROSE["details"],
        "",
        *details(),
    ]
    return "\n".join(body).rstrip() + "\n"


def main() -> None:
    OUT.write_text(render(datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), commit()))
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
