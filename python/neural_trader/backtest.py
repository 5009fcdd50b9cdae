"""The event-driven backtester, :class:`Backtest`.

How a run works
---------------
Market events (bars, or ticks) are turned into fixed-size records and pushed into an SPSC ring
buffer (by a producer thread, for chunks larger than the ring, while the loop drains it); the
compiled event loop pops them and, for each event:

1. executes the waiting orders of that symbol that have arrived (see *Fill policy*),
2. marks the portfolio to market (one equity-curve row per distinct timestamp),
3. calls the strategy (a C-level hook for the built-in strategies, ``on_bar`` / ``on_tick`` for
   Python subclasses of :class:`neural_trader.strategies.Strategy`).

Orders a strategy sends are checked (argument validation, client-id de-duplication with a Bloom
filter, the optional :class:`neural_trader.risk.RiskManager`), get an arrival time from the latency
model, and wait for it. Everything runs on event time; given a seed, runs are deterministic.

Fill policy
-----------
A bar's ``ts`` is the moment its values are known (its close). A strategy acting on bar *t*
sends orders at ``ts[t]``; an order arrives at ``ts[t] + latency`` (feed + order latency, both
drawn from their distributions; zero by default).

- ``fill="next_open"`` (default for bars): a market order fills at the **open of the first bar
  whose ts is later than its arrival** (with zero latency: the next bar's open).
- ``fill="close"`` (default for ticks): a market order fills at the **close of the first event at
  or after its arrival** (with zero latency: the very event that triggered it; for ticks, the tick
  price).
- Limit orders fill on the first eligible bar whose range reaches the limit: at the open if the bar
  opens through it (a gap), else at the limit. Stop orders trigger when the range reaches the stop
  and then trade as market orders from the stop price, or **from the open when the bar gaps
  through the stop** (paying half the spread and the slippage like any market order); a
  stop-limit then behaves as a limit order.
- Brackets (``stop_loss=``/``take_profit=`` on an entry) become active once the entry has filled,
  from the next bar on. When both legs lie inside one bar, ``intrabar="pessimistic"`` (default)
  fills the stop-loss first, ``"optimistic"`` the take-profit; a leg the bar *opened* through
  fills first either way. The other leg is cancelled.
- Market fills pay half the ``spread`` (a fraction of price) and the ``slippage`` (a fraction of
  price), both against the trader; ``fees`` is a fraction of traded notional plus ``fee_fixed`` per
  fill. With ``depth=None`` (default) liquidity is unlimited; with a finite ``depth`` every market
  order walks an order book (the core's price-time-priority matching engine) rebuilt around the
  reference price with ``levels`` levels of ``depth`` units per side, ``tick_size`` apart; what the
  book cannot fill waits for the next bar (``partial="carry"``) or is cancelled (``"cancel"``).
- Accounts are cash accounts with 100 % margin: an order that adds exposure must leave equity at or
  above gross exposure, otherwise it is rejected (``"insufficient_cash"``), so shared cash across
  symbols is never overdrawn. Short positions pay ``borrow_rate`` (annual, on their market value).
- Sizes: ``buy()``/``sell()`` with no quantity use all buying power; ``size=f`` a fraction of it;
  target orders (``order_target_percent``) are sized at fill time from the fill price, in whole
  units unless ``fractional=True`` (``floor(available / (price * (1 + fees)))``).
- At the end, waiting orders are cancelled and (``close_at_end=True``) open positions are closed at
  the last close (``close_at_end``).
"""

from __future__ import annotations

import itertools
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import numpy as np
import polars as pl

from . import _backtest
from ._backtest import MARKET_EVENT_DTYPE, Portfolio, Strategy
from .errors import DTypeError, InvalidArgumentError

__all__ = ["Backtest", "Latency", "MARKET_EVENT_DTYPE"]



