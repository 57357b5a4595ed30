"""Keys under attack: random and mutated keys never get in; malformed keys never reach SSM;
a flood of well-formed unknown keys costs no call per key (401 from the key index) and
delays no valid key, new or known, on a warm or a cold instance; SSM calls per instance per
minute in steady state.

Short form: 100,000 keys through the authenticator the handler uses (with the real SSM
adapter against moto) and 5,000 of them through the whole handler, and a flood of 5,000
unknown keys. Long form: all of them through the handler, and a flood of 50,000. SSM calls
are counted with a hook on the functions' SSM client.
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import orjson
import pytest

from events_api.aws import http_client as aws_http
from events_api.aws.http_client import Call
from events_api.ingest.key_index import REFRESH_SECONDS
from events_api.ingest.key_store import SsmKeyStore
from events_api.ingest.keys import (
    BASE62,
    PREFIX,
    KeyAuthenticator,
    KeyLookupThrottled,
    generate_key,
    is_well_formed,
    key_hash,
)
from events_api.ingest.service import build_key_authenticator
from events_api.observability import logger
from tests.integration.conftest import KEYS_PATH
from tests.reliability.support import SCALE, record, scaled
from tests.support import SAMPLE_KEY, FakeLambdaContext, http_event

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

PRINTABLE = "".join(chr(c) for c in range(0x20, 0x7F))
LOOKALIKES = {"e": "\u0435", "o": "\u043e", "a": "\u0430", "k": "\u043a", "0": "O", "l": "1"}


def bit_flip(rng: random.Random, key: str) -> str:
    at = rng.randrange(len(key))
    return key[:at] + chr(ord(key[at]) ^ (1 << rng.randrange(7))) + key[at + 1 :]


def substitute(rng: random.Random, key: str) -> str:
    at = rng.randrange(len(PREFIX), len(key))
    other = rng.choice(BASE62.replace(key[at], ""))
    return key[:at] + other + key[at + 1 :]


def swap_case(rng: random.Random, key: str) -> str:
    letters = [n for n, c in enumerate(key) if c.isalpha() and n >= len(PREFIX)]
    at = rng.choice(letters)
    return key[:at] + key[at].swapcase() + key[at + 1 :]


def transpose(rng: random.Random, key: str) -> str:
    choices = [n for n in range(len(PREFIX), len(key) - 1) if key[n] != key[n + 1]]
    at = rng.choice(choices)
    return key[:at] + key[at + 1] + key[at] + key[at + 2 :]


def lookalike(rng: random.Random, key: str) -> str:
    spots = [n for n, c in enumerate(key) if c in LOOKALIKES]
    at = rng.choice(spots) if spots else 0
    return key[:at] + LOOKALIKES.get(key[at], "\u200b") + key[at + 1 :]


MUTATIONS: dict[str, Callable[[random.Random, str], str]] = {
    "bit-flip": bit_flip,
    "substitution": substitute,
    "case-change": swap_case,
    "transposition": transpose,
    "lookalike": lookalike,
    "truncation": lambda rng, key: key[: rng.randrange(len(key))],
    "extension": lambda rng, key: key + "".join(rng.choices(BASE62, k=rng.randint(1, 4))),
    "all-upper": lambda rng, key: key.upper(),
    "all-lower": lambda rng, key: key.lower(),
    "wrong-prefix": lambda rng, key: (
        rng.choice(["evk-", "EVK_", "evx_", "ghp_", "evk", "evk__", "_evk", "Evk_"]) + key[4:]
    ),
    "no-prefix": lambda rng, key: key[len(PREFIX) :],
    "inner-space": lambda rng, key: key[:20] + rng.choice([" ", "\t", "%20", "+"]) + key[20:],
    "random-printable": lambda rng, key: "".join(
        rng.choices(PRINTABLE, k=rng.choice([0, 1, 10, 41, 42, 43, 64, 200]))
    ),
    "random-shaped": lambda rng, key: PREFIX + "".join(rng.choices(BASE62, k=38)),
    "random-bytes-as-text": lambda rng, key: rng.randbytes(42).decode("latin-1"),
}


def hostile_keys(valid: list[str], count: int, seed: int = 7) -> Iterator[tuple[str, str]]:
    """(kind, key): ``count`` mutated or random keys, none of them valid."""
    rng = random.Random(seed)
    kinds = list(MUTATIONS)
    valid_set = set(valid)
    made = 0
    while made < count:
        kind = kinds[made % len(kinds)]
        key = MUTATIONS[kind](rng, rng.choice(valid))
        if key.strip() in valid_set:  # a no-op mutation (e.g. all-lower of a lower key)
            continue
        made += 1
        yield kind, key


@pytest.fixture
def key_setup(stack: Any) -> dict[str, list[str]]:
    store = SsmKeyStore(KEYS_PATH)
    valid = [SAMPLE_KEY] + [generate_key() for _ in range(9)]
    for n, key in enumerate(valid[1:]):
        store.create(key, f"k{n}", f"valid {n}")
    deleted = [generate_key() for _ in range(5)]
    marked = [generate_key() for _ in range(5)]
    ssm = boto3.client("ssm")
    for n, key in enumerate(deleted):
        store.create(key, f"d{n}", "revoked by deletion")
        ssm.delete_parameter(Name=KEYS_PATH + key_hash(key))
    for n, key in enumerate(marked):
        doc = {"id": f"m{n}", "name": "marked", "createdAt": "2026-01-01T00:00:00Z"}
        doc["revokedAt"] = "2026-02-01T00:00:00Z"
        ssm.put_parameter(
            Name=KEYS_PATH + key_hash(key), Value=orjson.dumps(doc).decode(), Type="SecureString"
        )
    return {"valid": valid, "revoked": deleted + marked}


class AwsCalls:
    """Counts every call the functions make to SSM and the buffers, by operation."""

    SERVICES = ("ssm", "kinesis", "sqs")

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        for service in self.SERVICES:
            aws_http.client(service).add_hook(self)

    def before(self, call: Call) -> dict[str, Any] | None:
        self.counts[f"{call.service}:{call.operation}"] += 1
        return None

    def after(self, call: Call, answer: dict[str, Any]) -> None:
        return None

    @property
    def calls(self) -> int:
        return sum(self.counts.values())

    @property
    def ssm(self) -> int:
        return sum(n for op, n in self.counts.items() if op.startswith("ssm:"))

    def close(self) -> None:
        for service in self.SERVICES:
            aws_http.client(service).remove_hook(self)


@pytest.fixture
def quiet(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No per-request log line or metrics document: 100,000 requests would print 200,000."""
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    level = logger.log_level
    logger.setLevel("WARNING")
    yield
    logger.setLevel(level)


