"""Exponential backoff with full jitter: the one delay rule of the functions' retry loops."""

from __future__ import annotations

import random
from collections.abc import Callable


def backoff_delay(
    attempt: int,
    *,
    base: float,
    cap: float,
    jitter: Callable[[float, float], float] = random.uniform,
) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1, 2, ...)."""
    return jitter(0.0, min(cap, base * 2**attempt))
