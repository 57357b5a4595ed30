"""``events-api dev``: the whole pipeline on one machine, in the foreground.

moto's server stands in for AWS; the local gateway feeds the real ingest function; a poller
feeds the real consumer function from the buffer; stored events land in moto's S3.
Ctrl-C or SIGTERM stops it all cleanly (exit code 0).
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import signal
import sys
import threading
import warnings
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import orjson

from ..defaults import (
    DEFAULT_AWS_PORT,
    DEFAULT_GATEWAY_PORT,
    DEFAULT_HOST,
    LOCAL_KEYS_PATH,
    LOCAL_REGION,
    LOCAL_SERVICE_NAME,
    READY_PREFIX,
)

if TYPE_CHECKING:
    from .moto_aws import Resources

log = logging.getLogger("events_api_cli.dev")

INGEST_FUNCTION = "events-api-local-ingest"
OTLP_FUNCTION = "events-api-local-otlp"
CONSUMER_FUNCTION = "events-api-local-consumer"
#: How long after its end an hour counts as closed for the local compaction.
COMPACT_GRACE = timedelta(minutes=15)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "dev",
        help="run the whole pipeline locally (gateway, buffer, consumer, S3) on moto",
        description=(
            "Run the events API on this machine: moto's server stands in for AWS, a local "
            "API Gateway calls the real ingest function, and a poller feeds the real "
            "consumer function, so stored events appear in moto's S3 within seconds. "
            "Runs in the foreground until Ctrl-C."
        ),
        epilog=(
            "The functions log at POWERTOOLS_LOG_LEVEL (WARNING unless set) and emit no "
            "metrics unless POWERTOOLS_METRICS_DISABLED=false. Ports 0 pick free ports."
        ),
    )
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help="address to bind (default %(default)s)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_GATEWAY_PORT,
        help="HTTP port of the API (default %(default)s, as `sam local start-api`)",
    )
    parser.add_argument(
        "--aws-port",
        type=int,
        default=DEFAULT_AWS_PORT,
        help="port of the local AWS endpoint (default %(default)s, as LocalStack)",
    )
    parser.add_argument(
        "--buffer",
        choices=("kinesis", "sqs"),
        default="kinesis",
        help="buffer between ingest and storage (default %(default)s)",
    )
    parser.add_argument(
        "--front-door",
        choices=("http-api", "function-url"),
        default="http-api",
        help=(
            "the events the ingest function gets: an API Gateway HTTP API's or a Lambda "
            "function URL's (the template's FrontDoor; default %(default)s)"
        ),
    )
    parser.add_argument(
        "--api-key",
        metavar="KEY",
        help="register this key (from `events-api keys generate`) instead of a new one",
    )
    parser.add_argument(
        "--repo",
        type=Path,
        metavar="PATH",
        help="the events-api checkout holding functions/ (found automatically by default)",
    )
    parser.add_argument(
        "--compact-every",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="compact closed hours into Parquet this often (default %(default)s; 0: never)",
    )
    parser.set_defaults(func=run)


class _ComponentFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.component = record.name.rsplit(".", 1)[-1]
        return True


def _configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_ComponentFilter())
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(component)s: %(message)s", datefmt="%H:%M:%S")
    )
    cli_log = logging.getLogger("events_api_cli")
    cli_log.addHandler(handler)
    cli_log.setLevel(logging.INFO)
    cli_log.propagate = False


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def aws_loopback_for(host: str) -> str:
    """The loopback address of the same family as an exposed --host."""
    return "::1" if ":" in host else "127.0.0.1"


def _display_host(host: str) -> str:
    if host in ("", "0.0.0.0"):  # noqa: S104 (a comparison: wildcard binds are shown as loopback)
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


class _Shutdown:
    """Set by SIGINT / SIGTERM; the main thread waits on it."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if self.event.is_set() and signum == signal.SIGINT:
            # A second Ctrl-C: the user does not want to wait for a clean stop.
            os._exit(130)
        self.event.set()

    def install(self) -> None:
        signal.signal(signal.SIGINT, self)
        signal.signal(signal.SIGTERM, self)

    def wait(self) -> None:
        # A timed wait keeps the main thread ready to run signal handlers.
        while not self.event.wait(0.5):
            pass


