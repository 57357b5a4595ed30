"""API conformance: schemathesis against docs/openapi.yaml on `events-api dev`.

Cases generated from the spec (schema-valid and schema-violating) for every operation, sent
with the stack's key and without any key:

- never a 5xx; status codes, content types, headers and bodies match the spec;
- without a key, POST is 401 and every other method 405 (the contract's order).

Two adaptations, both because OpenAPI cannot say what the body bytes are: a body sent
with ``Content-Encoding: gzip`` is gzipped (the spec describes the uncompressed body), and
the "schema-valid data is accepted" check is left out (an NDJSON body is "a string" to the
spec, and a JSON event larger than 256 KiB is schema-valid; both are 400s by contract).
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import ignored_auth, negative_data_rejection, positive_data_acceptance
from schemathesis.core.parameters import ParameterLocation

from tests.e2e.conftest import DevStack
from tests.reliability.local_stack import local_stack
from tests.reliability.support import SCALE, record, scaled
from tests.support import ROOT

SPEC = ROOT / "docs" / "openapi.yaml"
KEY_HEADERS = ("x-api-key", "authorization")


@pytest.fixture(scope="module", params=["http-api", "function-url"])
def dev(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DevStack]:
    """Behind each front door: the contract's answers are the same through both."""
    door = str(request.param)
    directory = tmp_path_factory.mktemp(f"conformance-{door}")
    with local_stack("kinesis", directory, None, door) as stack:
        yield stack


def send(case: Any, base_url: str, key: str | None) -> tuple[requests.Response, dict[str, Any]]:
    kwargs = case.as_transport_kwargs(base_url=base_url)
    headers = {k: v for k, v in kwargs["headers"].items() if k.lower() not in KEY_HEADERS}
    if key is not None:
        headers["x-api-key"] = key
    kwargs["headers"] = headers
    if "json" in kwargs:
        kwargs["data"] = json.dumps(kwargs.pop("json")).encode()
    data = kwargs.get("data")
    if isinstance(data, str):
        data = kwargs["data"] = data.encode()
    encoding = {k.lower(): v for k, v in headers.items()}.get("content-encoding", "")
    if encoding.strip().lower() == "gzip" and data is not None:
        kwargs["data"] = gzip.compress(data)
    return requests.request(**kwargs, timeout=60), kwargs


def is_negative(case: Any) -> bool:
    components = case.meta.components if case.meta else {}
    return any(info.mode == GenerationMode.NEGATIVE for info in components.values())


def violates_contract(case: Any, headers: dict[str, str]) -> bool:
    """Whether a case schemathesis made schema-violating still is, as sent and as the
    contract reads it. The key headers are replaced by the test, and HTTP reads
    ``Content-Encoding`` case-insensitively, trimmed, empty meaning none: a case whose only
    violation was there is a valid request, which the API rightly accepts."""
    negative = {
        location
        for location, info in (case.meta.components if case.meta else {}).items()
        if info.mode == GenerationMode.NEGATIVE
    }
    if not negative:
        return False
    if negative - {ParameterLocation.HEADER}:
        return True
    sent = {k.lower(): v for k, v in headers.items()}
    encoding = sent.get("content-encoding")
    if encoding is not None and encoding.strip().lower() not in ("", "identity", "gzip"):
        return True
    return any(len(sent.get(name, "")) > 256 for name in ("x-service", "x-namespace"))


def test_schemathesis_on_the_local_stack(dev: DevStack) -> None:
    schema = schemathesis.openapi.from_path(SPEC)
    operations = [result.ok() for result in schema.get_all_operations()]
    statuses: Counter[str] = Counter()
    failures: list[str] = []
    calls = {"with_key": 0, "without_key": 0}
    lenient: Counter[str] = Counter()  # cases schemathesis thought negative, valid as sent
    examples = scaled(40, 600)

    def check(operation: Any, case: Any) -> None:
        for key in (dev.api_key, None):
            response, kwargs = send(case, dev.api, key)
            label = "with_key" if key else "without_key"
            calls[label] += 1
            statuses[f"{operation.method.upper()} {response.status_code}"] += 1
            if response.status_code >= 500:
                failures.append(f"{operation.label}: {response.status_code} {response.text}")
            if key is None:
                expected = 401 if operation.method.lower() == "post" else 405
                if response.status_code != expected:
                    failures.append(
                        f"{operation.label} without a key: {response.status_code}, not {expected}"
                    )
            excluded = [positive_data_acceptance, ignored_auth]
            if is_negative(case) and not violates_contract(case, kwargs["headers"]):
                excluded.append(negative_data_rejection)
                lenient[label] += 1
            try:
                case.validate_response(response, excluded_checks=excluded, transport_kwargs=kwargs)
            except Exception as exc:  # a failed check: report every one, not the first
                failures.append(f"{operation.label} ({label}): {str(exc)[:600]}")

    for operation in operations:

        @settings(
            max_examples=examples,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.explicit, Phase.generate],
            database=None,
            # The same cases on every run, so CI cannot pass or fail by the draw; the
            # long form (make reliability) draws afresh.
            derandomize=SCALE == "short",
        )
        @given(
            case=st.one_of(
                operation.as_strategy(GenerationMode.POSITIVE),
                operation.as_strategy(GenerationMode.NEGATIVE),
            )
        )
        def run(case: Any) -> None:
            check(operation, case)  # noqa: B023  (run() is called right here)

        run()

    # The report's figures are the HTTP API's; the function URL run must pass the same checks.
    record(
        "conformance" if dev.front_door == "http-api" else "conformance-function-url",
        {
            "spec": "docs/openapi.yaml",
            "schemathesis": schemathesis.SCHEMATHESIS_VERSION,
            "operations": [op.label for op in operations],
            "examples_per_operation": examples,
            "calls": calls,
            "negative_cases_valid_as_sent": dict(lenient),
            "statuses": dict(sorted(statuses.items())),
            "five_xx": sum(n for s, n in statuses.items() if s.split()[1].startswith("5")),
            "failures": failures[:20],
            "failure_count": len(failures),
        },
    )
    assert failures == []
