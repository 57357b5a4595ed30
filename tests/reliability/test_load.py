"""Load: a bounded asyncio load test against `events-api dev` (loopback only).

Shapes, each open-loop (requests start on schedule, latency counted from the scheduled
start, so a slow server cannot hide its queue):

- steady: good producers at a fixed rate;
- spike: a steady trickle, then a burst of concurrent requests at once;
- bad-key flood: a flood of malformed and well-formed unknown keys alongside good traffic.

Reported per shape: requests, statuses, error rate, p50 / p99 / max latency. Afterwards a
full scan of S3: every event of every 202 must be stored. Short form in ``make test``,
longer and heavier in ``make reliability``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest

from events_api.ingest.keys import generate_key
from tests.e2e.conftest import DevStack
from tests.reliability.local_stack import local_stack, scan, wait_until
from tests.reliability.support import SCALE, record, scaled

EVENTS_PER_REQUEST = 50
DATASET = "load"


class Connection:
    """A minimal keep-alive HTTP/1.1 client connection (the gateway sends Content-Length)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, path: str, headers: dict[str, str], body: bytes) -> int:
        for attempt in (1, 2):
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            assert self.reader is not None
            head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            self.writer.write(
                (
                    f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                    f"Content-Length: {len(body)}\r\n{head}\r\n"
                ).encode("latin-1")
                + body
            )
            try:
                await self.writer.drain()
                status_line = await self.reader.readline()
                if not status_line:
                    raise ConnectionResetError("closed before answering")
                status = int(status_line.split()[1])
                length, close = 0, False
                while True:
                    line = await self.reader.readline()
                    if line in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = line.decode("latin-1").partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value.strip())
                    elif name.strip().lower() == "connection" and "close" in value.lower():
                        close = True
                await self.reader.readexactly(length)
                if close:
                    await self.close()
                return status
            except (ConnectionError, asyncio.IncompleteReadError):
                await self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(ConnectionError):
                await self.writer.wait_closed()
        self.reader = self.writer = None


@dataclass
class Shape:
    name: str
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    expected_statuses: frozenset[int] = frozenset({202})
    failures: int = 0

    def figures(self) -> dict[str, Any]:
        ordered = sorted(self.latencies)

        def percentile(p: float) -> float:
            if not ordered:
                return 0.0
            return round(1000 * ordered[min(len(ordered) - 1, int(p * len(ordered)))], 1)

        total = sum(self.statuses.values()) + self.failures
        errors = total - sum(self.statuses[status] for status in self.expected_statuses)
        return {
            "requests": total,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "connection_failures": self.failures,
            "error_rate": round(errors / total, 4) if total else 0.0,
            "p50_ms": percentile(0.50),
            "p99_ms": percentile(0.99),
            "max_ms": round(1000 * ordered[-1], 1) if ordered else 0.0,
        }


class Load:
    def __init__(self, stack: DevStack, run: str, connections: int) -> None:
        parts = urlsplit(stack.api)
        self.host, self.port = parts.hostname or "127.0.0.1", int(parts.port or 80)
        self.key = stack.api_key
        self.run = run
        self.pool: asyncio.Queue[Connection] = asyncio.Queue()
        for _ in range(connections):
            self.pool.put_nowait(Connection(self.host, self.port))
        self.accepted: set[tuple[str, int, int]] = set()
        self.sequence = 0

    def good_body(self) -> tuple[bytes, list[tuple[str, int, int]]]:
        self.sequence += 1
        ids = [(self.run, self.sequence, n) for n in range(EVENTS_PER_REQUEST)]
        body = orjson.dumps(
            [
                {"run": r, "producer": p, "seq": n, "message": f"load {p}/{n}", "level": "info"}
                for r, p, n in ids
            ]
        )
        return gzip.compress(body, 1), ids

    async def one(self, shape: Shape, at: float, key: str | None = None) -> None:
        delay = at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        good = key is None
        body, ids = self.good_body() if good else (b'[{"a":1}]', [])
        headers = {"content-type": "application/json", "x-api-key": key or self.key}
        if good:
            headers["content-encoding"] = "gzip"
        connection = await self.pool.get()
        try:
            status = await connection.request(f"/v1/{DATASET}", headers, body)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            shape.failures += 1
            return
        finally:
            self.pool.put_nowait(connection)
        shape.latencies.append(time.monotonic() - at)
        shape.statuses[status] += 1
        if good and status == 202:
            self.accepted.update(ids)

    async def steady(self, shape: Shape, rate: float, seconds: float, key: Any = None) -> None:
        start = time.monotonic() + 0.05
        count = int(rate * seconds)
        keys = key if callable(key) else (lambda: key)
        await asyncio.gather(*(self.one(shape, start + n / rate, keys()) for n in range(count)))

    async def burst(self, shape: Shape, size: int, after: float) -> None:
        at = time.monotonic() + after
        await asyncio.gather(*(self.one(shape, at) for _ in range(size)))

    async def close(self) -> None:
        while not self.pool.empty():
            await self.pool.get_nowait().close()


