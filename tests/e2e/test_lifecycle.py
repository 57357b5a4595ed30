"""Starting and stopping `events-api dev` like a user does."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.e2e.conftest import DevProcess, DevStack

pytestmark = pytest.mark.e2e


# A stack of its own, behind the HTTP API: stopping does not depend on the front door.
@pytest.mark.one_front_door
def test_sigterm_stops_cleanly_with_exit_code_zero(stack: DevStack, tmp_path: Path) -> None:
    # A process of its own, so the session's stack keeps running for the other tests.
    dev = DevProcess.start(stack.buffer, tmp_path)
    own = DevStack(dev, stack.buffer)
    assert own.post_json(own.new_dataset(), [{"message": "before stop"}]).status == 202
    started = time.monotonic()
    code = dev.terminate(timeout=10)
    assert code == 0, dev.stderr.read_text(errors="replace")
    assert time.monotonic() - started < 10


def listening_addresses(port: int) -> set[str]:
    """IPv4 addresses a TCP socket on this port listens on (from /proc/net/tcp)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, _, hex_port = local.partition(":")
        if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
            found.add(".".join(str(int(address[i : i + 2], 16)) for i in (6, 4, 2, 0)))
    return found


@pytest.mark.one_front_door
def test_exposed_api_keeps_the_local_aws_endpoint_on_loopback(
    stack: DevStack, tmp_path: Path
) -> None:
    dev = DevProcess.start(stack.buffer, tmp_path, host="0.0.0.0")
    try:
        api_port = int(dev.ready["api"].rsplit(":", 1)[1])
        aws_port = int(dev.ready["awsEndpoint"].rsplit(":", 1)[1])
        assert dev.ready["awsEndpoint"].startswith("http://127.0.0.1:")
        assert listening_addresses(api_port) == {"0.0.0.0"}
        assert listening_addresses(aws_port) == {"127.0.0.1"}
        assert "stays on 127.0.0.1 only" in dev.stderr.read_text()
    finally:
        assert dev.terminate() == 0


def test_ready_line_names_the_stack(stack: DevStack) -> None:
    ready = stack.dev.ready
    assert ready["buffer"] == stack.buffer
    assert ready["frontDoor"] == stack.front_door
    assert ready["keysPath"] == "/events-api/local/keys/"
    assert ready["api"].startswith("http://127.0.0.1:")
    assert ready["awsEndpoint"].startswith("http://127.0.0.1:")
    output = stack.dev.stdout.read_text()
    assert f"-H 'x-api-key: {stack.api_key}'" in output
    assert f"curl -i -X POST {ready['api']}/v1/logs" in output
