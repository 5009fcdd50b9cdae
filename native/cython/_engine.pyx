# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, auto_pickle=False, autotestdict=False
# cython: embedsignature.format=clinic
"""The event-dispatch loop: drains a ring buffer made in Python and hands each record (or each
batch) to a Python callable with as little overhead as CPython allows.

It reaches the C++ ring that the pybind11 module created through the capsule that
``ring._capsule()`` returns (the ring and its record layout); it never copies the ring's logic.
The backtester's event loop grows from here.
"""
from cpython.buffer cimport PyBUF_C_CONTIGUOUS, PyBUF_WRITABLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.exc cimport PyErr_CheckSignals
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.string cimport memcpy
from cpython.pycapsule cimport PyCapsule_GetPointer, PyCapsule_IsValid

import numpy as np

from ring cimport (
    RING_MPMC,
    RING_SPSC,
    backoff,
    monotonic_seconds,
    mpmc_record_ring,
    record_layout,
    ring_ref,
    spsc_record_view,
    pack_record_fast_at,
    unpack_record_at,
)

from neural_trader import errors as _errors

cdef double _SLICE = 0.02  # seconds between signal checks while waiting


cdef inline bint _ready(ring_ref* ref, bint room) noexcept nogil:
    """Whether a waiter can stop: the ring is closed, or it has a record (room=False) or a free
    slot (room=True)."""
    cdef size_t n, cap
    if ref.kind == RING_SPSC:
        if (<spsc_record_view*>ref.ring).closed():
            return True
        n = (<spsc_record_view*>ref.ring).size()
        cap = (<spsc_record_view*>ref.ring).capacity()
    else:
        if (<mpmc_record_ring*>ref.ring).closed():
            return True
        n = (<mpmc_record_ring*>ref.ring).size()
        cap = (<mpmc_record_ring*>ref.ring).capacity()
    return n < cap if room else n > 0


cdef inline bint _drained(ring_ref* ref) noexcept nogil:
    if ref.kind == RING_SPSC:
        return (<spsc_record_view*>ref.ring).drained()
    return (<mpmc_record_ring*>ref.ring).drained()


cdef int _wait(ring_ref* ref, double deadline, bint room=False) except -1:
    """1 when a record (room=False) or a free slot (room=True) is there or the ring is closed,
    0 when the deadline passed. Waits with the GIL released and checks for Ctrl-C every 20 ms."""
    cdef backoff waiter
    cdef double now, slice_end
    cdef bint ready = False
    while True:
        with nogil:
            now = monotonic_seconds()
            slice_end = min(deadline, now + _SLICE)
            while True:
                if _ready(ref, room):
                    ready = True
                    break
                now = monotonic_seconds()
                if now >= slice_end:
                    break
                waiter.wait()
        if ready:
            return 1
        if now >= deadline:
            return 0
        PyErr_CheckSignals()


cdef ring_ref* _ref_of(ring, object capsule) except NULL:
    if not PyCapsule_IsValid(capsule, b"neural_trader.ring_ref"):
        raise _errors.DTypeError(f"{type(ring).__name__} is not a neural_trader ring buffer")
    return <ring_ref*>PyCapsule_GetPointer(capsule, b"neural_trader.ring_ref")


def dispatch(ring, on_record=None, *, on_batch=None, Py_ssize_t max_batch=1024, timeout=None):
    """dispatch(ring, on_record=None, *, on_batch=None, max_batch=1024, timeout=None) -> int

    Drain ``ring`` (a RingBuffer, MPMCRingBuffer or SharedRingBuffer), calling
    ``on_record(record)`` for each record (a tuple, as ``ring.pop()`` returns) or
    ``on_batch(array)`` for each batch of up to ``max_batch`` records (a new NumPy array the
    callable may keep). Give exactly one of the two.

    Runs until the ring is closed and drained, or until ``timeout`` seconds pass with no record
    to read (None: no limit). While the ring is empty it waits with the GIL released; Ctrl-C
    interrupts it. If the callable raises, the exception propagates; every record handed over
    so far has left the ring and nothing else has. Returns the number of records delivered.

    The loop is the ring's consumer: on an SPSC ring, nothing else may pop while it runs.
    """
    if (on_record is None) == (on_batch is None):
        raise _errors.InvalidArgumentError("give exactly one of on_record and on_batch")
    if max_batch < 1:
        raise _errors.InvalidArgumentError(f"max_batch must be >= 1, got {max_batch}")
    cdef double limit = -1.0
    if timeout is not None:
        limit = float(timeout)
        if not (limit >= 0.0):
            raise _errors.InvalidArgumentError("timeout must be None or a number of seconds >= 0")
    capsule = ring._capsule()
    cdef ring_ref* ref = _ref_of(ring, capsule)
    if on_record is not None:
        if ref.kind == RING_SPSC:
            return _records_spsc(ring, ref, on_record, max_batch, limit)
        return _records_mpmc(ring, ref, on_record, limit)
    return _batches(ring, ref, on_batch, max_batch, limit)


