"""The order book against a plain Python reference (book_ref.py), message for message.

A seeded NumPy generator writes message streams (limits near and far from the touch, marketable
limits, markets, stops, stop-limits, IOC, FOK, DAY, post-only, cancels, modifies, end of day and
bad input, a few owners so self-trade prevention fires); both books run them and must give the
same fills, events and final L3 snapshot. A shorter stream runs one message at a time with the
book's invariants checked after each, and a stateful test drives the Python API of both side by
side. The reference itself is pinned by hand-written cases first.
"""

from __future__ import annotations

import math
from collections import defaultdict
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule

import neural_trader as nt

from book_ref import (
    A_ADD, A_CANCEL, A_END_OF_DAY, A_MARKET, A_MODIFY, ACCEPTED, BUY, CANCEL_BOTH, CANCEL_NEWEST,
    CANCEL_OLDEST, CANCELLED, DAY, DUPLICATE_ID, EVENT_DTYPE, EXPIRED, FILL_DTYPE, FOK, FOK_UNFILLABLE, GTC,
    INVALID_OPTION, INVALID_PRICE, INVALID_QUANTITY, IOC, IOC_REMAINDER, L3_FIELDS, LIMIT, MARKET,
    MISSING_PRICE, MISSING_STOP_PRICE, MODIFIED, NO_LIQUIDITY, OFF_LOT, OFF_TICK, ORDER_MSG_DTYPE,
    POST_ONLY_WOULD_CROSS, REJECTED, SELF_TRADE, SELL, STOP, STOP_LIMIT, STP_NONE, TRIGGERED,
    UNEXPECTED_PRICE, UNKNOWN_ID, USER, Grid, RefBook,
)

NAN = float("nan")
STP_NAMES = {STP_NONE: "none", CANCEL_NEWEST: "cancel_newest", CANCEL_OLDEST: "cancel_oldest",
             CANCEL_BOTH: "cancel_both"}
TIF_NAMES = {GTC: "gtc", DAY: "day", IOC: "ioc", FOK: "fok"}
TYPE_NAMES = {LIMIT: "limit", MARKET: "market", STOP: "stop", STOP_LIMIT: "stop_limit"}
GRIDS = [(0.01, 1.0), (0.5, 0.001), (0.25, 0.1), (0.3, 0.7), (5.0, 100.0)]


# ---------------------------------------------------------------------------------------------
# Message builders and the stream generator
def msg(action: int, oid: int = -1, *, side: int = BUY, price: float = NAN, quantity: float = NAN,
        stop_price: float = NAN, otype: int = LIMIT, tif: int = GTC, owner: int = -1, post_only: bool = False,
        ts: int = 0) -> tuple:
    return (ts, oid, owner, price, quantity, stop_price, 0, action, side, otype, tif, int(post_only))


def msgs(*rows: tuple) -> np.ndarray:
    return np.array(list(rows), dtype=ORDER_MSG_DTYPE)


KINDS = ("near", "deep", "cross", "market", "stop", "stop_limit", "ioc", "fok", "day", "post_only",
         "cancel", "cancel_unknown", "modify_down", "modify_up", "modify_price", "end_of_day", "bad")

MIXES = {
    "balanced": {"near": 30, "deep": 8, "cross": 8, "market": 3, "stop": 4, "stop_limit": 4, "ioc": 4, "fok": 4, "day": 5,
                     "post_only": 4, "cancel": 10, "cancel_unknown": 1, "modify_down": 4, "modify_up": 3, "modify_price": 4,
                     "end_of_day": 0.2, "bad": 3},
    "aggressive": {"near": 20, "deep": 3, "cross": 20, "market": 8, "stop": 6, "stop_limit": 6, "ioc": 6, "fok": 8, "day": 3,
                       "post_only": 3, "cancel": 5, "modify_down": 2, "modify_up": 2, "modify_price": 3, "end_of_day": 0.1, "bad": 1},
    "stops": {"near": 25, "deep": 3, "cross": 10, "market": 4, "stop": 15, "stop_limit": 15, "fok": 3, "cancel": 6,
                  "modify_price": 8, "modify_down": 3, "end_of_day": 0.3, "bad": 1},
    "maintenance": {"near": 25, "deep": 10, "cross": 5, "day": 10, "post_only": 8, "cancel": 15, "cancel_unknown": 3,
                        "modify_down": 10, "modify_up": 10, "modify_price": 10, "end_of_day": 0.5, "bad": 6},
    "churn": {"near": 25, "deep": 1, "cross": 10, "market": 4, "stop": 5, "stop_limit": 5, "ioc": 4, "fok": 4, "day": 8, "post_only": 5,
                  "cancel": 20, "cancel_unknown": 1, "modify_down": 5, "modify_up": 5, "modify_price": 5, "end_of_day": 0.5, "bad": 3},
    "thin": {"near": 10, "deep": 2, "cross": 6, "market": 10, "stop": 4, "stop_limit": 4, "ioc": 8, "fok": 10, "cancel": 8,
                 "modify_price": 3, "end_of_day": 1, "bad": 2},
}


