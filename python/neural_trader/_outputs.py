"""The output block cache: large result arrays (indicator outputs, replay fills and events) are
kept for reuse after the caller drops them."""

from __future__ import annotations

from typing import Any

from . import _core, _engine
from ._args import nonnegative_int
from .errors import DTypeError, InvalidArgumentError

_MODULES = (_core, _engine)  # each compiled module keeps its own cache


def set_output_cache_limit(nbytes: Any) -> int:
    """Set how much released output memory is kept for reuse; returns the previous limit.

    Result arrays of 4 MiB and more (the outputs of ``nt.ta`` batch functions and
    ``nt.ta.features``, the fills and events of ``OrderBook.process`` / ``Exchange.process``)
    live in 2 MiB-aligned, huge-page-advised blocks. When such an array and every view of it are
    gone, its block is kept, up to ``nbytes`` of address space (only written pages hold memory),
    and the next result of a similar size is written into it: pages that are already mapped,
    instead of fresh zeroed pages faulted in one by one. On hosts where a page fault is slow that
    is a large part of a batch call's time. When the limit is reached the oldest blocks are
    freed. The indicator module and the order-book module each keep a cache of this size.
    ``0`` turns the caches off and frees what they hold. Default 512 MiB.

    A first call in a process always faults its pages in; the cache only serves repeated calls.
    """
    if isinstance(nbytes, bool):
        raise DTypeError("nbytes must be an integer, got bool")
    v = nonnegative_int(nbytes, "nbytes")
    if v >= 1 << 63:
        raise InvalidArgumentError(f"nbytes must be < 2**63, got {v}")
    old = [m._block_cache_set_limit(v) for m in _MODULES]
    return int(old[0])


def output_cache_info() -> dict[str, int]:
    """The output block caches (see :func:`set_output_cache_limit`), summed over the compiled
    modules: ``limit`` (each module's), ``held_bytes`` and ``held_blocks`` (kept for reuse now),
    ``hits`` and ``misses`` (blocks served from a cache / newly allocated since the process
    started)."""
    infos = [m._block_cache_info() for m in _MODULES]
    out = {k: int(sum(i[k] for i in infos)) for k in ("held_bytes", "held_blocks", "hits", "misses")}
    return {"limit": int(infos[0]["limit"]), **out}
