#!/usr/bin/env python
"""Side-by-side order-book comparison: ``nt.OrderBook`` vs a sortedcontainers book and nautilus_trader.

    python benchmarks/compare_book.py [--scale smoke|default|full] [--reps N] [--only TEXT] [--json FILE]

Runs every case of ``benchmarks/lib/book_mix.py`` (the workloads the pytest and asv suites time
too; the peers are in ``benchmarks/lib/book_peers.py``): first the scale's untimed warm-up rounds,
then the repetitions round-robin (each repetition runs every case once, so slow drift on a shared
machine hits all engines alike; every other repetition runs them in reverse order, so no case
always follows the same one). Every result is checked outside the timer: nt's fills and final
book against the reference that the pure-Python book computed while generating the stream
(exactly: ids, prices, quantities, order), every peer's final book too.

Sections:

* replay: messages/s of ``book.process(messages)`` vs the sortedcontainers book (one Python call
  per message) vs nautilus' L3 book (the stream's L3 deltas; pre-built ``BookOrder`` objects, and
  building them inside the timer), on the realistic mix and the issue's peer workloads;
* submit from Python: median ns of one ``book.submit(...)`` call with its report, passive and
  marketable, vs the sortedcontainers book's ``add``: calls are timed in chunks with
  ``time.perf_counter_ns`` and the figure is the median per-call time of the chunks (nothing
  subtracted);
* cancel in a deep level: ns per cancel of the first / middle / last orders of levels holding
  thousands of orders at one price, and the ratios deep / shallow.

Then the issue's targets with PASS/MISS. The targets are informational: the exit status is 0
whether they pass or miss, and 1 only when some case produced a wrong result or crashed. A case
that cannot run here (nautilus_trader not installed, ``nt.OrderBook`` not built) is skipped with a
printed reason.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
import traceback
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))

import bench_cli as cli  # noqa: E402
import book_mix as bm  # noqa: E402

import neural_trader as nt  # noqa: E402

# --------------------------------------------------------------------------------------------------
# figures


def _samples_ns(w: bm.Workload, seconds: list[float], chunks: list[list[float]]) -> list[float]:
    """ns per unit: per timed chunk for the chunked workloads (pooled over the repetitions), per
    repetition for the others."""
    if chunks and any(chunks):
        return [x for c in chunks for x in c]
    return [s / w.n * 1e9 for s in seconds]


def _fmt_ns(v: float) -> str:
    if v >= 1000:
        return f"{v:,.0f}"
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def _fmt_rate(per_s: float) -> str:
    m = per_s / 1e6
    return f"{m:,.1f}" if m >= 10 else f"{m:,.2f}"


# --------------------------------------------------------------------------------------------------
# the targets


def _targets(workloads: list[bm.Workload], med: dict[str, float],
             failures: dict[str, str]) -> list[dict[str, Any]]:
    """Each target: title, verdict (PASS / MISS / FAIL: a case it needs gave a wrong result or
    crashed / n/a: no figure, e.g. a peer not installed), value."""
    find = {(w.section, w.case, w.kind): w for w in workloads}
    rows: list[dict[str, Any]] = []

    def ns(section: str, case: str, kind: str) -> tuple[float | None, str | None]:
        w = find.get((section, case, kind))
        if w is None:
            return None, None
        if w.label in failures:
            return None, w.engine
        return med.get(w.label), None

    def row(title: str, ok: bool | None, value: str, failed: list[str | None]) -> None:
        bad = [f for f in failed if f]
        verdict = "n/a" if ok is None else ("PASS" if ok else "MISS")
        if bad:
            verdict, value = "FAIL", f"wrong result or crash: {', '.join(bad)}"
        rows.append({"target": title, "verdict": verdict, "value": value})

    # (1) replay: >= 10 M msgs/s, >= 8x both peers
    for case in bm.STREAM_CASES:
        o, fo = ns("replay", case, "nt")
        if find.get(("replay", case, "nt")) is None:
            continue
        row(f"replay {case}: nt process() >= 10 M msgs/s", None if o is None else 1e3 / o >= 10,
            "no figure" if o is None else f"{1e3 / o:,.1f} M/s", [fo])
        for kind, name in (("sorted", "sortedcontainers book"), ("nautilus", "nautilus, pre-built BookOrder"),
                           ("nautilus+create", "nautilus, BookOrder built in the loop")):
            p, fp = ns("replay", case, kind)
            r = None if o is None or p is None else p / o
            row(f"replay {case}: >= 8x {name}", None if r is None else r >= 8,
                "no figure" if r is None else f"{r:,.1f}x", [fo, fp])

    # (2) one submit from Python: <= 350 ns median, >= 2.5x the sorted-dict book
    for case in ("passive", "marketable"):
        if find.get(("submit from Python", case, "nt")) is None:
            continue
        o, fo = ns("submit from Python", case, "nt")
        row(f"submit() {case}, with its report, <= 350 ns median", None if o is None else o <= 350,
            "no figure" if o is None else f"{o:.0f} ns", [fo])
        p, fp = ns("submit from Python", case, "sorted")
        r = None if o is None or p is None else p / o
        row(f"submit() {case} >= 2.5x SortedBook.add per call", None if r is None else r >= 2.5,
            "no figure" if r is None else f"{r:.2f}x", [fo, fp])

    # (3) cancel: deep costs no more than shallow
    sec = bm.CancelLevel.section
    for kind, how in (("nt", "process()"), ("nt-call", "cancel(id)")):
        first, ff = ns(sec, "first", kind)
        for deep in ("middle", "last"):
            if find.get((sec, deep, kind)) is None or find.get((sec, "first", kind)) is None:
                continue
            d, fd = ns(sec, deep, kind)
            r = None if first is None or d is None else d / first
            value = "no figure"
            if r is not None and d is not None and first is not None:
                value = f"{r:.2f}x ({_fmt_ns(d)} vs {_fmt_ns(first)} ns)"
            row(f"cancel via {how}: {deep} / first of a deep level <= 1.0", None if r is None else r <= 1.0,
                value, [ff, fd])
    return rows


# --------------------------------------------------------------------------------------------------


def _environment(scale: bm.Scale, reps: int, keep_gc: bool) -> dict[str, Any]:
    extra = {"nt.OrderBook": "importable" if bm.nt_status() is None else "missing",
             "numpy": nt.build_info().get("numpy")}
    return cli.environment(scale, reps, keep_gc, extra, ("sortedcontainers", "nautilus_trader"))


def main(argv: list[str] | None = None) -> int:
    ap = cli.parser(__doc__, bm.SCALES, "run only cases whose section, case or engine contains this text")
    args = ap.parse_args(argv)

    scale = bm.get_scale(args.scale)
    reps = args.reps or max(3, scale.reps)
    workloads = bm.catalogue(scale)
    if args.only:
        t = args.only.lower()
        workloads = [w for w in workloads
                     if t in w.section.lower() or t in w.case.lower() or t in w.engine.lower()]
    env = _environment(scale, reps, args.keep_gc)

    print(f"neural_trader nt.OrderBook vs peers: medians over {reps} repetitions (round-robin), "
          f"scale {scale.name!r}")
    print("  " + ", ".join(f"{k}={v}" for k, v in env.items() if k != "date"))

    runnable, skipped, failures = cli.partition(workloads)
    for why in sorted(set(skipped.values())):
        print(f"  skipped ({sum(v == why for v in skipped.values())} cases): {why}")

    # the streams (generated once; their shape is part of the result)
    t0 = time.perf_counter()
    for case in bm.STREAM_CASES:
        if any(isinstance(w, bm.Replay) and w.case == case for w in workloads):
            st = bm.stream(scale, case)
            print("  stream " + st.describe())
    print(f"  (streams generated in {time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    print()

    times: dict[str, list[float]] = {w.label: [] for w in runnable}
    chunks: dict[str, list[list[float]]] = {w.label: [] for w in runnable}
    wrong_ns: dict[str, float] = {}
    t_start = time.perf_counter()

    def one(w: bm.Workload, keep: bool) -> None:
        if w.label in failures:
            return
        try:
            dt = cli.timed(w, args.keep_gc, freeze=True)  # the cached streams: millions of objects
            if keep:
                times[w.label].append(dt)
                chunks[w.label].append(list(w.samples_ns))
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
        # Forward on even repetitions, backward on odd ones: a case's place in the round (what ran
        # just before it, how warm the caches and the allocator are) evens out across the cases.
        for w in (runnable if rep % 2 == 0 else runnable[::-1]):
            one(w, True)
        print(f"  repetition {rep + 1}/{reps} done ({time.perf_counter() - t_start:.0f} s)", file=sys.stderr)

    samples = {w.label: _samples_ns(w, times[w.label], chunks[w.label]) for w in runnable
               if times[w.label] and w.label not in failures}
    med = {lab: statistics.median(v) for lab, v in samples.items()}

    # per-section tables ------------------------------------------------------------------------
    sections: dict[str, dict[str, list[bm.Workload]]] = {}
    for w in workloads:
        sections.setdefault(w.section, {}).setdefault(w.case, []).append(w)
    for section, cases in sections.items():
        unit = next(iter(cases.values()))[0].unit
        how = ("median of the per-call time of chunks of calls" if unit != "message"
               else "median over the repetitions")
        print(f"== {section} (ns per {unit}, {how}; M/s = million {unit}s per second; "
              f"peer/nt = peer time per {unit} / nt's: > 1 means nt is faster) ==")
        print(f"  {'case':<20} {'engine':<66} {'n':>10} {'median':>8} {'min-max':>15} {'M/s':>8}  peer/nt")
        for case, ws in cases.items():
            ours = next((w for w in ws if w.ours), None)
            ours_ns = med.get(ours.label) if ours is not None else None
            for i, w in enumerate(ws):
                c = case if i == 0 else ""
                eng = ("* " if w.ours else "  ") + w.engine
                if w.label in failures:
                    took = (f" (took {_fmt_ns(wrong_ns[w.label])} ns/{w.unit} for a wrong result)"
                            if w.label in wrong_ns else "")
                    print(f"  {c:<20} {eng:<66} {w.n:>10,} {'FAILED':>8}   {failures[w.label]}{took}")
                    continue
                if w.label in skipped or w.label not in med:
                    print(f"  {c:<20} {eng:<66} {w.n:>10,} {'skipped':>8}")
                    continue
                v = samples[w.label]
                ns = med[w.label]
                ratio = f"{ns / ours_ns:.2f}x" if (not w.ours and ours_ns) else ""
                rng = f"{_fmt_ns(min(v))}-{_fmt_ns(max(v))}"
                print(f"  {c:<20} {eng:<66} {w.n:>10,} {_fmt_ns(ns):>8} {rng:>15} "
                      f"{_fmt_rate(1e9 / ns):>8}  {ratio}")
        if section == bm.CancelLevel.section:
            print("  deep / shallow (median ns per cancel of the middle and last orders / the first ones):")
            by_kind = {(w.case, w.kind): w for ws in cases.values() for w in ws}
            for kind in dict.fromkeys(k for _, k in by_kind):
                f = by_kind.get(("first", kind))
                if f is None or f.label not in med:
                    continue
                parts = []
                for deep in ("middle", "last"):
                    d = by_kind.get((deep, kind))
                    if d is not None and d.label in med:
                        parts.append(f"{deep}/first {med[d.label] / med[f.label]:.2f}x")
                print(f"    {f.engine:<66} {', '.join(parts)}")
        print()
    print("  (* = neural_trader; every ratio is a ratio of medians measured in the same run)")
    print()

    # targets -----------------------------------------------------------------------------------
    print("== targets from the issue (informational) ==")
    target_rows = _targets(workloads, med, failures)
    for t in target_rows:
        print(f"  {t['verdict']:<4}  {t['target']:<72} {t['value']}")
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
            "streams": {c: bm.stream(scale, c).stats for c in bm.STREAM_CASES
                        if any(isinstance(w, bm.Replay) and w.case == c for w in workloads)},
            "cases": [{"section": w.section, "case": w.case, "engine": w.engine, "ours": w.ours,
                       "unit": w.unit, "n": w.n, "seconds": times.get(w.label, []),
                       "samples_ns_per_unit": samples.get(w.label, []),
                       "median_ns_per_unit": med.get(w.label),
                       "skipped": skipped.get(w.label), "failure": failures.get(w.label),
                       "wrong_result_ns_per_unit": wrong_ns.get(w.label)}
                      for w in workloads],
            "targets": target_rows,
        }
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1, default=str)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
