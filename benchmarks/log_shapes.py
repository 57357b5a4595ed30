"""Captured shapes of CloudWatch Logs lines, and records holding them, in one place: the
parser's unit table, the consumer's integration tests, the end-to-end test and the
benchmarks all use these.

Each shape is a log event's message as the runtime or Lambda writes it (shapes from the AWS
Lambda documentation's logging pages for each runtime and from the runtimes' own output), and
the fields the stored event gets from it beyond the delivery's facts (``logGroup``,
``logStream``, ``owner``, ``logEventId``) and the stored ``_`` fields.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from typing import Any

import orjson

REQUEST = "8f5e2c1a-6b1d-4a8e-9d7c-2f3b4a5c6d7e"
TRACE = "1-67891234-0123456789abcdef01234567"


@dataclass(frozen=True)
class Shape:
    name: str
    message: str  # as CloudWatch Logs holds it (runtimes end most lines with a newline)
    fields: dict[str, Any]  # what the stored event says beyond the delivery's facts


SHAPES = [
    Shape(
        "node-console-log",
        f"2026-01-02T03:04:05.678Z\t{REQUEST}\tINFO\tuser signed in\n",
        {"message": "user signed in", "requestId": REQUEST, "level": "info"},
    ),
    Shape(
        "node-outside-handler",
        "2026-01-02T03:04:05.678Z\tundefined\tWARN\tcold start config missing\n",
        {"message": "cold start config missing", "level": "warn"},
    ),
    Shape(
        "node-uncaught-error",
        f"2026-01-02T03:04:05.678Z\t{REQUEST}\tERROR\tInvoke Error \t"
        '{"errorType":"TypeError","errorMessage":"x is undefined",'
        '"stack":["TypeError: x is undefined",'
        '"    at Runtime.handler (/var/task/index.js:3:11)"]}\n',
        {
            "message": 'Invoke Error \t{"errorType":"TypeError","errorMessage":"x is undefined",'
            '"stack":["TypeError: x is undefined",'
            '"    at Runtime.handler (/var/task/index.js:3:11)"]}',
            "requestId": REQUEST,
            "level": "error",
        },
    ),
    Shape(
        "python-logging",
        f"[INFO]\t2026-01-02T03:04:05.678Z\t{REQUEST}\torder stored\n",
        {"message": "order stored", "requestId": REQUEST, "level": "info"},
    ),
    Shape(
        "python-logging-traceback",
        f"[ERROR]\t2026-01-02T03:04:05.678Z\t{REQUEST}\tpayment failed\n"
        "Traceback (most recent call last):\n"
        '  File "/var/task/app.py", line 12, in handler\n'
        "    charge(order)\n"
        "ValueError: card declined\n",
        {
            "message": "payment failed\nTraceback (most recent call last):\n"
            '  File "/var/task/app.py", line 12, in handler\n    charge(order)\n'
            "ValueError: card declined",
            "requestId": REQUEST,
            "level": "error",
        },
    ),
    Shape(
        "python-runtime-error",
        "[ERROR] Runtime.ImportModuleError: Unable to import module 'app': "
        "No module named 'requests'\nTraceback (most recent call last):\n",
        {
            "message": "Runtime.ImportModuleError: Unable to import module 'app': "
            "No module named 'requests'\nTraceback (most recent call last):",
            "level": "error",
        },
    ),
    Shape("python-print", "hello from print\n", {"message": "hello from print"}),
    Shape(
        "dotnet-logger",
        f"2026-01-02T03:04:05.678Z\t{REQUEST}\twarn\tretrying the queue\n",
        {"message": "retrying the queue", "requestId": REQUEST, "level": "warn"},
    ),
    Shape(
        "dotnet-logger-fail",
        f"2026-01-02T03:04:05.678Z\t{REQUEST}\tfail\tSystem.Exception: boom\n"
        "   at Function.Handler(String input) in /src/Function.cs:line 20\n",
        {
            "message": "System.Exception: boom\n"
            "   at Function.Handler(String input) in /src/Function.cs:line 20",
            "requestId": REQUEST,
            "level": "error",
        },
    ),
    Shape(
        "java-log4j2",
        f"2026-01-02 03:04:05 {REQUEST} INFO  Handler:42 - processing 3 records\n",
        {"message": "Handler:42 - processing 3 records", "requestId": REQUEST, "level": "info"},
    ),
    Shape(
        "java-stack-trace",
        "java.lang.IllegalStateException: no connection\n"
        "\tat example.Handler.handleRequest(Handler.java:27)\n"
        "\tat example.Handler.handleRequest(Handler.java:10)\n",
        {
            "message": "java.lang.IllegalStateException: no connection\n"
            "\tat example.Handler.handleRequest(Handler.java:27)\n"
            "\tat example.Handler.handleRequest(Handler.java:10)"
        },
    ),
    Shape(
        "go-log",
        "2026/01/02 03:04:05 listening for events\n",
        {"message": "2026/01/02 03:04:05 listening for events"},
    ),
    Shape(
        "ruby-logger",
        f"I, [2026-01-02T03:04:05.678901 #8]  INFO -- {REQUEST}: ## EVENT\n",
        {"message": "## EVENT", "requestId": REQUEST, "level": "info"},
    ),
    Shape(
        "powertools-json",
        '{"level":"INFO","location":"handler:8","message":"order stored",'
        '"timestamp":"2026-01-02 03:04:05,678+0000","service":"orders","cold_start":true,'
        f'"function_request_id":"{REQUEST}","xray_trace_id":"{TRACE}","order":{{"id":42}}}}\n',
        {
            "level": "INFO",
            "location": "handler:8",
            "message": "order stored",
            "timestamp": "2026-01-02 03:04:05,678+0000",
            "service": "orders",
            "cold_start": True,
            "function_request_id": REQUEST,
            "xray_trace_id": TRACE,
            "order": {"id": 42},
        },
    ),
    Shape(
        "json-without-message",
        '{"event":"signup","plan":"pro"}',
        {"event": "signup", "plan": "pro", "message": '{"event":"signup","plan":"pro"}'},
    ),
    Shape(
        "lambda-json-app-log",
        '{"timestamp":"2026-01-02T03:04:05.678Z","level":"ERROR","message":"db timeout",'
        f'"logger":"root","requestId":"{REQUEST}"}}\n',
        {
            "timestamp": "2026-01-02T03:04:05.678Z",
            "level": "ERROR",
            "message": "db timeout",
            "logger": "root",
            "requestId": REQUEST,
        },
    ),
    Shape(
        "start",
        f"START RequestId: {REQUEST} Version: $LATEST\n",
        {
            "message": f"START RequestId: {REQUEST} Version: $LATEST",
            "type": "platform.start",
            "requestId": REQUEST,
            "version": "$LATEST",
        },
    ),
    Shape(
        "end",
        f"END RequestId: {REQUEST}\n",
        {"message": f"END RequestId: {REQUEST}", "type": "platform.end", "requestId": REQUEST},
    ),
    Shape(
        "report-warm",
        f"REPORT RequestId: {REQUEST}\tDuration: 2.38 ms\tBilled Duration: 3 ms\t"
        "Memory Size: 128 MB\tMax Memory Used: 39 MB\t\n",
        {
            "message": f"REPORT RequestId: {REQUEST}\tDuration: 2.38 ms\tBilled Duration: 3 ms\t"
            "Memory Size: 128 MB\tMax Memory Used: 39 MB\t",
            "type": "platform.report",
            "requestId": REQUEST,
            "durationMs": 2.38,
            "billedDurationMs": 3,
            "memorySizeMB": 128,
            "maxMemoryUsedMB": 39,
        },
    ),
    Shape(
        "report-cold-xray",
        f"REPORT RequestId: {REQUEST}\tDuration: 102.54 ms\tBilled Duration: 103 ms\t"
        "Memory Size: 512 MB\tMax Memory Used: 88 MB\tInit Duration: 431.07 ms\t\n"
        f"XRAY TraceId: {TRACE}\tSegmentId: 0a1b2c3d4e5f6071\tSampled: true\t\n",
        {
            "message": f"REPORT RequestId: {REQUEST}\tDuration: 102.54 ms\t"
            "Billed Duration: 103 ms\t"
            "Memory Size: 512 MB\tMax Memory Used: 88 MB\tInit Duration: 431.07 ms\t\n"
            f"XRAY TraceId: {TRACE}\tSegmentId: 0a1b2c3d4e5f6071\tSampled: true\t",
            "type": "platform.report",
            "requestId": REQUEST,
            "durationMs": 102.54,
            "billedDurationMs": 103,
            "memorySizeMB": 512,
            "maxMemoryUsedMB": 88,
            "initDurationMs": 431.07,
            "xrayTraceId": TRACE,
            "xraySegmentId": "0a1b2c3d4e5f6071",
            "xraySampled": True,
        },
    ),
    Shape(
        "report-snapstart",
        f"REPORT RequestId: {REQUEST}\tDuration: 20.11 ms\tBilled Duration: 21 ms\t"
        "Memory Size: 1024 MB\tMax Memory Used: 150 MB\tRestore Duration: 312.40 ms\t"
        "Billed Restore Duration: 210 ms\t\n",
        {
            "message": f"REPORT RequestId: {REQUEST}\tDuration: 20.11 ms\tBilled Duration: 21 ms\t"
            "Memory Size: 1024 MB\tMax Memory Used: 150 MB\tRestore Duration: 312.40 ms\t"
            "Billed Restore Duration: 210 ms\t",
            "type": "platform.report",
            "requestId": REQUEST,
            "durationMs": 20.11,
            "billedDurationMs": 21,
            "memorySizeMB": 1024,
            "maxMemoryUsedMB": 150,
            "restoreDurationMs": 312.40,
            "billedRestoreDurationMs": 210,
        },
    ),
    Shape(
        "report-timeout",
        f"REPORT RequestId: {REQUEST}\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\t"
        "Memory Size: 128 MB\tMax Memory Used: 60 MB\tStatus: timeout\n",
        {
            "message": f"REPORT RequestId: {REQUEST}\tDuration: 3000.00 ms\t"
            "Billed Duration: 3000 ms\t"
            "Memory Size: 128 MB\tMax Memory Used: 60 MB\tStatus: timeout",
            "type": "platform.report",
            "requestId": REQUEST,
            "durationMs": 3000.0,
            "billedDurationMs": 3000,
            "memorySizeMB": 128,
            "maxMemoryUsedMB": 60,
            "status": "timeout",
            "level": "error",
        },
    ),
    Shape(
        "timeout",
        f"2026-01-02T03:04:08.678Z {REQUEST} Task timed out after 3.00 seconds\n",
        {
            "message": f"2026-01-02T03:04:08.678Z {REQUEST} Task timed out after 3.00 seconds",
            "requestId": REQUEST,
            "level": "error",
        },
    ),
    Shape(
        "runtime-exit",
        f"RequestId: {REQUEST} Error: Runtime exited with error: exit status 1\n"
        "Runtime.ExitError\n",
        {
            "message": f"RequestId: {REQUEST} Error: Runtime exited with error: exit status 1\n"
            "Runtime.ExitError",
            "requestId": REQUEST,
            "level": "error",
        },
    ),
    Shape(
        "init-start",
        "INIT_START Runtime Version: python:3.12.v38\tRuntime Version ARN: "
        "arn:aws:lambda:us-east-1::runtime:0123abcd\n",
        {
            "message": "INIT_START Runtime Version: python:3.12.v38\tRuntime Version ARN: "
            "arn:aws:lambda:us-east-1::runtime:0123abcd",
            "type": "platform.initStart",
            "runtimeVersion": "python:3.12.v38",
            "runtimeVersionArn": "arn:aws:lambda:us-east-1::runtime:0123abcd",
        },
    ),
    Shape(
        "init-report-timeout",
        "INIT_REPORT Init Duration: 9999.94 ms\tPhase: init\tStatus: timeout\n",
        {
            "message": "INIT_REPORT Init Duration: 9999.94 ms\tPhase: init\tStatus: timeout",
            "type": "platform.initReport",
            "initDurationMs": 9999.94,
            "phase": "init",
            "status": "timeout",
            "level": "error",
        },
    ),
    Shape(
        "json-platform-start",
        '{"time":"2026-01-02T03:04:05.678Z","type":"platform.start",'
        f'"record":{{"requestId":"{REQUEST}","version":"$LATEST"}}}}\n',
        {
            "time": "2026-01-02T03:04:05.678Z",
            "type": "platform.start",
            "record": {"requestId": REQUEST, "version": "$LATEST"},
            "message": '{"time":"2026-01-02T03:04:05.678Z","type":"platform.start",'
            f'"record":{{"requestId":"{REQUEST}","version":"$LATEST"}}}}',
            "requestId": REQUEST,
        },
    ),
    Shape(
        "json-platform-report",
        '{"time":"2026-01-02T03:04:05.999Z","type":"platform.report",'
        f'"record":{{"requestId":"{REQUEST}","metrics":{{"durationMs":321.5,'
        '"billedDurationMs":322,"memorySizeMB":256,"maxMemoryUsedMB":81,'
        '"initDurationMs":210.7},"status":"success"}}\n',
        {
            "time": "2026-01-02T03:04:05.999Z",
            "type": "platform.report",
            "record": {
                "requestId": REQUEST,
                "metrics": {
                    "durationMs": 321.5,
                    "billedDurationMs": 322,
                    "memorySizeMB": 256,
                    "maxMemoryUsedMB": 81,
                    "initDurationMs": 210.7,
                },
                "status": "success",
            },
            "message": '{"time":"2026-01-02T03:04:05.999Z","type":"platform.report",'
            f'"record":{{"requestId":"{REQUEST}","metrics":{{"durationMs":321.5,'
            '"billedDurationMs":322,"memorySizeMB":256,"maxMemoryUsedMB":81,'
            '"initDurationMs":210.7},"status":"success"}}',
            "requestId": REQUEST,
            "durationMs": 321.5,
            "billedDurationMs": 322,
            "memorySizeMB": 256,
            "maxMemoryUsedMB": 81,
            "initDurationMs": 210.7,
        },
    ),
    Shape(
        "json-platform-runtime-done-timeout",
        '{"time":"2026-01-02T03:04:08.678Z","type":"platform.runtimeDone",'
        f'"record":{{"requestId":"{REQUEST}","status":"timeout"}}}}\n',
        {
            "time": "2026-01-02T03:04:08.678Z",
            "type": "platform.runtimeDone",
            "record": {"requestId": REQUEST, "status": "timeout"},
            "message": '{"time":"2026-01-02T03:04:08.678Z","type":"platform.runtimeDone",'
            f'"record":{{"requestId":"{REQUEST}","status":"timeout"}}}}',
            "requestId": REQUEST,
            "level": "error",
        },
    ),
]

#: A typical Lambda invocation's lines, for the benchmarks: platform lines around a few
#: application lines in the Node.js text format and Powertools' JSON.
TYPICAL_INVOCATION = [
    f"START RequestId: {REQUEST} Version: $LATEST\n",
    f"2026-01-02T03:04:05.678Z\t{REQUEST}\tINFO\tfetching order 42 from the orders table\n",
    '{"level":"INFO","location":"handler:31","message":"order stored","timestamp":'
    '"2026-01-02 03:04:05,701+0000","service":"orders","cold_start":false,'
    f'"function_request_id":"{REQUEST}","order_id":42,"amount":1999}}\n',
    f"2026-01-02T03:04:05.712Z\t{REQUEST}\tINFO\tpublished OrderStored to the bus\n",
    f"END RequestId: {REQUEST}\n",
    f"REPORT RequestId: {REQUEST}\tDuration: 45.12 ms\tBilled Duration: 46 ms\t"
    "Memory Size: 512 MB\tMax Memory Used: 91 MB\t\n",
]


def envelope(
    messages: list[str],
    *,
    log_group: str = "/aws/lambda/orders-api",
    log_stream: str = "2026/01/02/[$LATEST]0123456789abcdef0123456789abcdef",
    owner: str = "123456789012",
    first_id: int = 37_000_000_000_000_000,
    timestamp: int = 1_767_323_045_678,
    message_type: str = "DATA_MESSAGE",
) -> dict[str, Any]:
    """The JSON a subscription delivers for these messages (ids like CloudWatch Logs': long
    digit strings, one per event)."""
    return {
        "messageType": message_type,
        "owner": owner,
        "logGroup": log_group,
        "logStream": log_stream,
        "subscriptionFilters": ["events-api"],
        "logEvents": [
            {"id": f"{first_id + n:056d}", "timestamp": timestamp + n, "message": message}
            for n, message in enumerate(messages)
        ],
    }


def record(messages: list[str], **kwargs: Any) -> bytes:
    """A CloudWatch Logs record as the buffer carries it: the envelope, gzip'd."""
    return gzip.compress(orjson.dumps(envelope(messages, **kwargs)), mtime=0)


