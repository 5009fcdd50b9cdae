"""The order book's peers: a pure-Python price-time matching book, and nautilus_trader's L3 book.

``SortedBook``
    What a quant writes in an afternoon: one ``sortedcontainers.SortedDict`` per side (price ->
    level), each level an ``OrderedDict`` (order id -> order, FIFO by insertion), and a dict
    id -> order for cancels. ``add`` matches a marketable limit order against the opposite side
    (price-time priority, the maker's price) and rests the leftover; ``market`` matches and drops
    the leftover; ``cancel`` removes a resting order in O(1) plus O(log levels) when the level
    empties. Every call returns its fills, a list of ``(maker_id, taker_id, price, quantity)``:
    the same information as nt's report, built per call. The rules are nt's for the orders the
    benchmarks send (limit GTC / market, no owners, so no self-trade prevention): the maker is the
    oldest order at the best opposite level, the fill is at the maker's price, a market order's
    leftover is cancelled. The message generator (``book_mix``) runs this book to know which ids
    are live, and its results are the reference every engine is checked against.

``NautilusL3``
    An adapter around ``nautilus_trader.model.book.OrderBook`` with ``BookType.L3_MBO``: a data
    book (it applies add / update / delete deltas from a feed; it does no matching). It replays the
    L3 deltas that our messages produce (``l3_deltas``: each add, each maker reduced or removed
    by a fill, each cancel), so it does the book upkeep of the same stream without the matching
    decisions, which flatters it, never us. Optional: ``nautilus_status()`` says why it cannot run.
"""

from __future__ import annotations

import functools
import types
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

import numpy as np
from sortedcontainers import SortedDict

BUY, SELL = 1, -1
#: message actions (nt.Action codes) the benchmarks use
ADD, CANCEL, MARKET = 0, 1, 3
#: delta kinds of ``l3_deltas`` (the nautilus replay)
D_ADD, D_UPDATE, D_DELETE = 0, 1, 2


class Order:
    """One resting order (mutable open quantity)."""

    __slots__ = ("id", "side", "price", "qty")

    def __init__(self, order_id: int, side: int, price: float, qty: float) -> None:
        self.id = order_id
        self.side = side
        self.price = price
        self.qty = qty

    def __repr__(self) -> str:
        return f"Order({self.id}, {'buy' if self.side == BUY else 'sell'}, {self.price}, {self.qty})"


Fill = tuple[int, int, float, float]  # (maker_id, taker_id, price, quantity)


