"""Side-by-side timing: variants run interleaved, round after round, on the same data.

CPU time of this process (``time.process_time``) is what is compared: on a shared, noisy
machine it is steadier than wall time, and the handlers do no I/O once AWS is stubbed.
Each variant's headline figure is its median over rounds; the best round is kept too, as
other processes on the machine can only ever add time.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Timings:
    median: dict[str, float]
    best: dict[str, float]
    rounds: int


def interleaved(variants: Mapping[str, Callable[[], object]], *, rounds: int = 7) -> Timings:
    """CPU seconds per call of each variant, the variants taking turns each round."""
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for run in variants.values():  # warm-up: caches, clients, first-call costs
        run()
    for _ in range(rounds):
        for name, run in variants.items():
            gc.collect()
            begin = time.process_time()
            run()
            samples[name].append(time.process_time() - begin)
    return Timings(
        median={name: statistics.median(values) for name, values in samples.items()},
        best={name: min(values) for name, values in samples.items()},
        rounds=rounds,
    )
