"""Backtester (``nt.Backtest``, ``nt.Backtest.from_signals``) workloads shared by the three
benchmark front ends.

``benchmarks/compare_backtest.py`` (side-by-side table), ``benchmarks/pytest/test_backtest_bench.py``
(pytest-benchmark) and ``benchmarks/asv/bench_backtest.py`` (airspeed velocity) all time the
workloads defined here; :func:`run` runs them all and returns one row per engine (what a command
line front end prints with :func:`table` and :func:`targets`).

Sections (each row is one engine; ``ours`` rows are neural_trader):

``SMA cross 10/30``
    backtesting.py's ``SmaCross`` example: on a strict cross of the 10- and 30-bar simple moving
    averages of the close, close the position and reverse into all the equity (whole shares),
    filled at the next bar's open, no commission, the last trade closed at the last bar's open
    (``finalize_trades=True``; nt: ``close_at_end="open"``). Engines: nt's compiled
    ``MovingAverageCross(10, 30)`` (no Python call per bar), the same strategy written as a
    Python subclass of ``nt.strategies.Strategy`` (``on_bar`` per bar; the averages kept in pure
    Python, and with ``nt.ta.stream.SMA``), and backtesting.py. Cases: GOOG (the 2,148 daily
    bars that ship with backtesting.py) and ``n_bars`` synthetic one-minute bars
    (``nt.data.synthetic``).
``vectorised``
    The same signals (computed before the timer) through ``nt.Backtest.from_signals(data,
    signal=..., fill="next_open")`` and vectorbt's ``Portfolio.from_signals`` (entries shifted by
    one bar and ``price=open``, the same next-open fill; ``size=inf``, whole shares,
    ``upon_opposite_entry="reverse"``), bare, and followed by its equity curve and trade count.
``tick-to-order latency``
    ``n_ticks`` synthetic ticks through ``MovingAverageCross(10, 30, size=0.02)`` (cash
    1,000,000) with an order book of finite depth (``depth=100`` units per level, 10 levels a
    side: every market order walks the core's matching engine; these orders, 200-400 units, take
    2-4 levels) and ``probe_latency=True``. (All-in sizing would not do here: the spread paid on
    ~33,000 reversals drains the account below one unit's price, after which the orders are
    cancelled as "nothing_to_trade" without reaching the book.) The probe is the engine's processing
    time of one event: from the event leaving the ring buffer to the end of its handling (orders
    executed, portfolio marked, strategy hook run, and the order that hook sent matched in the
    book: with ticks the fill policy is "close", so it fills on the event that caused it).
    ``latency_ns`` covers every event, ``latency_ns_with_order`` the events that sent an order.

Every result is checked outside the timer against a reference computed here, once, in plain
Python (``reference``): the crosses of the two averages (running sums with the core's
arithmetic, four interleaved chains as in ``nt.ta.sma``, so the values are bit-identical), then
a per-cross simulation of the all-in stop-and-reverse account. Each engine must give the
reference's number of trades and its final equity (relative 1e-9; backtesting.py 1e-3, its order
sizing differs by a share on a few trades); the Python strategies' trade lists must equal the
compiled one's exactly; the tick run must send one order per cross and probe every event. A
wrong result raises AssertionError, so a fast wrong answer cannot pass.

Fairness rules:

* Every engine gets the data in the form it takes natively, made before the timer: nt the
  canonical polars frame, backtesting.py a pandas frame (Open/High/Low/Close/Volume, a naive
  DatetimeIndex), vectorbt pandas Series. The timer covers what a user waits for: building the
  backtest, running it, and the result object (nt: the five result frames and the statistics;
  backtesting.py: its statistics Series).
* backtesting.py computes its averages with the same running-sum arithmetic as the core (the
  example's ``SMA`` helper is a pandas rolling mean, whose rounding makes exact ties of the two
  averages on a 0.01 price grid and so different crosses); indicator set-up is vectorised and
  costs it nothing measurable. Its progress bar is switched off.
* The garbage collector is off while a case is timed, for every engine alike (front ends).
* vectorbt compiles its kernels with numba on first use: the warm-up rounds absorb that.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import math
import os
import statistics
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np

import bench_cli
import bench_workload

SEED = 20_241_107  #: seed of the synthetic bars and ticks
FAST, SLOW = 10, 30  #: the SmaCross example's periods
CASH = 10_000.0
DEPTH = 100.0  #: units per level of the latency case's order book
TICK_CASH, TICK_SIZE = 1_000_000.0, 0.02  #: the latency case's account and position size (fraction of equity)
REL_TOL = 1e-9  #: final equity: |got - ref| <= REL_TOL * |ref|

Unavailable = bench_workload.Unavailable


# --------------------------------------------------------------------------------------------------
# scales


@dataclasses.dataclass(frozen=True)
class Scale:
    name: str
    n_bars: int  #: synthetic bars of the SMA cross case (the issue: 1,000,000)
    n_vector: int  #: bars of the vectorised case (the issue: 1,000,000)
    n_ticks: int  #: ticks of the latency case (the issue: 1,000,000)
    reps: int  #: timed repetitions per case
    warmup: int  #: untimed rounds before them


SCALES: dict[str, Scale] = {
    # CI: every case runs and is checked in seconds; timings are meaningless
    "smoke": Scale("smoke", 20_000, 20_000, 20_000, 1, 0),
    # the sizes the targets are stated for
    "default": Scale("default", 1_000_000, 1_000_000, 1_000_000, 5, 1),
    "full": Scale("full", 1_000_000, 4_000_000, 4_000_000, 9, 1),
}


def get_scale(name: str | Scale | None = None) -> Scale:
    """The scale called ``name`` (or ``name`` itself), else ``$NT_BENCH_SCALE``, else "default"."""
    if isinstance(name, Scale):
        return name
    name = name or os.environ.get("NT_BENCH_SCALE") or "default"
    try:
        return SCALES[name]
    except KeyError:
        raise ValueError(f"unknown benchmark scale {name!r}; choose one of {', '.join(SCALES)}") from None


# --------------------------------------------------------------------------------------------------
# what is installed


def have(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


@functools.lru_cache(maxsize=1)
def nt_status() -> str | None:
    """None when nt's backtester is there, else why not (an import error of neural_trader itself
    propagates: a broken build is a failure, not a skip)."""
    import neural_trader as nt

    for path in ("Backtest", "strategies.MovingAverageCross", "strategies.Strategy", "vector.from_signals",
                 "vector.signal_from_crossover", "data.synthetic", "ta.stream.SMA"):
        obj: Any = nt
        for part in path.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                return f"nt.{path} does not exist (yet)"
    return None


def need_nt() -> Any:
    why = nt_status()
    if why:
        raise Unavailable(why)
    import neural_trader as nt

    return nt


def need_backtesting() -> Any:
    """backtesting.py's ``backtesting`` module, its progress bar switched off."""
    if not have("backtesting"):
        raise Unavailable("backtesting.py is not installed (pip install backtesting); "
                          "the GOOG data ships with it")
    import backtesting
    import backtesting.backtesting as bt_module

    # a pass-through instead of tqdm: the progress bar writes to stderr on every run
    bt_module._tqdm = _no_progress
    return backtesting


