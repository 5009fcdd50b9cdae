"""Synthetic market data: correlated geometric Brownian motion with volatility regimes and jumps.

The model (per symbol ``j``, in *business time*: one trading day is 24 hours without a calendar,
one session with one) is

.. math::

    d \\log S_j = (\\mu_j - \\tfrac12 \\sigma_j^2 m_t^2 - \\lambda \\kappa)\\,dt
                 + \\sigma_j m_t\\, dW_j + dJ_j ,\\qquad \\operatorname{corr}(dW_i, dW_j) = \\rho_{ij}

with ``dt`` in years of 252 trading days, ``m_t`` the volatility multiplier of a two-state
regime shared by all symbols, and ``J_j`` a compound Poisson process (independent per symbol)
whose compensator ``\\lambda\\kappa`` keeps the expected growth rate at ``mu``. See
:func:`synthetic` for the parameters of each part.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ._calendar import NS_PER_DAY, Calendar, datetime_ns
from .errors import DTypeError, InvalidArgumentError

__all__ = [
    "DAILY_VOLUME",
    "JUMP_INTENSITY",
    "JUMP_MEAN",
    "JUMP_STD",
    "REGIME_MULTIPLIERS",
    "REGIME_SWITCH",
    "REGIME_VOL_RATIO",
    "TRADING_DAYS",
    "synthetic",
]

F64Array = npt.NDArray[np.float64]
I64Array = npt.NDArray[np.int64]

#: Trading days per year: ``mu`` and ``sigma`` are annualised over this many days.
TRADING_DAYS = 252
#: Probability per trading day of leaving the calm regime (for the turbulent one) and of leaving
#: the turbulent regime (for the calm one): calm spells last 50 days and turbulent ones 10 days
#: on average, and the market is turbulent 1/6 of the time.
REGIME_SWITCH = (0.02, 0.10)
#: Turbulent volatility over calm volatility.
REGIME_VOL_RATIO = 2.5
_RATE_OUT_CALM = -math.log1p(-REGIME_SWITCH[0])
_RATE_OUT_TURB = -math.log1p(-REGIME_SWITCH[1])
_P_TURBULENT = _RATE_OUT_CALM / (_RATE_OUT_CALM + _RATE_OUT_TURB)
_CALM = 1.0 / math.sqrt((1.0 - _P_TURBULENT) + _P_TURBULENT * REGIME_VOL_RATIO**2)
#: Volatility multipliers (calm, turbulent), scaled so that the long-run variance is sigma**2.
REGIME_MULTIPLIERS = (_CALM, _CALM * REGIME_VOL_RATIO)
#: Expected jumps per symbol per year (Poisson).
JUMP_INTENSITY = 4.0
#: Mean and standard deviation of one jump of the log price (normal).
JUMP_MEAN = -0.01
JUMP_STD = 0.04
_JUMP_KAPPA = math.exp(JUMP_MEAN + 0.5 * JUMP_STD**2) - 1.0
#: Typical traded volume per symbol per trading day (bars), lognormal around it.
DAILY_VOLUME = 1_000_000.0

_FREQ_RE = re.compile(r"^\s*(\d+)\s*(ns|us|ms|s|m|min|h|d)\s*$")
_FREQ_NS = {
    "ns": 1,
    "us": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "min": 60_000_000_000,
    "h": 3_600_000_000_000,
    "d": NS_PER_DAY,
}


def parse_freq(freq: str) -> int:
    """A bar interval such as ``"1d"``, ``"4h"``, ``"1m"`` (minute), ``"30s"``, ``"100ms"`` in ns."""
    if not isinstance(freq, str):
        raise DTypeError(f"freq is a string such as '1d', '1h', '1m' or '1s', not {type(freq).__name__}")
    match = _FREQ_RE.match(freq)
    if match is None or int(match[1]) == 0:
        raise InvalidArgumentError(
            f"freq {freq!r} is not a positive count and unit (ns, us, ms, s, m or min, h, d), e.g. '1d', '5m'"
        )
    return int(match[1]) * _FREQ_NS[match[2]]


def _start_ns(start: Any) -> int:
    import datetime as dt

    if isinstance(start, bool):
        raise DTypeError("start is a date, datetime, ISO string, datetime64 or int ns, not bool")
    if isinstance(start, (int, np.integer)):
        return int(start)
    if isinstance(start, np.datetime64):
        return int(start.astype("datetime64[ns]").astype(np.int64))
    if isinstance(start, dt.datetime):
        return datetime_ns(start)
    if isinstance(start, dt.date):
        return (start - dt.date(1970, 1, 1)).days * NS_PER_DAY
    if isinstance(start, str):
        try:
            return datetime_ns(dt.datetime.fromisoformat(start.strip().replace("Z", "+00:00")))
        except ValueError:
            raise InvalidArgumentError(f"start {start!r} is not an ISO date or datetime") from None
    raise DTypeError(
        f"start must be a date, datetime, ISO string, datetime64 or int ns, not {type(start).__name__}"
    )


def _symbol_names(symbols: int | Sequence[str]) -> list[str]:
    if isinstance(symbols, bool):
        raise DTypeError("symbols is a count or a list of names, not bool")
    if isinstance(symbols, (int, np.integer)):
        k = int(symbols)
        if k < 1:
            raise InvalidArgumentError(f"symbols must be at least 1, not {k}")
        if k <= 26:
            return [chr(ord("A") + i) * 3 for i in range(k)]
        width = len(str(k))
        return [f"S{i + 1:0{width}d}" for i in range(k)]
    if isinstance(symbols, str):
        return [symbols]
    names = list(symbols)
    if not names:
        raise InvalidArgumentError("symbols is empty")
    for name in names:
        if not isinstance(name, str) or not name:
            raise DTypeError(f"symbol names are non-empty strings, not {name!r}")
    if len(set(names)) != len(names):
        raise InvalidArgumentError(f"symbol names repeat: {names}")
    return names


def _per_symbol(value: Any, k: int, name: str, *, positive: bool = False, nonneg: bool = False) -> F64Array:
    if isinstance(value, bool):
        raise DTypeError(f"{name} is a number or one number per symbol, not bool")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise DTypeError(f"{name} is a number or one number per symbol, not {value!r}") from None
    if arr.ndim == 0:
        arr = np.full(k, float(arr))
    if arr.shape != (k,):
        raise InvalidArgumentError(f"{name} has {arr.size} values for {k} symbols")
    if not np.all(np.isfinite(arr)):
        raise InvalidArgumentError(f"{name} must be finite, not {value!r}")
    if positive and np.any(arr <= 0):
        raise InvalidArgumentError(f"{name} must be > 0, not {value!r}")
    if nonneg and np.any(arr < 0):
        raise InvalidArgumentError(f"{name} must be >= 0, not {value!r}")
    return arr


def _correlation_factor(correlation: Any, k: int) -> F64Array:
    """A matrix ``L`` with ``L @ L.T`` equal to the correlation matrix (Cholesky, or eigen for PSD)."""
    if isinstance(correlation, bool):
        raise DTypeError("correlation is a number or a matrix, not bool")
    try:
        arr = np.asarray(correlation, dtype=np.float64)
    except (TypeError, ValueError):
        raise DTypeError(f"correlation is a number or a matrix, not {correlation!r}") from None
    if arr.ndim == 0:
        rho = float(arr)
        if not np.isfinite(rho) or rho > 1.0 or (k > 1 and rho < -1.0 / (k - 1)):
            raise InvalidArgumentError(
                f"correlation {rho} is not a valid common correlation of {k} symbols "
                f"(it must lie in [{-1.0 / max(k - 1, 1):.4g}, 1])"
            )
        matrix = np.full((k, k), rho)
        np.fill_diagonal(matrix, 1.0)
    else:
        if arr.shape != (k, k):
            raise InvalidArgumentError(f"correlation matrix has shape {arr.shape}, expected ({k}, {k})")
        if not np.all(np.isfinite(arr)) or not np.allclose(arr, arr.T, atol=1e-12):
            raise InvalidArgumentError("correlation matrix must be finite and symmetric")
        if not np.allclose(np.diag(arr), 1.0, atol=1e-12) or np.any(np.abs(arr) > 1.0 + 1e-12):
            raise InvalidArgumentError("correlation matrix must have a unit diagonal and entries in [-1, 1]")
        matrix = arr
    try:
        return np.linalg.cholesky(matrix)
    except np.linalg.LinAlgError:
        values, vectors = np.linalg.eigh(matrix)
        if values.min() < -1e-10:
            raise InvalidArgumentError(
                f"correlation matrix is not positive semi-definite (smallest eigenvalue {values.min():.3g})"
            ) from None
        return np.asarray(vectors * np.sqrt(np.clip(values, 0.0, None)), dtype=np.float64)


def _tick_decimals(tick: float) -> int:
    for decimals in range(13):
        if abs(round(tick, decimals) - tick) <= 1e-15 * max(1.0, tick):
            return decimals
    raise InvalidArgumentError(f"tick_size {tick} has more than 12 decimals")


def _to_grid(prices: F64Array, tick: float | None, decimals: int) -> F64Array:
    """Prices rounded to the nearest multiple of ``tick`` (at least one tick): monotone.

    The result equals ``np.round(k * tick, decimals)``: with ``tick = m / 10**decimals`` (``m``
    an integer) that is the float nearest to ``k * m / 10**decimals``, computed directly.
    """
    if tick is None:
        return prices
    steps = np.rint(prices / tick)
    np.maximum(steps, 1.0, out=steps)
    scale = 10.0**decimals
    steps *= float(round(tick * scale))
    steps /= scale
    return steps


def _regime_multiplier(times: F64Array, horizon: float, rng: np.random.Generator) -> F64Array:
    """Volatility multiplier at business times ``times`` (days) of a two-state Markov chain."""
    turbulent = bool(rng.random() < _P_TURBULENT)
    mean_cycle = 1.0 / _RATE_OUT_CALM + 1.0 / _RATE_OUT_TURB
    count = 2 * int(horizon / mean_cycle) + 16
    while True:
        means = np.empty(count)
        means[0::2] = 1.0 / (_RATE_OUT_TURB if turbulent else _RATE_OUT_CALM)
        means[1::2] = 1.0 / (_RATE_OUT_CALM if turbulent else _RATE_OUT_TURB)
        ends = np.cumsum(rng.exponential(means))
        if ends[-1] > horizon:
            break
        count *= 2
    spell = np.searchsorted(ends, times, side="right")
    state = (spell + int(turbulent)) % 2  # 1 = turbulent
    return np.where(state == 1, REGIME_MULTIPLIERS[1], REGIME_MULTIPLIERS[0])


def _check_end(last: float) -> None:
    """Raise if an instant (ns since the epoch) lies past what int64 nanoseconds can hold."""
    if last >= _LAST_DAY * NS_PER_DAY:
        raise InvalidArgumentError(
            "the requested data would run past 2262-04-10, the last whole day of int64-nanosecond time: "
            "use fewer rows, a shorter freq or an earlier start"
        )


def _session_table(calendar: Calendar, start: int, sessions_needed: int) -> tuple[I64Array, I64Array]:
    """Open and close instants (ns UTC) of the first ``sessions_needed`` sessions from ``start``."""
    import datetime as dt

    if not calendar.weekdays:
        raise InvalidArgumentError("the calendar has no trading weekdays")
    first_day = start // NS_PER_DAY
    first = dt.date(1970, 1, 1) + dt.timedelta(days=first_day)
    span = int(sessions_needed * 7 / len(calendar.weekdays) * 1.1) + 14
    while True:
        span = min(span, _LAST_DAY - 1 - first_day)
        table = calendar.sessions(first, first + dt.timedelta(days=span))
        if table.height >= sessions_needed:
            break
        if first_day + span >= _LAST_DAY - 1:
            _check_end(float(_LAST_DAY * NS_PER_DAY))
        span *= 2
    opens = table.get_column("open").dt.epoch("ns").to_numpy()[:sessions_needed]
    closes = table.get_column("close").dt.epoch("ns").to_numpy()[:sessions_needed]
    return opens.astype(np.int64), closes.astype(np.int64)


# Days since the epoch of 2262-04-11, the first day that int64 nanoseconds do not cover.
_LAST_DAY = 106_751


def _bar_clock(
    n: int, start: int, step: int, calendar: Calendar | None
) -> tuple[I64Array, F64Array, F64Array]:
    """Bar start instants, business start times (days) and business durations (days)."""
    if calendar is None:
        _check_end(float(start) + float(n) * float(step))
        ts = start + np.arange(n, dtype=np.int64) * step
        duration = np.full(n, step / NS_PER_DAY)
        return ts, np.arange(n, dtype=np.float64) * (step / NS_PER_DAY), duration
    if step >= NS_PER_DAY:  # whole days: one bar per step // day sessions, stamped at the open
        per = step // NS_PER_DAY
        opens, _ = _session_table(calendar, start, n * per)
        index = np.arange(n, dtype=np.int64) * per
        return opens[index], index.astype(np.float64), np.full(n, float(per))
    length = calendar.session_seconds * 1_000_000_000
    per_session = -(-length // step)
    opens, closes = _session_table(calendar, start, -(-n // per_session))
    session = np.repeat(np.arange(opens.size, dtype=np.int64), per_session)[:n]
    offset = np.tile(np.arange(per_session, dtype=np.int64) * step, opens.size)[:n]
    ts = opens[session] + offset
    actual = (closes - opens)[session]
    duration = np.asarray(np.minimum(step, actual - offset) / actual, dtype=np.float64)
    return ts, np.asarray(session + offset / actual, dtype=np.float64), duration


def _simulate_paths(
    dt_days: F64Array,
    times: F64Array,
    k: int,
    mu: F64Array,
    sigma: F64Array,
    factor: F64Array,
    regimes: bool,
    jumps: bool,
    rngs: Sequence[np.random.Generator],
) -> tuple[F64Array, F64Array]:
    """Log returns (rows = steps, columns = symbols) and each step's diffusion variance."""
    steps = dt_days.size
    horizon = float(times[-1] + dt_days[-1]) if steps else 0.0
    mult = _regime_multiplier(times, horizon, rngs[0]) if regimes else np.ones(steps)
    dt_years = dt_days / TRADING_DAYS
    uniform = bool(steps == 0 or np.all(dt_days == dt_days[0]))
    shocks = rngs[1].standard_normal((steps, k))
    if k > 1:
        shocks = shocks @ factor.T
    variance = np.square(sigma[None, :] * mult[:, None]) * dt_years[:, None]
    returns = np.sqrt(variance) * shocks
    returns += mu[None, :] * dt_years[:, None] - 0.5 * variance
    if jumps:
        rate = JUMP_INTENSITY * (dt_years[0] if uniform else dt_years[:, None])
        counts = rngs[2].poisson(rate, (steps, k)).astype(np.float64)
        sizes = counts * JUMP_MEAN + np.sqrt(counts) * JUMP_STD * rngs[2].standard_normal((steps, k))
        returns += sizes
        returns -= JUMP_INTENSITY * _JUMP_KAPPA * dt_years[:, None]
    return returns, variance


