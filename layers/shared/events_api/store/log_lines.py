"""What one CloudWatch Logs line says, as fields (pure, table-tested).

A line is one log event's message. Three kinds are understood:

- a JSON object (Powertools, structured loggers, Lambda's JSON log format): its members are
  kept as sent; Lambda's ``platform.*`` records add ``requestId`` and their metrics at the
  top level;
- the Lambda runtimes' text lines (Node.js and .NET ``time<TAB>id<TAB>LEVEL<TAB>message``,
  Python ``[LEVEL]<TAB>time<TAB>id<TAB>message``, Ruby's Logger, Java's log4j2 appender): the
  request id, the level (lower case) and the message without its prefix;
- Lambda's platform lines (``START``, ``END``, ``REPORT`` with its numbers, ``INIT_START``,
  ``INIT_REPORT``, ``RESTORE_*``), timeouts and runtime errors, which are ``level: "error"``.

Anything else (Go's ``log`` lines, ``print`` output) is a plain message.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

#: Field -> value, for what the line says beyond its own JSON members.
Fields = dict[str, Any]

_OBJECT = msgspec.json.Decoder(dict[str, msgspec.Raw])
_ANY = msgspec.json.Decoder()

_UUIDISH = r"[0-9A-Za-z][0-9A-Za-z-]{7,}"
_TIME = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z"
# Node.js (console.*) and .NET (ILambdaLogger): time, request id, level, message.
_TAB_FORMAT = re.compile(rf"({_TIME})\t(\S+)\t([A-Za-z]+)\t(.*)", re.DOTALL)
# Python's logging in the Lambda runtime: [LEVEL], time, request id (empty outside a request).
_PYTHON_FORMAT = re.compile(rf"\[([A-Z]+)\]\t({_TIME})\t(\S*)\t(.*)", re.DOTALL)
# The Python runtime's own errors: "[ERROR] Runtime.ImportModuleError: ..." and a traceback.
_PYTHON_RUNTIME = re.compile(r"\[(ERROR|WARNING|CRITICAL)\] (.*)", re.DOTALL)
# Ruby's Logger as the Lambda runtime sets it up: "I, [time #pid]  INFO -- request id: message".
_RUBY_FORMAT = re.compile(r"[DIWEFA], \[\S+ #\d+\]\s+([A-Z]+) -- (\S*): (.*)", re.DOTALL)
# Java's aws-lambda-java-log4j2 default layout: "yyyy-MM-dd HH:mm:ss <request id> LEVEL ...".
_JAVA_LOG4J = re.compile(
    rf"\d{{4}}-\d{{2}}-\d{{2}} \d{{2}}:\d{{2}}:\d{{2}}(?:[.,]\d+)? ({_UUIDISH}) "
    r"(TRACE|DEBUG|INFO|WARN|ERROR|FATAL)\s+(.*)",
    re.DOTALL,
)
_TIMEOUT = re.compile(rf"(?:{_TIME} )?({_UUIDISH}) Task timed out after ([\d.]+) seconds")
_RUNTIME_ERROR = re.compile(rf"RequestId: ({_UUIDISH}) Error: (.*)", re.DOTALL)

_START = re.compile(r"START RequestId: (\S+)(?: Version: (\S+))?")
_END = re.compile(r"END RequestId: (\S+)")
_REPORT = re.compile(r"REPORT RequestId: (\S+)")
_INIT_START = re.compile(r"INIT_START Runtime Version: (\S+)(?:\s+Runtime Version ARN: (\S+))?")
# "Duration: 2.38 ms", "Memory Size: 128 MB", "XRAY TraceId: 1-...", "Status: timeout": the
# REPORT, INIT_REPORT and RESTORE_REPORT lines are tab-separated "Name: value" pairs.
_PAIR = re.compile(r"([A-Za-z][A-Za-z ]*?): (\S+)(?: (ms|MB))?")

#: REPORT (and INIT_REPORT, RESTORE_REPORT) names -> stored field names, all numbers.
_REPORT_NUMBERS = {
    "Duration": "durationMs",
    "Billed Duration": "billedDurationMs",
    "Memory Size": "memorySizeMB",
    "Max Memory Used": "maxMemoryUsedMB",
    "Init Duration": "initDurationMs",
    "Restore Duration": "restoreDurationMs",
    "Billed Restore Duration": "billedRestoreDurationMs",
}
_REPORT_TEXT = {
    "XRAY TraceId": "xrayTraceId",
    "SegmentId": "xraySegmentId",
    "Sampled": "xraySampled",
    "Status": "status",
    "Phase": "phase",
    "Error Type": "errorType",
}
#: Lambda's JSON log format's platform records: record.metrics names kept as they are.
_PLATFORM_METRICS = frozenset(_REPORT_NUMBERS.values())
#: Statuses of a report that mean the invocation (or init) failed.
_FAILED = frozenset({"timeout", "error", "failure"})
#: Levels as the runtimes spell them -> the stored spelling (lower case; .NET's short forms).
_LEVELS = {
    "trce": "trace",
    "dbug": "debug",
    "fail": "error",
    "crit": "critical",
    "warning": "warn",
}


def level_of(word: str) -> str:
    lower = word.lower()
    return _LEVELS.get(lower, lower)


def parse(line: str) -> tuple[dict[str, msgspec.Raw] | None, Fields]:
    """The line's own members when it is a JSON object (else None), and what it says beyond
    them (``message`` always; ``requestId``, ``level``, ``type`` and numbers when known)."""
    if line.startswith("{") and line.endswith("}"):
        members = _json_members(line)
        if members is not None:
            return members, _json_fields(line, members)
    return None, text_fields(line)


def _json_members(line: str) -> dict[str, msgspec.Raw] | None:
    try:
        return _OBJECT.decode(line)
    except (msgspec.DecodeError, RecursionError):
        return None


def _json_fields(line: str, members: dict[str, msgspec.Raw]) -> Fields:
    fields: Fields = {"message": line}
    kind = members.get("type")
    if kind is None or not bytes(kind).startswith(b'"platform.'):
        return fields
    try:
        record = _ANY.decode(members["record"]) if "record" in members else None
    except (msgspec.DecodeError, RecursionError):
        record = None
    if not isinstance(record, dict):
        return fields
    if isinstance(record.get("requestId"), str):
        fields["requestId"] = record["requestId"]
    metrics = record.get("metrics")
    if isinstance(metrics, dict):
        for name, value in metrics.items():
            if name in _PLATFORM_METRICS and isinstance(value, int | float):
                fields[name] = value
    status = record.get("status")
    if isinstance(status, str) and status in _FAILED:
        fields["level"] = "error"
    return fields


def text_fields(line: str) -> Fields:
    """Fields of a line that is not a JSON object."""
    if line.startswith(("START ", "END ", "REPORT ", "INIT_", "RESTORE_")):
        platform = _platform(line)
        if platform is not None:
            return platform
    match = _TAB_FORMAT.match(line)
    if match:
        _, request_id, level, message = match.groups()
        return _runtime(message, request_id, level)
    match = _PYTHON_FORMAT.match(line)
    if match:
        level, _, request_id, message = match.groups()
        return _runtime(message, request_id, level)
    match = _TIMEOUT.match(line)
    if match:
        return {"message": line, "requestId": match.group(1), "level": "error"}
    match = _PYTHON_RUNTIME.match(line)
    if match:
        return {"message": match.group(2), "level": level_of(match.group(1))}
    match = _RUNTIME_ERROR.match(line)
    if match:
        return {"message": line, "requestId": match.group(1), "level": "error"}
    match = _RUBY_FORMAT.match(line)
    if match:
        level, request_id, message = match.groups()
        return _runtime(message, request_id, level)
    match = _JAVA_LOG4J.match(line)
    if match:
        request_id, level, message = match.groups()
        return _runtime(message, request_id, level)
    return {"message": line}


def _runtime(message: str, request_id: str, level: str) -> Fields:
    fields: Fields = {"message": message}
    # Node.js writes "undefined" for lines logged outside a request; Python an empty field.
    if request_id and request_id != "undefined":
        fields["requestId"] = request_id
    fields["level"] = level_of(level)
    return fields


def _platform(line: str) -> Fields | None:
    fields: Fields = {"message": line}
    if line.startswith("START "):
        match = _START.match(line)
        if match is None:
            return None
        fields.update(type="platform.start", requestId=match.group(1))
        if match.group(2):
            fields["version"] = match.group(2)
        return fields
    if line.startswith("END "):
        match = _END.match(line)
        if match is None:
            return None
        fields.update(type="platform.end", requestId=match.group(1))
        return fields
    if line.startswith("INIT_START "):
        match = _INIT_START.match(line)
        if match is None:
            return None
        fields.update(type="platform.initStart", runtimeVersion=match.group(1))
        if match.group(2):
            fields["runtimeVersionArn"] = match.group(2)
        return fields
    if line.startswith("REPORT "):
        match = _REPORT.match(line)
        if match is None:
            return None
        fields.update(type="platform.report", requestId=match.group(1))
        _pairs(line[match.end() :], fields)
        return fields
    for prefix, kind in (
        ("INIT_REPORT ", "platform.initReport"),
        ("RESTORE_START ", "platform.restoreStart"),
        ("RESTORE_REPORT ", "platform.restoreReport"),
    ):
        if line.startswith(prefix):
            fields["type"] = kind
            _pairs(line[len(prefix) :], fields)
            return fields
    return None


def _pairs(text: str, fields: Fields) -> None:
    for part in text.split("\t"):
        for name, value, _unit in _PAIR.findall(part.strip()):
            if name in _REPORT_NUMBERS:
                number = _number(value)
                if number is not None:
                    fields[_REPORT_NUMBERS[name]] = number
            elif name in _REPORT_TEXT:
                key = _REPORT_TEXT[name]
                fields[key] = value == "true" if key == "xraySampled" else value
    if fields.get("status") in _FAILED:
        fields["level"] = "error"


def _number(text: str) -> int | float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return int(value) if value.is_integer() and "." not in text else value
