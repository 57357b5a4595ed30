"""Body decoding: content encodings, the gzip cap, JSON / NDJSON and per-event limits."""

from __future__ import annotations

import gzip
import json
import tracemalloc
import zlib

import pytest

from events_api.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from events_api.ingest import batch
from events_api.settings import MAX_BODY_BYTES, MAX_EVENT_BYTES

pytestmark = pytest.mark.unit


def raw(decoded: batch.DecodedBatch) -> list[bytes]:
    return [bytes(e) for e in decoded.events]


def event_of_size(size: int) -> bytes:
    text = b'{"pad":"' + b"x" * (size - 10) + b'"}'
    assert len(text) == size
    return text


@pytest.mark.parametrize(
    ("header", "gzipped"), [(None, False), ("identity", False), ("GZIP", True), (" gzip ", True)]
)
def test_identity_and_gzip_encodings_are_accepted(header, gzipped) -> None:
    assert batch.content_encoding(header) is gzipped


@pytest.mark.parametrize("header", ["br", "deflate", "gzip, br", "x-gzip"])
def test_other_content_encodings_are_unsupported(header) -> None:
    with pytest.raises(UnsupportedMediaType):
        batch.content_encoding(header)


def test_json_array_events_are_kept_as_sent_with_newlines_flattened() -> None:
    body = b'[{"a": 1},\n {"b":\n [1, 2]}, {"c": "x y"}]'
    decoded = batch.parse_json(body)
    assert raw(decoded) == [b'{"a": 1}', b'{"b":  [1, 2]}', b'{"c": "x y"}']
    assert decoded.invalid == []
    assert decoded.event_bytes == sum(len(e) for e in raw(decoded))


def test_single_object_is_a_batch_of_one() -> None:
    assert raw(batch.parse_json(b' {"message": "hi"} ')) == [b'{"message": "hi"}']


def test_values_are_kept_byte_for_byte_big_integers_and_duplicate_keys_included() -> None:
    body = b'[{"n": 123456789012345678901234567890, "n": 1.50, "s": "\\u00e9"}]'
    assert raw(batch.parse_json(body)) == [body[1:-1]]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "the body is empty"),
        (b"   \n", "the body is empty"),
        (b"[]", "the batch is empty"),
        (b"42", "body must be a JSON array of objects or a single JSON object"),
        (b'"text"', "body must be a JSON array of objects or a single JSON object"),
    ],
)
def test_empty_or_non_batch_bodies_are_bad_requests(body, reason) -> None:
    with pytest.raises(BadRequest) as error:
        batch.parse_json(body)
    assert error.value.reason == reason


@pytest.mark.parametrize(
    "body",
    [
        b'[{"a": 1}',
        b'[{"a": NaN}]',
        b'[{"a": Infinity}]',
        b'[{"a": -Infinity}]',
        b"[{'a': 1}]",
        b'[{"a": 1}] trailing',
        b'[{"a": "\\ud800"}]',
        b"\x00\x01\x02",
    ],
    ids=[
        "truncated",
        "nan",
        "infinity",
        "neg-infinity",
        "single-quotes",
        "trailing",
        "lone-surrogate",
        "binary",
    ],
)
def test_invalid_json_is_a_bad_request(body) -> None:
    with pytest.raises(BadRequest) as error:
        batch.parse_json(body)
    assert error.value.reason.startswith("body is not valid JSON")


def test_invalid_utf8_is_a_bad_request() -> None:
    with pytest.raises(BadRequest) as error:
        batch.parse_json(b'[{"a": "\xff\xfe"}]')
    assert error.value.reason == "body is not valid UTF-8: invalid UTF-8 at byte 8"


@pytest.mark.parametrize("depth", [5_000, 100_000])
def test_deep_nesting_is_a_bad_request_not_a_crash(depth) -> None:
    body = b'[{"a":' + b"[" * depth + b"]" * depth + b"}]"
    with pytest.raises(BadRequest) as error:
        batch.parse_json(body)
    assert error.value.reason == "body is not valid JSON: JSON is nested too deeply"


def test_utf8_bom_is_ignored() -> None:
    assert raw(batch.parse_json(b'\xef\xbb\xbf[{"a":1}]')) == [b'{"a":1}']


def test_non_objects_and_oversized_events_are_invalid_and_the_rest_accepted() -> None:
    limit = event_of_size(MAX_EVENT_BYTES)
    over = event_of_size(MAX_EVENT_BYTES + 1)
    body = b"[" + b",".join([b'{"ok":1}', b"3", limit, b'"s"', over, b"[1]", b"null"]) + b"]"
    decoded = batch.parse_json(body)
    assert raw(decoded) == [b'{"ok":1}', limit]
    assert [(i.index, i.reason) for i in decoded.invalid] == [
        (1, "event is not a JSON object"),
        (3, "event is not a JSON object"),
        (4, f"event is {MAX_EVENT_BYTES + 1} bytes, larger than the {MAX_EVENT_BYTES}-byte limit"),
        (5, "event is not a JSON object"),
        (6, "event is not a JSON object"),
    ]


def test_ndjson_lines_are_events_and_blank_lines_are_skipped() -> None:
    body = b'{"a":1}\n\n  \r\n{"b":2}\r\n{"c":3}'
    decoded = batch.parse_ndjson(body)
    assert raw(decoded) == [b'{"a":1}', b'{"b":2}', b'{"c":3}']
    assert decoded.invalid == []


