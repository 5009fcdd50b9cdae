# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, auto_pickle=False, autotestdict=False
"""The backtester's compiled half: the event loop, the portfolio ledger, the strategy base class
and the built-in strategies.

Market events (bars, or ticks seen as one-price bars) flow through an SPSC ring buffer (the core's
``spsc_record_ring``; a producer thread feeds chunks larger than the ring) into the loop of
:meth:`_Engine.run_chunk`, which for every event

1. executes the orders of that symbol that have arrived (fill policy, stops, limits, brackets,
   order books of finite depth built around the reference price),
2. marks the portfolio to market and records the equity curve once per timestamp,
3. calls the strategy: a C-level hook for the built-in strategies, ``on_bar``/``on_tick`` for
   Python subclasses.

Orders go through validation, client-id de-duplication (a Bloom filter), the risk manager and a
latency draw before they wait for their arrival time. Everything is on event time; nothing here
reads a wall clock except the optional latency probe.
"""
cimport cython
from cpython.exc cimport PyErr_CheckSignals
from libc.math cimport NAN, INFINITY, floor, ceil, fabs, isnan, isfinite, sqrt, copysign, log
from libc.stdint cimport int8_t, int32_t, int64_t, uint8_t, uint64_t
from libc.string cimport memcpy
from libcpp cimport bool as cbool
from libcpp.string cimport string
from libcpp.vector cimport vector

import numpy as np

from ring cimport backoff
from ta cimport indicator, ta_make, translate_exception
from book cimport order_book, fill_record, book_new, book_submit, book_cancel

from neural_trader import errors as _errors


cdef extern from "neural_trader/ring/spsc.hpp" namespace "neural_trader::ring" nogil:
    cdef cppclass spsc_record_ring:
        spsc_record_ring(uint64_t capacity, size_t record_size) except +translate_exception
        size_t push_many(const void* records, size_t n)
        const void* peek(size_t max_n, size_t& n)
        void consume(size_t n)
        void close()
        cbool closed()
        cbool drained()


cdef extern from *:
    """
    #include <chrono>
    static inline long long nt_bt_now_ns() {
        return (long long)std::chrono::duration_cast<std::chrono::nanoseconds>(
            std::chrono::steady_clock::now().time_since_epoch()).count();
    }
    """
    long long nt_bt_now_ns() nogil


# ---------------------------------------------------------------------------------------------
# records and constants

cdef packed struct MarketEvent:
    int64_t ts
    int32_t symbol
    double open
    double high
    double low
    double close
    double volume
    int8_t side

#: The record the producer pushes into the ring: a bar, or a tick as a one-price bar.
MARKET_EVENT_DTYPE = np.dtype([("ts", "<i8"), ("symbol", "<i4"), ("open", "<f8"), ("high", "<f8"),
                               ("low", "<f8"), ("close", "<f8"), ("volume", "<f8"), ("side", "i1")])
assert MARKET_EVENT_DTYPE.itemsize == sizeof(MarketEvent)

# order types: the book's numbering
DEF T_LIMIT = 0
DEF T_MARKET = 1
DEF T_STOP = 2
DEF T_STOP_LIMIT = 3
TYPE_NAMES = ("limit", "market", "stop", "stop_limit")
TIF_NAMES = ("gtc", "day", "ioc")

# time in force
DEF TIF_GTC = 0
DEF TIF_DAY = 1
DEF TIF_IOC = 2

# size modes
DEF SZ_QTY = 0        # a fixed quantity
DEF SZ_FRACTION = 1   # a fraction of the buying power at fill time
DEF SZ_TARGET_PCT = 2 # a target position as a fraction of equity (signed)
DEF SZ_TARGET_QTY = 3 # a target position in units (signed)

# statuses
DEF ST_PENDING = 0
DEF ST_FILLED = 1
DEF ST_PARTIAL = 2
DEF ST_CANCELLED = 3
DEF ST_REJECTED = 4
DEF ST_EXPIRED = 5
STATUS_NAMES = ("open", "filled", "partially_filled", "cancelled", "rejected", "expired")

# fill policies
DEF FILL_NEXT_OPEN = 0
DEF FILL_CLOSE = 1

DEF EPS_QTY = 1e-12


cdef struct OrderRec:
    int64_t id
    int64_t ts
    int64_t arrival
    int64_t expire
    int64_t oco          # the other order of a one-cancels-other pair (0: none)
    int32_t sym
    int32_t tag          # index into the tag table, -1 for none
    int32_t reason       # index into the reason table, 0 for none
    int8_t side          # +1 / -1 (for target modes: decided at fill time)
    uint8_t type
    uint8_t tif
    uint8_t size_mode
    uint8_t status
    uint8_t triggered
    uint8_t resolved     # a target/fraction order turned into a quantity
    double qty           # the quantity, fraction or target (by size_mode)
    double price
    double stop
    double sl            # bracket prices of an entry (NaN: none)
    double tp
    double filled
    double notional
    double est_qty       # size/target orders: the quantity implied at submission (for the record)
    int8_t est_side


cdef struct FillRec:
    int64_t ts
    int64_t order_id
    int32_t sym
    int8_t side
    double qty
    double price
    double fee


cdef struct TradeRec:
    int32_t sym
    int8_t direction
    double qty
    int64_t entry_ts
    double entry_price
    int64_t exit_ts
    double exit_price
    double pnl
    double fees
    int64_t bars_held


cdef struct SymState:
    double qty
    double avg_price
    double realized
    double open_fees      # fees paid by the open position (shared pro rata by its exits)
    double open_borrow    # borrow cost accrued by the open short
    double last
    int64_t entry_ts
    int64_t entry_bar
    int64_t nbars
    int64_t ts
    double open
    double high
    double low
    double close
    double volume
    cbool seen


cdef inline double _sign(double x) noexcept nogil:
    return 1.0 if x > 0 else (-1.0 if x < 0 else 0.0)


# ---------------------------------------------------------------------------------------------
# the portfolio ledger

