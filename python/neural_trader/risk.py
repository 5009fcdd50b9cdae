"""Pre-trade risk checks, a circuit breaker, a drawdown halt, and portfolio VaR / CVaR.

Pre-trade risk
--------------
:class:`RiskManager` is asked once per submitted order (:meth:`RiskManager.check`) and answers
``None`` (accept) or a short reason code (reject). It evaluates, in this order, and the first
failure wins:

1. the account-level **drawdown halt** (``max_drawdown``): once the drawdown
   ``1 - equity / peak_equity`` reaches ``max_drawdown`` the account is halted for good (until
   :meth:`RiskManager.reset`); from then on every order that does not reduce a position is
   rejected with ``"max_drawdown_halt"``, reducing orders pass so the strategy can flatten;
2. the :class:`CircuitBreaker`, if any (``"circuit_open"`` while it is open);
3. the checks, in the order given: :class:`MaxPosition` (``"max_position"``),
   :class:`MaxNotional` (``"max_notional"``), :class:`MaxOrderRate` (``"max_order_rate"``),
   :class:`AllowedSymbols` (``"symbol_not_allowed"``) or any subclass of :class:`Check`.

An order **reduces** a position when it trades against the current position without crossing
through zero: ``side * position < 0`` and ``quantity <= |position|`` (see
:func:`reduces_position`). An order that flips the position (sells 150 while long 100) does not
reduce it: it opens a new position on the other side.

Time is event time: ``order.ts``, int64 nanoseconds since the epoch (UTC). Nothing here reads a
wall clock, so a backtest replays the same decisions every time. Durations are given in seconds
(``per=``, ``window=``, ``cooldown=``) or in nanoseconds (``per_ns=``, ``window_ns=``,
``cooldown_ns=``). Event time is expected not to decrease from one call to the next.

Value at risk
-------------
:func:`var` and :func:`cvar` (expected shortfall) of a portfolio of per-period returns, as
positive losses (a fraction of the portfolio value), by four methods: ``"historical"``,
``"parametric"`` (normal), ``"cornish_fisher"`` and ``"monte_carlo"`` (correlated multivariate
normal paths). :func:`risk_report` tabulates every method at several confidence levels.
"""

from __future__ import annotations

import abc
import math
import numbers
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from statistics import NormalDist
from typing import Any, Protocol, cast

import numpy as np
import numpy.typing as npt
import polars as pl

from .errors import DTypeError, InvalidArgumentError

__all__ = [
    "OrderLike",
    "AccountLike",
    "Check",
    "MaxPosition",
    "MaxNotional",
    "MaxOrderRate",
    "AllowedSymbols",
    "CircuitBreaker",
    "RiskManager",
    "reduces_position",
    "MAX_POSITION",
    "MAX_NOTIONAL",
    "MAX_ORDER_RATE",
    "SYMBOL_NOT_ALLOWED",
    "CIRCUIT_OPEN",
    "MAX_DRAWDOWN_HALT",
    "CLOSED",
    "OPEN",
    "HALF_OPEN",
    "METHODS",
    "var",
    "cvar",
    "risk_report",
]

# Reason codes.
MAX_POSITION = "max_position"
"""Reason of :class:`MaxPosition`: the absolute position after the order would exceed its limit."""
MAX_NOTIONAL = "max_notional"
"""Reason of :class:`MaxNotional`: the order's notional exceeds the limit (or cannot be valued)."""
MAX_ORDER_RATE = "max_order_rate"
"""Reason of :class:`MaxOrderRate`: too many accepted orders in the sliding window."""
SYMBOL_NOT_ALLOWED = "symbol_not_allowed"
"""Reason of :class:`AllowedSymbols`: the symbol is not in the allowed set."""
CIRCUIT_OPEN = "circuit_open"
"""Reason of an open :class:`CircuitBreaker`."""
MAX_DRAWDOWN_HALT = "max_drawdown_halt"
"""Reason of the :class:`RiskManager` drawdown halt for orders that do not reduce a position."""

# Circuit-breaker states.
CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"

METHODS = ("historical", "parametric", "cornish_fisher", "monte_carlo")
"""The VaR / CVaR methods, in the order :func:`risk_report` lists them."""

_NS_PER_S = 1_000_000_000
# Relative slack of the position and notional limits, for floating-point round-off of fractional
# quantities (0.1 + 0.2 against a limit of 0.3 passes).
_LIMIT_RTOL = 1e-9

# Absolute slack of the drawdown thresholds: round-off in 1 - equity / peak does not decide.
_DRAWDOWN_ATOL = 1e-12

_F64 = npt.NDArray[np.float64]
_NORMAL = NormalDist()  # standard normal: inv_cdf (Wichura's AS241, ~1e-16 relative error) and pdf


# ---------------------------------------------------------------------------------------------
# What the risk manager reads
class OrderLike(Protocol):
    """An order as the risk checks read it (:class:`neural_trader.types.Order` satisfies it)."""

    @property
    def ts(self) -> int:
        """Event time of the submission, int64 nanoseconds since the epoch (UTC)."""

    @property
    def symbol(self) -> str:
        """Instrument."""

    @property
    def side(self) -> int:
        """+1 buy, -1 sell (:class:`neural_trader.Side`)."""

    @property
    def quantity(self) -> float:
        """Quantity, > 0."""

    @property
    def price(self) -> float:
        """Limit price; NaN for market orders."""

    @property
    def client_id(self) -> str | None:
        """The strategy's own identifier of the order, if any."""


class AccountLike(Protocol):
    """A live view of the account at the time of the order."""

    @property
    def ts(self) -> int:
        """Event time, int64 nanoseconds since the epoch (UTC)."""

    @property
    def cash(self) -> float:
        """Cash balance."""

    @property
    def equity(self) -> float:
        """Cash plus the market value of the positions."""

    @property
    def peak_equity(self) -> float:
        """Highest equity seen so far."""

    def position(self, symbol: str) -> float:
        """Signed quantity held (0 if none)."""

    def price(self, symbol: str) -> float:
        """Last known price of ``symbol``; NaN if none yet."""


