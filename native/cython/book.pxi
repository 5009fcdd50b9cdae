# The order book's Python classes (included at the end of _engine.pyx).
#
# nt.OrderBook is a Cython class over the C++ book (book/order_book.hpp): one submit() from
# Python must cost a few hundred nanoseconds including its report, out of a pybind11 method's
# reach. process() replays a structured array of messages in C++ with the GIL released.
# The rules of the book are written out in python/neural_trader/book.py.
cimport cython
from cpython.buffer cimport PyBUF_FORMAT, PyBUF_ND, PyBUF_STRIDES
from cpython.float cimport PyFloat_AS_DOUBLE, PyFloat_AsDouble
from cpython.long cimport PyLong_AsDouble
from cpython.number cimport PyIndex_Check, PyNumber_Index
from libc.math cimport NAN as _BOOK_NAN, isnan as _isnan
from libc.stdint cimport int8_t, int32_t, int64_t, uint8_t
from libc.string cimport memcpy as _book_memcpy
from libcpp.string cimport string as _book_string
from libcpp.vector cimport vector as _book_vector

from book cimport (
    book_bytes,
    book_call,
    book_cancel,
    book_clone,
    book_depth,
    book_find,
    book_has_best,
    book_best,
    book_last,
    book_load,
    book_modify,
    book_new,
    book_order,
    book_orders,
    book_process,
    book_submit,
    book_validate,
    book_volume_at,
    book_move_output,
    book_self_trade,
    block_cache,
    event_record,
    event_vector,
    fill_record,
    fill_vector,
    order_book,
    order_msg,
)

from neural_trader import _book_types as _bt

_Side = _bt.Side
_OrderType = _bt.OrderType
_TIF = _bt.TIF
_STP = _bt.STP
_Reason = _bt.Reason
_EventKind = _bt.EventKind
_SIDE_BY_CODE = {1: _Side.BUY, -1: _Side.SELL}
_TYPES = tuple(_OrderType)
_TIFS = tuple(_TIF)
_REASONS = tuple(_Reason)
_KINDS = tuple(_EventKind)
_STATUS = ("none", "rejected", "resting", "pending", "filled", "cancelled")
cdef dict _TIF_CODES = {}
cdef dict _TYPE_CODES = {}
for _m in _TIF:
    _TIF_CODES[_m.name] = int(_m)
    _TIF_CODES[_m.name.lower()] = int(_m)
for _m in _OrderType:
    _TYPE_CODES[_m.name] = int(_m)
    _TYPE_CODES[_m.name.lower()] = int(_m)
cdef dict _SIDE_CODES = {"buy": 1, "sell": -1, "BUY": 1, "SELL": -1, "Buy": 1, "Sell": -1}
# submit()'s default time in force, compared by identity before any lookup.
cdef object _GTC = "GTC"
cdef int _GTC_CODE = _TIF_CODES["GTC"]

cdef char* _FORMAT_B = b"B"
cdef int64_t _CHUNK = 1 << 18  # messages between Ctrl-C checks in process()

# The argument parsers below take the exact-type fast path first (a per-call budget of a few
# hundred nanoseconds leaves no room for enum constructors or generic attribute lookups).


cdef inline int _side_code(object side) except 0:
    cdef long v
    cdef object code
    if type(side) is str:
        code = _SIDE_CODES.get(side)
        if code is not None:
            return <int>code
        return _bt.parse_side(side)
    if isinstance(side, int) and not isinstance(side, bool):
        v = side
        if v == 1 or v == -1:
            return <int>v
        raise _errors.InvalidArgumentError(f"side must be +1 (buy) or -1 (sell), not {v}")
    return _bt.parse_side(side)


cdef inline int _code(object value, dict codes, object enum_type, int count, const char* what) except -1:
    cdef long v
    cdef object code
    if type(value) is str:
        code = codes.get(value)
        if code is not None:
            return <int>code
    elif isinstance(value, int) and not isinstance(value, bool):
        v = value
        if 0 <= v < count:
            return <int>v
        raise _errors.InvalidArgumentError(f"unknown {what.decode()} code {v}")
    return _bt.parse_enum(value, enum_type, what.decode())


cdef inline double _real(object x, const char* what) except? -1.0:
    if type(x) is float:
        return PyFloat_AS_DOUBLE(x)
    if type(x) is int:
        return PyLong_AsDouble(x)
    if isinstance(x, (str, bytes, bool)) or not (isinstance(x, float) or PyIndex_Check(x) or hasattr(x, "__float__")):
        raise _errors.DTypeError(f"{what.decode()} must be a number, not {type(x).__name__}")
    return PyFloat_AsDouble(x)


cdef inline int64_t _index(object x, const char* what) except? -2:
    if type(x) is int:
        return x
    if isinstance(x, bool) or not PyIndex_Check(x):
        raise _errors.DTypeError(f"{what.decode()} must be an int, not {type(x).__name__}")
    return PyNumber_Index(x)


cdef inline int64_t _ts(object ts) except? -2:
    if ts is None:
        return 0
    return _index(ts, b"ts (nanoseconds since the epoch)")


cdef inline int64_t _order_id(object order_id, const char* what) except? -2:
    if order_id is None:
        return -1
    cdef int64_t v = _index(order_id, what)
    if v < 0:
        raise _errors.InvalidArgumentError(f"{what.decode()} must be >= 0, got {v}")
    return v


