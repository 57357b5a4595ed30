"""`events-api query` and `events-api compact` against `events-api dev`, as users run them.

Events are sent over HTTP (or, for past hours, stored through the consumer's own store
path with receive times in the past), then counted, grouped and filtered with the query
command and compared with what was sent. Compaction must leave every count per dataset and
hour exactly as it was, run after run.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from events_api import aws, records
from events_api.analytics.table import VIEW_COLUMNS
from events_api.settings import ConsumerSettings
from events_api.store.consumer import ConsumerService, SourceRecord
from events_api.store.object_writer import S3ObjectWriter
from events_api.timestamps import rfc3339
from tests.e2e.conftest import DevProcess, DevStack, events_api_command

# Query and compaction read the bucket: the front door the events came through does not matter.
pytestmark = [pytest.mark.e2e, pytest.mark.one_front_door]

LEVELS = ("info", "warn", "error")
SERVICES = ("checkout", "search")


def cli(stack: DevStack, cache: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return stack.cli(*args, env={"XDG_CACHE_HOME": str(cache)}, timeout=120)


def query(stack: DevStack, cache: Path, sql: str) -> list[dict[str, Any]]:
    done = cli(stack, cache, "query", sql, "--format", "ndjson")
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def sample_events(count: int) -> list[dict[str, Any]]:
    return [
        {
            "message": f"event {n}",
            "level": LEVELS[n % 3],
            "service": SERVICES[n % 2],
            "duration": n,
            "requestId": f"req-{n}",
            "data": {"n": n},
        }
        for n in range(count)
    ]


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def test_query_counts_groups_and_filters_what_was_sent(stack: DevStack, cache: Path) -> None:
    dataset = stack.new_dataset()
    sent = sample_events(30)
    assert stack.post_json(dataset, sent).status == 202
    stack.wait_stored(dataset, len(sent))

    where = f"WHERE dataset = '{dataset}'"
    [total] = query(stack, cache, f"SELECT count(*) AS n FROM events {where}")
    assert total == {"n": 30}

    levels = query(
        stack, cache, f"SELECT level, count(*) AS n FROM events {where} GROUP BY level ORDER BY 1"
    )
    assert levels == [
        {"level": k, "n": v} for k, v in sorted(Counter(e["level"] for e in sent).items())
    ]

    errors = query(
        stack,
        cache,
        "SELECT _service, message, duration, requestid, "
        f"json_extract_scalar(event, '$.data.n') AS n FROM events {where} "
        "AND level = 'error' AND _service = 'checkout' ORDER BY duration",
    )
    expected = [e for e in sent if e["level"] == "error" and e["service"] == "checkout"]
    assert errors == [
        {
            "_service": "checkout",
            "message": e["message"],
            "duration": e["duration"],
            "requestid": e["requestId"],
            "n": str(e["data"]["n"]),
        }
        for e in expected
    ]


def test_every_column_of_the_events_table_is_there(stack: DevStack, cache: Path) -> None:
    dataset = stack.new_dataset()
    assert stack.post_json(dataset, [{"message": "hello"}], {"x-service": "svc"}).status == 202
    [stored] = stack.wait_stored(dataset, 1)
    [row] = query(stack, cache, f"SELECT * FROM events WHERE dataset = '{dataset}'")
    assert list(row) == list(VIEW_COLUMNS)
    assert json.loads(row["event"]) == stored
    assert row["_id"] == stored["_id"]
    [stored_object] = stack.objects(dataset)
    assert row["_source"] == f"s3://{stack.bucket}/{stored_object.key}"
    assert row["event_time"] == stored["_timestamp"]
    assert (row["dataset"], row["dt"], row["hour"]) == (
        dataset,
        stored["_receivedAt"][:10],
        stored["_receivedAt"][11:13],
    )


def test_results_as_csv_and_as_a_table(stack: DevStack, cache: Path) -> None:
    dataset = stack.new_dataset()
    assert stack.post_json(dataset, [{"message": "a,b", "level": "info"}]).status == 202
    stack.wait_stored(dataset, 1)
    sql = f"SELECT level, message FROM events WHERE dataset = '{dataset}'"
    as_csv = cli(stack, cache, "query", sql, "--format", "csv")
    assert as_csv.returncode == 0, as_csv.stderr
    assert list(csv.reader(io.StringIO(as_csv.stdout))) == [["level", "message"], ["info", "a,b"]]
    as_table = cli(stack, cache, "query", sql)
    assert as_table.stdout.splitlines()[0].split(" | ") == ["level", "message"]
    assert as_table.stdout.splitlines()[2].split(" | ") == ["info ", "a,b"]


def test_bad_sql_is_one_clear_error_and_no_traceback(stack: DevStack, cache: Path) -> None:
    for sql in ("SELEC 1", "SELECT nope FROM events", "SELECT * FROM missing_table"):
        done = cli(stack, cache, "query", sql)
        assert done.returncode == 1, sql
        assert done.stdout == ""
        assert done.stderr.startswith("events-api query: "), done.stderr
        assert "Traceback" not in done.stderr


# ---------------------------------------------------------------- compaction of past hours


@pytest.fixture
def consumer_store(stack: DevStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[ConsumerService]:
    """The consumer's own store path, in this process, writing to the stack's S3."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", str(stack.dev.ready["awsEndpoint"]))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    aws.reset()
    yield ConsumerService(ConsumerSettings(stack.bucket), S3ObjectWriter(stack.bucket))
    aws.reset()


