"""Dependencies in one place: the layer ships what pyproject.toml declares, and the private
model loader the functions install into botocore still loads what botocore's own does."""

from __future__ import annotations

import tomllib
from pathlib import Path

import botocore.loaders
import botocore.session
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from events_api.aws import session as aws_session

ROOT = Path(__file__).resolve().parents[2]
#: The services the functions and the local stack create clients for.
SERVICES = ("kinesis", "sqs", "ssm", "s3", "athena", "logs")


def requirements(lines: list[str]) -> dict[str, str]:
    """Package name -> its version bounds, as one normalised specifier string."""
    out = {}
    for line in lines:
        text = line.split("#", 1)[0].strip()
        if text:
            requirement = Requirement(text)
            name = canonicalize_name(requirement.name)
            assert name not in out, f"{name} listed twice"
            out[name] = str(requirement.specifier)
    return out


def test_layer_requirements_are_the_projects_runtime_dependencies() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    layer = (ROOT / "layers" / "shared" / "requirements.txt").read_text().splitlines()
    assert requirements(layer) == requirements(project["dependencies"])


def sessions() -> tuple[botocore.session.Session, botocore.session.Session]:
    stock = botocore.session.get_session()
    fast = botocore.session.get_session()
    aws_session._use_fast_loader(fast)
    return stock, fast


def test_fast_loader_searches_where_botocores_loader_does() -> None:
    stock, fast = (s.get_component("data_loader") for s in sessions())
    assert type(stock) is botocore.loaders.Loader  # what the fast loader stands in for
    assert fast.search_paths == stock.search_paths
    assert type(fast.file_loader).__mro__[1] is type(stock.file_loader)


@pytest.mark.parametrize("type_name", ["service-2", "endpoint-rule-set-1", "paginators-1"])
def test_fast_loader_lists_the_same_services(type_name: str) -> None:
    stock, fast = (s.get_component("data_loader") for s in sessions())
    listed = list(stock.list_available_services(type_name))
    assert list(fast.list_available_services(type_name)) == listed
    known = fast.list_available_services(type_name)
    for name in SERVICES:
        assert (name in known) == (name in listed), name
    for name in ("no-such-service", "", ".", "../kinesis", "kinesis/2013-12-02"):
        assert (name in known) == (name in listed), name


@pytest.mark.parametrize("service", SERVICES)
def test_fast_loader_loads_the_same_models(service: str) -> None:
    stock, fast = (s.get_component("data_loader") for s in sessions())
    for type_name in ("service-2", "endpoint-rule-set-1", "paginators-1"):
        if service in stock.list_available_services(type_name):
            assert fast.load_service_model(service, type_name) == stock.load_service_model(
                service, type_name
            ), type_name


@pytest.mark.parametrize("name", ["endpoints", "partitions", "_retry", "sdk-default-configuration"])
def test_fast_loader_loads_the_same_data(name: str) -> None:
    stock, fast = (s.get_component("data_loader") for s in sessions())
    assert fast.load_data(name) == stock.load_data(name)


def test_clients_from_the_fast_loader_have_botocores_models() -> None:
    stock, fast = sessions()
    for service in SERVICES:
        ours = fast.get_service_model(service)
        theirs = stock.get_service_model(service)
        assert ours.operation_names == theirs.operation_names, service
        assert ours.api_version == theirs.api_version, service
