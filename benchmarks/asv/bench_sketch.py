"""Sketches under asv: HLL, Bloom and count-min batch calls and per-item Python calls, each beside
its peer (DataSketches, rbloom).

The workloads are the ones in ``benchmarks/lib/nt_sketchbench.py`` (also timed by the pytest suite
and ``compare_sketch.py``). asv calls ``setup`` before every timed call (``number = 1``), so each
call starts from a fresh sketch; ``teardown`` checks the result (estimate close to the truth, no
false negative, no under-count), and a wrong result fails the benchmark. ``time_*`` report
seconds per call, ``track_*`` millions of items per second. A peer that is not installed is
skipped (NotImplementedError in setup).
"""

from __future__ import annotations

import gc
import os
import sys
import time

_LIB = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib")
if _LIB not in sys.path:
    sys.path.insert(0, _LIB)

import nt_sketchbench as sb  # noqa: E402

N_BATCH = 2_000_000  # items per batch call
N_LOOP = 200_000  # items per per-item Python loop


class _Workload:
    number = 1
    repeat = (3, 10, 10.0)
    warmup_time = 0.0
    timeout = 300.0

    def _make(self, *params):
        raise NotImplementedError

    def setup(self, *params):
        self.wl = self._make(*params)
        self.wl.setup()

    def teardown(self, *params):
        self.wl.finish()

    def _rate(self):
        gc.collect()
        gc.disable()
        try:
            t0 = time.perf_counter()
            self.wl.run()
            dt = time.perf_counter() - t0
        finally:
            gc.enable()
        return self.wl.n / dt / 1e6


def _need(module):
    if not sb.have(module):
        raise NotImplementedError(f"{module} is not installed")


class HLLUpdate(_Workload):
    """HyperLogLog lg_k=12: nt batch update_many, nt per-item update (Cython and pybind11), and the
    DataSketches per-item loop, over distinct int64 ids."""

    params = [["nt-batch", "nt-loop", "nt-pybind11-loop", "datasketches-loop"]]
    param_names = ["engine"]

    def _make(self, engine):
        if engine == "nt-batch":
            return sb.HLLBatch(N_BATCH)
        if engine == "datasketches-loop":
            _need("datasketches")
            return sb.HLLLoop(N_LOOP, "datasketches")
        return sb.HLLLoop(N_LOOP, "nt" if engine == "nt-loop" else "nt-pybind11")

    def time_update(self, engine):
        self.wl.run()

    def track_mitems_per_s(self, engine):
        return self._rate()

    track_mitems_per_s.unit = "Mitems/s"


class BloomAdd(_Workload):
    """Bloom filter at 1%, capacity = items added: nt add_many, nt add loop, rbloom update(list)."""

    params = [["nt-batch", "nt-loop", "rbloom"]]
    param_names = ["engine"]

    def _make(self, engine):
        if engine == "nt-batch":
            return sb.BloomAddBatch(N_BATCH)
        if engine == "rbloom":
            _need("rbloom")
            return sb.BloomAddPeer(N_BATCH, "rbloom", N_BATCH)
        return sb.BloomAddPeer(N_LOOP, "nt-loop", N_BATCH)

    def time_add(self, engine):
        self.wl.run()

    def track_mitems_per_s(self, engine):
        return self._rate()

    track_mitems_per_s.unit = "Mitems/s"


class BloomContains(_Workload):
    """Queries (half members) against a filter filled to capacity: nt contains_many, `x in`
    loops of nt and rbloom (also against a cache-resident filter of capacity 1e5)."""

    params = [["nt-batch", "nt-loop", "rbloom-loop", "nt-loop-small", "rbloom-loop-small"]]
    param_names = ["engine"]

    def _make(self, engine):
        if engine == "nt-batch":
            return sb.BloomContains(N_BATCH, "nt", N_BATCH)
        if engine.startswith("rbloom"):
            _need("rbloom")
        kind = "rbloom" if engine.startswith("rbloom") else "nt-loop"
        if engine.endswith("-small"):
            return sb.BloomContainsSmall(N_LOOP, kind)
        return sb.BloomContains(N_LOOP, kind, N_BATCH)

    def time_contains(self, engine):
        self.wl.run()

    def track_mitems_per_s(self, engine):
        return self._rate()

    track_mitems_per_s.unit = "Mitems/s"


class CountMinUpdate(_Workload):
    """Count-min at epsilon 1e-4, delta 0.01 over Zipf ids: nt update_many (plain, conservative,
    with 64 heavy hitters tracked) and the DataSketches per-item loop."""

    params = [["nt", "nt-cons", "nt-top", "datasketches"]]
    param_names = ["engine"]

    def _make(self, engine):
        if engine == "datasketches":
            _need("datasketches")
            return sb.CountMinBatch(N_LOOP, "datasketches")
        return sb.CountMinBatch(N_BATCH, engine)

    def time_update(self, engine):
        self.wl.run()

    def track_mitems_per_s(self, engine):
        return self._rate()

    track_mitems_per_s.unit = "Mitems/s"
