"""Keys under attack: random and mutated keys never get in; malformed keys never reach SSM;
a flood of well-formed unknown keys makes a bounded number of SSM calls.

Short form: 100,000 keys through the authenticator the handler uses (with the real SSM
adapter against moto) and 5,000 of them through the whole handler. Long form: all of them
through the handler. SSM calls are counted with a botocore hook on the shared client.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import orjson
import pytest

from events_api.aws.http_client import Call
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
from events_api.observability import logger
from tests.integration.conftest import KEYS_PATH
from tests.moto_bridge import OnCall
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


class SsmCounter:
    """Counts the key look-ups the function sends SSM."""

    def __init__(self) -> None:
        self.calls = 0
        self._hook = OnCall("ssm", "GetParameter", before_call=self._count).install()

    def _count(self, call: Call) -> None:
        self.calls += 1

    def close(self) -> None:
        self._hook.uninstall()


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
    counter = SsmCounter()
    service = ingest.service()
    keys: KeyAuthenticator = service.keys
    by_kind: Counter[str] = Counter()
    well_formed: Counter[str] = Counter()
    false_accepts: list[tuple[str, str]] = []
    started = time.monotonic()
    try:
        # Controls first (a new key may wait for the look-up bucket once floods drained it).
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
        # Revoked keys (deleted, or marked revokedAt) and well-formed unknown ones: 401 once
        # looked up (an allowance large enough for every one of them to be).
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
    # Only a key that passes the format and checksum may cost an SSM call; mutations do not
    # (a checksum collision is a 1 in 2**32 event, and would still be refused by SSM).
    assert sum(well_formed.values()) <= 1
    assert malformed_calls == sum(well_formed.values())


@pytest.mark.parametrize("stack", ["kinesis"], indirect=True)
def test_malformed_key_flood_makes_no_ssm_call(ingest, stack, key_setup, quiet) -> None:
    count = scaled(10_000, 100_000)
    counter = SsmCounter()
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
def test_unknown_key_flood_makes_a_bounded_number_of_ssm_calls(
    ingest, stack, key_setup, quiet, monkeypatch
) -> None:
    """Well-formed unknown keys cost an SSM call each until the instance's look-up
    allowance (KEY_LOOKUPS_PER_MINUTE, half of it as a burst) runs dry; past it they are
    answered 429 with Retry-After, never 401 (one of them may be a new, valid key).
    Producers whose key is cached keep working throughout."""
    count = scaled(5_000, 50_000)
    valid = key_setup["valid"]
    assert invoke(ingest, valid[0]) == 202  # cached, known good
    counter = SsmCounter()
    started = time.monotonic()
    try:
        statuses = Counter(invoke(ingest, generate_key()) for _ in range(count))
        seconds = time.monotonic() - started
        flood_calls = counter.calls
        cached_valid = invoke(ingest, valid[0])
    finally:
        counter.close()
    per_minute = ingest.service().settings.key_lookups_per_minute
    # The bucket holds half the minute's allowance and refills the rest over the minute.
    bound = per_minute / 2 + per_minute / 2 * seconds / 60
    record(
        "keys-unknown-flood",
        {
            "unknown_keys": count,
            "seconds": round(seconds, 2),
            "keys_per_second": round(count / seconds),
            "ssm_calls": flood_calls,
            "ssm_call_bound": round(bound, 1),
            "lookups_per_minute_setting": per_minute,
            "statuses": {str(k): v for k, v in statuses.items()},
            "cached_valid_key_status": cached_valid,
        },
    )
    assert set(statuses) == {401, 429}
    assert statuses[401] == flood_calls  # refused only once looked up and absent
    assert flood_calls <= bound
    assert cached_valid == 202


@pytest.mark.parametrize("stack", ["kinesis"], indirect=True)
def test_expired_good_key_is_refreshed_during_a_flood(ingest, stack, key_setup, quiet) -> None:
    """A good key whose cache entry expired is looked up again with the new-key allowance
    spent: refreshes have their own."""
    clock = [1000.0]
    service = ingest.service()
    service.keys = KeyAuthenticator(
        SsmKeyStore(KEYS_PATH),
        ttl_seconds=30,
        max_entries=10_000,
        lookups_per_minute=30,
        clock=lambda: clock[0],
    )
    good = key_setup["valid"][1]
    assert invoke(ingest, good) == 202
    for _ in range(100):  # spends the new-key allowance (the clock stands still)
        invoke(ingest, generate_key())
    clock[0] += 31  # the good key's entry expired
    for _ in range(1000):
        invoke(ingest, generate_key())
    counter = SsmCounter()
    try:
        assert invoke(ingest, good) == 202
        assert counter.calls == 1
    finally:
        counter.close()


@pytest.mark.parametrize("stack", ["kinesis"], indirect=True)
def test_fresh_valid_key_after_a_flood_on_a_cold_instance_is_never_401(
    ingest, stack, key_setup, quiet
) -> None:
    """Tried as a new user would: a key created a moment ago, first used right after a
    flood of well-formed unknown keys, gets 429 with Retry-After and is served once the
    producer comes back after that many seconds."""
    clock = [1000.0]
    ingest.service().keys = KeyAuthenticator(
        SsmKeyStore(KEYS_PATH),
        ttl_seconds=30,
        max_entries=10_000,
        lookups_per_minute=30,
        clock=lambda: clock[0],
    )
    flood = Counter(invoke(ingest, generate_key()) for _ in range(scaled(80, 10_000)))
    assert flood == {401: 15, 429: sum(flood.values()) - 15}
    new = generate_key()
    SsmKeyStore(KEYS_PATH).create(new, "new", "created a moment ago")
    event = http_event(b'[{"a":1}]', headers={"x-api-key": new})
    statuses = []
    for _ in range(10):  # the producer client's retries, honouring Retry-After
        answer = ingest.lambda_handler(event, FakeLambdaContext())
        statuses.append(answer["statusCode"])
        if answer["statusCode"] != 429:
            break
        clock[0] += int(answer["headers"]["retry-after"])
    record(
        "keys-fresh-after-flood",
        {"flood": {str(k): v for k, v in flood.items()}, "new_key_statuses": statuses},
    )
    assert statuses == [429, 202]