def synthetic(
    symbols: int | Sequence[str] = 3,
    n: int = 1_000,
    *,
    kind: str = "bars",
    start: Any = "2020-01-01",
    freq: str = "1d",
    seed: int = 7,
    price: float | npt.ArrayLike = 100.0,
    mu: float | npt.ArrayLike = 0.05,
    sigma: float | npt.ArrayLike = 0.2,
    correlation: float | npt.ArrayLike = 0.5,
    regimes: bool = True,
    jumps: bool = True,
    tick_size: float | None = 0.01,
    calendar: Calendar | None = None,
) -> Any:
    """Synthetic bars or ticks in the canonical long format.

    Parameters
    ----------
    symbols : int or sequence of str
        A count (names ``"AAA"``, ``"BBB"``, ... up to 26 symbols, then ``"S01"``, ``"S02"``,
        ...) or the names.
    n : int
        Bars (or ticks) per symbol.
    kind : {"bars", "ticks"}
        Canonical bar frame (ts, symbol, open, high, low, close, volume) or tick frame (ts,
        symbol, price, size, side).
    start : date-like or int
        First instant (a naive value is UTC). With a calendar, the first session on or after its
        UTC date.
    freq : str
        Bar interval (``"1d"``, ``"1h"``, ``"5m"`` (minutes), ``"1s"``, ``"100ms"``...); for
        ticks, the mean gap between two ticks of one symbol.
    seed : int
        Seed of all randomness: the same arguments and seed give the identical frame. Each
        part (regimes, diffusion, jumps, ranges, volumes, tick arrivals) draws from its own
        stream, so switching ``jumps`` or ``regimes`` off leaves the other draws unchanged.
    price, mu, sigma : float or one per symbol
        Initial price, annualised drift and annualised volatility (years of 252 trading days).
    correlation : float or (k, k) matrix
        Correlation of the Brownian motions: one value for every pair or a full matrix
        (positive semi-definite, unit diagonal).
    regimes : bool
        Two-state volatility regime shared by all symbols: from calm to turbulent with
        probability ``REGIME_SWITCH[0]`` = 2 % per trading day, back with ``REGIME_SWITCH[1]`` =
        10 % (a continuous-time Markov chain with these daily probabilities; the first state is
        drawn from its stationary law). Volatility is multiplied by ``REGIME_MULTIPLIERS`` (about
        0.80 calm, 2.0 turbulent: a ratio of 2.5, scaled so the long-run variance stays
        ``sigma**2``).
    jumps : bool
        Compound Poisson jumps of each log price, independent per symbol: ``JUMP_INTENSITY`` = 4
        per year, sizes normal with mean ``JUMP_MEAN`` = -1 % and deviation ``JUMP_STD`` = 4 %;
        the drift is compensated so the expected growth rate stays ``mu``.
    tick_size : float or None
        Price grid: every price is ``round(k * tick_size, decimals)`` for an integer ``k >= 1``
        (``decimals`` those of ``tick_size``). None leaves prices continuous.
    calendar : Calendar or None
        Without one, bars follow each other every ``freq`` round the clock and one trading day
        is 24 hours of business time. With one, bars lie inside its sessions (bars of at least
        a day are stamped at the session open, one per ``freq // 1d`` sessions; intraday bars
        start at the open every ``freq``, the last one of a session cut at the close) and one
        session is one trading day of business time; nothing happens between sessions.

    Returns
    -------
    polars.DataFrame
        Sorted by (ts, symbol). Bars: ``open`` is the previous ``close`` (the first one is
        ``price``); ``high`` and ``low`` are drawn from the exact laws of the maximum and minimum
        of a Brownian bridge from open to close with the bar's diffusion variance, so
        ``low <= min(open, close) <= max(open, close) <= high``; ``volume`` is a positive whole
        number, lognormal around ``DAILY_VOLUME`` per trading day and larger on large moves.
        Ticks: irregular arrivals (exponential gaps of mean ``freq`` in business time, distinct
        per symbol), the correlated price process sampled exactly at each symbol's arrivals,
        ``side`` by the tick rule (+1 on an uptick, -1 on a downtick, a fair coin when the price
        is unchanged) and ``size`` a positive whole number (lognormal, median 100).

    Examples
    --------
    >>> frame = synthetic(["AAA", "BBB"], 250, seed=1)
    >>> frame.shape
    (500, 7)
    """
    import polars as pl

    names = _symbol_names(symbols)
    k = len(names)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise DTypeError(f"n is an int, not {type(n).__name__}")
    n = int(n)
    if n < 1:
        raise InvalidArgumentError(f"n must be at least 1, not {n}")
    if kind not in ("bars", "ticks"):
        raise InvalidArgumentError(f"kind must be 'bars' or 'ticks', not {kind!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or int(seed) < 0:
        raise InvalidArgumentError(f"seed must be a non-negative int, not {seed!r}")
    if calendar is not None and not isinstance(calendar, Calendar):
        raise DTypeError(f"calendar must be a Calendar, not {type(calendar).__name__}")
    step = parse_freq(freq)
    start_ns = _start_ns(start)
    price0 = _per_symbol(price, k, "price", positive=True)
    drift = _per_symbol(mu, k, "mu")
    vol = _per_symbol(sigma, k, "sigma", nonneg=True)
    factor = _correlation_factor(correlation, k)
    tick: float | None = None
    decimals = 0
    if tick_size is not None:
        if isinstance(tick_size, bool):
            raise DTypeError("tick_size is a float or None")
        tick = float(tick_size)
        if not (np.isfinite(tick) and tick > 0):
            raise InvalidArgumentError(f"tick_size must be > 0 (or None), not {tick_size!r}")
        decimals = _tick_decimals(tick)

    # Sort the symbols by name so that rows come out in (ts, symbol) order.
    order = sorted(range(k), key=lambda j: names[j])
    names = [names[j] for j in order]
    price0, drift, vol = price0[order], drift[order], vol[order]
    factor = factor[order]
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(6)]

    if kind == "bars":
        ts, times, dt_days = _bar_clock(n, start_ns, step, calendar)
        returns, variance = _simulate_paths(dt_days, times, k, drift, vol, factor, regimes, jumps, rngs)
        log_close = np.log(price0)[None, :] + np.cumsum(returns, axis=0)
        log_open = np.empty_like(log_close)
        log_open[0] = np.log(price0)
        log_open[1:] = log_close[:-1]
        gap = log_close - log_open
        spread = np.sqrt(gap * gap - 2.0 * variance * np.log1p(-rngs[3].random((n, k))))
        log_high = 0.5 * (log_open + log_close + spread)
        spread = np.sqrt(gap * gap - 2.0 * variance * np.log1p(-rngs[3].random((n, k))))
        log_low = 0.5 * (log_open + log_close - spread)
        scale = np.sqrt(variance) + 1e-300
        activity = 0.5 + 0.5 * np.abs(gap) / scale
        noise = np.exp(0.4 * rngs[4].standard_normal((n, k)) - 0.08)
        volume = np.maximum(np.ceil(DAILY_VOLUME * dt_days[:, None] * activity * noise), 1.0)
        columns: dict[str, Any] = {
            "open": _to_grid(np.exp(log_open), tick, decimals).ravel(),
            "high": _to_grid(np.exp(log_high), tick, decimals).ravel(),
            "low": _to_grid(np.exp(log_low), tick, decimals).ravel(),
            "close": _to_grid(np.exp(log_close), tick, decimals).ravel(),
            "volume": volume.ravel(),
        }
        stamps = np.repeat(ts, k)
        codes = np.tile(np.arange(k, dtype=np.int64), n)
    else:
        stamps, codes, columns = _ticks(
            n, k, start_ns, step, calendar, drift, vol, factor, price0, regimes, jumps, rngs
        )
        columns["price"] = _to_grid(columns["price"], tick, decimals)
        columns["side"] = _tick_rule(columns["price"], codes, k, rngs[4])
        columns = {key: columns[key] for key in ("price", "size", "side")}

    frame = pl.DataFrame(
        {
            "ts": pl.Series(stamps, dtype=pl.Int64).cast(pl.Datetime("ns")).dt.replace_time_zone("UTC"),
            "symbol": pl.Series(names, dtype=pl.String).gather(codes),
            **columns,
        }
    )
    if kind == "ticks":
        frame = frame.with_columns(pl.col("side").cast(pl.Int8))
    return frame


