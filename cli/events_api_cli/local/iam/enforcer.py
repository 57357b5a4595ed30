"""The authorising layer in front of moto's server: IAM enforced per role.

Each function (and each caller AWS stands in for, such as an event source mapping) gets
credentials minted for its role (``Authority.mint``), as Lambda hands a function its
role's session credentials. Every request moto's server receives passes through
``Enforcer`` (a WSGI middleware around moto's app): the SigV4 credential's access key names
the principal; the request is mapped to IAM's actions and resources (``requests``) and
evaluated against the role's policies and the resource's own policy (``policy``); a denied
request is answered AccessDenied in the service's shape (``responses``) and never reaches
moto. Requests signed with any other key (the developer's, the tests', the stack's own
set-up) are the account administrator's and pass unchecked, as they would in AWS.

Every decision on a role's credentials goes to ``Authority.listeners`` (the IAM record,
iam/calls.py).

Why not moto's own enforcement (``INITIAL_NO_AUTH_ACTION_COUNT``): it applies to every
request the server gets (the developer's, the tests' and the CLI's too, which would then
need IAM users of their own), it checks resources for S3 only, and it knows no role
sessions minted outside it. This layer checks action and resource for every service the
roles use, evaluates the bucket policies, and leaves the administrator's requests alone.
"""

from __future__ import annotations

import io
import logging
import secrets
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .policy import Decision, NamedDocument, Request, UnsupportedPolicy, evaluate
from .requests import AwsRequest, Lookups, Mapper, Unmapped, credential_scope
from .responses import Answer, access_denied, cannot_authorize, message

log = logging.getLogger("events_api_cli.iam")


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str
    token: str

    def environment(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_SESSION_TOKEN": self.token,
        }


@dataclass(frozen=True)
class Principal:
    """A role session: who signs with the minted credentials."""

    role_logical_id: str
    role_arn: str
    session: str
    policies: tuple[NamedDocument, ...]
    account: str

    @property
    def arn(self) -> str:
        role_name = self.role_arn.rsplit("/", 1)[-1]
        return f"arn:aws:sts::{self.account}:assumed-role/{role_name}/{self.session}"


@dataclass(frozen=True)
class Call:
    """One evaluated request on a role's credentials."""

    principal: Principal
    operation: str
    request: Request
    decision: Decision


class Authority:
    """The roles' sessions and the resources' policies of the local account."""

    def __init__(self, account: str) -> None:
        self.account = account
        self._principals: dict[str, tuple[Principal, Credentials]] = {}
        self._resource_policies: dict[str, list[NamedDocument]] = {}
        self._lock = threading.Lock()
        self.listeners: list[Callable[[Call], None]] = []

    def mint(
        self,
        role_logical_id: str,
        role_arn: str,
        session: str,
        policies: Iterable[NamedDocument],
    ) -> Credentials:
        """Temporary credentials of ``role_arn`` for ``session`` (a function's name)."""
        credentials = Credentials(
            "ASIA" + secrets.token_hex(8).upper(),
            secrets.token_urlsafe(30),
            secrets.token_urlsafe(48),
        )
        principal = Principal(role_logical_id, role_arn, session, tuple(policies), self.account)
        with self._lock:
            self._principals[credentials.access_key] = (principal, credentials)
        return credentials

    def principal_for_service(
        self, role_logical_id: str, role_arn: str, session: str, policies: Iterable[NamedDocument]
    ) -> Principal:
        """The principal of a call AWS makes itself with a role (a scheduler's invocation),
        which signs no request the enforcer would see."""
        return Principal(role_logical_id, role_arn, session, tuple(policies), self.account)

    def principal(self, access_key: str) -> Principal | None:
        found = self._principals.get(access_key)
        return None if found is None else found[0]

    def add_resource_policy(self, resource_arn: str, policy: NamedDocument) -> None:
        """A resource-based policy (a bucket policy) on ``resource_arn`` and what is under it."""
        self._resource_policies.setdefault(resource_arn, []).append(policy)

    def resource_policies(self, resource: str) -> list[NamedDocument]:
        found: list[NamedDocument] = []
        for arn, policies in self._resource_policies.items():
            if resource == arn or resource.startswith(arn + "/"):
                found += policies
        return found

    def decide(self, principal: Principal, operation: str, request: Request) -> Decision:
        decision = evaluate(
            principal.policies,
            request,
            resource_policies=self.resource_policies(request.resource),
            principal_arn=principal.role_arn,
            account=self.account,
        )
        call = Call(principal, operation, request, decision)
        for listener in self.listeners:
            listener(call)
        return decision


