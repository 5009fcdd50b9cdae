"""The polars expression namespace ``.ta``: ``pl.col("close").ta.rsi(14)`` inside
``select``/``with_columns``, ``group_by(...).agg`` and ``.over("symbol")`` (each group computed
on its own). Registered when ``neural_trader.ta`` is imported.

The expression the namespace hangs on is the indicator's price input (``real``, or ``close``
for high/low/close indicators, ``high`` for AROON); other inputs are keyword arguments that take
a column name or an expression and default to the column of that name
(``pl.col("close").ta.atr(14)`` reads ``high`` and ``low``). Multi-output indicators give a
struct with TA-Lib's output names (``.struct.field("macdsignal")``, or ``.struct.unnest()``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from .. import _core
from ..errors import InvalidArgumentError
from ._batch import _to_float64
from ._spec import SPECS, Spec


def _self_role(spec: Spec) -> str:
    for r in ("real", "close"):
        if r in spec.inputs:
            return r
    return spec.inputs[0]


def _make(spec: Spec, params: list[float]) -> Any:
    def fn(s: pl.Series) -> pl.Series:
        if len(spec.inputs) == 1:
            arrays = [_to_float64(s, spec.name)]
        else:
            arrays = [_to_float64(s.struct.field(f"_in{k}"), f"{spec.name}: {r}") for k, r in enumerate(spec.inputs)]
        arrays = [np.ascontiguousarray(a) for a in arrays]
        outs = _core._ta_batch(spec.name, params, arrays, 1)
        if len(outs) == 1:
            return pl.Series(s.name, outs[0])
        return pl.DataFrame({n: o for n, o in zip(spec.outputs, outs)}).to_struct(s.name)

    return fn


def _expr(spec: Spec, this: pl.Expr, others: dict[str, Any], params: list[float]) -> pl.Expr:
    if len(spec.outputs) == 1:
        dtype: Any = pl.Float64
    else:
        dtype = pl.Struct({n: pl.Float64 for n in spec.outputs})
    if len(spec.inputs) == 1:
        inp = this
    else:
        role = _self_role(spec)
        parts = []
        for k, r in enumerate(spec.inputs):
            e = this if r == role else others.get(r, r)
            if isinstance(e, str):
                e = pl.col(e)
            if not isinstance(e, pl.Expr):
                raise InvalidArgumentError(f"{spec.name}: {r} must be a column name or a polars expression")
            parts.append(e.alias(f"_in{k}"))
        inp = pl.struct(parts)
    return inp.map_batches(_make(spec, params), return_dtype=dtype)


@pl.api.register_expr_namespace("ta")
class TaNamespace:
    """Indicators as polars expressions: ``pl.col("close").ta.<name>(params...)`` for every
    function of ``neural_trader.ta`` (``ta.names()``), same parameters and values."""

    def __init__(self, expr: pl.Expr) -> None:
        self._expr = expr

    def __getattr__(self, name: str) -> Any:
        spec = SPECS.get(name)
        if spec is None:
            raise AttributeError(f"no indicator {name!r} in the .ta namespace")
        role = _self_role(spec)
        other_roles = [r for r in spec.inputs if r != role]

        def call(*args: float, **kwargs: Any) -> pl.Expr:
            others = {r: kwargs.pop(r) for r in other_roles if r in kwargs}
            params = spec.param_values(args, kwargs, f".ta.{name}")
            return _expr(spec, self._expr, others, params)

        call.__name__ = name
        call.__doc__ = f"``{name}`` as a polars expression (see ``neural_trader.ta.{name}``)."
        return call

    def names(self) -> list[str]:
        """The indicators available in the namespace."""
        return sorted(SPECS)
