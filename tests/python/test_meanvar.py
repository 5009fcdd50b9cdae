"""Mean-variance optimisation against closed forms and brute-force sampling.

Closed forms (no bounds, shorts allowed), with annualised mu and Sigma:
  minimum variance   w = Sigma^-1 1 / (1' Sigma^-1 1)
  tangency           w = Sigma^-1 (mu - rf) / (1' Sigma^-1 (mu - rf))
  target return t    w = Sigma^-1 [1 mu] M^-1 [1 t]',  M = [[A, B], [B, C]],
                     A = 1' Sigma^-1 1, B = 1' Sigma^-1 mu, C = mu' Sigma^-1 mu,
                     variance (A t^2 - 2 B t + C) / (A C - B^2)
With bounds, the optimum must beat every admissible portfolio of a large random sample.
"""

from __future__ import annotations

import math
import pickle

import numpy as np
import polars as pl
import pytest
from neural_trader._meanvar import Allocation, efficient_frontier, optimize
from neural_trader.errors import DTypeError, InvalidArgumentError

PPY = 252


def make_returns(seed: int, n: int = 5, t: int = 600, drift: float = 0.0006) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(n, n)) * 0.008 + np.eye(n) * 0.006
    means = drift * (0.5 + rng.random(n))
    return rng.normal(size=(t, n)) @ mix + means