# ---------------------------------------------------------------------------------------------
# Argument helpers
def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _real(value: Any, name: str, what: str = "a number") -> float:
    """``value`` as a float; DTypeError unless it is a real number (bools are not)."""
    if not _is_real(value):
        raise DTypeError(f"{name} must be {what}, got {type(value).__name__}")
    return float(value)


def _limit(value: Any, name: str) -> float:
    """A limit: a real number >= 0 (``inf`` allowed: no limit)."""
    v = _real(value, name)
    if math.isnan(v) or v < 0:
        raise InvalidArgumentError(f"{name} must be >= 0, got {value!r}")
    return v


def _fraction(value: Any, name: str) -> float:
    """A drawdown fraction in (0, 1]."""
    v = _real(value, name)
    if not 0.0 < v <= 1.0:
        raise InvalidArgumentError(f"{name} must be in (0, 1], got {value!r}")
    return v


def _count(value: Any, name: str, what: str = "an integer") -> int:
    """An integer >= 1 (``what`` names the expected type in the DTypeError)."""
    if not _is_int(value):
        raise DTypeError(f"{name} must be {what}, got {type(value).__name__}")
    if value < 1:
        raise InvalidArgumentError(f"{name} must be >= 1, got {value}")
    return int(value)


def _duration_ns(seconds: Any, ns: Any, name: str, *, required: bool) -> int | None:
    """A duration given either in seconds (``name``) or in nanoseconds (``name + '_ns'``)."""
    if seconds is not None and ns is not None:
        raise InvalidArgumentError(f"give {name} (seconds) or {name}_ns (nanoseconds), not both")
    if ns is not None:
        if not _is_int(ns):
            raise DTypeError(f"{name}_ns must be an integer number of nanoseconds, got {type(ns).__name__}")
        if ns <= 0:
            raise InvalidArgumentError(f"{name}_ns must be > 0, got {ns}")
        return int(ns)
    if seconds is not None:
        s = _real(seconds, name, "a number of seconds")
        if not (math.isfinite(s) and s > 0):
            raise InvalidArgumentError(f"{name} must be a finite number of seconds > 0, got {seconds!r}")
        return max(1, round(s * _NS_PER_S))
    if required:
        raise InvalidArgumentError(f"give {name} (seconds) or {name}_ns (nanoseconds)")
    return None


def _side(order: OrderLike) -> int:
    side = int(order.side)
    if side not in (1, -1):
        raise InvalidArgumentError(f"order side must be +1 (buy) or -1 (sell), got {order.side!r}")
    return side


def _over(value: float, limit: float) -> bool:
    """``value > limit`` beyond floating-point round-off (relative slack ``_LIMIT_RTOL``)."""
    return value - limit > _LIMIT_RTOL * max(1.0, limit)


def _drawdown(equity: float, peak: float) -> float:
    """``1 - equity / peak``; 0 when it is undefined (peak <= 0 or a value not finite)."""
    if not (math.isfinite(equity) and math.isfinite(peak)) or peak <= 0:
        return 0.0
    return 1.0 - equity / peak


def _reached(drawdown: float, limit: float) -> bool:
    """``drawdown >= limit`` up to an absolute 1e-12 (1 - 90/100 is 0.0999...98 in binary)."""
    return drawdown >= limit - _DRAWDOWN_ATOL


def _expire(times: deque[int], start: int) -> None:
    """Drop the times ``<= start`` from the front of ``times`` (oldest first): what is left of a
    sliding window ``(start, now]``."""
    while times and times[0] <= start:
        times.popleft()


def reduces_position(order: OrderLike, account: AccountLike) -> bool:
    """Whether ``order`` reduces the account's position in its symbol without crossing zero.

    True when the order trades against the position (``side * position < 0``) and its quantity
    is at most the size of the position, so the position after it lies between 0 and the
    position before it. A flip (sell 150 while long 100) is *not* a reducing order.
    """
    pos = float(account.position(order.symbol))
    return _side(order) * pos < 0 and float(order.quantity) <= abs(pos) * (1.0 + _LIMIT_RTOL)


