"""Risk: pre-trade checks, circuit breaker, drawdown halt, VaR / CVaR.

The checks and the breaker are driven with small dataclass stand-ins for orders and accounts and
compared with hand-worked expectations and reference loops written here. VaR / CVaR are checked
against the normal closed forms (exact for the parametric method; within sampling error for
historical and Monte Carlo, with tolerances derived from the standard errors), against a brute
force of the historical convention, and the Cornish-Fisher tail integral against quadrature.
"""

from __future__ import annotations

import math
import pickle
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import polars as pl
import pytest
from scipy import integrate, stats

import neural_trader as nt
from neural_trader import risk
from neural_trader.errors import DTypeError, InvalidArgumentError

S = 1_000_000_000  # one second in nanoseconds


@dataclass
class Order:
    ts: int
    symbol: str
    side: int
    quantity: float
    price: float = math.nan
    client_id: str | None = None


@dataclass
class Account:
    ts: int = 0
    cash: float = 100_000.0
    equity: float = 100_000.0
    peak_equity: float = 100_000.0
    positions: dict[str, float] = field(default_factory=dict)
    prices: dict[str, float] = field(default_factory=dict)

    def position(self, symbol: str) -> float:
        return self.positions.get(symbol, 0.0)

    def price(self, symbol: str) -> float:
        return self.prices.get(symbol, math.nan)


def buy(ts: float, qty: float = 1.0, symbol: str = "AAA", price: float = math.nan) -> Order:
    return Order(int(ts * S), symbol, int(nt.Side.BUY), qty, price)


def sell(ts: float, qty: float = 1.0, symbol: str = "AAA", price: float = math.nan) -> Order:
    return Order(int(ts * S), symbol, int(nt.Side.SELL), qty, price)


class Deny(risk.Check):
    """Rejects every order of one symbol with a fixed reason."""

    def __init__(self, symbol: str = "BAD", reason: str = "denied") -> None:
        self.symbol = symbol
        self.reason = reason

    def check(self, order: risk.OrderLike, account: risk.AccountLike) -> str | None:
        return self.reason if order.symbol == self.symbol else None


# ---------------------------------------------------------------------------------------------
# Checks
def test_max_position() -> None:
    c = risk.MaxPosition(100)
    acct = Account()
    assert c.check(buy(0, 100), acct) is None
    assert c.check(buy(0, 101), acct) == risk.MAX_POSITION == "max_position"
    assert c.check(sell(0, 100), acct) is None
    assert c.check(sell(0, 100.5), acct) == "max_position"
    acct.positions["AAA"] = 50.0
    assert c.check(buy(0, 50), acct) is None
    assert c.check(buy(0, 51), acct) == "max_position"
    assert c.check(sell(0, 150), acct) is None  # flips to -100: at the limit
    assert c.check(sell(0, 151), acct) == "max_position"
    acct.positions["AAA"] = -80.0
    assert c.check(sell(0, 20), acct) is None
    assert c.check(sell(0, 21), acct) == "max_position"
    # side given as the IntEnum itself
    assert c.check(Order(0, "AAA", nt.Side.SELL, 21.0), acct) == "max_position"
    # floating-point round-off does not reject an order that lands on the limit
    frac = risk.MaxPosition(0.3)
    assert frac.check(buy(0, 0.2), Account(positions={"AAA": 0.1})) is None
    assert 0.1 + 0.2 > 0.3


def test_max_position_reducing_orders_pass_above_the_limit() -> None:
    c = risk.MaxPosition(100)
    acct = Account(positions={"AAA": 150.0})  # above the limit (e.g. the limit was lowered)
    assert c.check(sell(0, 10), acct) is None
    assert c.check(sell(0, 150), acct) is None  # flat
    assert c.check(buy(0, 1), acct) == "max_position"  # increases
    assert c.check(sell(0, 200), acct) is None  # flips to -50: a new position within the limit
    assert c.check(sell(0, 260), acct) == "max_position"  # flips to -110: not a reducing order
    short = Account(positions={"AAA": -150.0})
    assert c.check(buy(0, 50), short) is None
    assert c.check(sell(0, 1), short) == "max_position"
    assert risk.reduces_position(sell(0, 150), acct)
    assert not risk.reduces_position(sell(0, 151), acct)
    assert not risk.reduces_position(buy(0, 1), acct)
    assert not risk.reduces_position(sell(0, 1), Account())


def test_max_position_per_symbol() -> None:
    c = risk.MaxPosition(100, per_symbol={"BBB": 10})
    acct = Account()
    assert c.limit_for("BBB") == 10 and c.limit_for("AAA") == 100
    assert c.check(buy(0, 11, "BBB"), acct) == "max_position"
    assert c.check(buy(0, 10, "BBB"), acct) is None
    assert c.check(buy(0, 11, "AAA"), acct) is None
    only = risk.MaxPosition(math.inf, per_symbol={"BBB": 10})
    assert only.check(buy(0, 1e12, "AAA"), acct) is None
    assert only.check(buy(0, 11, "BBB"), acct) == "max_position"


