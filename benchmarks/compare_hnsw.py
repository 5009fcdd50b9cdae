#!/usr/bin/env python
"""Side-by-side HNSW comparison: nt.HNSWIndex vs hnswlib, faiss IndexHNSWFlat and usearch.

    python benchmarks/compare_hnsw.py [--scale smoke|default|full] [--only ENGINES] [--json FILE]

For each data set (clustered, uniform; see benchmarks/lib/nt_hnswbench.py) and each engine, one
child process (so that memory is measured cleanly and no engine's allocations or threads affect
another) builds the index with 2 threads (M = 16, ef_construction = 200, squared L2), then
sweeps ef on one thread over the same queries (k = 10), timing each ef as the median of
several repetitions and measuring recall@10 against the exact neighbours. The report gives:

* build time and memory (resident-set growth during the build; nt and usearch also report their
  own accounting),
* recall and queries/s at every ef, and queries/s at equal recall (linear interpolation between
  the two ef values that bracket the target; "not reached" when no ef gets there) with the ratio
  of ours to the best peer, at recall 0.95 (clustered) and 0.5 (uniform) -- the issue's targets,
* filtered search at 5% selectivity (clustered): ours (graph walk, and the forced exact scan of
  the allowed points) vs hnswlib with a Python filter callable, same ef, with recall against a
  filtered brute force,
* single-query latency from Python at ef = 64 (median of per-call times).

Figures are informational: the exit status is 0 whether targets pass or miss, and 1 only when an
engine failed (crashed or returned wrong-shaped results). A peer that does not import is skipped
with a message.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))

import numpy as np  # noqa: E402

import nt_hnswbench as hb  # noqa: E402

TARGETS = {"clustered": 0.95, "uniform": 0.5}
FILTER_FRACTION = 0.05
FILTER_EF = 64
FILTER_QUERIES = 200


# --------------------------------------------------------------------------------------------------
# child: one engine, one data set


def child(engine_name: str, dataset: str, scale_name: str, path: str) -> dict[str, Any]:
    scale = hb.get_scale(scale_name)
    z = np.load(path)
    data, queries, truth = z["data"], z["queries"], z["truth"]
    eng = hb.ENGINES[engine_name]()
    out: dict[str, Any] = {"engine": engine_name, "label": eng.label, "dataset": dataset}
    rss0 = hb.rss_bytes()
    t0 = time.perf_counter()
    eng.build(data, scale.build_threads)
    out["build_s"] = time.perf_counter() - t0
    out["rss_growth_bytes"] = hb.rss_bytes() - rss0
    out["own_memory_bytes"] = eng.memory_bytes()
    sweep = []
    for ef in scale.efs:
        eng.set_ef(ef)
        eng.search(queries[: min(20, len(queries))])  # warm-up
        times = []
        ids = None
        for _ in range(scale.reps):
            t0 = time.perf_counter()
            ids = eng.search(queries)
            times.append(time.perf_counter() - t0)
        assert ids is not None and ids.shape == truth.shape, f"bad result shape {None if ids is None else ids.shape}"
        sweep.append({"ef": ef, "recall": hb.recall(ids, truth), "qps": len(queries) / statistics.median(times)})
    out["sweep"] = sweep
    # single query from Python at ef = 64
    eng.set_ef(64)
    lat = []
    for i in range(scale.single):
        q = queries[i % len(queries)]
        t0 = time.perf_counter_ns()
        eng.search_one(q)
        lat.append(time.perf_counter_ns() - t0)
    out["single_query_us_median"] = statistics.median(lat) / 1e3
    # filtered search (clustered data)
    if dataset == "clustered" and engine_name in ("nt", "hnswlib"):
        allowed = z["allowed"]
        ftruth = z["ftruth"]
        fq = queries[:FILTER_QUERIES]
        eng.set_ef(FILTER_EF)
        runs: dict[str, Any] = {}
        variants: list[tuple[str, Any]] = [("graph" if engine_name == "nt" else "python callable", eng.filtered)]
        if engine_name == "nt":
            variants.append(("exact scan of the allowed points", eng.exact_filtered))  # type: ignore[attr-defined]
        for name, fn in variants:
            fn(fq[:5], allowed)  # warm-up
            times = []
            for _ in range(scale.reps):
                t0 = time.perf_counter()
                ids = fn(fq, allowed)
                times.append(time.perf_counter() - t0)
            ok = bool(np.isin(ids[ids >= 0], allowed).all())
            runs[name] = {"qps": len(fq) / statistics.median(times), "recall": hb.recall(ids, ftruth),
                          "only_allowed": ok}
        if engine_name == "nt":
            eng.filtered(fq[:1], allowed)
            runs["graph"]["path"] = eng.index.last_search_stats["path"]  # type: ignore[attr-defined]
        out["filtered"] = runs
    return out


# --------------------------------------------------------------------------------------------------
# parent


def qps_at(sweep: list[dict[str, Any]], target: float) -> float | None:
    pts = sorted(sweep, key=lambda p: p["ef"])
    for i, p in enumerate(pts):
        if p["recall"] >= target:
            if i == 0:
                return float(p["qps"])
            a = pts[i - 1]
            if p["recall"] == a["recall"]:
                return float(p["qps"])
            f = (target - a["recall"]) / (p["recall"] - a["recall"])
            return float(a["qps"] + f * (p["qps"] - a["qps"]))
    return None


def _mb(b: int | None) -> str:
    return "-" if b is None else f"{b / 2**20:,.1f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", choices=list(hb.SCALES), default=None,
                    help="data size (default: $NT_BENCH_SCALE or 'default')")
    ap.add_argument("--only", default=None, help="comma-separated engines (default: all)")
    ap.add_argument("--datasets", default="clustered,uniform", help="comma-separated data sets")
    ap.add_argument("--json", default=None, help="also write the raw figures to this JSON file")
    ap.add_argument("--child", nargs=4, metavar=("ENGINE", "DATASET", "SCALE", "NPZ"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(*args.child)))
        return 0

    scale = hb.get_scale(args.scale)
    engines = args.only.split(",") if args.only else list(hb.ENGINES)
    import neural_trader as nt

    env = {"scale": scale.name, "n": scale.n, "dim": scale.dim, "queries": scale.nq, "k": hb.K, "M": hb.M,
           "ef_construction": hb.EF_CONSTRUCTION, "build_threads": scale.build_threads, "search_threads": 1,
           "python": platform.python_version(), "cpus": os.cpu_count(), "neural_trader": nt.__version__,
           "hnsw_simd": nt.build_info()["hnsw_simd"]}
    if hasattr(os, "getloadavg"):
        env["loadavg_at_start"] = [round(x, 2) for x in os.getloadavg()]
    print("HNSW: neural_trader vs hnswlib, faiss IndexHNSWFlat, usearch (side by side, one run)")
    print("  " + ", ".join(f"{k}={v}" for k, v in env.items()))
    absent = {e: why for e in engines if (why := hb.available(e))}
    for e, why in absent.items():
        print(f"  skipped: {why}")
    engines = [e for e in engines if e not in absent]
    print()

    results: dict[str, dict[str, Any]] = {}
    failures: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for dataset in args.datasets.split(","):
            data, queries = hb.make_dataset(dataset, scale)
            t0 = time.perf_counter()
            truth = hb.ground_truth(data, queries)
            allowed = hb.allowed_subset(len(data), FILTER_FRACTION)
            ftruth = hb.filtered_truth(data, queries[:FILTER_QUERIES], allowed)
            print(f"[{dataset}] data {data.shape}, exact neighbours in {time.perf_counter() - t0:.1f} s",
                  file=sys.stderr)
            path = os.path.join(tmp, f"{dataset}.npz")
            np.savez(path, data=data, queries=queries, truth=truth, allowed=allowed, ftruth=ftruth)
            del data
            for e in engines:
                label = f"{dataset}/{e}"
                t0 = time.perf_counter()
                proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", e, dataset, scale.name, path],
                                      capture_output=True, text=True)
                if proc.returncode != 0:
                    failures[label] = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"
                    print(proc.stderr, file=sys.stderr)
                    continue
                results[label] = json.loads(proc.stdout.strip().splitlines()[-1])
                print(f"[{label}] done in {time.perf_counter() - t0:.0f} s", file=sys.stderr)

    summary: list[str] = []
    for dataset in args.datasets.split(","):
        rows = [results[f"{dataset}/{e}"] for e in engines if f"{dataset}/{e}" in results]
        if not rows:
            continue
        print(f"== {dataset}: build ({scale.build_threads} threads) and memory ==")
        print(f"  {'engine':<22} {'build s':>9} {'RSS growth MB':>14} {'own MB':>9} {'1-query us (ef=64)':>19}")
        for r in rows:
            print(f"  {r['label']:<22} {r['build_s']:>9.2f} {_mb(r['rss_growth_bytes']):>14} "
                  f"{_mb(r['own_memory_bytes']):>9} {r['single_query_us_median']:>19.1f}")
        print(f"== {dataset}: recall@10 / queries per second (1 thread) by ef ==")
        print("  " + f"{'ef':>5} " + " ".join(f"{r['engine']:>17}" for r in rows))
        for i, ef in enumerate(scale.efs):
            cells = [f"{r['sweep'][i]['recall']:.3f}/{r['sweep'][i]['qps']:>9,.0f}" for r in rows]
            print("  " + f"{ef:>5} " + " ".join(f"{c:>17}" for c in cells))
        target = TARGETS[dataset]
        at = {r["engine"]: qps_at(r["sweep"], target) for r in rows}
        print(f"== {dataset}: queries/s at recall@10 = {target} (interpolated) ==")
        for r in rows:
            v = at[r["engine"]]
            print(f"  {r['label']:<22} {'not reached' if v is None else f'{v:,.0f}':>12}")
        peers = {e: v for e, v in at.items() if e != "nt" and v is not None}
        if at.get("nt") and peers:
            best = max(peers, key=lambda e: peers[e])
            ratio = at["nt"] / peers[best]
            verdict = "PASS" if ratio >= 1.0 else "MISS"
            summary.append(f"{verdict}  {dataset}: QPS at recall {target}: nt {at['nt']:,.0f} vs best peer {best} "
                           f"{peers[best]:,.0f} -> {ratio:.2f}x (target >= 1.0x, goal 1.2x)")
        ours = results.get(f"{dataset}/nt")
        hl = results.get(f"{dataset}/hnswlib")
        if ours and hl:
            r = ours["build_s"] / hl["build_s"]
            summary.append(f"{'PASS' if r <= 1.0 else 'MISS'}  {dataset}: build time nt {ours['build_s']:.1f} s vs "
                           f"hnswlib {hl['build_s']:.1f} s -> {r:.2f}x (target <= 1.0x)")
            if hl["rss_growth_bytes"] > 0:
                m = ours["rss_growth_bytes"] / hl["rss_growth_bytes"]
                summary.append(f"{'PASS' if m <= 1.1 else 'MISS'}  {dataset}: memory (RSS growth) nt "
                               f"{_mb(ours['rss_growth_bytes'])} MB vs hnswlib {_mb(hl['rss_growth_bytes'])} MB "
                               f"-> {m:.2f}x (target <= 1.10x)")
            lat = ours["single_query_us_median"] / hl["single_query_us_median"]
            summary.append(f"{'PASS' if lat <= 1.2 else 'MISS'}  {dataset}: single query at ef=64 nt "
                           f"{ours['single_query_us_median']:.1f} us vs hnswlib {hl['single_query_us_median']:.1f} us "
                           f"-> {lat:.2f}x (target <= 1.2x)")
            if "filtered" in ours and "filtered" in hl:
                print(f"== {dataset}: filtered search, {FILTER_FRACTION:.0%} of the points allowed, ef={FILTER_EF}, "
                      f"{FILTER_QUERIES} queries, 1 thread ==")
                for eng_name, runs in (("nt.HNSWIndex", ours["filtered"]), ("hnswlib", hl["filtered"])):
                    for variant, f in runs.items():
                        extra = f" (path: {f['path']})" if "path" in f else ""
                        print(f"  {eng_name + ', ' + variant:<52} recall {f['recall']:.3f}  {f['qps']:>10,.0f} q/s"
                              f"  only allowed: {f['only_allowed']}{extra}")
                g = ours["filtered"]["graph"]["qps"] / hl["filtered"]["python callable"]["qps"]
                x = ours["filtered"]["graph"]["qps"] / ours["filtered"]["exact scan of the allowed points"]["qps"]
                summary.append(f"{'PASS' if g >= 2.0 else 'MISS'}  filtered 5%: nt graph walk vs hnswlib + Python "
                               f"callable -> {g:.2f}x (target >= 2x)")
                summary.append(f"{'PASS' if x > 1.0 else 'MISS'}  filtered 5%: nt graph walk vs exact scan of the "
                               f"allowed points -> {x:.2f}x (target > 1x)")
        print()

    print("== targets from the issue (informational) ==")
    for line in summary:
        print("  " + line)
    if failures:
        print(f"\n{len(failures)} engine run(s) FAILED:")
        for label, why in failures.items():
            print(f"  {label}: {why}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"environment": env, "results": results, "summary": summary, "failures": failures}, f, indent=1)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
