# Streaming indicators: Cython classes over the C++ state machines of
# neural_trader/indicators/ (the same code the batch functions run), included into _engine.pyx.
# One base per input count so that `update` takes plain C doubles (the cheapest Python call).
# `update` is an unbound-style builtin method (binding=False): `h.update` is then a
# builtin_function_or_method, which CPython calls through its specialised fast path, about 100
# instructions fewer per call than a bound Cython function (callgrind); its signature stays
# visible to inspect through an embedded __text_signature__ (embedsignature, clinic format,
# set in _engine.pyx's directives).
cimport cython
from libcpp.string cimport string as _cpp_string
from libcpp.vector cimport vector as _cpp_vector
from libc.math cimport NAN as _NAN

from ta cimport indicator, ta_make, ta_load, ta_clone


cdef class _StreamBase:
    """Base of the streaming indicators (see ``neural_trader.ta.stream``)."""
    cdef indicator* _p
    cdef int _n_in
    cdef int _n_out

    def __cinit__(self):
        self._p = NULL

    def __dealloc__(self):
        del self._p

    def _setup(self, str name, params):
        """Makes the C++ state for indicator ``name`` with ``params`` (TA-Lib's order)."""
        cdef _cpp_vector[double] p
        for v in params:
            p.push_back(float(v))
        cdef indicator* made = ta_make(name.encode(), p)
        del self._p
        self._p = made
        self._n_in = made.n_in()
        self._n_out = made.n_out()

    cdef inline indicator* _get(self) except NULL:
        if self._p == NULL:
            raise _errors.InvalidArgumentError("indicator not initialised (call __init__)")
        return self._p

    cdef object _out(self, const double* o):
        if self._n_out == 1:
            return o[0]
        if self._n_out == 2:
            return (o[0], o[1])
        return tuple([o[j] for j in range(self._n_out)])

    @property
    def value(self):
        """The last output (a float, or a tuple in TA-Lib's output order); NaN before ``ready``."""
        return self._out(self._get().value())

    @property
    def ready(self):
        """True once enough finite inputs arrived for the output to be defined (after ``lookback``)."""
        return self._get().ready()

    @property
    def lookback(self):
        """Number of finite inputs whose output is NaN before the first value (TA-Lib's look-back)."""
        return self._get().lookback()

    @property
    def count(self):
        """Number of finite inputs consumed so far (missing inputs are skipped, replaced ones counted once)."""
        return self._get().count()

    @property
    def name(self):
        """The indicator's name, as in ``neural_trader.ta``."""
        return self._get().name().decode()

    @property
    def params(self):
        """The parameters, in TA-Lib's order."""
        cdef indicator* p = self._get()
        cdef size_t i
        return tuple([p.params()[i] for i in range(p.params().size())])

    def reset(self):
        """Forgets every input: the indicator is as freshly made."""
        self._get().reset()

    def update_many(self, *inputs):
        """Continues the stream over whole arrays (one per input, in TA-Lib's order) and returns
        the outputs for each step: an array, or a tuple of arrays for multi-output indicators.
        Equal, element by element, to calling ``update`` on each step."""
        cdef indicator* p = self._get()
        if len(inputs) != self._n_in:
            raise _errors.InvalidArgumentError(
                f"{self.name}.update_many takes {self._n_in} array(s), got {len(inputs)}")
        arrs = [_as_float64_1d(a, i) for i, a in enumerate(inputs)]
        cdef Py_ssize_t n = arrs[0].shape[0]
        for a in arrs:
            if a.shape[0] != n:
                raise _errors.InvalidArgumentError("update_many: input arrays differ in length")
        outs = [np.empty(n, dtype=np.float64) for _ in range(self._n_out)]
        cdef const double* ip[4]
        cdef Py_ssize_t st[4]
        cdef double* op[3]
        cdef const double[:] mv
        cdef double[::1] ov
        cdef int k
        if n == 0:
            return outs[0] if self._n_out == 1 else tuple(outs)
        for k in range(self._n_in):
            mv = arrs[k]
            ip[k] = &mv[0]
            st[k] = mv.strides[0] // 8
        for k in range(self._n_out):
            ov = outs[k]
            op[k] = &ov[0]
        with nogil:
            p.run(ip, st, op, <size_t>n)
        return outs[0] if self._n_out == 1 else tuple(outs)

    def copy(self):
        """An independent copy with the same state."""
        cdef _StreamBase other = type(self).__new__(type(self))
        other._p = ta_clone(self._get())
        other._n_in = self._n_in
        other._n_out = self._n_out
        return other

    def __copy__(self):
        return self.copy()

    def __deepcopy__(self, memo):
        return self.copy()

    def to_bytes(self):
        """The state (name, parameters, warm-up, windows) as checksummed bytes; see ``from_bytes``."""
        cdef _cpp_vector[unsigned char] b = self._get().save()
        return (<char*>b.data())[:b.size()] if b.size() else b""

    @classmethod
    def from_bytes(cls, data):
        """Rebuilds an indicator saved by ``to_bytes``; corrupted or truncated bytes raise
        ``nt.errors.CorruptDataError``. Called on a concrete class (e.g. ``RSI``), the bytes must
        hold that indicator."""
        cdef const unsigned char[::1] buf = bytes(data)
        cdef indicator* made = ta_load(<const char*>&buf[0] if buf.shape[0] else NULL, buf.shape[0])
        cdef _StreamBase obj = cls.__new__(cls)
        obj._p = made
        obj._n_in = made.n_in()
        obj._n_out = made.n_out()
        expected = getattr(cls, "_ta_name", None)
        if expected is not None and expected != obj.name:
            raise _errors.CorruptDataError(f"bytes hold a {obj.name} indicator, not {expected}")
        return obj

    def __reduce__(self):
        return (_restore_stream, (type(self), self.to_bytes()))

    def __repr__(self):
        if self._p == NULL:
            return f"<{type(self).__name__} (uninitialised)>"
        args = ", ".join(repr(v) if not float(v).is_integer() else str(int(v)) for v in self.params)
        return (f"{type(self).__name__}({args}) ready={self.ready} count={self.count} "
                f"value={self.value!r}")