def invoke(ingest: Any, key: str) -> int:
    event = http_event(b'[{"a":1}]', headers={"x-api-key": key})
    return int(ingest.lambda_handler(event, FakeLambdaContext())["statusCode"])


@pytest.mark.parametrize("stack", ["kinesis"], indirect=True)
def test_no_mutated_or_random_key_gets_in(ingest, stack, key_setup, quiet) -> None:
    valid = key_setup["valid"]
    total = scaled(100_000, 200_000)
    through_handler = total if SCALE == "long" else 5_000
    counter = AwsCalls()
    service = ingest.service()
    keys: KeyAuthenticator = service.keys
    by_kind: Counter[str] = Counter()
    well_formed: Counter[str] = Counter()
    false_accepts: list[tuple[str, str]] = []
    started = time.monotonic()
    try:
        # Controls first: the instance reads the key index and looks each one up.
        valid_statuses = Counter(invoke(ingest, key) for key in valid)
        controls_calls = counter.calls
        for n, (kind, key) in enumerate(hostile_keys(valid, total)):
            by_kind[kind] += 1
            if is_well_formed(key):
                well_formed[kind] += 1
            if n < through_handler:
                status = invoke(ingest, key)
                if status not in (401, 429):
                    false_accepts.append((kind, key))
            else:
                try:
                    if keys.authenticate(key) is not None:
                        false_accepts.append((kind, key))
                except KeyLookupThrottled:
                    pass
        malformed_calls = counter.calls - controls_calls
        # Revoked keys (deleted by hand, so still in the index: looked up and absent; or
        # marked revokedAt by hand, so not in the index) and well-formed unknown ones (not in
        # the index): 401, with an allowance large enough for every look-up.
        service.keys = KeyAuthenticator(
            SsmKeyStore(KEYS_PATH), ttl_seconds=30, max_entries=10_000, lookups_per_minute=1e4
        )
        revoked_statuses = Counter(invoke(ingest, key) for key in key_setup["revoked"])
        unknown_statuses = Counter(invoke(ingest, generate_key()) for _ in range(200))
    finally:
        counter.close()
    seconds = time.monotonic() - started
    figures = {
        "keys": total,
        "through_handler": through_handler,
        "through_authenticator": total - through_handler,
        "by_kind": dict(by_kind),
        "well_formed_by_kind": dict(well_formed),
        "false_accepts": len(false_accepts),
        "false_accept_examples": false_accepts[:5],
        "ssm_calls_for_hostile_keys": malformed_calls,
        "revoked_statuses": {str(k): v for k, v in revoked_statuses.items()},
        "unknown_statuses": {str(k): v for k, v in unknown_statuses.items()},
        "valid_statuses": {str(k): v for k, v in valid_statuses.items()},
        "seconds": round(seconds, 1),
    }
    record("keys-hostile", figures)
    assert false_accepts == []
    assert revoked_statuses == {401: len(key_setup["revoked"])}
    assert unknown_statuses == {401: 200}
    assert valid_statuses == {202: len(valid)}
    # Only a key that passes the format and checksum may cost an SSM call (a read of the
    # key index at most: it is not in it); mutations do not (a checksum collision is a 1 in
    # 2**32 event).
    assert sum(well_formed.values()) <= 1
    assert malformed_calls <= sum(well_formed.values())


