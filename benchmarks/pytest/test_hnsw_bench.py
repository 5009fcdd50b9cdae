"""HNSW: nt.HNSWIndex vs hnswlib, faiss IndexHNSWFlat and usearch (pytest-benchmark groups).

Run: ``NT_BENCH_SCALE=default python -m pytest benchmarks/pytest -k hnsw`` (see benchmarks/README.md);
CI: ``NT_BENCH_SCALE=smoke python -m pytest benchmarks/pytest --benchmark-disable -q``.

The workloads and engines are those of ``benchmarks/lib/nt_hnswbench.py`` (also used by
``compare_hnsw.py`` and the asv suite). The pytest suite uses a smaller data set than the
comparison script at the same scale name (at most 20,000 points) so that it runs in a couple of
minutes. Every case checks its result against the exact neighbours (recall floor), so a wrong
answer fails whether or not timing is enabled. A peer that does not import is skipped with a
message.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

import nt_hnswbench as hb

ENGINES = list(hb.ENGINES)


@pytest.fixture(scope="module")
def hnsw_scale() -> hb.Scale:
    s = hb.get_scale()
    return dataclasses.replace(s, n=min(s.n, 20_000), nq=min(s.nq, 500), centres=min(s.centres, 200))


@pytest.fixture(scope="module")
def clustered(hnsw_scale: hb.Scale) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    data, queries = hb.make_dataset("clustered", hnsw_scale)
    return data, queries, hb.ground_truth(data, queries)


_built: dict[str, hb.Engine] = {}


def _engine(name: str, data: np.ndarray) -> hb.Engine:
    why = hb.available(name)
    if why:
        pytest.skip(why)
    if name not in _built:
        e = hb.ENGINES[name]()
        e.build(data, 2)
        _built[name] = e
    return _built[name]


@pytest.mark.parametrize("engine", ENGINES)
def test_hnsw_search_batch_ef64(benchmark: Any, clustered, engine: str) -> None:
    data, queries, truth = clustered
    e = _engine(engine, data)
    e.set_ef(64)
    benchmark.group = "hnsw: batch search, ef=64, k=10, 1 thread"
    benchmark.extra_info["queries_per_round"] = len(queries)
    ids = benchmark(e.search, queries)
    r = hb.recall(ids, truth)
    benchmark.extra_info["recall"] = round(r, 4)
    assert r >= 0.8, r


@pytest.mark.parametrize("engine", ENGINES)
def test_hnsw_single_query_ef64(benchmark: Any, clustered, engine: str) -> None:
    data, queries, truth = clustered
    e = _engine(engine, data)
    e.set_ef(64)
    benchmark.group = "hnsw: one query from Python, ef=64, k=10"
    out = benchmark(e.search_one, queries[0])
    assert out is not None


@pytest.mark.parametrize("engine", ENGINES)
def test_hnsw_build_2_threads(benchmark: Any, clustered, engine: str) -> None:
    data, queries, truth = clustered
    why = hb.available(engine)
    if why:
        pytest.skip(why)
    sub = data[: max(500, len(data) // 4)]
    benchmark.group = "hnsw: build, M=16, ef_construction=200, 2 threads"
    benchmark.extra_info["points"] = len(sub)

    def build() -> hb.Engine:
        e = hb.ENGINES[engine]()
        e.build(sub, 2)
        return e

    e = benchmark.pedantic(build, rounds=1, iterations=1)
    e.set_ef(64)
    ids = e.search(sub[:50])
    assert (ids[:, 0] == np.arange(50)).mean() >= 0.9  # points find themselves


@pytest.mark.parametrize("variant", ["nt graph", "nt exact", "hnswlib callable"])
def test_hnsw_filtered_5pct(benchmark: Any, clustered, variant: str) -> None:
    data, queries, truth = clustered
    engine = "hnswlib" if variant.startswith("hnswlib") else "nt"
    e = _engine(engine, data)
    e.set_ef(64)
    allowed = hb.allowed_subset(len(data), 0.05)
    q = queries[:100]
    ftruth = hb.filtered_truth(data, q, allowed)
    fn = e.exact_filtered if variant == "nt exact" else e.filtered  # type: ignore[attr-defined]
    benchmark.group = "hnsw: filtered search, 5% allowed, ef=64, 1 thread"
    ids = benchmark(fn, q, allowed)
    assert np.isin(ids[ids >= 0], allowed).all()
    assert hb.recall(ids, ftruth) >= 0.8
