"""Input/output conversion for the batch functions: NumPy, polars and pandas in, the same kind out."""

from __future__ import annotations

import sys
from typing import Any, Sequence

import numpy as np
import polars as pl

from .. import _core
from ..errors import DTypeError, InvalidArgumentError
from ._spec import SPECS, Spec, get_spec


def _pandas_series_type() -> Any:
    pd = sys.modules.get("pandas")  # only if the caller already uses pandas
    return None if pd is None else pd.Series


def _to_float64(x: Any, what: str) -> np.ndarray:
    if isinstance(x, pl.Series):
        if not x.dtype.is_numeric():
            raise DTypeError(f"{what}: expected a numeric Series, got {x.dtype}")
        out: np.ndarray = x.cast(pl.Float64).to_numpy()
        return out
    ps = _pandas_series_type()
    if ps is not None and isinstance(x, ps):
        import pandas as pd  # type: ignore[import-untyped,unused-ignore]

        if not pd.api.types.is_numeric_dtype(x.dtype) or pd.api.types.is_bool_dtype(x.dtype):
            raise DTypeError(f"{what}: expected a numeric Series, got {x.dtype}")
        return np.asarray(x.to_numpy(dtype=np.float64, na_value=np.nan))
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiu":
        raise DTypeError(f"{what}: expected numbers, got dtype {arr.dtype}")
    if arr.dtype != np.float64:
        arr = arr.astype(np.float64)
    if arr.ndim not in (1, 2):
        raise InvalidArgumentError(f"{what}: expected a 1-D array (or 2-D: symbols x time), got {arr.ndim}-D")
    if arr.ndim == 2 and not arr.flags.c_contiguous and arr.strides[1] != 8:
        arr = np.ascontiguousarray(arr)
    return arr


def _wrap(like: Any, values: np.ndarray, name: str) -> Any:
    if isinstance(like, pl.Series):
        return pl.Series(like.name if name == "real" else f"{like.name}_{name}" if like.name else name, values)
    ps = _pandas_series_type()
    if ps is not None and isinstance(like, ps):
        return ps(values, index=like.index, name=like.name if name == "real" else name)
    return values


_F64 = np.dtype(np.float64)
_ND = np.ndarray


def _fast_params(spec: Spec, values: tuple[Any, ...]) -> list[float]:
    """The public functions pass every parameter positionally, in order: check types only."""
    out: list[float] = []
    for p, v in zip(spec.params, values):
        t = type(v)
        if t is int or (t is float and (not p.integer or v == int(v))):
            out.append(float(v))
        else:
            return spec.param_values(values, {}, spec.name)  # the slow path explains what is wrong
    return out


def run(spec_name: str, inputs: tuple[Any, ...], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Runs one indicator over whole arrays."""
    spec = SPECS.get(spec_name) or get_spec(spec_name)
    params: Sequence[float]
    if kwargs or len(args) != len(spec.params):
        params = spec.param_values(args, kwargs, spec.name)
    else:
        # All ints (the common call; valid for integer and float parameters alike, and bool is
        # not int here) pass as they are: the core converts them.
        params = args
        for v in args:
            if type(v) is not int:
                params = _fast_params(spec, args)
                break
    return run_spec(spec, inputs, params)


def run_spec(spec: Spec, inputs: tuple[Any, ...], params: Sequence[float]) -> Any:
    if len(inputs) != len(spec.inputs):
        raise InvalidArgumentError(f"{spec.name} takes {len(spec.inputs)} input(s) ({', '.join(spec.inputs)})")
    # The common call, straight to the core: float64 NumPy arrays of one shape, 1-D or 2-D (the
    # core checks strides; anything else is converted or explained below).
    first = inputs[0]
    if type(first) is _ND and first.dtype is _F64 and 1 <= first.ndim <= 2:
        shape = first.shape
        for x in inputs:
            if type(x) is not _ND or x.dtype is not _F64 or x.shape != shape:
                break
        else:
            outs = _core._ta_batch(spec.name, params, inputs, 0)
            return outs[0] if len(outs) == 1 else outs
    plain = True
    arrays = []
    for x, n in zip(inputs, spec.inputs):
        if type(x) is np.ndarray and x.dtype == _F64 and 1 <= x.ndim <= 2:
            arrays.append(x)
        else:
            plain = False
            arrays.append(_to_float64(x, f"{spec.name}: {n}"))
    shape = arrays[0].shape
    for a, n in zip(arrays, spec.inputs):
        if a.shape != shape:
            raise InvalidArgumentError(f"{spec.name}: inputs differ in shape ({n}: {a.shape}, {spec.inputs[0]}: {shape})")
    outs = _core._ta_batch(spec.name, params, arrays, 0)
    if plain or type(inputs[0]) is np.ndarray:
        return outs[0] if len(outs) == 1 else outs
    first = inputs[0]
    if len(outs) == 1:
        return _wrap(first, outs[0], "real")
    return tuple(_wrap(first, o, n) for o, n in zip(outs, spec.outputs))
