"""The hostile-input corpora: requests built to break the Events API and OTLP decoders
(nesting past the parser's limit, gzip bombs, invalid UTF-8, odd numbers, duplicate keys,
oversized headers, traversal in dataset paths; truncated and mistyped protobuf, OTLP JSON
edge values). The reliability suites send each through the real handlers and the consumer.
The markup corpus is what the web console must show as text (tests/e2e/test_console.py).
"""

from __future__ import annotations

import gzip
import random
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from events_api.errors import ApiError
from events_api.ingest import batch
from events_api.settings import MAX_BODY_BYTES, MAX_EVENT_BYTES
from tests.otlp_support import (
    JSON,
    PROTOBUF,
    deeply_nested_logs,
    logs_request,
    metrics_request,
    spec_logs,
    spec_metrics,
    spec_trace,
    traces_request,
)
from tests.reliability.support import scaled

MIB = 1024 * 1024
NDJSON = {"content-type": "application/x-ndjson"}
GZIP = {"content-encoding": "gzip"}


def depth(n: int) -> bytes:
    """An event whose member ``a`` nests ``n`` arrays deep (the event itself is one more)."""
    return b'{"a":' + b"[" * n + b"]" * n + b"}"


def parser_limit(single: bool = False) -> int:
    """The deepest ``depth(n)`` a JSON array body (or a single object) accepts here: the
    parser's nesting limit, which depends on the caller's stack."""
    lo, hi = 1, 100_000
    while lo < hi:
        mid = (lo + hi + 1) // 2
        try:
            batch.parse_json(depth(mid) if single else b"[" + depth(mid) + b"]")
            lo = mid
        except ApiError:
            hi = mid - 1
    return lo


def bomb_text(size: int, random_fraction: float) -> bytes:
    """``size`` bytes of JSON-ish text, ``random_fraction`` of them random (sets the ratio)."""
    rng = random.Random(size)
    noise = int(size * random_fraction)
    text = bytearray(b" " * size)
    for at in rng.sample(range(1, size - 1), noise):
        text[at] = rng.choice(b"abcdefghijklmnopqrstuvwxyz0123456789")
    text[0], text[-1] = ord("["), ord("]")
    return bytes(text)


@dataclass
class Case:
    name: str
    body: bytes | None
    headers: dict[str, str | None] = field(default_factory=dict)
    path: str = "/v1/logs"
    expect: int | tuple[int, ...] | None = None  # None: any 202 or 4xx
    # Events that must be stored byte for byte (None: whatever was accepted, checked
    # against the buffer's own copy).
    events: list[bytes] | None = None


