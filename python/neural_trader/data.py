"""Market data in, canonical frames out: normalisation, files, streaming, calendars, synthetic data.

Everything downstream (indicators, the backtester) reads one of two canonical polars frames,
both in long format (several symbols stacked, one row per symbol and instant):

=========  ==================================================================================
bars       ``ts`` Datetime(ns, UTC), ``symbol`` String, ``open``, ``high``, ``low``, ``close``,
           ``volume`` Float64; sorted by (ts, symbol), no duplicate (ts, symbol)
ticks      ``ts`` Datetime(ns, UTC), ``symbol`` String, ``price``, ``size`` Float64, ``side``
           Int8 (+1 buy, -1 sell, 0 unknown); sorted by (ts, symbol), file order kept among
           ticks of one symbol at one instant (several trades may share a timestamp)
=========  ==================================================================================

* :func:`normalize` turns a polars or pandas DataFrame, or a dict of arrays, into one;
* :func:`load` reads a CSV or Parquet file (or Arrow IPC) and normalises it;
* :func:`scan` streams a file too large for memory in canonical chunks;
* :func:`to_arrays` / :func:`to_tick_arrays` give the ``BAR_DTYPE`` / ``TICK_DTYPE`` records
  the compiled core consumes, and :func:`from_arrays` goes back;
* :class:`Calendar` knows exchange sessions; :func:`synthetic` makes test data.

Row numbers in error messages count data rows from 0 (a CSV header is not a row).
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl

from ._calendar import Calendar, zone
from ._records import BAR_DTYPE, TICK_DTYPE
from ._synthetic import synthetic
from .errors import CorruptDataError, DTypeError, InvalidArgumentError

__all__ = [
    "BAR_SCHEMA",
    "DEFAULT_SYMBOL",
    "TICK_SCHEMA",
    "Calendar",
    "Scan",
    "from_arrays",
    "load",
    "normalize",
    "scan",
    "synthetic",
    "to_arrays",
    "to_tick_arrays",
]

Kind = Literal["auto", "bars", "ticks"]
Unit = Literal["ns", "us", "ms", "s"]

#: Schema of the canonical bar frame.
BAR_SCHEMA: dict[str, pl.DataType] = {
    "ts": pl.Datetime("ns", "UTC"),
    "symbol": pl.String(),
    "open": pl.Float64(),
    "high": pl.Float64(),
    "low": pl.Float64(),
    "close": pl.Float64(),
    "volume": pl.Float64(),
}
#: Schema of the canonical tick frame.
TICK_SCHEMA: dict[str, pl.DataType] = {
    "ts": pl.Datetime("ns", "UTC"),
    "symbol": pl.String(),
    "price": pl.Float64(),
    "size": pl.Float64(),
    "side": pl.Int8(),
}
#: Symbol given to single-symbol data without a symbol column when ``symbol`` is not passed.
DEFAULT_SYMBOL = "ASSET"

_ROW = "__nt_row__"
_INDEX = "__nt_index__"

# Column names are compared lower-cased, with spaces and hyphens read as underscores.
_ALIASES: dict[str, tuple[str, ...]] = {
    "ts": ("ts", "timestamp", "time", "date", "datetime", "date_time"),
    "symbol": ("symbol", "ticker", "asset", "instrument"),
    "open": ("open", "o"),
    "high": ("high", "h"),
    "low": ("low", "l"),
    "close": ("close", "c"),
    "volume": ("volume", "vol", "v"),
    "price": ("price", "px"),
    "size": ("size", "qty", "quantity", "amount", "volume", "vol", "v"),
    "side": ("side", "aggressor", "aggressor_side"),
}
_ADJUSTED = ("adj_close", "adjclose", "adjusted_close", "close_adj", "adj_c")
_BAR_ROLES = ("ts", "symbol", "open", "high", "low", "close", "volume")
_TICK_ROLES = ("ts", "symbol", "price", "size", "side")
_UNITS = ("ns", "us", "ms", "s")
_ISO_DATE = re.compile(r"^\s*[+-]?\d{4}-\d{2}-\d{2}")
_SIDE_WORDS = {
    "buy": 1, "b": 1, "+1": 1, "1": 1, "bot": 1, "bought": 1,
    "sell": -1, "s": -1, "-1": -1, "sld": -1, "sold": -1,
    "": 0, "0": 0, "unknown": 0, "u": 0, "n": 0, "none": 0,
}  # fmt: skip
_SUFFIXES = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".arrow": "ipc",
    ".ipc": "ipc",
    ".feather": "ipc",
}


def _norm(name: str) -> str:
    return "_".join(str(name).strip().lower().replace("-", " ").split())


def _check_kind(kind: Any) -> None:
    if kind not in ("auto", "bars", "ticks"):
        raise InvalidArgumentError(f"kind must be 'auto', 'bars' or 'ticks', not {kind!r}")


def _check_unit(unit: Any) -> None:
    if unit not in _UNITS:
        raise InvalidArgumentError(f"unit must be one of {_UNITS}, not {unit!r}")


# ---------------------------------------------------------------------------------------------
# input conversion
# ---------------------------------------------------------------------------------------------


def _resolve(
    names: Iterable[str], kind: Kind, columns: Mapping[str, str] | None
) -> tuple[dict[str, str], str]:
    """Map roles (ts, open, ... or ts, price, ...) to source column names; resolve ``kind``."""
    names = [str(n) for n in names]
    explicit = dict(columns or {})
    for field, column in explicit.items():
        if field not in _ALIASES:
            raise InvalidArgumentError(f"columns maps unknown field {field!r}; fields are {sorted(_ALIASES)}")
        if column not in names:
            raise InvalidArgumentError(
                f"columns maps {field!r} to {column!r}, which is not a column of {names}"
            )
    taken = set(explicit.values())

    def find(role: str) -> str | None:
        if role in explicit:
            return explicit[role]
        found = [n for n in names if n not in taken and _norm(n) in _ALIASES[role]]
        if len(found) > 1:
            raise InvalidArgumentError(
                f"columns {found} could all be {role!r}; say which with columns={{{role!r}: ...}}"
            )
        return found[0] if found else None

    _check_kind(kind)
    if kind == "auto":
        if any(find(r) is not None for r in ("close", "open", "high", "low")):
            kind = "bars"
        elif find("price") is not None:
            kind = "ticks"
        else:
            adjusted = [n for n in names if _norm(n) in _ADJUSTED]
            hint = (
                f"; {adjusted[0]!r} is an adjusted close, used only on request: columns={{'close': {adjusted[0]!r}}}"
                if adjusted
                else ""
            )
            raise InvalidArgumentError(
                f"found neither bar columns (open/high/low/close) nor a tick price column among {names}{hint}"
            )
    roles = _BAR_ROLES if kind == "bars" else _TICK_ROLES
    mapping: dict[str, str] = {}
    for role in roles:
        source = find(role)
        if source is not None:
            mapping[role] = source
            taken.add(source)
    if "ts" not in mapping:
        raise InvalidArgumentError(
            f"no timestamp column among {names} (looked for {', '.join(_ALIASES['ts'])}, any case)"
        )
    required = "close" if kind == "bars" else "price"
    if required not in mapping:
        adjusted = [n for n in names if _norm(n) in _ADJUSTED]
        hint = (
            f"; {adjusted[0]!r} is an adjusted close and is not used silently: "
            f"pass columns={{'close': {adjusted[0]!r}}} to use it"
            if adjusted and required == "close"
            else ""
        )
        raise InvalidArgumentError(
            f"no {required!r} column among {names} (looked for {', '.join(_ALIASES[required])}, any case){hint}"
        )
    return mapping, kind


def _from_pandas(frame: Any, columns: Mapping[str, str] | None) -> tuple[pl.DataFrame, dict[str, str]]:
    """A polars frame from a pandas one; a datetime index becomes the timestamp column.

    A MultiIndex, a non-datetime named index and a datetime index named like a timestamp
    (``Date``) become ordinary columns; an other datetime index is used as the timestamp when
    no column is one; any other index is dropped.
    """
    columns = dict(columns or {})
    frame = frame.rename(columns=str)
    index = frame.index
    is_datetime = getattr(getattr(index, "dtype", None), "kind", "") == "M"
    has_ts_column = "ts" in columns or any(_norm(n) in _ALIASES["ts"] for n in frame.columns)
    keep = getattr(index, "nlevels", 1) > 1 or (
        index.name is not None and (not is_datetime or _norm(str(index.name)) in _ALIASES["ts"])
    )
    if keep:
        frame = frame.reset_index().rename(columns=str)
    table = frame if keep else frame.reset_index(drop=True)
    out = _polars_or_raise(
        lambda: _from_pandas_without_pyarrow(table, pl.from_pandas, lambda: pl.DataFrame(
            [_pandas_column(str(name), table[name]) for name in table.columns]))
    )
    assert isinstance(out, pl.DataFrame)
    if not keep and is_datetime and not has_ts_column:
        stamps = _polars_or_raise(
            lambda: _from_pandas_without_pyarrow(index, pl.from_pandas, lambda: _pandas_column(_INDEX, index)))
        assert isinstance(stamps, pl.Series)
        out = out.insert_column(0, stamps.alias(_INDEX))
        columns["ts"] = _INDEX
    return out, columns


def _from_pandas_without_pyarrow(obj: Any, convert: Any, fallback: Any) -> Any:
    """polars' own conversion, or ours when it wants pyarrow (pandas 3 keeps strings in
    pyarrow-backed or Python-backed columns that polars converts only through pyarrow)."""
    try:
        return convert(obj)
    except ImportError:
        return fallback()


def _pandas_column(name: str, values: Any) -> pl.Series:
    """One pandas column or index as a polars Series, without pyarrow: NumPy-backed data as is,
    timezone-aware datetimes through UTC, anything else (strings, nullable integers) through
    Python objects with missing values as nulls."""
    dtype = values.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "biufM":
        return pl.Series(name, np.asarray(values))
    if getattr(dtype, "tz", None) is not None:
        utc = values.dt.tz_convert("UTC").dt.tz_localize(None) if hasattr(values, "dt") else (
            values.tz_convert("UTC").tz_localize(None))
        out: pl.Series = pl.Series(name, np.asarray(utc, dtype="datetime64[ns]")).dt.replace_time_zone("UTC")
        return out
    objects = values.to_numpy(dtype=object, na_value=None)
    return pl.Series(name, objects.tolist(), strict=False)


def _polars_or_raise(make: Any) -> pl.DataFrame | pl.Series:
    try:
        result: pl.DataFrame | pl.Series = make()
    except (pl.exceptions.PolarsError, TypeError, ValueError) as exc:
        if isinstance(exc, (InvalidArgumentError, DTypeError)):
            raise
        raise InvalidArgumentError(f"cannot read the input as a table: {exc}") from None
    return result


def _as_polars(frame: Any, columns: Mapping[str, str] | None) -> tuple[pl.DataFrame, dict[str, str]]:
    if isinstance(frame, pl.LazyFrame):
        frame = _polars_or_raise(frame.collect)
    if isinstance(frame, pl.DataFrame):
        return frame, dict(columns or {})
    module = type(frame).__module__
    if module.startswith("pandas") and hasattr(frame, "reset_index") and hasattr(frame, "columns"):
        return _from_pandas(frame, columns)
    if isinstance(frame, np.ndarray):
        if frame.dtype.names is None:
            raise DTypeError("a numpy input must be a structured (record) array with named fields")
        frame = {name: np.ascontiguousarray(frame[name]) for name in frame.dtype.names}
    if isinstance(frame, Mapping):
        data = {str(k): v for k, v in frame.items()}
        out = _polars_or_raise(lambda: pl.DataFrame(data, strict=False))
        assert isinstance(out, pl.DataFrame)
        return out, dict(columns or {})
    raise DTypeError(
        f"normalize takes a polars or pandas DataFrame, a dict of arrays or records, not {type(frame).__name__}"
    )


# ---------------------------------------------------------------------------------------------
# column conversion and validation
# ---------------------------------------------------------------------------------------------


def _at(frame: pl.DataFrame, i: int) -> str:
    """``row N (ts ...)`` for position ``i`` of an internal frame."""
    row = frame.get_column(_ROW)[i]
    if "ts" in frame.columns and isinstance(frame.schema["ts"], pl.Datetime):
        return f"row {row} (ts {frame.get_column('ts')[i]})"
    return f"row {row}"


def _first(mask: pl.Series) -> int | None:
    """Position of the first true (or null) value of ``mask``; None when there is none. The
    common case, no hit, costs one aggregate."""
    mask = mask.fill_null(True)
    if not mask.any():
        return None
    return int(mask.arg_true()[0])


def _timestamps(frame: pl.DataFrame, tz: str, unit: Unit, ts_format: str | None) -> pl.Series:
    """The ``ts`` column as Datetime(ns, UTC)."""
    raw = frame.get_column("ts")
    dtype = raw.dtype
    where = _first(raw.is_null())
    if where is not None:
        raise InvalidArgumentError(f"timestamp column has a missing value at {_at(frame, where)}")
    if isinstance(dtype, (pl.Categorical, pl.Enum)):
        raw, dtype = raw.cast(pl.String), pl.String()
    if dtype == pl.String:
        if ts_format is None and raw.len() and not _ISO_DATE.match(raw[0]):
            raise InvalidArgumentError(
                f"timestamp column: {raw[0]!r} (row {frame.get_column(_ROW)[0]}) is not ISO 8601 "
                "(YYYY-MM-DD[ HH:MM[:SS]][offset]); other layouts such as 01/02/2024 are ambiguous: "
                "give ts_format= (e.g. '%m/%d/%Y')"
            )
        try:
            parsed = raw.str.to_datetime(format=ts_format, time_unit="ns", strict=False)
        except pl.exceptions.PolarsError as exc:
            raise InvalidArgumentError(
                f"timestamp column: cannot infer the format of {raw[0]!r} (row {frame.get_column(_ROW)[0]}): {exc}"
            ) from None
        where = _first(parsed.is_null())
        if where is not None:
            layout = (
                repr(ts_format) if ts_format is not None else f"the ISO layout of the first value {raw[0]!r}"
            )
            raise InvalidArgumentError(
                f"timestamp column: {raw[where]!r} at {_at(frame, where)} is not a date/time in {layout}"
            )
        raw, dtype = parsed, parsed.dtype
    if dtype == pl.Date:
        raw, dtype = raw.cast(pl.Datetime("ns")), pl.Datetime("ns")
    if isinstance(dtype, pl.Datetime):
        raw = raw.dt.cast_time_unit("ns")
        if dtype.time_zone is None:
            local = raw.dt.replace_time_zone(tz, ambiguous="null", non_existent="null")
            where = _first(local.is_null())
            if where is not None:
                raise InvalidArgumentError(
                    f"timestamp {raw[where]} at {_at(frame, where)} does not exist or is ambiguous in "
                    f"time zone {tz!r} (a daylight-saving change); give aware timestamps or a time zone without DST"
                )
            raw = local
        return raw.dt.convert_time_zone("UTC")
    if dtype.is_integer():
        _check_unit(unit)
        try:
            ints = raw.cast(pl.Int64)
            stamps: pl.Series = pl.from_epoch(ints, time_unit=unit).dt.cast_time_unit("ns")
            return stamps.dt.replace_time_zone("UTC")
        except pl.exceptions.PolarsError as exc:
            raise InvalidArgumentError(f"timestamp integers do not fit in int64 ns ({unit}): {exc}") from None
    if dtype.is_float():
        raise DTypeError(
            f"timestamp column holds {dtype}: epoch numbers must be integers (say their unit with unit=), "
            "or give dates, datetimes or ISO strings"
        )
    raise DTypeError(f"timestamp column holds {dtype}, not dates, datetimes, ISO strings or integers")


def _numeric(frame: pl.DataFrame, name: str, source: str) -> pl.Series:
    """Column ``name`` as Float64 (numeric strings are parsed; others raise DTypeError)."""
    col = frame.get_column(name)
    dtype = col.dtype
    if dtype == pl.Boolean:
        raise DTypeError(f"column {source!r} ({name}) holds booleans, not numbers")
    if dtype.is_numeric():
        values: pl.Series = col.cast(pl.Float64)
        return values
    if dtype == pl.String or dtype == pl.Null:
        parsed: pl.Series = (
            col.str.strip_chars().cast(pl.Float64, strict=False)
            if dtype == pl.String
            else col.cast(pl.Float64)
        )
        bad = _first(parsed.is_null() & col.is_not_null())
        if bad is not None:
            raise DTypeError(
                f"column {source!r} ({name}) holds {col[bad]!r} at {_at(frame, bad)}, not a number"
            )
        return parsed
    raise DTypeError(f"column {source!r} ({name}) holds {dtype}, not numbers")


def _check_values(frame: pl.DataFrame, name: str, source: str, *, positive: bool) -> None:
    col = frame.get_column(name)
    if col.null_count() == 0:
        # the common case, clean data, in one vectorised pass; the slow path finds the culprit
        arr = col.to_numpy()
        with np.errstate(invalid="ignore"):
            if bool(np.isfinite(arr).all()) and bool((arr > 0.0).all() if positive else (arr >= 0.0).all()):
                return
    where = _first(col.is_null() | col.is_nan())
    if where is not None:
        raise InvalidArgumentError(
            f"column {source!r} ({name}) has a missing value (null or NaN) at {_at(frame, where)}"
        )
    where = _first(col.is_infinite())
    if where is not None:
        raise InvalidArgumentError(f"column {source!r} ({name}) has an infinite value at {_at(frame, where)}")
    where = _first(col <= 0.0 if positive else col < 0.0)
    if where is not None:
        bound = "> 0" if positive else ">= 0"
        raise InvalidArgumentError(
            f"column {source!r} ({name}) must be {bound}: {col[where]} at {_at(frame, where)}"
        )


def _symbols(frame: pl.DataFrame, source: str) -> pl.Series:
    col = frame.get_column("symbol")
    dtype = col.dtype
    if isinstance(dtype, (pl.Categorical, pl.Enum)) or dtype.is_integer():
        col = col.cast(pl.String)
    elif dtype != pl.String:
        raise DTypeError(f"symbol column {source!r} holds {dtype}, not strings")
    where = _first(col.is_null() | (col.str.len_bytes() == 0))
    if where is not None:
        raise InvalidArgumentError(
            f"symbol column {source!r} has a missing or empty name at {_at(frame, where)}"
        )
    return col


def _sides(frame: pl.DataFrame, source: str) -> pl.Series:
    col = frame.get_column("side")
    dtype = col.dtype
    if dtype == pl.Boolean:
        raise DTypeError(f"side column {source!r} holds booleans; use +1 (buy), -1 (sell), 0 (unknown)")
    if isinstance(dtype, (pl.Categorical, pl.Enum)):
        col, dtype = col.cast(pl.String), pl.String()
    if dtype == pl.String:
        words = col.str.strip_chars().str.to_lowercase()
        mapped: pl.Series = words.replace_strict(_SIDE_WORDS, default=None, return_dtype=pl.Int8)
        bad = _first(mapped.is_null() & words.is_not_null())
        if bad is not None:
            raise InvalidArgumentError(
                f"side column {source!r} holds {col[bad]!r} at {_at(frame, bad)}; use buy/sell, b/s or +1/-1/0"
            )
        return mapped.fill_null(0)
    if dtype.is_numeric() or dtype == pl.Null:
        values = col.cast(pl.Float64).fill_nan(None)
        bad = _first(values.is_not_null() & ~values.is_in([-1.0, 0.0, 1.0]))
        if bad is not None:
            raise InvalidArgumentError(
                f"side column {source!r} holds {col[bad]} at {_at(frame, bad)}; use +1, -1 or 0"
            )
        sides: pl.Series = values.fill_null(0).cast(pl.Int8)
        return sides
    raise DTypeError(f"side column {source!r} holds {dtype}; use +1 (buy), -1 (sell), 0 (unknown)")


def _check_order(frame: pl.DataFrame, multi: bool) -> None:
    """Raise if timestamps go back in time within a symbol (input order)."""
    step = pl.col("ts").diff().dt.total_nanoseconds()
    previous = pl.col(_ROW).shift(1)
    if multi:
        step, previous = step.over("symbol"), previous.over("symbol")
    stats = frame.select(step.fill_null(0).alias("step"), previous.alias("previous"))
    previous_rows = stats.get_column("previous")
    where = _first(stats.get_column("step") < 0)
    if where is not None:
        symbol = frame.get_column("symbol")[where]
        raise InvalidArgumentError(
            f"timestamps are not sorted: {_at(frame, where)} of symbol {symbol!r} comes before row "
            f"{previous_rows[where]} of the same symbol; pass sort=True to sort them"
        )


def _check_duplicates(frame: pl.DataFrame) -> None:
    """Raise on a repeated (ts, symbol) in a frame sorted by (ts, symbol)."""
    same = (frame.get_column("ts") == frame.get_column("ts").shift(1)) & (
        frame.get_column("symbol") == frame.get_column("symbol").shift(1)
    )
    where = _first(same.fill_null(False))
    if where is not None:
        symbol = frame.get_column("symbol")[where]
        earlier = frame.get_column(_ROW)[where - 1]
        raise InvalidArgumentError(
            f"duplicate bar: {_at(frame, where)} repeats the timestamp of row {earlier} for symbol {symbol!r}"
        )


def _sort(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` sorted by (ts, symbol), stable; returned as is when it already is (a linear check)."""
    if frame.height <= 1:
        return frame
    step = pl.col("ts").diff().dt.total_nanoseconds()
    in_order = frame.select(
        ((step > 0) | ((step == 0) & (pl.col("symbol") >= pl.col("symbol").shift(1)))).fill_null(True).all()
    ).item()
    if in_order:
        return frame
    return frame.sort(["ts", "symbol"], maintain_order=True)