@pytest.mark.parametrize("stack", ["kinesis"], indirect=True)
def test_malformed_key_flood_makes_no_ssm_call(ingest, stack, key_setup, quiet) -> None:
    count = scaled(10_000, 100_000)
    counter = AwsCalls()
    malformed = [k for _, k in hostile_keys(key_setup["valid"], count, seed=11)]
    malformed = [k for k in malformed if not is_well_formed(k)]
    try:
        statuses = Counter(invoke(ingest, key) for key in malformed)
    finally:
        counter.close()
    record(
        "keys-malformed-flood",
        {
            "malformed_keys": len(malformed),
            "ssm_calls": counter.calls,
            "ssm_calls_per_key": counter.calls / len(malformed),
            "statuses": {str(k): v for k, v in statuses.items()},
        },
    )
    assert statuses == {401: len(malformed)}
    assert counter.calls == 0


@pytest.mark.parametrize("stack", ["kinesis"], indirect=True)
def test_unknown_key_flood_costs_no_call_per_key_and_no_valid_key_waits(
    ingest, stack, key_setup, quiet
) -> None:
    """Well-formed unknown keys are answered 401 from the key index in memory: the flood's
    only AWS calls are reads of the index, at most one per REFRESH_SECONDS whatever the
    rate, and no key is looked up. A key seen before is served throughout, and a key
    created during the flood (and handed out REFRESH_SECONDS later, as `events-api keys
    create` does) is accepted on its first request."""
    count = scaled(5_000, 50_000)
    valid = key_setup["valid"]
    assert invoke(ingest, valid[0]) == 202  # cached, known good
    counter = AwsCalls()
    new = generate_key()
    created_at = math.inf
    statuses: Counter[int] = Counter()
    sent = 0
    started = time.monotonic()
    try:
        # At least `count` keys, and on for REFRESH_SECONDS after the new key was created
        # half-way through (when `events-api keys create` would print it).
        while sent < count or time.monotonic() - created_at < REFRESH_SECONDS:
            statuses[invoke(ingest, generate_key())] += 1
            sent += 1
            if sent == count // 2:
                SsmKeyStore(KEYS_PATH).create(new, "new", "created during the flood")
                created_at = time.monotonic()
        seconds = time.monotonic() - started
        flood_counts = dict(counter.counts)
        new_key_first = invoke(ingest, new)
        cached_valid = invoke(ingest, valid[0])
    finally:
        counter.close()
    # At most one index read per interval (the instance read it just before the flood).
    bound = seconds / REFRESH_SECONDS
    record(
        "keys-unknown-flood",
        {
            "unknown_keys": sent,
            "seconds": round(seconds, 2),
            "keys_per_second": round(sent / seconds),
            "aws_calls": sum(flood_counts.values()),
            "aws_calls_by_operation": flood_counts,
            "aws_call_bound": round(bound, 1),
            "statuses": {str(k): v for k, v in statuses.items()},
            "new_key_first_status": new_key_first,
            "cached_valid_key_status": cached_valid,
        },
    )
    assert statuses == {401: sent}
    assert set(flood_counts) <= {"ssm:GetParameters"}  # the index; no look-up, no buffer call
    assert sum(flood_counts.values()) <= bound
    assert new_key_first == 202
    assert cached_valid == 202


def flood_then(
    ingest: Any, clock: list[float], keys: int, seconds: float, then: str | None = None
) -> tuple[Counter[int], int | None]:
    """``keys`` unknown keys spread over ``seconds`` of the fake clock, then one request
    with ``then``: the flood's answers and that request's."""
    statuses: Counter[int] = Counter()
    for _ in range(keys):
        clock[0] += seconds / keys
        statuses[invoke(ingest, generate_key())] += 1
    return statuses, invoke(ingest, then) if then else None