# ---------------------------------------------------------------------------------------------
# Checks
class Check(abc.ABC):
    """Base class of the pre-trade checks.

    A subclass implements :meth:`check`, returning ``None`` to accept the order or a short reason
    code (a module constant) to reject it. A stateful check may also override :meth:`on_accept`
    (told about every order the :class:`RiskManager` accepted, after all checks passed) and
    :meth:`reset`. Checks are plain Python objects: they pickle with their state.
    """

    @abc.abstractmethod
    def check(self, order: OrderLike, account: AccountLike) -> str | None:
        """``None`` to accept ``order``, else the reason code of the rejection."""

    def on_accept(self, order: OrderLike, account: AccountLike) -> None:
        """Hook: ``order`` was accepted by the risk manager (every check passed). Default: nothing."""

    def reset(self) -> None:
        """Forget any state (a fresh run). Default: nothing."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class MaxPosition(Check):
    """Rejects an order that would take the absolute position above a limit (``"max_position"``).

    Parameters
    ----------
    limit:
        Largest absolute position (in units of quantity) allowed after the order, for every
        symbol without its own limit; ``math.inf`` for none.
    per_symbol:
        Limits of particular symbols, replacing ``limit`` for them.

    Notes
    -----
    The position after the order is ``account.position(symbol) + side * quantity``; the order is
    rejected when its absolute value exceeds the limit (beyond a relative round-off slack of
    1e-9). An order that *reduces* the position (:func:`reduces_position`) always passes, even
    when the position is above the limit (the limit was lowered, or prices moved a sized position):
    the check never stands in the way of getting back under the limit.
    """

    def __init__(self, limit: float, per_symbol: Mapping[str, float] | None = None) -> None:
        self._limit = _limit(limit, "limit")
        overrides: dict[str, float] = {}
        if per_symbol is not None:
            if not isinstance(per_symbol, Mapping):
                raise DTypeError(
                    f"per_symbol must be a mapping of symbol to limit, got {type(per_symbol).__name__}")
            for sym, lim in per_symbol.items():
                if not isinstance(sym, str):
                    raise DTypeError(f"per_symbol keys must be symbols (str), got {type(sym).__name__}")
                overrides[sym] = _limit(lim, f"per_symbol[{sym!r}]")
        self._per_symbol = overrides

    @property
    def limit(self) -> float:
        """The limit of symbols without their own."""
        return self._limit

    @property
    def per_symbol(self) -> dict[str, float]:
        """The per-symbol limits (a copy)."""
        return dict(self._per_symbol)

    def limit_for(self, symbol: str) -> float:
        """The limit that applies to ``symbol``."""
        return self._per_symbol.get(symbol, self._limit)

    def check(self, order: OrderLike, account: AccountLike) -> str | None:
        """``"max_position"`` if the absolute position after ``order`` would exceed the limit."""
        side = _side(order)
        before = float(account.position(order.symbol))
        after = before + side * float(order.quantity)
        if _over(abs(after), self.limit_for(order.symbol)) and not reduces_position(order, account):
            return MAX_POSITION
        return None

    def __repr__(self) -> str:
        extra = f", per_symbol={self._per_symbol!r}" if self._per_symbol else ""
        return f"MaxPosition(limit={self._limit!r}{extra})"


class MaxNotional(Check):
    """Rejects an order whose notional exceeds a limit (``"max_notional"``).

    The notional is ``quantity * |price|`` with the order's limit price, or for a market order
    (price NaN) the account's last known price of the symbol. An order that cannot be valued (a
    market order before any price is known) is rejected too: a limit that cannot be verified is
    not respected. The check applies to every order, reducing ones included.
    """

    def __init__(self, limit: float) -> None:
        self._limit = _limit(limit, "limit")

    @property
    def limit(self) -> float:
        """The largest notional accepted."""
        return self._limit

    def check(self, order: OrderLike, account: AccountLike) -> str | None:
        """``"max_notional"`` if the order's notional exceeds the limit or cannot be computed."""
        price = float(order.price)
        if not math.isfinite(price):
            price = float(account.price(order.symbol))
        notional = float(order.quantity) * abs(price)
        if not math.isfinite(notional) or _over(notional, self._limit):
            return MAX_NOTIONAL
        return None

    def __repr__(self) -> str:
        return f"MaxNotional(limit={self._limit!r})"


class MaxOrderRate(Check):
    """Rejects an order when ``n`` orders were already accepted in the sliding window (``"max_order_rate"``).

    Parameters
    ----------
    n:
        Orders allowed per window.
    per_ns, per:
        The window length, in nanoseconds (``per_ns``) or seconds (``per``); give exactly one.

    Notes
    -----
    The window of an order at time ``t`` is ``(t - per, t]`` in event time. Only orders the
    :class:`RiskManager` **accepted** count (it reports them through :meth:`on_accept`): rejected
    attempts do not use up the budget, so a strategy that keeps retrying is not locked out by its
    own rejections. An accepted order that the exchange later rejects still counts (it was sent).
    Used on its own (without a manager), call :meth:`on_accept` for each order sent.
    """

    def __init__(self, n: int, per_ns: int | None = None, *, per: float | None = None) -> None:
        self._n = _count(n, "n")
        window = _duration_ns(per, per_ns, "per", required=True)
        assert window is not None
        self._per_ns = window
        self._accepted: deque[int] = deque()

    @property
    def n(self) -> int:
        """Orders allowed per window."""
        return self._n

    @property
    def per_ns(self) -> int:
        """Window length in nanoseconds."""
        return self._per_ns

    def check(self, order: OrderLike, account: AccountLike) -> str | None:
        """``"max_order_rate"`` if ``n`` accepted orders lie in ``(ts - per, ts]``."""
        _expire(self._accepted, int(order.ts) - self._per_ns)
        return MAX_ORDER_RATE if len(self._accepted) >= self._n else None

    def on_accept(self, order: OrderLike, account: AccountLike) -> None:
        """Count ``order`` in the window."""
        ts = int(order.ts)
        _expire(self._accepted, ts - self._per_ns)
        self._accepted.append(ts)

    def reset(self) -> None:
        """Forget the accepted orders."""
        self._accepted.clear()

    def __repr__(self) -> str:
        return f"MaxOrderRate(n={self._n}, per_ns={self._per_ns})"


class AllowedSymbols(Check):
    """Rejects orders in symbols outside a fixed set (``"symbol_not_allowed"``)."""

    def __init__(self, symbols: Iterable[str]) -> None:
        if isinstance(symbols, str):
            raise DTypeError("symbols must be a collection of symbols, not a single string")
        allowed = frozenset(symbols)
        for sym in allowed:
            if not isinstance(sym, str):
                raise DTypeError(f"symbols must be strings, got {type(sym).__name__}")
        self._symbols = allowed

    @property
    def symbols(self) -> frozenset[str]:
        """The allowed symbols."""
        return self._symbols

    def check(self, order: OrderLike, account: AccountLike) -> str | None:
        """``"symbol_not_allowed"`` unless the order's symbol is in the set."""
        return None if order.symbol in self._symbols else SYMBOL_NOT_ALLOWED

    def __repr__(self) -> str:
        return f"AllowedSymbols({sorted(self._symbols)!r})"


