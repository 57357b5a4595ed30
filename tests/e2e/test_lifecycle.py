"""Starting and stopping `events-api dev` like a user does."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.e2e.conftest import DevProcess, Stack

pytestmark = pytest.mark.e2e


def test_sigterm_stops_cleanly_with_exit_code_zero(stack: Stack, tmp_path: Path) -> None:
    # A process of its own, so the session's stack keeps running for the other tests.
    dev = DevProcess.start(stack.buffer, tmp_path)
    own = Stack(dev, stack.buffer)
    assert own.post_json(own.new_dataset(), [{"message": "before stop"}]).status == 202
    started = time.monotonic()
    code = dev.terminate(timeout=10)
    assert code == 0, dev.stderr.read_text(errors="replace")
    assert time.monotonic() - started < 10


def test_ready_line_names_the_stack(stack: Stack) -> None:
    ready = stack.dev.ready
    assert ready["buffer"] == stack.buffer
    assert ready["keysPath"] == "/events-api/local/keys/"
    assert ready["api"].startswith("http://127.0.0.1:")
    assert ready["awsEndpoint"].startswith("http://127.0.0.1:")
    output = stack.dev.stdout.read_text()
    assert f"-H 'x-api-key: {stack.api_key}'" in output
    assert f"curl -i -X POST {ready['api']}/v1/logs" in output
