"""The ``neural-trader`` command line.

    neural-trader backtest                 # a built-in strategy on the embedded synthetic market
    neural-trader backtest prices.parquet --strategy mean_reversion -p period=30 --fees 0.0005
    neural-trader info                     # what the compiled core was built with
    neural-trader bench                    # the peer comparison (benchmarks/), ratio tables
    neural-trader demo                     # the ring-buffer feed demo
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def _param(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"a strategy parameter is NAME=VALUE, not {text!r}")
    name, raw = text.split("=", 1)
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = raw  # a bare word: a string (e.g. a symbol name)
    return name.strip(), value


def _backtest_parser(sub: Any) -> None:
    p = sub.add_parser(
        "backtest",
        help="run a backtest (default: a moving-average cross on the embedded synthetic market)",
        description="Run an event-driven backtest and print its summary; writes the result frames "
        "(parquet), metrics and run description (JSON) and an HTML report with the equity chart.",
    )
    p.add_argument("data", nargs="?", default=None,
                   help="CSV or Parquet file of bars or ticks (default: the seeded synthetic market)")
    p.add_argument("-s", "--strategy", default="sma_cross",
                   help="built-in strategy: sma_cross (momentum), mean_reversion, rsi, pairs, pattern "
                        "(default: sma_cross)")
    p.add_argument("-p", "--param", action="append", type=_param, default=[], metavar="NAME=VALUE",
                   help="strategy parameter, repeatable (e.g. -p fast=10 -p slow=30)")
    p.add_argument("--cash", type=float, default=100_000.0, help="starting cash (default 100,000)")
    p.add_argument("--fees", type=float, default=0.0005, help="fee as a fraction of notional (default 0.0005)")
    p.add_argument("--slippage", type=float, default=0.0, help="slippage as a fraction of price (default 0)")
    p.add_argument("--spread", type=float, default=0.0, help="bid-ask spread as a fraction of price (default 0)")
    p.add_argument("--fill", choices=["next_open", "close"], default=None, help="fill policy (default: next_open for bars)")
    p.add_argument("--latency", type=float, default=0.0, help="order latency in seconds (default 0)")
    p.add_argument("--symbols", type=int, default=3, help="synthetic market: symbols (default 3)")
    p.add_argument("--bars", type=int, default=None,
                   help="synthetic market: bars per symbol (default 200,000; 5,000 for the pattern strategy, "
                        "which searches the pattern memory on every bar)")
    p.add_argument("--freq", default="15m", help="synthetic market: bar interval (default 15m)")
    p.add_argument("--seed", type=int, default=7, help="seed of the synthetic market and the latency draws (default 7)")
    p.add_argument("-o", "--out", default="neural-trader-results",
                   help="directory for the results (default ./neural-trader-results)")
    p.add_argument("--png", action="store_true", help="also write equity.png (needs matplotlib)")
    p.add_argument("--no-save", action="store_true", help="print the summary only")
    p.add_argument("--progress", dest="progress", action="store_true", default=None, help="force the progress bar")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON instead of the summary")


def _run_backtest(args: argparse.Namespace) -> int:
    import neural_trader as nt
    from neural_trader.errors import NeuralTraderError

    params = dict(args.param)
    name = args.strategy
    if name not in nt.strategies.BUILTIN:
        print(f"neural-trader: unknown strategy {name!r}; built-ins: {', '.join(sorted(nt.strategies.BUILTIN))}",
              file=sys.stderr)
        return 2
    try:
        if args.data is None:
            if args.bars is None:
                args.bars = 5_000 if name == "pattern" else 200_000
            data = nt.data.synthetic(args.symbols, args.bars, freq=args.freq, seed=args.seed)
            source = f"synthetic market: {args.symbols} symbols x {args.bars:,} bars of {args.freq}, seed {args.seed}"
        else:
            data = nt.data.load(args.data)
            source = str(args.data)
        cls = nt.strategies.BUILTIN[name]
        if name == "pairs" and not {"a", "b"} <= params.keys():
            symbols = sorted(data["symbol"].unique().to_list())
            if len(symbols) < 2:
                raise nt.errors.InvalidArgumentError("the pairs strategy needs two symbols in the data")
            params.setdefault("a", symbols[0])
            params.setdefault("b", symbols[1])
        n_symbols = data["symbol"].n_unique()
        if name not in ("pairs",) and "size" not in params and n_symbols > 1:
            params["size"] = round(1.0 / n_symbols, 6)  # one share of equity per symbol
        strategy = cls(**params)
        bt = nt.Backtest(data, strategy, cash=args.cash, fees=args.fees, slippage=args.slippage, spread=args.spread,
                         fill=args.fill, latency=args.latency or None, seed=args.seed, progress=args.progress)
        result = bt.run()
    except (NeuralTraderError, TypeError, ValueError, OSError) as exc:
        print(f"neural-trader: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"source": source, "strategy": repr(strategy), **result.to_dict()}, indent=2, default=str))
    else:
        print(f"Data      {source}")
        print(f"Strategy  {strategy!r}\n")
        print(result.summary())
    if not args.no_save:
        written = result.save(args.out)
        if args.png:
            try:
                written["png"] = result.plot(Path(args.out) / "equity.png")
            except ImportError as exc:
                print(f"neural-trader: {exc}", file=sys.stderr)
        print(f"\nWrote {len(written)} files to {args.out}/ (report: {Path(args.out) / 'report.html'})",
              file=sys.stderr if args.json else sys.stdout)
    return 0


def _find_benchmarks(path: str | None) -> Path | None:
    candidates = [Path(path)] if path else [Path.cwd() / "benchmarks", Path(__file__).resolve().parents[2] / "benchmarks"]
    for c in candidates:
        if (c / "compare_backtest.py").is_file():
            return c
    return None


def _run_bench(args: argparse.Namespace) -> int:
    where = _find_benchmarks(args.path)
    if where is None:
        print("neural-trader: the benchmark suite (benchmarks/compare_*.py) ships with the source tree, not the "
              "wheel; run this from a checkout or pass --path to its benchmarks/ folder", file=sys.stderr)
        return 2
    suites = args.suite or ["backtest", "ta", "book", "sketch", "hnsw", "ring"]
    status = 0
    for suite in suites:
        script = where / f"compare_{suite}.py"
        if not script.is_file():
            print(f"neural-trader: no benchmark suite {suite!r} in {where}", file=sys.stderr)
            status = 2
            continue
        print(f"\n=== {suite} ===", flush=True)
        rc = subprocess.call([sys.executable, str(script), "--scale", args.scale], env=os.environ.copy())
        status = status or rc
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``neural-trader`` and ``python -m neural_trader``."""
    parser = argparse.ArgumentParser(prog="neural-trader", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _backtest_parser(sub)

    p_info = sub.add_parser("info", help="print what the compiled core was built with and runs on")
    p_info.add_argument("--json", action="store_true", help="print JSON")

    p_bench = sub.add_parser("bench", help="run the peer comparison benchmarks and print their ratio tables")
    p_bench.add_argument("suite", nargs="*", help="suites: backtest ta book sketch hnsw ring (default: all)")
    p_bench.add_argument("--scale", choices=["smoke", "default"], default="smoke",
                         help="workload size (default smoke: seconds; default: the figures quoted in benchmarks/README)")
    p_bench.add_argument("--path", default=None, help="the benchmarks/ folder of a source checkout")

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
    if args.command == "backtest":
        return _run_backtest(args)
    if args.command == "bench":
        return _run_bench(args)
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
