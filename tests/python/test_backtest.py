"""The event-driven backtester: equivalence with backtesting.py, fill policy, accounting, risk,
determinism and agreement with the vectorised path."""

from __future__ import annotations

import math
import pickle
import warnings

import numpy as np
import polars as pl
import pytest

import neural_trader as nt
from neural_trader import strategies as S
from neural_trader.backtest import Latency
from neural_trader.types import Bar, Direction, Fill, Signal

DAY = 86_400_000_000_000


def frame(rows, symbol="X", start=0):
    """Bars from (open, high, low, close) rows, one per day."""
    ts = [start + (i + 1) * DAY for i in range(len(rows))]
    o, h, low, c = ([float(v) for v in x] for x in zip(*rows))
    return pl.DataFrame(
        {"ts": pl.Series(ts, dtype=pl.Int64).cast(pl.Datetime("ns", "UTC")), "symbol": [symbol] * len(rows),
         "open": o, "high": h, "low": low, "close": c, "volume": [1.0] * len(rows)}
    )


class Script(S.Strategy):
    """Calls actions[i](self, bar) at the i-th bar."""

    def __init__(self, actions):
        super().__init__()
        self.actions = actions
        self.i = 0
        self.fills = []

    def on_bar(self, bar):
        act = self.actions.get(self.i)
        self.i += 1
        if act is not None:
            act(self, bar)

    def on_fill(self, fill):
        self.fills.append(fill)


# --------------------------------------------------------------------------------------------
# equivalence with backtesting.py


def test_sma_cross_matches_backtesting_py_on_goog():
    bt_mod = pytest.importorskip("backtesting")
    from backtesting.lib import crossover
    from backtesting.test import GOOG, SMA

    class SmaCross(bt_mod.Strategy):
        def init(self):
            self.ma1 = self.I(SMA, self.data.Close, 10)
            self.ma2 = self.I(SMA, self.data.Close, 30)

        def next(self):
            if crossover(self.ma1, self.ma2):
                self.position.close()
                self.buy()
            elif crossover(self.ma2, self.ma1):
                self.position.close()
                self.sell()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # pandas 3 deprecations inside backtesting.py
        stats = bt_mod.Backtest(GOOG, SmaCross, cash=10_000, commission=0, finalize_trades=True).run()
    ref = stats._trades
    res = nt.Backtest(GOOG, S.MovingAverageCross(10, 30), cash=10_000, close_at_end="open").run()
    ours = res.trades
    assert ours.height == len(ref) > 50
    assert ours["quantity"].to_list() == [float(abs(x)) for x in ref["Size"]]
    assert ours["direction"].to_list() == ["long" if x > 0 else "short" for x in ref["Size"]]
    ent = ours["entry_ts"].dt.replace_time_zone(None).to_list()
    ext = ours["exit_ts"].dt.replace_time_zone(None).to_list()
    assert ent == [t.to_pydatetime() for t in ref["EntryTime"]]
    assert ext == [t.to_pydatetime() for t in ref["ExitTime"]]
    np.testing.assert_allclose(ours["entry_price"].to_numpy(), ref["EntryPrice"].to_numpy(), rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours["exit_price"].to_numpy(), ref["ExitPrice"].to_numpy(), rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours["pnl"].to_numpy(), ref["PnL"].to_numpy(), rtol=1e-9, atol=1e-6)
    assert res.equity["equity"][-1] == pytest.approx(stats["Equity Final [$]"], rel=1e-12)
    # the equity curves agree bar by bar from the first bar the strategy saw
    eq_ref = stats._equity_curve["Equity"].to_numpy()
    np.testing.assert_allclose(res.equity["equity"].to_numpy(), eq_ref, rtol=1e-12)


# --------------------------------------------------------------------------------------------
# fill policy


def test_market_order_fills_at_next_open_by_default_and_at_close_on_request():
    data = frame([(10, 11, 9, 10.5), (12, 13, 11, 12.5), (14, 15, 13, 14.5)])
    for fill, price, day in (("next_open", 12.0, 2), ("close", 10.5, 1)):
        st = Script({0: lambda s, b: s.buy(10)})
        res = nt.Backtest(data, st, cash=1_000, fill=fill, close_at_end=False).run()
        assert res.fills["price"].to_list() == [price]
        assert res.fills["ts"].dt.epoch("ns").to_list() == [day * DAY]
        assert st.fills == [Fill(day * DAY, 1, "X", 1, 10.0, price, 0.0)]


