"""Order book (``nt.OrderBook``) vs a sortedcontainers book and nautilus_trader, side by side
(pytest-benchmark groups).

Run: ``NT_BENCH_SCALE=default python -m pytest benchmarks/pytest/test_book_bench.py`` (see
benchmarks/README.md); CI: ``NT_BENCH_SCALE=smoke python -m pytest benchmarks/pytest
--benchmark-disable -q``.

The workloads live in ``benchmarks/lib/book_mix.py`` and the peers in ``benchmarks/lib/book_peers.py``
(shared with ``compare_book.py`` and the asv suite). Each benchmark group is one case (a stream, a
kind of submit, a position in a deep level), so nt and its peers sit side by side. Every round is
checked outside the timer (nt's fills and final book equal the reference exactly; every peer's
final book too); a wrong result fails the test whether or not timing is enabled. Cases that cannot
run here (nautilus_trader not installed, ``nt.OrderBook`` not built yet) are skipped at collection
with the reason.

Time per message / call = time per round / ``extra_info["n"]``; ``extra_info["ns_per_unit_median"]``
holds the median (for the per-call groups: the median per-call time of the timed chunks of calls,
the figure ``compare_book.py`` reports). The default-scale replay streams take about a minute to
generate, once per session.
"""

from __future__ import annotations

import gc
import os
import statistics
from collections.abc import Callable
from typing import Any

import pytest

import book_mix as bm  # on sys.path through conftest.py (benchmarks/lib)

SCALE = bm.get_scale()  # NT_BENCH_SCALE, read at collection


@pytest.fixture(scope="session")
def book_scale() -> bm.Scale:
    return SCALE


@pytest.fixture
def book_measure(benchmark: Any, book_scale: bm.Scale) -> Callable[[bm.Workload], None]:
    """Time ``wl.run()`` with pytest-benchmark (``wl.setup()`` before and ``wl.finish()`` after
    each round, untimed; the garbage collector off while a round is timed, for every engine
    alike; ``NT_BENCH_KEEP_GC=1`` leaves it on), then assert that every round was checked."""
    keep_gc = os.environ.get("NT_BENCH_KEEP_GC") == "1"
    wl: bm.Workload
    chunks: list[float] = []

    def setup() -> None:
        chunks.extend(wl.samples_ns)  # the previous round's (setup() starts a new list)
        wl.setup()
        if not keep_gc:
            gc.collect()
            gc.disable()

    def teardown() -> None:
        gc.enable()
        wl.finish()

    def run(workload: bm.Workload) -> None:
        nonlocal wl
        wl = workload
        benchmark.group = f"book {wl.section}: {wl.case}"
        benchmark.extra_info.update(engine=wl.engine, ours=wl.ours, n=wl.n, unit=wl.unit)
        try:
            benchmark.pedantic(wl.run, setup=setup, teardown=teardown, rounds=book_scale.reps,
                               warmup_rounds=book_scale.warmup, iterations=1)
        finally:
            gc.enable()
            chunks.extend(wl.samples_ns)
            wl.finish()  # with --benchmark-disable pytest-benchmark calls no teardown
        assert wl.rounds_checked >= 1, "no round was checked"
        if chunks:
            benchmark.extra_info["ns_per_unit_median"] = round(statistics.median(chunks), 1)
        else:
            stats = getattr(benchmark, "stats", None)
            if stats is not None:
                benchmark.extra_info["ns_per_unit_median"] = round(stats.stats.median / wl.n * 1e9, 2)

    return run


def _params(workloads: list[bm.Workload]) -> list[Any]:
    """One pytest.param per workload, skipped at collection when the case cannot run here."""
    out = []
    for wl in workloads:
        why = wl.available()
        marks = [pytest.mark.skip(reason=why)] if why else []
        out.append(pytest.param(wl, id=f"{wl.case}-{wl.kind}", marks=marks))
    return out


# (1) batch replay: process() vs one Python call per message vs nautilus' L3 book ------------------

_REPLAY = [bm.Replay(SCALE, case, e) for case in bm.STREAM_CASES
           for e in ("nt", "sorted", "nautilus", "nautilus+create", "nt-chunks", "nt-loop")]


@pytest.mark.parametrize("wl", _params(_REPLAY))
def test_book_replay(book_measure, wl):
    book_measure(wl)


# (2) one submit from Python, with its report ----------------------------------------------------

_SUBMIT = [bm.Submit(SCALE, case, e) for case in ("passive", "marketable")
           for e in ("nt", "sorted", "nt-str")]


@pytest.mark.parametrize("wl", _params(_SUBMIT))
def test_book_submit(book_measure, wl):
    book_measure(wl)


# (3) cancel the first / middle / last orders of deep levels --------------------------------------

_CANCEL = [bm.CancelLevel(SCALE, case, e) for case in ("first", "middle", "last")
           for e in ("nt", "nt-call", "sorted", "nautilus")]


@pytest.mark.parametrize("wl", _params(_CANCEL))
def test_book_cancel_deep_level(book_measure, wl):
    book_measure(wl)
