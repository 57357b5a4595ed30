"""template.yaml as a document: CloudFormation's short tags read as their long forms.

``!Ref X`` becomes ``{"Ref": "X"}``, ``!GetAtt A.B`` becomes ``{"Fn::GetAtt": ["A", "B"]}``
and so on, which is what aws-sam-translator and the intrinsic resolver take.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

#: The template in this checkout (cli/events_api_cli/local/template/ -> the repository).
ROOT = Path(__file__).resolve().parents[4]
TEMPLATE_PATH = ROOT / "template.yaml"


def _loader() -> Any:
    # A dev dependency: only the local stack, the tests and the benchmarks read the template.
    import yaml  # type: ignore[import-untyped]

    loader_class: Any = type("CloudFormationLoader", (yaml.SafeLoader,), {})

    def short_form(loader: Any, suffix: str, node: Any) -> dict[str, Any]:
        key = suffix if suffix in {"Ref", "Condition"} else f"Fn::{suffix}"
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if suffix == "GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {key: value}

    loader_class.add_multi_constructor("!", short_form)
    return loader_class


def parse(text: str) -> dict[str, Any]:
    """A template's text as a document (long-form intrinsics)."""
    import yaml

    document = yaml.load(text, Loader=_loader())  # noqa: S506 (a SafeLoader subclass)
    if not isinstance(document, dict) or not isinstance(document.get("Resources"), dict):
        raise ValueError("not a CloudFormation template (no Resources)")
    return document


@cache
def _cached(path: Path, mtime: float) -> dict[str, Any]:
    return parse(path.read_text())


def load(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The template at ``path``, parsed once per version of the file. Callers must not edit
    it: copy first (the SAM transform edits what it is given)."""
    resolved = path.resolve()
    return _cached(resolved, resolved.stat().st_mtime)


def template() -> dict[str, Any]:
    return load(TEMPLATE_PATH)


def resources(kind: str | None = None) -> dict[str, dict[str, Any]]:
    return {
        name: resource
        for name, resource in template()["Resources"].items()
        if kind is None or resource["Type"] == kind
    }


def functions() -> dict[str, dict[str, Any]]:
    return resources("AWS::Serverless::Function")


def function_property(name: str, key: str) -> Any:
    """A function's property as written: its own value, else the Globals one."""
    own = functions()[name].get("Properties", {})
    return own.get(key, template().get("Globals", {}).get("Function", {}).get(key))


def function_variables(name: str) -> dict[str, Any]:
    shared = template()["Globals"]["Function"].get("Environment", {}).get("Variables", {})
    own = functions()[name]["Properties"].get("Environment", {}).get("Variables", {})
    return {**shared, **own}


def walk(node: Any) -> Iterator[Any]:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def if_branches(entry: Any) -> list[Any]:
    """Both outcomes of a Fn::If (recursively), or the entry itself."""
    if isinstance(entry, dict) and set(entry) == {"Fn::If"}:
        _, then, otherwise = entry["Fn::If"]
        return [*if_branches(then), *if_branches(otherwise)]
    if entry == {"Ref": "AWS::NoValue"}:
        return []
    return [entry]