# ---------------------------------------------------------------------------------------------
# Circuit breaker
class CircuitBreaker:
    """Stops all trading for a cooldown after repeated rejections or a drawdown.

    States: ``"closed"`` (normal: orders go on to the checks), ``"open"`` (every order is
    rejected with ``"circuit_open"``) and ``"half_open"`` (after the cooldown: a few trial orders
    go through to decide whether to close again).

    Parameters
    ----------
    max_rejections:
        Rejections that trip the breaker (``None``: rejections never trip it). Every rejection the
        :class:`RiskManager` reports counts: by the checks, and by the exchange or engine through
        :meth:`RiskManager.record_reject`. Its own ``"circuit_open"`` rejections and those of the
        drawdown halt do not.
    window, window_ns:
        With neither, ``max_rejections`` *consecutive* rejections trip it (an accepted order resets
        the count). With a window (seconds, or nanoseconds), ``max_rejections`` rejections within
        ``(t - window, t]`` trip it, accepted orders in between or not.
    drawdown:
        Trips the breaker when an order arrives while the account's drawdown
        ``1 - equity / peak_equity`` is at least this fraction (``None``: never).
    cooldown, cooldown_ns:
        How long the breaker stays open, in event-time seconds (default 60) or nanoseconds.
    half_open_trials:
        Orders let through in the half-open state.

    Notes
    -----
    The breaker has no clock: it moves between states when it is asked about an order, at the
    order's event time ``ts``.

    * closed -> open: ``max_rejections`` rejections (consecutive, or within the window), or the
      drawdown condition at an order. The open period starts at the ts of that event.
    * open -> half_open: at the first order with ``ts >= opened_at + cooldown``; that order is
      the first trial.
    * half_open -> open: any trial is rejected (by a check, or by the engine through
      :meth:`RiskManager.record_reject`), or the drawdown condition holds; a new cooldown starts.
    * half_open -> closed: once ``half_open_trials`` trials were accepted, at the next order (the
      breaker waits for that order so that an engine rejection of the last trial, reported after
      the checks accepted it, still re-opens it); that order is then treated as in the closed
      state. :attr:`state` therefore reads ``"half_open"`` until the next order arrives.

    The drawdown is measured from the account's peak equity, except after a drawdown trip: when
    the cooldown ends, the reference is re-based to the equity at that moment (the breaker would
    otherwise re-open at once, for as long as the drawdown lasts) and then follows the highest
    equity seen at later orders, until the account makes a new peak. A further loss of
    ``drawdown`` from the new reference trips it again. For a permanent stop use
    ``RiskManager(max_drawdown=...)``.
    """

    def __init__(
        self,
        max_rejections: int | None = 5,
        window: float | None = None,
        drawdown: float | None = None,
        cooldown: float | None = None,
        half_open_trials: int = 1,
        *,
        window_ns: int | None = None,
        cooldown_ns: int | None = None,
    ) -> None:
        self._max_rejections = None if max_rejections is None else _count(max_rejections, "max_rejections")
        self._window_ns = _duration_ns(window, window_ns, "window", required=False)
        self._drawdown_limit = None if drawdown is None else _fraction(drawdown, "drawdown")
        if cooldown is None and cooldown_ns is None:
            cooldown = 60.0
        cool = _duration_ns(cooldown, cooldown_ns, "cooldown", required=True)
        assert cool is not None
        self._cooldown_ns = cool
        self._half_open_trials = _count(half_open_trials, "half_open_trials")
        self.reset()

    def reset(self) -> None:
        """Back to ``"closed"`` with no history, no trips and no counted rejections."""
        self._state = CLOSED
        self._opened_at = 0
        self._consecutive = 0
        self._reject_times: deque[int] = deque()
        self._trials_accepted = 0
        self._trip_cause: str | None = None
        self._dd_base: float | None = None
        self._dd_peak_ref = 0.0
        self._trips = 0
        self._history: list[tuple[int, str, str]] = []

    # -- configuration ----------------------------------------------------------------------
    @property
    def max_rejections(self) -> int | None:
        """Rejections that trip the breaker (``None``: never)."""
        return self._max_rejections

    @property
    def window_ns(self) -> int | None:
        """Rejection window in nanoseconds (``None``: consecutive rejections)."""
        return self._window_ns

    @property
    def drawdown(self) -> float | None:
        """Drawdown fraction that trips the breaker (``None``: never)."""
        return self._drawdown_limit

    @property
    def cooldown_ns(self) -> int:
        """Time the breaker stays open, in nanoseconds."""
        return self._cooldown_ns

    @property
    def half_open_trials(self) -> int:
        """Orders let through in the half-open state."""
        return self._half_open_trials

    # -- state --------------------------------------------------------------------------------
    @property
    def state(self) -> str:
        """``"closed"``, ``"open"`` or ``"half_open"``, as of the last order or rejection seen."""
        return self._state

    @property
    def trips(self) -> int:
        """Times the breaker opened (from closed or from half-open)."""
        return self._trips

    @property
    def history(self) -> list[tuple[int, str, str]]:
        """State transitions as ``(ts, from_state, to_state)``, oldest first (a copy)."""
        return list(self._history)

    @property
    def opened_at(self) -> int | None:
        """Event time the breaker last opened, ``None`` while it is not open."""
        return self._opened_at if self._state == OPEN else None

    def _move(self, ts: int, to: str) -> None:
        self._history.append((ts, self._state, to))
        self._state = to

    def _trip(self, ts: int, cause: str) -> None:
        self._move(ts, OPEN)
        self._opened_at = ts
        self._trips += 1
        self._trip_cause = cause
        self._consecutive = 0
        self._reject_times.clear()
        self._trials_accepted = 0

    def _current_drawdown(self, account: AccountLike) -> float:
        equity = float(account.equity)
        peak = float(account.peak_equity)
        if self._dd_base is not None:
            if peak > self._dd_peak_ref:  # a new all-time peak since the re-base
                self._dd_base = None
            elif math.isfinite(equity):
                self._dd_base = max(self._dd_base, equity)
        ref = peak if self._dd_base is None else self._dd_base
        return _drawdown(equity, ref)

    def check(self, order: OrderLike, account: AccountLike) -> str | None:
        """Advance the state to the order's time; ``"circuit_open"`` if the order must be rejected."""
        ts = int(order.ts)
        if self._state == OPEN:
            if ts - self._opened_at < self._cooldown_ns:
                return CIRCUIT_OPEN
            self._move(ts, HALF_OPEN)
            self._trials_accepted = 0
            if self._trip_cause == "drawdown":
                equity = float(account.equity)
                if math.isfinite(equity):
                    self._dd_base = equity
                    self._dd_peak_ref = float(account.peak_equity)
        if self._state == HALF_OPEN and self._trials_accepted >= self._half_open_trials:
            self._move(ts, CLOSED)
            self._consecutive = 0
            self._reject_times.clear()
        limit = self._drawdown_limit
        if limit is not None and _reached(self._current_drawdown(account), limit):
            self._trip(ts, "drawdown")
            return CIRCUIT_OPEN
        return None

    def on_accept(self, order: OrderLike, account: AccountLike) -> None:
        """The risk manager accepted ``order``: resets the consecutive count, or uses up a trial."""
        if self._state == CLOSED:
            self._consecutive = 0
        elif self._state == HALF_OPEN:
            self._trials_accepted += 1

    def on_reject(self, ts: int, reason: str) -> None:
        """An order was rejected at event time ``ts``: count it; may trip (or re-open) the breaker."""
        ts = int(ts)
        if self._state == HALF_OPEN:
            self._trip(ts, "rejections")
            return
        if self._state != CLOSED or self._max_rejections is None:
            return
        if self._window_ns is None:
            self._consecutive += 1
            count = self._consecutive
        else:
            _expire(self._reject_times, ts - self._window_ns)
            self._reject_times.append(ts)
            count = len(self._reject_times)
        if count >= self._max_rejections:
            self._trip(ts, "rejections")

    def __repr__(self) -> str:
        window = "consecutive" if self._window_ns is None else f"window_ns={self._window_ns}"
        return (
            f"CircuitBreaker(max_rejections={self._max_rejections}, {window}, "
            f"drawdown={self._drawdown_limit}, cooldown_ns={self._cooldown_ns}, "
            f"half_open_trials={self._half_open_trials}, state={self._state!r}, trips={self._trips})"
        )


