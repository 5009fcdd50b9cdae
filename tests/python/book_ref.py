"""A slow, plain reference order book for differential tests of nt.OrderBook.

It follows the contract of the C++ book rule by rule, in integer ticks and lots, with plain dicts
and lists: price levels are dicts keyed by price (each level a dict id -> order kept in queue
order), best prices come from sorted lists of the level prices, and pending stops sit in sorted
lists of (stop, sequence, id) so the trigger loop can read its candidates off the front.

Messages are rows of an ORDER_MSG_DTYPE array (or the same fields as arguments); fills and events
come out as tuples in FILL_DTYPE / EVENT_DTYPE field order, and orders() gives the L3 snapshot.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable

import numpy as np

BUY, SELL = 1, -1
LIMIT, MARKET, STOP, STOP_LIMIT = 0, 1, 2, 3
GTC, DAY, IOC, FOK = 0, 1, 2, 3
STP_NONE, CANCEL_NEWEST, CANCEL_OLDEST, CANCEL_BOTH = 0, 1, 2, 3
A_ADD, A_CANCEL, A_MODIFY, A_MARKET, A_END_OF_DAY = 0, 1, 2, 3, 4
ACCEPTED, REJECTED, CANCELLED, EXPIRED, TRIGGERED, MODIFIED = 0, 1, 2, 3, 4, 5
(
    R_NONE, INVALID_QUANTITY, INVALID_PRICE, OFF_TICK, OFF_LOT, UNKNOWN_ID, DUPLICATE_ID,
    FOK_UNFILLABLE, POST_ONLY_WOULD_CROSS, MISSING_PRICE, MISSING_STOP_PRICE, UNEXPECTED_PRICE,
    INVALID_OPTION, USER, IOC_REMAINDER, NO_LIQUIDITY, SELF_TRADE, END_OF_DAY,
) = range(18)

POST_ONLY_FLAG = 1
NAN = float("nan")
MAX_UNITS = 2**53


def _struct(fields: list[tuple[str, str]], itemsize: int) -> np.dtype:
    dt = np.dtype(fields, align=True)
    assert dt.itemsize == itemsize, (dt.itemsize, itemsize)
    return dt


ORDER_MSG_DTYPE = _struct([
    ("ts", "<i8"), ("id", "<i8"), ("owner", "<i8"), ("price", "<f8"), ("quantity", "<f8"),
    ("stop_price", "<f8"), ("symbol", "<i4"), ("action", "u1"), ("side", "i1"), ("type", "u1"),
    ("tif", "u1"), ("flags", "u1"),
], 64)
FILL_DTYPE = _struct([
    ("ts", "<i8"), ("maker_id", "<i8"), ("taker_id", "<i8"), ("price", "<f8"), ("quantity", "<f8"),
    ("msg", "<i8"), ("symbol", "<i4"), ("side", "i1"),
], 56)
EVENT_DTYPE = _struct([
    ("ts", "<i8"), ("order_id", "<i8"), ("price", "<f8"), ("quantity", "<f8"), ("msg", "<i8"),
    ("symbol", "<i4"), ("kind", "u1"), ("reason", "u1"), ("side", "i1"), ("type", "u1"),
], 48)
L3_FIELDS = ("id", "owner", "side", "price", "quantity", "ts", "type", "tif", "stop_price")


class Grid:
    """The spec's conversion between caller units (floats) and integer ticks / lots."""

    def __init__(self, step: float) -> None:
        if not (math.isfinite(step) and step > 0):
            raise ValueError("step must be finite and > 0")
        self.step = step
        inv = 1.0 / step
        n = round(inv)
        self.n = n if n >= 1 and abs(inv - n) <= 1e-9 * inv else 0

    def out(self, k: int) -> float:
        return k / self.n if self.n else k * self.step

    def into(self, x: float) -> tuple[int, bool]:
        """(units, on_grid) for a finite x; units beyond 2**53 come back as on_grid=True, checked apart."""
        r = x / self.step
        if not math.isfinite(r):
            return MAX_UNITS + 1, True
        a = abs(r)
        f = math.floor(a)
        k = f + 1 if a - f >= 0.5 else f
        k = int(k) if r >= 0 else -int(k)
        if abs(k) > MAX_UNITS:
            return k, True
        return k, abs(x - k * self.step) <= 1e-9 * abs(x)