def _ticks(
    n: int,
    k: int,
    start: int,
    gap: int,
    calendar: Calendar | None,
    drift: F64Array,
    vol: F64Array,
    factor: F64Array,
    price0: F64Array,
    regimes: bool,
    jumps: bool,
    rngs: Sequence[np.random.Generator],
) -> tuple[I64Array, I64Array, dict[str, Any]]:
    """Tick instants, symbol codes and columns (price before rounding, size) in (ts, symbol) order."""
    # business time in ns: one trading day is 24 h (no calendar) or one session
    day = NS_PER_DAY if calendar is None else calendar.session_seconds * 1_000_000_000
    gaps_f = np.maximum(np.ceil(rngs[5].exponential(float(gap), (n, k))), 1.0)
    _check_end(float(start) + float(gaps_f.sum(axis=0).max()) * (NS_PER_DAY / day) * 1.5)
    gaps = gaps_f.astype(np.int64)
    business = np.cumsum(gaps, axis=0)  # per symbol, strictly increasing
    flat = business.ravel()
    codes = np.tile(np.arange(k, dtype=np.int64), n)
    order = np.lexsort((codes, flat))
    flat, codes = flat[order], codes[order]
    # the correlated process on the merged grid of every symbol's arrivals
    step_ns = np.diff(flat, prepend=0)
    steps = step_ns.astype(np.float64) / day
    times = (flat - step_ns).astype(np.float64) / day
    returns, _ = _simulate_paths(steps, times, k, drift, vol, factor, regimes, jumps, rngs)
    log_price = np.log(price0)[None, :] + np.cumsum(returns, axis=0)
    price = np.exp(log_price[np.arange(flat.size), codes])
    if calendar is None:
        stamps = start + flat
    else:
        sessions = int(flat[-1] // day) + 1
        opens, closes = _session_table(calendar, start, sessions)
        index = flat // day
        offset = flat % day
        actual = (closes - opens)[index]  # differs from ``day`` only across a DST change in a session
        stretched = np.rint(offset.astype(np.float64) * (actual / day)).astype(np.int64)
        stamps = opens[index] + np.where(actual == day, offset, stretched)
    size = np.ceil(rngs[5].lognormal(math.log(100.0), 1.0, flat.size))
    columns: dict[str, Any] = {"price": price, "size": size}
    return stamps.astype(np.int64), codes, columns


def _tick_rule(price: F64Array, codes: I64Array, k: int, rng: np.random.Generator) -> npt.NDArray[np.int8]:
    """+1 on an uptick, -1 on a downtick, a fair coin on an unchanged price (per symbol)."""
    side = np.where(rng.random(price.size) < 0.5, -1, 1).astype(np.int8)
    for j in range(k):
        rows = np.flatnonzero(codes == j)
        change = np.diff(price[rows], prepend=np.nan)
        side[rows[change > 0]] = 1
        side[rows[change < 0]] = -1
    return side