def test_max_notional() -> None:
    c = risk.MaxNotional(10_000)
    acct = Account(prices={"AAA": 100.0})
    assert c.check(buy(0, 100), acct) is None  # market: 100 * last price 100
    assert c.check(buy(0, 101), acct) == risk.MAX_NOTIONAL == "max_notional"
    assert c.check(sell(0, 101), acct) == "max_notional"
    assert c.check(buy(0, 101, price=99.0), acct) is None  # limit price: 9999
    assert c.check(buy(0, 50, price=201.0), acct) == "max_notional"  # limit price used, not last
    assert c.check(buy(0, 1, "ZZZ"), acct) == "max_notional"  # market order, no price known
    assert c.check(buy(0, 1, "ZZZ", price=5.0), acct) is None


def test_max_order_rate_window() -> None:
    mgr = risk.RiskManager([risk.MaxOrderRate(3, per=1.0)])
    acct = Account()
    assert [mgr.check(buy(t), acct) for t in (0.0, 0.1, 0.2, 0.3)] == [None, None, None, "max_order_rate"]
    assert mgr.check(buy(0.999), acct) == "max_order_rate"
    assert mgr.check(buy(1.0), acct) is None  # window (0, 1]: the order at 0 has left it
    assert mgr.check(buy(1.05), acct) == "max_order_rate"
    assert mgr.rejections == {"max_order_rate": 3}
    assert risk.MaxOrderRate(3, 1_000_000_000).per_ns == risk.MaxOrderRate(3, per=1.0).per_ns == S


def test_max_order_rate_counts_accepted_orders_only() -> None:
    # reference loop: an order is rate-limited when n accepted orders lie in (t - per, t]
    rng = np.random.default_rng(3)
    times = np.cumsum(rng.integers(0, 400_000_000, 400))
    symbols = rng.choice(["AAA", "BAD"], size=400, p=[0.7, 0.3])
    n, per = 4, 1_000_000_000
    mgr = risk.RiskManager([risk.MaxOrderRate(n, per), Deny()])
    accepted: list[int] = []
    seen = set()
    for t, sym in zip(times.tolist(), symbols.tolist()):
        in_window = sum(1 for a in accepted if t - per < a <= t)
        expected = "max_order_rate" if in_window >= n else ("denied" if sym == "BAD" else None)
        if expected is None:
            accepted.append(t)
        seen.add(expected)
        assert mgr.check(Order(t, sym, 1, 1.0), Account()) == expected
    assert seen == {None, "denied", "max_order_rate"}
    assert mgr.accepted == len(accepted)


def test_allowed_symbols() -> None:
    c = risk.AllowedSymbols(["AAA", "BBB"])
    assert c.check(buy(0, symbol="AAA"), Account()) is None
    assert c.check(buy(0, symbol="CCC"), Account()) == risk.SYMBOL_NOT_ALLOWED == "symbol_not_allowed"
    assert c.symbols == frozenset({"AAA", "BBB"})
    with pytest.raises(DTypeError):
        risk.AllowedSymbols("AAA")


def test_first_failure_wins_and_counts() -> None:
    mgr = risk.RiskManager([Deny("BAD", "first"), Deny("BAD", "second"), risk.MaxPosition(5)])
    acct = Account()
    assert mgr.check(buy(0, 10, "BAD"), acct) == "first"
    assert mgr.check(buy(0, 10, "AAA"), acct) == "max_position"
    assert mgr.check(buy(0, 1, "AAA"), acct) is None
    mgr.record_reject(0, "insufficient_cash")
    assert mgr.rejections == {"first": 1, "max_position": 1, "insufficient_cash": 1}
    assert mgr.accepted == 1
    rej = mgr.rejections
    rej["first"] = 99  # a copy
    assert mgr.rejections["first"] == 1


def test_check_argument_errors() -> None:
    with pytest.raises(InvalidArgumentError):
        risk.MaxPosition(-1)
    with pytest.raises(InvalidArgumentError):
        risk.MaxPosition(math.nan)
    with pytest.raises(DTypeError):
        risk.MaxPosition("100")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        risk.MaxPosition(10, per_symbol={"A": -1})
    with pytest.raises(InvalidArgumentError):
        risk.MaxNotional(-5)
    with pytest.raises(InvalidArgumentError):
        risk.MaxOrderRate(0, per=1.0)
    with pytest.raises(InvalidArgumentError):
        risk.MaxOrderRate(3)
    with pytest.raises(InvalidArgumentError):
        risk.MaxOrderRate(3, 10, per=1.0)
    with pytest.raises(InvalidArgumentError):
        risk.MaxOrderRate(3, per=0.0)
    with pytest.raises(DTypeError):
        risk.MaxOrderRate(3, 1.5)  # type: ignore[arg-type]
    with pytest.raises(DTypeError):
        risk.RiskManager([object()])  # type: ignore[list-item]
    with pytest.raises(InvalidArgumentError):
        risk.RiskManager(max_drawdown=0.0)
    with pytest.raises(InvalidArgumentError):
        risk.RiskManager(max_drawdown=1.5)
    with pytest.raises(InvalidArgumentError):
        risk.CircuitBreaker(max_rejections=0)
    with pytest.raises(InvalidArgumentError):
        risk.CircuitBreaker(cooldown=-1.0)
    with pytest.raises(InvalidArgumentError):
        risk.CircuitBreaker(half_open_trials=0)
    with pytest.raises(InvalidArgumentError):
        risk.RiskManager().check(Order(0, "AAA", 0, 1.0), Account())


