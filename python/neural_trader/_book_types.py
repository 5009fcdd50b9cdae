"""Vocabulary of the order book: enums, record dtypes and small result types.

Pure Python, imported by the compiled ``_engine`` module (which cannot import
``neural_trader.book`` without a cycle); users import these names from ``neural_trader``.
"""

from __future__ import annotations

import enum
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from .errors import DTypeError, InvalidArgumentError


class Side(enum.IntEnum):
    """Side of an order. The values are signs: ``position += side * quantity``."""

    BUY = 1
    SELL = -1


class OrderType(enum.IntEnum):
    """LIMIT and MARKET trade at once; STOP and STOP_LIMIT wait in the trigger book until the
    last trade price reaches ``stop_price`` and then trade as MARKET / LIMIT."""

    LIMIT = 0
    MARKET = 1
    STOP = 2
    STOP_LIMIT = 3


class TIF(enum.IntEnum):
    """Time in force: GTC rests until cancelled, DAY until ``end_of_day()``, IOC trades what it
    can at once and cancels the rest, FOK trades everything at once or is rejected untouched."""

    GTC = 0
    DAY = 1
    IOC = 2
    FOK = 3


class STP(enum.IntEnum):
    """Self-trade prevention, for two orders of the same ``owner`` (set per book).

    CANCEL_NEWEST cancels the incoming order's remainder, CANCEL_OLDEST cancels the resting
    order and keeps matching, CANCEL_BOTH cancels both; NONE lets them trade."""

    NONE = 0
    CANCEL_NEWEST = 1
    CANCEL_OLDEST = 2
    CANCEL_BOTH = 3


class Action(enum.IntEnum):
    """Kind of one replay message (the ``action`` field of ORDER_MSG_DTYPE)."""

    ADD = 0
    CANCEL = 1
    MODIFY = 2
    MARKET = 3
    END_OF_DAY = 4


class EventKind(enum.IntEnum):
    """What happened to an order (the ``kind`` field of EVENT_DTYPE)."""

    ACCEPTED = 0
    REJECTED = 1
    CANCELLED = 2
    EXPIRED = 3
    TRIGGERED = 4
    MODIFIED = 5


class Reason(enum.IntEnum):
    """Why an order was rejected, cancelled or expired (the ``reason`` field of EVENT_DTYPE)."""

    NONE = 0
    INVALID_QUANTITY = 1
    INVALID_PRICE = 2
    OFF_TICK = 3
    OFF_LOT = 4
    UNKNOWN_ID = 5
    DUPLICATE_ID = 6
    FOK_UNFILLABLE = 7
    POST_ONLY_WOULD_CROSS = 8
    MISSING_PRICE = 9
    MISSING_STOP_PRICE = 10
    UNEXPECTED_PRICE = 11
    INVALID_OPTION = 12
    USER = 13
    IOC_REMAINDER = 14
    NO_LIQUIDITY = 15
    SELF_TRADE = 16
    END_OF_DAY = 17


#: One replay message for ``OrderBook.process`` / ``Exchange.process`` (64 bytes, aligned).
#: ``action`` is an :class:`Action`; ``side`` +1/-1; ``type`` an :class:`OrderType`; ``tif`` a
#: :class:`TIF`; ``flags`` bit 0 = post-only; ``owner`` < 0 = no owner; ``id`` < 0 on ADD = an
#: automatic id; NaN ``price`` / ``quantity`` / ``stop_price`` = not given (MODIFY: unchanged);
#: ``symbol`` = the index ``Exchange.add_symbol`` returned (ignored by a lone OrderBook).
ORDER_MSG_DTYPE: np.dtype[np.void] = np.dtype(
    {
        "names": ["ts", "id", "owner", "price", "quantity", "stop_price", "symbol", "action", "side", "type", "tif", "flags"],
        "formats": ["<i8", "<i8", "<i8", "<f8", "<f8", "<f8", "<i4", "u1", "i1", "u1", "u1", "u1"],
        "offsets": [0, 8, 16, 24, 32, 40, 48, 52, 53, 54, 55, 56],
        "itemsize": 64,
    }
)

