"""Indicators: TA-Lib equality, streaming = batch, persistence, the forming bar, causality,
O(1) state, the NaN policy, 2-D, polars/pandas, features, and bad arguments."""

from __future__ import annotations

import math
import pickle

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import neural_trader as nt
from neural_trader.ta._spec import SPECS

talib = pytest.importorskip("talib")

RTOL = 1e-9
ATOL = 1e-9


def market(n: int, seed: int) -> dict[str, np.ndarray]:
    """A seeded random walk with consistent OHLCV bars."""
    rng = np.random.default_rng(seed)
    close = 100.0 + np.cumsum(rng.normal(0.0, 1.0, n))
    close = np.abs(close) + 5.0
    opn = close + rng.normal(0.0, 0.5, n)
    high = np.maximum(opn, close) + rng.exponential(0.5, n)
    low = np.minimum(opn, close) - rng.exponential(0.5, n)
    volume = rng.integers(100, 10_000, n).astype(np.float64)
    return {"open": opn, "high": high, "low": low, "close": close, "real": close, "volume": volume}


# name -> parameter sets to test (TA-Lib keyword arguments)
CASES: dict[str, list[dict[str, float]]] = {
    "sma": [{"timeperiod": 2}, {"timeperiod": 5}, {"timeperiod": 30}],
    "ema": [{"timeperiod": 2}, {"timeperiod": 3}, {"timeperiod": 30}],
    "wma": [{"timeperiod": 2}, {"timeperiod": 7}, {"timeperiod": 30}],
    "dema": [{"timeperiod": 2}, {"timeperiod": 10}, {"timeperiod": 30}],
    "tema": [{"timeperiod": 2}, {"timeperiod": 9}, {"timeperiod": 30}],
    "kama": [{"timeperiod": 2}, {"timeperiod": 10}, {"timeperiod": 30}],
    "rsi": [{"timeperiod": 2}, {"timeperiod": 14}, {"timeperiod": 50}],
    "macd": [{}, {"fastperiod": 5, "slowperiod": 13, "signalperiod": 4}, {"fastperiod": 26, "slowperiod": 12, "signalperiod": 9}],
    # TA-Lib's C default period (5) and others; the Python API's default is 20
    "bbands": [{"timeperiod": 5, "nbdevup": 2.0, "nbdevdn": 2.0, "matype": 0}, {"timeperiod": 20, "nbdevup": 2.0, "nbdevdn": 1.5},
               {"timeperiod": 10, "nbdevup": 1.0, "nbdevdn": 1.0, "matype": 1}],
    "stddev": [{}, {"timeperiod": 20, "nbdev": 2.0}],
    "var": [{}, {"timeperiod": 20}],
    "mom": [{"timeperiod": 1}, {"timeperiod": 10}],
    "roc": [{"timeperiod": 1}, {"timeperiod": 10}],
    "atr": [{"timeperiod": 2}, {"timeperiod": 14}],
    "natr": [{"timeperiod": 14}],
    "trange": [{}],
    "stoch": [{}, {"fastk_period": 14, "slowk_period": 3, "slowd_period": 5},
              {"fastk_period": 9, "slowk_period": 4, "slowk_matype": 1, "slowd_period": 3, "slowd_matype": 1}],
    "stochf": [{}, {"fastk_period": 14, "fastd_period": 5}],
    "willr": [{"timeperiod": 2}, {"timeperiod": 14}],
    "cci": [{"timeperiod": 2}, {"timeperiod": 20}],
    "adx": [{"timeperiod": 2}, {"timeperiod": 14}],
    "plus_di": [{"timeperiod": 2}, {"timeperiod": 14}],
    "minus_di": [{"timeperiod": 2}, {"timeperiod": 14}],
    "aroon": [{"timeperiod": 2}, {"timeperiod": 14}, {"timeperiod": 25}],
    "mfi": [{"timeperiod": 2}, {"timeperiod": 14}],
    "obv": [{}],
}

LENGTHS = [1, 7, 40, 600, 4000]

# the power of the price unit in each indicator's output (absent: unitless)
PRICE_POWER = {"sma": 1, "ema": 1, "wma": 1, "dema": 1, "tema": 1, "kama": 1, "macd": 1, "bbands": 1,
               "stddev": 1, "var": 2, "mom": 1, "atr": 1, "trange": 1}


def inputs_of(name: str, m: dict[str, np.ndarray]) -> list[np.ndarray]:
    return [m[r] for r in SPECS[name].inputs]


def as_tuple(x: object) -> tuple[np.ndarray, ...]:
    return x if isinstance(x, tuple) else (x,)  # type: ignore[return-value]


def assert_close(ours: np.ndarray, ref: np.ndarray, what: str) -> None:
    assert ours.shape == ref.shape, what
    nan_ours, nan_ref = np.isnan(ours), np.isnan(ref)
    assert np.array_equal(nan_ours, nan_ref), f"{what}: NaN positions differ ({np.flatnonzero(nan_ours != nan_ref)[:5]})"
    ok = ~nan_ref
    np.testing.assert_allclose(ours[ok], ref[ok], rtol=RTOL, atol=ATOL, err_msg=what)