def _no_progress(seq: Any, **_: Any) -> Any:
    return seq


def need_vectorbt() -> Any:
    if not have("vectorbt"):
        raise Unavailable("vectorbt is not installed (optional peer: pip install 'neural-trader[bench-vectorbt]'"
                          ", best in a separate virtualenv: it pins numba and pandas)")
    import vectorbt

    return vectorbt


PEER_DISTS = ("backtesting", "vectorbt", "numba", "pandas", "polars", "numpy")  #: versions a run reports


# --------------------------------------------------------------------------------------------------
# the reference: crosses with the core's arithmetic, then a per-cross account simulation


def running_sma(values: Sequence[float], period: int) -> list[float]:
    """Simple moving average by a running sum, in the core's order of operations, so the
    values are bit-identical to ``nt.ta.sma`` and the built-in strategy's: the window sum in
    four interleaved chains, ``s[t] = s[t-4] + (q[t] + q[t-2])`` with ``q[t] = d[t] + d[t-1]``
    and ``d[t] = x[t] - x[t-period]`` (``x`` 0 before the first input), divided by the period;
    NaN until the window is full."""
    window = [0.0] * period
    lanes = [0.0] * 4
    d1 = q1 = q2 = 0.0
    nan = math.nan
    out = [nan] * len(values)
    for i, x in enumerate(values):
        k = i % period
        d = x - window[k]
        window[k] = x
        q = d + d1
        total = lanes[i & 3] + (q + q2)
        lanes[i & 3] = total
        d1, q2, q1 = d, q1, q
        if i + 1 >= period:
            out[i] = total / period
    return out


@dataclasses.dataclass(frozen=True)
class Reference:
    """What an all-in stop-and-reverse SMA cross must give on one series."""

    crosses: tuple[tuple[int, int], ...]  #: (bar, direction +1/-1) of each target change
    repeated: int  #: strict crosses in the direction already held (skipped; ties of the averages)
    trades: int  #: round trips with the last position closed at the end
    final_equity: float


def cross_points(closes: Sequence[float], fast: int = FAST, slow: int = SLOW) -> tuple[list[tuple[int, int]], int]:
    """Target changes of the SMA cross strategy: (bar, +1) where ``fast`` crosses above ``slow``
    strictly (``f[t-1] < s[t-1]`` and ``f[t] > s[t]``), (bar, -1) below; a cross in the direction
    already targeted is skipped (and counted: only exact ties of the averages make one)."""
    f = running_sma(closes, fast)
    s = running_sma(closes, slow)
    out: list[tuple[int, int]] = []
    repeated = 0
    target = 0
    for t in range(1, len(f)):
        if f[t - 1] < s[t - 1] and f[t] > s[t]:
            d = 1
        elif f[t - 1] > s[t - 1] and f[t] < s[t]:
            d = -1
        else:
            continue
        if d == target:
            repeated += 1
            continue
        target = d
        out.append((t, d))
    return out, repeated


def simulate(opens: Sequence[float], closes: Sequence[float], crosses: Sequence[tuple[int, int]],
             final: str = "open", cash: float = CASH) -> tuple[int, float]:
    """(trades, final equity) of the all-in, whole-share, zero-fee account: a cross on bar t
    trades at ``opens[t + 1]`` (none when t is the last bar): the position is closed, then
    ``floor(equity / price)`` shares are bought or sold short. The last position is closed at
    the last bar's open (``final="open"``) or close (``"close"``); the equity is the same
    either way with ``"mark"`` (left open, marked at the last close)."""
    n = len(opens)
    qty = 0.0
    trades = 0
    for t, d in crosses:
        if t + 1 >= n:
            break
        price = opens[t + 1]
        cash += qty * price
        qty = 0.0
        q = math.floor(cash / price)
        if q > 0:
            qty = d * q
            cash -= qty * price
            trades += 1
    last = opens[n - 1] if final == "open" else closes[n - 1]
    return trades, cash + qty * last