# ---------------------------------------------------------------------------------------------
# Risk manager
class RiskManager:
    """Pre-trade risk: the drawdown halt, a circuit breaker and a list of checks.

    Parameters
    ----------
    checks:
        :class:`Check` instances, evaluated in this order.
    breaker:
        An optional :class:`CircuitBreaker`, fed with every rejection of the checks and of
        :meth:`record_reject`.
    max_drawdown:
        Drawdown fraction in (0, 1] that halts the account for good (until :meth:`reset`): once
        ``1 - equity / peak_equity >= max_drawdown`` at an order, every order that does not reduce
        a position (:func:`reduces_position`) is rejected with ``"max_drawdown_halt"``. Reducing
        orders continue to the breaker and the checks, so the strategy can flatten.

    Notes
    -----
    :meth:`check` evaluates the halt, then the breaker, then the checks in order; the first
    failure is the answer. When every check passes, each check's :meth:`Check.on_accept` and the
    breaker's are called. Rejections of the halt are counted in :attr:`rejections` but not fed to
    the breaker (a halted account must stay able to flatten). A manager pickles with the state of
    its checks and breaker.
    """

    def __init__(
        self,
        checks: Sequence[Check] = (),
        *,
        breaker: CircuitBreaker | None = None,
        max_drawdown: float | None = None,
    ) -> None:
        checks = tuple(checks)
        for c in checks:
            if not isinstance(c, Check):
                raise DTypeError(f"checks must be Check instances, got {type(c).__name__}")
        if breaker is not None and not isinstance(breaker, CircuitBreaker):
            raise DTypeError(f"breaker must be a CircuitBreaker, got {type(breaker).__name__}")
        self._checks = checks
        # the checks that keep state on acceptance (the others' on_accept is the base no-op)
        self._acceptors = tuple(c for c in checks if type(c).on_accept is not Check.on_accept)
        self._breaker = breaker
        self._max_drawdown = None if max_drawdown is None else _fraction(max_drawdown, "max_drawdown")
        self._rejections: dict[str, int] = {}
        self._accepted = 0
        self._halted_at: int | None = None

    @property
    def checks(self) -> tuple[Check, ...]:
        """The checks, in evaluation order."""
        return self._checks

    @property
    def breaker(self) -> CircuitBreaker | None:
        """The circuit breaker, if any."""
        return self._breaker

    @property
    def max_drawdown(self) -> float | None:
        """Drawdown fraction of the halt (``None``: no halt)."""
        return self._max_drawdown

    @property
    def halted(self) -> bool:
        """Whether the drawdown halt is in force."""
        return self._halted_at is not None

    @property
    def halted_at(self) -> int | None:
        """Event time of the order at which the halt began, ``None`` if not halted."""
        return self._halted_at

    @property
    def accepted(self) -> int:
        """Orders accepted."""
        return self._accepted

    @property
    def rejections(self) -> dict[str, int]:
        """Rejections by reason code (a copy), including those reported through :meth:`record_reject`."""
        return dict(self._rejections)

    def _reject(self, reason: str) -> str:
        self._rejections[reason] = self._rejections.get(reason, 0) + 1
        return reason

    def check(self, order: OrderLike, account: AccountLike) -> str | None:
        """``None`` to accept ``order``, else the reason code of its rejection."""
        _side(order)
        if self._max_drawdown is not None:
            if self._halted_at is None and _reached(
                _drawdown(float(account.equity), float(account.peak_equity)), self._max_drawdown):
                self._halted_at = int(order.ts)
            if self._halted_at is not None and not reduces_position(order, account):
                return self._reject(MAX_DRAWDOWN_HALT)
        if self._breaker is not None:
            reason = self._breaker.check(order, account)
            if reason is not None:
                return self._reject(reason)
        for c in self._checks:
            reason = c.check(order, account)
            if reason is not None:
                if not isinstance(reason, str):
                    raise DTypeError(
                        f"{c!r}.check must return None or a reason string, got {type(reason).__name__}")
                if self._breaker is not None:
                    self._breaker.on_reject(int(order.ts), reason)
                return self._reject(reason)
        for c in self._acceptors:
            c.on_accept(order, account)
        if self._breaker is not None:
            self._breaker.on_accept(order, account)
        self._accepted += 1
        return None

    def record_reject(self, ts: int, reason: str) -> None:
        """Report that an order accepted here was rejected downstream (e.g. insufficient cash).

        Counted in :attr:`rejections` and fed to the breaker (it may trip it, or re-open a
        half-open breaker).
        """
        if not isinstance(reason, str):
            raise DTypeError(f"reason must be a string, got {type(reason).__name__}")
        self._reject(reason)
        if self._breaker is not None:
            self._breaker.on_reject(int(ts), reason)

    def reset(self) -> None:
        """Forget everything: counts, the halt, and the state of the checks and the breaker."""
        self._rejections.clear()
        self._accepted = 0
        self._halted_at = None
        for c in self._checks:
            c.reset()
        if self._breaker is not None:
            self._breaker.reset()

    def __repr__(self) -> str:
        return (
            f"RiskManager(checks={list(self._checks)!r}, breaker={self._breaker!r}, "
            f"max_drawdown={self._max_drawdown!r}, halted={self.halted})"
        )


