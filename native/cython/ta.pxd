# Declarations of the C++ indicators (neural_trader/indicators/stream.hpp) for Cython modules.
from libc.stdint cimport int64_t
from libcpp cimport bool as cbool
from libcpp.string cimport string
from libcpp.vector cimport vector


cdef extern from "ta_glue.hpp" namespace "nt_bind":
    void translate_exception()


cdef extern from "neural_trader/indicators/stream.hpp" namespace "neural_trader::ta" nogil:
    cdef cppclass indicator:
        const string& name()
        const vector[double]& params()
        int n_in()
        int n_out()
        int lookback()
        void update(const double* inp, double* out, cbool replace)
        void run(const double* const* inp, const Py_ssize_t* stride, double* const* out, size_t n)
        void reset()
        const double* value()
        cbool ready()
        int64_t count()
        vector[unsigned char] save() except +translate_exception
        void load(const void* data, size_t size) except +translate_exception


cdef extern from "ta_glue.hpp" namespace "nt_bind":
    indicator* ta_make(const string& name, const vector[double]& params) except +translate_exception
    indicator* ta_load(const char* data, size_t size) except +translate_exception
    indicator* ta_clone(const indicator* p) except +translate_exception
