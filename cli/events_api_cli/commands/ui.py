"""``events-api ui``: the web console over the stored events (contract section 11).

Without ``--stack`` it reads the local stack's bucket with DuckDB, as ``events-api query``
does; with ``--stack NAME`` it runs on Athena in the stack's workgroup with the caller's
credentials (nothing is deployed or exposed). It listens on loopback unless ``--host``
says otherwise, and then requires the token printed in its URL.
"""

from __future__ import annotations

import argparse
import json
import secrets
import signal
import sys
import threading
from types import FrameType
from typing import TYPE_CHECKING

from ..defaults import DEFAULT_HOST, DEFAULT_UI_PORT, LOCAL_STACK_NAME, UI_READY_PREFIX
from ..local.template import bucket_name

if TYPE_CHECKING:
    from ..explore.engines import AthenaEngine, LocalEngine


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "ui",
        help="a web console to explore the stored events (charts, events, traces)",
        description=(
            "Serve a web console over the stored events: pick datasets and a time range, "
            "search, filter, compute a count or a p95 grouped by a field, see it over time, "
            "open the events and follow a trace. Without --stack it reads the local stack "
            "(events-api dev) with DuckDB; with --stack it runs on Amazon Athena in the "
            "stack's workgroup and shows the bytes scanned and their cost. Read-only."
        ),
        epilog=(
            "When ready it prints one line: "
            f'{UI_READY_PREFIX}{{"url": "http://127.0.0.1:{DEFAULT_UI_PORT}/"}}. '
            "docs/console.md has the views and their URL parameters."
        ),
    )
    parser.add_argument("--stack", help="a deployed stack: run on Athena in its workgroup")
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help="address to listen on (default %(default)s); any other needs the printed token",
    )
    parser.add_argument(
        "--port", type=int, default=DEFAULT_UI_PORT, help="default %(default)s; 0 picks one"
    )
    parser.add_argument(
        "--bucket", help=f"the local events bucket (default {bucket_name(LOCAL_STACK_NAME)})"
    )
    parser.set_defaults(func=run)


def _error(message: str) -> int:
    print(f"events-api ui: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    from ..console.server import Console, allowed_hosts, is_loopback, serve
    from ..explore.engines import Engine
    from .aws_target import TargetError, prepare_environment

    prepare_environment()
    try:
        engine: Engine = athena_engine(args.stack) if args.stack else local_engine(args.bucket)
    except TargetError as exc:
        return _error(str(exc))
    token = None if is_loopback(args.host) else secrets.token_urlsafe(24)
    console = Console(engine, hosts=None, token=token)
    try:
        server = serve(console, args.host, args.port)
    except OSError as exc:
        return _error(f"cannot listen on {args.host}:{args.port}: {exc}")
    port = server.server_address[1]
    console.hosts = allowed_hosts(args.host, port)
    shown = "127.0.0.1" if args.host in {"0.0.0.0", "::"} else args.host  # noqa: S104
    shown = f"[{shown}]" if ":" in shown else shown
    url = f"http://{shown}:{port}/" + (f"?token={token}" if token else "")
    print(f"events-api ui: {engine.name}; Ctrl-C stops it", file=sys.stderr)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    print(UI_READY_PREFIX + json.dumps({"url": url}), flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        engine.close()
    return 0


def local_engine(bucket: str | None) -> LocalEngine:
    """The local stack's bucket (AWS_ENDPOINT_URL, else events-api dev's default) on DuckDB."""
    from events_api.aws import clients as aws_clients

    from ..explore.engines import LocalEngine
    from ..local.query_engine import BucketMirror
    from .aws_target import use_local_stack_by_default

    use_local_stack_by_default()
    return LocalEngine(BucketMirror(aws_clients.s3(), bucket or bucket_name(LOCAL_STACK_NAME)))


def athena_engine(stack: str) -> AthenaEngine:
    """Athena in the stack's workgroup (its Outputs), with the caller's credentials."""
    import boto3

    from events_api.analytics.athena import AthenaRunner

    from ..explore.engines import AthenaEngine
    from .aws_target import stack_output

    runner = AthenaRunner(
        boto3.client("athena"),
        stack_output(stack, "AthenaWorkGroup"),
        stack_output(stack, "AthenaDatabase"),
    )
    return AthenaEngine(runner, boto3.client("s3"), stack_output(stack, "BucketName"), stack)
