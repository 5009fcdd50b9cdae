"""Sublinear sketches: distinct counts, frequencies, membership and samples in fixed memory.

- :class:`HyperLogLog`: distinct count (HIP / Ertl estimators), mergeable across ``lg_k``.
- :class:`CountMinSketch`: frequency estimates that never under-count, optional conservative
  update and a heavy-hitter list (``top_k``).
- :class:`BloomFilter`: membership with no false negatives; blocked layout sized so the
  false-positive rate stays on target.
- :class:`Reservoir`: uniform (Algorithm L) or weighted (A-ExpJ) sample of Python objects or
  NumPy rows; reproducible with a seed; mergeable.
- :func:`hash64`: the seeded 64-bit hash every sketch uses.

Items are hashed through one canonical encoding, so sketches fed from different input kinds
agree: integers as int64 (Python ints, bools and NumPy integer arrays), floats as float64 bits
(``-0.0`` is ``0.0``, every NaN is one item), ``str`` as its UTF-8 bytes (``"a"`` and ``b"a"`` are
the same item), ``bytes`` as they are. ``1`` and ``1.0`` are different items. Batch calls take
NumPy arrays (int, uint, bool, float, ``S`` bytes, ``U`` str, object), polars or pandas Series
and Python iterables, and run in the compiled core with the GIL released.

Ctrl-C interrupts a long batch call (checked every 8 Mi items; the items before that point stay
added).

Every sketch serialises with ``to_bytes()`` / ``from_bytes()`` (a checksummed, versioned
envelope; corrupted input raises :class:`~neural_trader.errors.CorruptDataError`) and pickles
through the same bytes. Thread safety: one writer at a time; merge copies the other sketch's
state, so build per-thread sketches and merge them.
"""

from __future__ import annotations

import io
import math
import operator
import pickle
import secrets
from collections.abc import Iterable
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from . import _core
from ._args import threads_arg
from ._engine import BloomFilterPort, HyperLogLogPort
from .errors import CorruptDataError, DTypeError, InvalidArgumentError

__all__ = ["HyperLogLog", "CountMinSketch", "BloomFilter", "Reservoir", "hash64"]

_U64 = 1 << 64


def _int(value: Any, name: str) -> int:
    try:
        return operator.index(value)
    except TypeError:
        raise DTypeError(f"{name} must be an integer, got {type(value).__name__}") from None


def _seed(seed: Any) -> int:
    s = _int(seed, "seed")
    if not 0 <= s < _U64:
        raise InvalidArgumentError(f"seed must be in [0, 2**64), got {s}")
    return s


