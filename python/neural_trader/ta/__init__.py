"""Technical indicators: TA-Lib-exact batch functions and O(1) streaming state machines.

Every indicator has one C++ definition serving both modes, so ``nt.ta.rsi(close)`` and feeding
``nt.ta.stream.RSI()`` one value at a time give the same bits, element by element.

Batch functions take NumPy arrays (any float or integer dtype, any contiguity), polars Series or
pandas Series (the index is kept) and return the same kind; a 2-D array (symbols x time)
computes every row, in parallel threads (``nt.set_num_threads``) with the GIL released (batches
of fewer than 4,096 values keep it: that is cheaper than releasing it). A long
1-D series (262,144 bars or more) runs in parts on those threads, with the same bits as one
thread, where the indicator allows it: where every output depends on a window of inputs only --
MOM, ROC, TRANGE, WILLR, CCI, AROON -- each part starts from the window before it (over missing
bars too); for the recursions that forget their start -- EMA, DEMA, TEMA, MACD, RSI, ATR, NATR,
PLUS_DI, MINUS_DI, ADX -- each part runs speculatively after a warm-up of 64 decay lengths per
level and is then checked against the exact state (the previous part's end), the part being
redone where the two differ; for WMA, VAR, STDDEV and ZSCORE, whose running sums are refreshed
from the window every max(2 x timeperiod, 128) bars, each part starts from the whole run's last
refresh before it. Periods too long for a part of 8 warm-ups stay on one thread.
Parameter names, defaults, look-backs (leading NaNs) and seeding follow TA-Lib.

Missing inputs (NaN or +-inf in any input of a step): the output at that step is NaN and the
indicator skips the step, continuing as if the bar had not been there (a window then covers the
last ``timeperiod`` finite bars). TA-Lib leaves this undefined (one NaN can poison the rest of
its output); ours is the same in batch and streaming.

Differences from TA-Lib, on purpose (values otherwise equal TA-Lib's within 1e-9, tested):

* recursions are evaluated in forms with one operation on the dependency chain (EMA as
  ``fma(prev, 1 - k, x * k)``, an exactly rounded fused multiply-add, so the same bits on every
  platform; Wilder's smoothing with the reciprocal; SMA's window sum in four interleaved chains,
  ``s[t] = s[t-4] + (q[t] + q[t-2])`` with ``q[t] = d[t] + d[t-1]``, ``d[t] = x[t] - x[t-period]``;
  VAR/STDDEV/BBANDS/ZSCORE by running sums of deviations from a shift near the window's mean),
  constant divisors are multiplied by their reciprocal in the moments of VAR/STDDEV/BBANDS/ZSCORE
  (the variance as ``fma(-m1, m1, s2 * (1 / period))``; SMA and WMA divide, so that a flat
  series averages to exactly its value) and STOCH's %K and WILLR divide once per bar: equal to
  rounding, and identical in batch and streaming;
* periods of 1 are accepted where TA-Lib asks for 2 (SMA, EMA, WMA, WILLR, AROON, ...);
  PLUS_DI/MINUS_DI need ``timeperiod >= 2`` (TA-Lib's one-bar special case is not implemented);
* ``matype`` supports SMA, EMA, WMA, DEMA, TEMA and KAMA (not TRIMA, MAMA, T3);
* missing inputs are skipped (above); TA-Lib's ``unstable period`` settings do not exist here.

    >>> import numpy as np, neural_trader as nt
    >>> close = 100 + np.cumsum(np.random.default_rng(1).normal(size=1000))
    >>> rsi = nt.ta.rsi(close, timeperiod=14)
    >>> macd, signal, hist = nt.ta.macd(close)
    >>> live = nt.ta.stream.RSI(14)
    >>> vals = [live.update(x) for x in close]
"""

from __future__ import annotations

from typing import Any

from . import stream
from ._batch import run as _run
from ._features import FeatureStream, features
from ._spec import SPECS, get_spec

