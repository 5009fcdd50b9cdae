# Declarations of the C++ order book (book/order_book.hpp) and its Cython glue
# (bindings/book_glue.hpp), for Cython modules: the backtester's event loop drives the same book
# through these. The core header is declared here once.
from libc.stdint cimport int8_t, int32_t, int64_t, uint8_t, uint64_t
from libcpp cimport bool as cbool
from libcpp.string cimport string
from libcpp.vector cimport vector

from ta cimport translate_exception


cdef extern from "neural_trader/book/order_book.hpp" namespace "neural_trader::book" nogil:
    cdef struct order_msg:
        int64_t ts
        int64_t id
        int64_t owner
        double price
        double quantity
        double stop_price
        int32_t symbol
        uint8_t action
        int8_t side
        uint8_t type
        uint8_t tif
        uint8_t flags

    cdef struct fill_record:
        int64_t ts
        int64_t maker_id
        int64_t taker_id
        double price
        double quantity
        int64_t msg
        int32_t symbol
        int8_t side

    cdef struct event_record:
        int64_t ts
        int64_t order_id
        double price
        double quantity
        int64_t msg
        int32_t symbol
        uint8_t kind
        uint8_t reason
        int8_t side
        uint8_t type

    cdef cppclass fill_vector:
        size_t size()
        void resize(size_t)
        fill_record& operator[](size_t)
        fill_record* data()
        void swap(fill_vector&)
        void clear()

    cdef cppclass event_vector:
        size_t size()
        void resize(size_t)
        event_record& operator[](size_t)
        event_record* data()
        void swap(event_vector&)
        void clear()

    cdef cppclass order_book:
        fill_vector& fills()
        event_vector& events()
        void clear_output()
        void set_context(int64_t msg, int32_t symbol)
        int32_t symbol()
        double tick_size()
        double lot_size()
        size_t size()
        cbool contains(int64_t id)
        cbool has_last_price()
        void end_of_day(int64_t ts) except +translate_exception
        void apply(const order_msg& m) except +translate_exception
        void reserve_output(size_t n) except +translate_exception


cdef extern from "book_glue.hpp" namespace "nt_bind" nogil:
    cdef struct book_call:
        int64_t order_id
        int status
        int why

    cdef struct book_order:
        int64_t id
        int64_t owner
        double price
        double stop_price
        double quantity
        double ahead
        int64_t ts
        int side
        int type
        int tif
        int post_only
        int pending

    order_book* book_new(double tick_size, double lot_size, int self_trade) except +translate_exception
    order_book* book_load(const unsigned char* data, size_t size) except +translate_exception
    order_book* book_clone(const order_book& b) except +translate_exception
    book_call book_submit(order_book& b, int side, int type, int tif, double quantity, double price,
                          double stop_price, int64_t id, int64_t owner, cbool post_only, int64_t ts) except +translate_exception
    book_call book_cancel(order_book& b, int64_t id, int64_t ts) except +translate_exception
    book_call book_modify(order_book& b, int64_t id, double quantity, double price, double stop_price,
                          int64_t ts) except +translate_exception
    void book_process(order_book& b, const unsigned char* msgs, size_t n, int64_t first) except +translate_exception
    int book_has_best(const order_book& b, int side)
    double book_best(const order_book& b, int side)
    double book_last(const order_book& b)
    int book_self_trade(const order_book& b)
    size_t book_depth(const order_book& b, int side, size_t max_levels, double* price, double* qty,
                      int64_t* count)
    double book_volume_at(const order_book& b, double price, int* ok)
    int book_find(const order_book& b, int64_t id, book_order* out)
    size_t book_orders(const order_book& b, book_order* out, size_t capacity)
    string book_validate(const order_book& b) except +translate_exception
    vector[unsigned char] book_bytes(const order_book& b) except +translate_exception
    void book_move_output(order_book& b, fill_vector& fills, event_vector& events) except +translate_exception

# The output block cache of this module (common/huge_page_allocator.hpp): replay outputs.
cdef extern from "neural_trader/common/huge_page_allocator.hpp" namespace "neural_trader" nogil:
    cdef cppclass block_cache:
        cppclass stats:
            size_t limit
            size_t held_bytes
            size_t held_blocks
            uint64_t hits
            uint64_t misses
        @staticmethod
        block_cache& instance() except +translate_exception
        size_t set_limit(size_t nbytes) except +translate_exception
        stats get_stats() except +translate_exception
