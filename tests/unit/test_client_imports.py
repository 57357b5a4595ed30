"""The client library applications embed stays light to import: an application pays for it
at every start-up, so it never pulls in moto, Powertools or botocore (boto3)."""

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