def test_ndjson_bad_line_is_one_invalid_event_indexed_among_non_blank_lines() -> None:
    body = b'{"a":1}\n\n{"b":\n{"c":"\xff"}\n[1]\n{"d":4}\n'
    decoded = batch.parse_ndjson(body)
    assert raw(decoded) == [b'{"a":1}', b'{"d":4}']
    assert [i.index for i in decoded.invalid] == [1, 2, 3]
    assert decoded.invalid[0].reason == "line is not valid JSON: Input data was truncated"
    assert decoded.invalid[1].reason == "line is not valid JSON: invalid UTF-8 at byte 6"
    assert decoded.invalid[2].reason == "event is not a JSON object"


def test_ndjson_line_with_two_objects_is_invalid() -> None:
    decoded = batch.parse_ndjson(b'{"a":1} {"b":2}\n{"c":3}')
    assert raw(decoded) == [b'{"c":3}']
    assert [i.index for i in decoded.invalid] == [0]


def test_ndjson_object_split_over_lines_and_comma_joined_objects_are_three_invalid_lines() -> None:
    decoded = batch.parse_ndjson(b'{"a":[1\n2]}\n{"b":1},{"c":2}')
    assert raw(decoded) == []
    assert [(i.index, i.reason) for i in decoded.invalid] == [
        (0, "line is not valid JSON: Input data was truncated"),
        (1, "line is not valid JSON: JSON is malformed: trailing characters (byte 2)"),
        (2, "line is not valid JSON: JSON is malformed: trailing characters (byte 8)"),
    ]


def test_ndjson_lines_padded_with_whitespace_stay_one_event_each() -> None:
    decoded = batch.parse_ndjson(b'  {"a":[1, 2]}  \r\n\t{"b":1}\n')
    assert raw(decoded) == [b'{"a":[1, 2]}', b'{"b":1}']
    assert decoded.invalid == []


@pytest.mark.parametrize(
    "number",
    [b"1e999", b"-1E+400", b"1e0000999 ", b"\t12.5e+00309\r", b"1" + b"0" * 400 + b".5"],
)
@pytest.mark.parametrize("parse", [batch.parse_json, batch.parse_ndjson])
def test_a_number_overflowing_to_infinity_makes_its_event_invalid(number, parse) -> None:
    events = [b'{"ok":1e308}', b'{"n":[' + number + b"]}", b'{"text":"file999 e999"}']
    body = b"[" + b",".join(events) + b"]" if parse is batch.parse_json else b"\n".join(events)
    decoded = parse(body)
    assert raw(decoded) == [events[0], events[2]]
    assert [(i.index, i.reason) for i in decoded.invalid] == [
        (1, "event holds a number that overflows to infinity")
    ]


def test_an_integer_past_the_double_range_is_kept_verbatim() -> None:
    event = b'{"n":' + b"2" + b"0" * 400 + b"}"
    assert raw(batch.parse_json(b"[" + event + b"]")) == [event]


def test_empty_ndjson_is_a_bad_request() -> None:
    with pytest.raises(BadRequest):
        batch.parse_ndjson(b"\n\n \n")


def test_gzip_body_inflates() -> None:
    body = json.dumps([{"a": i} for i in range(100)]).encode()
    assert batch.read_body(gzip.compress(body), gzip=True) == body


def test_concatenated_gzip_members_are_one_body() -> None:
    assert (
        batch.read_body(gzip.compress(b"[{") + gzip.compress(b'"a":1}]'), gzip=True) == b'[{"a":1}]'
    )


def test_body_at_the_limit_is_accepted_and_one_byte_more_is_too_large() -> None:
    at_limit = b"x" * MAX_BODY_BYTES
    assert len(batch.read_body(gzip.compress(at_limit), gzip=True)) == MAX_BODY_BYTES
    assert len(batch.read_body(at_limit, gzip=False)) == MAX_BODY_BYTES
    with pytest.raises(PayloadTooLarge):
        batch.read_body(gzip.compress(at_limit + b"x"), gzip=True)
    with pytest.raises(PayloadTooLarge):
        batch.read_body(at_limit + b"x", gzip=False)


def test_gzip_bomb_is_refused_without_inflating_it_all() -> None:
    # 256 MiB of zeros in a quarter of a MiB; inflating it all would allocate 256 MiB.
    compressor = zlib.compressobj(1, zlib.DEFLATED, 31)
    chunk = bytes(1024 * 1024)
    bomb = b"".join(compressor.compress(chunk) for _ in range(256)) + compressor.flush()
    tracemalloc.start()
    try:
        with pytest.raises(PayloadTooLarge):
            batch.read_body(bomb, gzip=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * MAX_BODY_BYTES


# Named ids: gzip's header holds the time, and pytest-xdist's workers must collect the same.
@pytest.mark.parametrize(
    "body",
    [b"not gzip at all", gzip.compress(b"[{}]")[:-6], b""],
    ids=["not-gzip", "truncated", "empty"],
)
def test_corrupt_or_truncated_gzip_is_a_bad_request(body) -> None:
    with pytest.raises(BadRequest) as error:
        batch.read_body(body, gzip=True)
    assert error.value.reason.startswith("body is not valid gzip")