def _number(value: Any, name: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise DTypeError(f"{name} must be a number, got {type(value).__name__}")
    return float(value)


def _series_to_numpy(items: Any) -> Any:
    """polars / pandas Series (and Index) to NumPy; other objects unchanged."""
    mod = type(items).__module__
    if mod.startswith("polars"):
        if hasattr(items, "columns"):
            raise DTypeError("pass one column (a polars Series), not a DataFrame")
        if items.null_count() > 0:
            raise InvalidArgumentError("the Series holds nulls; drop them first (s.drop_nulls())")
        return items.to_numpy()
    if mod.startswith("pandas"):
        if hasattr(items, "columns"):
            raise DTypeError("pass one column (a pandas Series), not a DataFrame")
        if bool(items.isna().any()) and items.dtype.kind not in "f":
            raise InvalidArgumentError("the Series holds missing values; drop them first (s.dropna())")
        return items.to_numpy()
    return items


def _prepare(items: Any) -> Any:
    """Items for the core: a 1-D contiguous array of int64, float64, S, U or object dtype, or a
    list/tuple of Python items."""
    if isinstance(items, (str, bytes, bytearray, memoryview)):
        raise DTypeError("batch calls take a collection of items; to add one str/bytes item use the single-item call")
    items = _series_to_numpy(items)
    if isinstance(items, (list, tuple)):
        return items
    if not isinstance(items, np.ndarray):
        if isinstance(items, Iterable):
            return list(items)
        raise DTypeError(f"items must be an array, a Series or an iterable, got {type(items).__name__}")
    arr = items
    if arr.ndim != 1:
        raise InvalidArgumentError(f"items must be 1-D, got an array of shape {arr.shape}")
    kind = arr.dtype.kind
    if kind == "b":
        return np.ascontiguousarray(arr, dtype=np.int64)
    if kind == "i":
        return np.ascontiguousarray(arr, dtype=np.int64)
    if kind == "u":
        if arr.dtype.itemsize == 8:
            if arr.size and int(arr.max()) >= 1 << 63:
                raise InvalidArgumentError("uint64 items must be below 2**63 (items are hashed as int64)")
        return np.ascontiguousarray(arr, dtype=np.int64)
    if kind == "f":
        return np.ascontiguousarray(arr, dtype=np.float64)
    if kind in "SUO":
        if not arr.dtype.isnative:
            arr = arr.astype(arr.dtype.newbyteorder("="))
        return np.ascontiguousarray(arr)
    if kind == "T":  # NumPy 2 StringDType
        return arr.astype(object)
    raise DTypeError(
        f"cannot hash items of dtype {arr.dtype}: use integers, floats, bytes ('S'), str ('U') or Python objects"
    )


def _check_bytes(data: Any) -> Any:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise DTypeError(f"from_bytes() takes bytes, got {type(data).__name__}")
    return data


def hash64(items: Any, seed: int = 0) -> Any:
    """The seeded 64-bit hash of one item, or a uint64 array of the hashes of a batch.

    One item (int, float, str, bytes) gives an ``int`` in ``[0, 2**64)``; an array, Series, list
    or tuple gives a ``numpy.uint64`` array. The encoding is canonical (see the module
    docstring): ``hash64("a") == hash64(b"a")``, ``hash64(1) != hash64(1.0)``,
    ``hash64(-0.0) == hash64(0.0)``. Values are identical on every platform and in every
    process for a given seed.

    >>> import neural_trader as nt
    >>> nt.hash64("AAPL") == nt.hash64(b"AAPL")
    True
    """
    s = _seed(seed)
    if isinstance(items, (list, tuple, np.ndarray)) or type(items).__module__.startswith(("polars", "pandas")):
        return _core.hash64_many(_prepare(items), s)
    return _core.hash64(items, s)


# ---------------------------------------------------------------------------------------------
class _CompiledSketch:
    """Copy, bytes, pickling and equality of a sketch held in a compiled object ``_impl``, whose
    class ``_core_type`` has ``from_bytes``. Subclasses provide ``_wrap(impl)``."""

    _impl: Any
    _core_type: Any

    @classmethod
    def _wrap(cls, impl: Any) -> Any:
        raise NotImplementedError

    def copy(self: _S) -> _S:
        """A deep copy."""
        return type(self)._wrap(self._impl.copy())  # type: ignore[no-any-return]

    def to_bytes(self) -> bytes:
        """Serialised form: a checksummed, versioned envelope."""
        return self._impl.to_bytes()  # type: ignore[no-any-return]

    @classmethod
    def from_bytes(cls: type[_S], data: bytes) -> _S:
        """Load from :meth:`to_bytes` output; raises CorruptDataError on bad input."""
        return cls._wrap(cls._core_type.from_bytes(_check_bytes(data)))  # type: ignore[no-any-return]

    def __reduce__(self) -> Any:
        return (type(self).from_bytes, (self.to_bytes(),))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _CompiledSketch) or other._core_type is not self._core_type:
            return NotImplemented
        return bool(self._impl.equals(other._impl))

    __hash__ = None  # type: ignore[assignment]


_S = TypeVar("_S", bound=_CompiledSketch)


