"""Vectorised backtests of one symbol driven by a target-direction signal.

:func:`from_signals` turns a per-bar target direction (long, flat, short) into the trades,
orders, fills, equity curve and final position of a single-symbol strategy. The position only
changes where the target changes, so compiled code walks those change points (one or two
fills each) and NumPy computes everything per bar (cash, equity, exposure) over the segments
between them: a million bars with ten thousand trades take a fraction of a second.

Conventions
-----------
- A decision taken on bar ``t`` (on its close) fills at bar ``t + 1``'s open with
  ``fill="next_open"``, or at bar ``t``'s close with ``fill="close"``.
- ``slippage`` moves the fill price against the trader: buys fill at ``price * (1 + slippage)``,
  sells at ``price * (1 - slippage)``. ``fees`` is a fraction of the traded notional
  (``quantity * fill_price``), charged on every fill.
- Sizing on entry uses the equity available after closing any existing position (for shorts
  too). With the default ``size=None`` the whole of it is used, in whole shares:
  ``quantity = floor(available / (fill_price * (1 + fees)))``. When not even one share (or, with
  fractional shares, no positive quantity) is affordable, nothing is traded and nothing is
  recorded; the target is not retried on later bars (the position changes only where the
  target changes).
- Shorting credits the sale proceeds to cash; equity is always ``cash + quantity * close``
  (quantity negative when short). There is no borrow cost and no margin call.
- A reversal (long to short or back) closes the old position and opens the new one on the
  same bar: two fills, two orders, one closed trade.
- With ``close_at_end=True`` (or ``"close"``) whatever is open after the last bar's fills is
  closed at the last bar's close; with ``"open"`` at the last bar's open (what backtesting.py's
  ``finalize_trades=True`` does). That closing fill pays fees but no slippage (as in the
  event-driven engine), and its order is tagged ``"close_at_end"``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
import polars as pl

from . import _backtest
from .errors import DTypeError, InvalidArgumentError

if TYPE_CHECKING:
    from .results import BacktestResult

__all__ = ["from_signals", "signal_from_crossover", "target_from_booleans"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

_TS = pl.Datetime("ns", "UTC")

EQUITY_SCHEMA: dict[str, Any] = {
    "ts": _TS,
    "cash": pl.Float64,
    "equity": pl.Float64,
    "gross_exposure": pl.Float64,
    "net_exposure": pl.Float64,
}
TRADES_SCHEMA: dict[str, Any] = {
    "symbol": pl.String,
    "direction": pl.String,
    "quantity": pl.Float64,
    "entry_ts": _TS,
    "entry_price": pl.Float64,
    "exit_ts": _TS,
    "exit_price": pl.Float64,
    "pnl": pl.Float64,
    "fees": pl.Float64,
    "return_pct": pl.Float64,
    "bars_held": pl.Int64,
}
ORDERS_SCHEMA: dict[str, Any] = {
    "order_id": pl.Int64,
    "ts": _TS,
    "symbol": pl.String,
    "side": pl.Int8,
    "type": pl.String,
    "quantity": pl.Float64,
    "price": pl.Float64,
    "stop_price": pl.Float64,
    "status": pl.String,
    "filled_quantity": pl.Float64,
    "avg_price": pl.Float64,
    "reason": pl.String,
    "tag": pl.String,
}
FILLS_SCHEMA: dict[str, Any] = {
    "ts": _TS,
    "order_id": pl.Int64,
    "symbol": pl.String,
    "side": pl.Int8,
    "quantity": pl.Float64,
    "price": pl.Float64,
    "fee": pl.Float64,
}
POSITIONS_SCHEMA: dict[str, Any] = {
    "symbol": pl.String,
    "quantity": pl.Float64,
    "avg_price": pl.Float64,
    "last_price": pl.Float64,
    "market_value": pl.Float64,
    "unrealized_pnl": pl.Float64,
    "realized_pnl": pl.Float64,
}

_FILL_POLICIES = ("next_open", "close")

#: Symbol recorded when the data names none (arrays, pandas frames, frames without a symbol column).
DEFAULT_SYMBOL = "asset"
_SIZE_TYPES = ("percent", "shares", "value")


# ------------------------------------------------------------------------------------------------
# input normalisation
# ------------------------------------------------------------------------------------------------


class _Bars:
    """One symbol's bars as NumPy arrays: int64 ns timestamps, open and close prices."""

    __slots__ = ("close", "open", "symbol", "ts")

    def __init__(self, ts: IntArray, open_: FloatArray, close: FloatArray, symbol: str) -> None:
        self.ts = ts
        self.open = open_
        self.close = close
        self.symbol = symbol


