"""Hostile input: a corpus of bodies, headers and paths through the real ingest handler (and
what it accepts through the real consumer), plus property-based tests with hypothesis.

Every request gets 202 or a 4xx (never a 5xx, never an exception), and every accepted event
is stored byte for byte as sent (newlines between tokens flattened to spaces, the stored
fields appended).
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import boto3
import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events_api import records
from events_api.errors import ApiError
from events_api.ingest import batch
from events_api.settings import ConsumerSettings
from events_api.store.consumer import ConsumerService, SourceRecord
from tests.integration.conftest import BUCKET, Stack, consumer_event
from tests.reliability.hostile import NDJSON, depth, events_api_corpus, parser_limit
from tests.reliability.support import SCALE, record, scaled
from tests.support import FakeLambdaContext, http_event


@dataclass
class Results:
    cases: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    five_xx: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    stored_events: int = 0
    not_byte_equal: list[str] = field(default_factory=list)


def original_text(line: bytes, dataset: str) -> bytes:
    """A stored line without the stored fields (which are appended, ``_dataset`` first)."""
    marker = b'"_dataset":' + json.dumps(dataset).encode()
    at = line.rfind(marker)
    assert at > 0, line[:200]
    return line[: at - 1] + b"}" if line[at - 1 : at] == b"," else b"{}"


def store_through_consumer(consumer: Any, stack: Stack) -> list[bytes]:
    """Run the consumer over everything on the buffer; the stored lines, in order."""
    blobs = stack.buffered()
    if not blobs:
        return []
    response = consumer.lambda_handler(consumer_event(stack.buffer, blobs), FakeLambdaContext())
    assert response == {"batchItemFailures": []}
    lines = []
    for key, body in sorted(stack.stored().items()):
        assert not key.startswith("quarantine/"), f"an accepted record was quarantined: {key}"
        lines.extend(body.splitlines())
    return lines


def test_hostile_corpus(ingest, consumer, stack) -> None:
    results = Results()
    s3 = boto3.client("s3")
    for case in events_api_corpus():
        results.cases += 1
        headers: dict[str, str | None] = {"content-type": "application/json", **case.headers}
        event = http_event(case.body, headers=headers, path=case.path, base64_body=True)
        event["requestContext"]["requestId"] = f"hostile-{results.cases}"
        try:
            response = ingest.lambda_handler(event, FakeLambdaContext())
        except Exception as exc:  # the handler must never raise
            results.five_xx.append(f"{case.name}: raised {exc!r}")
            continue
        status = response["statusCode"]
        results.statuses[status] += 1
        if status >= 500:
            results.five_xx.append(f"{case.name}: {status} {response['body'][:200]}")
            continue
        expected = case.expect
        if expected is None:
            expected = (202, 400)
        if isinstance(expected, int):
            expected = (expected,)
        if status not in expected:
            results.wrong.append(f"{case.name}: {status} {response['body'][:200]}, not {expected}")
        # Whatever was accepted is stored byte for byte (newlines flattened).
        blobs = stack.buffered()
        buffered = [e for b in blobs for e in records.decode(b).events()]
        if case.events is not None and status == 202:
            flattened = [e.replace(b"\n", b" ").replace(b"\r", b" ") for e in case.events]
            if buffered != flattened:
                results.not_byte_equal.append(f"{case.name}: buffer differs from what was sent")
        if not blobs:
            continue
        dataset = records.decode(blobs[0]).meta.dataset
        answer = consumer.lambda_handler(consumer_event(stack.buffer, blobs), FakeLambdaContext())
        if answer != {"batchItemFailures": []}:
            results.not_byte_equal.append(f"{case.name}: consumer failed {answer}")
        stored = stack.stored()
        lines = [line for _, body in sorted(stored.items()) for line in body.splitlines()]
        if any(k.startswith("quarantine/") for k in stored):
            results.not_byte_equal.append(f"{case.name}: accepted record quarantined")
        results.stored_events += len(lines)
        if len(lines) != len(buffered):
            results.not_byte_equal.append(f"{case.name}: {len(lines)} of {len(buffered)} stored")
        for sent, line in zip(buffered, lines, strict=False):
            if b'"_' not in sent and original_text(line, dataset) != _canonical_empty(sent):
                results.not_byte_equal.append(f"{case.name}: stored text differs")
                break
        for key in stored:
            s3.delete_object(Bucket=BUCKET, Key=key)
    record(
        f"hostile-corpus-{stack.buffer}",
        {
            "cases": results.cases,
            "statuses": {str(k): v for k, v in sorted(results.statuses.items())},
            "five_xx": results.five_xx,
            "wrong_status": results.wrong,
            "stored_events_checked": results.stored_events,
            "not_byte_equal": results.not_byte_equal,
            "parser_depth_limit": parser_limit(),
            "hypothesis_examples": {
                "decoder_any_bytes": HYPOTHESIS.max_examples,
                "decoder_json_round_trip": HYPOTHESIS.max_examples,
                "decoder_ndjson_round_trip": HYPOTHESIS.max_examples,
                "handler_any_body_per_buffer": scaled(50, 1_000),
                "consumer_round_trip": HYPOTHESIS.max_examples,
            },
        },
    )
    assert results.five_xx == []
    assert results.wrong == []
    assert results.not_byte_equal == []


def _canonical_empty(event: bytes) -> bytes:
    """``{ }`` is stored as ``{`` + fields + ``}``: its inner whitespace is not kept."""
    return b"{}" if not event[1:-1].strip() else event


def test_event_at_the_parser_depth_limit_is_stored_not_quarantined(ingest, consumer, stack):
    """Regression: a single object or an NDJSON line may nest one level deeper than an array
    element; the consumer decoded the record's events as one array and quarantined it."""
    formats: dict[str, tuple[Any, dict[str, str | None]]] = {
        "array": (lambda event: b"[" + event + b"]", {}),
        "object": (lambda event: event, {}),
        "ndjson": (lambda event: event + b'\n{"ok":1}', NDJSON),
    }
    sent, blobs = [], []
    for make, headers in formats.values():

        def status(n: int, make: Any = make, headers: Any = headers) -> int:
            event = http_event(make(depth(n)), headers=headers)
            return int(ingest.lambda_handler(event, FakeLambdaContext())["statusCode"])

        lo, hi = parser_limit() - 100, parser_limit() + 100  # the handler's own limit
        while lo < hi:
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if status(mid) == 202 else (lo, mid - 1)
        assert status(lo + 1) == 400
        stack.buffered()  # drop what the search put on the buffer
        assert status(lo) == 202
        blobs.extend(stack.buffered())
        sent.append(depth(lo))
        if headers:
            sent.append(b'{"ok":1}')
    response = consumer.lambda_handler(consumer_event(stack.buffer, blobs), FakeLambdaContext())
    assert response == {"batchItemFailures": []}
    stored = stack.stored()
    assert not [key for key in stored if key.startswith("quarantine/")]
    lines = [line for body in stored.values() for line in body.splitlines()]
    assert sorted(original_text(line, "logs") for line in lines) == sorted(sent)


