"""Grid search and walk-forward evaluation (neural_trader.optimize); the progress bar (_progress)."""

from __future__ import annotations

import io
import itertools
import math
import os
import pickle
from typing import Any

import numpy as np
import polars as pl
import pytest
from neural_trader._progress import Progress, format_duration
from neural_trader.errors import DTypeError, InvalidArgumentError
from neural_trader.optimize import GridResult, WalkForwardResult, optimize, optimize_signals, walk_forward
from neural_trader.results import BacktestResult
from neural_trader.vector import from_signals, signal_from_crossover

T0 = 1_700_000_000_000_000_000
DAY = 86_400_000_000_000


def make_bars(n: int, seed: int = 0, symbols: tuple[str, ...] = ("AAA",)) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for j, sym in enumerate(symbols):
        close = 100.0 * np.exp(np.cumsum(rng.normal(0.0002 * (j + 1), 0.015, n)))
        open_ = np.concatenate(([close[0]], close[:-1])) * np.exp(rng.normal(0.0, 0.003, n))
        frames.append(
            pl.DataFrame(
                {
                    "ts": pl.Series(T0 + np.arange(n, dtype=np.int64) * DAY).cast(pl.Datetime("ns", "UTC")),
                    "symbol": [sym] * n,
                    "open": open_,
                    "high": np.maximum(open_, close),
                    "low": np.minimum(open_, close),
                    "close": close,
                    "volume": np.full(n, 1_000.0),
                    "row": np.arange(n, dtype=np.int64),  # the bar number: shows what a callback saw
                }
            )
        )
    return pl.concat(frames).sort("ts", "symbol")


BARS = make_bars(600, seed=1)


def sma(x: np.ndarray, k: int) -> np.ndarray:
    out = np.full(x.shape[0], np.nan)
    c = np.cumsum(np.concatenate(([0.0], x)))
    out[k - 1 :] = (c[k:] - c[:-k]) / k
    return out


def sma_cross(bars: pl.DataFrame, fast: int, slow: int) -> np.ndarray:
    close = bars["close"].to_numpy()
    return signal_from_crossover(sma(close, fast), sma(close, slow))


def sma_run(fast: int, slow: int) -> BacktestResult:
    """Top level, so that the process backend can pickle it."""
    return from_signals(BARS, signal=sma_cross(BARS, fast, slow), fees=0.001)


GRID = {"fast": [3, 5, 8, 13], "slow": [20, 30, 50]}


# ------------------------------------------------------------------------------------------------
# grid search
# ------------------------------------------------------------------------------------------------


