"""neural-trader: trading research and low-latency market-data components on a compiled C++20 core.

    >>> import neural_trader as nt
    >>> ring = nt.RingBuffer(1 << 16, nt.TICK_DTYPE)

See ``nt.build_info()`` for what the compiled core was built with and runs on.
"""

from __future__ import annotations

from . import errors, ta
from ._core import __version__, get_num_threads, set_num_threads
from ._engine import dispatch
from ._info import build_info
from ._records import BAR_DTYPE, TICK_DTYPE, from_frame, to_polars
from .ring import MPMCRingBuffer, RingBuffer, SharedRingBuffer
from .sketch import BloomFilter, CountMinSketch, HyperLogLog, Reservoir, hash64
from .hnsw import HNSWIndex, Where, knn_exact
from .pattern import PatternForecast, PatternMemory
from . import book
from .book import (
    BOOK_ORDER_DTYPE,
    EVENT_DTYPE,
    FILL_DTYPE,
    ORDER_MSG_DTYPE,
    STP,
    TIF,
    Action,
    EventKind,
    Exchange,
    OrderBook,
    OrderType,
    Reason,
    Side,
)

__all__ = [
    "__version__",
    "errors",
    "build_info",
    "set_num_threads",
    "get_num_threads",
    "TICK_DTYPE",
    "BAR_DTYPE",
    "from_frame",
    "to_polars",
    "RingBuffer",
    "MPMCRingBuffer",
    "SharedRingBuffer",
    "dispatch",
    "ta",
    "HyperLogLog",
    "CountMinSketch",
    "BloomFilter",
    "Reservoir",
    "hash64",
    "HNSWIndex",
    "Where",
    "knn_exact",
    "PatternMemory",
    "PatternForecast",
    "book",
    "OrderBook",
    "Exchange",
    "Side",
    "OrderType",
    "TIF",
    "STP",
    "Action",
    "EventKind",
    "Reason",
    "ORDER_MSG_DTYPE",
    "FILL_DTYPE",
    "EVENT_DTYPE",
    "BOOK_ORDER_DTYPE",
]