def test_stop_loss_and_take_profit_in_one_bar_resolve_pessimistically():
    rows = [(100, 101, 99, 100), (100, 101, 99, 100), (100, 106, 94, 100), (100, 101, 99, 100)]
    data = frame(rows)
    act = {0: lambda s, b: s.buy(1, stop_loss=95.0, take_profit=105.0)}
    pess = nt.Backtest(data, Script(dict(act)), cash=1_000, close_at_end=False).run()
    opti = nt.Backtest(data, Script(dict(act)), cash=1_000, close_at_end=False, intrabar="optimistic").run()
    # entry at bar 1's open, both exits inside bar 2: the stop first (pessimistic), the target (optimistic)
    assert pess.fills["price"].to_list() == [100.0, 95.0]
    assert opti.fills["price"].to_list() == [100.0, 105.0]
    for res, other in ((pess, "limit"), (opti, "stop")):
        cancelled = res.orders.filter(pl.col("status") == "cancelled")
        assert cancelled["type"].to_list() == [other]
        assert cancelled["reason"].to_list() == ["oco"]
    assert pess.trades["pnl"].to_list() == [-5.0]


def test_a_gap_through_a_stop_fills_at_the_open():
    rows = [(100, 101, 99, 100), (100, 101, 99, 100), (90, 92, 88, 91), (91, 92, 90, 91)]
    res = nt.Backtest(frame(rows), Script({0: lambda s, b: s.buy(1, stop_loss=95.0)}), cash=1_000,
                      close_at_end=False).run()
    assert res.fills["price"].to_list() == [100.0, 90.0]
    # and a gap through a buy stop entry fills at the open too
    rows = [(100, 101, 99, 100), (110, 112, 109, 111), (111, 112, 110, 111)]
    res = nt.Backtest(frame(rows), Script({0: lambda s, b: s.buy(1, stop=105.0)}), cash=1_000,
                      close_at_end=False).run()
    assert res.fills["price"].to_list() == [110.0]


def test_limit_orders_fill_at_the_limit_or_a_better_open():
    rows = [(100, 101, 99, 100), (100, 100.5, 97, 98), (96, 97, 95, 96), (96, 97, 95, 96)]
    res = nt.Backtest(frame(rows), Script({0: lambda s, b: s.buy(1, price=98.0), 1: lambda s, b: s.buy(1, price=97.0)}),
                      cash=1_000, close_at_end=False).run()
    # the first limit touches 98 inside bar 1; the second sees bar 2 open at 96, below its limit
    assert res.fills["price"].to_list() == [98.0, 96.0]


def test_latency_distribution_is_honoured():
    n = 400
    closes = 100 + np.cumsum(np.random.default_rng(3).normal(0, 0.5, n))
    ts = np.arange(1, n + 1, dtype=np.int64) * 60_000_000_000  # one-minute bars
    data = pl.DataFrame({"ts": pl.Series(ts).cast(pl.Datetime("ns", "UTC")), "symbol": "X", "open": closes,
                         "high": closes + 1, "low": closes - 1, "close": closes, "volume": 1.0})

    class EveryBar(S.Strategy):
        def on_bar(self, bar):
            self.order_target(1.0 if self.position() <= 0 else 0.0)

    lat = Latency.exponential(150.0)  # seconds: orders arrive 0..several bars later
    res = nt.Backtest(data, EveryBar(), cash=1e6, latency=lat, seed=11, close_at_end=False).run()
    orders = res.orders.filter(pl.col("status") == "filled")
    sent = orders["ts"].dt.epoch("ns").to_numpy()
    arrival = orders["arrival_ts"].dt.epoch("ns").to_numpy()
    # the draws are the distribution's, in order, from the seeded generator
    expected = lat(np.random.default_rng(11), 4096)
    all_orders = res.orders.sort("order_id")
    delays = (all_orders["arrival_ts"].dt.epoch("ns") - all_orders["ts"].dt.epoch("ns")).to_numpy()
    np.testing.assert_array_equal(delays, (expected[: delays.size] * 1e9).astype(np.int64))
    # each order fills at the open of the first bar after it arrived
    fills = res.fills.join(orders.select("order_id", "arrival_ts"), on="order_id")
    fts = fills["ts"].dt.epoch("ns").to_numpy()
    first_after = ts[np.searchsorted(ts, fills["arrival_ts"].dt.epoch("ns").to_numpy(), side="right")]
    np.testing.assert_array_equal(fts, first_after)
    assert (arrival > sent).all()


