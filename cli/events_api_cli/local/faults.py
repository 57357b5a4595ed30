"""Test-only fault injection for the local stack: never deployed, never on by default.

``EVENTS_API_DEV_FAULTS=buffer:0.1,s3:0.05[,seed:7]`` makes ``events-api dev`` fail that
fraction of buffer entries and S3 writes, the way AWS fails them, so the pipeline's retries
can be watched (and the reliability suite can prove that nothing accepted is lost):

- ``buffer:P``: each Kinesis PutRecords / SQS SendMessageBatch entry fails on its own with
  probability P (ProvisionedThroughputExceededException or InternalFailure for Kinesis,
  RequestThrottled or InternalError for SQS), and a whole call fails with probability P/2
  (throttled, 500, 503, connection refused, a timeout before sending, or a timeout after the
  call succeeded, which hides the success from the client).
- ``s3:P``: each S3 PutObject fails with probability P (SlowDown, 500, 503, connection
  refused, or a timeout after the object was written).
- ``s3-down:1``: every S3 PutObject fails with 503 ServiceUnavailable before reaching S3
  (an outage: nothing is written, unlike ``s3:1``, whose faults include hidden successes).
- ``seed:N``: makes the random choices repeatable.

``EVENTS_API_DEV_FAULTS=@FILE`` reads the same setting from FILE instead, again whenever the
file changes (empty or missing: no faults), so a test can start an outage and lift it while
the stack runs.

The faults are hooks on the clients the real handlers use: ``events_api.aws.http_client`` hooks
on the buffer's client, botocore event hooks on ``events_api.aws.clients``' S3 client. A
failed entry or call never reaches moto (except for "after success" timeouts, which do),
so moto holds exactly what AWS would hold. The same injector takes a scripted
:class:`Policy` in the reliability tests.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

from events_api.aws import http_client as aws_http

ENV = "EVENTS_API_DEV_FAULTS"

#: Whole-call faults. Those after "timeout" never reach the service.
CALL_FAULTS = (
    "throttled",
    "server-error",
    "unavailable",
    "connection",
    "timeout",
    "timeout-after-success",
)
#: Per-entry faults (the call succeeds, some of its entries are not taken).
ENTRY_FAULTS = ("throttled", "internal")
S3_FAULTS = ("throttled", "server-error", "unavailable", "connection", "timeout-after-success")

# (HTTP status, error code) of each whole-call fault, per service.
_CALL_ERRORS: dict[str, dict[str, tuple[int, str]]] = {
    "kinesis": {
        "throttled": (400, "ProvisionedThroughputExceededException"),
        "server-error": (500, "InternalFailure"),
        "unavailable": (503, "ServiceUnavailable"),
    },
    "sqs": {
        "throttled": (400, "RequestThrottled"),
        "server-error": (500, "InternalError"),
        "unavailable": (503, "ServiceUnavailable"),
    },
    "s3": {
        "throttled": (503, "SlowDown"),
        "server-error": (500, "InternalError"),
        "unavailable": (503, "ServiceUnavailable"),
    },
}
_ENTRY_ERRORS: dict[str, dict[str, str]] = {
    "kinesis": {
        "throttled": "ProvisionedThroughputExceededException",
        "internal": "InternalFailure",
    },
    "sqs": {"throttled": "RequestThrottled", "internal": "InternalError"},
}
_ENTRIES_FIELD = {"kinesis": "Records", "sqs": "Entries"}
_OPERATION = {"kinesis": "PutRecords", "sqs": "SendMessageBatch", "s3": "PutObject"}
_CONTEXT_KEY = "events_api_fault"


@dataclass(frozen=True, slots=True)
class CallFault:
    """What happens to one call: a whole-call fault, or some entries failing, or nothing."""

    call: str | None = None
    entries: Mapping[int, str] = field(default_factory=dict)
    #: Seconds the call takes before its fault (a slow peer).
    delay: float = 0.0


NO_FAULT = CallFault()


class Policy(Protocol):
    def buffer_call(self, service: str, entries: int) -> CallFault:
        """The fault for one PutRecords / SendMessageBatch call of ``entries`` entries."""
        ...

    def s3_put(self, key: str) -> CallFault:
        """The fault for one PutObject of ``key`` (``entries`` is ignored)."""
        ...


class RandomPolicy:
    """Fails a fraction of entries and calls at random (what ``EVENTS_API_DEV_FAULTS`` sets)."""

    def __init__(
        self, buffer_rate: float, s3_rate: float, seed: int | None = None, s3_down: bool = False
    ) -> None:
        self.buffer_rate = buffer_rate
        self.s3_rate = s3_rate
        self.s3_down = s3_down
        # One generator per service: S3's draws do not depend on how buffer calls interleave.
        self._random = random.Random(seed)
        self._s3_random = random.Random(None if seed is None else seed + 1)
        self._lock = threading.Lock()

    def buffer_call(self, service: str, entries: int) -> CallFault:
        with self._lock:
            if self._random.random() < self.buffer_rate / 2:
                return CallFault(call=self._random.choice(CALL_FAULTS))
            failed = {
                n: self._random.choice(ENTRY_FAULTS)
                for n in range(entries)
                if self._random.random() < self.buffer_rate
            }
        return CallFault(entries=failed) if failed else NO_FAULT

    def s3_put(self, key: str) -> CallFault:
        if self.s3_down:
            return CallFault(call="unavailable")
        with self._lock:
            if self._s3_random.random() < self.s3_rate:
                return CallFault(call=self._s3_random.choice(S3_FAULTS))
        return NO_FAULT


def parse_setting(value: str) -> RandomPolicy | None:
    """``buffer:0.1,s3:0.05,seed:7`` -> a policy; None for an empty setting."""
    rates = {"buffer": 0.0, "s3": 0.0}
    seed: int | None = None
    s3_down = False
    for part in filter(None, (p.strip() for p in value.split(","))):
        name, sep, raw = part.partition(":")
        name = name.strip().lower()
        try:
            if not sep:
                raise ValueError("missing ':'")
            if name == "seed":
                seed = int(raw)
                continue
            if name == "s3-down":
                s3_down = raw.strip() not in ("", "0")
                continue
            if name not in rates:
                raise ValueError(f"unknown fault {name!r} (buffer, s3, s3-down or seed)")
            rate = float(raw)
            if not 0.0 <= rate <= 1.0:
                raise ValueError("a rate is between 0 and 1")
        except ValueError as exc:
            raise ValueError(f"{ENV}: bad part {part!r}: {exc}") from None
        rates[name] = rate
    if not any(rates.values()) and not s3_down:
        return None
    return RandomPolicy(rates["buffer"], rates["s3"], seed, s3_down)


def _response(status: int, parsed: dict[str, Any]) -> tuple[AWSResponse, dict[str, Any]]:
    parsed.setdefault("ResponseMetadata", {"HTTPStatusCode": status, "RetryAttempts": 0})
    return AWSResponse("http://faults.invalid/", status, HTTPHeaders(), None), parsed


def _error(service: str, kind: str) -> tuple[AWSResponse, dict[str, Any]]:
    status, code = _CALL_ERRORS[service][kind]
    return _response(status, {"Error": {"Code": code, "Message": f"injected fault: {kind}"}})


class FaultInjector:
    """Registers the hooks on the clients; counts what it injected."""

    def __init__(self, policy: Policy, sleep: Callable[[float], None] = time.sleep) -> None:
        self.policy = policy
        self.counts: Counter[str] = Counter()
        self._sleep = sleep
        self._lock = threading.Lock()
        self._registered: list[tuple[Any, str, Callable[..., Any]]] = []
        self._hooked: list[tuple[aws_http.JsonClient, _BufferFaults]] = []

    # -- wiring ---------------------------------------------------------------------------

    def install(
        self,
        *,
        kinesis: aws_http.JsonClient | None = None,
        sqs: aws_http.JsonClient | None = None,
        s3: Any = None,
    ) -> FaultInjector:
        """Hook into these clients (any may be None): the buffer's ``aws.http_client`` clients and
        a botocore S3 client."""
        for service, client in (("kinesis", kinesis), ("sqs", sqs)):
            if client is not None:
                hook = _BufferFaults(self, service)
                client.add_hook(hook)
                self._hooked.append((client, hook))
        if s3 is not None:
            self._on(s3, "before-parameter-build.s3.PutObject", self._s3_decide)
            self._on(s3, "before-call.s3.PutObject", self._s3_before)
            self._on(s3, "after-call.s3.PutObject", self._after_success_timeout)
        return self

    def install_on_shared_clients(self, buffer: str | None = None) -> FaultInjector:
        """Hook into the shared clients the handlers use."""
        from events_api.aws import clients as aws_clients

        return self.install(
            kinesis=aws_http.client("kinesis") if buffer in (None, "kinesis") else None,
            sqs=aws_http.client("sqs") if buffer in (None, "sqs") else None,
            s3=aws_clients.s3(),
        )

    def uninstall(self) -> None:
        for client, event, handler in self._registered:
            client.meta.events.unregister(event, handler)
        self._registered.clear()
        for json_client, hook in self._hooked:
            json_client.remove_hook(hook)
        self._hooked.clear()

    def _on(self, client: Any, event: str, handler: Callable[..., Any]) -> None:
        client.meta.events.register(event, handler)
        self._registered.append((client, event, handler))

    def _count(self, name: str, value: int = 1) -> None:
        with self._lock:
            self.counts[name] += value

    # -- S3 -------------------------------------------------------------------------------

    def _s3_decide(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        fault = self.policy.s3_put(str(params.get("Key", "")))
        if fault.delay:
            self._sleep(fault.delay)
        if fault.call is not None:
            context[_CONTEXT_KEY] = fault.call

    def _s3_before(self, context: dict[str, Any], **_: Any) -> Any:
        kind = context.get(_CONTEXT_KEY)
        if kind is None or kind == "timeout-after-success":
            return None
        context.pop(_CONTEXT_KEY)
        self._count(f"s3:{kind}")
        if kind == "connection":
            raise EndpointConnectionError(endpoint_url="https://s3.faults.invalid")
        return _error("s3", kind)

    def _after_success_timeout(self, context: dict[str, Any], **_: Any) -> None:
        if context.pop(_CONTEXT_KEY, None) == "timeout-after-success":
            self._count("s3:timeout-after-success")
            raise ReadTimeoutError(endpoint_url="https://s3.faults.invalid")


class _BufferFaults:
    """The injector's ``aws.http_client`` hook on one buffer service's client."""

    def __init__(self, injector: FaultInjector, service: str) -> None:
        self._injector, self._service = injector, service
        self._field = _ENTRIES_FIELD[service]

    def before(self, call: aws_http.Call) -> dict[str, Any] | None:
        service = self._service
        if call.operation != _OPERATION[service]:
            return None
        entries = list(call.document[self._field])
        fault = self._injector.policy.buffer_call(service, len(entries))
        if fault.delay:
            self._injector._sleep(fault.delay)
        if fault.call is not None:
            self._injector._count(f"{service}:{fault.call}")
            if fault.call == "timeout-after-success":
                call.context[_CONTEXT_KEY] = fault.call
                return None
            if fault.call == "connection":
                raise aws_http.AwsUnreachable(f"injected fault: {service} connection refused")
            if fault.call == "timeout":
                raise aws_http.AwsUnreachable(f"injected fault: {service} read timeout")
            status, code = _CALL_ERRORS[service][fault.call]
            raise aws_http.AwsError(status, code, f"injected fault: {fault.call}")
        failed = {n: kind for n, kind in fault.entries.items() if 0 <= n < len(entries)}
        if not failed:
            return None
        self._injector._count(f"{service}:entries-failed", len(failed))
        codes = {n: _ENTRY_ERRORS[service][kind] for n, kind in failed.items()}
        if len(failed) == len(entries):
            return _merge(service, entries, codes, None)
        kept = [e for n, e in enumerate(entries) if n not in failed]
        call.document = {**call.document, self._field: kept}
        call.context[_CONTEXT_KEY] = (entries, codes)
        return None

    def after(self, call: aws_http.Call, answer: dict[str, Any]) -> None:
        state = call.context.pop(_CONTEXT_KEY, None)
        if state is None:
            return
        if state == "timeout-after-success":
            raise aws_http.AwsUnreachable(f"injected fault: {self._service} read timeout")
        entries, codes = state
        _merge(self._service, entries, codes, answer)


def _merge(
    service: str,
    entries: list[dict[str, Any]],
    codes: Mapping[int, str],
    parsed: dict[str, Any] | None,
) -> dict[str, Any]:
    """The service's answer for all ``entries``: the real one for those sent, errors for the
    others (``parsed`` is None when none was sent)."""
    out = parsed if parsed is not None else {}
    if service == "kinesis":
        real = iter(out.get("Records", []))
        merged = [
            {"ErrorCode": codes[n], "ErrorMessage": "injected fault"} if n in codes else next(real)
            for n in range(len(entries))
        ]
        out["Records"] = merged
        out["FailedRecordCount"] = sum(1 for r in merged if r.get("ErrorCode"))
    else:
        out.setdefault("Successful", [])
        out.setdefault("Failed", []).extend(
            {
                "Id": entries[n]["Id"],
                "SenderFault": False,
                "Code": code,
                "Message": "injected fault",
            }
            for n, code in codes.items()
        )
    return out


SUMMARY_PREFIX = "test-only faults injected: "


class FilePolicy:
    """The policy a file's setting describes, read again whenever the file changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: float | None = None
        self._policy: RandomPolicy | None = None
        self._lock = threading.Lock()

    def _current(self) -> RandomPolicy | None:
        try:
            stamp = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            stamp = None
        with self._lock:
            if stamp != self._stamp:
                text = self.path.read_text() if stamp is not None else ""
                self._policy, self._stamp = parse_setting(text.strip()), stamp
            return self._policy

    def buffer_call(self, service: str, entries: int) -> CallFault:
        policy = self._current()
        return policy.buffer_call(service, entries) if policy else NO_FAULT

    def s3_put(self, key: str) -> CallFault:
        policy = self._current()
        return policy.s3_put(key) if policy else NO_FAULT


def policy_from_env(environ: Mapping[str, str]) -> Policy | None:
    """The policy ``EVENTS_API_DEV_FAULTS`` sets (``@FILE``: read from FILE, again whenever
    it changes); None when it sets none. Raises ValueError for a malformed setting."""
    setting = environ.get(ENV, "")
    if setting.startswith("@"):
        path = Path(setting[1:])
        parse_setting(path.read_text().strip() if path.exists() else "")
        return FilePolicy(path)
    return parse_setting(setting)