def moments(r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return r.mean(axis=0) * PPY, np.cov(r, rowvar=False) * PPY


def sample_portfolios(n: int, lo: np.ndarray, hi: np.ndarray, count: int, seed: int = 0) -> np.ndarray:
    """Random admissible portfolios: Dirichlet draws mapped into [lo, hi] and kept when they sum to 1."""
    rng = np.random.default_rng(seed)
    free = 1.0 - lo.sum()
    w = lo + rng.dirichlet(np.full(n, 0.7), size=count) * free
    return w[np.all(w <= hi + 1e-12, axis=1)]


# ---------------------------------------------------------------------------------------------
# Closed forms
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("bounds", [None, (-10.0, 10.0)])
def test_min_variance_closed_form(seed: int, bounds: tuple[float, float] | None) -> None:
    r = make_returns(seed)
    _, cov = moments(r)
    w = np.linalg.solve(cov, np.ones(5))
    w /= w.sum()
    assert np.any(w < 0)  # the unconstrained optimum shorts something: bounds really are off
    a = optimize(r, objective="min_variance", allow_short=True, bounds=bounds)
    assert a.success
    np.testing.assert_allclose(a.array, w, atol=1e-7)
    assert a.volatility == pytest.approx(math.sqrt(w @ cov @ w), rel=1e-9)


@pytest.mark.parametrize("rf", [0.0, 0.02])
def test_max_sharpe_tangency_closed_form(rf: float) -> None:
    # independent assets with positive excess returns: the tangency weights are all positive
    rng = np.random.default_rng(3)
    r = rng.normal(size=(800, 4)) * np.array([0.01, 0.012, 0.008, 0.015]) + np.array(
        [0.0007, 0.0009, 0.0005, 0.001]
    )
    mu, cov = moments(r)
    w = np.linalg.solve(cov, mu - rf)
    w /= w.sum()
    assert np.all(w > 0)
    for kwargs in ({}, {"allow_short": True}, {"allow_short": True, "bounds": (-5.0, 5.0)}):
        a = optimize(r, objective="max_sharpe", risk_free=rf, **kwargs)  # type: ignore[arg-type]
        assert a.success, kwargs
        np.testing.assert_allclose(a.array, w, atol=1e-6)
        assert a.sharpe == pytest.approx((w @ mu - rf) / math.sqrt(w @ cov @ w), rel=1e-9)


def test_max_sharpe_with_shorts_closed_form() -> None:
    r = make_returns(5)
    mu, cov = moments(r)
    w = np.linalg.solve(cov, mu - 0.01)
    w /= w.sum()
    assert np.any(w < 0)
    a = optimize(r, objective="max_sharpe", risk_free=0.01, allow_short=True)
    np.testing.assert_allclose(a.array, w, atol=1e-6)


def frontier_closed_form(mu: np.ndarray, cov: np.ndarray, t: float) -> tuple[np.ndarray, float]:
    inv1 = np.linalg.solve(cov, np.ones(mu.size))
    invm = np.linalg.solve(cov, mu)
    a, b, c = inv1.sum(), invm.sum(), mu @ invm
    lam = np.linalg.solve(np.array([[a, b], [b, c]]), np.array([1.0, t]))
    w = lam[0] * inv1 + lam[1] * invm
    return w, (a * t * t - 2 * b * t + c) / (a * c - b * b)


def test_target_return_closed_form() -> None:
    r = make_returns(5)
    mu, cov = moments(r)
    for t in (float(mu.min()), float(mu.mean()), 0.5):
        w, var = frontier_closed_form(mu, cov, t)
        a = optimize(r, objective="target_return", target_return=t, allow_short=True)
        assert a.success
        assert a.expected_return == pytest.approx(t, rel=1e-9)
        np.testing.assert_allclose(a.array, w, atol=1e-6)
        assert a.volatility**2 == pytest.approx(var, rel=1e-7)


# ---------------------------------------------------------------------------------------------
# Bounds, checked by sampling
@pytest.mark.parametrize("objective", ["min_variance", "max_sharpe"])
def test_bounded_optimum_beats_sampled_portfolios(objective: str) -> None:
    r = make_returns(6)
    mu, cov = moments(r)
    lo = np.array([0.05, 0.0, 0.1, 0.0, 0.0])
    hi = np.array([0.4, 0.3, 0.5, 0.35, 0.3])
    a = optimize(r, objective=objective, bounds=list(zip(lo, hi)))  # type: ignore[arg-type]
    assert a.success
    w = a.array
    assert w.sum() == pytest.approx(1.0, abs=1e-9)
    assert np.all(w >= lo - 1e-9) and np.all(w <= hi + 1e-9)
    samples = sample_portfolios(5, lo, hi, 40_000)
    assert len(samples) > 1000
    var = np.einsum("ij,jk,ik->i", samples, cov, samples)
    if objective == "min_variance":
        assert a.volatility**2 <= var.min() * (1 + 1e-9)
    else:
        assert a.sharpe >= (samples @ mu / np.sqrt(var)).max() - 1e-9


def test_bounds_by_name_and_polars_input() -> None:
    r = make_returns(7, n=3)
    frame = pl.DataFrame(r, schema=["SPY", "TLT", "GLD"], orient="row")
    a = optimize(frame, objective="max_sharpe", bounds={"SPY": (0.0, 0.2), "GLD": (0.3, 0.6)})
    assert a.names == ("SPY", "TLT", "GLD")
    assert list(a.weights) == ["SPY", "TLT", "GLD"]
    assert a.weights["SPY"] <= 0.2 + 1e-9
    assert 0.3 - 1e-9 <= a.weights["GLD"] <= 0.6 + 1e-9
    assert a.weights["TLT"] >= -1e-12
    assert sum(a.weights.values()) == pytest.approx(1.0, abs=1e-9)
    # the same problem from a numpy array with per-asset pairs gives the same weights
    b = optimize(r, objective="max_sharpe", bounds=[(0.0, 0.2), (0.0, 1.0), (0.3, 0.6)])
    np.testing.assert_allclose(a.array, b.array, atol=1e-9)


def test_long_only_target_return_and_reachability() -> None:
    r = make_returns(8, n=4)
    mu, cov = moments(r)
    t = float(mu.min() + 0.6 * (mu.max() - mu.min()))
    a = optimize(r, objective="target_return", target_return=t)
    assert a.expected_return == pytest.approx(t, rel=1e-9)
    assert np.all(a.array >= -1e-12)
    samples = sample_portfolios(4, np.zeros(4), np.ones(4), 40_000)
    close = samples[np.abs(samples @ mu - t) < 2e-4]
    var = np.einsum("ij,jk,ik->i", close, cov, close)
    assert a.volatility**2 <= var.min() * (1 + 1e-6)
    # the highest attainable return (all in the best asset) is reachable, a bit more is not
    top = optimize(r, objective="target_return", target_return=float(mu.max()))
    assert top.weights[f"asset_{int(np.argmax(mu))}"] == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(InvalidArgumentError, match="unreachable"):
        optimize(r, objective="target_return", target_return=float(mu.max()) + 0.01)
    with pytest.raises(InvalidArgumentError, match="unreachable"):
        optimize(r, objective="target_return", target_return=float(mu.min()) - 0.01)


def test_max_sharpe_when_nothing_beats_the_risk_free_rate() -> None:
    r = make_returns(9, n=4, drift=-0.001)
    mu, cov = moments(r)
    assert np.all(mu < 0)
    a = optimize(r, objective="max_sharpe")
    assert a.sharpe < 0
    assert a.array.sum() == pytest.approx(1.0, abs=1e-9) and np.all(a.array >= -1e-12)
    samples = sample_portfolios(4, np.zeros(4), np.ones(4), 40_000)
    var = np.einsum("ij,jk,ik->i", samples, cov, samples)
    assert a.sharpe >= (samples @ mu / np.sqrt(var)).max() - 1e-6
    singles = mu / np.sqrt(np.diag(cov))
    assert a.sharpe >= singles.max() - 1e-9


def test_single_asset() -> None:
    r = make_returns(10, n=1)
    for objective in ("max_sharpe", "min_variance"):
        a = optimize(r, objective=objective)  # type: ignore[arg-type]
        assert a.weights == {"asset_0": pytest.approx(1.0)}


# ---------------------------------------------------------------------------------------------
# Frontier
def test_efficient_frontier_unconstrained_matches_closed_form() -> None:
    r = make_returns(11)
    mu, cov = moments(r)
    f = efficient_frontier(r, 8, allow_short=True)
    assert f.height == 8
    assert f.columns[:5] == ["target_return", "expected_return", "volatility", "sharpe", "success"]
    assert f.columns[5:] == [f"asset_{i}" for i in range(5)]
    assert f["success"].all()
    mv = optimize(r, objective="min_variance", allow_short=True)
    assert f["expected_return"][0] == pytest.approx(mv.expected_return, rel=1e-9)
    assert f["target_return"][-1] == pytest.approx(float(mu.max()))
    for t, vol in zip(f["target_return"], f["volatility"]):
        _, var = frontier_closed_form(mu, cov, t)
        assert vol == pytest.approx(math.sqrt(var), rel=1e-6)


def test_efficient_frontier_long_only_is_monotone() -> None:
    r = make_returns(12)
    mu, _ = moments(r)
    f = efficient_frontier(r, 10)
    er, vol = f["expected_return"].to_numpy(), f["volatility"].to_numpy()
    assert np.all(np.diff(er) > 0) and np.all(np.diff(vol) >= -1e-9)
    assert er[-1] == pytest.approx(float(mu.max()), rel=1e-6)
    weights = f.select([f"asset_{i}" for i in range(5)]).to_numpy()
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-9)
    assert np.all(weights >= -1e-12)


