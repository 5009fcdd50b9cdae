# Declarations of the C++ core's ring buffers and of the binding helpers shared with pybind11,
# for Cython modules. The core headers are declared here once; every Cython module cimports them.
from libc.stdint cimport uint64_t
from libcpp cimport bool as cbool


cdef extern from "neural_trader/ring/spsc.hpp" namespace "neural_trader::ring" nogil:
    cdef cppclass spsc_record_view:
        cbool try_push(const void* record)
        cbool try_pop(void* record)
        size_t push_many(const void* records, size_t n)
        size_t pop_many(void* out, size_t max_n)
        const void* peek(size_t max_n, size_t& n)
        void consume(size_t n)
        size_t size()
        uint64_t capacity()
        size_t record_size()
        void close()
        cbool closed()
        cbool drained()


cdef extern from "neural_trader/ring/mpmc.hpp" namespace "neural_trader::ring" nogil:
    cdef cppclass mpmc_record_ring:
        cbool try_push(const void* record)
        cbool try_pop(void* record)
        size_t push_many(const void* records, size_t n)
        size_t pop_many(void* out, size_t max_n)
        size_t size()
        uint64_t capacity()
        size_t record_size()
        void close()
        cbool closed()
        cbool drained()


cdef extern from "neural_trader/common/backoff.hpp" namespace "neural_trader" nogil:
    cdef cppclass backoff:
        backoff()
        void wait()
        void reset()
    double monotonic_seconds()


cdef extern from "pyrecord.hpp" namespace "nt_bind":
    cdef cppclass record_layout:
        size_t itemsize
    cdef cppclass ring_ref:
        int kind
        void* ring
        const record_layout* layout
    cdef int RING_SPSC "nt_bind::ring_ref::spsc"
    cdef int RING_MPMC "nt_bind::ring_ref::mpmc"
    object unpack_record_at(const record_layout& l, const void* rec)
    int pack_record_fast_at(const record_layout& l, object obj, void* out) except -1
