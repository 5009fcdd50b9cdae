"""Sketch workloads shared by the three benchmark front ends.

``benchmarks/pytest/test_sketch_bench.py`` (pytest-benchmark), ``benchmarks/compare_sketch.py``
(side-by-side table) and ``benchmarks/asv/bench_sketch.py`` (airspeed velocity) all time the
workloads defined here, so the three measure the very same thing.

A workload has three steps, as in ``nt_ringbench``: ``setup()`` builds the data and a fresh
sketch (not timed), ``run()`` is timed, ``finish()`` checks the result (not timed; raises
AssertionError when it is wrong: an estimate far off, a false negative, an under-count).

Fairness rules:

* Every engine sees the same items: distinct int64 ids (``make_ids``) or their ``str`` forms.
* Batch engines get a NumPy array; peers without a batch API get a Python list built *before*
  timing and are driven by a plain ``for`` loop over it (what their users write).
* Peers that are slow per item (pyprobables: pure Python) see a prefix of the data; items/s does
  not depend on the length of the run. The item count is reported with every figure.
* Same parameters: HLL lg_k=12 (DataSketches HLL_8); Bloom capacity = the number of items added,
  fp_rate 1%; count-min epsilon=1e-4, delta=0.01 (27,183 x 5; DataSketches and pyprobables sized
  the same).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import math
import os
import time
from typing import Any

import numpy as np

import neural_trader as nt

LG_K = 12
FP_RATE = 0.01
EPSILON, DELTA = 1e-4, 0.01


@dataclasses.dataclass(frozen=True)
class Scale:
    name: str
    n_batch: int  #: items per batch call (HLL update_many, Bloom add/contains, count-min)
    n_loop: int  #: items per per-item Python loop (ours and the native peers)
    n_slow: int  #: items per pure-Python peer loop (pyprobables)
    accuracy_trials: int  #: HLL accuracy trials per engine (compare_sketch.py)
    reps: int
    warmup: int


SCALES: dict[str, Scale] = {
    "smoke": Scale("smoke", 20_000, 5_000, 1_000, 5, 1, 0),
    "default": Scale("default", 10_000_000, 1_000_000, 20_000, 2000, 5, 1),
    "full": Scale("full", 10_000_000, 4_000_000, 100_000, 4000, 9, 1),
}


def get_scale(name: str | None = None) -> Scale:
    """The scale called ``name``, else ``$NT_BENCH_SCALE``, else "default"."""
    name = name or os.environ.get("NT_BENCH_SCALE") or "default"
    try:
        return SCALES[name]
    except KeyError:
        raise ValueError(f"unknown benchmark scale {name!r}; choose one of {', '.join(SCALES)}") from None


def have(module: str) -> bool:
    """Whether a peer is importable."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


@functools.lru_cache(maxsize=8)
def make_ids(n: int, offset: int = 0) -> np.ndarray:
    """``n`` distinct int64 ids (a fixed odd multiplier spreads them; same input, same ids)."""
    a = (np.arange(offset, offset + n, dtype=np.int64) * 0x9E3779B1) & 0x7FFFFFFFFFFF
    a.flags.writeable = False
    return a


@functools.lru_cache(maxsize=8)
def make_list(n: int, offset: int = 0) -> list[int]:
    return make_ids(n, offset).tolist()  # type: ignore[no-any-return]


@functools.lru_cache(maxsize=4)
def make_strs(n: int, offset: int = 0) -> list[str]:
    return [f"id{v}" for v in make_ids(n, offset).tolist()]


# --------------------------------------------------------------------------------------------------
class Workload:
    section = ""
    engine = ""
    ours = False

    def __init__(self, n: int) -> None:
        self.n = n
        self.rounds_checked = 0
        self._pending = False

    def setup(self) -> None:
        self.finish()
        self._setup()
        self._pending = True

    def run(self) -> Any:
        raise NotImplementedError

    def finish(self) -> None:
        if not self._pending:
            return
        self._pending = False
        self._check()
        self.rounds_checked += 1

    def _setup(self) -> None:
        raise NotImplementedError

    def _check(self) -> None:
        raise NotImplementedError

    def measure(self) -> float:
        """setup, time run, finish; return items per second."""
        self.setup()
        t0 = time.perf_counter()
        self.run()
        dt = time.perf_counter() - t0
        self.finish()
        return self.n / dt

    @property
    def label(self) -> str:
        return f"{self.section}: {self.engine}"