class SortedBook:
    """Price-time priority limit order book in pure Python on ``sortedcontainers``.

    Prices and quantities are whatever numbers the caller uses (floats here: the values sent to
    nt). Bids: the best is the last key; asks: the first key.
    """

    __slots__ = ("bids", "asks", "orders", "_next_id", "_bid_prices", "_ask_prices")

    def __init__(self) -> None:
        self.bids: SortedDict = SortedDict()
        self.asks: SortedDict = SortedDict()
        self.orders: dict[int, Order] = {}
        self._next_id = 1
        # sorted views of the prices (indexable: [0] lowest, [-1] highest), cheaper than peekitem
        self._bid_prices = self.bids.keys()
        self._ask_prices = self.asks.keys()

    # -- order entry ---------------------------------------------------------------------------
    def _new_id(self) -> int:
        oid = self._next_id
        while oid in self.orders:
            oid += 1
        self._next_id = oid + 1
        return oid

    def add(self, side: int, price: float, qty: float, order_id: int | None = None) -> list[Fill]:
        """A GTC limit order: match while it crosses, rest the leftover. Returns the fills."""
        if order_id is None:
            order_id = self._new_id()
        elif order_id in self.orders:
            raise KeyError(f"duplicate order id {order_id}")
        fills: list[Fill] = []
        if side == BUY:
            if self.asks and self._ask_prices[0] <= price:
                qty = self._take(self.asks, 0, side, price, qty, order_id, fills)
            if qty > 0:
                level = self.bids.get(price)
                if level is None:
                    level = self.bids[price] = OrderedDict()
                level[order_id] = self.orders[order_id] = Order(order_id, side, price, qty)
        else:
            if self.bids and self._bid_prices[-1] >= price:
                qty = self._take(self.bids, -1, side, price, qty, order_id, fills)
            if qty > 0:
                level = self.asks.get(price)
                if level is None:
                    level = self.asks[price] = OrderedDict()
                level[order_id] = self.orders[order_id] = Order(order_id, side, price, qty)
        return fills

    def market(self, side: int, qty: float, order_id: int | None = None) -> list[Fill]:
        """A market order: match against whatever is there; the leftover is dropped."""
        if order_id is None:
            order_id = self._new_id()
        fills: list[Fill] = []
        if side == BUY:
            if self.asks:
                self._take(self.asks, 0, side, None, qty, order_id, fills)
        elif self.bids:
            self._take(self.bids, -1, side, None, qty, order_id, fills)
        return fills

    def _take(self, book: SortedDict, best: int, side: int, limit: float | None, qty: float,
              taker_id: int, fills: list[Fill]) -> float:
        """Match ``qty`` against ``book`` (the opposite side; ``best`` = index of its best key)
        up to ``limit`` (None: any price). Returns the leftover."""
        orders = self.orders
        prices = book.keys()
        while qty > 0 and book:
            price = prices[best]
            level = book[price]
            if limit is not None and (price > limit if side == BUY else price < limit):
                break
            while qty > 0 and level:
                maker = next(iter(level.values()))
                if maker.qty <= qty:
                    q = maker.qty
                    level.popitem(last=False)
                    del orders[maker.id]
                else:
                    q = qty
                    maker.qty -= q
                qty -= q
                fills.append((maker.id, taker_id, price, q))
            if not level:
                del book[price]
        return qty

    def cancel(self, order_id: int) -> float | None:
        """Remove a resting order; its open quantity, or None when the id is not live."""
        order = self.orders.pop(order_id, None)
        if order is None:
            return None
        book = self.bids if order.side == BUY else self.asks
        level = book[order.price]
        del level[order_id]
        if not level:
            del book[order.price]
        return order.qty

    # -- views ---------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.orders)

    def __contains__(self, order_id: int) -> bool:
        return order_id in self.orders

    @property
    def best_bid(self) -> float | None:
        return self._bid_prices[-1] if self.bids else None

    @property
    def best_ask(self) -> float | None:
        return self._ask_prices[0] if self.asks else None

    def l3(self) -> list[tuple[int, int, float, float]]:
        """Every resting order as (id, side, price, open qty): bids best -> worst, then asks best
        -> worst, FIFO within a level (the order of nt's ``OrderBook.orders()``)."""
        out = [(o.id, o.side, o.price, o.qty) for p in reversed(self.bids) for o in self.bids[p].values()]
        out += [(o.id, o.side, o.price, o.qty) for p in self.asks for o in self.asks[p].values()]
        return out


def replay(book: SortedBook, rows: Iterable[tuple[int, int, int, float, float]]) -> list[Fill]:
    """Feed ``(action, id, side, price, quantity)`` rows (``book_mix.rows``) to ``book``, one
    Python call per message, and return every fill. The timed loop of the peer."""
    add, market, cancel = book.add, book.market, book.cancel
    fills: list[Fill] = []
    for action, oid, side, price, qty in rows:
        if action == ADD:
            f = add(side, price, qty, oid)
            if f:
                fills += f
        elif action == CANCEL:
            cancel(oid)
        else:
            f = market(side, qty, oid)
            if f:
                fills += f
    return fills


def l3_deltas(book: SortedBook, rows: Iterable[tuple[int, int, int, float, float]]
              ) -> list[tuple[int, int, float, float, int]]:
    """Replay ``rows`` on ``book`` (untimed) and return the L3 deltas a market-data feed would
    carry for them, ``(kind, side, price, size, id)`` with kind D_ADD / D_UPDATE (a maker's new
    open size after a partial fill) / D_DELETE (cancelled or filled away)."""
    out: list[tuple[int, int, float, float, int]] = []
    orders = book.orders
    for action, oid, side, price, qty in rows:
        if action == CANCEL:
            o = orders.get(oid)
            if o is not None:
                out.append((D_DELETE, o.side, o.price, o.qty, oid))
                book.cancel(oid)
            continue
        fills = book.add(side, price, qty, oid) if action == ADD else book.market(side, qty, oid)
        for maker_id, _, fprice, _ in fills:
            m = orders.get(maker_id)
            if m is None:
                out.append((D_DELETE, -side, fprice, 0.0, maker_id))
            else:
                out.append((D_UPDATE, -side, fprice, m.qty, maker_id))
        rest = orders.get(oid)
        if rest is not None:
            out.append((D_ADD, side, rest.price, rest.qty, oid))
    return out


# --------------------------------------------------------------------------------------------------
# nautilus_trader (optional)

NAUTILUS_VERSION_TESTED = "1.221.0"


@functools.lru_cache(maxsize=1)
def nautilus_status() -> str | None:
    """None when nautilus_trader's order book imports, else why not."""
    try:
        _nautilus()
    except Exception as exc:  # noqa: BLE001 - any failure to import means "not available"
        return (f"nautilus_trader is not importable ({type(exc).__name__}: {exc}); its rows are skipped "
                f"(pip install nautilus_trader=={NAUTILUS_VERSION_TESTED})")
    return None


