"""`events-api dev` as a subprocess on free loopback ports, once per buffer and front door
per session (per worker under pytest-xdist).

Every test that takes ``stack`` runs against both buffers (Kinesis and SQS) behind both front
doors (the HTTP API and function URLs); a test or module marked ``one_front_door`` (the
front door does not matter to it) runs once per buffer, behind the HTTP API. Tests keep out
of each other's way by sending to datasets of their own (``stack.new_dataset()``).
"""

from __future__ import annotations

import gzip
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest

from events_api_cli.defaults import READY_PREFIX
from events_api_cli.local.api_gateway import REQUEST_ID_HEADERS, FrontDoor
from events_api_cli.local.dev import IAM_RECORD_ENV
from tests import iam_record

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 60.0
STORE_TIMEOUT = 60.0


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        assert self.headers.get("content-type") == "application/json", self.headers
        return json.loads(self.body)


@dataclass
class StoredObject:
    key: str
    events: list[dict[str, Any]]


def events_api_command() -> list[str]:
    """The installed console script, as users run it (``python -m`` when it is missing)."""
    script = Path(sys.executable).with_name("events-api")
    if script.exists():
        return [str(script)]
    found = shutil.which("events-api")
    return [found] if found else [sys.executable, "-m", "events_api_cli"]


@dataclass
class DevProcess:
    """One running `events-api dev` and what its ready line said."""

    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path
    ready: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def start(
        cls,
        buffer: str,
        directory: Path,
        front_door: str = "http-api",
        host: str = "127.0.0.1",
        options: tuple[str, ...] = ("--compact-every", "0"),
        record: bool = True,
    ) -> DevProcess:
        """``options`` default to no background compaction: suites that read the raw
        prefixes over a long run must not see objects move to archive/ under them.
        ``record``: add the roles' calls to the session's IAM record (tests/iam_record.py);
        off for a stack of another template than the repository's."""
        directory.mkdir(parents=True, exist_ok=True)
        stdout, stderr = directory / "stdout.log", directory / "stderr.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
        if record:
            env[IAM_RECORD_ENV] = str(iam_record.record_file())
        # Files, not pipes: nobody drains a pipe while the tests run, and a full pipe would
        # block the server's writes.
        with stdout.open("wb") as out, stderr.open("wb") as err:
            process = subprocess.Popen(
                [
                    *events_api_command(),
                    "dev",
                    "--host",
                    host,
                    "--port",
                    "0",
                    "--aws-port",
                    "0",
                    "--buffer",
                    buffer,
                    "--front-door",
                    front_door,
                    *options,
                ],
                stdout=out,
                stderr=err,
                cwd=ROOT,
                env=env,
            )
        dev = cls(process, stdout, stderr)
        dev._wait_ready()
        return dev

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            for line in self.stdout.read_text(errors="replace").splitlines():
                if line.startswith(READY_PREFIX):
                    self.ready = json.loads(line[len(READY_PREFIX) :])
                    return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        self.process.kill()
        self.process.wait()
        pytest.fail(
            f"events-api dev did not get ready (exit code {self.process.returncode}):\n"
            f"{self.stdout.read_text(errors='replace')}\n{self.stderr.read_text(errors='replace')}"
        )

    def terminate(self, timeout: float = 15.0) -> int:
        """SIGTERM, then the exit code (killed, and the test failed, if it hangs)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"events-api dev did not stop within {timeout} s of SIGTERM")


@dataclass
class DevStack:
    """Client side of a running ``events-api dev`` stack: HTTP to the gateway, boto3 to
    moto's S3 (the in-process moto of the integration tests is ``integration.conftest.Stack``)."""

    dev: DevProcess
    buffer: str

    @property
    def front_door(self) -> FrontDoor:
        return FrontDoor(self.dev.ready["frontDoor"])

    @property
    def request_id_header(self) -> str:
        """The answer's header carrying the request id the function saw (lower-cased)."""
        return REQUEST_ID_HEADERS[self.front_door].lower()

    @property
    def api(self) -> str:
        return str(self.dev.ready["api"])

    @property
    def api_key(self) -> str:
        return str(self.dev.ready["apiKey"])

    @property
    def bucket(self) -> str:
        return str(self.dev.ready["bucket"])

    def new_dataset(self) -> str:
        return f"e2e-{uuid.uuid4().hex[:12]}"

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        *,
        key: str | None = "default",
        timeout: float = 60.0,
    ) -> Response:
        """One HTTP request on a fresh connection; ``key=None`` sends no key."""
        parts = urlsplit(self.api)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        sent = dict(headers or {})
        if key is not None:
            sent.setdefault("x-api-key", self.api_key if key == "default" else key)
        try:
            connection.request(method, path, body=body, headers=sent)
            answer = connection.getresponse()
            return Response(
                answer.status,
                {name.lower(): value for name, value in answer.getheaders()},
                answer.read(),
            )
        finally:
            connection.close()

    def post_json(
        self,
        dataset: str,
        events: Any,
        headers: Mapping[str, str] | None = None,
        *,
        gzipped: bool = False,
    ) -> Response:
        body = json.dumps(events, separators=(",", ":")).encode()
        sent = {"content-type": "application/json", **(headers or {})}
        if gzipped:
            body = gzip.compress(body, 1)
            sent["content-encoding"] = "gzip"
        return self.request("POST", f"/v1/{dataset}", body, sent)

    def cli(
        self, *args: str, env: Mapping[str, str] | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """``events-api ARGS`` as a user runs it against this stack: only AWS_ENDPOINT_URL
        points it at moto (plus ``env``)."""
        environment = {
            k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))
        }
        environment["AWS_ENDPOINT_URL"] = str(self.dev.ready["awsEndpoint"])
        environment.update(env or {})
        return subprocess.run(
            [*events_api_command(), *args],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=environment,
            timeout=timeout,
            check=False,
        )

    def s3(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=str(self.dev.ready["awsEndpoint"]),
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def objects(self, dataset: str) -> list[StoredObject]:
        s3 = self.s3()
        found = []
        pages = s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=f"dataset={dataset}/"
        )
        for page in pages:
            for item in page.get("Contents", []):
                body = s3.get_object(Bucket=self.bucket, Key=item["Key"])["Body"].read()
                lines = gzip.decompress(body).decode().splitlines()
                found.append(StoredObject(item["Key"], [json.loads(line) for line in lines]))
        return found

    def stored(self, dataset: str) -> list[dict[str, Any]]:
        return [event for stored in self.objects(dataset) for event in stored.events]

    def wait_stored(
        self, dataset: str, count: int, timeout: float = STORE_TIMEOUT
    ) -> list[dict[str, Any]]:
        """The dataset's stored events once there are at least ``count`` of them."""
        deadline = time.monotonic() + timeout
        events: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            events = self.stored(dataset)
            if len(events) >= count:
                return events
            time.sleep(0.25)
        pytest.fail(f"{len(events)} of {count} events stored after {timeout} s")


