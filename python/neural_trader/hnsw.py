"""HNSW vector index: approximate nearest neighbours over float32 vectors, with filters.

- :class:`HNSWIndex`: a hierarchical navigable small world graph (Malkov & Yashunin) in the
  compiled core; batch ``add``/``search`` from NumPy with the GIL released and several threads,
  filters applied during the graph walk (id lists, boolean masks, or :class:`Where` conditions on
  int64 label columns) with an automatic exact scan when a filter is very selective, deletion
  with slot reuse, automatic growth, checksummed save/load and pickling.
- :class:`Where`: conditions on the label columns (equality, set membership, ranges).
- :func:`knn_exact`: brute-force neighbours, the reference for recall.

Distances follow hnswlib's conventions: ``"l2"`` is the *squared* Euclidean distance, ``"ip"``
is ``1 - dot(a, b)`` and ``"cosine"`` is ``1 - cos(a, b)`` (vectors are normalised when they
enter the index, so :meth:`HNSWIndex.get_vectors` returns unit vectors for ``"cosine"``).

Thread safety: any number of threads may search at once, also while one thread adds (``add``
calls from several threads queue up; each is itself multi-threaded). Link lists are guarded by
per-point seqlocks that readers never write, storage grows in chunks that never move and are
freed only with the index, and overwriting the slot of a deleted point waits for the search
calls in flight (a reader-writer lock that searches hold shared). Searches are never blocked by
adds that append.
"""

from __future__ import annotations

import operator
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from . import _core
from ._args import threads_arg
from .errors import DTypeError, InvalidArgumentError

__all__ = ["HNSWIndex", "Where", "knn_exact"]

_METRICS = ("l2", "ip", "cosine")
_F32 = np.dtype(np.float32)
_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1

# condition ops understood by the core: range [lo, hi], in set, not in set
_RANGE, _IN, _NOT_IN = 0, 1, 2
_SUFFIXES = ("_not_in", "_between", "_in", "_ne", "_eq", "_lt", "_le", "_gt", "_ge")


def _int(value: Any, what: str) -> int:
    try:
        return operator.index(value)
    except TypeError:
        raise DTypeError(f"{what} must be an integer, got {type(value).__name__}") from None


def _int_array(values: Any, what: str) -> npt.NDArray[np.int64]:
    arr = np.asarray(values)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.dtype.kind not in "iu":
        raise DTypeError(f"{what} must be integers, got dtype {arr.dtype}")
    if arr.dtype.kind == "u" and arr.size and int(arr.max()) > _INT64_MAX:
        raise InvalidArgumentError(f"{what} must fit in int64")
    return np.ascontiguousarray(arr, dtype=np.int64)


def _float_matrix(values: Any, dim: int, what: str) -> npt.NDArray[np.float32]:
    arr = np.asarray(values)
    if arr.dtype.kind not in "fiub":
        raise DTypeError(f"{what} must be numeric (float32 preferred), got dtype {arr.dtype}")
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2 or arr.shape[1] != dim:
        raise InvalidArgumentError(f"{what} must have shape (n, {dim}) (or ({dim},) for one), got {arr.shape}")
    return np.ascontiguousarray(arr, dtype=np.float32)