@pytest.mark.parametrize("stack", ["kinesis"], indirect=True)
def test_a_brand_new_key_is_accepted_first_time_on_a_cold_and_a_warm_instance_in_a_flood(
    ingest, stack, key_setup, quiet
) -> None:
    """Tried as a new user would, with the instance's clock in the test's hands: a key
    created while a flood runs, first used REFRESH_SECONDS later (when `events-api keys
    create` prints it), on an instance that started during the flood after the key was
    created (cold), and on one that was flooded before the key existed (warm)."""
    clock = [1000.0]
    service = ingest.service()
    service.keys = build_key_authenticator(service.settings, clock=lambda: clock[0])
    warm_flood, _ = flood_then(ingest, clock, scaled(1_000, 10_000), 60)
    new = generate_key()
    SsmKeyStore(KEYS_PATH).create(new, "new", "created a moment ago")
    clock[0] += REFRESH_SECONDS
    counter = AwsCalls()
    try:
        warm_flood2, warm_first = flood_then(ingest, clock, 100, 1, then=new)
        warm_calls = dict(counter.counts)
        service.keys = build_key_authenticator(service.settings, clock=lambda: clock[0])  # cold
        counter.counts.clear()
        cold_flood, cold_first = flood_then(ingest, clock, scaled(1_000, 10_000), 10, then=new)
        cold_calls = dict(counter.counts)
    finally:
        counter.close()
    record(
        "keys-fresh-after-flood",
        {
            "flood": {str(k): v for k, v in (warm_flood + warm_flood2 + cold_flood).items()},
            "warm_first_status": warm_first,
            "warm_calls": warm_calls,
            "cold_first_status": cold_first,
            "cold_calls": cold_calls,
        },
    )
    assert (warm_first, cold_first) == (202, 202)
    assert set(warm_flood + warm_flood2 + cold_flood) == {401}
    # The warm instance read the index again (its copy predates the key), then looked the
    # key up; the cold one read it on its first unknown key, and again as the flood went on.
    assert warm_calls == {"ssm:GetParameters": 1, "ssm:GetParameter": 1, "kinesis:PutRecords": 1}
    assert cold_calls["ssm:GetParameter"] == 1
    assert cold_calls["ssm:GetParameters"] <= 1 + 10 / REFRESH_SECONDS


@pytest.mark.parametrize("stack", ["kinesis"], indirect=True)
def test_ssm_calls_per_instance_per_minute_in_steady_state(ingest, stack, key_setup, quiet) -> None:
    """Simulated minutes of five keys in use (two requests a second between them), then as
    many with a flood of unknown keys on top (twenty a second): one look-up per key per
    cache period and no index read once every key is known; the flood adds index reads
    only, at most 60 / REFRESH_SECONDS a minute."""
    clock = [1000.0]
    service = ingest.service()
    service.keys = build_key_authenticator(service.settings, clock=lambda: clock[0])
    in_use = key_setup["valid"][:5]
    minutes = scaled(3, 10)
    ttl = service.settings.key_cache_ttl_seconds
    counter = AwsCalls()
    per_minute: dict[str, list[int]] = {"steady": [], "flood": []}
    try:
        for phase in ("steady", "flood"):
            for _ in range(minutes):
                before = counter.ssm
                for step in range(120):
                    clock[0] += 0.5
                    assert invoke(ingest, in_use[step % len(in_use)]) == 202
                    if phase == "flood":
                        for _ in range(10):
                            assert invoke(ingest, generate_key()) == 401
                per_minute[phase].append(counter.ssm - before)
    finally:
        counter.close()
    steady = per_minute["steady"][1:]  # the first minute includes the first look-ups
    record(
        "keys-steady-state",
        {
            "keys_in_use": len(in_use),
            "requests_per_second": 2,
            "flood_keys_per_second": 20,
            "minutes": minutes,
            "cache_ttl_seconds": ttl,
            "ssm_calls_per_minute_steady": max(steady),
            "ssm_calls_per_minute_with_flood": max(per_minute["flood"]),
            "ssm_calls_per_minute": per_minute,
        },
    )
    assert max(steady) <= len(in_use) * 60 / ttl + 1
    assert max(per_minute["flood"]) <= len(in_use) * 60 / ttl + 1 + 60 / REFRESH_SECONDS + 1


@pytest.mark.parametrize("stack", ["kinesis"], indirect=True)
def test_expired_good_key_is_refreshed_during_a_flood(ingest, stack, key_setup, quiet) -> None:
    """A good key whose cache entry expired during a flood is looked up again at once: the
    flood spends nothing it needs."""
    clock = [1000.0]
    service = ingest.service()
    service.keys = build_key_authenticator(service.settings, clock=lambda: clock[0])
    good = key_setup["valid"][1]
    assert invoke(ingest, good) == 202
    flood_then(ingest, clock, 1000, 31)  # the good key's entry expired meanwhile
    counter = AwsCalls()
    try:
        assert invoke(ingest, good) == 202
    finally:
        counter.close()
    assert counter.counts == {"ssm:GetParameter": 1, "kinesis:PutRecords": 1}
