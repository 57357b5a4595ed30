"""local/iam/policy: IAM's evaluation logic, rule by rule, refusing what IAM refuses."""

from __future__ import annotations

from typing import Any

import pytest

from events_api_cli.local.iam.policy import (
    NamedDocument,
    Outcome,
    Request,
    UnsupportedPolicy,
    evaluate,
    resource_matches,
)

pytestmark = pytest.mark.unit

STREAM = "arn:aws:kinesis:us-east-1:123456789012:stream/dev-EventStream-ABC"
BUCKET = "arn:aws:s3:::dev-eventsbucket-abc"


def policy(*statements: dict[str, Any], name: str = "p") -> NamedDocument:
    return NamedDocument(name, {"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: Any, resource: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def decide(request: Request, *policies: NamedDocument, **kwargs: Any) -> Outcome:
    return evaluate(policies, request, **kwargs).outcome


def test_an_allowed_action_on_its_resource_is_allowed_and_names_the_statement() -> None:
    decision = evaluate(
        [policy(allow("kinesis:PutRecords", STREAM, Sid="Put"))],
        Request("kinesis:PutRecords", STREAM),
    )
    assert decision.outcome is Outcome.ALLOWED
    assert [str(s) for s in decision.statements] == ["p#Put"]


def test_another_action_on_the_same_resource_is_an_implicit_deny() -> None:
    granted = policy(allow("kinesis:PutRecord", STREAM))
    assert decide(Request("kinesis:PutRecords", STREAM), granted) is Outcome.IMPLICIT_DENY


def test_the_action_on_another_resource_is_an_implicit_deny() -> None:
    granted = policy(allow("kinesis:PutRecords", STREAM))
    other = STREAM.replace("dev-", "prod-")
    assert decide(Request("kinesis:PutRecords", other), granted) is Outcome.IMPLICIT_DENY


def test_actions_match_case_insensitively_with_wildcards() -> None:
    granted = policy(allow(["S3:get*", "sqs:?eceiveMessage"], "*"))
    assert decide(Request("s3:GetObject", f"{BUCKET}/k"), granted) is Outcome.ALLOWED
    assert (
        decide(Request("sqs:ReceiveMessage", "arn:aws:sqs:us-east-1:1:q"), granted)
        is Outcome.ALLOWED
    )
    assert decide(Request("s3:PutObject", f"{BUCKET}/k"), granted) is Outcome.IMPLICIT_DENY


def test_resources_match_case_sensitively_and_star_spans_slashes_in_the_resource_part() -> None:
    granted = policy(allow("s3:PutObject", f"{BUCKET}/dataset=*"))
    assert (
        decide(Request("s3:PutObject", f"{BUCKET}/dataset=a/dt=1/hour=2/x"), granted)
        is Outcome.ALLOWED
    )
    assert (
        decide(Request("s3:PutObject", f"{BUCKET}/DATASET=a/x"), granted) is Outcome.IMPLICIT_DENY
    )
    assert (
        decide(Request("s3:PutObject", f"{BUCKET}/compacted/x"), granted) is Outcome.IMPLICIT_DENY
    )


def test_wildcards_match_within_arn_segments_and_question_mark_is_one_character() -> None:
    stream = "arn:aws:kinesis:us-east-1:123456789012:stream/s"
    assert resource_matches("arn:aws:kinesis:us-*-1:*:stream/s", stream)
    assert resource_matches("arn:aws:kinesis:us-east-?:123456789012:stream/?", stream)
    assert not resource_matches("arn:aws:kinesis:us-east-?:123456789012:stream/?", stream + "2")
    assert not resource_matches("arn:aws:kinesis:eu-*:123456789012:stream/s", stream)
    group = "arn:aws:logs:us-east-1:1:log-group:g:log-stream:s"
    assert resource_matches("arn:aws:logs:us-east-1:1:log-group:g:*", group)
    assert not resource_matches("arn:aws:logs:us-east-1:1:log-group:other:*", group)


def test_an_action_that_takes_no_resource_is_granted_by_star_only() -> None:
    scoped = policy(allow("kinesis:ListStreams", "arn:aws:kinesis:us-east-1:123456789012:stream/*"))
    assert decide(Request("kinesis:ListStreams", "*"), scoped) is Outcome.IMPLICIT_DENY
    assert (
        decide(Request("kinesis:ListStreams", "*"), policy(allow("kinesis:*", "*")))
        is Outcome.ALLOWED
    )


def test_an_explicit_deny_wins_over_any_allow() -> None:
    granted = policy(allow("s3:*", "*"))
    denied = policy(
        {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": f"{BUCKET}/*"}, name="d"
    )
    decision = evaluate([granted, denied], Request("s3:DeleteObject", f"{BUCKET}/k"))
    assert decision.outcome is Outcome.EXPLICIT_DENY
    assert [str(s) for s in decision.statements] == ["d#0"]


def test_not_action_and_not_resource_grant_everything_but_what_they_name() -> None:
    everything_but = policy({"Effect": "Allow", "NotAction": "s3:DeleteObject", "Resource": "*"})
    assert decide(Request("s3:PutObject", f"{BUCKET}/k"), everything_but) is Outcome.ALLOWED
    assert (
        decide(Request("s3:DeleteObject", f"{BUCKET}/k"), everything_but) is Outcome.IMPLICIT_DENY
    )
    not_there = policy(
        {"Effect": "Allow", "Action": "s3:PutObject", "NotResource": f"{BUCKET}/compacted/*"}
    )
    assert decide(Request("s3:PutObject", f"{BUCKET}/dataset=a/k"), not_there) is Outcome.ALLOWED
    assert (
        decide(Request("s3:PutObject", f"{BUCKET}/compacted/k"), not_there) is Outcome.IMPLICIT_DENY
    )


def test_a_bucket_policy_denies_one_role_every_key_but_its_own_by_principal_arn() -> None:
    """IAM sets aws:PrincipalArn (a role session's role) on every request: the events
    bucket policy takes back a failure destination's whole-bucket grant with it."""
    role = "arn:aws:iam::123456789012:role/dev-LogForwarderFunctionRole-1"
    granted = policy(allow("s3:PutObject", f"{BUCKET}/*"))
    own = f"{BUCKET}/aws/lambda/async/dev-LogForwarderFunction-1/*"
    bucket = policy(
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "NotResource": own,
            "Condition": {"ArnEquals": {"aws:PrincipalArn": role}},
        },
        name="bucket",
    )

    def put(key: str, principal: str = role) -> Outcome:
        return decide(
            Request("s3:PutObject", f"{BUCKET}/{key}"),
            granted,
            resource_policies=[bucket],
            principal_arn=principal,
            account="123456789012",
        )

    assert put("aws/lambda/async/dev-LogForwarderFunction-1/2026/12/03/x") is Outcome.ALLOWED
    assert put("dataset=logs/x") is Outcome.EXPLICIT_DENY
    assert put("dataset=logs/x", role.replace("Forwarder", "Other")) is Outcome.ALLOWED


def test_list_bucket_with_a_prefix_condition() -> None:
    listing = policy(
        allow(
            "s3:ListBucket",
            BUCKET,
            Condition={"StringLike": {"s3:prefix": ["dataset=*", "aws/lambda/*"]}},
        )
    )
    assert (
        decide(Request("s3:ListBucket", BUCKET, {"s3:prefix": "dataset=a/"}), listing)
        is Outcome.ALLOWED
    )
    assert (
        decide(Request("s3:ListBucket", BUCKET, {"s3:prefix": "quarantine/"}), listing)
        is Outcome.IMPLICIT_DENY
    )
    # No prefix at all: the key is missing, so StringLike does not hold.
    assert decide(Request("s3:ListBucket", BUCKET), listing) is Outcome.IMPLICIT_DENY


def test_if_exists_null_and_negated_operators() -> None:
    if_exists = policy(
        allow("s3:ListBucket", BUCKET, Condition={"StringLikeIfExists": {"s3:prefix": "dataset=*"}})
    )
    assert decide(Request("s3:ListBucket", BUCKET), if_exists) is Outcome.ALLOWED
    no_prefix = policy(allow("s3:ListBucket", BUCKET, Condition={"Null": {"s3:prefix": "true"}}))
    assert decide(Request("s3:ListBucket", BUCKET), no_prefix) is Outcome.ALLOWED
    assert (
        decide(Request("s3:ListBucket", BUCKET, {"s3:prefix": "a"}), no_prefix)
        is Outcome.IMPLICIT_DENY
    )
    not_like = policy(
        allow("s3:ListBucket", BUCKET, Condition={"StringNotLike": {"s3:prefix": "quarantine/*"}})
    )
    assert (
        decide(Request("s3:ListBucket", BUCKET, {"s3:prefix": "quarantine/x"}), not_like)
        is Outcome.IMPLICIT_DENY
    )
    assert (
        decide(Request("s3:ListBucket", BUCKET, {"s3:prefix": "dataset=x"}), not_like)
        is Outcome.ALLOWED
    )


def test_kms_via_service_and_bool_conditions() -> None:
    key = "arn:aws:kms:us-east-1:123456789012:key/1234"
    via_ssm = policy(
        allow(
            "kms:Decrypt",
            key,
            Condition={"StringEquals": {"kms:ViaService": "ssm.us-east-1.amazonaws.com"}},
        )
    )
    assert (
        decide(
            Request("kms:Decrypt", key, {"kms:ViaService": "ssm.us-east-1.amazonaws.com"}), via_ssm
        )
        is Outcome.ALLOWED
    )
    assert decide(Request("kms:Decrypt", key), via_ssm) is Outcome.IMPLICIT_DENY
    deny_plain_http = NamedDocument(
        "bucket-policy",
        {
            "Statement": [
                {
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [BUCKET, f"{BUCKET}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ]
        },
    )
    granted = policy(allow("s3:GetObject", f"{BUCKET}/*"))
    over_tls = Request("s3:GetObject", f"{BUCKET}/k", {"aws:SecureTransport": "true"})
    over_http = Request("s3:GetObject", f"{BUCKET}/k", {"aws:SecureTransport": "false"})
    assert (
        evaluate([granted], over_tls, resource_policies=[deny_plain_http]).outcome
        is Outcome.ALLOWED
    )
    refused = evaluate([granted], over_http, resource_policies=[deny_plain_http])
    assert (refused.outcome, refused.resource_policy) == (Outcome.EXPLICIT_DENY, True)


def test_an_unknown_condition_operator_is_refused_not_guessed() -> None:
    odd = policy(
        allow(
            "s3:GetObject",
            "*",
            Condition={"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}},
        )
    )
    with pytest.raises(UnsupportedPolicy, match="DateGreaterThan"):
        evaluate([odd], Request("s3:GetObject", f"{BUCKET}/k", {"aws:CurrentTime": "x"}))