@functools.lru_cache(maxsize=8)
def reference(dataset: str, n: int, final: str = "open") -> Reference:
    """The reference of ``dataset`` ("goog", "bars" of n bars, "ticks" of n ticks); cached."""
    if dataset == "ticks":
        prices = ticks_frame(n)["price"].to_list()
        crosses, rep = cross_points(prices)
        return Reference(tuple(crosses), rep, len(crosses), math.nan)
    frame = goog_frames()[0] if dataset == "goog" else bars_frame(n)
    opens, closes = frame["open"].to_list(), frame["close"].to_list()
    crosses, rep = cross_points(closes)
    trades, equity = simulate(opens, closes, crosses, final)
    return Reference(tuple(crosses), rep, trades, equity)


def check_equity(got: float, ref: float, what: str) -> None:
    assert abs(got - ref) <= REL_TOL * abs(ref), f"{what}: final equity {got!r}, reference {ref!r}"


def check_trades(got: int, ref: int, what: str) -> None:
    assert got == ref, f"{what}: {got:,} trades, reference {ref:,}"


# --------------------------------------------------------------------------------------------------
# data (seeded, cached per process)


@functools.lru_cache(maxsize=1)
def goog_frames() -> tuple[Any, Any]:
    """(canonical polars frame, backtesting.py's pandas frame) of GOOG (2,148 daily bars)."""
    need_backtesting()
    nt = need_nt()
    from backtesting.test import GOOG

    return nt.data.normalize(GOOG, symbol="GOOG"), GOOG


@functools.lru_cache(maxsize=2)
def bars_frame(n: int) -> Any:
    """``n`` synthetic one-minute bars of one symbol (canonical polars frame)."""
    nt = need_nt()
    return nt.data.synthetic(["SYN"], n, kind="bars", freq="1m", seed=SEED)


@functools.lru_cache(maxsize=2)
def bars_pandas(n: int) -> Any:
    """The synthetic bars as backtesting.py takes them: Open/High/Low/Close/Volume columns and a
    naive (UTC) DatetimeIndex."""
    import pandas as pd

    f = bars_frame(n)
    index = pd.DatetimeIndex(f["ts"].dt.replace_time_zone(None).to_numpy())
    return pd.DataFrame({name: f[name.lower()].to_numpy() for name in ("Open", "High", "Low", "Close", "Volume")},
                        index=index)


@functools.lru_cache(maxsize=2)
def ticks_frame(n: int) -> Any:
    """``n`` synthetic ticks of one symbol, ~10 per second (canonical polars tick frame)."""
    nt = need_nt()
    return nt.data.synthetic(["SYN"], n, kind="ticks", freq="100ms", seed=SEED + 1)


def describe_data(scale: Scale) -> list[str]:
    """One line per dataset: its size and the reference's make-up (crosses, trades)."""
    lines = []
    todo: list[tuple[str, int, str]] = [("goog", 0, "GOOG daily bars (backtesting.test)"),
                                        ("bars", scale.n_bars, "synthetic 1-minute bars"),
                                        ("ticks", scale.n_ticks, "synthetic ticks")]
    if scale.n_vector != scale.n_bars:
        todo.insert(2, ("bars", scale.n_vector, "synthetic 1-minute bars (vectorised case)"))
    for ds, n, what in todo:
        try:
            ref = reference(ds, n)
            size = len(goog_frames()[0]) if ds == "goog" else n
        except Unavailable as exc:
            lines.append(f"{what}: unavailable ({exc})")
            continue
        tail = "" if ds == "ticks" else f", {ref.trades:,} trades, final equity {ref.final_equity:,.2f}"
        lines.append(f"{what}: {size:,}; {len(ref.crosses):,} crosses of SMA {FAST}/{SLOW} "
                     f"({ref.repeated} in the held direction, skipped){tail}")
    return lines


# --------------------------------------------------------------------------------------------------
# the strategies


