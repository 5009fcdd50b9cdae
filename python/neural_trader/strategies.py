"""Strategies: the base class and the built-ins.

Subclass :class:`Strategy` in Python and override ``on_bar`` (or ``on_tick``); the backtester
calls it once per event. The built-in strategies are compiled subclasses whose per-event hook
runs inside the event loop without a Python call:

- :class:`MovingAverageCross` — momentum: long/short on fast/slow moving-average crosses.
- :class:`MeanReversion` — rolling z-score (Bollinger) bands: fade moves beyond ``entry_z``.
- :class:`RsiReversal` — RSI leaving oversold / overbought.
- :class:`PairsTrading` — the z-score of a rolling-OLS spread between two correlated symbols.
- :class:`SignalReplay` — trades a precomputed +1/0/-1 signal array (the event-driven twin of
  the vectorised ``Backtest.from_signals``).
- :class:`PatternStrategy` — trades on :class:`nt.PatternMemory` forecasts: what followed the most
  similar past return windows (HNSW nearest neighbours), built causally as the data streams in.

A minimal Python strategy::

    class Breakout(nt.strategies.Strategy):
        def on_start(self):
            self.high = nt.ta.stream.MAX(20)
        def on_bar(self, bar):
            prev = self.high.value
            self.high.update(bar.high)
            if bar.close > prev and self.position() <= 0:
                self.order_target_percent(1.0)
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import numpy as np

from ._backtest import (
    MeanReversion,
    MovingAverageCross,
    PairsTrading,
    RsiReversal,
    SignalReplay,
    Strategy,
)
from .errors import InvalidArgumentError
from .types import Direction, Signal

__all__ = [
    "Strategy",
    "MovingAverageCross",
    "MeanReversion",
    "RsiReversal",
    "PairsTrading",
    "SignalReplay",
    "PatternStrategy",
    "BUILTIN",
]


class PatternStrategy(Strategy):
    """Trades on pattern-memory forecasts (the "neural" signal: similar past conditions).

    For every symbol the strategy feeds each close to an :class:`nt.PatternMemory` (which stores
    a return window once its forward return over ``horizon`` bars is known, so only the past is
    ever searched) and, every ``every`` bars once ``min_patterns`` windows are stored, asks for the
    ``k`` nearest past windows of the latest ``window`` returns. A forecast above ``threshold``
    (a log return over ``horizon`` bars) emits a LONG :class:`nt.types.Signal`, below
    ``-threshold`` a SHORT one (CLOSE instead with ``allow_short=False``), otherwise CLOSE; the
    signal's confidence is the forecast's and its strength ``size``.

    All symbols share one memory: by default a query searches every symbol's past windows
    (similar conditions anywhere); ``per_symbol=True`` restricts it to the symbol's own (a filtered
    search, slower). Cost: one HNSW insert and one search per bar, a few hundred microseconds with
    the memory's Python overhead, so this strategy runs at thousands of bars per second, not
    millions.
    """

    def __init__(
        self,
        window: int = 16,
        horizon: int = 5,
        k: int = 10,
        threshold: float = 0.0,
        min_patterns: int = 200,
        every: int = 1,
        size: float = 1.0,
        allow_short: bool = True,
        seed: int = 0,
        per_symbol: bool = False,
    ) -> None:
        if window < 2 or horizon < 1 or k < 1 or every < 1 or min_patterns < k:
            raise InvalidArgumentError(
                "need window >= 2, horizon >= 1, k >= 1, every >= 1 and min_patterns >= k, got "
                f"window={window}, horizon={horizon}, k={k}, every={every}, min_patterns={min_patterns}"
            )
        if not (math.isfinite(threshold) and threshold >= 0):
            raise InvalidArgumentError(f"threshold must be finite and >= 0, got {threshold!r}")
        if not (0 < size <= 1):
            raise InvalidArgumentError(f"size is a fraction of equity in (0, 1], got {size!r}")
        super().__init__(window=window, horizon=horizon, k=k, threshold=threshold, min_patterns=min_patterns,
                         every=every, size=size, allow_short=allow_short, seed=seed, per_symbol=per_symbol)
        self.window, self.horizon, self.k = window, horizon, k
        self.threshold, self.min_patterns, self.every = threshold, min_patterns, every
        self.size, self.allow_short, self.seed = size, allow_short, seed
        self.per_symbol = per_symbol
        self.forecasts = 0

    def on_start(self) -> None:
        from .pattern import PatternMemory

        self.memory = PatternMemory(window=self.window, horizon=self.horizon, k=self.k, seed=self.seed)
        self._closes: dict[str, deque[float]] = {}
        self._count: dict[str, int] = {}
        self._ids = {s: i for i, s in enumerate(self.symbols)}
        self.forecasts = 0

    def on_bar(self, bar: Any) -> None:
        sym = bar.symbol
        closes = self._closes.get(sym)
        if closes is None:
            closes = self._closes[sym] = deque(maxlen=self.window + 1)
            self._count[sym] = 0
        closes.append(bar.close)
        sid = self._ids[sym]
        self.memory.update(bar.close, symbol=sid)
        n = self._count[sym] = self._count[sym] + 1
        if len(closes) <= self.window or len(self.memory) < self.min_patterns or n % self.every:
            return
        fc = self.memory.query(np.fromiter(closes, dtype=np.float64), symbol=sid if self.per_symbol else None)
        self.forecasts += 1
        if not math.isfinite(fc.forecast):
            return
        if fc.forecast > self.threshold:
            direction = Direction.LONG
        elif fc.forecast < -self.threshold:
            direction = Direction.SHORT if self.allow_short else Direction.CLOSE
        else:
            direction = Direction.CLOSE
        current = self.position()
        if (direction == Direction.LONG and current > 0) or (direction == Direction.SHORT and current < 0):
            return
        if direction == Direction.CLOSE and current == 0:
            return
        self.signal(Signal(sym, direction, strength=self.size, confidence=fc.confidence, ts=bar.ts))

    def __repr__(self) -> str:
        return (f"PatternStrategy(window={self.window}, horizon={self.horizon}, k={self.k}, "
                f"threshold={self.threshold}, min_patterns={self.min_patterns}, every={self.every})")

    def __reduce__(self) -> Any:
        return (PatternStrategy, (self.window, self.horizon, self.k, self.threshold, self.min_patterns, self.every,
                                  self.size, self.allow_short, self.seed, self.per_symbol))


#: Built-in strategies by the names the command line uses.
BUILTIN: dict[str, type[Strategy]] = {
    "sma_cross": MovingAverageCross,
    "momentum": MovingAverageCross,
    "mean_reversion": MeanReversion,
    "rsi": RsiReversal,
    "pairs": PairsTrading,
    "pattern": PatternStrategy,
}