class Order:
    __slots__ = (
        "id",
        "owner",
        "pending",
        "post_only",
        "price",
        "qty",
        "seq",
        "side",
        "stop",
        "tif",
        "ts",
        "type",
    )

    def __init__(self, oid: int, owner: int, side: int, otype: int, tif: int, post_only: bool,
                 price: int | None, stop: int | None, qty: int, ts: int) -> None:
        self.id = oid
        self.owner = owner
        self.side = side
        self.type = otype
        self.tif = tif
        self.post_only = post_only
        self.price = price
        self.stop = stop
        self.qty = qty
        self.seq = 0
        self.ts = ts
        self.pending = False


class _Reject(Exception):
    def __init__(self, reason: int) -> None:
        self.reason = reason


class RefBook:
    """The reference book. Prices in ticks and quantities in lots inside; floats at the edges."""

    def __init__(self, tick_size: float = 0.01, lot_size: float = 1.0, self_trade: int = CANCEL_NEWEST) -> None:
        self.px = Grid(tick_size)
        self.lot = Grid(lot_size)
        self.stp = self_trade
        self.levels = {BUY: {}, SELL: {}}      # side -> price -> {id: Order} in queue order
        self.prices = {BUY: [], SELL: []}      # side -> ascending list of level prices
        self.live: dict[int, Order] = {}       # resting orders and pending stops
        self.buy_stops: list[tuple[int, int, int]] = []   # (stop, seq, id), lowest stop first
        self.sell_stops: list[tuple[int, int, int]] = []  # (-stop, seq, id), highest stop first
        self.last: int | None = None
        self.seq = 0
        self.next_auto = 1
        self.fills: list[tuple] = []
        self.events: list[tuple] = []
        self._ts = 0
        self._msg = -1
        self._sym = 0

    # -- conversions ---------------------------------------------------------------------------
    def _price_in(self, p: float) -> int:
        if not math.isfinite(p):
            raise _Reject(INVALID_PRICE)
        k, ok = self.px.into(p)
        if abs(k) > MAX_UNITS:
            raise _Reject(INVALID_PRICE)
        if not ok:
            raise _Reject(OFF_TICK)
        return k

    def _qty_in(self, q: float) -> int:
        if not math.isfinite(q) or q <= 0:
            raise _Reject(INVALID_QUANTITY)
        k, ok = self.lot.into(q)
        if k > MAX_UNITS:
            raise _Reject(INVALID_QUANTITY)
        if not ok:
            raise _Reject(OFF_LOT)
        if k < 1:
            raise _Reject(INVALID_QUANTITY)
        return k

    def _p(self, ticks: int | None) -> float:
        return NAN if ticks is None else self.px.out(ticks)

    def _q(self, lots: int) -> float:
        return self.lot.out(lots)

    # -- output --------------------------------------------------------------------------------
    def _event(self, o: Order, kind: int, lots: int, reason: int = R_NONE) -> None:
        self.events.append((self._ts, o.id, self._p(o.price), self._q(lots), self._msg, self._sym,
                            kind, reason, o.side, o.type))

    def _reject(self, oid: int, price: float, qty: float, reason: int, side: int, otype: int) -> None:
        self.events.append((self._ts, oid, price, qty, self._msg, self._sym, REJECTED, reason, side, otype))

    # -- book structure ------------------------------------------------------------------------
    def best(self, side: int) -> int | None:
        ps = self.prices[side]
        if not ps:
            return None
        return ps[-1] if side == BUY else ps[0]

    def _crosses(self, side: int, price: int, opposite_best: int | None) -> bool:
        if opposite_best is None:
            return False
        return opposite_best <= price if side == BUY else opposite_best >= price

    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def _rest(self, o: Order) -> None:
        lv = self.levels[o.side]
        if o.price not in lv:
            lv[o.price] = {}
            bisect.insort(self.prices[o.side], o.price)
        lv[o.price][o.id] = o
        o.pending = False
        self.live[o.id] = o

    def _stop_key(self, o: Order) -> tuple[list, tuple[int, int, int]]:
        if o.side == BUY:
            return self.buy_stops, (o.stop, o.seq, o.id)
        return self.sell_stops, (-o.stop, o.seq, o.id)

    def _park(self, o: Order) -> None:
        lst, key = self._stop_key(o)
        bisect.insort(lst, key)
        o.pending = True
        self.live[o.id] = o

    def _remove(self, o: Order) -> None:
        del self.live[o.id]
        if o.pending:
            lst, key = self._stop_key(o)
            i = bisect.bisect_left(lst, key)
            assert lst[i] == key
            del lst[i]
        else:
            level = self.levels[o.side][o.price]
            del level[o.id]
            if not level:
                del self.levels[o.side][o.price]
                ps = self.prices[o.side]
                del ps[bisect.bisect_left(ps, o.price)]

    def _same_owner(self, a: Order, b: Order) -> bool:
        return self.stp != STP_NONE and a.owner >= 0 and b.owner >= 0 and a.owner == b.owner

    # -- matching ------------------------------------------------------------------------------
    def _opposite_levels(self, side: int) -> Iterable[tuple[int, dict]]:
        opp = -side
        ps = self.prices[opp]
        for p in (reversed(ps) if opp == BUY else ps):
            yield p, self.levels[opp][p]

    def _fillable(self, t: Order) -> int:
        """The FOK dry run: what t would trade now, changing nothing."""
        got = 0
        for p, level in self._opposite_levels(t.side):
            if t.type == LIMIT and not self._crosses(t.side, t.price, p):
                break
            for m in level.values():
                if self._same_owner(t, m):
                    if self.stp == CANCEL_OLDEST:
                        continue
                    return got
                got += m.qty
                if got >= t.qty:
                    return got
        return got

    def _match(self, t: Order) -> bool:
        """Match taker t; True when STP cancelled it (then it must not rest)."""
        opp = -t.side
        while t.qty > 0:
            bp = self.best(opp)
            if bp is None or (t.type == LIMIT and not self._crosses(t.side, t.price, bp)):
                return False
            m = next(iter(self.levels[opp][bp].values()))
            if self._same_owner(t, m):
                if self.stp == CANCEL_NEWEST:
                    self._event(t, CANCELLED, t.qty, SELF_TRADE)
                    return True
                self._event(m, CANCELLED, m.qty, SELF_TRADE)
                self._remove(m)
                if self.stp == CANCEL_BOTH:
                    self._event(t, CANCELLED, t.qty, SELF_TRADE)
                    return True
                continue
            q = min(t.qty, m.qty)
            self.fills.append((self._ts, m.id, t.id, self._p(bp), self._q(q), self._msg, self._sym, t.side))
            self.last = bp
            m.qty -= q
            if m.qty == 0:
                self._remove(m)
            t.qty -= q
        return False

    def _take(self, t: Order) -> None:
        """t (not in the book) trades as a taker; its leftover rests or is cancelled."""
        self.live[t.id] = t
        stp_cancelled = self._match(t)
        del self.live[t.id]
        if stp_cancelled or t.qty == 0:
            return
        if t.type == LIMIT and t.tif in (GTC, DAY):
            self._rest(t)
        elif t.type == MARKET:
            self._event(t, CANCELLED, t.qty, NO_LIQUIDITY)
        else:
            self._event(t, CANCELLED, t.qty, IOC_REMAINDER)

    def _trigger_loop(self) -> None:
        while self.last is not None:
            cands = []
            if self.buy_stops and self.buy_stops[0][0] <= self.last:
                cands.append(self.buy_stops[0])
            if self.sell_stops and -self.sell_stops[0][0] >= self.last:
                cands.append(self.sell_stops[0])
            if not cands:
                return
            o = self.live[min(cands, key=lambda c: c[1])[2]]
            self._remove(o)
            self._event(o, TRIGGERED, o.qty)
            o.seq = self._next_seq()
            o.type = MARKET if o.type == STOP else LIMIT
            o.stop = None
            if o.type == LIMIT and o.post_only and self._crosses(o.side, o.price, self.best(-o.side)):
                self._event(o, CANCELLED, o.qty, POST_ONLY_WOULD_CROSS)
            elif o.tif == FOK and self._fillable(o) < o.qty:
                self._event(o, CANCELLED, o.qty, FOK_UNFILLABLE)
            else:
                self._take(o)

    # -- actions -------------------------------------------------------------------------------
    def _auto_id(self) -> int:
        while self.next_auto in self.live:
            self.next_auto += 1
        oid = self.next_auto
        self.next_auto += 1
        return oid

    def _add(self, oid: int, owner: int, side: int, otype: int, tif: int, post_only: bool,
             price: float, qty: float, stop: float) -> None:
        try:
            lots = self._qty_in(qty)
        except _Reject as e:
            self._reject(oid, price, qty, e.reason, side, otype)
            return
        try:
            pt = st = None
            if otype in (LIMIT, STOP_LIMIT):
                if math.isnan(price):
                    raise _Reject(MISSING_PRICE)
                pt = self._price_in(price)
            elif not math.isnan(price):
                raise _Reject(UNEXPECTED_PRICE)
            if otype in (STOP, STOP_LIMIT):
                if math.isnan(stop):
                    raise _Reject(MISSING_STOP_PRICE)
                st = self._price_in(stop)
            elif not math.isnan(stop):
                raise _Reject(INVALID_OPTION)
            if post_only and (otype not in (LIMIT, STOP_LIMIT) or tif not in (GTC, DAY)):
                raise _Reject(INVALID_OPTION)
            if oid >= 0 and oid in self.live:
                raise _Reject(DUPLICATE_ID)
            o = Order(oid, owner, side, otype, tif, post_only, pt, st, lots, self._ts)
            if otype == LIMIT and post_only and self._crosses(side, pt, self.best(-side)):
                raise _Reject(POST_ONLY_WOULD_CROSS)
            if otype in (LIMIT, MARKET) and tif == FOK and self._fillable(o) < lots:
                raise _Reject(FOK_UNFILLABLE)
        except _Reject as e:
            self._reject(oid, price, qty, e.reason, side, otype)
            return
        if oid < 0:
            o.id = self._auto_id()
        o.seq = self._next_seq()
        self._event(o, ACCEPTED, lots)
        if otype in (STOP, STOP_LIMIT):
            self._park(o)
        else:
            self._take(o)
        self._trigger_loop()

    def _cancel(self, oid: int) -> None:
        o = self.live.get(oid)
        if o is None:
            self._reject(oid, NAN, NAN, UNKNOWN_ID, 0, 0)
            return
        self._remove(o)
        self._event(o, CANCELLED, o.qty, USER)

    def _modify(self, oid: int, qty: float, price: float, stop: float) -> None:
        o = self.live.get(oid)
        if o is None:
            self._reject(oid, price, qty, UNKNOWN_ID, 0, 0)
            return
        try:
            lots = o.qty if math.isnan(qty) else self._qty_in(qty)
        except _Reject as e:
            self._reject(oid, price, qty, e.reason, o.side, o.type)
            return
        try:
            pt, st = o.price, o.stop
            if not math.isnan(price):
                if o.type in (STOP, MARKET):
                    raise _Reject(INVALID_OPTION)
                pt = self._price_in(price)
            if not math.isnan(stop):
                if not o.pending:
                    raise _Reject(INVALID_OPTION)
                st = self._price_in(stop)
            if not o.pending and (pt != o.price or lots > o.qty) and o.post_only \
                    and self._crosses(o.side, pt, self.best(-o.side)):
                raise _Reject(POST_ONLY_WOULD_CROSS)
        except _Reject as e:
            self._reject(oid, price, qty, e.reason, o.side, o.type)
            return
        keep = lots <= o.qty and pt == o.price and st == o.stop
        if o.pending:
            self._remove(o)
            o.qty, o.price, o.stop = lots, pt, st
            if not keep:
                o.seq = self._next_seq()
            self._park(o)
            self._event(o, MODIFIED, lots)
        elif keep:
            o.qty = lots
            self._event(o, MODIFIED, lots)
        else:
            self._remove(o)
            o.qty, o.price = lots, pt
            self._event(o, MODIFIED, lots)
            o.seq = self._next_seq()
            self._take(o)
        self._trigger_loop()

    def _end_of_day(self) -> None:
        for o in sorted((o for o in self.live.values() if o.tif == DAY), key=lambda o: o.seq):
            self._remove(o)
            self._event(o, EXPIRED, o.qty, END_OF_DAY)

    def apply(self, ts: int, oid: int, owner: int, price: float, qty: float, stop: float, symbol: int,
              action: int, side: int, otype: int, tif: int, flags: int, msg: int = -1) -> None:
        """One message (the fields of ORDER_MSG_DTYPE in order); output goes to .fills / .events."""
        self._ts, self._msg, self._sym = ts, msg, symbol
        if action == A_ADD or action == A_MARKET:
            self._add(oid, owner if owner >= 0 else -1, side, MARKET if action == A_MARKET else otype, tif,
                      bool(flags & POST_ONLY_FLAG), price, qty, stop)
        elif action == A_CANCEL:
            self._cancel(oid)
        elif action == A_MODIFY:
            self._modify(oid, qty, price, stop)
        elif action == A_END_OF_DAY:
            self._end_of_day()
        else:
            raise ValueError(f"unknown action {action}")

    def process(self, msgs: np.ndarray, first_index: int = 0) -> tuple[list[tuple], list[tuple]]:
        """Run an ORDER_MSG_DTYPE array; returns (fills, events) of this call as tuple lists."""
        nf, ne = len(self.fills), len(self.events)
        cols = [msgs[name].tolist() for name in ORDER_MSG_DTYPE.names]
        for i, row in enumerate(zip(*cols, strict=True)):
            self.apply(*row, msg=first_index + i)
        return self.fills[nf:], self.events[ne:]

    # -- Python-API style calls (msg = -1) -----------------------------------------------------
    def _call(self, *row: object) -> tuple[list[tuple], list[tuple]]:
        nf, ne = len(self.fills), len(self.events)
        self.apply(*row)  # type: ignore[arg-type]
        return self.fills[nf:], self.events[ne:]

    def submit(self, side: int, quantity: float, price: float | None = None, *, order_type: int | None = None,
               tif: int = GTC, order_id: int | None = None, owner: int | None = None,
               stop_price: float | None = None, post_only: bool = False, ts: int = 0) -> tuple[list, list]:
        if order_type is None:
            if stop_price is None:
                order_type = MARKET if price is None else LIMIT
            else:
                order_type = STOP if price is None else STOP_LIMIT
        return self._call(ts, -1 if order_id is None else order_id, -1 if owner is None else owner,
                          NAN if price is None else price, quantity, NAN if stop_price is None else stop_price,
                          0, A_ADD, side, order_type, tif, POST_ONLY_FLAG if post_only else 0)

    def cancel(self, order_id: int, *, ts: int = 0) -> tuple[list, list]:
        return self._call(ts, order_id, -1, NAN, NAN, NAN, 0, A_CANCEL, 0, 0, 0, 0)

    def modify(self, order_id: int, *, quantity: float | None = None, price: float | None = None,
               stop_price: float | None = None, ts: int = 0) -> tuple[list, list]:
        return self._call(ts, order_id, -1, NAN if price is None else price, NAN if quantity is None else quantity,
                          NAN if stop_price is None else stop_price, 0, A_MODIFY, 0, 0, 0, 0)

    def end_of_day(self, ts: int = 0) -> tuple[list, list]:
        return self._call(ts, -1, -1, NAN, NAN, NAN, 0, A_END_OF_DAY, 0, 0, 0, 0)

    # -- views ---------------------------------------------------------------------------------
    def _l3(self, o: Order) -> tuple:
        return (o.id, o.owner, o.side, self._p(o.price), self._q(o.qty), o.ts, o.type, o.tif, self._p(o.stop))

    def orders(self) -> list[tuple]:
        """L3: bids best->worst FIFO, asks best->worst FIFO, then pending stops by sequence."""
        out = []
        for side in (BUY, SELL):
            ps = self.prices[side]
            for p in (reversed(ps) if side == BUY else ps):
                out.extend(self._l3(o) for o in self.levels[side][p].values())
        pend = sorted((o for o in self.live.values() if o.pending), key=lambda o: o.seq)
        out.extend(self._l3(o) for o in pend)
        return out

    @property
    def best_bid(self) -> float | None:
        b = self.best(BUY)
        return None if b is None else self.px.out(b)

    @property
    def best_ask(self) -> float | None:
        a = self.best(SELL)
        return None if a is None else self.px.out(a)

    @property
    def last_price(self) -> float | None:
        return None if self.last is None else self.px.out(self.last)

    def __len__(self) -> int:
        return len(self.live)

    def __contains__(self, oid: int) -> bool:
        return oid in self.live

    def volume_at(self, price: float) -> float:
        k, _ = self.px.into(price)
        lots = sum(o.qty for side in (BUY, SELL) for o in self.levels[side].get(k, {}).values())
        return self._q(lots)

    def check(self) -> None:
        """The reference's own invariants."""
        bb, ba = self.best(BUY), self.best(SELL)
        assert bb is None or ba is None or bb < ba
        n = 0
        for side in (BUY, SELL):
            assert self.prices[side] == sorted(self.levels[side])
            for p, level in self.levels[side].items():
                assert level
                seqs = [o.seq for o in level.values()]
                assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
                for oid, o in level.items():
                    assert o.qty > 0 and o.price == p and o.side == side and not o.pending
                    assert o.type == LIMIT and o.tif in (GTC, DAY) and self.live[oid] is o
                    n += 1
        pend = [o for o in self.live.values() if o.pending]
        assert sorted((o.stop, o.seq, o.id) for o in pend if o.side == BUY) == self.buy_stops
        assert sorted((-o.stop, o.seq, o.id) for o in pend if o.side == SELL) == self.sell_stops
        assert n + len(pend) == len(self.live)
        if self.last is not None:
            assert not (self.buy_stops and self.buy_stops[0][0] <= self.last)
            assert not (self.sell_stops and -self.sell_stops[0][0] >= self.last)


def events_array(rows: list[tuple]) -> np.ndarray:
    return np.array(rows, dtype=EVENT_DTYPE) if rows else np.zeros(0, EVENT_DTYPE)


def fills_array(rows: list[tuple]) -> np.ndarray:
    return np.array(rows, dtype=FILL_DTYPE) if rows else np.zeros(0, FILL_DTYPE)