#: One trade: event time, resting (maker) and incoming (taker) order ids, price and quantity in
#: the caller's units, ``msg`` = index of the message that caused it (-1 from a direct call),
#: ``symbol`` index, ``side`` = the taker's side (+1 buy, -1 sell).
FILL_DTYPE: np.dtype[np.void] = np.dtype(
    {
        "names": ["ts", "maker_id", "taker_id", "price", "quantity", "msg", "symbol", "side"],
        "formats": ["<i8", "<i8", "<i8", "<f8", "<f8", "<i8", "<i4", "i1"],
        "offsets": [0, 8, 16, 24, 32, 40, 48, 52],
        "itemsize": 56,
    }
)

#: One order event: ``kind`` an :class:`EventKind`, ``reason`` a :class:`Reason`, ``price`` the
#: order's limit price (NaN if none), ``quantity``: accepted/triggered = order quantity,
#: cancelled/expired = open quantity removed, modified = new open quantity; a rejection carries
#: the price and quantity exactly as they were given (NaN where none was).
EVENT_DTYPE: np.dtype[np.void] = np.dtype(
    {
        "names": ["ts", "order_id", "price", "quantity", "msg", "symbol", "kind", "reason", "side", "type"],
        "formats": ["<i8", "<i8", "<f8", "<f8", "<i8", "<i4", "u1", "u1", "i1", "u1"],
        "offsets": [0, 8, 16, 24, 32, 40, 44, 45, 46, 47],
        "itemsize": 48,
    }
)

#: One live order in ``OrderBook.orders()`` (an L3 snapshot).
BOOK_ORDER_DTYPE: np.dtype[np.void] = np.dtype(
    [
        ("id", "<i8"),
        ("owner", "<i8"),
        ("side", "i1"),
        ("type", "u1"),
        ("tif", "u1"),
        ("post_only", "?"),
        ("pending", "?"),
        ("price", "<f8"),
        ("stop_price", "<f8"),
        ("quantity", "<f8"),
        ("ts", "<i8"),
    ],
    align=True,
)

_MSG_DEFAULTS: dict[str, Any] = {
    "ts": 0,
    "id": -1,
    "owner": -1,
    "price": np.nan,
    "quantity": np.nan,
    "stop_price": np.nan,
    "symbol": 0,
    "action": int(Action.ADD),
    "side": 0,
    "type": int(OrderType.LIMIT),
    "tif": int(TIF.GTC),
    "flags": 0,
}


