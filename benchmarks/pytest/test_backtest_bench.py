"""Backtester (``nt.Backtest``, ``nt.Backtest.from_signals``) vs backtesting.py and vectorbt, and the
engine's tick-to-order latency, side by side (pytest-benchmark groups).

Run: ``NT_BENCH_SCALE=default python -m pytest benchmarks/pytest/test_backtest_bench.py`` (see
benchmarks/README.md); CI: ``NT_BENCH_SCALE=smoke python -m pytest benchmarks/pytest
--benchmark-disable -q``.

The workloads live in ``benchmarks/lib/nt_btbench.py`` (shared with ``compare_backtest.py`` and the
asv suite). Each benchmark group is one case (a dataset of a section), so nt and its peers sit side
by side. Every round is checked outside the timer against the plain-Python reference (trades and
final equity for every engine; the Python strategies' trades equal the compiled strategy's; the
tick run sends one order per cross and probes every event); a wrong result fails the test whether
or not timing is enabled. Cases that cannot run here (backtesting.py or vectorbt not installed) are
skipped at collection with the reason.

Bars (ticks) per second = ``extra_info["n"]`` / time per round. ``extra_info`` also keeps nt's event
loop rate alone (``loop_per_s``) and, for the latency case, the median over the rounds of each
percentile of ``stats["latency_ns"]`` and ``stats["latency_ns_with_order"]`` (nanoseconds).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

import pytest

import nt_btbench as bb  # on sys.path through conftest.py (benchmarks/lib)

SCALE = bb.get_scale()  # NT_BENCH_SCALE, read at collection


@pytest.fixture
def bt_measure(benchmark: Any, timed_rounds: Callable[[Any, Any], None]) -> Callable[[bb.Workload], None]:
    """Time ``wl.run()`` with conftest's ``timed_rounds`` (``wl.setup()`` before and
    ``wl.finish()`` after each round, untimed; the garbage collector off while a round is timed,
    for every engine alike; ``NT_BENCH_KEEP_GC=1`` leaves it on; every round checked), then keep
    the per-round figures of ``wl.info`` in ``extra_info``."""

    def run(wl: bb.Workload) -> None:
        wl.info.clear()
        benchmark.group = f"backtest {wl.section}: {wl.case}"
        benchmark.extra_info.update(engine=wl.engine, ours=wl.ours, n=wl.n, unit=wl.unit)
        timed_rounds(wl, SCALE)
        loops = [i["loop_per_s"] for i in wl.info if "loop_per_s" in i]
        if loops:
            benchmark.extra_info["loop_per_s"] = round(statistics.median(loops), 1)
        for key in ("latency_ns", "latency_ns_with_order"):
            got = [i[key] for i in wl.info if key in i]
            if got:
                benchmark.extra_info[key] = {p: statistics.median(g[p] for g in got) for p in bb.PERCENTILES}
        stats = getattr(benchmark, "stats", None)
        if stats is not None:
            benchmark.extra_info["per_s_median"] = round(wl.n / stats.stats.median, 1)

    return run


def _params(workloads: list[bb.Workload]) -> list[Any]:
    """One pytest.param per workload, skipped at collection when the case cannot run here."""
    out = []
    for wl in workloads:
        why = wl.available()
        marks = [pytest.mark.skip(reason=why)] if why else []
        ds = getattr(wl, "dataset", "")
        out.append(pytest.param(wl, id=f"{ds}-{wl.kind}" if ds else wl.kind, marks=marks))
    return out


# (1), (2) the SmaCross example: compiled strategy, Python strategies, backtesting.py ------------

_SMA = [bb.SmaCross(SCALE, ds, k) for ds in ("goog", "bars") for k in ("nt", "nt-py", "nt-stream", "backtesting")]


@pytest.mark.parametrize("wl", _params(_SMA))
def test_backtest_sma_cross(bt_measure, wl):
    bt_measure(wl)


# (3) vectorised: from_signals vs vectorbt -----------------------------------------------------------

_VECTOR = [bb.Vectorised(SCALE, k) for k in ("nt", "vectorbt", "vectorbt+")]


@pytest.mark.parametrize("wl", _params(_VECTOR))
def test_backtest_vectorised(bt_measure, wl):
    bt_measure(wl)


# (4) tick-to-order latency with an order book of finite depth ---------------------------------------


@pytest.mark.parametrize("wl", _params([bb.TickLatency(SCALE)]))
def test_backtest_tick_latency(bt_measure, wl):
    bt_measure(wl)
    lat = wl.info[-1]["latency_ns_with_order"]
    assert lat["p50"] > 0 and lat["p99"] >= lat["p50"]


# the reference itself (cheap; it is what every case is checked against) ------------------------------


def test_reference_simulation_by_hand():
    # opens/closes of 4 bars; a long cross on bar 0 fills at 10 (100 shares of 1,000), a short
    # cross on bar 1 fills at 12 (closes: cash 1,200; short 100 at 12 -> cash 2,400), final at
    # bar 3's open 11: equity 2,400 - 100 * 11 = 1,300; a cross on the last bar never fills
    opens, closes = [9.0, 10.0, 12.0, 11.0], [9.5, 11.0, 12.5, 11.5]
    trades, equity = bb.simulate(opens, closes, [(0, 1), (1, -1), (3, 1)], final="open", cash=1_000.0)
    assert (trades, equity) == (2, 1_300.0)
    trades, equity = bb.simulate(opens, closes, [(0, 1), (1, -1)], final="close", cash=1_000.0)
    assert (trades, equity) == (2, 2_400.0 - 100 * 11.5)


def test_reference_crosses_and_sma():
    x = [1.0, 2.0, 3.0, 4.0, 5.0]
    assert bb.running_sma(x, 2)[1:] == [1.5, 2.5, 3.5, 4.5]
    # fast (1) vs slow (2) compares each close with the previous one: up on bar 2, a tie on
    # bar 3 (no cross), below on bar 4 without a cross (the averages were equal), up again on
    # bar 5 (a cross in the held direction: skipped), down on bar 6
    closes = [5.0, 4.0, 6.0, 6.0, 5.0, 7.0, 6.0]
    crosses, repeated = bb.cross_points(closes, fast=1, slow=2)
    assert crosses == [(2, 1), (6, -1)]
    assert repeated == 1