# ---------------------------------------------------------------------------------------------
class HyperLogLog(_CompiledSketch, HyperLogLogPort):
    """Distinct-count sketch: 2^lg_k one-byte registers, relative error about 1/sqrt(2^lg_k).

    Parameters
    ----------
    lg_k:
        log2 of the register count, 4..21 (default 12: 4 KiB, about 1.3% error after a single
        stream, 1.6% after merges).
    seed:
        Hash seed; only sketches with the same seed merge.

    While a sketch has only been fed items it uses the HIP estimator (relative standard error
    about 0.83/sqrt(2^lg_k)); after a merge, Ertl's improved estimator (1.04/sqrt(2^lg_k)).
    Neither has a large bias anywhere from 0 to 2^64 distinct.

    ``update(x)`` adds one item, ``update_many(items)`` a batch; ``estimate()``,
    ``lower_bound(k)`` / ``upper_bound(k)`` for k standard deviations; ``merge(other)`` or
    ``a | b`` for the union (also across lg_k: the result has the smaller one).

    Examples
    --------
    >>> import numpy as np, neural_trader as nt
    >>> hll = nt.HyperLogLog(lg_k=12)
    >>> hll.update_many(np.arange(100_000))
    >>> hll.update("AAPL")
    >>> abs(hll.estimate() / 100_001 - 1) < 0.05
    True
    """

    _impl: Any

    def __init__(self, lg_k: int = 12, *, seed: int = 0) -> None:
        lg = _int(lg_k, "lg_k")
        if not 4 <= lg <= 21:
            raise InvalidArgumentError(f"lg_k must be in [4, 21], got {lg}")
        super().__init__(_core.HyperLogLog(lg, _seed(seed)))

    _core_type = _core.HyperLogLog

    @classmethod
    def _wrap(cls, impl: Any) -> HyperLogLog:
        obj = cls.__new__(cls)
        HyperLogLogPort.__init__(obj, impl)
        return obj

    def update_many(self, items: Any, *, num_threads: int | None = None) -> None:
        """Add a batch: a NumPy array (int, uint < 2**63, bool, float, ``S``, ``U``, object), a
        polars/pandas Series or any iterable of items. Runs with the GIL released. A long
        ``str`` or ``bytes`` array (131,072 items or more) is hashed on up to ``num_threads``
        threads (default: the ``nt.set_num_threads`` cap), a chunk at a time; the registers are
        updated in item order on one thread, so the sketch (HIP estimate included) is exactly
        the one-thread one."""
        prepared = _prepare(items)
        self._impl.update_many(prepared, threads_arg(num_threads))

    def estimate(self) -> float:
        """Estimated number of distinct items."""
        return float(self._impl.estimate())

    def lower_bound(self, k: float = 2.0) -> float:
        """Lower bound at ``k`` standard deviations (about 95% coverage at k=2)."""
        return float(self._impl.lower_bound(_number(k, "k")))

    def upper_bound(self, k: float = 2.0) -> float:
        """Upper bound at ``k`` standard deviations (infinite when k is too large for lg_k)."""
        return float(self._impl.upper_bound(_number(k, "k")))

    @property
    def relative_error(self) -> float:
        """Relative standard error of :meth:`estimate` (1 standard deviation)."""
        return float(self._impl.relative_error())

    @property
    def lg_k(self) -> int:
        """log2 of the number of registers."""
        return int(self._impl.lg_k)

    @property
    def seed(self) -> int:
        """Hash seed."""
        return int(self._impl.seed)

    def is_empty(self) -> bool:
        """Whether no item was added."""
        return bool(self._impl.is_empty())

    def registers(self) -> npt.NDArray[np.uint8]:
        """A copy of the registers (uint8 array of 2**lg_k)."""
        return self._impl.registers()  # type: ignore[no-any-return]

    def merge(self, other: HyperLogLog) -> None:
        """Union in place with another HyperLogLog of the same seed. When ``other`` has a
        smaller lg_k this sketch folds down to it; a larger one is folded on the fly."""
        if not isinstance(other, HyperLogLog):
            raise DTypeError(f"can only merge a HyperLogLog, got {type(other).__name__}")
        self._impl.merge(other._impl)

    def __or__(self, other: HyperLogLog) -> HyperLogLog:
        """The union of two sketches as a new sketch."""
        if not isinstance(other, HyperLogLog):
            return NotImplemented
        out = self.copy()
        out.merge(other)
        return out

    def __ior__(self, other: HyperLogLog) -> HyperLogLog:
        self.merge(other)
        return self

    def clear(self) -> None:
        """Forget every item (lg_k and seed stay)."""
        self._impl.clear()

    def __repr__(self) -> str:
        return f"HyperLogLog(lg_k={self.lg_k}, seed={self.seed}, estimate={self.estimate():.6g})"