class Enforcer:
    """WSGI middleware: requests on a role's credentials are authorised before moto sees them."""

    def __init__(self, app: Any, authority: Authority, lookups: Lookups) -> None:
        self.app = app
        self.authority = authority
        self.mapper = Mapper(authority.account, lookups)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        headers = {
            key[5:].replace("_", "-").lower(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        query = str(environ.get("QUERY_STRING", ""))
        scope = credential_scope(headers, query)
        principal = None if scope is None else self.authority.principal(scope[0])
        if principal is None or scope is None:
            return self.app(environ, start_response)  # type: ignore[no-any-return]
        body = _read_body(environ)
        request = AwsRequest(
            method=str(environ.get("REQUEST_METHOD", "GET")),
            path=str(environ.get("PATH_INFO", "/")),
            query=query,
            headers=headers,
            body=body,
            service=scope[2],
            region=scope[1],
        )
        answer = self.authorise(principal, request)
        if answer is not None:
            start_response(
                f"{answer.status} {_REASONS.get(answer.status, 'Error')}", answer.headers
            )
            return [answer.body]
        return self.app(environ, start_response)  # type: ignore[no-any-return]

    def authorise(self, principal: Principal, request: AwsRequest) -> Answer | None:
        """None when every IAM request of this AWS request is allowed; else the answer."""
        try:
            authorization = self.mapper.authorization(request)
        except (Unmapped, KeyError) as exc:
            log.error(
                "%s: cannot authorise %s %s: %s",
                principal.session,
                request.method,
                request.path,
                exc,
            )
            return cannot_authorize(f"events-api dev cannot authorise this request: {exc}")
        for iam_request in authorization.requests:
            try:
                decision = self.authority.decide(principal, authorization.operation, iam_request)
            except UnsupportedPolicy as exc:
                return cannot_authorize(f"events-api dev cannot evaluate the policy: {exc}")
            if not decision.allowed:
                text = message(principal.arn, iam_request, decision)
                log.warning("AccessDenied: %s", text)
                return access_denied(authorization.service, authorization.protocol, text)
        return None


_REASONS = {400: "Bad Request", 403: "Forbidden", 501: "Not Implemented"}


def _read_body(environ: dict[str, Any]) -> bytes:
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    length = environ.get("CONTENT_LENGTH")
    body: bytes
    if length:
        body = stream.read(int(length))
    elif "chunked" in str(environ.get("HTTP_TRANSFER_ENCODING", "")).lower():
        body = stream.read()
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


class MotoLookups:
    """What the mapping needs from the services' state, read from moto's backends (the
    enforcer runs in the process that serves moto)."""

    def __init__(self, account: str, region: str) -> None:
        self.account, self.region = account, region

    def parameter_key(self, name: str) -> str | None:
        from moto.ssm.models import ssm_backends

        parameters = ssm_backends[self.account][self.region]._parameters
        found = parameters.get(name)
        if not found:
            return None
        latest = found[-1]
        if latest.parameter_type != "SecureString":
            return None
        return str(latest.keyid or "alias/aws/ssm")

    def kms_key_id(self, key: str) -> str | None:
        from moto.kms.models import kms_backends

        backend = kms_backends[self.account][self.region]
        try:
            return str(backend.get_key_id(backend.any_id_to_key_id(key)))
        except Exception:  # an alias of an AWS managed key moto has not made yet, a bad id
            return None

    def query_workgroup(self, execution_id: str) -> str:
        from moto.athena.models import athena_backends

        execution = athena_backends[self.account][self.region].executions.get(execution_id)
        if execution is None or execution.workgroup is None:
            return "primary"
        return str(execution.workgroup.name)

    def shard_iterator_stream(self, iterator: str) -> str:
        from moto.kinesis.utils import decompose_shard_iterator

        return decompose_shard_iterator(iterator)[0]


def named(documents: Mapping[str, Mapping[str, Any]]) -> tuple[NamedDocument, ...]:
    return tuple(NamedDocument(name, document) for name, document in documents.items())
