"""One Lambda instance, locally: a function's handler in a process of its own, held to the
function's MemorySize and Timeout from template.yaml.

In AWS an invocation that passes its memory or its time is killed, and the invoker sees a
function error (the event source mapping then retries, bisects, or gives up on the batch).
The dev stack must fail the same way, or a batch that kills the consumer in AWS would pass
locally. So each function runs in a worker process, one invocation at a time, and the
parent:

- watches the worker's resident memory while it works (``/proc/<pid>/status``, every
  ``_POLL_SECONDS``) and, after each invocation, the peak the worker itself reports (its
  high-water mark, reset before each invocation): past MemorySize the worker is killed and
  the invocation fails, as Lambda's "Runtime exited with error: signal: killed";
- kills the worker when the invocation outlasts Timeout ("Task timed out after ...").

One worker per function, so invocations of one function are serialised (moto's Kinesis
can lose a record to two concurrent PutRecords) while the two functions run side by side,
as in AWS. A killed worker is replaced at the next invocation (a cold start). Requests and
answers travel on two pipes as frames: a 4-byte big-endian length, then the bytes.

The worker's environment is the function's, as Lambda sets it (``environment``: the
template's variables, Lambda's own, the role's credentials); its stdout and stderr go to
``output`` (the function's log agent, local/function_logs.py) when one is given.

Run by the parent only: ``python -m events_api_cli.local.lambda_worker CODE HANDLER NAME
MEMORY_MB REQUEST_FD ANSWER_FD [LAYER ...]``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import struct
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from ..lambda_events import function_arn, lambda_context
from .lambda_runtime import (
    MAX_REQUEST_PAYLOAD_BYTES,
    MAX_RESPONSE_PAYLOAD_BYTES,
    FunctionError,
    RequestTooLarge,
    load_handler_module,
)

log = logging.getLogger("events_api_cli.lambda")

_LENGTH = struct.Struct(">I")
_POLL_SECONDS = 0.05
#: How long a worker may take to import its handler (Lambda's init phase allows 10 s; the
#: machine running the tests can be slower than Lambda).
_INIT_SECONDS = 60.0
_STOP_SECONDS = 5.0


def _write_frame(stream: IO[bytes], data: bytes) -> None:
    stream.write(_LENGTH.pack(len(data)))
    stream.write(data)
    stream.flush()


def _read_exactly(stream: IO[bytes], size: int) -> bytes:
    """``size`` bytes from an unbuffered pipe (whose reads may return less)."""
    parts: list[bytes] = []
    while size:
        data = stream.read(size)
        if not data:
            raise EOFError("the other end closed the pipe")
        parts.append(data)
        size -= len(data)
    return b"".join(parts)


def _read_frame(stream: IO[bytes]) -> bytes:
    (size,) = _LENGTH.unpack(_read_exactly(stream, _LENGTH.size))
    return _read_exactly(stream, size) if size else b""


def _status_kib(pid: int | str, field_name: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


@dataclass
class WorkerFunction:
    """A function of the local stack run in a worker process under its Lambda limits."""

    name: str
    code: Path
    handler: str  # module.function, as the template's Handler
    timeout_seconds: float
    memory_mb: int
    #: The worker's whole environment (None: this process's).
    environment: Mapping[str, str] | None = None
    #: Folders put on the path after the code's, as Lambda puts layers under /opt/python.
    layers: tuple[Path, ...] = ()
    #: Takes the new worker's stdout and stderr (None: they are this process's).
    output: Callable[[IO[bytes], IO[bytes]], None] | None = None
    function_arn: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: Fault counts reported by workers that stopped cleanly (test-only fault injection).
    fault_counts: dict[str, int] = field(default_factory=dict)
    _process: subprocess.Popen[bytes] | None = None
    _requests: IO[bytes] | None = None
    _answers: IO[bytes] | None = None
    _ready: bool = False

    @property
    def arn(self) -> str:
        return self.function_arn or function_arn(self.name)

    # lifecycle --------------------------------------------------------------------------
    def start(self) -> WorkerFunction:
        """Start the worker (its imports run in the background, like a cold start)."""
        request_read, request_write = os.pipe()
        answer_read, answer_write = os.pipe()
        try:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "events_api_cli.local.lambda_worker",
                    str(self.code),
                    self.handler,
                    self.name,
                    str(self.memory_mb),
                    str(request_read),
                    str(answer_write),
                    *(str(layer) for layer in self.layers),
                ],
                pass_fds=(request_read, answer_write),
                stdin=subprocess.DEVNULL,
                stdout=None if self.output is None else subprocess.PIPE,
                stderr=None if self.output is None else subprocess.PIPE,
                env=dict(os.environ if self.environment is None else self.environment),
            )
        finally:
            os.close(request_read)
            os.close(answer_write)
        if self.output is not None:
            assert self._process.stdout is not None
            assert self._process.stderr is not None
            self.output(self._process.stdout, self._process.stderr)
        self._requests = os.fdopen(request_write, "wb")
        # Unbuffered: select() must see every answer byte still to be read.
        self._answers = os.fdopen(answer_read, "rb", buffering=0)
        self._ready = False
        return self

    def stop(self) -> None:
        """Stop the worker, collecting its fault counts."""
        with self.lock:
            process, requests, answers = self._process, self._requests, self._answers
            if process is None or requests is None or answers is None:
                return
            try:
                _write_frame(requests, b"")
                if self._wait_readable(process, time.monotonic() + _STOP_SECONDS):
                    counts = orjson.loads(_read_frame(answers) or b"{}")
                    for name, value in counts.items():
                        self.fault_counts[name] = self.fault_counts.get(name, 0) + value
                process.wait(_STOP_SECONDS)
            except (OSError, EOFError, ValueError, subprocess.TimeoutExpired):
                pass
            self._kill()

    def _kill(self) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait()
        for stream in (self._requests, self._answers):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        self._process = self._requests = self._answers = None
        self._ready = False

    def _wait_readable(
        self,
        process: subprocess.Popen[bytes],
        deadline: float,
        memory_kib: int | None = None,
    ) -> bool:
        """Wait for an answer; False at the deadline. Raises when the worker dies or, with
        ``memory_kib``, grows past it."""
        assert self._answers is not None
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            readable, _, _ = select.select([self._answers], [], [], min(remaining, _POLL_SECONDS))
            if readable:
                return True
            if process.poll() is not None:
                raise FunctionError(f"Runtime exited with error: exit status {process.returncode}")
            if memory_kib is not None:
                rss = _status_kib(process.pid, "VmRSS")
                if rss is not None and rss > memory_kib:
                    self._kill()
                    raise FunctionError(self._out_of_memory(rss))

    def _out_of_memory(self, kib: int) -> str:
        return (
            f"Runtime exited with error: signal: killed ({kib // 1024} MB used, "
            f"MemorySize {self.memory_mb} MB)"
        )

    # invocation -------------------------------------------------------------------------
    def invoke(self, event: Mapping[str, Any]) -> Any:
        return self.invoke_payload(orjson.dumps(event))

    def invoke_payload(self, payload: bytes) -> Any:
        """Call the handler with ``payload`` (the event as JSON); its answer, parsed."""
        if len(payload) > MAX_REQUEST_PAYLOAD_BYTES:
            raise RequestTooLarge(len(payload))
        with self.lock:
            if self._process is None:
                self.start()
            process, requests, answers = self._process, self._requests, self._answers
            assert process is not None
            assert requests is not None
            assert answers is not None
            try:
                if not self._ready:
                    if not self._wait_readable(process, time.monotonic() + _INIT_SECONDS):
                        self._kill()
                        raise FunctionError(f"{self.name}: init did not finish")
                    _read_frame(answers)
                    self._ready = True
                request_id = str(uuid.uuid4())
                header = {"requestId": request_id, "timeout": self.timeout_seconds}
                _write_frame(requests, orjson.dumps(header))
                _write_frame(requests, payload)
                deadline = time.monotonic() + self.timeout_seconds
                if not self._wait_readable(process, deadline, self.memory_mb * 1024):
                    self._kill()
                    raise FunctionError(
                        f"Task timed out after {self.timeout_seconds:.2f} seconds "
                        f"({self.name}, request {request_id})"
                    )
                status = orjson.loads(_read_frame(answers))
                body = _read_frame(answers)
            except (OSError, EOFError) as exc:
                self._kill()
                raise FunctionError(f"Runtime exited with error: {exc}") from None
            except FunctionError:
                if self._process is not None and self._process.poll() is not None:
                    self._kill()
                raise
            peak = int(status.get("peakKib") or 0)
            if peak > self.memory_mb * 1024:
                # Lambda would have killed it on the way up: the answer does not count.
                self._kill()
                raise FunctionError(self._out_of_memory(peak))
        if status["status"] != "ok":
            raise FunctionError(body.decode(errors="replace"))
        if len(body) > MAX_RESPONSE_PAYLOAD_BYTES:
            raise FunctionError(f"{len(body)}-byte response is over Lambda's limit")
        return orjson.loads(body)


# --------------------------------------------------------------------------- the worker


def _reset_peak() -> None:
    """Start the high-water mark afresh (Linux: clear_refs 5), so each invocation reports
    its own peak. Without it (other systems) the peak is the process's."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _serve(
    code: Path,
    handler_name: str,
    name: str,
    memory_mb: int,
    requests: IO[bytes],
    answers: IO[bytes],
) -> None:
    from . import faults
    from .function_output import drop_emf_when_metrics_disabled

    drop_emf_when_metrics_disabled()
    injector = None
    policy = faults.policy_from_env(os.environ)
    if policy is not None:
        injector = faults.FaultInjector(policy).install_on_shared_clients()
    module_name, _, attribute = handler_name.rpartition(".")
    module = load_handler_module(
        code / f"{module_name.replace('.', '/')}.py", f"events_api_local_{code.name}_{module_name}"
    )
    handler = getattr(module, attribute)
    _write_frame(answers, b"ready")
    while True:
        try:
            header_frame = _read_frame(requests)
        except EOFError:
            return
        if not header_frame:
            counts = dict(injector.counts) if injector is not None else {}
            _write_frame(answers, orjson.dumps(counts))
            return
        header = orjson.loads(header_frame)
        event = orjson.loads(_read_frame(requests))
        context = lambda_context(
            name,
            memory_mb=memory_mb,
            request_id=header["requestId"],
            deadline=time.monotonic() + float(header["timeout"]),
        )
        _reset_peak()
        status = "ok"
        try:
            result = handler(event, context)
            body = orjson.dumps(result)
        except TypeError as exc:
            status, body = "error", f"the response is not JSON-serialisable: {exc}".encode()
        except Exception as exc:
            log.exception("%s failed (request %s)", name, context.aws_request_id)
            status, body = "error", f"{type(exc).__name__}: {exc}".encode()
        del event
        peak = _status_kib("self", "VmHWM") or 0
        _write_frame(answers, orjson.dumps({"status": status, "peakKib": peak}))
        _write_frame(answers, body)


def main(argv: list[str]) -> int:
    code, handler, name, memory_mb, request_fd, answer_fd, *layers = argv
    # As Lambda's Python runtime: the function's code first, then its layers.
    sys.path[:0] = [code, *layers]
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s lambda: %(message)s", datefmt="%H:%M:%S"
    )
    # Ctrl-C reaches the whole process group: the parent decides when a worker stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with (
        os.fdopen(int(request_fd), "rb", buffering=0) as requests,
        os.fdopen(int(answer_fd), "wb") as answers,
    ):
        _serve(Path(code), handler, name, int(memory_mb), requests, answers)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