def through_c_frames(levels: int, call: Any) -> Any:
    """``call()`` under ``levels`` C-level frames: the parser's depth limit shrinks with them."""
    if levels == 0:
        return call()
    # map() is a C frame on the stack, which is the point (a generator would not be).
    return next(map(lambda _: through_c_frames(levels - 1, call), [0]))  # noqa: C417


def test_an_event_ingest_accepted_is_stored_under_a_deeper_consumer_stack() -> None:
    """Regression: the parser's depth limit depends on the caller's stack, so an event ingest
    accepted (single object or NDJSON line, at its limit) could be too deep for the consumer,
    whose record then went to quarantine whole, its other events with it."""
    deepest = depth(parser_limit(single=True))
    assert batch.parse_json(deepest).events
    meta = records.RequestMeta("logs", "req", "2026-11-26T12:00:00.000Z", "svc")
    [blob] = records.encode(meta, [b'{"ok":1}', deepest, b'{"_id":"x","ok":2}'], 1 << 20)
    writer = _Writer()
    service = ConsumerService(ConsumerSettings("bucket"), writer)
    failed = through_c_frames(80, lambda: service.store("sqs", [SourceRecord("m", "m", blob)]))
    assert failed == set()
    [(key, body)] = writer.objects.items()
    assert key.startswith("dataset=logs/")
    lines = gzip.decompress(body).splitlines()
    assert [original_text(line, "logs") for line in lines[:2]] == [b'{"ok":1}', deepest]
    assert b'"_service":"svc"' in lines[1]