def test_finite_depth_walks_the_book_and_carries_the_rest():
    rows = [(100, 101, 99, 100)] * 4
    res = nt.Backtest(frame(rows), Script({0: lambda s, b: s.buy(25)}), cash=1e6, depth=10, levels=2,
                      tick_size=0.5, spread=0.01, close_at_end=False).run()
    # ask levels at 100.5 and 101.0 (half a 1 % spread, on the 0.5 grid), 10 units each
    fills = res.fills
    assert fills["quantity"].to_list() == [20.0, 5.0]
    assert fills["price"].to_list() == [pytest.approx((10 * 100.5 + 10 * 101.0) / 20), 100.5]
    assert fills["ts"].dt.epoch("ns").to_list() == [2 * DAY, 3 * DAY]
    assert res.orders["status"].to_list() == ["filled"]


def test_shared_cash_is_never_overdrawn():
    data = nt.data.synthetic(["A", "B", "C"], 300, seed=5, freq="1d")

    class Greedy(S.Strategy):
        def on_bar(self, bar):
            if self.position() == 0:
                self.buy(40)  # ~4,000 per symbol against 10,000 of cash: the third cannot be paid

    res = nt.Backtest(data, Greedy(), cash=10_000, close_at_end=False).run()
    assert (res.equity["cash"].to_numpy() >= -1e-9).all()
    rejected = res.orders.filter(pl.col("status") == "rejected")
    assert rejected.height > 0
    assert set(rejected["reason"].to_list()) == {"insufficient_cash"}


# --------------------------------------------------------------------------------------------
# accounting


def _replay_equity(res, data):
    """Cash and positions rebuilt from the fills, marked at each step's closes."""
    fills = res.fills.with_columns(pl.col("ts").dt.epoch("ns").alias("t"))
    closes = data.with_columns(pl.col("ts").dt.epoch("ns").alias("t"))
    steps = res.equity["ts"].dt.epoch("ns").to_numpy()
    cash = res.initial_cash
    pos: dict[str, float] = {}
    last: dict[str, float] = {}
    fi = 0
    frows = fills.sort("t", "order_id").rows(named=True)
    crow = closes.sort("t", "symbol").rows(named=True)
    ci = 0
    out = []
    for t in steps:
        while ci < len(crow) and crow[ci]["t"] <= t:
            last[crow[ci]["symbol"]] = crow[ci]["close"]
            ci += 1
        while fi < len(frows) and frows[fi]["t"] <= t:
            f = frows[fi]
            cash -= f["side"] * f["quantity"] * f["price"] + f["fee"]
            pos[f["symbol"]] = pos.get(f["symbol"], 0.0) + f["side"] * f["quantity"]
            fi += 1
        out.append((cash, cash + sum(q * last[s] for s, q in pos.items())))
    return np.array(out)


def test_cash_plus_positions_is_equity_at_every_step_and_pnl_adds_up():
    data = nt.data.synthetic(["A", "B"], 2_000, seed=2, freq="1h")
    res = nt.Backtest(data, S.MeanReversion(20, 1.5, 0.3, size=0.45), cash=50_000, fees=0.001, fee_fixed=0.5,
                      slippage=0.0005, close_at_end=True).run()
    assert res.fills.height > 50
    rebuilt = _replay_equity(res, data)
    np.testing.assert_allclose(res.equity["cash"].to_numpy(), rebuilt[:, 0], rtol=1e-9)
    np.testing.assert_allclose(res.equity["equity"].to_numpy(), rebuilt[:, 1], rtol=1e-9)
    # everything closed at the end: the trades' P&L (net of fees) is the change in equity
    final = res.equity["equity"][-1]
    assert res.trades["pnl"].sum() == pytest.approx(final - res.initial_cash, rel=1e-9)
    assert res.trades["fees"].sum() == pytest.approx(res.fills["fee"].sum(), rel=1e-9)
    assert res.positions["quantity"].abs().max() < 1e-9