cdef inline double _deadline(double limit):
    return 1e300 if limit < 0 else monotonic_seconds() + limit


cdef Py_ssize_t _records_spsc(object ring, ring_ref* ref, object fn, Py_ssize_t max_batch, double limit) except -1:
    cdef spsc_record_view* v = <spsc_record_view*>ref.ring
    cdef const record_layout* layout = ref.layout
    cdef size_t rs = v.record_size()
    cdef size_t n = 0, i
    cdef const char* p
    cdef Py_ssize_t delivered = 0
    while True:
        p = <const char*>v.peek(<size_t>max_batch, n)
        if p == NULL:
            if v.drained() or not _wait(ref, _deadline(limit)) or _drained(ref):
                return delivered
            continue
        for i in range(n):
            rec = unpack_record_at(layout[0], p + i * rs)
            v.consume(1)  # the record leaves the ring as it is handed over
            delivered += 1
            fn(rec)


cdef Py_ssize_t _records_mpmc(object ring, ring_ref* ref, object fn, double limit) except -1:
    cdef mpmc_record_ring* m = <mpmc_record_ring*>ref.ring
    cdef const record_layout* layout = ref.layout
    cdef bytearray buf = bytearray(m.record_size())
    cdef char* p = buf
    cdef Py_ssize_t delivered = 0
    while True:
        if m.pop_many(p, 1) == 0:
            if m.drained() or not _wait(ref, _deadline(limit)) or _drained(ref):
                return delivered
            continue
        rec = unpack_record_at(layout[0], p)
        delivered += 1
        fn(rec)


cdef Py_ssize_t _batches(object ring, ring_ref* ref, object fn, Py_ssize_t max_batch, double limit) except -1:
    cdef object dtype = ring.dtype
    cdef size_t avail, got
    cdef Py_ssize_t delivered = 0
    cdef char* dst
    cdef Py_buffer view
    while True:
        if ref.kind == RING_SPSC:
            avail = (<spsc_record_view*>ref.ring).size()
        else:
            avail = (<mpmc_record_ring*>ref.ring).size()
        if avail == 0:
            if _drained(ref) or not _wait(ref, _deadline(limit)) or _drained(ref):
                return delivered
            continue
        if avail > <size_t>max_batch:
            avail = <size_t>max_batch
        arr = np.empty(avail, dtype=dtype)
        PyObject_GetBuffer(arr, &view, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS)
        dst = <char*>view.buf
        PyBuffer_Release(&view)  # arr keeps the memory alive
        with nogil:
            if ref.kind == RING_SPSC:
                got = (<spsc_record_view*>ref.ring).pop_many(dst, avail)
            else:
                got = (<mpmc_record_ring*>ref.ring).pop_many(dst, avail)
        if got == 0:
            continue
        if got < avail:
            arr = arr[:got].copy()
        delivered += <Py_ssize_t>got
        fn(arr)


cdef double _timeout_deadline(object timeout) except? -1.0:
    if timeout is None:
        return 1e300
    cdef double t = float(timeout)
    if not (t >= 0.0):
        raise _errors.InvalidArgumentError("timeout must be None or a number of seconds >= 0")
    return monotonic_seconds() + t


cdef enum:
    _STACK_RECORD = 256  # records up to this size live on the C stack of each call


