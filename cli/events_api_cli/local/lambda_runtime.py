"""A stand-in for the Lambda service: the real handler files, invoked as Lambda invokes them.

The handlers are loaded from ``functions/<name>/app.py`` by path (never copied), each under
a module name of its own. An invocation goes through what Lambda does to it: the event is
serialised to JSON and must fit the 6 MB synchronous payload limit, the handler gets a
fresh event parsed from that JSON and a context object, and its answer must serialise to
JSON within the response limit.

One instance per process, one invocation at a time. Both functions share process-global
state here that AWS keeps apart (one Lambda instance handles one event at a time, and the
two functions never share a process): Powertools' ``Logger`` keys and ``Metrics`` set live
in ``events_api.observability`` and are not safe to mutate from two threads, and moto's
Kinesis assigns sequence numbers without a lock, so two concurrent PutRecords can lose a
record. ``INVOCATION_LOCK`` therefore serialises every invocation of every function.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

import orjson

from ..lambda_events import function_arn, lambda_context

#: Lambda's synchronous invocation limit for the request payload (the event as JSON).
MAX_REQUEST_PAYLOAD_BYTES = 6 * 1024 * 1024
#: ... and for the response payload, as Lambda reports it ("6291556 bytes").
MAX_RESPONSE_PAYLOAD_BYTES = 6_291_556

INVOCATION_LOCK = threading.Lock()

log = logging.getLogger("events_api_cli.lambda")

Handler = Callable[[dict[str, Any], Any], Any]


class Function(Protocol):
    """What the gateway and the pollers invoke: a function in-process or in a worker."""

    name: str

    @property
    def arn(self) -> str: ...

    def invoke(self, event: Mapping[str, Any]) -> Any: ...

    def invoke_payload(self, payload: bytes) -> Any: ...


class RepositoryNotFound(Exception):
    """The handler files cannot be found."""


class RequestTooLarge(Exception):
    """The event is over Lambda's invoke payload limit; the function was not called."""

    def __init__(self, size: int) -> None:
        super().__init__(f"{size}-byte payload is over the {MAX_REQUEST_PAYLOAD_BYTES}-byte limit")
        self.size = size


class FunctionError(Exception):
    """The function raised, or answered something Lambda could not return."""


def _has_functions(root: Path) -> bool:
    # The template gives the functions their memory and timeout (local/template).
    return (root / "template.yaml").is_file() and all(
        (root / "functions" / name / "app.py").is_file() for name in ("ingest", "consumer")
    )


def find_repository(explicit: Path | None = None) -> Path:
    """The checkout holding ``functions/``: explicit, else next to this package, else cwd up."""
    if explicit is not None:
        root = explicit.resolve()
        if _has_functions(root):
            return root
        raise RepositoryNotFound(
            f"{root} has no template.yaml, functions/ingest/app.py and functions/consumer/app.py"
        )
    # An editable install (`pip install -e .`) imports this file from cli/ in the checkout.
    candidates = [Path(__file__).resolve().parents[3]]
    cwd = Path.cwd().resolve()
    candidates += [cwd, *cwd.parents]
    for root in candidates:
        if _has_functions(root):
            return root
    raise RepositoryNotFound(
        "cannot find template.yaml and functions/{ingest,consumer}/app.py: run events-api "
        "from the events-api checkout, or pass --repo PATH"
    )


def load_handler_module(path: Path, module_name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise RepositoryNotFound(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class LocalFunction:
    """One function of the stack, invoked in-process like Lambda would (without its memory
    and time limits: ``events-api dev`` runs functions in workers, see lambda_worker.py)."""

    name: str
    handler: Handler
    timeout_seconds: float
    memory_mb: int
    lock: threading.Lock = field(default=INVOCATION_LOCK)

    @property
    def arn(self) -> str:
        return function_arn(self.name)

    @classmethod
    def load(
        cls, repository: Path, function: str, *, name: str, timeout_seconds: float, memory_mb: int
    ) -> LocalFunction:
        module = load_handler_module(
            repository / "functions" / function / "app.py", f"events_api_local_{function}_app"
        )
        handler = getattr(module, "lambda_handler", None)
        if not callable(handler):
            raise RepositoryNotFound(f"functions/{function}/app.py has no lambda_handler")
        return cls(name, handler, timeout_seconds, memory_mb)

    def invoke(self, event: Mapping[str, Any]) -> Any:
        return self.invoke_payload(orjson.dumps(event))

    def invoke_payload(self, payload: bytes) -> Any:
        """Call the handler with ``payload`` (the event as JSON); its answer, parsed."""
        if len(payload) > MAX_REQUEST_PAYLOAD_BYTES:
            raise RequestTooLarge(len(payload))
        event = orjson.loads(payload)
        with self.lock:
            context = lambda_context(
                self.name,
                memory_mb=self.memory_mb,
                request_id=str(uuid.uuid4()),
                deadline=time.monotonic() + self.timeout_seconds,
            )
            try:
                result = self.handler(event, context)
            except Exception as exc:
                log.exception("%s failed (request %s)", self.name, context.aws_request_id)
                raise FunctionError(f"{type(exc).__name__}: {exc}") from exc
        try:
            answer = orjson.dumps(result)
        except TypeError as exc:
            raise FunctionError(f"the response is not JSON-serialisable: {exc}") from None
        if len(answer) > MAX_RESPONSE_PAYLOAD_BYTES:
            raise FunctionError(f"{len(answer)}-byte response is over Lambda's limit")
        return orjson.loads(answer)