def _float_column(values: Any, name: str) -> FloatArray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise DTypeError(f"column {name!r} must be numeric") from None
    if arr.ndim != 1:
        raise InvalidArgumentError(f"column {name!r} must be one-dimensional, got shape {arr.shape}")
    return np.ascontiguousarray(arr)


def _polars_ts(col: pl.Series) -> IntArray:
    dtype = col.dtype
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is None:
            col = col.dt.replace_time_zone("UTC")
        elif dtype.time_zone != "UTC":
            col = col.dt.convert_time_zone("UTC")
        col = col.cast(_TS)
    elif dtype == pl.Date:
        col = col.cast(pl.Datetime("ns")).dt.replace_time_zone("UTC")
    elif not dtype.is_integer():
        raise DTypeError(f"column 'ts' must be a Datetime (or int64 nanoseconds), got {dtype}")
    if col.null_count():
        raise InvalidArgumentError("column 'ts' has missing values")
    return np.ascontiguousarray(col.to_physical().to_numpy(), dtype=np.int64)


def _from_polars(data: pl.DataFrame, symbol: str | None) -> _Bars:
    cols = {c.lower(): c for c in data.columns}
    if "symbol" in cols:
        sym_col = cols["symbol"]
        if symbol is not None:
            data = data.filter(pl.col(sym_col) == symbol)
            if data.height == 0:
                raise InvalidArgumentError(f"no bars of symbol {symbol!r} in the frame")
        else:
            symbols = data.get_column(sym_col).unique(maintain_order=True).to_list()
            if len(symbols) > 1:
                raise InvalidArgumentError(
                    f"the frame holds {len(symbols)} symbols ({symbols[:5]}...); pass symbol=... to pick one"
                )
            symbol = None if not symbols else str(symbols[0])
    for need in ("ts", "close"):
        if need not in cols:
            raise InvalidArgumentError(f"the bar frame needs a {need!r} column (columns: {data.columns})")
    ts = _polars_ts(data.get_column(cols["ts"]))
    close = _float_column(data.get_column(cols["close"]).to_numpy(), "close")
    open_ = _float_column(data.get_column(cols["open"]).to_numpy(), "open") if "open" in cols else close
    return _Bars(ts, open_, close, symbol or DEFAULT_SYMBOL)


def _from_pandas(data: Any, symbol: str | None) -> _Bars:
    index = data.index
    if type(index).__name__ != "DatetimeIndex":
        raise DTypeError(f"a pandas frame needs a DatetimeIndex, got {type(index).__name__}")
    if index.tz is None:
        index = index.tz_localize("UTC")
    else:
        index = index.tz_convert("UTC")
    ts = np.ascontiguousarray(index.as_unit("ns").asi8, dtype=np.int64)
    cols = {str(c).lower(): c for c in data.columns}
    if "close" not in cols:
        raise InvalidArgumentError(f"the pandas frame needs a Close column (columns: {list(data.columns)})")
    close = _float_column(data[cols["close"]].to_numpy(), "close")
    open_ = _float_column(data[cols["open"]].to_numpy(), "open") if "open" in cols else close
    return _Bars(ts, open_, close, symbol or DEFAULT_SYMBOL)