# -- the largest records -------------------------------------------------------------------
#: What CloudWatch Logs puts in one record at most: a Kinesis record is 1 MiB, partition key
#: included; a function's asynchronous payload (the log forwarder's) is 1 MB, the record
#: base64'd in ``{"awslogs": {"data": ...}}``. What a record inflates to is not bounded.
KINESIS_RECORD_BYTES = 1024 * 1024 - 256
ASYNC_RECORD_BYTES = (1024 * 1024 - len('{"awslogs":{"data":""}}')) // 4 * 3


def _request(n: int) -> str:
    return f"{n:08x}-6b1d-4a8e-9d7c-2f3b4a5c6d7e"


def _typical(count: int) -> list[str]:
    """Typical Lambda logs: invocation after invocation, each with its own request id."""
    size = len(TYPICAL_INVOCATION)
    return [
        TYPICAL_INVOCATION[k % size].replace(REQUEST, _request(k // size)) for k in range(count)
    ]


def _one_character(count: int) -> list[str]:
    return ["x\n"] * count


def _json_lines(count: int) -> list[str]:
    return [
        '{"level":"INFO","location":"handler:31","message":"order stored","timestamp":'
        f'"2026-01-02 03:04:05,701+0000","service":"orders","cold_start":false,'
        f'"function_request_id":"{_request(k // 4)}","order_id":{k},"amount":1999,'
        f'"currency":"EUR","items":[{{"sku":"A-{k % 97}","qty":{k % 5 + 1}}}],'
        f'"_id":{k},"_dataset":"orders"}}\n'
        for k in range(count)
    ]


#: workload -> (what fills the record, its messages for a given number of events)
LARGE_RECORDS: dict[str, tuple[str, Any]] = {
    "typical": ("typical Lambda logs (START, text and JSON lines, END, REPORT)", _typical),
    "one-character": ("one-character lines: the most events a record holds", _one_character),
    "json-lines": (
        "structured JSON lines of twelve members, two of them stored-field names",
        _json_lines,
    ),
}


def largest_record(workload: str, limit: int, first_id: int = 37_000_000_000_000_000) -> bytes:
    """A record (gzip level 6, zlib's default) of as many of the workload's events as fit in
    ``limit`` compressed bytes, within half a percent."""
    make = LARGE_RECORDS[workload][1]

    def build(count: int) -> bytes:
        return gzip.compress(
            orjson.dumps(envelope(make(count), first_id=first_id)), compresslevel=6, mtime=0
        )

    count = 20_000
    best = b""
    for _ in range(8):
        data = build(count)
        if len(data) <= limit:
            best = data
            if len(data) >= limit * 0.995:
                return data
        count = max(1, int(count * limit / len(data) * 0.998))
    if not best:
        raise ValueError(f"no record of {workload} fits {limit} bytes")
    return best