def brute_force(
    metric: str, maximize: bool
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    combos = [{"fast": f, "slow": s} for f, s in itertools.product(GRID["fast"], GRID["slow"])]
    metrics = [sma_run(**c).metrics for c in combos]
    values = [m[metric] for m in metrics]
    best_i = None
    for i, v in enumerate(values):
        if math.isnan(v):
            continue
        if best_i is None or (v > values[best_i] if maximize else v < values[best_i]):
            best_i = i
    assert best_i is not None
    return combos, metrics, combos[best_i]


@pytest.mark.parametrize(
    ("metric", "maximize"), [("sharpe", True), ("max_drawdown", True), ("total_fees", False)]
)
def test_grid_table_complete_ordered_and_best_matches_brute_force(metric: str, maximize: bool) -> None:
    combos, metrics, best = brute_force(metric, maximize)
    res = optimize(sma_run, GRID, metric=metric, maximize=maximize, n_jobs=2, progress=False)
    assert isinstance(res, GridResult) and len(res) == 12
    assert res.table.columns[:2] == ["fast", "slow"]
    assert res.table.select("fast", "slow").rows(named=True) == combos
    assert res.params == combos
    for key in ("total_return", "sharpe", "max_drawdown", "n_trades", "final_equity"):
        got = res.table[key].to_numpy()
        want = np.array([m[key] for m in metrics], dtype=float)
        np.testing.assert_array_equal(got, want)
    assert res.best_params == best
    assert res.best_value == res.table[metric][res.best_index]
    assert isinstance(res.best, BacktestResult)
    assert res.best.trades.equals(sma_run(**best).trades)
    ranked = res.ranked()
    vals = ranked[metric].to_numpy()
    assert ranked.select("fast", "slow").row(0, named=True) == best
    assert np.all(np.diff(vals) <= 0) if maximize else np.all(np.diff(vals) >= 0)
    assert res.results is None
    assert "GridResult(12 runs" in repr(res) and metric in repr(res)


def test_thread_process_and_serial_backends_agree() -> None:
    serial = optimize(sma_run, GRID, n_jobs=1, progress=False, keep_results=True)
    threads = optimize(sma_run, GRID, n_jobs=2, backend="thread", progress=False, keep_results=True)
    procs = optimize(sma_run, GRID, n_jobs=2, backend="process", progress=False, keep_results=True)
    for other in (threads, procs):
        assert other.table.equals(serial.table)
        assert other.best_params == serial.best_params
        assert other.results is not None and serial.results is not None
        assert all(a.equity.equals(b.equity) for a, b in zip(other.results, serial.results))
    # the data and the signal function travel to the worker processes too
    small = {"fast": [3, 8], "slow": [20, 50]}
    by_thread = optimize_signals(BARS, sma_cross, small, fees=0.001, n_jobs=2, progress=False)
    by_process = optimize_signals(
        BARS, sma_cross, small, fees=0.001, n_jobs=2, backend="process", progress=False
    )
    assert by_process.table.equals(by_thread.table)
    assert by_process.best.trades.equals(by_thread.best.trades)


def worker_pid(x: int) -> dict[str, float]:
    return {"pid": float(os.getpid()), "twice": 2.0 * x}


def test_process_backend_runs_in_other_processes() -> None:
    res = optimize(worker_pid, {"x": range(4)}, metric="twice", n_jobs=2, backend="process", progress=False)
    assert os.getpid() not in res.table["pid"].to_list()
    assert res.table["twice"].to_list() == [0.0, 2.0, 4.0, 6.0] and res.best_params == {"x": 3}


def test_float_runs_ties_and_nan() -> None:
    def run(a: int, b: float) -> float:
        return -((a - 3) ** 2) - (b - 1.5) ** 2

    res = optimize(
        run, {"a": range(6), "b": np.array([0.5, 1.5, 2.5])}, metric="score", n_jobs=3, progress=False
    )
    assert res.best_params == {"a": 3, "b": 1.5} and res.best_value == 0.0
    assert res.table.columns == ["a", "b", "score"]
    assert res.table["b"].dtype == pl.Float64 and res.table["a"].dtype == pl.Int64
    # minimise; ties go to the earliest combination; NaN never wins
    res = optimize(
        lambda x: {"m": 1.0 if x in (2, 4) else (math.nan if x == 0 else 5.0)},
        {"x": [0, 1, 2, 3, 4]},
        metric="m",
        maximize=False,
        n_jobs=4,
        progress=False,
    )
    assert res.best_params == {"x": 2}
    res = optimize(lambda x: math.nan, {"x": [1, 2]}, metric="m", progress=False)
    assert res.best_params is None and res.best is None and math.isnan(res.best_value)


def test_optimize_signals_matches_optimize() -> None:
    a = optimize_signals(BARS, sma_cross, GRID, fees=0.001, n_jobs=2, progress=False)
    b = optimize(sma_run, GRID, n_jobs=2, progress=False)
    assert a.table.equals(b.table) and a.best_params == b.best_params

    def booleans(bars: pl.DataFrame, k: int) -> dict[str, np.ndarray]:
        close = bars["close"].to_numpy()
        m = sma(close, k)
        return {"entries": close > m, "exits": close < m}

    res = optimize_signals(BARS, booleans, {"k": [10, 20]}, allow_short=False, progress=False, n_jobs=1)
    assert res.table["n_trades"].min() > 0  # type: ignore[operator]
    assert set(res.best.trades["direction"].to_list()) == {"long"}


def test_grid_result_pickles() -> None:
    res = optimize(sma_run, {"fast": [5], "slow": [20, 30]}, n_jobs=1, progress=False)
    back = pickle.loads(pickle.dumps(res))
    assert back.table.equals(res.table) and back.best_params == res.best_params
    assert back.best.equity.equals(res.best.equity)


def test_optimize_errors() -> None:
    with pytest.raises(InvalidArgumentError, match="empty"):
        optimize(sma_run, {"fast": [], "slow": [20]})
    with pytest.raises(DTypeError, match="sequence"):
        optimize(sma_run, {"fast": "abc"})
    with pytest.raises(InvalidArgumentError, match="metric 'nope'"):
        optimize(sma_run, {"fast": [5], "slow": [20]}, metric="nope", n_jobs=1)
    with pytest.raises(InvalidArgumentError, match="backend"):
        optimize(sma_run, GRID, backend="gpu")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="n_jobs"):
        optimize(sma_run, GRID, n_jobs=0)
    with pytest.raises(DTypeError, match="picklable"):
        optimize(lambda x: float(x), {"x": [1, 2]}, backend="process", n_jobs=2, metric="v")
    with pytest.raises(DTypeError, match="BacktestResult"):
        optimize(lambda x: "text", {"x": [1]})
    with pytest.raises(InvalidArgumentError, match="clash"):
        optimize(lambda sharpe: {"sharpe": 1.0}, {"sharpe": [1]})

    def boom(x: int) -> float:
        if x == 3:
            raise RuntimeError("bad parameter")
        return float(x)

    with pytest.raises(RuntimeError, match="bad parameter"):
        optimize(boom, {"x": range(8)}, metric="v", n_jobs=2, progress=False)


