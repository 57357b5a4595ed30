"""``make fuzz``: run an atheris target for a bounded time and record figures.

``python fuzz/run.py [body|otlp]`` (body by default): the Events API's body decoder, or
the OTLP decoding and flattening. FUZZ_SECONDS (default 60) bounds the run. New corpus
entries go to build/fuzz/corpus (build/fuzz-otlp/corpus); the committed seeds are read
only; a crash leaves ``crash-*`` in the work folder and fails the run. Figures go to
build/reliability-long/fuzz.json (fuzz-otlp.json) for docs/reliability.md.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: target -> (script, committed seeds, work folder and figures name, what it covers)
TARGETS = {
    "body": (
        "fuzz_body.py",
        "corpus",
        "fuzz",
        "fuzz/fuzz_body.py (events_api.ingest.batch: read_body, parse_json, parse_ndjson)",
    ),
    "otlp": (
        "fuzz_otlp.py",
        "corpus-otlp",
        "fuzz-otlp",
        "fuzz/fuzz_otlp.py (events_api.otlp: decode, flatten_logs, flatten_traces, "
        "flatten_metrics)",
    ),
}
RESULTS = Path(os.environ.get("RELIABILITY_RESULTS", ROOT / "build" / "reliability-long"))


def main() -> int:
    target = sys.argv[1] if len(sys.argv) > 1 else "body"
    script, seeds, name, description = TARGETS[target]
    work = ROOT / "build" / name
    seconds = int(os.environ.get("FUZZ_SECONDS", "60"))
    corpus = work / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    before = {p.name for p in work.glob("crash-*")}
    command = [
        sys.executable,
        str(ROOT / "fuzz" / script),
        str(corpus),
        str(ROOT / "fuzz" / seeds),
        f"-max_total_time={seconds}",
        "-rss_limit_mb=2048",
        "-timeout=10",
        f"-artifact_prefix={work}/",
        "-print_final_stats=1",
    ]
    started = time.monotonic()
    run = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    elapsed = time.monotonic() - started
    output = run.stdout + run.stderr
    (work / "last-run.log").write_text(output)
    done = re.search(r"Done (\d+) runs in (\d+) second", output)
    executions = int(done.group(1)) if done else 0
    stat = re.search(r"stat::number_of_executed_units:\s*(\d+)", output)
    if stat:
        executions = max(executions, int(stat.group(1)))
    crashes = sorted({p.name for p in work.glob("crash-*")} - before)
    figures = {
        "target": description,
        "seconds": round(elapsed, 1),
        "executions": executions,
        "corpus_entries": sum(1 for _ in corpus.iterdir()),
        "crashes": len(crashes),
        "crash_files": crashes,
        "exit_code": run.returncode,
        "command": f"FUZZ_SECONDS={seconds} make fuzz",
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    if run.returncode != 0 or crashes:
        print(output[-4000:], file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