def generate(seed: int, n: int, mix: dict[str, float], tick_size: float, lot_size: float, *,
             base: int = 1000, owners: int = 4, auto_ids: float = 0.05) -> np.ndarray:
    """n messages from a seed; mix gives the weight of each kind in KINDS (missing = 0)."""
    rng = np.random.default_rng(seed)
    px, lt = Grid(tick_size), Grid(lot_size)

    def p_out(k: np.ndarray) -> np.ndarray:
        k = np.asarray(k, dtype=np.int64)
        return k / px.n if px.n else k * px.step

    def q_out(k: np.ndarray) -> np.ndarray:
        k = np.asarray(k, dtype=np.int64)
        return k / lt.n if lt.n else k * lt.step

    w = np.array([float(mix.get(k, 0.0)) for k in KINDS])
    kind = rng.choice(len(KINDS), size=n, p=w / w.sum())
    K = {k: kind == i for i, k in enumerate(KINDS)}
    m = np.zeros(n, ORDER_MSG_DTYPE)
    idx = np.arange(n, dtype=np.int64)
    m["ts"] = idx * 10 + rng.integers(0, 10, n)
    side = rng.choice(np.array([BUY, SELL], dtype=np.int8), n)
    m["side"] = side
    m["owner"] = rng.integers(-1, owners, n)
    m["price"] = NAN
    m["stop_price"] = NAN
    m["quantity"] = q_out(rng.integers(1, 21, n))
    m["action"] = A_ADD
    m["type"] = LIMIT
    m["tif"] = np.where(rng.random(n) < 0.15, DAY, GTC)
    mid = base + np.cumsum(rng.choice(np.array([-1, 0, 1]), n, p=[0.3, 0.4, 0.3]))

    def away(lo: int, hi: int) -> np.ndarray:  # passive side of mid, lo..hi ticks
        return mid - side * rng.integers(lo, hi + 1, n)

    def through(lo: int, hi: int) -> np.ndarray:  # aggressive side of mid
        return mid + side * rng.integers(lo, hi + 1, n)

    def put(mask: np.ndarray, field: str, values: object) -> None:
        m[field][mask] = np.broadcast_to(values, (n,))[mask] if np.ndim(values) else values

    put(K["near"], "price", p_out(away(0, 5)))
    put(K["deep"], "price", p_out(away(6, 80)))
    put(K["cross"], "price", p_out(through(0, 6)))
    put(K["day"], "price", p_out(away(0, 4)))
    put(K["day"], "tif", DAY)
    mk = K["market"]
    via_action = rng.random(n) < 0.5
    put(mk & via_action, "action", A_MARKET)
    put(mk & via_action, "type", rng.integers(0, 4, n))
    put(mk & ~via_action, "type", MARKET)
    put(mk, "tif", rng.choice(np.array([GTC, DAY, IOC, FOK]), n, p=[0.5, 0.1, 0.2, 0.2]))
    stop_ticks = through(0, 6)
    for k, t in (("stop", STOP), ("stop_limit", STOP_LIMIT)):
        put(K[k], "type", t)
        put(K[k], "stop_price", p_out(stop_ticks))
        put(K[k], "tif", rng.choice(np.array([GTC, DAY, IOC, FOK]), n, p=[0.5, 0.2, 0.15, 0.15]))
    sl = K["stop_limit"]
    put(sl, "price", p_out(stop_ticks + side * rng.integers(-2, 4, n)))
    put(sl & (rng.random(n) < 0.2), "flags", 1)
    put(K["ioc"], "price", p_out(through(-3, 5)))
    put(K["ioc"], "tif", IOC)
    fk = K["fok"]
    fok_market = rng.random(n) < 0.3
    put(fk, "tif", FOK)
    put(fk & fok_market, "type", MARKET)
    put(fk & ~fok_market, "price", p_out(through(-1, 6)))
    put(fk, "quantity", q_out(rng.integers(1, 41, n)))
    po = K["post_only"]
    put(po, "price", p_out(away(-2, 4)))
    put(po, "flags", 1)
    put(po, "tif", rng.choice(np.array([GTC, DAY]), n))

    # ids: unique explicit ids, some auto (-1), some small (meet the auto ids), some reused
    adds = ~(K["cancel"] | K["cancel_unknown"] | K["modify_down"] | K["modify_up"] | K["modify_price"]
             | K["end_of_day"])
    ids = 100_000 + idx
    r = rng.random(n)
    ids = np.where(r < auto_ids, -1, ids)
    ids = np.where((r >= auto_ids) & (r < auto_ids + 0.02), rng.integers(0, 40, n), ids)
    add_rows = np.flatnonzero(adds)
    back = np.where(rng.random(n) < 0.6, rng.integers(1, 20, n), rng.integers(1, 300, n))
    pos = np.searchsorted(add_rows, idx) - back
    target = np.where(pos >= 0, ids[add_rows[np.clip(pos, 0, max(len(add_rows) - 1, 0))]] if len(add_rows)
                      else -1, -1)
    reuse = (r >= auto_ids + 0.02) & (r < auto_ids + 0.035)
    ids = np.where(reuse & (target >= 0), target, ids)
    m["id"] = np.where(adds, ids, target)

    put(K["cancel"], "action", A_CANCEL)
    cu = K["cancel_unknown"]
    put(cu, "action", A_CANCEL)
    put(cu, "id", np.where(rng.random(n) < 0.8, 10**12 + idx, -2 - idx))
    mods = K["modify_down"] | K["modify_up"] | K["modify_price"]
    put(mods, "action", A_MODIFY)
    put(mods, "quantity", NAN)
    put(K["modify_down"], "quantity", q_out(rng.integers(1, 6, n)))
    put(K["modify_up"], "quantity", q_out(rng.integers(10, 41, n)))
    mp = K["modify_price"]
    on_stop = rng.random(n) < 0.3
    put(mp & ~on_stop, "price", p_out(away(-3, 8)))
    put(mp & on_stop, "stop_price", p_out(through(0, 6)))
    put(mp & (rng.random(n) < 0.4), "quantity", q_out(rng.integers(1, 21, n)))
    put(K["end_of_day"], "action", A_END_OF_DAY)

    bad = np.flatnonzero(K["bad"])
    sub = rng.integers(0, 18, len(bad))
    for j, s in zip(bad.tolist(), sub.tolist(), strict=True):
        row = m[j]
        row["type"], row["tif"], row["flags"] = LIMIT, GTC, 0
        if row["action"] == A_ADD:
            row["price"] = p_out(mid[j])
        if s == 0:
            row["price"] = NAN                                  # LIMIT without price
        elif s == 1:
            row["price"] = math.inf * (1 if j % 2 else -1)      # inf price
        elif s == 2:
            row["price"] = p_out(mid[j]) + 0.37 * tick_size     # off tick
        elif s == 3:
            row["quantity"] = 0.0
        elif s == 4:
            row["quantity"] = -q_out(rng.integers(1, 5))
        elif s == 5:
            row["quantity"] = NAN
        elif s == 6:
            row["quantity"] = q_out(rng.integers(1, 5)) + 0.5 * lot_size  # off lot, above one lot
        elif s == 7:
            row["type"] = MARKET                                # market with a price
        elif s == 8:
            row["stop_price"] = row["price"]                    # limit with a stop
        elif s == 9:
            row["tif"], row["flags"] = IOC, 1                   # post-only IOC
        elif s == 10:
            row["type"], row["price"] = STOP, NAN               # stop without stop price
        elif s == 11:
            row["type"], row["stop_price"] = STOP_LIMIT, p_out(mid[j]) + 0.41 * tick_size
        elif s == 12:
            row["price"] = 1e300                                # beyond 2**53 ticks
        elif s == 13:
            row["type"], row["stop_price"] = STOP, p_out(mid[j])  # stop with a limit price
        elif s == 14:
            row["action"], row["id"], row["price"] = A_MODIFY, target[j], NAN
            row["quantity"] = -1.0 if j % 2 else 0.5 * lot_size * 3   # invalid / off-lot new quantity
        elif s == 15:
            row["action"], row["id"], row["quantity"] = A_MODIFY, target[j], NAN
            row["price"] = p_out(mid[j]) + 0.29 * tick_size          # off-tick new price
        elif s == 16:
            row["type"], row["flags"] = MARKET, 1                   # post-only market
            row["price"] = NAN
        else:
            row["action"], row["id"] = A_MODIFY, target[j]          # modify that changes nothing
            row["price"] = row["quantity"] = row["stop_price"] = NAN
    return m


# ---------------------------------------------------------------------------------------------
# Comparison helpers
def _as_rows(a: np.ndarray, names: tuple[str, ...]) -> list[tuple]:
    return [tuple(r) for r in zip(*(a[f].tolist() for f in names), strict=True)] if len(a) else []


def _eq(x: object, y: object) -> bool:
    if isinstance(x, float) or isinstance(y, float):
        x, y = float(x), float(y)  # type: ignore[arg-type]
        return x == y or (math.isnan(x) and math.isnan(y))
    return x == y


def _loose(row: tuple, names: tuple[str, ...]) -> tuple:
    """Fields the spec leaves open are blanked: price, quantity, side and type of an UNKNOWN_ID rejection."""
    d = dict(zip(names, row, strict=True))
    if d.get("kind") == REJECTED and d.get("reason") == UNKNOWN_ID:
        d["price"] = d["quantity"] = NAN
        d["side"] = d["type"] = 0
    return tuple(d.values())


def _canon(rows: list[tuple], names: tuple[str, ...]) -> list[tuple]:
    """Rows with NaN as None (so == works) and the open fields of rejections blanked."""
    k = names.index("kind") if "kind" in names else -1
    out = []
    for r in rows:
        if k >= 0 and r[k] == REJECTED:
            r = _loose(r, names)
        out.append(tuple(None if isinstance(x, float) and math.isnan(x) else x for x in r))
    return out


def _first_diff(got: list[tuple], want: list[tuple], names: tuple[str, ...]) -> str | None:
    if _canon(got, names) == _canon(want, names):
        return None
    for i in range(max(len(got), len(want))):
        g = _loose(got[i], names) if i < len(got) else None
        w = _loose(want[i], names) if i < len(want) else None
        if g is None or w is None or not all(_eq(a, b) for a, b in zip(g, w, strict=True)):
            lo = max(0, i - 3)
            ctx = "\n".join(f"  [{k}] got  {got[k] if k < len(got) else '-'}\n"
                            f"       want {want[k] if k < len(want) else '-'}" for k in range(lo, i + 1))
            return f"first difference at row {i} of {len(want)} ({', '.join(names)}):\n{ctx}"
    return None


