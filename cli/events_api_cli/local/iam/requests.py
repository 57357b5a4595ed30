"""An AWS request as IAM sees it: the action, every resource it acts on, the condition keys.

The services the stack's functions (and the calls AWS makes for them) use are mapped
operation by operation, with the resource ARN formats of IAM's service authorization
reference: JSON protocol services by ``X-Amz-Target`` (Kinesis, SQS, SSM, KMS, Athena,
Glue, CloudWatch Logs), query protocol by ``Action`` (STS, SQS's older protocol), S3 by
method, path and query string. A request that cannot be mapped raises ``Unmapped``: the
enforcer never lets an unknown call through on a role's credentials.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from .policy import Request

_SQS_BATCH_ACTIONS = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}


class Unmapped(Exception):
    """The local stack cannot tell what IAM would check for this request."""


class Lookups(Protocol):
    """What a request does not say itself but IAM knows (state held by the services)."""

    def parameter_key(self, name: str) -> str | None:
        """The KMS key id of a SecureString parameter (None: not a SecureString)."""
        ...

    def kms_key_id(self, key: str) -> str | None:
        """A key id, alias or ARN as the key's id."""
        ...

    def query_workgroup(self, execution_id: str) -> str:
        """The workgroup an Athena query execution ran in."""
        ...

    def shard_iterator_stream(self, iterator: str) -> str:
        """The stream name a Kinesis shard iterator belongs to."""
        ...


@dataclass(frozen=True)
class AwsRequest:
    method: str
    path: str
    query: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    #: From the SigV4 credential scope.
    service: str
    region: str


@dataclass(frozen=True)
class Authorization:
    """The IAM requests one AWS request needs allowed (all of them), and how to answer."""

    service: str
    operation: str
    protocol: str  # json, query, rest-xml
    requests: tuple[Request, ...]


_SIGV4 = re.compile(r"Credential=([^/\s,]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request")


def credential_scope(headers: Mapping[str, str], query: str) -> tuple[str, str, str] | None:
    """(access key id, region, service) from the SigV4 Authorization header or a presigned
    URL's X-Amz-Credential; None for an unsigned request."""
    found = _SIGV4.search(headers.get("authorization", ""))
    if found:
        return found.group(1), found.group(3), found.group(4)
    credential = parse_qs(query).get("X-Amz-Credential")
    if credential:
        parts = credential[0].split("/")
        if len(parts) == 5:
            return parts[0], parts[2], parts[3]
    return None


def _json_body(request: AwsRequest) -> dict[str, Any]:
    if not request.body:
        return {}
    try:
        document = json.loads(request.body)
    except ValueError:
        raise Unmapped(f"{request.service}: the body is not JSON") from None
    return document if isinstance(document, dict) else {}


