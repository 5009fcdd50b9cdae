"""Backtest metrics: hand-worked examples and slow reference loops written here.

The references recompute every figure with plain Python loops and the statistics module, from
the definitions in the module documentation of neural_trader.metrics.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

import numpy as np
import polars as pl
import pytest
from neural_trader import metrics as m
from neural_trader.errors import DTypeError, InvalidArgumentError

DAY = 86_400 * 10**9
T0 = 1_704_067_200 * 10**9  # 2024-01-01 00:00 UTC
TS = pl.Datetime("ns", "UTC")


def equity_frame(values: Any, ts: Any = None, gross: Any = None) -> pl.DataFrame:
    values = np.asarray(values, dtype=np.float64)
    n = values.size
    if ts is None:
        ts = T0 + np.arange(n, dtype=np.int64) * DAY
    if gross is None:
        gross = np.full(n, 1.0)
    return pl.DataFrame(
        {
            "ts": pl.Series(np.asarray(ts, dtype=np.int64)).cast(TS),
            "cash": values,
            "equity": values,
            "gross_exposure": np.asarray(gross, dtype=np.float64),
            "net_exposure": np.asarray(gross, dtype=np.float64),
        }
    )


def trades_frame(pnl: Any, ret: Any) -> pl.DataFrame:
    return pl.DataFrame(
        {"pnl": pl.Series(pnl, dtype=pl.Float64), "return_pct": pl.Series(ret, dtype=pl.Float64)}
    )


def fills_frame(qty: Any, price: Any, fee: Any) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "quantity": pl.Series(qty, dtype=pl.Float64),
            "price": pl.Series(price, dtype=pl.Float64),
            "fee": pl.Series(fee, dtype=pl.Float64),
        }
    )


NO_TRADES = trades_frame([], [])
NO_FILLS = fills_frame([], [], [])


# ---------------------------------------------------------------------------------------------
# Slow references
def ref_drawdown(values: list[float], coord: list[int]) -> tuple[list[float], float, int]:
    """Peak-by-peak loop: for every step below its running peak, find the peak's step and the
    first later step at or above it (or the last step)."""
    dd: list[float] = []
    peak = -math.inf
    peak_i = 0
    longest = 0
    for i, v in enumerate(values):
        if v >= peak:
            peak, peak_i = v, i
        dd.append((peak - v) / peak if peak > 0 else 0.0)
        if v < peak:
            end = len(values) - 1
            for j in range(i + 1, len(values)):
                if values[j] >= peak:
                    end = j
                    break
            longest = max(longest, coord[end] - coord[peak_i])
    return dd, max(dd) if dd else 0.0, longest


def ref_metrics(
    eq: list[float],
    ts: list[int],
    gross: list[float],
    pnl: list[float],
    ret: list[float],
    fills: list[tuple[float, float, float]],
    cash0: float,
    ppy: float | None,
    rf: float,
) -> dict[str, float]:
    n = len(eq)
    years = (ts[-1] - ts[0]) / (365.25 * DAY)
    if ppy is None:
        ppy = (n - 1) / years
    rets = [eq[i] / eq[i - 1] - 1 for i in range(1, n) if eq[i - 1] > 0]
    rf_p = (1 + rf) ** (1 / ppy) - 1
    ex = [r - rf_p for r in rets]
    mean = sum(ex) / len(ex)
    sharpe = mean / statistics.stdev(ex) * math.sqrt(ppy)
    dd_dev = math.sqrt(sum(min(x, 0.0) ** 2 for x in ex) / len(ex))
    _, max_dd, dur_ns = ref_drawdown(eq, ts)
    _, _, dur_bars = ref_drawdown(eq, list(range(n)))
    growth = (eq[-1] / cash0) ** (1 / years) - 1
    wins = sum(p for p in pnl if p > 0)
    losses = -sum(p for p in pnl if p < 0)
    notional = sum(abs(q * p) for q, p, _ in fills)
    return {
        "total_return": eq[-1] / cash0 - 1,
        "cagr": growth,
        "volatility": statistics.stdev(rets) * math.sqrt(ppy),
        "sharpe": sharpe,
        "sortino": mean / dd_dev * math.sqrt(ppy),
        "max_drawdown": max_dd,
        "max_drawdown_duration": dur_ns,
        "max_drawdown_bars": dur_bars,
        "calmar": growth / max_dd,
        "win_rate": sum(1 for p in pnl if p > 0) / len(pnl),
        "profit_factor": wins / losses,
        "avg_trade_return": sum(ret) / len(ret),
        "n_trades": len(pnl),
        "exposure": sum(1 for g in gross if g != 0) / n,
        "turnover": notional / (sum(eq) / n),
        "total_fees": sum(f for _, _, f in fills),
        "final_equity": eq[-1],
        "best_trade": max(ret),
        "worst_trade": min(ret),
    }


# ---------------------------------------------------------------------------------------------
# Drawdown
def test_drawdown_hand_example() -> None:
    dd, max_dd, bars = m.drawdown([100, 120, 90, 95, 130])
    np.testing.assert_allclose(dd, [0, 0, 0.25, 25 / 120, 0], atol=1e-15)
    assert max_dd == 0.25
    assert bars == 3  # from the peak at step 1 to the recovery at step 4
    _, _, span = m.drawdown([100, 120, 90, 95, 130], timestamps=[0, 10, 30, 60, 100])
    assert span == 90


def test_drawdown_unrecovered_and_longest_episode() -> None:
    assert m.drawdown([100, 80, 90])[1:] == (0.2, 2)  # never recovered: to the last step
    # episodes: steps 0->2 (2 steps, recovered exactly at the peak) and 3->6 (3 steps, open)
    dd, max_dd, bars = m.drawdown([100, 90, 100, 110, 100, 105, 109])
    assert bars == 3
    assert max_dd == pytest.approx(0.1)
    # the deepest and the longest drawdown are different episodes
    _, max_dd, bars = m.drawdown([100, 50, 100, 99, 98, 97, 96, 100])
    assert (max_dd, bars) == (0.5, 5)
    assert m.drawdown([5.0, 5.0, 5.0])[1:] == (0.0, 0)
    assert m.drawdown([1, 2, 3])[1:] == (0.0, 0)
    assert m.drawdown([42.0])[1:] == (0.0, 0)
    dd, max_dd, bars = m.drawdown([])
    assert dd.size == 0 and (max_dd, bars) == (0.0, 0)


@pytest.mark.parametrize("seed", range(6))
def test_drawdown_matches_reference_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 300))
    # integer-rounded walks produce many exact ties with the running peak
    values = np.round(100 + np.cumsum(rng.normal(0, 2, n))).tolist()
    coord = np.cumsum(rng.integers(1, 1000, n)).tolist()
    ref_dd, ref_max, ref_span = ref_drawdown(values, coord)
    dd, max_dd, span = m.drawdown(values, timestamps=coord)
    np.testing.assert_allclose(dd, ref_dd, rtol=1e-12, atol=1e-15)
    assert max_dd == pytest.approx(ref_max, rel=1e-12, abs=1e-15)
    assert span == ref_span
    assert m.drawdown(values)[2] == ref_drawdown(values, list(range(n)))[2]


def test_drawdown_rejects_bad_input() -> None:
    with pytest.raises(InvalidArgumentError):
        m.drawdown([1.0, float("nan")])
    with pytest.raises(InvalidArgumentError):
        m.drawdown([[1.0, 2.0]])
    with pytest.raises(InvalidArgumentError):
        m.drawdown([1.0, 2.0], timestamps=[2, 1])
    with pytest.raises(InvalidArgumentError):
        m.drawdown([1.0, 2.0], timestamps=[1, 2, 3])
    with pytest.raises(DTypeError):
        m.drawdown(["a", "b"])


# ---------------------------------------------------------------------------------------------
# Ratios
def test_simple_returns_skip_non_positive_bases() -> None:
    np.testing.assert_allclose(m.simple_returns([100, 110, 99]), [0.1, -0.1])
    np.testing.assert_allclose(m.simple_returns([100, 0, 50]), [-1.0])  # no return from a zero base
    assert m.simple_returns([1.0]).size == 0


@pytest.mark.parametrize("rf", [0.0, 0.03])
def test_sharpe_and_sortino_match_reference(rf: float) -> None:
    rng = np.random.default_rng(11)
    r = rng.normal(0.0004, 0.01, 400)
    rf_p = (1 + rf) ** (1 / 252) - 1
    ex = [x - rf_p for x in r.tolist()]
    mean = sum(ex) / len(ex)
    assert m.sharpe(r, 252, rf) == pytest.approx(mean / statistics.stdev(ex) * math.sqrt(252), rel=1e-10)
    down = math.sqrt(sum(min(x, 0.0) ** 2 for x in ex) / len(ex))
    assert m.sortino(r, 252, rf) == pytest.approx(mean / down * math.sqrt(252), rel=1e-10)


def test_ratio_edge_cases() -> None:
    assert math.isnan(m.sharpe([0.0] * 10, 252))  # zero volatility
    assert math.isnan(m.sharpe([0.01] * 10, 252))
    assert math.isnan(m.sharpe([0.01], 252))  # a single return
    assert math.isnan(m.sharpe([], 252))
    assert m.sortino([0.01, 0.02, 0.0], 252) == math.inf  # no step below the target
    assert math.isnan(m.sortino([0.0, 0.0, 0.0], 252))
    assert m.sortino([-0.01, -0.02], 252) < 0
    with pytest.raises(InvalidArgumentError):
        m.sharpe([0.01, 0.02], 0)
    with pytest.raises(InvalidArgumentError):
        m.sharpe([0.01, 0.02], 252, risk_free=-1.5)
    with pytest.raises(InvalidArgumentError):
        m.sortino([0.01, float("inf")], 252)


def test_cagr_hand_examples() -> None:
    assert m.cagr(100, 121, 2) == pytest.approx(0.1, rel=1e-12)
    assert m.cagr(100, 50, 1) == pytest.approx(-0.5)
    assert m.cagr(100, 100, 3) == 0.0
    assert m.cagr(100, 0, 1) == -1.0
    assert m.cagr(100, -5, 1) == -1.0
    assert math.isnan(m.cagr(100, 120, 0))
    assert m.cagr(1, 1e300, 1e-3) == math.inf  # overflow: not an exception
    with pytest.raises(InvalidArgumentError):
        m.cagr(0, 1, 1)


# ---------------------------------------------------------------------------------------------
# compute_metrics
@pytest.mark.parametrize(("seed", "ppy", "rf"), [(0, None, 0.0), (1, None, 0.02), (2, 252.0, 0.01)])
def test_compute_metrics_matches_reference(seed: int, ppy: float | None, rf: float) -> None:
    rng = np.random.default_rng(seed)
    n = 250
    eq = (10_000 * np.cumprod(1 + rng.normal(0.0006, 0.012, n))).tolist()
    ts = (T0 + np.cumsum(rng.integers(1, 4, n)) * DAY).tolist()  # irregular gaps
    gross = np.where(rng.random(n) < 0.3, 0.0, rng.random(n) * 5000).tolist()
    pnl = rng.normal(5, 50, 30).tolist()
    ret = (np.asarray(pnl) / 1000).tolist()
    fills = [
        (float(q), float(p), float(f))
        for q, p, f in zip(rng.integers(1, 50, 40), rng.uniform(10, 100, 40), rng.uniform(0, 2, 40))
    ]
    got = m.compute_metrics(
        equity_frame(eq, ts, gross),
        trades_frame(pnl, ret),
        fills_frame(*zip(*fills)),
        initial_cash=9_500.0,
        periods_per_year=ppy,
        risk_free=rf,
    )
    want = ref_metrics(eq, ts, gross, pnl, ret, fills, 9_500.0, ppy, rf)
    assert list(got) == list(m.METRIC_NAMES)
    for key, value in want.items():
        if key in m.INT_METRICS:
            assert got[key] == value and isinstance(got[key], int), key
        else:
            assert got[key] == pytest.approx(value, rel=1e-9), key


def test_compute_metrics_inferred_periods_per_year() -> None:
    # 5 daily steps span 4 days: (5 - 1) / (4 / 365.25) = 365.25 steps per year
    eq = [100.0, 101.0, 99.0, 102.0, 103.0]
    res = m.compute_metrics(equity_frame(eq), NO_TRADES, NO_FILLS, initial_cash=100.0)
    r = [eq[i] / eq[i - 1] - 1 for i in range(1, 5)]
    assert res["volatility"] == pytest.approx(statistics.stdev(r) * math.sqrt(365.25), rel=1e-12)
    assert res["cagr"] == pytest.approx(1.03 ** (365.25 / 4) - 1, rel=1e-12)
    explicit = m.compute_metrics(
        equity_frame(eq), NO_TRADES, NO_FILLS, initial_cash=100.0, periods_per_year=252
    )
    assert explicit["volatility"] == pytest.approx(statistics.stdev(r) * math.sqrt(252), rel=1e-12)


def test_compute_metrics_hand_example_duration_in_ns() -> None:
    ts = [T0, T0 + DAY, T0 + 3 * DAY, T0 + 4 * DAY, T0 + 9 * DAY]
    res = m.compute_metrics(
        equity_frame([100, 120, 90, 95, 130], ts), NO_TRADES, NO_FILLS, initial_cash=100.0
    )
    assert res["max_drawdown"] == 0.25
    assert res["max_drawdown_duration"] == 8 * DAY  # step 1 (day 1) to step 4 (day 9)
    assert res["max_drawdown_bars"] == 3
    assert res["total_return"] == pytest.approx(0.3)
    assert res["final_equity"] == 130.0


def test_compute_metrics_constant_equity() -> None:
    res = m.compute_metrics(
        equity_frame([100.0] * 20, gross=[0.0] * 20), NO_TRADES, NO_FILLS, initial_cash=100.0
    )
    assert res["volatility"] == 0.0
    assert math.isnan(res["sharpe"])
    assert math.isnan(res["sortino"])
    assert res["max_drawdown"] == 0.0 and res["max_drawdown_duration"] == 0
    assert math.isnan(res["calmar"])  # 0 / 0
    assert res["total_return"] == 0.0 and res["cagr"] == 0.0
    assert res["exposure"] == 0.0
    assert res["turnover"] == 0.0


def test_compute_metrics_single_step_and_no_trades() -> None:
    res = m.compute_metrics(equity_frame([105.0]), pl.DataFrame(), pl.DataFrame(), initial_cash=100.0)
    assert res["total_return"] == pytest.approx(0.05)
    for key in ("cagr", "volatility", "sharpe", "sortino", "win_rate", "profit_factor", "avg_trade_return"):
        assert math.isnan(res[key]), key
    assert res["n_trades"] == 0 and res["total_fees"] == 0.0
    assert res["max_drawdown"] == 0.0
    assert res["exposure"] == 1.0


def test_compute_metrics_empty_equity() -> None:
    res = m.compute_metrics(pl.DataFrame(), NO_TRADES, NO_FILLS, initial_cash=100.0)
    assert res["final_equity"] == 100.0 and res["total_return"] == 0.0
    assert math.isnan(res["exposure"]) and math.isnan(res["turnover"])


def test_trade_statistics() -> None:
    eq = equity_frame([100, 101, 102])
    res = m.compute_metrics(eq, trades_frame([10.0, 5.0], [0.1, 0.05]), NO_FILLS, initial_cash=100.0)
    assert res["profit_factor"] == math.inf  # no losing trade
    assert res["win_rate"] == 1.0
    res = m.compute_metrics(eq, trades_frame([0.0, 0.0], [0.0, 0.0]), NO_FILLS, initial_cash=100.0)
    assert math.isnan(res["profit_factor"]) and res["win_rate"] == 0.0
    res = m.compute_metrics(
        eq, trades_frame([30.0, -10.0, -5.0], [0.3, -0.1, -0.05]), NO_FILLS, initial_cash=100.0
    )
    assert res["profit_factor"] == pytest.approx(2.0)
    assert res["win_rate"] == pytest.approx(1 / 3)
    assert (res["best_trade"], res["worst_trade"]) == (0.3, -0.1)
    assert res["avg_trade_return"] == pytest.approx(0.05)


def test_timestamp_unit_does_not_matter() -> None:
    eq = [100.0, 103.0, 98.0, 104.0]
    ns = equity_frame(eq)
    us = ns.with_columns(pl.col("ts").cast(pl.Datetime("us", "UTC")))
    naive_ms = ns.with_columns(pl.col("ts").dt.replace_time_zone(None).cast(pl.Datetime("ms")))
    a = m.compute_metrics(ns, NO_TRADES, NO_FILLS, initial_cash=100.0)
    for other in (us, naive_ms):
        b = m.compute_metrics(other, NO_TRADES, NO_FILLS, initial_cash=100.0)
        assert a == b


def test_compute_metrics_rejects_bad_input() -> None:
    eq = equity_frame([100.0, 101.0])
    with pytest.raises(DTypeError):
        m.compute_metrics(eq.to_dict(), NO_TRADES, NO_FILLS, initial_cash=100.0)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="gross_exposure"):
        m.compute_metrics(eq.drop("gross_exposure"), NO_TRADES, NO_FILLS, initial_cash=100.0)
    with pytest.raises(InvalidArgumentError, match="pnl"):
        m.compute_metrics(eq, trades_frame([1.0], [0.1]).drop("pnl"), NO_FILLS, initial_cash=100.0)
    with pytest.raises(InvalidArgumentError, match="sorted"):
        m.compute_metrics(eq.reverse(), NO_TRADES, NO_FILLS, initial_cash=100.0)
    with pytest.raises(InvalidArgumentError):
        m.compute_metrics(equity_frame([100.0, math.nan]), NO_TRADES, NO_FILLS, initial_cash=100.0)
    with pytest.raises(InvalidArgumentError):
        m.compute_metrics(eq, NO_TRADES, NO_FILLS, initial_cash=0.0)
    with pytest.raises(InvalidArgumentError):
        m.compute_metrics(eq, NO_TRADES, NO_FILLS, initial_cash=100.0, periods_per_year=-1)
    with pytest.raises(InvalidArgumentError):
        m.compute_metrics(eq, NO_TRADES, NO_FILLS, initial_cash=100.0, risk_free=math.nan)
    with pytest.raises(DTypeError):
        m.compute_metrics(
            eq.with_columns(pl.col("ts").cast(pl.String)), NO_TRADES, NO_FILLS, initial_cash=100.0
        )
    with pytest.raises(DTypeError):
        m.compute_metrics(
            eq.with_columns(pl.lit("x").alias("equity")), NO_TRADES, NO_FILLS, initial_cash=100.0
        )


# ---------------------------------------------------------------------------------------------
# Display
def test_format_metric_and_duration() -> None:
    assert m.format_metric("total_return", 0.1234) == "12.34%"
    assert m.format_metric("final_equity", 1234567.891) == "1,234,567.89"
    assert m.format_metric("sharpe", 1.2345) == "1.23"
    assert m.format_metric("sharpe", math.nan) == "n/a"
    assert m.format_metric("profit_factor", math.inf) == "inf"
    assert m.format_metric("n_trades", 12345) == "12,345"
    assert m.format_metric("max_drawdown_duration", 3 * DAY + 3_723 * 10**9) == "3d 01:02:03"
    assert m.format_duration(0) == "0"
    assert m.format_duration(90 * 10**9) == "00:01:30"
    assert m.format_duration(1_500_000_000) == "00:00:01.500"
    assert m.format_duration(250_000_000) == "250 ms"
    assert m.format_duration(-DAY) == "-1d 00:00:00"
    assert set(m.METRIC_LABELS) == set(m.METRIC_NAMES)
