"""The CLI package's roles depend on each other one way: the commands use the console, the
query model, the local stack and the client; the console uses the query model, which uses
the local stack's engine and the client's time parsing; the local stack never uses a
command; the client uses none of them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support import ROOT

pytestmark = pytest.mark.unit

PACKAGE = ROOT / "cli" / "events_api_cli"
#: What each role may import from the rest of events_api_cli (its own modules always).
ALLOWED = {
    "client": set(),
    "local": {"defaults", "lambda_events", "failed_batches"},
    "explore": {"local", "client"},
    "console": {"explore"},
    "commands": {
        "defaults",
        "lambda_events",
        "failed_batches",
        "local",
        "client",
        "explore",
        "console",
    },
}


def imported_cli_modules(path: Path) -> set[str]:
    """events_api_cli.* modules ``path`` imports, relative imports resolved."""
    package = ["events_api_cli", *path.parent.relative_to(PACKAGE).parts]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *(node.module or "").split(".")]).strip(".")
            found.add(module)
            found |= {f"{module}.{alias.name}" for alias in node.names}
    return {name for name in found if name.startswith("events_api_cli.")}


@pytest.mark.parametrize("role", sorted(ALLOWED))
def test_each_role_imports_only_the_roles_below_it(role: str) -> None:
    wrong = {}
    for path in sorted((PACKAGE / role).glob("*.py")):
        for name in imported_cli_modules(path):
            top = name.split(".")[1]
            if top != role and top not in ALLOWED[role]:
                wrong.setdefault(path.name, []).append(name)
    assert wrong == {}


def test_the_rule_sees_relative_imports() -> None:
    assert imported_cli_modules(PACKAGE / "commands" / "compact.py") >= {
        "events_api_cli.defaults",
        "events_api_cli.local.compaction",
    }