__all__ = [
    "stream", "lookback", "names", "features", "FeatureStream",
    "sma", "ema", "wma", "dema", "tema", "kama", "rsi", "macd", "bbands", "stddev", "var", "zscore",
    "mom", "roc", "atr", "natr", "trange", "stoch", "stochf", "willr", "cci", "adx", "plus_di",
    "minus_di", "aroon", "mfi", "obv", "vwap",
]


def names() -> list[str]:
    """The names of every indicator, as used by the functions, ``lookback`` and feature specs."""
    return sorted(SPECS)


def lookback(name: str, *args: float, **params: float) -> int:
    """Number of leading NaNs of indicator ``name`` with these parameters on finite input
    (TA-Lib's look-back), e.g. ``lookback("rsi", timeperiod=14) == 14``."""
    from .. import _core

    spec = get_spec(name)
    return int(_core._ta_lookback(spec.name, spec.param_values(args, params, spec.name)))


# --- overlap studies -------------------------------------------------------------------------

def sma(real: Any, timeperiod: int = 30) -> Any:
    """Simple moving average over ``timeperiod`` inputs. Look-back ``timeperiod - 1``.
    (The window sum runs in four interleaved chains, ``s[t] = s[t-4] + (q[t] + q[t-2])`` with
    ``q[t] = d[t] + d[t-1]`` and ``d[t] = x[t] - x[t-timeperiod]``, the same in batch and
    streaming; values equal TA-Lib's to rounding.)"""
    return _run("sma", (real,), (timeperiod,), {})


def ema(real: Any, timeperiod: int = 30) -> Any:
    """Exponential moving average, k = 2 / (timeperiod + 1), seeded (as TA-Lib) with the simple
    mean of the first ``timeperiod`` inputs. Look-back ``timeperiod - 1``."""
    return _run("ema", (real,), (timeperiod,), {})


def wma(real: Any, timeperiod: int = 30) -> Any:
    """Linearly weighted moving average (weights 1..timeperiod, latest heaviest). Look-back
    ``timeperiod - 1``."""
    return _run("wma", (real,), (timeperiod,), {})


def dema(real: Any, timeperiod: int = 30) -> Any:
    """Double EMA: 2 EMA - EMA(EMA). Look-back ``2 (timeperiod - 1)``."""
    return _run("dema", (real,), (timeperiod,), {})


def tema(real: Any, timeperiod: int = 30) -> Any:
    """Triple EMA: 3 EMA - 3 EMA(EMA) + EMA(EMA(EMA)). Look-back ``3 (timeperiod - 1)``."""
    return _run("tema", (real,), (timeperiod,), {})


def kama(real: Any, timeperiod: int = 30) -> Any:
    """Kaufman adaptive moving average (fast 2, slow 30, as TA-Lib). Look-back ``timeperiod``."""
    return _run("kama", (real,), (timeperiod,), {})


def bbands(real: Any, timeperiod: int = 20, nbdevup: float = 2.0, nbdevdn: float = 2.0, matype: int = 0) -> Any:
    """Bollinger bands ``(upperband, middleband, lowerband)`` (default period 20, as TA-Lib 0.8's
    Python API; its C library's default is 5): the ``matype`` moving average
    (0 SMA, 1 EMA, 2 WMA, 3 DEMA, 4 TEMA, 6 KAMA; TRIMA, MAMA and T3 are not implemented) plus and
    minus ``nbdevup``/``nbdevdn`` population standard deviations over ``timeperiod`` (always
    around the simple mean, as TA-Lib). Look-back: the moving average's."""
    return _run("bbands", (real,), (timeperiod, nbdevup, nbdevdn, matype), {})


# --- statistics ------------------------------------------------------------------------------

def stddev(real: Any, timeperiod: int = 5, nbdev: float = 1.0) -> Any:
    """Population standard deviation over ``timeperiod`` times ``nbdev``, the square root of
    ``var``. Look-back ``timeperiod - 1``."""
    return _run("stddev", (real,), (timeperiod, nbdev), {})


