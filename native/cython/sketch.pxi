# Per-item calls of the sketches (included at the end of _engine.pyx).
#
# HyperLogLog.update(x) and `x in bloom` must cost well under a pybind11 call, so these Cython
# classes reach the C++ sketch that the pybind11 core made through its _capsule() and call it
# directly; hashing is bindings/pyhash.hpp, shared with the core. The public classes in
# neural_trader.sketch derive from them.
cimport cython
from libc.stdint cimport uint64_t
from cpython.pycapsule cimport PyCapsule_GetPointer, PyCapsule_IsValid

from sketch cimport bloom_filter, hash_object, hyperloglog


cdef void* _sketch_ptr(object impl, const char* name) except NULL:
    cap = impl._capsule()
    if not PyCapsule_IsValid(cap, name):
        raise _errors.DTypeError(f"{type(impl).__name__} is not the expected compiled sketch")
    return PyCapsule_GetPointer(cap, name)


cdef class HyperLogLogPort:
    """Per-item update of a HyperLogLog (Cython, over the compiled core's sketch).

    ``neural_trader.HyperLogLog`` derives from it; batch calls go to the core object ``_impl``.
    """

    cdef readonly object _impl
    cdef hyperloglog* _s

    def __init__(self, impl):
        self._s = <hyperloglog*>_sketch_ptr(impl, b"neural_trader.hll")
        self._impl = impl

    @cython.always_allow_keywords(False)
    def update(self, item):
        """update(item)

        Add one item: an int (as int64), float, str (as UTF-8) or bytes.
        """
        cdef uint64_t h
        hash_object(self._s.hasher(), item, &h)
        self._s.update_hash(h)


cdef class BloomFilterPort:
    """Per-item add and membership of a BloomFilter (Cython, over the compiled core's filter).

    ``neural_trader.BloomFilter`` derives from it; batch calls go to the core object ``_impl``.
    """

    cdef readonly object _impl
    cdef bloom_filter* _s

    def __init__(self, impl):
        self._s = <bloom_filter*>_sketch_ptr(impl, b"neural_trader.bloom")
        self._impl = impl

    @cython.always_allow_keywords(False)
    def add(self, item):
        """add(item) -> bool

        Add one item; return True when it was new (some of its bits were unset), False when it
        was (probably) there already.
        """
        cdef uint64_t h
        hash_object(self._s.hasher(), item, &h)
        return self._s.add_hash(h)

    @cython.always_allow_keywords(False)
    def contains(self, item):
        """contains(item) -> bool

        Whether the item is (probably) in the filter: never False for an item added.
        """
        cdef uint64_t h
        hash_object(self._s.hasher(), item, &h)
        return self._s.contains_hash(h)

    def __contains__(self, item):
        cdef uint64_t h
        hash_object(self._s.hasher(), item, &h)
        return self._s.contains_hash(h)