def _from_mapping(data: Mapping[str, Any], symbol: str | None) -> _Bars:
    cols = {str(k).lower(): k for k in data}
    if "close" not in cols:
        raise InvalidArgumentError(f"the arrays need a 'close' entry (keys: {list(data)})")
    close = _float_column(data[cols["close"]], "close")
    open_ = _float_column(data[cols["open"]], "open") if "open" in cols else close
    if "ts" in cols:
        raw = np.asarray(data[cols["ts"]])
        if np.issubdtype(raw.dtype, np.datetime64):
            ts = raw.astype("datetime64[ns]").astype(np.int64)
        elif np.issubdtype(raw.dtype, np.integer):
            ts = raw.astype(np.int64)
        else:
            raise DTypeError(f"'ts' must hold int64 nanoseconds or datetime64 values, got {raw.dtype}")
    else:
        ts = np.arange(close.shape[0], dtype=np.int64)
    if ts.ndim != 1:
        raise InvalidArgumentError(f"'ts' must be one-dimensional, got shape {ts.shape}")
    if symbol is None and "symbol" in cols:
        sym = np.asarray(data[cols["symbol"]])
        uniq = np.unique(sym) if sym.ndim else sym.reshape(1)
        if uniq.size > 1:
            raise InvalidArgumentError("the arrays hold several symbols; the vectorised path takes one")
        symbol = str(uniq[0]) if uniq.size else None
    return _Bars(np.ascontiguousarray(ts), open_, close, symbol or DEFAULT_SYMBOL)


def _bars(data: Any, symbol: str | None) -> _Bars:
    if symbol is not None and not isinstance(symbol, str):
        raise DTypeError(f"symbol must be a str or None, got {type(symbol).__name__}")
    if isinstance(data, pl.DataFrame):
        bars = _from_polars(data, symbol)
    elif type(data).__module__.split(".")[0] == "pandas" and hasattr(data, "columns"):
        bars = _from_pandas(data, symbol)
    elif isinstance(data, Mapping):
        bars = _from_mapping(data, symbol)
    else:
        raise DTypeError(
            "data must be a polars bar frame, a pandas frame with a DatetimeIndex, or a dict of "
            f"NumPy arrays; got {type(data).__name__}"
        )
    n = bars.close.shape[0]
    if n == 0:
        raise InvalidArgumentError("no bars")
    if bars.open.shape[0] != n or bars.ts.shape[0] != n:
        raise InvalidArgumentError("ts, open and close must have the same length")
    if n > 1 and not bool(np.all(np.diff(bars.ts) > 0)):
        raise InvalidArgumentError("timestamps must be strictly increasing (one bar per timestamp)")
    for name, arr in (("open", bars.open), ("close", bars.close)):
        if not bool(np.all(np.isfinite(arr) & (arr > 0))):
            raise InvalidArgumentError(f"{name} prices must be finite and positive")
    return bars


def _as_1d(values: Any, name: str, n: int) -> npt.NDArray[Any]:
    if hasattr(values, "to_numpy") and not isinstance(values, np.ndarray):
        values = values.to_numpy()
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise InvalidArgumentError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.shape[0] != n:
        raise InvalidArgumentError(f"{name} has {arr.shape[0]} values for {n} bars")
    return arr


def _target_from_signal(signal: Any, n: int) -> FloatArray:
    arr = _as_1d(signal, "signal", n)
    if arr.dtype == np.bool_ or not (np.issubdtype(arr.dtype, np.number)):
        raise DTypeError(f"signal must be numeric (+1, 0, -1 or NaN), got dtype {arr.dtype}")
    sig = arr.astype(np.float64, copy=False)
    known = ~np.isnan(sig)
    vals = sig[known]
    if not bool(np.all((vals == 1.0) | (vals == 0.0) | (vals == -1.0))):
        bad = vals[~((vals == 1.0) | (vals == 0.0) | (vals == -1.0))][0]
        raise InvalidArgumentError(f"signal values must be +1, 0, -1 or NaN; found {bad!r}")
    # Forward-fill: NaN holds the previous target; before the first value the target is flat.
    idx = np.where(known, np.arange(n), -1)
    np.maximum.accumulate(idx, out=idx)
    return np.where(idx >= 0, sig[np.maximum(idx, 0)], 0.0)