# ------------------------------------------------------------------------------------------------
# progress bar
# ------------------------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_renders_and_throttles() -> None:
    clock, out = FakeClock(), io.StringIO()
    bar = Progress(1000, "grid search", file=out, enabled=True, clock=clock)
    clock.t += 2.0
    bar.update(430)
    assert out.getvalue() == "\rgrid search  43% |########            | 430/1000 [00:02<00:02, 215.0 it/s]"
    bar.update(10)  # no time has passed: not redrawn
    assert out.getvalue().count("\r") == 1
    clock.t += 0.05
    bar.update(10)
    assert out.getvalue().count("\r") == 1
    clock.t += 0.06
    bar.update(10)
    assert out.getvalue().count("\r") == 2 and "460/1000" in out.getvalue()
    bar.update(540)  # the last step always redraws
    assert out.getvalue().count("\r") == 3 and "100% |####################| 1000/1000" in out.getvalue()
    bar.close()
    bar.close()
    assert out.getvalue().endswith("\n") and out.getvalue().count("\n") == 1


def test_progress_is_off_unless_tty_or_forced() -> None:
    out = io.StringIO()
    with Progress(10, "x", file=out) as bar:
        bar.update(10)
    assert out.getvalue() == "" and not bar.enabled
    tty = FakeTTY()
    with Progress(10, "x", file=tty) as bar:
        bar.update(10)
    assert bar.enabled and "10/10" in tty.getvalue()
    with Progress(10, "x", file=FakeTTY(), enabled=False) as bar:
        assert not bar.enabled


def test_progress_without_total_and_long_durations() -> None:
    clock, out = FakeClock(), io.StringIO()
    bar = Progress(None, "ticks", file=out, enabled=True, clock=clock)
    clock.t += 4.0
    bar.update(20)
    assert out.getvalue() == "\rticks 20 [00:04, 5.0 it/s]"
    assert format_duration(3_725.0) == "1:02:05" and format_duration(65.9) == "01:05"
    assert format_duration(math.nan) == "?"
    assert "Progress('ticks', 20/?" in repr(bar)
    with pytest.raises(InvalidArgumentError):
        Progress(-1)
    with pytest.raises(DTypeError):
        Progress(1.5)  # type: ignore[arg-type]


def test_optimize_draws_progress_when_forced(capsys: pytest.CaptureFixture[str]) -> None:
    optimize(lambda x: float(x), {"x": range(5)}, metric="v", n_jobs=1, progress=True)
    err = capsys.readouterr().err
    assert "grid search" in err and "5/5" in err
    optimize(lambda x: float(x), {"x": range(100)}, metric="v", n_jobs=1)  # not a terminal: silent
    assert capsys.readouterr().err == ""


# ------------------------------------------------------------------------------------------------
# walk-forward
# ------------------------------------------------------------------------------------------------


class Recorder:
    """fit/test callbacks that remember what they saw and trade a fixed SMA cross."""

    def __init__(self) -> None:
        self.fit_rows: list[np.ndarray] = []
        self.test_rows: list[np.ndarray] = []
        self.warmups: list[int] = []

    def fit(self, train: pl.DataFrame) -> dict[str, Any]:
        rows = train["row"].to_numpy()
        self.fit_rows.append(rows)
        return {"fast": 5 + len(self.fit_rows) % 3, "slow": 20}

    def test(self, frame: pl.DataFrame, params: dict[str, Any], warmup: int) -> BacktestResult:
        self.test_rows.append(frame["row"].to_numpy())
        self.warmups.append(warmup)
        sig = sma_cross(frame, **params)
        sig[:warmup] = np.nan  # decide nothing inside the warm-up
        return from_signals(frame, signal=sig, fees=0.0005)