cdef class Portfolio:
    """Cash, positions and P&L of an account trading several symbols with one pool of cash.

    Positions may be long or short; a short's market value is negative and its sale proceeds are
    cash. Average price is the quantity-weighted entry price of the open position; reducing a
    position realises ``(price - avg_price) * closed * sign`` and leaves ``avg_price`` unchanged;
    going through zero closes the old position and opens a new one at the fill price.

    Every reduction of a position writes one closed round trip to :attr:`trades` (entry: the
    opening time and average price, exit: this fill), with its share of the opening fees, this
    fill's fees and the borrow cost the short accrued, so that the trades' P&L sums to realised
    P&L minus fees minus borrow cost.

    ``borrow_rate`` is an annual rate charged on the market value of short positions, accrued on
    event time by :meth:`mark` (365.25-day years).

    The backtester drives one of these; it also works alone::

        pf = nt.portfolio.Portfolio(10_000, symbols=["AAA"])
        pf.fill("AAA", +1, 10, 101.0, fee=1.0, ts=0)
        pf.mark("AAA", 103.0, ts=1)
        pf.equity          # 10_019.0
    """

    cdef vector[SymState] st
    cdef vector[TradeRec] trades_
    cdef vector[int32_t] held
    cdef readonly double cash
    cdef readonly double initial_cash
    cdef readonly double borrow_rate
    cdef readonly double total_fees
    cdef readonly double total_borrow
    cdef readonly double peak_equity
    cdef int64_t last_mark_ts
    cdef public list symbols
    cdef dict _index

    def __init__(self, double cash=10_000.0, symbols=(), double borrow_rate=0.0):
        if not isfinite(cash) or cash < 0:
            raise _errors.InvalidArgumentError(f"cash must be a finite non-negative number, not {cash!r}")
        if not isfinite(borrow_rate) or borrow_rate < 0:
            raise _errors.InvalidArgumentError(f"borrow_rate must be finite and >= 0, not {borrow_rate!r}")
        self.cash = cash
        self.initial_cash = cash
        self.borrow_rate = borrow_rate
        self.total_fees = 0.0
        self.total_borrow = 0.0
        self.peak_equity = cash
        self.last_mark_ts = -(1 << 62)
        self.symbols = []
        self._index = {}
        for s in symbols:
            self._symbol_id(s)

    cdef int32_t _symbol_id(self, object symbol) except -1:
        cdef SymState z
        i = self._index.get(symbol)
        if i is not None:
            return i
        if not isinstance(symbol, str):
            raise _errors.DTypeError(f"symbols are str, not {type(symbol).__name__}")
        z.qty = 0; z.avg_price = NAN; z.realized = 0; z.open_fees = 0; z.open_borrow = 0
        z.last = NAN; z.entry_ts = 0; z.entry_bar = 0; z.nbars = 0; z.ts = 0
        z.open = NAN; z.high = NAN; z.low = NAN; z.close = NAN; z.volume = NAN; z.seen = False
        self.st.push_back(z)
        self.symbols.append(symbol)
        self._index[symbol] = len(self.symbols) - 1
        return len(self.symbols) - 1

    cdef int32_t _lookup(self, object symbol) except -1:
        i = self._index.get(symbol)
        if i is None:
            raise _errors.InvalidArgumentError(f"unknown symbol {symbol!r}; known: {self.symbols}")
        return i

    # ------------------------------------------------------------------ C-level ledger
    cdef inline double _market_value(self) noexcept nogil:
        cdef double mv = 0.0
        cdef size_t k
        for k in range(self.held.size()):
            mv += self.st[self.held[k]].qty * self.st[self.held[k]].last
        return mv

    cdef inline double _gross(self) noexcept nogil:
        cdef double g = 0.0
        cdef size_t k
        for k in range(self.held.size()):
            g += fabs(self.st[self.held[k]].qty * self.st[self.held[k]].last)
        return g

    cdef inline double _equity(self) noexcept nogil:
        return self.cash + self._market_value()

    cdef inline double _margin_except(self, int32_t sym) noexcept nogil:
        """Market value of every position but `sym`'s, all counted positive (100 % margin)."""
        cdef double g = 0.0
        cdef size_t k
        for k in range(self.held.size()):
            if self.held[k] != sym:
                g += fabs(self.st[self.held[k]].qty * self.st[self.held[k]].last)
        return g

    cdef void _set_held(self, int32_t sym) noexcept:
        cdef size_t k
        cdef bint is_held = fabs(self.st[sym].qty) > EPS_QTY
        for k in range(self.held.size()):
            if self.held[k] == sym:
                if not is_held:
                    self.held.erase(self.held.begin() + k)
                return
        if is_held:
            self.held.push_back(sym)

    cdef void _accrue(self, int64_t ts) noexcept:
        """Borrow cost of the shorts from the last mark to `ts`."""
        cdef double dt, cost
        cdef size_t k
        cdef int32_t s
        if self.borrow_rate > 0 and self.last_mark_ts > -(1 << 62) and ts > self.last_mark_ts:
            dt = <double>(ts - self.last_mark_ts) / (365.25 * 86400e9)
            for k in range(self.held.size()):
                s = self.held[k]
                if self.st[s].qty < 0:
                    cost = -self.st[s].qty * self.st[s].last * self.borrow_rate * dt
                    self.cash -= cost
                    self.total_borrow += cost
                    self.st[s].open_borrow += cost
        if ts > self.last_mark_ts:
            self.last_mark_ts = ts

    cdef void _apply_fill(self, int32_t sym, int8_t side, double qty, double price, double fee,
                          int64_t ts) noexcept:
        cdef SymState* p = &self.st[sym]
        cdef double q = p.qty
        cdef double signed_qty = side * qty
        cdef double closed, share, fee_close, borrow_share, pnl, rest
        cdef TradeRec t
        self.cash -= signed_qty * price + fee
        self.total_fees += fee
        if q == 0 or (q > 0) == (side > 0):
            if fabs(q) <= EPS_QTY:
                p.avg_price = price
                p.entry_ts = ts
                p.entry_bar = p.nbars
                p.open_fees = 0
                p.open_borrow = 0
            else:
                p.avg_price = (p.avg_price * fabs(q) + price * qty) / (fabs(q) + qty)
            p.open_fees += fee
            p.qty = q + signed_qty
        else:
            closed = min(qty, fabs(q))
            share = closed / fabs(q)
            fee_close = fee * closed / qty
            borrow_share = p.open_borrow * share
            pnl = (price - p.avg_price) * closed * _sign(q)
            p.realized += pnl
            t.sym = sym
            t.direction = 1 if q > 0 else -1
            t.qty = closed
            t.entry_ts = p.entry_ts
            t.entry_price = p.avg_price
            t.exit_ts = ts
            t.exit_price = price
            t.fees = p.open_fees * share + fee_close
            t.pnl = pnl - t.fees - borrow_share
            t.bars_held = p.nbars - p.entry_bar
            self.trades_.push_back(t)
            p.open_fees -= p.open_fees * share
            p.open_borrow -= borrow_share
            rest = qty - closed
            if fabs(q) - closed <= EPS_QTY * max(1.0, fabs(q)):
                p.qty = 0.0
                p.open_fees = 0
                p.open_borrow = 0
                if rest > EPS_QTY:
                    p.qty = side * rest
                    p.avg_price = price
                    p.entry_ts = ts
                    p.entry_bar = p.nbars
                    p.open_fees = fee - fee_close
                else:
                    p.avg_price = NAN
            else:
                p.qty = q + signed_qty
        if isnan(p.last):
            p.last = price
        self._set_held(sym)

    # ------------------------------------------------------------------ Python API
    def fill(self, symbol, int side, double quantity, double price, *, double fee=0.0, int64_t ts=0):
        """Books a fill: ``side`` +1 buys, -1 sells ``quantity`` at ``price``, paying ``fee``."""
        if side not in (1, -1):
            raise _errors.InvalidArgumentError(f"side must be +1 or -1, not {side!r}")
        if not (isfinite(quantity) and quantity > 0):
            raise _errors.InvalidArgumentError(f"quantity must be positive and finite, not {quantity!r}")
        if not (isfinite(price) and price > 0):
            raise _errors.InvalidArgumentError(f"price must be positive and finite, not {price!r}")
        if not (isfinite(fee) and fee >= 0):
            raise _errors.InvalidArgumentError(f"fee must be finite and >= 0, not {fee!r}")
        cdef int32_t s = self._symbol_id(symbol)
        self._accrue(ts)
        self._apply_fill(s, <int8_t>side, quantity, price, fee, ts)

    def mark(self, symbol, double price, *, int64_t ts=0):
        """Marks ``symbol`` to ``price`` at event time ``ts`` (accrues short borrow cost first)."""
        if not (isfinite(price) and price > 0):
            raise _errors.InvalidArgumentError(f"price must be positive and finite, not {price!r}")
        cdef int32_t s = self._symbol_id(symbol)
        self._accrue(ts)
        self.st[s].last = price
        cdef double e = self._equity()
        if e > self.peak_equity:
            self.peak_equity = e

    @property
    def equity(self):
        """Cash plus the market value of every position at its last price."""
        return self._equity()

    @property
    def market_value(self):
        return self._market_value()

    @property
    def gross_exposure(self):
        return self._gross()

    def position(self, symbol):
        """Signed quantity held in ``symbol`` (0.0 if none or unknown)."""
        i = self._index.get(symbol)
        return 0.0 if i is None else self.st[<int32_t>i].qty

    def positions(self):
        """The positions as a polars DataFrame (the backtest result's ``positions`` schema)."""
        import polars as pl
        rows = {"symbol": [], "quantity": [], "avg_price": [], "last_price": [], "market_value": [],
                "unrealized_pnl": [], "realized_pnl": []}
        cdef int32_t i
        cdef SymState* p
        for i in range(<int32_t>self.st.size()):
            p = &self.st[i]
            if fabs(p.qty) <= EPS_QTY and p.realized == 0 and isnan(p.avg_price):
                continue
            rows["symbol"].append(self.symbols[i])
            rows["quantity"].append(p.qty)
            rows["avg_price"].append(p.avg_price)
            rows["last_price"].append(p.last)
            rows["market_value"].append(p.qty * p.last if p.qty != 0 else 0.0)
            rows["unrealized_pnl"].append((p.last - p.avg_price) * p.qty if p.qty != 0 else 0.0)
            rows["realized_pnl"].append(p.realized)
        return pl.DataFrame([pl.Series(k, v, dtype=pl.String if k == "symbol" else pl.Float64)
                             for k, v in rows.items()])

    @property
    def realized_pnl(self):
        cdef double r = 0.0
        cdef size_t i
        for i in range(self.st.size()):
            r += self.st[i].realized
        return r

    @property
    def unrealized_pnl(self):
        cdef double u = 0.0
        cdef size_t k
        for k in range(self.held.size()):
            u += (self.st[self.held[k]].last - self.st[self.held[k]].avg_price) * self.st[self.held[k]].qty
        return u

    def trades(self):
        """Closed round trips as a polars DataFrame (the result's ``trades`` schema)."""
        return _trades_frame(self.trades_, self.symbols)

    def __repr__(self):
        return (f"Portfolio(cash={self.cash:,.2f}, equity={self._equity():,.2f}, "
                f"positions={self.held.size()}, trades={self.trades_.size()})")

    def __reduce__(self):
        return (_portfolio_restore, (self.__getstate__(),))

    def __getstate__(self):
        cdef size_t i
        states = []
        for i in range(self.st.size()):
            states.append(self.st[i])
        trades = []
        for i in range(self.trades_.size()):
            trades.append(self.trades_[i])
        return {"cash": self.cash, "initial_cash": self.initial_cash, "borrow_rate": self.borrow_rate,
                "total_fees": self.total_fees, "total_borrow": self.total_borrow, "peak": self.peak_equity,
                "last_mark_ts": self.last_mark_ts, "symbols": list(self.symbols), "states": states,
                "trades": trades}

    def _setstate(self, dict d):
        self.cash = d["cash"]; self.initial_cash = d["initial_cash"]; self.borrow_rate = d["borrow_rate"]
        self.total_fees = d["total_fees"]; self.total_borrow = d["total_borrow"]; self.peak_equity = d["peak"]
        self.last_mark_ts = d["last_mark_ts"]
        self.symbols = []
        self._index = {}
        self.st.clear(); self.trades_.clear(); self.held.clear()
        for s in d["symbols"]:
            self._symbol_id(s)
        cdef int32_t i
        for i, s in enumerate(d["states"]):
            self.st[i] = s
            self._set_held(i)
        for t in d["trades"]:
            self.trades_.push_back(t)


