"""The record of the calls the roles made (the IAM report's and the least-privilege test's
evidence), in a form that does not change from run to run.

Each call is kept as: the stack's configuration (its non-default parameters), the function
whose role made it, who made it (the function's code, its event source mapping, Lambda's
log agent, the scheduler), the action, the resource and the condition keys. Names are
written relative to the template (``${EventsBucket}``, ``${AWS::StackName}``) and the
variable parts of object keys, parameter names and log streams as ``_``
(``dataset=_/dt=_/hour=_/_``), so the same suites always give the same record; ``replay``
turns an entry back into a request against any stack of the same configuration.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..template.intrinsics import TemplateError
from ..template.stack import Stack
from .enforcer import Call
from .policy import Outcome, Request

CALLERS = {
    "lambda-esm-": "event source mapping",
    "lambda-logs": "Lambda log agent",
    "lambda-async": "Lambda asynchronous invocation",
    "scheduler": "EventBridge Scheduler",
    "logs": "CloudWatch Logs",
}
#: Path segments kept as they are: words, template names, and single digits (the key
#: index's shards, ``keys/index/0`` to ``9``, each granted by name). Anything else (hashes,
#: ids, dates) is a variable part, written ``_``.
_KEEP_SEGMENT = re.compile(r"[a-z][a-z-]*|\$\{[A-Za-z:]+\}|[0-9]|")


@dataclass(frozen=True, order=True)
class Entry:
    configuration: str
    function: str
    role: str
    caller: str
    action: str
    resource: str
    context: tuple[tuple[str, str], ...] = ()
    outcome: str = Outcome.ALLOWED.value

    def to_json(self) -> dict[str, Any]:
        document = asdict(self)
        document["context"] = dict(self.context)
        return document

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Entry:
        context = tuple(sorted((str(k), str(v)) for k, v in document.get("context", {}).items()))
        return cls(
            str(document["configuration"]),
            str(document["function"]),
            str(document["role"]),
            str(document["caller"]),
            str(document["action"]),
            str(document["resource"]),
            context,
            str(document.get("outcome", Outcome.ALLOWED.value)),
        )


def parameters_of(configuration: str) -> dict[str, str]:
    """The parameter values a configuration names (``configuration`` reversed)."""
    if configuration == "default":
        return {}
    # A value may hold commas itself (a list parameter): split before each NAME=.
    items = re.split(r",(?=[A-Za-z][A-Za-z0-9]*=)", configuration)
    return dict(item.split("=", 1) for item in items)


def configuration(stack: Stack) -> str:
    """The stack's parameters that differ from the template's defaults, as ``A=x,B=y``."""
    declared = stack.transformed.get("Parameters") or {}
    changed = [
        f"{name}={value}"
        for name, value in sorted(stack.parameters.items())
        if str(declared.get(name, {}).get("Default", "")) != str(value)
    ]
    return ",".join(changed) or "default"


def _segments(path: str) -> str:
    out = []
    for segment in path.split("/"):
        if _KEEP_SEGMENT.fullmatch(segment):
            out.append(segment)
        elif "=" in segment:
            name, _, value = segment.partition("=")
            out.append(f"{name}=_" if value else f"{name}=")
        else:
            out.append("_")
    return "/".join(out)


class Names:
    """Physical names of one stack <-> the template's logical names."""

    def __init__(self, stack: Stack) -> None:
        pairs: dict[str, str] = {}
        for logical_id, kind in stack.types.items():
            if kind.startswith("Custom::") or kind in {"AWS::Lambda::Permission"}:
                continue
            for attribute in ("", ".QueueName"):
                try:
                    value = stack.refs[logical_id + attribute]
                except (KeyError, TemplateError):  # an attribute this type does not have
                    continue
                if isinstance(value, str) and len(value) > 3 and "://" not in value:
                    pairs.setdefault(value, logical_id)
        pairs[stack.name] = "AWS::StackName"
        pairs[stack.account] = "AWS::AccountId"
        pairs[stack.region] = "AWS::Region"
        # Longest first, so that a name containing another is replaced whole.
        self.forward = sorted(pairs.items(), key=lambda item: -len(item[0]))
        self.backward = {f"${{{logical}}}": physical for physical, logical in pairs.items()}

    def relative(self, text: str) -> str:
        for physical, logical in self.forward:
            text = text.replace(physical, f"${{{logical}}}")
        return text

    def absolute(self, text: str) -> str:
        return re.sub(
            r"\$\{[A-Za-z:]+\}", lambda m: self.backward.get(m.group(0), m.group(0)), text
        )


