# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The event-dispatch loop: drains a ring buffer made in Python and hands each record (or each
batch) to a Python callable with as little overhead as CPython allows.

It reaches the C++ ring that the pybind11 module created through the capsule that
``ring._capsule()`` returns (the ring and its record layout); it never copies the ring's logic.
The backtester's event loop grows from here.
"""
from cpython.exc cimport PyErr_CheckSignals
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
    unpack_record_at,
)

from neural_trader import errors as _errors

cdef double _SLICE = 0.02  # seconds between signal checks while waiting


cdef inline bint _ready(ring_ref* ref) noexcept nogil:
    if ref.kind == RING_SPSC:
        return (<spsc_record_view*>ref.ring).size() > 0 or (<spsc_record_view*>ref.ring).closed()
    return (<mpmc_record_ring*>ref.ring).size() > 0 or (<mpmc_record_ring*>ref.ring).closed()


cdef inline bint _drained(ring_ref* ref) noexcept nogil:
    if ref.kind == RING_SPSC:
        return (<spsc_record_view*>ref.ring).drained()
    return (<mpmc_record_ring*>ref.ring).drained()


cdef int _wait(ring_ref* ref, double deadline) except -1:
    """1 when records are there or the ring is closed, 0 when the deadline passed. Waits with
    the GIL released and checks for Ctrl-C every 20 ms."""
    cdef backoff waiter
    cdef double now, slice_end
    cdef bint ready = False
    while True:
        with nogil:
            now = monotonic_seconds()
            slice_end = min(deadline, now + _SLICE)
            while True:
                if _ready(ref):
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
        dst = <char*><size_t>arr.ctypes.data
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