def _bool_arg(values: Any, name: str, n: int) -> BoolArray:
    if values is None:
        return np.zeros(n, dtype=np.bool_)
    arr = _as_1d(values, name, n)
    if arr.dtype != np.bool_:
        raise DTypeError(f"{name} must be a boolean array, got dtype {arr.dtype}")
    return arr


def target_from_booleans(
    entries: Any = None,
    exits: Any = None,
    short_entries: Any = None,
    short_exits: Any = None,
    *,
    n: int | None = None,
) -> FloatArray:
    """Target direction per bar (+1, 0, -1) from vectorbt-style boolean arrays.

    Rules, applied bar by bar (but computed without a Python loop):

    - ``entries`` makes the target long and ``short_entries`` short, whatever the current
      position: an entry while in the opposite position reverses it.
    - ``exits`` makes a long target flat; ``short_exits`` makes a short target flat; an exit
      of the other side, or while flat, does nothing.
    - Exits are applied before entries: on a bar where an exit and an entry are both true the
      entry decides (a long exit and a long entry together keep, or open, the long).
    - A bar where ``entries`` and ``short_entries`` are both true is ambiguous; both are
      ignored (its exits still apply).
    - Before the first entry the target is flat.

    Parameters
    ----------
    entries, exits, short_entries, short_exits : array-like of bool, optional
        One value per bar; ``None`` means never.
    n : int, optional
        Number of bars; needed only when every array is ``None``.

    Returns
    -------
    numpy.ndarray of float64
        The target direction of every bar.
    """
    given = [a for a in (entries, exits, short_entries, short_exits) if a is not None]
    if n is None:
        if not given:
            raise InvalidArgumentError("pass at least one boolean array, or n")
        n = len(given[0])
    le = _bool_arg(entries, "entries", n)
    lx = _bool_arg(exits, "exits", n)
    se = _bool_arg(short_entries, "short_entries", n)
    sx = _bool_arg(short_exits, "short_exits", n)
    go_long = le & ~se
    go_short = se & ~le
    event = np.where(go_long, 1.0, np.where(go_short, -1.0, 0.0))
    idx = np.where(event != 0.0, np.arange(n), -1)
    np.maximum.accumulate(idx, out=idx)
    last = np.maximum(idx, 0)
    direction = np.where(idx >= 0, event[last], 0.0)
    # An exit of the matching side strictly after the last entry flattens the target.
    long_exits = np.cumsum(lx, dtype=np.int64)
    short_exits_n = np.cumsum(sx, dtype=np.int64)
    long_closed = (long_exits - long_exits[last]) > 0
    short_closed = (short_exits_n - short_exits_n[last]) > 0
    closed = np.where(direction > 0, long_closed, np.where(direction < 0, short_closed, False))
    return np.where(closed, 0.0, direction)


def signal_from_crossover(fast: Any, slow: Any) -> FloatArray:
    """Signal of a moving-average crossover: +1 on a golden cross, -1 on a death cross, NaN elsewhere.

    ``+1`` at bar ``t`` where ``fast[t-1] < slow[t-1]`` and ``fast[t] > slow[t]`` (strictly),
    ``-1`` where ``fast[t-1] > slow[t-1]`` and ``fast[t] < slow[t]``, NaN (hold) elsewhere,
    including the first bar and wherever a NaN is involved. Fed to :func:`from_signals`
    as ``signal=``, this is the classic stop-and-reverse SMA cross.

    Parameters
    ----------
    fast, slow : array-like of float
        Two series of the same length (e.g. a short and a long moving average).

    Returns
    -------
    numpy.ndarray of float64
    """
    f = _float_column(fast.to_numpy() if hasattr(fast, "to_numpy") else fast, "fast")
    s = _float_column(slow.to_numpy() if hasattr(slow, "to_numpy") else slow, "slow")
    if f.shape != s.shape:
        raise InvalidArgumentError(f"fast and slow differ in length: {f.shape[0]} and {s.shape[0]}")
    out = np.full(f.shape[0], np.nan)
    if f.shape[0] < 2:
        return out
    with np.errstate(invalid="ignore"):
        up = (f[:-1] < s[:-1]) & (f[1:] > s[1:])
        down = (f[:-1] > s[:-1]) & (f[1:] < s[1:])
    out[1:][up] = 1.0
    out[1:][down] = -1.0
    return out