# ---------------------------------------------------------------------------------------------
# Circuit breaker
def tripped_manager(**kw: object) -> tuple[risk.RiskManager, risk.CircuitBreaker]:
    """A manager whose breaker tripped at t=3 s after three consecutive rejections."""
    br = risk.CircuitBreaker(max_rejections=3, cooldown=10.0, **kw)  # type: ignore[arg-type]
    mgr = risk.RiskManager([Deny()], breaker=br)
    for t in (1, 2, 3):
        assert mgr.check(buy(t, symbol="BAD"), Account()) == "denied"
    assert br.state == "open" and br.trips == 1
    return mgr, br


def test_breaker_trips_on_consecutive_rejections_and_blocks() -> None:
    mgr, br = tripped_manager()
    assert br.history == [(3 * S, "closed", "open")]
    assert br.opened_at == 3 * S
    assert mgr.check(buy(5), Account()) == "circuit_open"
    assert mgr.check(buy(12.999), Account()) == "circuit_open"
    assert mgr.rejections == {"denied": 3, "circuit_open": 2}
    # an accepted order resets the consecutive count
    br2 = risk.CircuitBreaker(max_rejections=3)
    mgr2 = risk.RiskManager([Deny()], breaker=br2)
    for sym in ("BAD", "BAD", "AAA", "BAD", "BAD"):
        mgr2.check(buy(0, symbol=sym), Account())
    assert br2.state == "closed"
    assert mgr2.check(buy(0, symbol="BAD"), Account()) == "denied"
    assert br2.state == "open"


def test_breaker_half_open_then_closes() -> None:
    mgr, br = tripped_manager()
    assert mgr.check(buy(13), Account()) is None  # cooldown over: first trial accepted
    assert br.state == "half_open"
    assert mgr.check(buy(14), Account()) is None  # no rejection of the trial: closes
    assert br.state == "closed"
    assert br.history == [
        (3 * S, "closed", "open"), (13 * S, "open", "half_open"), (14 * S, "half_open", "closed")]
    assert br.trips == 1
    # counting starts afresh after closing
    for t in (15, 16):
        assert mgr.check(buy(t, symbol="BAD"), Account()) == "denied"
    assert br.state == "closed"


def test_breaker_half_open_trial_rejected_by_a_check_reopens() -> None:
    mgr, br = tripped_manager()
    assert mgr.check(buy(13, symbol="BAD"), Account()) == "denied"
    assert br.state == "open" and br.trips == 2
    assert mgr.check(buy(22.9), Account()) == "circuit_open"  # new cooldown from 13 s
    assert mgr.check(buy(23), Account()) is None
    assert br.state == "half_open"
    assert [h[1:] for h in br.history] == [
        ("closed", "open"), ("open", "half_open"), ("half_open", "open"), ("open", "half_open")]


def test_breaker_half_open_trial_rejected_by_the_engine_reopens() -> None:
    mgr, br = tripped_manager()
    assert mgr.check(buy(13), Account()) is None
    mgr.record_reject(13 * S, "insufficient_cash")
    assert br.state == "open" and br.trips == 2 and br.opened_at == 13 * S
    assert mgr.check(buy(14), Account()) == "circuit_open"
    assert mgr.rejections == {"denied": 3, "insufficient_cash": 1, "circuit_open": 1}


def test_breaker_several_half_open_trials() -> None:
    mgr, br = tripped_manager(half_open_trials=2)
    assert mgr.check(buy(13), Account()) is None
    assert mgr.check(buy(13.5), Account()) is None
    assert br.state == "half_open"
    assert mgr.check(buy(13.6), Account()) is None
    assert br.state == "closed"
    # the second trial rejected re-opens
    mgr, br = tripped_manager(half_open_trials=2)
    assert mgr.check(buy(13), Account()) is None
    assert mgr.check(buy(13.5, symbol="BAD"), Account()) == "denied"
    assert br.state == "open" and br.trips == 2


def test_breaker_window_counts_rejections_in_window() -> None:
    br = risk.CircuitBreaker(max_rejections=3, window=5.0)
    mgr = risk.RiskManager([Deny()], breaker=br)
    for t, sym in ((0, "BAD"), (1, "BAD"), (2, "AAA"), (4, "BAD")):
        mgr.check(buy(t, symbol=sym), Account())
    assert br.state == "open"  # an accepted order in between does not reset a window count
    assert br.history == [(4 * S, "closed", "open")]
    br = risk.CircuitBreaker(max_rejections=3, window_ns=5 * S)
    mgr = risk.RiskManager([Deny()], breaker=br)
    for t in (0, 1, 6):  # window (1, 6] holds one rejection
        mgr.check(buy(t, symbol="BAD"), Account())
    assert br.state == "closed"
    mgr.check(buy(6.5, symbol="BAD"), Account())
    assert br.state == "closed"
    mgr.check(buy(7, symbol="BAD"), Account())  # (2, 7]: 6, 6.5, 7
    assert br.state == "open"