def events_api_corpus() -> Iterator[Case]:
    limit = parser_limit()
    # Nesting at and past the parser's limit, in each body format.
    for n in (limit - 1, limit, limit + 1, limit + 2, 10 * limit, 100_000):
        event = depth(n)
        yield Case(f"array-depth-{n}", b"[" + event + b"]", events=[event])
        yield Case(f"object-depth-{n}", event, events=[event])
        yield Case(f"ndjson-depth-{n}", event + b"\n" + b'{"ok":1}\n', NDJSON)
    yield Case("top-level-nesting", b"[" * 200_000 + b"]" * 200_000, expect=400)
    yield Case("unclosed-nesting", b'[{"a":' + b"[" * 1_000_000, expect=400)
    # gzip bombs: several ratios, one member and many, over and just under the cap.
    for random_fraction in (0.0, 0.01, 0.1):
        bomb = gzip.compress(bomb_text(7 * MIB, random_fraction), 6)
        yield Case(f"gzip-bomb-ratio-{7 * MIB // len(bomb)}", bomb, GZIP, expect=413)
    yield Case("gzip-bomb-64mib", gzip.compress(b" " * (64 * MIB), 9), GZIP, expect=413)
    member = gzip.compress(b" " * MIB, 9)
    yield Case("gzip-many-members-past-cap", member * 7, GZIP, expect=413)
    under = b"[" + b'{"a":1}' + b" " * (MAX_BODY_BYTES - 9) + b"]"
    yield Case("gzip-exactly-at-cap", gzip.compress(under, 9), GZIP, expect=202)
    yield Case("gzip-one-byte-past-cap", gzip.compress(under + b" ", 9), GZIP, expect=413)
    yield Case("gzip-truncated", gzip.compress(b'[{"a":1}]')[:-6], GZIP, expect=400)
    yield Case("gzip-trailing-garbage", gzip.compress(b'[{"a":1}]') + b"junk", GZIP, expect=400)
    yield Case("gzip-not-gzip", b'[{"a":1}]', GZIP, expect=400)
    yield Case("deflate-as-gzip", zlib.compress(b'[{"a":1}]'), GZIP, expect=400)
    yield Case("gzip-of-gzip", gzip.compress(gzip.compress(b'[{"a":1}]')), GZIP, expect=400)
    # Invalid UTF-8 and lone surrogates.
    for name, text in {
        "overlong-slash": b"\xc0\xaf",
        "overlong-nul": b"\xc0\x80",
        "cesu-surrogate": b"\xed\xa0\x80",
        "lone-continuation": b"\x80",
        "truncated-3-byte": b"\xe2\x82",
        "invalid-ff": b"\xff",
        "past-u10ffff": b"\xf4\x90\x80\x80",
    }.items():
        yield Case(f"utf8-{name}-in-value", b'[{"a":"' + text + b'"}]', expect=400)
        yield Case(f"utf8-{name}-in-key", b'[{"' + text + b'":1}]', expect=400)
        yield Case(f"utf8-{name}-ndjson", b'{"a":"' + text + b'"}\n{"b":1}\n', NDJSON, expect=400)
    for escape in (rb"\ud800", rb"\udfff", rb"\ud800\u0041", rb"\udc00\ud800"):
        yield Case(f"lone-surrogate-{escape.decode()}", b'[{"a":"' + escape + b'"}]', expect=400)
    pair = rb'{"emoji":"\ud83d\ude00","raw":"' + "😀".encode() + b'"}'
    yield Case("surrogate-pair-escape", b"[" + pair + b"]", expect=202, events=[pair])
    # NaN, Infinity, big numbers.
    for literal in (b"NaN", b"Infinity", b"-Infinity", b"nan", b"inf", b"+1", b"01", b"1."):
        yield Case(f"number-{literal.decode()}", b'[{"a":' + literal + b"}]", expect=400)
    # Literals that overflow a double make their event invalid (contract section 1).
    for literal in (b"1e400", b"-1E+999", b"1e0000309", b"9" * 400 + b".5"):
        yield Case(
            f"number-overflow-{literal[:12].decode()}", b'[{"a":' + literal + b"}]", expect=400
        )
    for literal in (
        b"18446744073709551616",  # 2**64
        b"-9223372036854775809",  # -2**63 - 1
        b"1" + b"0" * 400,
        b"1e308",
        b"-1e-400",
        b"123456789012345678901234567890.123456789012345678901234567890",
    ):
        event = b'{"big":' + literal + b',"timestamp":' + literal + b"}"
        yield Case(f"number-{literal[:24].decode()}", b"[" + event + b"]", events=[event])
    # Duplicate keys, with and without a stored field among them.
    for event in (
        b'{"a":1,"a":2,"a":{"b":3}}',
        b'{"timestamp":"2026-01-01T00:00:00Z","timestamp":1795694400000}',
        b'{"service":"one","service":"two"}',
    ):
        yield Case(f"duplicate-keys-{event[:20].decode()}", b"[" + event + b"]", events=[event])
    yield Case("duplicate-stored-field", b'[{"_id":"mine","_id":"again","a":1,"a":2}]', expect=202)
    # Huge key counts and huge values.
    many = b"{" + b",".join(b'"k%d":%d' % (n, n) for n in range(15_000)) + b"}"
    yield Case("15k-keys", b"[" + many + b"]", expect=202, events=[many])
    wide = b"{" + b",".join(b'"k%d":1' % n for n in range(300_000)) + b"}"
    yield Case("300k-keys-event-past-256kib", b"[" + wide + b"]", expect=400)
    one = b'{"a":"' + b"x" * (256 * 1024 - 8) + b'"}'
    yield Case("event-at-256kib", b"[" + one + b"]", expect=202, events=[one])
    yield Case("event-past-256kib", b'[{"a":"' + b"x" * (256 * 1024) + b'"}]', expect=400)
    yield Case("many-tiny-events", b"[" + b",".join([b"{}"] * 300_000) + b"]", expect=202)
    yield Case("control-chars-escaped", b'[{"a":"\\u0000\\u001f\\b"}]', expect=202)
    yield Case("raw-control-char", b'[{"a":"\x01"}]', expect=400)
    yield Case("bom-then-array", b'\xef\xbb\xbf[{"a":1}]', expect=202)
    yield Case("nul-bytes", b"\x00" * 1000, expect=400)
    yield Case("only-whitespace", b" \t\r\n" * 1000, expect=400)
    yield Case("trailing-comma", b'[{"a":1},]', expect=400)
    yield Case("two-arrays", b'[{"a":1}][{"b":2}]', expect=400)
    yield Case("comment", b'[{"a":1} /* hi */]', expect=400)
    # Oversized and odd headers.
    yield Case("service-header-256", b'[{"a":1}]', {"x-service": "s" * 256}, expect=202)
    yield Case("service-header-257", b'[{"a":1}]', {"x-service": "s" * 257}, expect=400)
    yield Case("namespace-header-1mib", b'[{"a":1}]', {"x-namespace": "n" * MIB}, expect=400)
    yield Case("service-lone-surrogate", b'[{"a":1}]', {"x-service": "\ud800"}, expect=400)
    yield Case("service-nul", b'[{"a":1}]', {"x-service": "a\x00b"}, expect=202)
    yield Case("api-key-1mib", b'[{"a":1}]', {"x-api-key": "k" * MIB}, expect=401)
    yield Case("api-key-surrogates", b'[{"a":1}]', {"x-api-key": "\udcff" * 42}, expect=401)
    yield Case("content-type-1mib", b'[{"a":1}]', {"content-type": "a" * MIB}, expect=202)
    yield Case("content-encoding-list", b'[{"a":1}]', {"content-encoding": "gzip, br"}, expect=415)
    yield Case("content-encoding-1mib", b"{}", {"content-encoding": "x" * MIB}, expect=415)
    # Dataset names with traversal and encodings.
    for path, status in {
        "/v1/..": 400,
        "/v1/../logs": 400,
        "/v1/%2e%2e": 400,
        "/v1/..%2flogs": 400,
        "/v1/%2e%2e%2f%2e%2e%2fetc": 400,
        "/v1/logs%2f..%2fother": 400,
        "/v1/a%00b": 400,
        "/v1/logs%00": 400,
        "/v1/%252e%252e": 400,
        "/v1/%c0%ae%c0%ae": 400,
        "/v1/%ef%bc%8e": 400,
        "/v1/%ff": 400,
        "/v1/%": 400,
        "/v1/%zz": 400,
        "/v1/LOGS": 400,
        "/v1/-logs": 400,
        "/v1/" + "a" * 65: 400,
        "/v1/" + "a" * 64: 202,
        "/v1/%61": 202,
        "/v1/logs/": 202,  # one trailing slash is the same route
        "/v1/logs//": 400,
        "/v1//logs": 400,
        "/v1/dataset=x": 400,
        "/v1/logs?x=1": 400,
        "/V1/logs": 400,
        "//v1/logs": 400,
        "/v1": 400,
        "": 400,
    }.items():
        yield Case(f"path-{path[:40]}", b'[{"a":1}]', path=path, expect=status)