@functools.lru_cache(maxsize=1)
def python_strategies() -> tuple[type, type]:
    """(SMA in pure Python, SMA with nt.ta.stream.SMA): the SmaCross example as Python
    subclasses of ``nt.strategies.Strategy``; classes made on first use (nt imported then)."""
    nt = need_nt()
    Strategy = nt.strategies.Strategy
    StreamSMA = nt.ta.stream.SMA
    nan = math.nan

    class PySmaCross(Strategy):  # type: ignore[misc, valid-type]
        """The SmaCross example in pure Python, one symbol: both averages by running sums (the
        core's arithmetic), ``order_target_percent(+-1.0)`` on a strict cross, a repeated
        direction skipped as the built-in does."""

        def __init__(self, fast: int = FAST, slow: int = SLOW) -> None:
            super().__init__(fast=fast, slow=slow)
            self.fast, self.slow = fast, slow

        def on_start(self) -> None:
            self._wf = [0.0] * self.fast
            self._ws = [0.0] * self.slow
            self._i = 0
            # the core's window sums: four lanes and d[t-1], q[t-1], q[t-2] per average
            self._lf = [0.0] * 4
            self._ls = [0.0] * 4
            self._hf = [0.0, 0.0, 0.0]
            self._hs = [0.0, 0.0, 0.0]
            self._f0 = self._s0 = nan
            self._target = 0.0

        def on_bar(self, bar: Any) -> None:
            x = bar.close
            i = self._i
            self._i = i + 1
            fast, slow = self.fast, self.slow
            wf, ws = self._wf, self._ws
            lane = i & 3
            k = i % fast
            d = x - wf[k]
            wf[k] = x
            h = self._hf
            q = d + h[0]
            sf = self._lf[lane] + (q + h[2])
            self._lf[lane] = sf
            h[0], h[2], h[1] = d, h[1], q
            k = i % slow
            d = x - ws[k]
            ws[k] = x
            h = self._hs
            q = d + h[0]
            ss = self._ls[lane] + (q + h[2])
            self._ls[lane] = ss
            h[0], h[2], h[1] = d, h[1], q
            f = sf / fast if i >= fast - 1 else nan
            s = ss / slow if i >= slow - 1 else nan
            f0, s0 = self._f0, self._s0
            self._f0, self._s0 = f, s
            if f0 < s0 and f > s and self._target != 1.0:
                self._target = 1.0
                self.order_target_percent(1.0)
            elif f0 > s0 and f < s and self._target != -1.0:
                self._target = -1.0
                self.order_target_percent(-1.0)

        def __repr__(self) -> str:
            return f"PySmaCross(fast={self.fast}, slow={self.slow})"

    class StreamSmaCross(Strategy):  # type: ignore[misc, valid-type]
        """The same with the averages in ``nt.ta.stream.SMA`` handles (one update call each)."""

        def __init__(self, fast: int = FAST, slow: int = SLOW) -> None:
            super().__init__(fast=fast, slow=slow)
            self.fast, self.slow = fast, slow

        def on_start(self) -> None:
            self._fu = StreamSMA(self.fast).update
            self._su = StreamSMA(self.slow).update
            self._f0 = self._s0 = nan
            self._target = 0.0

        def on_bar(self, bar: Any) -> None:
            x = bar.close
            f = self._fu(x)
            s = self._su(x)
            f0, s0 = self._f0, self._s0
            self._f0, self._s0 = f, s
            if f0 < s0 and f > s and self._target != 1.0:
                self._target = 1.0
                self.order_target_percent(1.0)
            elif f0 > s0 and f < s and self._target != -1.0:
                self._target = -1.0
                self.order_target_percent(-1.0)

        def __repr__(self) -> str:
            return f"StreamSmaCross(fast={self.fast}, slow={self.slow})"

    return PySmaCross, StreamSmaCross


@functools.lru_cache(maxsize=1)
def backtesting_strategy() -> type:
    """backtesting.py's SmaCross example (close, then buy/sell on a cross), its averages
    computed with the core's running-sum arithmetic (see the module docstring), a cross in the
    direction already held skipped (as the built-in strategy does)."""
    need_backtesting()
    from backtesting import Strategy
    from backtesting.lib import crossover

    def sma(values: Any, n: int) -> np.ndarray[Any, np.dtype[np.float64]]:
        return np.asarray(running_sma(np.asarray(values, dtype=np.float64).tolist(), n))

    class SmaCross(Strategy):  # type: ignore[misc]
        n1 = FAST
        n2 = SLOW

        def init(self) -> None:
            close = self.data.Close
            self.sma1 = self.I(sma, close, self.n1)
            self.sma2 = self.I(sma, close, self.n2)

        def next(self) -> None:
            # a cross in the direction already held (only after an exact tie of the averages) is
            # skipped, as MovingAverageCross and the reference do; the example would close and
            # reopen the position there, one trade more
            if crossover(self.sma1, self.sma2):
                if not self.position.is_long:
                    self.position.close()
                    self.buy()
            elif crossover(self.sma2, self.sma1):
                if not self.position.is_short:
                    self.position.close()
                    self.sell()

    return SmaCross


# --------------------------------------------------------------------------------------------------
# workloads


class Workload(bench_workload.Workload):
    """One timed case (the protocol is bench_workload.Workload's). ``kind`` is the engine's short
    name; ``info`` collects per-round figures a front end reports besides the time (the engine
    loop's events/s, latency percentiles)."""

    unit = "bar"
    kind = ""
    LABELS: ClassVar[dict[str, str]] = {}

    def __init__(self, n: int, kind: str) -> None:
        super().__init__(n)
        self.kind = kind
        self.engine = self.LABELS[kind]
        self.ours = kind.startswith("nt")
        self.info: list[dict[str, Any]] = []
        self.out: Any = None

    def _release(self) -> None:
        super()._release()
        self.args: Any = None