class Mapper:
    """Requests -> Authorization, for one account."""

    def __init__(self, account: str, lookups: Lookups) -> None:
        self.account = account
        self.lookups = lookups

    def authorization(self, request: AwsRequest) -> Authorization:
        target = request.headers.get("x-amz-target")
        if request.service == "s3":
            return self._s3(request)
        if target:
            operation = target.rsplit(".", 1)[-1]
            return self._json(request, operation, _json_body(request))
        form = parse_qs(request.body.decode(errors="replace")) if request.body else {}
        query = parse_qs(request.query)
        action = (form.get("Action") or query.get("Action") or [""])[0]
        if action:
            params = {k: v[0] for k, v in {**query, **form}.items()}
            return self._query(request, action, params)
        raise Unmapped(f"{request.service} {request.method} {request.path}: unknown operation")

    # -- ARNs ---------------------------------------------------------------------------
    def _arn(self, service: str, region: str, rest: str) -> str:
        return f"arn:aws:{service}:{region}:{self.account}:{rest}"

    def _queue_arn(self, region: str, url: str) -> str:
        parts = [p for p in urlsplit(url).path.split("/") if p]
        if len(parts) < 2:
            raise Unmapped(f"sqs: not a queue URL: {url}")
        return f"arn:aws:sqs:{region}:{parts[-2]}:{parts[-1]}"

    def _stream_arn(self, region: str, body: Mapping[str, Any]) -> str:
        if body.get("StreamARN"):
            return str(body["StreamARN"])
        if body.get("StreamName"):
            return self._arn("kinesis", region, f"stream/{body['StreamName']}")
        if body.get("ShardIterator"):
            name = self.lookups.shard_iterator_stream(str(body["ShardIterator"]))
            return self._arn("kinesis", region, f"stream/{name}")
        raise Unmapped("kinesis: no stream named")

    def _parameter_arn(self, region: str, name: str) -> str:
        if name.startswith("arn:"):
            return name
        return self._arn(
            "ssm", region, "parameter" + (name if name.startswith("/") else f"/{name}")
        )

    def _key_arn(self, region: str, key: str) -> str:
        key_id = self.lookups.kms_key_id(key) or key
        if key_id.startswith("arn:"):
            return key_id
        return self._arn("kms", region, f"key/{key_id}")

    # -- JSON protocol ------------------------------------------------------------------
    def _json(self, request: AwsRequest, operation: str, body: Mapping[str, Any]) -> Authorization:
        service, region = request.service, request.region
        requests: list[Request]
        if service == "kinesis":
            if operation in {"ListStreams", "DescribeLimits", "DescribeAccountSettings"}:
                requests = [Request(f"kinesis:{operation}", "*")]
            else:
                requests = [Request(f"kinesis:{operation}", self._stream_arn(region, body))]
        elif service == "sqs":
            requests = self._sqs(operation, region, body)
        elif service == "ssm":
            requests = self._ssm(operation, region, body)
        elif service == "kms":
            if operation in {"ListKeys", "ListAliases", "CreateKey", "GenerateRandom"}:
                requests = [Request(f"kms:{operation}", "*")]
            else:
                requests = [Request(f"kms:{operation}", self._key_arn(region, str(body["KeyId"])))]
        elif service == "athena":
            requests = self._athena(operation, region, body)
        elif service == "glue":
            requests = self._glue(operation, region, body)
        elif service == "logs":
            requests = self._logs(operation, region, body)
        else:
            raise Unmapped(f"{service}:{operation}: the local stack does not map this service")
        return Authorization(service, operation, "json", tuple(requests))

    def _sqs(self, operation: str, region: str, body: Mapping[str, Any]) -> list[Request]:
        # SQS has no IAM action of their own for the batch calls: SendMessage, DeleteMessage
        # and ChangeMessageVisibility grant their batch versions (SQS Developer Guide).
        action = f"sqs:{_SQS_BATCH_ACTIONS.get(operation, operation)}"
        if operation == "ListQueues":
            return [Request(action, "*")]
        if operation in {"GetQueueUrl", "CreateQueue"}:
            return [Request(action, self._arn("sqs", region, str(body["QueueName"])))]
        return [Request(action, self._queue_arn(region, str(body["QueueUrl"])))]

    def _ssm(self, operation: str, region: str, body: Mapping[str, Any]) -> list[Request]:
        action = f"ssm:{operation}"
        if operation == "DescribeParameters":
            return [Request(action, "*")]
        if operation == "GetParametersByPath":
            path = str(body["Path"]).rstrip("/") or "/"
            return [Request(action, self._parameter_arn(region, path))]
        names = [str(n) for n in body.get("Names", [])] or [str(body["Name"])]
        requests = [Request(action, self._parameter_arn(region, name)) for name in names]
        decrypting = operation in {"GetParameter", "GetParameters", "GetParameterHistory"} and bool(
            body.get("WithDecryption")
        )
        encrypting = operation == "PutParameter" and body.get("Type") == "SecureString"
        for name in names if decrypting or encrypting else []:
            key = str(body.get("KeyId") or "") if encrypting else self.lookups.parameter_key(name)
            key = key or "alias/aws/ssm"
            if key in {"alias/aws/ssm"} or key.endswith(":alias/aws/ssm"):
                # The AWS managed key's policy lets every principal of the account use it
                # through SSM: no IAM grant is needed (nor checked).
                continue
            requests.append(
                Request(
                    "kms:Encrypt" if encrypting else "kms:Decrypt",
                    self._key_arn(region, key),
                    {
                        "kms:ViaService": f"ssm.{region}.amazonaws.com",
                        "kms:EncryptionContext:PARAMETER_ARN": self._parameter_arn(region, name),
                    },
                )
            )
        return requests

    def _athena(self, operation: str, region: str, body: Mapping[str, Any]) -> list[Request]:
        action = f"athena:{operation}"
        if operation in {"ListWorkGroups", "ListDataCatalogs", "ListEngineVersions"}:
            return [Request(action, "*")]
        if "WorkGroup" in body:
            workgroup = str(body["WorkGroup"])
        elif "QueryExecutionId" in body:
            workgroup = self.lookups.query_workgroup(str(body["QueryExecutionId"]))
        elif operation == "StartQueryExecution":
            workgroup = "primary"
        else:
            raise Unmapped(f"athena:{operation}: no workgroup")
        return [Request(action, self._arn("athena", region, f"workgroup/{workgroup}"))]

    def _glue(self, operation: str, region: str, body: Mapping[str, Any]) -> list[Request]:
        action = f"glue:{operation}"
        catalog = self._arn("glue", region, "catalog")
        if operation in {"GetDatabases", "CreateDatabase"} and "DatabaseInput" not in body:
            return [Request(action, catalog)]
        database = str(
            body.get("DatabaseName")
            or body.get("Name")
            or body.get("DatabaseInput", {}).get("Name")
        )
        resources = [catalog, self._arn("glue", region, f"database/{database}")]
        if operation in {"GetDatabase", "CreateDatabase", "UpdateDatabase", "DeleteDatabase"}:
            pass
        elif operation == "GetTables":
            resources.append(self._arn("glue", region, f"table/{database}/*"))
        else:
            table = (
                body.get("TableName") or body.get("TableInput", {}).get("Name") or body.get("Name")
            )
            if not table:
                raise Unmapped(f"glue:{operation}: no table")
            resources.append(self._arn("glue", region, f"table/{database}/{table}"))
        return [Request(action, resource) for resource in resources]

    def _logs(self, operation: str, region: str, body: Mapping[str, Any]) -> list[Request]:
        action = f"logs:{operation}"
        group = body.get("logGroupName")
        if not group:
            return [Request(action, self._arn("logs", region, "log-group:*"))]
        stream = body.get("logStreamName")
        if operation == "PutSubscriptionFilter" and body.get("roleArn"):
            # Passing a role to CloudWatch Logs needs iam:PassRole on it (IAM user guide).
            return [
                Request(action, self._arn("logs", region, f"log-group:{group}:*")),
                Request(
                    "iam:PassRole",
                    str(body["roleArn"]),
                    {"iam:PassedToService": "logs.amazonaws.com"},
                ),
            ]
        if operation in {"CreateLogStream", "PutLogEvents", "GetLogEvents"} and stream:
            rest = f"log-group:{group}:log-stream:{stream}"
        else:
            # CloudWatch Logs' documented form for a group in IAM: the ARN ending ":*".
            rest = f"log-group:{group}:*"
        return [Request(action, self._arn("logs", region, rest))]

    # -- query protocol -----------------------------------------------------------------
    def _query(self, request: AwsRequest, action: str, params: Mapping[str, str]) -> Authorization:
        if request.service == "sts":
            if action == "GetCallerIdentity":
                # Needs no permission: any principal may ask who it is.
                return Authorization("sts", action, "query", ())
            if action == "AssumeRole":
                return Authorization(
                    "sts", action, "query", (Request("sts:AssumeRole", params["RoleArn"]),)
                )
        if request.service == "sqs":
            body = {
                "QueueUrl": params.get("QueueUrl", ""),
                "QueueName": params.get("QueueName", ""),
            }
            requests = self._sqs(action, request.region, body)
            return Authorization("sqs", action, "query", tuple(requests))
        raise Unmapped(f"{request.service}:{action}: the local stack does not map this service")

    # -- S3 -----------------------------------------------------------------------------
    def _s3(self, request: AwsRequest) -> Authorization:
        host = request.headers.get("host", "")
        path = unquote(request.path)
        virtual = re.match(r"^([a-z0-9.-]+)\.s3[.-]", host)
        if virtual:
            bucket, key = virtual.group(1), path.lstrip("/")
        else:
            bucket, _, key = path.lstrip("/").partition("/")
        query = parse_qs(request.query, keep_blank_values=True)
        method = request.method.upper()
        bucket_arn = f"arn:aws:s3:::{bucket}"
        object_arn = f"{bucket_arn}/{key}"
        context = {"aws:SecureTransport": "true"}

        def one(
            action: str, resource: str, extra: Mapping[str, str] | None = None
        ) -> Authorization:
            return Authorization(
                "s3",
                action,
                "rest-xml",
                (Request(f"s3:{action}", resource, {**context, **(extra or {})}),),
            )

        if not bucket:
            return one("ListAllMyBuckets", "*")
        if not key and method == "POST" and "delete" in query:
            return self.s3_delete_objects(bucket, request.body)
        if not key:
            return self._s3_bucket(method, query, bucket_arn, context)
        if "uploadId" in query:
            if method == "DELETE":
                return one("AbortMultipartUpload", object_arn)
            if method == "GET":
                return one("ListMultipartUploadParts", object_arn)
            return one("PutObject", object_arn)
        if method in {"GET", "HEAD"}:
            if "tagging" in query:
                return one("GetObjectTagging", object_arn)
            return one("GetObject", object_arn)
        if method in {"PUT", "POST"}:
            if "tagging" in query:
                return one("PutObjectTagging", object_arn)
            copy_source = request.headers.get("x-amz-copy-source")
            if copy_source:
                source = unquote(copy_source.split("?", 1)[0]).lstrip("/")
                requests = (
                    Request("s3:PutObject", object_arn, context),
                    Request("s3:GetObject", f"arn:aws:s3:::{source}", context),
                )
                return Authorization("s3", "CopyObject", "rest-xml", requests)
            return one("PutObject", object_arn)
        if method == "DELETE":
            return one("DeleteObject", object_arn)
        raise Unmapped(f"s3 {method} object: unknown operation")

    def _s3_bucket(
        self,
        method: str,
        query: Mapping[str, Sequence[str]],
        bucket_arn: str,
        context: dict[str, str],
    ) -> Authorization:
        def one(action: str, extra: Mapping[str, str] | None = None) -> Authorization:
            return Authorization(
                "s3",
                action,
                "rest-xml",
                (Request(f"s3:{action}", bucket_arn, {**context, **(extra or {})}),),
            )

        subresources = {
            "location": "GetBucketLocation",
            "versioning": "GetBucketVersioning",
            "policy": "GetBucketPolicy",
            "lifecycle": "GetLifecycleConfiguration",
            "encryption": "GetEncryptionConfiguration",
            "tagging": "GetBucketTagging",
            "acl": "GetBucketAcl",
            "notification": "GetBucketNotification",
        }
        if method in {"GET", "HEAD"}:
            if "uploads" in query:
                return one("ListBucketMultipartUploads")
            if "versions" in query:
                return one("ListBucketVersions")
            for name, action in subresources.items():
                if name in query:
                    return one(action)
            keys = {
                "s3:prefix": (query.get("prefix") or [""])[0],
                "s3:delimiter": (query.get("delimiter") or [""])[0],
                "s3:max-keys": (query.get("max-keys") or [""])[0],
            }
            return one("ListBucket", {k: v for k, v in keys.items() if v})
        if method == "PUT":
            for name, action in subresources.items():
                if name in query:
                    return one(action.replace("Get", "Put", 1))
            return one("CreateBucket")
        if method == "DELETE":
            return one("DeleteBucket")
        raise Unmapped(f"s3 {method} bucket: unknown operation")

    def s3_delete_objects(self, bucket: str, body: bytes) -> Authorization:
        """DeleteObjects: s3:DeleteObject on every key it names."""
        keys = re.findall(rb"<Key>(.*?)</Key>", body, re.DOTALL)
        context = {"aws:SecureTransport": "true"}
        requests = tuple(
            Request("s3:DeleteObject", f"arn:aws:s3:::{bucket}/{_xml_text(key)}", context)
            for key in keys
        )
        return Authorization("s3", "DeleteObjects", "rest-xml", requests)


def _xml_text(raw: bytes) -> str:
    import html

    return html.unescape(raw.decode())
