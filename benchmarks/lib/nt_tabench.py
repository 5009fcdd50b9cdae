"""Indicator (``nt.ta``) workloads shared by the three benchmark front ends.

``benchmarks/pytest/test_ta_bench.py`` (pytest-benchmark), ``benchmarks/compare_ta.py``
(side-by-side table) and ``benchmarks/asv/bench_ta.py`` (airspeed velocity) all time the workloads
defined here, so the three measure the very same thing.

A workload has three steps, as in ``nt_ringbench``:

``setup()``
    Build (or fetch from the cache) the data, open and warm any streaming handle. Not timed.
``run()``
    Timed. One call of the library under test over the whole input (batch), or the Python loop of
    single-update calls (streaming). Keeps what the library returned.
``finish()``
    Not timed. Checks what came out against a reference computed once, outside every timer (TA-Lib
    where the definitions agree; see each class), and restores global settings (thread count).
    Raises AssertionError when the result is wrong. Idempotent.

Sections (each row of a section is one engine; ``ours`` rows are neural_trader):

``batch``
    One indicator over a 1-D float64 array of ``n_batch`` bars: ``nt.ta.<name>`` vs
    ``talib.<NAME>`` with the same (TA-Lib default) parameters, plus polars context rows
    (``rolling_mean``, ``ewm_mean``) and nt's two extras (``vwap``, ``zscore``) against a polars
    expression and a TA-Lib composite.
``features``
    ``nt.ta.features(bars, spec)`` vs calling TA-Lib for the same five indicators on the numpy
    columns and building a polars DataFrame of the results.
``stream update_many``
    ``nt.ta.stream.SMA(20).update_many(x)`` / EMA vs talipp (``add`` per value, and ``add(list)``)
    and TA-Lib's batch function over the same array (context).
``stream update``
    A Python loop of single ``update(x)`` calls on a warm handle: nt vs TA-Lib 0.8's O(1) stream
    handle (``talib.stream.SMA(history, ...).update(x)``) vs talipp ``add(x)``; and SMA(1000)
    (case ``sma-1000``, nt vs TA-Lib's handle), whose per-update cost must match SMA(20)'s.
``batch 2-D``
    ``nt.ta.rsi`` / ``nt.ta.sma`` over a (symbols x bars) array with ``nt.set_num_threads(2)`` vs
    ``nt.set_num_threads(1)``, and a Python loop of TA-Lib calls over the rows (context).

Fairness rules the workloads follow:

* Every engine gets the very same input arrays (seeded, cached, read-only), C-contiguous float64,
  in the form it takes natively (NumPy for nt and TA-Lib, a polars Series/DataFrame for polars;
  any conversion a user would have to make is inside the timer, zero-copy ones included).
* Each library allocates its outputs as it normally does; nothing is preallocated for anyone.
* Same parameters on both sides, passed explicitly (TA-Lib's defaults unless the issue names
  others).
* Per-update loops iterate over a Python list of floats made before the timer (``tolist()``), bind
  the method to a local first, and keep only the last value returned, for every engine alike.
  Streaming handles are opened and warmed on the same history (untimed) before the loop.
* Slow per-update peers (talipp) may run over fewer updates (a prefix of the same data): a steady
  loop's time per update does not depend on its length. Every row shows its count.
* The garbage collector is off while a call is timed, for every engine alike (front ends).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import sys
from typing import Any

import numpy as np

import bench_workload

SEED = 20_240_601  #: the seed of every random walk here
TOL_RTOL = 1e-9  #: |got - ref| <= TOL_ATOL + TOL_RTOL * |ref| where the definitions agree
TOL_ATOL = 1e-9
HISTORY = 100  #: bars a streaming handle is opened/warmed on before a timed update loop


# --------------------------------------------------------------------------------------------------
# scales


@dataclasses.dataclass(frozen=True)
class Scale:
    name: str
    n_batch: int  #: bars per 1-D batch call (the issue: 1,000,000)
    n_features: int  #: bars in the features() frame (the issue: 1,000,000)
    n_many: int  #: values per update_many call
    n_update: int  #: single update() calls per loop (nt, TA-Lib handle)
    n_talipp: int  #: talipp add() calls per loop (a prefix of the same values)
    n_symbols: int  #: rows of the 2-D batch (the issue: 500)
    n_bars2d: int  #: columns of the 2-D batch (the issue: 10,000)
    reps: int  #: timed repetitions (rounds) per case
    warmup: int  #: untimed rounds before them (pytest-benchmark)


SCALES: dict[str, Scale] = {
    # CI: every case runs and is checked in a few seconds; timings are meaningless
    "smoke": Scale("smoke", 5_000, 5_000, 5_000, 2_000, 1_000, 8, 1_000, 1, 0),
    # the sizes the targets are stated for
    "default": Scale("default", 1_000_000, 1_000_000, 1_000_000, 200_000, 50_000, 500, 10_000, 5, 1),
    "full": Scale("full", 1_000_000, 1_000_000, 4_000_000, 1_000_000, 200_000, 500, 10_000, 11, 1),
}


def get_scale(name: str | None = None) -> Scale:
    """The scale called ``name``, else ``$NT_BENCH_SCALE``, else "default"."""
    name = name or os.environ.get("NT_BENCH_SCALE") or "default"
    try:
        return SCALES[name]
    except KeyError:
        raise ValueError(f"unknown benchmark scale {name!r}; choose one of {', '.join(SCALES)}") from None


# --------------------------------------------------------------------------------------------------
# what is installed


Unavailable = bench_workload.Unavailable


def _import_nt_ta() -> Any:
    """``neural_trader.ta``, or Unavailable when the module does not exist (yet).

    Any other import failure (a broken build, an error inside the module) propagates: something
    that exists and fails is a failure, not a skip."""
    try:
        import neural_trader.ta as ta  # noqa: PLR0402 - its ModuleNotFoundError names the module
    except ModuleNotFoundError as exc:
        if exc.name in ("neural_trader.ta", "neural_trader"):
            raise Unavailable(f"{exc.name} is not importable ({exc})") from None
        raise
    return ta


@functools.lru_cache(maxsize=1)
def nt_ta_status() -> str | None:
    """None when ``neural_trader.ta`` imports, else why not (only for a missing module)."""
    try:
        _import_nt_ta()
    except Unavailable as exc:
        return str(exc)
    return None


def nt_ta() -> Any:
    return _import_nt_ta()


def nt_attr(path: str) -> Any:
    """``nt.ta.<path>`` (dotted, e.g. "stream.SMA"), or Unavailable naming what is missing."""
    obj = nt_ta()
    done = "nt.ta"
    for part in path.split("."):
        if not hasattr(obj, part):
            raise Unavailable(f"{done}.{part} does not exist (yet)")
        obj = getattr(obj, part)
        done += "." + part
    return obj


def _try_import(name: str) -> Any | None:
    try:
        return __import__(name, fromlist=["_"])
    except Exception:  # noqa: BLE001 - any failure to import means "not available"
        return None


@functools.cache
def have(module: str) -> bool:
    """Whether ``module`` ("talib", "talib.stream", "talipp", "polars", "pandas") imports."""
    return _try_import(module) is not None


def need(module: str, what: str) -> Any:
    mod = _try_import(module)
    if mod is None:
        hint = {"talib": "pip install ta-lib", "talib.stream": "pip install 'ta-lib>=0.8'",
                "talipp": "pip install talipp", "polars": "pip install polars"}.get(module, "")
        raise Unavailable(f"{module} is not importable: {what} is skipped ({hint})")
    return mod


# --------------------------------------------------------------------------------------------------
# data


@functools.lru_cache(maxsize=4)
def make_ohlcv(n: int, seed: int = SEED) -> dict[str, np.ndarray]:
    """``n`` bars of a seeded geometric random walk: ts, open, high, low, close, volume.

    Consistent bars: high >= max(open, close), low <= min(open, close), volume > 0, all prices
    > 0. Every array is C-contiguous float64 (ts int64 ns) and read-only (the dict is cached)."""
    rng = np.random.default_rng(seed)
    r = rng.standard_normal((4, n))
    close = 100.0 * np.exp(np.cumsum(0.001 * r[0]))
    open_ = np.empty(n)
    open_[0] = 100.0
    open_[1:] = close[:-1]
    open_ *= np.exp(0.0002 * r[1])
    high = np.maximum(open_, close) * (1.0 + 0.0005 * np.abs(r[2]))
    low = np.minimum(open_, close) * (1.0 - 0.0005 * np.abs(r[3]))
    volume = np.round(1_000.0 * np.exp(0.5 * rng.standard_normal(n))) + 1.0
    ts = 1_700_000_000_000_000_000 + np.arange(n, dtype=np.int64) * 60_000_000_000
    out = {"ts": ts, "open": open_, "high": high, "low": low, "close": close, "volume": volume}
    for a in out.values():
        a.flags.writeable = False
    assert np.all(high >= np.maximum(open_, close)) and np.all(low <= np.minimum(open_, close))
    assert np.all(volume > 0) and np.all(low > 0)
    return out


@functools.lru_cache(maxsize=2)
def make_2d(n_symbols: int, n_bars: int, seed: int = SEED + 1) -> np.ndarray:
    """(n_symbols, n_bars) C-contiguous float64: one independent random walk per row."""
    rng = np.random.default_rng(seed)
    x = 100.0 * np.exp(np.cumsum(0.001 * rng.standard_normal((n_symbols, n_bars)), axis=1))
    x.flags.writeable = False
    return x


@functools.lru_cache(maxsize=2)
def make_bars_frame(n: int) -> Any:
    """The ``make_ohlcv(n)`` bars as a polars DataFrame (ts int64 ns, as ``nt.to_polars`` gives)."""
    pl = need("polars", "features")
    d = make_ohlcv(n)
    return pl.DataFrame({k: d[k] for k in ("ts", "open", "high", "low", "close", "volume")})


# --------------------------------------------------------------------------------------------------
# checks


def _as_f64(a: Any) -> np.ndarray:
    if hasattr(a, "to_numpy"):  # polars / pandas Series
        a = a.to_numpy()
    return np.asarray(a, dtype=np.float64)


def check_close(got: Any, ref: Any, what: str, rtol: float = TOL_RTOL, atol: float = TOL_ATOL) -> None:
    """``got`` equals ``ref``: same shape, NaN in the same places, elsewhere within atol + rtol*|ref|."""
    g, r = _as_f64(got), _as_f64(ref)
    assert g.shape == r.shape, f"{what}: shape {g.shape} != reference {r.shape}"
    gn, rn = np.isnan(g), np.isnan(r)
    if not np.array_equal(gn, rn):
        i = int(np.flatnonzero((gn != rn).ravel())[0])
        raise AssertionError(f"{what}: NaN pattern differs from the reference first at flat index {i} "
                             f"(got {float(g.ravel()[i])!r}, reference {float(r.ravel()[i])!r}); "
                             f"{int(gn.sum())} NaN vs {int(rn.sum())} in the reference")
    with np.errstate(invalid="ignore"):
        bad = ~rn & ~(np.abs(g - r) <= atol + rtol * np.abs(r)) & ~(g == r)
    if bad.any():
        i = int(np.flatnonzero(bad.ravel())[0])
        raise AssertionError(f"{what}: {int(bad.sum())} values differ from the reference beyond "
                             f"{rtol:g} rel + {atol:g} abs, first at flat index {i}: "
                             f"got {float(g.ravel()[i])!r}, reference {float(r.ravel()[i])!r}")


def check_outputs(got: Any, ref: tuple[np.ndarray, ...], what: str, **tol: float) -> None:
    """A single array or a tuple of arrays against the tuple ``ref``."""
    got_t = tuple(got) if isinstance(got, (tuple, list)) else (got,)
    assert len(got_t) == len(ref), f"{what}: {len(got_t)} outputs, expected {len(ref)}"
    for k, (g, r) in enumerate(zip(got_t, ref)):
        check_close(g, r, f"{what} output {k}" if len(ref) > 1 else what, **tol)


def check_scalar(got: Any, ref: float, what: str, rtol: float = TOL_RTOL, atol: float = TOL_ATOL) -> None:
    g = float(got)
    if math.isnan(ref):
        assert math.isnan(g), f"{what}: got {g!r}, reference NaN"
        return
    assert abs(g - ref) <= atol + rtol * abs(ref), f"{what}: got {g!r}, reference {ref!r}"


# --------------------------------------------------------------------------------------------------
# workload base


class Workload(bench_workload.Workload):
    """One timed case (the protocol is bench_workload.Workload's)."""

    section = ""  #: table section, e.g. "batch"
    case = ""  #: what is computed, e.g. "sma" (rows of one case are compared with each other)
    engine = ""  #: row label, e.g. "nt.ta.sma"
    unit = "element"  #: what n counts: "element" (input values) or "update" (update calls)


# --------------------------------------------------------------------------------------------------
# (1) batch, 1-D


@dataclasses.dataclass(frozen=True)
class Indicator:
    name: str  #: nt.ta name; TA-Lib's is name.upper()
    inputs: tuple[str, ...]  #: OHLCV columns, in TA-Lib's order
    params: dict[str, Any]  #: passed explicitly, by name, to both
    n_out: int = 1


# every indicator of the issue that TA-Lib has, with TA-Lib's default parameters (those of the
# installed TA-Lib, ``talib.abstract.Function(NAME).parameters``), passed explicitly to both sides
INDICATORS: list[Indicator] = [
    Indicator("sma", ("close",), {"timeperiod": 30}),
    Indicator("ema", ("close",), {"timeperiod": 30}),
    Indicator("wma", ("close",), {"timeperiod": 30}),
    Indicator("dema", ("close",), {"timeperiod": 30}),
    Indicator("tema", ("close",), {"timeperiod": 30}),
    Indicator("kama", ("close",), {"timeperiod": 30}),
    Indicator("rsi", ("close",), {"timeperiod": 14}),
    Indicator("macd", ("close",), {"fastperiod": 12, "slowperiod": 26, "signalperiod": 9}, 3),
    # TA-Lib 0.8's BBANDS default timeperiod is 20 (TA-Lib C's was 5); 20 is also the usual one
    Indicator("bbands", ("close",), {"timeperiod": 20, "nbdevup": 2.0, "nbdevdn": 2.0, "matype": 0}, 3),
    Indicator("stddev", ("close",), {"timeperiod": 5, "nbdev": 1.0}),
    Indicator("var", ("close",), {"timeperiod": 5, "nbdev": 1.0}),
    Indicator("atr", ("high", "low", "close"), {"timeperiod": 14}),
    Indicator("natr", ("high", "low", "close"), {"timeperiod": 14}),
    Indicator("trange", ("high", "low", "close"), {}),
    Indicator("stoch", ("high", "low", "close"), {"fastk_period": 5, "slowk_period": 3, "slowk_matype": 0,
                                                 "slowd_period": 3, "slowd_matype": 0}, 2),
    Indicator("stochf", ("high", "low", "close"),
              {"fastk_period": 5, "fastd_period": 3, "fastd_matype": 0}, 2),
    Indicator("willr", ("high", "low", "close"), {"timeperiod": 14}),
    Indicator("cci", ("high", "low", "close"), {"timeperiod": 14}),
    Indicator("adx", ("high", "low", "close"), {"timeperiod": 14}),
    Indicator("plus_di", ("high", "low", "close"), {"timeperiod": 14}),
    Indicator("minus_di", ("high", "low", "close"), {"timeperiod": 14}),
    Indicator("aroon", ("high", "low"), {"timeperiod": 14}, 2),
    Indicator("obv", ("close", "volume"), {}),
    Indicator("mfi", ("high", "low", "close", "volume"), {"timeperiod": 14}),
    Indicator("roc", ("close",), {"timeperiod": 10}),
    Indicator("mom", ("close",), {"timeperiod": 10}),
]
BY_NAME = {ind.name: ind for ind in INDICATORS}
EXTRA_PERIOD = 20  #: timeperiod of the extras vwap and zscore


def _tuple(out: Any) -> tuple[np.ndarray, ...]:
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


@functools.lru_cache(maxsize=64)
def talib_reference(name: str, n: int) -> tuple[np.ndarray, ...]:
    """TA-Lib's outputs for indicator ``name`` over ``make_ohlcv(n)``: computed once, untimed."""
    talib = need("talib", "the TA-Lib reference")
    ind = BY_NAME[name]
    d = make_ohlcv(n)
    out = _tuple(getattr(talib, name.upper())(*(d[k] for k in ind.inputs), **ind.params))
    for a in out:
        a.flags.writeable = False
    return out


#: The indicators whose 1-D batch nt splits across threads on long series (each output depends
#: on a window of inputs only; a recursion that forgets its start, split speculatively and
#: checked; running sums refreshed from the window on a schedule; see nt.ta's module
#: docstring): their table has an "nt-1" row.
SPLIT_CASES = ("trange", "willr", "cci", "aroon", "roc", "mom",
               "ema", "dema", "tema", "macd", "rsi", "atr", "natr", "plus_di", "minus_di", "adx",
               "wma", "var", "stddev")


def batch_engines(name: str) -> tuple[str, ...]:
    """BatchTA's engines for indicator ``name``: "nt" and "talib", and "nt-1" for SPLIT_CASES."""
    return BatchTA.ENGINES if name in SPLIT_CASES else ("nt", "talib")


class BatchTA(Workload):
    """One indicator over 1-D float64 arrays: ``nt.ta.<name>`` or ``talib.<NAME>``; for
    SPLIT_CASES also ``nt.ta.<name>`` with ``nt.set_num_threads(1)`` ("nt-1", context: the
    default row may use both cores, TA-Lib uses one; the count is set in setup and restored in
    finish, both untimed).

    Checked: nt against TA-Lib within 1e-9 rel + 1e-9 abs (NaN look-back included); the timed
    TA-Lib call against the TA-Lib reference computed outside the timer."""

    section = "batch"
    ENGINES = ("nt", "talib", "nt-1")

    def __init__(self, n: int, name: str, engine: str) -> None:
        super().__init__(n)
        assert engine in self.ENGINES
        assert engine != "nt-1" or name in SPLIT_CASES
        self.ind = BY_NAME[name]
        self.case = name
        self.ours = engine == "nt"
        self.engine = {"nt": f"nt.ta.{name}", "talib": f"talib.{name.upper()}",
                       "nt-1": f"nt.ta.{name}, set_num_threads(1) (context)"}[engine]
        self.kind = engine
        self.one_thread = False

    def _resolve(self) -> None:
        need("talib", f"the TA-Lib reference of {self.case}")
        if self.kind == "talib":
            self.fn = getattr(need("talib", "the TA-Lib peer"), self.case.upper())
        else:
            self.fn = nt_attr(self.case)
            import neural_trader as nt

            self.nt = nt

    def _setup(self) -> None:
        d = make_ohlcv(self.n)
        self.args = tuple(d[k] for k in self.ind.inputs)
        self.kwargs = dict(self.ind.params)
        self.ref = talib_reference(self.case, self.n)
        if self.kind == "nt-1":
            self.nt.set_num_threads(1)
            self.one_thread = True

    def run(self) -> None:
        self.out = self.fn(*self.args, **self.kwargs)

    def _check(self) -> None:
        check_outputs(self.out, self.ref, self.label)

    def _release(self) -> None:
        self.out = None
        if self.one_thread:
            self.nt.set_num_threads(0)  # the default (all cores)
            self.one_thread = False


class PolarsContext(Workload):
    """polars' (or pandas') own rolling kernels on a Series, as context for ``sma`` and ``ema``.

    ``which``: "rolling_mean" / "ewm_mean" (polars), "pandas-rolling_mean" / "pandas-ewm_mean".
    The rolling mean over 30 is checked against TA-Lib's SMA(30) within 1e-9 (nulls as NaN).
    The ewm mean (span=30, adjust=False, at least 30 values) seeds with the first value where
    TA-Lib seeds EMA with the SMA of the first 30: the values agree only once the seed has decayed,
    so it is checked against TA-Lib's EMA(30) over the bars after the first 3,000
    ((29/31)^3000 ~ 1e-87)."""

    section = "batch"
    LABELS = {
        "rolling_mean": "polars Series.rolling_mean(30)",
        "ewm_mean": "polars Series.ewm_mean(span=30, adjust=False)",
        "pandas-rolling_mean": "pandas Series.rolling(30).mean()",
        "pandas-ewm_mean": "pandas Series.ewm(span=30, adjust=False).mean()",
    }

    def __init__(self, n: int, which: str) -> None:
        super().__init__(n)
        assert which in self.LABELS
        self.which = which
        self.lib = "pandas" if which.startswith("pandas-") else "polars"
        self.case = "sma" if which.endswith("rolling_mean") else "ema"
        self.engine = self.LABELS[which]

    def _resolve(self) -> None:
        need(self.lib, self.engine)
        need("talib", "the TA-Lib reference")

    def _setup(self) -> None:
        mod = need(self.lib, self.engine)
        self.s = mod.Series(make_ohlcv(self.n)["close"], name="close") if self.lib == "pandas" \
            else mod.Series("close", make_ohlcv(self.n)["close"])
        self.ref = talib_reference(self.case, self.n)[0]

    def run(self) -> None:
        s = self.s
        if self.which == "rolling_mean":
            self.out = s.rolling_mean(30)
        elif self.which == "ewm_mean":
            self.out = s.ewm_mean(span=30, adjust=False, min_samples=30)
        elif self.which == "pandas-rolling_mean":
            self.out = s.rolling(30).mean()
        else:
            self.out = s.ewm(span=30, adjust=False, min_periods=30).mean()

    def _check(self) -> None:
        got = _as_f64(self.out)  # nulls -> NaN
        if self.case == "sma":
            check_close(got, self.ref, self.label)
        else:
            skip = min(3_000, self.n)
            assert len(got) == self.n, f"{self.label}: length {len(got)}"
            check_close(got[skip:], self.ref[skip:], self.label + " (after the seed has decayed)")


# nt's two extras: rolling VWAP and rolling z-score (TA-Lib lacks both)


@functools.lru_cache(maxsize=8)
def extra_reference(name: str, n: int) -> np.ndarray:
    """The extras computed in plain NumPy, each window summed directly (two-pass, untimed).

    vwap[t] = sum(close*volume over the last 20 bars) / sum(volume over them);
    zscore[t] = (x[t] - mean) / stddev over the last 20 bars, population stddev (ddof=0, as TA-Lib's
    STDDEV); NaN for the first 19 bars."""
    d = make_ohlcv(n)
    p = EXTRA_PERIOD
    out = np.full(n, np.nan)
    if n >= p:
        if name == "vwap":
            pv = np.lib.stride_tricks.sliding_window_view(d["close"] * d["volume"], p).sum(axis=1)
            v = np.lib.stride_tricks.sliding_window_view(d["volume"], p).sum(axis=1)
            out[p - 1 :] = pv / v
        else:
            w = np.lib.stride_tricks.sliding_window_view(d["close"], p)
            out[p - 1 :] = (d["close"][p - 1 :] - w.mean(axis=1)) / w.std(axis=1)
    out.flags.writeable = False
    return out


EXTRA_TOL = {"vwap": (TOL_RTOL, TOL_ATOL), "zscore": (TOL_RTOL, TOL_ATOL)}
"""Tolerances of the extras against the direct reference: the same 1e-9 rel + 1e-9 abs as
everywhere (over 1,000,000 bars the polars expression and the TA-Lib composite stay within
~1e-10 of a long-double two-pass computation, the NumPy reference within ~1e-12)."""


class BatchExtra(Workload):
    """nt's extras against peers: ``vwap`` (close, volume, 20) and ``zscore`` (close, 20).

    engines: "nt" (``nt.ta.vwap`` / ``nt.ta.zscore``), "polars" (one expression over a DataFrame
    built before the timer), "talib" (a TA-Lib composite: SUM(p*v)/SUM(v); (x - SMA)/STDDEV)."""

    section = "batch"

    def __init__(self, n: int, name: str, engine: str) -> None:
        super().__init__(n)
        assert name in ("vwap", "zscore") and engine in ("nt", "polars", "talib")
        self.case, self.kind = name, engine
        self.ours = engine == "nt"
        p = EXTRA_PERIOD
        self.engine = {
            ("vwap", "nt"): f"nt.ta.vwap(close, volume, {p})",
            ("vwap", "polars"): f"polars (c*v).rolling_sum({p}) / v.rolling_sum({p})",
            ("vwap", "talib"): f"talib.SUM(c*v, {p}) / talib.SUM(v, {p})",
            ("zscore", "nt"): f"nt.ta.zscore(close, {p})",
            ("zscore", "polars"): f"polars (c - c.rolling_mean({p})) / c.rolling_std({p}, ddof=0)",
            ("zscore", "talib"): f"(c - talib.SMA(c, {p})) / talib.STDDEV(c, {p})",
        }[(name, engine)]

    def _resolve(self) -> None:
        if self.kind == "nt":
            self.fn = nt_attr(self.case)
        elif self.kind == "polars":
            need("polars", self.engine)
        else:
            need("talib", self.engine)

    def _setup(self) -> None:
        d = make_ohlcv(self.n)
        self.c, self.v = d["close"], d["volume"]
        self.ref = extra_reference(self.case, self.n)
        if self.kind == "polars":
            pl = need("polars", self.engine)
            self.df = pl.DataFrame({"c": self.c, "v": self.v})
            c, v, p = pl.col("c"), pl.col("v"), EXTRA_PERIOD
            if self.case == "vwap":
                self.expr = ((c * v).rolling_sum(p) / v.rolling_sum(p)).alias(self.case)
            else:
                self.expr = ((c - c.rolling_mean(p)) / c.rolling_std(p, ddof=0)).alias(self.case)
        elif self.kind == "talib":
            self.talib = need("talib", self.engine)

    def run(self) -> None:
        p = EXTRA_PERIOD
        if self.kind == "nt":
            if self.case == "vwap":
                self.out = self.fn(self.c, self.v, timeperiod=p)
            else:
                self.out = self.fn(self.c, timeperiod=p)
        elif self.kind == "polars":
            self.out = self.df.select(self.expr).to_series()
        else:
            ta = self.talib
            if self.case == "vwap":
                self.out = ta.SUM(self.c * self.v, p) / ta.SUM(self.v, p)
            else:
                self.out = (self.c - ta.SMA(self.c, p)) / ta.STDDEV(self.c, p, 1.0)

    def _check(self) -> None:
        rtol, atol = EXTRA_TOL[self.case]
        check_close(self.out, self.ref, self.label, rtol=rtol, atol=atol)


def batch_geomean_cases() -> list[str]:
    """The indicators whose talib/nt ratios enter the issue's geometric-mean target."""
    return [ind.name for ind in INDICATORS]


# --------------------------------------------------------------------------------------------------
# (2) features


FEATURE_SPEC = ["sma:20", "ema:12", "rsi:14", "macd:12:26:9", "bbands:20:2"]
# the TA-Lib calls that compute FEATURE_SPEC, in order, with their output names
FEATURE_CALLS: list[tuple[str, dict[str, Any], tuple[str, ...]]] = [
    ("SMA", {"timeperiod": 20}, ("sma_20",)),
    ("EMA", {"timeperiod": 12}, ("ema_12",)),
    ("RSI", {"timeperiod": 14}, ("rsi_14",)),
    ("MACD", {"fastperiod": 12, "slowperiod": 26, "signalperiod": 9},
     ("macd_12_26_9", "macd_12_26_9_signal", "macd_12_26_9_hist")),
    ("BBANDS", {"timeperiod": 20, "nbdevup": 2.0, "nbdevdn": 2.0, "matype": 0},
     ("bbands_20_2_upper", "bbands_20_2_middle", "bbands_20_2_lower")),
]


@functools.lru_cache(maxsize=2)
def features_reference(n: int) -> tuple[np.ndarray, ...]:
    """The nine TA-Lib output columns of FEATURE_SPEC over the close column (untimed)."""
    talib = need("talib", "the features reference")
    close = make_ohlcv(n)["close"]
    cols: list[np.ndarray] = []
    for fname, kw, _ in FEATURE_CALLS:
        cols += _tuple(getattr(talib, fname)(close, **kw))
    return tuple(cols)


@functools.lru_cache(maxsize=2)
def nt_feature_layout(n_probe: int = 200) -> tuple[tuple[str, ...], bool]:
    """(feature column names in nt's order, whether nt's frame starts with the ``ts`` column).

    Taken from ``nt.ta.features`` on a short frame, so the TA-Lib peer builds a frame with the
    very same columns. Falls back to FEATURE_CALLS' names when nt has no ``features``."""
    try:
        feat = nt_attr("features")
    except Unavailable:
        return tuple(c for _, _, names in FEATURE_CALLS for c in names), False
    cols = list(feat(make_bars_frame(n_probe), FEATURE_SPEC).columns)
    with_ts = bool(cols) and cols[0] == "ts"
    names = tuple(c for c in cols if c != "ts")
    return names, with_ts


class Features(Workload):
    """``nt.ta.features(bars, FEATURE_SPEC)`` vs TA-Lib on the numpy columns + a polars frame.

    The peer takes ``bars["close"].to_numpy()`` (zero-copy) inside the timer, calls TA-Lib's
    SMA, EMA, RSI, MACD and BBANDS, and builds a ``polars.DataFrame`` with the same columns as
    nt's result (names and order taken from nt, ``ts`` included when nt includes it). Both
    frames are checked column by column against TA-Lib's outputs (nt within 1e-9).

    nt runs its features in parallel threads by default (``nt.get_num_threads()``); TA-Lib runs
    on one. The "nt-1" row (``num_threads=1``) shows what the threads contribute."""

    section = "features"
    case = "features(" + ", ".join(FEATURE_SPEC) + ")"

    LABELS = {"nt": "nt.ta.features(bars, spec)",
              "nt-1": "nt.ta.features(bars, spec, num_threads=1) (context)",
              "talib": "talib x5 on bars[col].to_numpy() + pl.DataFrame"}

    def __init__(self, n: int, engine: str) -> None:
        super().__init__(n)
        assert engine in self.LABELS
        self.kind = engine
        self.ours = engine == "nt"
        self.engine = self.LABELS[engine]

    def _resolve(self) -> None:
        need("polars", "features")
        self.talib = need("talib", "the features reference")
        if self.kind.startswith("nt"):
            self.fn = nt_attr("features")
        if self.kind == "nt-1":
            import inspect

            if "num_threads" not in inspect.signature(self.fn).parameters:
                raise Unavailable("nt.ta.features has no num_threads argument")

    def _setup(self) -> None:
        self.bars = make_bars_frame(self.n)
        self.ref = features_reference(self.n)
        self.names, self.with_ts = nt_feature_layout()
        assert len(self.names) == len(self.ref), (
            f"{self.label}: nt.ta.features gives {len(self.names)} feature columns {self.names}, "
            f"expected {len(self.ref)} (sma, ema, rsi, macd x3, bbands x3)")

    def run(self) -> None:
        if self.kind == "nt":
            self.out = self.fn(self.bars, FEATURE_SPEC)
            return
        if self.kind == "nt-1":
            self.out = self.fn(self.bars, FEATURE_SPEC, num_threads=1)
            return
        import polars as pl

        ta, bars = self.talib, self.bars
        close = bars["close"].to_numpy()
        res: list[np.ndarray] = []
        for fname, kw, _ in FEATURE_CALLS:
            r = getattr(ta, fname)(close, **kw)
            if isinstance(r, tuple):
                res.extend(r)
            else:
                res.append(r)
        cols: dict[str, Any] = {"ts": bars["ts"]} if self.with_ts else {}
        cols.update(zip(self.names, res))
        self.out = pl.DataFrame(cols)

    def _check(self) -> None:
        df = self.out
        assert df.height == self.n, f"{self.label}: {df.height} rows, expected {self.n}"
        names = [c for c in df.columns if c != "ts"]
        assert tuple(names) == self.names, f"{self.label}: columns {names}, expected {list(self.names)}"
        for name, ref in zip(self.names, self.ref):
            check_close(df[name].to_numpy(), ref, f"{self.label} column {name}")


# --------------------------------------------------------------------------------------------------
# (3) streaming


STREAM_PERIOD = {"sma": 20, "ema": 20, "rsi": 14}
LONG_WINDOW = 1000  #: the period of the ``sma-1000`` update case (per-update cost must not grow with it)


def stream_case(case: str) -> tuple[str, int, int]:
    """``"sma"`` -> (indicator, its STREAM_PERIOD, HISTORY); ``"sma-1000"`` -> ("sma", 1000, a
    history long enough to fill the window)."""
    name, _, period = case.partition("-")
    if name not in STREAM_PERIOD:
        raise ValueError(f"unknown streaming case {case!r}")
    p = int(period) if period else STREAM_PERIOD[name]
    return name, p, max(HISTORY, p + HISTORY)


@functools.lru_cache(maxsize=8)
def stream_values(n: int, history: int = HISTORY) -> tuple[np.ndarray, list[float]]:
    """The ``history + n`` closes a streaming case feeds (array, and the last n as Python floats)."""
    close = make_ohlcv(history + n, seed=SEED + 2)["close"]
    return close, close[history:].tolist()


@functools.lru_cache(maxsize=16)
def stream_reference(case: str, n: int) -> np.ndarray:
    """TA-Lib's batch output over all history + ``n`` values of a case (untimed)."""
    talib = need("talib", "the streaming reference")
    name, p, history = stream_case(case)
    x, _ = stream_values(n, history)
    out = getattr(talib, name.upper())(x, timeperiod=p)
    out.flags.writeable = False
    return out


def _talipp_indicator(name: str, period: int | None = None) -> Any:
    ti = need("talipp.indicators", "the talipp peer")
    return getattr(ti, name.upper())(STREAM_PERIOD[name] if period is None else period)


def _talipp_last(ind: Any) -> float:
    v = ind[-1]
    return math.nan if v is None else float(v)


class StreamMany(Workload):
    """Many updates in one call, SMA(20) / EMA(20) over ``n`` values.

    engines: "nt" (``nt.ta.stream.X(p).update_many(x)`` on a fresh handle), "talipp-add"
    (``X(p).add(v)`` per value in a Python loop), "talipp-list" (``X(p).add(list_of_values)``),
    "talib-batch" (``talib.X(x, p)``, context: the batch function over the same array).
    Checked: every output of update_many against TA-Lib's batch values (1e-9); talipp's last
    value and length."""

    section = "stream update_many"
    unit = "update"
    LABELS = {"nt": "nt.ta.stream.{N}({p}).update_many(x)", "talipp-add": "talipp {N}({p}).add(v) per value",
              "talipp-list": "talipp {N}({p}).add(list)", "talib-batch": "talib.{N}(x, {p}) (batch, context)"}

    def __init__(self, n: int, name: str, engine: str) -> None:
        super().__init__(n)
        assert name in ("sma", "ema") and engine in self.LABELS
        self.case, self.kind = name, engine
        self.ours = engine == "nt"
        self.engine = self.LABELS[engine].format(N=name.upper(), p=STREAM_PERIOD[name])

    def _resolve(self) -> None:
        need("talib", "the streaming reference")
        if self.kind == "nt":
            self.cls = nt_attr("stream." + self.case.upper())
        elif self.kind.startswith("talipp"):
            need("talipp.indicators", self.engine)

    def _setup(self) -> None:
        x, vals = stream_values(self.n)
        self.x = np.ascontiguousarray(x[HISTORY:])
        self.vals = vals
        # the reference over these values alone (no history): a fresh handle sees only these
        talib_fn = getattr(need("talib", "the streaming reference"), self.case.upper())
        self.ref_fresh = talib_fn(self.x, timeperiod=STREAM_PERIOD[self.case])
        p = STREAM_PERIOD[self.case]
        if self.kind == "nt":
            self.h = self.cls(p)
        elif self.kind.startswith("talipp"):
            self.h = _talipp_indicator(self.case)
        else:
            self.fn = getattr(need("talib", "peer"), self.case.upper())

    def run(self) -> None:
        if self.kind == "nt":
            self.out = self.h.update_many(self.x)
        elif self.kind == "talipp-add":
            add = self.h.add
            for v in self.vals:
                add(v)
        elif self.kind == "talipp-list":
            self.h.add(self.vals)
        else:
            self.out = self.fn(self.x, timeperiod=STREAM_PERIOD[self.case])

    def _check(self) -> None:
        if self.kind.startswith("talipp"):
            assert len(self.h) == self.n, f"{self.label}: {len(self.h)} outputs, expected {self.n}"
            check_scalar(_talipp_last(self.h), float(self.ref_fresh[-1]), self.label + " last value")
        else:
            check_close(self.out, self.ref_fresh, self.label)
            if self.kind == "nt":
                check_scalar(self.h.value, float(self.ref_fresh[-1]), self.label + " .value")

    def _release(self) -> None:
        self.out = None
        self.h = None


class StreamUpdate(Workload):
    """A Python loop of single updates on a warm handle: SMA(20), EMA(20), RSI(14), and
    SMA(1000) (case ``sma-1000``: an update's cost must not grow with the window).

    Every engine's handle is opened/warmed on the same ``HISTORY`` (100) bars (period + 100 for
    ``sma-1000``), untimed, then the loop feeds ``n`` more values one call each, keeping the last
    value returned:

    * "nt": ``h = nt.ta.stream.X(p); h.update_many(history)``; timed ``for v in vals: r = h.update(v)``
    * "talib": TA-Lib 0.8's O(1) handle, ``h = talib.stream.X(history, timeperiod=p)``; timed
      ``for v in vals: r = h.update(v)`` (how its docs say a live feed uses it; the handle keeps
      no growing array)
    * "talipp": ``h = talipp X(p); h.add(history)``; timed ``for v in vals: h.add(v)`` (talipp
      returns nothing from add; it appends to its output list, which the loop leaves alone)

    Checked: the last value equals TA-Lib's batch value over history + values (1e-9)."""

    section = "stream update"
    unit = "update"
    LABELS = {"nt": "nt.ta.stream.{N}({p}).update(v)", "talib": "talib.stream.{N}(hist, {p}).update(v)",
              "talipp": "talipp {N}({p}).add(v)"}

    def __init__(self, n: int, name: str, engine: str) -> None:
        super().__init__(n)
        assert engine in self.LABELS
        self.ind, self.period, self.history = stream_case(name)
        self.case, self.kind = name, engine
        self.ours = engine == "nt"
        self.engine = self.LABELS[engine].format(N=self.ind.upper(), p=self.period)

    def _resolve(self) -> None:
        need("talib", "the streaming reference")
        if self.kind == "nt":
            self.cls = nt_attr("stream." + self.ind.upper())
        elif self.kind == "talib":
            self.stream = need("talib.stream", self.engine)
            if not hasattr(self.stream.SMA, "update"):
                raise Unavailable(f"talib.stream has no O(1) handles (TA-Lib < 0.8): {self.engine} skipped")
        else:
            need("talipp.indicators", self.engine)

    def _setup(self) -> None:
        x, self.vals = stream_values(self.n, self.history)
        hist = np.ascontiguousarray(x[:self.history])
        p = self.period
        self.ref = float(stream_reference(self.case, self.n)[-1])
        self.last: Any = None
        if self.kind == "nt":
            self.h = self.cls(p)
            self.h.update_many(hist)
        elif self.kind == "talib":
            self.h = getattr(self.stream, self.ind.upper())(hist, timeperiod=p)
        else:
            self.h = _talipp_indicator(self.ind, p)
            self.h.add(hist.tolist())

    def run(self) -> None:
        r = None
        if self.kind == "talipp":
            add = self.h.add
            for v in self.vals:
                add(v)
        else:
            update = self.h.update
            for v in self.vals:
                r = update(v)
        self.last = r

    def _check(self) -> None:
        if self.kind == "talipp":
            assert len(self.h) == self.history + self.n, f"{self.label}: {len(self.h)} outputs"
            check_scalar(_talipp_last(self.h), self.ref, self.label + " last value")
        else:
            check_scalar(self.last, self.ref, self.label + " last value returned")
            check_scalar(self.h.value, self.ref, self.label + " .value")

    def _release(self) -> None:
        self.h = None


# --------------------------------------------------------------------------------------------------
# (4) 2-D batch


PERIOD_2D = {"rsi": 14, "sma": 30}


@functools.lru_cache(maxsize=4)
def reference_2d(name: str, n_symbols: int, n_bars: int) -> np.ndarray:
    """TA-Lib row by row over ``make_2d`` (untimed)."""
    talib = need("talib", "the 2-D reference")
    x = make_2d(n_symbols, n_bars)
    fn = getattr(talib, name.upper())
    out = np.stack([fn(row, timeperiod=PERIOD_2D[name]) for row in x])
    out.flags.writeable = False
    return out


class Batch2D(Workload):
    """``nt.ta.<name>(x2d)`` over (symbols x bars) with ``nt.set_num_threads(k)``, k = 1 or 2;
    or a Python loop of ``talib.<NAME>(row)`` over the rows (context). The thread count is set
    in setup and restored in finish (both untimed). Checked against TA-Lib row by row (1e-9)."""

    section = "batch 2-D"
    unit = "element"

    def __init__(self, n_symbols: int, n_bars: int, name: str, engine: str) -> None:
        super().__init__(n_symbols * n_bars)
        assert name in PERIOD_2D and engine in ("nt-1", "nt-2", "talib-loop")
        self.shape = (n_symbols, n_bars)
        self.case, self.kind = name, engine
        p = PERIOD_2D[name]
        if engine == "talib-loop":
            self.engine = f"[talib.{name.upper()}(row, {p}) for row in x2d] (context)"
        else:
            k = int(engine[-1])
            self.threads = k
            self.engine = f"nt.ta.{name}(x2d, {p}), set_num_threads({k})"
            self.ours = k == 2  # the 2-thread row is the one the ratios are about

    def _resolve(self) -> None:
        need("talib", "the 2-D reference")
        if self.kind == "talib-loop":
            self.fn = getattr(need("talib", self.engine), self.case.upper())
        else:
            self.fn = nt_attr(self.case)
            import neural_trader as nt

            self.nt = nt

    def _setup(self) -> None:
        self.x = make_2d(*self.shape)
        self.ref = reference_2d(self.case, *self.shape)
        self.prev_threads = None
        if self.kind != "talib-loop":
            self.prev_threads = self.nt.get_num_threads()
            self.nt.set_num_threads(self.threads)

    def run(self) -> None:
        p = PERIOD_2D[self.case]
        if self.kind == "talib-loop":
            fn = self.fn
            self.out = [fn(row, timeperiod=p) for row in self.x]
        else:
            self.out = self.fn(self.x, timeperiod=p)

    def _check(self) -> None:
        out = np.stack(self.out) if isinstance(self.out, list) else self.out
        check_close(out, self.ref, self.label)

    def _release(self) -> None:
        self.out = None
        if self.prev_threads is not None:
            # get_num_threads reports the effective count; 0 restores the default (all cores)
            self.nt.set_num_threads(0)
            self.prev_threads = None


# --------------------------------------------------------------------------------------------------
# catalogue (what compare_ta.py runs, in table order)


def catalogue(scale: Scale) -> list[Workload]:
    """Every case at ``scale``, available or not (``Workload.available()`` says)."""
    s = scale
    w: list[Workload] = []
    for ind in INDICATORS:
        w += [BatchTA(s.n_batch, ind.name, e) for e in batch_engines(ind.name)]
        if ind.name == "sma":
            w += [PolarsContext(s.n_batch, "rolling_mean"), PolarsContext(s.n_batch, "pandas-rolling_mean")]
        if ind.name == "ema":
            w += [PolarsContext(s.n_batch, "ewm_mean"), PolarsContext(s.n_batch, "pandas-ewm_mean")]
    for name in ("vwap", "zscore"):
        w += [BatchExtra(s.n_batch, name, e) for e in ("nt", "polars", "talib")]
    w += [Features(s.n_features, e) for e in ("nt", "talib", "nt-1")]
    for name in ("sma", "ema"):
        w += [StreamMany(s.n_many, name, "nt"), StreamMany(s.n_talipp, name, "talipp-add"),
              StreamMany(s.n_talipp, name, "talipp-list"), StreamMany(s.n_many, name, "talib-batch")]
    for name in ("sma", "ema", "rsi"):
        w += [StreamUpdate(s.n_update, name, "nt"), StreamUpdate(s.n_update, name, "talib"),
              StreamUpdate(s.n_talipp, name, "talipp")]
    long_case = f"sma-{LONG_WINDOW}"
    w += [StreamUpdate(s.n_update, long_case, "nt"), StreamUpdate(s.n_update, long_case, "talib")]
    for name in ("rsi", "sma"):
        w += [Batch2D(s.n_symbols, s.n_bars2d, name, e) for e in ("nt-2", "nt-1", "talib-loop")]
    return w


if __name__ == "__main__":  # pragma: no cover - quick manual check
    for wl in catalogue(get_scale(sys.argv[1] if len(sys.argv) > 1 else "smoke")):
        why = wl.available()
        if why:
            print(f"{wl.label:80s} skipped: {why}")
        else:
            print(f"{wl.label:80s} {wl.measure() / wl.n * 1e9:10.2f} ns/{wl.unit}")
