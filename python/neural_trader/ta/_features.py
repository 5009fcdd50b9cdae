"""The feature extractor: many indicators over OHLCV bars in one call (batch) or one bar at a
time (streaming), named alike."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from .. import _core
from .._args import threads_arg
from ..errors import InvalidArgumentError
from ._batch import _to_float64
from ._spec import Spec, get_spec

__all__ = ["features", "FeatureStream", "parse_spec"]


class _Item:
    __slots__ = ("spec", "params", "columns", "label", "out_names")

    def __init__(self, spec: Spec, params: list[float], columns: list[str], label: str) -> None:
        self.spec = spec
        self.params = params
        self.columns = columns
        self.label = label
        if len(spec.outputs) == 1:
            self.out_names = [label]
        else:
            self.out_names = [f"{label}_{o}" for o in spec.outputs]


def _fmt(v: str) -> str:
    return v.replace(".", "p").replace("-", "m")


def parse_spec(spec: Iterable[str]) -> list[_Item]:
    """Parses feature strings ``name[:p1[:p2...]][@column]``: the indicator's name, its
    parameters in TA-Lib's order (the rest take their defaults), and for one-input indicators the
    column (default ``close``). Multi-input indicators read ``high``, ``low``, ``close``,
    ``volume`` by name."""
    if isinstance(spec, str):
        raise InvalidArgumentError("spec must be a list of strings such as ['sma:20', 'rsi:14']")
    items: list[_Item] = []
    seen: set[str] = set()
    for raw in spec:
        if not isinstance(raw, str) or not raw.strip():
            raise InvalidArgumentError(f"feature spec entries must be non-empty strings, got {raw!r}")
        text = raw.strip()
        column = None
        if "@" in text:
            text, column = text.split("@", 1)
        parts = text.split(":")
        s = get_spec(parts[0])
        args: list[float] = []
        for p in parts[1:]:
            try:
                args.append(float(p))
            except ValueError:
                raise InvalidArgumentError(f"feature {raw!r}: parameter {p!r} is not a number") from None
        params = s.param_values(tuple(args), {}, f"feature {raw!r}")
        if column is not None and len(s.inputs) != 1:
            raise InvalidArgumentError(f"feature {raw!r}: '@column' applies to one-input indicators only")
        cols = [column or "close"] if len(s.inputs) == 1 else [
            "close" if r == "real" else r for r in s.inputs]
        label = "_".join([s.name] + [_fmt(p) for p in parts[1:]] + ([column] if column else []))
        if label in seen:
            raise InvalidArgumentError(f"feature {raw!r} appears twice")
        seen.add(label)
        items.append(_Item(s, params, cols, label))
    if not items:
        raise InvalidArgumentError("empty feature spec")
    return items


def _find_column(columns: Sequence[str], want: str) -> str:
    if want in columns:
        return want
    lower = {c.lower(): c for c in columns}
    if want.lower() in lower:
        return lower[want.lower()]
    raise InvalidArgumentError(f"bars have no {want!r} column (columns: {', '.join(columns)})")


def features(bars: Any, spec: Iterable[str], *, num_threads: int | None = None) -> pl.DataFrame:
    """Computes a set of indicators over OHLCV bars and returns a polars DataFrame with one
    column per feature output, rows aligned with ``bars``.

    ``bars`` is a polars (or pandas) DataFrame with columns named ``open``, ``high``, ``low``,
    ``close``, ``volume`` (any case; only those the features need). ``spec`` lists features as
    ``"name:param1:param2@column"``, e.g. ``["sma:20", "ema:12", "rsi:14", "macd:12:26:9",
    "bbands:20:2", "sma:20@volume"]``; columns are named ``sma_20``, ``macd_12_26_9_macd``,
    ``bbands_20_2_upperband``, ... (``FeatureStream.names`` gives the same list).

    Each input column is converted once and read by every feature that needs it; the features
    run in parallel threads (``num_threads``, default ``nt.get_num_threads()``) with the GIL
    released. Values equal the single-indicator functions exactly.
    """
    items = parse_spec(spec)
    if not isinstance(bars, pl.DataFrame):
        try:
            bars = pl.from_pandas(bars) if type(bars).__module__.startswith("pandas") else pl.DataFrame(bars)
        except Exception as e:  # noqa: BLE001
            raise InvalidArgumentError(f"bars must be a polars DataFrame, got {type(bars).__name__}") from e
    names: list[str] = []
    arrays: list[np.ndarray] = []
    index: dict[str, int] = {}
    input_cols: list[list[int]] = []
    for it in items:
        idx = []
        for want in it.columns:
            col = _find_column(bars.columns, want)
            if col not in index:
                index[col] = len(arrays)
                arrays.append(np.ascontiguousarray(_to_float64(bars.get_column(col), f"column {col!r}")))
            idx.append(index[col])
        input_cols.append(idx)
    threads = threads_arg(num_threads)
    outs = _core._ta_features(arrays, [it.spec.name for it in items], [it.params for it in items], input_cols,
                              threads)
    for it in items:
        names.extend(it.out_names)
    return pl.DataFrame([pl.Series(n, o) for n, o in zip(names, outs)])


class FeatureStream:
    """The streaming twin of ``features``: one set of streaming indicators updated together, one
    bar at a time; ``update`` returns the latest feature vector (``names`` gives its order),
    equal to the last row ``features`` would give over the same bars.

        >>> fs = nt.ta.FeatureStream(["sma:20", "rsi:14", "macd:12:26:9"])
        >>> vec = fs.update(open=1.0, high=1.2, low=0.9, close=1.1, volume=1000.0)

    ``update(bar=None, *, replace=False, **fields)`` takes a mapping (a dict, a polars row as
    ``df.row(i, named=True)``) and/or keyword fields; ``replace=True`` revises the last bar.
    Pickles with its state.
    """

    def __init__(self, spec: Iterable[str]) -> None:
        from . import stream as _stream

        self._items = parse_spec(spec)
        self._streams = [getattr(_stream, it.spec.cls)(*[int(p) if q.integer else p for p, q in
                                                          zip(it.params, it.spec.params)])
                         for it in self._items]
        self._names = [n for it in self._items for n in it.out_names]
        self._needed = sorted({c for it in self._items for c in it.columns})

    @property
    def names(self) -> list[str]:
        """The feature names, in the order of the vectors ``update`` returns."""
        return list(self._names)

    @property
    def ready(self) -> bool:
        """True once every feature has a value."""
        return all(s.ready for s in self._streams)

    def update(self, bar: Mapping[str, float] | None = None, *, replace: bool = False, **fields: float) -> np.ndarray:
        """Feeds one bar and returns the feature vector (NaN where a feature is still warming up)."""
        values: dict[str, float] = {}
        if bar is not None:
            for k, v in bar.items():
                values[k.lower()] = v
        for k, v in fields.items():
            values[k.lower()] = v
        out = np.empty(len(self._names), dtype=np.float64)
        j = 0
        for it, s in zip(self._items, self._streams):
            try:
                args = [float(values[c.lower()]) for c in it.columns]
            except KeyError as e:
                raise InvalidArgumentError(f"bar has no {e.args[0]!r} field (needed by {it.label})") from None
            r = s.update(*args, replace=replace)
            if isinstance(r, tuple):
                out[j:j + len(r)] = r
                j += len(r)
            else:
                out[j] = r
                j += 1
        return out

    def reset(self) -> None:
        """Forgets every bar."""
        for s in self._streams:
            s.reset()

    def __repr__(self) -> str:
        return f"FeatureStream({[it.label for it in self._items]!r}, ready={self.ready})"