def run(args: argparse.Namespace) -> int:
    from events_api.ingest.keys import generate_key, is_well_formed

    from . import lambda_runtime

    if args.api_key is not None and not is_well_formed(args.api_key):
        print(
            "events-api dev: --api-key is not a well-formed key (evk_ + 32 base62 characters "
            "+ checksum); make one with `events-api keys generate`",
            file=sys.stderr,
        )
        return 2
    try:
        repository = lambda_runtime.find_repository(args.repo)
    except lambda_runtime.RepositoryNotFound as exc:
        print(f"events-api dev: {exc}", file=sys.stderr)
        return 2
    _configure_logging()
    shutdown = _Shutdown()
    shutdown.install()
    return _serve(args, repository, args.api_key or generate_key(), shutdown)


def _serve(args: argparse.Namespace, repository: Path, api_key: str, shutdown: _Shutdown) -> int:
    from . import faults, log_subscriptions, moto_aws, template_limits
    from .api_gateway import FrontDoor
    from .compaction import PeriodicCompaction
    from .function_output import drop_emf_when_metrics_disabled
    from .gateway import Gateway, GatewayServer, GatewayThread
    from .lambda_worker import WorkerFunction
    from .poller import KinesisPoller, Poller, SqsPoller

    # moto holds the keys and the stored events, with no authentication at all: it stays on
    # loopback whatever --host says; only the API (which checks keys) may be exposed.
    aws_host = args.host if is_loopback(args.host) else aws_loopback_for(args.host)
    moto = moto_aws.MotoServer(aws_host, args.aws_port)
    try:
        moto.start()
    except OSError as exc:
        print(
            f"events-api dev: cannot serve AWS on {aws_host}:{args.aws_port} ({exc}); "
            "pick another --aws-port (0 picks a free one)",
            file=sys.stderr,
        )
        return 1
    gateway_thread: GatewayThread | None = None
    poller: Poller | None = None
    workers: list[WorkerFunction] = []
    compaction: PeriodicCompaction | None = None
    log_sources: log_subscriptions.LocalLogSubscriptions | None = None
    try:
        endpoint = moto.endpoint_url
        moto_aws.use_local_aws(endpoint)
        resources = moto_aws.create_resources(args.buffer, endpoint)
        # The functions read these on their first invocation, Powertools at import.
        os.environ.update(resources.environment(LOCAL_KEYS_PATH))
        os.environ["POWERTOOLS_SERVICE_NAME"] = LOCAL_SERVICE_NAME
        os.environ["POWERTOOLS_METRICS_NAMESPACE"] = "EventsApi"
        os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
        if drop_emf_when_metrics_disabled():
            warnings.filterwarnings("ignore", message="No application metrics to publish")
        key_id = moto_aws.register_key(LOCAL_KEYS_PATH, api_key, "events-api dev")
        # Test-only: EVENTS_API_DEV_FAULTS fails some buffer entries and S3 writes (faults.py).
        # The functions' workers install them on their own clients (lambda_worker.py).
        if os.environ.get(faults.ENV):
            try:
                faults.policy_from_env(os.environ)
            except ValueError as exc:
                print(f"events-api dev: {exc}", file=sys.stderr)
                return 2
            log.warning("test-only faults on: %s=%s", faults.ENV, os.environ[faults.ENV])

        # Each function in a worker process held to its MemorySize and Timeout in the
        # template, so that what would be killed in AWS is killed here too.
        template = repository / "template.yaml"
        for name, function, logical_id in (
            (INGEST_FUNCTION, "ingest", "IngestFunction"),
            (OTLP_FUNCTION, "otlp", "OtlpFunction"),
            (CONSUMER_FUNCTION, "consumer", "ConsumerFunction"),
        ):
            limits = template_limits.function_limits(template, logical_id)
            workers.append(
                WorkerFunction(
                    name, repository, function, limits.timeout_seconds, limits.memory_mb
                ).start()
            )
        ingest, otlp, consumer = workers
        try:
            front_door = FrontDoor(args.front_door)
            gateway = Gateway(ingest, front_door=front_door, otlp=otlp)
            server = GatewayServer((args.host, args.port), gateway, _access_log)
        except OSError as exc:
            print(
                f"events-api dev: cannot serve the API on {args.host}:{args.port} ({exc}); "
                "pick another --port (0 picks a free one)",
                file=sys.stderr,
            )
            return 1
        gateway_thread = GatewayThread(server)
        sqs = moto_aws.client("sqs", endpoint)
        if resources.buffer == "kinesis":
            poller = KinesisPoller(
                moto_aws.client("kinesis", endpoint),
                moto_aws.client("s3", endpoint),
                resources.stream_name,
                resources.stream_arn,
                resources.bucket,
                consumer,
            )
        else:
            poller = SqsPoller(sqs, resources.queue_url, resources.queue_arn, consumer)
        poller.start()
        # CloudWatch Logs: every log group subscribed, as LogSubscription Account would.
        log_sources = log_subscriptions.start(
            endpoint, resources, [w.name for w in workers], repository
        )
        gateway_thread.start()
        if args.compact_every > 0:
            compaction = PeriodicCompaction(resources.bucket, args.compact_every, COMPACT_GRACE)
            compaction.start()

        api = f"http://{_display_host(args.host)}:{server.port}"
        aws = f"http://{_display_host(moto.host)}:{moto.port}"
        if not is_loopback(args.host):
            print(
                f"events-api dev: the API listens on {args.host} (reachable from other "
                f"machines); the local AWS endpoint, which holds the keys and the stored "
                f"events without any authentication, stays on {moto.host} only.",
                file=sys.stderr,
                flush=True,
            )
        _announce(api, aws, api_key, key_id, resources, front_door)
        shutdown.wait()
        log.info("stopping")
    finally:
        if gateway_thread is not None:
            gateway_thread.stop()
        if poller is not None:
            poller.stop()
        if log_sources is not None:
            log_sources.stop()
        if compaction is not None:
            compaction.stop()
        for worker in workers:
            worker.stop()
        if os.environ.get(faults.ENV):
            counts: dict[str, int] = {}
            for worker in workers:
                for fault, value in worker.fault_counts.items():
                    counts[fault] = counts.get(fault, 0) + value
            summary = orjson.dumps(dict(sorted(counts.items()))).decode()
            logging.getLogger("events_api_cli.faults").warning(
                "%s%s", faults.SUMMARY_PREFIX, summary
            )
        moto.stop()
    log.info("stopped")
    return 0


