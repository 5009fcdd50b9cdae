"""The limit order book and matching engine: :class:`OrderBook` (one symbol) and
:class:`Exchange` (many), the simulated exchange of backtests and the book of feed replays.

    >>> import neural_trader as nt
    >>> book = nt.OrderBook(tick_size=0.01, lot_size=1)
    >>> book.submit("sell", 5, 100.02).status
    'resting'
    >>> r = book.submit("buy", 3, 100.05)          # marketable: trades at the resting price
    >>> [(f.maker_id, f.price, f.quantity) for f in r.fills]
    [(1, 100.02, 3.0)]

Rules
-----
Units. Prices are integer ticks and quantities integer lots inside. A price within 1e-9
(relative) of a multiple of ``tick_size`` is that tick; any other price is rejected (OFF_TICK),
as are quantities off the ``lot_size`` grid (OFF_LOT); nothing is rounded silently. Prices
come back in the caller's units (``ticks / N`` when ``1 / tick_size`` is an integer N, so
10001 ticks of 0.01 are exactly ``100.01``). Zero and negative prices are allowed.

Priority. Best price first; within a price, the order that took its place first (a sequence
number given on acceptance and again whenever an order loses priority). Trades happen at the
resting (maker) order's price.

Submission is checked in this order; the first failure rejects the order with one REJECTED
event and changes nothing: quantity (INVALID_QUANTITY, OFF_LOT); price needed by LIMIT and
STOP_LIMIT (MISSING_PRICE, INVALID_PRICE, OFF_TICK), refused with MARKET and STOP
(UNEXPECTED_PRICE); ``stop_price`` needed by STOP and STOP_LIMIT (MISSING_STOP_PRICE),
refused otherwise (INVALID_OPTION); post-only only for LIMIT / STOP_LIMIT with GTC or DAY
(INVALID_OPTION); the id must not be live (DUPLICATE_ID; the book's automatic ids count up from
1 and skip live ids); a post-only LIMIT that would trade (POST_ONLY_WOULD_CROSS); a FOK LIMIT or
MARKET whose full quantity cannot trade right now (FOK_UNFILLABLE: checked before any fill).

Order types and time in force. A LIMIT order trades against every resting order it crosses,
then rests if GTC or DAY; IOC and FOK leftovers are cancelled (IOC_REMAINDER). A MARKET order
never rests: what it cannot trade is cancelled (NO_LIQUIDITY); its TIF matters only for FOK.
DAY orders (resting or pending) expire at ``end_of_day()``, in priority order.

Stops. STOP and STOP_LIMIT orders wait in a trigger book and fire on the last trade price of
this book: a buy stop when last >= stop_price, a sell stop when last <= stop_price (never before
the first trade; at once if the condition already holds when it arrives). After every action
that may trade, the book fires stops one at a time until none qualifies: the lowest firing buy
stop or the highest firing sell stop (ties by arrival); if both sides have one, the earlier
arrival goes first. A fired stop gets a TRIGGERED event and a new place in time, then trades as
a MARKET (STOP) or LIMIT (STOP_LIMIT) order with its TIF; a post-only stop-limit that would
cross and a FOK stop that cannot fill completely are cancelled at that moment.

Self-trade prevention applies when the incoming and the resting order have the same ``owner``
(owners are non-negative ints; None never matches): CANCEL_NEWEST cancels the incoming order's
remainder, CANCEL_OLDEST cancels the resting order and keeps matching, CANCEL_BOTH cancels both
(reason SELF_TRADE); NONE lets them trade. The FOK check counts only what could trade under it.

Modify. ``quantity`` is the new open quantity. The same price with a quantity at most the open
one keeps time priority; a price change or a larger quantity loses it: the order leaves its
level and comes back as a new arrival at its (possibly new) price, trading at once if it
crosses (a post-only order that would cross is rejected, unchanged). A pending stop keeps its
place unless its stop price, limit price or a larger quantity is asked for.

Reports and events. Every call returns a :class:`Report`; ``process()`` returns arrays
(FILL_DTYPE, EVENT_DTYPE) of the same records. A fully filled resting order gets no event: its
fills say it. Quantity is conserved: for every order, accepted quantity = filled + resting +
cancelled + expired (a modify sets the open quantity anew).
"""

from __future__ import annotations

from ._book_types import (
    BOOK_ORDER_DTYPE,
    EVENT_DTYPE,
    FILL_DTYPE,
    ORDER_MSG_DTYPE,
    STP,
    TIF,
    Action,
    Depth,
    EventKind,
    OrderInfo,
    OrderType,
    Reason,
    Replay,
    Side,
    as_messages,
)
from ._engine import Event, Exchange, Fill, OrderBook, Report

__all__ = [
    "OrderBook",
    "Exchange",
    "Report",
    "Fill",
    "Event",
    "OrderInfo",
    "Depth",
    "Replay",
    "Side",
    "OrderType",
    "TIF",
    "STP",
    "Action",
    "EventKind",
    "Reason",
    "ORDER_MSG_DTYPE",
    "FILL_DTYPE",
    "EVENT_DTYPE",
    "BOOK_ORDER_DTYPE",
    "as_messages",
]
