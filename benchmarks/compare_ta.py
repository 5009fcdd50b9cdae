#!/usr/bin/env python
"""Side-by-side indicator comparison: neural_trader ``nt.ta`` vs TA-Lib, polars and talipp.

    python benchmarks/compare_ta.py [--scale smoke|default|full] [--reps N] [--only TEXT] [--json FILE]

Runs every case of ``benchmarks/lib/nt_tabench.py`` (the workloads the pytest and asv suites time
too): first the scale's untimed warm-up rounds, then the repetitions round-robin (each repetition
runs every case once, so slow drift on a shared machine hits all engines alike). Every result is
checked outside the timer (nt against TA-Lib within 1e-9 relative + 1e-9 absolute where the
definitions agree, streaming against batch). It prints per section the median time per element
(or per update call), the min-max over the repetitions and the ratio peer time / nt time (above 1:
nt is faster); then the issue's targets with PASS/MISS, and as context (``info``) the batch ratios
with nt held to one thread for the indicators it splits across threads on long series.

The targets are informational: the exit status is 0 whether they pass or miss, and 1 only when
some case produced a wrong result or crashed. A case that cannot run here (a peer that is not
installed, an ``nt.ta`` function that does not exist yet) is skipped with a printed reason.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import sys
import time
import traceback
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))

import bench_cli as cli  # noqa: E402
import nt_tabench as tb  # noqa: E402

import neural_trader as nt  # noqa: E402

# --------------------------------------------------------------------------------------------------
# the targets


def _ns(times: dict[str, float], wl: tb.Workload | None) -> float | None:
    """Median ns per unit of ``wl``, None when it has no figure."""
    if wl is None or wl.label not in times:
        return None
    return times[wl.label] / wl.n * 1e9


def _targets(workloads: list[tb.Workload], med: dict[str, float],
             failures: dict[str, str]) -> list[dict[str, Any]]:
    """Each target: title, verdict (PASS / MISS / FAIL: a case it needs gave a wrong result or
    crashed / n/a: no figure), value."""
    find: dict[tuple[str, str, str], tb.Workload] = {}
    for w in workloads:
        kind = getattr(w, "kind", "nt" if w.ours else "")
        find[(w.section, w.case, kind)] = w

    rows: list[dict[str, Any]] = []

    failed_now: list[str] = []  # the failed cases the target being computed needs

    def row(title: str, ok: bool | None, value: str) -> None:
        verdict = "n/a" if ok is None else ("PASS" if ok else "MISS")
        if failed_now:
            verdict, value = "FAIL", f"wrong result or crash: {', '.join(failed_now)}; otherwise {value}"
        failed_now.clear()
        rows.append({"target": title, "verdict": verdict, "value": value})

    def get(section: str, case: str, kind: str) -> float | None:
        wl = find.get((section, case, kind))
        if wl is not None and wl.label in failures:
            failed_now.append(wl.engine)
        return _ns(med, wl)

    def ratio(section: str, case: str, ours: str, peer: str) -> float | None:
        o, p = get(section, case, ours), get(section, case, peer)
        return None if o is None or p is None else p / o

    # (1) batch: every indicator >= 1.0x TA-Lib (one line; the table has each ratio), geometric
    # mean >= 1.5x
    got: dict[str, float] = {}
    bad: list[str] = []
    for name in tb.batch_geomean_cases():
        r = ratio("batch", name, "nt", "talib")
        if failed_now:
            bad.append(name)
            failed_now.clear()
        if r is not None:
            got[name] = r
    k, total = len(got), len(tb.batch_geomean_cases())
    complete = "" if k == total else f"; INCOMPLETE: {k} of {total} have a figure"
    if bad:
        complete += f"; WRONG RESULT (no figure): {', '.join(bad)}"
    if k:
        misses = [f"{n} {r:.2f}x" for n, r in got.items() if r < 1.0]
        worst = min(got, key=got.__getitem__)
        value = (f"{k - len(misses)}/{k} >= 1.0 (lowest: {worst} {got[worst]:.2f}x)"
                 + (f"; below: {', '.join(misses)}" if misses else "") + complete)
        failed_now.extend(f"nt.ta.{b}" for b in bad)
        row("batch: talib/nt >= 1.0 for every indicator", (not misses) if k == total else None, value)
        gm = math.exp(sum(math.log(v) for v in got.values()) / k)
        failed_now.extend(f"nt.ta.{b}" for b in bad)
        row("batch: geometric mean of talib/nt >= 1.5", gm >= 1.5 if k == total else None,
            f"{gm:.2f}x{complete}")
        # context, not a target: the same with nt on one thread where it splits a long series
        one = {n: ratio("batch", n, "nt-1", "talib") for n in tb.SPLIT_CASES}
        failed_now.clear()  # a failed nt-1 row shows in its table; it is no target's figure
        if k == total and all(r is not None for r in one.values()):
            single = {**got, **{n: r for n, r in one.items() if r is not None}}
            gm1 = math.exp(sum(math.log(v) for v in single.values()) / k)
            listed = ", ".join(f"{n} {r:.2f}x" for n, r in one.items() if r is not None)
            rows.append({"target": "batch, nt on 1 thread (context): talib/nt-1; geometric mean",
                         "verdict": "info", "value": f"{listed}; geometric mean {gm1:.2f}x"})
    else:
        row("batch: talib/nt >= 1.0 for every indicator", None, "no figure")
        row("batch: geometric mean of talib/nt >= 1.5", None, "no figure")

    # (2) features >= 2x TA-Lib + polars frame
    r = ratio("features", tb.Features.case, "nt", "talib")
    row("features(5 specs): (talib x5 + DataFrame)/nt >= 2.0", None if r is None else r >= 2.0,
        "no figure" if r is None else f"{r:.2f}x")

    # (3) streaming
    for name in ("sma", "ema"):
        ns = get("stream update_many", name, "nt")
        row(f"stream {name.upper()} update_many >= 100 M updates/s", None if ns is None else 1e3 / ns >= 100,
            "no figure" if ns is None else f"{1e3 / ns:,.0f} M/s")
        r = ratio("stream update_many", name, "nt", "talipp-add")
        row(f"stream {name.upper()} update_many >= 50x talipp per update", None if r is None else r >= 50,
            "no figure" if r is None else f"{r:,.0f}x")
    for name in ("sma", "ema", "rsi"):
        ns = get("stream update", name, "nt")
        row(f"stream {name.upper()} update() from Python <= 100 ns/call", None if ns is None else ns <= 100,
            "no figure" if ns is None else f"{ns:.0f} ns")
        r = ratio("stream update", name, "nt", "talib")
        row(f"stream {name.upper()} update() faster than talib.stream handle",
            None if r is None else r > 1.0, "no figure" if r is None else f"{r:.2f}x")

    # (4) 2-D: 2 threads >= 1.7x one thread
    b2d = next((w for w in workloads if isinstance(w, tb.Batch2D)), None)
    shape = "x".join(f"{v:,}" for v in b2d.shape) if b2d else ""
    for name in ("rsi", "sma"):
        r = ratio("batch 2-D", name, "nt-2", "nt-1")
        row(f"2-D {name} {shape}: 2 threads >= 1.7x 1 thread", None if r is None else r >= 1.7,
            "no figure" if r is None else f"{r:.2f}x")
    return rows


# --------------------------------------------------------------------------------------------------


def _fmt_ns(v: float) -> str:
    if v >= 1000:
        return f"{v:,.0f}"
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def _environment(scale: tb.Scale, reps: int, keep_gc: bool) -> dict[str, Any]:
    info = nt.build_info()
    extra = {"nt.ta": "importable" if tb.nt_ta_status() is None else "missing",
             "num_threads": info.get("num_threads"), "numpy": info.get("numpy"), "simd": info.get("simd")}
    return cli.environment(scale, reps, keep_gc, extra, ("ta-lib", "talipp", "polars", "pandas"))


def main(argv: list[str] | None = None) -> int:
    ap = cli.parser(__doc__, tb.SCALES, "run only cases whose section or case name contains this text")
    args = ap.parse_args(argv)

    scale = tb.get_scale(args.scale)
    reps = args.reps or max(3, scale.reps)
    workloads = tb.catalogue(scale)
    if args.only:
        t = args.only.lower()
        workloads = [w for w in workloads if t in w.section.lower() or t in w.case.lower()]
    env = _environment(scale, reps, args.keep_gc)

    print(f"neural_trader nt.ta vs peers: median time per element / per update over {reps} "
          f"repetitions (round-robin), scale {scale.name!r}")
    print("  " + ", ".join(f"{k}={v}" for k, v in env.items() if k != "date"))

    runnable, skipped, failures = cli.partition(workloads)
    missing_nt = tb.nt_ta_status()
    if missing_nt:
        print(f"  {missing_nt}: every nt row is skipped")
    other = {lab: why for lab, why in skipped.items() if not (missing_nt and why.startswith(missing_nt))}
    for lab, why in other.items():
        print(f"  skipped {lab}: {why}")
    print()

    times: dict[str, list[float]] = {w.label: [] for w in runnable}
    wrong_ns: dict[str, float] = {}  # time of a call whose result failed its check
    t_start = time.perf_counter()

    def one(w: tb.Workload, keep: bool) -> None:
        if w.label in failures:
            return
        try:
            dt = cli.timed(w, args.keep_gc)
            if keep:
                times[w.label].append(dt)
        except Exception as exc:  # noqa: BLE001 - reported, then the exit status says it
            failures[w.label] = f"{type(exc).__name__}: {exc}"
            if isinstance(exc, AssertionError) and w.last_seconds is not None:
                wrong_ns[w.label] = w.last_seconds / w.n * 1e9  # shown, never used in a ratio
            else:
                traceback.print_exc()

    for _ in range(scale.warmup):
        for w in runnable:
            one(w, False)
    for rep in range(reps):
        for w in runnable:
            one(w, True)
        print(f"  repetition {rep + 1}/{reps} done ({time.perf_counter() - t_start:.0f} s)", file=sys.stderr)

    med = {lab: statistics.median(v) for lab, v in times.items() if v and lab not in failures}

    # per-section tables ------------------------------------------------------------------------
    sections: dict[str, dict[str, list[tb.Workload]]] = {}
    for w in workloads:
        sections.setdefault(w.section, {}).setdefault(w.case, []).append(w)
    for section, cases in sections.items():
        unit = next(iter(cases.values()))[0].unit
        print(f"== {section} (ns per {unit}; M/s = million {unit}s per second; "
              f"peer/nt = peer time per {unit} / nt's: > 1 means nt is faster) ==")
        print(f"  {'case':<9} {'engine':<62} {'n':>11} {'median':>9} {'min-max':>17} {'M/s':>9}  peer/nt")
        for case, ws in cases.items():
            ours = next((w for w in ws if w.ours), None)
            ours_ns = _ns(med, ours)
            first = True
            for w in ws:
                c = case if first and len(case) <= 9 else ""
                if first and len(case) > 9:
                    print(f"  {case}")
                first = False
                eng = ("* " if w.ours else "  ") + w.engine
                if w.label in failures:
                    took = (f" (took {_fmt_ns(wrong_ns[w.label])} ns/{w.unit} for a wrong result)"
                            if w.label in wrong_ns else "")
                    print(f"  {c:<9} {eng:<62} {w.n:>11,} {'FAILED':>9}   {failures[w.label]}{took}")
                    continue
                if w.label in skipped:
                    print(f"  {c:<9} {eng:<62} {w.n:>11,} {'skipped':>9}")
                    continue
                v = [t / w.n * 1e9 for t in times[w.label]]
                ns = med[w.label] / w.n * 1e9
                ratio = f"{ns / ours_ns:.2f}x" if (not w.ours and ours_ns) else ""
                rng = f"{_fmt_ns(min(v))}-{_fmt_ns(max(v))}"
                print(f"  {c:<9} {eng:<62} {w.n:>11,} {_fmt_ns(ns):>9} {rng:>17} {1e3 / ns:>9,.1f}  {ratio}")
        print()
    print("  (* = neural_trader; in 'batch 2-D' the 2-thread row is *, so peer/nt of the 1-thread row "
          "is the 2-thread speed-up)")
    print()

    # targets -----------------------------------------------------------------------------------
    print("== targets from the issue (informational) ==")
    target_rows = _targets(workloads, med, failures)
    for t in target_rows:
        print(f"  {t['verdict']:<4}  {t['target']:<60} {t['value']}")
    print()
    if failures:
        print(f"{len(failures)} case(s) FAILED (wrong result or crash):")
        for label, why in failures.items():
            print(f"  {label}: {why}")

    if hasattr(os, "getloadavg"):
        print("load average at the end: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    if args.json:
        out = {
            "environment": env,
            "cases": [{"section": w.section, "case": w.case, "engine": w.engine, "ours": w.ours,
                       "unit": w.unit, "n": w.n, "seconds": times.get(w.label, []),
                       "median_ns_per_unit": (med[w.label] / w.n * 1e9) if w.label in med else None,
                       "skipped": skipped.get(w.label), "failure": failures.get(w.label),
                       "wrong_result_ns_per_unit": wrong_ns.get(w.label)}
                      for w in workloads],
            "targets": target_rows,
        }
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