# ---------------------------------------------------------------------------------------------
# VaR / CVaR
def _returns_matrix(returns: Any) -> _F64:
    """Returns as a finite float64 matrix, T x assets (a 1-D input is one column)."""
    if isinstance(returns, pl.DataFrame):
        bad = [name for name, dt in returns.schema.items() if not dt.is_numeric()]
        if bad:
            raise DTypeError(f"returns frame has non-numeric columns {bad}: select the asset return columns")
        arr: np.ndarray[Any, Any] = returns.select(pl.all().cast(pl.Float64)).to_numpy()
    elif isinstance(returns, pl.Series):
        if not returns.dtype.is_numeric():
            raise DTypeError(f"returns must be numeric, got {returns.dtype}")
        arr = returns.cast(pl.Float64).to_numpy()
    else:
        arr = np.asarray(returns)
        if arr.dtype.kind not in "fiu":
            raise DTypeError(f"returns must be numeric, got dtype {arr.dtype}")
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    elif arr.ndim != 2:
        raise InvalidArgumentError(
            f"returns must be 1-D or 2-D (periods x assets), got {arr.ndim} dimensions")
    out = np.ascontiguousarray(arr, dtype=np.float64)
    if out.size == 0:
        raise InvalidArgumentError(f"returns are empty (shape {out.shape})")
    if not np.all(np.isfinite(out)):
        raise InvalidArgumentError("returns contain NaN, null or infinite values")
    return out


def _weights(weights: Any, n_assets: int) -> _F64:
    if weights is None:
        return np.full(n_assets, 1.0 / n_assets)
    w = np.asarray(weights)
    if w.dtype.kind not in "fiu":
        raise DTypeError(f"weights must be numeric, got dtype {w.dtype}")
    w = np.asarray(w, dtype=np.float64).reshape(-1) if w.ndim == 0 else np.asarray(w, dtype=np.float64)
    if w.ndim != 1 or w.shape[0] != n_assets:
        raise InvalidArgumentError(
            f"weights must be 1-D with one weight per asset ({n_assets}), got shape {w.shape}")
    if not np.all(np.isfinite(w)):
        raise InvalidArgumentError("weights must be finite")
    return w


def _confidence(value: Any) -> float:
    c = _real(value, "confidence")
    if not 0.0 < c < 1.0:
        raise InvalidArgumentError(f"confidence must be in (0, 1), got {value!r}")
    return c


def _method(value: Any) -> str:
    if not isinstance(value, str):
        raise DTypeError(f"method must be a string, got {type(value).__name__}")
    if value not in METHODS:
        raise InvalidArgumentError(f"unknown method {value!r}; expected one of {', '.join(METHODS)}")
    return value


def _rng(seed: Any) -> np.random.Generator:
    if seed is None or isinstance(seed, np.random.Generator):
        return np.random.default_rng(seed)
    if not _is_int(seed):
        raise DTypeError(f"seed must be an integer, a numpy Generator or None, got {type(seed).__name__}")
    return np.random.default_rng(int(seed))


def _rank(confidence: float, n: int) -> int:
    """1-based rank ``ceil(c * n)`` of the VaR order statistic, robust to round-off in ``c * n``."""
    x = confidence * n
    k = math.ceil(x - 1e-12 * max(1.0, x))
    return min(max(k, 1), n)


def _tail(losses: _F64, levels: Sequence[float]) -> list[tuple[float, float]]:
    """VaR and CVaR of a sample of losses: the inverse empirical CDF, and the mean of losses >= VaR."""
    srt = np.sort(losses)
    out = []
    for c in levels:
        v = float(srt[_rank(c, srt.shape[0]) - 1])
        tail = srt[int(np.searchsorted(srt, v, side="left")):]
        out.append((v, math.fsum(tail.tolist()) / tail.shape[0]))
    return out


def _moments(p: _F64) -> tuple[float, float, float, float]:
    """Mean, sample standard deviation (ddof=1), skewness and excess kurtosis (moment estimators).

    Skewness ``m3 / m2**1.5`` and excess kurtosis ``m4 / m2**2 - 3`` use the central moments
    ``m_k = mean((x - mean)**k)``; both are 0 for a constant series.
    """
    mu = float(p.mean())
    d = p - mu
    m2 = float(np.mean(d * d))
    sigma = float(np.std(p, ddof=1))
    if m2 <= 0.0:
        return mu, sigma, 0.0, 0.0
    m3 = float(np.mean(d**3))
    m4 = float(np.mean(d**4))
    return mu, sigma, m3 / m2**1.5, m4 / (m2 * m2) - 3.0


