"""Settings are read once from the environment and validated with clear messages."""

from __future__ import annotations

import logging

import pytest

from events_api.settings import (
    AWS_MAX_RECORD_BYTES,
    BufferType,
    ConsumerSettings,
    IngestSettings,
    SettingsError,
)

pytestmark = pytest.mark.unit

BASE = {"BUFFER_TYPE": "kinesis", "STREAM_NAME": "s", "API_KEYS_PATH": "/events-api/keys/"}


def test_ingest_settings_defaults_target_aws_limits() -> None:
    settings = IngestSettings.from_env(BASE)
    assert settings.buffer_type is BufferType.KINESIS
    assert settings.max_record_bytes == AWS_MAX_RECORD_BYTES
    assert settings.key_cache_ttl_seconds <= 60


def test_sqs_buffer_needs_a_queue_url() -> None:
    with pytest.raises(SettingsError, match="QUEUE_URL"):
        IngestSettings.from_env({**BASE, "BUFFER_TYPE": "sqs"})
    settings = IngestSettings.from_env({**BASE, "BUFFER_TYPE": "SQS", "QUEUE_URL": "http://q"})
    assert settings.buffer_type is BufferType.SQS


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"BUFFER_TYPE": "firehose"}, "BUFFER_TYPE"),
        ({"STREAM_NAME": ""}, "STREAM_NAME"),
        ({"API_KEYS_PATH": "keys"}, "API_KEYS_PATH"),
        ({"API_KEYS_PATH": ""}, "API_KEYS_PATH"),
        ({"KEY_CACHE_TTL_SECONDS": "120"}, "KEY_CACHE_TTL_SECONDS"),
        ({"BUFFER_BUDGET_SECONDS": "abc"}, "BUFFER_BUDGET_SECONDS"),
    ],
)
def test_invalid_ingest_settings_are_refused_with_the_variable_named(changes, message) -> None:
    with pytest.raises(SettingsError, match=message):
        IngestSettings.from_env({**BASE, **changes})


def test_consumer_needs_a_bucket() -> None:
    with pytest.raises(SettingsError, match="BUCKET_NAME"):
        ConsumerSettings.from_env({})
    assert ConsumerSettings.from_env({"BUCKET_NAME": "b"}).bucket_name == "b"


def test_consumer_object_size_cap_defaults_to_64_mib_and_is_bounded() -> None:
    assert ConsumerSettings.from_env({"BUCKET_NAME": "b"}).object_max_bytes == 64 * 1024 * 1024
    env = {"BUCKET_NAME": "b", "STORE_OBJECT_MAX_BYTES": "1048576"}
    assert ConsumerSettings.from_env(env).object_max_bytes == 1024 * 1024
    for value in ("1000", str(512 * 1024 * 1024), "big"):
        with pytest.raises(SettingsError, match="STORE_OBJECT_MAX_BYTES"):
            ConsumerSettings.from_env({"BUCKET_NAME": "b", "STORE_OBJECT_MAX_BYTES": value})


@pytest.mark.parametrize(
    ("powertools", "lambda_level", "expected"),
    [
        (None, None, "INFO"),
        ("ERROR", "INFO", "ERROR"),  # LogLevel ERROR with the template's INFO
        ("WARNING", "INFO", "WARNING"),
        ("DEBUG", "DEBUG", "DEBUG"),
        ("debug", None, "DEBUG"),
        ("DEBUG", "INFO", "INFO"),  # Lambda would drop DEBUG lines anyway
        (None, "WARN", "WARNING"),
        ("INFO", "FATAL", "CRITICAL"),
    ],
)
def test_functions_log_at_loglevel_never_below_lambdas_application_level(
    powertools: str | None, lambda_level: str | None, expected: str
) -> None:
    from events_api.observability import log_level

    environ = {
        name: value
        for name, value in (
            ("POWERTOOLS_LOG_LEVEL", powertools),
            ("AWS_LAMBDA_LOG_LEVEL", lambda_level),
        )
        if value is not None
    }
    assert logging.getLevelName(log_level(environ)) == expected
