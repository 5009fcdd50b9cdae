"""HNSW workloads shared by the benchmark front ends (pytest, asv, compare_hnsw.py).

Engines: ``nt`` (neural_trader.HNSWIndex), ``hnswlib``, ``faiss`` (IndexHNSWFlat) and ``usearch``;
a peer that does not import is reported absent and its benchmarks are skipped with a message.
Every engine gets the same data, M = 16, ef_construction = 200, squared L2, k = 10, and is built
with the same number of threads; searches run on one thread unless a workload says otherwise.

Data sets (seeded):

``clustered``
    a Gaussian mixture of ``centres`` centres with Dirichlet(1) weights; per-dimension scale
    (j+1)^-0.25 for the centres and 1.5x that for the noise; queries drawn from the same mixture
    (SIFT-like difficulty).
``uniform``
    uniform in [0, 1)^dim: much harder (recall about 0.5 at ef = 128 for 100,000 x 128).

``NT_BENCH_SCALE`` = smoke | default | full picks the sizes (see ``SCALES``).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from typing import Any

import numpy as np

import neural_trader as nt

K = 10
M = 16
EF_CONSTRUCTION = 200


@dataclasses.dataclass(frozen=True)
class Scale:
    name: str
    n: int  #: points
    dim: int
    nq: int  #: queries
    centres: int
    efs: tuple[int, ...]  #: ef sweep of the comparison
    reps: int  #: timed repetitions per measurement (median)
    single: int  #: single-query calls timed
    build_threads: int = 2


SCALES = {
    "smoke": Scale("smoke", 2_000, 32, 100, 50, (10, 32, 64), 1, 50),
    "default": Scale("default", 100_000, 128, 1_000, 1_000,
                     (10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512), 3, 1_000),
    "full": Scale("full", 100_000, 128, 1_000, 1_000,
                  (10, 16, 24, 32, 40, 48, 64, 80, 96, 128, 160, 192, 256, 320, 384, 512, 768), 5, 2_000),
}


def get_scale(name: str | None = None) -> Scale:
    name = name or os.environ.get("NT_BENCH_SCALE", "default")
    if name not in SCALES:
        raise SystemExit(f"NT_BENCH_SCALE must be one of {list(SCALES)}, got {name!r}")
    return SCALES[name]


def clustered(n: int, dim: int, centres: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    scale = (np.arange(dim) + 1.0) ** -0.25
    c = rng.normal(size=(centres, dim)) * scale
    w = rng.dirichlet(np.ones(centres))
    which = rng.choice(centres, size=n, p=w)
    return (c[which] + rng.normal(size=(n, dim)) * 1.5 * scale).astype(np.float32)


def make_dataset(kind: str, scale: Scale, seed: int = 12345) -> tuple[np.ndarray, np.ndarray]:
    """(data [n, dim], queries [nq, dim]) float32."""
    if kind == "clustered":
        allv = clustered(scale.n + scale.nq, scale.dim, scale.centres, seed)
        return allv[: scale.n], allv[scale.n:]
    if kind == "uniform":
        rng = np.random.default_rng(seed)
        return rng.random((scale.n, scale.dim), dtype=np.float32), rng.random((scale.nq, scale.dim), dtype=np.float32)
    raise ValueError(kind)


def ground_truth(data: np.ndarray, queries: np.ndarray, k: int = K) -> np.ndarray:
    ids, _ = nt.knn_exact(data, queries, k, "l2")
    return ids


def recall(got: np.ndarray, truth: np.ndarray) -> float:
    k = truth.shape[1]
    hits = sum(len(set(g.tolist()) & set(t.tolist())) for g, t in zip(got[:, :k], truth))
    return hits / truth.size


# --------------------------------------------------------------------------------------------------
# engines


class Engine:
    """One library behind a common interface."""

    name = ""
    label = ""

    def build(self, data: np.ndarray, threads: int) -> None:
        raise NotImplementedError

    def set_ef(self, ef: int) -> None:
        raise NotImplementedError

    def search(self, queries: np.ndarray, k: int = K) -> np.ndarray:
        """ids [nq, k] on one thread."""
        raise NotImplementedError

    def search_one(self, q: np.ndarray, k: int = K) -> Any:
        """One query from Python (latency)."""
        raise NotImplementedError

    def filtered(self, queries: np.ndarray, allowed_ids: np.ndarray, k: int = K) -> np.ndarray:
        raise NotImplementedError

    def memory_bytes(self) -> int | None:
        return None


class NtEngine(Engine):
    name = "nt"
    label = "nt.HNSWIndex"

    def build(self, data: np.ndarray, threads: int) -> None:
        self.index = nt.HNSWIndex(data.shape[1], "l2", M=M, ef_construction=EF_CONSTRUCTION, capacity=len(data))
        self.index.add(data, num_threads=threads)
        self.n = len(data)

    def set_ef(self, ef: int) -> None:
        self.index.ef = ef

    def search(self, queries: np.ndarray, k: int = K) -> np.ndarray:
        return self.index.search(queries, k=k, num_threads=1)[0]

    def search_one(self, q: np.ndarray, k: int = K) -> Any:
        return self.index.search(q, k=k, num_threads=1)

    def filtered(self, queries: np.ndarray, allowed_ids: np.ndarray, k: int = K) -> np.ndarray:
        return self.index.search(queries, k=k, filter=allowed_ids, num_threads=1)[0]

    def exact_filtered(self, queries: np.ndarray, allowed_ids: np.ndarray, k: int = K) -> np.ndarray:
        return self.index.search(queries, k=k, filter=allowed_ids, num_threads=1, exact=True)[0]

    def memory_bytes(self) -> int | None:
        return self.index.memory_bytes


class HnswlibEngine(Engine):
    name = "hnswlib"
    label = "hnswlib"

    def build(self, data: np.ndarray, threads: int) -> None:
        import hnswlib

        self.index = hnswlib.Index(space="l2", dim=data.shape[1])
        self.index.init_index(max_elements=len(data), ef_construction=EF_CONSTRUCTION, M=M, random_seed=100)
        self.index.add_items(data, np.arange(len(data)), num_threads=threads)

    def set_ef(self, ef: int) -> None:
        self.index.set_ef(ef)

    def search(self, queries: np.ndarray, k: int = K) -> np.ndarray:
        return self.index.knn_query(queries, k=k, num_threads=1)[0].astype(np.int64)

    def search_one(self, q: np.ndarray, k: int = K) -> Any:
        return self.index.knn_query(q, k=k, num_threads=1)

    def filtered(self, queries: np.ndarray, allowed_ids: np.ndarray, k: int = K) -> np.ndarray:
        mask = np.zeros(self.index.get_current_count(), dtype=bool)
        mask[allowed_ids] = True
        allowed = mask.tolist()  # a list lookup: the cheapest Python callable we could give it
        out = np.full((len(queries), k), -1, dtype=np.int64)
        for i, q in enumerate(queries):  # hnswlib raises when fewer than k pass: one query at a time
            try:
                out[i] = self.index.knn_query(q, k=k, num_threads=1, filter=lambda label: allowed[label])[0][0]
            except RuntimeError:
                pass
        return out


class FaissEngine(Engine):
    name = "faiss"
    label = "faiss IndexHNSWFlat"

    def build(self, data: np.ndarray, threads: int) -> None:
        import faiss

        faiss.omp_set_num_threads(threads)
        self.index = faiss.IndexHNSWFlat(data.shape[1], M)
        self.index.hnsw.efConstruction = EF_CONSTRUCTION
        self.index.add(data)
        faiss.omp_set_num_threads(1)

    def set_ef(self, ef: int) -> None:
        self.index.hnsw.efSearch = ef

    def search(self, queries: np.ndarray, k: int = K) -> np.ndarray:
        return self.index.search(queries, k)[1]

    def search_one(self, q: np.ndarray, k: int = K) -> Any:
        return self.index.search(q[None, :], k)


class UsearchEngine(Engine):
    name = "usearch"
    label = "usearch"

    def build(self, data: np.ndarray, threads: int) -> None:
        from usearch.index import Index

        self.index = Index(ndim=data.shape[1], metric="l2sq", dtype="f32", connectivity=M,
                           expansion_add=EF_CONSTRUCTION, expansion_search=64)
        self.index.add(np.arange(len(data)), data, threads=threads)

    def set_ef(self, ef: int) -> None:
        self.index.expansion_search = ef

    def search(self, queries: np.ndarray, k: int = K) -> np.ndarray:
        return np.asarray(self.index.search(queries, k, threads=1).keys, dtype=np.int64)

    def search_one(self, q: np.ndarray, k: int = K) -> Any:
        return self.index.search(q, k)

    def memory_bytes(self) -> int | None:
        return int(self.index.memory_usage)


ENGINES: dict[str, Callable[[], Engine]] = {
    "nt": NtEngine, "hnswlib": HnswlibEngine, "faiss": FaissEngine, "usearch": UsearchEngine,
}
_MODULES = {"nt": "neural_trader", "hnswlib": "hnswlib", "faiss": "faiss", "usearch": "usearch.index"}


def available(name: str) -> str | None:
    """None when the engine imports, else why not (for skip messages)."""
    import importlib

    try:
        importlib.import_module(_MODULES[name])
    except Exception as exc:  # noqa: BLE001 - any import failure means "absent"
        pip = {"faiss": "faiss-cpu"}.get(name, name)
        return f"{name} is not importable ({type(exc).__name__}: {exc}); pip install {pip}"
    return None


def allowed_subset(n: int, fraction: float, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=max(1, int(n * fraction)), replace=False)).astype(np.int64)


def filtered_truth(data: np.ndarray, queries: np.ndarray, allowed: np.ndarray, k: int = K) -> np.ndarray:
    ids, _ = nt.knn_exact(data[allowed], queries, k, "l2")
    return np.where(ids >= 0, allowed[np.maximum(ids, 0)], -1)


def rss_bytes() -> int:
    """Resident memory of this process (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return 0