def _need(n: int, at_least: int, method: str) -> None:
    if n < at_least:
        raise InvalidArgumentError(f"method {method!r} needs at least {at_least} observations, got {n}")


def _historical(p: _F64, levels: Sequence[float], horizon: int) -> list[tuple[float, float]]:
    _need(p.shape[0], horizon, "historical")
    agg = p if horizon == 1 else np.lib.stride_tricks.sliding_window_view(p, horizon).sum(axis=1)
    return _tail(-agg, levels)


def _parametric(p: _F64, levels: Sequence[float], horizon: int) -> list[tuple[float, float]]:
    _need(p.shape[0], 2, "parametric")
    mu = float(p.mean()) * horizon
    sigma = float(np.std(p, ddof=1)) * math.sqrt(horizon)
    out = []
    for c in levels:
        z = _NORMAL.inv_cdf(c)
        out.append((sigma * z - mu, sigma * _NORMAL.pdf(z) / (1.0 - c) - mu))
    return out


def _cornish_fisher(p: _F64, levels: Sequence[float], horizon: int) -> list[tuple[float, float]]:
    _need(p.shape[0], 2, "cornish_fisher")
    mu, sigma, skew, kurt = _moments(p)
    mu *= horizon
    sigma *= math.sqrt(horizon)
    skew /= math.sqrt(horizon)
    kurt /= horizon
    out = []
    for c in levels:
        a = 1.0 - c
        u = _NORMAL.inv_cdf(a)
        phi = _NORMAL.pdf(u)
        q = (u + (u * u - 1.0) * skew / 6.0 + (u**3 - 3.0 * u) * kurt / 24.0
             - (2.0 * u**3 - 5.0 * u) * skew * skew / 36.0)
        # integral over p in (0, a) of the CF quantile, via the normal tail moments
        # int_{-inf}^u z^k phi(z) dz = a, -phi, a - u phi, -(u^2 + 2) phi   (k = 0..3)
        integral = phi * (-1.0 - u * skew / 6.0 + (1.0 - u * u) * kurt / 24.0
                          - (1.0 - 2.0 * u * u) * skew * skew / 36.0)
        out.append((-(mu + sigma * q), -(mu + sigma * integral / a)))
    return out


def _cov_factor(cov: _F64) -> _F64:
    """A matrix ``L`` with ``L @ L.T == cov``: Cholesky, or for a singular covariance the
    symmetric eigen-decomposition with negative round-off eigenvalues set to 0."""
    try:
        chol: _F64 = np.linalg.cholesky(cov).astype(np.float64, copy=False)
        return chol
    except np.linalg.LinAlgError:
        vals, vecs = np.linalg.eigh(cov)
        out: _F64 = vecs * np.sqrt(np.clip(vals, 0.0, None))
        return out


