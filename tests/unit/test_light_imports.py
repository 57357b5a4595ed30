"""Modules that promise to stay light keep the promise: the client library applications embed
(an application pays for its imports at every start-up) loads no moto, Powertools or botocore;
the API Gateway mapping the tests and benchmarks build events with loads no server code."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support import ROOT

pytestmark = pytest.mark.unit

HEAVY = ("moto", "aws_lambda_powertools", "botocore", "boto3")
CLIENT_MODULES = (
    "events_api_cli.client",
    "events_api_cli.client.producer",
    "events_api_cli.client.log_handler",
    "events_api_cli.client.reader",
)


def modules_after_import(module: str) -> set[str]:
    """sys.modules of a fresh interpreter after ``import module``."""
    probe = f"import json, sys\nimport {module}\nprint(json.dumps(sorted(sys.modules)))\n"
    answer = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=60,
    )
    return set(json.loads(answer.stdout))


@pytest.mark.parametrize("module", CLIENT_MODULES)
def test_importing_the_client_loads_no_moto_powertools_or_botocore(module: str) -> None:
    loaded = modules_after_import(module)
    assert module in loaded
    heavy = sorted(name for name in loaded if name.split(".")[0] in HEAVY)
    assert heavy == []


def test_the_documented_client_names_import_from_the_client_package() -> None:
    from events_api_cli.client import EventsClient, EventsHandler
    from events_api_cli.client.log_handler import EventsHandler as handler_class
    from events_api_cli.client.producer import EventsClient as client_class

    assert (EventsClient, EventsHandler) == (client_class, handler_class)


def test_the_api_gateway_mapping_loads_no_server_or_function_code() -> None:
    loaded = modules_after_import("events_api_cli.local.api_gateway")
    server = {"socket", "socketserver", "http.server", "threading", "select"}
    assert sorted(loaded & server) == []
    assert "events_api_cli.local.lambda_runtime" not in loaded
    assert not any(name.split(".")[0] in HEAVY for name in loaded)
