"""The indicator table: names, inputs, outputs and parameters in TA-Lib's order and defaults.

One row per indicator; the batch functions, the streaming classes, ``lookback``, the feature
spec parser and the polars namespace all read it, and the compiled registry must agree with it
(a test checks).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Param:
    name: str
    default: float
    integer: bool = True


@dataclass(frozen=True)
class Spec:
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    params: tuple[Param, ...]
    cls: str  # streaming class name

    def param_values(self, args: tuple[float, ...], kwargs: dict[str, float], where: str) -> list[float]:
        """Resolves positional and keyword parameters against the defaults, checking names."""
        from ..errors import InvalidArgumentError

        if len(args) > len(self.params):
            raise InvalidArgumentError(f"{where} takes at most {len(self.params)} parameters, got {len(args)}")
        values = [p.default for p in self.params]
        for i, a in enumerate(args):
            values[i] = a
        names = [p.name for p in self.params]
        for k, v in kwargs.items():
            if k not in names:
                raise InvalidArgumentError(f"{where}: unknown parameter {k!r} (parameters: {', '.join(names) or 'none'})")
            i = names.index(k)
            if i < len(args):
                raise InvalidArgumentError(f"{where}: parameter {k!r} given twice")
            values[i] = v
        out: list[float] = []
        for p, v in zip(self.params, values):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise InvalidArgumentError(f"{where}: {p.name} must be a number, got {type(v).__name__}")
            if p.integer and float(v) != int(v):
                raise InvalidArgumentError(f"{where}: {p.name} must be an integer, got {v!r}")
            out.append(float(v))
        return out


def _p(name: str, default: float, integer: bool = True) -> Param:
    return Param(name, default, integer)


_HLC = ("high", "low", "close")
_TP = (_p("timeperiod", 30),)

SPECS: dict[str, Spec] = {
    s.name: s
    for s in [
        Spec("sma", ("real",), ("real",), _TP, "SMA"),
        Spec("ema", ("real",), ("real",), _TP, "EMA"),
        Spec("wma", ("real",), ("real",), _TP, "WMA"),
        Spec("dema", ("real",), ("real",), _TP, "DEMA"),
        Spec("tema", ("real",), ("real",), _TP, "TEMA"),
        Spec("kama", ("real",), ("real",), _TP, "KAMA"),
        Spec("rsi", ("real",), ("real",), (_p("timeperiod", 14),), "RSI"),
        Spec("macd", ("real",), ("macd", "macdsignal", "macdhist"),
             (_p("fastperiod", 12), _p("slowperiod", 26), _p("signalperiod", 9)), "MACD"),
        Spec("bbands", ("real",), ("upperband", "middleband", "lowerband"),
             (_p("timeperiod", 5), _p("nbdevup", 2.0, False), _p("nbdevdn", 2.0, False), _p("matype", 0)), "BBANDS"),
        Spec("stddev", ("real",), ("real",), (_p("timeperiod", 5), _p("nbdev", 1.0, False)), "STDDEV"),
        Spec("var", ("real",), ("real",), (_p("timeperiod", 5), _p("nbdev", 1.0, False)), "VAR"),
        Spec("zscore", ("real",), ("real",), (_p("timeperiod", 20),), "ZSCORE"),
        Spec("mom", ("real",), ("real",), (_p("timeperiod", 10),), "MOM"),
        Spec("roc", ("real",), ("real",), (_p("timeperiod", 10),), "ROC"),
        Spec("atr", _HLC, ("real",), (_p("timeperiod", 14),), "ATR"),
        Spec("natr", _HLC, ("real",), (_p("timeperiod", 14),), "NATR"),
        Spec("trange", _HLC, ("real",), (), "TRANGE"),
        Spec("stoch", _HLC, ("slowk", "slowd"),
             (_p("fastk_period", 5), _p("slowk_period", 3), _p("slowk_matype", 0), _p("slowd_period", 3),
              _p("slowd_matype", 0)), "STOCH"),
        Spec("stochf", _HLC, ("fastk", "fastd"),
             (_p("fastk_period", 5), _p("fastd_period", 3), _p("fastd_matype", 0)), "STOCHF"),
        Spec("willr", _HLC, ("real",), (_p("timeperiod", 14),), "WILLR"),
        Spec("cci", _HLC, ("real",), (_p("timeperiod", 14),), "CCI"),
        Spec("adx", _HLC, ("real",), (_p("timeperiod", 14),), "ADX"),
        Spec("plus_di", _HLC, ("real",), (_p("timeperiod", 14),), "PLUS_DI"),
        Spec("minus_di", _HLC, ("real",), (_p("timeperiod", 14),), "MINUS_DI"),
        Spec("aroon", ("high", "low"), ("aroondown", "aroonup"), (_p("timeperiod", 14),), "AROON"),
        Spec("mfi", ("high", "low", "close", "volume"), ("real",), (_p("timeperiod", 14),), "MFI"),
        Spec("obv", ("real", "volume"), ("real",), (), "OBV"),
        Spec("vwap", ("real", "volume"), ("real",), (_p("timeperiod", 20),), "VWAP"),
    ]
}


def get_spec(name: str) -> Spec:
    from ..errors import InvalidArgumentError

    spec = SPECS.get(name.lower()) if isinstance(name, str) else None
    if spec is None:
        raise InvalidArgumentError(f"unknown indicator {name!r}; known: {', '.join(sorted(SPECS))}")
    return spec
