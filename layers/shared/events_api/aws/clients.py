"""Lazily created, shared botocore clients: nothing talks to AWS at import time.

botocore honours the standard variables (region, credentials, ``AWS_ENDPOINT_URL``), so
the same code runs against AWS, moto in-process, and moto's server in the local stack.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from mypy_boto3_athena import AthenaClient
    from mypy_boto3_kinesis import KinesisClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_ssm import SSMClient

_clients: dict[str, Any] = {}
_sessions: list[Any] = []
_lock = threading.Lock()

# Our own retry loops own the time budget, so botocore makes a single attempt per call and
# gives up on a silent peer well before API Gateway's 30-second limit.
_CONFIG_ARGS: dict[str, Any] = {
    "connect_timeout": 2,
    "read_timeout": 5,
    "retries": {"mode": "standard", "total_max_attempts": 1},
    "max_pool_connections": 32,
}


def session() -> Any:
    """One botocore session for every client, and for ``aws_http``'s credentials when the
    environment has none (boto3 itself is never imported: the handlers need clients only,
    and boto3 would add its own import and a session per call)."""
    if not _sessions:
        import botocore.session

        created = botocore.session.get_session()
        _use_fast_loader(created)
        _sessions.append(created)
    return _sessions[0]


def _use_fast_loader(session: Any) -> None:
    """Load botocore's models on the cold path with less work, same data.

    botocore parses its JSON models through an ``OrderedDict`` hook and, before loading any
    model, lists every service directory it ships (hundreds of ``stat`` calls). Here the
    models are parsed with orjson (plain dicts keep key order), and "is this service
    known?" looks at that one service's directory; the full listing is still built, once,
    whenever something asks for it.
    """
    from collections.abc import Iterator
    from functools import cached_property

    from botocore import loaders

    class FastJSONFileLoader(loaders.JSONFileLoader):
        def _load_file(self, full_path: str, open_method: Any) -> Any:
            if not os.path.isfile(full_path):
                return None
            with open_method(full_path, "rb") as handle:
                return orjson.loads(handle.read())

    class KnownServices(Sequence[str]):
        def __init__(self, loader: Any, type_name: str) -> None:
            self._loader, self._type_name = loader, type_name

        @cached_property
        def _names(self) -> list[str]:
            listing = loaders.Loader.list_available_services(self._loader, self._type_name)
            return list(listing)

        def __contains__(self, name: object) -> bool:
            if not isinstance(name, str) or not name or os.sep in name or name[0] == ".":
                return name in self._names
            for base in self._loader.search_paths:
                folder = os.path.join(base, name)
                if os.path.isdir(folder):
                    for version in os.listdir(folder):
                        path = os.path.join(folder, version, self._type_name)
                        if self._loader.file_loader.exists(path):
                            return True
            return False

        def __getitem__(self, index: Any) -> Any:
            return self._names[index]

        def __len__(self) -> int:
            return len(self._names)

        def __iter__(self) -> Iterator[str]:
            return iter(self._names)

    class FastLoader(loaders.Loader):
        def list_available_services(self, type_name: str) -> Sequence[str]:  # type: ignore[override]
            known: dict[str, KnownServices] = self.__dict__.setdefault("_known_services", {})
            if type_name not in known:
                known[type_name] = KnownServices(self, type_name)
            return known[type_name]

    # As botocore.loaders.create_loader does, with the two classes above.
    data_path = session.get_config_variable("data_path")
    extra = None
    if data_path is not None:
        extra = [os.path.expanduser(os.path.expandvars(p)) for p in data_path.split(os.pathsep)]
    loader = FastLoader(extra_search_paths=extra, file_loader=FastJSONFileLoader())
    session.register_component("data_loader", loader)


def _client(service: str) -> Any:
    with _lock:
        client = _clients.get(service)
        if client is None:
            from botocore.config import Config

            client = session().create_client(service, config=Config(**_CONFIG_ARGS))
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


def reset() -> None:
    """Forget every client (tests and the local stack switch endpoints and credentials)."""
    from . import http_client as aws_http

    with _lock:
        _clients.clear()
        _sessions.clear()
    aws_http.reset()