def assert_same_stream(fills: np.ndarray, events: np.ndarray, ref_fills: list[tuple], ref_events: list[tuple],
                       messages: np.ndarray) -> None:
    fnames, enames = tuple(FILL_DTYPE.names), tuple(EVENT_DTYPE.names)
    d = _first_diff(_as_rows(events, enames), ref_events, enames)
    if d is not None:
        raise AssertionError("events differ, " + d + _msg_context(d, ref_events, events, messages))
    d = _first_diff(_as_rows(fills, fnames), ref_fills, fnames)
    if d is not None:
        raise AssertionError("fills differ, " + d)


def _msg_context(_: str, ref_events: list[tuple], events: np.ndarray, messages: np.ndarray) -> str:
    got = _as_rows(events, tuple(EVENT_DTYPE.names))
    for i in range(min(len(got), len(ref_events))):
        if not all(_eq(a, b) for a, b in zip(_loose(got[i], tuple(EVENT_DTYPE.names)),
                                             _loose(ref_events[i], tuple(EVENT_DTYPE.names)), strict=True)):
            k = int(ref_events[i][4])
            if 0 <= k < len(messages):
                return f"\nmessage {k}: {messages[k]}"
            break
    return ""


def l3_rows(a: np.ndarray) -> list[tuple]:
    return _as_rows(a, L3_FIELDS)


L3_CMP_DTYPE = np.dtype([("id", "<i8"), ("owner", "<i8"), ("side", "i1"), ("price", "<f8"), ("quantity", "<f8"),
                         ("ts", "<i8"), ("type", "u1"), ("tif", "u1"), ("stop_price", "<f8")])


def _l3_table(rows: list[tuple], n_resting: int) -> np.ndarray:
    t = np.array(rows, dtype=L3_CMP_DTYPE) if rows else np.zeros(0, L3_CMP_DTYPE)
    t["ts"] = 0
    t[n_resting:] = np.sort(t[n_resting:], order="id")
    return t


def assert_same_orders(got: list[tuple], want: list[tuple], n_resting: int) -> None:
    """Resting part in order; pending stops as a set (their order in orders() is not specified).

    ts is left out: the spec does not say which message's ts an order shows after a modify or a trigger.
    """
    g, w = _l3_table(got, n_resting), _l3_table(want, n_resting)
    if len(g) == len(w) and all(np.array_equal(g[f], w[f], equal_nan=g[f].dtype.kind == "f") for f in L3_FIELDS):
        return
    d = _first_diff(g.tolist(), w.tolist(), L3_FIELDS)
    raise AssertionError(f"orders() differ, {d}")


def n_resting(ref: RefBook) -> int:
    return sum(1 for o in ref.live.values() if not o.pending)


def new_book(tick: float, lot: float, stp: int) -> object:
    return nt.OrderBook(tick, lot, self_trade=STP_NAMES[stp])


# ---------------------------------------------------------------------------------------------
# Invariants read off a book's outputs alone (used on the reference and on nt)
class Ledger:
    """Per-order accounting in whole lots from fills and events, checked against orders() after each message.

    For every order: open = accepted - fills + modifications - cancelled - expired, equal to its
    quantity in orders() (absent when 0); in total submitted + modified = filled + resting +
    cancelled + expired; a FOK order trades all or nothing; only GTC/DAY limits rest; levels are
    ordered and FIFO by the last time each order was queued (accepted, triggered or re-queued by
    a modify that changed its price or raised its quantity); the book is never crossed.
    """

    def __init__(self, lot: Grid) -> None:
        self.lot = lot
        self.open: dict[int, int] = {}
        self.tif: dict[int, int] = {}
        self.qty: dict[int, int] = {}
        self.taken: dict[int, int] = defaultdict(int)
        self.queue_key: dict[int, tuple[int, int]] = {}
        self.prev: dict[int, tuple] = {}
        self.submitted = self.filled = self.cancelled = self.expired = self.modified = 0
        self.step = 0

    def lots(self, q: float) -> int:
        k, ok = self.lot.into(q)
        assert ok and k > 0, f"quantity {q} is not a positive number of lots"
        return k

    def note_accepts(self, events: list[tuple], m: np.void) -> None:
        for e in events:
            if e[6] == ACCEPTED and m["action"] in (A_ADD, A_MARKET):
                self.tif[e[1]] = int(m["tif"])

    def apply(self, fills: list[tuple], events: list[tuple], snapshot: list[tuple], resting: int,
              best_bid: float | None, best_ask: float | None) -> None:
        self.step += 1
        base: dict[int, int] = {}
        delta: dict[int, int] = defaultdict(int)
        for pos, e in enumerate(events):
            _, oid, price, qf, _, _, kind, _, _, _ = e
            if kind == REJECTED:
                continue
            q = self.lots(qf)
            if kind == ACCEPTED:
                assert oid not in self.open and oid not in base, f"{oid} accepted while live"
                base[oid] = q
                self.submitted += q
                self.qty[oid] = q
                self.taken[oid] = 0
                self.queue_key[oid] = (self.step, pos)
            elif kind == MODIFIED:
                cur = base.get(oid, self.open.get(oid))
                assert cur is not None, f"MODIFIED for {oid} which is not live"
                self.modified += q - cur
                self.qty[oid] = q
                prev = self.prev.get(oid)
                if prev is None or prev[0] is None or not (_eq(prev[0], price) and q <= self.lots(prev[1])):
                    self.queue_key[oid] = (self.step, pos)
                base[oid] = q
            elif kind == TRIGGERED:
                cur = base.get(oid, self.open.get(oid))
                assert cur == q, f"TRIGGERED {oid} with {q}, open {cur}"
                base[oid] = q
                self.queue_key[oid] = (self.step, pos)
            elif kind in (CANCELLED, EXPIRED):
                if kind == CANCELLED:
                    self.cancelled += q
                else:
                    self.expired += q
                delta[oid] -= q
        for f in fills:
            _, maker, taker, _, qf, _, _, _ = f
            q = self.lots(qf)
            delta[maker] -= q
            delta[taker] -= q
            self.taken[taker] += q
            self.filled += 2 * q
        for oid in set(base) | set(delta):
            before = base.get(oid, self.open.get(oid))
            assert before is not None, f"fills/events for {oid} which is not live"
            after = before + delta[oid]
            assert after >= 0, f"order {oid} over-filled or over-cancelled: {after} lots"
            if after == 0:
                self.open.pop(oid, None)
                if self.tif.get(oid) == FOK:
                    assert self.taken[oid] in (0, self.qty[oid]), \
                        f"FOK {oid} partly filled: {self.taken[oid]} of {self.qty[oid]}"
            else:
                self.open[oid] = after
        snap = {r[0]: r for r in snapshot}
        assert len(snap) == len(snapshot), "duplicate ids in orders()"
        assert set(snap) == set(self.open), f"live ids differ: {sorted(set(snap) ^ set(self.open))}"
        out = self.lot.out
        for oid, q in self.open.items():
            assert snap[oid][4] == out(q), f"order {oid}: orders() says {snap[oid][4]}, ledger {q} lots"
        total_open = sum(self.open.values())
        # filled counts both sides of each fill
        assert self.submitted + self.modified == self.filled + total_open + self.cancelled + self.expired
        bids = [r for r in snapshot[:resting] if r[2] == BUY]
        asks = [r for r in snapshot[:resting] if r[2] == SELL]
        assert [r[0] for r in snapshot[:resting]] == [r[0] for r in bids + asks], "bids must come before asks"
        assert all(r[6] == LIMIT and r[7] in (GTC, DAY) for r in snapshot[:resting]), "IOC/FOK/market rests"
        assert all(r[6] in (STOP, STOP_LIMIT) for r in snapshot[resting:]), "pending part holds a non-stop"
        for rows, sign in ((bids, -1), (asks, 1)):
            for a, b in pairwise(rows):
                assert sign * (b[3] - a[3]) >= 0, "levels out of order"
                if a[3] == b[3]:
                    assert self.queue_key[a[0]] < self.queue_key[b[0]], f"FIFO broken between {a[0]} and {b[0]}"
        if bids:
            assert best_bid == bids[0][3]
        else:
            assert best_bid is None
        if asks:
            assert best_ask == asks[0][3]
        else:
            assert best_ask is None
        if bids and asks:
            assert bids[0][3] < asks[0][3], "crossed book"
        self.prev = {r[0]: (r[3] if i < resting else None, r[4]) for i, r in enumerate(snapshot)}


