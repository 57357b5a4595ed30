"""What every tier shares.

A test's tier is its folder: tests/unit, integration, e2e and reliability each mark their
tests with the marker of that name (``make unit`` is ``pytest -m unit``, and so on). And the
ingest path's own AWS client (``events_api.aws.http_client``) reaches moto in-process while
``mock_aws`` is on, as botocore's clients do (tests/moto_bridge.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from events_api.aws import http_client as aws_http
from tests.moto_bridge import InProcessMoto

TIERS = ("unit", "integration", "e2e", "reliability")
_ROOT = Path(__file__).resolve().parent


def tier_of(path: Path) -> str | None:
    """The tier of a test file: the first folder under tests/, if it is a tier."""
    parts = path.resolve().relative_to(_ROOT).parts
    return parts[0] if len(parts) > 1 and parts[0] in TIERS else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        tier = tier_of(item.path)
        if tier is None:
            raise pytest.UsageError(
                f"{item.nodeid}: tests live in one of tests/{{{','.join(TIERS)}}}"
            )
        others = {mark.name for mark in item.iter_markers() if mark.name in TIERS} - {tier}
        if others:
            raise pytest.UsageError(
                f"{item.nodeid} is marked {sorted(others)} but lives in tests/{tier}: "
                "the folder gives the tier"
            )
        item.add_marker(getattr(pytest.mark, tier))


def pytest_configure(config: pytest.Config) -> None:
    from tests import iam_record

    iam_record.start_session(config)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The roles' calls the suites made against the committed record (tests/iam_record.py)."""
    from tests import iam_record

    problems = iam_record.check(session)
    if problems:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        lines = [
            "the IAM record is stale; run `make iam-record` and review the diff:",
            *problems[:50],
        ]
        if reporter is not None:
            reporter.write_line("\n".join(lines), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_unconfigure(config: pytest.Config) -> None:
    from tests import iam_record

    iam_record.end_session(config)


@pytest.fixture(autouse=True, scope="session")
def _aws_http_through_moto_when_mocked() -> Iterator[None]:
    aws_http.use_transport(InProcessMoto())
    yield
    aws_http.use_transport(None)