class Where:
    """Conditions on the int64 label columns of an :class:`HNSWIndex`, for ``search(filter=...)``.

    Keyword names are a label column, optionally with a suffix::

        Where(symbol=3)                  # equality
        Where(symbol=[3, 7])             # set membership (any iterable), same as symbol_in=
        Where(time_lt=t)                 # time < t   (also _le, _gt, _ge)
        Where(time_between=(t0, t1))     # t0 <= time <= t1
        Where(symbol_ne=3, sector_not_in=[1, 2])

    A point passes when every condition holds. ``Where(...) & Where(...)`` combines two filters.
    A column literally named like ``a_lt`` is matched by its full name first.
    """

    __slots__ = ("_conds",)

    def __init__(self, **conditions: Any) -> None:
        self._conds: list[tuple[str, str, Any]] = []
        for key, value in conditions.items():
            self._conds.append((key, "", value))

    def __and__(self, other: Where) -> Where:
        """Both filters' conditions."""
        if not isinstance(other, Where):
            return NotImplemented
        out = Where()
        out._conds = self._conds + other._conds
        return out

    def __repr__(self) -> str:
        return "Where(" + ", ".join(f"{k}={v!r}" for k, _, v in self._conds) + ")"

    def compile(self, label_names: Sequence[str]) -> list[tuple[int, int, int, int, npt.NDArray[np.int64]]]:
        """The conditions as (column, op, lo, hi, values) tuples for the core; raises
        InvalidArgumentError for an unknown column or a bad value."""
        names = list(label_names)
        out: list[tuple[int, int, int, int, npt.NDArray[np.int64]]] = []
        empty = np.zeros(0, dtype=np.int64)
        for key, _, value in self._conds:
            col, suffix = key, ""
            if key not in names:
                for s in _SUFFIXES:
                    if key.endswith(s) and key[: -len(s)] in names:
                        col, suffix = key[: -len(s)], s
                        break
                else:
                    raise InvalidArgumentError(
                        f"Where: no label column {key!r} (columns: {names}; suffixes: {', '.join(_SUFFIXES)})")
            c = names.index(col)
            if suffix in ("", "_eq") and not _is_collection(value):
                v = _int(value, f"Where {key}")
                out.append((c, _RANGE, v, v, empty))
            elif suffix in ("", "_in"):
                out.append((c, _IN, 0, 0, _int_array(list(value), f"Where {key}")))
            elif suffix == "_not_in":
                out.append((c, _NOT_IN, 0, 0, _int_array(list(value), f"Where {key}")))
            elif suffix == "_ne":
                out.append((c, _NOT_IN, 0, 0, np.array([_int(value, f"Where {key}")], dtype=np.int64)))
            elif suffix == "_between":
                lo, hi = value
                out.append((c, _RANGE, _int(lo, f"Where {key}"), _int(hi, f"Where {key}"), empty))
            else:
                v = _int(value, f"Where {key}")
                if suffix == "_lt":
                    if v == _INT64_MIN:
                        out.append((c, _RANGE, 1, 0, empty))  # nothing passes
                    else:
                        out.append((c, _RANGE, _INT64_MIN, v - 1, empty))
                elif suffix == "_le":
                    out.append((c, _RANGE, _INT64_MIN, v, empty))
                elif suffix == "_gt":
                    if v == _INT64_MAX:
                        out.append((c, _RANGE, 1, 0, empty))
                    else:
                        out.append((c, _RANGE, v + 1, _INT64_MAX, empty))
                elif suffix == "_ge":
                    out.append((c, _RANGE, v, _INT64_MAX, empty))
                else:
                    raise InvalidArgumentError(f"Where: cannot use {key!r} with a collection")
        return out


def _is_collection(value: Any) -> bool:
    return isinstance(value, (Iterable, np.ndarray)) and not isinstance(value, (str, bytes))


def knn_exact(data: npt.ArrayLike, queries: npt.ArrayLike, k: int = 10, metric: str = "l2",
              num_threads: int | None = None) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """Exact k nearest neighbours by brute force: ``(ids int64 [nq, k], distances float32 [nq, k])``.

    ``ids`` are row numbers of ``data`` [n, dim], nearest first (ties by row number); rows beyond
    ``n`` are padded with id -1 and distance inf. Same metrics and distance conventions as
    :class:`HNSWIndex`. Runs in the compiled core on up to ``num_threads`` threads (default: the
    ``nt.set_num_threads`` cap), GIL released.
    """
    d = np.asarray(data)
    if d.ndim != 2 or d.shape[1] < 1:
        raise InvalidArgumentError(f"data must have shape (n, dim) with dim >= 1, got {d.shape}")
    dim = int(d.shape[1])
    d32 = _float_matrix(d, dim, "data")
    q32 = _float_matrix(queries, dim, "queries")
    k = _int(k, "k")
    if k < 1:
        raise InvalidArgumentError(f"k must be >= 1, got {k}")
    if metric not in _METRICS:
        raise InvalidArgumentError(f"metric must be one of {_METRICS}, got {metric!r}")
    ids, dist = _core._knn_exact(d32, q32, k, metric, threads_arg(num_threads, 0))
    return ids, dist