@pytest.mark.parametrize("anchored", [False, True])
@pytest.mark.parametrize(("step", "warmup"), [(None, 0), (None, 40), (70, 25)])
def test_walk_forward_windows_never_leak_and_tile(anchored: bool, step: int | None, warmup: int) -> None:
    n, train, test_size = 600, 200, 50
    rec = Recorder()
    wf = walk_forward(
        BARS,
        rec.fit,
        rec.test,
        train=train,
        test_size=test_size,
        step=step,
        warmup=warmup,
        anchored=anchored,
        progress=False,
    )
    assert isinstance(wf, WalkForwardResult)
    stride = step or test_size
    starts = list(range(train, n, stride))
    assert len(wf) == len(starts) == len(rec.fit_rows)
    ts = BARS["ts"]
    for k, s in enumerate(starts):
        e = min(s + test_size, n)
        # fit saw exactly its training window: nothing at or after the test start
        want_train = np.arange(0 if anchored else s - train, s)
        np.testing.assert_array_equal(rec.fit_rows[k], want_train)
        # test saw up to `warmup` past rows, then its window
        w = min(warmup, s)
        assert rec.warmups[k] == w
        np.testing.assert_array_equal(rec.test_rows[k], np.arange(s - w, e))
        row = wf.windows.row(k, named=True)
        assert row["window"] == k
        assert row["train_start"] == ts[int(want_train[0])] and row["train_end"] == ts[s - 1]
        assert row["test_start"] == ts[s] and row["test_end"] == ts[e - 1]
        assert row["train_rows"] == len(want_train) and row["test_rows"] == e - s
        assert row["params"] == wf.params[k]
    # the stitched curve covers the test windows exactly, in order
    covered = np.concatenate([np.arange(s, min(s + test_size, n)) for s in starts])
    np.testing.assert_array_equal(
        wf.equity["ts"].dt.epoch("ns").to_numpy(), ts.dt.epoch("ns").to_numpy()[covered]
    )
    if stride == test_size:
        np.testing.assert_array_equal(covered, np.arange(train, n))


def test_walk_forward_stitching_and_metrics() -> None:
    rec = Recorder()
    wf = walk_forward(BARS, rec.fit, rec.test, train=150, test_size=90, warmup=30, progress=False)
    level = None
    trades = 0
    for k, res in enumerate(wf.results):
        part = wf.equity.filter(pl.col("window") == k)
        raw = res.equity["equity"].to_numpy()
        assert res.equity.height == part.height  # warm-up rows left out
        base = res.initial_cash
        level = base if level is None else level
        np.testing.assert_allclose(part["equity"].to_numpy(), raw * (level / base), rtol=1e-12)
        level = float(part["equity"][-1])
        # OOS metrics of the window are those of its own result
        for key in ("total_return", "sharpe", "n_trades", "final_equity"):
            got, want = wf.windows[key][k], res.metrics[key]
            assert got == want or (math.isnan(got) and math.isnan(want))
        trades += res.trades.height
    m = wf.metrics
    assert m["final_equity"] == pytest.approx(level, rel=1e-12)
    assert m["n_trades"] == trades == wf.result.trades.height
    assert wf.result.fills["order_id"].n_unique() == wf.result.fills.height
    np.testing.assert_allclose(
        wf.result.positions["realized_pnl"].sum(), wf.result.trades["pnl"].sum(), rtol=1e-9
    )
    # the combined curve compounds the windows' returns
    growth = np.prod([r.equity["equity"][-1] / r.initial_cash for r in wf.results])
    assert m["final_equity"] == pytest.approx(wf.results[0].initial_cash * growth, rel=1e-12)
    assert "WalkForwardResult(" in repr(wf)
    back = pickle.loads(pickle.dumps(wf))
    assert back.equity.equals(wf.equity) and back.windows.equals(wf.windows)


