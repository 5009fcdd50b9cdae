"""Pattern memory: the most similar past price windows and what followed them.

:class:`PatternMemory` turns each window of ``window`` log returns of a price series into a
z-scored vector (mean 0, standard deviation 1: the *shape* of the move, not its level or size),
stores it in an :class:`~neural_trader.HNSWIndex` together with the forward log return over the
next ``horizon`` bars, and answers :meth:`PatternMemory.query` with the nearest past windows,
their similarity (the correlation of the two return windows) and a forecast.

No look-ahead: a window ending at bar ``t`` is stored only once bar ``t + horizon`` has been seen
(its forward return is known), both in :meth:`~PatternMemory.fit` and in
:meth:`~PatternMemory.update`. Windows carry the labels ``symbol`` and ``time`` (the bar index,
or the timestamps given), so queries can be restricted to one symbol and to windows whose
outcome was known before a point in time.
"""

from __future__ import annotations

import dataclasses
import json
import os
import struct
from typing import Any

import numpy as np
import numpy.typing as npt

from . import _core
from .errors import CorruptDataError, DTypeError, InvalidArgumentError
from .hnsw import HNSWIndex, Where

__all__ = ["PatternMemory", "PatternForecast"]

_MAGIC = int.from_bytes(b"NTPM", "little")
_VERSION = 1


@dataclasses.dataclass(frozen=True)
class PatternForecast:
    """The answer of :meth:`PatternMemory.query`.

    ``ids``, ``distances``, ``similarity`` (correlation of the return windows, in [-1, 1]),
    ``forward_returns`` (log return over ``horizon`` bars after each neighbour), ``symbols`` and
    ``times`` describe the neighbours, nearest first. ``forecast`` is the distance-weighted mean
    forward return (weights ``1 / (distance + eps)``), ``dispersion`` the weighted standard
    deviation around it, and ``confidence`` in [0, 1] grows with how well the neighbours agree:
    ``|sum w sign(r)| * |forecast| / (|forecast| + dispersion)`` (weights normalised), 1 when
    every neighbour saw the same outcome, near 0 when they split. With no neighbours
    ``forecast`` is NaN and ``confidence`` 0.
    """

    ids: npt.NDArray[np.int64]
    distances: npt.NDArray[np.float32]
    similarity: npt.NDArray[np.float64]
    forward_returns: npt.NDArray[np.float64]
    symbols: npt.NDArray[np.int64]
    times: npt.NDArray[np.int64]
    forecast: float
    dispersion: float
    confidence: float

    def __len__(self) -> int:
        """Neighbours found."""
        return int(len(self.ids))


def _zscore(returns: npt.NDArray[np.float64]) -> npt.NDArray[np.float32]:
    """Rows of returns scaled to mean 0 and (population) standard deviation 1; flat rows -> 0."""
    mu = returns.mean(axis=1, keepdims=True)
    sd = returns.std(axis=1, keepdims=True)
    out = np.zeros_like(returns)
    np.divide(returns - mu, sd, out=out, where=sd > 1e-12)
    return out.astype(np.float32)