class Latency:
    """A latency distribution in seconds, drawn with the backtest's seeded generator.

    ``Latency.constant(0.001)``, ``Latency.uniform(lo, hi)``, ``Latency.exponential(mean)``,
    ``Latency.lognormal(median, sigma)``, ``Latency.normal(mean, sd)`` (clipped at 0), or
    ``Latency.empirical(samples)`` (drawn with replacement). Pass one as ``latency=`` (order
    latency) or ``feed_latency=``; a plain number means a constant, a callable ``f(rng, n)`` returning
    ``n`` seconds is used as is.
    """

    _KINDS = {"constant": 1, "uniform": 2, "exponential": 1, "lognormal": 2, "normal": 2, "empirical": 1}

    def __init__(self, kind: str, *params: Any) -> None:
        if kind not in self._KINDS:
            raise InvalidArgumentError(f"unknown latency distribution {kind!r}; known: {sorted(self._KINDS)}")
        if len(params) != self._KINDS[kind]:
            raise InvalidArgumentError(f"{kind} latency takes {self._KINDS[kind]} parameter(s), got {len(params)}")
        if kind == "empirical":
            samples = np.asarray(params[0], dtype=np.float64).ravel()
            if samples.size == 0 or not np.all(np.isfinite(samples)) or np.any(samples < 0):
                raise InvalidArgumentError("empirical latency needs finite non-negative samples")
            self.params: tuple[Any, ...] = (samples,)
        else:
            values = tuple(float(p) for p in params)
            if not all(math.isfinite(v) and v >= 0 for v in values):
                raise InvalidArgumentError(f"latency parameters must be finite and >= 0, got {params}")
            if kind == "uniform" and values[0] > values[1]:
                raise InvalidArgumentError("uniform latency needs lo <= hi")
            self.params = values
        self.kind = kind

    @classmethod
    def constant(cls, seconds: float) -> Latency:
        """Always ``seconds``."""
        return cls("constant", seconds)

    @classmethod
    def uniform(cls, lo: float, hi: float) -> Latency:
        """Uniform on ``[lo, hi]`` seconds."""
        return cls("uniform", lo, hi)

    @classmethod
    def exponential(cls, mean: float) -> Latency:
        """Exponential with mean ``mean`` seconds (memoryless arrivals)."""
        return cls("exponential", mean)

    @classmethod
    def lognormal(cls, median: float, sigma: float) -> Latency:
        """``median * exp(sigma * N(0, 1))`` seconds: the usual heavy right tail of network latency."""
        return cls("lognormal", median, sigma)

    @classmethod
    def normal(cls, mean: float, sd: float) -> Latency:
        """Normal, clipped at zero."""
        return cls("normal", mean, sd)

    @classmethod
    def empirical(cls, samples: Any) -> Latency:
        """Resamples measured latencies (seconds) with replacement."""
        return cls("empirical", samples)

    def __call__(self, rng: np.random.Generator, n: int) -> np.ndarray[Any, np.dtype[np.float64]]:
        p = self.params
        if self.kind == "constant":
            return np.full(n, p[0])
        if self.kind == "uniform":
            return rng.uniform(p[0], p[1], n)
        if self.kind == "exponential":
            return rng.exponential(p[0], n) if p[0] > 0 else np.zeros(n)
        if self.kind == "lognormal":
            out: np.ndarray[Any, np.dtype[np.float64]] = p[0] * np.exp(p[1] * rng.standard_normal(n))
            return out
        if self.kind == "normal":
            return np.maximum(rng.normal(p[0], p[1], n), 0.0)
        return np.asarray(rng.choice(p[0], n, replace=True), dtype=np.float64)

    def __repr__(self) -> str:
        if self.kind == "empirical":
            return f"Latency.empirical(<{self.params[0].size} samples>)"
        return f"Latency.{self.kind}({', '.join(repr(v) for v in self.params)})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Latency):
            return NotImplemented
        return self.kind == other.kind and all(np.array_equal(a, b) for a, b in zip(self.params, other.params))

    def describe(self) -> str:
        """The distribution in words (its constructor call)."""
        return repr(self)


