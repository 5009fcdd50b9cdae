"""Streaming indicators: O(1) state machines fed one bar at a time.

Each class wraps the same C++ state machine as the batch function of the same name in
``neural_trader.ta``, so ``update`` over a series gives exactly the batch values. Common to all:
``update(*inputs, replace=False)`` (inputs in TA-Lib's order; returns a float, or a tuple in
TA-Lib's output order; NaN until ``ready``; ``replace=True`` revises the last bar, for a forming
bar; both O(1) whatever the period, except CCI's mean deviation, O(period) as in TA-Lib),
``update_many(*arrays)``, ``value``, ``ready``, ``lookback``, ``count``, ``reset()``,
``copy()``, ``to_bytes()``/``from_bytes()`` and pickling (a half-warm indicator resumes exactly
where it was). Missing inputs (NaN, +-inf) give NaN and are skipped.

Not thread-safe: one indicator object belongs to one thread at a time.

    >>> import neural_trader as nt
    >>> rsi = nt.ta.stream.RSI(14)
    >>> for close in (100.0, 101.5, 100.7):
    ...     value = rsi.update(close)
    >>> value = rsi.update(100.9, replace=True)  # the last bar moved
"""

from __future__ import annotations

from .._engine import _Stream1, _Stream2, _Stream3, _Stream4
from ._spec import get_spec

__all__ = [
    "SMA", "EMA", "WMA", "DEMA", "TEMA", "KAMA", "RSI", "MACD", "BBANDS", "STDDEV", "VAR", "ZSCORE", "MOM", "ROC", "ATR", "NATR", "TRANGE", "STOCH", "STOCHF", "WILLR", "CCI", "ADX", "PLUS_DI", "MINUS_DI", "AROON", "MFI", "OBV", "VWAP",
]


def _params(name: str, **kw: float) -> list[float]:
    spec = get_spec(name)
    return spec.param_values((), kw, spec.cls)


class SMA(_Stream1):
    """Simple moving average: the streaming twin of ``nt.ta.sma`` (same parameters, same values)."""

    _ta_name = "sma"

    def __init__(self, timeperiod: int = 30) -> None:
        self._setup("sma", _params("sma", timeperiod=timeperiod))


class EMA(_Stream1):
    """Exponential moving average: the streaming twin of ``nt.ta.ema`` (same parameters, same values)."""

    _ta_name = "ema"

    def __init__(self, timeperiod: int = 30) -> None:
        self._setup("ema", _params("ema", timeperiod=timeperiod))


class WMA(_Stream1):
    """Weighted moving average: the streaming twin of ``nt.ta.wma`` (same parameters, same values)."""

    _ta_name = "wma"

    def __init__(self, timeperiod: int = 30) -> None:
        self._setup("wma", _params("wma", timeperiod=timeperiod))


class DEMA(_Stream1):
    """Double exponential moving average: the streaming twin of ``nt.ta.dema`` (same parameters, same values)."""

    _ta_name = "dema"

    def __init__(self, timeperiod: int = 30) -> None:
        self._setup("dema", _params("dema", timeperiod=timeperiod))


class TEMA(_Stream1):
    """Triple exponential moving average: the streaming twin of ``nt.ta.tema`` (same parameters, same values)."""

    _ta_name = "tema"

    def __init__(self, timeperiod: int = 30) -> None:
        self._setup("tema", _params("tema", timeperiod=timeperiod))


class KAMA(_Stream1):
    """Kaufman adaptive moving average: the streaming twin of ``nt.ta.kama`` (same parameters, same values)."""

    _ta_name = "kama"

    def __init__(self, timeperiod: int = 30) -> None:
        self._setup("kama", _params("kama", timeperiod=timeperiod))


class RSI(_Stream1):
    """Relative strength index: the streaming twin of ``nt.ta.rsi`` (same parameters, same values)."""

    _ta_name = "rsi"

    def __init__(self, timeperiod: int = 14) -> None:
        self._setup("rsi", _params("rsi", timeperiod=timeperiod))


