"""pytest-benchmark harness: ``benchmarks/lib`` on ``sys.path``, the ``timed_rounds`` fixture
(the checked, garbage-collector-free rounds any setup/run/finish workload is timed with), and
the ring-buffer benchmarks' ``scale`` and ``measure`` fixtures.

The ring workloads live in ``benchmarks/lib/nt_ringbench.py`` (shared with ``compare_ring.py`` and
the asv suite). ``NT_BENCH_SCALE`` picks their size: ``smoke`` (seconds; for CI, with
``--benchmark-disable``), ``default`` or ``full``.
"""

from __future__ import annotations

import functools
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


def run_rounds(benchmark: Any, wl: Any, scale: Any) -> None:
    """Time ``wl.run()`` with ``benchmark.pedantic`` (``scale.reps`` rounds after ``scale.warmup``
    untimed ones; ``wl.setup()`` before and ``wl.finish()`` after each round, untimed), then
    assert that at least one round was checked (``wl.rounds_checked``).

    The garbage collector is off while a round is timed (as with ``--benchmark-disable-gc``, for
    every engine alike): the harnesses keep what a round produces so they can check it, and a
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

    try:
        benchmark.pedantic(wl.run, setup=setup, teardown=teardown, rounds=scale.reps,
                           warmup_rounds=scale.warmup, iterations=1)
    finally:
        gc.enable()
        wl.finish()  # with --benchmark-disable pytest-benchmark calls no teardown
    assert wl.rounds_checked >= 1, "no round was checked"


@pytest.fixture
def timed_rounds(benchmark: Any) -> Callable[[Any, Any], None]:
    """:func:`run_rounds` bound to this test's ``benchmark``: ``timed_rounds(wl, scale)``."""
    return functools.partial(run_rounds, benchmark)


@pytest.fixture
def measure(benchmark: Any, scale: nt_ringbench.Scale) -> Callable[[nt_ringbench.Workload], None]:
    """Time ``wl.run()`` with :func:`run_rounds` (the garbage collector off while a round is
    timed), then assert that every round delivered the right records."""

    def run(wl: nt_ringbench.Workload) -> None:
        benchmark.group = wl.section
        benchmark.extra_info["engine"] = wl.engine
        benchmark.extra_info["records_per_round"] = wl.n
        run_rounds(benchmark, wl, scale)
        stats = getattr(benchmark, "stats", None)
        if stats is not None:
            benchmark.extra_info["Mrecords_per_s_median"] = round(wl.n / stats.stats.median / 1e6, 3)

    return run