def test_breaker_counts_engine_rejections() -> None:
    br = risk.CircuitBreaker(max_rejections=3)
    mgr = risk.RiskManager([Deny()], breaker=br)
    mgr.check(buy(0, symbol="BAD"), Account())
    mgr.record_reject(1 * S, "insufficient_cash")
    assert br.state == "closed"
    mgr.record_reject(2 * S, "insufficient_cash")
    assert br.state == "open" and br.history == [(2 * S, "closed", "open")]


def test_breaker_drawdown_trip_and_rebase() -> None:
    br = risk.CircuitBreaker(max_rejections=None, drawdown=0.1, cooldown=10.0)
    mgr = risk.RiskManager(breaker=br)
    assert mgr.check(buy(0), Account(equity=95.0, peak_equity=100.0)) is None
    assert mgr.check(buy(1), Account(equity=90.0, peak_equity=100.0)) == "circuit_open"  # 10 %
    assert br.state == "open" and br.trips == 1
    assert mgr.check(buy(5), Account(equity=99.0, peak_equity=100.0)) == "circuit_open"  # cooling down
    # cooldown over with the account still 11 % down: re-based to the equity at that moment
    assert mgr.check(buy(11), Account(equity=89.0, peak_equity=100.0)) is None
    assert br.state == "half_open"
    assert mgr.check(buy(12), Account(equity=85.0, peak_equity=100.0)) is None  # 4.5 % from 89
    assert br.state == "closed"
    assert mgr.check(buy(13), Account(equity=92.0, peak_equity=100.0)) is None  # reference rises to 92
    assert mgr.check(buy(14), Account(equity=83.0, peak_equity=100.0)) is None  # 9.8 % from 92, 17 % from 100
    assert mgr.check(buy(15), Account(equity=82.5, peak_equity=100.0)) == "circuit_open"  # 10.3 % from 92
    assert br.trips == 2
    # a new all-time peak: back to measuring from the account's peak
    assert mgr.check(buy(30), Account(equity=90.0, peak_equity=100.0)) is None  # re-based to 90
    assert mgr.check(buy(31), Account(equity=110.0, peak_equity=110.0)) is None
    assert mgr.check(buy(32), Account(equity=100.0, peak_equity=110.0)) is None  # 9.1 %
    assert mgr.check(buy(33), Account(equity=98.0, peak_equity=110.0)) == "circuit_open"  # 10.9 %
    assert br.trips == 3
    # a new peak made between two orders (not seen at any order) also ends the re-base
    assert mgr.check(buy(50), Account(equity=97.0, peak_equity=110.0)) is None  # re-based to 97
    assert br.state == "half_open"
    assert mgr.check(buy(51), Account(equity=107.0, peak_equity=120.0)) == "circuit_open"  # 10.8 % from 120
    assert br.trips == 4


def test_breaker_drawdown_without_rebase_after_rejection_trip() -> None:
    br = risk.CircuitBreaker(max_rejections=1, drawdown=0.1, cooldown=1.0)
    mgr = risk.RiskManager([Deny()], breaker=br)
    assert mgr.check(buy(0, symbol="BAD"), Account()) == "denied"
    assert br.state == "open"
    # the trip was not a drawdown trip: the drawdown still counts from the account's peak
    assert mgr.check(buy(2), Account(equity=95_000.0, peak_equity=100_000.0)) is None
    assert mgr.check(buy(3), Account(equity=89_000.0, peak_equity=100_000.0)) == "circuit_open"


def test_breaker_reset_repr_pickle() -> None:
    mgr, br = tripped_manager()
    clone = pickle.loads(pickle.dumps(mgr))
    assert clone.breaker is not None and clone.breaker.state == "open"
    assert clone.breaker.history == br.history
    # the clone continues exactly as the original
    for m in (mgr, clone):
        assert m.check(buy(13), Account()) is None
        m.record_reject(13 * S, "x")
    assert clone.breaker.history == br.history and clone.rejections == mgr.rejections
    assert "CircuitBreaker(max_rejections=3" in repr(br) and "state='open'" in repr(br)
    br.reset()
    assert br.state == "closed" and br.trips == 0 and br.history == []