@cython.final
@cython.freelist(16)
cdef class Fill:
    """One trade: ``maker_id`` (the resting order), ``taker_id`` (the incoming one), ``price``
    and ``quantity`` in the book's caller units, ``ts`` and the taker's ``side``."""

    cdef readonly int64_t ts
    cdef readonly int64_t maker_id
    cdef readonly int64_t taker_id
    cdef readonly double price
    cdef readonly double quantity
    cdef int8_t _side

    def __init__(self, int64_t ts, int64_t maker_id, int64_t taker_id, double price, double quantity, side):
        self.ts = ts
        self.maker_id = maker_id
        self.taker_id = taker_id
        self.price = price
        self.quantity = quantity
        self._side = _side_code(side)

    @property
    def side(self):
        """The aggressor's (taker's) side."""
        return _SIDE_BY_CODE[self._side]

    def _key(self):
        return (self.ts, self.maker_id, self.taker_id, self.price, self.quantity, self._side)

    def __eq__(self, other):
        if not isinstance(other, Fill):
            return NotImplemented
        return self._key() == (<Fill>other)._key()

    def __hash__(self):
        return hash(self._key())

    def __reduce__(self):
        return (Fill, (self.ts, self.maker_id, self.taker_id, self.price, self.quantity, int(self._side)))

    def __repr__(self):
        return (f"Fill(maker_id={self.maker_id}, taker_id={self.taker_id}, price={self.price!r}, "
                f"quantity={self.quantity!r}, side={self.side.name.lower()!r}, ts={self.ts})")


@cython.final
@cython.freelist(16)
cdef class Event:
    """One order event: ``kind`` (nt.EventKind), ``reason`` (nt.Reason), the order's ``order_id``,
    ``side``, ``type``, limit ``price`` (NaN if none) and ``quantity`` (see nt.EVENT_DTYPE)."""

    cdef readonly int64_t ts
    cdef readonly int64_t order_id
    cdef readonly double price
    cdef readonly double quantity
    cdef uint8_t _kind
    cdef uint8_t _reason
    cdef int8_t _side
    cdef uint8_t _type

    def __init__(self, int64_t ts, int64_t order_id, kind, reason, side, order_type, double price, double quantity):
        self.ts = ts
        self.order_id = order_id
        self._kind = int(_EventKind(kind))
        self._reason = int(_Reason(reason))
        self._side = int(side)
        self._type = int(_OrderType(order_type))
        self.price = price
        self.quantity = quantity

    @property
    def kind(self):
        """What happened (nt.EventKind)."""
        return _KINDS[self._kind]

    @property
    def reason(self):
        """The reason (nt.Reason.NONE for accepted / triggered / modified)."""
        return _REASONS[self._reason]

    @property
    def side(self):
        """The order's side (None for a rejected cancel or modify of an unknown id)."""
        return _SIDE_BY_CODE.get(self._side)

    @property
    def type(self):
        """The order's type (nt.OrderType; a fired stop trades as MARKET / LIMIT)."""
        return _TYPES[self._type]

    def _key(self):
        return (self.ts, self.order_id, self._kind, self._reason, self._side, self._type, self.price, self.quantity)

    def __eq__(self, other):
        if not isinstance(other, Event):
            return NotImplemented
        a = self._key()
        b = (<Event>other)._key()
        # NaN prices compare equal here: two events about the same thing are equal.
        return a[:6] == b[:6] and all(x == y or (x != x and y != y) for x, y in zip(a[6:], b[6:]))

    def __hash__(self):
        return hash(self._key()[:6])

    def __reduce__(self):
        return (Event, (self.ts, self.order_id, int(self._kind), int(self._reason), int(self._side), int(self._type),
                        self.price, self.quantity))

    def __repr__(self):
        parts = [f"{self.kind.name.lower()}", f"order_id={self.order_id}"]
        if self._reason:
            parts.append(f"reason={self.reason.name.lower()!r}")
        if self._side in (1, -1):
            parts.append(f"side={self.side.name.lower()!r}")
        if self.price == self.price:
            parts.append(f"price={self.price!r}")
        if self.quantity == self.quantity:
            parts.append(f"quantity={self.quantity!r}")
        parts.append(f"ts={self.ts}")
        return "Event(" + ", ".join(parts) + ")"


cdef Fill _fill_obj(const fill_record& f):
    cdef Fill o = Fill.__new__(Fill)
    o.ts = f.ts
    o.maker_id = f.maker_id
    o.taker_id = f.taker_id
    o.price = f.price
    o.quantity = f.quantity
    o._side = f.side
    return o


cdef Event _event_obj(const event_record& e):
    cdef Event o = Event.__new__(Event)
    o.ts = e.ts
    o.order_id = e.order_id
    o.price = e.price
    o.quantity = e.quantity
    o._kind = e.kind
    o._reason = e.reason
    o._side = e.side
    o._type = e.type
    return o


