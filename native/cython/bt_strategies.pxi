# The built-in strategies: Cython subclasses of Strategy whose per-event hook runs without a
# Python call. Each keeps one set of streaming indicators (the core's state machines, the same
# ones nt.ta.stream wraps) per symbol. Included from _backtest.pyx.
from libcpp.memory cimport unique_ptr


cdef class _IndicatorSet:
    """Streaming indicators by symbol: one `indicator*` per (symbol, slot)."""
    cdef vector[indicator*] ind
    cdef int slots

    def __dealloc__(self):
        cdef size_t i
        for i in range(self.ind.size()):
            del self.ind[i]

    cdef int make(self, int nsym, list specs) except -1:
        cdef int s, k
        cdef string name
        cdef vector[double] params
        self.slots = len(specs)
        for s in range(nsym):
            for k in range(self.slots):
                name = specs[k][0].encode()
                params = specs[k][1]
                self.ind.push_back(ta_make(name, params))
        return 0

    cdef inline indicator* at(self, int sym, int slot) noexcept:
        return self.ind[sym * self.slots + slot]


cdef inline double _update1(indicator* p, double x) noexcept:
    cdef double out[4]
    p.update(&x, out, False)
    return out[0]


cdef class _TargetStrategy(Strategy):
    """Shared parts of the built-ins: a target position per symbol, sent as a target-percent
    order only when it changes."""
    cdef vector[double] target
    cdef vector[int64_t] last_order
    cdef public double size
    cdef public bint allow_short

    cdef bint _has_c_hook(self):
        return True

    cdef int _c_start(self) except -1:
        cdef int n = len(self._eng.pf.symbols)
        self.target.assign(n, 0.0)
        self.last_order.assign(n, 0)
        self._make(n)
        return 0

    cdef int _make(self, int nsym) except -1:
        return 0

    cdef int _go(self, int32_t sym, double direction) except -1:
        """Targets `direction` * size of equity in `sym` (direction +1, -1 or 0)."""
        if direction < 0 and not self.allow_short:
            direction = 0
        return self._send(sym, direction * self.size)

    cdef int _send(self, int32_t sym, double t) except -1:
        """Sends a target-percent order when the target changes, or when the last one for this
        symbol did not trade (rejected, cancelled: the position is not what the target says)."""
        cdef int64_t last = self.last_order[sym]
        cdef uint8_t st
        if last > 0:
            st = self._eng.orders[last - 1].status
            if st == ST_REJECTED or st == ST_CANCELLED or st == ST_EXPIRED:
                self.target[sym] = NAN
                self.last_order[sym] = 0
        if t == self.target[sym]:
            return 0
        self.target[sym] = t
        self.last_order[sym] = self._eng._submit(sym, 0, SZ_TARGET_PCT, t, T_MARKET, NAN, NAN, TIF_GTC,
                                                 NAN, NAN, None, None)
        return 0


