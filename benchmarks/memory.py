"""Item 5: peak RSS of the ingest handler on one 6 MiB batch, above the process baseline.

Each measurement runs in a fresh child process: the handler is wired and warmed up on a tiny
batch (clients created, key cached), the 6 MiB event is built, then the kernel's peak-RSS
mark is reset (``/proc/self/clear_refs``) and the handler runs once. Peak minus the RSS
just before the call is what the handler itself needed. Run as a child:
``python -m benchmarks.memory ours|baseline gzip|plain``.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def child(variant: str, encoding: str) -> None:
    from events_api.ingest.keys import KeyRecord, generate_key

    from . import data, ingest, lambdas

    key = generate_key()
    harness = ingest.Harness(key, KeyRecord("k1", "bench", "2026-11-26T00:00:00Z").to_json())
    small = data.make_batch("small", 20_000)
    batch = data.make_batch("6 MiB", data.MAX_BODY_BYTES)
    gzipped = encoding == "gzip"
    warm = lambdas.http_event(
        data.gzip_body(small.body) if gzipped else small.body, key, gzipped=gzipped
    )
    event = lambdas.http_event(
        data.gzip_body(batch.body) if gzipped else batch.body, key, gzipped=gzipped
    )
    with lambdas.quiet():
        harness.call(variant if variant != "ours" else "kinesis", warm)
        del small
        gc.collect()
        before = _status("VmRSS")
        Path("/proc/self/clear_refs").write_text("5")
        harness.call(variant if variant != "ours" else "kinesis", event)
        peak = _status("VmHWM")
    print(json.dumps({"before": before, "peak": peak, "body": len(batch.body)}))


def measure(variant: str, encoding: str) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    answer = subprocess.run(
        [sys.executable, "-m", "benchmarks.memory", variant, encoding],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=ROOT,
    )
    row = json.loads(answer.stdout.strip().splitlines()[-1])
    above = max(0, row["peak"] - row["before"])
    return {
        "baseline_rss": row["before"],
        "peak_rss": row["peak"],
        "above": above,
        "body": row["body"],
        "ratio": above / row["body"],
    }


if __name__ == "__main__":
    child(sys.argv[1], sys.argv[2])