# ------------------------------------------------------------------------------------------------
# the simulation
# ------------------------------------------------------------------------------------------------


def _simulate(
    bars: _Bars,
    target: FloatArray,
    *,
    cash: float,
    fees: float,
    slippage: float,
    fill: str,
    size: float | None,
    size_type: str,
    whole: bool,
    close_at_end: str | None,
) -> dict[str, pl.DataFrame]:
    n = bars.close.shape[0]
    close = bars.close
    ts = bars.ts
    tgt = target
    prev = np.empty_like(tgt)
    prev[0] = 0.0
    prev[1:] = tgt[:-1]
    change = np.flatnonzero(tgt != prev)
    if fill == "next_open":
        exec_bars = change + 1
        keep = exec_bars < n
        change, exec_bars = change[keep], exec_bars[keep]
        exec_px = bars.open[exec_bars]
    else:
        exec_bars = change
        exec_px = close[exec_bars]

    # the account, walked from one change of the target to the next in compiled code
    mode = 0 if size is None else {"percent": 1, "value": 2, "shares": 3}[size_type]
    close_mode = {None: 0, "close": 1, "open": 2}[close_at_end]
    k = _backtest.signal_kernel(
        np.ascontiguousarray(change, dtype=np.int64), np.ascontiguousarray(exec_bars, dtype=np.int64),
        np.ascontiguousarray(exec_px, dtype=np.float64), np.ascontiguousarray(tgt, dtype=np.float64),
        float(cash), float(fees), float(slippage), mode, 0.0 if size is None else float(size),
        bool(whole), close_mode, float(close[n - 1]), float(bars.open[n - 1]), n,
    )
    s_bar, s_cash, s_qty = k["s_bar"], k["s_cash"], k["s_qty"]
    f_bar, f_created, f_side = k["f_bar"], k["f_created"], k["f_side"]
    f_qty, f_price, f_fee = k["f_qty"], k["f_price"], k["f_fee"]
    f_tag = np.array(["entry", "exit", "close_at_end"], dtype=object)[k["f_tag"]].tolist()
    t_dir, t_qty, t_entry_bar, t_entry_px = k["t_dir"], k["t_qty"], k["t_entry_bar"], k["t_entry_px"]
    t_exit_bar, t_exit_px, t_pnl, t_fees = k["t_exit_bar"], k["t_exit_px"], k["t_pnl"], k["t_fees"]
    pos, entry_px, realized = k["pos"], k["entry_px"], k["realized"]

    # -- per-bar state over the segments between changes (no per-bar Python) -----------------
    bounds = np.asarray(s_bar, dtype=np.int64)
    lengths = np.diff(np.concatenate(([0], bounds, [n])))
    cash_bar = np.repeat(np.concatenate(([float(cash)], np.asarray(s_cash, dtype=np.float64))), lengths)
    qty_bar = np.repeat(np.concatenate(([0.0], np.asarray(s_qty, dtype=np.float64))), lengths)
    net = qty_bar * close
    equity = pl.DataFrame(
        {
            "ts": pl.Series("ts", ts).cast(_TS),
            "cash": cash_bar,
            "equity": cash_bar + net,
            "gross_exposure": np.abs(net),
            "net_exposure": net,
        },
        schema=EQUITY_SCHEMA,
    )

    symbol = bars.symbol
    nf = len(f_bar)
    fb = np.asarray(f_bar, dtype=np.int64)
    fc = np.asarray(f_created, dtype=np.int64)
    order_ids = np.arange(1, nf + 1, dtype=np.int64)
    fill_px = np.asarray(f_price, dtype=np.float64)
    fill_qty = np.asarray(f_qty, dtype=np.float64)
    fill_side = np.asarray(f_side, dtype=np.int8)
    fills = pl.DataFrame(
        {
            "ts": pl.Series("ts", ts[fb]).cast(_TS),
            "order_id": order_ids,
            "symbol": [symbol] * nf,
            "side": fill_side,
            "quantity": fill_qty,
            "price": fill_px,
            "fee": np.asarray(f_fee, dtype=np.float64),
        },
        schema=FILLS_SCHEMA,
    )
    nan = np.full(nf, np.nan)
    orders = pl.DataFrame(
        {
            "order_id": order_ids,
            "ts": pl.Series("ts", ts[fc]).cast(_TS),
            "symbol": [symbol] * nf,
            "side": fill_side,
            "type": ["market"] * nf,
            "quantity": fill_qty,
            "price": nan,
            "stop_price": nan,
            "status": ["filled"] * nf,
            "filled_quantity": fill_qty,
            "avg_price": fill_px,
            "reason": pl.Series("reason", [None] * nf, dtype=pl.String),
            "tag": f_tag,
        },
        schema=ORDERS_SCHEMA,
    )

    nt_ = len(t_dir)
    tq = np.asarray(t_qty, dtype=np.float64)
    tep = np.asarray(t_entry_px, dtype=np.float64)
    teb = np.asarray(t_entry_bar, dtype=np.int64)
    txb = np.asarray(t_exit_bar, dtype=np.int64)
    tpnl = np.asarray(t_pnl, dtype=np.float64)
    trades = pl.DataFrame(
        {
            "symbol": [symbol] * nt_,
            "direction": np.where(t_dir > 0, "long", "short").tolist(),
            "quantity": tq,
            "entry_ts": pl.Series("entry_ts", ts[teb]).cast(_TS),
            "entry_price": tep,
            "exit_ts": pl.Series("exit_ts", ts[txb]).cast(_TS),
            "exit_price": np.asarray(t_exit_px, dtype=np.float64),
            "pnl": tpnl,
            "fees": np.asarray(t_fees, dtype=np.float64),
            "return_pct": tpnl / (tep * tq) if nt_ else np.empty(0),
            "bars_held": txb - teb,
        },
        schema=TRADES_SCHEMA,
    )

    if nf:
        last = float(close[n - 1])
        avg = entry_px if pos != 0.0 else float("nan")
        unreal = pos * (last - entry_px) if pos != 0.0 else 0.0
        positions = pl.DataFrame(
            {
                "symbol": [symbol],
                "quantity": [pos],
                "avg_price": [avg],
                "last_price": [last],
                "market_value": [pos * last],
                "unrealized_pnl": [unreal],
                "realized_pnl": [realized],
            },
            schema=POSITIONS_SCHEMA,
        )
    else:
        positions = pl.DataFrame(schema=POSITIONS_SCHEMA)
    return {"equity": equity, "trades": trades, "orders": orders, "fills": fills, "positions": positions}