def _access_log(source: str, method: str, path: str, status: int, millis: float) -> None:
    logging.getLogger("events_api_cli.gateway").info(
        "%s %s %s -> %d (%.0f ms)", source, method, path, status, millis
    )


def _announce(
    api: str, aws: str, key: str, key_id: str, resources: Resources, front_door: str
) -> None:
    buffer = (
        f"Kinesis stream {resources.stream_name}"
        if resources.buffer == "kinesis"
        else f"SQS queue {resources.queue_url}"
    )
    curl = (
        f"curl -i -X POST {api}/v1/logs -H 'x-api-key: {key}' "
        "-H 'content-type: application/json' -d '[{\"message\":\"hello\"}]'"
    )
    lines = [
        "events-api dev is running (Ctrl-C to stop)",
        f"  API:          POST {api}/v1/{{dataset}}  ({front_door} events)",
        f"  OTLP/HTTP:    OTEL_EXPORTER_OTLP_ENDPOINT={api}/otlp  (logs, traces, metrics)",
        f"  API key:      {key}  (id {key_id})",
        f"  buffer:       {buffer}",
        f"  stored in:    s3://{resources.bucket}/dataset=.../dt=.../hour=.../",
        f"  AWS endpoint: AWS_ENDPOINT_URL={aws}  (region {LOCAL_REGION}, any credentials)",
        "",
        "Send an event:",
        f"  {curl}",
        "See what was stored:",
        f"  AWS_ENDPOINT_URL={aws} aws s3 ls s3://{resources.bucket} --recursive",
        "",
    ]
    ready = {
        "api": api,
        "awsEndpoint": aws,
        "apiKey": key,
        "keyId": key_id,
        "keysPath": LOCAL_KEYS_PATH,
        "buffer": resources.buffer,
        "frontDoor": front_door,
        "bucket": resources.bucket,
        "region": LOCAL_REGION,
        "streamName": resources.stream_name,
        "queueUrl": resources.queue_url,
    }
    print("\n".join(lines), flush=True)
    print(READY_PREFIX + orjson.dumps(ready).decode(), flush=True)
