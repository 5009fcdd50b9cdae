#!/usr/bin/env python
"""Side-by-side sketch comparison: neural_trader vs DataSketches, rbloom and pyprobables.

    python benchmarks/compare_sketch.py [--scale smoke|default|full] [--reps N] [--only TEXT] [--json FILE]

Runs every case of ``benchmarks/lib/nt_sketchbench.py`` (the workloads the pytest and asv suites
time too) several times, round-robin (each repetition runs every case once, so slow drift on a
shared machine hits all engines alike), checks every result, and prints per section the median
items/s of each engine, the min-max over the repetitions, the per-item time, and the ratio of
ours to each peer; then the HLL accuracy of each engine at the same lg_k, the measured Bloom
false-positive rates, and the issue's targets with PASS/MISS. The targets are informational: the
exit status is 0 whether they pass or miss, and 1 only when some engine gave a wrong result (or
crashed). Peers that are not installed are skipped with a message.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import statistics
import sys
import time
import traceback
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))

import nt_sketchbench as sb  # noqa: E402

import neural_trader as nt  # noqa: E402


def catalogue(scale: sb.Scale) -> list[sb.Workload]:
    ds, rbl, pp = sb.have("datasketches"), sb.have("rbloom"), sb.have("probables")
    w: list[sb.Workload] = [sb.HLLBatch(scale.n_batch), sb.HLLLoop(scale.n_loop, "nt"),
                            sb.HLLLoop(scale.n_loop, "nt-pybind11")]
    if ds:
        w.append(sb.HLLLoop(scale.n_loop, "datasketches"))
    w += [sb.BloomAddBatch(scale.n_batch), sb.BloomAddBatch(scale.n_batch, threads=1),
          sb.BloomAddPeer(scale.n_loop, "nt-loop", scale.n_batch)]
    if rbl:
        w.append(sb.BloomAddPeer(scale.n_batch, "rbloom", scale.n_batch))
    if pp:
        w.append(sb.BloomAddPeer(scale.n_slow, "pyprobables", scale.n_batch))
    w += [sb.BloomContains(scale.n_batch, "nt", scale.n_batch), sb.BloomContains(scale.n_batch, "nt-1t", scale.n_batch),
          sb.BloomContains(scale.n_loop, "nt-loop", scale.n_batch)]
    if rbl:
        w.append(sb.BloomContains(scale.n_loop, "rbloom", scale.n_batch))
    if pp:
        w.append(sb.BloomContains(scale.n_slow, "pyprobables", min(scale.n_batch, 100_000)))
    w.append(sb.BloomContainsSmall(scale.n_loop, "nt-loop"))
    if rbl:
        w.append(sb.BloomContainsSmall(scale.n_loop, "rbloom"))
    w += [sb.CountMinBatch(scale.n_batch, "nt"), sb.CountMinBatch(scale.n_batch, "nt-1t"),
          sb.CountMinBatch(scale.n_batch, "nt-cons"),
          sb.CountMinBatch(scale.n_batch, "nt-top")]
    if ds:
        w.append(sb.CountMinBatch(scale.n_loop, "datasketches"))
    if pp:
        w.append(sb.CountMinBatch(scale.n_slow, "pyprobables"))
    return w


# (title, section, our engine, peer engine or None, threshold, kind: "rate" | "ratio" | "ns")
def _targets() -> list[tuple[str, str, str, str | None, float, str]]:
    hll, bla, blc, cm = (sb.HLLBatch.section, sb.BloomAddBatch.section, sb.BloomContains.section,
                         sb.CountMinBatch.section)
    return [
        ("HLL batch update int64 >= 300 M items/s", hll, sb.HLLBatch.engine, None, 300e6, "rate"),
        ("HLL batch >= 20x the DataSketches update loop", hll, sb.HLLBatch.engine,
         sb.HLLLoop(1, "datasketches").engine, 20.0, "ratio"),
        ("hll.update(x) from Python <= 60 ns", hll, sb.HLLLoop(1, "nt").engine, None, 60.0, "ns"),
        ("Bloom batch add >= 100 M items/s", bla, sb.BloomAddBatch.engine, None, 100e6, "rate"),
        ("Bloom batch add >= 5x rbloom", bla, sb.BloomAddBatch.engine, sb.BloomAddPeer(1, "rbloom", 1).engine, 5.0,
         "ratio"),
        ("Bloom batch contains >= 100 M items/s", blc, sb.BloomContains(1, "nt", 1).engine, None, 100e6, "rate"),
        ("Bloom batch contains >= 5x rbloom", blc, sb.BloomContains(1, "nt", 1).engine,
         sb.BloomContains(1, "rbloom", 1).engine, 5.0, "ratio"),
        ("x in bloom from Python <= 60 ns (cache-resident filter)", sb.BloomContainsSmall.section,
         sb.BloomContainsSmall(1, "nt-loop").engine, None, 60.0, "ns"),
        ("x in bloom from Python <= 60 ns (10^7 filter, cache misses)", blc, sb.BloomContains(1, "nt-loop", 1).engine,
         None, 60.0, "ns"),
        ("count-min batch update >= 100 M items/s", cm, sb.CountMinBatch(1, "nt").engine, None, 100e6, "rate"),
        ("count-min batch >= 10x the DataSketches update loop", cm, sb.CountMinBatch(1, "nt").engine,
         sb.CountMinBatch(1, "datasketches").engine, 10.0, "ratio"),
        # The same rates on one thread (the rows above use nt's default thread count).
        ("(context) Bloom batch add, one thread >= 100 M items/s", bla, sb.BloomAddBatch.engine_one_thread, None,
         100e6, "rate"),
        ("(context) Bloom batch contains, one thread >= 100 M items/s", blc, sb.BloomContains(1, "nt-1t", 1).engine,
         None, 100e6, "rate"),
        ("(context) count-min batch update, one thread >= 100 M items/s", cm, sb.CountMinBatch(1, "nt-1t").engine,
         None, 100e6, "rate"),
    ]


def _fmt_rate(r: float) -> str:
    return f"{r / 1e6:,.1f}" if r >= 10e6 else f"{r / 1e6:,.3f}"


def _environment(scale: sb.Scale, reps: int) -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    env: dict[str, Any] = {
        "scale": scale.name,
        "repetitions": reps,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "nt_num_threads": nt.get_num_threads(),
        "neural_trader": nt.__version__,
    }
    for dist in ("numpy", "datasketches", "rbloom", "pyprobables"):
        try:
            env[dist] = version(dist)
        except PackageNotFoundError:
            env[dist] = None
    if hasattr(os, "getloadavg"):
        env["loadavg_at_start"] = [round(x, 2) for x in os.getloadavg()]
    return env


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", choices=list(sb.SCALES), default=None,
                    help="workload size (default: $NT_BENCH_SCALE or 'default')")
    ap.add_argument("--reps", type=int, default=None, help="repetitions per case (default: the scale's, at least 3)")
    ap.add_argument("--only", default=None, help="run only sections whose name contains this text")
    ap.add_argument("--json", default=None, help="also write the raw figures to this JSON file")
    args = ap.parse_args(argv)

    scale = sb.get_scale(args.scale)
    reps = args.reps or max(3, scale.reps)
    workloads = catalogue(scale)
    if args.only:
        workloads = [w for w in workloads if args.only.lower() in w.section.lower()]
    env = _environment(scale, reps)
    print(f"neural_trader sketches vs peers: median items/s over {reps} repetitions (round-robin), scale {scale.name!r}")
    print("  " + ", ".join(f"{k}={v}" for k, v in env.items()))
    for mod, pip in (("datasketches", "datasketches"), ("rbloom", "rbloom"), ("probables", "pyprobables")):
        if not sb.have(mod):
            print(f"  {mod} is not importable: its cases are skipped (pip install {pip})")
    print()

    rates: dict[str, list[float]] = {w.label: [] for w in workloads}
    failures: dict[str, str] = {}
    t0 = time.perf_counter()
    for rep in range(reps):
        for w in workloads:
            if w.label in failures:
                continue
            try:
                gc.collect()
                gc.disable()
                rates[w.label].append(w.measure())
            except Exception as exc:  # noqa: BLE001 - reported; the exit status says it
                failures[w.label] = f"{type(exc).__name__}: {exc}"
                traceback.print_exc()
            finally:
                gc.enable()
        print(f"  repetition {rep + 1}/{reps} done ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    med = {k: statistics.median(v) for k, v in rates.items() if v and k not in failures}

    sections: dict[str, list[sb.Workload]] = {}
    for w in workloads:
        sections.setdefault(w.section, []).append(w)
    summary: list[str] = []
    for section, ws in sections.items():
        ours = [w for w in ws if w.ours]
        print(f"== {section} ==")
        print(f"  {'engine':<52} {'items':>11} {'median M/s':>11} {'min-max M/s':>17} {'ns/item':>8}  first-ours/peer")
        for w in ws:
            if w.label in failures:
                print(f"  {w.engine:<52} {w.n:>11,} {'FAILED':>11}   {failures[w.label]}")
                continue
            v = rates[w.label]
            ratio = ""
            if not w.ours and ours and ours[0].label in med:
                ratio = f"{med[ours[0].label] / med[w.label]:.2f}x"
            print(f"  {w.engine:<52} {w.n:>11,} {_fmt_rate(med[w.label]):>11} "
                  f"{_fmt_rate(min(v)) + '-' + _fmt_rate(max(v)):>17} {1e9 / med[w.label]:>8.1f}  {ratio}")
            if isinstance(w, sb.BloomContains) and w.fpr == w.fpr:
                print(f"  {'':<52} measured FPR of the non-members at capacity: {w.fpr:.4%}")
        print()
        for o in ours:
            for p in (x for x in ws if not x.ours and x.label in med):
                if o.label in med:
                    summary.append(f"{section}: {o.engine} / {p.engine} = {med[o.label] / med[p.label]:.2f}x")

    print("== ratios (ours / peer, medians) ==")
    for line in summary:
        print("  " + line)
    print()

    accuracy: dict[str, tuple[float, float]] = {}
    if not args.only or "hll" in args.only.lower():
        n_acc = 100_000 if scale.name != "smoke" else 5_000
        accuracy = sb.hll_accuracy(scale.accuracy_trials, n_acc)
        print(f"== HLL accuracy, lg_k={sb.LG_K}, {n_acc:,} distinct, {scale.accuracy_trials} trials "
              f"(1/sqrt(2^lg_k) = {2 ** (-sb.LG_K / 2):.4%}) ==")
        # The standard deviation measured over T trials is itself uncertain by about sd / sqrt(2 (T - 1)).
        spread = 1 / math.sqrt(2 * (scale.accuracy_trials - 1))
        for eng, (mean, sd) in accuracy.items():
            per_k = sd * 2 ** (sb.LG_K / 2)
            print(f"  {eng:<36} mean error {mean:+.4%}  relative std {sd:.4%}  "
                  f"({per_k:.3f} +- {per_k * spread:.3f} /sqrt(k))")
        print()

    print("== targets from the issue (informational) ==")
    by_engine = {(w.section, w.engine): w.label for w in workloads}
    rows = []
    for title, section, ours_engine, peer_engine, threshold, kind in _targets():
        ol = by_engine.get((section, ours_engine))
        pl = by_engine.get((section, peer_engine)) if peer_engine else None
        if ol is None or (peer_engine and pl is None):
            continue
        if ol not in med or (pl is not None and pl not in med):
            verdict, value = "FAIL", "no figure"
        elif kind == "rate":
            verdict, value = ("PASS" if med[ol] >= threshold else "MISS"), f"{_fmt_rate(med[ol])} M/s"
        elif kind == "ns":
            ns = 1e9 / med[ol]
            verdict, value = ("PASS" if ns <= threshold else "MISS"), f"{ns:.1f} ns"
        else:
            assert pl is not None
            r = med[ol] / med[pl]
            verdict, value = ("PASS" if r >= threshold else "MISS"), f"{r:.2f}x"
        rows.append({"target": title, "verdict": verdict, "value": value})
        print(f"  {verdict}  {title:<56} {value}")
    if failures:
        print(f"\n{len(failures)} case(s) FAILED:")
        for label, why in failures.items():
            print(f"  {label}: {why}")

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"environment": env,
                       "cases": [{"section": w.section, "engine": w.engine, "ours": w.ours, "items": w.n,
                                  "items_per_s": rates[w.label], "median_items_per_s": med.get(w.label),
                                  "failure": failures.get(w.label)} for w in workloads],
                       "ratios": summary, "accuracy": accuracy, "targets": rows}, f, indent=1)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