def _latency(value: Any, name: str) -> Callable[[np.random.Generator, int], Any] | None:
    if value is None:
        return None
    if isinstance(value, Latency):
        return None if value.kind == "constant" and value.params[0] == 0 else value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not (math.isfinite(value) and value >= 0):
            raise InvalidArgumentError(f"{name} must be >= 0 seconds, got {value!r}")
        return None if value == 0 else Latency.constant(float(value))
    if callable(value):
        return value  # type: ignore[no-any-return]
    raise DTypeError(f"{name} is seconds, a Latency or a callable f(rng, n), not {type(value).__name__}")


def _nonneg(value: Any, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise DTypeError(f"{name} must be a number, not {type(value).__name__}") from None
    if not (math.isfinite(v) and v >= 0):
        raise InvalidArgumentError(f"{name} must be finite and >= 0, got {value!r}")
    return v


def _events_from_frame(frame: pl.DataFrame, kind: str, symbols: list[str]) -> np.ndarray[Any, Any]:
    """Canonical bar or tick frame -> MARKET_EVENT_DTYPE records (ticks as one-price bars)."""
    n = frame.height

    def col(name: str, dtype: Any, default: float) -> np.ndarray[Any, Any]:
        if name in frame.columns:
            series = frame[name]
            return np.ascontiguousarray((series if series.dtype == dtype else series.cast(dtype)).to_numpy())
        return np.full(n, default, dtype=np.float64 if dtype == pl.Float64 else np.int8)

    ts_col = frame["ts"]
    ts = np.ascontiguousarray((ts_col.dt.epoch("ns") if ts_col.dtype != pl.Datetime("ns", "UTC") and ts_col.dtype !=
                               pl.Int64 else ts_col.to_physical()).to_numpy())
    if len(symbols) == 1:
        ids = np.zeros(n, np.int32)
    else:
        ids = np.ascontiguousarray(frame["symbol"].cast(pl.Enum(symbols)).to_physical().cast(pl.Int32).to_numpy())
    if kind == "ticks":
        price = col("price", pl.Float64, np.nan)
        o = h = low = c = price
        volume = col("size", pl.Float64, np.nan)
        side = col("side", pl.Int8, 0)
    else:
        o, h, low, c = (col(f, pl.Float64, np.nan) for f in ("open", "high", "low", "close"))
        volume = col("volume", pl.Float64, np.nan)
        side = np.zeros(n, np.int8)
    return _backtest.pack_events(ts, ids, o, h, low, c, volume, side)


def _detect_kind(frame: pl.DataFrame) -> str:
    return "ticks" if "price" in frame.columns and "close" not in frame.columns else "bars"


class Backtest:
    """An event-driven backtest of ``strategy`` on ``data``. See the module documentation
    (``help(nt.backtest)``) for the fill policy in full.

    Parameters
    ----------
    data
        Bars or ticks: a polars or pandas DataFrame (long format for several symbols), a dict of
        arrays, a CSV/Parquet path (read with :func:`nt.data.load`), or an iterable of frames
        (:func:`nt.data.scan` streams a file too large for memory); normalised with
        :func:`nt.data.normalize`. Tick data (a ``price`` column, no ``close``) calls ``on_tick``.
    strategy
        A :class:`nt.strategies.Strategy` instance (or a class, instantiated without arguments).
    cash
        Starting cash, shared by every symbol.
    fees, fee_fixed, slippage, spread
        Fractional fee per fill, fixed fee per fill, fractional slippage, fractional spread.
    depth, levels, tick_size, lot_size, partial
        Book liquidity per level (``None``: unlimited), levels per side, price grid, quantity
        grid, and what happens to what the book could not fill (``"carry"`` or ``"cancel"``).
    fill, intrabar
        ``"next_open"`` or ``"close"`` (default: next_open for bars, close for ticks);
        ``"pessimistic"`` or ``"optimistic"`` for bracket legs inside one bar.
    latency, feed_latency
        Order and feed latency: seconds, a :class:`Latency`, or ``f(rng, n)``.
    risk
        A :class:`nt.risk.RiskManager` (or anything with ``check(order, account)`` and
        ``record_reject(ts, reason)``), consulted for every order.
    fractional, allow_short, borrow_rate
        Fractional quantities; short selling; annual borrow rate on shorts.
    close_at_end
        Close open positions when the data ends: at the last close (``True`` or ``"close"``), at the
        last bar's open (``"open"``: what backtesting.py's ``finalize_trades=True`` does), or not
        at all (``False``; they stay in ``positions``).
    calendar
        An :class:`nt.data.Calendar`: DAY orders expire at its session close (default: the end of
        the UTC day), and strategies see ``self.session`` / ``self.new_session`` (to reset
        session-aware indicators such as a session VWAP).
    dedupe_client_ids
        Reject a repeated ``client_id`` (idempotent submission) using a Bloom filter sized for
        ``max(1e6, events)`` ids at a 1e-9 false-positive rate (built on the first client id).
    min_confidence
        Signals (``Strategy.signal``) below this confidence are not traded.
    seed
        Seed of the latency draws (the only randomness of a run).
    progress
        Show a progress bar (default: on a terminal for runs over a million events).
    probe_latency
        Measure the engine's per-event processing time (``result.stats["latency_ns"]``).
    """

    def __init__(
        self,
        data: Any,
        strategy: Any,
        *,
        cash: float = 10_000.0,
        fees: float = 0.0,
        fee_fixed: float = 0.0,
        slippage: float = 0.0,
        spread: float = 0.0,
        depth: float | None = None,
        levels: int = 10,
        tick_size: float = 0.01,
        lot_size: float = 1e-8,
        partial: str = "carry",
        fill: str | None = None,
        intrabar: str = "pessimistic",
        latency: Any = None,
        feed_latency: Any = None,
        risk: Any = None,
        fractional: bool = False,
        allow_short: bool = True,
        close_at_end: bool | str = True,
        borrow_rate: float = 0.0,
        calendar: Any = None,
        dedupe_client_ids: bool = True,
        min_confidence: float = 0.0,
        seed: int | None = None,
        periods_per_year: float | None = None,
        progress: bool | None = None,
        probe_latency: bool = False,
        symbol: str | None = None,
    ) -> None:
        if isinstance(strategy, type):
            if not issubclass(strategy, Strategy):
                raise DTypeError(f"strategy must subclass nt.strategies.Strategy, not {strategy.__name__}")
            strategy = strategy()
        if not isinstance(strategy, Strategy):
            raise DTypeError(f"strategy must be an nt.strategies.Strategy, not {type(strategy).__name__}")
        self.strategy = strategy
        self.cash = _nonneg(cash, "cash")
        if self.cash <= 0:
            raise InvalidArgumentError("cash must be positive")
        self.fees = _nonneg(fees, "fees")
        self.fee_fixed = _nonneg(fee_fixed, "fee_fixed")
        self.slippage = _nonneg(slippage, "slippage")
        self.spread = _nonneg(spread, "spread")
        if self.fees >= 1 or self.slippage >= 1 or self.spread >= 2:
            raise InvalidArgumentError("fees and slippage are fractions below 1, spread below 2")
        if depth is not None and not (_nonneg(depth, "depth") > 0):
            raise InvalidArgumentError("depth must be positive (or None for unlimited)")
        self.depth = None if depth is None else float(depth)
        if not (isinstance(levels, int) and levels >= 1):
            raise InvalidArgumentError(f"levels must be a positive int, got {levels!r}")
        self.levels = levels
        self.tick_size = _nonneg(tick_size, "tick_size")
        self.lot_size = _nonneg(lot_size, "lot_size")
        if self.tick_size <= 0 or self.lot_size <= 0:
            raise InvalidArgumentError("tick_size and lot_size must be positive")
        if partial not in ("carry", "cancel"):
            raise InvalidArgumentError(f"partial is 'carry' or 'cancel', not {partial!r}")
        self.partial = partial
        if fill not in (None, "next_open", "close"):
            raise InvalidArgumentError(f"fill is 'next_open' or 'close', not {fill!r}")
        self.fill = fill
        if intrabar not in ("pessimistic", "optimistic"):
            raise InvalidArgumentError(f"intrabar is 'pessimistic' or 'optimistic', not {intrabar!r}")
        self.intrabar = intrabar
        self.latency = latency
        self.feed_latency = feed_latency
        self._order_latency = _latency(latency, "latency")
        self._feed_latency = _latency(feed_latency, "feed_latency")
        if risk is not None and not (hasattr(risk, "check") and hasattr(risk, "record_reject")):
            raise DTypeError("risk must have check(order, account) and record_reject(ts, reason)")
        self.risk = risk
        self.fractional = bool(fractional)
        self.allow_short = bool(allow_short)
        if close_at_end not in (True, False, "close", "open"):
            raise InvalidArgumentError(f"close_at_end is True/'close', 'open' or False, not {close_at_end!r}")
        self.close_at_end: bool | str = "close" if close_at_end is True else close_at_end
        self.borrow_rate = _nonneg(borrow_rate, "borrow_rate")
        self.calendar = calendar
        self.dedupe_client_ids = bool(dedupe_client_ids)
        self.min_confidence = _nonneg(min_confidence, "min_confidence")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise DTypeError(f"seed must be an int or None, not {type(seed).__name__}")
        self.seed = None if seed is None else int(seed)
        self.periods_per_year = periods_per_year
        self.progress = progress
        self.probe_latency = bool(probe_latency)
        self._data = data
        self._symbol = symbol

    # ------------------------------------------------------------------ data
    def _chunks(self) -> tuple[Iterator[pl.DataFrame], str, list[str], int | None]:
        """The data as canonical frames, its kind, its symbols (for a streamed source, those of
        the first chunk: it must name them all) and the number of rows when known."""
        from . import data as ntdata

        source = self._data
        total: int | None
        if isinstance(source, (str, os.PathLike)):
            first = ntdata.load(source, symbol=self._symbol)
            rest: Iterator[pl.DataFrame] = iter(())
            total = first.height
        elif isinstance(source, (pl.DataFrame, Mapping)) or type(source).__name__ == "DataFrame":
            first = ntdata.normalize(source, symbol=self._symbol)
            rest = iter(())
            total = first.height
        elif isinstance(source, Iterable):
            it = iter(source)
            try:
                first = ntdata.normalize(next(it), symbol=self._symbol)
            except StopIteration:
                raise InvalidArgumentError("the data iterable is empty") from None
            rest = (ntdata.normalize(chunk, symbol=self._symbol) for chunk in it)
            total = None
        else:
            raise DTypeError(
                f"cannot backtest on {type(source).__name__}; pass a DataFrame, a path or an iterable of frames")
        symbols = first["symbol"]
        names = [symbols[0]] if symbols.n_unique() == 1 else sorted(symbols.unique().to_list())
        return itertools.chain((first,), rest), _detect_kind(first), names, total

    # ------------------------------------------------------------------ run
    def run(self) -> Any:
        """Runs the backtest and returns a :class:`nt.results.BacktestResult`."""
        from .results import BacktestResult

        chunk_iter, kind, symbols, total_rows = self._chunks()
        streaming = total_rows is None
        ticks = kind == "ticks"
        fill = self.fill or ("close" if ticks else "next_open")
        latency = self._order_latency is not None or self._feed_latency is not None
        rng = np.random.default_rng(self.seed) if latency else None
        bloom_factory = None
        if self.dedupe_client_ids:
            capacity = 1_000_000 if total_rows is None else max(1_000_000, total_rows)

            def bloom_factory() -> Any:
                from .sketch import BloomFilter

                return BloomFilter(capacity, 1e-9, seed=0)
        expire_fn = None
        if self.calendar is not None:
            cal = self.calendar

            def expire_fn(ts: int) -> int:
                close = int(cal.session_close(np.asarray([ts], dtype=np.int64))[0])
                return close if close >= 0 else ts

        pf = Portfolio(self.cash, symbols, self.borrow_rate)
        engine = _backtest._Engine()
        cfg = {
            "risk": self.risk, "fill": fill, "fees": self.fees, "fee_fixed": self.fee_fixed,
            "slippage": self.slippage, "spread": self.spread, "depth": self.depth, "levels": self.levels,
            "tick_size": self.tick_size, "lot_size": self.lot_size, "fractional": self.fractional,
            "partial": self.partial, "intrabar": self.intrabar, "close_at_end": self.close_at_end,
            "allow_short": self.allow_short, "min_confidence": self.min_confidence, "expire_fn": expire_fn,
            "ticks": ticks, "bloom_factory": bloom_factory, "order_latency": self._order_latency,
            "feed_latency": self._feed_latency, "rng": rng, "probe_latency": self.probe_latency,
        }
        engine.setup(self.strategy, pf, cfg)
        show = self.progress
        if show is None:
            import sys

            show = bool(total_rows and total_rows >= 1_000_000 and sys.stderr.isatty())
        from ._progress import Progress

        started = time.perf_counter()
        last_ts = None
        index = {s: i for i, s in enumerate(symbols)}
        with Progress(total_rows, desc="backtest", enabled=bool(show)) as bar:
            engine.start()
            for frame in chunk_iter:
                if frame.height == 0:
                    continue
                unknown = set(frame["symbol"].unique().to_list()) - index.keys() if streaming else set()
                if unknown:
                    raise InvalidArgumentError(
                        f"symbol(s) {sorted(unknown)} appear after the first chunk; the first chunk of a "
                        "streamed source must contain every symbol"
                    )
                events = _events_from_frame(frame, "ticks" if ticks else "bars", symbols)
                sessions = None
                if self.calendar is not None:
                    sessions = np.ascontiguousarray(self.calendar.session(events["ts"]), dtype=np.int64)
                engine.run_chunk(events.view(np.uint8), bar.update, sessions)
                last_ts = int(events["ts"][-1])
            if last_ts is None:
                raise InvalidArgumentError("no data to backtest")
            engine.finish(last_ts)
            engine.end()
        wall = time.perf_counter() - started
        return self._result(engine, pf, symbols, wall, fill, BacktestResult)

    def _result(self, engine: Any, pf: Portfolio, symbols: list[str], wall: float, fill: str, cls: Any) -> Any:
        ts, cash, equity, gross, net = engine.equity_arrays()
        eq = _frame(ts=_when(ts), cash=cash, equity=equity, gross_exposure=gross, net_exposure=net)
        f_ts, f_oid, f_sym, f_side, f_qty, f_px, f_fee = engine.fill_arrays()
        fills = _frame(ts=_when(f_ts), order_id=f_oid, symbol=_labels(f_sym, symbols), side=f_side, quantity=f_qty,
                       price=f_px, fee=f_fee)
        cols, reasons, tags = engine.order_arrays()
        orders = _frame(
            order_id=cols["order_id"], ts=_when(cols["ts"]), arrival_ts=_when(cols["arrival_ts"]),
            symbol=_labels(cols["symbol"], symbols), side=cols["side"], type=_labels(cols["type"], _backtest.TYPE_NAMES),
            tif=_labels(cols["tif"], _backtest.TIF_NAMES), quantity=cols["quantity"], price=cols["price"],
            stop_price=cols["stop_price"], status=_labels(cols["status"], _backtest.STATUS_NAMES),
            filled_quantity=cols["filled_quantity"], avg_price=cols["avg_price"],
            reason=_labels(cols["reason"], reasons), tag=_labels(cols["tag"], [*tags, None]),
        )
        stats: dict[str, Any] = {
            "engine": "event-driven",
            "events": int(engine.n_events),
            "steps": int(engine.n_steps),
            "wall_seconds": round(wall, 6),
            "events_per_second": round(engine.n_events / wall, 1) if wall > 0 else float("nan"),
            "rejected_orders": int(engine.rejected),
            "signals": int(engine.n_signals),
        }
        stats.update(_sketch_stats(orders, fills))
        if self.probe_latency:
            all_ns, order_ns = engine.latency_arrays()
            stats["latency_ns"] = _percentiles(all_ns)
            stats["latency_ns_with_order"] = _percentiles(order_ns)
        return cls(
            eq, pf.trades(), orders, fills, pf.positions(), initial_cash=self.cash, config=self.config(fill),
            seed=self.seed, stats=stats, periods_per_year=self.periods_per_year,
        )

    def config(self, fill: str | None = None) -> dict[str, Any]:
        """The run's configuration as plain values (recorded in the result)."""
        return {
            "strategy": repr(self.strategy), "strategy_class": type(self.strategy).__qualname__,
            "cash": self.cash, "fees": self.fees, "fee_fixed": self.fee_fixed, "slippage": self.slippage,
            "spread": self.spread, "depth": self.depth, "levels": self.levels, "tick_size": self.tick_size,
            "lot_size": self.lot_size, "partial": self.partial, "fill": fill or self.fill,
            "intrabar": self.intrabar, "latency": repr(self.latency), "feed_latency": repr(self.feed_latency),
            "risk": repr(self.risk), "fractional": self.fractional, "allow_short": self.allow_short,
            "close_at_end": self.close_at_end, "borrow_rate": self.borrow_rate,
            "calendar": repr(self.calendar), "min_confidence": self.min_confidence,
        }

    def __repr__(self) -> str:
        return f"Backtest(strategy={self.strategy!r}, cash={self.cash:,.2f}, fees={self.fees}, fill={self.fill!r})"

    @staticmethod
    def from_signals(*args: Any, **kwargs: Any) -> Any:
        """The vectorised path: :func:`nt.vector.from_signals` (same arguments)."""
        from .vector import from_signals

        return from_signals(*args, **kwargs)


def _when(ns: np.ndarray[Any, Any]) -> pl.Series:
    """int64 ns UTC -> a Datetime(ns, UTC) column."""
    out: pl.Series = pl.Series(ns, dtype=pl.Int64).cast(pl.Datetime("ns", "UTC"))
    return out


def _labels(codes: np.ndarray[Any, Any], names: Any) -> pl.Series:
    """Codes -> a String column of ``names[code]`` (``None`` names give nulls)."""
    table = np.array(list(names), dtype=object)
    return pl.Series(table[codes].tolist() if codes.size else [], dtype=pl.String)


def _frame(**columns: Any) -> pl.DataFrame:
    """A frame from columns (Series or NumPy arrays), built column by column: much cheaper for
    small results than polars' dict constructor."""
    return pl.DataFrame([c.alias(k) if isinstance(c, pl.Series) else pl.Series(k, c) for k, c in columns.items()])


def _percentiles(ns: np.ndarray[Any, Any]) -> dict[str, float]:
    if ns.size == 0:
        return {"n": 0}
    q = np.percentile(ns, [50, 90, 99, 99.9])
    return {"n": int(ns.size), "p50": float(q[0]), "p90": float(q[1]), "p99": float(q[2]), "p99.9": float(q[3]),
            "max": float(ns.max())}


def _sketch_stats(orders: pl.DataFrame, fills: pl.DataFrame) -> dict[str, Any]:
    """Run statistics from the sketches: distinct symbols and order ids (HyperLogLog), the
    heaviest-traded symbols by notional (count-min top-k)."""
    from .sketch import CountMinSketch, HyperLogLog

    out: dict[str, Any] = {}
    hll_sym = HyperLogLog(10)
    hll_ids = HyperLogLog(12)
    if orders.height:
        hll_sym.update_many(orders["symbol"].to_numpy().astype(str))
        hll_ids.update_many(orders["order_id"].to_numpy())
    out["distinct_symbols"] = round(hll_sym.estimate(), 1)
    out["distinct_order_ids"] = round(hll_ids.estimate(), 1)
    if fills.height:
        cms = CountMinSketch(1024, 4, top=5)
        notional = np.rint((fills["quantity"] * fills["price"]).to_numpy()).astype(np.int64)
        cms.update_many(fills["symbol"].to_numpy().astype(str), np.maximum(notional, 1))
        out["top_symbols_by_notional"] = [(str(s), int(c)) for s, c in cms.top_k(5)]
    return out