def store_past(
    service: ConsumerService, dataset: str, received: datetime, events: list[bytes], name: str
) -> None:
    at = rfc3339(received)
    meta = records.RequestMeta(dataset, f"req-{name}", at, "past")
    [blob] = records.encode(meta, events, 1 << 20)
    assert service.store("sqs", [SourceRecord(name, name, blob)]) == set()


def counts(stack: DevStack, cache: Path, dataset: str) -> dict[tuple[str, str], int]:
    rows = query(
        stack,
        cache,
        "SELECT dt, hour, count(*) AS n, count(DISTINCT _id) AS ids FROM events "
        f"WHERE dataset = '{dataset}' GROUP BY dt, hour",
    )
    assert all(row["n"] == row["ids"] for row in rows), rows
    return {(row["dt"], row["hour"]): row["n"] for row in rows}


def keys_under(stack: DevStack, prefix: str) -> list[str]:
    answer = stack.s3().list_objects_v2(Bucket=stack.bucket, Prefix=prefix)
    return sorted(item["Key"] for item in answer.get("Contents", []))


def test_compaction_keeps_every_count_per_hour_run_after_run(
    stack: DevStack, cache: Path, consumer_store: ConsumerService
) -> None:
    dataset = stack.new_dataset()
    now = datetime.now(UTC)
    past = [now - timedelta(hours=h, minutes=10) for h in (3, 4, 30)]
    expected: Counter[tuple[str, str]] = Counter()
    for i, received in enumerate(past):
        for part in range(3):  # several objects per hour, as a busy consumer writes
            events = [
                json.dumps({"message": f"{i}-{part}-{n}", "level": "info"}).encode()
                for n in range(5 + i)
            ]
            store_past(consumer_store, dataset, received, events, f"{dataset}-{i}-{part}")
            expected[(received.strftime("%Y-%m-%d"), received.strftime("%H"))] += len(events)
    # And the current hour, which is open and must stay raw.
    assert stack.post_json(dataset, [{"message": "now"}]).status == 202
    stack.wait_stored(dataset, sum(expected.values()) + 1)
    expected[(now.strftime("%Y-%m-%d"), now.strftime("%H"))] += 1

    before = counts(stack, cache, dataset)
    assert before == expected
    for _ in range(2):
        done = cli(stack, cache, "compact")
        assert done.returncode == 0, done.stderr
        assert counts(stack, cache, dataset) == expected
    parquet = keys_under(stack, f"compacted/dataset={dataset}/")
    manifests = keys_under(stack, f"compaction-manifests/dataset={dataset}/")
    # One Parquet file and one manifest per past hour; the open hour is not compacted.
    assert len(parquet) == len(manifests) == len(past), (parquet, manifests)
    assert all(k.endswith(".parquet") for k in parquet)
    assert not any(f"dt={now:%Y-%m-%d}/hour={now:%H}/" in k for k in parquet)
    # The past hours' objects moved to archive/, byte for byte; the open hour's stayed.
    assert len(keys_under(stack, f"archive/dataset={dataset}/")) == 3 * len(past)
    assert [k.split("/")[2] for k in keys_under(stack, f"dataset={dataset}/")] == [f"hour={now:%H}"]


