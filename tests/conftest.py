"""Settings shared by every tier."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from events_api import aws_http
from tests.moto_bridge import InProcessMoto


@pytest.fixture(autouse=True, scope="session")
def _aws_http_through_moto_when_mocked() -> Iterator[None]:
    aws_http.use_transport(InProcessMoto())
    yield
    aws_http.use_transport(None)
