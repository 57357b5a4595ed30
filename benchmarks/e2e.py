"""Item 7: end to end on ``events-api dev`` (moto's server, the local gateway, the poller):
time from the 202 to the events being in S3 (p50/p99), and requests/s with 16 concurrent
producers. CPU seconds of the dev process are read from /proc to say what limits it.
"""

from __future__ import annotations

import gzip
import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .data import LogGenerator

ROOT = Path(__file__).resolve().parent.parent
READY_PREFIX = "EVENTS_API_DEV_READY "
PRODUCERS = 16


def command() -> list[str] | None:
    script = Path(sys.executable).with_name("events-api")
    if script.exists():
        return [str(script)]
    found = shutil.which("events-api")
    return [found] if found else None


def available() -> tuple[bool, str]:
    cmd = command()
    if cmd is None:
        return False, "the events-api command is not installed"
    answer = subprocess.run([*cmd, "dev", "--help"], capture_output=True, text=True, check=False)
    if answer.returncode != 0 or "--aws-port" not in answer.stdout:
        return False, f"`events-api dev --help` failed: {answer.stderr.strip()[:200]}"
    return True, ""


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


@dataclass
class E2EResult:
    buffer: str
    requests: int = 0
    failed: int = 0
    seconds: float = 0.0
    events_per_request: int = 0
    latencies: list[float] = field(default_factory=list)
    missing: int = 0
    dev_cpu_seconds: float = 0.0
    load_cpu_seconds: float = 0.0  # this process: producers and the S3 watcher
    load_average: float = 0.0  # the machine's 1-minute load average at the end
    note: str = ""

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies) if self.latencies else float("nan")

    @property
    def p99(self) -> float:
        return self.percentile(0.99)

    @property
    def dev_cpu_share(self) -> float:
        """CPU seconds the dev process used per wall second (1.0 = one core)."""
        return self.dev_cpu_seconds / self.seconds if self.seconds else 0.0

    @property
    def load_cpu_share(self) -> float:
        return self.load_cpu_seconds / self.seconds if self.seconds else 0.0


class Dev:
    def __init__(self, buffer: str, workdir: Path) -> None:
        cmd = command()
        assert cmd is not None
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
        self.out = workdir / f"dev-{buffer}.out"
        self.err = workdir / f"dev-{buffer}.err"
        with self.out.open("wb") as out, self.err.open("wb") as err:
            args = ["dev", "--host", "127.0.0.1", "--port", "0", "--aws-port", "0"]
            self.process = subprocess.Popen(
                [*cmd, *args, "--buffer", buffer],
                stdout=out,
                stderr=err,
                cwd=ROOT,
                env=env,
            )
        self.ready: dict[str, Any] = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not self.ready:
            for line in self.out.read_text(errors="replace").splitlines():
                if line.startswith(READY_PREFIX):
                    self.ready = json.loads(line[len(READY_PREFIX) :])
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        if not self.ready:
            self.stop()
            raise RuntimeError(f"events-api dev did not start: {self.err.read_text()[-500:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


_PLACEHOLDER = b"0" * 32  # a uuid4 hex, replaced per request


def _template(seed: int, events: int) -> bytes:
    """One producer's batch, every event tagged with a placeholder request marker."""
    generator = LogGenerator(seed)
    tag = b'{"benchRequest":"' + _PLACEHOLDER + b'",'
    return b"[" + b",".join(tag + generator.event()[1:] for _ in range(events)) + b"]"


def run(buffer: str, produce_seconds: float = 12.0, events: int = 100) -> E2EResult:
    import boto3

    result = E2EResult(buffer, events_per_request=events)
    with tempfile.TemporaryDirectory() as tmp:
        dev = Dev(buffer, Path(tmp))
        try:
            _drive(dev, result, produce_seconds, events, boto3)
        finally:
            dev.stop()
    return result


def _drive(dev: Dev, result: E2EResult, produce_seconds: float, events: int, boto3: Any) -> None:
    api = urlsplit(dev.ready["api"])
    key = dev.ready["apiKey"]
    dataset = f"bench{uuid.uuid4().hex[:8]}"
    accepted: dict[str, float] = {}
    seen: dict[str, float] = {}
    lock = threading.Lock()
    stop = threading.Event()

    templates = [_template(seed, events) for seed in range(PRODUCERS)]

    def producer(seed: int) -> None:
        # The batch is generated once; each request only swaps in its marker and gzips, so
        # the load generator itself stays light.
        connection = http.client.HTTPConnection(api.hostname, api.port, timeout=60)
        while not stop.is_set():
            marker = uuid.uuid4().hex
            body = gzip.compress(templates[seed].replace(_PLACEHOLDER, marker.encode()), 1)
            headers = {
                "content-type": "application/json",
                "content-encoding": "gzip",
                "x-api-key": key,
            }
            try:
                connection.request("POST", f"/v1/{dataset}", body=body, headers=headers)
                answer = connection.getresponse()
                answer.read()
                status = answer.status
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection(api.hostname, api.port, timeout=60)
                status = 0
            with lock:
                if status == 202:
                    accepted[marker] = time.monotonic()
                else:
                    result.failed += 1
        connection.close()

    s3 = boto3.client(
        "s3",
        endpoint_url=dev.ready["awsEndpoint"],
        region_name=dev.ready["region"],
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    )
    bucket = dev.ready["bucket"]
    read_keys: set[str] = set()

    def watch_once() -> None:
        pages = s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=f"dataset={dataset}/"
        )
        for page in pages:
            for item in page.get("Contents", []):
                if item["Key"] in read_keys:
                    continue
                read_keys.add(item["Key"])
                body = gzip.decompress(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
                now = time.monotonic()
                for line in body.splitlines():
                    start = line.find(b'"benchRequest":"')
                    if start >= 0:
                        marker = line[start + 16 : start + 48].decode()
                        with lock:
                            seen.setdefault(marker, now)

    def watcher() -> None:
        while not stop.is_set():
            watch_once()
            time.sleep(0.05)

    cpu_before = _cpu_seconds(dev.process.pid)
    own_before = time.process_time()
    watch = threading.Thread(target=watcher, daemon=True)
    watch.start()
    threads = [threading.Thread(target=producer, args=(n,)) for n in range(PRODUCERS)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    time.sleep(produce_seconds)
    stop.set()
    for thread in threads:
        thread.join()
    result.seconds = time.monotonic() - started
    result.dev_cpu_seconds = _cpu_seconds(dev.process.pid) - cpu_before
    result.load_cpu_seconds = time.process_time() - own_before
    result.load_average = os.getloadavg()[0]
    watch.join()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        watch_once()
        with lock:
            if all(marker in seen for marker in accepted):
                break
        time.sleep(0.1)
    result.requests = len(accepted)
    result.latencies = [max(0.0, seen[m] - t) for m, t in accepted.items() if m in seen]
    result.missing = sum(1 for m in accepted if m not in seen)