# ---------------------------------------------------------------------------------------------
# Drawdown halt
def test_halt_rejects_new_risk_and_lets_reducing_orders_through() -> None:
    mgr = risk.RiskManager(max_drawdown=0.2)
    acct = Account(equity=85_000.0, positions={"AAA": 10.0, "BBB": -4.0})
    assert mgr.check(buy(0, symbol="CCC"), acct) is None
    assert not mgr.halted
    acct.equity = 80_000.0  # 20 % down: halted
    assert mgr.check(buy(1, symbol="CCC"), acct) == risk.MAX_DRAWDOWN_HALT == "max_drawdown_halt"
    assert mgr.halted and mgr.halted_at == 1 * S
    assert mgr.check(buy(2, symbol="AAA"), acct) == "max_drawdown_halt"  # adds to the long
    assert mgr.check(sell(2, 4, "AAA"), acct) is None  # reduces
    assert mgr.check(sell(2, 10, "AAA"), acct) is None  # flattens
    assert mgr.check(sell(2, 11, "AAA"), acct) == "max_drawdown_halt"  # flips
    assert mgr.check(buy(2, 4, "BBB"), acct) is None  # covers the short
    assert mgr.check(sell(2, 1, "BBB"), acct) == "max_drawdown_halt"
    acct.equity = acct.peak_equity  # recovered: still halted for good
    assert mgr.check(buy(3, symbol="CCC"), acct) == "max_drawdown_halt"
    assert mgr.rejections == {"max_drawdown_halt": 5}
    mgr.reset()
    assert not mgr.halted and mgr.rejections == {}
    assert mgr.check(buy(4, symbol="CCC"), acct) is None


def test_halt_rejections_do_not_feed_the_breaker() -> None:
    br = risk.CircuitBreaker(max_rejections=2)
    mgr = risk.RiskManager(breaker=br, max_drawdown=0.25)
    acct = Account(equity=70_000.0, positions={"AAA": 5.0})
    for t in range(5):
        assert mgr.check(buy(t), acct) == "max_drawdown_halt"
    assert br.state == "closed" and br.trips == 0
    assert mgr.check(sell(6, 5), acct) is None  # the strategy can still flatten


def test_halt_then_breaker_then_checks() -> None:
    br = risk.CircuitBreaker(max_rejections=2, cooldown=10.0)
    mgr = risk.RiskManager([risk.MaxNotional(1_000), Deny("AAA")], breaker=br, max_drawdown=0.5)
    acct = Account(equity=40_000.0, positions={"AAA": 100.0}, prices={"AAA": 50.0})
    # reducing orders pass the halt and meet the checks
    assert mgr.check(sell(0, 30, "AAA"), acct) == "max_notional"
    assert mgr.check(sell(1, 10, "AAA"), acct) == "denied"
    assert br.state == "open"  # fed by the check rejections
    assert mgr.check(buy(2, 1, "AAA"), acct) == "max_drawdown_halt"  # the halt comes first
    assert mgr.check(sell(2, 1, "AAA"), acct) == "circuit_open"  # then the breaker
    # halt rejections are not fed to the breaker: it closes normally after its cooldown
    for t in range(3, 9):
        assert mgr.check(buy(t, 1, "CCC"), acct) == "max_drawdown_halt"
    assert mgr.check(sell(11, 1, "ZZZ"), Account(equity=40_000.0, positions={"ZZZ": 5.0})) == "max_notional"
    assert br.state == "open" and br.trips == 2  # trial rejected (no price for ZZZ): re-opened
    assert mgr.check(sell(21, 1, "ZZZ", price=10.0), Account(equity=40_000.0, positions={"ZZZ": 5.0})) is None
    assert br.state == "half_open"


def test_manager_reset_and_pickle() -> None:
    rate = risk.MaxOrderRate(1, per=10.0)
    mgr = risk.RiskManager([rate, risk.AllowedSymbols(["AAA"])], breaker=risk.CircuitBreaker(3),
                           max_drawdown=0.3)
    assert mgr.check(buy(0), Account()) is None
    assert mgr.check(buy(1), Account()) == "max_order_rate"
    clone = pickle.loads(pickle.dumps(mgr))
    assert clone.check(buy(2), Account()) == "max_order_rate"  # the rate window travelled
    assert clone.rejections == {"max_order_rate": 2}
    assert repr(clone).startswith(
        "RiskManager(checks=[MaxOrderRate(n=1, per_ns=10000000000), AllowedSymbols(['AAA'])]")
    mgr.reset()
    assert mgr.check(buy(2), Account()) is None  # the rate window was reset
    assert mgr.accepted == 1 and mgr.rejections == {}
    for obj in (risk.MaxPosition(5, {"A": 1.0}), risk.MaxNotional(7.5), risk.AllowedSymbols(["X"])):
        back = pickle.loads(pickle.dumps(obj))
        assert repr(back) == repr(obj)
    assert repr(risk.MaxPosition(5, {"A": 1.0})) == "MaxPosition(limit=5.0, per_symbol={'A': 1.0})"


# ---------------------------------------------------------------------------------------------
# VaR / CVaR
def normal_sample(n: int, mu: float, sigma: float, seed: int) -> np.ndarray:
    """A sample whose mean and sample standard deviation (ddof=1) are exactly mu and sigma."""
    z = np.random.default_rng(seed).standard_normal(n)
    out: np.ndarray = (z - z.mean()) / z.std(ddof=1) * sigma + mu
    return out


