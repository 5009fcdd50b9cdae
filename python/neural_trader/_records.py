"""Record dtypes shared by every component, and dtype helpers for the compiled core."""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.lib import format as _npformat

#: One trade or quote tick: event time (int64 ns since the epoch, UTC), symbol id, price, size,
#: and side (+1 buy, -1 sell, 0 unknown).
TICK_DTYPE: np.dtype[np.void] = np.dtype(
    [("ts", "<i8"), ("symbol", "<i4"), ("price", "<f8"), ("size", "<f8"), ("side", "i1")]
)

#: One OHLCV bar: bar time (int64 ns since the epoch, UTC), symbol id, open, high, low, close,
#: volume.
BAR_DTYPE: np.dtype[np.void] = np.dtype(
    [
        ("ts", "<i8"),
        ("symbol", "<i4"),
        ("open", "<f8"),
        ("high", "<f8"),
        ("low", "<f8"),
        ("close", "<f8"),
        ("volume", "<f8"),
    ]
)


def unpacker(dtype: np.dtype[Any]) -> Callable[[bytes], Any]:
    """A function turning one record's bytes into its Python value (``ndarray.item()``)."""

    def unpack(raw: bytes) -> Any:
        return np.frombuffer(raw, dtype=dtype)[0].item()

    return unpack


def dtype_to_meta(dtype: np.dtype[Any]) -> bytes:
    """Describe a dtype in bytes that :func:`dtype_from_meta` reads back (in another process)."""
    return repr(_npformat.dtype_to_descr(np.dtype(dtype))).encode("ascii")


def dtype_from_meta(meta: bytes) -> np.dtype[Any]:
    """Rebuild a dtype written by :func:`dtype_to_meta`; raises CorruptDataError if unreadable."""
    from .errors import CorruptDataError

    try:
        descr = ast.literal_eval(meta.decode("ascii"))
        return _npformat.descr_to_dtype(descr)
    except (ValueError, TypeError, SyntaxError, UnicodeDecodeError) as exc:
        raise CorruptDataError(f"unreadable record dtype in shared memory: {exc}") from None
