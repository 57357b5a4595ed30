"""moto's server standing in for AWS, and the stack's resources inside it.

The handlers find AWS the way they do in Lambda: through the standard variables. This
module points those at moto (``AWS_ENDPOINT_URL``, region, dummy credentials) and cuts off
any shared config or profile, so a local run can never reach a real account.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..defaults import (
    LOCAL_BUCKET_NAME,
    LOCAL_DEAD_LETTER_QUEUE_NAME,
    LOCAL_QUEUE_NAME,
    LOCAL_REGION,
    LOCAL_STREAM_NAME,
)
from .event_source_mapping import SQS_MAX_RECEIVE_COUNT

if TYPE_CHECKING:
    from mypy_boto3_kinesis import KinesisClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

    from .iam.enforcer import Authority

log = logging.getLogger("events_api_cli.aws")

#: Queue settings from template.yaml, except the visibility timeout: the template's 360 s
#: (6x the consumer's timeout) would make a failed message wait six minutes locally.
#: The poller hides a failed message for a few seconds only, and nothing else waits on it.
QUEUE_VISIBILITY_TIMEOUT = 60


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
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()

    @property
    def endpoint_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def use_local_aws(endpoint_url: str) -> None:
    """Point every boto3 client of this process (the handlers' too) at ``endpoint_url``."""
    from events_api import aws_clients

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
    aws_clients.reset()


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


@dataclass(frozen=True, slots=True)
class Resources:
    buffer: str
    bucket: str
    stream_name: str = ""
    stream_arn: str = ""
    queue_url: str = ""
    queue_arn: str = ""
    dead_letter_queue_url: str = ""

    def environment(self, keys_path: str) -> dict[str, str]:
        """What the two functions read (template.yaml sets the same for them in AWS)."""
        env = {
            "BUFFER_TYPE": self.buffer,
            "API_KEYS_PATH": keys_path,
            "BUCKET_NAME": self.bucket,
        }
        if self.buffer == "kinesis":
            env["STREAM_NAME"] = self.stream_name
        else:
            env["QUEUE_URL"] = self.queue_url
        return env


def _queue_arn(sqs: SQSClient, url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return attributes["Attributes"]["QueueArn"]


def create_resources(buffer: str, endpoint_url: str) -> Resources:
    # moto loads a service's backend on its first request: SSM with KMS (SecureStrings)
    # takes seconds on a busy machine, longer than the functions' clients wait. Warm both
    # here, with the set-up client's patience.
    client("ssm", endpoint_url).describe_parameters(MaxResults=1)
    client("kms", endpoint_url).list_keys(Limit=1)
    s3: S3Client = client("s3", endpoint_url)
    s3.create_bucket(Bucket=LOCAL_BUCKET_NAME)
    sqs: SQSClient = client("sqs", endpoint_url)
    if buffer == "kinesis":
        kinesis: KinesisClient = client("kinesis", endpoint_url)
        kinesis.create_stream(StreamName=LOCAL_STREAM_NAME, ShardCount=1)
        summary = kinesis.describe_stream_summary(StreamName=LOCAL_STREAM_NAME)
        return Resources(
            buffer=buffer,
            bucket=LOCAL_BUCKET_NAME,
            stream_name=LOCAL_STREAM_NAME,
            stream_arn=summary["StreamDescriptionSummary"]["StreamARN"],
        )
    dead_letters = sqs.create_queue(QueueName=LOCAL_DEAD_LETTER_QUEUE_NAME)["QueueUrl"]
    redrive = {
        "deadLetterTargetArn": _queue_arn(sqs, dead_letters),
        "maxReceiveCount": SQS_MAX_RECEIVE_COUNT,
    }
    queue = sqs.create_queue(
        QueueName=LOCAL_QUEUE_NAME,
        Attributes={
            "VisibilityTimeout": str(QUEUE_VISIBILITY_TIMEOUT),
            "RedrivePolicy": json.dumps(redrive),
        },
    )["QueueUrl"]
    return Resources(
        buffer=buffer,
        bucket=LOCAL_BUCKET_NAME,
        queue_url=queue,
        queue_arn=_queue_arn(sqs, queue),
        dead_letter_queue_url=dead_letters,
    )


def new_key_id() -> str:
    return f"key_{secrets.token_hex(8)}"


def register_key(keys_path: str, key: str, name: str) -> str:
    """Store ``key`` under ``keys_path`` through the same adapter the ingest function reads."""
    from events_api.key_store import SsmKeyStore

    key_id = new_key_id()
    SsmKeyStore(keys_path).create(key, key_id, name)
    return key_id
