"""The local stack holds each function to its MemorySize and Timeout, as Lambda does.

Handlers written here into a scratch checkout run in real worker processes (the ones
``events-api dev`` uses); an invocation past its memory or time fails with Lambda's error,
and the next one gets a fresh worker. And the worst legal request goes through the whole
local stack within those limits.
"""

from __future__ import annotations

import gzip
import re
import shutil
import time
from pathlib import Path

import pytest

from events_api.settings import DEFAULT_OBJECT_MAX_BYTES
from events_api_cli.local.lambda_runtime import FunctionError
from events_api_cli.local.lambda_worker import WorkerFunction
from events_api_cli.local.template import TEMPLATE_PATH, function_limits
from events_api_cli.local.template.document import function_property
from tests.e2e.conftest import DevStack

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
    function = WorkerFunction(
        "probe",
        checkout / "functions" / "probe",
        "app.lambda_handler",
        timeout_seconds=2,
        memory_mb=160,
    ).start()
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


def test_a_6_mib_request_of_empty_objects_is_stored_whole_within_the_limits(
    stack: DevStack,
) -> None:
    # Two million events in one request: in AWS this killed the consumer before records
    # were bounded; here the consumer runs under the same memory and timeout.
    dataset = stack.new_dataset()
    count = (6 * 1024 * 1024 - 1) // 3
    body = gzip.compress(b"[" + b",".join([b"{}"] * count) + b"]")
    headers = {"content-type": "application/json", "content-encoding": "gzip"}
    response = stack.request("POST", f"/v1/{dataset}", body, headers)
    assert response.status == 202
    request_id = response.headers[stack.request_id_header].encode()
    s3 = stack.s3()
    ordinals: dict[str, list[int]] = {}
    deadline = time.monotonic() + 300
    while sum(map(len, ordinals.values())) < count and time.monotonic() < deadline:
        time.sleep(2)
        pages = s3.get_paginator("list_objects_v2").paginate(
            Bucket=stack.bucket, Prefix=f"dataset={dataset}/"
        )
        for item in (item for page in pages for item in page.get("Contents", [])):
            if item["Key"] in ordinals:
                continue  # objects are written whole, and a rewrite holds the same events
            text = gzip.decompress(
                s3.get_object(Bucket=stack.bucket, Key=item["Key"])["Body"].read()
            )
            assert len(text) <= DEFAULT_OBJECT_MAX_BYTES
            ids = re.findall(rb'"_id":"' + re.escape(request_id) + rb'-(\d+)"', text)
            assert len(ids) == text.count(b"\n")
            ordinals[item["Key"]] = list(map(int, ids))
    stored = sorted(n for found in ordinals.values() for n in found)
    assert stored == list(range(count))
