"""template.yaml read as AWS would deploy it: one module for the local stack, the tests and
the benchmarks (``stack.load_stack``), plus the raw document for the template's own tests."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path

from .document import TEMPLATE_PATH
from .intrinsics import NO_VALUE, TemplateError
from .stack import EventSourceMapping, Function, Stack, load_stack

__all__ = [
    "NO_VALUE",
    "TEMPLATE_PATH",
    "EventSourceMapping",
    "Function",
    "Stack",
    "TemplateError",
    "batch_size",
    "default_stack",
    "function_limits",
    "load_stack",
    "mapping",
    "parameter_default",
]

#: The stack name the limits below are read for (any name gives the same numbers).
_REFERENCE_STACK = "events-api"


@cache
def _default(template: Path, mtime: float) -> Stack:
    return load_stack(template, stack_name=_REFERENCE_STACK)


def default_stack(template: Path = TEMPLATE_PATH) -> Stack:
    """The template's stack with every parameter at its default (read once per version)."""
    resolved = template.resolve()
    return _default(resolved, resolved.stat().st_mtime)


#: Parameters under which the functions and mappings the defaults leave out are created:
#: the other buffer, and each CloudWatch Logs mode with it.
_OTHER_CONFIGURATIONS: tuple[dict[str, str], ...] = (
    {"BufferType": "Kinesis"},
    {"BufferType": "SQS"},
    {"BufferType": "SQS", "LogSubscription": "Account"},
    {"LogSubscription": "LogGroups", "SubscribedLogGroups": "/aws/lambda/example"},
)


def _stacks(template: Path) -> Iterator[Stack]:
    """The default stack, then the stacks of ``_OTHER_CONFIGURATIONS`` that differ from it
    (each one more transform)."""
    default = default_stack(template)
    yield default
    for parameters in _OTHER_CONFIGURATIONS:
        if any(str(default.parameters[name]) != value for name, value in parameters.items()):
            yield load_stack(template, stack_name=_REFERENCE_STACK, parameters=parameters)


def function_limits(template: Path, logical_id: str) -> Function:
    """A function as deployed (``memory_mb``, ``timeout_seconds``...): with the default
    parameters, or with the first configuration that creates it."""
    for stack in _stacks(template):
        if logical_id in stack.functions:
            return stack.functions[logical_id]
    raise KeyError(logical_id)


def parameter_default(template: Path, name: str) -> str:
    """A template parameter's Default, as text."""
    return str(default_stack(template).parameters[name])


def batch_size(template: Path, logical_id: str) -> int:
    """An event source mapping's BatchSize, whatever parameters create it."""
    for stack in _stacks(template):
        if logical_id in stack.event_source_mappings:
            return stack.event_source_mappings[logical_id].batch_size
    raise KeyError(logical_id)


def mapping(
    template: Path, logical_id: str, parameters: Mapping[str, str] | None = None
) -> EventSourceMapping:
    """An event source mapping as deployed with these parameters (else the defaults)."""
    if not parameters:
        return default_stack(template).event_source_mappings[logical_id]
    stack = load_stack(template, stack_name=_REFERENCE_STACK, parameters=parameters)
    return stack.event_source_mappings[logical_id]


def bucket_name(stack_name: str) -> str:
    """The events bucket of stack ``stack_name`` (its ``BucketName`` output), without the
    transform: the commands' local default, cheap to work out."""
    from .names import generated_name

    return generated_name(stack_name, "EventsBucket", "AWS::S3::Bucket")


def dead_letter_queue_name(stack_name: str) -> str:
    """The SQS dead-letter queue of stack ``stack_name`` (with BufferType SQS)."""
    from .names import generated_name

    return generated_name(stack_name, "EventDeadLetterQueue", "AWS::SQS::Queue")
