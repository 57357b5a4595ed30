"""IAM's policy evaluation for one account, for the documents a stack's roles hold.

A request is allowed when some statement allows it and none denies it (an explicit deny
wins over any allow; no allow is an implicit deny). A statement applies when its
``Action`` (or ``NotAction``), its ``Resource`` (or ``NotResource``) and every condition
match. Matching follows IAM: actions case-insensitively with ``*`` and ``?``; resources
case-sensitively, ARN segment by ARN segment for the first five, the resource part as one
(so ``*`` there crosses ``/`` and ``:``). Condition operators: String*, Arn*, Bool, Null,
Numeric*, each with ``IfExists``, and the ``ForAnyValue:``/``ForAllValues:`` set forms. An
operator not listed here raises ``UnsupportedPolicy``: never a silent allow.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from typing import Any


class UnsupportedPolicy(Exception):
    """A policy uses something this evaluator does not know: it refuses to guess."""


class Outcome(StrEnum):
    ALLOWED = "allowed"
    IMPLICIT_DENY = "implicit-deny"
    EXPLICIT_DENY = "explicit-deny"


@dataclass(frozen=True)
class Request:
    """What IAM evaluates: one action on one resource (an ARN, or ``*`` for actions that
    take none), with the request's condition keys."""

    action: str
    resource: str
    context: Mapping[str, str | Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class StatementRef:
    """Where a statement is: its policy's name and its index there (and its Sid)."""

    policy: str
    index: int
    sid: str | None = None

    def __str__(self) -> str:
        return f"{self.policy}#{self.sid or self.index}"


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    #: The statements that allowed it (or the one that denied it).
    statements: tuple[StatementRef, ...] = ()
    #: Whether the deciding statement came from a resource-based policy.
    resource_policy: bool = False

    @property
    def allowed(self) -> bool:
        return self.outcome is Outcome.ALLOWED


@dataclass(frozen=True)
class NamedDocument:
    name: str
    document: Mapping[str, Any]

    @property
    def statements(self) -> list[Mapping[str, Any]]:
        statements = self.document.get("Statement", [])
        return list(statements) if isinstance(statements, list) else [statements]


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


@cache
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def glob_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    return _glob(pattern, ignore_case).fullmatch(value) is not None


def action_matches(pattern: str, action: str) -> bool:
    return glob_match(pattern, action, ignore_case=True)


def resource_matches(pattern: str, resource: str) -> bool:
    if pattern == "*":
        return True
    if resource == "*":
        # An action that takes no resource is only ever granted by Resource "*".
        return False
    if not pattern.startswith("arn:") or not resource.startswith("arn:"):
        return glob_match(pattern, resource)
    wanted, actual = pattern.split(":", 5), resource.split(":", 5)
    if len(wanted) != 6 or len(actual) != 6:
        return glob_match(pattern, resource)
    return all(glob_match(w, a) for w, a in zip(wanted, actual, strict=True))


def _statement_acts_on(statement: Mapping[str, Any], request: Request) -> bool:
    if "Action" in statement:
        if not any(action_matches(p, request.action) for p in _as_list(statement["Action"])):
            return False
    elif "NotAction" in statement:
        if any(action_matches(p, request.action) for p in _as_list(statement["NotAction"])):
            return False
    else:
        raise UnsupportedPolicy("a statement without Action or NotAction")
    if "Resource" in statement:
        patterns = _as_list(statement["Resource"])
        if not any(resource_matches(p, request.resource) for p in patterns):
            return False
    elif "NotResource" in statement:
        patterns = _as_list(statement["NotResource"])
        if any(resource_matches(p, request.resource) for p in patterns):
            return False
    return conditions_hold(statement.get("Condition") or {}, request.context)


# -- conditions ----------------------------------------------------------------------------


def _string_op(name: str) -> Any:
    ignore_case = name.endswith("IgnoreCase")
    like = "Like" in name

    def compare(expected: str, actual: str) -> bool:
        if like:
            return glob_match(expected, actual, ignore_case=ignore_case)
        return expected.lower() == actual.lower() if ignore_case else expected == actual

    return compare


def _arn_op(expected: str, actual: str) -> bool:
    return resource_matches(expected, actual)


def _number(text: str) -> float:
    return float(text)


_NUMERIC = {
    "NumericEquals": lambda e, a: _number(a) == _number(e),
    "NumericNotEquals": lambda e, a: _number(a) != _number(e),
    "NumericLessThan": lambda e, a: _number(a) < _number(e),
    "NumericLessThanEquals": lambda e, a: _number(a) <= _number(e),
    "NumericGreaterThan": lambda e, a: _number(a) > _number(e),
    "NumericGreaterThanEquals": lambda e, a: _number(a) >= _number(e),
}
_POSITIVE = {
    "StringEquals": _string_op("StringEquals"),
    "StringEqualsIgnoreCase": _string_op("StringEqualsIgnoreCase"),
    "StringLike": _string_op("StringLike"),
    "ArnEquals": _arn_op,
    "ArnLike": _arn_op,
    "Bool": lambda e, a: e.lower() == a.lower(),
    **_NUMERIC,
}
#: The negated operators: true when no expected value matches.
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


def _values(value: Any) -> list[str]:
    return [
        ("true" if item else "false") if isinstance(item, bool) else str(item)
        for item in _as_list(value)
    ]


def _context_value(context: Mapping[str, Any], key: str) -> list[str] | None:
    # Condition keys are case-insensitive.
    for name, value in context.items():
        if name.lower() == key.lower():
            return _values(value)
    return None


def _one_condition(
    operator: str, key: str, expected: list[str], context: Mapping[str, Any]
) -> bool:
    set_form = None
    if ":" in operator:
        set_form, operator = operator.split(":", 1)
        if set_form not in {"ForAnyValue", "ForAllValues"}:
            raise UnsupportedPolicy(f"condition set operator {set_form}")
    if_exists = operator.endswith("IfExists")
    operator = operator.removesuffix("IfExists")
    actual = _context_value(context, key)
    if operator == "Null":
        return (actual is None) == (expected[0].lower() == "true")
    if actual is None:
        # A missing key satisfies IfExists and ForAllValues, nothing else.
        return if_exists or set_form == "ForAllValues"
    negated = operator in _NEGATED
    compare = _POSITIVE.get(_NEGATED.get(operator, operator))
    if compare is None:
        raise UnsupportedPolicy(f"condition operator {operator}")

    def matches(value: str) -> bool:
        hit = any(compare(e, value) for e in expected)
        return not hit if negated else hit

    if set_form == "ForAllValues":
        return all(matches(value) for value in actual)
    return any(matches(value) for value in actual)


def conditions_hold(condition: Mapping[str, Any], context: Mapping[str, Any]) -> bool:
    """Every operator, every key (AND); any of a key's values (OR)."""
    return all(
        _one_condition(operator, key, _values(expected), context)
        for operator, keys in condition.items()
        for key, expected in keys.items()
    )


# -- evaluation ----------------------------------------------------------------------------


def _principal_matches(principal: Any, principal_arn: str, account: str) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, Mapping):
        # An AWS service calling on its own (API Gateway invoking a function) is named by
        # its service principal.
        if principal_arn and principal_arn in _as_list(principal.get("Service")):
            return True
        for name in _as_list(principal.get("AWS")):
            if name in {"*", principal_arn, account, f"arn:aws:iam::{account}:root"}:
                return True
    return False