# ---------------------------------------------------------------------------------------------
# Self-tests of the reference
def _events(ref: RefBook) -> list[tuple]:
    return [(e[1], e[6], e[7]) for e in ref.events]


def test_ref_simple_cross_price_time_priority() -> None:
    r = RefBook(0.01, 1.0)
    r.submit(SELL, 2, 100.00, order_id=1)
    r.submit(SELL, 3, 100.01, order_id=2)
    r.submit(SELL, 1, 100.00, order_id=3)
    f, e = r.submit(BUY, 5, 100.01, order_id=4, ts=7)
    assert [(x[1], x[2], x[3], x[4], x[7]) for x in f] == [(1, 4, 100.0, 2.0, BUY), (3, 4, 100.0, 1.0, BUY),
                                                         (2, 4, 100.01, 2.0, BUY)]
    assert all(x[0] == 7 and x[5] == -1 for x in f)
    assert [(x[1], x[6]) for x in e] == [(4, ACCEPTED)]
    assert _first_diff(r.orders(), [(2, -1, SELL, 100.01, 1.0, 0, LIMIT, GTC, NAN)], L3_FIELDS) is None
    assert r.last_price == 100.01 and r.best_bid is None and r.best_ask == 100.01
    r.check()


def test_ref_modify_keeps_or_loses_priority() -> None:
    r = RefBook(0.01, 1.0)
    for i in (1, 2, 3):
        r.submit(BUY, 5, 10.00, order_id=i)
    r.modify(1, quantity=4)                 # down: keeps its place
    r.modify(2, quantity=6)                 # up: to the back
    assert [o[0] for o in r.orders()] == [1, 3, 2]
    r.modify(3, price=10.00, quantity=5)    # same price and qty: keeps
    assert [o[0] for o in r.orders()] == [1, 3, 2]
    r.modify(1, price=10.01)
    r.modify(1, price=10.00)                # back at the same price: behind 2
    assert [o[0] for o in r.orders()] == [3, 2, 1]
    f, _ = r.submit(SELL, 12, 10.00, order_id=9)
    assert [(x[1], x[4]) for x in f] == [(3, 5.0), (2, 6.0), (1, 1.0)]
    kinds = [e for e in _events(r) if e[1] == MODIFIED]
    assert len(kinds) == 5
    _, e = r.modify(1, stop_price=9.0)
    assert (e[0][6], e[0][7]) == (REJECTED, INVALID_OPTION)
    r.check()


def test_ref_modify_reprices_through_the_book() -> None:
    r = RefBook(0.01, 1.0)
    r.submit(SELL, 3, 10.05, order_id=1)
    r.submit(BUY, 5, 10.00, order_id=2)
    f, e = r.modify(2, price=10.05, ts=3)
    assert [(x[0], x[1], x[2], x[3]) for x in e] == [(3, 2, 10.05, 5.0)] and e[0][6] == MODIFIED
    assert [(x[1], x[2], x[3], x[4]) for x in f] == [(1, 2, 10.05, 3.0)]
    assert r.orders()[0][:5] == (2, -1, BUY, 10.05, 2.0)
    r.submit(SELL, 1, 10.10, order_id=3, post_only=True)
    _, e = r.modify(3, price=10.05)
    assert e[0][6:8] == (REJECTED, POST_ONLY_WOULD_CROSS)
    assert r.orders()[1][:5] == (3, -1, SELL, 10.10, 1.0)
    r.check()


def test_ref_ioc_market_fok() -> None:
    r = RefBook(0.01, 1.0)
    r.submit(SELL, 2, 5.00, order_id=1)
    r.submit(SELL, 2, 5.01, order_id=2)
    f, e = r.submit(BUY, 3, 5.00, tif=IOC, order_id=3)
    assert [x[4] for x in f] == [2.0] and e[-1][6:8] == (CANCELLED, IOC_REMAINDER) and e[-1][3] == 1.0
    f, e = r.submit(BUY, 5, None, order_id=4)
    assert [x[4] for x in f] == [2.0] and e[-1][6:8] == (CANCELLED, NO_LIQUIDITY) and e[-1][3] == 3.0
    assert e[0][2] != e[0][2] and e[0][9] == MARKET  # NaN price
    r.submit(SELL, 2, 5.00, order_id=5)
    r.submit(SELL, 2, 5.02, order_id=6)
    before = r.orders()
    f, e = r.submit(BUY, 5, 5.02, tif=FOK, order_id=7)
    assert f == [] and [x[6:8] for x in e] == [(REJECTED, FOK_UNFILLABLE)] and r.orders() == before
    f, e = r.submit(BUY, 3, 5.01, tif=FOK, order_id=7)
    assert f == [] and e[0][7] == FOK_UNFILLABLE
    f, e = r.submit(BUY, 4, None, tif=FOK, order_id=7)
    assert sum(x[4] for x in f) == 4.0 and [x[6] for x in e] == [ACCEPTED]
    assert len(r) == 0
    r.check()


def test_ref_post_only() -> None:
    r = RefBook(0.5, 1.0)
    r.submit(SELL, 1, 10.0, order_id=1)
    _, e = r.submit(BUY, 1, 10.0, post_only=True, order_id=2)
    assert e[0][6:8] == (REJECTED, POST_ONLY_WOULD_CROSS)
    _, e = r.submit(BUY, 1, 9.5, post_only=True, order_id=2)
    assert e[0][6] == ACCEPTED and 2 in r
    for kw in ({"tif": IOC}, {"tif": FOK}, {"order_type": MARKET, "price": None}, {"stop_price": 9.0, "price": None}):
        args = {"price": 9.0, "order_id": 3, "post_only": True}
        args.update(kw)
        _, e = r.submit(BUY, 1, **args)
        assert e[0][6:8] == (REJECTED, INVALID_OPTION), kw
    r.check()


@pytest.mark.parametrize("stp", [STP_NONE, CANCEL_NEWEST, CANCEL_OLDEST, CANCEL_BOTH])
def test_ref_self_trade_prevention(stp: int) -> None:
    r = RefBook(0.01, 1.0, stp)
    r.submit(SELL, 1, 1.00, order_id=1, owner=7)
    r.submit(SELL, 1, 1.00, order_id=2, owner=8)
    r.submit(SELL, 1, 1.01, order_id=3)
    f, e = r.submit(BUY, 3, 1.01, order_id=4, owner=7)
    got = ([(x[1], x[4]) for x in f], [(x[1], x[6], x[7], x[3]) for x in e], [o[0] for o in r.orders()])
    want = {
        STP_NONE: ([(1, 1.0), (2, 1.0), (3, 1.0)], [(4, ACCEPTED, 0, 3.0)], []),
        CANCEL_NEWEST: ([], [(4, ACCEPTED, 0, 3.0), (4, CANCELLED, SELF_TRADE, 3.0)], [1, 2, 3]),
        CANCEL_OLDEST: ([(2, 1.0), (3, 1.0)], [(4, ACCEPTED, 0, 3.0), (1, CANCELLED, SELF_TRADE, 1.0)], [4]),
        CANCEL_BOTH: ([], [(4, ACCEPTED, 0, 3.0), (1, CANCELLED, SELF_TRADE, 1.0), (4, CANCELLED, SELF_TRADE, 3.0)],
                      [2, 3]),
    }[stp]
    assert got == want
    # FOK dry run: NEWEST/BOTH stop at the same-owner maker, OLDEST skips it, NONE counts it
    r = RefBook(0.01, 1.0, stp)
    r.submit(SELL, 1, 1.00, order_id=1, owner=7)
    r.submit(SELL, 2, 1.00, order_id=2, owner=8)
    _, e = r.submit(BUY, 2, 1.00, order_id=4, owner=7, tif=FOK)
    assert (e[0][6] == ACCEPTED) == (stp in (STP_NONE, CANCEL_OLDEST))
    _, e = r.submit(BUY, 1, 1.00, order_id=5, owner=-1, tif=FOK)
    r.check()