# --- property-based: the body decoder ------------------------------------------------------

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
EVENTS = st.lists(st.dictionaries(st.text(max_size=10), JSON_VALUES, max_size=6), max_size=8)
LAYOUT = st.fixed_dictionaries(
    {
        "indent": st.sampled_from([None, 0, 2]),
        "ascii": st.booleans(),
        "gap": st.sampled_from(["", " ", "\n", "\r\n", "\t"]),
    }
)
HYPOTHESIS = settings(
    max_examples=scaled(100, 2_000),
    deadline=None,
    # make test replays the same cases every run; make reliability draws afresh.
    derandomize=SCALE == "short",
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def serialise(event: Any, layout: dict[str, Any]) -> bytes:
    return json.dumps(event, indent=layout["indent"], ensure_ascii=layout["ascii"]).encode()


def decode(body: bytes, ndjson: bool, gzipped: bool) -> batch.DecodedBatch | ApiError:
    try:
        data = batch.read_body(body, gzipped)
        return batch.parse_ndjson(data) if ndjson else batch.parse_json(data)
    except ApiError as error:
        return error


@HYPOTHESIS
@given(body=st.binary(max_size=2048), ndjson=st.booleans(), gzipped=st.booleans())
def test_decoder_takes_any_bytes(body: bytes, ndjson: bool, gzipped: bool) -> None:
    outcome = decode(body, ndjson, gzipped)
    if isinstance(outcome, batch.DecodedBatch):
        for event in outcome.events:
            text = bytes(event)
            assert text.startswith(b"{")
            assert b"\n" not in text
            assert len(text) <= 256 * 1024
            json.loads(text)  # every accepted event is valid JSON on its own


@HYPOTHESIS
@given(events=EVENTS, layout=LAYOUT, gzipped=st.booleans())
def test_decoder_round_trips_json_arrays_byte_equal(events, layout, gzipped) -> None:
    texts = [serialise(event, layout) for event in events]
    gap = layout["gap"].encode()
    body = b"[" + gap + (b"," + gap).join(texts) + gap + b"]"
    outcome = decode(gzip.compress(body) if gzipped else body, False, gzipped)
    if not events:
        assert isinstance(outcome, ApiError)
        return
    assert isinstance(outcome, batch.DecodedBatch), outcome
    flat = [t.replace(b"\n", b" ").replace(b"\r", b" ") for t in texts]
    assert [bytes(e) for e in outcome.events] == flat
    assert outcome.invalid == []


@HYPOTHESIS
@given(events=EVENTS, junk=st.lists(st.binary(min_size=1, max_size=30), max_size=3))
def test_decoder_round_trips_ndjson_lines_and_flags_bad_ones(events, junk) -> None:
    texts = [json.dumps(e).encode() for e in events]
    lines = texts + [j.replace(b"\n", b" ") for j in junk]
    outcome = decode(b"\n".join(lines), True, False)
    if not [line for line in lines if line.strip(b" \t\r\n")]:
        assert isinstance(outcome, ApiError)
        return
    assert isinstance(outcome, batch.DecodedBatch), outcome
    assert [bytes(e) for e in outcome.events][: len(texts)] == [
        t.replace(b"\r", b" ") for t in texts
    ]


# --- property-based: the handler and the consumer ------------------------------------------

HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "content-type": st.sampled_from(
            ["application/json", "application/x-ndjson", "text/plain", "", "x/y; a=b"]
        ),
        "content-encoding": st.sampled_from(["gzip", "identity", "", "GZIP", "br", "x"]),
        "x-service": st.text(max_size=300),
        "x-namespace": st.text(max_size=40),
    },
)