def _normalize(
    frame: Any,
    *,
    symbol: str | None,
    kind: Kind,
    tz: str,
    sort: bool,
    unit: Unit,
    columns: Mapping[str, str] | None,
    ts_format: str | None = None,
    row_offset: int = 0,
) -> tuple[pl.DataFrame, Literal["bars", "ticks"]]:
    """The canonical frame with an extra row-number column, and the kind found."""
    zone(tz)
    if symbol is not None and (not isinstance(symbol, str) or not symbol):
        raise DTypeError(f"symbol must be a non-empty string, not {symbol!r}")
    if not isinstance(sort, bool):
        raise DTypeError(f"sort is a bool, not {type(sort).__name__}")
    data, cols = _as_polars(frame, columns)
    mapping, found = _resolve(data.columns, kind, cols)
    resolved: Literal["bars", "ticks"] = "bars" if found == "bars" else "ticks"
    if symbol is not None and "symbol" in mapping:
        raise InvalidArgumentError(
            f"the data has a symbol column {mapping['symbol']!r}; symbol= names single-symbol data without one"
        )
    data = data.select([pl.col(src).alias(role) for role, src in mapping.items()]).with_row_index(
        _ROW, offset=row_offset
    )
    data = data.with_columns(pl.col(_ROW).cast(pl.Int64))
    data = data.with_columns(_timestamps(data, tz, unit, ts_format).alias("ts"))
    if "symbol" in mapping:
        data = data.with_columns(_symbols(data, mapping["symbol"]).alias("symbol"))
    else:
        data = data.with_columns(pl.lit(symbol or DEFAULT_SYMBOL, dtype=pl.String).alias("symbol"))

    if resolved == "bars":
        present = [r for r in ("open", "high", "low", "close", "volume") if r in mapping]
        data = data.with_columns([_numeric(data, r, mapping[r]).alias(r) for r in present])
        for role in ("close", "open", "high", "low"):
            if role in mapping:
                _check_values(data, role, mapping[role], positive=True)
        # Close-only (or partial) bars: open defaults to close, high/low to the max/min of open and close.
        fill = []
        if "open" not in mapping:
            fill.append(pl.col("close").alias("open"))
        data = data.with_columns(fill) if fill else data
        fill = []
        if "high" not in mapping:
            fill.append(pl.max_horizontal("open", "close").alias("high"))
        if "low" not in mapping:
            fill.append(pl.min_horizontal("open", "close").alias("low"))
        if "volume" not in mapping:
            fill.append(pl.lit(0.0, dtype=pl.Float64).alias("volume"))
        data = data.with_columns(fill) if fill else data
        if "volume" in mapping:
            _check_values(data, "volume", mapping["volume"], positive=False)
        high, low = data.get_column("high"), data.get_column("low")
        h, lo_, o_, c_ = (data.get_column(r).to_numpy() for r in ("high", "low", "open", "close"))
        consistent = bool((h >= lo_).all() and (o_ >= lo_).all() and (o_ <= h).all()
                          and (c_ >= lo_).all() and (c_ <= h).all())
        where = None if consistent else _first(high < low)
        if where is not None:
            raise InvalidArgumentError(f"high {high[where]} < low {low[where]} at {_at(data, where)}")
        for role in ("open", "close"):
            col = data.get_column(role)
            where = None if consistent else _first((col < low) | (col > high))
            if where is not None:
                raise InvalidArgumentError(
                    f"{role} {col[where]} lies outside [low {low[where]}, high {high[where]}] at {_at(data, where)}"
                )
        names = list(BAR_SCHEMA)
    else:
        data = data.with_columns(_numeric(data, "price", mapping["price"]).alias("price"))
        _check_values(data, "price", mapping["price"], positive=True)
        if "size" in mapping:
            data = data.with_columns(_numeric(data, "size", mapping["size"]).alias("size"))
            _check_values(data, "size", mapping["size"], positive=False)
        else:
            data = data.with_columns(pl.lit(0.0, dtype=pl.Float64).alias("size"))
        if "side" in mapping:
            data = data.with_columns(_sides(data, mapping["side"]).alias("side"))
        else:
            data = data.with_columns(pl.lit(0, dtype=pl.Int8).alias("side"))
        names = list(TICK_SCHEMA)

    multi = "symbol" in mapping and data.get_column("symbol").n_unique() > 1
    if not sort:
        _check_order(data, multi)
    data = _sort(data) if not sort else data.sort(["ts", "symbol"], maintain_order=True)
    if resolved == "bars":
        _check_duplicates(data)
    return data.select([*names, _ROW]), resolved