@cython.final
@cython.no_gc
@cython.freelist(8)
cdef class Report:
    """What one call on a book did.

    ``order_id`` (the id the book gave it when none was asked for), ``status`` of that order after
    the call ("rejected", "resting", "pending" (a stop waiting), "filled", "cancelled"; "none"
    from ``end_of_day``), ``reason`` (nt.Reason: why it was rejected or cancelled, else None),
    ``accepted``, ``fills`` (every trade the call caused, including those of stops it triggered,
    as nt.Fill), ``events`` (nt.Event, in the order they happened), ``filled_quantity`` and
    ``avg_price`` of this order's own trades in this call. ``fills_array()`` / ``events_array()``
    give the same as FILL_DTYPE / EVENT_DTYPE arrays.
    """

    cdef readonly int64_t order_id
    cdef int _status
    cdef int _reason
    # The usual call makes one or two events and a few fills: they live inline in the object
    # (no allocation); longer outputs go to the vectors.
    cdef size_t _nf
    cdef size_t _ne
    cdef fill_record _f[4]
    cdef event_record _e[4]
    cdef fill_vector _fills
    cdef event_vector _events
    cdef object _fills_t
    cdef object _events_t

    def __init__(self):
        raise TypeError("Report objects are made by OrderBook calls")

    cdef inline const fill_record* _fill_ptr(self):
        if self._nf <= 4:
            return &self._f[0]
        return self._fills.data()

    cdef inline const event_record* _event_ptr(self):
        if self._ne <= 4:
            return &self._e[0]
        return self._events.data()

    @property
    def status(self):
        """The order's state after the call: "rejected", "resting", "pending", "filled", "cancelled"
        ("none" for end_of_day)."""
        return _STATUS[self._status]

    @property
    def reason(self):
        """Why it was rejected or cancelled (nt.Reason), else None."""
        return _REASONS[self._reason] if self._reason else None

    @property
    def accepted(self):
        """False when the call was rejected (the book is then unchanged)."""
        return self._status != 1

    @property
    def fills(self):
        """Every trade the call caused (tuple of nt.Fill), in order."""
        cdef size_t i
        cdef const fill_record* p
        if self._fills_t is None:
            p = self._fill_ptr()
            self._fills_t = tuple([_fill_obj(p[i]) for i in range(self._nf)])
        return self._fills_t

    @property
    def events(self):
        """Every order event the call caused (tuple of nt.Event), in order."""
        cdef size_t i
        cdef const event_record* p
        if self._events_t is None:
            p = self._event_ptr()
            self._events_t = tuple([_event_obj(p[i]) for i in range(self._ne)])
        return self._events_t

    cdef double _own_fills(self, double* notional):
        """Quantity (returned) and price x quantity (into notional) of this order's own fills."""
        cdef double q = 0.0, pq = 0.0
        cdef size_t i
        cdef const fill_record* p = self._fill_ptr()
        for i in range(self._nf):
            if p[i].taker_id == self.order_id or p[i].maker_id == self.order_id:
                q += p[i].quantity
                pq += p[i].quantity * p[i].price
        notional[0] = pq
        return q

    @property
    def filled_quantity(self):
        """Quantity this order traded in this call (as taker or maker)."""
        cdef double pq
        return self._own_fills(&pq)

    @property
    def avg_price(self):
        """Volume-weighted price of this order's trades in this call (None without any)."""
        cdef double pq
        cdef double q = self._own_fills(&pq)
        return pq / q if q > 0 else None

    def fills_array(self):
        """The fills as a FILL_DTYPE array."""
        return _records_array(self._fill_ptr(), self._nf * sizeof(fill_record), self._nf, _bt.FILL_DTYPE)

    def events_array(self):
        """The events as an EVENT_DTYPE array."""
        return _records_array(self._event_ptr(), self._ne * sizeof(event_record), self._ne, _bt.EVENT_DTYPE)

    def __bool__(self):
        return self._status != 1

    def __reduce__(self):
        return (_report_restore, (self.order_id, self._status, self._reason,
                                  bytes(self.fills_array().data), bytes(self.events_array().data)))

    def __repr__(self):
        parts = [f"order_id={self.order_id}", f"status={self.status!r}"]
        if self._reason:
            parts.append(f"reason={self.reason.name.lower()!r}")
        if self._nf:
            parts.append(f"fills={self._nf}")
            q = self.filled_quantity
            if q:
                parts.append(f"filled_quantity={q!r}, avg_price={self.avg_price!r}")
        return "Report(" + ", ".join(parts) + ")"


cdef Report _report(order_book* b, book_call c):
    cdef Report r = Report.__new__(Report)
    cdef size_t nf = b.fills().size()
    cdef size_t ne = b.events().size()
    r.order_id = c.order_id
    r._status = c.status
    r._reason = c.why if c.status == 1 or c.status == 5 else 0
    r._nf = nf
    r._ne = ne
    if nf <= 4:
        if nf:
            _book_memcpy(&r._f[0], b.fills().data(), nf * sizeof(fill_record))
    else:
        r._fills.swap(b.fills())
    if ne <= 4:
        if ne:
            _book_memcpy(&r._e[0], b.events().data(), ne * sizeof(event_record))
    else:
        r._events.swap(b.events())
    return r


def _block_cache_set_limit(size_t nbytes):
    """This module's output block cache (see nt.set_output_cache_limit): sets the limit, returns
    the old one."""
    return block_cache.instance().set_limit(nbytes)


def _block_cache_info():
    """This module's output block cache: limit, held bytes and blocks, hits and misses."""
    cdef block_cache.stats st = block_cache.instance().get_stats()
    return {"limit": st.limit, "held_bytes": st.held_bytes, "held_blocks": st.held_blocks,
            "hits": st.hits, "misses": st.misses}