cdef class MovingAverageCross(_TargetStrategy):
    """Momentum: long when the fast moving average crosses above the slow one, short (or flat
    with ``allow_short=False``) when it crosses below. A cross means ``fast[t-1] < slow[t-1]``
    and ``fast[t] > slow[t]`` (strictly; the reverse for a cross below), on closes.

    On a cross the position is closed and reversed into ``size`` of equity (1.0: all of it) at the
    next fill opportunity — backtesting.py's ``SmaCross`` example. ``kind`` is "sma" or "ema".
    """
    cdef readonly int fast, slow
    cdef readonly str kind
    cdef _IndicatorSet ind
    cdef vector[double] pf_, ps_

    def __init__(self, int fast=10, int slow=30, *, str kind="sma", double size=1.0, bint allow_short=True):
        if fast < 1 or slow < 1:
            raise _errors.InvalidArgumentError(f"periods must be >= 1, got fast={fast}, slow={slow}")
        if fast >= slow:
            raise _errors.InvalidArgumentError(f"fast ({fast}) must be shorter than slow ({slow})")
        if kind not in ("sma", "ema"):
            raise _errors.InvalidArgumentError(f"kind is 'sma' or 'ema', not {kind!r}")
        if not (0 < size <= 1):
            raise _errors.InvalidArgumentError(f"size is a fraction of equity in (0, 1], not {size!r}")
        Strategy.__init__(self, fast=fast, slow=slow, kind=kind, size=size, allow_short=allow_short)
        self.fast = fast; self.slow = slow; self.kind = kind; self.size = size; self.allow_short = allow_short

    cdef int _make(self, int nsym) except -1:
        self.ind = _IndicatorSet()
        self.ind.make(nsym, [(self.kind, [float(self.fast)]), (self.kind, [float(self.slow)])])
        self.pf_.assign(nsym, NAN)
        self.ps_.assign(nsym, NAN)
        return 0

    cdef int _c_event(self, const MarketEvent* ev) except -1:
        cdef int32_t s = ev.symbol
        cdef double f = _update1(self.ind.at(s, 0), ev.close)
        cdef double w = _update1(self.ind.at(s, 1), ev.close)
        cdef double f0 = self.pf_[s], w0 = self.ps_[s]
        self.pf_[s] = f
        self.ps_[s] = w
        if f0 < w0 and f > w:
            self._go(s, 1.0)
        elif f0 > w0 and f < w:
            self._go(s, -1.0)
        return 0

    def __repr__(self):
        return f"MovingAverageCross(fast={self.fast}, slow={self.slow}, kind={self.kind!r}, size={self.size})"

    def __reduce__(self):
        return (_rebuild, (type(self), (self.fast, self.slow), {"kind": self.kind, "size": self.size,
                                                                  "allow_short": self.allow_short}))


cdef class MeanReversion(_TargetStrategy):
    """Mean reversion on the rolling z-score of the close, ``z = (close - mean) / stdev`` over
    ``period`` bars (population stdev, as Bollinger Bands: ``entry_z`` is the band width):
    long below ``-entry_z``, short above ``+entry_z`` (flat instead with ``allow_short=False``),
    flat again once ``|z| < exit_z``."""
    cdef readonly int period
    cdef readonly double entry_z, exit_z
    cdef _IndicatorSet ind

    def __init__(self, int period=20, double entry_z=2.0, double exit_z=0.5, *, double size=1.0,
                 bint allow_short=True):
        if period < 2:
            raise _errors.InvalidArgumentError(f"period must be >= 2, not {period}")
        if not (entry_z > 0 and 0 <= exit_z < entry_z):
            raise _errors.InvalidArgumentError(f"need entry_z > 0 and 0 <= exit_z < entry_z, got {entry_z}, {exit_z}")
        if not (0 < size <= 1):
            raise _errors.InvalidArgumentError(f"size is a fraction of equity in (0, 1], not {size!r}")
        Strategy.__init__(self, period=period, entry_z=entry_z, exit_z=exit_z, size=size, allow_short=allow_short)
        self.period = period; self.entry_z = entry_z; self.exit_z = exit_z; self.size = size
        self.allow_short = allow_short

    cdef int _make(self, int nsym) except -1:
        self.ind = _IndicatorSet()
        self.ind.make(nsym, [("zscore", [float(self.period)])])
        return 0

    cdef int _c_event(self, const MarketEvent* ev) except -1:
        cdef int32_t s = ev.symbol
        cdef double z = _update1(self.ind.at(s, 0), ev.close)
        if isnan(z):
            return 0
        if z < -self.entry_z:
            self._go(s, 1.0)
        elif z > self.entry_z:
            self._go(s, -1.0)
        elif fabs(z) < self.exit_z:
            self._go(s, 0.0)
        return 0

    def __repr__(self):
        return f"MeanReversion(period={self.period}, entry_z={self.entry_z}, exit_z={self.exit_z}, size={self.size})"

    def __reduce__(self):
        return (_rebuild, (type(self), (self.period, self.entry_z, self.exit_z),
                           {"size": self.size, "allow_short": self.allow_short}))