def test_every_indicator_has_a_case_and_the_registry_agrees() -> None:
    from neural_trader import _core

    compiled = {n: (i, o, p) for n, i, o, p in _core._ta_registry()}
    assert set(compiled) == set(SPECS)
    for name, s in SPECS.items():
        assert compiled[name] == (len(s.inputs), len(s.outputs), len(s.params)), name
    assert set(CASES) == set(SPECS) - {"zscore", "vwap"}


def assert_every_case_equals_talib(m: dict[str, np.ndarray], label: str, *, last_params_only: bool = False,
                                   price_level: float = 1.0) -> None:
    """Every indicator of CASES (each parameter set, or the last one) on the bars m against TA-Lib;
    outputs in price units (or squared) compared in units of price_level, oscillators, ratios and
    volumes as they are."""
    for name in sorted(CASES):
        for params in CASES[name][-1:] if last_params_only else CASES[name]:
            ours = as_tuple(getattr(nt.ta, name)(*inputs_of(name, m), **params))
            ref = as_tuple(getattr(talib, name.upper())(*inputs_of(name, m), **params))
            assert len(ours) == len(ref), name
            unit = price_level ** PRICE_POWER.get(name, 0)
            for k, (a, b) in enumerate(zip(ours, ref)):
                assert_close(a / unit, b / unit, f"{name}{params} output {k} {label}")


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("n", LENGTHS)
def test_equals_talib(name: str, n: int) -> None:
    m = market(n, seed=n + len(name))
    for params in CASES[name]:
        ours = as_tuple(getattr(nt.ta, name)(*inputs_of(name, m), **params))
        ref = as_tuple(getattr(talib, name.upper())(*inputs_of(name, m), **params))
        assert len(ours) == len(ref)
        for k, (a, b) in enumerate(zip(ours, ref)):
            assert_close(a, b, f"{name}{params} output {k} n={n}")


@pytest.mark.parametrize("n", [1_400, 5_000])
def test_windows_longer_than_a_chunk_equal_talib(n: int) -> None:
    # the rolling extremes (WILLR, STOCHF/STOCH, AROON) run in chunks of about 512 bars, or of one
    # window when the window is longer: windows of 600-700 bars, series of a few windows
    m = market(n, seed=41)
    cases = {"willr": {"timeperiod": 700}, "stochf": {"fastk_period": 600, "fastd_period": 3},
             "stoch": {"fastk_period": 650, "slowk_period": 3, "slowd_period": 3}, "aroon": {"timeperiod": 700}}
    for name, params in cases.items():
        ours = as_tuple(getattr(nt.ta, name)(*inputs_of(name, m), **params))
        ref = as_tuple(getattr(talib, name.upper())(*inputs_of(name, m), **params))
        for k, (a, b) in enumerate(zip(ours, ref)):
            assert np.isfinite(a).sum() > 0, name
            assert_close(a, b, f"{name}{params} output {k} n={n}")


def test_long_wandering_series_still_equal_talib() -> None:
    # running sums must not drift: 300,000 bars of a geometric walk that wanders over decades
    rng = np.random.default_rng(77)
    n = 300_000
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    high = close * (1 + rng.exponential(0.002, n))
    low = close * (1 - rng.exponential(0.002, n))
    m = {"real": close, "close": close, "high": high, "low": low, "volume": rng.uniform(100, 1e4, n)}
    assert_every_case_equals_talib(m, f"n={n}", last_params_only=True)