def _close(est: float, n: int, tol: float, what: str) -> None:
    assert abs(est / n - 1) < tol, f"{what}: estimate {est:.0f} for {n} distinct"


# -- HyperLogLog -----------------------------------------------------------------------------------
class HLLBatch(Workload):
    section = "HLL update, int64 ids"
    engine = "nt.HyperLogLog.update_many(ndarray)"
    ours = True

    def _setup(self) -> None:
        self.data = make_ids(self.n)
        self.s = nt.HyperLogLog(LG_K)

    def run(self) -> None:
        self.s.update_many(self.data)

    def _check(self) -> None:
        _close(self.s.estimate(), self.n, 0.08, self.engine)


class HLLLoop(Workload):
    section = "HLL update, int64 ids"

    def __init__(self, n: int, engine: str) -> None:
        super().__init__(n)
        self.kind = engine
        self.engine = {"nt": "nt.HyperLogLog.update(x) loop", "nt-pybind11": "nt._core.HyperLogLog.update(x) loop (pybind11)",
                       "datasketches": "datasketches.hll_sketch.update(x) loop"}[engine]
        self.ours = engine.startswith("nt")

    def _setup(self) -> None:
        self.data = make_list(self.n)
        if self.kind == "datasketches":
            import datasketches

            self.s = datasketches.hll_sketch(LG_K, datasketches.tgt_hll_type.HLL_8)
        elif self.kind == "nt-pybind11":
            self.s = nt.HyperLogLog(LG_K)._impl
        else:
            self.s = nt.HyperLogLog(LG_K)

    def run(self) -> None:
        update = self.s.update
        for x in self.data:
            update(x)

    def _check(self) -> None:
        _close(self.s.get_estimate() if self.kind == "datasketches" else self.s.estimate(), self.n, 0.08, self.engine)