def var(real: Any, timeperiod: int = 5, nbdev: float = 1.0) -> Any:
    """Population variance over ``timeperiod`` (``nbdev`` is accepted and ignored, as TA-Lib does).
    Look-back ``timeperiod - 1``. Running sums of ``x - k`` and ``(x - k)^2`` around a shift ``k``
    near the window's mean (O(1) per step; ``k`` and the sums are reset by an exact two-pass
    computation every ``max(2 timeperiod, 128)`` steps) keep it accurate when the variance is tiny
    next to the squared mean, where E[x^2] - E[x]^2 loses every digit. A window gone flat gives
    exactly 0 (below 1e-12 of the largest shifted second moment since the last reset: rounding
    residue). Deliberate difference: TA-Lib 0.8 also gives 0 wherever the variance is below 1e-12
    of the raw mean square (a standard deviation below 1e-6 of the price, e.g. a 20-tick window
    of a $100,000 quote moving by cents), which its sums cannot resolve; ``var`` keeps that
    variance."""
    return _run("var", (real,), (timeperiod, nbdev), {})


def zscore(real: Any, timeperiod: int = 20) -> Any:
    """Rolling z-score (not in TA-Lib): ``(x - mean) / std`` over the last ``timeperiod`` inputs,
    population standard deviation, computed as ``var`` computes it (accurate even for a tiny
    variance around a large mean); 0 on a flat window (variance at most 1e-20 of the squared
    mean). Look-back ``timeperiod - 1``."""
    return _run("zscore", (real,), (timeperiod,), {})


# --- momentum --------------------------------------------------------------------------------

def rsi(real: Any, timeperiod: int = 14) -> Any:
    """Relative strength index with Wilder's smoothing, seeded (as TA-Lib) by the average gain and
    loss of the first ``timeperiod`` changes; 0 when gains + losses are 0 (TA-Lib 0.8: exactly
    0, at every price level). Look-back ``timeperiod``."""
    return _run("rsi", (real,), (timeperiod,), {})


def macd(real: Any, fastperiod: int = 12, slowperiod: int = 26, signalperiod: int = 9) -> Any:
    """MACD ``(macd, macdsignal, macdhist)``. As in TA-Lib, the fast EMA is seeded over the
    window that ends where the slow EMA's first value is, and the signal EMA by the mean of the
    first ``signalperiod`` MACD values. Look-back ``slowperiod - 1 + signalperiod - 1``."""
    return _run("macd", (real,), (fastperiod, slowperiod, signalperiod), {})


def mom(real: Any, timeperiod: int = 10) -> Any:
    """Momentum ``x - x[t - timeperiod]``. Look-back ``timeperiod``."""
    return _run("mom", (real,), (timeperiod,), {})


def roc(real: Any, timeperiod: int = 10) -> Any:
    """Rate of change ``(x / x[t - timeperiod] - 1) * 100`` (0 where the old value is 0, as
    TA-Lib). Look-back ``timeperiod``."""
    return _run("roc", (real,), (timeperiod,), {})


def stoch(high: Any, low: Any, close: Any, fastk_period: int = 5, slowk_period: int = 3, slowk_matype: int = 0,
          slowd_period: int = 3, slowd_matype: int = 0) -> Any:
    """Slow stochastic ``(slowk, slowd)``: slowk = MA(fastk, slowk_period), slowd = MA(slowk,
    slowd_period); fastk = 100 (close - lowest low) / (highest high - lowest low) over
    ``fastk_period`` (0 on a flat range: the range within 1e-14 of |highest| + |lowest|, as
    TA-Lib 0.8). Look-back ``fastk_period - 1`` plus the two MAs'."""
    return _run("stoch", (high, low, close), (fastk_period, slowk_period, slowk_matype, slowd_period,
                                              slowd_matype), {})


def stochf(high: Any, low: Any, close: Any, fastk_period: int = 5, fastd_period: int = 3,
           fastd_matype: int = 0) -> Any:
    """Fast stochastic ``(fastk, fastd)``; fastd = MA(fastk, fastd_period). Look-back
    ``fastk_period - 1`` plus the MA's."""
    return _run("stochf", (high, low, close), (fastk_period, fastd_period, fastd_matype), {})


def willr(high: Any, low: Any, close: Any, timeperiod: int = 14) -> Any:
    """Williams' %R, ``-100 (highest high - close) / (highest high - lowest low)`` (0 on a flat
    range, as ``stoch``). Look-back ``timeperiod - 1``."""
    return _run("willr", (high, low, close), (timeperiod,), {})


