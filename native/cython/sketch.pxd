# Declarations of the C++ core's sketches and of the shared item hashing (bindings/pyhash.hpp),
# for Cython modules. The core headers are declared here once.
from libc.stdint cimport uint64_t
from libcpp cimport bool as cbool


cdef extern from "neural_trader/common/hash.hpp" namespace "neural_trader" nogil:
    cdef cppclass item_hasher:
        uint64_t seed()


cdef extern from "neural_trader/sketch/hll.hpp" namespace "neural_trader::sketch" nogil:
    cdef cppclass hyperloglog:
        void update_hash(uint64_t h)
        const item_hasher& hasher()


cdef extern from "neural_trader/sketch/bloom.hpp" namespace "neural_trader::sketch" nogil:
    cdef cppclass bloom_filter:
        cbool add_hash(uint64_t h)
        cbool contains_hash(uint64_t h)
        const item_hasher& hasher()


cdef extern from "pyhash.hpp" namespace "nt_bind":
    int hash_object(const item_hasher& h, object o, uint64_t* out) except -1