def _monte_carlo(x: _F64, w: _F64, levels: Sequence[float], horizon: int, n_paths: int,
                 rng: np.random.Generator) -> list[tuple[float, float]]:
    _need(x.shape[0], 2, "monte_carlo")
    k = x.shape[1]
    mean = x.mean(axis=0)
    cov = np.atleast_2d(np.cov(x, rowvar=False, ddof=1))
    factor = _cov_factor(cov)
    chunk = max(1, (1 << 22) // (k * 8))
    totals = np.empty(n_paths)
    for start in range(0, n_paths, chunk):
        m = min(chunk, n_paths - start)
        path = np.zeros((m, k))
        for _ in range(horizon):
            path += mean + rng.standard_normal((m, k)) @ factor.T
        totals[start:start + m] = path @ w
    return _tail(-totals, levels)


def _evaluate(returns: Any, levels: Sequence[float], methods: Sequence[str], weights: Any, horizon: Any,
              n_paths: Any, seed: Any) -> dict[str, list[tuple[float, float]]]:
    h = _count(horizon, "horizon", "an integer number of periods")
    paths = _count(n_paths, "n_paths")
    x = _returns_matrix(returns)
    w = _weights(weights, x.shape[1])
    rng = _rng(seed) if "monte_carlo" in methods else None
    p = x @ w
    out: dict[str, list[tuple[float, float]]] = {}
    for m in methods:
        if m == "historical":
            out[m] = _historical(p, levels, h)
        elif m == "parametric":
            out[m] = _parametric(p, levels, h)
        elif m == "cornish_fisher":
            out[m] = _cornish_fisher(p, levels, h)
        else:
            assert rng is not None
            out[m] = _monte_carlo(x, w, levels, h, paths, rng)
    return out


def var(
    returns: Any,
    confidence: float = 0.95,
    *,
    method: str = "historical",
    weights: Any = None,
    horizon: int = 1,
    n_paths: int = 100_000,
    seed: int | np.random.Generator | None = None,
) -> float:
    """Value at risk: the loss not exceeded with probability ``confidence`` over ``horizon`` periods.

    Parameters
    ----------
    returns:
        Per-period simple returns: 1-D (one asset, or a portfolio), or 2-D periods x assets (a
        numpy array or a polars DataFrame of numeric columns, one per asset). No NaN or null.
    confidence:
        Confidence level in (0, 1), e.g. 0.95 or 0.99.
    method:
        ``"historical"``, ``"parametric"``, ``"cornish_fisher"`` or ``"monte_carlo"`` (Notes).
    weights:
        Portfolio weights, one per asset (fractions of the portfolio value; they need not sum to
        1: leverage and shorts are allowed). Default: equal weights ``1 / n_assets``. The
        portfolio return of a period is ``returns @ weights`` (a portfolio rebalanced to fixed
        weights every period).
    horizon:
        Periods; the loss over the horizon is minus the *sum* of the portfolio returns of the
        periods (additive aggregation: exact for log returns, the first-order approximation for
        simple returns), with the periods independent.
    n_paths, seed:
        Simulated paths and the random seed (an int, a ``numpy.random.Generator`` or ``None``)
        of ``"monte_carlo"``.

    Returns
    -------
    float
        The VaR as a positive loss, in units of portfolio value (0.02 = 2 %). It is negative
        when even the quantile is a gain.

    Notes
    -----
    With ``L`` the loss (minus the portfolio return over the horizon), ``c`` the confidence,
    ``mu`` and ``sigma`` the mean and sample standard deviation (ddof=1) of the per-period
    portfolio return, ``z = Phi^-1(c)``:

    * historical: ``L`` sampled by the overlapping ``horizon``-period sums of the portfolio
      returns (``T - horizon + 1`` of them); VaR is the inverse of their empirical distribution
      function, ``inf {l : F_n(l) >= c}``: the ``ceil(c * n)``-th smallest loss (numpy's
      ``"inverted_cdf"`` quantile), with ``c * n`` taken as the decimal product (0.55 * 100 is
      rank 55, although it is 55.00000000000001 in binary). With 1000 losses, the 95 % VaR is
      the 950th smallest.
    * parametric (normal): ``VaR = -mu h + sigma sqrt(h) z``.
    * cornish_fisher: the normal quantile corrected for skewness ``S`` and excess kurtosis ``K``
      (moment estimators ``m3 / m2^1.5`` and ``m4 / m2^2 - 3`` of the central moments
      ``m_k = mean((r - mean)^k)``; both 0 for a constant series). With ``u = Phi^-1(1 - c)``
      the CF return quantile is ``q = u + (u^2 - 1) S / 6 + (u^3 - 3u) K / 24 - (2u^3 - 5u) S^2 / 36`` and
      ``VaR = -(mu_h + sigma_h q)``, where over ``h`` periods ``mu_h = mu h``,
      ``sigma_h = sigma sqrt(h)``, ``S_h = S / sqrt(h)``, ``K_h = K / h`` (sum of i.i.d. periods).
      With ``S = K = 0`` it is the parametric VaR. The expansion is reliable for moderate
      skewness and kurtosis only (for large ones the CF quantile is not monotone in ``c``).
    * monte_carlo: ``n_paths`` paths of ``horizon`` periods of asset returns drawn from the
      multivariate normal with the sample mean vector and sample covariance (ddof=1) of
      ``returns`` (correlated through the Cholesky factor of the covariance; a singular
      covariance, e.g. a duplicated asset, is factored through its eigen-decomposition instead);
      the path loss is minus the weighted sum, and VaR its empirical quantile as in historical.
      It agrees with the parametric VaR within sampling error (it samples the same model).
    """
    c = _confidence(confidence)
    m = _method(method)
    return _evaluate(returns, [c], [m], weights, horizon, n_paths, seed)[m][0][0]


def cvar(
    returns: Any,
    confidence: float = 0.95,
    *,
    method: str = "historical",
    weights: Any = None,
    horizon: int = 1,
    n_paths: int = 100_000,
    seed: int | np.random.Generator | None = None,
) -> float:
    """Conditional value at risk (expected shortfall): the mean loss in the tail beyond the VaR.

    Arguments and conventions as :func:`var`. By method:

    * historical and monte_carlo: the mean of the sampled losses ``>= VaR`` (ties with the VaR
      included), summed exactly (``math.fsum``);
    * parametric: ``sigma sqrt(h) phi(z) / (1 - c) - mu h``;
    * cornish_fisher: ``-(mu_h + sigma_h / (1 - c) * integral_0^(1-c) q(p) dp)``, the mean of the
      CF quantile function over the loss tail. The integral is exact: substituting
      ``p = Phi(z)`` turns it into normal tail moments, ``int_{-inf}^u z^k phi(z) dz`` =
      ``1 - c``, ``-phi(u)``, ``1 - c - u phi(u)``, ``-(u^2 + 2) phi(u)`` for ``k = 0..3``, which
      gives ``integral = phi(u) [-1 - u S / 6 + (1 - u^2) K / 24 - (1 - 2u^2) S^2 / 36]``.
    """
    c = _confidence(confidence)
    m = _method(method)
    return _evaluate(returns, [c], [m], weights, horizon, n_paths, seed)[m][0][1]


def risk_report(
    returns: Any,
    weights: Any = None,
    confidence: float | Sequence[float] = (0.95, 0.99),
    *,
    methods: Sequence[str] = METHODS,
    horizon: int = 1,
    n_paths: int = 100_000,
    seed: int | np.random.Generator | None = None,
) -> pl.DataFrame:
    """VaR and CVaR of a portfolio by every method at several confidence levels.

    Arguments and conventions as :func:`var`; the Monte Carlo paths are drawn once and shared by
    all levels.

    Returns
    -------
    polars.DataFrame
        One row per (method, confidence), methods in the order given and levels within each:
        ``method`` String, ``confidence`` Float64, ``var`` Float64, ``cvar`` Float64.
    """
    raw: list[Any] = [confidence] if _is_real(confidence) else list(cast("Iterable[Any]", confidence))
    if not raw:
        raise InvalidArgumentError("confidence must hold at least one level")
    levels = [_confidence(c) for c in raw]
    if isinstance(methods, str):
        methods = [methods]
    names = [_method(m) for m in methods]
    if not names:
        raise InvalidArgumentError("methods must hold at least one method")
    res = _evaluate(returns, levels, names, weights, horizon, n_paths, seed)
    rows_m, rows_c, rows_v, rows_cv = [], [], [], []
    for m in names:
        for c, (v, cv) in zip(levels, res[m]):
            rows_m.append(m)
            rows_c.append(c)
            rows_v.append(v)
            rows_cv.append(cv)
    return pl.DataFrame(
        {"method": rows_m, "confidence": rows_c, "var": rows_v, "cvar": rows_cv},
        schema={"method": pl.String, "confidence": pl.Float64, "var": pl.Float64, "cvar": pl.Float64},
    )
