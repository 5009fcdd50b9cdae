"""Order-book message streams and the workloads shared by the three book benchmark front ends.

``benchmarks/compare_book.py`` (side-by-side table), ``benchmarks/pytest/test_book_bench.py``
(pytest-benchmark) and ``benchmarks/asv/bench_book.py`` (airspeed velocity) all time the
workloads defined here; the peers (a pure-Python ``SortedBook`` on sortedcontainers, and
nautilus_trader's L3 book) live in ``book_peers.py``.

Streams (seeded, read-only, cached per process and on disk; ``ORDER_MSG_DTYPE`` records):

``mix`` (the realistic mix)
    A book prefilled (untimed) with ``live`` passive orders, then ``n_mix`` messages: ~60% limit
    adds 1 + a geometric number of ticks (mean 2.5) from a mid that wanders (one-tick steps on 4%
    of the messages, kept within MID_BAND ticks of the book's own mid), never through the opposite
    best; ~30% cancels of an id chosen uniformly among the live ones (so many are deep in their
    queue); ~10% marketable orders (half market orders, half limit orders priced 2 ticks through
    the opposite best). The marketable orders' size follows the book so that it stays near
    ``live`` orders (they eat ~3 resting orders on average).
``peer`` (the issue's peer workload)
    From an empty book (all timed): ``n_peer_adds`` passive limit adds, each followed, once
    ``peer_live`` orders are live, by a cancel of a live id chosen uniformly: 1,000,000 adds,
    990,000 cancels, 10,000 live at the end (default scale). Adds never cross.
``peer+10% marketable``
    The same, except that each add is a marketable order with probability 0.1 (half market, half
    limit through the touch; 1-10 lots), so fewer cancels are needed to hold ``peer_live``.

The generator runs ``book_peers.SortedBook`` to know which ids are live; its fills and final
book are the reference every engine is checked against: nt's fills must equal it exactly
(maker, taker, price, quantity, in order) and nt's ``orders()`` must equal its final book
(id, side, price, open quantity, in priority order). So the pure-Python book and nt are two
independent implementations checking each other.

A workload has the three steps of the other suites: ``setup()`` (untimed: a fresh book, the
prefill), ``run()`` (timed), ``finish()`` (untimed check; AssertionError when wrong). Per-call
workloads (``unit`` "call" / "cancel") also time chunks of calls with ``time.perf_counter_ns``
and keep the per-call time of each chunk in ``samples_ns``; their figure is the median of those
(nothing subtracted: the loop and the call's report are part of it).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.util
import json
import os
import sys
import tempfile
import time
from typing import Any

import numpy as np

import bench_workload
import book_peers as bp

SEED = 20_240_917
TICK = 0.01  #: tick size of every book here (nt: tick_size=0.01, lot_size=1.0)
LOT = 1.0
MID0 = 10_000  #: starting mid in ticks (100.00)
TS0 = 1_700_000_000_000_000_000
ADD, CANCEL, MARKET = bp.ADD, bp.CANCEL, bp.MARKET
LIMIT_T, MARKET_T = 0, 1  #: nt.OrderType codes


# --------------------------------------------------------------------------------------------------
# scales


@dataclasses.dataclass(frozen=True)
class Scale:
    name: str
    n_mix: int  #: timed messages of the realistic mix
    live: int  #: live orders the mix holds (and its untimed prefill)
    n_peer_adds: int  #: adds of the issue's peer workload (the issue: 1,000,000)
    peer_live: int  #: live orders it holds (the issue: 10,000)
    n_submit: int  #: submit() calls per per-call loop
    chunk: int  #: calls per timed chunk (perf_counter_ns around each)
    level_orders: int  #: orders on each deep level (cancel deep vs shallow)
    n_levels: int  #: deep levels (one chunk each)
    n_cancel: int  #: cancels per level per round
    reps: int  #: timed repetitions (rounds) per case
    warmup: int  #: untimed rounds before them


SCALES: dict[str, Scale] = {
    # CI: every case runs and is checked in well under a second each; timings are meaningless
    "smoke": Scale("smoke", 2_000, 200, 2_000, 100, 1_000, 100, 200, 2, 50, 1, 0),
    # the sizes
    "default": Scale("default", 1_000_000, 10_000, 1_000_000, 10_000, 200_000, 1_000, 5_000, 8, 1_000, 5, 1),
    "full": Scale("full", 4_000_000, 10_000, 1_000_000, 10_000, 1_000_000, 1_000, 10_000, 8, 2_000, 9, 1),
}


def get_scale(name: str | None = None) -> Scale:
    """The scale called ``name``, else ``$NT_BENCH_SCALE``, else "default"."""
    name = name or os.environ.get("NT_BENCH_SCALE") or "default"
    try:
        return SCALES[name]
    except KeyError:
        raise ValueError(f"unknown benchmark scale {name!r}; choose one of {', '.join(SCALES)}") from None


# --------------------------------------------------------------------------------------------------
# what is installed


Unavailable = bench_workload.Unavailable


def have(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


@functools.lru_cache(maxsize=1)
def nt_status() -> str | None:
    """None when ``nt.OrderBook`` exists, else why not (a missing attribute, not a broken build:
    an import error of neural_trader itself propagates)."""
    import neural_trader as nt

    if not hasattr(nt, "OrderBook"):
        return "nt.OrderBook does not exist (yet)"
    return None


def nt_book_class() -> Any:
    why = nt_status()
    if why:
        raise Unavailable(why)
    import neural_trader as nt

    return nt.OrderBook


def nautilus() -> None:
    why = bp.nautilus_status()
    if why:
        raise Unavailable(why)


# --------------------------------------------------------------------------------------------------
# the message record

#: nt.ORDER_MSG_DTYPE as the spec states it (64 bytes, aligned): used when nt does not export it
LOCAL_ORDER_MSG_DTYPE = np.dtype(
    [("ts", "<i8"), ("id", "<i8"), ("owner", "<i8"), ("price", "<f8"), ("quantity", "<f8"),
     ("stop_price", "<f8"), ("symbol", "<i4"), ("action", "u1"), ("side", "i1"), ("type", "u1"),
     ("tif", "u1"), ("flags", "u1")], align=True)
assert LOCAL_ORDER_MSG_DTYPE.itemsize == 64


@functools.lru_cache(maxsize=1)
def msg_dtype() -> np.dtype:
    """``nt.ORDER_MSG_DTYPE`` when nt exports it (asserted equal to the spec's), else the spec's.

    A neural_trader that does not import (a build in progress) gives the spec's too: the streams
    can still be generated for the peers; the nt rows then fail on their own import."""
    try:
        import neural_trader as nt
    except ImportError:
        return LOCAL_ORDER_MSG_DTYPE
    dt = getattr(nt, "ORDER_MSG_DTYPE", None)
    if dt is None:
        return LOCAL_ORDER_MSG_DTYPE
    out: np.dtype = np.dtype(dt)
    assert out == LOCAL_ORDER_MSG_DTYPE, (
        f"nt.ORDER_MSG_DTYPE {out} differs from the spec's {LOCAL_ORDER_MSG_DTYPE}")
    return out


def make_messages(ids: list[int], actions: list[int], sides: list[int], types: list[int],
                  prices: list[float], qtys: list[float], ts0: int = TS0) -> np.ndarray:
    n = len(ids)
    a = np.zeros(n, dtype=msg_dtype())
    a["ts"] = ts0 + np.arange(n, dtype=np.int64) * 1_000
    a["id"] = ids
    a["owner"] = -1
    a["price"] = prices
    a["quantity"] = qtys
    a["stop_price"] = np.nan
    a["action"] = actions
    a["side"] = sides
    a["type"] = types
    a.flags.writeable = False
    return a


def rows(msgs: np.ndarray) -> list[tuple[int, int, int, float, float]]:
    """``(action, id, side, price, quantity)`` per message: what the Python peers loop over."""
    return list(zip(msgs["action"].tolist(), msgs["id"].tolist(), msgs["side"].tolist(),
                    msgs["price"].tolist(), msgs["quantity"].tolist()))


# --------------------------------------------------------------------------------------------------
# generation


FILL_REF_DTYPE = np.dtype([("maker_id", "<i8"), ("taker_id", "<i8"), ("price", "<f8"), ("quantity", "<f8")])
#: an L3 feed record for nautilus: kind D_ADD / D_UPDATE (new open size) / D_DELETE
DELTA_DTYPE = np.dtype([("kind", "u1"), ("side", "i1"), ("price", "<f8"), ("size", "<f8"), ("id", "<i8")])


@dataclasses.dataclass(eq=False)  # hashed by identity (the caches below key on it)
class Stream:
    name: str
    prefill: np.ndarray  #: processed untimed before ``messages`` (may be empty)
    messages: np.ndarray  #: the timed messages
    fills: np.ndarray  #: the reference fills of ``messages``: maker_id, taker_id, price, quantity
    l3: np.ndarray  #: the reference book after all: id, side, price, quantity in priority order
    prefill_deltas: np.ndarray  #: the L3 feed of ``prefill`` (DELTA_DTYPE), for nautilus
    deltas: np.ndarray  #: the L3 feed of ``messages``
    stats: dict[str, Any]

    def describe(self) -> str:
        s = self.stats
        return (f"{self.name}: {len(self.messages):,} messages = {s['adds']:,} passive adds + "
                f"{s['cancels']:,} cancels + {s['marketable']:,} marketable ({s['market']:,} market, "
                f"{s['marketable'] - s['market']:,} limit through the touch); {len(self.fills):,} fills; "
                f"live orders {s['live_start']:,} at the start, {s['live_min']:,}-{s['live_max']:,} during, "
                f"{len(self.l3):,} at the end on {s['levels_end']} levels; best bid moved over "
                f"{s['bid_range'][0] / 100:.2f}-{s['bid_range'][1] / 100:.2f}; "
                f"{len(self.deltas):,} L3 deltas")


class _Gen:
    """Runs a SortedBook, keeps the live ids in a list (O(1) uniform pick and removal), and
    writes the messages it sends, the fills and the L3 deltas they cause."""

    def __init__(self) -> None:
        self.book = bp.SortedBook()
        self.live: list[int] = []
        self.pos: dict[int, int] = {}
        self.next_id = 1
        self.msgs: list[tuple[int, int, int, int, float, float]] = []  # id, action, side, type, price, qty
        self.fills: list[bp.Fill] = []
        self.deltas: list[tuple[int, int, float, float, int]] = []
        self.stats: dict[str, Any] = {"adds": 0, "cancels": 0, "marketable": 0, "market": 0, "prefill": 0}

    def _drop_live(self, oid: int) -> None:
        i = self.pos.pop(oid)
        last = self.live.pop()
        if last != oid:
            self.live[i] = last
            self.pos[last] = i

    def _after(self, oid: int, side: int, fills: list[bp.Fill]) -> None:
        orders = self.book.orders
        deltas = self.deltas
        for maker_id, _, price, _ in fills:
            m = orders.get(maker_id)
            if m is None:
                self._drop_live(maker_id)
                deltas.append((bp.D_DELETE, -side, price, 0.0, maker_id))
            else:
                deltas.append((bp.D_UPDATE, -side, price, m.qty, maker_id))
        if fills:
            self.fills += fills
        o = orders.get(oid)
        if o is not None:
            self.pos[oid] = len(self.live)
            self.live.append(oid)
            deltas.append((bp.D_ADD, side, o.price, o.qty, oid))

    def limit(self, side: int, ticks: int, qty: float, kind: str = "adds") -> None:
        """A limit order at ``ticks``; ``kind``: "adds" (priced passively), "marketable"
        (priced through the touch) or "prefill" (the untimed prefill)."""
        oid = self.next_id
        self.next_id += 1
        price = ticks / 100  # the double nearest ticks * 0.01, as nt gives prices back
        self.msgs.append((oid, ADD, side, LIMIT_T, price, qty))
        self.stats[kind] += 1
        self._after(oid, side, self.book.add(side, price, qty, oid))

    def market(self, side: int, qty: float) -> None:
        oid = self.next_id
        self.next_id += 1
        self.msgs.append((oid, MARKET, side, MARKET_T, float("nan"), qty))
        self.stats["marketable"] += 1
        self.stats["market"] += 1
        self._after(oid, side, self.book.market(side, qty, oid))

    def marketable(self, side: int, qty: float, as_market: bool, mid: int) -> None:
        """Half market orders, half limit orders 2 ticks through the opposite best."""
        if as_market:
            self.market(side, qty)
            return
        best = self.best_ticks(-side)
        ref = mid if best is None else best
        self.limit(side, ref + 2 if side == bp.BUY else ref - 2, qty, kind="marketable")

    def passive(self, side: int, ticks: int, qty: float) -> None:
        """A limit order at ``ticks``, or just behind the opposite best if that would cross."""
        if side == bp.BUY:
            if self.book.asks:
                ticks = min(ticks, self.best_ticks(bp.SELL) - 1)  # type: ignore[operator]
        elif self.book.bids:
            ticks = max(ticks, self.best_ticks(bp.BUY) + 1)  # type: ignore[operator]
        self.limit(side, ticks, qty)

    def cancel_random(self, u: float) -> None:
        oid = self.live[int(u * len(self.live))]
        o = self.book.orders[oid]
        self.msgs.append((oid, CANCEL, o.side, LIMIT_T, float("nan"), float("nan")))
        self.deltas.append((bp.D_DELETE, o.side, o.price, o.qty, oid))
        self.book.cancel(oid)
        self._drop_live(oid)
        self.stats["cancels"] += 1

    def best_ticks(self, side: int) -> int | None:
        p = self.book.best_bid if side == bp.BUY else self.book.best_ask
        return None if p is None else round(p * 100)

    def mid_ticks(self) -> int | None:
        b, a = self.best_ticks(bp.BUY), self.best_ticks(bp.SELL)
        return None if b is None or a is None else (a + b) // 2

    def take(self, ts0: int) -> tuple[np.ndarray, np.ndarray]:
        """The messages and deltas written since the last take."""
        if self.msgs:
            ids, actions, sides, types, prices, qtys = (list(c) for c in zip(*self.msgs))
        else:
            ids, actions, sides, types, prices, qtys = [], [], [], [], [], []
        msgs = make_messages(ids, actions, sides, types, prices, qtys, ts0)
        deltas = np.array(self.deltas, dtype=DELTA_DTYPE)
        deltas.flags.writeable = False
        self.msgs, self.deltas = [], []
        return msgs, deltas


def _finish(g: _Gen, name: str, prefill: tuple[np.ndarray, np.ndarray], timed: tuple[np.ndarray, np.ndarray],
            live_start: int, live_range: tuple[int, int], bid_range: tuple[int, int]) -> Stream:
    fills = np.array(g.fills, dtype=FILL_REF_DTYPE)
    l3 = bp.l3_array(g.book.l3())
    for a in (fills, l3):
        a.flags.writeable = False
    st = dict(g.stats, live_start=live_start, live_min=live_range[0], live_max=live_range[1],
              levels_end=len(g.book.bids) + len(g.book.asks), bid_range=bid_range)
    return Stream(name, prefill[0], timed[0], fills, l3, prefill[1], timed[1], st)


def _prefill(g: _Gen, rng: np.random.Generator, n: int, mid: int) -> None:
    """``n`` passive adds spread around ``mid`` (bids below, asks above; 1-10 lots)."""
    sides = np.where(rng.random(n) < 0.5, bp.BUY, bp.SELL).tolist()
    depth = rng.geometric(0.15, n).tolist()  # 1, 2, ... ticks from the mid, mean ~7
    qtys = rng.integers(1, 11, n).astype(float).tolist()
    for side, d, q in zip(sides, depth, qtys):
        g.limit(side, mid - d if side == bp.BUY else mid + d, q, kind="prefill")


MID_BAND = 3  #: the wandering mid stays within this many ticks of the book's own mid


@functools.lru_cache(maxsize=3)
def mix_stream(n: int, live: int, seed: int = SEED) -> Stream:
    """The realistic mix (see the module docstring): ``live`` prefilled orders, ``n`` messages."""
    return _disk_cached(f"mix-{n}-{live}-{seed}", lambda: _mix_stream(n, live, seed))


def _mix_stream(n: int, live: int, seed: int) -> Stream:
    rng = np.random.default_rng(seed)
    g = _Gen()
    _prefill(g, rng, live, MID0)
    prefill = g.take(TS0 - 1_000_000_000)
    g.fills.clear()
    live_start = len(g.live)
    kind = rng.random(n).tolist()
    step = rng.choice([-1, 0, 1], size=n, p=[0.02, 0.96, 0.02]).tolist()  # mid steps
    buy = (rng.random(n) < 0.5).tolist()
    gap = (rng.geometric(0.4, n) - 1).tolist()  # 0, 1, 2, ... ticks, mean 1.5
    qty = rng.integers(1, 11, n).astype(float).tolist()
    u = rng.random(n).tolist()
    as_market = (rng.random(n) < 0.5).tolist()
    mid = MID0
    lo = hi = live_start
    blo = bhi = g.best_ticks(bp.BUY) or MID0
    for i in range(n):
        # the mid wanders: a one-tick step on 4% of the messages
        mid += step[i]
        if not i & 15:  # every 16 messages: back within MID_BAND of the book's mid
            bm = g.mid_ticks()
            if bm is not None:
                mid = min(max(mid, bm - MID_BAND), bm + MID_BAND)
        side = bp.BUY if buy[i] else bp.SELL
        k = kind[i]
        if k < 0.6 or (k < 0.9 and not g.live):
            g.passive(side, mid - 1 - gap[i] if side == bp.BUY else mid + 1 + gap[i], qty[i])
        elif k < 0.9:
            g.cancel_random(u[i])
        else:
            # size: ~3 resting orders' worth (5.5 lots each), more when the book is above target
            orders = min(30.0, max(0.3, 3.0 + (len(g.live) - live) / (0.02 * live)))
            g.marketable(side, float(max(1, round(u[i] * 2 * 5.5 * orders))), as_market[i], mid)
        nl = len(g.live)
        if nl < lo:
            lo = nl
        elif nl > hi:
            hi = nl
        if not i & 255:
            b = g.best_ticks(bp.BUY)
            if b is not None:
                blo, bhi = min(blo, b), max(bhi, b)
    return _finish(g, "mix", prefill, g.take(TS0), live_start, (lo, hi), (blo, bhi))


@functools.lru_cache(maxsize=3)
def peer_stream(n_adds: int, live: int, p_marketable: float = 0.0, seed: int = SEED + 1) -> Stream:
    """The issue's peer workload (see the module docstring), all timed from an empty book."""
    return _disk_cached(f"peer-{n_adds}-{live}-{p_marketable}-{seed}",
                        lambda: _peer_stream(n_adds, live, p_marketable, seed))


def _peer_stream(n_adds: int, live: int, p_marketable: float, seed: int) -> Stream:
    rng = np.random.default_rng(seed)
    g = _Gen()
    step = rng.choice([-1, 0, 1], size=n_adds, p=[0.02, 0.96, 0.02]).tolist()
    buy = (rng.random(n_adds) < 0.5).tolist()
    gap = (rng.geometric(0.25, n_adds) - 1).tolist()  # 0, 1, 2, ... ticks, mean 3
    qty = rng.integers(1, 11, n_adds).astype(float).tolist()
    u = rng.random(n_adds).tolist()
    mkt = (rng.random(n_adds) < p_marketable).tolist()
    as_market = (rng.random(n_adds) < 0.5).tolist()
    mid = MID0
    lo, hi = live, 0
    blo = bhi = MID0
    for i in range(n_adds):
        mid += step[i]
        if not i & 15:  # every 16 messages: back within MID_BAND of the book's mid
            bm = g.mid_ticks()
            if bm is not None:
                mid = min(max(mid, bm - MID_BAND), bm + MID_BAND)
        side = bp.BUY if buy[i] else bp.SELL
        if mkt[i]:
            g.marketable(side, qty[i], as_market[i], mid)
        else:
            g.passive(side, mid - 1 - gap[i] if side == bp.BUY else mid + 1 + gap[i], qty[i])
        if len(g.live) > live:
            g.cancel_random(u[i])
        if i >= live:
            nl = len(g.live)
            lo, hi = min(lo, nl), max(hi, nl)
        if not i & 255:
            b = g.best_ticks(bp.BUY)
            if b is not None:
                blo, bhi = min(blo, b), max(bhi, b)
    name = "peer" if not p_marketable else f"peer+{p_marketable:.0%} marketable"
    timed = g.take(TS0)
    return _finish(g, name, g.take(TS0 - 1_000_000_000), timed, 0, (lo, hi), (blo, bhi))  # empty prefill


# -- a disk cache of the generated streams (generation takes ~1 minute at the default scale) --------

_ARRAYS = ("prefill", "messages", "fills", "l3", "prefill_deltas", "deltas")


@functools.lru_cache(maxsize=1)
def _generator_digest() -> str:
    """Changes whenever the generator (this file, the peer book it runs) or NumPy changes."""
    h = hashlib.sha256(np.__version__.encode())
    for mod in (__file__, bp.__file__):
        with open(mod, "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:16]


def _cache_dir() -> str | None:
    """``$NT_BENCH_CACHE`` (``0``: no disk cache), else a folder in the temporary directory."""
    d = os.environ.get("NT_BENCH_CACHE")
    if d == "0":
        return None
    return d or os.path.join(tempfile.gettempdir(), "nt_bench_book")


def _disk_cached(key: str, make: Any) -> Stream:
    """The stream ``make()`` gives, kept on disk under ``key`` and the generator's digest."""
    d = _cache_dir()
    if d is None:
        st: Stream = make()
        return st
    path = os.path.join(d, f"{key}-{_generator_digest()}.npz")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in _ARRAYS}
            meta = json.loads(str(z["meta"]))
        for k in ("prefill", "messages"):  # stored as raw bytes: the dtype is nt's own
            arrays[k] = arrays[k].view(msg_dtype())
        for a in arrays.values():
            a.flags.writeable = False
        meta["stats"]["bid_range"] = tuple(meta["stats"]["bid_range"])
        return Stream(meta["name"], stats=meta["stats"], **arrays)
    except (OSError, KeyError, ValueError):
        pass
    st = make()
    os.makedirs(d, exist_ok=True)
    arrays = {k: getattr(st, k) for k in _ARRAYS}
    for k in ("prefill", "messages"):
        arrays[k] = np.ascontiguousarray(arrays[k]).view(np.uint8)
    tmp = f"{path}.{os.getpid()}.tmp.npz"
    np.savez(tmp, meta=np.array(json.dumps({"name": st.name, "stats": st.stats})), **arrays)
    os.replace(tmp, path)
    return st


STREAM_CASES = ("mix", "peer", "peer+10% marketable")


def stream(scale: Scale, case: str) -> Stream:
    """The replay stream ``case`` (one of STREAM_CASES) at ``scale``; generated once per process."""
    if case == "mix":
        return mix_stream(scale.n_mix, scale.live)
    if case == "peer":
        return peer_stream(scale.n_peer_adds, scale.peer_live)
    if case == "peer+10% marketable":
        return peer_stream(scale.n_peer_adds, scale.peer_live, 0.1)
    raise ValueError(case)


@functools.lru_cache(maxsize=3)
def stream_rows(st: Stream) -> tuple[list[Any], list[Any]]:
    """(prefill rows, message rows) for the Python peers."""
    return rows(st.prefill), rows(st.messages)


# --------------------------------------------------------------------------------------------------
# checks


def check_fills(got: np.ndarray, ref: np.ndarray, what: str) -> None:
    assert len(got) == len(ref), f"{what}: {len(got):,} fills, the reference has {len(ref):,}"
    for f in ("maker_id", "taker_id", "price", "quantity"):
        g, r = np.asarray(got[f]), ref[f]
        if not np.array_equal(g, r):
            i = int(np.flatnonzero(g != r)[0])
            raise AssertionError(f"{what}: fill {i} {f} = {g[i]!r}, reference {r[i]!r}")


def check_l3(got: np.ndarray, ref: np.ndarray, what: str) -> None:
    assert len(got) == len(ref), f"{what}: {len(got):,} resting orders, the reference has {len(ref):,}"
    for f in ("id", "side", "price", "quantity"):
        g, r = np.asarray(got[f]), ref[f]
        if not np.array_equal(g, r):
            i = int(np.flatnonzero(g != r)[0])
            raise AssertionError(f"{what}: resting order {i} {f} = {g[i]!r}, reference {r[i]!r} "
                                 f"(order id {int(got['id'][i])} vs {int(ref['id'][i])})")


def new_nt_book() -> Any:
    return nt_book_class()(tick_size=TICK, lot_size=LOT)


def nt_l3(book: Any) -> np.ndarray:
    """nt's resting orders (pending stops left out; the streams have none)."""
    o: np.ndarray = book.orders()
    return o[~o["pending"]] if "pending" in (o.dtype.names or ()) else o


# --------------------------------------------------------------------------------------------------
# workload base


class Workload(bench_workload.Workload):
    """One timed case (the protocol is bench_workload.Workload's); per-call cases also keep the
    per-unit time of each timed chunk in ``samples_ns``."""

    unit = "message"
    kind = ""  #: the engine's short name ("nt", "sorted", "nautilus", ...)
    # state of a round (set by _setup, dropped by _release)
    book: Any
    rows: Any
    ops: Any
    calls: Any
    work: Any
    last: Any

    def __init__(self, n: int) -> None:
        super().__init__(n)
        self.samples_ns: list[float] = []  #: per-unit ns of each timed chunk (per-call workloads)

    def setup(self) -> None:
        self.finish()
        self.samples_ns = []
        super().setup()

    def _release(self) -> None:
        super()._release()
        self.book = None


# --------------------------------------------------------------------------------------------------
# (1) batch replay


class Replay(Workload):
    """Replay one stream into a fresh book (prefill untimed).

    * "nt": ``fills, events = book.process(messages)`` (one call)
    * "nt-chunks" (context): ``process`` called on consecutive slices of CHUNK messages (the
      outputs of each call are smaller; the same messages, fills and final book)
    * "nt-loop" (context): the peer's loop with nt: ``book.submit(side, qty, price,
      order_id=id)`` / ``book.cancel(id)`` per message, fills of the reports collected
    * "sorted": ``book_peers.replay``: one Python call per message (add / market / cancel), fills
      collected
    * "nautilus" / "nautilus+create": nautilus' L3 book applies the deltas of the stream (add /
      update / delete; matching precomputed), with ``BookOrder`` objects built before the timer,
      or built inside it (``Price``, ``Quantity``, ``BookOrder`` per delta)

    Checked: nt's and the sorted book's fills equal the reference; every book's resting orders
    equal the reference book (nautilus: in its level order); nt's events hold no rejection and one
    acceptance per add/market message."""

    section = "replay"
    CHUNK = 65_536
    LABELS = {
        "nt": "nt.OrderBook.process(messages)",
        "nt-chunks": "nt.OrderBook.process(chunk) per 65,536 messages (context)",
        "nt-loop": "nt.OrderBook.submit/cancel, one call per message (context)",
        "sorted": "SortedBook (sortedcontainers), one call per message",
        "nautilus": "nautilus L3 book add/update/delete, pre-built BookOrder",
        "nautilus+create": "nautilus L3 book, BookOrder built per delta (timed)",
    }

    def __init__(self, scale: Scale, case: str, engine: str, given: Stream | None = None) -> None:
        super().__init__(0)
        self.scale, self.case, self.kind = scale, case, engine
        self.ours = engine == "nt"
        self.engine = self.LABELS[engine]
        self._given = given  # a stream generated elsewhere (asv's setup_cache), else ``stream()``

    @property
    def stream(self) -> Stream:
        if self._given is not None:
            return self._given
        return stream(self.scale, self.case)  # generated on first use, then cached

    @property
    def n(self) -> int:
        """Messages timed (the peer workloads' count is known once generated)."""
        return len(self.stream.messages)

    @n.setter
    def n(self, value: int) -> None:
        pass

    def _resolve(self) -> None:
        if self.kind.startswith("nt"):
            nt_book_class()
        elif self.kind.startswith("nautilus"):
            nautilus()

    def _setup(self) -> None:
        st = self.stream
        self.out = None
        if self.kind in ("nt", "nt-chunks"):
            self.book = new_nt_book()
            if len(st.prefill):
                self.book.process(st.prefill)
            self.msgs = st.messages
        elif self.kind == "nt-loop":
            self.book = new_nt_book()
            if len(st.prefill):
                self.book.process(st.prefill)
            self.rows = _nt_rows(st)
        elif self.kind == "sorted":
            pre, self.rows = stream_rows(st)
            self.book = bp.SortedBook()
            bp.replay(self.book, pre)
        else:
            self.book = bp.NautilusL3()
            self.book.apply_prebuilt(_prebuilt(st, "prefill"))
            self.ops = _prebuilt(st, "messages") if self.kind == "nautilus" else _nautilus_rows(st)

    def run(self) -> None:
        if self.kind == "nt":
            self.out = self.book.process(self.msgs)
        elif self.kind == "nt-chunks":
            process, m, c = self.book.process, self.msgs, self.CHUNK
            self.out = [process(m[i:i + c]) for i in range(0, len(m), c)]
        elif self.kind == "nt-loop":
            self.out = _nt_loop(self.book, self.rows)
        elif self.kind == "sorted":
            self.out = bp.replay(self.book, self.rows)
        elif self.kind == "nautilus":
            self.book.apply_prebuilt(self.ops)
        else:
            self.book.apply_creating(self.ops)

    def _check(self) -> None:
        st = self.stream
        what = f"{self.case}: {self.engine}"
        if self.kind == "nt-chunks":
            self.out = (np.concatenate([f for f, _ in self.out]), np.concatenate([e for _, e in self.out]))
        if self.kind in ("nt", "nt-chunks"):
            fills, events = self.out
            check_fills(fills, st.fills, what)
            kinds = np.asarray(events["kind"])
            assert not (kinds == 1).any(), f"{what}: {int((kinds == 1).sum())} REJECTED events"
            entries = int((np.asarray(st.messages["action"]) != CANCEL).sum())
            accepted = int((kinds == 0).sum())
            assert accepted == entries, f"{what}: {accepted} ACCEPTED, expected {entries}"
            check_l3(nt_l3(self.book), st.l3, what)
            assert len(self.book) == len(st.l3), f"{what}: len(book) {len(self.book)}"
        elif self.kind == "nt-loop":
            got = np.array([(f.maker_id, f.taker_id, f.price, f.quantity) for f in self.out],
                           dtype=FILL_REF_DTYPE)
            check_fills(got, st.fills, what)
            check_l3(nt_l3(self.book), st.l3, what)
        elif self.kind == "sorted":
            check_fills(np.array(self.out, dtype=FILL_REF_DTYPE), st.fills, what)
            check_l3(bp.l3_array(self.book.l3()), st.l3, what)
        else:
            check_l3(bp.l3_array(self.book.l3()), st.l3, what)

    def _release(self) -> None:
        super()._release()
        self.ops = None
        self.rows = None


@functools.lru_cache(maxsize=1)
def _nt_rows(st: Stream) -> list[Any]:
    """The peer's rows with nt.Side members (what a caller of submit() would hold)."""
    import neural_trader as nt

    sides = {1: nt.Side.BUY, -1: nt.Side.SELL}
    return [(a, oid, sides[s], p, q) for a, oid, s, p, q in stream_rows(st)[1]]


def _nt_loop(book: Any, rows: list[Any]) -> list[Any]:
    submit, cancel = book.submit, book.cancel
    fills: list[Any] = []
    for action, oid, side, price, qty in rows:
        if action == ADD:
            r = submit(side, qty, price, order_id=oid)
        elif action == CANCEL:
            cancel(oid)
            continue
        else:
            r = submit(side, qty, order_id=oid)
        if r.fills:
            fills += r.fills
    return fills


@functools.lru_cache(maxsize=6)
def _prebuilt(st: Stream, part: str) -> list[Any]:
    """nautilus ``(kind, BookOrder)`` per delta; built once (BookOrder is an immutable value)."""
    return bp.NautilusL3().prebuild(st.prefill_deltas if part == "prefill" else st.deltas)


@functools.lru_cache(maxsize=3)
def _nautilus_rows(st: Stream) -> list[Any]:
    return bp.NautilusL3().order_rows(st.deltas)


# --------------------------------------------------------------------------------------------------
# (2) one submit from Python


@functools.lru_cache(maxsize=2)
def _base_book(live: int, seed: int = SEED + 2) -> Stream:
    """A prefill of ``live`` passive orders around MID0 (the realistic mix's starting book)."""
    return mix_stream(0, live, seed)


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


class Submit(Workload):
    """``n`` single calls from Python, each with its report, timed in chunks of ``scale.chunk``.

    The book holds the realistic prefill (``scale.live`` orders) before the loop, untimed.

    * case "passive": limit orders 1-10 ticks behind the mid (never crossing); each rests
    * case "marketable": limit buys of 1 lot at the current best ask: the book holds ``n`` asks of
      1 lot above the prefill (100 per price level, untimed), so each call fills exactly one maker
      (one fill in the report) and every 100th empties a level

    Engines: "nt" ``r = book.submit(side, qty, price)`` with ``nt.Side`` members; "nt-str" the
    same with "buy"/"sell" (context); "sorted" ``r = book.add(side, price, qty)`` (its report: the
    fills list). Checked: the book's size afterwards, the last report."""

    section = "submit from Python"
    unit = "call"
    LABELS = {"nt": "nt.OrderBook.submit(nt.Side.X, qty, price) -> Report",
              "nt-str": "nt.OrderBook.submit('buy'/'sell', qty, price) -> Report",
              "sorted": "SortedBook.add(side, price, qty) -> fills"}
    PER_LEVEL = 100

    def __init__(self, scale: Scale, case: str, engine: str) -> None:
        super().__init__(scale.n_submit)
        assert case in ("passive", "marketable")
        self.scale, self.case, self.kind = scale, case, engine
        self.ours = engine == "nt"
        self.engine = self.LABELS[engine]

    def _resolve(self) -> None:
        if self.kind.startswith("nt"):
            nt_book_class()

    @functools.cached_property
    def _plan(self) -> tuple[np.ndarray, list[tuple[int, float, float]]]:
        """(messages resting before the loop besides the prefill, per call (side, price, qty))."""
        n = self.n
        rng = np.random.default_rng(SEED + 3)
        if self.case == "passive":
            buy = rng.random(n) < 0.5
            d = rng.integers(1, 11, n)
            ticks = np.where(buy, MID0 - d, MID0 + d)
            qty = rng.integers(1, 11, n).astype(float)
            calls = list(zip(np.where(buy, 1, -1).tolist(), (ticks / 100).tolist(), qty.tolist()))
            return make_messages([], [], [], [], [], []), calls
        # marketable: n asks of 1 lot behind the prefill's asks, PER_LEVEL per price level; each
        # call buys 1 lot at the best ask of the moment: first the prefill's asks in price-time
        # order (an order of q lots takes q calls), then the ladder
        base = _base_book(self.scale.live)
        top = round(float(base.l3["price"].max()) * 100) + 1
        ticks = top + np.arange(n) // self.PER_LEVEL
        extra = make_messages((10_000_000 + np.arange(n)).tolist(), [ADD] * n, [-1] * n, [LIMIT_T] * n,
                              (ticks / 100).tolist(), [1.0] * n)
        asks = base.l3[base.l3["side"] == -1]
        prices: list[float] = []
        for price, q in zip(asks["price"].tolist(), asks["quantity"].tolist()):
            prices += [price] * int(q)
        prices += extra["price"].tolist()
        return extra, [(1, p, 1.0) for p in prices[:n]]

    def _setup(self) -> None:
        base = _base_book(self.scale.live)
        extra, plan = self._plan
        calls: list[tuple[Any, float, float]] = list(plan)
        if self.kind.startswith("nt"):
            import neural_trader as nt

            self.book = new_nt_book()
            self.book.process(base.prefill)
            if len(extra):
                self.book.process(extra)
            sides = {1: nt.Side.BUY, -1: nt.Side.SELL} if self.kind == "nt" else {1: "buy", -1: "sell"}
            calls = [(sides[s], q, p) for s, p, q in plan]  # submit(side, quantity, price)
        else:
            self.book = bp.SortedBook()
            bp.replay(self.book, rows(base.prefill))
            if len(extra):
                bp.replay(self.book, rows(extra))
        self.before = len(self.book)
        self.calls = _chunks(calls, self.scale.chunk)
        self.last: Any = None

    def run(self) -> None:
        pc = time.perf_counter_ns
        samples = self.samples_ns
        r = None
        if self.kind.startswith("nt"):
            submit = self.book.submit
            for part in self.calls:
                t0 = pc()
                for side, qty, price in part:
                    r = submit(side, qty, price)
                samples.append((pc() - t0) / len(part))
        else:
            add = self.book.add
            for part in self.calls:
                t0 = pc()
                for side, price, qty in part:
                    r = add(side, price, qty)
                samples.append((pc() - t0) / len(part))
        self.last = r

    def _check(self) -> None:
        what = f"{self.case}: {self.engine}"
        n = sum(len(p) for p in self.calls)
        assert n == self.n, f"{what}: {n} calls planned, expected {self.n}"
        if self.case == "passive":
            expect = self.before + self.n
            assert len(self.book) == expect, f"{what}: {len(self.book)} resting, expected {expect}"
            if self.kind.startswith("nt"):
                r = self.last
                assert r.accepted and r.status == "resting" and not r.fills, f"{what}: {r!r}"
            else:
                assert self.last == []
        else:
            # every call took exactly 1 lot; a maker goes when its last lot goes
            if self.kind.startswith("nt"):
                r = self.last
                assert r.accepted and r.status == "filled" and len(r.fills) == 1, f"{what}: {r!r}"
                assert float(r.filled_quantity) == 1.0, f"{what}: {r!r}"
            else:
                assert len(self.last) == 1 and self.last[0][3] == 1.0, f"{what}: {self.last!r}"
            base = _base_book(self.scale.live)
            asks = base.l3[base.l3["side"] == -1]
            lots = int(asks["quantity"].sum())
            if self.n >= lots:  # the prefill's asks all gone, then n - lots of the ladder
                expect = len(base.l3) - len(asks) + self.n - (self.n - lots)
                assert len(self.book) == expect, f"{what}: {len(self.book)} resting, expected {expect}"

    def _release(self) -> None:
        super()._release()
        self.calls = None
        self.last = None


# --------------------------------------------------------------------------------------------------
# (3) cancel deep vs shallow


class CancelLevel(Workload):
    """Cancels in levels of ``scale.level_orders`` orders at one price (``scale.n_levels`` such
    bid levels below the realistic prefill, which is there too, untimed), ``scale.n_cancel`` per
    level, one timed chunk per level:

    * case "first": the level's first orders in FIFO order (each at the head when cancelled)
    * case "last": its last orders, last first (each at the tail)
    * case "middle": the orders around the middle of the queue, in FIFO order (thousands of orders
      ahead and behind each; the same memory order as "first", so only the depth differs)

    Engines: "nt" one ``book.process(cancel messages)`` per level; "nt-call" ``book.cancel(id)``
    per order; "sorted" ``SortedBook.cancel(id)``; "nautilus" ``book.delete(BookOrder)`` (pre-built).
    Checked: the book's size afterwards; nt: one CANCELLED event per message, no rejection."""

    section = "cancel in a deep level"
    unit = "cancel"
    LABELS = {"nt": "nt.OrderBook.process(CANCEL messages), one call per level",
              "nt-call": "nt.OrderBook.cancel(id) per order",
              "sorted": "SortedBook.cancel(id) per order",
              "nautilus": "nautilus L3 book delete(BookOrder) per order, pre-built"}

    def __init__(self, scale: Scale, case: str, engine: str) -> None:
        super().__init__(scale.n_levels * scale.n_cancel)
        assert case in ("first", "middle", "last")
        self.scale, self.case, self.kind = scale, case, engine
        self.ours = engine == "nt"
        self.engine = self.LABELS[engine]

    def _resolve(self) -> None:
        if self.kind.startswith("nt"):
            nt_book_class()
        elif self.kind == "nautilus":
            nautilus()

    @functools.cached_property
    def _plan(self) -> tuple[np.ndarray, list[list[int]], list[float]]:
        """(level messages, the ids to cancel per level in order, the level prices)."""
        s = self.scale
        base = _base_book(s.live)
        low = round(float(base.l3["price"].min()) * 100)
        L, K = s.level_orders, s.n_cancel
        rng = np.random.default_rng(SEED + 4)
        ids, sides, prices, qtys, plan, level_prices = [], [], [], [], [], []
        for j in range(s.n_levels):
            price = (low - 10 - j) / 100
            lid = [20_000_000 + j * L + i for i in range(L)]
            ids += lid
            sides += [1] * L
            prices += [price] * L
            qtys += rng.integers(1, 11, L).astype(float).tolist()
            if self.case == "first":
                plan.append(lid[:K])
            elif self.case == "last":
                plan.append(lid[::-1][:K])
            else:  # FIFO order too, so that only the depth differs from "first"
                plan.append(lid[L // 2 - K // 2: L // 2 - K // 2 + K])
            level_prices.append(price)
        msgs = make_messages(ids, [ADD] * len(ids), sides, [LIMIT_T] * len(ids), prices, qtys)
        return msgs, plan, level_prices

    def _setup(self) -> None:
        base = _base_book(self.scale.live)
        levels, plan, _ = self._plan
        if self.kind.startswith("nt"):
            self.book = new_nt_book()
            self.book.process(base.prefill)
            self.book.process(levels)
            if self.kind == "nt":
                self.work = [make_messages(p, [CANCEL] * len(p), [1] * len(p), [LIMIT_T] * len(p),
                                           [float("nan")] * len(p), [float("nan")] * len(p)) for p in plan]
            else:
                self.work = plan
        elif self.kind == "sorted":
            self.book = bp.SortedBook()
            bp.replay(self.book, rows(base.prefill))
            bp.replay(self.book, rows(levels))
            self.work = plan
        else:
            self.book = bp.NautilusL3()
            pre = bp.l3_deltas(bp.SortedBook(), rows(base.prefill) + rows(levels))
            self.book.apply_prebuilt(self.book.prebuild(pre))
            qty = dict(zip(levels["id"].tolist(), levels["quantity"].tolist()))
            price = dict(zip(levels["id"].tolist(), levels["price"].tolist()))
            self.work = [[o for _, o in self.book.prebuild([(bp.D_DELETE, 1, price[i], qty[i], i)
                                                            for i in p])]
                         for p in plan]
        self.before = len(self.book)
        self.out = []

    def run(self) -> None:
        pc = time.perf_counter_ns
        samples = self.samples_ns
        if self.kind == "nt":
            process, out = self.book.process, self.out
            for msgs in self.work:
                t0 = pc()
                r = process(msgs)
                samples.append((pc() - t0) / len(msgs))
                out.append(r)
        elif self.kind in ("nt-call", "sorted"):
            cancel = self.book.cancel
            for part in self.work:
                t0 = pc()
                for oid in part:
                    cancel(oid)
                samples.append((pc() - t0) / len(part))
        else:
            delete = self.book.book.delete
            for part in self.work:
                t0 = pc()
                for order in part:
                    delete(order, 0)
                samples.append((pc() - t0) / len(part))

    def _check(self) -> None:
        what = f"{self.case}: {self.engine}"
        after = self.before - self.n
        assert len(self.book) == after, f"{what}: {len(self.book)} resting, expected {after}"
        if self.kind == "nt":
            for fills, events in self.out:
                k = np.asarray(events["kind"])
                assert len(fills) == 0 and (k == 2).all(), f"{what}: events {k[:5]}..."
            _, plan, prices = self._plan
            for p, price in zip(plan, prices):
                assert p[0] not in self.book and p[-1] not in self.book
                assert float(self.book.volume_at(price)) > 0

    def _release(self) -> None:
        super()._release()
        self.work = None


# --------------------------------------------------------------------------------------------------


def catalogue(scale: Scale) -> list[Workload]:
    """Every case at ``scale``, available or not (``Workload.available()`` says)."""
    w: list[Workload] = []
    for case in STREAM_CASES:
        w += [Replay(scale, case, e)
              for e in ("nt", "sorted", "nautilus", "nautilus+create", "nt-chunks", "nt-loop")]
    for case in ("passive", "marketable"):
        w += [Submit(scale, case, e) for e in ("nt", "sorted", "nt-str")]
    for case in ("first", "middle", "last"):
        w += [CancelLevel(scale, case, e) for e in ("nt", "nt-call", "sorted", "nautilus")]
    return w


if __name__ == "__main__":  # pragma: no cover - quick manual check
    sc = get_scale(sys.argv[1] if len(sys.argv) > 1 else "smoke")
    for c in STREAM_CASES:
        t = time.perf_counter()
        print(stream(sc, c).describe(), f"[{time.perf_counter() - t:.2f} s]")
    for wl in catalogue(sc):
        why = wl.available()
        if why:
            print(f"{wl.label:100s} skipped: {why}")
        else:
            dt = wl.measure()
            ns = sorted(wl.samples_ns)[len(wl.samples_ns) // 2] if wl.samples_ns else dt / wl.n * 1e9
            print(f"{wl.label:100s} {ns:10.1f} ns/{wl.unit}")