def test_borrow_cost_on_shorts():
    rows = [(100, 100, 100, 100)] * 3
    data = frame(rows)
    data = data.with_columns(
        pl.Series("ts", [0, 365 * DAY + DAY // 4, 2 * (365 * DAY + DAY // 4)], dtype=pl.Int64)
        .cast(pl.Datetime("ns", "UTC")))
    res = nt.Backtest(data, Script({0: lambda s, b: s.sell(10)}), cash=10_000, borrow_rate=0.1, fill="close",
                      close_at_end=True).run()
    # short 10 x 100 for two 365.25-day years at 10 %: 200 of borrow cost
    assert res.equity["equity"][-1] == pytest.approx(10_000 - 200, rel=1e-12)
    assert res.trades["pnl"].to_list() == [pytest.approx(-200)]


def test_portfolio_ledger_alone():
    pf = nt.portfolio.Portfolio(10_000, symbols=["AAA"])
    pf.fill("AAA", 1, 10, 101.0, fee=1.0, ts=0)
    pf.mark("AAA", 103.0, ts=1)
    assert pf.equity == pytest.approx(10_019.0)
    pf.fill("AAA", -1, 15, 104.0, fee=1.5, ts=2)  # closes 10, opens a 5-unit short
    assert pf.position("AAA") == -5
    t = pf.trades()
    assert t["pnl"].to_list() == [pytest.approx(30 - 1 - 1.0)]
    assert pf.realized_pnl == pytest.approx(30.0)
    clone = pickle.loads(pickle.dumps(pf))
    assert clone.equity == pf.equity and clone.position("AAA") == -5
    assert clone.trades().equals(t)
    with pytest.raises(nt.errors.InvalidArgumentError):
        pf.fill("AAA", 2, 1, 1.0)


# --------------------------------------------------------------------------------------------
# risk, idempotency, signals


def test_risk_checks_reject_with_their_reason():
    data = frame([(100, 101, 99, 100)] * 6)
    risk = nt.risk.RiskManager([nt.risk.MaxPosition(15), nt.risk.AllowedSymbols(["X"])])
    st = Script({0: lambda s, b: s.buy(10), 1: lambda s, b: s.buy(10), 2: lambda s, b: s.sell(5)})
    res = nt.Backtest(data, st, cash=1e6, risk=risk, close_at_end=False).run()
    assert res.orders["status"].to_list() == ["filled", "rejected", "filled"]
    assert res.orders["reason"].to_list() == [None, "max_position", None]


def test_duplicate_client_ids_are_rejected():
    data = frame([(100, 101, 99, 100)] * 4)
    st = Script({0: lambda s, b: s.buy(1, client_id="abc"), 1: lambda s, b: s.buy(1, client_id="abc"),
                 2: lambda s, b: s.buy(1, client_id="abd")})
    res = nt.Backtest(data, st, cash=1e6, close_at_end=False).run()
    assert res.orders["status"].to_list() == ["filled", "rejected", "filled"]
    assert res.orders["reason"][1] == "duplicate_client_id"


def test_signals_set_target_positions_and_weak_ones_are_ignored():
    data = frame([(100, 101, 99, 100)] * 6)
    st = Script({
        0: lambda s, b: s.signal(Signal(None, Direction.LONG, strength=0.5)),
        2: lambda s, b: s.signal(Signal(None, Direction.SHORT, strength=1.0, confidence=0.1)),
        3: lambda s, b: s.signal(Signal(None, Direction.CLOSE)),
    })
    res = nt.Backtest(data, st, cash=10_000, min_confidence=0.5, close_at_end=False).run()
    assert res.fills["quantity"].to_list() == [50.0, 50.0]
    assert res.fills["side"].to_list() == [1, -1]
    assert res.stats["signals"] == 3


# --------------------------------------------------------------------------------------------
# determinism and the vectorised twin


def test_same_seed_same_result():
    data = nt.data.synthetic(["A", "B"], 3_000, seed=4, freq="1m")
    kw = dict(cash=100_000, fees=0.0002, latency=Latency.lognormal(30.0, 1.0), seed=9)
    a = nt.Backtest(data, S.RsiReversal(14), **kw).run()
    b = nt.Backtest(data, S.RsiReversal(14), **kw).run()
    c = nt.Backtest(data, S.RsiReversal(14), **{**kw, "seed": 10}).run()
    for name in ("equity", "trades", "orders", "fills"):
        assert getattr(a, name).equals(getattr(b, name))
    assert not a.orders.equals(c.orders)


def test_event_driven_and_vectorised_paths_agree():
    data = nt.data.synthetic(["X"], 5_000, seed=8, freq="1h")
    rng = np.random.default_rng(1)
    sig = np.full(data.height, np.nan)
    idx = np.sort(rng.choice(data.height, 300, replace=False))
    sig[idx] = rng.choice([-1.0, 0.0, 1.0], idx.size)
    ev = nt.Backtest(data, S.SignalReplay(sig), cash=10_000).run()
    vec = nt.Backtest.from_signals(data, signal=sig, cash=10_000)
    assert ev.trades.height == vec.trades.height > 50
    for col in ("quantity", "entry_price", "exit_price", "pnl"):
        np.testing.assert_allclose(ev.trades[col].to_numpy(), vec.trades[col].to_numpy(), rtol=1e-9)
    assert ev.trades["entry_ts"].equals(vec.trades["entry_ts"])
    np.testing.assert_allclose(ev.equity["equity"].to_numpy(), vec.equity["equity"].to_numpy(), rtol=1e-9)


# --------------------------------------------------------------------------------------------
# ticks, strategies, objects


def test_tick_data_calls_on_tick_and_fills_at_the_tick():
    ticks = nt.data.synthetic(["X"], 2_000, kind="ticks", seed=3)
    seen = []

    class T(S.Strategy):
        def on_tick(self, tick):
            seen.append(tick.price)
            if len(seen) == 10:
                self.buy(1)

    res = nt.Backtest(ticks, T(), cash=1e6, close_at_end=False).run()
    assert len(seen) == ticks.height
    assert res.fills["price"].to_list() == [seen[9]]


def test_builtin_strategies_trade_and_pairs_trades_both_legs():
    data = nt.data.synthetic(["A", "B"], 3_000, seed=6, freq="1h", correlation=0.9)
    res = nt.Backtest(data, S.PairsTrading("A", "B", lookback=50, entry_z=1.5), cash=100_000).run()
    legs = res.fills.group_by("order_id").agg(pl.col("symbol").first())
    assert set(legs["symbol"].to_list()) == {"A", "B"}
    per_ts = res.orders.filter(pl.col("tag").is_null()).group_by("ts").agg(pl.col("side").sum(), pl.len())
    assert (per_ts["len"] == 2).all() and (per_ts["side"] == 0).all()  # each entry/exit: one leg each way
    for strat in (S.MovingAverageCross(5, 20, kind="ema"), S.MeanReversion(), S.RsiReversal()):
        assert nt.Backtest(data, strat, cash=100_000).run().trades.height > 0


def test_pattern_strategy_trades_on_forecasts():
    data = nt.data.synthetic(["X"], 800, seed=1, freq="1h")
    st = S.PatternStrategy(window=8, horizon=3, k=5, min_patterns=50, every=5)
    res = nt.Backtest(data, st, cash=10_000).run()
    assert st.forecasts > 50
    assert res.stats["signals"] > 0 and res.fills.height > 0


def test_objects_repr_and_pickle():
    b = Bar(5, "X", 1.0, 2.0, 0.5, 1.5, 10.0)
    assert pickle.loads(pickle.dumps(b)) == b and "close=1.5" in repr(b)
    for strat in (S.MovingAverageCross(3, 9), S.MeanReversion(10), S.RsiReversal(7), S.PairsTrading("A", "B")):
        clone = pickle.loads(pickle.dumps(strat))
        assert repr(clone) == repr(strat)
    sig = Signal("X", Direction.LONG, 0.5, 0.9)
    assert pickle.loads(pickle.dumps(sig)) == sig
    with pytest.raises(nt.errors.InvalidArgumentError):
        Signal("X", Direction.LONG, 1.5)


def test_bad_arguments_raise_clear_errors():
    data = frame([(100, 101, 99, 100)] * 3)
    with pytest.raises(nt.errors.DTypeError):
        nt.Backtest(data, object())
    with pytest.raises(nt.errors.InvalidArgumentError):
        nt.Backtest(data, S.MovingAverageCross(), fill="sometimes")
    with pytest.raises(nt.errors.InvalidArgumentError):
        S.MovingAverageCross(30, 10)
    with pytest.raises(nt.errors.InvalidArgumentError):
        nt.Backtest(data, Script({0: lambda s, b: s.buy(-1)})).run()
    with pytest.raises(nt.errors.InvalidArgumentError):
        Latency("gamma", 1.0)
    assert math.isnan(nt.Backtest(data, S.Strategy(), cash=1).run().metrics["win_rate"])


def test_streamed_file_gives_the_same_result_as_memory(tmp_path):
    data = nt.data.synthetic(["A", "B"], 20_000, seed=12, freq="1m")
    path = tmp_path / "bars.parquet"
    data.write_parquet(path)
    whole = nt.Backtest(data, S.MovingAverageCross(10, 30, size=0.5), cash=100_000, fees=0.0003).run()
    scan = nt.data.scan(path, chunk_rows=7_001)
    streamed = nt.Backtest(scan, S.MovingAverageCross(10, 30, size=0.5), cash=100_000, fees=0.0003).run()
    for name in ("equity", "trades", "fills"):
        assert getattr(whole, name).equals(getattr(streamed, name)), name
    from_path = nt.Backtest(str(path), S.MovingAverageCross(10, 30, size=0.5), cash=100_000, fees=0.0003).run()
    assert from_path.equity.equals(whole.equity)


def test_day_orders_expire_at_the_session_close():
    cal = nt.data.Calendar(tz="UTC", open="09:00", close="17:00")
    hour = 3_600_000_000_000
    day0 = 18_001 * DAY  # Monday 2019-04-15
    ts = [day0 + 10 * hour, day0 + 12 * hour, day0 + 16 * hour, day0 + DAY + 10 * hour, day0 + DAY + 11 * hour]
    n = len(ts)
    data = pl.DataFrame({"ts": pl.Series(ts, dtype=pl.Int64).cast(pl.Datetime("ns", "UTC")), "symbol": "X",
                         "open": [100.0] * 4 + [99.0], "high": [101.0, 101.0, 101.0, 101.0, 99.5],
                         "low": [99.0, 99.5, 99.5, 99.0, 98.0], "close": [100.0] * 4 + [99.0], "volume": 1.0})
    act = {0: lambda s, b: s.buy(1, price=98.5, tif="day"), 1: lambda s, b: s.buy(1, price=98.5, tif="gtc")}
    res = nt.Backtest(data, Script(act), cash=1e6, calendar=cal, close_at_end=False).run()
    # neither limit trades on day one; the DAY order is gone by day two, the GTC one fills there
    assert res.orders.sort("order_id")["status"].to_list() == ["expired", "filled"]
    assert res.fills["ts"].dt.epoch("ns").to_list() == [day0 + DAY + 11 * hour]


def test_an_order_for_a_symbol_before_its_first_bar_is_sized_at_that_bar():
    a = frame([(100, 101, 99, 100)] * 5, symbol="A")
    b = frame([(50, 51, 49, 50)] * 3, symbol="B", start=2 * DAY)
    st = Script({0: lambda s, bar: (s.buy(size=0.5, symbol="B"), s.order_target_percent(0.25, "B"))})
    res = nt.Backtest(pl.concat([a, b]).sort("ts", "symbol"), st, cash=10_000, close_at_end=False).run()
    # B's first bar opens at 50: half the cash buys 100 units; then the target of 25 % sells 50
    assert res.fills["quantity"].to_list() == [100.0, 50.0]
    assert res.fills["side"].to_list() == [1, -1]
    assert res.fills["ts"].dt.epoch("ns").to_list() == [3 * DAY, 3 * DAY]


def test_fractional_quantities():
    data = frame([(100, 101, 99, 100), (30, 31, 29, 30), (30, 31, 29, 30)])
    st = Script({0: lambda s, b: s.order_target_percent(1.0), 1: lambda s, b: s.buy(0.125)})
    whole = nt.Backtest(data, Script(dict(st.actions)), cash=1_000, close_at_end=False).run()
    frac = nt.Backtest(data, st, cash=1_000, fractional=True, close_at_end=False).run()
    # whole units: floor(1000 / 30) = 33, leaving 10 of cash for the explicit 0.125 (3.75)
    assert whole.fills["quantity"].to_list() == [33.0, 0.125]
    # fractional: all the cash goes into 33.33 units, so the 0.125 cannot be paid
    assert frac.fills["quantity"].to_list() == [pytest.approx(1000 / 30)]
    assert frac.orders["reason"].to_list() == [None, "insufficient_cash"]
    assert frac.orders["status"].to_list() == ["filled", "rejected"]


def test_a_strategy_error_names_the_event():
    data = frame([(100, 101, 99, 100)] * 3)

    class Broken(S.Strategy):
        def on_bar(self, bar):
            if bar.ts == 2 * DAY:
                raise ZeroDivisionError("boom")

    with pytest.raises(ZeroDivisionError) as info:
        nt.Backtest(data, Broken()).run()
    assert any("symbol 'X'" in note and str(2 * DAY) in note for note in getattr(info.value, "__notes__", []))


def test_target_orders_that_cannot_trade_are_recorded_sensibly():
    data = frame([(100, 101, 99, 100)] * 4)
    res = nt.Backtest(data, S.SignalReplay([-1.0, np.nan, np.nan, np.nan]), cash=50, close_at_end=False).run()
    row = res.orders.row(0, named=True)
    assert (row["status"], row["reason"], row["side"], row["quantity"]) == ("cancelled", "nothing_to_trade", -1, 0.0)


def test_all_in_orders_against_a_finite_book_trade_what_the_cash_pays():
    ticks = nt.data.synthetic(["X"], 3_000, kind="ticks", seed=3, freq="1s")
    for allow_short in (True, False):
        res = nt.Backtest(ticks, S.MovingAverageCross(10, 30, allow_short=allow_short), cash=10_000, depth=100,
                          spread=0.001, close_at_end=False).run()
        assert res.orders.filter(pl.col("reason") == "insufficient_cash").height == 0
        assert res.fills.height > 10
        if not allow_short:
            assert (res.equity["cash"].to_numpy() >= -1e-9).all()


def test_a_builtin_resends_a_target_after_a_rejection():
    class RejectFirst(nt.risk.Check):
        def __init__(self):
            self.seen = 0

        def check(self, order, account):
            self.seen += 1
            return "first" if self.seen == 1 else None

    data = frame([(100, 101, 99, 100)] * 5)
    risk = nt.risk.RiskManager([RejectFirst()])
    res = nt.Backtest(data, S.SignalReplay([1.0, np.nan, 1.0, np.nan, np.nan]), cash=1_000, risk=risk,
                      close_at_end=False).run()
    assert res.orders["status"].to_list() == ["rejected", "filled"]
    assert res.fills["quantity"].to_list() == [10.0]


def test_strategies_see_trading_sessions():
    cal = nt.data.Calendar.nyse()
    bars = nt.data.synthetic(["A", "B"], 400, freq="30m", seed=2, calendar=cal)
    seen = []

    class SessionVwap(S.Strategy):
        def on_start(self):
            self.pv, self.v = {}, {}

        def on_bar(self, bar):
            if self.new_session:
                self.pv[bar.symbol], self.v[bar.symbol] = 0.0, 0.0
            self.pv[bar.symbol] += bar.close * bar.volume
            self.v[bar.symbol] += bar.volume
            seen.append((bar.ts, bar.symbol, self.session, self.new_session))

    nt.Backtest(bars, SessionVwap(), calendar=cal).run()
    ts = np.array([s[0] for s in seen])
    sessions = np.array([s[2] for s in seen])
    np.testing.assert_array_equal(sessions, cal.session(ts))
    frame = pl.DataFrame({"symbol": [s[1] for s in seen], "session": sessions, "new": [s[3] for s in seen]})
    first = frame.with_columns(pl.col("session").shift(1).over("symbol").alias("prev"))
    expected = (first["prev"].is_null() | (first["prev"] != first["session"])).to_list()
    assert frame["new"].to_list() == expected
    assert sum(expected) > 10
    with pytest.raises(RuntimeError, match="calendar"):
        nt.Backtest(bars, Script({0: lambda s, b: s.session})).run()


def test_a_strategy_object_runs_twice_from_its_start():
    data = nt.data.synthetic(["X"], 2_000, seed=8, freq="1h")
    sig = np.full(data.height, np.nan)
    sig[[100, 600, 1200]] = [1.0, -1.0, 0.0]
    for strat in (S.SignalReplay(sig), S.MovingAverageCross(10, 30)):
        first = nt.Backtest(data, strat, cash=10_000).run()
        again = nt.Backtest(data, strat, cash=10_000).run()
        assert first.trades.height > 0 and again.trades.equals(first.trades)
