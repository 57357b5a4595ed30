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
from schemathesis.checks import ignored_auth, positive_data_acceptance

from tests.e2e.conftest import Stack
from tests.reliability.local_stack import local_stack
from tests.reliability.support import record, scaled
from tests.support import ROOT

pytestmark = pytest.mark.e2e

SPEC = ROOT / "docs" / "openapi.yaml"
KEY_HEADERS = ("x-api-key", "authorization")


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with local_stack("kinesis", tmp_path_factory.mktemp("conformance")) as stack:
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


def test_schemathesis_on_the_local_stack(dev: Stack) -> None:
    schema = schemathesis.openapi.from_path(SPEC)
    operations = [result.ok() for result in schema.get_all_operations()]
    statuses: Counter[str] = Counter()
    failures: list[str] = []
    calls = {"with_key": 0, "without_key": 0}
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
            try:
                case.validate_response(
                    response,
                    excluded_checks=[positive_data_acceptance, ignored_auth],
                    transport_kwargs=kwargs,
                )
            except Exception as exc:  # a failed check: report every one, not the first
                failures.append(f"{operation.label} ({label}): {str(exc)[:600]}")

    for operation in operations:

        @settings(
            max_examples=examples,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.explicit, Phase.generate],
            database=None,
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

    record(
        "conformance",
        {
            "spec": "docs/openapi.yaml",
            "schemathesis": schemathesis.SCHEMATHESIS_VERSION,
            "operations": [op.label for op in operations],
            "examples_per_operation": examples,
            "calls": calls,
            "statuses": dict(sorted(statuses.items())),
            "five_xx": sum(n for s, n in statuses.items() if s.split()[1].startswith("5")),
            "failures": failures[:20],
            "failure_count": len(failures),
        },
    )
    assert failures == []
