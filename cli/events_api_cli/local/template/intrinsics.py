"""CloudFormation's intrinsic functions and conditions, evaluated for one deployment.

``Resolver`` evaluates a (raw or SAM-transformed) template's ``Conditions``, ``Rules`` and
intrinsics (``Ref``, ``Fn::GetAtt``, ``Fn::Sub``, ``Fn::If``, ``Fn::Join``, ``Fn::Select``,
``Fn::Split``, ``Fn::FindInMap``, ``Fn::Base64``, ``Fn::Equals``/``And``/``Or``/``Not``)
against ``refs``: parameter values, pseudo parameters and each resource's ``Ref`` value,
with its attributes under ``"Logical.Attribute"``. ``Fn::ImportValue`` and ``Fn::GetAZs``
name things outside the stack and are refused.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Any


class TemplateError(Exception):
    """The template cannot be deployed as given: where, and why."""

    def __init__(self, resource: str, property_path: str, reason: str) -> None:
        super().__init__(f"{resource}: {property_path}: {reason}")
        self.resource = resource
        self.property_path = property_path
        self.reason = reason


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Any = _NoValue()
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


class Resolver:
    """One deployment's view of ``document``: conditions and intrinsics evaluated."""

    def __init__(self, document: Mapping[str, Any], refs: Mapping[str, Any]) -> None:
        self.document = document
        self.refs = refs
        self._conditions: dict[str, bool] = {}

    # conditions -------------------------------------------------------------------------
    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            conditions = self.document.get("Conditions") or {}
            if name not in conditions:
                raise TemplateError("Conditions", name, "no such condition")
            self._conditions[name] = self.truth(conditions[name])
        return self._conditions[name]

    def truth(self, expression: Any) -> bool:
        if isinstance(expression, bool):
            return expression
        if not isinstance(expression, dict) or len(expression) != 1:
            raise TemplateError("Conditions", str(expression), "not a condition function")
        ((key, value),) = expression.items()
        if key == "Condition":
            return self.condition(value)
        if key == "Fn::Equals":
            left, right = (_text(self.resolve(side)) for side in value)
            return left == right
        if key == "Fn::Not":
            return not self.truth(value[0])
        if key == "Fn::And":
            return all(self.truth(item) for item in value)
        if key == "Fn::Or":
            return any(self.truth(item) for item in value)
        if key == "Fn::Contains":
            items, item = (self.resolve(side) for side in value)
            return _text(item) in [_text(entry) for entry in items]
        raise TemplateError("Conditions", key, "unsupported condition function")

    def exists(self, logical_id: str) -> bool:
        """Whether the resource (or output) is created: its Condition holds, or it has none."""
        resource = self.document["Resources"].get(logical_id) or {}
        condition = resource.get("Condition")
        return condition is None or self.condition(condition)

    def refused_by_rules(self) -> list[str]:
        """The AssertDescription of every rule assertion these parameters break."""
        refused = []
        for rule in (self.document.get("Rules") or {}).values():
            if "RuleCondition" in rule and not self.truth(rule["RuleCondition"]):
                continue
            for assertion in rule["Assertions"]:
                if not self.truth(assertion["Assert"]):
                    refused.append(assertion.get("AssertDescription", "a rule assertion failed"))
        return refused

    # intrinsics -------------------------------------------------------------------------
    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        try:
            return self.refs[name]
        except KeyError:
            raise TemplateError(name, "Ref", "nothing of this name in the template") from None

    def resolve(self, node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            ((key, value),) = node.items()
            if key == "Ref":
                return self._ref(value)
            if key == "Fn::If":
                name, then, otherwise = value
                return self.resolve(then if self.condition(name) else otherwise)
            if key == "Fn::GetAtt":
                logical, attribute = value if isinstance(value, list) else value.split(".", 1)
                attribute = self.resolve(attribute)
                return self._ref(f"{logical}.{attribute}")
            if key == "Fn::Sub":
                return self._sub(value)
            if key == "Fn::Join":
                separator, items = value
                return separator.join(_text(item) for item in self.resolve(items))
            if key == "Fn::Split":
                separator, text = value
                return _text(self.resolve(text)).split(separator)
            if key == "Fn::Select":
                index, items = value
                return self.resolve(items)[int(self.resolve(index))]
            if key == "Fn::FindInMap":
                mapping, first, second = (self.resolve(item) for item in value[:3])
                return self.document["Mappings"][mapping][first][second]
            if key == "Fn::Base64":
                return base64.b64encode(_text(self.resolve(value)).encode()).decode()
            if key in {"Fn::Equals", "Fn::And", "Fn::Or", "Fn::Not", "Condition"}:
                return self.truth(node)
            if key in {"Fn::ImportValue", "Fn::GetAZs", "Fn::Cidr", "Fn::Transform"}:
                raise TemplateError(key, str(value), "not supported by the local stack")
        if isinstance(node, dict):
            pairs = ((key, self.resolve(value)) for key, value in node.items())
            return {key: value for key, value in pairs if value is not NO_VALUE}
        if isinstance(node, list):
            items = (self.resolve(value) for value in node)
            return [value for value in items if value is not NO_VALUE]
        return node

    def _sub(self, value: Any) -> str:
        text, variables = (value, {}) if isinstance(value, str) else value
        local = {name: self.resolve(item) for name, item in variables.items()}

        def lookup(match: re.Match[str]) -> str:
            name = match.group(1).strip()
            if name in local:
                return _text(local[name])
            return _text(self._ref(name))

        # ${!Literal} is how Fn::Sub writes a literal ${Literal}.
        return _SUB_VARIABLE.sub(lookup, text).replace("${!", "${")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_text(item) for item in value)
    return str(value)