class MACD(_Stream1):
    """MACD; ``update`` returns ``(macd, macdsignal, macdhist)``: the streaming twin of ``nt.ta.macd`` (same parameters, same values)."""

    _ta_name = "macd"

    def __init__(self, fastperiod: int = 12, slowperiod: int = 26, signalperiod: int = 9) -> None:
        self._setup("macd", _params("macd", fastperiod=fastperiod, slowperiod=slowperiod, signalperiod=signalperiod))


class BBANDS(_Stream1):
    """Bollinger bands; ``update`` returns ``(upperband, middleband, lowerband)``: the streaming twin of ``nt.ta.bbands`` (same parameters, same values)."""

    _ta_name = "bbands"

    def __init__(self, timeperiod: int = 20, nbdevup: float = 2.0, nbdevdn: float = 2.0, matype: int = 0) -> None:
        self._setup("bbands", _params("bbands", timeperiod=timeperiod, nbdevup=nbdevup, nbdevdn=nbdevdn, matype=matype))


class STDDEV(_Stream1):
    """Rolling population standard deviation: the streaming twin of ``nt.ta.stddev`` (same parameters, same values)."""

    _ta_name = "stddev"

    def __init__(self, timeperiod: int = 5, nbdev: float = 1.0) -> None:
        self._setup("stddev", _params("stddev", timeperiod=timeperiod, nbdev=nbdev))


class VAR(_Stream1):
    """Rolling population variance: the streaming twin of ``nt.ta.var`` (same parameters, same values)."""

    _ta_name = "var"

    def __init__(self, timeperiod: int = 5, nbdev: float = 1.0) -> None:
        self._setup("var", _params("var", timeperiod=timeperiod, nbdev=nbdev))


class ZSCORE(_Stream1):
    """Rolling z-score (not in TA-Lib): the streaming twin of ``nt.ta.zscore`` (same parameters, same values)."""

    _ta_name = "zscore"

    def __init__(self, timeperiod: int = 20) -> None:
        self._setup("zscore", _params("zscore", timeperiod=timeperiod))


class MOM(_Stream1):
    """Momentum: the streaming twin of ``nt.ta.mom`` (same parameters, same values)."""

    _ta_name = "mom"

    def __init__(self, timeperiod: int = 10) -> None:
        self._setup("mom", _params("mom", timeperiod=timeperiod))


class ROC(_Stream1):
    """Rate of change: the streaming twin of ``nt.ta.roc`` (same parameters, same values)."""

    _ta_name = "roc"

    def __init__(self, timeperiod: int = 10) -> None:
        self._setup("roc", _params("roc", timeperiod=timeperiod))


class ATR(_Stream3):
    """Average true range; ``update(high, low, close)``: the streaming twin of ``nt.ta.atr`` (same parameters, same values)."""

    _ta_name = "atr"

    def __init__(self, timeperiod: int = 14) -> None:
        self._setup("atr", _params("atr", timeperiod=timeperiod))


class NATR(_Stream3):
    """Normalised average true range; ``update(high, low, close)``: the streaming twin of ``nt.ta.natr`` (same parameters, same values)."""

    _ta_name = "natr"

    def __init__(self, timeperiod: int = 14) -> None:
        self._setup("natr", _params("natr", timeperiod=timeperiod))


class TRANGE(_Stream3):
    """True range; ``update(high, low, close)``: the streaming twin of ``nt.ta.trange`` (same parameters, same values)."""

    _ta_name = "trange"

    def __init__(self) -> None:
        self._setup("trange", _params("trange"))