def normalize(
    frame: Any,
    *,
    symbol: str | None = None,
    kind: Kind = "auto",
    tz: str = "UTC",
    sort: bool = False,
    unit: Unit = "ns",
    columns: Mapping[str, str] | None = None,
    ts_format: str | None = None,
) -> pl.DataFrame:
    """The canonical bar (or tick) frame of some market data.

    Parameters
    ----------
    frame : polars DataFrame or LazyFrame, pandas DataFrame, dict of arrays, or records
        The data. Columns are found by name, case-insensitively (spaces and hyphens read as
        underscores), through aliases: timestamp ``ts``/``timestamp``/``time``/``date``/
        ``datetime``; ``open``/``o``, ``high``/``h``, ``low``/``l``, ``close``/``c``,
        ``volume``/``vol``/``v``; symbol ``symbol``/``ticker``/``asset``/``instrument``; ticks
        ``price``/``px``, size ``size``/``qty``/``quantity``/``amount`` (or a volume alias) and
        ``side``/``aggressor``. An adjusted close (``Adj Close``) is never taken for the close
        silently: map it with ``columns={"close": "Adj Close"}``. Two columns matching one field
        is an error. Other columns are dropped. A pandas DatetimeIndex (as in Yahoo-style daily
        data: Open/High/Low/Close/Volume indexed by date) is the timestamp when no column is;
        a named index or a MultiIndex becomes columns.
    symbol : str, optional
        Name of single-symbol data that has no symbol column (default ``"ASSET"``); an error
        when the data has one.
    kind : {"auto", "bars", "ticks"}
        ``"auto"``: bars when an open/high/low/close column exists, else ticks when a price
        column does.
    tz : str
        Time zone of naive timestamps (dates, naive datetimes, ISO strings without an offset):
        read as local wall time there and converted to UTC (an instant that does not exist or
        is ambiguous across a DST change is an error). Aware timestamps are converted to UTC.
    sort : bool
        Sort the rows by time instead of raising when a symbol's timestamps go back in time.
    unit : {"ns", "us", "ms", "s"}
        Unit of integer timestamps (epoch counts, always UTC).
    columns : mapping, optional
        Explicit ``{field: column}`` for fields whose columns the aliases do not find (or find
        twice), e.g. ``{"close": "Adj Close"}`` or ``{"ts": "Date"}``.
    ts_format : str, optional
        ``strftime`` layout of string timestamps (``"%m/%d/%Y %H:%M"``). Without it strings
        must be ISO 8601 (``2024-01-02``, ``2024-01-02 09:30:00``, ``2024-01-02T09:30:00Z``,
        ``...+05:00``); other layouts are refused rather than guessed (``01/02/2024`` could be
        the 2nd of January or the 1st of February).

    Returns
    -------
    polars.DataFrame
        The canonical frame (see the module documentation), sorted by (ts, symbol).

    Notes
    -----
    Missing columns: a bar frame needs a close. Without ``open`` the open is the close; without
    ``high``/``low`` they are the max/min of open and close (so close-only data becomes flat
    bars open = high = low = close). Without ``volume`` the volume is 0.0 (unknown). A tick
    frame needs a price; a missing size is 0.0 (unknown) and a missing side 0 (unknown); null
    sides are 0. String sides ``buy``/``b`` and ``sell``/``s`` are accepted.

    Validation (InvalidArgumentError, or DTypeError for a wrong type, each naming the column and
    the first offending row with its timestamp): missing timestamp or price columns;
    non-numeric, missing (null/NaN), infinite, zero or negative prices; negative or missing
    volume/size; ``high < low``; open or close outside ``[low, high]``; a symbol's timestamps
    going back in time (unless ``sort=True``); a repeated (ts, symbol) bar (ticks may repeat).
    """
    if symbol is None and columns is None and isinstance(frame, pl.DataFrame):
        canonical = _already_canonical(frame, kind)
        if canonical is not None:
            return canonical
    out, _ = _normalize(
        frame, symbol=symbol, kind=kind, tz=tz, sort=sort, unit=unit, columns=columns, ts_format=ts_format
    )
    return out.drop(_ROW)


