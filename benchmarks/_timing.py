"""Timing helpers shared by the benchmark scripts: medians of repeated runs."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable


def median_seconds(fn: Callable[[], object], repeats: int = 30, warmup: int = 3) -> float:
    """Median wall time of ``fn()`` over ``repeats`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def median_per_call(fn: Callable[[], object], calls: int = 2000, repeats: int = 7) -> float:
    """Median over ``repeats`` batches of the mean time of ``calls`` back-to-back calls."""
    for _ in range(100):
        fn()
    batches = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        batches.append((time.perf_counter() - t0) / calls)
    return statistics.median(batches)


def child_env(**overrides: str) -> dict[str, str]:
    """The environment for a measured fresh process: this one's, minus
    ``PYTHONDONTWRITEBYTECODE`` (installed packages have their ``.pyc`` files; without
    them every child recompiles each module it imports inside the timed region), plus
    ``overrides``."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(overrides)
    return env