def _report_restore(int64_t order_id, int status, int reason, bytes fills, bytes events):
    """Rebuilds a pickled Report."""
    if not (0 <= status < len(_STATUS)) or not (0 <= reason < len(_REASONS)) \
            or len(fills) % sizeof(fill_record) or len(events) % sizeof(event_record):
        raise _errors.CorruptDataError("corrupt pickled Report")
    cdef Report r = Report.__new__(Report)
    cdef size_t nf = len(fills) // sizeof(fill_record)
    cdef size_t ne = len(events) // sizeof(event_record)
    cdef const unsigned char* pf = fills
    cdef const unsigned char* pe = events
    r.order_id = order_id
    r._status = status
    r._reason = reason
    r._nf = nf
    r._ne = ne
    if nf <= 4:
        if nf:
            _book_memcpy(&r._f[0], pf, nf * sizeof(fill_record))
    else:
        r._fills.resize(nf)
        _book_memcpy(r._fills.data(), pf, nf * sizeof(fill_record))
    if ne <= 4:
        if ne:
            _book_memcpy(&r._e[0], pe, ne * sizeof(event_record))
    else:
        r._events.resize(ne)
        _book_memcpy(r._events.data(), pe, ne * sizeof(event_record))
    return r


cdef object _records_array(const void* data, size_t nbytes, size_t n, object dtype):
    import numpy as _np
    out = _np.empty(n, dtype=dtype)
    cdef unsigned char[::1] raw
    if n:
        raw = out.view(_np.uint8)
        _book_memcpy(&raw[0], data, nbytes)
    return out


@cython.final
cdef class _RecordBuffer:
    """Owns the fills or events a call produced (moved out of the book, not copied) and lends
    their bytes to NumPy through the buffer protocol: the arrays process() returns are views
    that keep this owner alive."""

    cdef fill_vector _fills
    cdef event_vector _events
    cdef bint _is_fills
    cdef Py_ssize_t _shape[1]
    cdef Py_ssize_t _strides[1]

    def __getbuffer__(self, Py_buffer* view, int flags):
        cdef size_t nbytes = self._fills.size() * sizeof(fill_record) if self._is_fills else \
            self._events.size() * sizeof(event_record)
        cdef void* data = <void*>self._fills.data() if self._is_fills else <void*>self._events.data()
        self._shape[0] = nbytes
        self._strides[0] = 1
        view.buf = data
        view.obj = self
        view.len = nbytes
        view.readonly = 0
        view.itemsize = 1
        view.format = _FORMAT_B if (flags & PyBUF_FORMAT) else NULL
        view.ndim = 1
        view.shape = NULL
        view.strides = NULL
        if flags & PyBUF_ND:
            view.shape = self._shape
        if (flags & PyBUF_STRIDES) == PyBUF_STRIDES:
            view.strides = self._strides
        view.suboffsets = NULL
        view.internal = NULL

    def __releasebuffer__(self, Py_buffer* view):
        pass


cdef object _fills_to_array(fill_vector& v, bint steal=False):
    """FILL_DTYPE array of v: a copy, or with steal=True a view of v's memory (v is emptied)."""
    import numpy as _np
    cdef _RecordBuffer holder
    if steal and v.size():
        holder = _RecordBuffer.__new__(_RecordBuffer)
        holder._is_fills = True
        holder._fills.swap(v)
        return _np.frombuffer(holder, dtype=_bt.FILL_DTYPE)
    return _records_array(v.data(), v.size() * sizeof(fill_record), v.size(), _bt.FILL_DTYPE)


cdef object _events_to_array(event_vector& v, bint steal=False):
    """EVENT_DTYPE array of v: a copy, or with steal=True a view of v's memory (v is emptied)."""
    import numpy as _np
    cdef _RecordBuffer holder
    if steal and v.size():
        holder = _RecordBuffer.__new__(_RecordBuffer)
        holder._is_fills = False
        holder._events.swap(v)
        return _np.frombuffer(holder, dtype=_bt.EVENT_DTYPE)
    return _records_array(v.data(), v.size() * sizeof(event_record), v.size(), _bt.EVENT_DTYPE)


cdef int _check_grid(double v, const char* what) except -1:
    if not (v > 0 and v < float("inf")):
        raise _errors.InvalidArgumentError(f"{what.decode()} must be a positive finite number, got {v!r}")
    return 0


cdef object _opt_price(double v):
    return None if _isnan(v) else v