# -- Bloom filter ----------------------------------------------------------------------------------
class BloomAddBatch(Workload):
    """``add_many`` with nt's default thread count (the batch is split by block over the
    threads), or on one thread (``threads=1``, a context row)."""

    section = "Bloom add (capacity = items, 1% FPR)"
    engine = "nt.BloomFilter.add_many(ndarray)"
    engine_one_thread = "nt.BloomFilter.add_many(ndarray, num_threads=1)"
    ours = True

    def __init__(self, n: int, threads: int | None = None) -> None:
        super().__init__(n)
        self.threads = threads
        if threads == 1:
            self.engine = self.engine_one_thread

    def _setup(self) -> None:
        self.data = make_ids(self.n)
        self.s = nt.BloomFilter(self.n, FP_RATE)

    def run(self) -> None:
        self.s.add_many(self.data, num_threads=self.threads)

    def _check(self) -> None:
        assert self.s.contains_many(self.data[:: max(1, self.n // 10_000)]).all(), "false negative"


class BloomAddPeer(Workload):
    section = "Bloom add (capacity = items, 1% FPR)"

    def __init__(self, n: int, engine: str, capacity: int) -> None:
        super().__init__(n)
        self.kind = engine
        self.capacity = capacity
        self.engine = {
            "rbloom": "rbloom.Bloom.update(list of int)",
            "nt-loop": "nt.BloomFilter.add(x) loop",
            "pyprobables": "probables.BloomFilter.add(str) loop",
        }[engine]
        self.ours = engine == "nt-loop"

    def _setup(self) -> None:
        if self.kind == "rbloom":
            import rbloom

            self.data: list[Any] = make_list(self.n)
            self.s: Any = rbloom.Bloom(self.capacity, FP_RATE)
        elif self.kind == "pyprobables":
            from probables import BloomFilter

            self.data = make_strs(self.n)
            self.s = BloomFilter(est_elements=self.capacity, false_positive_rate=FP_RATE)
        else:
            self.data = make_list(self.n)
            self.s = nt.BloomFilter(self.capacity, FP_RATE)

    def run(self) -> None:
        if self.kind == "rbloom":
            self.s.update(self.data)
            return
        add = self.s.add
        for x in self.data:
            add(x)

    def _check(self) -> None:
        probe = self.data[:: max(1, self.n // 2_000)]
        if self.kind == "pyprobables":
            assert all(self.s.check(x) for x in probe), "false negative"
        else:
            assert all(x in self.s for x in probe), "false negative"


class BloomContains(Workload):
    """Queries against a filter filled to capacity: half members (at most all of them), the rest not."""

    section = "Bloom contains (filled to capacity, 1% FPR)"

    def __init__(self, n: int, engine: str, capacity: int) -> None:
        super().__init__(n)
        self.kind = engine
        self.capacity = capacity
        self.engine = {
            "nt": "nt.BloomFilter.contains_many(ndarray)",
            "nt-1t": "nt.BloomFilter.contains_many(ndarray, num_threads=1)",
            "nt-loop": "x in nt.BloomFilter loop",
            "rbloom": "x in rbloom.Bloom loop",
            "pyprobables": "probables.BloomFilter.check(str) loop",
        }[engine]
        self.ours = engine.startswith("nt")
        self.fpr = math.nan

    @functools.cached_property
    def _filter(self) -> Any:
        """Built once per workload (untimed): filled with the capacity's ids."""
        if self.kind == "rbloom":
            import rbloom

            f: Any = rbloom.Bloom(self.capacity, FP_RATE)
            f.update(make_list(self.capacity))
        elif self.kind == "pyprobables":
            from probables import BloomFilter

            f = BloomFilter(est_elements=self.capacity, false_positive_rate=FP_RATE)
            for x in make_strs(self.capacity):
                f.add(x)
        else:
            f = nt.BloomFilter(self.capacity, FP_RATE)
            f.add_many(make_ids(self.capacity))
        return f

    def _setup(self) -> None:
        half = min(self.n // 2, self.capacity)  # members first (at most every one), then non-members
        members = make_ids(self.capacity)[:half]
        others = make_ids(self.n - half, offset=self.capacity + 1)
        arr = np.concatenate([members, others])
        self.half = half
        if self.kind in ("nt", "nt-1t"):
            self.data: Any = arr
        elif self.kind == "pyprobables":
            self.data = [f"id{v}" for v in arr.tolist()]
        else:
            self.data = arr.tolist()
        self.out: Any = None

    def run(self) -> None:
        f = self._filter
        if self.kind in ("nt", "nt-1t"):
            self.out = f.contains_many(self.data, num_threads=1 if self.kind == "nt-1t" else None)
        elif self.kind == "pyprobables":
            check = f.check
            self.out = [check(x) for x in self.data]
        else:
            self.out = [x in f for x in self.data]

    def _check(self) -> None:
        out = np.asarray(self.out, dtype=bool)
        assert out[: self.half].all(), "false negative"
        self.fpr = float(out[self.half :].mean()) if self.n > self.half else math.nan
        assert self.fpr < 3 * FP_RATE, f"{self.engine}: FPR {self.fpr:.4f} at capacity"


class BloomContainsSmall(BloomContains):
    """Per-item ``x in`` against a cache-resident filter (capacity 100,000: about 120 KB), so the
    figure is the call's own cost; against a 10^7 filter (12 MB) every query is a cache miss."""

    section = "Bloom `x in` loop, cache-resident filter (capacity 1e5, 1% FPR)"
    SMALL = 100_000

    def __init__(self, n: int, engine: str) -> None:
        super().__init__(n, engine, self.SMALL)


# -- count-min -------------------------------------------------------------------------------------
def zipf_ids(n: int) -> np.ndarray:
    return _zipf(n)


@functools.lru_cache(maxsize=4)
def _zipf(n: int) -> np.ndarray:
    rng = np.random.default_rng(42)
    a = (rng.zipf(1.2, size=n) % 1_000_000).astype(np.int64)
    a.flags.writeable = False
    return a


class CountMinBatch(Workload):
    section = "count-min update (eps 1e-4, delta 0.01), Zipf ids"

    def __init__(self, n: int, engine: str = "nt") -> None:
        super().__init__(n)
        self.kind = engine
        self.engine = {
            "nt": "nt.CountMinSketch.update_many(ndarray)",
            "nt-1t": "nt.CountMinSketch.update_many(ndarray, num_threads=1)",
            "nt-top": "nt.CountMinSketch(top=64).update_many(ndarray)",
            "nt-cons": "nt.CountMinSketch(conservative).update_many(ndarray)",
            "datasketches": "datasketches.count_min_sketch.update(x) loop",
            "pyprobables": "probables.CountMinSketch.add(str) loop",
        }[engine]
        self.ours = engine.startswith("nt")

    def _setup(self) -> None:
        arr = zipf_ids(self.n)
        if self.kind.startswith("nt"):
            self.data: Any = arr
            self.s: Any = nt.CountMinSketch.from_error(
                EPSILON, DELTA, top=64 if self.kind == "nt-top" else 0, conservative=self.kind == "nt-cons"
            )
        elif self.kind == "datasketches":
            import datasketches

            self.data = arr.tolist()
            self.s = datasketches.count_min_sketch(
                datasketches.count_min_sketch.suggest_num_hashes(1 - DELTA),
                datasketches.count_min_sketch.suggest_num_buckets(EPSILON),
            )
        else:
            from probables import CountMinSketch

            self.data = [str(v) for v in arr.tolist()]
            w, d = nt._core.CountMinSketch.dimensions_for(EPSILON, DELTA)
            self.s = CountMinSketch(width=w, depth=d)

    def run(self) -> None:
        if self.kind.startswith("nt"):
            self.s.update_many(self.data, num_threads=1 if self.kind == "nt-1t" else None)
            return
        f = self.s.update if self.kind == "datasketches" else self.s.add
        for x in self.data:
            f(x)

    def _check(self) -> None:
        arr = zipf_ids(self.n)
        keys, counts = np.unique(arr[: min(self.n, 200_000)], return_counts=True)
        keys, counts = keys[:200], counts[:200]
        if self.kind.startswith("nt"):
            est = [self.s.estimate(int(k)) for k in keys]
        elif self.kind == "datasketches":
            est = [self.s.get_estimate(int(k)) for k in keys]
        else:
            est = [self.s.check(str(int(k))) for k in keys]
        assert all(e >= c for e, c in zip(est, counts)), f"{self.engine}: under-count"


# -- accuracy (compare_sketch.py; not timed) -------------------------------------------------------
def hll_accuracy(trials: int, n: int, lg_k: int = LG_K) -> dict[str, tuple[float, float]]:
    """Relative error (mean, standard deviation) over ``trials`` disjoint id sets of ``n``."""
    out: dict[str, tuple[float, float]] = {}
    errs = []
    for t in range(trials):
        s = nt.HyperLogLog(lg_k)
        s.update_many(make_ids(n, offset=(t + 1) * 10**9))
        errs.append(s.estimate() / n - 1)
    out["nt.HyperLogLog (HIP)"] = (float(np.mean(errs)), float(np.std(errs, ddof=1)))
    errs = []
    for t in range(trials):
        s = nt.HyperLogLog(lg_k)
        s.update_many(make_ids(n, offset=(t + 1) * 10**9))
        m = nt.HyperLogLog(lg_k)
        m.merge(s)
        errs.append(m.estimate() / n - 1)
    out["nt.HyperLogLog merged (Ertl)"] = (float(np.mean(errs)), float(np.std(errs, ddof=1)))
    if have("datasketches"):
        import datasketches

        errs = []
        for t in range(trials):
            d = datasketches.hll_sketch(lg_k, datasketches.tgt_hll_type.HLL_8)
            for x in make_ids(n, offset=(t + 1) * 10**9).tolist():
                d.update(x)
            errs.append(d.get_estimate() / n - 1)
        out["datasketches.hll_sketch (HIP)"] = (float(np.mean(errs)), float(np.std(errs, ddof=1)))
    return out