class SmaCross(Workload):
    """The SmaCross example on one dataset ("goog" or "bars"), one engine:

    * "nt": ``nt.Backtest(frame, MovingAverageCross(10, 30), cash=10_000,
      close_at_end="open").run()``
    * "nt-py": the same with a pure-Python ``Strategy`` subclass (``on_bar`` per bar)
    * "nt-stream": the Python subclass keeping its averages in ``nt.ta.stream.SMA``
    * "backtesting": ``Backtest(pdf, SmaCross, cash=10_000, commission=0,
      finalize_trades=True).run()``

    Checked: trades and final equity equal the reference; the Python strategies' trades frame
    equals the built-in's exactly (computed once, untimed)."""

    section = "SMA cross 10/30"
    LABELS: ClassVar[dict[str, str]] = {
        "nt": "nt.Backtest + MovingAverageCross(10, 30) (compiled)",
        "nt-py": "nt.Backtest + Python Strategy.on_bar, SMA in pure Python",
        "nt-stream": "nt.Backtest + Python Strategy.on_bar, nt.ta.stream.SMA",
        "backtesting": "backtesting.py Backtest(SmaCross).run()",
    }

    def __init__(self, scale: Scale, dataset: str, kind: str) -> None:
        assert dataset in ("goog", "bars")
        self.dataset = dataset
        n = scale.n_bars if dataset == "bars" else 2_148
        super().__init__(n, kind)
        self.case = "GOOG daily" if dataset == "goog" else f"synthetic {n:,} x 1m"

    def _resolve(self) -> None:
        if self.dataset == "goog" or self.kind == "backtesting":
            need_backtesting()
        if self.kind.startswith("nt") or self.dataset == "bars":
            need_nt()

    def _frame(self) -> Any:
        return goog_frames()[0] if self.dataset == "goog" else bars_frame(self.n)

    def _setup(self) -> None:
        if self.dataset == "goog":
            self.n = len(goog_frames()[0])
        if self.kind == "backtesting":
            from backtesting import Backtest

            pdf = goog_frames()[1] if self.dataset == "goog" else bars_pandas(self.n)
            self.args = (Backtest, pdf, backtesting_strategy())
        else:
            nt = need_nt()
            if self.kind == "nt":
                strategy = nt.strategies.MovingAverageCross(FAST, SLOW)
            else:
                py, stream = python_strategies()
                strategy = (py if self.kind == "nt-py" else stream)(FAST, SLOW)
            self.args = (nt.Backtest, self._frame(), strategy)

    def run(self) -> None:
        cls, data, strategy = self.args
        if self.kind == "backtesting":
            with warnings.catch_warnings():
                # pandas 3 deprecations raised inside backtesting.py are the peer's to fix
                warnings.simplefilter("ignore", DeprecationWarning)
                self.out = cls(data, strategy, cash=CASH, commission=0, finalize_trades=True).run()
        else:
            self.out = cls(data, strategy, cash=CASH, close_at_end="open").run()

    def _check(self) -> None:
        ref = reference(self.dataset, self.n)
        what = f"{self.case}: {self.engine}"
        if self.kind == "backtesting":
            check_trades(int(self.out["# Trades"]), ref.trades, what)
            # backtesting.py sizes an all-in order from its own margin arithmetic: on a few
            # trades one share more than the reference's floor(equity / price) (3 of 757 on the
            # synthetic 20,000 bars), so its final equity is checked to 1e-3, not 1e-9
            eq = float(self.out["Equity Final [$]"])
            assert abs(eq - ref.final_equity) <= 1e-3 * abs(ref.final_equity), (
                f"{what}: final equity {eq!r}, reference {ref.final_equity!r}")
            return
        res = self.out
        check_trades(res.trades.height, ref.trades, what)
        check_equity(float(res.equity["equity"][-1]), ref.final_equity, what)
        stats = res.stats
        assert stats["events"] == self.n, f"{what}: {stats['events']} events, expected {self.n}"
        self.info.append({"loop_per_s": float(stats["events_per_second"])})
        if self.kind != "nt":
            builtin = builtin_trades(self.dataset, self.n)
            assert res.trades.equals(builtin), f"{what}: trades differ from MovingAverageCross's"


@functools.lru_cache(maxsize=2)
def builtin_trades(dataset: str, n: int) -> Any:
    """The built-in strategy's trades frame on ``dataset`` (untimed; what the Python
    strategies must reproduce exactly)."""
    nt = need_nt()
    frame = goog_frames()[0] if dataset == "goog" else bars_frame(n)
    return nt.Backtest(frame, nt.strategies.MovingAverageCross(FAST, SLOW), cash=CASH, close_at_end="open").run().trades


@functools.lru_cache(maxsize=2)
def vector_inputs(n: int) -> dict[str, Any]:
    """The signals of the vectorised case (made once, before any timer): nt's target signal
    (+1/-1 on a cross, NaN elsewhere) and vectorbt's inputs (entries shifted one bar so that a
    cross on bar t trades at bar t+1's open; pandas Series of close and open)."""
    nt = need_nt()
    frame = bars_frame(n)
    close = frame["close"].to_numpy()
    fast = np.asarray(running_sma(close.tolist(), FAST))
    slow = np.asarray(running_sma(close.tolist(), SLOW))
    signal = nt.vector.signal_from_crossover(fast, slow)
    entries = np.zeros(n, dtype=bool)
    short_entries = np.zeros(n, dtype=bool)
    entries[1:] = signal[:-1] == 1.0
    short_entries[1:] = signal[:-1] == -1.0
    out: dict[str, Any] = {"signal": signal, "entries": entries, "short_entries": short_entries}
    if have("pandas"):
        import pandas as pd

        index = pd.DatetimeIndex(frame["ts"].dt.replace_time_zone(None).to_numpy())
        out["close"] = pd.Series(close, index=index, name="close")
        out["open"] = pd.Series(frame["open"].to_numpy(), index=index, name="open")
    for v in out.values():
        if isinstance(v, np.ndarray):
            v.flags.writeable = False
    return out


@functools.lru_cache(maxsize=1)
def warm_vectorbt() -> None:
    """One small ``Portfolio.from_signals`` call with the case's argument types, so that numba
    has compiled vectorbt's kernels (once per process) before anything is timed."""
    import pandas as pd

    vbt = need_vectorbt()
    n = 64
    index = pd.date_range("2020-01-01", periods=n, freq="1min")
    close = pd.Series(np.linspace(100.0, 110.0, n), index=index)
    entries = np.zeros(n, dtype=bool)
    short_entries = np.zeros(n, dtype=bool)
    entries[5], short_entries[20] = True, True
    pf = vbt.Portfolio.from_signals(close, entries, short_entries=short_entries, price=close, init_cash=CASH,
                                    size=np.inf, size_granularity=1.0, upon_opposite_entry="reverse", freq="1min")
    pf.value()
    pf.trades.count()


