"""moto's server standing in for AWS, with IAM enforced in front of it (local/iam).

The stack's resources are created in it from the template (local/deploy.py). The dev
process's own calls (set-up, the keys) find it through the standard variables, which this
module points at moto (``AWS_ENDPOINT_URL``, region, dummy credentials: the account's
administrator) with any shared config or profile cut off, so a local run can never reach a
real account; the functions get their own roles' credentials (local/runtime.py).
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from typing import TYPE_CHECKING, Any

from ..defaults import LOCAL_REGION

if TYPE_CHECKING:
    from .iam.enforcer import Authority

log = logging.getLogger("events_api_cli.aws")


class MotoServer:
    """moto's threaded server on ``host:port`` (port 0 picks a free one), with IAM enforced
    for the roles ``authority`` knows (iam/enforcer.py) when one is given."""

    def __init__(self, host: str, port: int, authority: Authority | None = None) -> None:
        # moto logs every request through werkzeug; a dev console needs none of it.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self.host = host
        self.port = port
        self.authority = authority
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        from .iam.enforcer import Enforcer, MotoLookups

        app: Any = DomainDispatcherApplication(create_backend_app)
        if self.authority is not None:
            app = Enforcer(app, self.authority, MotoLookups(self.authority.account, LOCAL_REGION))
        self._server = make_server(
            self.host, self.port, app, threaded=True, request_handler=MotoRequestHandler
        )
        self.host, self.port = str(self._server.server_address[0]), self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        from moto.moto_api._internal.models import moto_api_backend

        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        # moto keeps its backends process-wide: the stack's resources go with the server, or
        # the next server in this process (a test's) would find them and refuse the names.
        moto_api_backend.reset()

    @property
    def endpoint_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def use_local_aws(endpoint_url: str) -> None:
    """Point every boto3 client of this process (the handlers' too) at ``endpoint_url``."""
    from events_api import aws

    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        os.environ.pop(name, None)
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_REGION": LOCAL_REGION,
            "AWS_DEFAULT_REGION": LOCAL_REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            # No profile, SSO session or credential process from the user's files.
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    aws.reset()


def client(service: str, endpoint_url: str) -> Any:
    """A client for the stack's own calls (pollers, set-up), with botocore's usual retries."""
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        service,  # type: ignore[call-overload]
        endpoint_url=endpoint_url,
        region_name=LOCAL_REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"mode": "standard", "max_attempts": 3}, max_pool_connections=16),
    )


def warm_up(endpoint_url: str) -> None:
    """moto loads a service's backend on its first request: SSM with KMS (SecureStrings)
    takes seconds on a busy machine, longer than the functions' clients wait. Warm both
    here, with the set-up client's patience."""
    client("ssm", endpoint_url).describe_parameters(MaxResults=1)
    client("kms", endpoint_url).list_keys(Limit=1)


def new_key_id() -> str:
    return f"key_{secrets.token_hex(8)}"


def register_key(keys_path: str, key: str, name: str) -> str:
    """Store ``key`` under ``keys_path`` through the same adapter the ingest function reads."""
    from events_api.ingest.key_store import SsmKeyStore

    key_id = new_key_id()
    SsmKeyStore(keys_path).create(key, key_id, name)
    return key_id
