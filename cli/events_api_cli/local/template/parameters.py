"""Parameter values checked as CloudFormation checks them before it creates anything."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .intrinsics import TemplateError


def _number(name: str, value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise TemplateError("Parameters", name, f"{value!r} is not a number") from None


def check_parameters(document: Mapping[str, Any], given: Mapping[str, str]) -> dict[str, Any]:
    """Every declared parameter's value (given, else its Default), checked against its
    Type, AllowedValues, AllowedPattern, Min/MaxValue and Min/MaxLength. A list parameter's
    value is a list. Raises TemplateError naming the parameter and the reason."""
    declared: Mapping[str, Any] = document.get("Parameters") or {}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise TemplateError("Parameters", unknown[0], "the template declares no such parameter")
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        if name in given:
            value = str(given[name])
        elif "Default" in spec:
            value = str(spec["Default"])
        else:
            raise TemplateError("Parameters", name, "no value given and no Default")
        kind = str(spec.get("Type", "String"))
        items = (
            [item.strip() for item in value.split(",")]
            if kind.startswith("List<") or (kind == "CommaDelimitedList")
            else [value]
        )
        for item in items:
            _check_one(name, spec, kind, item)
        values[name] = items if len(items) > 1 or kind == "CommaDelimitedList" else value
    return values


def _check_one(name: str, spec: Mapping[str, Any], kind: str, value: str) -> None:
    allowed = spec.get("AllowedValues")
    if allowed is not None and value not in [str(item) for item in allowed]:
        choices = ", ".join(str(item) for item in allowed)
        raise TemplateError(
            "Parameters", name, f"{value!r} is not one of the AllowedValues: {choices}"
        )
    pattern = spec.get("AllowedPattern")
    if pattern is not None and re.fullmatch(str(pattern), value) is None:
        reason = spec.get("ConstraintDescription") or f"does not match {pattern}"
        raise TemplateError("Parameters", name, f"{value!r} {reason}".strip())
    if kind == "Number":
        number = _number(name, value)
        if "MinValue" in spec and number < float(spec["MinValue"]):
            raise TemplateError("Parameters", name, f"{value} is below MinValue {spec['MinValue']}")
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            raise TemplateError("Parameters", name, f"{value} is above MaxValue {spec['MaxValue']}")
    if "MinLength" in spec and len(value) < int(spec["MinLength"]):
        raise TemplateError("Parameters", name, f"shorter than MinLength {spec['MinLength']}")
    if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
        raise TemplateError("Parameters", name, f"longer than MaxLength {spec['MaxLength']}")