class Vectorised(Workload):
    """The same signals, vectorised (signals made before the timer):

    * "nt": ``nt.Backtest.from_signals(frame, signal=signal, cash=10_000, fill="next_open")``
      (the whole result: equity curve, trades, orders, fills, positions)
    * "vectorbt": ``vbt.Portfolio.from_signals(close, entries, short_entries=..., price=open,
      init_cash=10_000, size=inf, size_granularity=1, upon_opposite_entry="reverse")`` (its
      order records; the rest is computed lazily)
    * "vectorbt+": the same, then ``pf.value()`` (the equity curve) and ``pf.trades.count()``

    Checked: trades and final equity equal the reference's (nt closes at the last close,
    vectorbt leaves the last position open, marked at the last close: the same equity)."""

    section = "vectorised"
    extra: Any = None  #: vectorbt+: (the equity curve, the trade count) computed in the timer
    LABELS: ClassVar[dict[str, str]] = {
        "nt": "nt.Backtest.from_signals(signal=..., fill='next_open')",
        "vectorbt": "vectorbt Portfolio.from_signals (order records)",
        "vectorbt+": "vectorbt Portfolio.from_signals + value() + trades.count()",
    }

    def __init__(self, scale: Scale, kind: str) -> None:
        super().__init__(scale.n_vector, kind)
        self.case = f"synthetic {scale.n_vector:,} x 1m"

    def _resolve(self) -> None:
        need_nt()
        if self.kind.startswith("vectorbt"):
            need_vectorbt()

    def _setup(self) -> None:
        inputs = vector_inputs(self.n)
        if self.kind == "nt":
            nt = need_nt()
            self.args = (nt.Backtest.from_signals, bars_frame(self.n), inputs["signal"])
        else:
            vbt = need_vectorbt()
            warm_vectorbt()
            self.args = (vbt.Portfolio.from_signals, inputs)

    def run(self) -> None:
        if self.kind == "nt":
            fn, frame, signal = self.args
            self.out = fn(frame, signal=signal, cash=CASH, fill="next_open")
            return
        fn, a = self.args
        pf = fn(a["close"], a["entries"], short_entries=a["short_entries"], price=a["open"], init_cash=CASH,
                size=np.inf, size_granularity=1.0, upon_opposite_entry="reverse", freq="1min")
        if self.kind == "vectorbt+":
            self.extra = (pf.value(), pf.trades.count())
        self.out = pf

    def _check(self) -> None:
        ref = reference("bars", self.n, "close")
        what = f"{self.case}: {self.engine}"
        if self.kind == "nt":
            check_trades(self.out.trades.height, ref.trades, what)
            check_equity(float(self.out.equity["equity"][-1]), ref.final_equity, what)
            return
        pf = self.out
        value = pf.value()
        check_equity(float(value.iloc[-1]), ref.final_equity, what)
        check_trades(int(pf.trades.count()), ref.trades, what)
        if self.kind == "vectorbt+":
            v, count = self.extra
            assert len(v) == self.n and int(count) == ref.trades, f"{what}: {len(v)} values, {count} trades"

    def _release(self) -> None:
        super()._release()
        self.extra = None


class TickLatency(Workload):
    """``nt.Backtest(ticks, MovingAverageCross(10, 30, size=0.02), cash=1_000_000, depth=100,
    probe_latency=True, close_at_end=False).run()`` over ``n_ticks`` synthetic ticks (fill
    policy "close": a market order walks the book on the tick that caused it).

    Kept per round: ``stats["latency_ns"]`` and ``stats["latency_ns_with_order"]``. Checked:
    one order per cross of the reference, every one filled, every event probed, every event with
    an order probed as such, percentiles ordered."""

    section = "tick-to-order latency"
    unit = "tick"
    LABELS: ClassVar[dict[str, str]] = {"nt": f"nt.Backtest ticks, MovingAverageCross(size={TICK_SIZE:g}), depth={DEPTH:g}, probe"}

    def __init__(self, scale: Scale, kind: str = "nt") -> None:
        super().__init__(scale.n_ticks, kind)
        self.case = f"synthetic {scale.n_ticks:,} ticks"

    def _resolve(self) -> None:
        need_nt()

    def _setup(self) -> None:
        nt = need_nt()
        self.args = (nt.Backtest, ticks_frame(self.n), nt.strategies.MovingAverageCross(FAST, SLOW, size=TICK_SIZE))

    def run(self) -> None:
        cls, data, strategy = self.args
        self.out = cls(data, strategy, cash=TICK_CASH, depth=DEPTH, probe_latency=True, close_at_end=False).run()

    def _check(self) -> None:
        ref = reference("ticks", self.n)
        res = self.out
        what = f"{self.case}: {self.engine}"
        orders = res.orders
        assert orders.height == len(ref.crosses), f"{what}: {orders.height:,} orders, {len(ref.crosses):,} crosses"
        status = set(orders["status"].unique().to_list())
        assert status == {"filled"}, f"{what}: order statuses {sorted(status)}"
        assert float(orders["filled_quantity"].min()) > DEPTH, f"{what}: an order smaller than one level"
        lat, lat_o = res.stats["latency_ns"], res.stats["latency_ns_with_order"]
        assert lat["n"] == self.n, f"{what}: {lat['n']:,} events probed, expected {self.n:,}"
        assert lat_o["n"] == orders.height, f"{what}: {lat_o['n']:,} events with an order probed"
        for d in (lat, lat_o):
            assert 0 < d["p50"] <= d["p99"] <= d["p99.9"] <= d["max"], f"{what}: percentiles {d}"
        self.info.append({"loop_per_s": float(res.stats["events_per_second"]), "latency_ns": dict(lat),
                          "latency_ns_with_order": dict(lat_o)})


