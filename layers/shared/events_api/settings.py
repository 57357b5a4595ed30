"""Typed settings, one object per function, read from the environment once.

This is the only module that reads the environment. Every variable is documented in the
README's configuration table.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

#: Lambda's synchronous invoke payload limit, and the contract's decompressed body ceiling.
MAX_BODY_BYTES = 6 * 1024 * 1024
#: An event's text, as sent, may be at most this long.
MAX_EVENT_BYTES = 256 * 1024
#: Kinesis records (default streams) and SQS messages are both 1 MiB at most (AWS, 2025).
AWS_MAX_RECORD_BYTES = 1024 * 1024


class SettingsError(ValueError):
    """A variable is missing or malformed: the function cannot start."""


class BufferType(StrEnum):
    KINESIS = "kinesis"
    SQS = "sqs"


def _require(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise SettingsError(f"{name} must be set")
    return value


def _number(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from exc
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high}, got {value}")
    return value


@dataclass(frozen=True, slots=True)
class IngestSettings:
    buffer_type: BufferType
    stream_name: str
    queue_url: str
    api_keys_path: str
    key_cache_ttl_seconds: float = 30.0
    key_cache_max_entries: int = 10_000
    key_lookups_per_minute: float = 24.0
    buffer_budget_seconds: float = 8.0
    max_record_bytes: int = AWS_MAX_RECORD_BYTES
    compression_level: int = 1

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> IngestSettings:
        env = os.environ if env is None else env
        raw_type = env.get("BUFFER_TYPE", "kinesis").strip().lower()
        try:
            buffer_type = BufferType(raw_type)
        except ValueError as exc:
            raise SettingsError(f"BUFFER_TYPE must be kinesis or sqs, got {raw_type!r}") from exc
        stream_name = env.get("STREAM_NAME", "").strip()
        queue_url = env.get("QUEUE_URL", "").strip()
        if buffer_type is BufferType.KINESIS and not stream_name:
            raise SettingsError("STREAM_NAME must be set when BUFFER_TYPE is kinesis")
        if buffer_type is BufferType.SQS and not queue_url:
            raise SettingsError("QUEUE_URL must be set when BUFFER_TYPE is sqs")
        path = _require(env, "API_KEYS_PATH")
        if not (path.startswith("/") and path.endswith("/")):
            raise SettingsError(f"API_KEYS_PATH must start and end with '/', got {path!r}")
        return cls(
            buffer_type=buffer_type,
            stream_name=stream_name,
            queue_url=queue_url,
            api_keys_path=path,
            # Revocation must take effect within 60 s, so the TTL is capped there.
            key_cache_ttl_seconds=_number(env, "KEY_CACHE_TTL_SECONDS", 30.0, 0.0, 60.0),
            key_cache_max_entries=int(_number(env, "KEY_CACHE_MAX_ENTRIES", 10_000, 1, 1_000_000)),
            # Per instance, for new keys and again for refreshes, beside at most 12 key index
            # reads (docs/operations.md has the fleet-wide bound against Parameter Store's
            # throughput).
            key_lookups_per_minute=_number(env, "KEY_LOOKUPS_PER_MINUTE", 24.0, 1, 60_000),
            buffer_budget_seconds=_number(env, "BUFFER_BUDGET_SECONDS", 8.0, 0.1, 25.0),
            max_record_bytes=int(
                _number(
                    env,
                    "MAX_RECORD_BYTES",
                    AWS_MAX_RECORD_BYTES,
                    64 * 1024,
                    10 * AWS_MAX_RECORD_BYTES,
                )
            ),
            compression_level=int(_number(env, "BUFFER_COMPRESSION_LEVEL", 1, -7, 19)),
        )


#: An events object holds at most this much NDJSON text (or one slice of a record, see
#: consumer.SLICE_EVENTS, when that alone is larger).
DEFAULT_OBJECT_MAX_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ConsumerSettings:
    bucket_name: str
    gzip_level: int = 1
    object_max_bytes: int = DEFAULT_OBJECT_MAX_BYTES

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ConsumerSettings:
        env = os.environ if env is None else env
        return cls(
            bucket_name=_require(env, "BUCKET_NAME"),
            gzip_level=int(_number(env, "STORE_GZIP_LEVEL", 1, 0, 3)),
            object_max_bytes=int(
                _number(
                    env,
                    "STORE_OBJECT_MAX_BYTES",
                    DEFAULT_OBJECT_MAX_BYTES,
                    1024 * 1024,
                    DEFAULT_OBJECT_MAX_BYTES * 4,
                )
            ),
        )


@dataclass(frozen=True, slots=True)
class LogForwarderSettings:
    """The CloudWatch Logs forwarder (SQS buffer): the queue and the delivery budget."""

    queue_url: str
    buffer_budget_seconds: float = 8.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LogForwarderSettings:
        env = os.environ if env is None else env
        return cls(
            queue_url=_require(env, "QUEUE_URL"),
            buffer_budget_seconds=_number(env, "BUFFER_BUDGET_SECONDS", 8.0, 0.1, 25.0),
        )


@dataclass(frozen=True, slots=True)
class LogSubscriberSettings:
    """The log group subscriber (LogSubscription LogGroups): what to subscribe, to what."""

    #: Log group names, and prefixes ending in "*".
    selection: tuple[str, ...]
    #: The stack's own log groups: never subscribed (storing logs must not make logs).
    excluded: frozenset[str]
    filter_name: str
    destination_arn: str
    #: The role CloudWatch Logs assumes to put onto a Kinesis stream; None for a function.
    role_arn: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LogSubscriberSettings:
        env = os.environ if env is None else env
        selection = tuple(p.strip() for p in _require(env, "SUBSCRIBED_LOG_GROUPS").split(","))
        if not all(selection):
            raise SettingsError("SUBSCRIBED_LOG_GROUPS has an empty entry")
        excluded = env.get("EXCLUDED_LOG_GROUPS", "")
        return cls(
            selection=selection,
            excluded=frozenset(name.strip() for name in excluded.split(",") if name.strip()),
            filter_name=_require(env, "SUBSCRIPTION_FILTER_NAME"),
            destination_arn=_require(env, "LOG_DESTINATION_ARN"),
            role_arn=env.get("LOG_SUBSCRIPTION_ROLE_ARN", "").strip() or None,
        )


@dataclass(frozen=True, slots=True)
class CompactorSettings:
    bucket_name: str
    workgroup: str
    database: str
    grace_minutes: float = 15.0
    lookback_hours: float = 48.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> CompactorSettings:
        env = os.environ if env is None else env
        return cls(
            bucket_name=_require(env, "BUCKET_NAME"),
            workgroup=_require(env, "ATHENA_WORKGROUP"),
            database=_require(env, "ATHENA_DATABASE"),
            # An hour is closed this long after its end: late batches of a busy consumer
            # land before it, later ones stay readable from NDJSON until the next run.
            grace_minutes=_number(env, "COMPACTION_GRACE_MINUTES", 15.0, 0.0, 24 * 60.0),
            lookback_hours=_number(env, "COMPACTION_LOOKBACK_HOURS", 48.0, 1.0, 24 * 31.0),
        )
