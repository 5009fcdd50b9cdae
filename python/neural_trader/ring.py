"""Lock-free ring buffers of fixed-size NumPy records.

- :class:`RingBuffer`: wait-free single-producer single-consumer (one thread pushes, one pops).
- :class:`MPMCRingBuffer`: bounded lock-free, any number of producer and consumer threads.
- :class:`SharedRingBuffer`: SPSC in named shared memory, between two processes.

All three hold records of one NumPy dtype (``TICK_DTYPE``, ``BAR_DTYPE`` or any fixed-size
dtype without Python objects) and share one API: ``push``/``try_push`` one record,
``push_many(array)``, ``pop``/``try_pop`` one record (a tuple, as ``ndarray.item()`` gives),
``pop_many(max_n)`` into a new array, blocking variants with a timeout that release the GIL
while they wait (Ctrl-C works), ``close()`` to mark the end of the stream, ``len()``,
``capacity``, ``dtype``, ``closed`` and ``drained``. The compiled core does the work; these
classes add construction checks and iteration.
"""

from __future__ import annotations

import operator
import secrets
from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

from . import _core
from ._engine import RingPort
from ._records import TICK_DTYPE, dtype_from_meta, dtype_to_meta, from_frame
from .errors import ClosedError, DTypeError, InvalidArgumentError

__all__ = ["RingBuffer", "MPMCRingBuffer", "SharedRingBuffer"]


def _capacity(capacity: Any, minimum: int = 1) -> int:
    try:
        n = operator.index(capacity)
    except TypeError:
        raise DTypeError(f"capacity must be an integer, got {type(capacity).__name__}") from None
    if n < 1 or n & (n - 1):
        hint = f"; try {1 << max(0, n - 1).bit_length()}" if n > 1 else ""
        raise InvalidArgumentError(f"capacity must be a power of two >= 1, got {n}{hint}")
    if n < minimum:
        raise InvalidArgumentError(f"capacity must be >= {minimum}, got {n}")
    return n


def _dtype(dtype: npt.DTypeLike) -> np.dtype[Any]:
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise DTypeError(f"not a NumPy dtype: {dtype!r} ({exc})") from None
    if dt.hasobject:
        raise DTypeError(f"ring records cannot hold Python objects (dtype {dt}); use fixed-size fields")
    if dt.itemsize == 0:
        raise DTypeError(f"ring records need a dtype of at least one byte, got {dt}")
    return dt


class _Ring(RingPort):
    """What the three ring classes share: the per-record calls come from the Cython base
    (:class:`~neural_trader._engine.RingPort`), the batch calls and state from the compiled core
    object it wraps (``_impl``)."""

    _impl: Any

    def push_many(self, records: Any, block: bool = False, timeout: float | None = None) -> int:
        """Append records from a 1-D array of the ring's dtype (or a polars/pandas DataFrame with
        a column per field, converted first); return how many went in.

        By default take what fits now; with ``block=True`` wait for room (GIL released, Ctrl-C
        works) until all went in, ``timeout`` seconds passed or the ring was closed: the count
        says how far it got. Large batches copy with the GIL released. Raises ClosedError when
        the ring is closed, DTypeError for an array of another dtype.
        """
        if not isinstance(records, np.ndarray) and hasattr(records, "columns"):
            records = from_frame(records, self.dtype)
        return int(self._impl.push_many(records, block, timeout))

    def pop_many(self, max_n: int, block: bool = False, timeout: float | None = None) -> npt.NDArray[Any]:
        """Remove up to ``max_n`` records; return them as a new 1-D array (possibly empty).

        With ``block=True`` first wait until a record is there, the ring is closed and drained,
        or ``timeout`` seconds passed; an empty result then means end of stream (see
        :attr:`drained`) or timeout.
        """
        return self._impl.pop_many(max_n, block, timeout)  # type: ignore[no-any-return]

    def close(self) -> None:
        """Mark the end of the stream: later pushes raise ClosedError; consumers drain the rest."""
        self._impl.close()

    def __len__(self) -> int:
        """Records in the ring now (a snapshot while producers and consumers run)."""
        return len(self._impl)

    @property
    def capacity(self) -> int:
        """Maximum number of records (a power of two)."""
        return int(self._impl.capacity)

    @property
    def dtype(self) -> np.dtype[Any]:
        """NumPy dtype of one record."""
        return self._impl.dtype  # type: ignore[no-any-return]

    @property
    def closed(self) -> bool:
        """Whether close() was called."""
        return bool(self._impl.closed)

    @property
    def drained(self) -> bool:
        """Closed and empty: nothing more will come out."""
        return bool(self._impl.drained)

    def _capsule(self) -> Any:
        return self._impl._capsule()

    def __repr__(self) -> str:
        return repr(self._impl)

    def iter_batches(self, max_n: int = 4096, timeout: float | None = None) -> Iterator[npt.NDArray[Any]]:
        """Yield arrays of up to ``max_n`` records until the ring is closed and drained.

        Waits (GIL released) for each batch; stops early if ``timeout`` seconds pass with
        nothing to read.
        """
        while True:
            batch = self.pop_many(max_n, block=True, timeout=timeout)
            if len(batch):
                yield batch
            elif self.drained or timeout is not None:
                return

    def __iter__(self) -> Iterator[Any]:
        """Yield records one at a time until the ring is closed and drained (blocking)."""
        while True:
            try:
                yield self.pop()
            except ClosedError:
                return