def catalogue(scale: Scale) -> list[Workload]:
    """Every case at ``scale``, available or not (``Workload.available()`` says)."""
    w: list[Workload] = []
    for ds in ("goog", "bars"):
        w += [SmaCross(scale, ds, k) for k in ("nt", "nt-py", "nt-stream", "backtesting")]
    w += [Vectorised(scale, k) for k in ("nt", "vectorbt", "vectorbt+")]
    w.append(TickLatency(scale))
    return w


# --------------------------------------------------------------------------------------------------
# running everything: rows, table, targets


PEERS: dict[str, str] = {"SMA cross 10/30": "backtesting", "vectorised": "vectorbt"}  #: the peer each section's ratios use
PERCENTILES = ("p50", "p99", "p99.9")


def run(scale: Scale | str | None = None, *, reps: int | None = None, only: str | None = None,
        keep_gc: bool = False, log: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """Runs every case (``only``: those whose section, case or engine contains the text): the
    scale's warm-up rounds, then ``reps`` repetitions round-robin (each repetition runs every
    case once, so drift on a shared machine hits all engines alike). Returns one row per
    workload:

    ``section, case, engine, kind, ours, unit, n`` -- what was run;
    ``seconds`` (every repetition), ``median_s``, ``min_s``, ``max_s``, ``per_s`` (n / median);
    ``loop_per_s`` -- nt's event loop alone (``stats["events_per_second"]``, median), else None;
    ``vs_peer`` -- for nt rows, the section peer's median time / this row's (> 1: nt faster);
    ``latency_ns``, ``latency_ns_with_order`` -- medians over the repetitions of each percentile
    (latency case only); ``skipped`` (why) / ``failure`` (the error) -- else None.
    """
    sc = get_scale(scale)
    reps = reps or max(3, sc.reps)
    say = log or (lambda s: None)
    workloads = catalogue(sc)
    if only:
        t = only.lower()
        workloads = [w for w in workloads if t in w.section.lower() or t in w.case.lower() or t in w.engine.lower()]
    runnable, skipped, failures = bench_cli.partition(workloads)
    times: dict[str, list[float]] = {w.label: [] for w in runnable}
    started = time.perf_counter()

    def one(w: Workload, keep: bool) -> None:
        if w.label in failures:
            return
        n_info = len(w.info)
        try:
            dt = bench_cli.timed(w, keep_gc)
        except Exception as exc:  # noqa: BLE001 - reported in the row
            failures[w.label] = f"{type(exc).__name__}: {exc}"
            if not isinstance(exc, AssertionError):
                say(traceback.format_exc())
            return
        if keep:
            times[w.label].append(dt)
        else:
            del w.info[n_info:]

    for _ in range(sc.warmup):
        for w in runnable:
            one(w, False)
    for rep in range(reps):
        for w in runnable:
            one(w, True)
        say(f"  repetition {rep + 1}/{reps} done ({time.perf_counter() - started:.0f} s)")

    rows: list[dict[str, Any]] = []
    for w in workloads:
        secs = times.get(w.label, [])
        ok = bool(secs) and w.label not in failures
        med = statistics.median(secs) if ok else None
        row: dict[str, Any] = {
            "section": w.section, "case": w.case, "engine": w.engine, "kind": w.kind, "ours": w.ours,
            "unit": w.unit, "n": w.n, "seconds": secs, "median_s": med,
            "min_s": min(secs) if ok else None, "max_s": max(secs) if ok else None,
            "per_s": w.n / med if med else None, "loop_per_s": None, "vs_peer": None,
            "latency_ns": None, "latency_ns_with_order": None,
            "skipped": skipped.get(w.label), "failure": failures.get(w.label),
        }
        if ok and w.info:
            loops = [i["loop_per_s"] for i in w.info if "loop_per_s" in i]
            if loops:
                row["loop_per_s"] = statistics.median(loops)
            for key in ("latency_ns", "latency_ns_with_order"):
                got = [i[key] for i in w.info if key in i]
                if got:
                    row[key] = {p: statistics.median(g[p] for g in got) for p in (*PERCENTILES, "max", "n")}
        rows.append(row)
    for row in rows:
        peer = PEERS.get(row["section"])
        if not row["ours"] or peer is None or row["median_s"] is None:
            continue
        p = next((r for r in rows if r["section"] == row["section"] and r["case"] == row["case"]
                  and r["kind"] == peer and r["median_s"] is not None), None)
        if p is not None:
            row["vs_peer"] = p["median_s"] / row["median_s"]
    return rows


def _rate(per_s: float | None) -> str:
    if per_s is None:
        return ""
    if per_s >= 1e6:
        return f"{per_s / 1e6:,.2f} M"
    return f"{per_s / 1e3:,.1f} k"


def _secs(s: float) -> str:
    return f"{s * 1e3:,.1f} ms" if s < 1 else f"{s:,.2f} s"


def table(rows: list[dict[str, Any]]) -> str:
    """The side-by-side table of :func:`run`'s rows (one block per section)."""
    out: list[str] = []
    sections: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        sections.setdefault(r["section"], []).append(r)
    for section, rs in sections.items():
        peer = PEERS.get(section)
        unit = rs[0]["unit"]
        head = (f"== {section} (median wall time of Backtest(...).run() over the repetitions; {unit}s/s = "
                f"{unit}s / that; loop = nt's event loop alone (stats['events_per_second'])")
        if peer:
            head += f"; vs peer = {peer}'s time / nt's: > 1 means nt is faster"
        out.append(head + ") ==")
        out.append(f"  {'case':<24} {'engine':<66} {'n':>10} {'median':>10} {'min-max':>19} "
                   f"{unit + 's/s':>10} {'loop':>9}  vs peer")
        last_case = None
        for r in rs:
            c = r["case"] if r["case"] != last_case else ""
            last_case = r["case"]
            eng = ("* " if r["ours"] else "  ") + r["engine"]
            if r["failure"]:
                out.append(f"  {c:<24} {eng:<66} {r['n']:>10,} {'FAILED':>10}   {r['failure']}")
                continue
            if r["median_s"] is None:
                why = f"   ({r['skipped']})" if r["skipped"] else ""
                out.append(f"  {c:<24} {eng:<66} {r['n']:>10,} {'skipped':>10}{why}")
                continue
            rng = f"{_secs(r['min_s'])}-{_secs(r['max_s'])}"
            ratio = f"{r['vs_peer']:.2f}x" if r["vs_peer"] is not None else ""
            out.append(f"  {c:<24} {eng:<66} {r['n']:>10,} {_secs(r['median_s']):>10} {rng:>19} "
                       f"{_rate(r['per_s']):>10} {_rate(r['loop_per_s']):>9}  {ratio}")
            for key, what in (("latency_ns", "every event"), ("latency_ns_with_order", "events that sent an order")):
                lat = r.get(key)
                if lat:
                    ps = ", ".join(f"{p} {lat[p] / 1e3:,.2f} us" for p in PERCENTILES)
                    out.append(f"  {'':<24}   probe, {what} ({int(lat['n']):,}): {ps}, max {lat['max'] / 1e3:,.1f} us")
        if section == TickLatency.section:
            out.append("  probe: the engine's processing of one event, from the event leaving the ring buffer to the "
                       "end of its handling")
            out.append("  (orders due executed, portfolio marked, strategy hook run and, on events that sent one, the "
                       "market order matched")
            out.append("  in the order book: fill policy 'close'); steady_clock read twice per event, medians over "
                       "the repetitions")
        out.append("")
    out.append("  (* = neural_trader; every ratio is a ratio of medians measured in the same run)")
    return "\n".join(out)


def targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The issue's targets: each {target, verdict (PASS / MISS / FAIL: a case it needs failed /
    n/a: no figure), value}."""
    find = {(r["section"], r["case"].split()[0], r["kind"]): r for r in rows}
    out: list[dict[str, Any]] = []

    def add(title: str, needed: list[dict[str, Any] | None], ok: bool | None, value: str) -> None:
        bad = [r["engine"] for r in needed if r is not None and r["failure"]]
        verdict = "n/a" if ok is None else ("PASS" if ok else "MISS")
        if bad:
            verdict, value = "FAIL", "wrong result or crash: " + ", ".join(bad)
        out.append({"target": title, "verdict": verdict, "value": value})

    sec = SmaCross.section
    for kind, rate, ratio, name in (("nt", 2e6, 20.0, "built-in MovingAverageCross"),
                                    ("nt-py", 3e5, 3.0, "pure-Python Strategy"),
                                    ("nt-stream", 3e5, 3.0, "Python Strategy + nt.ta.stream.SMA")):
        r = find.get((sec, "synthetic", kind))
        if r is not None:
            v = r["per_s"]
            add(f"{name}: >= {rate / 1e6:g} M bars/s ({r['case']})", [r], None if v is None else v >= rate,
                "no figure" if v is None else f"{v / 1e6:,.2f} M bars/s")
        for case in ("synthetic", "GOOG"):
            r = find.get((sec, case, kind))
            p = find.get((sec, case, "backtesting"))
            if r is None:
                continue
            v = r["vs_peer"]
            add(f"{name}: >= {ratio:g}x backtesting.py ({r['case']})", [r, p], None if v is None else v >= ratio,
                "no figure" if v is None else f"{v:,.1f}x")
    r = find.get((Vectorised.section, "synthetic", "nt"))
    if r is not None:
        for peer in ("vectorbt", "vectorbt+"):
            p = find.get((Vectorised.section, "synthetic", peer))
            ok = None
            value = "no figure"
            if p is not None and r["median_s"] is not None and p["median_s"] is not None:
                ok = r["median_s"] <= 2 * p["median_s"]
                value = f"nt/vectorbt time {r['median_s'] / p['median_s']:.2f}x ({_secs(r['median_s'])} vs {_secs(p['median_s'])})"
            label = "bare" if peer == "vectorbt" else "with value() + trades"
            add(f"from_signals within 2x of vectorbt ({label}): time_nt <= 2 x time_vbt", [r, p], ok, value)
    r = find.get((TickLatency.section, "synthetic", "nt"))
    if r is not None:
        for key, what in (("latency_ns_with_order", "events with an order"), ("latency_ns", "every event")):
            lat = r.get(key)
            add(f"tick-to-order p99 <= 20 us ({what})", [r], None if not lat else lat["p99"] <= 20_000,
                "no figure" if not lat else f"p99 {lat['p99'] / 1e3:,.2f} us")
    return out


def main(argv: list[str] | None = None) -> int:
    """Prints the table for ``argv[0]`` (a scale name; default ``$NT_BENCH_SCALE`` or
    "default"); exit status 1 when a case gave a wrong result or crashed."""
    args = sys.argv[1:] if argv is None else argv
    sc = get_scale(args[0] if args else None)
    rows = run(sc, log=lambda s: print(s, file=sys.stderr))
    print(table(rows))
    for t in targets(rows):
        print(f"  {t['verdict']:<4}  {t['target']:<80} {t['value']}")
    return 1 if any(r["failure"] for r in rows) else 0


if __name__ == "__main__":  # pragma: no cover - manual run
    sys.exit(main())
