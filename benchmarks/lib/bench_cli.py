"""What the ``compare_*.py`` front ends of ``bench_workload`` libraries share: the command line,
the environment line, sorting cases into runnable / skipped / failed, and one timed round."""

from __future__ import annotations

import argparse
import os
import platform
import time
import traceback
from collections.abc import Iterable, Sequence
from typing import Any

import bench_workload


def parser(doc: str | None, scales: Iterable[str], only_help: str) -> argparse.ArgumentParser:
    """--scale, --reps, --only, --keep-gc and --json, described alike in every front end."""
    ap = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    ap.add_argument("--scale", choices=list(scales), default=None,
                    help="workload size (default: $NT_BENCH_SCALE or 'default')")
    ap.add_argument("--reps", type=int, default=None,
                    help="repetitions per case (default: the scale's, at least 3)")
    ap.add_argument("--only", default=None, help=only_help)
    ap.add_argument("--keep-gc", action="store_true",
                    help="leave the garbage collector on while timing (default: off for every engine alike)")
    ap.add_argument("--json", default=None, help="also write the raw figures to this JSON file")
    return ap


def environment(scale: Any, reps: int, keep_gc: bool, extra: dict[str, Any],
                dists: Sequence[str]) -> dict[str, Any]:
    """The run's conditions: scale, repetitions, interpreter, machine, nt's version, then
    ``extra``, then the versions of ``dists`` (None when absent) and the load average."""
    from importlib.metadata import PackageNotFoundError, version

    import neural_trader as nt

    env: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "scale": scale.name,
        "repetitions": reps,
        "warmup_rounds": scale.warmup,
        "gc_during_timing": keep_gc,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "neural_trader": nt.__version__,
    }
    env.update(extra)
    for dist in dists:
        try:
            env[dist] = version(dist)
        except PackageNotFoundError:
            env[dist] = None
    if hasattr(os, "getloadavg"):
        env["loadavg_at_start"] = [round(x, 2) for x in os.getloadavg()]
    return env


def partition(workloads: Iterable[bench_workload.Workload]
              ) -> tuple[list[Any], dict[str, str], dict[str, str]]:
    """(runnable cases, skipped label -> why, failed label -> error) from ``available()``."""
    failures: dict[str, str] = {}
    skipped: dict[str, str] = {}
    runnable: list[Any] = []
    for w in workloads:
        try:
            why = w.available()
        except Exception as exc:  # noqa: BLE001 - something that exists and fails is a failure
            failures[w.label] = f"{type(exc).__name__}: {exc}"
            traceback.print_exc()
            continue
        if why:
            skipped[w.label] = why
        else:
            runnable.append(w)
    return runnable, skipped, failures


def timed(w: bench_workload.Workload, keep_gc: bool, freeze: bool = False) -> float:
    """One ``measure()`` with the garbage collector off unless ``keep_gc`` (``freeze``: move
    what exists now, e.g. cached streams, out of later collections first)."""
    with bench_workload.gc_paused(keep_gc, freeze):
        return w.measure()