def _portfolio_restore(state):
    p = Portfolio.__new__(Portfolio)
    p._setstate(state)
    return p


cdef object _ns_to_dt(object values):
    import polars as pl
    return pl.Series(values, dtype=pl.Int64).cast(pl.Datetime("ns", "UTC"))


cdef object _trades_frame(vector[TradeRec]& trades, list symbols):
    import polars as pl
    cdef size_t n = trades.size(), i
    sym = np.empty(n, np.int32); dirn = np.empty(n, np.int8); qty = np.empty(n); ets = np.empty(n, np.int64)
    ep = np.empty(n); xts = np.empty(n, np.int64); xp = np.empty(n); pnl = np.empty(n); fees = np.empty(n)
    held = np.empty(n, np.int64)
    cdef int32_t[:] v_sym = sym
    cdef int8_t[:] v_dir = dirn
    cdef double[:] v_qty = qty, v_ep = ep, v_xp = xp, v_pnl = pnl, v_fees = fees
    cdef int64_t[:] v_ets = ets, v_xts = xts, v_held = held
    for i in range(n):
        v_sym[i] = trades[i].sym; v_dir[i] = trades[i].direction; v_qty[i] = trades[i].qty
        v_ets[i] = trades[i].entry_ts; v_ep[i] = trades[i].entry_price; v_xts[i] = trades[i].exit_ts
        v_xp[i] = trades[i].exit_price; v_pnl[i] = trades[i].pnl; v_fees[i] = trades[i].fees
        v_held[i] = trades[i].bars_held
    names = np.array(symbols if symbols else [""], dtype=object)
    with np.errstate(divide="ignore", invalid="ignore"):
        ret = pnl / (ep * qty)
    return pl.DataFrame([
        pl.Series("symbol", names[sym].tolist() if n else [], dtype=pl.String),
        pl.Series("direction", np.where(dirn > 0, "long", "short").tolist() if n else [], dtype=pl.String),
        pl.Series("quantity", qty), _ns_to_dt(ets).alias("entry_ts"), pl.Series("entry_price", ep),
        _ns_to_dt(xts).alias("exit_ts"), pl.Series("exit_price", xp), pl.Series("pnl", pnl),
        pl.Series("fees", fees), pl.Series("return_pct", ret), pl.Series("bars_held", held),
    ])


# ---------------------------------------------------------------------------------------------
# objects a strategy sees

@cython.freelist(16)
cdef class Bar:
    """One bar as a strategy sees it (immutable): ``ts`` (int ns UTC, the moment the bar's values
    are known), ``symbol``, ``open``, ``high``, ``low``, ``close``, ``volume``."""
    cdef readonly int64_t ts
    cdef readonly str symbol
    cdef readonly int32_t symbol_id
    cdef readonly double open, high, low, close, volume

    def __init__(self, int64_t ts, str symbol, double open, double high, double low, double close,
                 double volume=NAN, int32_t symbol_id=0):
        self.ts = ts; self.symbol = symbol; self.symbol_id = symbol_id
        self.open = open; self.high = high; self.low = low; self.close = close; self.volume = volume

    def __repr__(self):
        return (f"Bar(ts={self.ts}, symbol={self.symbol!r}, open={self.open!r}, high={self.high!r}, "
                f"low={self.low!r}, close={self.close!r}, volume={self.volume!r})")

    def __reduce__(self):
        return (Bar, (self.ts, self.symbol, self.open, self.high, self.low, self.close, self.volume,
                      self.symbol_id))

    def __eq__(self, other):
        if not isinstance(other, Bar):
            return NotImplemented
        return self.__reduce__()[1] == other.__reduce__()[1]

    def __hash__(self):
        return hash(self.__reduce__()[1])


@cython.freelist(16)
cdef class Tick:
    """One trade tick as a strategy sees it (immutable): ``ts``, ``symbol``, ``price``, ``size``,
    ``side`` (+1 buyer-initiated, -1 seller-initiated, 0 unknown)."""
    cdef readonly int64_t ts
    cdef readonly str symbol
    cdef readonly int32_t symbol_id
    cdef readonly double price, size
    cdef readonly int side

    def __init__(self, int64_t ts, str symbol, double price, double size=NAN, int side=0, int32_t symbol_id=0):
        self.ts = ts; self.symbol = symbol; self.price = price; self.size = size; self.side = side
        self.symbol_id = symbol_id

    def __repr__(self):
        return f"Tick(ts={self.ts}, symbol={self.symbol!r}, price={self.price!r}, size={self.size!r}, side={self.side})"

    def __reduce__(self):
        return (Tick, (self.ts, self.symbol, self.price, self.size, self.side, self.symbol_id))

    def __eq__(self, other):
        if not isinstance(other, Tick):
            return NotImplemented
        return self.__reduce__()[1] == other.__reduce__()[1]

    def __hash__(self):
        return hash(self.__reduce__()[1])


cdef class Order:
    """An order as the risk checks and the strategy see it (a snapshot; immutable).

    ``side`` is +1 / -1 (for target orders, the direction the target implies at submission),
    ``quantity`` the units asked for (for size/target orders, the estimate at submission from the
    last price), ``price`` the limit price (NaN for market and stop orders), ``stop_price`` the
    trigger (NaN if none), ``type`` one of "market", "limit", "stop", "stop_limit"."""
    cdef readonly int64_t id, ts, arrival_ts
    cdef readonly str symbol
    cdef readonly int side
    cdef readonly double quantity, price, stop_price
    cdef readonly str type, tif, status
    cdef readonly object client_id, tag
    cdef readonly double filled_quantity, avg_price

    def __init__(self, int64_t id, int64_t ts, str symbol, int side, double quantity, str type="market",
                 double price=NAN, double stop_price=NAN, str tif="gtc", client_id=None, tag=None,
                 str status="open", double filled_quantity=0.0, double avg_price=NAN, int64_t arrival_ts=0):
        self.id = id; self.ts = ts; self.symbol = symbol; self.side = side; self.quantity = quantity
        self.type = type; self.price = price; self.stop_price = stop_price; self.tif = tif
        self.client_id = client_id; self.tag = tag; self.status = status
        self.filled_quantity = filled_quantity; self.avg_price = avg_price; self.arrival_ts = arrival_ts

    def __repr__(self):
        extra = ""
        if not isnan(self.price):
            extra += f", price={self.price!r}"
        if not isnan(self.stop_price):
            extra += f", stop_price={self.stop_price!r}"
        return (f"Order(id={self.id}, ts={self.ts}, symbol={self.symbol!r}, side={self.side:+d}, "
                f"quantity={self.quantity!r}, type={self.type!r}{extra}, status={self.status!r})")

    def __reduce__(self):
        return (Order, (self.id, self.ts, self.symbol, self.side, self.quantity, self.type, self.price,
                        self.stop_price, self.tif, self.client_id, self.tag, self.status,
                        self.filled_quantity, self.avg_price, self.arrival_ts))


cdef class AccountView:
    """The account at the moment of a risk check: ``ts``, ``cash``, ``equity``, ``peak_equity``,
    ``position(symbol)``, ``price(symbol)``."""
    cdef _Engine eng

    def __init__(self):
        raise TypeError("AccountView is made by the backtester")

    @property
    def ts(self):
        return self.eng.now

    @property
    def cash(self):
        return self.eng.pf.cash

    @property
    def equity(self):
        return self.eng.pf._equity()

    @property
    def peak_equity(self):
        return max(self.eng.pf.peak_equity, self.eng.pf._equity())

    def position(self, symbol):
        return self.eng.pf.position(symbol)

    def price(self, symbol):
        i = self.eng.pf._index.get(symbol)
        return NAN if i is None else self.eng.pf.st[<int32_t>i].last

    def __repr__(self):
        return f"AccountView(ts={self.ts}, cash={self.cash:,.2f}, equity={self.equity:,.2f})"


# ---------------------------------------------------------------------------------------------
# the strategy base class

