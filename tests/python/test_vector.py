"""Vectorised backtests (neural_trader.vector) against a plain per-bar reference loop and backtesting.py."""

from __future__ import annotations

import itertools
import math
import pickle
import warnings
from typing import Any

import numpy as np
import polars as pl
import pytest
from neural_trader import results
from neural_trader.errors import DTypeError, InvalidArgumentError
from neural_trader.results import BacktestResult
from neural_trader.vector import from_signals, signal_from_crossover, target_from_booleans

T0 = 1_600_000_000_000_000_000
DAY = 86_400_000_000_000


# ------------------------------------------------------------------------------------------------
# the reference: one bar at a time, straight from the conventions
# ------------------------------------------------------------------------------------------------


def ref_target_from_signal(signal: np.ndarray) -> list[float]:
    out, cur = [], 0.0
    for v in signal:
        if not math.isnan(v):
            cur = float(v)
        out.append(cur)
    return out


def ref_target_from_booleans(le: Any, lx: Any, se: Any, sx: Any, n: int) -> list[float]:
    def get(a: Any, t: int) -> bool:
        return bool(a[t]) if a is not None else False

    out, state = [], 0.0
    for t in range(n):
        if get(lx, t) and state == 1.0:
            state = 0.0
        if get(sx, t) and state == -1.0:
            state = 0.0
        if get(le, t) and not get(se, t):
            state = 1.0
        elif get(se, t) and not get(le, t):
            state = -1.0
        out.append(state)
    return out


def reference(
    open_: np.ndarray,
    close: np.ndarray,
    target: list[float],
    *,
    cash: float,
    fees: float,
    slippage: float,
    fill: str,
    allow_short: bool,
    close_at_end: bool | str,
    frac: float | None = None,
    whole: bool = True,
) -> dict[str, Any]:
    """Walk the bars one by one; return fills, trades and the equity curve."""
    n = len(close)
    tgt = [max(x, 0.0) if not allow_short else x for x in target]
    fills: list[tuple[int, int, float, float, float]] = []  # bar, side, qty, price, fee
    trades: list[dict[str, Any]] = []
    equity: list[float] = []
    cash_curve: list[float] = []
    st = {"cash": cash, "qty": 0.0, "entry_bar": -1, "entry_px": 0.0, "entry_fee": 0.0}

    def close_pos(bar: int, price: float, slip: float = slippage) -> None:
        d = 1 if st["qty"] > 0 else -1
        q = abs(st["qty"])
        px = price * (1 - slip) if d > 0 else price * (1 + slip)
        fee = fees * (q * px)
        st["cash"] += d * q * px - fee
        fills.append((bar, -d, q, px, fee))
        trades.append(
            {
                "direction": "long" if d > 0 else "short",
                "quantity": q,
                "entry_bar": st["entry_bar"],
                "entry_price": st["entry_px"],
                "exit_bar": bar,
                "exit_price": px,
                "pnl": d * q * (px - st["entry_px"]) - st["entry_fee"] - fee,
                "fees": st["entry_fee"] + fee,
            }
        )
        st["qty"] = 0.0

    def execute(want: float, price: float, bar: int) -> None:
        have = float(np.sign(st["qty"]))
        if want == have:
            return
        if have != 0:
            close_pos(bar, price)
        if want != 0:
            px = price * (1 + slippage) if want > 0 else price * (1 - slippage)
            avail = st["cash"]
            budget = avail if frac is None else frac * avail
            q = budget / (px * (1 + fees)) if avail > 0 else 0.0
            if whole:
                q = math.floor(q)
            if q > 0:
                fee = fees * (q * px)
                st["cash"] -= want * q * px + fee
                st["qty"] = want * q
                st["entry_bar"], st["entry_px"], st["entry_fee"] = bar, px, fee
                fills.append((bar, int(want), q, px, fee))

    for t in range(n):
        if fill == "next_open" and t > 0:
            before = tgt[t - 2] if t >= 2 else 0.0
            if tgt[t - 1] != before:
                execute(tgt[t - 1], open_[t], t)
        if fill == "close":
            before = tgt[t - 1] if t >= 1 else 0.0
            if tgt[t] != before:
                execute(tgt[t], close[t], t)
        if close_at_end and t == n - 1 and st["qty"] != 0:  # no slippage on this one
            close_pos(t, open_[t] if close_at_end == "open" else close[t], slip=0.0)
        equity.append(st["cash"] + st["qty"] * close[t])
        cash_curve.append(st["cash"])
    return {"fills": fills, "trades": trades, "equity": equity, "cash": cash_curve, "qty": st["qty"]}