# ---------------------------------------------------------------------------------------------
# Allocation
def test_allocation_is_immutable_pickles_and_prints() -> None:
    a = optimize(make_returns(13, n=3), objective="min_variance")
    b = pickle.loads(pickle.dumps(a))
    assert b == a and b.weights == a.weights and b.objective == "min_variance"
    with pytest.raises(AttributeError):
        a.sharpe = 1.0  # type: ignore[misc]
    arr = a.array
    arr[0] = 99.0
    assert a.array[0] != 99.0  # a copy
    text = repr(a)
    assert text.startswith("Allocation(min_variance, weights={'asset_0': ")
    assert "success=True" in text and "\n" not in text
    c = Allocation(
        ("x",),
        [1.0],
        expected_return=0.1,
        volatility=0.0,
        sharpe=math.nan,
        objective="min_variance",
        success=True,
    )
    assert c == pickle.loads(pickle.dumps(c))  # NaN Sharpe compares equal to itself


# ---------------------------------------------------------------------------------------------
# Errors
def test_errors() -> None:
    r = make_returns(14, n=3)
    with pytest.raises(InvalidArgumentError, match="minimum weights sum"):
        optimize(r, bounds=(0.4, 1.0))
    with pytest.raises(InvalidArgumentError, match="maximum weights sum"):
        optimize(r, bounds=(0.0, 0.3))
    with pytest.raises(InvalidArgumentError, match="allow_short"):
        optimize(r, bounds=(-0.5, 1.0))
    with pytest.raises(InvalidArgumentError):
        optimize(r, bounds=[(0.0, 1.0)] * 2)  # wrong count
    with pytest.raises(InvalidArgumentError, match="not among"):
        optimize(r, bounds={"nope": (0.0, 1.0)})
    with pytest.raises(InvalidArgumentError, match="exceeds"):
        optimize(r, bounds=(0.8, 0.2))
    bad = r.copy()
    bad[3, 1] = np.nan
    with pytest.raises(InvalidArgumentError, match="NaN"):
        optimize(bad)
    with pytest.raises(InvalidArgumentError, match="NaN"):
        optimize(pl.DataFrame(bad, schema=["a", "b", "c"], orient="row"))
    with pytest.raises(InvalidArgumentError):
        optimize(pl.DataFrame({"a": [0.01, None, 0.02]}))
    with pytest.raises(InvalidArgumentError, match="two-dimensional"):
        optimize(r[:, 0])
    with pytest.raises(InvalidArgumentError, match="two periods"):
        optimize(r[:1])
    with pytest.raises(InvalidArgumentError, match="needs target_return"):
        optimize(r, objective="target_return")
    with pytest.raises(InvalidArgumentError, match="only used"):
        optimize(r, target_return=0.1)
    with pytest.raises(InvalidArgumentError, match="objective"):
        optimize(r, objective="max_return")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        optimize(r, periods_per_year=0)
    with pytest.raises(DTypeError):
        optimize(pl.DataFrame({"a": [0.01, 0.02], "b": ["x", "y"]}))
    with pytest.raises(DTypeError):
        optimize([["a", "b"], ["c", "d"]])
    with pytest.raises(InvalidArgumentError, match="at least 2"):
        efficient_frontier(r, 1)
    with pytest.raises(InvalidArgumentError, match="clash"):
        efficient_frontier(pl.DataFrame(r, schema=["sharpe", "b", "c"], orient="row"))