cdef class Strategy:
    """Base class of strategies. Subclass it in Python and override what you need:

    - ``on_start(self)``: once, before the first event (declare indicators, state).
    - ``on_bar(self, bar)``: after each bar of any symbol (``bar`` is an :class:`nt.types.Bar`).
    - ``on_tick(self, tick)``: after each tick, for tick data (an :class:`nt.types.Tick`).
    - ``on_fill(self, fill)``: after each fill of one of your orders (an :class:`nt.types.Fill`).
    - ``on_end(self)``: once, after the last event.

    Inside the callbacks: ``buy``/``sell`` (a quantity, a fraction of buying power, or all of it;
    market, limit, stop, stop-limit; GTC/DAY/IOC; bracket stop-loss and take-profit),
    ``order_target``/``order_target_percent``/``close``, ``cancel``, ``signal`` (an
    :class:`nt.types.Signal`), and the account: ``position``, ``cash``, ``equity``, ``now``,
    ``price``. ``symbol=None`` everywhere means the symbol of the event being handled.

    Built-in strategies subclass this in Cython and run without calling Python per event.
    """
    cdef _Engine _eng
    cdef public object params

    def __init__(self, **params):
        self.params = params

    # hooks
    def on_start(self):
        pass

    def on_bar(self, bar):
        pass

    def on_tick(self, tick):
        pass

    def on_fill(self, fill):
        pass

    def on_end(self):
        pass

    cdef int _c_event(self, const MarketEvent* ev) except -1:
        """The built-in strategies' per-event hook (no Python call)."""
        return 0

    cdef int _c_start(self) except -1:
        return 0

    cdef bint _has_c_hook(self):
        return False

    # ------------------------------------------------------------------ context
    cdef _Engine _engine(self):
        if self._eng is None:
            raise RuntimeError("this strategy is not running in a backtest")
        return self._eng

    @property
    def now(self):
        """Event time (int ns UTC) of the event being handled."""
        return self._engine().now

    @property
    def cash(self):
        return self._engine().pf.cash

    @property
    def equity(self):
        return self._engine().pf._equity()

    @property
    def portfolio(self):
        return self._engine().pf

    @property
    def symbols(self):
        return list(self._engine().pf.symbols)

    @property
    def session(self):
        """Trading session of the event being handled: its local session date in days since
        1970-01-01 (-1 outside every session), from the backtest's ``calendar``."""
        cdef _Engine e = self._engine()
        if e.sessions == NULL:
            raise RuntimeError("sessions need a calendar: Backtest(..., calendar=nt.data.Calendar(...))")
        return e.session

    @property
    def new_session(self):
        """Whether the event being handled is its symbol's first in its trading session (reset
        session indicators such as a session VWAP here)."""
        cdef _Engine e = self._engine()
        if e.sessions == NULL:
            raise RuntimeError("sessions need a calendar: Backtest(..., calendar=nt.data.Calendar(...))")
        return e.new_session

    def position(self, symbol=None):
        """Signed quantity held in ``symbol`` (default: the current event's symbol)."""
        cdef _Engine e = self._engine()
        return e.pf.st[e._sym(symbol)].qty

    def price(self, symbol=None):
        """Last price (close) seen for ``symbol``."""
        cdef _Engine e = self._engine()
        return e.pf.st[e._sym(symbol)].last

    def buy(self, quantity=None, *, symbol=None, size=None, price=None, stop=None, tif="gtc",
            stop_loss=None, take_profit=None, client_id=None, tag=None):
        """Buys ``quantity`` units, or ``size`` (a fraction in (0, 1]) of the buying power at fill
        time, or, with neither, all of it. ``price`` makes it a limit order, ``stop`` a stop (both:
        stop-limit). ``stop_loss``/``take_profit`` attach a one-cancels-other exit pair that becomes
        active when this order fills. Returns the order id (also for a rejected order)."""
        return self._engine()._order_api(1, quantity, symbol, size, price, stop, tif, stop_loss,
                                         take_profit, client_id, tag)

    def sell(self, quantity=None, *, symbol=None, size=None, price=None, stop=None, tif="gtc",
             stop_loss=None, take_profit=None, client_id=None, tag=None):
        """Sells (or sells short) like :meth:`buy` buys."""
        return self._engine()._order_api(-1, quantity, symbol, size, price, stop, tif, stop_loss,
                                         take_profit, client_id, tag)

    def order_target_percent(self, double fraction, symbol=None, *, tag=None, client_id=None):
        """Trades ``symbol`` to a position worth ``fraction`` of equity at fill time (negative:
        short), in whole units unless the backtest allows fractional quantities."""
        cdef _Engine e = self._engine()
        return e._submit(e._sym(symbol), 0, SZ_TARGET_PCT, fraction, T_MARKET, NAN, NAN, TIF_GTC,
                         NAN, NAN, client_id, tag)

    def order_target(self, double quantity, symbol=None, *, tag=None, client_id=None):
        """Trades ``symbol`` to a position of ``quantity`` units (signed)."""
        cdef _Engine e = self._engine()
        return e._submit(e._sym(symbol), 0, SZ_TARGET_QTY, quantity, T_MARKET, NAN, NAN, TIF_GTC,
                         NAN, NAN, client_id, tag)

    def close(self, symbol=None, *, tag=None):
        """Closes the position in ``symbol`` at the next fill opportunity."""
        cdef _Engine e = self._engine()
        return e._submit(e._sym(symbol), 0, SZ_TARGET_QTY, 0.0, T_MARKET, NAN, NAN, TIF_GTC, NAN, NAN,
                         None, tag)

    def cancel(self, int64_t order_id):
        """Cancels a waiting order; returns whether it was still open."""
        return self._engine()._cancel(order_id, 1)

    def signal(self, sig):
        """Acts on an :class:`nt.types.Signal`: LONG / SHORT target ``strength`` of equity (in
        (0, 1]) long / short, CLOSE flattens. Signals under the backtest's ``min_confidence`` are
        recorded but not traded. Returns the order id, or 0 if nothing was sent."""
        cdef _Engine e = self._engine()
        e.n_signals += 1
        if sig.confidence < e.min_confidence:
            return 0
        cdef int d = int(sig.direction)
        if d == 0:
            return self.close(sig.symbol)
        return self.order_target_percent(d * float(sig.strength), sig.symbol)

    def open_orders(self, symbol=None):
        """The orders still waiting (:class:`Order` snapshots)."""
        cdef _Engine e = self._engine()
        return e._open_orders(symbol)


# ---------------------------------------------------------------------------------------------
# the engine

