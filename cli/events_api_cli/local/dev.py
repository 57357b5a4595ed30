"""``events-api dev``: the whole pipeline on one machine, in the foreground.

The stack is template.yaml's, for the chosen parameters (local/template): moto's server
holds its resources (local/deploy), each function runs in a worker with the environment,
memory, timeout and role the template gives it, and every call a role makes is held to
its policies (local/iam). The local gateway serves the front door's routes, a poller per
event source mapping feeds the consumer with the mapping's settings, the schedules fire,
and the functions' output goes to their log groups. Ctrl-C or SIGTERM stops it all
cleanly (exit code 0).
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import orjson

from ..defaults import (
    DEFAULT_AWS_PORT,
    DEFAULT_GATEWAY_PORT,
    DEFAULT_HOST,
    LOCAL_REGION,
    LOCAL_STACK_NAME,
    READY_PREFIX,
)

if TYPE_CHECKING:
    from .template.stack import Stack

log = logging.getLogger("events_api_cli.dev")

#: The CLI's spelling of the template parameters it has options for.
BUFFERS = {"kinesis": "Kinesis", "sqs": "SQS"}
FRONT_DOORS = {"http-api": "HttpApi", "function-url": "FunctionUrl"}
#: Test-only: where the enforcer's record of the roles' calls is written at stop.
IAM_RECORD_ENV = "EVENTS_API_DEV_IAM_RECORD"


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
            "Everything about the functions comes from template.yaml for the parameters "
            "given (--buffer, --front-door, --parameter). Their output goes to their log "
            "groups in the local CloudWatch Logs; the console shows warnings and errors. "
            "Ports 0 pick free ports."
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
        choices=sorted(BUFFERS),
        help="buffer between ingest and storage (the template's BufferType; its default)",
    )
    parser.add_argument(
        "--front-door",
        choices=sorted(FRONT_DOORS),
        help=(
            "the events the ingest function gets: an API Gateway HTTP API's or a Lambda "
            "function URL's (the template's FrontDoor; its default)"
        ),
    )
    parser.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help=(
            "any other template parameter, as `sam deploy --parameter-overrides` (repeatable; "
            "LogSubscription is Account unless given: every local log group is stored)"
        ),
    )
    parser.add_argument(
        "--stack-name",
        default=LOCAL_STACK_NAME,
        help="the stack's name, which its resources' names follow (default %(default)s)",
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
        default=None,
        metavar="SECONDS",
        help=(
            "fire the template's schedules (the hourly compaction) this often instead of "
            "at their expressions (0: never)"
        ),
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


def template_parameters(args: argparse.Namespace) -> dict[str, str]:
    """The template's parameter values from the options (ValueError when they disagree)."""
    values: dict[str, str] = {}
    for item in args.parameter:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ValueError(f"--parameter {item!r} is not NAME=VALUE")
        values[name] = value
    for option, name, spelled in (
        (args.buffer, "BufferType", BUFFERS),
        (args.front_door, "FrontDoor", FRONT_DOORS),
    ):
        if option is None:
            continue
        if name in values and values[name] != spelled[option]:
            raise ValueError(f"--parameter {name}={values[name]} contradicts its own option")
        values[name] = spelled[option]
    # Contract §10: locally every log group is stored, as LogSubscription Account stores them.
    values.setdefault("LogSubscription", "Account")
    return values


def run(args: argparse.Namespace) -> int:
    from events_api.ingest.keys import generate_key, is_well_formed

    from . import lambda_runtime
    from .template import TemplateError, load_stack

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
    try:
        stack = load_stack(
            repository / "template.yaml",
            stack_name=args.stack_name,
            parameters=template_parameters(args),
            region=LOCAL_REGION,
        )
    except ValueError as exc:
        print(f"events-api dev: {exc}", file=sys.stderr)
        return 2
    except TemplateError as exc:
        print(
            f"events-api dev: template.yaml cannot be deployed: {exc.resource}: "
            f"{exc.property_path}: {exc.reason}",
            file=sys.stderr,
        )
        return 2
    _configure_logging()
    shutdown = _Shutdown()
    shutdown.install()
    return _serve(args, stack, args.api_key or generate_key(), shutdown)


