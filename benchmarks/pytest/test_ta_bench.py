"""Indicators (``nt.ta``) vs TA-Lib, polars and talipp, side by side (pytest-benchmark groups).

Run: ``NT_BENCH_SCALE=default python -m pytest benchmarks/pytest/test_ta_bench.py`` (see
benchmarks/README.md); CI: ``NT_BENCH_SCALE=smoke python -m pytest benchmarks/pytest
--benchmark-disable -q``.

The workloads live in ``benchmarks/lib/nt_tabench.py`` (shared with ``compare_ta.py`` and the asv
suite). Each benchmark group is one case (an indicator, the features call, a streaming loop), so
nt and its peers sit side by side. Every round's result is checked against a reference computed
outside the timer (nt vs TA-Lib within 1e-9 rel + 1e-9 abs, streaming vs batch); a wrong result
fails the test whether or not timing is enabled. Cases that cannot run here (a peer not
installed, an ``nt.ta`` function that does not exist yet) are skipped at collection with the
reason; anything else that fails to import or run is an error.

Time per element (or per update call) = time per round / ``extra_info["n"]``; the median is in
``extra_info["ns_per_unit_median"]``.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable
from typing import Any

import pytest

import nt_tabench as tb  # on sys.path through conftest.py (benchmarks/lib)

SCALE = tb.get_scale()  # NT_BENCH_SCALE, read at collection: the parameters depend on it


@pytest.fixture(scope="session")
def ta_scale() -> tb.Scale:
    return SCALE


@pytest.fixture
def ta_measure(benchmark: Any, ta_scale: tb.Scale) -> Callable[[tb.Workload], None]:
    """Time ``wl.run()`` with pytest-benchmark (``wl.setup()`` before and ``wl.finish()`` after
    each round, untimed; the garbage collector off while a round is timed, for every engine
    alike; ``NT_BENCH_KEEP_GC=1`` leaves it on), then assert that every round was checked."""
    keep_gc = os.environ.get("NT_BENCH_KEEP_GC") == "1"
    wl: tb.Workload

    def setup() -> None:
        wl.setup()
        if not keep_gc:
            gc.collect()
            gc.disable()

    def teardown() -> None:
        gc.enable()
        wl.finish()

    def run(workload: tb.Workload) -> None:
        nonlocal wl
        wl = workload
        benchmark.group = f"{wl.section}: {wl.case}"
        benchmark.extra_info.update(engine=wl.engine, ours=wl.ours, n=wl.n, unit=wl.unit)
        try:
            benchmark.pedantic(wl.run, setup=setup, teardown=teardown, rounds=ta_scale.reps,
                               warmup_rounds=ta_scale.warmup, iterations=1)
        finally:
            gc.enable()
            wl.finish()  # with --benchmark-disable pytest-benchmark calls no teardown
        assert wl.rounds_checked >= 1, "no round was checked"
        stats = getattr(benchmark, "stats", None)
        if stats is not None:
            benchmark.extra_info["ns_per_unit_median"] = round(stats.stats.median / wl.n * 1e9, 3)

    return run


def _params(workloads: list[tb.Workload], ids: list[str]) -> list[Any]:
    """One pytest.param per workload, skipped at collection (before the benchmark fixture exists,
    which would otherwise warn that it was never used) when the case cannot run here."""
    out = []
    for wl, id_ in zip(workloads, ids):
        why = wl.available()
        marks = [pytest.mark.skip(reason=why)] if why else []
        out.append(pytest.param(wl, id=id_, marks=marks))
    return out


# (1) batch, 1-D: nt.ta.<f> vs talib.<F>, polars context rows, nt's extras vs polars / TA-Lib -------

_BATCH = [(ind.name, e) for ind in tb.INDICATORS for e in tb.batch_engines(ind.name)]


@pytest.mark.parametrize("wl", _params([tb.BatchTA(SCALE.n_batch, n, e) for n, e in _BATCH],
                                       [f"{n}-{e}" for n, e in _BATCH]))
def test_batch(ta_measure, wl):
    ta_measure(wl)


@pytest.mark.parametrize("wl", _params([tb.PolarsContext(SCALE.n_batch, w) for w in tb.PolarsContext.LABELS],
                                       list(tb.PolarsContext.LABELS)))
def test_batch_frame_context(ta_measure, wl):
    ta_measure(wl)


_EXTRA = [(n, e) for n in ("vwap", "zscore") for e in ("nt", "polars", "talib")]


@pytest.mark.parametrize("wl", _params([tb.BatchExtra(SCALE.n_batch, n, e) for n, e in _EXTRA],
                                       [f"{n}-{e}" for n, e in _EXTRA]))
def test_batch_extra(ta_measure, wl):
    ta_measure(wl)


# (2) features ----------------------------------------------------------------------------------


@pytest.mark.parametrize("wl", _params([tb.Features(SCALE.n_features, e) for e in ("nt", "nt-1", "talib")],
                                       ["nt", "nt-1thread", "talib-polars"]))
def test_features(ta_measure, wl):
    ta_measure(wl)


# (3) streaming ---------------------------------------------------------------------------------

_MANY = [(n, e) for n in ("sma", "ema") for e in tb.StreamMany.LABELS]


def _many(name: str, engine: str) -> tb.StreamMany:
    n = SCALE.n_talipp if engine.startswith("talipp") else SCALE.n_many
    return tb.StreamMany(n, name, engine)


@pytest.mark.parametrize("wl", _params([_many(n, e) for n, e in _MANY], [f"{n}-{e}" for n, e in _MANY]))
def test_stream_update_many(ta_measure, wl):
    ta_measure(wl)


_UPDATE = [(n, e) for n in ("sma", "ema", "rsi") for e in tb.StreamUpdate.LABELS]
_UPDATE += [(f"sma-{tb.LONG_WINDOW}", e) for e in ("nt", "talib")]


def _update(name: str, engine: str) -> tb.StreamUpdate:
    n = SCALE.n_talipp if engine == "talipp" else SCALE.n_update
    return tb.StreamUpdate(n, name, engine)


@pytest.mark.parametrize("wl", _params([_update(n, e) for n, e in _UPDATE], [f"{n}-{e}" for n, e in _UPDATE]))
def test_stream_update(ta_measure, wl):
    ta_measure(wl)


# (4) 2-D batch, 1 vs 2 threads -----------------------------------------------------------------

_2D = [(n, e) for n in ("rsi", "sma") for e in ("nt-1", "nt-2", "talib-loop")]


@pytest.mark.parametrize("wl", _params([tb.Batch2D(SCALE.n_symbols, SCALE.n_bars2d, n, e) for n, e in _2D],
                                       [f"{n}-{e}" for n, e in _2D]))
def test_batch_2d(ta_measure, wl):
    ta_measure(wl)
