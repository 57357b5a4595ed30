"""Lazily created, shared botocore clients: nothing talks to AWS at import time.

botocore honours the standard variables (region, credentials, ``AWS_ENDPOINT_URL``), so
the same code runs against AWS, moto in-process, and moto's server in the local stack.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from .session import shared_session

if TYPE_CHECKING:
    from mypy_boto3_athena import AthenaClient
    from mypy_boto3_kinesis import KinesisClient
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_ssm import SSMClient

_clients: dict[str, Any] = {}
_lock = threading.Lock()

# Our own retry loops own the time budget, so botocore makes a single attempt per call and
# gives up on a silent peer well before API Gateway's 30-second limit.
_CONFIG_ARGS: dict[str, Any] = {
    "connect_timeout": 2,
    "read_timeout": 5,
    "retries": {"mode": "standard", "total_max_attempts": 1},
    "max_pool_connections": 32,
}


def _client(service: str) -> Any:
    with _lock:
        client = _clients.get(service)
        if client is None:
            from botocore.config import Config

            client = shared_session().create_client(service, config=Config(**_CONFIG_ARGS))
            _clients[service] = client
        return client


def kinesis() -> KinesisClient:
    return _client("kinesis")  # type: ignore[no-any-return]


def sqs() -> SQSClient:
    return _client("sqs")  # type: ignore[no-any-return]


def ssm() -> SSMClient:
    return _client("ssm")  # type: ignore[no-any-return]


def s3() -> S3Client:
    return _client("s3")  # type: ignore[no-any-return]


def athena() -> AthenaClient:
    return _client("athena")  # type: ignore[no-any-return]


def logs() -> CloudWatchLogsClient:
    return _client("logs")  # type: ignore[no-any-return]


def forget() -> None:
    """Forget every client (``events_api.aws.reset`` forgets the session too)."""
    with _lock:
        _clients.clear()
