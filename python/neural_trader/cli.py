"""The ``neural-trader`` command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``neural-trader`` and ``python -m neural_trader``."""
    parser = argparse.ArgumentParser(prog="neural-trader", description=__doc__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p_info = sub.add_parser("info", help="print what the compiled core was built with and runs on")
    p_info.add_argument("--json", action="store_true", help="print JSON")

    p_demo = sub.add_parser(
        "demo",
        help="stream a synthetic tick feed through the ring buffer between two threads and report throughput",
    )
    p_demo.add_argument("--ticks", type=int, default=20_000_000, help="ticks to stream (default 20,000,000)")
    p_demo.add_argument("--symbols", type=int, default=8, help="symbols in the feed (default 8)")
    p_demo.add_argument("--batch", type=int, default=8192, help="records per push/pop batch (default 8192)")
    p_demo.add_argument("--capacity", type=int, default=1 << 16, help="ring capacity, a power of two")
    p_demo.add_argument("--seed", type=int, default=7, help="random seed of the feed (default 7)")
    p_demo.add_argument("--json", action="store_true", help="print the result as JSON")

    args = parser.parse_args(argv)
    if args.command == "info":
        from ._info import build_info, format_build_info

        info = build_info()
        print(json.dumps(info, indent=2) if args.json else format_build_info(info))
        return 0
    if args.command == "demo":
        from ._demo import format_result, run_demo

        result = run_demo(
            n_ticks=args.ticks, n_symbols=args.symbols, batch=args.batch, capacity=args.capacity, seed=args.seed
        )
        print(json.dumps(result, indent=2) if args.json else format_result(result))
        return 0
    parser.print_help(sys.stderr)
    return 2