@pytest.mark.parametrize("horizon", [1, 10])
@pytest.mark.parametrize("c", [0.9, 0.95, 0.99])
def test_parametric_closed_forms(c: float, horizon: int) -> None:
    mu, sigma = 0.0004, 0.013
    x = normal_sample(500, mu, sigma, 1)
    z = stats.norm.ppf(c)
    s_h, m_h = sigma * math.sqrt(horizon), mu * horizon
    v = risk.var(x, c, method="parametric", horizon=horizon)
    es = risk.cvar(x, c, method="parametric", horizon=horizon)
    assert v == pytest.approx(s_h * z - m_h, rel=1e-10)
    assert es == pytest.approx(s_h * stats.norm.pdf(z) / (1 - c) - m_h, rel=1e-10)
    # the expected shortfall is the average VaR over the tail levels
    tail, _ = integrate.quad(lambda u: s_h * stats.norm.ppf(u) - m_h, c, 1.0,
                             epsabs=0, epsrel=1e-12, limit=200)
    assert es == pytest.approx(tail / (1 - c), rel=1e-8)


def brute_var_cvar(losses: list[float], c: float) -> tuple[float, float]:
    """Smallest sample loss l with #(losses <= l) >= c * n (exact decimal c), and the mean of losses >= l."""
    n = len(losses)
    need = Fraction(str(c)) * n
    var = min(l for l in losses if sum(1 for m in losses if m <= l) >= need)
    tail = [l for l in losses if l >= var]
    return var, math.fsum(tail) / len(tail)


@pytest.mark.parametrize("n", [1000, 1001, 100, 37])
def test_historical_equals_brute_force(n: int) -> None:
    rng = np.random.default_rng(n)
    x = rng.standard_t(3, size=n) * 0.01
    ties = np.round(x, 3)  # many ties: the CVaR takes every loss equal to the VaR
    for data in (x, ties):
        losses = (-data).tolist()
        for c in (0.5, 0.55, 0.9, 0.95, 0.99):  # 0.55 * 100 is 55.00000000000001 in binary
            v, es = brute_var_cvar(losses, c)
            assert risk.var(data, c) == v
            assert risk.cvar(data, c) == es
            if c != 0.55:  # numpy takes the round-off of 0.55 * 100 for real: rank 56 instead of 55
                assert v == np.quantile(-data, c, method="inverted_cdf")
    # 1000 losses: the 95 % VaR is the 950th smallest; 100 losses: the 55 % VaR the 55th
    if n == 1000:
        assert risk.var(x, 0.95) == np.sort(-x)[949]
    if n == 100:
        assert risk.var(x, 0.55) == np.sort(-x)[54]


def test_historical_portfolio_and_horizon() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(0.0, 0.01, (300, 3))
    w = np.array([0.5, -0.2, 0.7])
    p = x @ w
    assert risk.var(x, 0.95, weights=w) == risk.var(p, 0.95)
    assert risk.cvar(x, 0.99, weights=w) == risk.cvar(p, 0.99)
    assert risk.var(x, 0.95) == risk.var(x @ np.full(3, 1 / 3), 0.95)  # equal weights by default
    h = 5
    sums = [math.fsum(p[i:i + h]) for i in range(len(p) - h + 1)]
    v, es = brute_var_cvar([-s for s in sums], 0.95)
    assert risk.var(x, 0.95, weights=w, horizon=h) == pytest.approx(v, abs=1e-15)
    assert risk.cvar(x, 0.95, weights=w, horizon=h) == pytest.approx(es, abs=1e-15)
    with pytest.raises(InvalidArgumentError, match="at least"):
        risk.var(x[:4], horizon=5)


@pytest.mark.parametrize("c", [0.95, 0.99])
def test_historical_large_normal_sample_near_closed_form(c: float) -> None:
    n, mu, sigma = 200_000, 0.0005, 0.01
    x = np.random.default_rng(11).normal(mu, sigma, n)
    z = stats.norm.ppf(c)
    true_var = sigma * z - mu
    true_es = sigma * stats.norm.pdf(z) / (1 - c) - mu
    # standard errors of the sample quantile and of the tail mean
    se_var = math.sqrt(c * (1 - c) / n) / stats.norm.pdf(z) * sigma
    tail_var = sigma**2 * (1 + z * stats.norm.pdf(z) / (1 - c) - (stats.norm.pdf(z) / (1 - c)) ** 2)
    se_es = math.sqrt((tail_var + c * (true_es - true_var) ** 2) / (n * (1 - c)))
    assert abs(risk.var(x, c) - true_var) < 4 * se_var
    assert abs(risk.cvar(x, c) - true_es) < 4 * se_es
    assert 4 * se_var < 0.05 * true_var  # the tolerance is tight enough to catch a wrong level


def cf_quantile(u: float, skew: float, kurt: float) -> float:
    return (u + (u**2 - 1) * skew / 6 + (u**3 - 3 * u) * kurt / 24 - (2 * u**3 - 5 * u) * skew**2 / 36)


@pytest.mark.parametrize("horizon", [1, 7])
def test_cornish_fisher_reduces_to_normal_without_skew_and_excess_kurtosis(horizon: int) -> None:
    # mu - s, mu, mu + s with probabilities 1/6, 2/3, 1/6: skewness 0 and kurtosis (1/3) / (1/3)**2 = 3
    base = np.tile([-1.0, 0.0, 0.0, 0.0, 0.0, 1.0], 200)
    x = 0.001 + 0.02 * np.random.default_rng(2).permutation(base)
    _, _, skew, kurt = risk._moments(x)
    assert abs(skew) < 1e-12 and abs(kurt) < 1e-12
    for c in (0.9, 0.95, 0.99):
        kw = {"horizon": horizon}
        assert risk.var(x, c, method="cornish_fisher", **kw) == pytest.approx(
            risk.var(x, c, method="parametric", **kw), rel=1e-9)
        assert risk.cvar(x, c, method="cornish_fisher", **kw) == pytest.approx(
            risk.cvar(x, c, method="parametric", **kw), rel=1e-9)