def test_tick_prices_with_ties_and_flat_stretches_equal_talib() -> None:
    # prices on a 0.25 tick: equal up and down moves (DM ties), repeated highs and lows (AROON,
    # WILLR), whole stretches of identical bars (zero true range, zero DM sums, flat windows)
    rng = np.random.default_rng(2026)
    n = 6_000
    close = 50.0 + 0.25 * np.cumsum(rng.integers(-2, 3, n))
    flat = (np.arange(n) // 300) % 4 == 3  # every fourth stretch of 300 bars stands still
    for i in np.flatnonzero(flat):
        close[i] = close[i - 1]
    high = close + np.where(flat, 0.0, 0.25 * rng.integers(0, 3, n))
    low = close - np.where(flat, 0.0, 0.25 * rng.integers(0, 3, n))
    m = {"real": close, "close": close, "high": high, "low": low, "volume": rng.integers(1, 50, n).astype(float)}
    assert_every_case_equals_talib(m, "on tick prices")


@pytest.mark.parametrize("scale", [1e-9, 1e-6, 1e6])
def test_any_price_level_equals_talib(scale: float) -> None:
    # an instrument quoted at 1e-9 (or 1e6) is the same market in other units: no fixed zero
    # band may read its ranges, sums or variances as flat (TA-Lib 0.8 has none left either)
    m = {k: (v if k == "volume" else v * scale) for k, v in market(3000, seed=5).items()}
    assert_every_case_equals_talib(m, f"at price level {scale:g}", price_level=scale)


@pytest.mark.parametrize("name", sorted(CASES))
def test_lookback_matches_talib_and_leading_nans(name: str) -> None:
    from talib import abstract

    m = market(300, seed=3)
    for params in CASES[name]:
        fn = abstract.Function(name.upper())
        fn.set_parameters(params)
        assert nt.ta.lookback(name, **params) == fn.lookback, (name, params)
        out = as_tuple(getattr(nt.ta, name)(*inputs_of(name, m), **params))[0]
        assert np.isnan(out[: fn.lookback]).all() and not np.isnan(out[fn.lookback]), (name, params)


def test_parameter_names_and_defaults_are_talibs() -> None:
    from talib import abstract

    for name, spec in SPECS.items():
        if name in ("zscore", "vwap"):  # ours; TA-Lib 0.8's VWAP is a cumulative line without parameters
            continue
        ref = dict(abstract.Function(name.upper()).parameters)
        assert {p.name: p.default for p in spec.params} == ref, name
        assert list(abstract.Function(name.upper()).output_names) == list(spec.outputs), name


def test_extras_against_slow_references() -> None:
    m = market(500, seed=11)
    x, v = m["close"], m["volume"]
    for p in (1, 5, 20):
        z = nt.ta.zscore(x, timeperiod=p)
        w = nt.ta.vwap(x, v, timeperiod=p)
        assert np.isnan(z[: p - 1]).all() and np.isnan(w[: p - 1]).all()
        for t in range(p - 1, len(x)):
            win = x[t - p + 1 : t + 1]
            sd = win.std()
            ref = 0.0 if sd * sd <= 1e-20 * win.mean() ** 2 else (x[t] - win.mean()) / sd
            assert math.isclose(z[t], ref, rel_tol=1e-9, abs_tol=1e-9)
            vv = v[t - p + 1 : t + 1]
            assert math.isclose(w[t], float((win * vv).sum() / vv.sum()), rel_tol=1e-12)


def test_var_is_accurate_for_tiny_variance_around_a_large_mean() -> None:
    # E[x^2] - E[x]^2 on raw values would lose every digit here; exact two-pass reference (fsum)
    x = 1e4 + np.cumsum(np.random.default_rng(0).normal(0.0, 1e-3, 100_000))
    v = nt.ta.var(x, 20)
    s = nt.ta.stddev(x, 20)
    for t in range(19, len(x), 997):
        w = x[t - 19 : t + 1]
        m = math.fsum(w) / 20
        ref = math.fsum((u - m) ** 2 for u in w) / 20
        assert math.isclose(v[t], ref, rel_tol=1e-10), t
        assert math.isclose(s[t], math.sqrt(ref), rel_tol=1e-10), t


def test_zscore_is_accurate_for_tiny_variance_around_a_large_mean() -> None:
    rng = np.random.default_rng(3)
    x = 1e6 + np.cumsum(rng.normal(0.0, 1e-3, 5000))  # std ~1e-3 around 1e6: x^2 ~ 1e12
    z = nt.ta.zscore(x, 50)
    for t in range(49, 5000, 97):
        win = x[t - 49 : t + 1]
        d = win - win.mean()
        ref = (x[t] - win.mean()) / math.sqrt((d * d).mean())
        assert math.isclose(z[t], ref, rel_tol=1e-6, abs_tol=1e-6), t


ALL_CASES = [(n, p) for n in sorted(CASES) for p in CASES[n]] + [
    ("zscore", {"timeperiod": 20}), ("vwap", {"timeperiod": 20}), ("zscore", {"timeperiod": 1})]


def make_stream(name: str, params: dict[str, float]) -> nt.ta.stream._Stream1:  # type: ignore[name-defined]
    return getattr(nt.ta.stream, SPECS[name].cls)(**params)


def step_all(ind: object, ins: list[np.ndarray], start: int, stop: int) -> list[tuple[float, ...]]:
    out = []
    for t in range(start, stop):
        r = ind.update(*[float(a[t]) for a in ins])  # type: ignore[attr-defined]
        out.append(r if isinstance(r, tuple) else (r,))
    return out


@pytest.mark.parametrize("name,params", ALL_CASES)
def test_streaming_equals_batch_bit_for_bit(name: str, params: dict[str, float]) -> None:
    m = market(700, seed=5)
    ins = inputs_of(name, m)
    batch = as_tuple(getattr(nt.ta, name)(*ins, **params))
    ind = make_stream(name, params)
    got = np.array(step_all(ind, ins, 0, 700)).T
    for k in range(len(batch)):
        np.testing.assert_array_equal(got[k], batch[k])
    # update_many continues the same stream
    ind2 = make_stream(name, params)
    first = as_tuple(ind2.update_many(*[a[:300] for a in ins]))
    rest = as_tuple(ind2.update_many(*[a[300:] for a in ins]))
    for k in range(len(batch)):
        np.testing.assert_array_equal(np.concatenate([first[k], rest[k]]), batch[k])
    assert ind.ready and ind.count == 700
    last = ind.value if isinstance(ind.value, tuple) else (ind.value,)
    assert last == tuple(b[-1] for b in batch)


@pytest.mark.parametrize("name,params", ALL_CASES)
def test_pickled_state_resumes_exactly(name: str, params: dict[str, float]) -> None:
    m = market(400, seed=9)
    ins = inputs_of(name, m)
    ref = make_stream(name, params)
    ref_out = step_all(ref, ins, 0, 400)
    for cut in (0, 3, nt.ta.lookback(name, **params), 250):
        ind = make_stream(name, params)
        step_all(ind, ins, 0, cut)
        clone = pickle.loads(pickle.dumps(ind))
        assert type(clone) is type(ind) and clone.count == ind.count
        np.testing.assert_array_equal(np.array(step_all(clone, ins, cut, 400)), np.array(ref_out[cut:]))
        cp = ind.copy()
        np.testing.assert_array_equal(np.array(step_all(cp, ins, cut, 400)), np.array(ref_out[cut:]))


@pytest.mark.parametrize("name,params", ALL_CASES)
def test_replace_equals_a_fresh_run_over_the_revised_series(name: str, params: dict[str, float]) -> None:
    m = market(120, seed=13)
    ins = inputs_of(name, m)
    rng = np.random.default_rng(1)
    ind = make_stream(name, params)
    revised = [a.copy() for a in ins]
    for t in range(120):
        ind.update(*[float(a[t]) for a in ins])
        for _ in range(2):  # the forming bar moves twice
            bump = float(rng.normal(0, 0.3))
            vals = [float(a[t]) + bump if r != "volume" else float(a[t]) + 10 * abs(bump)
                    for a, r in zip(ins, SPECS[name].inputs)]
            got = ind.update(*vals, replace=True)
            for a, v in zip(revised, vals):
                a[t] = v
        fresh = as_tuple(getattr(nt.ta, name)(*[a[: t + 1] for a in revised], **params))
        got_t = got if isinstance(got, tuple) else (got,)
        for k in range(len(fresh)):
            assert (math.isnan(got_t[k]) and math.isnan(fresh[k][t])) or got_t[k] == fresh[k][t], (name, t)


def test_replace_before_any_update_appends() -> None:
    s = nt.ta.stream.SMA(2)
    assert math.isnan(s.update(1.0, replace=True))
    assert s.update(3.0) == 2.0


@pytest.mark.parametrize("name,params", ALL_CASES)
def test_causal_prefix(name: str, params: dict[str, float]) -> None:
    m = market(500, seed=21)
    ins = inputs_of(name, m)
    full = as_tuple(getattr(nt.ta, name)(*ins, **params))
    for cut in (1, 37, 260):
        pre = as_tuple(getattr(nt.ta, name)(*[a[:cut] for a in ins], **params))
        for k in range(len(full)):
            np.testing.assert_array_equal(pre[k], full[k][:cut])


@pytest.mark.parametrize("name,params", ALL_CASES)
def test_state_size_is_constant(name: str, params: dict[str, float]) -> None:
    m = market(1_000_000, seed=2)
    ins = inputs_of(name, m)
    ind = make_stream(name, params)
    ind.update_many(*[a[:1000] for a in ins])
    small = len(pickle.dumps(ind))
    if name == "cci":  # O(period) per update: keep this test quick
        ind.update_many(*[a[1000:100_000] for a in ins])
    else:
        ind.update_many(*[a[1000:] for a in ins])
    assert len(pickle.dumps(ind)) == small


@pytest.mark.parametrize("n,rate", [(800, 0.05), (20_000, 0.002)])
def test_nan_policy_skips_missing_bars(n: int, rate: float) -> None:
    # sparse holes leave long finite runs, which take the batch kernels; dense ones the per-bar path
    m = market(n, seed=4)
    rng = np.random.default_rng(0)
    holes = rng.random(n) < rate
    for name, params in ALL_CASES:
        ins = inputs_of(name, m)
        k = rng.integers(0, len(ins))
        dirty = [a.copy() for a in ins]
        dirty[k][holes] = rng.choice([np.nan, np.inf, -np.inf], holes.sum())
        got = as_tuple(getattr(nt.ta, name)(*dirty, **params))
        clean = as_tuple(getattr(nt.ta, name)(*[a[~holes] for a in ins], **params))
        for j in range(len(got)):
            assert np.isnan(got[j][holes]).all(), name
            np.testing.assert_array_equal(got[j][~holes], clean[j], err_msg=name)
        # recovery: after a run of NaN the values are the clean ones again
        assert not np.isnan(got[0][-1])


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(sorted(SPECS)),
    n=st.integers(0, 120),
    period=st.integers(2, 12),
    seed=st.integers(0, 2**31 - 1),
    nan_rate=st.sampled_from([0.0, 0.1]),
)
def test_property_streaming_batch_and_nan_skip(name: str, n: int, period: int, seed: int, nan_rate: float) -> None:
    spec = SPECS[name]
    params = {p.name: period for p in spec.params if p.integer and p.name.endswith("period")}
    m = market(max(n, 1), seed)
    rng = np.random.default_rng(seed)
    ins = [a[:n].copy() for a in inputs_of(name, m)]
    holes = rng.random(n) < nan_rate
    for a in ins:
        a[holes] = np.nan
    batch = as_tuple(getattr(nt.ta, name)(*ins, **params))
    ind = make_stream(name, params)
    got = np.array(step_all(ind, ins, 0, n)).reshape(n, len(batch)).T
    for k in range(len(batch)):
        np.testing.assert_array_equal(got[k], batch[k])
        assert np.isnan(batch[k][holes]).all()
    lb = nt.ta.lookback(name, **params)
    finite_seen = np.cumsum(~holes)
    for k in range(len(batch)):
        assert np.isnan(batch[k][finite_seen <= lb]).all()


