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


def from_frame(frame: Any, dtype: np.dtype[Any]) -> np.ndarray[Any, np.dtype[Any]]:
    """Records of ``dtype`` from a polars or pandas DataFrame, taking each field from the column
    of the same name (extra columns are ignored).

    Raises DTypeError for a missing column or a column that does not convert to the field's
    type without loss of meaning (e.g. strings into a float field).
    """
    from .errors import DTypeError

    dtype = np.dtype(dtype)
    if dtype.names is None:
        raise DTypeError(f"a DataFrame converts only to a structured dtype, not {dtype}")
    columns = list(frame.columns)
    missing = [name for name in dtype.names if name not in columns]
    if missing:
        raise DTypeError(f"DataFrame lacks column(s) {missing} needed by the record dtype {dtype.names}")
    out = np.empty(len(frame), dtype=dtype)
    for name in dtype.names:
        column = frame[name]
        values = column.to_numpy()
        field = dtype[name]
        if values.dtype.kind in "OUSV" and field.kind not in "OUSV":
            raise DTypeError(f"column {name!r} holds {values.dtype}, not numbers for field {field}")
        if values.dtype.kind == "M" and field.kind in "iu":
            values = values.astype("datetime64[ns]").view(np.int64)  # time as int64 ns since the epoch
        try:
            out[name] = values
        except (TypeError, ValueError) as exc:
            raise DTypeError(f"column {name!r} does not convert to field {field}: {exc}") from None
    return out


def to_polars(records: np.ndarray[Any, np.dtype[Any]]) -> Any:
    """A polars DataFrame with one column per field of a structured record array (copies)."""
    import polars as pl

    if records.dtype.names is None:
        return pl.DataFrame({"value": np.asarray(records)})
    return pl.DataFrame({name: np.ascontiguousarray(records[name]) for name in records.dtype.names})
