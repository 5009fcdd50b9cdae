"""Performance metrics of a backtest: returns, risk, drawdowns and trade statistics.

:func:`compute_metrics` reads the result frames of a backtest (``equity``, ``trades``, ``fills``)
and returns a flat dictionary of figures; the building blocks (:func:`simple_returns`,
:func:`drawdown`, :func:`sharpe`, :func:`sortino`, :func:`cagr`) are usable on their own.

Conventions
-----------
Returns
    Per-step *simple* returns ``r_t = E_t / E_{t-1} - 1`` of the equity column, one per pair of
    consecutive rows (a frame of ``n`` rows gives ``n - 1`` returns). A step whose previous equity
    is not positive has no defined simple return and is left out.
Total return and CAGR
    Relate the last equity to ``initial_cash`` (not to the first row, which may already include a
    fill made on the first bar). CAGR uses the span of the timestamps in years of 365.25 days:
    ``(final / initial) ** (1 / years) - 1``; NaN when the span is zero, -1 when the final equity
    is not positive.
Annualisation
    ``periods_per_year`` scales the per-step figures. When it is not given it is inferred from the
    data as ``(n - 1) / years``: the average number of steps per year of the sample, e.g. about
    252 for daily bars of a stock market, 365 for daily crypto bars (NaN with a zero span).
Risk-free rate
    ``risk_free`` is an *annual* rate, turned into the per-step rate
    ``(1 + risk_free) ** (1 / periods_per_year) - 1`` and subtracted from each step's return.
Volatility and Sharpe
    Sample standard deviation (``ddof=1``) of the per-step returns times
    ``sqrt(periods_per_year)``. Sharpe is ``mean(excess) / std(excess, ddof=1) *
    sqrt(periods_per_year)``; NaN with fewer than two returns or when every excess return is the
    same (zero spread: the ratio is undefined, not infinite).
Sortino
    ``mean(excess) / DD * sqrt(periods_per_year)`` with the downside deviation
    ``DD = sqrt(mean(min(excess, 0) ** 2))`` taken over *all* steps (target: the risk-free rate;
    steps above it count as zero deviation). With no step below the target it is ``+inf`` for a
    positive mean and NaN for a zero mean.
Drawdown
    ``1 - E_t / max(E_0..E_t)``, a positive fraction (0.25 is a 25 % fall from the running peak).
    The duration of a drawdown runs from the step of the peak to the first later step whose
    equity is back at or above that peak, or to the last step when it never recovers; the
    reported duration is the longest one, in nanoseconds of the timestamps
    (``max_drawdown_duration``) and in steps (``max_drawdown_bars``).
Calmar
    ``cagr / max_drawdown``; ``+inf`` (or ``-inf``) with no drawdown and a non-zero CAGR, NaN when
    both are zero.
Trades
    ``win_rate`` is the fraction of closed trades with a positive net pnl; ``profit_factor`` is the
    sum of the winning pnls over the absolute sum of the losing ones (``inf`` with no losing
    trade, NaN with no trade or when every pnl is zero); ``avg_trade_return``, ``best_trade`` and
    ``worst_trade`` use the trades' ``return_pct``. All are NaN without trades.
Exposure and turnover
    ``exposure`` is the fraction of steps with a non-zero ``gross_exposure``; ``turnover`` is the
    traded notional (sum of ``quantity * price`` over the fills) divided by the mean equity.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import polars as pl

from .errors import DTypeError, InvalidArgumentError

__all__ = [
    "METRIC_LABELS",
    "METRIC_NAMES",
    "NS_PER_YEAR",
    "cagr",
    "compute_metrics",
    "drawdown",
    "format_duration",
    "format_metric",
    "sharpe",
    "simple_returns",
    "sortino",
]

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
IntArray = np.ndarray[Any, np.dtype[np.int64]]

NS_PER_YEAR: Final[float] = 365.25 * 86_400 * 1e9
"""Nanoseconds in a year of 365.25 days (the year used by CAGR and the inferred annualisation)."""

METRIC_NAMES: Final[tuple[str, ...]] = (
    "total_return",
    "cagr",
    "volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "max_drawdown_duration",
    "max_drawdown_bars",
    "calmar",
    "win_rate",
    "profit_factor",
    "avg_trade_return",
    "n_trades",
    "exposure",
    "turnover",
    "total_fees",
    "final_equity",
    "best_trade",
    "worst_trade",
)
"""The keys of :func:`compute_metrics`, in order."""

METRIC_LABELS: Final[dict[str, str]] = {
    "total_return": "Total return",
    "cagr": "CAGR",
    "volatility": "Volatility (ann.)",
    "sharpe": "Sharpe ratio",
    "sortino": "Sortino ratio",
    "max_drawdown": "Max drawdown",
    "max_drawdown_duration": "Max drawdown duration",
    "max_drawdown_bars": "Max drawdown bars",
    "calmar": "Calmar ratio",
    "win_rate": "Win rate",
    "profit_factor": "Profit factor",
    "avg_trade_return": "Avg trade return",
    "n_trades": "Trades",
    "exposure": "Exposure",
    "turnover": "Turnover",
    "total_fees": "Total fees",
    "final_equity": "Final equity",
    "best_trade": "Best trade",
    "worst_trade": "Worst trade",
}
"""Display labels of the metrics (summary and report)."""

INT_METRICS: Final = frozenset({"max_drawdown_duration", "max_drawdown_bars", "n_trades"})
"""The metrics that are ints (the others are floats)."""
_PERCENT_METRICS: Final = frozenset(
    {
        "total_return",
        "cagr",
        "volatility",
        "max_drawdown",
        "win_rate",
        "avg_trade_return",
        "exposure",
        "best_trade",
        "worst_trade",
    }
)
_MONEY_METRICS: Final = frozenset({"total_fees", "final_equity"})


# ---------------------------------------------------------------------------------------------
# Input helpers
def _as_float_array(values: Any, name: str) -> FloatArray:
    """A 1-D float64 copy-free view of ``values``; every value must be finite."""
    if isinstance(values, pl.Series):
        values = values.cast(pl.Float64).to_numpy()
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DTypeError(f"{name} must be a sequence of numbers: {exc}") from None
    if arr.ndim != 1:
        raise InvalidArgumentError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InvalidArgumentError(f"{name} contains NaN or infinite values")
    return arr


def _check_periods(periods_per_year: float) -> float:
    ppy = float(periods_per_year)
    if not (math.isfinite(ppy) and ppy > 0):
        raise InvalidArgumentError(
            f"periods_per_year must be a positive finite number, got {periods_per_year!r}"
        )
    return ppy


def _per_period_rate(risk_free: float, periods_per_year: float) -> float:
    rf = float(risk_free)
    if not (math.isfinite(rf) and rf > -1.0):
        raise InvalidArgumentError(f"risk_free must be a finite annual rate above -1, got {risk_free!r}")
    return math.expm1(math.log1p(rf) / periods_per_year)


def _ratio(num: float, den: float) -> float:
    """``num / den`` for a non-negative ``den``: +-inf when only ``den`` is zero, NaN for 0/0."""
    if math.isnan(num) or math.isnan(den):
        return math.nan
    if den > 0:
        return num / den
    if num == 0:
        return math.nan
    return math.copysign(math.inf, num)


def _excess_returns(returns: Any, periods_per_year: float, risk_free: float) -> tuple[FloatArray, float]:
    """The per-period returns less the per-period risk-free rate, and the checked periods per year."""
    r = _as_float_array(returns, "returns")
    ppy = _check_periods(periods_per_year)
    excess: FloatArray = r - _per_period_rate(risk_free, ppy)
    return excess, ppy


def _timestamps_ns(series: pl.Series, name: str = "ts") -> IntArray:
    """Nanoseconds since the epoch (int64) of a Datetime (any unit or zone) or integer column."""
    dtype = series.dtype
    if isinstance(dtype, pl.Datetime):
        ints = series.dt.epoch("ns")
    elif dtype.is_integer():
        ints = series.cast(pl.Int64)
    else:
        raise DTypeError(f"column {name!r} must be a Datetime (or int64 nanoseconds), got {dtype}")
    if ints.null_count():
        raise InvalidArgumentError(f"column {name!r} contains nulls")
    return ints.to_numpy().astype(np.int64, copy=False)


def _require(frame: Any, name: str, columns: Sequence[str]) -> pl.DataFrame:
    """Check that ``frame`` is a DataFrame holding ``columns`` (an empty frame may hold none)."""
    if not isinstance(frame, pl.DataFrame):
        raise DTypeError(f"{name} must be a polars DataFrame, got {type(frame).__name__}")
    if frame.height == 0 and frame.width == 0:
        return frame
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InvalidArgumentError(f"{name} frame lacks the column(s) {', '.join(map(repr, missing))}")
    return frame


def _column(frame: pl.DataFrame, column: str, name: str) -> FloatArray:
    if frame.height == 0:
        return np.empty(0, dtype=np.float64)
    series = frame[column]
    if not series.dtype.is_numeric():
        raise DTypeError(f"column {column!r} of {name} must be numeric, got {series.dtype}")
    if series.null_count():
        raise InvalidArgumentError(f"column {column!r} of {name} contains nulls")
    out: FloatArray = series.cast(pl.Float64).to_numpy().astype(np.float64, copy=False)
    return out


# ---------------------------------------------------------------------------------------------
# Building blocks
def simple_returns(equity: Any) -> FloatArray:
    """Per-step simple returns ``E_t / E_{t-1} - 1`` of an equity curve.

    Parameters
    ----------
    equity : array_like of float
        Equity values, oldest first; all finite.

    Returns
    -------
    numpy.ndarray
        ``len(equity) - 1`` returns, less one for each step whose previous equity is not positive
        (a simple return is undefined there and such steps are left out).
    """
    e = _as_float_array(equity, "equity")
    if e.size < 2:
        return np.empty(0, dtype=np.float64)
    prev, cur = e[:-1], e[1:]
    ok = prev > 0
    out: FloatArray = cur[ok] / prev[ok] - 1.0
    return out


def sharpe(returns: Any, periods_per_year: float, risk_free: float = 0.0) -> float:
    """Annualised Sharpe ratio of per-period simple returns.

    Parameters
    ----------
    returns : array_like of float
        Per-period simple returns (finite).
    periods_per_year : float
        Periods per year used to annualise (e.g. 252 for daily stock bars).
    risk_free : float, default 0.0
        Annual risk-free rate; the per-period rate is ``(1 + risk_free) ** (1 / periods_per_year) - 1``.

    Returns
    -------
    float
        ``mean(excess) / std(excess, ddof=1) * sqrt(periods_per_year)``. NaN with fewer than two
        returns or when every excess return is equal (zero volatility).
    """
    excess, ppy = _excess_returns(returns, periods_per_year, risk_free)
    if excess.size < 2 or bool(np.all(excess == excess[0])):
        return math.nan
    sd = float(excess.std(ddof=1))
    return float(excess.mean()) / sd * math.sqrt(ppy)


def sortino(returns: Any, periods_per_year: float, risk_free: float = 0.0) -> float:
    """Annualised Sortino ratio of per-period simple returns.

    Parameters
    ----------
    returns : array_like of float
        Per-period simple returns (finite).
    periods_per_year : float
        Periods per year used to annualise.
    risk_free : float, default 0.0
        Annual risk-free rate (also the target return), converted per period as in :func:`sharpe`.

    Returns
    -------
    float
        ``mean(excess) / DD * sqrt(periods_per_year)`` where the downside deviation
        ``DD = sqrt(mean(min(excess, 0) ** 2))`` is averaged over *all* periods. ``+inf`` (``-inf``)
        when no period is below the target and the mean is positive (negative), NaN when the mean
        is zero too, and NaN with fewer than two returns.
    """
    excess, ppy = _excess_returns(returns, periods_per_year, risk_free)
    if excess.size < 2:
        return math.nan
    downside = math.sqrt(float(np.mean(np.minimum(excess, 0.0) ** 2)))
    return _ratio(float(excess.mean()), downside) * math.sqrt(ppy)


def cagr(initial: float, final: float, years: float) -> float:
    """Compound annual growth rate from ``initial`` to ``final`` over ``years``.

    Parameters
    ----------
    initial : float
        Starting value (positive).
    final : float
        Ending value.
    years : float
        Length of the period in years.

    Returns
    -------
    float
        ``(final / initial) ** (1 / years) - 1``; -1.0 when ``final`` is not positive (everything
        lost), NaN when ``years`` is not positive, ``inf`` when the growth overflows a float.
    """
    initial, final, years = float(initial), float(final), float(years)
    if not (math.isfinite(initial) and initial > 0):
        raise InvalidArgumentError(f"initial must be a positive finite number, got {initial!r}")
    if math.isnan(final) or math.isnan(years):
        return math.nan
    if not years > 0:
        return math.nan
    if final <= 0:
        return -1.0
    log_growth = math.log(final / initial) / years
    if log_growth > 709.0:  # exp overflows a float64
        return math.inf
    return math.expm1(log_growth)


def _underwater_spans(equity: FloatArray) -> tuple[IntArray, IntArray]:
    """(peak step, end step) of each drawdown episode: the end is the recovery step or the last step."""
    n = equity.size
    peak = np.maximum.accumulate(equity)
    under = np.concatenate(([0], (equity < peak).astype(np.int8), [0]))
    d = np.diff(under)
    starts = np.flatnonzero(d == 1)  # first step below the peak
    stops = np.flatnonzero(d == -1)  # first step back at the peak (== n when never recovered)
    return (starts - 1).astype(np.int64), np.minimum(stops, n - 1).astype(np.int64)


def _longest_drawdown(equity: FloatArray, coord: IntArray) -> int:
    """Longest span, in the units of ``coord`` (one value per step), from a peak of ``equity`` to
    its recovery (or to the last step); 0 without a drawdown."""
    starts, ends = _underwater_spans(equity)
    return int((coord[ends] - coord[starts]).max()) if starts.size else 0


def drawdown(equity: Any, timestamps: Any = None) -> tuple[FloatArray, float, int]:
    """Drawdown curve, maximum drawdown and longest drawdown duration of an equity curve.

    Parameters
    ----------
    equity : array_like of float
        Equity values, oldest first (finite).
    timestamps : array_like of int, optional
        Times of the values (e.g. int64 nanoseconds), non-decreasing. When given, the duration is
        measured in their unit; otherwise in steps.

    Returns
    -------
    drawdowns : numpy.ndarray
        ``1 - E_t / max(E_0..E_t)`` per step: 0 at a new high, positive below it (0 while the
        running peak is not positive, where a relative fall is undefined).
    max_drawdown : float
        The largest drawdown (0.0 for an empty or never-falling curve).
    duration : int
        Longest time from a peak to the first later step at or above it, or to the last step when
        the peak is never recovered. With equity ``[100, 120, 90, 95, 130]`` the drawdown is 0.25
        and lasts from step 1 to step 4 (3 steps).
    """
    e = _as_float_array(equity, "equity")
    if e.size == 0:
        return np.empty(0, dtype=np.float64), 0.0, 0
    peak = np.maximum.accumulate(e)
    dd = np.zeros_like(e)
    pos = peak > 0
    dd[pos] = (peak[pos] - e[pos]) / peak[pos]
    if timestamps is None:
        coord = np.arange(e.size, dtype=np.int64)
    else:
        coord = np.asarray(timestamps, dtype=np.int64)
        if coord.shape != e.shape:
            raise InvalidArgumentError(f"timestamps has shape {coord.shape}, equity {e.shape}")
        if coord.size > 1 and bool(np.any(np.diff(coord) < 0)):
            raise InvalidArgumentError("timestamps must be non-decreasing")
    return dd, float(dd.max()), _longest_drawdown(e, coord)


# ---------------------------------------------------------------------------------------------
# The full set
def compute_metrics(
    equity: pl.DataFrame,
    trades: pl.DataFrame,
    fills: pl.DataFrame,
    *,
    initial_cash: float,
    periods_per_year: float | None = None,
    risk_free: float = 0.0,
) -> dict[str, float | int]:
    """Performance metrics of a backtest from its result frames.

    Parameters
    ----------
    equity : polars.DataFrame
        One row per step, oldest first, with at least ``ts`` (Datetime, non-decreasing),
        ``equity`` and ``gross_exposure``.
    trades : polars.DataFrame
        Closed round trips with at least ``pnl`` and ``return_pct`` (may be empty).
    fills : polars.DataFrame
        Executions with at least ``quantity``, ``price`` and ``fee`` (may be empty).
    initial_cash : float
        Cash at the start (positive): the base of ``total_return`` and ``cagr``.
    periods_per_year : float, optional
        Steps per year for annualising; inferred as ``(n - 1) / years`` of the timestamps' span
        when not given (see the module documentation).
    risk_free : float, default 0.0
        Annual risk-free rate for Sharpe and Sortino.

    Returns
    -------
    dict
        The keys of :data:`METRIC_NAMES` in that order; ``max_drawdown_duration`` (nanoseconds),
        ``max_drawdown_bars`` and ``n_trades`` are ints, the rest floats (NaN where undefined:
        see the module documentation for every convention).
    """
    _require(equity, "equity", ("ts", "equity", "gross_exposure"))
    _require(trades, "trades", ("pnl", "return_pct"))
    _require(fills, "fills", ("quantity", "price", "fee"))
    cash0 = float(initial_cash)
    if not (math.isfinite(cash0) and cash0 > 0):
        raise InvalidArgumentError(f"initial_cash must be a positive finite number, got {initial_cash!r}")
    if periods_per_year is not None:
        _check_periods(periods_per_year)
    _per_period_rate(risk_free, 1.0)  # validates risk_free even when nothing is annualised

    if equity.height:
        ts = _timestamps_ns(equity["ts"], "ts")
        eq = _column(equity, "equity", "equity")
        gross = _column(equity, "gross_exposure", "equity")
        if not (np.all(np.isfinite(eq)) and np.all(np.isfinite(gross))):
            raise InvalidArgumentError("equity frame contains NaN or infinite values")
        if ts.size > 1 and bool(np.any(np.diff(ts) < 0)):
            raise InvalidArgumentError("equity frame must be sorted by ts")
    else:
        ts = np.empty(0, dtype=np.int64)
        eq = gross = np.empty(0, dtype=np.float64)
    n = eq.size

    final = float(eq[-1]) if n else cash0
    years = float(ts[-1] - ts[0]) / NS_PER_YEAR if n else 0.0
    if periods_per_year is not None:
        ppy = float(periods_per_year)
    else:
        ppy = (n - 1) / years if years > 0 else math.nan

    rets = simple_returns(eq)
    annualise = math.isfinite(ppy)
    vol = float(rets.std(ddof=1)) * math.sqrt(ppy) if rets.size >= 2 and annualise else math.nan
    sharpe_ = sharpe(rets, ppy, risk_free) if annualise else math.nan
    sortino_ = sortino(rets, ppy, risk_free) if annualise else math.nan

    _, max_dd, dd_bars = drawdown(eq)
    dd_ns = _longest_drawdown(eq, ts) if n else 0
    cagr_ = cagr(cash0, final, years)

    pnl = _column(trades, "pnl", "trades")
    ret_pct = _column(trades, "return_pct", "trades")
    n_trades = int(pnl.size)
    if n_trades:
        wins = float(pnl[pnl > 0].sum())
        losses = float(-pnl[pnl < 0].sum())
        win_rate = float(np.mean(pnl > 0))
        profit_factor = _ratio(wins, losses)
        avg_ret = float(ret_pct.mean())
        best, worst = float(ret_pct.max()), float(ret_pct.min())
    else:
        win_rate = profit_factor = avg_ret = best = worst = math.nan

    qty = _column(fills, "quantity", "fills")
    price = _column(fills, "price", "fills")
    fee = _column(fills, "fee", "fills")
    notional = float(np.sum(np.abs(qty * price)))
    mean_eq = float(eq.mean()) if n else math.nan
    turnover = notional / mean_eq if n and mean_eq > 0 else math.nan

    return {
        "total_return": final / cash0 - 1.0,
        "cagr": cagr_,
        "volatility": vol,
        "sharpe": sharpe_,
        "sortino": sortino_,
        "max_drawdown": max_dd,
        "max_drawdown_duration": dd_ns,
        "max_drawdown_bars": dd_bars,
        "calmar": _ratio(cagr_, max_dd),
        "win_rate": win_rate,
        "profit_factor": profit_factor,
        "avg_trade_return": avg_ret,
        "n_trades": n_trades,
        "exposure": float(np.mean(gross != 0)) if n else math.nan,
        "turnover": turnover,
        "total_fees": float(fee.sum()),
        "final_equity": final,
        "best_trade": best,
        "worst_trade": worst,
    }


# ---------------------------------------------------------------------------------------------
# Display
def format_duration(ns: int) -> str:
    """A nanosecond duration as text: ``"12d 03:04:05"``, ``"00:00:30"``, ``"250 ms"``, ``"0"``."""
    ns = int(ns)
    if ns == 0:
        return "0"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 1_000_000_000:
        if ns < 1_000:
            return f"{sign}{ns} ns"
        if ns < 1_000_000:
            return f"{sign}{ns / 1e3:.3g} us"
        return f"{sign}{ns / 1e6:.3g} ms"
    seconds, frac = divmod(ns, 1_000_000_000)
    days, rem = divmod(seconds, 86_400)
    hours, rem = divmod(rem, 3_600)
    minutes, secs = divmod(rem, 60)
    clock = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    if frac:
        clock += f".{frac // 1_000_000:03d}"
    return f"{sign}{days}d {clock}" if days else f"{sign}{clock}"


def format_metric(name: str, value: float) -> str:
    """A metric value as display text: percentages, money with thousands separators, durations,
    counts, or ratios with two decimals; NaN shows as ``"n/a"``."""
    if name == "max_drawdown_duration":
        return format_duration(int(value))
    if name in INT_METRICS:
        return f"{int(value):,}"
    v = float(value)
    if math.isnan(v):
        return "n/a"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if name in _PERCENT_METRICS:
        return f"{v * 100:.2f}%"
    if name in _MONEY_METRICS:
        return f"{v:,.2f}"
    return f"{v:.2f}" if abs(v) < 1e6 else f"{v:.4g}"