# ---------------------------------------------------------------------------------------------
class CountMinSketch(_CompiledSketch):
    """Frequency sketch: ``depth`` rows of ``width`` 64-bit counters; estimates never
    under-count.

    With ``width = ceil(e / epsilon)`` and ``depth = ceil(ln(1 / delta))`` (see
    :meth:`from_error`), an estimate exceeds the true count by more than ``epsilon * total``
    with probability at most ``delta``.

    Parameters
    ----------
    width, depth:
        Counters per row and rows.
    seed:
        Hash seed; only sketches with the same width, depth and seed merge.
    conservative:
        Conservative update: raise each row only as far as needed (much tighter estimates,
        still never below the truth; costs a second pass over the rows).
    top:
        Track up to this many heavy-hitter candidates (their items are kept) for
        :meth:`top_k`; 0 turns tracking off (fastest batch updates).

    Examples
    --------
    >>> import neural_trader as nt
    >>> cms = nt.CountMinSketch.from_error(1e-3, 0.01, top=8)
    >>> cms.update_many(["AAPL", "MSFT", "AAPL"], counts=[100, 5, 20])
    >>> cms.estimate("AAPL")
    120
    >>> cms.top_k(1)
    [('AAPL', 120)]
    """

    def __init__(self, width: int, depth: int, *, seed: int = 0, conservative: bool = False, top: int = 0) -> None:
        w, d, t = _int(width, "width"), _int(depth, "depth"), _int(top, "top")
        if not 1 <= w <= 1 << 31:
            raise InvalidArgumentError(f"width must be in [1, 2**31], got {w}")
        if not 1 <= d <= 64:
            raise InvalidArgumentError(f"depth must be in [1, 64], got {d}")
        if not 0 <= t <= 1 << 16:
            raise InvalidArgumentError(f"top must be in [0, 65536], got {t}")
        self._impl = _core.CountMinSketch(w, d, _seed(seed), bool(conservative), t)

    @classmethod
    def from_error(
        cls, epsilon: float, delta: float, *, seed: int = 0, conservative: bool = False, top: int = 0
    ) -> CountMinSketch:
        """A sketch whose estimates exceed the truth by more than ``epsilon * total`` with
        probability at most ``delta`` (width ``ceil(e/epsilon)``, depth ``ceil(ln(1/delta))``)."""
        eps, dl = _number(epsilon, "epsilon"), _number(delta, "delta")
        if not 0 < eps < 1 or not 0 < dl < 1:
            raise InvalidArgumentError(f"epsilon and delta must be in (0, 1), got {eps}, {dl}")
        w, d = _core.CountMinSketch.dimensions_for(eps, dl)
        return cls(w, d, seed=seed, conservative=conservative, top=top)

    _impl: _core.CountMinSketch
    _core_type = _core.CountMinSketch

    @classmethod
    def _wrap(cls, impl: Any) -> CountMinSketch:
        obj = cls.__new__(cls)
        obj._impl = impl
        return obj

    def update(self, item: Any, count: int = 1) -> None:
        """Add ``count`` (an int >= 0) to one item."""
        c = _int(count, "count")
        if c < 0:
            raise InvalidArgumentError(f"count must be >= 0, got {c}")
        self._impl.update(item, c)

    def update_many(self, items: Any, counts: Any = None, *, num_threads: int | None = None) -> None:
        """Add a batch of items (array, Series or iterable), each with count 1 or with the
        matching entry of ``counts`` (non-negative integers, same length).

        A long batch (131,072 items or more) is split by row over up to ``num_threads`` threads
        (default: the ``nt.set_num_threads`` cap; 1 keeps it on one): every thread reads the
        whole batch and adds it to its own rows, so the counters are exactly those of one
        thread; str and bytes arrays are hashed on the threads first. Conservative updates and
        ``top > 0`` run on one thread (their result depends on the order of the items)."""
        prepared = _prepare(items)
        cnt = None
        if counts is not None:
            c = np.asarray(_series_to_numpy(counts))
            if c.dtype.kind not in "iub":
                raise DTypeError(f"counts must be integers, got dtype {c.dtype}")
            if c.ndim != 1:
                raise InvalidArgumentError(f"counts must be 1-D, got shape {c.shape}")
            if c.dtype.kind == "i" and c.size and int(c.min()) < 0:
                raise InvalidArgumentError("counts must be >= 0")
            cnt = np.ascontiguousarray(c, dtype=np.uint64)
        self._impl.update_many(prepared, cnt, threads_arg(num_threads))

    def estimate(self, item: Any) -> int:
        """Estimated count of one item: never below the true count."""
        return int(self._impl.estimate(item))

    __getitem__ = estimate

    def estimate_many(self, items: Any) -> npt.NDArray[np.uint64]:
        """Estimated counts of a batch (uint64 array)."""
        return self._impl.estimate_many(_prepare(items))

    def top_k(self, k: int = 10) -> list[tuple[Any, int]]:
        """The ``k`` tracked heavy hitters with the largest estimates, as ``(item, estimate)``
        pairs, largest first. Needs ``top > 0`` at construction. Items come back in canonical
        form: int, float, str (what was added as str) or bytes."""
        kk = _int(k, "k")
        if kk < 0:
            raise InvalidArgumentError(f"k must be >= 0, got {kk}")
        if self.top == 0:
            raise InvalidArgumentError("heavy hitters are not tracked: make the sketch with top=N")
        return [(item, int(c)) for item, c in self._impl.top_k(kk)]

    def error_bound(self) -> float:
        """``epsilon * total``: the over-estimate that at most a ``delta`` share of queries exceed."""
        return self.epsilon * self.total

    @property
    def width(self) -> int:
        """Counters per row."""
        return int(self._impl.width)

    @property
    def depth(self) -> int:
        """Number of rows."""
        return int(self._impl.depth)

    @property
    def seed(self) -> int:
        """Hash seed."""
        return int(self._impl.seed)

    @property
    def conservative(self) -> bool:
        """Whether conservative update is on."""
        return bool(self._impl.conservative)

    @property
    def top(self) -> int:
        """How many heavy-hitter candidates are tracked (0: none)."""
        return int(self._impl.top)

    @property
    def total(self) -> int:
        """Sum of all counts added."""
        return int(self._impl.total)

    @property
    def epsilon(self) -> float:
        """Relative error bound ``e / width``."""
        return float(self._impl.epsilon)

    @property
    def delta(self) -> float:
        """Failure probability bound ``exp(-depth)``."""
        return float(self._impl.delta)

    def table(self) -> npt.NDArray[np.uint64]:
        """A copy of the counters, shape ``(depth, width)``."""
        return self._impl.table()

    def merge(self, other: CountMinSketch) -> None:
        """Add another sketch's counts in place (same width, depth and seed); heavy-hitter
        candidates of both are re-ranked on the merged counts."""
        if not isinstance(other, CountMinSketch):
            raise DTypeError(f"can only merge a CountMinSketch, got {type(other).__name__}")
        self._impl.merge(other._impl)

    def __or__(self, other: CountMinSketch) -> CountMinSketch:
        """The merged sketch as a new object."""
        if not isinstance(other, CountMinSketch):
            return NotImplemented
        out = self.copy()
        out.merge(other)
        return out

    def clear(self) -> None:
        """Reset all counters and candidates."""
        self._impl.clear()

    def __repr__(self) -> str:
        extra = " conservative" if self.conservative else ""
        return f"CountMinSketch(width={self.width}, depth={self.depth}, seed={self.seed}, total={self.total}{extra}, top={self.top})"


