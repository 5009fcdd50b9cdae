"""Mean-variance portfolio optimisation (Markowitz): maximum Sharpe, minimum variance, target return.

Conventions
-----------
Inputs are per-period simple returns, ``T`` rows (periods) by ``N`` columns (assets). They are
annualised arithmetically: expected returns ``mu = mean(returns) * periods_per_year`` and the
covariance ``Sigma = cov(returns, ddof=1) * periods_per_year``. A portfolio ``w`` (weights summing
to 1) has expected return ``w' mu``, volatility ``sqrt(w' Sigma w)`` and Sharpe ratio
``(w' mu - risk_free) / sqrt(w' Sigma w)`` with ``risk_free`` an annual rate.

Bounds
------
``bounds`` limits each weight: one ``(min, max)`` pair for every asset, a sequence of ``N`` pairs,
or a mapping from asset name to pair (unnamed assets keep the default). ``None`` in a pair means
unbounded on that side. The default is ``(0, 1)`` (long only, no leverage) without
``allow_short`` and unbounded with it; a negative minimum needs ``allow_short=True``.

Solvers
-------
:func:`scipy.optimize.minimize` (SLSQP) with the budget ``sum(w) = 1`` and the bounds as
constraints. Minimum variance and target return are convex quadratic programs. Maximum Sharpe
is solved in the equivalent convex form (minimise ``y' Sigma y`` subject to
``(mu - risk_free)' y = 1``, ``sum(y) = k >= 0``, ``k min <= y <= k max``, then ``w = y / k``),
which finds the global optimum whenever some admissible portfolio beats the risk-free rate.
Otherwise every Sharpe ratio is negative, the problem is no longer concave (its local optima sit
at vertices of the admissible set) and the ratio is maximised directly from several starts (equal
weights, the minimum-variance portfolio, and for each asset the admissible portfolio with its
largest weight): a local search, exact in the long-only case where those vertices are the single
assets.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, Literal

import numpy as np
import polars as pl
from scipy.optimize import linprog, minimize  # type: ignore[import-untyped]

from .errors import DTypeError, InvalidArgumentError

__all__ = ["Allocation", "efficient_frontier", "optimize"]

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
Objective = Literal["max_sharpe", "min_variance", "target_return"]
BoundsSpec = (
    tuple[float | None, float | None]
    | Sequence[tuple[float | None, float | None]]
    | Mapping[str, tuple[float | None, float | None]]
    | None
)

_OBJECTIVES: Final = ("max_sharpe", "min_variance", "target_return")
_FEAS_TOL: Final = 1e-9  # budget / bound slack accepted as met (relative to 1)
_SLSQP: Final = {"ftol": 1e-14, "maxiter": 1000}


class Allocation:
    """An optimised portfolio: weights and their annualised figures (immutable).

    Attributes
    ----------
    weights : dict of str to float
        Weight by asset name (a fresh copy on each access).
    array : numpy.ndarray
        The weights in asset order (a copy).
    names : tuple of str
        Asset names in order.
    expected_return : float
        Annualised expected return ``w' mu``.
    volatility : float
        Annualised volatility ``sqrt(w' Sigma w)``.
    sharpe : float
        ``(expected_return - risk_free) / volatility``; NaN at zero volatility.
    objective : str
        ``"max_sharpe"``, ``"min_variance"`` or ``"target_return"``.
    success : bool
        The solver converged and the budget and bounds hold (to 1e-9).
    message : str
        The solver's message.
    """

    __slots__ = ("_names", "_w", "expected_return", "message", "objective", "sharpe", "success", "volatility")

    _names: tuple[str, ...]
    _w: FloatArray
    expected_return: float
    volatility: float
    sharpe: float
    objective: str
    success: bool
    message: str

    def __init__(
        self,
        names: Sequence[str],
        weights: Any,
        *,
        expected_return: float,
        volatility: float,
        sharpe: float,
        objective: str,
        success: bool,
        message: str = "",
    ) -> None:
        w = np.array(weights, dtype=np.float64)
        if w.shape != (len(names),):
            raise InvalidArgumentError(f"{len(names)} names but weights of shape {w.shape}")
        w.flags.writeable = False
        set_ = object.__setattr__
        set_(self, "_names", tuple(str(n) for n in names))
        set_(self, "_w", w)
        set_(self, "expected_return", float(expected_return))
        set_(self, "volatility", float(volatility))
        set_(self, "sharpe", float(sharpe))
        set_(self, "objective", str(objective))
        set_(self, "success", bool(success))
        set_(self, "message", str(message))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Allocation is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Allocation is immutable")

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _make_allocation,
            (
                self._names,
                self._w.tolist(),
                self.expected_return,
                self.volatility,
                self.sharpe,
                self.objective,
                self.success,
                self.message,
            ),
        )

    @property
    def names(self) -> tuple[str, ...]:
        """Asset names, in the order of :attr:`array`."""
        return self._names

    @property
    def weights(self) -> dict[str, float]:
        """Weight by asset name."""
        return dict(zip(self._names, self._w.tolist()))

    @property
    def array(self) -> FloatArray:
        """The weights as a float64 array (a copy)."""
        out: FloatArray = self._w.copy()
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Allocation):
            return NotImplemented
        same_float = all(
            a == b or (math.isnan(a) and math.isnan(b))
            for a, b in (
                (self.expected_return, other.expected_return),
                (self.volatility, other.volatility),
                (self.sharpe, other.sharpe),
            )
        )
        return (
            self._names == other._names
            and bool(np.array_equal(self._w, other._w))
            and same_float
            and (self.objective, self.success, self.message)
            == (other.objective, other.success, other.message)
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        shown = list(self.weights.items())
        ws = ", ".join(f"{n!r}: {w:.4f}" for n, w in shown[:8])
        if len(shown) > 8:
            ws += f", ... ({len(shown)} assets)"
        return (
            f"Allocation({self.objective}, weights={{{ws}}}, expected_return={self.expected_return:.4%}, "
            f"volatility={self.volatility:.4%}, sharpe={self.sharpe:.4f}, success={self.success})"
        )


def _make_allocation(
    names: tuple[str, ...],
    weights: list[float],
    expected_return: float,
    volatility: float,
    sharpe: float,
    objective: str,
    success: bool,
    message: str,
) -> Allocation:
    return Allocation(
        names,
        weights,
        expected_return=expected_return,
        volatility=volatility,
        sharpe=sharpe,
        objective=objective,
        success=success,
        message=message,
    )


# ---------------------------------------------------------------------------------------------
# Inputs
def _returns_matrix(returns: Any) -> tuple[list[str], FloatArray]:
    if isinstance(returns, pl.DataFrame):
        bad = [c for c, t in returns.schema.items() if not t.is_numeric()]
        if bad:
            raise DTypeError(f"returns columns must be numeric; not: {', '.join(map(repr, bad))}")
        if any(returns[c].null_count() for c in returns.columns):
            raise InvalidArgumentError("returns contains nulls (missing values)")
        names = list(returns.columns)
        mat = (
            returns.to_numpy().astype(np.float64, copy=False)
            if returns.width
            else np.empty((returns.height, 0))
        )
    else:
        if isinstance(returns, (str, bytes)):
            raise DTypeError("returns must be a T x N array or a polars DataFrame")
        try:
            mat = np.asarray(returns, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise DTypeError(
                f"returns must be a T x N array of numbers or a polars DataFrame: {exc}"
            ) from None
        if mat.ndim != 2:
            raise InvalidArgumentError(
                f"returns must be two-dimensional (T periods x N assets), got shape {mat.shape}"
            )
        names = [f"asset_{i}" for i in range(mat.shape[1])]
    if mat.shape[1] < 1:
        raise InvalidArgumentError("returns has no asset (column)")
    if mat.shape[0] < 2:
        raise InvalidArgumentError(f"returns needs at least two periods (rows), got {mat.shape[0]}")
    if not np.all(np.isfinite(mat)):
        raise InvalidArgumentError("returns contains NaN or infinite values")
    if len(set(names)) != len(names):
        raise InvalidArgumentError("asset names must be distinct")
    return names, mat


def _pair(spec: Any, what: str) -> tuple[float, float]:
    try:
        lo_raw, hi_raw = spec
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"{what} must be a (min, max) pair, got {spec!r}") from None
    try:
        lo = -math.inf if lo_raw is None else float(lo_raw)
        hi = math.inf if hi_raw is None else float(hi_raw)
    except (TypeError, ValueError):
        raise DTypeError(f"{what} must hold numbers or None, got {spec!r}") from None
    if math.isnan(lo) or math.isnan(hi):
        raise InvalidArgumentError(f"{what} contains NaN")
    if lo > hi:
        raise InvalidArgumentError(f"{what}: min {lo} exceeds max {hi}")
    return lo, hi


def _is_pair(spec: Any) -> bool:
    return (
        isinstance(spec, (tuple, list))
        and len(spec) == 2
        and all(v is None or isinstance(v, (int, float, np.integer, np.floating)) for v in spec)
    )


def _bounds(spec: BoundsSpec, names: list[str], allow_short: bool) -> tuple[FloatArray, FloatArray]:
    n = len(names)
    default = (-math.inf, math.inf) if allow_short else (0.0, 1.0)
    lo = np.full(n, default[0])
    hi = np.full(n, default[1])
    if spec is None:
        pass
    elif isinstance(spec, Mapping):
        index = {name: i for i, name in enumerate(names)}
        unknown = [k for k in spec if k not in index]
        if unknown:
            raise InvalidArgumentError(
                f"bounds name(s) not among the assets: {', '.join(map(repr, unknown))}"
            )
        for name, pair in spec.items():
            lo[index[name]], hi[index[name]] = _pair(pair, f"bounds[{name!r}]")
    elif _is_pair(spec):
        lo[:], hi[:] = _pair(spec, "bounds")
    elif isinstance(spec, Sequence) and not isinstance(spec, (str, bytes)):
        if len(spec) != n:
            raise InvalidArgumentError(f"bounds has {len(spec)} pairs for {n} assets")
        pairs: Sequence[Any] = spec
        for i, pair in enumerate(pairs):
            lo[i], hi[i] = _pair(pair, f"bounds[{i}]")
    else:
        raise DTypeError(f"bounds must be a (min, max) pair, a sequence of pairs or a mapping, got {spec!r}")
    if not allow_short and bool(np.any(lo < 0)):
        bad = [names[i] for i in np.flatnonzero(lo < 0)]
        raise InvalidArgumentError(
            f"negative minimum weight for {', '.join(map(repr, bad))}: short positions need allow_short=True"
        )
    if float(lo.sum()) > 1 + _FEAS_TOL:
        raise InvalidArgumentError(f"infeasible bounds: the minimum weights sum to {lo.sum():.6g} > 1")
    if float(hi.sum()) < 1 - _FEAS_TOL:
        raise InvalidArgumentError(f"infeasible bounds: the maximum weights sum to {hi.sum():.6g} < 1")
    return lo, hi


class _Problem:
    """Annualised moments, bounds and the rate of one optimisation."""

    def __init__(
        self,
        returns: Any,
        bounds: BoundsSpec,
        allow_short: bool,
        risk_free: float,
        periods_per_year: float,
    ) -> None:
        ppy = float(periods_per_year)
        if not (math.isfinite(ppy) and ppy > 0):
            raise InvalidArgumentError(
                f"periods_per_year must be positive and finite, got {periods_per_year!r}"
            )
        rf = float(risk_free)
        if not math.isfinite(rf):
            raise InvalidArgumentError(f"risk_free must be finite, got {risk_free!r}")
        self.names, mat = _returns_matrix(returns)
        self.mu: FloatArray = mat.mean(axis=0) * ppy
        self.cov: FloatArray = np.atleast_2d(np.cov(mat, rowvar=False, ddof=1)) * ppy
        self.lo, self.hi = _bounds(bounds, self.names, bool(allow_short))
        self.rf = rf
        n = len(self.names)
        scale = float(np.mean(np.diag(self.cov)))
        self.scale = scale if scale > 0 else 1.0
        self.scipy_bounds = [
            (None if math.isinf(a) else a, None if math.isinf(b) else b) for a, b in zip(self.lo, self.hi)
        ]
        self.budget = {"type": "eq", "fun": lambda w: np.sum(w) - 1.0, "jac": lambda w: np.ones(n)}

    @property
    def n(self) -> int:
        return len(self.names)

    def start(self) -> FloatArray:
        """A point meeting the budget and the bounds, near equal weights."""
        w: FloatArray = np.clip(np.full(self.n, 1.0 / self.n), self.lo, self.hi)
        rest = 1.0 - float(w.sum())
        if rest != 0.0:
            room = self.hi - w if rest > 0 else w - self.lo
            open_ended = np.isinf(room)
            if open_ended.any():
                w[open_ended] += rest / int(open_ended.sum())
            else:
                w += rest * room / float(room.sum())
        return w

    def extreme_return(self, sign: float, cap: float | None = None) -> tuple[float, FloatArray | None]:
        """Largest (sign=+1) or smallest (sign=-1) attainable ``w' mu`` and a portfolio reaching it;
        +-inf (and None) when unbounded. ``cap`` replaces the infinite bounds by +-cap."""
        bounds = self.scipy_bounds
        if cap is not None:
            bounds = [(-cap if a is None else a, cap if b is None else b) for a, b in bounds]
        res = linprog(
            -sign * self.mu,
            A_eq=np.ones((1, self.n)),
            b_eq=[1.0],
            bounds=bounds,
            method="highs",
        )
        if res.status == 3:
            return sign * math.inf, None
        if res.status != 0:  # pragma: no cover - the bounds were checked feasible
            raise InvalidArgumentError(f"no portfolio meets the bounds: {res.message}")
        w = np.asarray(res.x, dtype=np.float64)
        return float(self.mu @ w), w

    def vertex(self, cost: FloatArray) -> FloatArray:
        """An admissible portfolio minimising ``cost' w`` (infinite bounds capped at +-1000)."""
        bounds = [(-1e3 if a is None else a, 1e3 if b is None else b) for a, b in self.scipy_bounds]
        res = linprog(cost, A_eq=np.ones((1, self.n)), b_eq=[1.0], bounds=bounds, method="highs")
        out: FloatArray = np.asarray(res.x, dtype=np.float64) if res.status == 0 else self.start()
        return out

    def variance_fun(self) -> tuple[Callable[[FloatArray], float], Callable[[FloatArray], FloatArray]]:
        cov, s = self.cov, self.scale

        def f(w: FloatArray) -> float:
            return float(w @ cov @ w) / s

        def g(w: FloatArray) -> FloatArray:
            out: FloatArray = 2.0 * (cov @ w) / s
            return out

        return f, g

    def allocation(
        self, w: FloatArray, objective: str, converged: bool, message: str, target: float | None
    ) -> Allocation:
        w = np.clip(w, self.lo, self.hi)
        er = float(self.mu @ w)
        var = float(w @ self.cov @ w)
        vol = math.sqrt(max(var, 0.0))
        sharpe = (er - self.rf) / vol if vol > 0 else math.nan
        ok = converged and abs(float(w.sum()) - 1.0) <= 1e-6
        if target is not None:
            ok = ok and abs(er - target) <= 1e-6 * max(1.0, abs(target))
        return Allocation(
            self.names,
            w,
            expected_return=er,
            volatility=vol,
            sharpe=sharpe,
            objective=objective,
            success=ok,
            message=message,
        )

    # -- objectives -------------------------------------------------------------------------
    def min_variance(self, target: float | None = None) -> Allocation:
        f, g = self.variance_fun()
        cons: list[dict[str, Any]] = [self.budget]
        if target is not None:
            mu, t = self.mu, float(target)
            cons.append({"type": "eq", "fun": lambda w: float(mu @ w) - t, "jac": lambda w: mu})
        res = minimize(
            f, self.start(), jac=g, method="SLSQP", bounds=self.scipy_bounds, constraints=cons, options=_SLSQP
        )
        objective = "min_variance" if target is None else "target_return"
        return self.allocation(
            np.asarray(res.x, dtype=np.float64), objective, bool(res.success), str(res.message), target
        )

    def max_sharpe(self) -> Allocation:
        excess = self.mu - self.rf
        best, w_best = self._extreme_excess(excess)
        if best > 0:
            return self._max_sharpe_convex(excess, w_best)
        return self._max_sharpe_direct(excess)

    def _extreme_excess(self, excess: FloatArray) -> tuple[float, FloatArray]:
        """Highest attainable excess return and a portfolio with it (within a box of +-1000 when
        the bounds leave it unlimited: a start point only needs a positive excess)."""
        _, w = self.extreme_return(+1.0)
        if w is None:
            _, w = self.extreme_return(+1.0, cap=1e3)
            assert w is not None
        return float(excess @ w), w

    def _max_sharpe_convex(self, excess: FloatArray, w0: FloatArray) -> Allocation:
        n = self.n
        cov, s = self.cov, self.scale
        lo_idx = np.flatnonzero(np.isfinite(self.lo))
        hi_idx = np.flatnonzero(np.isfinite(self.hi))
        lo_f, hi_f = self.lo[lo_idx], self.hi[hi_idx]

        def f(z: FloatArray) -> float:
            y = z[:n]
            return float(y @ cov @ y) / s

        def g(z: FloatArray) -> FloatArray:
            out = np.zeros(n + 1)
            out[:n] = 2.0 * (cov @ z[:n]) / s
            return out

        cons: list[dict[str, Any]] = [
            {
                "type": "eq",
                "fun": lambda z: float(excess @ z[:n]) - 1.0,
                "jac": lambda z: np.append(excess, 0.0),
            },
            {
                "type": "eq",
                "fun": lambda z: float(np.sum(z[:n]) - z[n]),
                "jac": lambda z: np.append(np.ones(n), -1.0),
            },
        ]
        if lo_idx.size:
            jac_lo = np.zeros((lo_idx.size, n + 1))
            jac_lo[np.arange(lo_idx.size), lo_idx] = 1.0
            jac_lo[:, n] = -lo_f
            cons.append({"type": "ineq", "fun": lambda z: z[lo_idx] - lo_f * z[n], "jac": lambda z: jac_lo})
        if hi_idx.size:
            jac_hi = np.zeros((hi_idx.size, n + 1))
            jac_hi[np.arange(hi_idx.size), hi_idx] = -1.0
            jac_hi[:, n] = hi_f
            cons.append({"type": "ineq", "fun": lambda z: hi_f * z[n] - z[hi_idx], "jac": lambda z: jac_hi})
        k0 = 1.0 / float(excess @ w0)
        z0 = np.append(w0 * k0, k0)
        bounds = [(None, None)] * n + [(0.0, None)]
        res = minimize(f, z0, jac=g, method="SLSQP", bounds=bounds, constraints=cons, options=_SLSQP)
        z = np.asarray(res.x, dtype=np.float64)
        if not z[n] > 0:  # pragma: no cover - k > 0 whenever the excess constraint holds
            return self._max_sharpe_direct(excess)
        return self.allocation(z[:n] / z[n], "max_sharpe", bool(res.success), str(res.message), None)

    def _max_sharpe_direct(self, excess: FloatArray) -> Allocation:
        cov = self.cov

        def f(w: FloatArray) -> float:
            sd = math.sqrt(max(float(w @ cov @ w), 1e-300))
            return -float(excess @ w) / sd

        def g(w: FloatArray) -> FloatArray:
            cw = cov @ w
            var = max(float(w @ cw), 1e-300)
            sd = math.sqrt(var)
            out: FloatArray = -(excess / sd - float(excess @ w) * cw / (var * sd))
            return out

        # The problem is not concave here (local optima sit at vertices): start from equal
        # weights, the minimum-variance portfolio and, for each asset, the admissible portfolio
        # with its largest weight, and keep the best end point.
        starts = [self.start(), self.min_variance().array]
        starts.extend(self.vertex(-np.eye(self.n)[i]) for i in range(self.n))
        best = None
        for x0 in starts:
            res = minimize(
                f,
                x0,
                jac=g,
                method="SLSQP",
                bounds=self.scipy_bounds,
                constraints=[self.budget],
                options=_SLSQP,
            )
            if best is None or float(res.fun) < float(best.fun):
                best = res
        assert best is not None
        return self.allocation(
            np.asarray(best.x, dtype=np.float64), "max_sharpe", bool(best.success), str(best.message), None
        )


# ---------------------------------------------------------------------------------------------
def optimize(
    returns: Any,
    *,
    objective: Objective = "max_sharpe",
    target_return: float | None = None,
    risk_free: float = 0.0,
    bounds: BoundsSpec = None,
    periods_per_year: float = 252,
    allow_short: bool = False,
) -> Allocation:
    """Mean-variance optimal weights of a set of assets.

    Parameters
    ----------
    returns : numpy.ndarray or polars.DataFrame
        Per-period simple returns, T periods (rows) x N assets (columns). A DataFrame's column
        names are the asset names; an array's assets are named ``asset_0``, ``asset_1``...
        Finite values only.
    objective : {"max_sharpe", "min_variance", "target_return"}
        Maximise the Sharpe ratio, minimise the variance, or minimise the variance at the expected
        return ``target_return``.
    target_return : float, optional
        Annualised expected return required by ``objective="target_return"``.
    risk_free : float, default 0.0
        Annual risk-free rate (Sharpe ratios).
    bounds : pair, sequence of pairs or mapping, optional
        Weight limits (see the module documentation); default ``(0, 1)``, or unbounded with
        ``allow_short``.
    periods_per_year : float, default 252
        Periods per year of ``returns`` (252: trading days).
    allow_short : bool, default False
        Allow negative weights.

    Returns
    -------
    Allocation

    Raises
    ------
    InvalidArgumentError
        NaN or infinite returns, fewer than two periods, infeasible bounds (minimums summing above
        1 or maximums below 1), a negative minimum without ``allow_short``, a missing or
        unreachable ``target_return``, an unknown objective.
    DTypeError
        Non-numeric returns or malformed bounds.
    """
    if objective not in _OBJECTIVES:
        raise InvalidArgumentError(f"objective must be one of {', '.join(_OBJECTIVES)}, got {objective!r}")
    if objective == "target_return":
        if target_return is None:
            raise InvalidArgumentError('objective="target_return" needs target_return')
        if not math.isfinite(float(target_return)):
            raise InvalidArgumentError(f"target_return must be finite, got {target_return!r}")
    elif target_return is not None:
        raise InvalidArgumentError(
            f'target_return is only used with objective="target_return", not {objective!r}'
        )
    prob = _Problem(returns, bounds, allow_short, risk_free, periods_per_year)
    if objective == "min_variance":
        return prob.min_variance()
    if objective == "max_sharpe":
        return prob.max_sharpe()
    assert target_return is not None
    target = float(target_return)
    lo_ret, _ = prob.extreme_return(-1.0)
    hi_ret, _ = prob.extreme_return(+1.0)
    tol = 1e-9 * max(1.0, abs(target))
    if not (lo_ret - tol <= target <= hi_ret + tol):
        raise InvalidArgumentError(
            f"target_return {target:.6g} is unreachable within the bounds: "
            f"the attainable expected returns span [{lo_ret:.6g}, {hi_ret:.6g}]"
        )
    return prob.min_variance(target)


def efficient_frontier(
    returns: Any,
    n_points: int = 20,
    *,
    risk_free: float = 0.0,
    bounds: BoundsSpec = None,
    periods_per_year: float = 252,
    allow_short: bool = False,
) -> pl.DataFrame:
    """Minimum-variance portfolios along the efficient frontier.

    The expected returns run evenly from the minimum-variance portfolio's up to the highest
    attainable within the bounds (or, when that is unbounded, the highest single asset's).

    Parameters
    ----------
    returns, risk_free, bounds, periods_per_year, allow_short
        As for :func:`optimize`.
    n_points : int, default 20
        Number of portfolios (at least 2).

    Returns
    -------
    polars.DataFrame
        One row per portfolio, by increasing return: ``target_return``, ``expected_return``,
        ``volatility``, ``sharpe``, ``success``, then one weight column per asset (named after
        it).
    """
    if isinstance(n_points, bool) or not isinstance(n_points, (int, np.integer)):
        raise DTypeError(f"n_points must be an int, got {type(n_points).__name__}")
    if n_points < 2:
        raise InvalidArgumentError(f"n_points must be at least 2, got {n_points}")
    prob = _Problem(returns, bounds, allow_short, risk_free, periods_per_year)
    fixed = ("target_return", "expected_return", "volatility", "sharpe", "success")
    clash = [name for name in prob.names if name in fixed]
    if clash:
        raise InvalidArgumentError(
            f"asset name(s) {', '.join(map(repr, clash))} clash with the frontier's columns"
        )
    mv = prob.min_variance()
    top, _ = prob.extreme_return(+1.0)
    if math.isinf(top):
        top = float(prob.mu.max())
    top = max(top, mv.expected_return)
    targets = np.linspace(mv.expected_return, top, int(n_points))
    allocations = [mv] + [prob.min_variance(float(t)) for t in targets[1:]]
    data: dict[str, Any] = {
        "target_return": targets,
        "expected_return": [a.expected_return for a in allocations],
        "volatility": [a.volatility for a in allocations],
        "sharpe": [a.sharpe for a in allocations],
        "success": [a.success for a in allocations],
    }
    weights = np.vstack([a.array for a in allocations])
    for i, name in enumerate(prob.names):
        data[name] = weights[:, i]
    return pl.DataFrame(data)
