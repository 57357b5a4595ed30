"""What template.yaml gives each function: memory, timeout, and its event sources' batch sizes.

The local stack runs the handlers with these limits and the benchmarks measure against them,
so both read the deployed values instead of repeating them. Short-form tags (``!Ref``,
``!GetAtt``...) are read as plain values: only literal numbers are used here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class FunctionLimits:
    memory_mb: int
    timeout_seconds: int


def _load(path: Path) -> dict[str, Any]:
    # A dev dependency: only the local stack and the benchmarks read the template.
    import yaml  # type: ignore[import-untyped]

    # A loader of its own, so that the short-form tags are known here only.
    loader_class: Any = type("TemplateLoader", (yaml.SafeLoader,), {})

    def tagged(loader: Any, suffix: str, node: Any) -> Any:
        if isinstance(node, yaml.ScalarNode):
            return loader.construct_scalar(node)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node, deep=True)
        return loader.construct_mapping(node, deep=True)

    loader_class.add_multi_constructor("!", tagged)
    document = yaml.load(path.read_text(), Loader=loader_class)  # noqa: S506 (a SafeLoader)
    if not isinstance(document, dict):
        raise ValueError(f"{path} is not a CloudFormation template")
    return document


@cache
def _template(path: Path) -> dict[str, Any]:
    return _load(path)


def function_limits(template: Path, logical_id: str) -> FunctionLimits:
    """The function's MemorySize and Timeout, its own or the Globals' (Lambda's defaults
    of 128 MB and 3 s when neither sets them)."""
    document = _template(template.resolve())
    shared = (document.get("Globals") or {}).get("Function") or {}
    own = document["Resources"][logical_id].get("Properties") or {}
    return FunctionLimits(
        memory_mb=int(own.get("MemorySize", shared.get("MemorySize", 128))),
        timeout_seconds=int(own.get("Timeout", shared.get("Timeout", 3))),
    )


def batch_size(template: Path, logical_id: str) -> int:
    """An event source mapping's BatchSize."""
    document = _template(template.resolve())
    return int(document["Resources"][logical_id]["Properties"]["BatchSize"])


def parameter_default(template: Path, name: str) -> str:
    """A template parameter's Default, as text."""
    document = _template(template.resolve())
    return str(document["Parameters"][name]["Default"])