class STOCH(_Stream3):
    """Slow stochastic; ``update(high, low, close)`` returns ``(slowk, slowd)``: the streaming twin of ``nt.ta.stoch`` (same parameters, same values)."""

    _ta_name = "stoch"

    def __init__(self, fastk_period: int = 5, slowk_period: int = 3, slowk_matype: int = 0, slowd_period: int = 3, slowd_matype: int = 0) -> None:
        self._setup("stoch", _params("stoch", fastk_period=fastk_period, slowk_period=slowk_period, slowk_matype=slowk_matype, slowd_period=slowd_period, slowd_matype=slowd_matype))


class STOCHF(_Stream3):
    """Fast stochastic; ``update(high, low, close)`` returns ``(fastk, fastd)``: the streaming twin of ``nt.ta.stochf`` (same parameters, same values)."""

    _ta_name = "stochf"

    def __init__(self, fastk_period: int = 5, fastd_period: int = 3, fastd_matype: int = 0) -> None:
        self._setup("stochf", _params("stochf", fastk_period=fastk_period, fastd_period=fastd_period, fastd_matype=fastd_matype))


class WILLR(_Stream3):
    """Williams' %R; ``update(high, low, close)``: the streaming twin of ``nt.ta.willr`` (same parameters, same values)."""

    _ta_name = "willr"

    def __init__(self, timeperiod: int = 14) -> None:
        self._setup("willr", _params("willr", timeperiod=timeperiod))


class CCI(_Stream3):
    """Commodity channel index; ``update(high, low, close)`` (O(timeperiod) per update): the streaming twin of ``nt.ta.cci`` (same parameters, same values)."""

    _ta_name = "cci"

    def __init__(self, timeperiod: int = 14) -> None:
        self._setup("cci", _params("cci", timeperiod=timeperiod))


class ADX(_Stream3):
    """Average directional index; ``update(high, low, close)``: the streaming twin of ``nt.ta.adx`` (same parameters, same values)."""

    _ta_name = "adx"

    def __init__(self, timeperiod: int = 14) -> None:
        self._setup("adx", _params("adx", timeperiod=timeperiod))


class PLUS_DI(_Stream3):
    """Plus directional indicator; ``update(high, low, close)``: the streaming twin of ``nt.ta.plus_di`` (same parameters, same values)."""

    _ta_name = "plus_di"

    def __init__(self, timeperiod: int = 14) -> None:
        self._setup("plus_di", _params("plus_di", timeperiod=timeperiod))


class MINUS_DI(_Stream3):
    """Minus directional indicator; ``update(high, low, close)``: the streaming twin of ``nt.ta.minus_di`` (same parameters, same values)."""

    _ta_name = "minus_di"

    def __init__(self, timeperiod: int = 14) -> None:
        self._setup("minus_di", _params("minus_di", timeperiod=timeperiod))


class AROON(_Stream2):
    """Aroon; ``update(high, low)`` returns ``(aroondown, aroonup)``: the streaming twin of ``nt.ta.aroon`` (same parameters, same values)."""

    _ta_name = "aroon"

    def __init__(self, timeperiod: int = 14) -> None:
        self._setup("aroon", _params("aroon", timeperiod=timeperiod))


class MFI(_Stream4):
    """Money flow index; ``update(high, low, close, volume)``: the streaming twin of ``nt.ta.mfi`` (same parameters, same values)."""

    _ta_name = "mfi"

    def __init__(self, timeperiod: int = 14) -> None:
        self._setup("mfi", _params("mfi", timeperiod=timeperiod))


class OBV(_Stream2):
    """On-balance volume; ``update(real, volume)``: the streaming twin of ``nt.ta.obv`` (same parameters, same values)."""

    _ta_name = "obv"

    def __init__(self) -> None:
        self._setup("obv", _params("obv"))


class VWAP(_Stream2):
    """Rolling VWAP (not in TA-Lib); ``update(real, volume)``: the streaming twin of ``nt.ta.vwap`` (same parameters, same values)."""

    _ta_name = "vwap"

    def __init__(self, timeperiod: int = 20) -> None:
        self._setup("vwap", _params("vwap", timeperiod=timeperiod))