def test_ref_stops_trigger_order() -> None:
    r = RefBook(0.01, 1.0)
    _, e = r.submit(BUY, 1, None, stop_price=10.00, order_id=1)
    assert e[0][6] == ACCEPTED and e[0][9] == STOP and 1 in r    # no trade yet: pending
    r.submit(BUY, 1, None, stop_price=9.00, order_id=2)          # lower stop, later sequence
    r.submit(SELL, 1, 10.50, stop_price=11.00, order_id=3)       # sell stop-limit, fires at <= 11
    for i in range(10, 16):
        r.submit(SELL, 1, 10.00 + (i - 10) * 0.01, order_id=i)
    r.submit(BUY, 1, 10.00, order_id=20)                          # trade at 10.00
    trig = [e[1] for e in r.events if e[6] == TRIGGERED]
    # candidates: buy = lowest firing buy stop (2 at 9.00), sell = 3; lower sequence first: 2 (seq 2) vs 3 (seq 3)
    assert trig[:3] == [2, 1, 3]
    r.check()
    # a stop fires at once if the last trade already satisfies it
    _, e = r.submit(SELL, 1, None, stop_price=20.0, order_id=30)
    assert [x[6] for x in e][:2] == [ACCEPTED, TRIGGERED]
    r.check()


def test_ref_stop_limit_rests_and_modify_stop_sequence() -> None:
    r = RefBook(0.01, 1.0)
    r.submit(SELL, 1, 5.00, order_id=1)
    r.submit(BUY, 1, 5.00, order_id=2)                            # last = 5.00
    r.submit(BUY, 2, 5.10, stop_price=6.00, order_id=3)
    r.submit(BUY, 2, 5.20, stop_price=6.00, order_id=4)
    r.modify(3, quantity=1)                                       # keeps sequence: still first
    r.modify(4, stop_price=5.00, quantity=2)                      # fires now at 5.00
    assert [e[1] for e in r.events if e[6] == TRIGGERED] == [4]
    assert r.orders()[0][:5] == (4, -1, BUY, 5.20, 2.0) and r.orders()[0][6] == LIMIT
    r.modify(3, stop_price=5.00)
    assert [o[0] for o in r.orders()] == [4, 3]                 # bids best first: 5.20, then 5.10
    r.check()


def test_ref_trigger_post_only_and_fok() -> None:
    r = RefBook(1.0, 1.0)
    r.submit(SELL, 1, 10, order_id=1)
    r.submit(SELL, 1, 12, order_id=2)
    r.submit(BUY, 1, 12, stop_price=11, post_only=True, order_id=3)
    r.submit(BUY, 5, 12, stop_price=11, tif=FOK, order_id=4)
    r.submit(BUY, 1, 10, order_id=5)                              # last 10: nothing fires
    assert not [e for e in r.events if e[6] == TRIGGERED]
    r.submit(SELL, 1, 11, order_id=6)
    r.submit(BUY, 1, 11, order_id=7)                              # last 11: 3 then 4 fire
    tail = [(e[1], e[6], e[7]) for e in r.events[-4:]]
    assert tail == [(3, TRIGGERED, 0), (3, CANCELLED, POST_ONLY_WOULD_CROSS), (4, TRIGGERED, 0),
                    (4, CANCELLED, FOK_UNFILLABLE)]
    r.check()


def test_ref_end_of_day_and_auto_ids() -> None:
    r = RefBook(0.01, 1.0)
    r.submit(BUY, 1, 1.00, order_id=2, tif=DAY)
    _, e = r.submit(BUY, 1, 1.00)                                 # auto: 1
    assert e[0][1] == 1
    _, e = r.submit(BUY, 1, 1.00)                                 # auto: 2 is live -> 3
    assert e[0][1] == 3
    r.submit(SELL, 1, None, stop_price=0.5, tif=DAY, order_id=10)
    r.submit(BUY, 1, 0.99, order_id=4, tif=DAY)
    _, e = r.end_of_day(ts=5)
    assert [(x[1], x[6], x[3]) for x in e] == [(2, EXPIRED, 1.0), (10, EXPIRED, 1.0), (4, EXPIRED, 1.0)]
    assert all(x[0] == 5 for x in e)
    _, e = r.submit(BUY, 1, 1.00)                                 # counter goes on: 4 (no longer live)
    assert e[0][1] == 4
    _, e = r.cancel(4)
    assert e[0][6:8] == (CANCELLED, USER)
    _, e = r.cancel(4)
    assert e[0][6:8] == (REJECTED, UNKNOWN_ID)
    r.check()


def test_ref_rejections_leave_the_book_unchanged() -> None:
    r = RefBook(0.01, 1.0)
    r.submit(SELL, 2, 1.00, order_id=1)
    r.submit(BUY, 1, 0.99, order_id=2, post_only=True)
    before = (r.orders(), r.last, r.seq, r.next_auto)
    cases = [
        ({"quantity": 0}, INVALID_QUANTITY), ({"quantity": -1}, INVALID_QUANTITY),
        ({"quantity": NAN}, INVALID_QUANTITY), ({"quantity": math.inf}, INVALID_QUANTITY),
        ({"quantity": 1.5}, OFF_LOT), ({"price": math.inf}, INVALID_PRICE), ({"price": 1e300}, INVALID_PRICE),
        ({"price": 1.005}, OFF_TICK), ({"order_type": LIMIT, "price": None}, MISSING_PRICE),
        ({"order_type": MARKET}, UNEXPECTED_PRICE), ({"order_type": STOP}, UNEXPECTED_PRICE),
        ({"order_type": STOP_LIMIT}, MISSING_STOP_PRICE), ({"stop_price": 1.0, "order_type": LIMIT}, INVALID_OPTION),
        ({"stop_price": 1.0051, "order_type": STOP_LIMIT}, OFF_TICK), ({"post_only": True, "tif": IOC}, INVALID_OPTION),
        ({"order_id": 1}, DUPLICATE_ID), ({"post_only": True}, POST_ONLY_WOULD_CROSS),
        ({"tif": FOK, "quantity": 3}, FOK_UNFILLABLE),
    ]
    for kw, reason in cases:
        args = {"quantity": 1.0, "price": 1.00, "order_id": None}
        args.update(kw)
        q = args.pop("quantity")
        f, e = r.submit(BUY, q, **args)
        assert f == [] and [(x[6], x[7]) for x in e] == [(REJECTED, reason)], (kw, e)
        assert (r.orders(), r.last, r.seq, r.next_auto) == before
    for kw, reason in [({"quantity": 0}, INVALID_QUANTITY), ({"price": 0.995}, OFF_TICK),
                       ({"stop_price": 1.0}, INVALID_OPTION), ({"price": 1.00}, POST_ONLY_WOULD_CROSS)]:
        _, e = r.modify(2, **kw)
        assert [(x[6], x[7]) for x in e] == [(REJECTED, reason)], kw
        assert (r.orders(), r.last, r.seq, r.next_auto) == before
    _, e = r.modify(99, quantity=1)
    assert e[0][6:8] == (REJECTED, UNKNOWN_ID)