cdef class RingPort:
    """Per-record calls of the ring buffers (``push``, ``try_push``, ``pop``, ``try_pop``).

    A Cython class over the same C++ ring the compiled core made (reached through its capsule),
    because a Cython method call costs a fraction of a pybind11 one; the batch calls stay in the
    core. The public classes :class:`neural_trader.RingBuffer`, :class:`MPMCRingBuffer` and
    :class:`SharedRingBuffer` derive from it. Each call packs or unpacks its record in a buffer
    of its own, so producers and consumers on different threads never share scratch memory.
    """

    cdef readonly object _impl
    cdef object _cap
    cdef ring_ref* _ref
    cdef size_t _itemsize
    cdef str _kind

    def __init__(self, impl):
        cap = impl._capsule()
        self._ref = _ref_of(impl, cap)
        self._cap = cap
        self._impl = impl
        self._itemsize = self._ref.layout.itemsize
        self._kind = type(self).__name__

    cdef inline void* _ring(self) except NULL:
        if self._ref.ring == NULL:
            raise _errors.ClosedError(f"{self._kind} is detached from its memory")
        return self._ref.ring

    cdef inline bint _closed(self, void* r) noexcept:
        if self._ref.kind == RING_SPSC:
            return (<spsc_record_view*>r).closed()
        return (<mpmc_record_ring*>r).closed()

    cdef inline bint _try_push_buf(self, void* r, const char* buf) noexcept:
        if self._ref.kind == RING_SPSC:
            return (<spsc_record_view*>r).try_push(buf)
        return (<mpmc_record_ring*>r).try_push(buf)

    cdef inline bint _try_pop_buf(self, void* r, char* buf) noexcept:
        if self._ref.kind == RING_SPSC:
            return (<spsc_record_view*>r).try_pop(buf)
        return (<mpmc_record_ring*>r).try_pop(buf)

    cdef int _pack(self, record, char* buf) except -1:
        cdef const unsigned char[::1] raw
        if pack_record_fast_at(self._ref.layout[0], record, buf) == 1:
            raw = self._impl._pack(record)  # NumPy scalars, 0-d arrays, raw bytes: the core converts
            memcpy(buf, &raw[0], self._itemsize)
        return 0

    cdef char* _buffer(self, char* stack) except NULL:
        if self._itemsize <= _STACK_RECORD:
            return stack
        cdef char* p = <char*>PyMem_Malloc(self._itemsize)
        if p == NULL:
            raise MemoryError()
        return p

    cdef inline void _release(self, char* buf, char* stack) noexcept:
        if buf != stack:
            PyMem_Free(buf)

    def push(self, record, bint block=True, timeout=None):
        """push(record, block=True, timeout=None)

        Append one record: a tuple of field values (in dtype order), a NumPy scalar or 0-d array
        of the ring's dtype, or the record's raw bytes. When the ring is full, wait (GIL released,
        Ctrl-C works) up to ``timeout`` seconds (None: forever); with ``block=False`` raise
        :class:`~neural_trader.errors.FullError` at once. Raises ClosedError when the ring is
        closed, TimeoutError when the wait runs out, DTypeError or ValueError when the record does
        not fit the dtype.
        """
        cdef void* r = self._ring()
        cdef double deadline = 1e300
        if timeout is not None:
            deadline = _timeout_deadline(timeout)  # validated even when no wait is needed
        cdef char stack[_STACK_RECORD]
        cdef char* buf = self._buffer(stack)
        try:
            self._pack(record, buf)
            if self._closed(r):
                raise _errors.ClosedError(f"{self._kind} is closed")
            if self._try_push_buf(r, buf):
                return
            if not block:
                raise _errors.FullError(f"{self._kind} is full")
            while True:
                if not _wait(self._ref, deadline, True):
                    raise _errors.TimeoutError(f"push() timed out: {self._kind} stayed full")
                r = self._ring()
                if self._closed(r):
                    raise _errors.ClosedError(f"{self._kind} is closed")
                if self._try_push_buf(r, buf):
                    return
        finally:
            self._release(buf, stack)

    def try_push(self, record):
        """try_push(record) -> bool

        Append one record if there is room; return whether it went in (never waits). Raises
        ClosedError when the ring is closed.
        """
        cdef void* r = self._ring()
        cdef char stack[_STACK_RECORD]
        cdef char* buf = self._buffer(stack)
        try:
            self._pack(record, buf)
            if self._closed(r):
                raise _errors.ClosedError(f"{self._kind} is closed")
            return self._try_push_buf(r, buf)
        finally:
            self._release(buf, stack)

    def pop(self, bint block=True, timeout=None):
        """pop(block=True, timeout=None) -> record

        Remove and return the oldest record as a tuple of Python values (what ``ndarray.item()``
        gives). When empty, wait up to ``timeout`` seconds (None: forever; GIL released, Ctrl-C
        works); with ``block=False`` raise :class:`~neural_trader.errors.EmptyError` at once.
        Raises ClosedError once the ring is closed and drained, TimeoutError when the wait runs
        out.
        """
        cdef void* r = self._ring()
        cdef double deadline = 1e300
        if timeout is not None:
            deadline = _timeout_deadline(timeout)  # validated even when no wait is needed
        cdef char stack[_STACK_RECORD]
        cdef char* buf = self._buffer(stack)
        try:
            if self._try_pop_buf(r, buf):
                return unpack_record_at(self._ref.layout[0], buf)
            if _drained(self._ref):
                raise _errors.ClosedError(f"{self._kind} is closed and drained")
            if not block:
                raise _errors.EmptyError(f"{self._kind} is empty")
            while True:
                if not _wait(self._ref, deadline):
                    raise _errors.TimeoutError(f"pop() timed out: {self._kind} stayed empty")
                r = self._ring()
                if self._try_pop_buf(r, buf):
                    return unpack_record_at(self._ref.layout[0], buf)
                if _drained(self._ref):
                    raise _errors.ClosedError(f"{self._kind} is closed and drained")
        finally:
            self._release(buf, stack)

    def try_pop(self):
        """try_pop() -> record or None

        Remove and return the oldest record, or None when the ring is empty (never waits).
        """
        cdef void* r = self._ring()
        cdef char stack[_STACK_RECORD]
        cdef char* buf = self._buffer(stack)
        try:
            if self._try_pop_buf(r, buf):
                return unpack_record_at(self._ref.layout[0], buf)
            return None
        finally:
            self._release(buf, stack)


include "ta.pxi"
include "sketch.pxi"
include "book.pxi"