cdef class OrderBook:
    """A price-time priority limit order book and matching engine for one symbol.

    OrderBook(tick_size=0.01, lot_size=1.0, *, self_trade="cancel_newest")

    Prices must lie on the ``tick_size`` grid and quantities on the ``lot_size`` grid (which may
    be fractional, e.g. 0.001): a value within 1e-9 (relative) of a grid point is that point;
    anything else is rejected with a reason (OFF_TICK / OFF_LOT), never rounded. ``self_trade``
    (nt.STP) decides what happens when two orders of the same ``owner`` would trade.

    Every action returns a :class:`Report` (accepted or rejected with its reason, the fills and
    events it caused); business rejections leave the book unchanged, API misuse (wrong types,
    unknown enum names) raises. ``process(messages)`` replays a structured array
    (nt.ORDER_MSG_DTYPE) in C++ and returns fills and events as arrays. The rules (order types,
    TIF, post-only, self-trade prevention, stops, modify) are in ``help(nt.book)``.

    Not thread-safe: use one book from one thread at a time. Pickles and copies exactly
    (``to_bytes`` / ``from_bytes``: versioned and checksummed).
    """

    cdef order_book* _b
    cdef object _symbol

    def __cinit__(self, *args, **kwargs):
        self._b = NULL

    def __init__(self, tick_size=0.01, lot_size=1.0, *, self_trade="cancel_newest"):
        cdef double tick = _real(tick_size, b"tick_size")
        cdef double lot = _real(lot_size, b"lot_size")
        _check_grid(tick, b"tick_size")
        _check_grid(lot, b"lot_size")
        cdef int mode = _bt.parse_enum(self_trade, _STP, "self_trade")
        if self._b != NULL:
            del self._b
            self._b = NULL
        self._b = book_new(tick, lot, mode)
        self._symbol = None

    def __dealloc__(self):
        if self._b != NULL:
            del self._b

    cdef inline order_book* _book(self) except NULL:
        if self._b == NULL:
            raise _errors.InvalidArgumentError("OrderBook was not initialised")
        return self._b

    # ------------------------------------------------------------------ actions
    def submit(self, side, quantity, price=None, *, order_type=None, tif=_GTC, order_id=None, owner=None,
               stop_price=None, post_only=False, ts=None):
        """submit(side, quantity, price=None, *, order_type=None, tif="GTC", order_id=None, owner=None, stop_price=None, post_only=False, ts=None) -> Report

        Submit an order. ``side``: nt.Side or "buy"/"sell". ``order_type`` (nt.OrderType or its
        name) defaults to LIMIT when a price is given and MARKET when not (STOP / STOP_LIMIT
        when ``stop_price`` is given without / with a price). ``tif``: nt.TIF or its name.
        ``order_id``: a non-negative int, or None for the book's next free id. ``owner``: a
        non-negative int for self-trade prevention, or None. ``ts``: event time, int64 ns
        (0 if None).
        """
        cdef order_book* b = self._book()
        cdef int sd = _side_code(side)
        cdef double q = _real(quantity, b"quantity")
        cdef double px = _BOOK_NAN
        cdef double stop = _BOOK_NAN
        cdef int tp
        if price is not None:
            px = _real(price, b"price")
            if _isnan(px):
                px = float("inf")  # a NaN price is an invalid price, not "no price"
        if stop_price is not None:
            stop = _real(stop_price, b"stop_price")
            if _isnan(stop):
                stop = float("inf")
        if order_type is None:
            if stop_price is None:
                tp = 0 if price is not None else 1
            else:
                tp = 3 if price is not None else 2
        else:
            tp = _code(order_type, _TYPE_CODES, _OrderType, 4, b"order_type")
        cdef int tf = _GTC_CODE if tif is _GTC else _code(tif, _TIF_CODES, _TIF, 4, b"tif")
        cdef int64_t oid = _order_id(order_id, b"order_id")
        cdef int64_t own = _order_id(owner, b"owner")
        cdef int64_t t = _ts(ts)
        cdef bint po = post_only
        cdef book_call c
        b.clear_output()
        c = book_submit(b[0], sd, tp, tf, q, px, stop, oid, own, po, t)
        return _report(b, c)

    def cancel(self, order_id, *, ts=None):
        """cancel(order_id, *, ts=None) -> Report

        Cancel a resting order or a pending stop; an unknown or finished id gives a rejected
        report (reason UNKNOWN_ID)."""
        cdef order_book* b = self._book()
        cdef int64_t oid = _order_id(order_id, b"order_id")
        cdef int64_t t = _ts(ts)
        cdef book_call c
        b.clear_output()
        c = book_cancel(b[0], oid, t)
        return _report(b, c)

    def modify(self, order_id, *, quantity=None, price=None, stop_price=None, ts=None):
        """modify(order_id, *, quantity=None, price=None, stop_price=None, ts=None) -> Report

        Change a live order. ``quantity`` is the new *open* quantity. Reducing the quantity at the
        same price keeps the order's time priority; a price change or an increase loses it (the
        order goes to the back of its new level, and may trade at once if the new price crosses).
        """
        cdef order_book* b = self._book()
        cdef int64_t oid = _order_id(order_id, b"order_id")
        cdef double q = _BOOK_NAN
        cdef double px = _BOOK_NAN
        cdef double stop = _BOOK_NAN
        if quantity is not None:
            q = _real(quantity, b"quantity")
            if _isnan(q):
                q = -1.0
        if price is not None:
            px = _real(price, b"price")
            if _isnan(px):
                px = float("inf")
        if stop_price is not None:
            stop = _real(stop_price, b"stop_price")
            if _isnan(stop):
                stop = float("inf")
        cdef int64_t t = _ts(ts)
        cdef book_call c
        b.clear_output()
        c = book_modify(b[0], oid, q, px, stop, t)
        return _report(b, c)

    def end_of_day(self, ts=None):
        """end_of_day(ts=None) -> Report

        Expire every DAY order (resting or pending), in time priority order; the report's events
        list them."""
        cdef order_book* b = self._book()
        cdef int64_t t = _ts(ts)
        cdef book_call c
        c.order_id = -1
        c.status = 0
        c.why = 0
        b.clear_output()
        b.end_of_day(t)
        return _report(b, c)

    def process(self, messages):
        """process(messages) -> Replay(fills, events)

        Replay messages (nt.ORDER_MSG_DTYPE, or any structured array / DataFrame / dict of
        columns named like its fields) in C++ with the GIL released; returns the fills
        (nt.FILL_DTYPE) and events (nt.EVENT_DTYPE), whose ``msg`` field is the index of the
        message that caused them. Ctrl-C stops between chunks of 262,144 messages (the messages
        before the stop stay applied)."""
        cdef order_book* b = self._book()
        arr = _bt.as_messages(messages)
        b.clear_output()
        _run_messages(b, arr, 0)
        out = _bt.Replay(_fills_to_array(b.fills(), True), _events_to_array(b.events(), True))
        b.clear_output()
        return out

    # ------------------------------------------------------------------ queries
    @property
    def symbol(self):
        """The symbol this book trades in an Exchange (None for a lone book)."""
        return self._symbol

    @property
    def tick_size(self):
        """Price grid step (caller units)."""
        return self._book().tick_size()

    @property
    def lot_size(self):
        """Quantity grid step (caller units)."""
        return self._book().lot_size()

    @property
    def self_trade(self):
        """The self-trade prevention mode (nt.STP)."""
        return _STP(book_self_trade(self._book()[0]))

    @property
    def best_bid(self):
        """Highest bid price, or None when there are no bids."""
        cdef order_book* b = self._book()
        return book_best(b[0], 1) if book_has_best(b[0], 1) else None

    @property
    def best_ask(self):
        """Lowest ask price, or None when there are no asks."""
        cdef order_book* b = self._book()
        return book_best(b[0], -1) if book_has_best(b[0], -1) else None

    @property
    def spread(self):
        """best_ask - best_bid, or None when a side is empty."""
        cdef order_book* b = self._book()
        if book_has_best(b[0], 1) and book_has_best(b[0], -1):
            return book_best(b[0], -1) - book_best(b[0], 1)
        return None

    @property
    def mid(self):
        """(best_bid + best_ask) / 2, or None when a side is empty."""
        cdef order_book* b = self._book()
        if book_has_best(b[0], 1) and book_has_best(b[0], -1):
            return 0.5 * (book_best(b[0], -1) + book_best(b[0], 1))
        return None

    @property
    def last_price(self):
        """Price of the last trade (what stops trigger on), or None before the first."""
        cdef order_book* b = self._book()
        return book_last(b[0]) if b.has_last_price() else None

    def depth(self, levels=10):
        """depth(levels=10) -> Depth

        Aggregated L2: per side up to ``levels`` price levels, best first, as NumPy arrays
        (price, total quantity, number of orders)."""
        import numpy as _np
        cdef order_book* b = self._book()
        if isinstance(levels, bool) or not isinstance(levels, (int, _np.integer)):
            raise _errors.DTypeError(f"levels must be an int, not {type(levels).__name__}")
        if levels < 0:
            raise _errors.InvalidArgumentError(f"levels must be >= 0, got {levels}")
        cdef size_t n = min(<size_t>levels, b.size() + 1)
        res = []
        cdef double[::1] px
        cdef double[::1] qty
        cdef int64_t[::1] cnt
        cdef size_t k
        for sd in (1, -1):
            p = _np.empty(n, dtype=_np.float64)
            q = _np.empty(n, dtype=_np.float64)
            c = _np.empty(n, dtype=_np.int64)
            px = p
            qty = q
            cnt = c
            k = book_depth(b[0], sd, n, &px[0] if n else NULL, &qty[0] if n else NULL, &cnt[0] if n else NULL)
            res.append((p[:k], q[:k], c[:k]))
        return _bt.Depth(res[0][0], res[0][1], res[1][0], res[1][1], res[0][2], res[1][2])

    def plot_depth(self, levels=20, *, ax=None):
        """plot_depth(levels=20, *, ax=None) -> matplotlib Axes

        Cumulative depth chart of up to ``levels`` price levels per side (needs matplotlib:
        ``pip install 'neural-trader[plot]'``)."""
        from neural_trader._book_plot import plot_depth
        title = f"{self._symbol} depth" if self._symbol is not None else "order book depth"
        return plot_depth(self.depth(levels), ax=ax, title=title)

    def volume_at(self, price):
        """Total open quantity resting at ``price`` (either side; 0.0 if none). An off-tick price
        raises ValueError."""
        cdef order_book* b = self._book()
        cdef int ok = 0
        cdef double v = book_volume_at(b[0], _real(price, b"price"), &ok)
        if not ok:
            raise _errors.InvalidArgumentError(f"price {price!r} is not on the tick grid ({b.tick_size()!r})")
        return v

    def order(self, order_id):
        """order(order_id) -> OrderInfo | None

        The live order (resting or a pending stop) with this id, or None when there is none (never
        submitted, or already filled, cancelled or expired: the reports said so)."""
        cdef order_book* b = self._book()
        cdef book_order o
        if not book_find(b[0], _order_id(order_id, b"order_id"), &o):
            return None
        return _order_info(o)

    def orders(self):
        """orders() -> ndarray[BOOK_ORDER_DTYPE]

        L3 snapshot of every live order: bids best to worst (time priority within a price), then
        asks best to worst, then pending stops in time priority."""
        import numpy as _np
        cdef order_book* b = self._book()
        cdef size_t n = b.size()
        cdef _book_vector[book_order] buf
        buf.resize(n)
        n = book_orders(b[0], buf.data(), n)
        out = _np.empty(n, dtype=_bt.BOOK_ORDER_DTYPE)
        cdef int64_t[::1] ids = _np.empty(n, _np.int64), owners = _np.empty(n, _np.int64), tss = _np.empty(n, _np.int64)
        cdef int8_t[::1] sides = _np.empty(n, _np.int8)
        cdef uint8_t[::1] types = _np.empty(n, _np.uint8), tifs = _np.empty(n, _np.uint8)
        cdef uint8_t[::1] posts = _np.empty(n, _np.uint8), pend = _np.empty(n, _np.uint8)
        cdef double[::1] prices = _np.empty(n, _np.float64), stops = _np.empty(n, _np.float64)
        cdef double[::1] qtys = _np.empty(n, _np.float64)
        cdef size_t i
        for i in range(n):
            ids[i] = buf[i].id
            owners[i] = buf[i].owner
            tss[i] = buf[i].ts
            sides[i] = buf[i].side
            types[i] = buf[i].type
            tifs[i] = buf[i].tif
            posts[i] = buf[i].post_only
            pend[i] = buf[i].pending
            prices[i] = buf[i].price
            stops[i] = buf[i].stop_price
            qtys[i] = buf[i].quantity
        out["id"] = ids
        out["owner"] = owners
        out["side"] = sides
        out["type"] = types
        out["tif"] = tifs
        out["post_only"] = _np.asarray(posts).astype(bool)
        out["pending"] = _np.asarray(pend).astype(bool)
        out["price"] = prices
        out["stop_price"] = stops
        out["quantity"] = qtys
        out["ts"] = tss
        return out

    def validate(self):
        """Check every internal invariant (levels sorted and not crossed, volumes and counts equal
        to their orders, FIFO by arrival within a level, the id index one-to-one with the
        orders); raises RuntimeError naming what is broken. For tests and debugging: O(orders)."""
        cdef _book_string why = book_validate(self._book()[0])
        if why.size():
            raise RuntimeError("order book invariant broken: " + why.decode())

    def __len__(self):
        """Number of live orders (resting and pending stops)."""
        return self._book().size()

    def __contains__(self, order_id):
        if isinstance(order_id, bool) or not isinstance(order_id, int):
            return False
        return order_id >= 0 and self._book().contains(order_id)

    def __repr__(self):
        cdef order_book* b = self._book()
        bid = self.best_bid
        ask = self.best_ask
        sym = f"symbol={self._symbol!r}, " if self._symbol is not None else ""
        return (f"OrderBook({sym}tick_size={b.tick_size()!r}, lot_size={b.lot_size()!r}, orders={b.size()}, "
                f"best_bid={bid!r}, best_ask={ask!r}, last_price={self.last_price!r})")

    # ------------------------------------------------------------------ persistence
    def to_bytes(self):
        """Snapshot of the whole book (parameters, every live order in priority order, the last
        trade price, id and sequence counters): versioned, checksummed bytes."""
        cdef _book_vector[unsigned char] v = book_bytes(self._book()[0])
        return (<char*>v.data())[:v.size()] if v.size() else b""

    @classmethod
    def from_bytes(cls, data):
        """Rebuild a book from ``to_bytes()``; corrupted or truncated input raises
        nt.errors.CorruptDataError."""
        cdef const unsigned char[::1] view
        if isinstance(data, str):
            raise _errors.DTypeError("from_bytes takes bytes, not str")
        try:
            view = memoryview(data).cast("B")
        except TypeError:
            raise _errors.DTypeError(f"from_bytes takes bytes, not {type(data).__name__}") from None
        cdef OrderBook out = OrderBook.__new__(OrderBook)
        out._b = book_load(&view[0] if view.shape[0] else NULL, view.shape[0])
        out._symbol = None
        return out

    def copy(self):
        """An independent copy of the book."""
        cdef OrderBook out = OrderBook.__new__(OrderBook)
        out._b = book_clone(self._book()[0])
        out._symbol = self._symbol
        return out

    def __copy__(self):
        return self.copy()

    def __deepcopy__(self, memo):
        return self.copy()

    def __reduce__(self):
        return (OrderBook.from_bytes, (self.to_bytes(),))