# ---------------------------------------------------------------------------------------------
class BloomFilter(_CompiledSketch, BloomFilterPort):
    """Membership filter: no false negatives, false positives at about ``fp_rate`` once
    ``capacity`` distinct items are in.

    Each item sets ``num_hashes`` bits inside one block of 4 or 8 64-bit words (one cache line
    per add or query): the same number of bits in every word of its block, so batch calls build
    an item's masks with a few vector instructions (AVX2 when the CPU has it). The shape and
    block count are chosen by evaluating the blocked filter's expected false-positive rate, so
    the target holds (10.1 bits per item at 1%, against the classic formula's 9.6). Filters
    loaded from format-1 files keep their older ``"classic"`` layout (see :attr:`layout`).

    Parameters
    ----------
    capacity:
        Number of distinct items it is sized for (>= 1).
    fp_rate:
        Target false-positive rate at capacity, in (1e-12, 1).
    seed:
        Hash seed; only filters of the same size and seed combine.

    ``add(x)`` (returns whether x was new), ``x in f``, ``add_many(items)``,
    ``contains_many(items)`` (a bool array); ``f | g`` / ``f & g`` for union and intersection;
    ``len(f)`` estimates the distinct items added.

    Examples
    --------
    >>> import neural_trader as nt
    >>> seen = nt.BloomFilter(1_000_000, 0.01)
    >>> seen.add("order-1")
    True
    >>> "order-1" in seen, "order-2" in seen
    (True, False)
    """

    _impl: Any

    def __init__(self, capacity: int, fp_rate: float = 0.01, *, seed: int = 0) -> None:
        cap = _int(capacity, "capacity")
        fp = _number(fp_rate, "fp_rate")
        if cap < 1:
            raise InvalidArgumentError(f"capacity must be >= 1, got {cap}")
        if not 1e-12 <= fp < 1:
            raise InvalidArgumentError(f"fp_rate must be in [1e-12, 1), got {fp}")
        super().__init__(_core.BloomFilter(cap, fp, _seed(seed)))

    _core_type = _core.BloomFilter

    @classmethod
    def _wrap(cls, impl: Any) -> BloomFilter:
        obj = cls.__new__(cls)
        BloomFilterPort.__init__(obj, impl)
        return obj

    def add_many(self, items: Any, *, return_new: bool = False,
                 num_threads: int | None = None) -> npt.NDArray[np.bool_] | None:
        """Add a batch (array, Series or iterable). With ``return_new=True`` return a bool array:
        True where the item was new (duplicates later in the same batch are not new).

        A long batch (131,072 items or more) is split by block over up to ``num_threads``
        threads (default: the ``nt.set_num_threads`` cap; 1 keeps it on one): each thread reads
        the whole batch and adds, in order, the items whose block it owns, so the bits and
        ``return_new`` are exactly those of one thread; str and bytes arrays are hashed on the
        threads first."""
        prepared = _prepare(items)
        return self._impl.add_many(prepared, bool(return_new), threads_arg(num_threads))  # type: ignore[no-any-return]

    def contains_many(self, items: Any, *, num_threads: int | None = None) -> npt.NDArray[np.bool_]:
        """Membership of a batch, as a bool array (never False for an item added). A long batch
        is split over up to ``num_threads`` threads (default: the ``nt.set_num_threads`` cap);
        str and bytes arrays are hashed on them too."""
        prepared = _prepare(items)
        return self._impl.contains_many(prepared, threads_arg(num_threads))  # type: ignore[no-any-return]

    def estimate_count(self) -> float:
        """Estimated number of distinct items added (from the bits set in each block)."""
        return float(self._impl.estimate_count())

    def __len__(self) -> int:
        """Estimated number of distinct items added (rounded :meth:`estimate_count`)."""
        return int(round(self.estimate_count()))

    def bits_set(self) -> int:
        """Number of bits set."""
        return int(self._impl.bits_set())

    def expected_fpr(self, n: int | None = None) -> float:
        """Expected false-positive rate with ``n`` distinct items in (default: capacity)."""
        items = self.capacity if n is None else _int(n, "n")
        return float(self._impl.expected_fpr_at(float(items)))

    @property
    def num_bits(self) -> int:
        """Size of the bit array."""
        return int(self._impl.num_bits)

    @property
    def num_hashes(self) -> int:
        """Bits set per item."""
        return int(self._impl.num_hashes)

    @property
    def layout(self) -> str:
        """Bit layout: ``"split"`` for new filters, ``"classic"`` for filters loaded from
        format-1 files (they keep working; only filters of one layout combine)."""
        return str(self._impl.layout)

    @property
    def capacity(self) -> int:
        """The capacity it was sized for."""
        return int(self._impl.capacity)

    @property
    def fp_rate(self) -> float:
        """The target false-positive rate at capacity."""
        return float(self._impl.fp_rate)

    @property
    def seed(self) -> int:
        """Hash seed."""
        return int(self._impl.seed)

    def _other(self, other: Any) -> Any:
        if not isinstance(other, BloomFilter):
            raise DTypeError(f"expected a BloomFilter, got {type(other).__name__}")
        return other._impl

    def union_update(self, other: BloomFilter) -> None:
        """Add every item of ``other`` (same size, hash count and seed) in place."""
        self._impl.union_update(self._other(other))

    def intersection_update(self, other: BloomFilter) -> None:
        """Keep the bits both filters set (contains every item both held; its false-positive
        rate can be above that of a filter of the common items alone)."""
        self._impl.intersection_update(self._other(other))

    def union(self, other: BloomFilter) -> BloomFilter:
        """A new filter holding the items of both."""
        out = self.copy()
        out.union_update(other)
        return out

    def intersection(self, other: BloomFilter) -> BloomFilter:
        """A new filter of the bits both set (see :meth:`intersection_update`)."""
        out = self.copy()
        out.intersection_update(other)
        return out

    def __or__(self, other: BloomFilter) -> BloomFilter:
        if not isinstance(other, BloomFilter):
            return NotImplemented
        return self.union(other)

    def __and__(self, other: BloomFilter) -> BloomFilter:
        if not isinstance(other, BloomFilter):
            return NotImplemented
        return self.intersection(other)

    def __ior__(self, other: BloomFilter) -> BloomFilter:
        self.union_update(other)
        return self

    def __iand__(self, other: BloomFilter) -> BloomFilter:
        self.intersection_update(other)
        return self

    def clear(self) -> None:
        """Remove every item."""
        self._impl.clear()

    def __repr__(self) -> str:
        layout = "" if self.layout == "split" else f", layout={self.layout!r}"
        return (
            f"BloomFilter(capacity={self.capacity}, fp_rate={self.fp_rate:g}, seed={self.seed}, "
            f"bits={self.num_bits}, hashes={self.num_hashes}, len~{len(self)}{layout})"
        )


