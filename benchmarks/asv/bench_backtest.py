"""The backtester under asv: backtesting.py's SmaCross example with nt's compiled
``MovingAverageCross``, with Python ``Strategy`` subclasses, and with backtesting.py; the vectorised
``nt.Backtest.from_signals`` vs vectorbt's ``Portfolio.from_signals``; the engine's tick-to-order
latency with an order book of finite depth.

The workloads are the ones in ``benchmarks/lib/nt_btbench.py`` (also timed by the pytest suite and
``compare_backtest.py``), at the sizes the issue states its targets for (the ``default`` scale:
1,000,000 synthetic bars, 1,000,000 ticks; GOOG's 2,148 daily bars). asv calls ``setup`` before
every timed call (``number = 1``), so each call builds a fresh backtest; ``teardown`` checks the
result against the plain-Python reference (trades, final equity; one order per cross and every
event probed for the latency case), and a wrong result fails the benchmark. A case that cannot run
here (backtesting.py or vectorbt not installed) raises NotImplementedError in ``setup``, which asv
reports as skipped. ``time_*`` report seconds per backtest, ``track_mbars_per_s`` millions of bars
per second, ``track_latency_*`` nanoseconds (percentiles of ``result.stats["latency_ns"]`` and
``["latency_ns_with_order"]``).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time

_LIB = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib")
if _LIB not in sys.path:
    sys.path.insert(0, _LIB)

import bench_workload  # noqa: E402
import nt_btbench as bb  # noqa: E402

SCALE = dataclasses.replace(bb.SCALES["default"], reps=1, warmup=0)  # the sizes


class _Workload:
    """Shared timing settings: a fresh backtest per call, no warmup calls, a few samples (a
    1,000,000-bar backtesting.py run takes ~15 s)."""

    number = 1
    repeat = (3, 5, 60.0)
    warmup_time = 0.0
    timeout = 600.0

    def _start(self, wl):
        why = wl.available()
        if why:
            raise NotImplementedError(why)
        if wl.kind.startswith("vectorbt"):
            bb.warm_vectorbt()  # numba compiles its kernels once per process, outside the timer
        self.wl = wl
        self.wl.setup()

    def _timed(self):
        # garbage collector off while timing, as asv's time_* (timeit) and the other suites do
        with bench_workload.gc_paused():
            t0 = time.perf_counter()
            self.wl.run()
            return time.perf_counter() - t0

    def teardown(self, *params):
        self.wl.finish()  # raises AssertionError when the result is wrong


class SmaCross(_Workload):
    """The SmaCross example (10/30, all-in stop-and-reverse at the next open) on GOOG and on
    1,000,000 synthetic one-minute bars: nt's compiled MovingAverageCross, a Python Strategy
    subclass (averages in pure Python / in nt.ta.stream.SMA), backtesting.py."""

    params = [["goog", "bars"], ["nt", "nt-py", "nt-stream", "backtesting"]]
    param_names = ["data", "engine"]

    def setup(self, dataset, engine):
        self._start(bb.SmaCross(SCALE, dataset, engine))

    def time_backtest(self, dataset, engine):
        self.wl.run()

    def track_mbars_per_s(self, dataset, engine):
        return self.wl.n / self._timed() / 1e6

    track_mbars_per_s.unit = "Mbars/s"


class Vectorised(_Workload):
    """1,000,000 bars, the same SMA-cross signals (made before the timer): nt's from_signals (the
    whole result) vs vectorbt's Portfolio.from_signals (bare, and with value() and the trade
    count)."""

    params = [["nt", "vectorbt", "vectorbt+"]]
    param_names = ["engine"]

    def setup(self, engine):
        self._start(bb.Vectorised(SCALE, engine))

    def time_from_signals(self, engine):
        self.wl.run()

    def track_mbars_per_s(self, engine):
        return self.wl.n / self._timed() / 1e6

    track_mbars_per_s.unit = "Mbars/s"


class Ticks(_Workload):
    """1,000,000 ticks through MovingAverageCross(10, 30) with an order book of depth 100 per
    level and probe_latency=True: the time of the whole run."""

    def setup(self):
        self._start(bb.TickLatency(SCALE))

    def time_ticks(self):
        self.wl.run()


class TickLatency(_Workload):
    """The same run: percentiles of the engine's per-event processing time, from the event leaving
    the ring buffer to the end of its handling (every event; the events that sent an order, which
    is matched in the book within that time)."""

    params = [["every event", "with order"], ["p50", "p99", "p99.9"]]
    param_names = ["events", "percentile"]

    def setup(self, events, percentile):
        self._start(bb.TickLatency(SCALE))

    def track_latency_ns(self, events, percentile):
        self._timed()
        self.wl.finish()  # checks the run and records its percentiles
        key = "latency_ns" if events == "every event" else "latency_ns_with_order"
        return self.wl.info[-1][key][percentile]

    track_latency_ns.unit = "ns"