def test_ref_units() -> None:
    r = RefBook(0.5, 0.001)
    assert r.px.n == 2 and r.lot.n == 1000
    _, e = r.submit(SELL, 0.007, -1.5, order_id=1)               # negative prices are fine
    assert e[0][2:4] == (-1.5, 0.007)
    assert r.orders()[0][3:5] == (-1.5, 0.007)
    _, e = r.submit(BUY, 0.0071, -1.5, order_id=2)
    assert e[0][7] == OFF_LOT
    _, e = r.submit(BUY, 0.001, -1.25, order_id=2)
    assert e[0][7] == OFF_TICK
    r = RefBook(0.3, 0.7)
    assert r.px.n == 0 and r.lot.n == 0
    _, e = r.submit(SELL, 0.7 * 3, 0.3 * 7, order_id=1)
    assert e[0][2:4] == (7 * 0.3, 3 * 0.7)
    r = RefBook(0.01, 1.0)
    _, e = r.submit(BUY, 1, 0.0, order_id=1)
    assert e[0][6] == ACCEPTED and r.best_bid == 0.0


def _run_checked(book: object, ref: RefBook, m: np.ndarray, lot: float) -> None:
    """Message by message: the same output as the reference (when book is given) and the ledger's invariants."""
    led = Ledger(Grid(lot))
    fnames, enames = tuple(FILL_DTYPE.names), tuple(EVENT_DTYPE.names)
    for i in range(len(m)):
        one = m[i:i + 1]
        rf, re = ref.process(one)
        if book is None:
            f, e, snap, bb, ba = rf, re, ref.orders(), ref.best_bid, ref.best_ask
            ref.check()
        else:
            fa, ea = book.process(one)
            assert_same_stream(fa, ea, rf, re, one)
            f, e, snap, bb, ba = _as_rows(fa, fnames), _as_rows(ea, enames), l3_rows(book.orders()), \
                book.best_bid, book.best_ask
            assert_same_orders(snap, ref.orders(), n_resting(ref))
            assert len(book) == len(ref)
            book.validate()
        led.note_accepts(e, m[i])
        led.apply(f, e, snap, n_resting(ref), bb, ba)


@pytest.mark.parametrize("mix", sorted(MIXES))
def test_ref_invariants_on_random_streams(mix: str) -> None:
    k = sorted(MIXES).index(mix)
    for stp in (STP_NONE, CANCEL_NEWEST, CANCEL_OLDEST, CANCEL_BOTH):
        tick, lot = GRIDS[(k + stp) % len(GRIDS)]
        m = generate(k * 4 + stp, 1000, MIXES[mix], tick, lot, base=40 if (k + stp) % 2 else 1000)
        ref = RefBook(tick, lot, stp)
        _run_checked(None, ref, m, lot)
        kinds = {e[6] for e in ref.events}
        assert {ACCEPTED, REJECTED, CANCELLED} <= kinds, (mix, kinds)
        assert ref.fills


def test_ref_handles_a_long_stream() -> None:
    m = generate(1, 100_000, MIXES["balanced"], 0.01, 1.0)
    r = RefBook(0.01, 1.0)
    f, e = r.process(m)
    assert len(e) >= len(m) and len(f) > 10_000
    r.check()


# ---------------------------------------------------------------------------------------------
# nt against the reference
def test_dtypes_match_the_spec() -> None:
    assert nt.ORDER_MSG_DTYPE == ORDER_MSG_DTYPE
    assert nt.FILL_DTYPE == FILL_DTYPE
    assert nt.EVENT_DTYPE == EVENT_DTYPE
    assert (ORDER_MSG_DTYPE.itemsize, FILL_DTYPE.itemsize, EVENT_DTYPE.itemsize) == (64, 56, 48)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(seed=st.integers(0, 2**32 - 1), mix=st.sampled_from(sorted(MIXES)), grid=st.sampled_from(GRIDS),
       stp=st.sampled_from([STP_NONE, CANCEL_NEWEST, CANCEL_OLDEST, CANCEL_BOTH]),
       base=st.sampled_from([1000, 1000, 30, 10**15]))
def test_book_matches_reference_on_long_streams(seed: int, mix: str, grid: tuple[float, float], stp: int,
                                                base: int) -> None:
    tick, lot = grid
    m = generate(seed, 100_000, MIXES[mix], tick, lot, base=base)
    book = new_book(tick, lot, stp)
    fills, events = book.process(m)
    ref = RefBook(tick, lot, stp)
    rf, re = ref.process(m)
    assert_same_stream(fills, events, rf, re, m)
    assert_same_orders(l3_rows(book.orders()), ref.orders(), n_resting(ref))
    assert book.last_price == ref.last_price
    assert book.best_bid == ref.best_bid and book.best_ask == ref.best_ask
    assert len(book) == len(ref)
    book.validate()


@pytest.mark.parametrize(("stp", "mix"), [(STP_NONE, "aggressive"), (CANCEL_NEWEST, "stops"),
                                         (CANCEL_OLDEST, "thin"), (CANCEL_BOTH, "churn")])
def test_book_invariants_message_by_message(stp: int, mix: str) -> None:
    tick, lot = GRIDS[stp % len(GRIDS)]
    m = generate(1000 + stp, 5000, MIXES[mix], tick, lot, base=40 if stp % 2 else 1000)
    _run_checked(new_book(tick, lot, stp), RefBook(tick, lot, stp), m, lot)


def _add(oid: int, side: int, qty: float, price: float = NAN, **kw: object) -> tuple:
    return msg(A_ADD, oid, side=side, quantity=qty, price=price, **kw)  # type: ignore[arg-type]