class RingBuffer(_Ring):
    """Wait-free single-producer single-consumer ring buffer of NumPy records.

    Parameters
    ----------
    capacity:
        Number of records it holds; a power of two.
    dtype:
        Record dtype (default :data:`neural_trader.TICK_DTYPE`).

    Thread safety: one producer thread and one consumer thread at a time; ``close``, ``len``
    and the properties from any thread. Not picklable (it is an in-process channel; use
    :class:`SharedRingBuffer` between processes).

    Examples
    --------
    >>> import neural_trader as nt
    >>> ring = nt.RingBuffer(1024, nt.TICK_DTYPE)
    >>> ring.push((1_700_000_000_000_000_000, 7, 101.25, 3.0, 1))
    >>> ring.pop()
    (1700000000000000000, 7, 101.25, 3.0, 1)
    """

    def __init__(self, capacity: int, dtype: npt.DTypeLike = TICK_DTYPE) -> None:
        super().__init__(_core.RingBuffer(_capacity(capacity), _dtype(dtype)))

    def __reduce__(self) -> Any:
        raise TypeError("RingBuffer is an in-process channel and cannot be pickled; use SharedRingBuffer between processes")


class MPMCRingBuffer(_Ring):
    """Bounded lock-free multi-producer multi-consumer ring buffer of NumPy records.

    Every record pushed comes out exactly once; records of one producer come out in the order it
    pushed them. ``push_many`` places a batch in consecutive slots; ``pop_many`` takes a run of
    consecutive records. Call ``close()`` once every producer has finished.

    Parameters
    ----------
    capacity:
        Number of records it holds; a power of two >= 2.
    dtype:
        Record dtype (default :data:`neural_trader.TICK_DTYPE`).
    """

    def __init__(self, capacity: int, dtype: npt.DTypeLike = TICK_DTYPE) -> None:
        super().__init__(_core.MPMCRingBuffer(_capacity(capacity, minimum=2), _dtype(dtype)))

    def __reduce__(self) -> Any:
        raise TypeError("MPMCRingBuffer is an in-process channel and cannot be pickled")


class SharedRingBuffer(_Ring):
    """Single-producer single-consumer ring buffer in named shared memory, for two processes.

    ``SharedRingBuffer(name, capacity, dtype)`` creates the segment (``name=None`` picks a
    unique one, see ``.name``); ``SharedRingBuffer.attach(name)`` opens it from another process
    and recovers its dtype from the segment. Only the creator removes the name, when it is
    garbage-collected, on ``detach()``/``with`` exit, or by ``unlink()``; attached processes keep
    their mapping until they detach. The OS's shared memory is used directly (POSIX
    ``shm_open``/``mmap``; a named mapping on Windows), so no resource tracker unlinks it behind
    your back.

    Pickling a SharedRingBuffer gives an attached handle in the receiving process, so it can be
    passed to ``multiprocessing.Process`` as an argument.

    Parameters
    ----------
    name:
        1 to 30 characters of letters, digits, ``_``, ``-`` and ``.``; None for a random name.
    capacity:
        Number of records; a power of two.
    dtype:
        Record dtype (default :data:`neural_trader.TICK_DTYPE`).
    """

    def __init__(
        self,
        name: str | None = None,
        capacity: int | None = None,
        dtype: npt.DTypeLike = TICK_DTYPE,
        *,
        create: bool = True,
    ) -> None:
        if create:
            if capacity is None:
                raise InvalidArgumentError("SharedRingBuffer needs a capacity when it creates the segment")
            dt = _dtype(dtype)
            name = f"nt_{secrets.token_hex(8)}" if name is None else name
            impl = _core.SharedRingBuffer(name, _capacity(capacity), dt, dtype_to_meta(dt), True, dtype_from_meta)
        else:
            if name is None:
                raise InvalidArgumentError("attach needs the name of an existing SharedRingBuffer")
            impl = _core.SharedRingBuffer(name, 0, np.dtype("u1"), b"", False, dtype_from_meta)
        super().__init__(impl)

    @property
    def name(self) -> str:
        """The segment's name (what :meth:`attach` takes)."""
        return str(self._impl.name)

    @property
    def owner(self) -> bool:
        """Whether this handle created the segment (and so removes its name)."""
        return bool(self._impl.owner)

    @property
    def creator_pid(self) -> int:
        """Process id of the creator."""
        return int(self._impl.creator_pid)

    def unlink(self) -> None:
        """Remove the segment's name now (creator only; a no-op for attached handles).

        Processes already attached keep their mapping."""
        self._impl.unlink()

    def detach(self) -> None:
        """Unmap the segment now (the creator also removes its name); later calls raise
        ClosedError. No other thread may be using the ring."""
        self._impl.detach()

    @classmethod
    def attach(cls, name: str) -> SharedRingBuffer:
        """Open an existing ring by name (from any process); its dtype comes from the segment."""
        return cls(name, create=False)

    @staticmethod
    def remove(name: str) -> None:
        """Remove a name left behind by a creator that crashed (POSIX; no-op on Windows)."""
        _core.SharedRingBuffer._remove(name)

    def __enter__(self) -> SharedRingBuffer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.detach()

    def __reduce__(self) -> Any:
        return (SharedRingBuffer.attach, (self.name,))
