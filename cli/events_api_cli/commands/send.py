"""``events-api send DATASET [FILE ...]``: send NDJSON or JSON-array files (``-`` is stdin).

Events are read as text and sent as they are (never re-encoded), in gzip'd batches under the
API's limits, with retries (see ``producer``). Exit code 0 only when every event was
accepted; rejected or undelivered events are listed on stderr with file and line.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

from ..defaults import DEFAULT_GATEWAY_PORT, DEFAULT_HOST

DEFAULT_URL = f"http://{DEFAULT_HOST}:{DEFAULT_GATEWAY_PORT}"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "send",
        help="send events from NDJSON / JSON files or stdin",
        description=(
            "Send events to a dataset. Each FILE is NDJSON (one object per line) or a JSON "
            "array of objects; '-' (or no FILE) reads stdin. Exits non-zero if any event "
            "was rejected or not delivered."
        ),
    )
    parser.add_argument("dataset")
    parser.add_argument("files", nargs="*", metavar="FILE", default=["-"])
    parser.add_argument(
        "--url",
        help=f"API base URL (default: $EVENTS_API_URL, the stack's ApiUrl, or {DEFAULT_URL})",
    )
    parser.add_argument("--stack", help="a deployed stack whose ApiUrl output to use")
    parser.add_argument("--api-key", help="the API key (default: $EVENTS_API_KEY)")
    parser.add_argument("--service", help="x-service header for every event")
    parser.add_argument("--namespace", help="x-namespace header for every event")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


@dataclass(frozen=True, slots=True)
class Origin:
    file: str
    line: int


def read_events(paths: list[str]) -> Iterator[tuple[Origin, bytes]]:
    """Each event's raw text with where it came from; a JSON array file is split raw."""
    import msgspec

    for path in paths:
        name = "<stdin>" if path == "-" else path
        data = sys.stdin.buffer.read() if path == "-" else open(path, "rb").read()  # noqa: SIM115
        stripped = data.lstrip()
        if stripped.startswith(b"["):
            try:
                elements = msgspec.json.decode(data, type=list[msgspec.Raw])
            except (msgspec.DecodeError, RecursionError) as exc:
                raise SystemExit(f"events-api: {name} is not a valid JSON array: {exc}") from None
            for number, element in enumerate(elements, 1):
                yield Origin(name, number), bytes(element)
            continue
        for number, line in enumerate(data.split(b"\n"), 1):
            if line.strip():
                yield Origin(name, number), line


def _progress(started: float, stream: object) -> object:
    def show(report: object) -> None:
        elapsed = max(time.monotonic() - started, 1e-6)
        events = getattr(report, "events", 0)
        sent = getattr(report, "bytes_sent", 0)
        line = (
            f"\r  {events:>10,} events  {sent / 1e6:8.2f} MB sent  "
            f"{events / elapsed:>9,.0f} events/s  {sent / 1e6 / elapsed:6.2f} MB/s"
        )
        print(line, end="", file=stream, flush=True)  # type: ignore[call-overload]

    return show


def run(args: argparse.Namespace) -> int:
    from ..client.producer import EventsClient
    from .aws_target import TargetError, prepare_environment, stack_output

    api_key = args.api_key or os.environ.get("EVENTS_API_KEY")
    if not api_key:
        print("events-api: give --api-key or set EVENTS_API_KEY", file=sys.stderr)
        return 2
    try:
        if args.url:
            url = args.url
        elif args.stack:
            prepare_environment()
            url = stack_output(args.stack, "ApiUrl")
        else:
            url = os.environ.get("EVENTS_API_URL", DEFAULT_URL)
    except TargetError as exc:
        print(f"events-api: {exc}", file=sys.stderr)
        return 2
    origins: list[Origin] = []

    def events() -> Iterator[bytes]:
        for origin, text in read_events(args.files):
            origins.append(origin)
            yield text

    started = time.monotonic()
    show = None if args.quiet or not sys.stderr.isatty() else _progress(started, sys.stderr)
    client = EventsClient(url, api_key)
    try:
        report = client.send(
            args.dataset,
            events(),
            service=args.service,
            namespace=args.namespace,
            progress=show,  # type: ignore[arg-type]
        )
    finally:
        client.close()
    if show is not None:
        print(file=sys.stderr)
    elapsed = time.monotonic() - started
    for rejection in report.rejected[:1000]:
        origin = origins[rejection.index]
        print(
            f"rejected: event {rejection.index} ({origin.file}:{origin.line}): {rejection.reason}",
            file=sys.stderr,
        )
    if len(report.rejected) > 1000:
        print(f"... and {len(report.rejected) - 1000} more rejected", file=sys.stderr)
    rate = report.events / elapsed if elapsed > 0 else 0.0
    print(
        f"sent {report.events} events to {args.dataset}: {report.accepted} accepted, "
        f"{len(report.rejected)} rejected, {report.requests} requests "
        f"({report.retries} retries), {report.bytes_sent / 1e6:.2f} MB in {elapsed:.1f}s "
        f"({rate:,.0f} events/s)",
        file=sys.stderr,
    )
    return 0 if report.ok else 1