def test_events_arriving_late_for_a_compacted_hour_are_counted_once(
    stack: DevStack, cache: Path, consumer_store: ConsumerService
) -> None:
    dataset = stack.new_dataset()
    received = datetime.now(UTC) - timedelta(hours=5)
    key = (received.strftime("%Y-%m-%d"), received.strftime("%H"))
    store_past(consumer_store, dataset, received, [b'{"n":1}', b'{"n":2}'], f"{dataset}-a")
    assert cli(stack, cache, "compact").returncode == 0
    assert counts(stack, cache, dataset) == {key: 2}

    # A late object: read from NDJSON until compaction folds it into Parquet.
    store_past(consumer_store, dataset, received, [b'{"n":3}'], f"{dataset}-late")
    assert counts(stack, cache, dataset) == {key: 3}
    done = cli(stack, cache, "compact")
    assert done.returncode == 0, done.stderr
    assert f"compacted {dataset} {key[0]} {key[1]}:00: 1 new objects" in done.stdout
    assert counts(stack, cache, dataset) == {key: 3}
    # A retried batch rewrites its object (same name, same events): still counted once.
    store_past(consumer_store, dataset, received, [b'{"n":3}'], f"{dataset}-late")
    assert counts(stack, cache, dataset) == {key: 3}
    assert len(keys_under(stack, f"compacted/dataset={dataset}/")) == 1
    # Compacting again folds the rewritten object in; nothing doubles.
    assert cli(stack, cache, "compact").returncode == 0
    assert counts(stack, cache, dataset) == {key: 3}
    assert keys_under(stack, f"dataset={dataset}/") == []


def test_events_api_dev_compacts_closed_hours_on_its_own(
    tmp_path: Path, cache: Path, consumer_store: ConsumerService, stack: DevStack
) -> None:
    """A second `events-api dev`, compacting every second, folds a past hour into Parquet."""
    dev = DevProcess.start(stack.buffer, tmp_path / "dev", options=("--compact-every", "1"))
    try:
        own = DevStack(dev, stack.buffer)
        dataset = own.new_dataset()
        received = datetime.now(UTC) - timedelta(hours=2)
        # The fixture's store path writes to the first stack: point it at this one.
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("AWS_ENDPOINT_URL", str(dev.ready["awsEndpoint"]))
            aws.reset()
            store_past(consumer_store, dataset, received, [b'{"n":1}', b'{"n":2}'], dataset)
        aws.reset()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not keys_under(own, f"compacted/dataset={dataset}/"):
            time.sleep(0.5)
        assert keys_under(own, f"compacted/dataset={dataset}/"), dev.stderr.read_text()
        assert counts(own, cache, dataset) == {
            (received.strftime("%Y-%m-%d"), received.strftime("%H")): 2
        }
    finally:
        assert dev.terminate() == 0


def test_query_without_a_running_local_stack_says_so(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    env["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9"  # nothing listens on the discard port
    env["XDG_CACHE_HOME"] = str(tmp_path)
    done = subprocess.run(
        [*events_api_command(), "query", "SELECT count(*) FROM events"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "is `events-api dev` running there?" in done.stderr
    assert "Traceback" not in done.stderr