def cci(high: Any, low: Any, close: Any, timeperiod: int = 14) -> Any:
    """Commodity channel index on the typical price (h + l + c) / 3 with the 0.015 constant (0
    where the deviation from the mean, or the mean deviation, is within 1e-14 of the mean's
    magnitude, as TA-Lib 0.8). Look-back ``timeperiod - 1``. Its mean absolute deviation costs O(timeperiod) per step (no
    O(1) update exists); every other indicator is O(1) per step."""
    return _run("cci", (high, low, close), (timeperiod,), {})


def aroon(high: Any, low: Any, timeperiod: int = 14) -> Any:
    """Aroon ``(aroondown, aroonup)`` over the last ``timeperiod + 1`` bars; the latest bar wins
    ties, as TA-Lib. Look-back ``timeperiod``."""
    return _run("aroon", (high, low), (timeperiod,), {})


def mfi(high: Any, low: Any, close: Any, volume: Any, timeperiod: int = 14) -> Any:
    """Money flow index: 100 x positive flow / total flow over ``timeperiod`` bars, flow = typical
    price x volume signed by the typical price's change. As TA-Lib 0.8: a change within 1e-14 of
    the two typical prices' magnitude is no flow, the sums are exactly 0 after ``timeperiod``
    bars in a row without flow, and the index is 0 when the total is 0. Look-back
    ``timeperiod``."""
    return _run("mfi", (high, low, close, volume), (timeperiod,), {})


# --- volatility and trend --------------------------------------------------------------------

def trange(high: Any, low: Any, close: Any) -> Any:
    """True range: the largest of high - low, |previous close - high|, |previous close - low|.
    Look-back 1."""
    return _run("trange", (high, low, close), (), {})


def atr(high: Any, low: Any, close: Any, timeperiod: int = 14) -> Any:
    """Average true range: Wilder's smoothing, seeded by the mean of the first ``timeperiod``
    true ranges. Look-back ``timeperiod``."""
    return _run("atr", (high, low, close), (timeperiod,), {})


def natr(high: Any, low: Any, close: Any, timeperiod: int = 14) -> Any:
    """Normalised ATR, ``ATR / close * 100`` (0 where close is 0). Look-back ``timeperiod``."""
    return _run("natr", (high, low, close), (timeperiod,), {})


def adx(high: Any, low: Any, close: Any, timeperiod: int = 14) -> Any:
    """Average directional index (Wilder, as TA-Lib; ``timeperiod >= 2``). Look-back
    ``2 timeperiod - 1``."""
    return _run("adx", (high, low, close), (timeperiod,), {})


def plus_di(high: Any, low: Any, close: Any, timeperiod: int = 14) -> Any:
    """Plus directional indicator (``timeperiod >= 2``; TA-Lib's special case for 1 is not
    implemented). Look-back ``timeperiod``."""
    return _run("plus_di", (high, low, close), (timeperiod,), {})


def minus_di(high: Any, low: Any, close: Any, timeperiod: int = 14) -> Any:
    """Minus directional indicator (``timeperiod >= 2``). Look-back ``timeperiod``."""
    return _run("minus_di", (high, low, close), (timeperiod,), {})


# --- volume ----------------------------------------------------------------------------------

def obv(real: Any, volume: Any) -> Any:
    """On-balance volume, starting at the first volume (as TA-Lib). Look-back 0."""
    return _run("obv", (real, volume), (), {})


def vwap(real: Any, volume: Any, timeperiod: int = 20) -> Any:
    """Rolling volume-weighted average price: ``sum(real * volume) / sum(volume)`` over the last
    ``timeperiod`` bars; NaN where the window's volume is 0. Look-back ``timeperiod - 1``.
    (TA-Lib 0.8's VWAP is different: cumulative from the first bar, over the typical price
    (high + low + close) / 3; pass that price here and a long period for a comparable line.)"""
    return _run("vwap", (real, volume), (timeperiod,), {})


from . import _polars  # noqa: E402,F401  (registers the polars ``.ta`` expression namespace)