HAND_CASES: dict[str, list[tuple]] = {
    "price_time_priority": [_add(1, SELL, 2, 100.00), _add(2, SELL, 3, 100.01), _add(3, SELL, 1, 100.00),
                            _add(4, BUY, 5, 100.01, ts=7)],
    "modify_priority": [_add(1, BUY, 5, 10.0), _add(2, BUY, 5, 10.0), _add(3, BUY, 5, 10.0),
                        msg(A_MODIFY, 1, quantity=4), msg(A_MODIFY, 2, quantity=6),
                        msg(A_MODIFY, 3, price=10.0, quantity=5), msg(A_MODIFY, 1, price=10.01),
                        msg(A_MODIFY, 1, price=10.0), msg(A_MODIFY, 1), _add(9, SELL, 12, 10.0),
                        msg(A_MODIFY, 1, stop_price=9.0)],
    "modify_through": [_add(1, SELL, 3, 10.05), _add(2, BUY, 5, 10.0), msg(A_MODIFY, 2, price=10.05, ts=3),
                       _add(3, SELL, 1, 10.10, post_only=True), msg(A_MODIFY, 3, price=10.05)],
    "ioc_market_fok": [_add(1, SELL, 2, 5.0), _add(2, SELL, 2, 5.01), _add(3, BUY, 3, 5.0, tif=IOC),
                       _add(4, BUY, 5, otype=MARKET), _add(5, SELL, 2, 5.0), _add(6, SELL, 2, 5.02),
                       _add(7, BUY, 5, 5.02, tif=FOK), _add(7, BUY, 3, 5.01, tif=FOK),
                       msg(A_MARKET, 7, quantity=4, tif=FOK, otype=STOP_LIMIT)],
    "post_only": [_add(1, SELL, 1, 10.0), _add(2, BUY, 1, 10.0, post_only=True),
                  _add(2, BUY, 1, 9.99, post_only=True), _add(3, BUY, 1, 9.0, post_only=True, tif=IOC),
                  _add(3, BUY, 1, otype=MARKET, post_only=True), _add(3, BUY, 1, otype=STOP, stop_price=9.0,
                                                                       post_only=True)],
    "self_trade": [_add(1, SELL, 1, 1.0, owner=7), _add(2, SELL, 1, 1.0, owner=8), _add(3, SELL, 1, 1.01),
                   _add(4, BUY, 3, 1.01, owner=7), _add(5, SELL, 1, 1.0, owner=7), _add(6, BUY, 2, 1.0, owner=7,
                                                                                      tif=FOK)],
    "stops": [_add(1, BUY, 1, otype=STOP, stop_price=10.0), _add(2, BUY, 1, otype=STOP, stop_price=9.0),
              _add(3, SELL, 1, 10.5, otype=STOP_LIMIT, stop_price=11.0)]
    + [_add(i, SELL, 1, 10.0 + (i - 10) * 0.01) for i in range(10, 16)]
    + [_add(20, BUY, 1, 10.0), _add(30, SELL, 1, otype=STOP, stop_price=20.0)],
    "stop_modify": [_add(1, SELL, 1, 5.0), _add(2, BUY, 1, 5.0), _add(3, BUY, 2, 5.1, otype=STOP_LIMIT, stop_price=6.0),
                    _add(4, BUY, 2, 5.2, otype=STOP_LIMIT, stop_price=6.0), msg(A_MODIFY, 3, quantity=1),
                    msg(A_MODIFY, 4, stop_price=5.0, quantity=2), msg(A_MODIFY, 3, stop_price=5.0),
                    _add(5, SELL, 1, otype=STOP, stop_price=1.0), msg(A_MODIFY, 5, price=1.0)],
    "trigger_post_only_fok": [_add(1, SELL, 1, 10.0), _add(2, SELL, 1, 12.0),
                              _add(3, BUY, 1, 12.0, otype=STOP_LIMIT, stop_price=11.0, post_only=True),
                              _add(4, BUY, 5, 12.0, otype=STOP_LIMIT, stop_price=11.0, tif=FOK),
                              _add(5, BUY, 1, 10.0), _add(6, SELL, 1, 11.0), _add(7, BUY, 1, 11.0)],
    "end_of_day_auto_ids": [_add(2, BUY, 1, 1.0, tif=DAY), _add(-1, BUY, 1, 1.0), _add(-1, BUY, 1, 1.0),
                            _add(10, SELL, 1, otype=STOP, stop_price=0.5, tif=DAY), _add(4, BUY, 1, 0.99, tif=DAY),
                            msg(A_END_OF_DAY, ts=5), _add(-1, BUY, 1, 1.0), msg(A_CANCEL, 4), msg(A_CANCEL, 4)],
    "rejections": [_add(1, SELL, 2, 1.0), _add(2, BUY, 1, 0.99, post_only=True), _add(3, BUY, NAN, 1.0),
                   _add(3, BUY, math.inf, 1.0), _add(3, BUY, 1.5, 1.0), _add(3, BUY, 1, 1e300),
                   _add(3, BUY, 1, 1.005), _add(3, BUY, 1), _add(3, BUY, 1, 1.0, otype=MARKET),
                   _add(3, BUY, 1, 1.0, otype=STOP), _add(3, BUY, 1, 1.0, otype=STOP_LIMIT),
                   _add(3, BUY, 1, 1.0, stop_price=1.0), _add(3, BUY, 1, 1.0, otype=STOP_LIMIT, stop_price=1.0051),
                   _add(1, BUY, 1, 1.0), _add(3, BUY, 1, 1.0, post_only=True), _add(3, BUY, 3, 1.0, tif=FOK),
                   msg(A_MODIFY, 2, quantity=0.5), msg(A_MODIFY, 2, price=0.995),
                   msg(A_MODIFY, 2, stop_price=1.0), msg(A_MODIFY, 2, price=1.0), msg(A_MODIFY, 99, quantity=1)],
    "zero_and_negative_prices": [_add(1, SELL, 1, 0.0), _add(2, SELL, 1, -0.5), _add(3, BUY, 3, 0.0),
                                 _add(4, BUY, 1, otype=STOP, stop_price=-0.5)],
    # spec: a rejection leaves the book as it was, so a rejected auto-id order does not use up an id
    "auto_id_not_consumed_by_rejection": [_add(-1, BUY, 1, 1.0, tif=FOK), _add(-1, BUY, 1, 1.0),
                                          _add(7, SELL, 1, 1.5), _add(-1, BUY, 1, 1.5, post_only=True),
                                          _add(-1, BUY, 1, 0.5)],
    # spec: REJECTED quantity = requested qty, or NaN if invalid
    "rejected_invalid_quantity_is_nan": [_add(5, BUY, -1.0, 1.0), _add(6, BUY, 0.0, 1.0), _add(7, BUY, 1, 1.0),
                                         msg(A_MODIFY, 7, quantity=-2.0)],
    # spec: REJECTED price = the given price
    "rejected_infinite_price_is_given": [_add(5, BUY, 1, math.inf), _add(6, BUY, 1, -math.inf)],
}


@pytest.mark.parametrize("case", sorted(HAND_CASES))
@pytest.mark.parametrize("stp", [STP_NONE, CANCEL_NEWEST, CANCEL_OLDEST, CANCEL_BOTH])
def test_book_matches_reference_on_hand_cases(case: str, stp: int) -> None:
    m = msgs(*HAND_CASES[case])
    book, ref = new_book(0.01, 1.0, stp), RefBook(0.01, 1.0, stp)
    fills, events = book.process(m)
    rf, re = ref.process(m)
    assert_same_stream(fills, events, rf, re, m)
    assert_same_orders(l3_rows(book.orders()), ref.orders(), n_resting(ref))
    assert book.last_price == ref.last_price
    book.validate()


GRID_CASES = [
    (0.01, 1.0, 100.07, 3.0), (0.01, 1.0, -0.01, 1.0), (0.01, 1.0, 0.0, 1.0), (0.01, 1.0, 1.005, 1.0),
    (0.01, 1.0, 1.0, 0.4), (0.01, 1.0, 1.0, 1 + 1e-12), (0.01, 1.0, 1e300, 1.0), (0.01, 1.0, 1.0, 1e300),
    (0.01, 1.0, 5002674.595, 1.0), (0.01, 1.0, 20004713.255, 1.0), (0.01, 1.0, 10000000000000.484, 1.0),
    (1.0, 1.0, 4503599627370497.0, 1.0), (1.0, 1.0, -4503599627370497.0, 1.0), (1.0, 1.0, 9007199254740991.0, 1.0),
    (1.0, 1.0, 9007199254740994.0, 1.0), (0.01, 1.0, 1.0, 4503599627370497.0), (0.5, 0.001, -1.5, 0.007),
    (0.3, 0.7, 2.1, 2.0999999999999996), (0.3, 0.7, 2.2, 2.1), (1e-8, 1e-6, 10000000.000000075, 1.6e-05),
]


@pytest.mark.parametrize(("tick", "lot", "price", "qty"), GRID_CASES)
def test_book_grid_conversion_matches_spec(tick: float, lot: float, price: float, qty: float) -> None:
    """k = round(x / step), accepted iff |x - k*step| <= 1e-9 |x| and |k| <= 2**53; out k / N or k * step."""
    m = msgs(_add(1, BUY, qty, price), _add(2, SELL, qty, otype=STOP, stop_price=price))
    book, ref = new_book(tick, lot, CANCEL_NEWEST), RefBook(tick, lot, CANCEL_NEWEST)
    fills, events = book.process(m)
    rf, re = ref.process(m)
    assert_same_stream(fills, events, rf, re, m)
    assert_same_orders(l3_rows(book.orders()), ref.orders(), n_resting(ref))