cdef object _order_info(const book_order& o):
    return _bt.OrderInfo(
        id=o.id, side=_SIDE_BY_CODE[o.side], type=_TYPES[o.type], tif=_TIFS[o.tif],
        price=_opt_price(o.price), stop_price=_opt_price(o.stop_price), quantity=o.quantity,
        owner=o.owner if o.owner >= 0 else None, post_only=bool(o.post_only),
        status="pending" if o.pending else "resting", queue_ahead=o.ahead, ts=o.ts)


cdef int _run_messages(order_book* b, object arr, int32_t symbol) except -1:
    """Applies every message of a C-contiguous ORDER_MSG_DTYPE array to one book."""
    import numpy as _np
    cdef Py_ssize_t n = len(arr)
    if n == 0:
        return 0
    cdef const unsigned char[::1] raw = arr.view(_np.uint8)
    cdef const unsigned char* p = &raw[0]
    cdef int64_t start = 0, stop
    b.reserve_output(<size_t>n)  # once for the whole stream, not per chunk
    while start < n:
        stop = min(start + _CHUNK, n)
        with nogil:
            book_process(b[0], p + start * 64, <size_t>(stop - start), start)
        start = stop
        PyErr_CheckSignals()
    return 0


cdef class Exchange:
    """Order books for many symbols behind one interface.

    ``add_symbol(symbol, tick_size, lot_size)`` makes a book and returns the symbol's index (the
    ``symbol`` column of messages, fills and events); ``submit`` / ``cancel`` / ``modify`` take
    the symbol (name or index) first and return the book's :class:`Report`; ``process(messages)``
    replays a mixed stream in C++, routing each message by its ``symbol`` column;
    ``end_of_day()`` expires DAY orders in every book.
    """

    cdef list _books
    cdef list _names
    cdef dict _index

    def __init__(self):
        self._books = []
        self._names = []
        self._index = {}

    def add_symbol(self, symbol, tick_size=0.01, lot_size=1.0, *, self_trade="cancel_newest"):
        """add_symbol(symbol, tick_size=0.01, lot_size=1.0, *, self_trade="cancel_newest") -> int"""
        if not isinstance(symbol, (str, int)) or isinstance(symbol, bool):
            raise _errors.DTypeError(f"symbol must be a str or an int, not {type(symbol).__name__}")
        if symbol in self._index:
            raise _errors.InvalidArgumentError(f"symbol {symbol!r} already exists")
        if len(self._books) >= 2**31 - 1:
            raise _errors.InvalidArgumentError("too many symbols")
        cdef OrderBook book = OrderBook(tick_size, lot_size, self_trade=self_trade)
        cdef int32_t idx = len(self._books)
        book._b.set_context(-1, idx)
        book._symbol = symbol
        self._books.append(book)
        self._names.append(symbol)
        self._index[symbol] = idx
        return idx

    @property
    def symbols(self):
        """The symbols, in index order."""
        return tuple(self._names)

    def symbol_index(self, symbol):
        """The index of a symbol (its value in the ``symbol`` columns)."""
        return self._index_of(symbol)

    cdef int32_t _index_of(self, symbol) except -1:
        idx = self._index.get(symbol)
        if idx is None:
            raise _errors.InvalidArgumentError(f"unknown symbol {symbol!r}; add it with add_symbol()")
        return idx

    def book(self, symbol):
        """The OrderBook of a symbol (the live object, not a copy)."""
        return self._books[self._index_of(symbol)]

    def submit(self, symbol, *args, **kwargs):
        """submit(symbol, side, quantity, price=None, **options) -> Report (see OrderBook.submit)"""
        return (<OrderBook>self._books[self._index_of(symbol)]).submit(*args, **kwargs)

    def cancel(self, symbol, order_id, *, ts=None):
        """cancel(symbol, order_id, *, ts=None) -> Report"""
        return (<OrderBook>self._books[self._index_of(symbol)]).cancel(order_id, ts=ts)

    def modify(self, symbol, order_id, **kwargs):
        """modify(symbol, order_id, *, quantity=None, price=None, stop_price=None, ts=None) -> Report"""
        return (<OrderBook>self._books[self._index_of(symbol)]).modify(order_id, **kwargs)

    def end_of_day(self, ts=None):
        """end_of_day(ts=None) -> dict[symbol, Report]: expire DAY orders in every book."""
        return {name: (<OrderBook>book).end_of_day(ts) for name, book in zip(self._names, self._books)}

    def process(self, messages):
        """process(messages) -> Replay(fills, events)

        Replay a stream for many symbols (nt.ORDER_MSG_DTYPE; ``symbol`` = index from
        add_symbol) in C++ with the GIL released. An unknown symbol index raises before any
        message is applied."""
        import numpy as _np
        arr = _bt.as_messages(messages)
        cdef Py_ssize_t n = len(arr)
        cdef int32_t nbooks = len(self._books)
        if n:
            sym = arr["symbol"]
            bad = _np.flatnonzero((sym < 0) | (sym >= nbooks))
            if len(bad):
                raise _errors.InvalidArgumentError(
                    f"message {int(bad[0])} has symbol index {int(sym[bad[0]])}; this exchange has {nbooks} symbols")
        cdef _book_vector[order_book*] books
        cdef OrderBook ob
        for ob in self._books:
            books.push_back(ob._book())
            ob._b.clear_output()
        cdef const unsigned char[::1] raw
        cdef const order_msg* msgs
        cdef int64_t start = 0, stop, i
        cdef order_book* target
        cdef fill_vector fills
        cdef event_vector events
        if n:
            raw = arr.view(_np.uint8)
            msgs = <const order_msg*>&raw[0]
            while start < n:
                stop = min(start + _CHUNK, n)
                with nogil:
                    for i in range(start, stop):
                        target = books[msgs[i].symbol]
                        target.set_context(i, msgs[i].symbol)
                        target.apply(msgs[i])
                        # Keep the streams in message order across books.
                        book_move_output(target[0], fills, events)
                start = stop
                PyErr_CheckSignals()
        for ob in self._books:
            ob._b.set_context(-1, ob._b.symbol())
        return _bt.Replay(_fills_to_array(fills, True), _events_to_array(events, True))

    def __len__(self):
        return len(self._books)

    def __contains__(self, symbol):
        return symbol in self._index

    def __repr__(self):
        return f"Exchange(symbols={list(self._names)!r})"

    def __reduce__(self):
        books = [(name, (<OrderBook>b).to_bytes()) for name, b in zip(self._names, self._books)]
        return (_exchange_restore, (books,))


def _exchange_restore(books):
    cdef Exchange ex = Exchange()
    cdef OrderBook ob
    for name, data in books:
        ob = OrderBook.from_bytes(data)
        ob._b.set_context(-1, len(ex._books))
        ob._symbol = name
        ex._index[name] = len(ex._books)
        ex._books.append(ob)
        ex._names.append(name)
    return ex