def on_two_and_one_thread(name: str, ins: list[np.ndarray], params: dict[str, float]) -> tuple[
        tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
    """nt.ta.<name>(*ins) with nt.set_num_threads(2), then (1); the default restored after."""
    try:
        nt.set_num_threads(2)
        two = as_tuple(getattr(nt.ta, name)(*ins, **params))
        nt.set_num_threads(1)
        one = as_tuple(getattr(nt.ta, name)(*ins, **params))
    finally:
        nt.set_num_threads(0)
    return two, one


def test_two_d_rows_equal_one_d_and_threads_agree() -> None:
    rows = [market(300, seed=s) for s in range(7)]
    for name, params in ALL_CASES:
        ins2 = [np.stack([r[role] for r in rows]) for role in SPECS[name].inputs]
        two, one = on_two_and_one_thread(name, ins2, params)
        for i, r in enumerate(rows):
            ref = as_tuple(getattr(nt.ta, name)(*[r[role] for role in SPECS[name].inputs], **params))
            for k in range(len(ref)):
                np.testing.assert_array_equal(two[k][i], ref[k])
                np.testing.assert_array_equal(one[k][i], ref[k])


def test_long_series_split_across_threads_equal_one_thread() -> None:
    # 300,000 bars: with 2 threads the window-only indicators (MOM, ROC, TRANGE, WILLR, CCI,
    # AROON) run in two parts, the second warmed up on the bars before it; the recursions that
    # forget their start (EMA, DEMA, TEMA, MACD, RSI, ATR, NATR, PLUS_DI, MINUS_DI, ADX) too, the
    # second part speculative and checked; WMA, VAR, STDDEV, ZSCORE too, the second part started
    # from the last refresh of the running sums; the others run whole. Bit-identical to one thread,
    # with gaps (one run longer than any window, across the middle) and strided inputs.
    n = 300_000
    m = market(2 * n, seed=5)
    holes = np.zeros(2 * n, dtype=bool)
    holes[::997] = True
    holes[n - 150:n + 150] = True  # around the part boundary of the strided half
    holes[n // 2 - 40:n // 2 + 40] = True  # and of the contiguous one
    for name, params in ALL_CASES:
        full = [m[role].copy() for role in SPECS[name].inputs]
        full[0][holes] = np.nan
        for ins in ([a[:n] for a in full], [a[::2] for a in full]):
            two, one = on_two_and_one_thread(name, ins, params)
            for k in range(len(one)):
                np.testing.assert_array_equal(two[k], one[k], err_msg=f"{name} {params}")


def test_large_outputs_come_from_the_block_cache_and_never_alias() -> None:
    # 600,000 float64 = 4.8 MB: outputs in huge-page blocks, kept for reuse once released.
    n = 600_000
    c = market(n, seed=11)["close"]
    old = nt.set_output_cache_limit(256 << 20)
    try:
        ref_sma = nt.ta.sma(c[:1000], 20)
        first = nt.ta.sma(c, 20)
        assert first.nbytes >= 4 << 20 and first.flags.writeable and first.flags.c_contiguous
        view = first[500:]  # keeps the block alive after `first` is gone
        addr = first.__array_interface__["data"][0]
        expect = first.copy()
        del first
        again = nt.ta.sma(c, 20)  # the block is still in use: new memory
        assert again.__array_interface__["data"][0] != addr
        np.testing.assert_array_equal(view, expect[500:])
        np.testing.assert_array_equal(again, expect)
        np.testing.assert_array_equal(again[:1000], ref_sma)
        del view
        hits = nt.output_cache_info()["hits"]
        macd = nt.ta.macd(c)  # three outputs, one of them may reuse the released block
        assert nt.output_cache_info()["hits"] > hits
        for got, want in zip(macd, nt.ta.macd(c[:1000])):
            np.testing.assert_array_equal(got[:1000], want)
        # 2-D rows and features through cached blocks equal the 1-D results
        two = nt.ta.rsi(np.stack([c, c[::-1].copy()]), 14)
        assert two.nbytes >= 4 << 20
        np.testing.assert_array_equal(two[1], nt.ta.rsi(c[::-1].copy(), 14))
        np.testing.assert_array_equal(two[0], nt.ta.rsi(c, 14))
        hits = nt.output_cache_info()["hits"]
        df = nt.ta.features(pl.DataFrame({"close": c}), ["sma:20", "ema:12"])
        assert nt.output_cache_info()["hits"] > hits
        np.testing.assert_array_equal(df["sma_20"].to_numpy(), expect)
        np.testing.assert_array_equal(df["ema_12"].to_numpy(), nt.ta.ema(c, 12))
    finally:
        nt.set_output_cache_limit(old)


def test_any_float_dtype_and_any_layout() -> None:
    m = market(400, seed=8)
    x = m["close"]
    ref = nt.ta.rsi(x, 14)
    np.testing.assert_array_equal(nt.ta.rsi(x.astype(np.float32), 14), nt.ta.rsi(x.astype(np.float32).astype(np.float64), 14))
    strided = np.stack([x, x], axis=1)[:, 0]
    assert strided.strides[0] == 16
    np.testing.assert_array_equal(nt.ta.rsi(strided, 14), ref)
    fortran = np.asfortranarray(np.stack([x, x * 2]))
    out = nt.ta.sma(fortran, 10)
    np.testing.assert_array_equal(out[1], nt.ta.sma(x * 2, 10))
    np.testing.assert_array_equal(nt.ta.mom(list(x), 3), nt.ta.mom(x, 3))
    np.testing.assert_array_equal(nt.ta.obv(x, m["volume"].astype(np.int64)), nt.ta.obv(x, m["volume"]))


def test_plain_call_path_equals_checked_path() -> None:
    # float64 arrays with int parameters go straight to the core; keywords, floats and other
    # inputs take the checked path: the same bits either way, and a bool is still refused.
    m = market(300, seed=12)
    for name, spec in SPECS.items():
        f = getattr(nt.ta, name)
        arrays = [m[i] for i in spec.inputs]
        ints = tuple(int(p.default) if p.integer else 2 for p in spec.params)
        plain = f(*arrays, *ints)
        checked = [f(*arrays, **{p.name: float(v) for p, v in zip(spec.params, ints)}),
                   f(*[list(a) for a in arrays], *ints),
                   f(*arrays, *[float(v) for v in ints])]
        two_d = f(*[np.stack([a, a[::-1].copy()]) for a in arrays], *ints)
        for other in checked:
            for a, b in zip(plain if isinstance(plain, tuple) else (plain,), other if isinstance(other, tuple) else (other,)):
                np.testing.assert_array_equal(a, b, err_msg=name)
        for a, b in zip(plain if isinstance(plain, tuple) else (plain,), two_d if isinstance(two_d, tuple) else (two_d,)):
            np.testing.assert_array_equal(b[0], a, err_msg=name)
        if spec.params:
            with pytest.raises(nt.errors.InvalidArgumentError, match="must be a number, got bool"):
                f(*arrays, True, *ints[1:])


def test_polars_and_pandas_in_and_out() -> None:
    m = market(200, seed=6)
    s = pl.Series("close", m["close"])
    out = nt.ta.rsi(s, 14)
    assert isinstance(out, pl.Series) and out.name == "close"
    np.testing.assert_array_equal(out.to_numpy(), nt.ta.rsi(m["close"], 14))
    up, mid, lo = nt.ta.bbands(s, 20)
    assert isinstance(mid, pl.Series)
    pd = pytest.importorskip("pandas")
    idx = pd.date_range("2024-01-01", periods=200, freq="min")
    ps = pd.Series(m["close"], index=idx, name="px")
    r = nt.ta.ema(ps, 10)
    assert isinstance(r, pd.Series) and r.index.equals(idx) and r.name == "px"
    np.testing.assert_array_equal(r.to_numpy(), nt.ta.ema(m["close"], 10))
    a = nt.ta.atr(pd.Series(m["high"], index=idx), pd.Series(m["low"], index=idx), pd.Series(m["close"], index=idx))
    assert a.index.equals(idx)


def long_frame() -> pl.DataFrame:
    frames = []
    for sym in range(4):
        m = market(300 + 50 * sym, seed=100 + sym)
        frames.append(pl.DataFrame({"symbol": [sym] * len(m["close"]), "t": np.arange(len(m["close"])),
                                    "high": m["high"], "low": m["low"], "close": m["close"], "volume": m["volume"]}))
    # interleave the symbols by time, as a long frame would be
    return pl.concat(frames).sort(["t", "symbol"])


def test_polars_namespace_over_symbol_equals_each_symbol_alone() -> None:
    df = long_frame()
    got = df.with_columns(
        rsi=pl.col("close").ta.rsi(14).over("symbol"),
        atr=pl.col("close").ta.atr(timeperiod=10).over("symbol"),
        macd=pl.col("close").ta.macd(5, 13, 4).over("symbol"),
    )
    for sym in range(4):
        part = got.filter(pl.col("symbol") == sym)
        np.testing.assert_array_equal(part["rsi"].to_numpy(), nt.ta.rsi(part["close"].to_numpy(), 14))
        np.testing.assert_array_equal(part["atr"].to_numpy(),
                                      nt.ta.atr(part["high"].to_numpy(), part["low"].to_numpy(), part["close"].to_numpy(), 10))
        sig = nt.ta.macd(part["close"].to_numpy(), 5, 13, 4)[1]
        np.testing.assert_array_equal(part["macd"].struct.field("macdsignal").to_numpy(), sig)
    agg = df.group_by("symbol", maintain_order=True).agg(pl.col("close").ta.sma(20).alias("sma"))
    for row in agg.iter_rows(named=True):
        closes = df.filter(pl.col("symbol") == row["symbol"])["close"].to_numpy()
        np.testing.assert_array_equal(np.array(row["sma"], dtype=np.float64), nt.ta.sma(closes, 20))


def test_features_equal_single_functions_and_stream_twin() -> None:
    m = market(3000, seed=31)
    bars = pl.DataFrame({k: m[k] for k in ("open", "high", "low", "close", "volume")})
    spec = ["sma:20", "ema:12", "rsi:14", "macd:12:26:9", "bbands:20:2", "atr:14", "sma:5@volume"]
    df = nt.ta.features(bars, spec)
    fs = nt.ta.FeatureStream(spec)
    assert df.columns == fs.names
    assert df.columns[:3] == ["sma_20", "ema_12", "rsi_14"]
    np.testing.assert_array_equal(df["sma_20"].to_numpy(), nt.ta.sma(m["close"], 20))
    np.testing.assert_array_equal(df["macd_12_26_9_macdhist"].to_numpy(), nt.ta.macd(m["close"], 12, 26, 9)[2])
    np.testing.assert_array_equal(df["bbands_20_2_lowerband"].to_numpy(), nt.ta.bbands(m["close"], 20, 2)[2])
    np.testing.assert_array_equal(df["atr_14"].to_numpy(), nt.ta.atr(m["high"], m["low"], m["close"], 14))
    np.testing.assert_array_equal(df["sma_5_volume"].to_numpy(), nt.ta.sma(m["volume"], 5))
    rows = bars.rows(named=True)
    for i, row in enumerate(rows[:500]):
        vec = fs.update(row)
        np.testing.assert_array_equal(vec, df.row(i))
    fs2 = pickle.loads(pickle.dumps(fs))
    for i, row in enumerate(rows[500:510], start=500):
        np.testing.assert_array_equal(fs2.update(**row), df.row(i))


def test_bad_arguments_raise_clear_errors() -> None:
    x = market(50, seed=1)["close"]
    with pytest.raises(nt.errors.InvalidArgumentError, match=r"^sma: timeperiod must be an integer in \[1, 100000\], got 0$"):
        nt.ta.sma(x, 0)
    with pytest.raises(ValueError, match="integer"):
        nt.ta.sma(x, 2.5)
    with pytest.raises(nt.errors.InvalidArgumentError, match="shape"):
        nt.ta.atr(x, x[:-1], x)
    with pytest.raises(nt.errors.DTypeError):
        nt.ta.sma(np.array(["a", "b"]), 2)
    with pytest.raises(TypeError):
        nt.ta.sma(pl.Series(["a", "b"]), 2)
    with pytest.raises(nt.errors.InvalidArgumentError, match="matype"):
        nt.ta.bbands(x, 5, 2, 2, 5)
    with pytest.raises(nt.errors.InvalidArgumentError, match="unknown indicator"):
        nt.ta.lookback("nope")
    with pytest.raises(nt.errors.InvalidArgumentError, match="unknown parameter"):
        nt.ta.lookback("rsi", period=3)
    with pytest.raises(nt.errors.InvalidArgumentError, match=r"^rsi: timeperiod .*, got -1$"):
        nt.ta.stream.RSI(-1)
    with pytest.raises(nt.errors.InvalidArgumentError, match=r"^rsi: timeperiod .*, got 1000000$"):
        nt.ta.stream.RSI(1_000_000)
    with pytest.raises(nt.errors.InvalidArgumentError, match="3-D"):
        nt.ta.sma(np.zeros((2, 2, 2)), 2)
    with pytest.raises(nt.errors.InvalidArgumentError, match="close"):
        nt.ta.features(pl.DataFrame({"open": x}), ["rsi:14"])
    with pytest.raises(nt.errors.InvalidArgumentError, match="not a number"):
        nt.ta.features(pl.DataFrame({"close": x}), ["rsi:x"])
    s = nt.ta.stream.SMA(3)
    with pytest.raises(TypeError):
        s.update("a")  # type: ignore[arg-type]


def test_corrupted_state_bytes_raise() -> None:
    ind = nt.ta.stream.MACD()
    ind.update_many(market(100, seed=2)["close"])
    data = ind.to_bytes()
    assert nt.ta.stream.MACD.from_bytes(data).value == ind.value
    rng = np.random.default_rng(0)
    for _ in range(200):
        bad = bytearray(data)
        i = int(rng.integers(0, len(bad)))
        bad[i] ^= 1 << int(rng.integers(0, 8))
        with pytest.raises(nt.errors.CorruptDataError):
            nt.ta.stream.MACD.from_bytes(bytes(bad))
    for cut in range(0, len(data), 7):
        with pytest.raises(nt.errors.CorruptDataError):
            nt.ta.stream.MACD.from_bytes(data[:cut])
    with pytest.raises(nt.errors.CorruptDataError, match="not rsi"):
        nt.ta.stream.RSI.from_bytes(data)
    # frames of older layouts are refused by their version (1: SMA's sum was one chain; 2: before
    # the TA-Lib 0.8 zero rules added a run counter to MFI and a peak to the variance)
    for version in (1, 2):
        old = bytearray(nt.ta.stream.KAMA(5).to_bytes())
        assert old[4:6] == b"\x03\x00"
        old[4] = version
        with pytest.raises(nt.errors.CorruptDataError, match=f"version {version}"):
            nt.ta.stream.KAMA.from_bytes(bytes(old))


def test_repr_and_properties() -> None:
    s = nt.ta.stream.BBANDS(20, 2.5)
    assert "BBANDS(20, 2.5, 2, 0)" in repr(s) and "ready=False" in repr(s)
    assert s.lookback == 19 and s.name == "bbands" and s.params == (20.0, 2.5, 2.0, 0.0)
    s.update_many(np.arange(30, dtype=float))
    assert s.ready and len(s.value) == 3
    s.reset()
    assert not s.ready and s.count == 0 and all(math.isnan(v) for v in s.value)
    assert nt.ta.names() == sorted(SPECS)


def test_baseline_and_avx2_fma_kernels_give_the_same_bits(tmp_path) -> None:
    # The batch loops have an AVX2+FMA copy (x86-64) whose recursions run std::fma as an
    # instruction; NT_SIMD=scalar runs the baseline loop, which calls the C library's fma. Both
    # must give every indicator the same bits (std::fma is exactly rounded, nothing else fuses).
    import os
    import platform
    import subprocess
    import sys

    m = market(30_000, seed=11)
    np.savez(tmp_path / "m.npz", **m)
    code = (
        "import sys, numpy as np, neural_trader as nt\n"
        "sys.path.insert(0, sys.argv[3])\n"
        "from test_ta import ALL_CASES, inputs_of, as_tuple\n"
        "m = dict(np.load(sys.argv[1]))\n"
        "out = {}\n"
        "for name, params in ALL_CASES:\n"
        "    for j, a in enumerate(as_tuple(getattr(nt.ta, name)(*inputs_of(name, m), **params))):\n"
        "        out[f'{name}_{j}'] = a\n"
        "out['kernels'] = np.array(nt.build_info()['batch_kernels'])\n"
        "np.savez(sys.argv[2], **out)\n"
    )
    here = os.path.dirname(os.path.abspath(__file__))
    runs = {}
    for simd in ("", "scalar"):
        dest = tmp_path / f"out_{simd or 'default'}.npz"
        subprocess.run([sys.executable, "-c", code, str(tmp_path / "m.npz"), str(dest), here],
                       env=dict(os.environ, NT_SIMD=simd), check=True)
        runs[simd] = dict(np.load(dest))
    assert str(runs["scalar"].pop("kernels")) == "baseline"
    info = nt.build_info()
    clones = platform.machine().lower() in ("x86_64", "amd64") and info["compiler"].split()[0] in ("gcc", "clang")
    want = "avx2+fma" if clones and info["simd_best"] in ("avx2", "avx512") else "baseline"
    assert str(runs[""].pop("kernels")) == want  # else both runs took the same path
    assert runs[""].keys() == runs["scalar"].keys() and len(runs[""]) >= 26
    for key, a in runs[""].items():
        b = runs["scalar"][key]
        assert a.tobytes() == b.tobytes(), key


@pytest.mark.parametrize("name", ["sma", "wma"])
def test_flat_series_average_to_their_value_exactly(name: str) -> None:
    # Where the window's sum is exact (values with few significant bits), the average is the
    # value itself, for every period: averages of a flat stretch must not cross each other.
    # (multiplying by 1 / period instead of dividing breaks it: 49 * (1 / 49) != 1)
    for v in (1.0, 100.5, 7.25, 1234.0, -3.75):
        x = np.full(300, v)
        for period in (3, 7, 10, 30, 49, 100):
            got = getattr(nt.ta, name)(x, period)
            assert (got[period - 1:] == v).all(), (name, v, period)
            h = getattr(nt.ta.stream, name.upper())(period)
            assert [h.update(float(e)) for e in x][-1] == v