def _serve(args: argparse.Namespace, stack: Stack, api_key: str, shutdown: _Shutdown) -> int:
    from . import faults, moto_aws
    from .api_gateway import FrontDoor
    from .deploy import NameCollision, deploy
    from .iam.enforcer import Authority
    from .iam.policy import NamedDocument
    from .log_subscriptions import SubscriptionRefused
    from .running import RunningStack

    authority = Authority(stack.account)
    record = os.environ.get(IAM_RECORD_ENV)
    recorder = None
    if record:
        from .iam.calls import CallRecorder

        recorder = CallRecorder(stack)
        authority.listeners.append(recorder)
    # moto holds the keys and the stored events, with no authentication at all: it stays on
    # loopback whatever --host says; only the API (which checks keys) may be exposed.
    aws_host = args.host if is_loopback(args.host) else aws_loopback_for(args.host)
    moto = moto_aws.MotoServer(aws_host, args.aws_port, authority)
    try:
        moto.start()
    except OSError as exc:
        print(
            f"events-api dev: cannot serve AWS on {aws_host}:{args.aws_port} ({exc}); "
            "pick another --aws-port (0 picks a free one)",
            file=sys.stderr,
        )
        return 1
    running: RunningStack | None = None
    try:
        endpoint = moto.endpoint_url
        moto_aws.use_local_aws(endpoint)
        moto_aws.warm_up(endpoint)
        try:
            deployed = deploy(stack, lambda service: moto_aws.client(service, endpoint))
        except NameCollision as exc:
            print(f"events-api dev: stack {stack.name} cannot be created: {exc}", file=sys.stderr)
            return 2
        for bucket in stack.buckets.values():
            if bucket.policy is not None:
                authority.add_resource_policy(
                    bucket.arn, NamedDocument(f"{bucket.logical_id} bucket policy", bucket.policy)
                )
        keys_path = str(stack.outputs["ApiKeysPath"])
        key_id = moto_aws.register_key(keys_path, api_key, "events-api dev")
        # Test-only: EVENTS_API_DEV_FAULTS fails some buffer entries and S3 writes (faults.py).
        # The functions' workers install them on their own clients (lambda_worker.py).
        if os.environ.get(faults.ENV):
            try:
                faults.policy_from_env(os.environ)
            except ValueError as exc:
                print(f"events-api dev: {exc}", file=sys.stderr)
                return 2
            log.warning("test-only faults on: %s=%s", faults.ENV, os.environ[faults.ENV])
        front_door = FrontDoor.HTTP_API if stack.routes else FrontDoor.FUNCTION_URL
        running = RunningStack(stack, authority, endpoint, deployed, args.compact_every)
        try:
            refused = running.start_functions()
            if refused:
                print(
                    f"events-api dev: stack {stack.name} cannot be created: {refused}",
                    file=sys.stderr,
                )
                return 2
            server = running.serve_gateway(args.host, args.port, front_door, _access_log)
        except OSError as exc:
            print(
                f"events-api dev: cannot serve the API on {args.host}:{args.port} ({exc}); "
                "pick another --port (0 picks a free one)",
                file=sys.stderr,
            )
            return 1
        try:
            running.start_pollers_and_schedules()
        except SubscriptionRefused as exc:
            print(f"events-api dev: stack {stack.name} cannot be created: {exc}", file=sys.stderr)
            return 2

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
        _announce(api, aws, api_key, key_id, stack, front_door, running.differences)
        shutdown.wait()
        log.info("stopping")
    finally:
        if running is not None:
            running.stop()
            if os.environ.get(faults.ENV):
                summary = orjson.dumps(dict(sorted(running.fault_counts().items()))).decode()
                logging.getLogger("events_api_cli.faults").warning(
                    "%s%s", faults.SUMMARY_PREFIX, summary
                )
        moto.stop()
        if recorder is not None and record:
            recorder.write(Path(record))
    log.info("stopped")
    return 0


def _access_log(source: str, method: str, path: str, status: int, millis: float) -> None:
    logging.getLogger("events_api_cli.gateway").info(
        "%s %s %s -> %d (%.0f ms)", source, method, path, status, millis
    )


def _announce(
    api: str,
    aws: str,
    key: str,
    key_id: str,
    stack: Stack,
    front_door: str,
    differences: list[str],
) -> None:
    outputs = stack.outputs
    buffer = (
        f"Kinesis stream {outputs['StreamName']}"
        if outputs.get("BufferType") == "kinesis"
        else f"SQS queue {outputs.get('QueueUrl')}"
    )
    curl = (
        f"curl -i -X POST {api}/v1/logs -H 'x-api-key: {key}' "
        "-H 'content-type: application/json' -d '[{\"message\":\"hello\"}]'"
    )
    bucket = outputs["BucketName"]
    lines = [
        f"events-api dev is running stack {stack.name} of template.yaml (Ctrl-C to stop)",
        f"  API:          POST {api}/v1/{{dataset}}  ({front_door} events)",
        f"  OTLP/HTTP:    OTEL_EXPORTER_OTLP_ENDPOINT={api}/otlp  (logs, traces, metrics)",
        f"  API key:      {key}  (id {key_id})",
        f"  buffer:       {buffer}",
        f"  stored in:    s3://{bucket}/dataset=.../dt=.../hour=.../",
        f"  AWS endpoint: AWS_ENDPOINT_URL={aws}  (region {LOCAL_REGION}, any credentials)",
        "  IAM:          each function's calls are held to its role in template.yaml",
        "",
        "Not as in AWS:",
        *(f"  - {note}" for note in differences),
        "",
        "Send an event:",
        f"  {curl}",
        "See what was stored:",
        f"  AWS_ENDPOINT_URL={aws} aws s3 ls s3://{bucket} --recursive",
        "",
    ]
    ready = {
        "api": api,
        "awsEndpoint": aws,
        "apiKey": key,
        "keyId": key_id,
        "keysPath": outputs["ApiKeysPath"],
        "buffer": outputs["BufferType"],
        "frontDoor": front_door,
        "bucket": bucket,
        "region": LOCAL_REGION,
        "stackName": stack.name,
        "streamName": outputs.get("StreamName", ""),
        "queueUrl": outputs.get("QueueUrl", ""),
        "deadLetterQueueUrl": outputs.get("DeadLetterQueueUrl", ""),
        "outputs": outputs,
    }
    print("\n".join(lines), flush=True)
    print(READY_PREFIX + orjson.dumps(ready).decode(), flush=True)