def _already_canonical(frame: pl.DataFrame, kind: Kind) -> pl.DataFrame | None:
    """``frame`` itself when it is a valid canonical frame (exactly the schema, sorted, clean),
    checked in a few NumPy passes; None sends it through the full path, which also names any
    culprit. Small frames are the point: polars' per-call overhead dominates them."""
    for schema, this in ((BAR_SCHEMA, "bars"), (TICK_SCHEMA, "ticks")):
        if kind in ("auto", this) and frame.schema == pl.Schema(schema):
            break
    else:
        return None
    if frame.height == 0 or any(c.null_count() for c in frame.get_columns()):
        return None
    ts = frame.get_column("ts").to_physical().to_numpy()
    symbols = frame.get_column("symbol")
    names = [symbols[0]] if symbols.n_unique() == 1 else sorted(symbols.unique().to_list())
    if "" in names:
        return None
    step = np.diff(ts)
    if len(names) == 1:
        in_order = (step > 0).all() if this == "bars" else (step >= 0).all()
    else:
        # sorted by (ts, symbol); for bars also no repeated (ts, symbol)
        codes = np.diff(symbols.cast(pl.Enum(names)).to_physical().to_numpy().astype(np.int64))
        same_ts = step == 0
        in_order = (step >= 0).all() and ((codes[same_ts] > 0) if this == "bars" else (codes[same_ts] >= 0)).all()
    if not bool(in_order):
        return None
    with np.errstate(invalid="ignore"):
        if this == "bars":
            o, h, lo, c, v = (frame.get_column(n).to_numpy() for n in ("open", "high", "low", "close", "volume"))
            prices = np.concatenate((o, h, lo, c))
            ok = (np.isfinite(prices).all() and (prices > 0).all() and np.isfinite(v).all() and (v >= 0).all()
                  and (h >= lo).all() and (o >= lo).all() and (o <= h).all() and (c >= lo).all() and (c <= h).all())
        else:
            px, size = frame.get_column("price").to_numpy(), frame.get_column("size").to_numpy()
            side = frame.get_column("side").to_numpy()
            ok = (np.isfinite(px).all() and (px > 0).all() and np.isfinite(size).all() and (size >= 0).all()
                  and np.isin(side, (-1, 0, 1)).all())
    return frame if bool(ok) else None