def as_messages(messages: Any) -> npt.NDArray[np.void]:
    """``messages`` as a C-contiguous 1-D array of ORDER_MSG_DTYPE (a view when it already is).

    Accepts an ORDER_MSG_DTYPE array, any structured array or polars / pandas DataFrame or dict
    of columns whose names are ORDER_MSG_DTYPE fields (missing fields take their defaults: id
    -1, owner -1, NaN prices and quantity, action ADD, type LIMIT, tif GTC, flags 0, symbol 0;
    ``side`` is required for ADD messages and ``action`` must then be given or ADD).
    """
    if isinstance(messages, np.ndarray) and messages.dtype == ORDER_MSG_DTYPE:
        if messages.ndim != 1:
            raise InvalidArgumentError(f"messages must be 1-D, got shape {messages.shape}")
        return np.ascontiguousarray(messages)
    columns: dict[str, Any]
    if isinstance(messages, np.ndarray):
        if messages.dtype.names is None:
            raise DTypeError(f"messages must be a structured array of ORDER_MSG_DTYPE, got dtype {messages.dtype}")
        if messages.ndim != 1:
            raise InvalidArgumentError(f"messages must be 1-D, got shape {messages.shape}")
        columns = {name: messages[name] for name in messages.dtype.names}
    elif isinstance(messages, dict):
        columns = dict(messages)
    elif hasattr(messages, "columns") and hasattr(messages, "__getitem__"):
        columns = {str(c): messages[c] for c in messages.columns}
    else:
        raise DTypeError(
            f"messages must be an ORDER_MSG_DTYPE array, a structured array, a DataFrame or a dict of columns, "
            f"not {type(messages).__name__}"
        )
    names = ORDER_MSG_DTYPE.names
    assert names is not None
    unknown = sorted(set(columns) - set(names))
    if unknown:
        raise InvalidArgumentError(f"unknown message fields {unknown}; ORDER_MSG_DTYPE has {list(names)}")
    lengths = {len(np.asarray(v)) for v in columns.values()}
    if len(lengths) > 1:
        raise InvalidArgumentError(f"message columns differ in length: {sorted(lengths)}")
    n = lengths.pop() if lengths else 0
    if "side" not in columns and n:
        raise InvalidArgumentError("messages need a 'side' column (+1 buy, -1 sell)")
    out = np.zeros(n, dtype=ORDER_MSG_DTYPE)
    for name in names:
        if name in columns:
            col = np.asarray(columns[name])
            if col.dtype.kind not in "biuf":
                raise DTypeError(f"message field {name!r} must be numeric, got dtype {col.dtype}")
            out[name] = col
        else:
            out[name] = _MSG_DEFAULTS[name]
    return out


class Depth(NamedTuple):
    """Aggregated L2 levels of a book, best first on each side (NumPy arrays)."""

    bid_price: npt.NDArray[np.float64]
    bid_quantity: npt.NDArray[np.float64]
    ask_price: npt.NDArray[np.float64]
    ask_quantity: npt.NDArray[np.float64]
    bid_orders: npt.NDArray[np.int64]
    ask_orders: npt.NDArray[np.int64]


class OrderInfo(NamedTuple):
    """One live order, as ``OrderBook.order(id)`` reports it.

    ``status`` is "resting" (on the book) or "pending" (a stop waiting for its trigger);
    ``quantity`` is the open quantity; ``queue_ahead`` the quantity queued before it at its
    price (time priority); ``price`` is None for a stop market order, ``stop_price`` None unless
    a stop; ``ts`` the time it took its current place in the queue.
    """

    id: int
    side: Side
    type: OrderType
    tif: TIF
    price: float | None
    stop_price: float | None
    quantity: float
    owner: int | None
    post_only: bool
    status: str
    queue_ahead: float
    ts: int


class Replay(NamedTuple):
    """What ``process()`` produced: fills (FILL_DTYPE) and events (EVENT_DTYPE)."""

    fills: npt.NDArray[np.void]
    events: npt.NDArray[np.void]


_SIDES: dict[str, int] = {"buy": 1, "sell": -1, "b": 1, "s": -1, "bid": 1, "ask": -1}


def parse_enum(value: Any, enum_type: type[enum.IntEnum], what: str) -> int:
    """The integer code of ``value``: a member of ``enum_type``, its name (any case) or code."""
    if isinstance(value, str):
        try:
            return int(enum_type[value.upper()])
        except KeyError:
            names = ", ".join(repr(m.name.lower()) for m in enum_type)
            raise InvalidArgumentError(f"unknown {what} {value!r}; use one of {names}") from None
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        try:
            return int(enum_type(int(value)))
        except ValueError:
            raise InvalidArgumentError(f"unknown {what} code {int(value)}") from None
    raise DTypeError(f"{what} must be a {enum_type.__name__} or its name, not {type(value).__name__}")


def parse_side(value: Any) -> int:
    """+1 / -1 from a :class:`Side`, "buy"/"sell" (any case) or +1/-1."""
    if isinstance(value, str):
        code = _SIDES.get(value.lower())
        if code is None:
            raise InvalidArgumentError(f"unknown side {value!r}; use 'buy' or 'sell' (or nt.Side)")
        return code
    return parse_enum(value, Side, "side")
