"""nt.HNSWIndex: recall against brute force, filters, deletion, persistence, threads, kernels.

The 20,000-point indexes are built once per module (fixtures) with both cores; every assertion
compares with an exact reference (nt.knn_exact or a NumPy brute force).
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import neural_trader as nt
from neural_trader.errors import CorruptDataError, DTypeError, InvalidArgumentError

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "hnsw_v1.bin"
N = 20_000
NQ = 200
K = 10
METRICS = ["l2", "ip", "cosine"]


def uniform(n: int, dim: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((n, dim), dtype=np.float32)


def clustered(n: int, dim: int, seed: int, centres: int = 200) -> np.ndarray:
    """Gaussian mixture: Dirichlet(1) weights, per-dimension scale (j+1)^-0.25, noise 1.5x that."""
    rng = np.random.default_rng(seed)
    scale = (np.arange(dim) + 1.0) ** -0.25
    c = rng.normal(size=(centres, dim)) * scale
    w = rng.dirichlet(np.ones(centres))
    which = rng.choice(centres, size=n, p=w)
    return (c[which] + rng.normal(size=(n, dim)) * 1.5 * scale).astype(np.float32)


def recall(got: np.ndarray, want: np.ndarray) -> float:
    hits = sum(len(set(g[g >= 0]) & set(w[w >= 0])) for g, w in zip(got, want))
    total = sum(int((w >= 0).sum()) for w in want)
    return hits / max(total, 1)


DATASETS = {
    "uniform32": (lambda: uniform(N, 32, 1), lambda: uniform(NQ, 32, 2)),
    "clustered64": (lambda: clustered(N + NQ, 64, 3)[:N], lambda: clustered(N + NQ, 64, 3)[N:]),
}


@pytest.fixture(scope="module")
def built() -> dict[tuple[str, str], tuple[nt.HNSWIndex, np.ndarray, np.ndarray]]:
    """Six indexes (two data sets x three metrics), M=16, ef_construction=100, built with 2 threads."""
    out = {}
    for name, (make_data, make_queries) in DATASETS.items():
        data, queries = make_data(), make_queries()
        for metric in METRICS:
            idx = nt.HNSWIndex(data.shape[1], metric, M=16, ef_construction=100, capacity=1000, seed=5)
            idx.add(data, num_threads=2)
            out[(name, metric)] = (idx, data, queries)
    return out


@pytest.mark.parametrize("dataset", list(DATASETS))
@pytest.mark.parametrize("metric", METRICS)
def test_recall_at_ef200_and_grows_with_ef(built, dataset, metric):
    idx, data, queries = built[(dataset, metric)]
    assert len(idx) == N
    want, wd = nt.knn_exact(data, queries, K, metric)
    recalls = []
    for ef in (10, 40, 200):
        got, gd = idx.search(queries, k=K, ef=ef, num_threads=2)
        assert got.dtype == np.int64 and gd.dtype == np.float32 and got.shape == (NQ, K)
        assert np.all(np.diff(gd, axis=1) >= 0)
        recalls.append(recall(got, want))
    assert recalls[-1] >= 0.95, recalls
    assert recalls[0] <= recalls[1] <= recalls[2], recalls
    assert recalls[0] < recalls[2]
    # distances agree with the brute force's where the ids agree
    got, gd = idx.search(queries, k=K, ef=200)
    same = got == want
    np.testing.assert_allclose(gd[same], wd[same], rtol=1e-4, atol=1e-4)


def test_distance_conventions():
    a = np.array([[1.0, 2.0, 2.0]], dtype=np.float32)
    b = np.array([[2.0, 0.0, 2.0]], dtype=np.float32)
    for metric, want in [("l2", 5.0), ("ip", 1.0 - 6.0), ("cosine", 1.0 - 6.0 / (3.0 * np.sqrt(8.0)))]:
        idx = nt.HNSWIndex(3, metric)
        idx.add(b, ids=[42])
        ids, d = idx.search(a, k=1)
        assert ids[0, 0] == 42
        assert d[0, 0] == pytest.approx(want, rel=1e-5, abs=1e-6)
        _, kd = nt.knn_exact(b, a, 1, metric)
        assert kd[0, 0] == pytest.approx(want, rel=1e-5, abs=1e-6)


def test_every_kernel_path_matches_scalar():
    levels = nt._core._hnsw_simd_levels()
    assert "scalar" in levels
    assert nt.build_info()["hnsw_simd"] in levels
    rng = np.random.default_rng(9)
    for dim in (1, 3, 7, 8, 15, 16, 17, 31, 64, 100, 128, 129):
        a = rng.normal(size=(50, dim)).astype(np.float32)
        b = rng.normal(size=(50, dim)).astype(np.float32)
        for metric in ("l2", "ip"):
            ref = nt._core._hnsw_distance("scalar", metric, a, b)
            exact = ((a.astype(np.float64) - b) ** 2).sum(1) if metric == "l2" else 1 - (a.astype(np.float64) * b).sum(1)
            np.testing.assert_allclose(ref, exact, rtol=1e-4, atol=1e-4)
            for level in levels:
                got = nt._core._hnsw_distance(level, metric, a, b)
                np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5 * dim)


def test_nt_simd_forces_the_scalar_path():
    code = ("import neural_trader as nt, numpy as np; i = nt.HNSWIndex(4); "
            "print(nt.build_info()['hnsw_simd'], i.simd)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ, NT_SIMD="scalar"), check=True)
    assert out.stdout.split() == ["scalar", "scalar"]


def test_padding_small_index_and_empty():
    idx = nt.HNSWIndex(4)
    ids, d = idx.search(np.zeros(4), k=3)
    assert ids.tolist() == [[-1, -1, -1]] and np.isinf(d).all()
    idx.add(np.eye(4)[:2], ids=[10, 11])
    ids, d = idx.search(np.zeros((1, 4)), k=5)
    assert sorted(ids[0, :2].tolist()) == [10, 11]
    assert ids[0, 2:].tolist() == [-1, -1, -1] and np.isinf(d[0, 2:]).all()


def test_input_checks_leave_index_unchanged():
    idx = nt.HNSWIndex(3, label_names=("symbol",))
    idx.add(np.ones((2, 3)), ids=[1, 2], labels=[[0], [0]])
    before = idx.to_bytes()
    with pytest.raises(InvalidArgumentError):
        idx.add(np.ones((2, 4)), labels=[[0], [0]])
    with pytest.raises(InvalidArgumentError):
        idx.add(np.ones((2, 3)), ids=[3, 2], labels=[[0], [0]])  # 2 is live
    with pytest.raises(InvalidArgumentError):
        idx.add(np.ones((2, 3)), ids=[5, 5], labels=[[0], [0]])
    with pytest.raises(InvalidArgumentError):
        idx.add(np.array([[1, np.nan, 0]]), ids=[6], labels=[[0]])
    with pytest.raises(InvalidArgumentError):
        idx.add(np.ones((1, 3)), ids=[7])  # labels missing
    with pytest.raises(DTypeError):
        idx.add(np.array([["a", "b", "c"]]), ids=[8], labels=[[0]])
    with pytest.raises(DTypeError):
        idx.add(np.ones((1, 3)), ids=[1.5], labels=[[0]])
    with pytest.raises(InvalidArgumentError):
        idx.search(np.ones((1, 2)))
    with pytest.raises(InvalidArgumentError):
        idx.search(np.array(1.0, dtype=np.float32))
    with pytest.raises(InvalidArgumentError):
        idx.search(np.ones((1, 1, 3), dtype=np.float32))
    with pytest.raises(InvalidArgumentError):
        idx.search(np.ones((1, 3)), k=0)
    with pytest.raises(DTypeError):
        idx.search(np.ones((1, 3)), filter=lambda i: True)
    with pytest.raises(InvalidArgumentError):
        idx.search(np.ones((1, 3)), filter=nt.Where(sector=1))
    with pytest.raises(InvalidArgumentError):
        nt.HNSWIndex(3, metric="manhattan")
    assert idx.to_bytes() == before
    assert isinstance(InvalidArgumentError("x"), ValueError)


def test_float64_and_strided_input_are_converted():
    base = uniform(300, 8, 11)
    a = nt.HNSWIndex(8, seed=1)
    a.add(base, num_threads=1)
    b = nt.HNSWIndex(8, seed=1)
    wide = np.zeros((300, 16), dtype=np.float64)
    wide[:, ::2] = base
    b.add(wide[:, ::2], num_threads=1)  # float64, non-contiguous
    qa = a.search(base[:20], k=5)
    qb = b.search(np.asfortranarray(base[:20].astype(np.float64)), k=5)
    np.testing.assert_array_equal(qa[0], qb[0])
    np.testing.assert_array_equal(qa[1], qb[1])


# -- filters ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def labelled():
    """20,000 clustered points with labels (symbol = id % 20, time = id)."""
    data = clustered(N + NQ, 32, 21)
    queries, data = data[N:], data[:N]
    idx = nt.HNSWIndex(32, "l2", M=16, ef_construction=100, label_names=("symbol", "time"), seed=3)
    ids = np.arange(N)
    idx.add(data, ids, labels=np.column_stack([ids % 20, ids]), num_threads=2)
    return idx, data, queries


def filtered_truth(data, queries, allowed_ids, k):
    sub = data[allowed_ids]
    ids, d = nt.knn_exact(sub, queries, k, "l2")
    return np.where(ids >= 0, allowed_ids[np.maximum(ids, 0)], -1), d


@pytest.mark.parametrize("fraction,path", [(0.05, "graph"), (0.001, "exact")])
def test_filtered_recall_and_path(labelled, fraction, path):
    idx, data, queries = labelled
    rng = np.random.default_rng(int(fraction * 1000))
    allowed = np.sort(rng.choice(N, size=int(N * fraction), replace=False))
    want, _ = filtered_truth(data, queries, allowed, K)
    for flt in (allowed, np.isin(np.arange(N), allowed)):  # id list and boolean mask
        got, _ = idx.search(queries, k=K, ef=100, filter=flt, num_threads=2)
        assert np.isin(got[got >= 0], allowed).all()
        assert recall(got, want) >= 0.9
        st = idx.last_search_stats
        assert st["filtered"] and st["allowed"] == len(allowed)
        assert st["path"] == path


@pytest.mark.parametrize("mode", [0, 1])
def test_selective_filter_walk_with_and_without_collected_links(labelled, mode):
    """5% allowed: the two-hop walk, with the allowed points' links collected once for the call
    (mode 1) or found query by query (mode 0), returns only allowed points, never comes up short
    and finds the filtered brute force's neighbours."""
    idx, data, queries = labelled
    allowed = np.sort(np.random.default_rng(11).choice(N, size=N // 20, replace=False))
    want, want_d = filtered_truth(data, queries, allowed, K)
    idx._impl._set_subgraph(mode)
    try:
        got, d = idx.search(queries, k=K, ef=100, filter=allowed, exact=False, num_threads=2)
    finally:
        idx._impl._set_subgraph(-1)
    st = idx.last_search_stats
    assert st["path"] == "graph" and st["subgraph"] is bool(mode)
    # the collected links were walked (a query whose entry has no allowed point within two hops
    # takes the per-query walk, rarely)
    assert st["subgraph_walks"] >= 0.9 * NQ if mode else st["subgraph_walks"] == 0
    assert np.isin(got, allowed).all()
    assert recall(got, want) >= 0.9
    assert (np.diff(d, axis=1) >= 0).all()
    # distances are the true ones of the ids returned
    np.testing.assert_allclose(d, ((data[got] - queries[:, None, :]) ** 2).sum(-1), rtol=1e-4, atol=1e-4)


def test_collected_links_chosen_by_query_count(labelled):
    """Automatic: a batch of queries pays for collecting the allowed points' links, one query
    does not."""
    idx, _, queries = labelled
    allowed = np.arange(0, N, 20)
    idx.search(queries, k=K, ef=64, filter=allowed)
    assert idx.last_search_stats["subgraph"] is True
    idx.search(queries[:1], k=K, ef=64, filter=allowed)
    assert idx.last_search_stats["subgraph"] is False
    assert idx.last_search_stats["path"] == "graph"


def test_where_filters(labelled):
    idx, data, queries = labelled
    ids = np.arange(N)
    cases = [
        (nt.Where(symbol=3), ids % 20 == 3),
        (nt.Where(symbol=[3, 4, 5], time_lt=15_000), np.isin(ids % 20, [3, 4, 5]) & (ids < 15_000)),
        (nt.Where(symbol_ne=0, time_between=(1000, 9000)), (ids % 20 != 0) & (ids >= 1000) & (ids <= 9000)),
        (nt.Where(time_ge=19_990), ids >= 19_990),
        (nt.Where(symbol=7) & nt.Where(time_le=500), (ids % 20 == 7) & (ids <= 500)),
    ]
    for where, mask in cases:
        allowed = ids[mask]
        want, _ = filtered_truth(data, queries, allowed, K)
        got, _ = idx.search(queries, k=K, ef=100, filter=where)
        assert np.isin(got[got >= 0], allowed).all(), where
        assert recall(got, want) >= 0.9, where
        assert idx.last_search_stats["allowed"] == len(allowed)


def test_time_filter_never_returns_a_later_point(labelled):
    idx, _, queries = labelled
    for t in (5, 100, 2_500, 12_345):
        got, _ = idx.search(queries[:50], k=K, filter=nt.Where(time_lt=t))
        assert (got[got >= 0] < t).all()
        assert (got >= 0).sum() == 50 * min(K, t)


# -- deletion and reuse -------------------------------------------------------------------------


def test_deleted_ids_never_return_and_slots_are_reused():
    data = uniform(3000, 16, 31)
    idx = nt.HNSWIndex(16, ef_construction=64)
    idx.add(data)
    gone = np.arange(0, 3000, 4)
    idx.mark_deleted(gone)
    assert len(idx) == 3000 - len(gone) and 0 not in idx and 1 in idx
    got, _ = idx.search(data[:300], k=K, ef=64)
    assert not np.isin(got, gone).any()
    live = np.setdiff1d(np.arange(3000), gone)
    want, _ = filtered_truth(data, data[:300], live, K)
    assert recall(got, want) >= 0.9
    with pytest.raises(InvalidArgumentError):
        idx.get_vectors([0])
    with pytest.raises(InvalidArgumentError):
        idx.mark_deleted([1, 0])  # 0 is deleted already: nothing changes
    assert 1 in idx
    idx.unmark_deleted([4])
    assert 4 in idx
    cap = idx.capacity
    new = uniform(len(gone) - 1, 16, 32)
    new_ids = idx.add(new)
    assert idx.capacity == cap and len(idx) == 3000 + len(new) - (len(gone) - 1)
    got, _ = idx.search(new, k=1, ef=64)
    assert (got[:, 0] == new_ids).mean() >= 0.95
    idx.check_integrity()
    np.testing.assert_array_equal(idx.get_vectors(new_ids[:5]), new[:5])


# -- persistence --------------------------------------------------------------------------------


def test_save_load_pickle_identical(tmp_path, labelled):
    idx, _, queries = labelled
    path = tmp_path / "index.nt"
    idx.save(path)
    back = nt.HNSWIndex.load(path)
    again = pickle.loads(pickle.dumps(idx))
    ref = idx.search(queries, k=K, ef=80, filter=nt.Where(symbol=[1, 2]))
    for other in (back, again):
        assert len(other) == len(idx) and other.label_names == ("symbol", "time") and other.ef == idx.ef
        got = other.search(queries, k=K, ef=80, filter=nt.Where(symbol=[1, 2]))
        np.testing.assert_array_equal(got[0], ref[0])
        np.testing.assert_array_equal(got[1], ref[1])
    assert back.to_bytes() == idx.to_bytes()


def test_corrupt_and_truncated_input_raise(tmp_path):
    idx = nt.HNSWIndex(5, "cosine", label_names=("a",))
    idx.add(uniform(500, 5, 41), labels=np.arange(500)[:, None])
    idx.mark_deleted([3])
    data = idx.to_bytes()
    rng = np.random.default_rng(0)
    for cut in sorted(set(rng.integers(0, len(data), 40).tolist()) | {0, 10, len(data) - 1}):
        with pytest.raises(CorruptDataError):
            nt.HNSWIndex.from_bytes(data[:cut])
    for at in rng.integers(0, len(data), 60):
        bad = bytearray(data)
        bad[at] ^= 1 << int(rng.integers(0, 8))
        with pytest.raises(CorruptDataError):
            nt.HNSWIndex.from_bytes(bytes(bad))
    p = tmp_path / "bad.nt"
    p.write_bytes(data[:-7])
    with pytest.raises(ValueError):
        nt.HNSWIndex.load(p)
    p.write_bytes(b"not an index at all, but long enough")
    with pytest.raises(CorruptDataError):
        nt.HNSWIndex.load(p)


def test_golden_file_still_loads():
    idx = nt.HNSWIndex.load(GOLDEN)
    assert (idx.dim, idx.metric, idx.M, len(idx), idx.label_names) == (4, "l2", 4, 38, ("t",))
    assert 1003 not in idx and 1039 in idx
    ids, d = idx.search(np.array([10, 3, 1, -10], dtype=np.float32) / 8, k=3, ef=16)
    assert ids[0, 0] == 1010 and d[0, 0] == 0.0
    got, _ = idx.search(np.array([10, 3, 1, -10], dtype=np.float32) / 8, k=40, filter=nt.Where(t_lt=10))
    assert sorted(got[got >= 0].tolist()) == [1000 + i for i in range(10) if i != 3]


# -- threads ------------------------------------------------------------------------------------


def test_parallel_searches_equal_sequential(built):
    idx, _, queries = built[("clustered64", "l2")]
    seq = idx.search(queries, k=K, ef=50, num_threads=1)
    par = idx.search(queries, k=K, ef=50, num_threads=4)
    np.testing.assert_array_equal(seq[0], par[0])
    results: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def run(i: int) -> None:
        results[i] = idx.search(queries, k=K, ef=50, num_threads=1)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results.values():
        np.testing.assert_array_equal(r[0], seq[0])
        np.testing.assert_array_equal(r[1], seq[1])


def test_searches_during_a_long_add():
    dim, n = 16, 12_000
    data = uniform(n, dim, 51)
    idx = nt.HNSWIndex(dim, ef_construction=100, capacity=64)
    idx.add(data[:500])
    done = threading.Event()
    errors: list[str] = []
    during = [0, 0]

    def searcher(slot: int) -> None:
        rng = np.random.default_rng(slot)
        while not done.is_set():
            q = data[rng.integers(0, n, 8)]
            ids, d = idx.search(q, k=5, ef=32, num_threads=1)
            if not (((ids >= -1) & (ids < n)).all() and (d[:, 1:] >= d[:, :-1]).all()):
                errors.append(f"bad result {ids} {d}")
            if ((ids == -1) != np.isinf(d)).any():
                errors.append("padding mismatch")
            if (ids == -1).any():  # at least 500 points are in the index: no query may come up short
                errors.append(f"short result {ids}")
            during[slot] += 1

    threads = [threading.Thread(target=searcher, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    before = list(during)
    idx.add(data[500:], num_threads=1)  # one long add (GIL released)
    after = list(during)
    done.set()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    assert all(a > b for a, b in zip(after, before)), (before, after)
    assert len(idx) == n
    idx.check_integrity()
    got, _ = idx.search(data[:100], k=1, ef=64)
    assert (got[:, 0] == np.arange(100)).mean() >= 0.95


# -- misc ---------------------------------------------------------------------------------------


def test_repr_contains_and_properties():
    idx = nt.HNSWIndex(6, "ip", M=8, ef_construction=50, ef=20, label_names=("s",))
    idx.add(uniform(10, 6, 61), ids=np.arange(100, 110), labels=np.zeros((10, 1), dtype=np.int64))
    r = repr(idx)
    assert "HNSWIndex" in r and "len=10" in r and "'ip'" in r
    assert 100 in idx and 99 not in idx and "a" not in idx and 2**70 not in idx
    assert (idx.dim, idx.M, idx.ef_construction, idx.ef) == (6, 8, 50, 20)
    idx.ef = 30
    assert idx.ef == 30
    assert idx.memory_bytes > 10 * 6 * 4
    ids, labels = idx.labels()
    assert sorted(ids.tolist()) == list(range(100, 110)) and labels.shape == (10, 1)
    assert idx.add(uniform(2, 6, 62), labels=[[1], [1]]).tolist() == [110, 111]


def test_knn_exact_checks():
    data = uniform(50, 4, 71)
    ids, d = nt.knn_exact(data, data[:3], k=60)
    assert ids.shape == (3, 60) and (ids[:, 50:] == -1).all() and np.isinf(d[:, 50:]).all()
    assert ids[:, 0].tolist() == [0, 1, 2]
    brute = ((data[:3, None, :].astype(np.float64) - data[None]) ** 2).sum(-1)
    np.testing.assert_array_equal(ids[:, :50], np.argsort(brute, axis=1, kind="stable"))
    with pytest.raises(InvalidArgumentError):
        nt.knn_exact(data, data[:, :3])
