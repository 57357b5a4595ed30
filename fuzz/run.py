"""``make fuzz``: run the atheris body-decoder target for a bounded time and record figures.

FUZZ_SECONDS (default 60) bounds the run. New corpus entries go to build/fuzz/corpus
(fuzz/corpus holds the committed seeds, read only); a crash leaves ``crash-*`` in
build/fuzz/ and fails the run. Figures go to build/reliability-long/fuzz.json for
docs/reliability.md.
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
WORK = ROOT / "build" / "fuzz"
RESULTS = Path(os.environ.get("RELIABILITY_RESULTS", ROOT / "build" / "reliability-long"))


def main() -> int:
    seconds = int(os.environ.get("FUZZ_SECONDS", "60"))
    corpus = WORK / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    before = {p.name for p in WORK.glob("crash-*")}
    command = [
        sys.executable,
        str(ROOT / "fuzz" / "fuzz_body.py"),
        str(corpus),
        str(ROOT / "fuzz" / "corpus"),
        f"-max_total_time={seconds}",
        "-rss_limit_mb=2048",
        "-timeout=10",
        f"-artifact_prefix={WORK}/",
        "-print_final_stats=1",
    ]
    started = time.monotonic()
    run = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    elapsed = time.monotonic() - started
    output = run.stdout + run.stderr
    (WORK / "last-run.log").write_text(output)
    done = re.search(r"Done (\d+) runs in (\d+) second", output)
    executions = int(done.group(1)) if done else 0
    stat = re.search(r"stat::number_of_executed_units:\s*(\d+)", output)
    if stat:
        executions = max(executions, int(stat.group(1)))
    crashes = sorted({p.name for p in WORK.glob("crash-*")} - before)
    figures = {
        "target": "fuzz/fuzz_body.py (events_api.batch: read_body, parse_json, parse_ndjson)",
        "seconds": round(elapsed, 1),
        "executions": executions,
        "corpus_entries": sum(1 for _ in corpus.iterdir()),
        "crashes": len(crashes),
        "crash_files": crashes,
        "exit_code": run.returncode,
        "command": f"FUZZ_SECONDS={seconds} make fuzz",
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "fuzz.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    if run.returncode != 0 or crashes:
        print(output[-4000:], file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
