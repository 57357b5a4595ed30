"""template.yaml read as AWS would deploy it: one module for the local stack, the tests and
the benchmarks (``stack.load_stack``), plus the raw document for the template's own tests."""

from __future__ import annotations

from collections.abc import Mapping
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


def function_limits(template: Path, logical_id: str) -> Function:
    """A function as deployed with default parameters (``memory_mb``, ``timeout_seconds``...)."""
    return default_stack(template).functions[logical_id]


def parameter_default(template: Path, name: str) -> str:
    """A template parameter's Default, as text."""
    return str(default_stack(template).parameters[name])


def batch_size(template: Path, logical_id: str) -> int:
    """An event source mapping's BatchSize, whatever parameters create it."""
    stack = default_stack(template)
    if logical_id in stack.event_source_mappings:
        return stack.event_source_mappings[logical_id].batch_size
    # A mapping of the other buffer: the stack with that buffer holds it.
    for buffer in ("Kinesis", "SQS"):
        other = load_stack(template, stack_name=_REFERENCE_STACK, parameters={"BufferType": buffer})
        if logical_id in other.event_source_mappings:
            return other.event_source_mappings[logical_id].batch_size
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