BUFFERS = ("kinesis", "sqs")
ONE_FRONT_DOOR = "one_front_door"


class Stacks:
    """The session's stacks, each started on first use and stopped at the session's end (a
    parametrized session fixture would restart one whenever the next test wants another)."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self._factory = tmp_path_factory
        self._running: dict[tuple[str, FrontDoor], DevStack] = {}

    def get(self, buffer: str, front_door: FrontDoor) -> DevStack:
        key = (buffer, front_door)
        if key not in self._running:
            directory = self._factory.mktemp(f"dev-{buffer}-{front_door}")
            self._running[key] = DevStack(
                DevProcess.start(buffer, directory, str(front_door)), buffer
            )
        return self._running[key]

    def stop(self) -> list[str]:
        """Stops every stack; what each that did not exit cleanly wrote to stderr."""
        failures = []
        for stack in self._running.values():
            if stack.dev.terminate() != 0:
                failures.append(stack.dev.stderr.read_text(errors="replace")[-4000:])
        self._running.clear()
        return failures


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``stack``: every buffer behind every front door, or behind the HTTP API alone for
    tests marked ``one_front_door``."""
    if "stack" not in metafunc.fixturenames or "stack" in vars(metafunc.module):
        return  # a module with a stack of its own (the console's)
    if metafunc.definition.get_closest_marker(ONE_FRONT_DOOR) is not None:
        doors = [FrontDoor.HTTP_API]
    else:
        doors = list(FrontDoor)
    combinations = [(buffer, door) for door in doors for buffer in BUFFERS]
    ids = [b if door is FrontDoor.HTTP_API else f"{b}-{door}" for b, door in combinations]
    metafunc.parametrize("stack", combinations, ids=ids, indirect=True, scope="session")


@pytest.fixture(scope="session")
def stacks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stacks]:
    running = Stacks(tmp_path_factory)
    yield running
    failures = running.stop()
    assert not failures, "\n".join(failures)


@pytest.fixture(scope="session")
def stack(request: pytest.FixtureRequest, stacks: Stacks) -> DevStack:
    buffer, front_door = request.param
    return stacks.get(buffer, front_door)


@pytest.fixture(scope="session")
def function_url_stack(stacks: Stacks) -> DevStack:
    """`events-api dev --front-door function-url` (SQS buffer): function URL events."""
    return stacks.get("sqs", FrontDoor.FUNCTION_URL)