def _prices(values: Any, what: str) -> npt.NDArray[np.float64]:
    arr = np.asarray(values)
    if arr.dtype.kind not in "fiu":
        raise DTypeError(f"{what} must be numeric prices, got dtype {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=np.float64).reshape(-1)
    if arr.size and (not np.all(np.isfinite(arr)) or np.any(arr <= 0)):
        raise InvalidArgumentError(f"{what} must be finite and > 0")
    return arr


class PatternMemory:
    """Nearest past price patterns and a forecast from what followed them (HNSW over return windows).

    Parameters
    ----------
    window:
        Returns per pattern (a window spans ``window + 1`` prices).
    horizon:
        Bars after the window over which the forward log return is measured.
    k:
        Default number of neighbours of :meth:`query`.
    M, ef_construction, ef, seed:
        Parameters of the underlying :class:`~neural_trader.HNSWIndex` (metric ``"l2"`` on
        z-scored returns, which ranks windows by correlation).

    Use :meth:`fit` on a history (all complete windows at once), then :meth:`update` one bar at a
    time; :meth:`query` with the latest ``window + 1`` prices. Several symbols share one memory
    (``symbol=`` on every call; ``query(..., symbol=s)`` looks at one symbol only). Not
    thread-safe for writers: one thread calls fit/update; queries from other threads are safe
    (the index allows searches during adds).
    """

    def __init__(self, window: int = 32, horizon: int = 5, k: int = 10, M: int = 16, ef_construction: int = 200,
                 ef: int = 64, seed: int = 100) -> None:
        for name, v in (("window", window), ("horizon", horizon), ("k", k)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
                raise DTypeError(f"{name} must be an integer, got {type(v).__name__}")
        if window < 2:
            raise InvalidArgumentError(f"window must be >= 2, got {window}")
        if horizon < 1:
            raise InvalidArgumentError(f"horizon must be >= 1, got {horizon}")
        if k < 1:
            raise InvalidArgumentError(f"k must be >= 1, got {k}")
        self.window = int(window)
        self.horizon = int(horizon)
        self.k = int(k)
        self.index = HNSWIndex(self.window, "l2", M=M, ef_construction=ef_construction, ef=ef, seed=seed,
                               label_names=("symbol", "time"))
        self._fwd = np.zeros(0, dtype=np.float64)  # forward return by id
        self._n = 0
        # per symbol: recent prices (the last window + horizon + 1) and their times, and the bar count
        self._buf: dict[int, tuple[list[float], list[int], int]] = {}
        self._label_cache: tuple[int, npt.NDArray[np.int64]] = (-1, np.zeros((0, 2), dtype=np.int64))

    # ------------------------------------------------------------------------------------------

    def __len__(self) -> int:
        """Windows stored (each with a known forward return)."""
        return self._n

    def __repr__(self) -> str:
        return (f"<PatternMemory window={self.window} horizon={self.horizon} k={self.k} stored={self._n} "
                f"symbols={sorted(self._buf)}>")

    def _store(self, vectors: npt.NDArray[np.float32], fwd: npt.NDArray[np.float64], symbol: int,
               times: npt.NDArray[np.int64]) -> None:
        n = len(fwd)
        if n == 0:
            return
        ids = np.arange(self._n, self._n + n, dtype=np.int64)
        labels = np.column_stack([np.full(n, symbol, dtype=np.int64), times.astype(np.int64)])
        self.index.add(vectors, ids, labels)
        need = self._n + n
        if need > len(self._fwd):
            grown = np.zeros(max(need, 2 * len(self._fwd), 1024), dtype=np.float64)
            grown[: self._n] = self._fwd[: self._n]
            self._fwd = grown
        self._fwd[self._n:need] = fwd
        # keep the label table current as windows arrive (a rebuild per query would be O(n))
        cached_n, table = self._label_cache
        if cached_n == self._n:
            if need > len(table):
                bigger = np.zeros((max(need, 2 * len(table), 1024), 2), dtype=np.int64)
                bigger[:cached_n] = table[:cached_n]
                table = bigger
            table[self._n:need] = labels
            self._label_cache = (need, table)
        self._n = need

    def fit(self, prices: npt.ArrayLike, symbol: int = 0, times: npt.ArrayLike | None = None) -> PatternMemory:
        """Store every complete window of a price history whose forward return is known (the last
        ``horizon`` windows wait for :meth:`update`), continuing the symbol's series. ``times``
        (int64, one per price, e.g. ns timestamps) label the windows by their last bar; default:
        the bar number within the symbol's series. Returns self."""
        p = _prices(prices, "prices")
        symbol = int(symbol)
        buf, tbuf, count = self._buf.get(symbol, ([], [], 0))
        if times is None:
            t = np.arange(count, count + len(p), dtype=np.int64)
        else:
            t = np.asarray(times)
            if t.dtype.kind not in "iu" or t.shape != p.shape:
                raise InvalidArgumentError("times must be integers, one per price")
            t = t.astype(np.int64)
        allp = np.concatenate([np.asarray(buf, dtype=np.float64), p])
        allt = np.concatenate([np.asarray(tbuf, dtype=np.int64), t])
        # windows already stored end before the buffered tail: the buffer holds window + horizon
        # prices at most, so a window ends at position e (>= window) and is complete when
        # e + horizon < len(allp); skip those whose end lies inside the old buffer's stored part.
        w, h = self.window, self.horizon
        first_end = max(w, len(buf) - h)  # ends < len(buf) - h were stored already
        ends = np.arange(first_end, len(allp) - h)
        if len(ends):
            logp = np.log(allp)
            r = np.diff(logp)
            win = np.lib.stride_tricks.sliding_window_view(r, w)[ends - w]
            fwd = logp[ends + h] - logp[ends]
            self._store(_zscore(win), fwd, symbol, allt[ends])
        keep = w + h
        self._buf[symbol] = (allp[-keep:].tolist(), allt[-keep:].tolist(), count + len(p))
        return self

    def update(self, price: float, symbol: int = 0, time: int | None = None) -> bool:
        """Add one bar; store the window that ended ``horizon`` bars ago now that its forward
        return is known. Returns whether a window was stored."""
        p = _prices([price], "price")
        before = self._n
        self.fit(p, symbol, None if time is None else [int(time)])
        return self._n > before

    def query(self, recent_prices: npt.ArrayLike, k: int | None = None, symbol: int | None = None,
              known_before: int | None = None, ef: int | None = None) -> PatternForecast:
        """Neighbours of the latest window (the last ``window + 1`` prices of ``recent_prices``)
        and a forecast from their forward returns (see :class:`PatternForecast`).

        ``symbol`` restricts to one symbol's windows; ``known_before`` (a time, in the units of
        the labels) to windows whose forward return was known before it, i.e. whose last bar is
        at most ``known_before - horizon`` bars (bar-number times) — a point-in-time query.
        """
        p = _prices(recent_prices, "recent_prices")
        if len(p) < self.window + 1:
            raise InvalidArgumentError(f"query needs at least window + 1 = {self.window + 1} prices, got {len(p)}")
        k = self.k if k is None else int(k)
        r = np.diff(np.log(p[-(self.window + 1):]))[None, :]
        cond: dict[str, int] = {}
        if symbol is not None:
            cond["symbol"] = int(symbol)
        if known_before is not None:
            cond["time_le"] = int(known_before) - self.horizon
        flt = Where(**cond) if cond else None
        ids, dist = self.index.search(_zscore(r), k=k, ef=ef, filter=flt)
        ok = ids[0] >= 0
        ids_v, d = ids[0][ok], dist[0][ok].astype(np.float64)
        if len(ids_v):
            _, labels = self._labels_of(ids_v)
        else:
            labels = np.zeros((0, 2), dtype=np.int64)
        fwd = self._fwd[ids_v] if len(ids_v) else np.zeros(0)
        sim = 1.0 - d / (2.0 * self.window)
        if len(ids_v) == 0:
            forecast, disp, conf = float("nan"), float("nan"), 0.0
        else:
            wts = 1.0 / (d + 1e-6 * self.window)
            wts /= wts.sum()
            forecast = float(np.dot(wts, fwd))
            disp = float(np.sqrt(np.dot(wts, (fwd - forecast) ** 2)))
            agree = abs(float(np.dot(wts, np.sign(fwd))))
            mag = abs(forecast)
            conf = agree * (mag / (mag + disp)) if mag + disp > 0 else 0.0
            conf = min(1.0, max(0.0, conf))
        return PatternForecast(ids=ids_v, distances=dist[0][ok], similarity=sim, forward_returns=fwd,
                               symbols=labels[:, 0], times=labels[:, 1], forecast=forecast, dispersion=disp,
                               confidence=conf)

    def _labels_of(self, ids: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        if self._label_cache[0] != self._n:
            all_ids, labels = self.index.labels()
            table = np.zeros((max(self._n, 1024), 2), dtype=np.int64)
            table[all_ids] = labels
            self._label_cache = (self._n, table)
        table = self._label_cache[1]
        return ids, table[ids]

    # ------------------------------------------------------------------------------------------
    # persistence

    def to_bytes(self) -> bytes:
        """The memory as bytes: settings, the index, forward returns and the per-symbol buffers,
        in the core's checksummed envelope."""
        meta = json.dumps({
            "window": self.window, "horizon": self.horizon, "k": self.k, "n": self._n,
            "buf": {str(s): [b, t, c] for s, (b, t, c) in self._buf.items()},
        }).encode()
        idx = self.index.to_bytes()
        payload = (struct.pack("<QQ", len(meta), len(idx)) + meta + idx
                   + self._fwd[: self._n].astype("<f8").tobytes())
        return _core._frame_pack(_MAGIC, _VERSION, payload)

    @classmethod
    def from_bytes(cls, data: bytes) -> PatternMemory:
        """A memory from :meth:`to_bytes`; CorruptDataError when the bytes are damaged."""
        _, payload = _core._frame_unpack(bytes(data), _MAGIC, 1, _VERSION, "pattern memory")
        try:
            nm, ni = struct.unpack_from("<QQ", payload, 0)
            if 16 + nm + ni > len(payload):
                raise ValueError("sizes exceed the payload")
            meta = json.loads(payload[16:16 + nm].decode())
            index = HNSWIndex.from_bytes(payload[16 + nm:16 + nm + ni])
            fwd = np.frombuffer(payload[16 + nm + ni:], dtype="<f8").astype(np.float64)
            n = int(meta["n"])
            if len(fwd) != n or len(index) != n:
                raise ValueError("window count mismatch")
            self = cls.__new__(cls)
            self.window, self.horizon, self.k = int(meta["window"]), int(meta["horizon"]), int(meta["k"])
            if index.dim != self.window:
                raise ValueError("index dimension differs from window")
            self.index = index
            self._fwd = fwd.copy()
            self._n = n
            self._label_cache = (-1, np.zeros((0, 2), dtype=np.int64))
            self._buf = {int(s): ([float(x) for x in b], [int(x) for x in t], int(c))
                         for s, (b, t, c) in meta["buf"].items()}
        except CorruptDataError:
            raise
        except (ValueError, KeyError, TypeError, struct.error, UnicodeDecodeError) as exc:
            raise CorruptDataError(f"corrupt pattern memory data: {exc}") from None
        return self

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the memory to a file (see :meth:`to_bytes`)."""
        data = self.to_bytes()
        tmp = os.fspath(path) + ".tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> PatternMemory:
        """Read a memory written by :meth:`save`; CorruptDataError when damaged."""
        with open(path, "rb") as f:
            return cls.from_bytes(f.read())

    def __getstate__(self) -> dict[str, Any]:
        return {"bytes": self.to_bytes()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        other = PatternMemory.from_bytes(state["bytes"])
        self.__dict__.update(other.__dict__)
