#!/usr/bin/env python
"""Side-by-side backtester comparison: ``nt.Backtest`` vs backtesting.py, ``from_signals`` vs vectorbt,
and the engine's tick-to-order latency.

    python benchmarks/compare_backtest.py [--scale smoke|default|full] [--reps N] [--only TEXT] [--json FILE]

Runs every case of ``benchmarks/lib/nt_btbench.py`` (the workloads the pytest and asv suites
time too): first the scale's untimed warm-up rounds, then the repetitions round-robin (each
repetition runs every case once, so slow drift on a shared machine hits all engines alike).
Every result is checked outside the timer against a plain-Python reference (the crosses of the
two moving averages, then the all-in stop-and-reverse account): number of trades and final
equity, for every engine; the Python strategies' trades equal the compiled one's exactly; the
tick run sends one order per cross and probes every event.

Sections:

* SMA cross 10/30 (backtesting.py's ``SmaCross`` example): nt's compiled ``MovingAverageCross``,
  the same strategy as a Python ``Strategy`` subclass (pure-Python averages, and
  ``nt.ta.stream.SMA``), and backtesting.py, on GOOG (2,148 daily bars) and on synthetic
  one-minute bars (1,000,000 at the default scale): bars/s and backtesting.py's time / nt's;
* vectorised: ``nt.Backtest.from_signals`` vs vectorbt's ``Portfolio.from_signals`` on the same
  signals (bare, and with the equity curve and trade count);
* tick-to-order latency: ticks through ``MovingAverageCross`` with an order book of finite depth
  and ``probe_latency=True``: p50 / p99 / p99.9 of the engine's per-event processing time, over
  every event and over the events that sent an order.

Then the issue's targets with PASS/MISS. The targets are informational: the exit status is 0
whether they pass or miss, and 1 only when some case produced a wrong result or crashed. A case
that cannot run here (backtesting.py or vectorbt not installed) is skipped with a printed reason.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))

import bench_cli as cli  # noqa: E402
import nt_btbench as bb  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = cli.parser(__doc__, bb.SCALES, "run only cases whose section, case or engine contains this text")
    args = ap.parse_args(argv)

    scale = bb.get_scale(args.scale)
    reps = args.reps or max(3, scale.reps)
    env = cli.environment(scale, reps, args.keep_gc, {}, bb.PEER_DISTS)

    print(f"neural_trader backtester vs peers: medians over {reps} repetitions (round-robin), scale {scale.name!r}")
    print("  " + ", ".join(f"{k}={v}" for k, v in env.items() if k != "date"))
    t0 = time.perf_counter()
    for line in bb.describe_data(scale):
        print("  " + line)
    print(f"  (data and references made in {time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    print()

    rows = bb.run(scale, reps=reps, only=args.only, keep_gc=args.keep_gc,
                  log=lambda s: print(s, file=sys.stderr))
    skipped: dict[str, int] = {}
    for r in rows:
        if r["skipped"]:
            skipped[r["skipped"]] = skipped.get(r["skipped"], 0) + 1
    for why, count in sorted(skipped.items()):
        print(f"  skipped ({count} cases): {why}")
    if skipped:
        print()
    print(bb.table(rows))
    print()

    print("== targets from the issue (informational) ==")
    target_rows = bb.targets(rows)
    for t in target_rows:
        print(f"  {t['verdict']:<4}  {t['target']:<84} {t['value']}")
    print()
    failures = [r for r in rows if r["failure"]]
    if failures:
        print(f"{len(failures)} case(s) FAILED (wrong result or crash):")
        for r in failures:
            print(f"  {r['section']}: {r['case']}: {r['engine']}: {r['failure']}")

    if hasattr(os, "getloadavg"):
        print("load average at the end: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    if args.json:
        out: dict[str, Any] = {"environment": env, "data": bb.describe_data(scale), "cases": rows,
                               "targets": target_rows}
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1, default=str)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