@settings(HYPOTHESIS, max_examples=scaled(50, 1_000))
@given(
    body=st.one_of(
        st.binary(max_size=1024),
        EVENTS.map(lambda e: json.dumps(e).encode()),
        EVENTS.map(lambda e: "\n".join(json.dumps(x) for x in e).encode()),
    ),
    headers=HEADERS,
    gzipped=st.booleans(),
)
def test_handler_answers_202_or_4xx_to_anything(ingest, stack, body, headers, gzipped) -> None:
    if gzipped:
        body = gzip.compress(body)
    response = ingest.lambda_handler(
        http_event(body, headers=dict(headers), base64_body=True), FakeLambdaContext()
    )
    status = response["statusCode"]
    assert status in (202, 400, 401, 403, 413, 415), response
    assert response["headers"]["content-type"] == "application/json"
    answer = json.loads(response["body"])
    buffered = [e for blob in stack.buffered() for e in records.decode(blob).events()]
    if status == 202:
        assert answer == {"message": "Request Accepted"}
        assert buffered
    accepted = answer.get("accepted", len(buffered) if status == 202 else 0)
    assert len(buffered) == accepted


class _Writer:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self.objects[key] = body


@HYPOTHESIS
@given(
    events=st.lists(
        st.dictionaries(
            st.sampled_from(["a", "timestamp", "service", "namespace", "_id", "_x", "b"]),
            JSON_VALUES,
            max_size=5,
        ).map(lambda e: json.dumps(e).encode()),
        min_size=1,
        max_size=20,
    ),
    service=st.none() | st.text(max_size=10),
)
def test_consumer_stores_every_event_as_sent(events, service) -> None:
    meta = records.RequestMeta("logs", "req", "2026-11-26T12:00:00.000Z", service)
    blobs = records.encode(meta, events, 64 * 1024)
    writer = _Writer()
    service_ = ConsumerService(ConsumerSettings("bucket"), writer)
    failed = service_.store(
        "sqs", [SourceRecord(f"m{n}", f"m{n}", blob) for n, blob in enumerate(blobs)]
    )
    assert failed == set()
    assert not any(k.startswith("quarantine/") for k in writer.objects)
    lines = [
        line for body in writer.objects.values() for line in gzip.decompress(body).splitlines()
    ]
    assert len(lines) == len(events)
    for sent, line in zip(events, lines, strict=True):
        stored = json.loads(line)
        original = json.loads(sent)
        assert stored["_id"].startswith("req-")
        for name, value in original.items():
            if not name.startswith("_") or name == "_x":
                assert stored[name] == value
        if b'"_' not in sent:
            assert original_text(line, "logs") == _canonical_empty(sent)


def test_big_integers_and_duplicate_keys_are_stored_as_sent(ingest, consumer, stack) -> None:
    """What the docs say: integers past 64 bits and duplicate keys are kept byte for byte; an
    event that carries a stored field is re-encoded, its other values kept byte for byte and
    duplicates collapsed to the last (what a last-wins JSON reader sees anyway)."""
    plain = b'{"n":123456789012345678901234567890,"n":-1,"f":1e300}'
    carrying = b'{"n":123456789012345678901234567890,"a":1,"a":2,"_id":"mine"}'
    response = ingest.lambda_handler(
        http_event(b"[" + plain + b"," + carrying + b"]"), FakeLambdaContext()
    )
    assert response["statusCode"] == 202
    first, second = store_through_consumer(consumer, stack)
    assert original_text(first, "logs") == plain
    assert original_text(second, "logs") == b'{"n":123456789012345678901234567890,"a":2}'
    assert msgspec.json.decode(second)["_id"] == "JKJaXmPLvHcESHA=-1"