# ---------------------------------------------------------------- the console

#: What a hostile event would set if the console ever ran its content as script.
PWNED = "__pwned"


def markup_corpus() -> Iterator[Case]:
    """Accepted events whose content a web page must never interpret: markup in values,
    keys and labels, script URLs where links could be made, one very long line, nesting
    just under the parser's limit, escapes of control characters and surrogate pairs."""
    run = f"window.{PWNED}=1".encode()
    events = {
        "script-in-message": b'{"message":"<script>' + run + b'</script>","level":"<b>error</b>"}',
        "img-onerror": b'{"message":"<img src=x onerror=\\"' + run + b'\\">",'
        b'"<img src=x onerror=' + run + b'>":"in a key"}',
        "javascript-urls": b'{"message":"a link?","url":"javascript:' + run + b'",'
        b'"traceId":"javascript:'
        + run
        + b'","href":"data:text/html,<script>'
        + run
        + b'</script>"}',
        "long-line": b'{"message":"' + b"W" * 200_000 + b'"}',
        "deep-nesting": depth(parser_limit() - 1),
        "escapes": b'{"message":"nul \\u0000 bell \\u0007 pair \\ud83d\\ude00 rtl \\u202e end"}',
        "svg-and-style": b'{"message":"<svg onload='
        + run
        + b'></svg><style>*{display:none}</style>"}',
    }
    for name, event in events.items():
        yield Case(f"markup-{name}", b"[" + event + b"]", expect=202, events=[event])
    yield Case(
        "markup-service-header",
        b'[{"message":"labelled by a hostile header"}]',
        {"x-service": f"<img src=x onerror={run.decode()}>"},
        expect=202,
    )