@pytest.mark.parametrize("horizon", [1, 4])
def test_cornish_fisher_formula_and_tail_integral(monkeypatch: pytest.MonkeyPatch, horizon: int) -> None:
    mu, sigma, skew, kurt = 0.001, 0.02, -0.8, 2.5
    monkeypatch.setattr(risk, "_moments", lambda p: (mu, sigma, skew, kurt))
    x = np.random.default_rng(0).normal(size=50)  # replaced by the patched moments
    m_h, s_h, sk_h, ku_h = mu * horizon, sigma * math.sqrt(horizon), skew / math.sqrt(horizon), kurt / horizon
    for c in (0.95, 0.99, 0.995):
        a = 1 - c
        expect_var = -(m_h + s_h * cf_quantile(stats.norm.ppf(a), sk_h, ku_h))
        integral, _ = integrate.quad(lambda p: cf_quantile(stats.norm.ppf(p), sk_h, ku_h), 0.0, a,
                                     epsabs=0, epsrel=1e-12, limit=200)
        expect_es = -(m_h + s_h * integral / a)
        kw = {"method": "cornish_fisher", "horizon": horizon}
        assert risk.var(x, c, **kw) == pytest.approx(expect_var, rel=1e-10)  # type: ignore[arg-type]
        assert risk.cvar(x, c, **kw) == pytest.approx(expect_es, rel=1e-9)  # type: ignore[arg-type]
        assert expect_es > expect_var


def test_cornish_fisher_sees_a_fat_left_tail() -> None:
    rng = np.random.default_rng(4)
    x = np.where(rng.random(20_000) < 0.05, rng.normal(-0.04, 0.02, 20_000), rng.normal(0.002, 0.01, 20_000))
    _, _, skew, kurt = risk._moments(x)
    assert skew < -1 and kurt > 2
    assert stats.skew(x) == pytest.approx(skew, rel=1e-9)
    assert stats.kurtosis(x) == pytest.approx(kurt, rel=1e-9)
    cf = risk.var(x, 0.99, method="cornish_fisher")
    normal = risk.var(x, 0.99, method="parametric")
    hist = risk.var(x, 0.99, method="historical")
    assert abs(cf - hist) < abs(normal - hist)


def correlated_returns() -> tuple[np.ndarray, np.ndarray]:
    vols = np.array([0.01, 0.02, 0.015])
    corr = np.array([[1.0, 0.8, 0.6], [0.8, 1.0, 0.7], [0.6, 0.7, 1.0]])
    cov = corr * np.outer(vols, vols)
    x = np.random.default_rng(21).multivariate_normal([0.0005, 0.001, -0.0002], cov, size=3000)
    return x, np.array([0.5, 0.3, 0.2])


@pytest.mark.parametrize("horizon", [1, 5])
@pytest.mark.parametrize("c", [0.95, 0.99])
def test_monte_carlo_matches_closed_form_three_correlated_assets(c: float, horizon: int) -> None:
    x, w = correlated_returns()
    mu_p = float(x.mean(axis=0) @ w) * horizon
    cov = np.cov(x, rowvar=False, ddof=1)
    sigma_p = math.sqrt(float(w @ cov @ w)) * math.sqrt(horizon)
    z = stats.norm.ppf(c)
    closed_var = sigma_p * z - mu_p
    closed_es = sigma_p * stats.norm.pdf(z) / (1 - c) - mu_p
    par = {"method": "parametric", "weights": w, "horizon": horizon}
    assert risk.var(x, c, **par) == pytest.approx(closed_var, rel=1e-10)  # type: ignore[arg-type]
    assert risk.cvar(x, c, **par) == pytest.approx(closed_es, rel=1e-10)  # type: ignore[arg-type]
    n = 200_000
    kw = {"method": "monte_carlo", "weights": w, "horizon": horizon, "n_paths": n, "seed": 42}
    se_var = math.sqrt(c * (1 - c) / n) / stats.norm.pdf(z) * sigma_p
    mc_var, mc_es = risk.var(x, c, **kw), risk.cvar(x, c, **kw)  # type: ignore[arg-type]
    assert abs(mc_var - closed_var) < 4 * se_var
    assert abs(mc_es - closed_es) < 6 * se_var
    # the correlation matters: an uncorrelated simulation would miss by far more than the tolerance
    sigma_indep = math.sqrt(float(w**2 @ np.diag(cov))) * math.sqrt(horizon)
    assert (sigma_p - sigma_indep) * z > 20 * se_var