def bad_keys() -> Iterator[str]:
    n = 0
    while True:
        n += 1
        yield generate_key() if n % 2 else f"evk_not-a-key-{n}"


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("buffer", ["kinesis", "sqs"])
def test_load_shapes(buffer: str, tmp_path) -> None:
    run = f"load-{buffer}-{int(time.time())}"
    seconds = scaled(3, 30)
    steady_rate = scaled(40, 100)
    spike = scaled(100, 400)
    # The local stack (one Python process) serves about 250 small requests a second here:
    # the flood sits near that, next to good traffic, rather than far past it.
    flood_rate = scaled(100, 200)
    shapes = {
        "steady": Shape("steady"),
        "spike": Shape("spike"),
        "flood-good": Shape("flood-good"),
        # Malformed keys and well-formed unknown ones alike: 401 (the unknown ones from the
        # key index in memory), never 429.
        "flood-bad-keys": Shape("flood-bad-keys", expected_statuses=frozenset({401})),
    }
    with local_stack(buffer, tmp_path / "dev") as stack:

        async def main() -> dict[str, float]:
            load = Load(stack, run, connections=64)
            timings = {}
            started = time.monotonic()
            await load.steady(shapes["steady"], steady_rate, seconds)
            timings["steady"] = time.monotonic() - started
            started = time.monotonic()
            await asyncio.gather(
                load.steady(shapes["spike"], steady_rate / 4, seconds),
                load.burst(shapes["spike"], spike, after=seconds / 2),
            )
            timings["spike"] = time.monotonic() - started
            started = time.monotonic()
            keys = bad_keys()
            await asyncio.gather(
                load.steady(shapes["flood-good"], steady_rate / 4, seconds),
                load.steady(shapes["flood-bad-keys"], flood_rate, seconds, key=lambda: next(keys)),
            )
            timings["flood"] = time.monotonic() - started
            await load.close()
            accepted.update(load.accepted)
            return timings

        accepted: set[tuple[str, int, int]] = set()
        timings = asyncio.run(main())
        found: dict[str, Any] = {}

        def all_stored() -> bool:
            found["scan"] = scan(stack, [f"dataset={DATASET}/"], run)
            return accepted <= set(found["scan"].counts)

        wait_until(all_stored, timeout=scaled(120, 900), idle=1.0, stack=stack)
    stored = found["scan"]
    missing = accepted - set(stored.counts)
    figures = {
        "buffer": buffer,
        "shapes": {name: shape.figures() for name, shape in shapes.items()},
        "shape_seconds": {k: round(v, 1) for k, v in timings.items()},
        "settings": {
            "seconds_per_shape": seconds,
            "steady_rate": steady_rate,
            "spike_burst": spike,
            "bad_key_rate": flood_rate,
            "events_per_request": EVENTS_PER_REQUEST,
        },
        "events_accepted": len(accepted),
        "events_stored_distinct": len(set(stored.counts)),
        "missing": len(missing),
        "duplicates": sum(n - 1 for n in stored.counts.values() if n > 1),
        "command": "make reliability"
        if SCALE == "long"
        else "pytest tests/reliability/test_load.py",
    }
    record(f"load-{buffer}", figures)
    assert missing == set()
    for name, shape in shapes.items():
        summary = shape.figures()
        assert summary["connection_failures"] == 0, (name, summary)
        assert not any(s.startswith("5") for s in summary["statuses"]), (name, summary)
    assert shapes["flood-bad-keys"].figures()["error_rate"] == 0.0