def normalise_resource(resource: str, names: Names) -> str:
    text = names.relative(resource)
    if text.startswith("arn:aws:s3:::"):
        bucket, slash, key = text[len("arn:aws:s3:::") :].partition("/")
        return f"arn:aws:s3:::{bucket}{slash}{_segments(key)}" if slash else text
    if ":parameter/" in text:
        head, _, path = text.partition(":parameter/")
        return f"{head}:parameter/{_segments(path)}"
    if ":log-stream:" in text:
        return text.split(":log-stream:", 1)[0] + ":log-stream:_"
    return text


def _context(request: Request, names: Names) -> tuple[tuple[str, str], ...]:
    out = []
    for key, value in sorted(request.context.items()):
        text = value if isinstance(value, str) else ",".join(value)
        if key == "aws:SecureTransport":
            continue  # the same for every local call
        if key == "s3:prefix":
            text = _segments(names.relative(text))
        elif key.startswith("kms:EncryptionContext"):
            text = normalise_resource(text, names)
        out.append((key, names.relative(text)))
    return tuple(out)


def caller_of(session: str, function_name: str) -> str:
    if session == function_name:
        return "function"
    for prefix, caller in CALLERS.items():
        if session.startswith(prefix):
            return caller
    return session


@dataclass
class CallRecorder:
    """Listens to the enforcer's decisions (``Authority.listeners``) and keeps each distinct
    call once, normalised."""

    stack: Stack
    entries: set[Entry] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.names = Names(self.stack)
        self.configuration = configuration(self.stack)
        self._functions_by_role: dict[str, tuple[str, str]] = {}
        for function in self.stack.functions.values():
            self._functions_by_role[function.role.logical_id] = (function.logical_id, function.name)
        for schedule in self.stack.schedules.values():
            target = self.stack.function_by_arn(schedule.target_arn)
            role = next((r for r in self.stack.roles.values() if r.arn == schedule.role_arn), None)
            if target is not None and role is not None:
                self._functions_by_role[role.logical_id] = (target.logical_id, "")
        self._lock = threading.Lock()

    def __call__(self, call: Call) -> None:
        function, name = self._functions_by_role.get(
            call.principal.role_logical_id, (call.principal.role_logical_id, "")
        )
        entry = Entry(
            self.configuration,
            function,
            call.principal.role_logical_id,
            caller_of(call.principal.session, name),
            call.request.action,
            normalise_resource(call.request.resource, self.names),
            _context(call.request, self.names),
            call.decision.outcome.value,
        )
        with self._lock:
            self.entries.add(entry)

    def write(self, path: Path) -> None:
        with self._lock:
            write_entries(path, self.entries)


def write_entries(path: Path, entries: Iterable[Entry]) -> None:
    document = {"calls": [entry.to_json() for entry in sorted(set(entries))]}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")


def read_entries(path: Path) -> set[Entry]:
    if not path.exists():
        return set()
    return {Entry.from_json(item) for item in json.loads(path.read_text())["calls"]}


def replay(entry: Entry, names: Names) -> Request:
    """The request an entry stands for, against the stack ``names`` is of."""
    return Request(
        entry.action,
        names.absolute(entry.resource),
        {key: names.absolute(value) for key, value in entry.context},
    )