def test_walk_forward_future_marker_never_reaches_fit() -> None:
    # the last 100 closes are a marker no honest fit may see before the last window
    bars = BARS.with_columns(
        pl.when(pl.col("row") >= 500).then(pl.lit(1e6)).otherwise(pl.col("close")).alias("close")
    ).with_columns(pl.col("close").alias("open"))
    seen: list[tuple[int, bool]] = []

    def fit(train: pl.DataFrame) -> dict[str, Any]:
        seen.append((int(train["row"].max()), bool((train["close"] == 1e6).any())))  # type: ignore[arg-type]
        return {}

    def test(frame: pl.DataFrame, params: dict[str, Any], warmup: int) -> BacktestResult:
        return from_signals(frame, signal=np.full(frame.height, np.nan))

    wf = walk_forward(bars, fit, test, train=100, test_size=100, progress=False)
    assert [s for s, _ in seen] == [99, 199, 299, 399, 499]
    assert not any(marker for _, marker in seen)
    assert wf.windows["test_start"].to_list() == [bars["ts"][i] for i in (100, 200, 300, 400, 500)]


def test_walk_forward_multi_symbol_splits_by_timestamp() -> None:
    bars = make_bars(120, seed=3, symbols=("AAA", "BBB"))
    got: list[tuple[int, int, int]] = []

    def fit(train: pl.DataFrame) -> dict[str, Any]:
        counts = train.group_by("ts").len()["len"]
        assert (counts == 2).all()  # no timestamp split between windows
        got.append((train.height, int(train["row"].min()), int(train["row"].max())))  # type: ignore[arg-type]
        return {}

    def test(frame: pl.DataFrame, params: dict[str, Any], warmup: int) -> BacktestResult:
        past, window = frame.slice(0, warmup), frame.slice(warmup)
        assert past["row"].max() < window["row"].min()  # type: ignore[operator]
        assert warmup == 2 * 5
        one = frame.filter(pl.col("symbol") == "AAA")
        return from_signals(one, signal=np.full(one.height, np.nan))

    wf = walk_forward(bars, fit, test, train=40, test_size=20, warmup=5, progress=False)
    assert got == [(80, 0, 39), (80, 20, 59), (80, 40, 79), (80, 60, 99)]
    assert wf.windows["test_rows"].to_list() == [40, 40, 40, 40]
    assert wf.equity.height == 80


def test_walk_forward_contract_violations() -> None:
    def fit(train: pl.DataFrame) -> dict[str, Any]:
        return {}

    def cheat(frame: pl.DataFrame, params: dict[str, Any], warmup: int) -> BacktestResult:
        sig = np.full(frame.height, np.nan)
        sig[0] = 1.0  # trades inside the warm-up
        return from_signals(frame, signal=sig)

    with pytest.raises(InvalidArgumentError, match="before its test window"):
        walk_forward(BARS, fit, cheat, train=100, test_size=50, warmup=10, progress=False)
    with pytest.raises(InvalidArgumentError, match="overlapping"):
        walk_forward(BARS, fit, cheat, train=100, test_size=50, step=20)
    with pytest.raises(InvalidArgumentError, match="not enough"):
        walk_forward(BARS, fit, cheat, train=600, test_size=50)
    with pytest.raises(DTypeError, match="mapping"):
        walk_forward(BARS, lambda t: [1], cheat, train=100, test_size=50)  # type: ignore[arg-type,return-value]
    with pytest.raises(DTypeError, match="BacktestResult"):
        walk_forward(BARS, fit, lambda f, p, w: 1.0, train=100, test_size=50)  # type: ignore[arg-type,return-value]
    with pytest.raises(InvalidArgumentError, match="sorted"):
        walk_forward(BARS.reverse(), fit, cheat, train=100, test_size=50)


def test_walk_forward_with_grid_search_inside() -> None:
    def fit(train: pl.DataFrame) -> dict[str, Any]:
        res = optimize_signals(train, sma_cross, {"fast": [3, 8], "slow": [20, 40]}, n_jobs=1, progress=False)
        assert res.best_params is not None
        return res.best_params

    def test(frame: pl.DataFrame, params: dict[str, Any], warmup: int) -> BacktestResult:
        sig = sma_cross(frame, **params)
        sig[:warmup] = np.nan
        return from_signals(frame, signal=sig)

    wf = walk_forward(BARS, fit, test, train=200, test_size=100, warmup=40, anchored=True, progress=False)
    assert len(wf) == 4
    assert all(set(p) == {"fast", "slow"} for p in wf.params)
    assert wf.windows.schema["params"] == pl.Struct({"fast": pl.Int64, "slow": pl.Int64})
