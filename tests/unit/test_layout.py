"""Both packages are laid out by path, and their modules depend on each other one way.

The shared package (``events_api``): each path's folder (``ingest``, ``store``,
``analytics``, ``otlp``) calls down to ``aws`` and to the modules every path uses (the
package's top level), never up or sideways, except OTLP, which reuses the Events API's
steps. The CLI (``events_api_cli``): the commands use the console, the query model, the
local stack and the client; the console uses the query model, which uses the local stack's
engine and the client's time parsing; the local stack never uses a command; the client uses
none of them. And neither package has an import cycle, counting the imports made inside
functions.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import ROOT

pytestmark = pytest.mark.unit

SHARED = ROOT / "layers" / "shared" / "events_api"
CLI = ROOT / "cli" / "events_api_cli"
#: What each folder of events_api may import from the rest of the package besides itself;
#: "" is the top level (settings, errors, records, timestamps, observability, retry).
SHARED_ALLOWED = {
    "": set(),
    "aws": {""},
    "ingest": {"", "aws"},
    "store": {"", "aws"},
    "analytics": {"", "aws"},
    "otlp": {"", "aws", "ingest"},
}
#: The same for the CLI's roles; "" is its top level (defaults, shapes shared by roles).
CLI_ALLOWED = {
    "client": set(),
    "local": {""},
    "explore": {"local", "client"},
    "console": {"explore"},
    "commands": {"", "local", "client", "explore", "console"},
}


def modules(package: Path) -> dict[str, Path]:
    """Every module of ``package`` by dotted name."""
    root = package.parent
    found = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imported(path: Path, package: Path, known: dict[str, Path]) -> set[str]:
    """The modules of ``package`` that ``path`` imports, anywhere in it (functions too),
    relative imports resolved; ``from p import m`` counts as importing module ``p.m``."""
    here = path.relative_to(package.parent).with_suffix("").parts
    base_parts = list(here[:-1])
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = base_parts[: len(base_parts) - node.level + 1] if node.level else []
            module = ".".join([*base, *(node.module or "").split(".")]).strip(".")
            submodules = {f"{module}.{alias.name}" for alias in node.names} & known.keys()
            found |= submodules or {module}
    return {name for name in found if name in known}


def graph(package: Path) -> dict[str, set[str]]:
    known = modules(package)
    return {name: imported(path, package, known) - {name} for name, path in known.items()}


def folder_of(name: str, path: Path) -> str:
    """The first folder under the package ('' for its top-level modules)."""
    parts = name.split(".")[1:]
    if path.name == "__init__.py":
        return parts[0] if parts else ""
    return parts[0] if len(parts) > 1 else ""


def cycles(edges: dict[str, set[str]]) -> Iterator[list[str]]:
    """One cycle through each module that is on one (depth-first search)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> Iterator[list[str]]:
        state[node] = 1
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                yield [*stack[stack.index(target) :], target]
            elif target not in state:
                yield from visit(target)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            yield from visit(node)


def wrong_way(package: Path, allowed: dict[str, set[str]]) -> dict[str, list[str]]:
    known = modules(package)
    wrong: dict[str, list[str]] = {}
    for name, targets in graph(package).items():
        folder = folder_of(name, known[name])
        if folder not in allowed:
            continue
        for target in sorted(targets):
            if target == package.name:
                continue  # the package itself (its __init__) holds no code to depend on
            other = folder_of(target, known[target])
            if other != folder and other not in allowed[folder]:
                wrong.setdefault(name, []).append(target)
    return wrong


def test_every_folder_of_the_shared_package_has_a_rule() -> None:
    folders = {folder_of(name, path) for name, path in modules(SHARED).items()}
    assert folders == set(SHARED_ALLOWED)


def test_the_shared_packages_paths_call_down_only() -> None:
    assert wrong_way(SHARED, SHARED_ALLOWED) == {}


def test_each_cli_role_imports_only_the_roles_below_it() -> None:
    assert wrong_way(CLI, CLI_ALLOWED) == {}


@pytest.mark.parametrize("package", [SHARED, CLI], ids=lambda p: p.name)
def test_no_import_cycles(package: Path) -> None:
    assert list(cycles(graph(package))) == []


def test_the_rules_see_relative_and_function_level_imports() -> None:
    edges = graph(CLI)
    assert edges["events_api_cli.commands.compact"] >= {
        "events_api_cli.defaults",
        "events_api_cli.local.compaction",
    }
    # events_api.aws.reset imports its modules inside the function.
    assert graph(SHARED)["events_api.aws"] == {
        "events_api.aws.clients",
        "events_api.aws.http_client",
        "events_api.aws.session",
    }


def test_the_cycle_finder_finds_a_cycle() -> None:
    edges = {"p.a": {"p.b"}, "p.b": {"p.c"}, "p.c": {"p.a"}, "p.d": {"p.a"}}
    assert list(cycles(edges)) == [["p.a", "p.b", "p.c", "p.a"]]