cdef class _Engine:
    """One backtest run. Made and driven by :class:`nt.Backtest`; not public."""
    cdef readonly Portfolio pf
    cdef Strategy strat
    cdef object risk
    cdef object on_bar_py
    cdef object on_tick_py
    cdef object on_fill_py
    cdef object fill_cls
    cdef bint call_bar, call_tick, call_fill, c_hook, ticks
    cdef readonly int64_t now
    # trading sessions (a calendar given): the session id of every event of the chunk
    cdef const int64_t* sessions
    cdef readonly int64_t session
    cdef readonly bint new_session
    cdef vector[int64_t] last_session
    cdef int32_t cur_sym
    cdef readonly int64_t n_events, n_steps
    cdef public int64_t n_signals
    cdef public double min_confidence
    # configuration
    cdef int policy
    cdef double fee_rate, fee_fixed, slippage, spread, depth, tick_size, lot
    cdef int levels
    cdef bint whole, carry_partial, pessimistic, allow_short
    cdef int close_at_end
    cdef object expire_fn
    # orders and output
    cdef vector[OrderRec] orders
    cdef vector[vector[int64_t]] pending     # per symbol: indices of waiting orders
    cdef vector[FillRec] fills
    cdef vector[int64_t] eq_ts
    cdef vector[double] eq_cash, eq_equity, eq_gross, eq_net
    cdef list tags, reasons
    cdef dict reason_index
    cdef object bloom
    cdef object bloom_factory
    cdef bint dedupe
    cdef object order_latency, feed_latency
    cdef double[:] lat_buf
    cdef Py_ssize_t lat_pos
    cdef bint has_latency
    cdef object rng
    cdef vector[order_book*] books
    cdef vector[int64_t] liq_ids
    cdef AccountView acct
    # latency probe
    cdef bint probe
    cdef vector[int64_t] probe_all, probe_orders
    cdef readonly int64_t rejected
    cdef int64_t step_ts

    def __cinit__(self):
        self.tags = []
        self.reasons = [None]
        self.reason_index = {}

    def __dealloc__(self):
        cdef size_t i
        for i in range(self.books.size()):
            del self.books[i]

    def setup(self, Strategy strategy, Portfolio pf, dict cfg):
        self.strat = strategy
        self.pf = pf
        self.risk = cfg["risk"]
        self.policy = FILL_CLOSE if cfg["fill"] == "close" else FILL_NEXT_OPEN
        self.fee_rate = cfg["fees"]
        self.fee_fixed = cfg["fee_fixed"]
        self.slippage = cfg["slippage"]
        self.spread = cfg["spread"]
        self.depth = INFINITY if cfg["depth"] is None else cfg["depth"]
        self.levels = cfg["levels"]
        self.tick_size = cfg["tick_size"]
        self.lot = cfg["lot_size"]
        self.whole = not cfg["fractional"]
        self.carry_partial = cfg["partial"] == "carry"
        self.pessimistic = cfg["intrabar"] == "pessimistic"
        self.close_at_end = {False: 0, "close": 1, "open": 2}[cfg["close_at_end"]]
        self.allow_short = cfg["allow_short"]
        self.min_confidence = cfg["min_confidence"]
        self.expire_fn = cfg["expire_fn"]
        self.ticks = cfg["ticks"]
        self.bloom = None
        self.bloom_factory = cfg["bloom_factory"]
        self.dedupe = self.bloom_factory is not None
        self.order_latency = cfg["order_latency"]
        self.feed_latency = cfg["feed_latency"]
        self.has_latency = self.order_latency is not None or self.feed_latency is not None
        self.rng = cfg["rng"]
        self.lat_buf = np.zeros(0)
        self.lat_pos = 0
        self.probe = cfg["probe_latency"]
        cdef size_t nsym = len(pf.symbols)
        self.pending.resize(nsym)
        cdef size_t i
        if isfinite(self.depth):
            for i in range(nsym):
                self.books.push_back(book_new(self.tick_size, self.lot, 0))
        self.acct = AccountView.__new__(AccountView)
        self.acct.eng = self
        strategy._eng = self
        self.c_hook = strategy._has_c_hook()
        cls = type(strategy)
        self.call_bar = cls.on_bar is not Strategy.on_bar
        self.call_tick = cls.on_tick is not Strategy.on_tick
        self.call_fill = cls.on_fill is not Strategy.on_fill
        self.on_bar_py = strategy.on_bar
        self.on_tick_py = strategy.on_tick
        self.on_fill_py = strategy.on_fill
        from neural_trader.types import Fill
        self.fill_cls = Fill
        self.cur_sym = 0
        self.now = 0
        self.step_ts = -(1 << 62)

    # ------------------------------------------------------------------ helpers
    cdef int32_t _sym(self, object symbol) except -1:
        if symbol is None:
            return self.cur_sym
        return self.pf._lookup(symbol)

    cdef int32_t _reason(self, str reason) except -1:
        i = self.reason_index.get(reason)
        if i is None:
            self.reasons.append(reason)
            i = len(self.reasons) - 1
            self.reason_index[reason] = i
        return i

    cdef double _draw_latency(self) except? -1:
        """Seconds of feed + order latency for one order, drawn in blocks of 4,096."""
        if self.lat_pos >= self.lat_buf.shape[0]:
            total = np.zeros(4096)
            if self.feed_latency is not None:
                total = total + np.asarray(self.feed_latency(self.rng, 4096), dtype=np.float64)
            if self.order_latency is not None:
                total = total + np.asarray(self.order_latency(self.rng, 4096), dtype=np.float64)
            if total.shape != (4096,) or not np.all(np.isfinite(total)) or np.any(total < 0):
                raise _errors.InvalidArgumentError("a latency distribution drew negative or non-finite values")
            self.lat_buf = np.ascontiguousarray(total)
            self.lat_pos = 0
        self.lat_pos += 1
        return self.lat_buf[self.lat_pos - 1]

    cdef int _estimate(self, OrderRec* o) except -1:
        """The side and quantity a size/target order implies at the last price (what risk
        checks see and what the record shows until the order is sized at its fill)."""
        cdef double last = self.pf.st[o.sym].last
        cdef double cur = self.pf.st[o.sym].qty
        cdef double eq = max(self.pf._equity(), 0.0)
        cdef double q
        if o.size_mode == SZ_FRACTION:
            q = o.side * (o.qty * eq / last if last > 0 else NAN)
        elif o.size_mode == SZ_TARGET_PCT:
            q = (o.qty * eq / last if last > 0 else NAN) - cur
        else:
            q = o.qty - cur
        if isnan(q):
            o.est_side = o.side if o.side != 0 else (1 if o.qty >= 0 else -1)
        else:
            o.est_side = 1 if q >= 0 else -1
        o.est_qty = fabs(q)
        return 0

    cdef object _order_view(self, OrderRec* o):
        cdef double q = o.qty
        cdef int side = o.side
        if o.size_mode != SZ_QTY and not o.resolved:
            q = o.est_qty
            side = o.est_side
        return Order(o.id, o.ts, self.pf.symbols[o.sym], side, q, TYPE_NAMES[o.type], o.price, o.stop,
                     TIF_NAMES[o.tif], None, self.tags[o.tag] if o.tag >= 0 else None,
                     STATUS_NAMES[o.status], o.filled, o.notional / o.filled if o.filled > 0 else NAN,
                     o.arrival)

    cdef int _reject(self, OrderRec* o, str reason) except -1:
        o.status = ST_REJECTED
        o.reason = self._reason(reason)
        self.rejected += 1
        return 0

    # ------------------------------------------------------------------ order entry
    cdef object _order_api(self, int side, object quantity, object symbol, object size, object price,
                           object stop, object tif, object stop_loss, object take_profit,
                           object client_id, object tag):
        cdef int32_t sym = self._sym(symbol)
        cdef int mode
        cdef double q
        if quantity is not None and size is not None:
            raise _errors.InvalidArgumentError("give quantity or size, not both")
        if quantity is not None:
            mode = SZ_QTY
            q = quantity
            if not (isfinite(q) and q > 0):
                raise _errors.InvalidArgumentError(f"quantity must be positive and finite, not {quantity!r}")
        else:
            mode = SZ_FRACTION
            q = 1.0 if size is None else size
            if not (isfinite(q) and 0 < q <= 1):
                raise _errors.InvalidArgumentError(f"size is a fraction in (0, 1], not {size!r}")
        cdef double p = NAN if price is None else price
        cdef double s = NAN if stop is None else stop
        if price is not None and not (isfinite(p) and p > 0):
            raise _errors.InvalidArgumentError(f"price must be positive and finite, not {price!r}")
        if stop is not None and not (isfinite(s) and s > 0):
            raise _errors.InvalidArgumentError(f"stop must be positive and finite, not {stop!r}")
        cdef int typ = T_MARKET
        if price is not None and stop is not None:
            typ = T_STOP_LIMIT
        elif price is not None:
            typ = T_LIMIT
        elif stop is not None:
            typ = T_STOP
        t = str(tif).lower()
        if t not in TIF_NAMES:
            raise _errors.InvalidArgumentError(f"tif is 'gtc', 'day' or 'ioc', not {tif!r}")
        cdef int tf = TIF_NAMES.index(t)
        cdef double sl = NAN if stop_loss is None else stop_loss
        cdef double tp = NAN if take_profit is None else take_profit
        if stop_loss is not None and not (isfinite(sl) and sl > 0):
            raise _errors.InvalidArgumentError(f"stop_loss must be a positive price, not {stop_loss!r}")
        if take_profit is not None and not (isfinite(tp) and tp > 0):
            raise _errors.InvalidArgumentError(f"take_profit must be a positive price, not {take_profit!r}")
        return self._submit(sym, side, mode, q, typ, p, s, tf, sl, tp, client_id, tag)

    cdef int64_t _submit(self, int32_t sym, int side, int mode, double q, int typ, double price,
                         double stop, int tf, double sl, double tp, object client_id, object tag) except -1:
        cdef double lat
        if (mode == SZ_TARGET_PCT or mode == SZ_TARGET_QTY) and not isfinite(q):
            raise _errors.InvalidArgumentError(f"a target must be finite, not {q!r}")
        cdef int32_t tag_index = -1
        if tag is not None:
            self.tags.append(str(tag))
            tag_index = len(self.tags) - 1
        cdef OrderRec* po = self._new_order(sym, side, mode, q, typ, price, stop, tf)
        po.sl = sl
        po.tp = tp
        po.tag = tag_index
        if mode != SZ_QTY:
            self._estimate(po)
        if client_id is not None and self.dedupe:
            if self.bloom is None:
                self.bloom = self.bloom_factory()   # built on the first client id only
                po = &self.orders.back()
            if client_id in self.bloom:
                self._reject(po, "duplicate_client_id")
                return po.id
            self.bloom.add(client_id)
        if self.risk is not None:
            view = self._order_view(po)
            if client_id is not None:
                (<Order>view).client_id = client_id
            why = self.risk.check(view, self.acct)
            po = &self.orders.back()
            if why is not None:
                self._reject(po, str(why))
                return po.id
        if self.has_latency:
            lat = self._draw_latency()
            po = &self.orders.back()
            po.arrival = self.now + <int64_t>(lat * 1e9)
        if tf == TIF_DAY:
            po.expire = self._day_end(self.now)
        self.pending[sym].push_back(po.id - 1)
        return po.id

    cdef int64_t _day_end(self, int64_t ts) except? -2:
        if self.expire_fn is None:
            return (ts // 86400_000_000_000 + 1) * 86400_000_000_000 - 1
        return self.expire_fn(ts)

    cdef bint _cancel(self, int64_t order_id, int why) except -1:
        if order_id < 1 or order_id > <int64_t>self.orders.size():
            return False
        cdef OrderRec* o = &self.orders[order_id - 1]
        if o.status != ST_PENDING and not (o.status == ST_PARTIAL and self._is_waiting(o)):
            return False
        o.status = ST_CANCELLED
        o.reason = self._reason("cancelled" if why == 1 else ("oco" if why == 2 else "end_of_data"))
        return True

    cdef inline bint _is_waiting(self, OrderRec* o) noexcept:
        cdef size_t k
        cdef vector[int64_t]* pl = &self.pending[o.sym]
        for k in range(pl.size()):
            if pl[0][k] == o.id - 1:
                return True
        return False

    cdef list _open_orders(self, object symbol):
        out = []
        cdef int32_t lo = 0, hi = <int32_t>self.pending.size(), s
        cdef size_t k
        cdef OrderRec* o
        if symbol is not None:
            lo = self._sym(symbol)
            hi = lo + 1
        for s in range(lo, hi):
            for k in range(self.pending[s].size()):
                o = &self.orders[self.pending[s][k]]
                if o.status == ST_PENDING or o.status == ST_PARTIAL:
                    out.append(self._order_view(o))
        return out

    # ------------------------------------------------------------------ execution
    cdef double _fill_qty_for(self, OrderRec* o, double px) except? -1:
        """Resolves a size/target order into a signed quantity at fill price `px` (0: nothing)."""
        cdef SymState* p = &self.pf.st[o.sym]
        cdef double q = p.qty, eq, avail, target, fee_close, per
        per = px * (1.0 + self.fee_rate)
        if o.size_mode == SZ_TARGET_QTY:
            target = o.qty
            if self.whole:
                target = copysign(floor(fabs(target)), target)
            return target - q
        # equity with this symbol marked at the fill price
        eq = self.pf.cash + self.pf._market_value() + (q * (px - p.last) if q != 0 else 0.0)
        if o.size_mode == SZ_TARGET_PCT:
            if o.qty == 0:
                return -q
            if q != 0 and (q > 0) != (o.qty > 0):
                fee_close = fabs(q) * px * self.fee_rate + self.fee_fixed
                avail = eq - fee_close - self.pf._margin_except(o.sym)
                target = fabs(o.qty) * avail / per
            else:
                avail = eq - self.pf._margin_except(o.sym)
                target = fabs(o.qty) * avail / per
            if target < 0:
                target = 0
            if self.whole:
                target = floor(target)
            return copysign(target, o.qty) - q
        # SZ_FRACTION: a fraction of the buying power left after the other positions and this one
        if q != 0 and (q > 0) != (o.side > 0):
            # an order against the position: closes it, then the fraction of what is left
            fee_close = fabs(q) * px * self.fee_rate + self.fee_fixed
            avail = eq - fee_close - self.pf._margin_except(o.sym)
            target = o.qty * avail / per
            if self.whole:
                target = floor(target)
            return o.side * (fabs(q) + max(target, 0.0))
        avail = eq - self.pf._margin_except(o.sym) - fabs(q) * px
        target = o.qty * avail / per
        if self.whole:
            target = floor(target)
        return o.side * max(target, 0.0)

    cdef int _book_fill(self, OrderRec* o, double ref, double want, double* got_qty, double* got_px) except -1:
        """Executes a market order of `want` (signed) against a book of finite depth built around
        `ref`; returns the filled quantity and its average price."""
        cdef order_book* b = self.books[o.sym]
        cdef int i
        cdef double half = ref * self.spread / 2.0
        cdef double best_ask = ceil((ref + half) / self.tick_size - 1e-9) * self.tick_size
        cdef double best_bid = floor((ref - half) / self.tick_size + 1e-9) * self.tick_size
        cdef int64_t base = 1_000_000_000
        cdef int64_t lid
        cdef size_t k, nf
        cdef double fq = 0, fn = 0
        self.liq_ids.clear()
        b.clear_output()
        for i in range(self.levels):
            lid = base + 2 * i
            book_submit(b[0], -1, T_LIMIT, TIF_GTC, self.depth, best_ask + i * self.tick_size, NAN, lid, 1, False, self.now)
            self.liq_ids.push_back(lid)
            if best_bid - i * self.tick_size > 0:
                lid = base + 2 * i + 1
                book_submit(b[0], 1, T_LIMIT, TIF_GTC, self.depth, best_bid - i * self.tick_size, NAN, lid, 1, False, self.now)
                self.liq_ids.push_back(lid)
        b.clear_output()
        book_submit(b[0], 1 if want > 0 else -1, T_MARKET, TIF_IOC, fabs(want), NAN, NAN, o.id, 2, False, self.now)
        nf = b.fills().size()
        for k in range(nf):
            fq += b.fills()[k].quantity
            fn += b.fills()[k].quantity * b.fills()[k].price
        for k in range(self.liq_ids.size()):
            book_cancel(b[0], self.liq_ids[k], self.now)
        b.clear_output()
        got_qty[0] = fq
        got_px[0] = fn / fq if fq > 0 else NAN
        return 0

    cdef double _direction_of(self, OrderRec* o, double ref) except? -2:
        """The sign of the trade a waiting order makes now (+1 / -1; 0 for nothing to do)."""
        if o.size_mode == SZ_QTY or o.resolved or o.size_mode == SZ_FRACTION:
            return o.side
        return _sign(self._fill_qty_for(o, ref))

    cdef int _execute(self, OrderRec* o, double ref, bint market) except -1:
        """Fills order `o` at reference price `ref`. A market fill pays half the spread and the
        slippage and, with finite depth, walks the book built around `ref`; a limit or stop fill
        happens at `ref` itself."""
        cdef double want, px, qty, fee, got_q = 0, got_px = NAN, d, new_q, cash_after, eq_after, gross_after
        cdef int8_t side
        cdef int64_t oid = o.id
        cdef SymState* p = &self.pf.st[o.sym]
        cdef bint partial = False
        # the signed quantity still to trade
        if o.size_mode == SZ_QTY or o.resolved:
            want = o.side * (o.qty - o.filled)
        else:
            d = self._direction_of(o, ref)
            px = ref * (1.0 + d * (self.spread / 2.0 + self.slippage)) if market else ref
            want = self._fill_qty_for(o, px)
            if fabs(want) <= EPS_QTY:
                o.status = ST_CANCELLED
                o.reason = self._reason("nothing_to_trade")
                o.side = o.est_side
                o.qty = 0.0
                o.resolved = 1
                return 0
            o.side = 1 if want > 0 else -1
            o.qty = fabs(want)
            o.resolved = 1
        side = 1 if want > 0 else -1
        if not self.allow_short and side < 0 and p.qty + want < -EPS_QTY:
            want = -max(p.qty, 0.0)
            if fabs(want) <= EPS_QTY:
                return self._reject(o, "short_not_allowed")
        cdef int attempt
        cdef double deficit, cut
        for attempt in range(4):
            if market and isfinite(self.depth):
                self._book_fill(o, ref, want, &got_q, &got_px)
                if got_q <= 0:
                    return 0
                px = got_px * (1.0 + side * self.slippage)
                qty = got_q
                partial = got_q < fabs(want) - EPS_QTY
            else:
                px = ref * (1.0 + side * (self.spread / 2.0 + self.slippage)) if market else ref
                qty = fabs(want)
            fee = qty * px * self.fee_rate + self.fee_fixed
            # 100 % margin: an order that adds exposure must leave equity >= gross exposure
            p = &self.pf.st[o.sym]
            new_q = p.qty + side * qty
            if fabs(new_q) <= fabs(p.qty) + EPS_QTY:
                break
            cash_after = self.pf.cash - side * qty * px - fee
            eq_after = cash_after + self.pf._market_value() + new_q * px - (p.qty * p.last if p.qty != 0 else 0.0)
            gross_after = self.pf._margin_except(o.sym) + fabs(new_q) * px
            deficit = gross_after - eq_after
            if deficit <= 1e-9 * max(1.0, fabs(gross_after)):
                break
            if o.size_mode != SZ_QTY and o.filled == 0 and attempt < 3:
                # an order sized from the account ("all of it", a target): the prices the book
                # charges exceed the estimate; trade what the account can pay instead
                cut = deficit / (px * (1.0 + self.fee_rate))
                qty = fabs(want) - cut
                if self.whole:
                    qty = floor(qty)
                if qty > EPS_QTY:
                    want = side * qty
                    o.qty = qty
                    continue
            if o.filled == 0:
                self._reject(o, "insufficient_cash")
            else:
                o.status = ST_PARTIAL
                o.reason = self._reason("insufficient_cash")
            if self.risk is not None:
                self.risk.record_reject(self.now, "insufficient_cash")
            return 0
        self._book(oid, o.sym, side, qty, px, fee)
        o = &self.orders[oid - 1]
        o.filled += qty
        o.notional += qty * px
        if o.filled >= o.qty - EPS_QTY * max(1.0, o.qty):
            o.status = ST_FILLED
        else:
            o.status = ST_PARTIAL
            if not (partial and self.carry_partial):
                o.reason = self._reason("depth")
        self._after_fill(o)
        if self.call_fill:
            self.on_fill_py(self.fill_cls(self.now, oid, self.pf.symbols[self.orders[oid - 1].sym], side, qty, px, fee))
        return 0

    cdef int _after_fill(self, OrderRec* o) except -1:
        """Cancels the other leg of an OCO pair; activates a filled entry's bracket."""
        cdef int64_t oid = o.id, sl_id = 0, tp_id = 0
        cdef int32_t sym = o.sym
        cdef int8_t exit_side = -o.side
        cdef double sl = o.sl, tp = o.tp, qty = o.filled
        if o.oco != 0:
            self._cancel(o.oco, 2)
        o = &self.orders[oid - 1]
        if o.status != ST_FILLED or (isnan(sl) and isnan(tp)):
            return 0
        o.sl = NAN
        o.tp = NAN
        if not isnan(sl):
            sl_id = self._submit_exit(sym, exit_side, qty, T_STOP, NAN, sl)
        if not isnan(tp):
            tp_id = self._submit_exit(sym, exit_side, qty, T_LIMIT, tp, NAN)
        if sl_id and tp_id:
            self.orders[sl_id - 1].oco = tp_id
            self.orders[tp_id - 1].oco = sl_id
        return 0

    cdef OrderRec* _new_order(self, int32_t sym, int side, int mode, double q, int typ, double price,
                              double stop, int tf) except NULL:
        """Appends an order sent now (pending, no bracket, no tag) and returns it; the pointer
        holds until the next order is appended."""
        cdef OrderRec o
        o.id = <int64_t>self.orders.size() + 1
        o.ts = self.now; o.arrival = self.now; o.expire = -1; o.oco = 0; o.sym = sym
        o.tag = -1; o.reason = 0; o.side = side; o.type = typ; o.tif = tf; o.size_mode = mode
        o.status = ST_PENDING; o.triggered = 0; o.resolved = mode == SZ_QTY; o.qty = q; o.price = price
        o.stop = stop; o.sl = NAN; o.tp = NAN; o.filled = 0; o.notional = 0
        o.est_qty = q; o.est_side = side if side != 0 else 1
        self.orders.push_back(o)
        return &self.orders.back()

    cdef int64_t _submit_exit(self, int32_t sym, int8_t side, double qty, int typ, double price, double stop) except -1:
        cdef OrderRec* o = self._new_order(sym, side, SZ_QTY, qty, typ, price, stop, TIF_GTC)
        self.pending[sym].push_back(o.id - 1)
        return o.id

    cdef int _limit(self, OrderRec* o, const MarketEvent* ev) except -1:
        """A limit order on one bar: a gap through the limit fills at the open, a touch at the limit."""
        if o.side > 0:
            if ev.open <= o.price:
                self._execute(o, ev.open, False)
            elif ev.low <= o.price:
                self._execute(o, o.price, False)
        else:
            if ev.open >= o.price:
                self._execute(o, ev.open, False)
            elif ev.high >= o.price:
                self._execute(o, o.price, False)
        return 0

    cdef int _try_order(self, OrderRec* o, const MarketEvent* ev) except -1:
        """Tries to fill a waiting order on event `ev` of its symbol. Returns 1 when the order no
        longer waits."""
        cdef int64_t oid = o.id
        cdef double trig
        if o.status != ST_PENDING and o.status != ST_PARTIAL:
            return 1
        if o.expire >= 0 and ev.ts > o.expire:
            o.status = ST_EXPIRED
            o.reason = self._reason("expired")
            return 1
        # eligibility: a market order under the close policy trades on the close of the first
        # event at or after its arrival; everything else needs an event strictly after it
        if o.type == T_MARKET and self.policy == FILL_CLOSE:
            if ev.ts < o.arrival:
                return 0
            self._execute(o, ev.close, True)
        elif ev.ts <= o.arrival:
            return 0
        elif o.type == T_MARKET:
            self._execute(o, ev.open, True)
        elif o.type == T_LIMIT:
            self._limit(o, ev)
        elif o.triggered:
            self._limit(o, ev)          # a triggered stop-limit rests as a limit
        elif (o.side > 0 and ev.high >= o.stop) or (o.side < 0 and ev.low <= o.stop):
            o.triggered = 1
            # a gap through the stop trades at the open, a touch at the stop
            if o.side > 0:
                trig = ev.open if ev.open >= o.stop else o.stop
            else:
                trig = ev.open if ev.open <= o.stop else o.stop
            if o.type == T_STOP:
                self._execute(o, trig, True)    # a triggered stop trades as a market order
            elif (o.side > 0 and trig <= o.price) or (o.side < 0 and trig >= o.price):
                self._execute(o, trig, False)
        o = &self.orders[oid - 1]
        if o.status == ST_PENDING and o.tif == TIF_IOC:
            o.status = ST_CANCELLED
            o.reason = self._reason("ioc")
        if o.status == ST_PARTIAL and (o.tif == TIF_IOC or not self.carry_partial):
            return 1
        return 0 if (o.status == ST_PENDING or o.status == ST_PARTIAL) else 1

    cdef int _process_orders(self, const MarketEvent* ev) except -1:
        """Gives every waiting order of the event's symbol its chance, in submission order (a
        one-cancels-other pair in the order the intrabar policy says)."""
        cdef vector[int64_t] lst
        cdef size_t k
        cdef OrderRec* o
        lst.swap(self.pending[ev.symbol])
        if lst.size() > 1:
            self._order_oco(lst, ev)
        for k in range(lst.size()):
            o = &self.orders[lst[k]]
            if not self._try_order(o, ev):
                self.pending[ev.symbol].push_back(lst[k])
        return 0

    cdef void _order_oco(self, vector[int64_t]& lst, const MarketEvent* ev) noexcept:
        """Puts each OCO pair (a bracket's stop-loss and take-profit) in the order its legs trade
        in this bar: a leg the open already went through first; otherwise the stop first when
        pessimistic, the take-profit first when optimistic."""
        cdef size_t i, j
        cdef int64_t tmp
        cdef OrderRec* a
        cdef OrderRec* b
        cdef bint a_first
        for i in range(lst.size()):
            for j in range(i + 1, lst.size()):
                a = &self.orders[lst[i]]
                b = &self.orders[lst[j]]
                if a.oco != b.id:
                    continue
                if self._gapped(a, ev):
                    a_first = True
                elif self._gapped(b, ev):
                    a_first = False
                else:
                    a_first = (a.type != T_LIMIT) == self.pessimistic
                if not a_first:
                    tmp = lst[i]; lst[i] = lst[j]; lst[j] = tmp

    cdef inline bint _gapped(self, OrderRec* o, const MarketEvent* ev) noexcept:
        if o.type == T_LIMIT:
            return ev.open <= o.price if o.side > 0 else ev.open >= o.price
        return ev.open >= o.stop if o.side > 0 else ev.open <= o.stop

    # ------------------------------------------------------------------ the loop
    cdef int _step_end(self, int64_t ts) noexcept:
        cdef double eq = self.pf._equity()
        self.eq_ts.push_back(ts)
        self.eq_cash.push_back(self.pf.cash)
        self.eq_equity.push_back(eq)
        self.eq_gross.push_back(self.pf._gross())
        self.eq_net.push_back(self.pf._market_value())
        if eq > self.pf.peak_equity:
            self.pf.peak_equity = eq
        self.n_steps += 1
        return 0

    cdef int _on_event(self, const MarketEvent* ev) except -1:
        cdef SymState* p = &self.pf.st[ev.symbol]
        cdef int64_t t0 = 0
        cdef size_t n_orders_before
        if self.probe:
            t0 = nt_bt_now_ns()
            n_orders_before = self.orders.size()
        self.now = ev.ts
        self.cur_sym = ev.symbol
        self.pf._accrue(ev.ts)
        p.nbars += 1
        if self.pending[ev.symbol].size() > 0:
            self._process_orders(ev)
            p = &self.pf.st[ev.symbol]
        p.ts = ev.ts; p.open = ev.open; p.high = ev.high; p.low = ev.low; p.close = ev.close
        p.volume = ev.volume; p.last = ev.close; p.seen = True
        if self.c_hook:
            self.strat._c_event(ev)
        elif self.ticks:
            if self.call_tick:
                self.on_tick_py(Tick(ev.ts, self.pf.symbols[ev.symbol], ev.close, ev.volume, ev.side, ev.symbol))
        elif self.call_bar:
            self.on_bar_py(Bar(ev.ts, self.pf.symbols[ev.symbol], ev.open, ev.high, ev.low, ev.close,
                               ev.volume, ev.symbol))
        # fill-at-close policy, no latency: orders of this event trade on its close now
        if self.policy == FILL_CLOSE and self.pending[ev.symbol].size() > 0:
            self._process_close(ev)
        if self.probe:
            self.probe_all.push_back(nt_bt_now_ns() - t0)
            if self.orders.size() > n_orders_before:
                self.probe_orders.push_back(self.probe_all.back())
        return 0

    cdef int _process_close(self, const MarketEvent* ev) except -1:
        """Close policy: the market orders this event produced (zero latency) trade on its close."""
        cdef vector[int64_t] lst
        cdef size_t k
        cdef OrderRec* o
        lst.swap(self.pending[ev.symbol])
        for k in range(lst.size()):
            o = &self.orders[lst[k]]
            if o.type == T_MARKET and o.arrival <= ev.ts:
                if self._try_order(o, ev):
                    continue
            self.pending[ev.symbol].push_back(lst[k])
        return 0

    def run_chunk(self, const unsigned char[::1] buf, object progress=None, const int64_t[::1] sessions=None):
        """Runs the loop over the events in `buf` (MARKET_EVENT_DTYPE bytes) through an SPSC ring
        buffer fed by a producer thread. `sessions`: the calendar session id of each event."""
        cdef size_t rec = sizeof(MarketEvent)
        cdef size_t n = buf.shape[0] // rec
        self.sessions = NULL
        if sessions is not None:
            if <size_t>sessions.shape[0] != n:
                raise _errors.InvalidArgumentError("one session id per event")
            if n:
                self.sessions = &sessions[0]
            if self.last_session.size() != self.pending.size():
                self.last_session.assign(self.pending.size(), -2)
        # one equity row per distinct timestamp: at most one per event
        cdef size_t want = self.eq_ts.size() + n + 1
        if self.eq_ts.capacity() < want:
            self.eq_ts.reserve(want); self.eq_cash.reserve(want); self.eq_equity.reserve(want)
            self.eq_gross.reserve(want); self.eq_net.reserve(want)
        return self._run_ring(&buf[0] if n else NULL, n, progress)

    cdef object _run_ring(self, const unsigned char* data, size_t n, object progress):
        import threading
        cdef spsc_record_ring* ring = new spsc_record_ring(1 << 14, sizeof(MarketEvent))
        cdef size_t got = 0, i, done_since = 0, total = 0
        cdef const MarketEvent* evs
        cdef backoff bo
        cdef int64_t prev_ts = self.step_ts
        # a chunk that fits the ring is pushed at once; a larger one by a producer thread that
        # waits for room while this loop drains
        cdef bint threaded = n > (1 << 14)
        producer = None
        if threaded:
            producer = threading.Thread(target=_produce, args=(<size_t>ring, <size_t>data, n), daemon=True)
        cdef bint in_events = False
        try:
            if threaded:
                producer.start()
            else:
                if n:
                    ring.push_many(data, n)
                ring.close()
            try:
                while True:
                    evs = <const MarketEvent*>ring.peek(4096, got)
                    if got == 0:
                        if ring.drained():
                            break
                        with nogil:
                            bo.wait()
                        continue
                    bo.reset()
                    in_events = True
                    for i in range(got):
                        if evs[i].ts != prev_ts:
                            if self.n_events > 0:
                                if evs[i].ts < prev_ts:
                                    raise _errors.InvalidArgumentError(
                                        f"events go back in time: {evs[i].ts} after {prev_ts}")
                                self._step_end(prev_ts)
                            prev_ts = evs[i].ts
                            self.step_ts = prev_ts
                        if self.sessions != NULL:
                            self.session = self.sessions[total + i]
                            self.new_session = self.session != self.last_session[evs[i].symbol]
                            self.last_session[evs[i].symbol] = self.session
                        self._on_event(&evs[i])
                        self.n_events += 1
                    in_events = False
                    ring.consume(got)
                    total += got
                    done_since += got
                    if done_since >= 65536:
                        PyErr_CheckSignals()
                        if progress is not None:
                            progress(done_since)
                        done_since = 0
                if progress is not None and done_since:
                    progress(done_since)
            except Exception as exc:
                if in_events and hasattr(exc, "add_note"):
                    exc.add_note(f"raised while handling the event at ts={evs[i].ts} "
                                 f"(symbol {self.pf.symbols[evs[i].symbol]!r})")
                raise
        finally:
            ring.close()
            if producer is not None:
                producer.join()
            del ring
        return total

    def finish(self, int64_t last_ts):
        """Closes the last step, cancels what still waits and (optionally) closes the positions."""
        cdef size_t s, k
        cdef OrderRec* o
        cdef int32_t sym
        cdef double q
        for s in range(self.pending.size()):
            for k in range(self.pending[s].size()):
                o = &self.orders[self.pending[s][k]]
                if o.status == ST_PENDING:
                    o.status = ST_CANCELLED
                    o.reason = self._reason("end_of_data")
            self.pending[s].clear()
        if self.n_events == 0:
            return
        self.now = last_ts
        if self.close_at_end:
            for sym in range(<int32_t>self.pf.st.size()):
                q = self.pf.st[sym].qty
                if fabs(q) > EPS_QTY:
                    self._close_at_last(sym, last_ts)
        self._step_end(last_ts)

    cdef int _close_at_last(self, int32_t sym, int64_t ts) except -1:
        cdef double q = self.pf.st[sym].qty
        cdef double px = self.pf.st[sym].open if self.close_at_end == 2 else self.pf.st[sym].last
        cdef int8_t side = -1 if q > 0 else 1
        self.tags.append("close_at_end")
        cdef OrderRec* o = self._new_order(sym, side, SZ_QTY, fabs(q), T_MARKET, NAN, NAN, TIF_GTC)
        o.tag = len(self.tags) - 1
        o.status = ST_FILLED
        o.filled = fabs(q)
        o.notional = fabs(q) * px
        self._book(o.id, sym, side, fabs(q), px, fabs(q) * px * self.fee_rate + self.fee_fixed)
        return 0

    cdef int _book(self, int64_t order_id, int32_t sym, int8_t side, double qty, double px, double fee) except -1:
        """Books one fill: the ledger, and the fill record."""
        cdef FillRec f
        self.pf._apply_fill(sym, side, qty, px, fee, self.now)
        f.ts = self.now; f.order_id = order_id; f.sym = sym; f.side = side; f.qty = qty; f.price = px; f.fee = fee
        self.fills.push_back(f)
        return 0

    def start(self):
        self.strat.on_start()
        self.strat._c_start()

    def end(self):
        self.strat.on_end()

    def equity_arrays(self):
        cdef size_t n = self.eq_ts.size()
        return (np.asarray(<int64_t[:n]>self.eq_ts.data()).copy() if n else np.zeros(0, np.int64),
                np.asarray(<double[:n]>self.eq_cash.data()).copy() if n else np.zeros(0),
                np.asarray(<double[:n]>self.eq_equity.data()).copy() if n else np.zeros(0),
                np.asarray(<double[:n]>self.eq_gross.data()).copy() if n else np.zeros(0),
                np.asarray(<double[:n]>self.eq_net.data()).copy() if n else np.zeros(0))

    def fill_arrays(self):
        cdef size_t n = self.fills.size(), i
        ts = np.empty(n, np.int64); oid = np.empty(n, np.int64); sym = np.empty(n, np.int32)
        side = np.empty(n, np.int8); qty = np.empty(n); px = np.empty(n); fee = np.empty(n)
        cdef int64_t[:] vts = ts, voi = oid
        cdef int32_t[:] vs = sym
        cdef int8_t[:] vsd = side
        cdef double[:] vq = qty, vp = px, vf = fee
        for i in range(n):
            vts[i] = self.fills[i].ts; voi[i] = self.fills[i].order_id; vs[i] = self.fills[i].sym
            vsd[i] = self.fills[i].side; vq[i] = self.fills[i].qty; vp[i] = self.fills[i].price
            vf[i] = self.fills[i].fee
        return ts, oid, sym, side, qty, px, fee

    def order_arrays(self):
        cdef size_t n = self.orders.size(), i
        cols = {k: np.empty(n, t) for k, t in (("order_id", np.int64), ("ts", np.int64), ("arrival_ts", np.int64),
                                               ("symbol", np.int32), ("side", np.int8), ("type", np.int8),
                                               ("quantity", np.float64), ("price", np.float64),
                                               ("stop_price", np.float64), ("status", np.int8),
                                               ("filled_quantity", np.float64), ("avg_price", np.float64),
                                               ("reason", np.int32), ("tag", np.int32), ("tif", np.int8))}
        cdef int64_t[:] a_id = cols["order_id"], a_ts = cols["ts"], a_arr = cols["arrival_ts"]
        cdef int32_t[:] a_sym = cols["symbol"], a_reason = cols["reason"], a_tag = cols["tag"]
        cdef int8_t[:] a_side = cols["side"], a_type = cols["type"], a_status = cols["status"], a_tif = cols["tif"]
        cdef double[:] a_q = cols["quantity"], a_p = cols["price"], a_s = cols["stop_price"]
        cdef double[:] a_f = cols["filled_quantity"], a_ap = cols["avg_price"]
        cdef OrderRec* o
        for i in range(n):
            o = &self.orders[i]
            a_id[i] = o.id; a_ts[i] = o.ts; a_arr[i] = o.arrival; a_sym[i] = o.sym
            if o.size_mode != SZ_QTY and not o.resolved:
                a_side[i] = o.est_side; a_q[i] = o.est_qty
            else:
                a_side[i] = o.side if o.side != 0 else 1
                a_q[i] = o.qty
            a_type[i] = o.type; a_p[i] = o.price; a_s[i] = o.stop
            a_status[i] = o.status; a_f[i] = o.filled; a_ap[i] = o.notional / o.filled if o.filled > 0 else NAN
            a_reason[i] = o.reason; a_tag[i] = o.tag; a_tif[i] = o.tif
        return cols, list(self.reasons), list(self.tags)

    def latency_arrays(self):
        cdef size_t n = self.probe_all.size(), m = self.probe_orders.size()
        return (np.asarray(<int64_t[:n]>self.probe_all.data()).copy() if n else np.zeros(0, np.int64),
                np.asarray(<int64_t[:m]>self.probe_orders.data()).copy() if m else np.zeros(0, np.int64))


def pack_events(const int64_t[::1] ts, const int32_t[::1] symbol, const double[::1] open,
                const double[::1] high, const double[::1] low, const double[::1] close,
                const double[::1] volume, const int8_t[::1] side):
    """MARKET_EVENT_DTYPE records from column arrays of one length, in one pass."""
    cdef Py_ssize_t n = ts.shape[0], i
    if not (symbol.shape[0] == open.shape[0] == high.shape[0] == low.shape[0] == close.shape[0]
            == volume.shape[0] == side.shape[0] == n):
        raise _errors.InvalidArgumentError("event columns differ in length")
    out = np.empty(n, MARKET_EVENT_DTYPE)
    cdef unsigned char[::1] raw = out.view(np.uint8)
    cdef MarketEvent* ev = <MarketEvent*>&raw[0] if n else NULL
    with nogil:
        for i in range(n):
            ev[i].ts = ts[i]; ev[i].symbol = symbol[i]; ev[i].open = open[i]; ev[i].high = high[i]
            ev[i].low = low[i]; ev[i].close = close[i]; ev[i].volume = volume[i]; ev[i].side = side[i]
    return out


def _produce(size_t ring_addr, size_t data_addr, size_t n):
    """The producer thread: pushes `n` events into the ring, waiting (GIL released) for room;
    stops early if the consumer closes the ring."""
    cdef spsc_record_ring* ring = <spsc_record_ring*>ring_addr
    cdef const unsigned char* data = <const unsigned char*>data_addr
    cdef size_t off = 0, k
    cdef backoff bo
    with nogil:
        while off < n and not ring.closed():
            k = ring.push_many(data + off * sizeof(MarketEvent), min(n - off, <size_t>4096))
            if k == 0:
                bo.wait()
            else:
                bo.reset()
                off += k
        ring.close()


include "bt_strategies.pxi"
include "bt_vector.pxi"
