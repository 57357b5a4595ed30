"""The committed record of the calls the local stack's roles make during the suites
(tests/iam_calls.json), kept true by the suites themselves.

Every ``events-api dev`` the e2e and reliability suites start writes what its roles called
(``EVENTS_API_DEV_IAM_RECORD``); at the end of the session:

- a call seen that the record lacks fails the session (the record, and so the IAM report
  and the least-privilege test built on it, would be missing it);
- a call the record holds that no suite made fails the session when every e2e and
  reliability test ran (the record would claim a use that no longer happens);
- ``IAM_RECORD_UPDATE=1`` (``make iam-record``) writes what was seen instead: the whole
  record after a complete run, else what was seen added to it.

The compactor's calls as in AWS (Athena's engine) and the log subscriber's (a mode no e2e
stack runs) come from the ``ROLE_TESTS``, which record the same way.

Records go to one directory per session (``RECORD_DIR_ENV``, made by the process that runs
the session and inherited by pytest-xdist's workers), so the check runs once, in that
process, over what every worker's stacks called.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest

from events_api_cli.local.iam.calls import Entry, read_entries, write_entries

RECORD = Path(__file__).resolve().parent / "iam_calls.json"
#: Integration tests that run a function's code as in AWS with its role enforced and record.
ROLE_TESTS = ("test_compactor_role.py", "test_log_subscriber_role.py")
UPDATE_ENV = "IAM_RECORD_UPDATE"
RECORD_DIR_ENV = "EVENTS_API_TEST_IAM_RECORDS"
_ROOT = RECORD.parent


def start_session(config: pytest.Config) -> None:
    """Make the session's record directory (in the controller, before any worker starts)."""
    if not hasattr(config, "workerinput"):
        os.environ[RECORD_DIR_ENV] = tempfile.mkdtemp(prefix="iam-records-")


def end_session(config: pytest.Config) -> None:
    shared = os.environ.get(RECORD_DIR_ENV)
    if shared and not hasattr(config, "workerinput"):
        shutil.rmtree(shared, ignore_errors=True)
        del os.environ[RECORD_DIR_ENV]


def record_file() -> Path:
    """A new file in the session's directory for one ``events-api dev`` (or role test) to
    write its record to, read back at the session's end."""
    return Path(os.environ[RECORD_DIR_ENV]) / f"{uuid.uuid4().hex}.json"


def _records() -> list[Path]:
    shared = os.environ.get(RECORD_DIR_ENV)
    return sorted(Path(shared).glob("*.json")) if shared else []


def seen() -> set[Entry]:
    found: set[Entry] = set()
    for path in _records():
        found |= read_entries(path)
    return found


def _complete(session: pytest.Session) -> bool:
    """Whether every test that records calls was selected and none failed."""
    option = session.config.option
    if getattr(option, "keyword", "") or getattr(option, "markexpr", "") or option.deselect:
        return False
    if getattr(option, "lf", False) or getattr(option, "exitfirst", False) or session.testsfailed:
        return False
    wanted = {
        _ROOT / "e2e",
        _ROOT / "reliability",
        _ROOT / "integration" / "test_compactor_role.py",
    }
    args = [Path(arg.split("::")[0]).resolve() for arg in session.config.args]
    return all(any(w == a or w.is_relative_to(a) for a in args) for w in wanted)


def check(session: pytest.Session) -> list[str]:
    """What is wrong with the committed record after this session (empty: nothing); only
    the process that runs the session answers (an xdist worker sees part of it)."""
    if hasattr(session.config, "workerinput") or not _records():
        return []
    observed = seen()
    if os.environ.get(UPDATE_ENV):
        write_entries(RECORD, observed if _complete(session) else observed | read_entries(RECORD))
        return []
    committed = read_entries(RECORD)
    problems = [
        f"called but not in {RECORD.name}: {entry.to_json()}"
        for entry in sorted(observed - committed)
    ]
    if _complete(session):
        problems += [
            f"in {RECORD.name} but no suite called it: {entry.to_json()}"
            for entry in sorted(committed - observed)
        ]
    return problems
