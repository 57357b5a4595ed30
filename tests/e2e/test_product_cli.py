"""The product as a new user meets it: keys, send and tail against `events-api dev`."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import DevStack, events_api_command

pytestmark = pytest.mark.e2e


def cli(
    stack: DevStack, *args: str, stdin: bytes | None = None, **env: str
) -> subprocess.CompletedProcess[bytes]:
    """The events-api command as a user runs it: only AWS_ENDPOINT_URL points it at moto."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "EVENTS_API_"))}
    environment["AWS_ENDPOINT_URL"] = str(stack.dev.ready["awsEndpoint"])
    environment.update(env)
    return subprocess.run(
        [*events_api_command(), *args],
        input=stdin,
        capture_output=True,
        env=environment,
        timeout=300,
    )


def create_key(stack: DevStack, *extra: str, name: str = "new user") -> str:
    done = cli(stack, "keys", "create", "--name", name, *extra)
    assert done.returncode == 0, done.stderr
    key = done.stdout.decode().strip()
    assert key.startswith("evk_")
    assert len(key) == 42
    assert done.stdout.decode() == key + "\n"  # nothing but the key on stdout
    return key


def send(
    stack: DevStack, key: str, dataset: str, *files: str, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    return cli(
        stack, "send", dataset, *files, stdin=stdin, EVENTS_API_URL=stack.api, EVENTS_API_KEY=key
    )


def test_new_user_creates_a_key_sends_30000_events_and_tails_them(
    stack: DevStack, tmp_path: Path
) -> None:
    key = create_key(stack)
    dataset = stack.new_dataset()
    source = tmp_path / "events.ndjson"
    with source.open("w") as out:
        for n in range(30_000):
            out.write(
                json.dumps({"message": f"request {n} served", "seq": n, "duration": n % 500}) + "\n"
            )
    done = send(stack, key, dataset, str(source))
    assert done.returncode == 0, done.stderr
    summary = done.stderr.decode().strip().splitlines()[-1]
    assert summary.startswith(f"sent 30000 events to {dataset}: 30000 accepted, 0 rejected")
    stack.wait_stored(dataset, 30_000)

    tailed = cli(stack, "tail", dataset, "--since", "10m", "--bucket", stack.bucket)
    assert tailed.returncode == 0, tailed.stderr
    events = [json.loads(line) for line in tailed.stdout.splitlines()]
    assert sorted(e["seq"] for e in events) == list(range(30_000))
    assert [e["_timestamp"] for e in events] == sorted(e["_timestamp"] for e in events)
    limited = cli(
        stack, "tail", dataset, "--since", "10m", "--limit", "5", "--bucket", stack.bucket
    )
    assert len(limited.stdout.splitlines()) == 5


# How long a revoked key lasts is the key index's refresh, whatever the front door.
@pytest.mark.one_front_door
def test_revoked_key_is_refused_within_60_seconds(stack: DevStack) -> None:
    name = f"to-revoke-{uuid.uuid4().hex[:8]}"
    key = create_key(stack, name=name)
    dataset = stack.new_dataset()
    assert stack.request("POST", f"/v1/{dataset}", b'[{"a":1}]', key=key).status == 202
    listing = cli(stack, "keys", "list")
    assert listing.returncode == 0
    [row] = [line for line in listing.stdout.decode().splitlines() if name in line]
    key_id = row.split()[0]
    assert key not in listing.stdout.decode()
    revoked = cli(stack, "keys", "revoke", key_id)
    assert revoked.returncode == 0, revoked.stderr
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        answer = stack.request("POST", f"/v1/{dataset}", b'[{"a":1}]', key=key)
        if answer.status == 401:
            assert answer.json() == {"message": "Unauthorised"}
            break
        assert answer.status == 202
        time.sleep(1)
    else:
        pytest.fail("the revoked key was still accepted after 60 s")
    assert cli(stack, "keys", "revoke", key_id).returncode != 0  # already gone


def test_key_limited_to_one_dataset_is_forbidden_on_another(stack: DevStack) -> None:
    allowed = stack.new_dataset()
    key = create_key(stack, "--datasets", allowed)
    assert stack.request("POST", f"/v1/{allowed}", b'[{"a":1}]', key=key).status == 202
    answer = stack.request("POST", f"/v1/{stack.new_dataset()}", b'[{"a":1}]', key=key)
    assert (answer.status, answer.json()) == (403, {"message": "Forbidden"})


def test_send_names_the_invalid_event_and_exits_non_zero(stack: DevStack, tmp_path: Path) -> None:
    source = tmp_path / "mixed.ndjson"
    source.write_text('{"ok": 1}\n{"broken": \n{"ok": 2}\n')
    dataset = stack.new_dataset()
    done = send(stack, stack.api_key, dataset, str(source))
    assert done.returncode == 1
    errors = done.stderr.decode()
    assert f"rejected: event 1 ({source}:2): not valid JSON" in errors
    assert "2 accepted, 1 rejected" in errors
    assert sorted(e["ok"] for e in stack.wait_stored(dataset, 2)) == [1, 2]


def test_send_reads_stdin_and_json_arrays(stack: DevStack) -> None:
    dataset = stack.new_dataset()
    events: list[dict[str, Any]] = [{"n": n} for n in range(10)]
    done = send(stack, stack.api_key, dataset, "-", stdin=json.dumps(events).encode())
    assert done.returncode == 0, done.stderr
    assert sorted(e["n"] for e in stack.wait_stored(dataset, 10)) == list(range(10))
