"""pytest-benchmark harness for the ring-buffer benchmarks.

The workloads live in ``benchmarks/lib/nt_ringbench.py`` (shared with ``compare_ring.py`` and the
asv suite). ``NT_BENCH_SCALE`` picks their size: ``smoke`` (seconds; for CI, with
``--benchmark-disable``), ``default`` or ``full``.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Callable
from typing import Any

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))

import nt_ringbench  # noqa: E402


@pytest.fixture(scope="session")
def scale() -> nt_ringbench.Scale:
    return nt_ringbench.get_scale()


@pytest.fixture
def measure(benchmark: Any, scale: nt_ringbench.Scale) -> Callable[[nt_ringbench.Workload], None]:
    """Time ``wl.run()`` with pytest-benchmark (``wl.setup()`` before and ``wl.finish()`` after each
    round, untimed), then assert that every round delivered the right records.

    The garbage collector is off while a round is timed (as with ``--benchmark-disable-gc``, for
    every engine alike): the harness keeps every record it receives so it can check them, and a
    real consumer that drops what it has processed does not trigger collections; this keeps the
    harness's own retention out of the figures. ``NT_BENCH_KEEP_GC=1`` leaves it on.
    """
    keep_gc = os.environ.get("NT_BENCH_KEEP_GC") == "1"

    def setup() -> None:
        wl.setup()
        if not keep_gc:
            gc.collect()
            gc.disable()

    def teardown() -> None:
        gc.enable()
        wl.finish()

    def run(workload: nt_ringbench.Workload) -> None:
        nonlocal wl
        wl = workload
        benchmark.group = wl.section
        benchmark.extra_info["engine"] = wl.engine
        benchmark.extra_info["records_per_round"] = wl.n
        try:
            benchmark.pedantic(wl.run, setup=setup, teardown=teardown, rounds=scale.reps,
                               warmup_rounds=scale.warmup, iterations=1)
        finally:
            gc.enable()
            wl.finish()  # with --benchmark-disable pytest-benchmark calls no teardown
        assert wl.rounds_checked >= 1, "no round was checked"
        stats = getattr(benchmark, "stats", None)
        if stats is not None:
            benchmark.extra_info["Mrecords_per_s_median"] = round(wl.n / stats.stats.median / 1e6, 3)

    wl: nt_ringbench.Workload
    return run