# ---------------------------------------------------------------------------------------------
_ITEMS_EMPTY, _ITEMS_OBJECTS, _ITEMS_ROWS = b"E", b"O", b"R"


class Reservoir:
    """A fixed-size random sample of a stream: uniform or weighted, of Python objects or of
    NumPy rows.

    Parameters
    ----------
    k:
        Sample size (1 .. 2**28).
    seed:
        Random seed (default: a fresh random one, see :attr:`seed`). The same seed and the same
        stream give the same sample.
    weighted:
        Weighted sampling without replacement (Efraimidis & Spirakis' A-ExpJ): every add needs a
        weight >= 0; an item's chance to be in the sample grows with its weight as that scheme
        promises (a weight of 0 is never sampled). Otherwise uniform (Li's Algorithm L): after
        n items, every subset of min(k, n) items is equally likely.

    The first add decides what the reservoir holds: ``add(obj)`` / ``add_many(list)`` sample
    Python objects, ``add_many(ndarray)`` samples its rows (first axis; structured arrays
    too, polars/pandas Series are converted to NumPy). :meth:`sample` returns the items (a list
    or an array of rows), :meth:`indices` their positions in the stream.

    Examples
    --------
    >>> import numpy as np, neural_trader as nt
    >>> r = nt.Reservoir(3, seed=7)
    >>> r.add_many(np.arange(1000) * 10)
    >>> r.sample().shape, r.seen
    ((3,), 1000)
    """

    def __init__(self, k: int, *, seed: int | None = None, weighted: bool = False) -> None:
        kk = _int(k, "k")
        if not 1 <= kk <= 1 << 28:
            raise InvalidArgumentError(f"k must be in [1, 2**28], got {kk}")
        s = secrets.randbits(64) if seed is None else _seed(seed)
        self._core = _core.ReservoirSampler(kk, s, bool(weighted))
        self._objects: list[Any] | None = None
        self._rows: npt.NDArray[Any] | None = None

    # -- storage ---------------------------------------------------------------------------
    def _weights(self, weights: Any, n: int) -> npt.NDArray[np.float64]:
        if not self.weighted:
            if weights is not None:
                raise InvalidArgumentError("weights given to a uniform reservoir (make it with weighted=True)")
            return np.empty(0)
        if weights is None:
            raise InvalidArgumentError("a weighted reservoir needs weights")
        w = np.asarray(_series_to_numpy(weights))
        if w.dtype.kind not in "iuf":
            raise DTypeError(f"weights must be numbers, got dtype {w.dtype}")
        w = np.ascontiguousarray(w, dtype=np.float64).reshape(-1) if w.ndim == 0 else np.ascontiguousarray(w, dtype=np.float64)
        if w.ndim != 1 or w.shape[0] != n:
            raise InvalidArgumentError(f"need one weight per item: {n} items, weights of shape {w.shape}")
        if w.size and not (np.isfinite(w).all() and (w >= 0).all()):
            raise InvalidArgumentError("weights must be finite and >= 0")
        return w

    def _offer(self, n: int, w: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        if self.weighted:
            return self._core.offer_weighted(w)
        return self._core.offer(n)

    def add(self, item: Any, weight: float | None = None) -> None:
        """Offer one Python object (with its weight in weighted mode)."""
        if self._rows is not None:
            raise DTypeError("this reservoir samples NumPy rows; use add_many(array)")
        if self.weighted:
            if weight is None:
                raise InvalidArgumentError("a weighted reservoir needs a weight")
            w = _number(weight, "weight")
            if not (math.isfinite(w) and w >= 0):
                raise InvalidArgumentError(f"weights must be finite and >= 0, got {w}")
            slot = self._core.offer_one(w)
        else:
            if weight is not None:
                raise InvalidArgumentError("weights given to a uniform reservoir (make it with weighted=True)")
            slot = self._core.offer_one()
        if self._objects is None:
            self._objects = []
        if slot >= 0:
            if slot == len(self._objects):
                self._objects.append(item)
            else:
                self._objects[slot] = item

    def add_many(self, items: Any, weights: Any = None) -> None:
        """Offer a batch: a NumPy array (its rows are sampled; the array's dtype and row shape
        are fixed by the first batch), a polars/pandas Series, or any iterable of objects."""
        items = _series_to_numpy(items)
        if isinstance(items, np.ndarray):
            if items.ndim == 0:
                raise InvalidArgumentError("add_many() takes an array of rows, got a 0-d array")
            if self._objects is not None:
                raise DTypeError("this reservoir samples Python objects; pass a list or use add()")
            if self._rows is not None and (items.dtype != self._rows.dtype or items.shape[1:] != self._rows.shape[1:]):
                raise DTypeError(
                    f"rows of dtype {items.dtype} and shape {items.shape[1:]} do not match the sample's "
                    f"{self._rows.dtype} {self._rows.shape[1:]}"
                )
            n = items.shape[0]
            w = self._weights(weights, n)
            slots, offs = self._offer(n, w)
            if self._rows is None:
                self._rows = np.empty((self.k,) + items.shape[1:], dtype=items.dtype)
            if slots.size:
                self._rows[slots] = items[offs]
            return
        if self._rows is not None:
            raise DTypeError("this reservoir samples NumPy rows; pass an array")
        seq = items if isinstance(items, (list, tuple)) else list(items)
        w = self._weights(weights, len(seq))
        slots, offs = self._offer(len(seq), w)
        if self._objects is None:
            self._objects = []
        objs = self._objects
        for s, o in zip(slots.tolist(), offs.tolist()):
            if s == len(objs):
                objs.append(seq[o])
            else:
                objs[s] = seq[o]

    def sample(self) -> Any:
        """The sampled items: a list of objects, or an array of rows (a copy), in slot order."""
        if self._rows is not None:
            return self._rows[: len(self)].copy()
        return list(self._objects or [])

    def indices(self) -> npt.NDArray[np.int64]:
        """Stream positions (0-based, over everything offered) of the sampled items, in slot order."""
        return self._core.indices()

    def __len__(self) -> int:
        """Number of items in the sample: min(k, seen) (weighted: items of positive weight)."""
        return len(self._core)

    @property
    def k(self) -> int:
        """Sample size."""
        return int(self._core.k)

    @property
    def seed(self) -> int:
        """The random seed (the one drawn when none was given)."""
        return int(self._core.seed)

    @property
    def weighted(self) -> bool:
        """Whether this is a weighted reservoir."""
        return bool(self._core.weighted)

    @property
    def seen(self) -> int:
        """Number of items offered so far."""
        return int(self._core.seen)

    @property
    def total_weight(self) -> float:
        """Sum of the weights offered (weighted mode)."""
        return float(self._core.total_weight)

    # -- merge -----------------------------------------------------------------------------
    def merge(self, other: Reservoir) -> None:
        """Merge another reservoir of the same k and mode in place: the result is a sample of
        both streams together (uniform: every subset equally likely; weighted: the k largest
        keys of both). The other reservoir is unchanged."""
        if not isinstance(other, Reservoir):
            raise DTypeError(f"can only merge a Reservoir, got {type(other).__name__}")
        if other is self:
            other = other.copy()
        if other.k != self.k or other.weighted != self.weighted:
            raise InvalidArgumentError(
                f"cannot merge reservoirs of different k or mode (k={self.k}, weighted={self.weighted} "
                f"and k={other.k}, weighted={other.weighted})"
            )
        mine, theirs = self._rows is not None, other._rows is not None
        if (self._objects is not None and theirs) or (mine and other._objects is not None):
            raise DTypeError("cannot merge a reservoir of rows with one of objects")
        if mine and theirs:
            assert self._rows is not None and other._rows is not None
            if self._rows.dtype != other._rows.dtype or self._rows.shape[1:] != other._rows.shape[1:]:
                raise DTypeError("cannot merge reservoirs of rows of different dtype or shape")
        n_self = len(self)
        src, slot = self._core.merge(other._core)
        if self._rows is not None or other._rows is not None:
            a = self._rows if self._rows is not None else other._rows
            b = other._rows if other._rows is not None else a
            assert a is not None and b is not None
            both = np.concatenate([a[:n_self], b[: len(other)]])
            out = np.empty_like(a)
            out[: len(src)] = both[np.where(src == 0, slot, n_self + slot)]
            self._rows = out
        else:
            a_obj, b_obj = self._objects or [], other._objects or []
            if self._objects is not None or other._objects is not None:
                self._objects = [a_obj[s] if f == 0 else b_obj[s] for f, s in zip(src.tolist(), slot.tolist())]

    def __or__(self, other: Reservoir) -> Reservoir:
        """The merged reservoir as a new object."""
        if not isinstance(other, Reservoir):
            return NotImplemented
        out = self.copy()
        out.merge(other)
        return out

    def copy(self) -> Reservoir:
        """A deep copy of the sampler; the sampled objects themselves are shared, rows copied."""
        out = Reservoir.__new__(Reservoir)
        out._core = self._core.copy()
        out._objects = None if self._objects is None else list(self._objects)
        out._rows = None if self._rows is None else self._rows.copy()
        return out

    # -- persistence -----------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """Serialised form: the sampler state and the sample in a checksummed envelope. Rows are
        stored in NumPy's .npy format (no pickle); Python objects are pickled, so load object
        samples only from trusted sources."""
        if self._rows is not None:
            buf = io.BytesIO()
            np.save(buf, self._rows[: len(self)], allow_pickle=False)
            payload = _ITEMS_ROWS + buf.getvalue()
        elif self._objects is not None:
            payload = _ITEMS_OBJECTS + pickle.dumps(self._objects, protocol=pickle.HIGHEST_PROTOCOL)
        else:
            payload = _ITEMS_EMPTY
        return self._core.serialize(payload)

    @classmethod
    def from_bytes(cls, data: bytes) -> Reservoir:
        """Load a reservoir from :meth:`to_bytes` output; raises CorruptDataError on bad input."""
        core, payload = _core.ReservoirSampler.deserialize(_check_bytes(data))
        out = cls.__new__(cls)
        out._core = core
        out._objects = None
        out._rows = None
        tag, body = payload[:1], payload[1:]
        try:
            if tag == _ITEMS_ROWS:
                rows = np.load(io.BytesIO(body), allow_pickle=False)
                if rows.ndim < 1 or rows.shape[0] != len(core):
                    raise CorruptDataError("corrupt Reservoir data: sample size disagrees with the sampler")
                out._rows = np.empty((core.k,) + rows.shape[1:], dtype=rows.dtype)
                out._rows[: rows.shape[0]] = rows
            elif tag == _ITEMS_OBJECTS:
                objs = pickle.loads(body)
                if not isinstance(objs, list) or len(objs) != len(core):
                    raise CorruptDataError("corrupt Reservoir data: sample size disagrees with the sampler")
                out._objects = objs
            elif tag != _ITEMS_EMPTY or body or len(core):
                raise CorruptDataError("corrupt Reservoir data: unknown item payload")
        except CorruptDataError:
            raise
        except Exception as exc:  # a payload that passed the checksum but does not decode
            raise CorruptDataError(f"corrupt Reservoir data: item payload does not decode ({exc})") from None
        return out

    def __reduce__(self) -> Any:
        return (type(self).from_bytes, (self.to_bytes(),))

    def __repr__(self) -> str:
        kind = "rows" if self._rows is not None else "objects" if self._objects is not None else "empty"
        mode = "weighted" if self.weighted else "uniform"
        return f"Reservoir(k={self.k}, seed={self.seed}, {mode}, seen={self.seen}, len={len(self)}, {kind})"
