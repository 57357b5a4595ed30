"""The reliability suite reuses the integration suite's moto stack and handler fixtures."""

from __future__ import annotations

from tests.integration.conftest import (  # noqa: F401  (fixtures, found by name)
    aws_environment,
    consumer,
    ingest,
    otlp,
    stack,
)