# ------------------------------------------------------------------------------------------------
# public entry point
# ------------------------------------------------------------------------------------------------


def _fraction(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise DTypeError(f"{name} must be a number, got {type(value).__name__}")
    v = float(value)
    if not 0.0 <= v < 1.0:
        raise InvalidArgumentError(f"{name} must be in [0, 1), got {value!r}")
    return v


def from_signals(
    data: Any,
    entries: Any = None,
    exits: Any = None,
    short_entries: Any = None,
    short_exits: Any = None,
    *,
    signal: Any = None,
    cash: float = 10_000.0,
    fees: float = 0.0,
    slippage: float = 0.0,
    fill: Literal["next_open", "close"] = "next_open",
    size: float | None = None,
    size_type: Literal["percent", "shares", "value"] = "percent",
    whole_shares: bool = True,
    allow_short: bool = True,
    close_at_end: bool | Literal["close", "open"] = True,
    symbol: str | None = None,
    seed: int | None = None,
    periods_per_year: float | None = None,
) -> BacktestResult:
    """Backtest one symbol from a target-direction signal or from entry/exit booleans.

    The strategy is described either by ``signal`` (the target direction of every bar) or by
    vectorbt-style boolean arrays; the module docstring spells out the fill, fee, slippage
    and sizing conventions. The position changes only where the target changes.

    Parameters
    ----------
    data : polars.DataFrame, pandas.DataFrame or mapping of arrays
        The bars of one symbol. A canonical polars bar frame (``ts``, ``symbol``, ``open``,
        ``high``, ``low``, ``close``, ``volume``; with several symbols pass ``symbol``); a
        pandas frame with a DatetimeIndex (naive times are taken as UTC) and Open/Close columns
        (names matched case-insensitively); or a dict of NumPy arrays with ``close``, optionally
        ``open`` and ``ts`` (int64 ns or datetime64; without it the bar number stands for the
        time). Only open and close are used; without ``open`` the close stands in for it.
        Timestamps must be strictly increasing and prices finite and positive.
    entries, exits, short_entries, short_exits : array-like of bool, optional
        Boolean arrays, one value per bar (see :func:`target_from_booleans` for the rules:
        exits are applied before entries, an entry against the current position reverses it,
        ``entries`` and ``short_entries`` together are ignored). Not with ``signal``.
    signal : array-like of float, optional
        Target direction per bar: ``+1`` long, ``0`` flat, ``-1`` short, NaN keeps the previous
        target (flat before the first value).
    cash : float, default 10_000
        Starting cash.
    fees : float, default 0
        Fraction of the traded notional charged on every fill, in [0, 1).
    slippage : float, default 0
        Fraction of the price by which every fill moves against the trader, in [0, 1).
    fill : {"next_open", "close"}, default "next_open"
        A target set on bar ``t`` fills at bar ``t+1``'s open or at bar ``t``'s close. With
        ``"next_open"`` a change on the last bar has no bar to fill on and is ignored.
    size : float, optional
        How much to open on an entry; ``None`` uses all the equity available after closing
        the previous position (same as ``size=1.0`` with ``size_type="percent"``).
    size_type : {"percent", "shares", "value"}, default "percent"
        ``"percent"``: ``size`` is a fraction in (0, 1] of the equity available;
        ``"shares"``: ``size`` is a number of shares, capped at what the equity affords;
        ``"value"``: ``size`` is an amount of cash, capped at the equity available.
    whole_shares : bool, default True
        Round quantities down to whole shares; ``False`` trades fractional quantities.
    allow_short : bool, default True
        When ``False`` a short target (``-1``, or a short entry) means flat.
    close_at_end : bool or {"close", "open"}, default True
        Close what is open once the last bar's fills are done: at its close (``True`` or
        ``"close"``), at its open (``"open"``, backtesting.py's ``finalize_trades=True``), or not
        at all (``False``; the position stays in ``positions``). Fees apply, slippage does not.
    symbol : str, optional
        Symbol to select from a multi-symbol frame, or the name to record for data that names
        none (``"asset"`` by default).
    seed : int, optional
        Recorded in the result (the simulation itself is deterministic).
    periods_per_year : float, optional
        Bars per year for annualised metrics; ``None`` lets the result infer it from the
        timestamps.

    Returns
    -------
    BacktestResult
        The equity curve (one row per bar: cash, equity, gross and net exposure), the closed
        trades (reversal legs included), one filled market order and one fill per transaction,
        the final position, ``config`` (every argument but the data and the arrays) and
        ``stats`` (``{"bars": n, "engine": "vectorised"}``).

    Examples
    --------
    >>> import numpy as np
    >>> from neural_trader.vector import from_signals, signal_from_crossover
    >>> close = 100 * np.exp(np.cumsum(np.random.default_rng(1).normal(0, 0.01, 500)))
    >>> def sma(x, k):
    ...     out = np.full(x.size, np.nan)
    ...     out[k - 1 :] = np.convolve(x, np.ones(k) / k, mode="valid")
    ...     return out
    >>> res = from_signals({"close": close}, signal=signal_from_crossover(sma(close, 10), sma(close, 30)))
    >>> res.trades["direction"].head(2).to_list()
    ['long', 'short']
    """
    if fill not in _FILL_POLICIES:
        raise InvalidArgumentError(f"fill must be one of {_FILL_POLICIES}, got {fill!r}")
    if size_type not in _SIZE_TYPES:
        raise InvalidArgumentError(f"size_type must be one of {_SIZE_TYPES}, got {size_type!r}")
    if isinstance(cash, bool) or not isinstance(cash, (int, float, np.integer, np.floating)):
        raise DTypeError(f"cash must be a number, got {type(cash).__name__}")
    if not (math.isfinite(float(cash)) and float(cash) > 0.0):
        raise InvalidArgumentError(f"cash must be finite and positive, got {cash!r}")
    fee_rate = _fraction(fees, "fees")
    slip = _fraction(slippage, "slippage")
    size_value: float | None = None
    if size is not None:
        if isinstance(size, bool) or not isinstance(size, (int, float, np.integer, np.floating)):
            raise DTypeError(f"size must be a number or None, got {type(size).__name__}")
        size_value = float(size)
        if size_type == "percent" and not 0.0 < size_value <= 1.0:
            raise InvalidArgumentError(f"size as a fraction of equity must be in (0, 1], got {size!r}")
        if not (math.isfinite(size_value) and size_value > 0.0):
            raise InvalidArgumentError(f"size must be finite and positive, got {size!r}")
    for flag, name in (
        (whole_shares, "whole_shares"),
        (allow_short, "allow_short"),
    ):
        if not isinstance(flag, (bool, np.bool_)):
            raise DTypeError(f"{name} must be a bool, got {type(flag).__name__}")
    if isinstance(close_at_end, (bool, np.bool_)):
        end_mode: str | None = "close" if close_at_end else None
    elif close_at_end in ("close", "open"):
        end_mode = str(close_at_end)
    else:
        raise InvalidArgumentError(
            f"close_at_end must be True/'close', 'open' or False, got {close_at_end!r}"
        )
    if periods_per_year is not None and not (
        isinstance(periods_per_year, (int, float))
        and periods_per_year > 0
        and math.isfinite(periods_per_year)
    ):
        raise InvalidArgumentError(f"periods_per_year must be a positive number, got {periods_per_year!r}")

    bars = _bars(data, symbol)
    n = bars.close.shape[0]
    booleans = (entries, exits, short_entries, short_exits)
    if signal is not None:
        if any(b is not None for b in booleans):
            raise InvalidArgumentError("pass either signal or entry/exit booleans, not both")
        target = _target_from_signal(signal, n)
        kind = "signal"
    elif any(b is not None for b in booleans):
        target = target_from_booleans(entries, exits, short_entries, short_exits, n=n)
        kind = "booleans"
    else:
        raise InvalidArgumentError("pass signal=... or entries/exits boolean arrays")
    if not allow_short:
        target = np.maximum(target, 0.0)

    frames = _simulate(
        bars,
        target,
        cash=float(cash),
        fees=fee_rate,
        slippage=slip,
        fill=fill,
        size=size_value,
        size_type=size_type,
        whole=bool(whole_shares),
        close_at_end=end_mode,
    )
    config: dict[str, Any] = {
        "engine": "vectorised",
        "signal_kind": kind,
        "symbol": bars.symbol,
        "cash": float(cash),
        "fees": fee_rate,
        "slippage": slip,
        "fill": fill,
        "size": size_value,
        "size_type": size_type,
        "whole_shares": bool(whole_shares),
        "allow_short": bool(allow_short),
        "close_at_end": end_mode if end_mode is not None else False,
        "seed": seed,
        "periods_per_year": periods_per_year,
    }
    from .results import BacktestResult

    return BacktestResult(
        equity=frames["equity"],
        trades=frames["trades"],
        orders=frames["orders"],
        fills=frames["fills"],
        positions=frames["positions"],
        config=config,
        seed=seed,
        initial_cash=float(cash),
        stats={"bars": n, "engine": "vectorised"},
        periods_per_year=periods_per_year,
    )
