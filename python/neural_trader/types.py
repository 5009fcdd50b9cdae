"""Domain types of the trading pipeline.

Time is int64 nanoseconds since the epoch, UTC, everywhere; prices and quantities are floats
(quantities may be fractional). Sides are the order book's :class:`~neural_trader.Side`
(``BUY = +1``, ``SELL = -1``), order types :class:`~neural_trader.OrderType` and time in force
:class:`~neural_trader.TIF`.

- :class:`Bar` and :class:`Tick`: market events as a strategy receives them (compiled, immutable,
  made once per event by the backtester's loop, so they are cheap).
- :class:`Order`: an order snapshot as risk checks and strategies see it.
- :class:`Fill`: one execution of an order (what ``Strategy.on_fill`` receives).
- :class:`Signal`: a strategy's opinion (symbol, direction, strength, confidence) that
  ``Strategy.signal`` turns into a target position.
- :class:`Position`: a symbol's holding at a moment.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from ._backtest import Bar, Order, Tick
from .book import TIF, OrderType, Side
from .errors import InvalidArgumentError

__all__ = ["Bar", "Tick", "Order", "Fill", "Signal", "Direction", "Position", "Side", "OrderType", "TIF"]


class Direction(enum.IntEnum):
    """Where a signal wants the position: LONG (+1), SHORT (-1) or CLOSE (0, flat)."""

    LONG = 1
    SHORT = -1
    CLOSE = 0


@dataclass(frozen=True, slots=True)
class Signal:
    """A trading signal: go ``direction`` in ``symbol`` with ``strength`` (the fraction of equity
    to commit, in [0, 1]) and ``confidence`` (in [0, 1]; the backtest's ``min_confidence``
    filters weak signals out). ``symbol=None`` means the symbol of the event being handled."""

    symbol: str | None
    direction: Direction
    strength: float = 1.0
    confidence: float = 1.0
    ts: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "direction", Direction(int(self.direction)))
        for name in ("strength", "confidence"):
            value = float(getattr(self, name))
            if not (math.isfinite(value) and 0.0 <= value <= 1.0):
                raise InvalidArgumentError(f"{name} must be in [0, 1], got {getattr(self, name)!r}")
            object.__setattr__(self, name, value)


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution: ``quantity`` (> 0) of order ``order_id`` traded at ``price`` on ``side``
    (+1 bought, -1 sold) at event time ``ts``, paying ``fee``."""

    ts: int
    order_id: int
    symbol: str
    side: int
    quantity: float
    price: float
    fee: float = 0.0

    @property
    def notional(self) -> float:
        """``quantity * price``."""
        return self.quantity * self.price


@dataclass(frozen=True, slots=True)
class Position:
    """A holding: signed ``quantity`` (negative: short) bought at ``avg_price`` on average,
    marked at ``last_price``."""

    symbol: str
    quantity: float
    avg_price: float
    last_price: float
    realized_pnl: float = 0.0

    @property
    def market_value(self) -> float:
        return self.quantity * self.last_price if self.quantity else 0.0

    @property
    def unrealized_pnl(self) -> float:
        return (self.last_price - self.avg_price) * self.quantity if self.quantity else 0.0

    @property
    def is_long(self) -> bool:
        return self.quantity > 0

    @property
    def is_short(self) -> bool:
        return self.quantity < 0
