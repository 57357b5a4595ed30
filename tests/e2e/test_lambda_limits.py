"""The local stack holds each function to its MemorySize and Timeout, as Lambda does.

Handlers written here into a scratch checkout run in real worker processes (the ones
``events-api dev`` uses); an invocation past its memory or time fails with Lambda's error,
and the next one gets a fresh worker.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from events_api_cli.lambda_runtime import FunctionError
from events_api_cli.lambda_worker import WorkerFunction
from events_api_cli.template_limits import function_limits
from tests.unit.sam_template import TEMPLATE_PATH, function_property

pytestmark = pytest.mark.e2e

HANDLER = """
import time

def lambda_handler(event, context):
    if event.get("allocate_mb"):
        hog = bytearray(event["allocate_mb"] * 1024 * 1024)
        hog[::4096] = b"x" * len(hog[::4096])  # touch every page: resident, not just mapped
    if event.get("sleep"):
        time.sleep(event["sleep"])
    return {"ok": True, "memory": context.memory_limit_in_mb}
"""


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    (tmp_path / "functions" / "probe").mkdir(parents=True)
    (tmp_path / "functions" / "probe" / "app.py").write_text(HANDLER)
    shutil.copy(TEMPLATE_PATH, tmp_path / "template.yaml")
    return tmp_path


@pytest.fixture
def probe(checkout: Path):
    function = WorkerFunction("probe", checkout, "probe", timeout_seconds=2, memory_mb=160).start()
    yield function
    function.stop()


def test_the_dev_stack_takes_memory_and_timeout_from_the_template() -> None:
    for logical_id in ("IngestFunction", "ConsumerFunction"):
        limits = function_limits(TEMPLATE_PATH, logical_id)
        assert limits.memory_mb == function_property(logical_id, "MemorySize")
        assert limits.timeout_seconds == function_property(logical_id, "Timeout")


def test_an_invocation_within_the_limits_answers(probe: WorkerFunction) -> None:
    assert probe.invoke({"allocate_mb": 20}) == {"ok": True, "memory": 160}


def test_an_invocation_past_memory_size_is_killed_and_the_next_starts_afresh(
    probe: WorkerFunction,
) -> None:
    with pytest.raises(FunctionError, match=r"signal: killed .*MemorySize 160 MB"):
        probe.invoke({"allocate_mb": 300})
    assert probe.invoke({}) == {"ok": True, "memory": 160}


def test_an_invocation_past_its_timeout_is_killed_and_the_next_starts_afresh(
    probe: WorkerFunction,
) -> None:
    with pytest.raises(FunctionError, match=r"Task timed out after 2.00 seconds"):
        probe.invoke({"sleep": 30})
    assert probe.invoke({}) == {"ok": True, "memory": 160}