def evaluate(
    policies: Iterable[NamedDocument],
    request: Request,
    *,
    resource_policies: Iterable[NamedDocument] = (),
    principal_arn: str = "",
    account: str = "",
) -> Decision:
    """The decision for ``request`` by a principal holding ``policies`` (identity-based),
    on a resource whose ``resource_policies`` apply (same account: either may allow).
    IAM sets ``aws:PrincipalArn`` and ``aws:PrincipalAccount`` on every signed request (a
    role session's PrincipalArn is its role's ARN), so conditions may name them."""
    known = {"aws:PrincipalArn": principal_arn, "aws:PrincipalAccount": account}
    missing = {k: v for k, v in known.items() if v and _context_value(request.context, k) is None}
    if missing:
        request = Request(request.action, request.resource, {**request.context, **missing})
    allows: list[StatementRef] = []
    allowed_by_resource = False
    sources = [(policy, False) for policy in policies]
    sources += [(policy, True) for policy in resource_policies]
    for policy, is_resource_policy in sources:
        for index, statement in enumerate(policy.statements):
            if is_resource_policy and not _principal_matches(
                statement.get("Principal"), principal_arn, account
            ):
                continue
            if not _statement_acts_on(statement, request):
                continue
            ref = StatementRef(policy.name, index, statement.get("Sid"))
            if statement.get("Effect") == "Deny":
                return Decision(Outcome.EXPLICIT_DENY, (ref,), is_resource_policy)
            if statement.get("Effect") == "Allow":
                allows.append(ref)
                allowed_by_resource |= is_resource_policy
    if allows:
        return Decision(Outcome.ALLOWED, tuple(allows), allowed_by_resource)
    return Decision(Outcome.IMPLICIT_DENY)
