"""The S3 adapter for stored objects: each write retried with backoff before it fails.

A write that still fails after its attempts fails its records (the event source delivers
them again). Once one write has failed that way, S3 is taken to be failing: later writes
get a single attempt each until one succeeds, so an outage costs an invocation one
object's retries, not every object's, and stays well inside the function's timeout.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from botocore.exceptions import BotoCoreError, ClientError

from ..aws import clients as aws_clients
from ..retry import backoff_delay

WRITE_ATTEMPTS = 4
_BASE_DELAY = 0.1
_MAX_DELAY = 1.0


class S3ObjectWriter:
    def __init__(
        self,
        bucket: str,
        *,
        attempts: int = WRITE_ATTEMPTS,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self.bucket = bucket
        self._attempts = attempts
        self._sleep, self._jitter = sleep, jitter
        self._failing = False

    def put(self, key: str, body: bytes, content_type: str) -> None:
        attempts = 1 if self._failing else self._attempts
        for attempt in range(1, attempts + 1):
            try:
                aws_clients.s3().put_object(
                    Bucket=self.bucket, Key=key, Body=body, ContentType=content_type
                )
            except (ClientError, BotoCoreError):
                if attempt == attempts:
                    self._failing = True
                    raise
                self._sleep(
                    backoff_delay(attempt, base=_BASE_DELAY, cap=_MAX_DELAY, jitter=self._jitter)
                )
            else:
                self._failing = False
                return
