"""Indicators (``nt.ta``) under asv: 1-D batch per indicator vs TA-Lib, nt's extras vs polars and
TA-Lib, ``features`` vs TA-Lib + a polars frame, streaming (``update_many`` and single
``update`` calls) vs TA-Lib's stream handles and talipp, and the 2-D batch on 1 and 2 threads.

The workloads are the ones in ``benchmarks/lib/nt_tabench.py`` (also timed by the pytest suite and
``compare_ta.py``), at the sizes the issue states its targets for (1,000,000 bars; 500 x 10,000).
asv calls ``setup`` before every timed call (``number = 1``), so each call starts from a fresh
state (a new streaming handle, warmed on the same history); ``teardown`` checks the result against
a reference computed outside the timer, and a wrong result fails the benchmark. A case that cannot
run here (peer not installed, ``nt.ta`` function not there yet) raises NotImplementedError in
``setup``, which asv reports as skipped. ``time_*`` report seconds per call, ``track_ns_per_*``
nanoseconds per element or per update call.
"""

from __future__ import annotations

import gc
import os
import sys
import time

_LIB = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib")
if _LIB not in sys.path:
    sys.path.insert(0, _LIB)

import nt_tabench as tb  # noqa: E402

N_BATCH = 1_000_000  # bars per 1-D batch call and per features() frame
N_MANY = 1_000_000  # values per update_many call
N_UPDATE = 200_000  # single update() calls per loop (nt, TA-Lib handle)
N_TALIPP = 50_000  # talipp add() calls per loop (~1-3 us each)
SHAPE_2D = (500, 10_000)  # symbols x bars


class _Workload:
    """Shared timing settings: a fresh workload per call, no warmup calls, a few samples."""

    number = 1
    repeat = (3, 10, 10.0)
    warmup_time = 0.0
    timeout = 300.0

    def _make(self, *params):
        raise NotImplementedError

    def setup(self, *params):
        wl = self._make(*params)
        why = wl.available()
        if why:
            raise NotImplementedError(why)
        self.wl = wl
        self.wl.setup()

    def teardown(self, *params):
        self.wl.finish()  # raises AssertionError when the result is wrong

    def _ns_per_unit(self):
        # garbage collector off while timing, as asv's time_* (timeit) and the other suites do
        gc.collect()
        gc.disable()
        try:
            t0 = time.perf_counter()
            self.wl.run()
            dt = time.perf_counter() - t0
        finally:
            gc.enable()
        return dt / self.wl.n * 1e9


class Batch(_Workload):
    """One indicator over 1,000,000 float64 bars: nt.ta.<name> vs talib.<NAME>, TA-Lib's default
    parameters; nt checked against TA-Lib within 1e-9 rel + 1e-9 abs. Engine "nt-1": nt on one
    thread, for the indicators nt splits across threads (tb.SPLIT_CASES; skipped for the others)."""

    params = [[ind.name for ind in tb.INDICATORS], list(tb.BatchTA.ENGINES)]
    param_names = ["indicator", "engine"]

    def _make(self, name, engine):
        if engine not in tb.batch_engines(name):
            raise NotImplementedError(f"{name} always runs on one thread: no nt-1 row")
        return tb.BatchTA(N_BATCH, name, engine)

    def time_call(self, name, engine):
        self.wl.run()

    def track_ns_per_element(self, name, engine):
        return self._ns_per_unit()

    track_ns_per_element.unit = "ns/element"


class BatchContext(_Workload):
    """polars' rolling_mean(30) / ewm_mean(span=30) and pandas' rolling / ewm on a Series (context
    for sma / ema), and nt's
    extras vwap / zscore (period 20) vs a polars expression and a TA-Lib composite."""

    params = [["polars rolling_mean", "polars ewm_mean", "pandas rolling_mean", "pandas ewm_mean",
               "vwap-nt", "vwap-polars", "vwap-talib", "zscore-nt", "zscore-polars", "zscore-talib"]]
    param_names = ["case"]

    def _make(self, case):
        if case.startswith("polars "):
            return tb.PolarsContext(N_BATCH, case.split()[1])
        if case.startswith("pandas "):
            return tb.PolarsContext(N_BATCH, "pandas-" + case.split()[1])
        name, engine = case.split("-")
        return tb.BatchExtra(N_BATCH, name, engine)

    def time_call(self, case):
        self.wl.run()

    def track_ns_per_element(self, case):
        return self._ns_per_unit()

    track_ns_per_element.unit = "ns/element"


class Features(_Workload):
    """nt.ta.features(bars, ["sma:20", "ema:12", "rsi:14", "macd:12:26:9", "bbands:20:2"]) over
    1,000,000 bars (nt's default threads, and num_threads=1) vs TA-Lib for those five on the numpy
    columns + a polars DataFrame."""

    params = [["nt", "nt-1", "talib"]]
    param_names = ["engine"]

    def _make(self, engine):
        return tb.Features(N_BATCH, engine)

    def time_call(self, engine):
        self.wl.run()

    def track_ns_per_bar(self, engine):
        return self._ns_per_unit()

    track_ns_per_bar.unit = "ns/bar"


class StreamUpdateMany(_Workload):
    """SMA(20) / EMA(20): nt update_many over 1,000,000 values vs talipp add per value / add(list)
    (50,000 values) and TA-Lib's batch function (context)."""

    params = [["sma", "ema"], list(tb.StreamMany.LABELS)]
    param_names = ["indicator", "engine"]

    def _make(self, name, engine):
        return tb.StreamMany(N_TALIPP if engine.startswith("talipp") else N_MANY, name, engine)

    def time_call(self, name, engine):
        self.wl.run()

    def track_ns_per_update(self, name, engine):
        return self._ns_per_unit()

    track_ns_per_update.unit = "ns/update"


class StreamUpdate(_Workload):
    """A Python loop of single update calls on a warm handle (SMA(20), EMA(20), RSI(14), and
    SMA(1000), whose cost per update must not grow with the window): nt vs TA-Lib 0.8's O(1)
    stream handle vs talipp add."""

    params = [["sma", "ema", "rsi", f"sma-{tb.LONG_WINDOW}"], list(tb.StreamUpdate.LABELS)]
    param_names = ["indicator", "engine"]

    def _make(self, name, engine):
        return tb.StreamUpdate(N_TALIPP if engine == "talipp" else N_UPDATE, name, engine)

    def time_loop(self, name, engine):
        self.wl.run()

    def track_ns_per_update(self, name, engine):
        return self._ns_per_unit()

    track_ns_per_update.unit = "ns/update"


class Batch2D(_Workload):
    """nt.ta.rsi / nt.ta.sma over 500 symbols x 10,000 bars with set_num_threads(1) and (2), and a
    Python loop of TA-Lib calls over the rows (context)."""

    params = [["rsi", "sma"], ["nt-1", "nt-2", "talib-loop"]]
    param_names = ["indicator", "engine"]

    def _make(self, name, engine):
        return tb.Batch2D(*SHAPE_2D, name, engine)

    def time_call(self, name, engine):
        self.wl.run()

    def track_ns_per_element(self, name, engine):
        return self._ns_per_unit()

    track_ns_per_element.unit = "ns/element"