cdef class RsiReversal(_TargetStrategy):
    """RSI (TA-Lib's, Wilder smoothing): long when RSI crosses up through ``lower`` (leaving
    oversold), short (or flat) when it crosses down through ``upper``, flat when it crosses 50
    against the position."""
    cdef readonly int period
    cdef readonly double lower, upper
    cdef _IndicatorSet ind
    cdef vector[double] prev

    def __init__(self, int period=14, double lower=30.0, double upper=70.0, *, double size=1.0,
                 bint allow_short=True):
        if period < 2:
            raise _errors.InvalidArgumentError(f"period must be >= 2, not {period}")
        if not (0 < lower < 50 < upper < 100):
            raise _errors.InvalidArgumentError(f"need 0 < lower < 50 < upper < 100, got {lower}, {upper}")
        if not (0 < size <= 1):
            raise _errors.InvalidArgumentError(f"size is a fraction of equity in (0, 1], not {size!r}")
        Strategy.__init__(self, period=period, lower=lower, upper=upper, size=size, allow_short=allow_short)
        self.period = period; self.lower = lower; self.upper = upper; self.size = size
        self.allow_short = allow_short

    cdef int _make(self, int nsym) except -1:
        self.ind = _IndicatorSet()
        self.ind.make(nsym, [("rsi", [float(self.period)])])
        self.prev.assign(nsym, NAN)
        return 0

    cdef int _c_event(self, const MarketEvent* ev) except -1:
        cdef int32_t s = ev.symbol
        cdef double r = _update1(self.ind.at(s, 0), ev.close)
        cdef double r0 = self.prev[s]
        self.prev[s] = r
        if isnan(r) or isnan(r0):
            return 0
        if r0 <= self.lower < r:
            self._go(s, 1.0)
        elif r0 >= self.upper > r:
            self._go(s, -1.0)
        elif self.target[s] > 0 and r0 >= 50 > r:
            self._go(s, 0.0)
        elif self.target[s] < 0 and r0 <= 50 < r:
            self._go(s, 0.0)
        return 0

    def __repr__(self):
        return f"RsiReversal(period={self.period}, lower={self.lower}, upper={self.upper}, size={self.size})"

    def __reduce__(self):
        return (_rebuild, (type(self), (self.period, self.lower, self.upper),
                           {"size": self.size, "allow_short": self.allow_short}))