# ---------------------------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------------------------


def _format(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz" and len(suffixes) >= 2 and suffixes[-2] in (".csv", ".tsv", ".txt"):
        return "csv"
    fmt = _SUFFIXES.get(suffixes[-1] if suffixes else "")
    if fmt is None:
        raise InvalidArgumentError(
            f"{path}: unknown file type {path.suffix!r}; expected .csv, .csv.gz, .tsv, .parquet, .pq, "
            ".arrow/.ipc/.feather"
        )
    return fmt


def _check_path(path: str | os.PathLike[str]) -> tuple[Path, str]:
    if not isinstance(path, (str, os.PathLike)):
        raise DTypeError(f"path must be a str or path-like, not {type(path).__name__}")
    p = Path(path)
    fmt = _format(p)
    if not p.exists():
        raise FileNotFoundError(errno.ENOENT, "no such data file", str(p))
    if p.is_dir():
        raise IsADirectoryError(errno.EISDIR, "a directory, not a data file", str(p))
    return p, fmt


_POLARS_ERRORS: tuple[type[BaseException], ...] = (pl.exceptions.PolarsError, pl.exceptions.PanicException)


def _csv_options(
    path: Path, kind: Kind, columns: Mapping[str, str] | None, options: dict[str, Any]
) -> dict[str, Any]:
    """Reader options for a CSV: tab separator for .tsv, and price columns read as Float64.

    Declaring the value columns Float64 keeps polars from inferring an integer type from the
    first rows and then failing on a later ``100.5``.
    """
    opts = dict(options)
    if path.suffix.lower() == ".tsv" or path.name.lower().endswith(".tsv.gz"):
        opts.setdefault("separator", "\t")
    header_opts = {
        k: v
        for k, v in opts.items()
        if k in ("separator", "has_header", "skip_rows", "comment_prefix", "quote_char", "encoding")
    }
    try:
        head = pl.read_csv(path, n_rows=0, **header_opts)
        mapping, _ = _resolve(head.columns, kind, columns)
    except (pl.exceptions.PolarsError, pl.exceptions.PanicException, InvalidArgumentError):
        return opts  # the full read reports the problem
    overrides: dict[str, Any] = {
        src: pl.Float64 for role, src in mapping.items() if role not in ("ts", "symbol", "side")
    }
    if "symbol" in mapping:
        overrides[mapping["symbol"]] = pl.String
    overrides.update(dict(opts.get("schema_overrides") or {}))
    opts["schema_overrides"] = overrides
    return opts


def _read(
    path: Path, fmt: str, kind: Kind, columns: Mapping[str, str] | None, options: dict[str, Any]
) -> pl.DataFrame:
    try:
        if fmt == "csv":
            return pl.read_csv(path, **_csv_options(path, kind, columns, options))
        if fmt == "parquet":
            return pl.read_parquet(path, **options)
        return pl.read_ipc(path, **options)
    except _POLARS_ERRORS as exc:
        raise CorruptDataError(f"{path}: cannot read it as {fmt}: {_short(exc)}") from None
    except (OSError, UnicodeDecodeError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise CorruptDataError(f"{path}: cannot read it as {fmt}: {exc}") from None
    except TypeError as exc:
        raise InvalidArgumentError(f"{path}: bad reader option: {exc}") from None


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _prefixed(exc: Exception, path: Path) -> Exception:
    if isinstance(exc, (InvalidArgumentError, DTypeError)):
        return type(exc)(f"{path}: {exc}")
    return exc


def load(
    path: str | os.PathLike[str],
    *,
    symbol: str | None = None,
    kind: Kind = "auto",
    tz: str = "UTC",
    sort: bool = False,
    unit: Unit = "ns",
    columns: Mapping[str, str] | None = None,
    ts_format: str | None = None,
    **options: Any,
) -> pl.DataFrame:
    """Read a CSV, Parquet or Arrow IPC file and :func:`normalize` it.

    Parameters
    ----------
    path : str or path-like
        The file; its suffix says the format: ``.csv`` (also ``.csv.gz``, ``.tsv``, ``.txt``),
        ``.parquet``/``.pq``, ``.arrow``/``.ipc``/``.feather``.
    symbol, kind, tz, sort, unit, columns, ts_format
        As for :func:`normalize`.
    **options
        Passed to ``polars.read_csv`` / ``read_parquet`` / ``read_ipc`` (e.g. ``separator``).
        For CSV the value columns are read as Float64 unless ``schema_overrides`` says otherwise.

    Raises
    ------
    FileNotFoundError
        No such file.
    InvalidArgumentError
        Unknown suffix, bad reader option, or data failing :func:`normalize` (message prefixed
        with the path).
    CorruptDataError
        The file cannot be parsed as its format (truncated, garbled, not that format).
    """
    p, fmt = _check_path(path)
    raw = _read(p, fmt, kind, columns, options)
    try:
        return normalize(
            raw, symbol=symbol, kind=kind, tz=tz, sort=sort, unit=unit, columns=columns, ts_format=ts_format
        )
    except (InvalidArgumentError, DTypeError) as exc:
        raise _prefixed(exc, p) from None


class Scan:
    """Canonical chunks of a file too large for memory, in time order (see :func:`scan`).

    Iterating yields polars DataFrames in the canonical format; their concatenation equals
    ``load(path, ...)`` for a file in time order. Each chunk holds *every* row of the
    timestamps it covers (rows of the last timestamp of a batch wait for the next one), so one
    event-time step never spans two chunks and chunk sizes vary around ``chunk_rows``.

    ``len()`` is deliberately not defined: the number of chunks is only known after reading
    (it depends on where timestamps change), and a row count as ``len()`` would mislead
    ``list()`` and progress bars. :attr:`n_rows` gives the row count: from the metadata for
    Parquet and Arrow IPC (cheap), by a streaming count of the lines for CSV (one pass over the
    file, computed on first use and cached).

    A Scan can be iterated several times (each iteration reads the file again) and pickles.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        chunk_rows: int = 1_000_000,
        symbol: str | None = None,
        kind: Kind = "auto",
        tz: str = "UTC",
        unit: Unit = "ns",
        columns: Mapping[str, str] | None = None,
        ts_format: str | None = None,
        **options: Any,
    ) -> None:
        self._path, self._format = _check_path(path)
        if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, (int, np.integer)):
            raise DTypeError(f"chunk_rows is an int, not {type(chunk_rows).__name__}")
        if chunk_rows < 1:
            raise InvalidArgumentError(f"chunk_rows must be at least 1, not {chunk_rows}")
        _check_kind(kind)
        zone(tz)
        _check_unit(unit)
        self._chunk_rows = int(chunk_rows)
        self._symbol = symbol
        self._kind: Kind = kind
        self._tz = tz
        self._unit: Unit = unit
        self._columns = dict(columns) if columns else None
        self._ts_format = ts_format
        self._options = dict(options)
        self._n_rows: int | None = None

    @property
    def path(self) -> Path:
        """The file scanned."""
        return self._path

    @property
    def chunk_rows(self) -> int:
        """Rows read per batch (a chunk may hold a few more or fewer, see the class notes)."""
        return self._chunk_rows

    @property
    def kind(self) -> Kind:
        """``"bars"``, ``"ticks"``, or ``"auto"`` until the first chunk has been read."""
        return self._kind

    @property
    def n_rows(self) -> int:
        """Data rows in the file (cached; a full streaming pass over a CSV file)."""
        if self._n_rows is None:
            try:
                self._n_rows = int(self._lazy().select(pl.len()).collect().item())
            except _POLARS_ERRORS as exc:
                raise CorruptDataError(
                    f"{self._path}: cannot read it as {self._format}: {_short(exc)}"
                ) from None
        return self._n_rows

    def __repr__(self) -> str:
        rows = f", n_rows={self._n_rows}" if self._n_rows is not None else ""
        return (
            f"Scan({str(self._path)!r}, format={self._format!r}, kind={self._kind!r}, "
            f"chunk_rows={self._chunk_rows}{rows})"
        )

    def _lazy(self) -> pl.LazyFrame:
        if self._format == "csv":
            return pl.scan_csv(
                self._path, **_csv_options(self._path, self._kind, self._columns, self._options)
            )
        if self._format == "parquet":
            return pl.scan_parquet(self._path, **self._options)
        return pl.scan_ipc(self._path, **self._options)

    def _batches(self) -> Iterator[pl.DataFrame]:
        lazy = self._lazy()
        if hasattr(lazy, "collect_batches"):
            yield from lazy.collect_batches(chunk_size=self._chunk_rows)
            return
        offset = 0  # older polars: slices of the lazy query
        while True:  # pragma: no cover - depends on the polars version
            batch = lazy.slice(offset, self._chunk_rows).collect()
            if batch.height == 0:
                return
            yield batch
            offset += batch.height

    def __iter__(self) -> Iterator[pl.DataFrame]:
        held: pl.DataFrame | None = None
        offset = 0
        kind = self._kind
        batches = self._batches()
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                break
            except _POLARS_ERRORS as exc:
                raise CorruptDataError(
                    f"{self._path}: cannot read it as {self._format} (after row {offset}): {_short(exc)}"
                ) from None
            except (OSError, UnicodeDecodeError) as exc:
                raise CorruptDataError(f"{self._path}: cannot read it (after row {offset}): {exc}") from None
            try:
                chunk, found = _normalize(
                    batch,
                    symbol=self._symbol,
                    kind=kind,
                    tz=self._tz,
                    sort=False,
                    unit=self._unit,
                    columns=self._columns,
                    ts_format=self._ts_format,
                    row_offset=offset,
                )
            except (InvalidArgumentError, DTypeError) as exc:
                raise _prefixed(exc, self._path) from None
            kind = self._kind = found
            offset += batch.height
            if chunk.height == 0:
                continue
            if held is not None:
                last = held.get_column("ts").dt.epoch("ns")[0]  # ints: datetimes would drop nanoseconds
                early = chunk.filter(pl.col("ts").dt.epoch("ns") < last)
                if early.height:
                    first = int(early.get_column(_ROW).arg_min() or 0)
                    raise InvalidArgumentError(
                        f"{self._path}: {_at(early, first)} goes back in time: an earlier chunk reached "
                        f"{held.get_column('ts')[0]}; scan needs a file in time order "
                        "(sort it with load(..., sort=True) and write it back)"
                    )
                chunk = pl.concat([held, chunk]).sort(["ts", "symbol"], maintain_order=True)
                if found == "bars":
                    try:
                        _check_duplicates(chunk.filter(pl.col("ts").dt.epoch("ns") == last))
                    except InvalidArgumentError as exc:
                        raise _prefixed(exc, self._path) from None
            stamps = chunk.get_column("ts").dt.epoch("ns")
            cut = chunk.height - int((stamps == stamps[-1]).sum())
            held = chunk.slice(cut)
            if cut:
                yield chunk.slice(0, cut).drop(_ROW)
        if held is not None and held.height:
            yield held.drop(_ROW)


def scan(
    path: str | os.PathLike[str],
    *,
    chunk_rows: int = 1_000_000,
    symbol: str | None = None,
    kind: Kind = "auto",
    tz: str = "UTC",
    unit: Unit = "ns",
    columns: Mapping[str, str] | None = None,
    ts_format: str | None = None,
    **options: Any,
) -> Scan:
    """Stream a CSV, Parquet or Arrow IPC file in canonical chunks of about ``chunk_rows`` rows.

    Each batch is read lazily (polars ``scan_csv``/``scan_parquet``), normalised and validated
    like :func:`normalize` (row numbers in errors count from the start of the file), and the
    order across batches is checked: a later batch must not go back before the time an
    earlier one reached (an InvalidArgumentError naming the row). Within a batch rows may come
    in any order per timestamp, but each symbol's rows must be in time order: sorting is not
    possible in a stream (``sort`` is not offered).

    A gzip-compressed CSV is decompressed by polars before it is read (in memory): stream
    large files uncompressed, or better as Parquet.

    Parameters are those of :func:`load`; ``options`` go to ``polars.scan_csv`` /
    ``scan_parquet`` / ``scan_ipc``. Returns a :class:`Scan` (iterable; see it for ``n_rows``
    and for why it has no ``len()``).

    Examples
    --------
    >>> total = sum(chunk.height for chunk in scan("bars.parquet", chunk_rows=500_000))  # doctest: +SKIP
    """
    return Scan(
        path,
        chunk_rows=chunk_rows,
        symbol=symbol,
        kind=kind,
        tz=tz,
        unit=unit,
        columns=columns,
        ts_format=ts_format,
        **options,
    )


# ---------------------------------------------------------------------------------------------
# records
# ---------------------------------------------------------------------------------------------


def _records(
    frame: Any, kind: Literal["bars", "ticks"], validate: bool
) -> tuple[np.ndarray[Any, Any], list[str]]:
    schema = BAR_SCHEMA if kind == "bars" else TICK_SCHEMA
    dtype = BAR_DTYPE if kind == "bars" else TICK_DTYPE
    if validate:
        data = normalize(frame, kind=kind)
    else:
        if not isinstance(frame, pl.DataFrame):
            raise DTypeError(
                f"with validate=False the frame must be a canonical polars DataFrame, not {type(frame).__name__}"
            )
        missing = [c for c in schema if c not in frame.columns]
        if missing:
            raise InvalidArgumentError(f"the frame lacks canonical column(s) {missing}")
        data = frame
    names: list[str] = data.get_column("symbol").unique().sort().to_list()
    out = np.empty(data.height, dtype=dtype)
    ts = data.get_column("ts")
    if isinstance(ts.dtype, pl.Datetime):
        ts = ts.dt.convert_time_zone("UTC") if ts.dtype.time_zone else ts
        out["ts"] = ts.dt.cast_time_unit("ns").to_physical().to_numpy()
    else:
        out["ts"] = ts.cast(pl.Int64).to_numpy()
    out["symbol"] = data.get_column("symbol").cast(pl.Enum(names)).to_physical().to_numpy()
    for name in schema:
        if name not in ("ts", "symbol"):
            out[name] = data.get_column(name).to_numpy()
    return out, names


def to_arrays(frame: Any, *, validate: bool = True) -> tuple[np.ndarray[Any, Any], list[str]]:
    """``BAR_DTYPE`` records of a bar frame, and the symbol names.

    Parameters
    ----------
    frame
        Bars in any form :func:`normalize` accepts (a canonical frame is the usual input).
    validate : bool
        Normalise (and so validate and sort) first. ``False`` trusts a canonical polars frame
        as it is, for speed.

    Returns
    -------
    records : numpy.ndarray
        ``BAR_DTYPE`` records sorted by (ts, symbol id): ``ts`` int64 ns UTC, ``symbol`` the
        int32 index of the row's name in ``symbols``.
    symbols : list of str
        The distinct symbol names, sorted (so id order is name order).
    """
    return _records(frame, "bars", validate)


def to_tick_arrays(frame: Any, *, validate: bool = True) -> tuple[np.ndarray[Any, Any], list[str]]:
    """``TICK_DTYPE`` records of a tick frame, and the sorted symbol names (see :func:`to_arrays`)."""
    return _records(frame, "ticks", validate)


def from_arrays(records: np.ndarray[Any, Any], symbols: Iterable[str]) -> pl.DataFrame:
    """The canonical frame of ``BAR_DTYPE`` or ``TICK_DTYPE`` records (inverse of :func:`to_arrays`).

    ``records["symbol"]`` holds indices into ``symbols``. Rows keep their order (records from
    :func:`to_arrays` are already sorted by (ts, symbol)).
    """
    records = np.asarray(records)
    names = list(symbols)
    if records.dtype.names is None:
        raise DTypeError("from_arrays takes structured records (BAR_DTYPE or TICK_DTYPE)")
    fields = set(records.dtype.names)
    if fields >= set(BAR_DTYPE.names or ()):
        schema = BAR_SCHEMA
    elif fields >= set(TICK_DTYPE.names or ()):
        schema = TICK_SCHEMA
    else:
        raise DTypeError(f"records with fields {records.dtype.names} are neither bars nor ticks")
    ids = np.asarray(records["symbol"], dtype=np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= len(names)):
        raise InvalidArgumentError(
            f"symbol ids span {ids.min()}..{ids.max()} but {len(names)} names were given"
        )
    data: dict[str, Any] = {
        "ts": pl.Series(np.ascontiguousarray(records["ts"]), dtype=pl.Int64)
        .cast(pl.Datetime("ns"))
        .dt.replace_time_zone("UTC"),
        "symbol": pl.Series(names, dtype=pl.String).gather(ids),
    }
    for name, dtype in schema.items():
        if name not in data:
            data[name] = pl.Series(np.ascontiguousarray(records[name])).cast(dtype)
    return pl.DataFrame(data)
