"""Least privilege, proven on the suites' own calls: each statement of each role, removed in
turn, leaves some recorded call denied, or it is listed as debt with the reason it stays;
and docs/operations.md holds the current IAM report.

The calls are tests/iam_calls.json's (what the e2e, reliability and compactor suites made
through the enforced local stack; tests/iam_record.py keeps it true), replayed through the
enforcer's own evaluator against the roles of template.yaml after the SAM transform.
"""

from __future__ import annotations

import copy
from functools import cache

import pytest

from events_api_cli.defaults import LOCAL_STACK_NAME
from events_api_cli.local.iam import report
from events_api_cli.local.iam.calls import Entry, Names, parameters_of, read_entries, replay
from events_api_cli.local.iam.policy import NamedDocument, Outcome, evaluate
from events_api_cli.local.template import load_stack
from events_api_cli.local.template.document import template
from events_api_cli.local.template.stack import Stack

pytestmark = pytest.mark.unit


@cache
def entries() -> frozenset[Entry]:
    return frozenset(read_entries(report.RECORD))


@cache
def stack_for(configuration: str) -> Stack:
    return load_stack(stack_name=LOCAL_STACK_NAME, parameters=parameters_of(configuration))


@cache
def grants() -> dict[report.GrantKey, report.Grant]:
    return report.analyse(set(entries()))


def statements() -> list[tuple[str, str, str, int]]:
    """(configuration, role, policy, statement index) of every Allow statement."""
    found = []
    for configuration in report.configurations(entries()):
        for role in stack_for(configuration).roles.values():
            for policy in role.policies:
                for index, statement in enumerate(policy.statements):
                    if statement.get("Effect") == "Allow":
                        found.append((configuration, role.logical_id, policy.name, index))
    return found


def denied_without(configuration: str, role_id: str, policy_name: str, index: int) -> list[Entry]:
    """The recorded calls of the role that its policies without that statement deny."""
    stack = stack_for(configuration)
    role = stack.roles[role_id]
    kept = []
    for policy in role.policies:
        document = copy.deepcopy(policy.document)
        if policy.name == policy_name:
            statements = list(policy.statements)
            del statements[index]
            document["Statement"] = statements
        kept.append(NamedDocument(policy.name, document))
    names = Names(stack)
    return [
        entry
        for entry in entries()
        if entry.configuration == configuration
        and entry.role == role_id
        and entry.outcome == Outcome.ALLOWED.value
        and evaluate(kept, replay(entry, names)).outcome is Outcome.IMPLICIT_DENY
    ]


@pytest.mark.parametrize(
    ("configuration", "role", "policy", "index"),
    statements(),
    ids=lambda value: str(value).rsplit("/", 1)[-1],
)
def test_each_statement_is_needed_by_a_recorded_call_or_is_listed_debt(
    configuration: str, role: str, policy: str, index: int
) -> None:
    if denied_without(configuration, role, policy, index):
        return
    stack = stack_for(configuration)
    statement = next(p for p in stack.roles[role].policies if p.name == policy).statements[index]
    label = report.role_label(stack, stack.roles[role])
    names = Names(stack)
    debt = report.read_debt()
    actions = (
        statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
    )
    resources = statement.get("Resource", "*")
    resources = resources if isinstance(resources, list) else [resources]
    keys = [report.GrantKey(label, a, names.relative(r)) for a in actions for r in resources]
    unlisted = [key for key in keys if key not in debt]
    used = [key for key in keys if grants()[key].used_by]
    # Removing it denied nothing: every call it allows another statement allows too, or it
    # allows no call at all. Either way each of its grants must be explained.
    assert unlisted == [] or used, f"unused and not in docs/iam-debt.json: {unlisted}"


def test_removing_a_statement_from_a_copy_of_the_template_denies_the_calls_it_allowed() -> None:
    """The same proof on the template itself for one statement: the ingest function's key
    look-up (its only SSM statement) removed from a copy of template.yaml."""
    lookups = [
        e for e in entries() if e.function == "IngestFunction" and e.action == "ssm:GetParameter"
    ]
    assert lookups
    configuration = lookups[0].configuration
    lookups = [e for e in lookups if e.configuration == configuration]
    document = copy.deepcopy(template())
    policies = document["Resources"]["IngestFunction"]["Properties"]["Policies"]
    policies[:] = [p for p in policies if "ssm:GetParameter" not in str(p)]
    stack = load_stack(
        stack_name=LOCAL_STACK_NAME, document=document, parameters=parameters_of(configuration)
    )
    names = Names(stack)
    role = stack.functions["IngestFunction"].role
    held = [NamedDocument(p.name, p.document) for p in role.policies]
    assert all(evaluate(held, replay(e, names)).outcome is Outcome.IMPLICIT_DENY for e in lookups)


def test_every_debt_entry_names_a_grant_no_call_used() -> None:
    stale = [key for key in report.read_debt() if key not in grants() or grants()[key].used_by]
    assert stale == []


def test_every_unused_grant_has_a_reason() -> None:
    debt = report.read_debt()
    missing = [key for key, grant in grants().items() if not grant.used_by and key not in debt]
    assert missing == []


def test_no_recorded_call_was_denied() -> None:
    assert [e for e in entries() if e.outcome != Outcome.ALLOWED.value] == []


def test_docs_hold_the_current_iam_report() -> None:
    assert report.START in report.DOCUMENT.read_text()
    current = report.replace_section(report.DOCUMENT.read_text(), report.current_report())
    assert current == report.DOCUMENT.read_text(), "run `make iam-report`"
