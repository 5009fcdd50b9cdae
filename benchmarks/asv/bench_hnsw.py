"""HNSW under asv: batch search, single-query latency and build of nt.HNSWIndex beside hnswlib,
faiss IndexHNSWFlat and usearch (the engines of ``benchmarks/lib/nt_hnswbench.py``).

Data: 20,000 x 64 clustered points (Gaussian mixture, Dirichlet weights), 500 queries, k = 10,
M = 16, ef_construction = 200. Indexes are built once per process in ``setup_cache``-free
``setup`` (asv runs each benchmark class in its own process). An absent peer raises
NotImplementedError in setup, which asv reports as skipped. ``track_recall`` records recall@10 at
the ef being timed, so a faster but worse result shows.
"""

from __future__ import annotations

import os
import sys
import time

_LIB = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib")
if _LIB not in sys.path:
    sys.path.insert(0, _LIB)

import nt_hnswbench as hb  # noqa: E402

_SCALE = hb.Scale("asv", 20_000, 64, 500, 200, (64,), 1, 200)
ENGINES = list(hb.ENGINES)


class HNSWSearch:
    """Batch search of 500 queries on one thread at ef = 32 and 128."""

    params = (ENGINES, [32, 128])
    param_names = ["engine", "ef"]
    number = 1
    repeat = (3, 10, 20.0)
    timeout = 600.0

    def setup(self, engine, ef):
        if hb.available(engine):
            raise NotImplementedError(hb.available(engine))
        self.data, self.queries = hb.make_dataset("clustered", _SCALE)
        self.truth = hb.ground_truth(self.data, self.queries)
        self.e = hb.ENGINES[engine]()
        self.e.build(self.data, 2)
        self.e.set_ef(ef)

    def time_search(self, engine, ef):
        self.e.search(self.queries)

    def track_recall(self, engine, ef):
        return hb.recall(self.e.search(self.queries), self.truth)

    def track_qps(self, engine, ef):
        t0 = time.perf_counter()
        self.e.search(self.queries)
        return len(self.queries) / (time.perf_counter() - t0)


class HNSWSingleQuery:
    """One query from Python at ef = 64 (call latency)."""

    params = (ENGINES,)
    param_names = ["engine"]
    timeout = 600.0

    def setup(self, engine):
        if hb.available(engine):
            raise NotImplementedError(hb.available(engine))
        self.data, self.queries = hb.make_dataset("clustered", _SCALE)
        self.e = hb.ENGINES[engine]()
        self.e.build(self.data, 2)
        self.e.set_ef(64)
        self.q = self.queries[0]

    def time_one_query(self, engine):
        self.e.search_one(self.q)


class HNSWBuild:
    """Build of 5,000 points with 2 threads."""

    params = (ENGINES,)
    param_names = ["engine"]
    number = 1
    repeat = (2, 5, 30.0)
    timeout = 600.0

    def setup(self, engine):
        if hb.available(engine):
            raise NotImplementedError(hb.available(engine))
        self.data, _ = hb.make_dataset("clustered", _SCALE)
        self.data = self.data[:5_000]

    def time_build(self, engine):
        hb.ENGINES[engine]().build(self.data, 2)