class HNSWIndex:
    """Approximate nearest-neighbour index over float32 vectors (HNSW graph, compiled core).

    Parameters
    ----------
    dim:
        Vector length.
    metric:
        ``"l2"`` (squared Euclidean), ``"ip"`` (1 - dot) or ``"cosine"`` (1 - cosine similarity).
    M:
        Links per point on the upper levels (2M on level 0); 16 suits most data.
    ef_construction:
        Candidate list size while inserting: higher builds slower and searches better.
    ef:
        Default candidate list size of :meth:`search` (raised to ``k`` when smaller).
    capacity:
        Initial slots; the index grows past it on its own (storage is added in chunks that never
        move, so searches may run while it grows).
    seed:
        Seeds the level draws: a single-threaded build is reproducible.
    label_names:
        Names of int64 label columns given to :meth:`add` (e.g. ``("symbol", "time")``) that
        :class:`Where` filters test.
    num_threads:
        Default thread count of :meth:`add` and :meth:`search`; 0 uses the ``nt.set_num_threads``
        cap.

    ``search`` returns ``(ids, distances)``: int64 and float32 arrays of shape ``(n_queries, k)``,
    nearest first. When fewer than ``k`` points qualify (small index, selective filter) the rows
    are padded with id **-1** and distance **inf**; no error is raised.

    Thread safety: see the module docstring. Searches from many threads are safe, also while one
    thread adds; ``add``, ``mark_deleted`` and ``save`` from several threads queue up.
    """

    def __init__(self, dim: int, metric: str = "l2", M: int = 16, ef_construction: int = 200, ef: int = 64,
                 capacity: int = 1024, seed: int = 100, label_names: Sequence[str] = (),
                 num_threads: int = 0) -> None:
        dim = _int(dim, "dim")
        if metric not in _METRICS:
            raise InvalidArgumentError(f"metric must be one of {_METRICS}, got {metric!r}")
        for name, v in (("M", M), ("ef_construction", ef_construction), ("ef", ef), ("capacity", capacity)):
            if _int(v, name) < (0 if name == "capacity" else 1):
                raise InvalidArgumentError(f"{name} must be >= 1, got {v}")
        seed = _int(seed, "seed")
        if not 0 <= seed < (1 << 64):
            raise InvalidArgumentError(f"seed must be in [0, 2**64), got {seed}")
        if isinstance(label_names, str):
            raise DTypeError("label_names must be a sequence of names, e.g. ('symbol', 'time')")
        names = [str(n) for n in label_names]
        if len(set(names)) != len(names):
            raise InvalidArgumentError(f"label_names must be unique, got {names}")
        self._num_threads = threads_arg(num_threads, 0)
        self._impl = _core._HNSWIndex(dim, metric, int(M), int(ef_construction), int(ef), int(capacity), seed, names)
        self._next_id = 0
        self._dim = dim

    @classmethod
    def _wrap(cls, impl: Any) -> HNSWIndex:
        self = cls.__new__(cls)
        self._impl = impl
        self._num_threads = 0
        ids, _ = impl.ids()
        self._next_id = int(ids.max()) + 1 if len(ids) else 0
        self._dim = int(impl.dim)
        return self

    # ------------------------------------------------------------------------------------------
    # properties

    @property
    def dim(self) -> int:
        """Vector length."""
        return int(self._impl.dim)

    @property
    def metric(self) -> str:
        """Distance: ``"l2"``, ``"ip"`` or ``"cosine"``."""
        return str(self._impl.metric)

    @property
    def M(self) -> int:
        """Links per point on the upper levels (2M on level 0)."""
        return int(self._impl.M)

    @property
    def ef_construction(self) -> int:
        """Candidate list size while inserting."""
        return int(self._impl.ef_construction)

    @property
    def ef(self) -> int:
        """Default candidate list size of :meth:`search` (saved with the index)."""
        return int(self._impl.ef)

    @ef.setter
    def ef(self, value: int) -> None:
        v = _int(value, "ef")
        if v < 1:
            raise InvalidArgumentError(f"ef must be >= 1, got {v}")
        self._impl.ef = v

    @property
    def label_names(self) -> tuple[str, ...]:
        """Names of the int64 label columns."""
        return tuple(self._impl.label_names)

    @property
    def capacity(self) -> int:
        """Slots allocated now (the index grows on its own)."""
        return int(self._impl.capacity)

    @property
    def deleted_count(self) -> int:
        """Deleted points whose slots wait for reuse by later adds."""
        return int(self._impl.deleted_count)

    @property
    def memory_bytes(self) -> int:
        """Bytes held by vectors, graph and the id map (an estimate of the index's own memory)."""
        return int(self._impl.memory_bytes)

    @property
    def simd(self) -> str:
        """Distance kernels this index runs (``"avx2"`` or ``"scalar"``; see ``nt.build_info()``)."""
        return str(self._impl.simd)

    @property
    def last_search_stats(self) -> dict[str, Any]:
        """What the last :meth:`search` call on this object did: ``path`` (``"graph"`` or
        ``"exact"``: the allowed points were scanned exactly), ``filtered``, ``allowed`` (points
        the filter allowed; live points when unfiltered), ``subgraph`` (a selective filter's
        walk used links among the allowed points, collected once for all the call's queries;
        ``subgraph_walks``: how many queries walked them),
        ``exact_fallbacks`` (queries whose filtered walk found fewer than ``k`` allowed points
        while more exist, answered by an exact scan instead) and ``distances`` (distance
        evaluations). With searches from several threads, whichever finished last."""
        return dict(self._impl.last_stats)

    # ------------------------------------------------------------------------------------------
    # writing

    def add(self, vectors: npt.ArrayLike, ids: npt.ArrayLike | None = None, labels: npt.ArrayLike | None = None,
            num_threads: int | None = None) -> npt.NDArray[np.int64]:
        """Add vectors [n, dim] (float32; other numeric dtypes and layouts are converted) and return
        their ids.

        ``ids``: unique int64 ids not live in the index (default: consecutive ids after the
        largest one added so far). ``labels``: int64 [n, len(label_names)] for :class:`Where`
        filters (required when the index has label columns). Slots of deleted points are reused.
        Everything is checked before the index changes (wrong shapes, duplicate ids, NaN or
        infinite values raise and leave it unchanged). Runs on up to ``num_threads`` threads with
        the GIL released; Ctrl-C stops a long add between batches of 8192 (the points added so
        far stay).
        """
        v = _float_matrix(vectors, self._dim, "vectors")
        n = v.shape[0]
        if ids is None:
            id_arr = np.arange(self._next_id, self._next_id + n, dtype=np.int64)
        else:
            id_arr = _int_array(ids, "ids").reshape(-1)
            if id_arr.shape[0] != n:
                raise InvalidArgumentError(f"ids must have {n} entries (one per vector), got {id_arr.shape[0]}")
        lab: Any = None
        if labels is not None:
            la = np.asarray(labels)
            if la.dtype.kind not in "iu":
                raise DTypeError(f"labels must be integers (int64), got dtype {la.dtype}")
            if la.ndim == 1 and len(self.label_names) == 1:
                la = la.reshape(-1, 1)
            if la.ndim != 2 or la.shape != (n, len(self.label_names)):
                raise InvalidArgumentError(
                    f"labels must have shape ({n}, {len(self.label_names)}) for columns {self.label_names}, "
                    f"got {la.shape}")
            lab = np.ascontiguousarray(la, dtype=np.int64)
        elif self.label_names and n:
            raise InvalidArgumentError(f"this index has label columns {self.label_names}: give labels=")
        if n == 0:
            return id_arr
        self._impl.add(v, id_arr, lab, threads_arg(num_threads, self._num_threads), True)
        self._next_id = max(self._next_id, int(id_arr.max()) + 1)
        return id_arr

    def mark_deleted(self, ids: npt.ArrayLike) -> None:
        """Delete points: they never come back from :meth:`search`, and later adds reuse their
        slots. Every id must be live, otherwise nothing changes (InvalidArgumentError)."""
        self._impl.mark_deleted(_int_array(ids, "ids").reshape(-1))

    def unmark_deleted(self, ids: npt.ArrayLike) -> None:
        """Undo :meth:`mark_deleted` for points whose slots were not reused yet (all or nothing)."""
        self._impl.unmark_deleted(_int_array(ids, "ids").reshape(-1))

    def reserve(self, n: int) -> None:
        """Allocate room for ``n`` points now (the index also grows on its own)."""
        n = _int(n, "n")
        if n < 0:
            raise InvalidArgumentError(f"n must be >= 0, got {n}")
        self._impl.reserve(n)

    # ------------------------------------------------------------------------------------------
    # reading

    def search(self, queries: npt.ArrayLike, k: int = 10, ef: int | None = None, filter: Any = None,
               num_threads: int | None = None,
               exact: bool | None = None) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """The ``k`` nearest live points of each query: ``(ids int64 [n, k], distances float32
        [n, k])``, nearest first; rows padded with id -1 and distance inf when fewer than ``k``
        points qualify. One query of shape ``(dim,)`` gives arrays of shape ``(1, k)``.

        ``ef``: candidate list size (default :attr:`ef`; raised to ``k``); higher is slower and
        more accurate. ``filter`` restricts the result during the graph walk (not by
        post-filtering ``k`` results):

        - an array of allowed ids (any integer dtype),
        - a boolean mask indexed by id (``mask[id]``; ids outside it are excluded),
        - a :class:`Where` on the label columns.

        When a filter leaves fewer than 2% of the points (or no more than ``ef``), the allowed
        points are scanned exactly instead (the graph walk would lose recall); ``exact=True`` /
        ``False`` forces either path, and :attr:`last_search_stats` says which ran. Below a
        quarter of the points, the walk steps over rejected points without computing their
        distances (it evaluates their allowed neighbours instead); with enough queries in one
        call it first collects links among the allowed points once for all of them (each
        allowed point's allowed neighbours, and the allowed points that share a rejected
        neighbour with it; about 1 us per allowed point, worth it from a few dozen queries at
        ``ef=64``). A walk that reaches fewer than ``k`` allowed points while more exist
        falls back to the exact scan for that query, so a filtered search never comes up short.
        Runs on up to ``num_threads`` threads with the GIL released.
        """
        q = queries
        # fast path (a single query from Python costs a few microseconds): float32, C order
        if (type(q) is np.ndarray and q.dtype == _F32 and 1 <= q.ndim <= 2 and q.shape[-1] == self._dim
                and q.flags.c_contiguous):
            if q.ndim == 1:
                q = q.reshape(1, -1)
        else:
            q = _float_matrix(queries, self._dim, "queries")
        if type(k) is not int or k < 1:
            k = _int(k, "k")
            if k < 1:
                raise InvalidArgumentError(f"k must be >= 1, got {k}")
        ef_v = 0
        if ef is not None:
            ef_v = _int(ef, "ef")
            if ef_v < 1:
                raise InvalidArgumentError(f"ef must be >= 1, got {ef_v}")
        kind, obj = (0, None) if filter is None else self._filter(filter)
        force = -1 if exact is None else (1 if exact else 0)
        threads = self._num_threads if num_threads is None else threads_arg(num_threads, 0)
        return self._impl.search(q, k, ef_v, kind, obj, threads, force, 0.02)

    def _filter(self, f: Any) -> tuple[int, Any]:
        if f is None:
            return 0, None
        if isinstance(f, Where):
            return 3, f.compile(self.label_names)
        if callable(f) and not isinstance(f, np.ndarray):
            raise DTypeError("filter must be an id array, a boolean mask or nt.Where(...); Python callables are "
                             "not supported (they would run once per visited point)")
        arr = np.asarray(f)
        if arr.dtype == np.bool_:
            if arr.ndim != 1:
                raise InvalidArgumentError(f"a boolean mask filter must be 1-D (indexed by id), got shape {arr.shape}")
            return 2, np.ascontiguousarray(arr).view(np.uint8)
        return 1, _int_array(arr, "filter ids").reshape(-1)

    def get_vectors(self, ids: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """Stored vectors of live ids, float32 [n, dim] (unit vectors for ``"cosine"``)."""
        return self._impl.get_vectors(_int_array(ids, "ids").reshape(-1))

    def ids(self) -> npt.NDArray[np.int64]:
        """Ids of the live points (in storage order)."""
        return self._impl.ids()[0]

    def labels(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """``(ids, labels)`` of the live points: labels is int64 [n, len(label_names)]."""
        ids, cols = self._impl.ids()
        return ids, cols

    def __len__(self) -> int:
        """Live (not deleted) points."""
        return len(self._impl)

    def __contains__(self, id: object) -> bool:
        """Whether ``id`` is a live point."""
        try:
            i = operator.index(id)  # type: ignore[arg-type]
        except TypeError:
            return False
        return bool(_INT64_MIN <= i <= _INT64_MAX and self._impl.contains(i))

    def check_integrity(self) -> None:
        """Validate the graph (link targets, counts, levels); raises AssertionError on a problem.
        For tests; do not call during an add."""
        problem = self._impl.check_integrity()
        if problem:
            raise AssertionError(problem)

    def __repr__(self) -> str:
        names = f" labels={self.label_names}" if self.label_names else ""
        return (f"<HNSWIndex dim={self.dim} metric={self.metric!r} len={len(self)} M={self.M} "
                f"ef_construction={self.ef_construction} ef={self.ef} capacity={self.capacity}"
                f"{names} simd={self.simd!r}>")

    # ------------------------------------------------------------------------------------------
    # persistence

    def to_bytes(self) -> bytes:
        """The whole index as bytes (magic, format version, sizes, CRC-32C checksum)."""
        return self._impl.to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> HNSWIndex:
        """An index from :meth:`to_bytes` output. Corrupted or truncated input raises
        :class:`~neural_trader.errors.CorruptDataError` (a ValueError); every field and graph
        link is validated and nothing larger than the input can hold is allocated."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise DTypeError(f"from_bytes needs bytes, got {type(data).__name__}")
        return cls._wrap(_core._HNSWIndex.from_bytes(memoryview(data).cast("B")))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the index to ``path`` (the :meth:`to_bytes` format), through a temporary file
        renamed into place, so a crash never leaves a half-written file under that name."""
        data = self.to_bytes()
        target = os.fspath(path)
        folder = os.path.dirname(os.path.abspath(target))
        fd, tmp = tempfile.mkstemp(prefix=".nt-hnsw-", dir=folder)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, target)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> HNSWIndex:
        """Read an index written by :meth:`save`; CorruptDataError when the file is corrupted,
        truncated or not an index."""
        with open(path, "rb") as f:
            return cls.from_bytes(f.read())

    def __getstate__(self) -> Mapping[str, Any]:
        return {"index": self.to_bytes(), "num_threads": self._num_threads, "next_id": self._next_id}

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        other = HNSWIndex.from_bytes(state["index"])
        self._impl = other._impl
        self._num_threads = int(state.get("num_threads", 0))
        self._next_id = max(other._next_id, int(state.get("next_id", 0)))
        self._dim = other._dim