def test_monte_carlo_seeding_and_singular_covariance() -> None:
    x, w = correlated_returns()
    a = risk.var(x, 0.99, method="monte_carlo", weights=w, n_paths=20_000, seed=1)
    assert a == risk.var(x, 0.99, method="monte_carlo", weights=w, n_paths=20_000, seed=1)
    assert a != risk.var(x, 0.99, method="monte_carlo", weights=w, n_paths=20_000, seed=2)
    # a duplicated asset: the covariance is singular, the model is unchanged
    dup = np.column_stack([x, x[:, 0]])
    wd = np.array([0.25, 0.3, 0.2, 0.25])
    assert np.linalg.matrix_rank(np.cov(dup, rowvar=False)) == 3
    closed = risk.var(dup, 0.99, method="parametric", weights=wd)
    mc = risk.var(dup, 0.99, method="monte_carlo", weights=wd, n_paths=200_000, seed=3)
    assert closed == pytest.approx(risk.var(x, 0.99, method="parametric", weights=w), rel=1e-12)
    p_sigma = float(np.std(x @ w, ddof=1))
    se = math.sqrt(0.99 * 0.01 / 200_000) / stats.norm.pdf(stats.norm.ppf(0.99)) * p_sigma
    assert abs(mc - closed) < 4 * se
    # one asset
    one = x[:, 1]
    mc1 = risk.var(one, 0.95, method="monte_carlo", seed=5)
    assert mc1 == pytest.approx(risk.var(one, 0.95, method="parametric"), rel=0.02)


def test_polars_inputs_and_risk_report() -> None:
    x, w = correlated_returns()
    frame = pl.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2]})
    for m in risk.METHODS:
        same = {"method": m, "weights": w, "seed": 9}
        assert risk.var(frame, 0.95, **same) == risk.var(x, 0.95, **same)  # type: ignore[arg-type]
    assert risk.cvar(pl.Series(x[:, 0]), 0.99) == risk.cvar(x[:, 0], 0.99)
    rep = risk.risk_report(frame, w, seed=9, n_paths=50_000)
    assert rep.schema == pl.Schema(
        {"method": pl.String, "confidence": pl.Float64, "var": pl.Float64, "cvar": pl.Float64})
    assert rep["method"].to_list() == [m for m in risk.METHODS for _ in (0, 1)]
    assert rep["confidence"].to_list() == [0.95, 0.99] * 4
    for row in rep.iter_rows(named=True):
        kw = {"method": row["method"], "weights": w, "seed": 9, "n_paths": 50_000}
        assert row["var"] == risk.var(x, row["confidence"], **kw)
        assert row["cvar"] == risk.cvar(x, row["confidence"], **kw)
        assert row["cvar"] >= row["var"]
    single = risk.risk_report(x, confidence=0.9, methods=["parametric"], horizon=3)
    assert single.shape == (1, 4)
    assert single["var"][0] == risk.var(x, 0.9, method="parametric", horizon=3)
    assert pickle.loads(pickle.dumps(rep)).equals(rep)


def test_var_errors() -> None:
    x = np.random.default_rng(0).normal(size=(50, 2))
    for c in (0.0, 1.0, 1.5, -0.1, math.nan):
        with pytest.raises(InvalidArgumentError, match="confidence"):
            risk.var(x, c)
    with pytest.raises(DTypeError):
        risk.var(x, "0.95")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="empty"):
        risk.var(np.array([]))
    with pytest.raises(InvalidArgumentError, match="empty"):
        risk.cvar(np.empty((0, 3)))
    bad = x.copy()
    bad[3, 1] = np.nan
    with pytest.raises(InvalidArgumentError, match="NaN"):
        risk.var(bad)
    with pytest.raises(InvalidArgumentError, match="NaN"):
        risk.var(pl.DataFrame({"a": [0.01, None, 0.02]}))
    with pytest.raises(InvalidArgumentError, match="weights"):
        risk.var(x, weights=[1.0, 0.0, 0.0])
    with pytest.raises(InvalidArgumentError, match="weights"):
        risk.var(x[:, 0], weights=[0.5, 0.5])
    with pytest.raises(InvalidArgumentError, match="weights"):
        risk.var(x, weights=[np.inf, 0.0])
    with pytest.raises(InvalidArgumentError, match="unknown method"):
        risk.var(x, method="garch")
    with pytest.raises(InvalidArgumentError, match="unknown method"):
        risk.risk_report(x, methods=["historical", "delta"])
    with pytest.raises(InvalidArgumentError, match="horizon"):
        risk.var(x, horizon=0)
    with pytest.raises(DTypeError):
        risk.var(x, horizon=1.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="n_paths"):
        risk.var(x, method="monte_carlo", n_paths=0)
    with pytest.raises(InvalidArgumentError, match="dimensions"):
        risk.var(np.zeros((2, 2, 2)))
    with pytest.raises(DTypeError, match="non-numeric"):
        risk.var(pl.DataFrame({"ts": [1, 2], "sym": ["a", "b"]}))
    with pytest.raises(DTypeError):
        risk.var(np.array(["a", "b"]))
    with pytest.raises(InvalidArgumentError, match="at least 2"):
        risk.var(np.array([0.01]), method="parametric")
    with pytest.raises(InvalidArgumentError, match="at least one"):
        risk.risk_report(x, confidence=())
