"""The main job until the backtester lands: a synthetic tick feed streamed through the ring.

A producer thread pushes batches of ticks (``TICK_DTYPE``) into a :class:`RingBuffer`; a consumer
thread drains it and keeps per-symbol volume-weighted average prices. Both copy with the GIL
released, so the two threads run in parallel. The feed is seeded and deterministic: a geometric
Brownian motion per symbol on a 0.01 tick grid.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import numpy.typing as npt

from ._records import TICK_DTYPE
from .ring import RingBuffer

_NS_PER_TICK = 1_000_000  # one tick per millisecond of event time


def synthetic_ticks(n: int, n_symbols: int = 8, seed: int = 7, start_ns: int = 1_700_000_000_000_000_000) -> npt.NDArray[Any]:
    """``n`` seeded ticks for ``n_symbols`` symbols: GBM prices on a 0.01 grid, random sizes/sides."""
    if n < 0 or n_symbols < 1:
        raise ValueError("n must be >= 0 and n_symbols >= 1")
    rng = np.random.default_rng(seed)
    ticks = np.empty(n, dtype=TICK_DTYPE)
    symbols = rng.integers(0, n_symbols, size=n, dtype=np.int32)
    steps = rng.normal(0.0, 2e-4, size=n)
    log_price = np.log(100.0) + np.zeros(n)
    # Each symbol's path: cumulative sum of its own steps.
    for s in range(n_symbols):
        idx = np.flatnonzero(symbols == s)
        log_price[idx] = np.log(50.0 + 25.0 * s) + np.cumsum(steps[idx])
    ticks["ts"] = start_ns + np.arange(n, dtype=np.int64) * _NS_PER_TICK
    ticks["symbol"] = symbols
    ticks["price"] = np.round(np.exp(log_price), 2)
    ticks["size"] = rng.integers(1, 100, size=n).astype(np.float64)
    ticks["side"] = rng.choice(np.array([-1, 1], dtype=np.int8), size=n)
    return ticks


def run_demo(
    n_ticks: int = 20_000_000, n_symbols: int = 8, batch: int = 8192, capacity: int = 1 << 16, seed: int = 7
) -> dict[str, Any]:
    """Stream ``n_ticks`` through a ring between two threads; return counts, VWAPs and throughput."""
    if n_ticks < 1 or batch < 1:
        raise ValueError("n_ticks and batch must be >= 1")
    pool = synthetic_ticks(min(n_ticks, 1 << 20), n_symbols, seed)
    ring = RingBuffer(capacity, TICK_DTYPE)
    notional = np.zeros(n_symbols)
    volume = np.zeros(n_symbols)
    received = [0, 0]  # records, sum of ts mod 2**61 (an order-independent check of delivery)
    errors: list[BaseException] = []

    def produce() -> None:
        try:
            sent = 0
            while sent < n_ticks:
                k = min(batch, n_ticks - sent)
                start = sent % len(pool)
                chunk = pool[start : start + k]
                ring.push_many(chunk, block=True)
                sent += len(chunk)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            ring.close()

    def consume() -> None:
        try:
            for got in ring.iter_batches(batch):
                sym = got["symbol"]
                notional[:] += np.bincount(sym, weights=got["price"] * got["size"], minlength=n_symbols)
                volume[:] += np.bincount(sym, weights=got["size"], minlength=n_symbols)
                received[0] += len(got)
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=produce), threading.Thread(target=consume)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t0
    if errors:
        raise errors[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        vwap = np.where(volume > 0, notional / volume, np.nan)
    return {
        "ticks_sent": n_ticks,
        "ticks_received": received[0],
        "seconds": seconds,
        "million_ticks_per_second": n_ticks / seconds / 1e6,
        "bytes_per_tick": TICK_DTYPE.itemsize,
        "batch": batch,
        "capacity": capacity,
        "seed": seed,
        "vwap": {int(s): float(v) for s, v in enumerate(vwap)},
    }


def format_result(r: dict[str, Any]) -> str:
    """A short human-readable report of :func:`run_demo`'s result."""
    lines = [
        f"streamed {r['ticks_received']:,} of {r['ticks_sent']:,} ticks ({r['bytes_per_tick']} B each) "
        f"through a {r['capacity']:,}-slot SPSC ring in batches of {r['batch']:,}",
        f"  {r['seconds']:.3f} s  ->  {r['million_ticks_per_second']:.1f} M ticks/s (producer and consumer threads, "
        "analytics included)",
        "  VWAP by symbol: " + ", ".join(f"{s}: {v:.2f}" for s, v in r["vwap"].items()),
    ]
    return "\n".join(lines)
