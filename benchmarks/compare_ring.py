#!/usr/bin/env python
"""Side-by-side ring-buffer comparison: neural_trader vs stdlib queues and faster-fifo.

    python benchmarks/compare_ring.py [--scale smoke|default|full] [--reps N] [--json FILE]

Runs every case of ``benchmarks/lib/nt_ringbench.py`` (the workloads the pytest and asv suites
time too) several times, round-robin (each repetition runs every case once, so slow drift on a
shared machine hits all engines alike), checks every delivery, and prints per section the median
records/s of each engine, the min-max over the repetitions, and the ratio of ours to each peer;
then the issue's targets with PASS/MISS. The targets are informational: the exit status is 0
whether they pass or miss, and 1 only when some engine failed to deliver the data correctly (or
crashed).

Read the engine labels: "per-record tuples" peers move one Python tuple per call; "ndarray batches"
peers move NumPy views of 1024 records as single Python objects (zero-copy through an in-process
queue, pickled through faster-fifo).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
import traceback
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))

import nt_ringbench as rb  # noqa: E402

import neural_trader as nt  # noqa: E402

# --------------------------------------------------------------------------------------------------
# the targets: (title, section, our engine, peer engine or None, threshold, kind)
#   kind "rate":  our median records/s >= threshold
#   kind "ratio": our median / peer median >= threshold


def _targets(fifo: bool) -> list[tuple[str, str, str, str | None, float, str]]:
    spsc = rb.RingThreadTransfer.section
    ring = rb.RingThreadTransfer.engine
    sq_t = rb.QueueThreadTransfer(1, "SimpleQueue", "tuples").engine
    sq_a = rb.QueueThreadTransfer(1, "SimpleQueue", "arrays").engine
    proc = rb.SharedRingProcessTransfer.section
    shm = rb.SharedRingProcessTransfer.engine
    t: list[tuple[str, str, str, str | None, float, str]] = [
        ("push_many/pop_many thread->thread >= 50 M rec/s", spsc, ring, None, 50e6, "rate"),
        (">= 3x queue.SimpleQueue, same records as per-record tuples", spsc, ring, sq_t, 3.0, "ratio"),
        (">= 3x queue.SimpleQueue, same records as ndarray batches", spsc, ring, sq_a, 3.0, "ratio"),
        ("SharedRingBuffer process->process batch >= 20 M rec/s", proc, shm, None, 20e6, "rate"),
    ]
    if fifo:
        t += [
            (">= 50x faster-fifo, put_many/get_many of per-record tuples", proc, shm,
             rb.FasterFifoProcessTransfer(1, "tuples").engine, 50.0, "ratio"),
            (">= 50x faster-fifo, ndarray batches as messages", proc, shm,
             rb.FasterFifoProcessTransfer(1, "arrays").engine, 50.0, "ratio"),
        ]
    for op, api in (("push", "nt.push/pop"), ("push", "nt.try_push/try_pop"),
                    ("pop", "nt.push/pop"), ("pop", "nt.try_push/try_pop")):
        wl = rb.OneRecord(1, api, op)
        title = f"one-record {wl.engine.split()[-1]} from Python >= 5 M rec/s"
        t.append((title, wl.section, wl.engine, None, 5e6, "rate"))
    return t


# --------------------------------------------------------------------------------------------------


def _fmt_rate(r: float) -> str:
    return f"{r / 1e6:,.1f}" if r >= 10e6 else f"{r / 1e6:,.2f}"


def _short(engine: str) -> str:
    """A short name for the summary lines."""
    if engine.startswith("nt."):
        return "nt"
    name = engine.split()[0].replace("queue.", "").replace("collections.", "")
    if "per-record" in engine:
        return f"{name}(per-record)"
    if "ndarray" in engine:
        return f"{name}(ndarray batches)"
    return name


def _environment(scale: rb.Scale, reps: int, keep_gc: bool) -> dict[str, Any]:
    info = nt.build_info()
    env: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "scale": scale.name,
        "repetitions": reps,
        "gc_during_timing": keep_gc,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "neural_trader": nt.__version__,
        "numpy": info.get("numpy"),
        "simd": info.get("simd"),
        "mp_context": rb.mp_context().get_start_method(),
        "batch": rb.BATCH,
        "ring_capacity": rb.RING_CAPACITY,
    }
    try:
        import faster_fifo  # noqa: F401
        from importlib.metadata import version

        env["faster_fifo"] = version("faster-fifo")
        env["faster_fifo_max_size_bytes"] = rb.FIFO_BYTES
    except Exception:  # noqa: BLE001
        env["faster_fifo"] = None
    if hasattr(os, "getloadavg"):
        env["loadavg_at_start"] = [round(x, 2) for x in os.getloadavg()]
    return env


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", choices=list(rb.SCALES), default=None,
                    help="workload size (default: $NT_BENCH_SCALE or 'default')")
    ap.add_argument("--reps", type=int, default=None, help="repetitions per case (default: the scale's)")
    ap.add_argument("--only", default=None, help="run only sections whose name contains this text")
    ap.add_argument("--keep-gc", action="store_true",
                    help="leave the garbage collector on while timing (default: off for every engine alike)")
    ap.add_argument("--json", default=None, help="also write the raw figures to this JSON file")
    args = ap.parse_args(argv)

    scale = rb.get_scale(args.scale)
    reps = args.reps or max(3, scale.reps)
    fifo = rb.have_faster_fifo()
    workloads = rb.catalogue(scale, include_fifo=fifo)
    if args.only:
        workloads = [w for w in workloads if args.only.lower() in w.section.lower()]
    env = _environment(scale, reps, args.keep_gc)

    print("neural_trader ring buffers vs peers: median records/s over "
          f"{reps} repetitions (round-robin), scale {scale.name!r}")
    print("  " + ", ".join(f"{k}={v}" for k, v in env.items() if k not in ("date",)))
    if not fifo:
        print("  faster_fifo is not importable: the process->process peer is skipped "
              "(pip install faster-fifo)")
    print()

    rates: dict[str, list[float]] = {w.label: [] for w in workloads}
    failures: dict[str, str] = {}
    t_start = time.perf_counter()
    for rep in range(reps):
        for w in workloads:
            if w.label in failures:
                continue
            try:
                if not args.keep_gc:
                    gc.collect()
                    gc.disable()
                rates[w.label].append(w.measure())
            except Exception as exc:  # noqa: BLE001 - reported, then the exit status says it
                failures[w.label] = f"{type(exc).__name__}: {exc}"
                traceback.print_exc()
            finally:
                gc.enable()
        print(f"  repetition {rep + 1}/{reps} done ({time.perf_counter() - t_start:.0f} s)", file=sys.stderr)

    med = {label: statistics.median(v) for label, v in rates.items() if v and label not in failures}

    # per-section tables ------------------------------------------------------------------------
    sections: dict[str, list[rb.Workload]] = {}
    for w in workloads:
        sections.setdefault(w.section, []).append(w)
    summary: list[str] = []
    for section, ws in sections.items():
        ours = [w for w in ws if w.ours]
        print(f"== {section} ==")
        if len(ours) > 1:
            print("  (ours/peer: one ratio for each of " + ", ".join(o.engine for o in ours) + ")")
        print(f"  {'engine':<66} {'records':>11} {'median M/s':>11} {'min-max M/s':>17}  ours/peer")
        for w in ws:
            if w.label in failures:
                print(f"  {w.engine:<66} {w.n:>11,} {'FAILED':>11}   {failures[w.label]}")
                continue
            v = rates[w.label]
            ratio = ""
            if not w.ours and ours and ours[0].label in med:
                ratio = " ".join(f"{med[o.label] / med[w.label]:.2f}x" for o in ours if o.label in med)
            print(f"  {w.engine:<66} {w.n:>11,} {_fmt_rate(med[w.label]):>11} "
                  f"{_fmt_rate(min(v)) + '-' + _fmt_rate(max(v)):>17}  {ratio}")
        print()
        for o in ours:
            if o.label not in med:
                continue
            for p in (w for w in ws if not w.ours and w.label in med):
                summary.append(f"{section}: {_short(o.engine)} {_fmt_rate(med[o.label])} M/s, "
                               f"{_short(p.engine)} {_fmt_rate(med[p.label])} M/s -> "
                               f"{med[o.label] / med[p.label]:.2f}x")
            if len(ours) > 1:
                break  # one set of ratios per section in the summary (the table has them all)

    print("== ratios (ours / peer, medians) ==")
    for line in summary:
        print("  " + line)
    print()

    # targets -----------------------------------------------------------------------------------
    print("== targets from the issue (informational) ==")
    by_engine = {(w.section, w.engine): w.label for w in workloads}
    target_rows = []
    for title, section, ours_engine, peer_engine, threshold, kind in _targets(fifo):
        ol = by_engine.get((section, ours_engine))
        pl = by_engine.get((section, peer_engine)) if peer_engine else None
        if ol is None or (peer_engine and pl is None):
            continue  # section not run (--only)
        if ol not in med or (pl is not None and pl not in med):
            verdict, value = "FAIL", "no figure (delivery failed)"
        elif kind == "rate":
            got = med[ol]
            verdict, value = ("PASS" if got >= threshold else "MISS"), f"{_fmt_rate(got)} M/s"
        else:
            assert pl is not None
            got = med[ol] / med[pl]
            verdict, value = ("PASS" if got >= threshold else "MISS"), f"{got:.2f}x"
        target_rows.append({"target": title, "verdict": verdict, "value": value})
        print(f"  {verdict}  {title:<64} {value}")
    print()
    if failures:
        print(f"{len(failures)} case(s) FAILED to deliver the data correctly:")
        for label, why in failures.items():
            print(f"  {label}: {why}")

    if args.json:
        out = {
            "environment": env,
            "cases": [{"section": w.section, "engine": w.engine, "ours": w.ours, "records": w.n,
                       "records_per_s": rates[w.label], "median_records_per_s": med.get(w.label),
                       "failure": failures.get(w.label)} for w in workloads],
            "ratios": summary,
            "targets": target_rows,
        }
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
