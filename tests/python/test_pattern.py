"""nt.PatternMemory: windows, forward returns, no look-ahead, forecasts and confidence, save/load."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import neural_trader as nt
from neural_trader.errors import CorruptDataError, InvalidArgumentError


def walk(n: int, seed: int, vol: float = 0.01) -> np.ndarray:
    return 100 * np.exp(np.cumsum(np.random.default_rng(seed).normal(0, vol, n)))


def test_fit_stores_every_complete_window_with_its_forward_return():
    w, h = 8, 3
    p = walk(200, 1)
    pm = nt.PatternMemory(window=w, horizon=h).fit(p)
    ends = np.arange(w, len(p) - h)
    assert len(pm) == len(ends)
    ids, labels = pm.index.labels()
    order = np.argsort(ids)
    np.testing.assert_array_equal(labels[order, 1], ends)  # time label = the window's last bar
    np.testing.assert_allclose(pm._fwd[: len(pm)], np.log(p[ends + h] / p[ends]))
    # the stored vector is the z-scored return window
    r = np.diff(np.log(p))[ends[5] - w:ends[5]]
    z = (r - r.mean()) / r.std()
    np.testing.assert_allclose(pm.index.get_vectors([5])[0], z, rtol=1e-5, atol=1e-5)


def test_update_bar_by_bar_equals_fit_and_never_looks_ahead():
    w, h = 6, 4
    p = walk(300, 2)
    by_fit = nt.PatternMemory(window=w, horizon=h).fit(p)
    pm = nt.PatternMemory(window=w, horizon=h)
    for t, price in enumerate(p):
        pm.update(price)
        # every stored window ended at least `horizon` bars before the newest bar t
        if len(pm):
            _, labels = pm.index.labels()
            assert labels[:, 1].max() <= t - h
        assert len(pm) == max(0, t - h - w + 1)
    assert len(pm) == len(by_fit)
    np.testing.assert_allclose(pm._fwd[: len(pm)], by_fit._fwd[: len(by_fit)])


def test_no_look_ahead_on_a_series_built_to_show_it():
    # A flat series with tiny noise, then one sharp, unique pattern followed by a jump. If the
    # memory stored a window before its outcome was known, a query with the unique pattern right
    # after it appears would find itself (distance 0) and forecast the jump that has not happened.
    rng = np.random.default_rng(3)
    w, h = 10, 5
    r = rng.normal(0, 1e-4, 400)
    r[300:310] = [0.02, -0.03, 0.05, -0.01, 0.04, -0.05, 0.03, 0.01, -0.02, 0.06]  # the pattern
    r[310:315] = 0.05  # what follows it: a jump
    p = 100 * np.exp(np.concatenate([[0], np.cumsum(r)]))
    pm = nt.PatternMemory(window=w, horizon=h, k=1)
    for t in range(311):  # bars 0..310: the pattern ends at bar 310
        pm.update(p[t])
    f = pm.query(p[:311])
    assert f.times.max() <= 310 - h
    assert f.distances[0] > 1.0  # nothing like the pattern is stored yet
    assert abs(f.forecast) < 0.01
    for t in range(311, 316):  # the outcome becomes known at bar 315
        pm.update(p[t])
    f = pm.query(p[:311])
    assert f.times[0] == 310 and f.distances[0] == pytest.approx(0.0, abs=1e-4)
    assert f.forecast == pytest.approx(np.log(p[315] / p[310]), rel=1e-6)
    # point-in-time query: known_before=314 excludes it again
    f = pm.query(p[:311], known_before=314)
    assert (f.times <= 314 - h).all() and 310 not in f.times.tolist()


def test_confidence_follows_neighbour_agreement():
    w, h = 8, 2
    rng = np.random.default_rng(4)
    shape = rng.normal(0, 0.01, w)

    def memory(outcomes):
        pm = nt.PatternMemory(window=w, horizon=h, k=len(outcomes))
        for i, out in enumerate(outcomes):
            r = np.concatenate([shape + rng.normal(0, 1e-4, w), [out / 2, out / 2], rng.normal(0, 0.01, 5)])
            pm.fit(100 * np.exp(np.concatenate([[0], np.cumsum(r)])), symbol=i)
        return pm

    q = 100 * np.exp(np.concatenate([[0], np.cumsum(shape)]))
    agree = memory([0.02] * 8).query(q)
    mostly = memory([0.02] * 6 + [-0.02] * 2).query(q)
    split = memory([0.02, -0.02] * 4).query(q)
    for f in (agree, mostly, split):
        assert len(f) == 8 and 0.0 <= f.confidence <= 1.0
        assert (f.similarity > 0.9).all()
    assert agree.confidence > 0.9 and agree.forecast == pytest.approx(0.02, rel=0.05)
    assert agree.confidence > mostly.confidence > split.confidence
    assert split.confidence < 0.2
    assert agree.dispersion < mostly.dispersion


def test_symbols_are_kept_apart():
    pm = nt.PatternMemory(window=5, horizon=2)
    pm.fit(walk(100, 5), symbol=1)
    pm.fit(walk(100, 6), symbol=2)
    f = pm.query(walk(100, 5), symbol=2, k=20)
    assert len(f) == 20 and (f.symbols == 2).all()
    assert "symbols=[1, 2]" in repr(pm)


def test_save_load_pickle_and_corruption(tmp_path):
    pm = nt.PatternMemory(window=12, horizon=3).fit(walk(500, 7))
    for p in walk(20, 8):
        pm.update(p)
    path = tmp_path / "pm.bin"
    pm.save(path)
    back = nt.PatternMemory.load(path)
    again = pickle.loads(pickle.dumps(pm))
    q = walk(40, 9)
    ref = pm.query(q)
    for other in (back, again):
        f = other.query(q)
        np.testing.assert_array_equal(f.ids, ref.ids)
        assert f.forecast == ref.forecast and f.confidence == ref.confidence
        assert len(other) == len(pm)
    # continuing after a load gives the same as continuing the original
    back.update(101.0)
    pm.update(101.0)
    assert len(back) == len(pm)
    data = path.read_bytes()
    with pytest.raises(CorruptDataError):
        nt.PatternMemory.from_bytes(data[:-3])
    bad = bytearray(data)
    bad[len(bad) // 2] ^= 0xFF
    with pytest.raises(ValueError):
        nt.PatternMemory.from_bytes(bytes(bad))


def test_argument_checks():
    with pytest.raises(InvalidArgumentError):
        nt.PatternMemory(window=1)
    pm = nt.PatternMemory(window=4, horizon=1)
    with pytest.raises(InvalidArgumentError):
        pm.fit([1.0, -2.0, 3.0])
    with pytest.raises(InvalidArgumentError):
        pm.query([1.0, 2.0])
    f = pm.query([1.0, 1.1, 1.2, 1.1, 1.3])  # empty memory
    assert len(f) == 0 and np.isnan(f.forecast) and f.confidence == 0.0