@pytest.mark.parametrize("how", ["pickle", "bytes", "copy"])
def test_book_continues_the_same_after_a_round_trip(how: str) -> None:
    """A copy taken mid-stream (orders, stops, last price, sequence, auto ids) goes on exactly like the original."""
    import pickle

    tick, lot, stp = 0.25, 0.1, CANCEL_OLDEST
    m = generate(77, 20_000, MIXES["stops"], tick, lot, base=1000)
    book = new_book(tick, lot, stp)
    book.process(m[:10_000])
    if how == "pickle":
        other = pickle.loads(pickle.dumps(book))
    elif how == "bytes":
        other = type(book).from_bytes(book.to_bytes())
    else:
        other = book.copy()
    before = l3_rows(book.orders())
    assert _first_diff(l3_rows(other.orders()), before, L3_FIELDS) is None
    f2, e2 = other.process(m[10_000:])
    assert _first_diff(l3_rows(book.orders()), before, L3_FIELDS) is None
    f1, e1 = book.process(m[10_000:])
    assert _first_diff(_as_rows(e2, tuple(EVENT_DTYPE.names)), _as_rows(e1, tuple(EVENT_DTYPE.names)),
                       tuple(EVENT_DTYPE.names)) is None
    assert _first_diff(_as_rows(f2, tuple(FILL_DTYPE.names)), _as_rows(f1, tuple(FILL_DTYPE.names)),
                       tuple(FILL_DTYPE.names)) is None
    assert _first_diff(l3_rows(other.orders()), l3_rows(book.orders()), L3_FIELDS) is None
    assert len(e1) > 10_000 and len(f1) > 1_000


# ---------------------------------------------------------------------------------------------
# Stateful: the Python API of both books side by side
def _api_event(e: object) -> tuple:
    """An nt.Event as an EVENT_DTYPE row (msg -1, symbol 0; the type is not on the object)."""
    return (int(e.ts), int(e.order_id), float(e.price), float(e.quantity), -1, 0, int(e.kind),
            0 if e.reason is None else int(e.reason), 0 if e.side is None else int(e.side), 0)


def _api_fill(f: object) -> tuple:
    return (int(f.ts), int(f.maker_id), int(f.taker_id), float(f.price), float(f.quantity), -1, 0, int(f.side))


def _same_api(report: object, ref_out: tuple[list, list]) -> None:
    rf, re = ref_out
    enames, fnames = tuple(EVENT_DTYPE.names), tuple(FILL_DTYPE.names)
    d = _first_diff([_api_event(e) for e in report.events], [r[:9] + (0,) for r in re], enames)
    assert d is None, "report events differ, " + d
    d = _first_diff([_api_fill(f) for f in report.fills], rf, fnames)
    assert d is None, "report fills differ, " + d
    if re:
        assert report.accepted == (re[0][6] != REJECTED)
        if re[0][6] == REJECTED:
            assert report.status == "rejected" and int(report.reason) == re[0][7]
        if re[0][6] in (ACCEPTED, REJECTED) and re[0][1] >= 0:
            assert report.order_id == re[0][1]
    filled = sum(f[4] for f in rf if report.order_id in (f[1], f[2]))
    assert abs(report.filled_quantity - filled) <= 1e-9 * max(1.0, filled)


class BookMachine(RuleBasedStateMachine):
    ids = Bundle("ids")

    def __init__(self) -> None:
        super().__init__()
        self.book: object = None
        self.ref: RefBook | None = None
        self.ts = 0
        self.px = Grid(0.01)
        self.lt = Grid(1.0)

    @initialize(grid=st.sampled_from(GRIDS[:3]), stp=st.sampled_from([STP_NONE, CANCEL_NEWEST, CANCEL_OLDEST,
                                                                       CANCEL_BOTH]))
    def setup(self, grid: tuple[float, float], stp: int) -> None:
        tick, lot = grid
        self.book = new_book(tick, lot, stp)
        self.ref = RefBook(tick, lot, stp)
        self.px, self.lt = Grid(tick), Grid(lot)

    def _tick(self) -> int:
        self.ts += 1
        return self.ts

    @rule(target=ids, side=st.sampled_from([BUY, SELL]), ticks=st.integers(95, 105), lots=st.integers(1, 8),
          otype=st.sampled_from([LIMIT, LIMIT, LIMIT, MARKET, STOP, STOP_LIMIT]),
          tif=st.sampled_from([GTC, GTC, DAY, IOC, FOK]), owner=st.sampled_from([None, 0, 1]),
          post_only=st.booleans(), oid=st.one_of(st.none(), st.integers(1, 12)), stop=st.integers(95, 105))
    def submit(self, side: int, ticks: int, lots: int, otype: int, tif: int, owner: int | None, post_only: bool,
               oid: int | None, stop: int) -> int:
        ts = self._tick()
        price = self.px.out(ticks) if otype in (LIMIT, STOP_LIMIT) else None
        stop_price = self.px.out(stop) if otype in (STOP, STOP_LIMIT) else None
        q = self.lt.out(lots)
        rep = self.book.submit("buy" if side == BUY else "sell", q, price, order_type=TYPE_NAMES[otype],
                               tif=TIF_NAMES[tif], order_id=oid, owner=owner, stop_price=stop_price,
                               post_only=post_only, ts=ts)
        out = self.ref.submit(side, q, price, order_type=otype, tif=tif, order_id=oid, owner=owner,
                              stop_price=stop_price, post_only=post_only, ts=ts)
        _same_api(rep, out)
        return max(out[1][0][1], 0)

    @rule(oid=st.one_of(ids, st.integers(0, 15)))
    def cancel(self, oid: int) -> None:
        ts = self._tick()
        _same_api(self.book.cancel(oid, ts=ts), self.ref.cancel(oid, ts=ts))

    @rule(oid=st.one_of(ids, st.integers(0, 15)), lots=st.one_of(st.none(), st.integers(1, 10)),
          ticks=st.one_of(st.none(), st.integers(95, 105)), stop=st.one_of(st.none(), st.integers(95, 105)))
    def modify(self, oid: int, lots: int | None, ticks: int | None, stop: int | None) -> None:
        ts = self._tick()
        q = None if lots is None else self.lt.out(lots)
        p = None if ticks is None else self.px.out(ticks)
        s = None if stop is None else self.px.out(stop)
        _same_api(self.book.modify(oid, quantity=q, price=p, stop_price=s, ts=ts),
                  self.ref.modify(oid, quantity=q, price=p, stop_price=s, ts=ts))

    @rule()
    def end_of_day(self) -> None:
        ts = self._tick()
        _same_api(self.book.end_of_day(ts=ts), self.ref.end_of_day(ts=ts))

    @rule(bad=st.sampled_from(["nan_qty", "zero_qty", "off_tick", "inf_price", "off_lot"]))
    def bad_submit(self, bad: str) -> None:
        ts = self._tick()
        q, p = self.lt.out(1), self.px.out(100)
        if bad == "nan_qty":
            q = NAN
        elif bad == "zero_qty":
            q = 0.0
        elif bad == "off_lot":
            q = self.lt.out(2) + 0.5 * self.lt.step
        elif bad == "off_tick":
            p = p + 0.4 * self.px.step
        else:
            p = math.inf
        _same_api(self.book.submit("buy", q, p, ts=ts), self.ref.submit(BUY, q, p, ts=ts))

    @invariant()
    def same_state(self) -> None:
        if self.ref is None:
            return
        assert_same_orders(l3_rows(self.book.orders()), self.ref.orders(), n_resting(self.ref))
        assert self.book.best_bid == self.ref.best_bid
        assert self.book.best_ask == self.ref.best_ask
        assert self.book.last_price == self.ref.last_price
        assert len(self.book) == len(self.ref)
        for oid in list(self.ref.live)[:5]:
            assert oid in self.book
        self.book.validate()
        self.ref.check()


BookMachine.TestCase.settings = settings(max_examples=100, stateful_step_count=40, deadline=None)
TestBookMachine = BookMachine.TestCase