# ---------------------------------------------------------------- OTLP


@dataclass
class OtlpCase:
    name: str
    body: bytes
    signal: str = "logs"
    content_type: str = PROTOBUF
    headers: dict[str, str | None] = field(default_factory=dict)
    expect: int | None = None  # None: 200 or a 4xx
    rejected: int | None = None  # items a 200 must count as rejected


def _spans_with(**changes: bytes) -> bytes:
    request = traces_request("kept", "changed")
    span = request.resource_spans[0].scope_spans[0].spans[1]
    for name, value in changes.items():
        setattr(span, name, value)
    return request.SerializeToString()


def _json_trace_with(**changes: Any) -> bytes:
    document = spec_trace()
    document["resourceSpans"][0]["scopeSpans"][0]["spans"][0].update(changes)
    return orjson.dumps(document)


def _json_log_with(**changes: Any) -> bytes:
    document = spec_logs()
    document["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0].update(changes)
    return orjson.dumps(document)


def otlp_corpus() -> Iterator[OtlpCase]:
    valid = logs_request("a", "b").SerializeToString()
    yield OtlpCase("truncated protobuf", valid[:-5], expect=400)
    yield OtlpCase("truncated by one byte", valid[:-1], expect=400)
    yield OtlpCase("garbage", bytes(range(256)) * 4, expect=400)
    yield OtlpCase("only a tag", b"\x0a", expect=400)
    yield OtlpCase("length past the end", b"\x0a\x80\x80\x80\x80\x01", expect=400)
    # Protobuf keeps a field of the wrong wire type as an unknown field: nothing to store.
    yield OtlpCase("wrong wire type for a message", b"\x08\x01", expect=200, rejected=0)
    yield OtlpCase("wrong wire type inside", b"\x0a\x02\x10\x01", expect=200, rejected=0)
    yield OtlpCase("wrong wire type, truncated fixed32", b"\x0a\x02\x15\x00", expect=400)
    yield OtlpCase("end group without start", b"\x0c", expect=400)
    yield OtlpCase("deeply nested AnyValue", deeply_nested_logs(150), expect=400)
    yield OtlpCase("nested AnyValue within the limit", deeply_nested_logs(25), expect=200)
    yield OtlpCase(
        "invalid UTF-8 in a string", b"\x0a\x08\x12\x06\x12\x04\x2a\x02\x0a\xff", expect=400
    )
    yield OtlpCase("empty protobuf body", b"", expect=200, rejected=0)
    yield OtlpCase("empty JSON body", b"", content_type=JSON, expect=400)
    yield OtlpCase("JSON null", b"null", content_type=JSON, expect=400)
    yield OtlpCase("JSON array", b"[]", content_type=JSON, expect=400)
    yield OtlpCase("JSON empty object", b"{}", content_type=JSON, expect=200, rejected=0)
    yield OtlpCase("JSON lone surrogate", b'{"a": "\\ud800"}', content_type=JSON, expect=400)
    yield OtlpCase("JSON invalid UTF-8", b'{"a": "\xff"}', content_type=JSON, expect=400)
    yield OtlpCase(
        "JSON nested past the parser",
        b'{"a":' * 5000 + b"1" + b"}" * 5000,
        content_type=JSON,
        expect=400,
    )
    yield OtlpCase(
        "JSON id not hex",
        _json_trace_with(traceId="not hex at all!"),
        signal="traces",
        content_type=JSON,
        expect=400,
    )
    yield OtlpCase(
        "JSON id in base64 (protobuf's own JSON rule)",
        _json_trace_with(spanId="7uGbfsPBsXQ="),
        signal="traces",
        content_type=JSON,
        expect=400,
    )
    yield OtlpCase(
        "JSON id of the wrong length",
        _json_trace_with(spanId="abcd"),
        signal="traces",
        content_type=JSON,
        expect=200,
        rejected=1,
    )
    yield OtlpCase(
        "JSON id not a string",
        _json_trace_with(traceId=12),
        signal="traces",
        content_type=JSON,
        expect=400,
    )
    for value in ("18446744073709551616", "-1", "1" * 400, "1.5", "0x10", ""):
        yield OtlpCase(
            f"JSON uint64 {value[:20]!r}",
            _json_log_with(timeUnixNano=value),
            content_type=JSON,
            expect=400,
        )
    yield OtlpCase(
        "JSON huge int attribute",
        _json_log_with(attributes=[{"key": "k", "value": {"intValue": "9" * 30}}]),
        content_type=JSON,
        expect=400,
    )
    yield OtlpCase(
        "JSON max int64 attribute",
        _json_log_with(attributes=[{"key": "k", "value": {"intValue": str(2**63 - 1)}}]),
        content_type=JSON,
        expect=200,
        rejected=0,
    )
    yield OtlpCase(
        "JSON NaN double",
        _json_log_with(attributes=[{"key": "k", "value": {"doubleValue": "NaN"}}]),
        content_type=JSON,
        expect=200,
        rejected=0,
    )
    yield OtlpCase(
        "JSON unknown enum number",
        _json_trace_with(kind=99),
        signal="traces",
        content_type=JSON,
        expect=200,
        rejected=0,
    )
    # An enum name the schema does not know is an unknown value, ignored like unknown fields.
    yield OtlpCase(
        "JSON unknown enum name",
        _json_log_with(severityNumber="LOUD"),
        content_type=JSON,
        expect=200,
        rejected=0,
    )
    yield OtlpCase(
        "JSON wrong type for a field",
        _json_log_with(severityNumber={"a": 1}),
        content_type=JSON,
        expect=400,
    )
    yield OtlpCase(
        "JSON wrong type for a list",
        _json_log_with(attributes={"key": "k"}),
        content_type=JSON,
        expect=400,
    )
    yield OtlpCase("span without trace id", _spans_with(trace_id=b""), signal="traces", rejected=1)
    yield OtlpCase(
        "span id too long", _spans_with(span_id=b"\x01" * 9), signal="traces", rejected=1
    )
    big = logs_request("small", "x" * MAX_EVENT_BYTES).SerializeToString()
    yield OtlpCase("a record over 256 KiB flattened", big, expect=200, rejected=1)
    many = logs_request(*(str(n) for n in range(scaled(5_000, 50_000)))).SerializeToString()
    yield OtlpCase("many tiny records", many, expect=200, rejected=0)
    yield OtlpCase(
        "gzip bomb",
        gzip.compress(b"\x00" * (7 * MIB)),
        headers={"content-encoding": "gzip"},
        expect=413,
    )
    yield OtlpCase("not gzip", b"plain", headers={"content-encoding": "gzip"}, expect=400)
    yield OtlpCase(
        "gzip of garbage",
        gzip.compress(b"\xff" * 100),
        headers={"content-encoding": "gzip"},
        expect=400,
    )
    yield OtlpCase("over 6 MiB raw", b"\x00" * (6 * MIB + 1), expect=413)
    yield OtlpCase("brotli", b"", headers={"content-encoding": "br"}, expect=415)
    yield OtlpCase("text body", b"hello", content_type="text/plain", expect=415)
    yield OtlpCase("a signal not served", b"", signal="profiles", expect=404)
    yield from _metrics_cases()


def _json_metrics(change: Any) -> bytes:
    """The specification's metrics example after ``change(its list of metrics)``."""
    document = spec_metrics()
    change(document["resourceMetrics"][0]["scopeMetrics"][0]["metrics"])
    return orjson.dumps(document)


def _json_point(n: int, data: str, **changes: Any) -> bytes:
    """The example with its n-th metric's first point changed."""
    return _json_metrics(lambda metrics: metrics[n][data]["dataPoints"][0].update(changes))


def _histogram_with(**changes: Any) -> bytes:
    return _json_point(2, "histogram", **changes)


def _metrics_with(change: Any) -> bytes:
    """The protobuf builder's request (one metric of each type) after ``change(metrics)``."""
    request = metrics_request()
    change(request.resource_metrics[0].scope_metrics[0].metrics)
    return request.SerializeToString()


def _metrics_cases() -> Iterator[OtlpCase]:
    valid = metrics_request().SerializeToString()
    yield OtlpCase("metrics: truncated", valid[:-3], signal="metrics", expect=400)
    yield OtlpCase("metrics: garbage", bytes(range(256)) * 4, signal="metrics", expect=400)
    yield OtlpCase("metrics: empty", b"", signal="metrics", expect=200, rejected=0)
    # Another signal's message: its fields read as a metrics request's, whatever they become.
    yield OtlpCase("metrics: a logs body", logs_request("a").SerializeToString(), "metrics")
    for name, body, rejected in (
        ("point without a value", _json_point(1, "gauge", asDouble=None), 1),
        ("histogram bounds and counts differ", _histogram_with(explicitBounds=[1, 2]), 1),
        ("histogram bounds not increasing",
         _histogram_with(explicitBounds=[2, 1], bucketCounts=["1", "0", "1"]), 1),
        ("histogram NaN bound",
         _histogram_with(explicitBounds=[1, "NaN"], bucketCounts=["1", "1", "0"]), 1),
        ("histogram counts past its count", _histogram_with(count="1"), 1),
        ("exponential counts past its count",
         _json_point(3, "exponentialHistogram", zeroCount="9"), 1),
        ("exemplar id of the wrong length",
         _histogram_with(exemplars=[{"traceId": "abcd", "asDouble": 1}]), 1),
        ("no recorded value, whatever it holds", _histogram_with(flags=1, bucketCounts=["7"]), 0),
        ("Infinity value", _json_point(1, "gauge", asDouble="Infinity"), 0),
        ("max int64 value", _json_metrics(lambda m: m[0]["sum"].update(
            dataPoints=[{"asInt": str(2**63 - 1), "timeUnixNano": "1"}])), 0),
        ("unknown temporality",
         _json_metrics(lambda m: m[0]["sum"].update(aggregationTemporality=99)), 0),
        ("time 0", _json_point(1, "gauge", timeUnixNano="0"), 0),
        ("no data", _json_metrics(lambda m: m.append({"name": "declared"})), 0),
        ("a kind of data from the future",
         _json_metrics(lambda m: m.append({"name": "new", "future": {"dataPoints": [{}]}})), 0),
    ):  # fmt: skip
        yield OtlpCase(f"metrics JSON: {name}", body, "metrics", JSON, expect=200,
                       rejected=rejected)  # fmt: skip
    for name, body in (
        ("exemplar id not hex", _histogram_with(exemplars=[{"spanId": "zz"}])),
        ("exemplar id in base64", _histogram_with(exemplars=[{"spanId": "7uGbfsPBsXQ="}])),
        ("int64 past its range", _json_point(0, "sum", asInt="9" * 30)),
        ("negative count", _histogram_with(count="-1")),
        ("bucket count not a number", _histogram_with(bucketCounts=["one", "1"])),
        ("two kinds of data in one metric",
         _json_metrics(lambda m: m[1].update(sum={"dataPoints": []}))),
        ("data points not a list",
         _json_metrics(lambda m: m[0]["sum"].update(dataPoints={"x": 1}))),
    ):  # fmt: skip
        yield OtlpCase(f"metrics JSON: {name}", body, "metrics", JSON, expect=400)

    def nameless(metrics: Any) -> None:
        metrics[0].name = ""
        metrics[0].sum.data_points.add(as_int=1)

    def huge_histogram(metrics: Any) -> None:
        point = metrics[2].histogram.data_points[0]
        point.explicit_bounds.extend(float(n) for n in range(100, 40_100))
        point.bucket_counts.extend([0] * 40_000)

    def long_name(metrics: Any) -> None:
        metrics[1].name = "m" * (MAX_EVENT_BYTES + 1)

    def many_points(metrics: Any) -> None:
        for n in range(scaled(5_000, 50_000)):
            metrics[1].gauge.data_points.add(time_unix_nano=n + 1, as_int=n)

    for name, change, rejected in (
        ("a metric without a name", nameless, 2),
        ("a histogram over 256 KiB flattened", huge_histogram, 1),
        ("a name over 256 KiB", long_name, 1),
        ("many data points", many_points, 0),
    ):
        yield OtlpCase(f"metrics: {name}", _metrics_with(change), "metrics", expect=200,
                       rejected=rejected)  # fmt: skip
    bomb = gzip.compress(b"\x00" * (7 * MIB))
    yield OtlpCase("metrics: gzip bomb", bomb, "metrics", headers=GZIP, expect=413)