cdef class PairsTrading(_TargetStrategy):
    """Pairs trading on two correlated symbols ``a`` and ``b``: the spread
    ``log(a) - beta * log(b)`` with ``beta`` the rolling OLS slope over ``lookback`` common
    timestamps; its z-score against the same window decides: above ``entry_z`` short the spread
    (short ``a``, long ``b``), below ``-entry_z`` long it, back inside ``exit_z`` flat. Each leg
    targets ``size / 2`` of equity. Acts only on timestamps where both symbols have a bar."""
    cdef readonly str a, b
    cdef readonly int lookback
    cdef readonly double entry_z, exit_z
    cdef int32_t ia, ib
    cdef vector[double] xs, ys
    cdef int64_t n, pos
    cdef double sx, sy, sxx, sxy, syy
    cdef int64_t ts_a, ts_b
    cdef double la, lb
    cdef int state

    def __init__(self, str a, str b, int lookback=60, double entry_z=2.0, double exit_z=0.5, *,
                 double size=1.0):
        if a == b:
            raise _errors.InvalidArgumentError("a pair needs two different symbols")
        if lookback < 3:
            raise _errors.InvalidArgumentError(f"lookback must be >= 3, not {lookback}")
        if not (entry_z > 0 and 0 <= exit_z < entry_z):
            raise _errors.InvalidArgumentError(f"need entry_z > 0 and 0 <= exit_z < entry_z, got {entry_z}, {exit_z}")
        Strategy.__init__(self, a=a, b=b, lookback=lookback, entry_z=entry_z, exit_z=exit_z, size=size)
        self.a = a; self.b = b; self.lookback = lookback; self.entry_z = entry_z; self.exit_z = exit_z
        self.size = size; self.allow_short = True

    cdef int _make(self, int nsym) except -1:
        self.ia = self._eng.pf._lookup(self.a)
        self.ib = self._eng.pf._lookup(self.b)
        self.xs.assign(self.lookback, 0.0)
        self.ys.assign(self.lookback, 0.0)
        self.n = 0; self.pos = 0
        self.sx = 0; self.sy = 0; self.sxx = 0; self.sxy = 0; self.syy = 0
        self.ts_a = -1; self.ts_b = -2
        self.state = 0
        return 0

    cdef int _c_event(self, const MarketEvent* ev) except -1:
        cdef double x, y, ox, oy, m, beta, mx, my, vx, cxy, vs, ms, spread, z, ssum, ssq, e
        cdef int64_t k, L = self.lookback
        if ev.symbol == self.ia:
            self.ts_a = ev.ts; self.la = log(ev.close)
        elif ev.symbol == self.ib:
            self.ts_b = ev.ts; self.lb = log(ev.close)
        else:
            return 0
        if self.ts_a != self.ts_b:
            return 0
        y = self.la; x = self.lb
        if self.n == L:
            ox = self.xs[self.pos]; oy = self.ys[self.pos]
            self.sx -= ox; self.sy -= oy; self.sxx -= ox * ox; self.sxy -= ox * oy; self.syy -= oy * oy
        else:
            self.n += 1
        self.xs[self.pos] = x; self.ys[self.pos] = y
        self.pos = (self.pos + 1) % L
        self.sx += x; self.sy += y; self.sxx += x * x; self.sxy += x * y; self.syy += y * y
        if self.n < L:
            return 0
        m = <double>L
        mx = self.sx / m; my = self.sy / m
        vx = self.sxx / m - mx * mx
        if vx <= 1e-18:
            return 0
        cxy = self.sxy / m - mx * my
        beta = cxy / vx
        # mean and variance of the spread y - beta x over the window, from the same sums
        ms = my - beta * mx
        vs = (self.syy / m - my * my) - 2 * beta * cxy + beta * beta * vx
        if vs <= 1e-18:
            return 0
        z = ((y - beta * x) - ms) / sqrt(vs)
        if self.state == 0:
            if z > self.entry_z:
                self.state = -1
            elif z < -self.entry_z:
                self.state = 1
            else:
                return 0
        elif fabs(z) < self.exit_z:
            self.state = 0
        else:
            return 0
        self._leg(self.ia, self.state)
        self._leg(self.ib, -self.state)
        return 0

    cdef int _leg(self, int32_t sym, int direction) except -1:
        return self._send(sym, direction * self.size / 2.0)

    def __repr__(self):
        return (f"PairsTrading(a={self.a!r}, b={self.b!r}, lookback={self.lookback}, entry_z={self.entry_z}, "
                f"exit_z={self.exit_z}, size={self.size})")

    def __reduce__(self):
        return (_rebuild, (type(self), (self.a, self.b, self.lookback, self.entry_z, self.exit_z),
                           {"size": self.size}))


cdef class SignalReplay(_TargetStrategy):
    """Trades a precomputed signal array: at the i-th event of the (single) symbol, a value of
    +1 / -1 / 0 targets long / short / flat ``size`` of equity; NaN keeps the previous target.
    The event-driven twin of :func:`nt.vector.from_signals`."""
    cdef double[::1] sig
    cdef int64_t i

    def __init__(self, signal, *, double size=1.0, bint allow_short=True):
        arr = np.ascontiguousarray(np.asarray(signal, dtype=np.float64))
        if arr.ndim != 1:
            raise _errors.InvalidArgumentError("signal must be one-dimensional")
        bad = ~np.isnan(arr) & ~np.isin(arr, (-1.0, 0.0, 1.0))
        if bad.any():
            raise _errors.InvalidArgumentError(f"signal values are +1, -1, 0 or NaN; found {arr[bad][0]!r}")
        Strategy.__init__(self, size=size, allow_short=allow_short)
        self.sig = arr
        self.size = size
        self.allow_short = allow_short

    cdef int _make(self, int nsym) except -1:
        self.i = 0      # a run replays the signal from its start
        return 0

    cdef int _c_event(self, const MarketEvent* ev) except -1:
        cdef double v
        if self.i < self.sig.shape[0]:
            v = self.sig[self.i]
            self.i += 1
            if not isnan(v):
                self._go(ev.symbol, v)
        return 0

    def __repr__(self):
        return f"SignalReplay(n={self.sig.shape[0]}, size={self.size})"

    def __reduce__(self):
        return (_rebuild, (type(self), (np.asarray(self.sig),), {"size": self.size, "allow_short": self.allow_short}))


def _rebuild(cls, args, kwargs):
    return cls(*args, **kwargs)