def _restore_stream(cls, data):
    return cls.from_bytes(data)


def _as_float64_1d(a, int i):
    arr = np.asarray(a)
    if arr.dtype.kind not in "fiub":
        raise _errors.DTypeError(f"input {i}: expected numbers, got dtype {arr.dtype}")
    if arr.dtype != np.float64:
        arr = arr.astype(np.float64)
    if arr.ndim != 1:
        raise _errors.InvalidArgumentError(f"input {i}: expected a 1-D array, got {arr.ndim}-D")
    return arr


cdef class _Stream1(_StreamBase):
    """A streaming indicator of one input."""

    @cython.binding(False)  # see the note at the top
    @cython.embedsignature(True)
    def update(self, double x, bint replace=False):
        """Feeds one input and returns the new value (NaN until ``ready``). ``replace=True``
        revises the last input instead (a forming bar)."""
        cdef double o[3]
        cdef indicator* p = self._p
        if p == NULL:
            self._get()
        p.update(&x, o, replace)
        if self._n_out == 1:
            return o[0]
        return self._out(o)


cdef class _Stream2(_StreamBase):
    """A streaming indicator of two inputs."""

    @cython.binding(False)  # see the note at the top
    @cython.embedsignature(True)
    def update(self, double a, double b, bint replace=False):
        """Feeds one bar (inputs in TA-Lib's order) and returns the new value(s) (NaN until
        ``ready``). ``replace=True`` revises the last bar instead (a forming bar)."""
        cdef double i[2]
        cdef double o[3]
        cdef indicator* p = self._p
        if p == NULL:
            self._get()
        i[0] = a
        i[1] = b
        p.update(i, o, replace)
        if self._n_out == 1:
            return o[0]
        return self._out(o)


cdef class _Stream3(_StreamBase):
    """A streaming indicator of three inputs (high, low, close)."""

    @cython.binding(False)  # see the note at the top
    @cython.embedsignature(True)
    def update(self, double a, double b, double c, bint replace=False):
        """Feeds one bar (inputs in TA-Lib's order) and returns the new value(s) (NaN until
        ``ready``). ``replace=True`` revises the last bar instead (a forming bar)."""
        cdef double i[3]
        cdef double o[3]
        cdef indicator* p = self._p
        if p == NULL:
            self._get()
        i[0] = a
        i[1] = b
        i[2] = c
        p.update(i, o, replace)
        if self._n_out == 1:
            return o[0]
        return self._out(o)


cdef class _Stream4(_StreamBase):
    """A streaming indicator of four inputs (high, low, close, volume)."""

    @cython.binding(False)  # see the note at the top
    @cython.embedsignature(True)
    def update(self, double a, double b, double c, double d, bint replace=False):
        """Feeds one bar (inputs in TA-Lib's order) and returns the new value(s) (NaN until
        ``ready``). ``replace=True`` revises the last bar instead (a forming bar)."""
        cdef double i[4]
        cdef double o[3]
        cdef indicator* p = self._p
        if p == NULL:
            self._get()
        i[0] = a
        i[1] = b
        i[2] = c
        i[3] = d
        p.update(i, o, replace)
        if self._n_out == 1:
            return o[0]
        return self._out(o)