@functools.lru_cache(maxsize=1)
def _nautilus() -> Any:
    from nautilus_trader.model.book import OrderBook
    from nautilus_trader.model.data import BookOrder
    from nautilus_trader.model.enums import BookType, OrderSide
    from nautilus_trader.model.identifiers import InstrumentId
    from nautilus_trader.model.objects import Price, Quantity

    return types.SimpleNamespace(OrderBook=OrderBook, BookOrder=BookOrder, BookType=BookType,
                                 OrderSide=OrderSide, InstrumentId=InstrumentId, Price=Price,
                                 Quantity=Quantity)


def nautilus_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("nautilus_trader")
    except PackageNotFoundError:
        return None


class NautilusL3:
    """nautilus_trader ``OrderBook(instrument, BookType.L3_MBO)`` driven by L3 deltas.

    ``price_precision`` / ``size_precision``: decimals of nautilus' ``Price`` / ``Quantity``
    (2 and 0 for a 0.01 tick and whole lots)."""

    INSTRUMENT = "BENCH.SIM"

    def __init__(self, price_precision: int = 2, size_precision: int = 0) -> None:
        self.nt8 = _nautilus()
        self.pp, self.sp = price_precision, size_precision
        instrument = self.nt8.InstrumentId.from_str(self.INSTRUMENT)
        self.book = self.nt8.OrderBook(instrument, self.nt8.BookType.L3_MBO)

    def side(self, side: int) -> Any:
        return self.nt8.OrderSide.BUY if side == BUY else self.nt8.OrderSide.SELL

    def order_rows(self, deltas: Any) -> list[tuple[int, Any, float, float, int]]:
        """The deltas (``l3_deltas`` tuples, or a structured array with fields kind, side, price,
        size, id) as Python tuples with nautilus' side enum: decoded feed fields, ready to use."""
        if isinstance(deltas, np.ndarray):
            deltas = zip(*(deltas[f].tolist() for f in ("kind", "side", "price", "size", "id")))
        b, s = self.nt8.OrderSide.BUY, self.nt8.OrderSide.SELL
        return [(k, b if side == BUY else s, price, size, oid) for k, side, price, size, oid in deltas]

    def prebuild(self, deltas: Any) -> list[tuple[int, Any]]:
        """``(kind, BookOrder)`` for every delta, built ahead of the timer."""
        BookOrder, Price, Quantity = self.nt8.BookOrder, self.nt8.Price, self.nt8.Quantity
        pp, sp = self.pp, self.sp
        return [(k, BookOrder(side, Price(price, pp), Quantity(size, sp), oid))
                for k, side, price, size, oid in self.order_rows(deltas)]

    def apply_prebuilt(self, ops: list[tuple[int, Any]]) -> None:
        """The timed loop, pre-built orders: one add / update / delete call per delta."""
        add, update, delete = self.book.add, self.book.update, self.book.delete
        for kind, order in ops:
            if kind == D_ADD:
                add(order, 0)
            elif kind == D_DELETE:
                delete(order, 0)
            else:
                update(order, 0)

    def apply_creating(self, rows: list[tuple[int, Any, float, float, int]]) -> None:
        """The timed loop including object creation: Price, Quantity and BookOrder per delta."""
        add, update, delete = self.book.add, self.book.update, self.book.delete
        BookOrder, Price, Quantity = self.nt8.BookOrder, self.nt8.Price, self.nt8.Quantity
        pp, sp = self.pp, self.sp
        for kind, side, price, size, oid in rows:
            order = BookOrder(side, Price(price, pp), Quantity(size, sp), oid)
            if kind == D_ADD:
                add(order, 0)
            elif kind == D_DELETE:
                delete(order, 0)
            else:
                update(order, 0)

    def l3(self) -> list[tuple[int, int, float, float]]:
        """Resting orders as (id, side, price, size), in the order of ``SortedBook.l3``
        (nautilus' levels best first, orders as the level lists them)."""
        out: list[tuple[int, int, float, float]] = []
        for levels, side in ((self.book.bids(), BUY), (self.book.asks(), SELL)):
            for level in levels:
                out += [(int(o.order_id), side, float(o.price), float(o.size)) for o in level.orders()]
        return out

    def __len__(self) -> int:
        return sum(len(level.orders()) for level in self.book.bids() + self.book.asks())


def l3_array(rows: list[tuple[int, int, float, float]]) -> np.ndarray:
    """(id, side, price, quantity) rows as a structured array, for comparisons."""
    return np.array(rows, dtype=[("id", "<i8"), ("side", "i1"), ("price", "<f8"), ("quantity", "<f8")])
