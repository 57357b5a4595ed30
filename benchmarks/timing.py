"""Side-by-side timing: variants run interleaved, round after round, on the same data.

CPU time of this process (``time.process_time``) is what is compared: on a shared, noisy
machine it is steadier than wall time, and the handlers do no I/O once AWS is stubbed.
Each variant's figure is the median over rounds.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Mapping


def interleaved(
    variants: Mapping[str, Callable[[], object]],
    *,
    rounds: int = 7,
    min_seconds: float = 0.0,
    max_rounds: int = 50,
) -> dict[str, float]:
    """Median CPU seconds per call of each variant, the variants taking turns each round."""
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for run in variants.values():  # warm-up: caches, clients, first-call costs
        run()
    started = time.monotonic()
    done = 0
    while done < rounds or (time.monotonic() - started < min_seconds and done < max_rounds):
        for name, run in variants.items():
            gc.collect()
            begin = time.process_time()
            run()
            samples[name].append(time.process_time() - begin)
        done += 1
    return {name: statistics.median(values) for name, values in samples.items()}
