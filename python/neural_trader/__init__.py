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
from ._outputs import output_cache_info, set_output_cache_limit
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
from . import data, metrics, portfolio, risk, strategies, types
from .backtest import Backtest, Latency
from .results import BacktestResult

def __getattr__(name: str) -> object:
    # optimize / walk_forward / vector import their helpers lazily
    if name in ("optimize", "walk_forward", "vector"):
        import importlib

        if name == "vector":
            return importlib.import_module(".vector", __name__)
        return getattr(importlib.import_module(".optimize", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "__version__",
    "errors",
    "build_info",
    "set_num_threads",
    "get_num_threads",
    "set_output_cache_limit",
    "output_cache_info",
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
    "types",
    "data",
    "strategies",
    "risk",
    "portfolio",
    "metrics",
    "Backtest",
    "BacktestResult",
    "Latency",
    "optimize",
    "walk_forward",
    "vector",
]