def random_market(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.02, n)))
    open_ = np.concatenate(([close[0]], close[:-1])) * np.exp(rng.normal(0.0, 0.005, n))
    ts = T0 + np.arange(n, dtype=np.int64) * DAY
    return {"ts": ts, "open": open_, "close": close}


def random_signal(rng: np.random.Generator, n: int, density: float) -> np.ndarray:
    sig = np.full(n, np.nan)
    hit = rng.random(n) < density
    sig[hit] = rng.choice([-1.0, 0.0, 1.0], int(hit.sum()))
    return sig


def assert_matches_reference(res: BacktestResult, ref: dict[str, Any], ts: np.ndarray) -> None:
    fills = res.fills
    assert fills.height == len(ref["fills"])
    if ref["fills"]:
        bar, side, qty, px, fee = (np.asarray(c) for c in zip(*ref["fills"]))
        np.testing.assert_array_equal(fills["ts"].dt.epoch("ns").to_numpy(), ts[bar])
        np.testing.assert_array_equal(fills["side"].to_numpy(), side)
        np.testing.assert_array_equal(fills["quantity"].to_numpy(), qty)
        np.testing.assert_allclose(fills["price"].to_numpy(), px, rtol=1e-12)
        np.testing.assert_allclose(fills["fee"].to_numpy(), fee, rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(fills["order_id"].to_numpy(), np.arange(1, len(bar) + 1))
    trades = res.trades
    assert trades.height == len(ref["trades"])
    if ref["trades"]:
        rt = pl.DataFrame(ref["trades"])
        assert trades["direction"].to_list() == rt["direction"].to_list()
        np.testing.assert_array_equal(trades["quantity"].to_numpy(), rt["quantity"].to_numpy())
        np.testing.assert_array_equal(
            trades["entry_ts"].dt.epoch("ns").to_numpy(), ts[rt["entry_bar"].to_numpy()]
        )
        np.testing.assert_array_equal(
            trades["exit_ts"].dt.epoch("ns").to_numpy(), ts[rt["exit_bar"].to_numpy()]
        )
        np.testing.assert_array_equal(
            trades["bars_held"].to_numpy(), rt["exit_bar"].to_numpy() - rt["entry_bar"].to_numpy()
        )
        for col in ("entry_price", "exit_price", "pnl", "fees"):
            np.testing.assert_allclose(trades[col].to_numpy(), rt[col].to_numpy(), rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(
            trades["return_pct"].to_numpy(),
            rt["pnl"].to_numpy() / (rt["entry_price"].to_numpy() * rt["quantity"].to_numpy()),
            rtol=1e-9,
            atol=1e-12,
        )
    eq = res.equity
    np.testing.assert_array_equal(eq["ts"].dt.epoch("ns").to_numpy(), ts)
    np.testing.assert_allclose(eq["equity"].to_numpy(), ref["equity"], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(eq["cash"].to_numpy(), ref["cash"], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(
        (eq["equity"] - eq["cash"]).to_numpy(), eq["net_exposure"].to_numpy(), rtol=1e-9, atol=1e-6
    )
    np.testing.assert_allclose(eq["gross_exposure"].to_numpy(), np.abs(eq["net_exposure"].to_numpy()))
    # orders: one filled market order per fill, created on the decision bar
    orders = res.orders
    assert orders.height == fills.height
    assert set(orders["status"].to_list()) <= {"filled"}
    assert set(orders["type"].to_list()) <= {"market"}
    np.testing.assert_array_equal(orders["filled_quantity"].to_numpy(), fills["quantity"].to_numpy())
    np.testing.assert_array_equal(orders["avg_price"].to_numpy(), fills["price"].to_numpy())
    assert bool((orders["ts"] <= fills["ts"]).all())


# ------------------------------------------------------------------------------------------------
# against the reference loop
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fill", ["next_open", "close"])
@pytest.mark.parametrize("allow_short", [True, False])
@pytest.mark.parametrize("close_at_end", [True, "open", False])
def test_random_signals_match_reference_loop(fill: str, allow_short: bool, close_at_end: bool | str) -> None:
    end = [True, "open", False].index(close_at_end)
    rng = np.random.default_rng([("next_open", "close").index(fill), int(allow_short), end])
    for trial in range(6):
        n = int(rng.integers(2, 400))
        mkt = random_market(rng, n)
        sig = random_signal(rng, n, density=float(rng.choice([0.02, 0.1, 0.5])))
        if trial == 0:
            sig[-1] = 1.0 if np.isnan(sig[-2]) or sig[-2] != 1.0 else -1.0  # a change on the last bar
        fees = float(rng.choice([0.0, 0.001, 0.01]))
        slippage = float(rng.choice([0.0, 0.0005, 0.003]))
        cash = float(rng.choice([10_000.0, 150.0]))  # 150: entries often unaffordable
        res = from_signals(
            mkt,
            signal=sig,
            cash=cash,
            fees=fees,
            slippage=slippage,
            fill=fill,  # type: ignore[arg-type]
            allow_short=allow_short,
            close_at_end=close_at_end,
        )
        ref = reference(
            mkt["open"],
            mkt["close"],
            ref_target_from_signal(sig),
            cash=cash,
            fees=fees,
            slippage=slippage,
            fill=fill,
            allow_short=allow_short,
            close_at_end=close_at_end,
        )
        assert_matches_reference(res, ref, mkt["ts"])
        if not allow_short:
            assert bool((res.equity["cash"] >= 0).all())
            assert bool((res.equity["net_exposure"] >= 0).all())
            assert set(res.trades["direction"].to_list()) <= {"long"}
        if close_at_end:
            assert res.equity["net_exposure"][-1] == 0.0
        if res.fills.height:
            pos = res.positions
            assert pos.height == 1
            np.testing.assert_allclose(pos["quantity"][0], ref["qty"])
            np.testing.assert_allclose(pos["realized_pnl"][0], res.trades["pnl"].sum(), rtol=1e-9, atol=1e-9)
        else:
            assert res.positions.height == 0


def test_reversals_make_two_fills_and_one_trade_per_switch() -> None:
    n = 12
    close = np.linspace(100.0, 111.0, n)
    data = {"ts": T0 + np.arange(n) * DAY, "open": close - 0.5, "close": close}
    sig = np.full(n, np.nan)
    sig[[1, 4, 7]] = [1.0, -1.0, 1.0]
    res = from_signals(data, signal=sig, cash=1_000.0, close_at_end=True)
    # entries fill on bars 2, 5 and 8 at the open; the last long is closed at bar 11's close
    assert res.trades["direction"].to_list() == ["long", "short", "long"]
    fills = res.fills
    assert fills["side"].to_list() == [1, -1, -1, 1, 1, -1]
    assert fills["ts"].dt.epoch("ns").to_list() == [T0 + b * DAY for b in (2, 5, 5, 8, 8, 11)]
    assert fills["price"].to_list() == [
        close[2] - 0.5,
        close[5] - 0.5,
        close[5] - 0.5,
        close[8] - 0.5,
        close[8] - 0.5,
        close[11],
    ]
    q0 = math.floor(1_000.0 / (close[2] - 0.5))
    assert fills["quantity"][0] == q0
    assert res.orders["tag"].to_list() == ["entry", "exit", "entry", "exit", "entry", "close_at_end"]
    # the short opened after the reversal is sized from the equity after closing the long
    cash_after_close = 1_000.0 - q0 * (close[2] - 0.5) + q0 * (close[5] - 0.5)
    assert fills["quantity"][2] == math.floor(cash_after_close / (close[5] - 0.5))


def test_signal_on_last_bar_is_ignored_with_next_open() -> None:
    n = 5
    data = {"open": np.full(n, 10.0), "close": np.full(n, 10.0)}
    sig = np.array([np.nan, np.nan, np.nan, np.nan, 1.0])
    res = from_signals(data, signal=sig)
    assert res.fills.height == 0 and res.trades.height == 0
    assert res.equity["equity"].to_list() == [10_000.0] * n
    # with fill="close" the last bar's signal fills at its close; close_at_end then closes it
    res = from_signals(data, signal=sig, fill="close", fees=0.001, slippage=0.01)
    assert res.fills["price"].to_list() == [10.0 * 1.01, 10.0]  # the closing fill has no slippage
    assert res.trades.height == 1 and res.trades["bars_held"][0] == 0
    assert res.fills["quantity"][0] == math.floor(10_000.0 / (10.1 * 1.001))
    res = from_signals(data, signal=sig, fill="close", close_at_end=False)
    assert res.fills.height == 1 and res.positions["quantity"][0] == 1000.0
    assert res.trades.height == 0 and res.config["close_at_end"] is False


def test_unaffordable_entry_records_nothing_and_is_not_retried() -> None:
    n = 6
    close = np.array([100.0, 100.0, 40.0, 40.0, 40.0, 40.0])
    data = {"open": close, "close": close}
    sig = np.array([1.0, np.nan, np.nan, np.nan, np.nan, np.nan])
    res = from_signals(data, signal=sig, cash=50.0)  # cannot buy one share at 100
    assert res.fills.height == 0 and res.orders.height == 0 and res.trades.height == 0
    assert res.equity["cash"].to_list() == [50.0] * n


def test_cash_never_negative_long_only_with_fees() -> None:
    rng = np.random.default_rng(7)
    mkt = random_market(rng, 2_000)
    sig = random_signal(rng, 2_000, 0.2)
    res = from_signals(mkt, signal=sig, fees=0.01, slippage=0.01, allow_short=False, cash=1_000.0)
    assert res.trades.height > 20
    assert float(res.equity["cash"].min()) >= 0.0  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------
# booleans, sizing, inputs
# ------------------------------------------------------------------------------------------------


def test_target_from_booleans_matches_state_machine() -> None:
    rng = np.random.default_rng(11)
    for _ in range(30):
        n = int(rng.integers(1, 200))
        arrays = [rng.random(n) < p if rng.random() < 0.8 else None for p in rng.uniform(0.0, 0.3, 4)]
        if all(a is None for a in arrays):
            arrays[0] = rng.random(n) < 0.1
        got = target_from_booleans(*arrays, n=n)
        np.testing.assert_array_equal(got, ref_target_from_booleans(*arrays, n=n))


def test_booleans_precedence_examples() -> None:
    f, t = False, True
    le = np.array([t, f, t, f, f, t, f])
    lx = np.array([f, f, t, t, f, f, f])
    se = np.array([f, f, f, f, t, t, f])
    sx = np.array([f, t, f, f, f, f, t])
    # bar 0 long; 1 short exit while long: no effect; 2 exit + entry: stays long; 3 exit: flat;
    # 4 short; 5 both entries: ignored (still short); 6 short exit: flat
    np.testing.assert_array_equal(target_from_booleans(le, lx, se, sx), [1, 1, 1, 0, -1, -1, 0])


def test_booleans_and_signal_paths_agree() -> None:
    rng = np.random.default_rng(3)
    mkt = random_market(rng, 300)
    le, lx, se, sx = (rng.random(300) < 0.05 for _ in range(4))
    a = from_signals(mkt, le, lx, se, sx, fees=0.002)
    b = from_signals(mkt, signal=target_from_booleans(le, lx, se, sx), fees=0.002)
    assert a.trades.equals(b.trades) and a.equity.equals(b.equity) and a.fills.equals(b.fills)
    assert a.config["signal_kind"] == "booleans" and b.config["signal_kind"] == "signal"


def test_size_fraction_and_fractional_shares() -> None:
    rng = np.random.default_rng(5)
    mkt = random_market(rng, 250)
    sig = random_signal(rng, 250, 0.1)
    tgt = ref_target_from_signal(sig)
    for frac, whole in ((0.5, True), (None, False), (0.3, False)):
        res = from_signals(mkt, signal=sig, size=frac, whole_shares=whole, fees=0.001, slippage=0.001)
        ref = reference(
            mkt["open"],
            mkt["close"],
            tgt,
            cash=10_000.0,
            fees=0.001,
            slippage=0.001,
            fill="next_open",
            allow_short=True,
            close_at_end=True,
            frac=frac,
            whole=whole,
        )
        assert res.fills.height == len(ref["fills"]) > 0
        np.testing.assert_allclose(res.fills["quantity"].to_numpy(), [f[2] for f in ref["fills"]], rtol=1e-12)
        np.testing.assert_allclose(res.equity["equity"].to_numpy(), ref["equity"], rtol=1e-9)
        if not whole:
            assert not np.all(res.fills["quantity"].to_numpy() == np.floor(res.fills["quantity"].to_numpy()))


def test_size_in_shares_and_value_are_capped_by_equity() -> None:
    close = np.array([10.0, 10.0, 20.0, 20.0])
    data = {"open": close, "close": close}
    sig = np.array([1.0, np.nan, np.nan, np.nan])
    res = from_signals(data, signal=sig, fill="close", size=7, size_type="shares", cash=1_000.0)
    assert res.fills["quantity"].to_list() == [7.0, 7.0]
    res = from_signals(data, signal=sig, fill="close", size=500, size_type="shares", cash=1_000.0)
    assert res.fills["quantity"][0] == 100.0
    res = from_signals(data, signal=sig, fill="close", size=255.0, size_type="value", cash=1_000.0)
    assert res.fills["quantity"][0] == 25.0
    res = from_signals(data, signal=sig, fill="close", size=5_000.0, size_type="value", cash=1_000.0)
    assert res.fills["quantity"][0] == 100.0


def test_input_formats_agree() -> None:
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(9)
    mkt = random_market(rng, 120)
    sig = random_signal(rng, 120, 0.1)
    frame = pl.DataFrame(
        {
            "ts": pl.Series(mkt["ts"]).cast(pl.Datetime("ns", "UTC")),
            "symbol": ["XYZ"] * 120,
            "open": mkt["open"],
            "high": np.maximum(mkt["open"], mkt["close"]),
            "low": np.minimum(mkt["open"], mkt["close"]),
            "close": mkt["close"],
            "volume": np.ones(120),
        }
    )
    pdf = pd.DataFrame(
        {"Open": mkt["open"], "High": mkt["close"], "Low": mkt["close"], "Close": mkt["close"]},
        index=pd.to_datetime(mkt["ts"]),
    )
    a = from_signals(frame, signal=sig)
    b = from_signals(pdf, signal=sig, symbol="XYZ")
    c = from_signals(mkt, signal=sig, symbol="XYZ")
    for other in (b, c):
        assert (
            a.trades.equals(other.trades) and a.equity.equals(other.equity) and a.orders.equals(other.orders)
        )
    assert a.trades["symbol"].unique().to_list() == ["XYZ"]
    # a two-symbol frame needs symbol=
    two = pl.concat([frame, frame.with_columns(pl.lit("ABC").alias("symbol"))]).sort("ts", "symbol")
    with pytest.raises(InvalidArgumentError, match="symbol"):
        from_signals(two, signal=sig)
    d = from_signals(two, signal=sig, symbol="XYZ")
    assert d.equity.equals(a.equity)


def test_result_contents_and_pickling() -> None:
    rng = np.random.default_rng(2)
    mkt = random_market(rng, 100)
    res = from_signals(mkt, signal=random_signal(rng, 100, 0.1), fees=0.001, seed=42, cash=5_000.0)
    assert isinstance(res, BacktestResult)
    assert res.stats == {"bars": 100, "engine": "vectorised"}
    assert res.seed == 42 and res.initial_cash == 5_000.0
    assert res.config["fees"] == 0.001 and res.config["fill"] == "next_open" and res.config["cash"] == 5_000.0
    assert dict(res.equity.schema) == results.EQUITY_SCHEMA
    assert dict(res.trades.schema) == results.TRADES_SCHEMA
    assert dict(res.orders.schema) == results.ORDERS_SCHEMA
    assert dict(res.fills.schema) == results.FILLS_SCHEMA
    assert dict(res.positions.schema) == results.POSITIONS_SCHEMA
    m = res.metrics
    assert m["n_trades"] == res.trades.height
    np.testing.assert_allclose(m["final_equity"], res.equity["equity"][-1])
    back = pickle.loads(pickle.dumps(res))
    assert back.trades.equals(res.trades) and back.equity.equals(res.equity)


def test_bad_arguments() -> None:
    data = {"close": np.array([1.0, 2.0, 3.0])}
    sig = np.array([1.0, np.nan, 0.0])
    with pytest.raises(InvalidArgumentError, match="either signal"):
        from_signals(data, np.array([True, False, False]), signal=sig)
    with pytest.raises(InvalidArgumentError, match="pass signal"):
        from_signals(data)
    with pytest.raises(InvalidArgumentError, match=r"\+1, 0, -1"):
        from_signals(data, signal=np.array([2.0, 0.0, 0.0]))
    with pytest.raises(InvalidArgumentError, match="3 bars"):
        from_signals(data, signal=np.array([1.0, 0.0]))
    with pytest.raises(DTypeError, match="boolean"):
        from_signals(data, np.array([1, 0, 0]))
    with pytest.raises(InvalidArgumentError, match="fill"):
        from_signals(data, signal=sig, fill="open")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="fees"):
        from_signals(data, signal=sig, fees=-0.1)
    with pytest.raises(InvalidArgumentError, match="size"):
        from_signals(data, signal=sig, size=1.5)
    with pytest.raises(InvalidArgumentError, match="cash"):
        from_signals(data, signal=sig, cash=0.0)
    with pytest.raises(InvalidArgumentError, match="increasing"):
        from_signals({"ts": np.array([3, 2, 1]), "close": data["close"]}, signal=sig)
    with pytest.raises(InvalidArgumentError, match="positive"):
        from_signals({"close": np.array([1.0, np.nan, 3.0])}, signal=sig)
    with pytest.raises(DTypeError, match="data"):
        from_signals([1.0, 2.0], signal=sig)


# ------------------------------------------------------------------------------------------------
# SMA crosses
# ------------------------------------------------------------------------------------------------


def sma(x: np.ndarray, k: int) -> np.ndarray:
    out = np.full(x.shape[0], np.nan)
    c = np.cumsum(np.concatenate(([0.0], x)))
    out[k - 1 :] = (c[k:] - c[:-k]) / k
    return out


def test_signal_from_crossover_matches_loop() -> None:
    rng = np.random.default_rng(4)
    x = np.cumsum(rng.normal(size=500))
    fast, slow = sma(x, 5), sma(x, 20)
    fast[100] = slow[100]  # a touch without a strict cross
    got = signal_from_crossover(fast, slow)
    for t in range(500):
        want = math.nan
        if t > 0 and fast[t - 1] < slow[t - 1] and fast[t] > slow[t]:
            want = 1.0
        elif t > 0 and fast[t - 1] > slow[t - 1] and fast[t] < slow[t]:
            want = -1.0
        assert (math.isnan(want) and math.isnan(got[t])) or got[t] == want, t


def test_sma_cross_on_random_walk() -> None:
    rng = np.random.default_rng(12)
    mkt = random_market(rng, 1_500)
    sig = signal_from_crossover(sma(mkt["close"], 10), sma(mkt["close"], 30))
    res = from_signals(mkt, signal=sig, fees=0.0005)
    ref = reference(
        mkt["open"],
        mkt["close"],
        ref_target_from_signal(sig),
        cash=10_000.0,
        fees=0.0005,
        slippage=0.0,
        fill="next_open",
        allow_short=True,
        close_at_end=True,
    )
    assert_matches_reference(res, ref, mkt["ts"])
    # stop-and-reverse: directions alternate, each trade opens the bar after a cross
    dirs = res.trades["direction"].to_list()
    assert len(dirs) > 10 and all(a != b for a, b in itertools.pairwise(dirs))
    cross_bars = np.flatnonzero(~np.isnan(sig))
    np.testing.assert_array_equal(
        res.trades["entry_ts"].dt.epoch("ns").to_numpy(), mkt["ts"][cross_bars[: len(dirs)] + 1]
    )


# ------------------------------------------------------------------------------------------------
# backtesting.py
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("commission", [0.0, 0.002])
def test_sma_cross_matches_backtesting_py(commission: float) -> None:
    backtesting = pytest.importorskip("backtesting")
    from backtesting.lib import crossover
    from backtesting.test import GOOG, SMA

    class SmaCross(backtesting.Strategy):  # type: ignore[misc]
        def init(self) -> None:
            self.sma1 = self.I(SMA, self.data.Close, 10)
            self.sma2 = self.I(SMA, self.data.Close, 30)

        def next(self) -> None:
            if crossover(self.sma1, self.sma2):
                self.position.close()
                self.buy()
            elif crossover(self.sma2, self.sma1):
                self.position.close()
                self.sell()

    bt = backtesting.Backtest(GOOG, SmaCross, cash=10_000, commission=commission, finalize_trades=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # pandas 3 deprecations inside backtesting.py
        stats = bt.run()
    theirs = stats["_trades"]

    close = GOOG["Close"]
    sig = signal_from_crossover(SMA(close, 10).to_numpy(), SMA(close, 30).to_numpy())
    # backtesting.py's finalize_trades=True closes what is left at the last bar's open
    res = from_signals(GOOG, signal=sig, cash=10_000.0, fees=commission, close_at_end="open")
    ours = res.trades

    assert ours.height == len(theirs) > 50
    sizes = np.where(ours["direction"].to_numpy() == "long", 1.0, -1.0) * ours["quantity"].to_numpy()
    np.testing.assert_array_equal(sizes, theirs["Size"].to_numpy())
    for mine, their in (("entry_ts", "EntryTime"), ("exit_ts", "ExitTime")):
        np.testing.assert_array_equal(
            ours[mine].dt.epoch("ns").to_numpy(),
            theirs[their].to_numpy().astype("datetime64[ns]").astype(np.int64),  # pandas 3 keeps us
        )
    np.testing.assert_array_equal(ours["entry_price"].to_numpy(), theirs["EntryPrice"].to_numpy())
    np.testing.assert_array_equal(ours["exit_price"].to_numpy(), theirs["ExitPrice"].to_numpy())
    assert ours["exit_price"][-1] == float(GOOG["Open"].iloc[-1])
    np.testing.assert_allclose(ours["pnl"].to_numpy(), theirs["PnL"].to_numpy(), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(
        ours["fees"].to_numpy(), theirs["Commission"].to_numpy(), rtol=1e-9, atol=1e-12
    )
    # the equity curves agree bar for bar, the final equity included
    their_eq = stats["_equity_curve"]["Equity"].to_numpy()
    np.testing.assert_allclose(res.equity["equity"].to_numpy(), their_eq, rtol=1e-12)
    np.testing.assert_allclose(res.metrics["final_equity"], stats["Equity Final [$]"], rtol=1e-12)

    # the default closes at the last close instead: only the last trade's exit differs
    at_close = from_signals(GOOG, signal=sig, cash=10_000.0, fees=commission)
    assert at_close.trades.head(ours.height - 1).equals(ours.head(ours.height - 1))
    move = float(GOOG["Close"].iloc[-1]) - float(GOOG["Open"].iloc[-1])
    adjust = sizes[-1] * move - commission * abs(sizes[-1]) * move
    np.testing.assert_allclose(at_close.equity["equity"][-1], their_eq[-1] + adjust, rtol=1e-12)
