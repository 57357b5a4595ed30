"""Shared by the reliability suite: scale, figures written for docs/reliability.md, events
with unique (run, seq) ids, and observers of what the buffer confirmed."""

from __future__ import annotations

import base64
import json
import os
import random
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from events_api.aws import http_client as aws_http
from events_api_cli.local.faults import NO_FAULT, CallFault
from tests.support import ROOT

#: ``short`` (the default, what ``make test`` runs) or ``long`` (``make reliability``).
SCALE = os.environ.get("RELIABILITY_SCALE", "short").strip().lower() or "short"
if SCALE not in ("short", "long"):
    raise ValueError(f"RELIABILITY_SCALE must be short or long, got {SCALE!r}")
#: Where the figures go: one folder per scale, so that ``make test`` runs (short) never
#: overwrite the figures of ``make reliability`` (long), which docs/reliability.md shows.
RESULTS = Path(os.environ.get("RELIABILITY_RESULTS", ROOT / "build" / f"reliability-{SCALE}"))


def scaled(short: int, long: int) -> int:
    return long if SCALE == "long" else short


def record(name: str, figures: dict[str, Any]) -> None:
    """Write one suite's figures (read by ``python -m tests.reliability.report``)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    figures = {"scale": SCALE, **figures}
    (RESULTS / f"{name}.json").write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")


def make_events(run: str, first: int, count: int, pad: int = 0, seed: int = 0) -> list[bytes]:
    """Events with unique (run, seq) ids; ``pad`` bytes of incompressible text each."""
    rng = random.Random(f"{run}/{first}/{seed}")
    out = []
    for seq in range(first, first + count):
        event: dict[str, Any] = {"run": run, "seq": seq, "message": f"event {seq}"}
        if pad:
            event["pad"] = base64.b64encode(rng.randbytes(pad * 3 // 4)).decode()
        out.append(orjson.dumps(event))
    return out


def event_ids(lines: Iterable[bytes]) -> Counter[tuple[str, int]]:
    """(run, seq) of each event (stored or sent), counted."""
    out: Counter[tuple[str, int]] = Counter()
    for line in lines:
        event = orjson.loads(line)
        out[(event["run"], event["seq"])] += 1
    return out


class ScriptedPolicy:
    """Faults in a fixed order: ``calls`` for the first calls, then ``then`` for every call."""

    def __init__(self, calls: Sequence[CallFault] = (), then: CallFault = NO_FAULT) -> None:
        self._calls = list(calls)
        self._then = then
        self._lock = threading.Lock()
        self.seen = 0

    def _next(self) -> CallFault:
        with self._lock:
            self.seen += 1
            return self._calls.pop(0) if self._calls else self._then

    def buffer_call(self, service: str, entries: int) -> CallFault:
        return self._next()

    def s3_put(self, key: str) -> CallFault:
        return self._next()


@dataclass
class BufferObserver:
    """What the ingest side sent and what the buffer confirmed to it, entry by entry.

    Installed as the first hook of the buffer's client: it sees every entry before a fault
    removes it, and the answer the publisher sees (a timeout raised by a later hook's
    ``after`` hides that answer, so nothing is confirmed then).
    """

    service: str
    sent: set[str] = field(default_factory=set)
    confirmed: set[str] = field(default_factory=set)
    calls: int = 0

    def install(self) -> BufferObserver:
        aws_http.client(self.service).add_hook(self, first=True)
        return self

    def uninstall(self) -> None:
        aws_http.client(self.service).remove_hook(self)

    def reset(self) -> None:
        self.sent.clear()
        self.confirmed.clear()
        self.calls = 0

    @staticmethod
    def _data(entry: dict[str, Any]) -> str:
        if "Data" in entry:
            return str(entry["Data"])
        return str(entry["MessageAttributes"]["record"]["BinaryValue"])

    def before(self, call: aws_http.Call) -> None:
        self.calls += 1
        entries = list(call.document["Records" if self.service == "kinesis" else "Entries"])
        self.sent.update(self._data(e) for e in entries)
        call.context["observer_entries"] = entries

    def after(self, call: aws_http.Call, answer: dict[str, Any]) -> None:
        entries = call.context.get("observer_entries") or []
        if self.service == "kinesis":
            results = answer.get("Records", [])
            if len(results) != len(entries):
                return
            self.confirmed.update(
                self._data(e)
                for e, r in zip(entries, results, strict=True)
                if r.get("SequenceNumber") and not r.get("ErrorCode")
            )
        else:
            ok = {s["Id"] for s in answer.get("Successful", [])}
            failed = {f["Id"] for f in answer.get("Failed", [])}
            self.confirmed.update(
                self._data(e) for e in entries if e["Id"] in ok and e["Id"] not in failed
            )

    def all_confirmed(self) -> bool:
        return bool(self.sent) and self.sent <= self.confirmed


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
