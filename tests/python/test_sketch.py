"""The sketches: hashing, HyperLogLog, count-min, Bloom filter, reservoir.

Statistical tests use fixed seeds (deterministic) and tolerances that a wrong estimator fails:
HLL error spread and bias over 1,000 hash seeds per lg_k, count-min over-estimates against
exact counts, Bloom false positives against the target, reservoir inclusion frequencies
against the exact probabilities (chi-square / binomial z-scores).
"""

from __future__ import annotations

import math
import pickle
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import neural_trader as nt
from neural_trader.errors import CorruptDataError, DTypeError, InvalidArgumentError

GOLDEN = Path(__file__).parent.parent / "golden"


# ---------------------------------------------------------------------------------------------
# Hashing
def test_hash_golden_values_are_stable() -> None:
    # Pinned: these must never change (sketches serialised anywhere depend on them).
    assert nt.hash64(0) == 12405702546882280382
    assert nt.hash64(1) == 86320053361880074
    assert nt.hash64(-1) == 10637532756393756980
    assert nt.hash64(2**63 - 1) == 12492073685623917506
    assert nt.hash64(1.0) == 2316751678296416042
    assert nt.hash64(float("nan")) == 13492600408349111277
    assert nt.hash64("") == 15858469599420516659
    assert nt.hash64("a") == 7019872302709573343
    assert nt.hash64("AAPL") == 17453313587358916716
    assert nt.hash64("é") == 17562390050732619303
    assert nt.hash64("x" * 100) == 13737178608810708265
    assert nt.hash64(1, seed=7) == 9039311881605594949
    assert nt.hash64("AAPL", seed=7) == 3078572134996565353


def test_canonical_encoding() -> None:
    assert nt.hash64("a") == nt.hash64(b"a") == nt.hash64(bytearray(b"a")) == nt.hash64(memoryview(b"a"))
    assert nt.hash64("é") == nt.hash64("é".encode())
    assert nt.hash64(1) != nt.hash64(1.0)
    assert nt.hash64(-0.0) == nt.hash64(0.0)
    assert nt.hash64(float("nan")) == nt.hash64(-float("nan")) == nt.hash64(np.float64("nan"))
    assert nt.hash64(np.int32(5)) == nt.hash64(5) == nt.hash64(np.uint8(5))
    assert nt.hash64(np.float32(1.5)) == nt.hash64(1.5)
    assert nt.hash64(True) == nt.hash64(1)
    assert nt.hash64(1, seed=1) != nt.hash64(1, seed=2)
    # an int is not its own 8 bytes
    assert nt.hash64(1) != nt.hash64((1).to_bytes(8, "little"))


def test_batch_hashes_equal_single_hashes_for_every_input_kind() -> None:
    pl = pytest.importorskip("polars")
    ints = [0, 1, -5, 2**40, -(2**63)]
    expect = [nt.hash64(x, seed=3) for x in ints]
    for batch in (ints, tuple(ints), np.array(ints), np.array(ints, dtype=object), pl.Series(ints)):
        assert nt.hash64(batch, seed=3).tolist() == expect
    assert nt.hash64(np.array([1, 2], dtype=np.int8)).tolist() == [nt.hash64(1), nt.hash64(2)]
    assert nt.hash64(np.array([1, 2], dtype=np.uint64)).tolist() == [nt.hash64(1), nt.hash64(2)]
    assert nt.hash64(np.array([True, False])).tolist() == [nt.hash64(1), nt.hash64(0)]
    floats = [0.0, -0.0, 1.5, float("nan"), float("inf")]
    expect_f = [nt.hash64(x) for x in floats]
    assert nt.hash64(np.array(floats)).tolist() == expect_f
    assert nt.hash64(np.array(floats, dtype=np.float32)).tolist() == expect_f
    assert nt.hash64(pl.Series(floats)).tolist() == expect_f
    strs = ["", "a", "AAPL", "é", "日本", "🙂", "x" * 40]
    expect_s = [nt.hash64(s) for s in strs]
    for batch in (strs, np.array(strs), np.array(strs, dtype=object), pl.Series(strs),
                  [s.encode() for s in strs], np.array([s.encode() for s in strs], dtype=object)):
        assert nt.hash64(batch).tolist() == expect_s
    # 'S' arrays: NumPy drops trailing NULs of each item, so do we
    assert nt.hash64(np.array([b"ab", b"abcd"], dtype="S4")).tolist() == [nt.hash64(b"ab"), nt.hash64(b"abcd")]
    mixed = [1, 1.0, "1", b"1"]
    assert nt.hash64(mixed).tolist() == [nt.hash64(x) for x in mixed]


def test_hash_avalanche() -> None:
    # Flipping any one input bit flips each output bit with probability close to 1/2.
    rng = np.random.default_rng(1)
    xs = rng.integers(-(2**63), 2**63 - 1, size=4000, dtype=np.int64)
    base = nt.hash64(xs)
    worst = 0.0
    for bit in range(64):
        flipped = nt.hash64(xs ^ np.int64(np.uint64(1 << bit).view(np.int64)))
        diff = base ^ flipped
        frac = np.unpackbits(diff.view(np.uint8).reshape(-1, 8), axis=1).mean(axis=0)
        worst = max(worst, float(np.abs(frac - 0.5).max()))
    # 64 x 64 cells of 4000 samples: sd 0.0079 per cell, 0.045 is > 5.5 sd
    assert worst < 0.045, worst
    # sequential ints (the common case) spread evenly over the top bits
    top = nt.hash64(np.arange(1 << 16)) >> np.uint64(56)
    counts = np.bincount(top.astype(np.int64), minlength=256)
    assert stats.chisquare(counts).pvalue > 1e-4


def test_hash_rejects_what_it_cannot_encode() -> None:
    with pytest.raises(InvalidArgumentError):
        nt.hash64(2**64)
    with pytest.raises(DTypeError):
        nt.hash64(None)
    with pytest.raises(DTypeError):
        nt.hash64(np.array([1 + 2j]))
    with pytest.raises(InvalidArgumentError):
        nt.hash64(np.array([2**63], dtype=np.uint64))
    with pytest.raises(InvalidArgumentError):
        nt.hash64("\ud800")
    with pytest.raises(InvalidArgumentError):
        nt.hash64(1, seed=-1)


# ---------------------------------------------------------------------------------------------
# HyperLogLog
@pytest.mark.parametrize("lg_k", [10, 12, 14])
def test_hll_error_and_bias_over_1000_seeds(lg_k: int) -> None:
    trials = 1000
    checkpoints = (1_000, 100_000, 1_000_000)
    items = np.arange(checkpoints[-1], dtype=np.int64)
    rel = np.empty((trials, len(checkpoints)))
    for t in range(trials):
        h = nt.HyperLogLog(lg_k, seed=1000 * lg_k + t)
        start = 0
        for j, n in enumerate(checkpoints):
            h.update_many(items[start:n])
            start = n
            rel[t, j] = h.estimate() / n - 1.0
    bound = 1.1 * 1.04 / math.sqrt(2**lg_k)
    for j, n in enumerate(checkpoints):
        sd = rel[:, j].std(ddof=1)
        mean = rel[:, j].mean()
        assert sd <= bound, f"lg_k={lg_k} n={n}: sd {sd:.5f} > {bound:.5f}"
        assert abs(mean) <= 3 * sd / math.sqrt(trials) + 1e-12, f"lg_k={lg_k} n={n}: bias {mean:.6f}"


def test_hll_small_and_large_ranges_have_no_large_bias() -> None:
    # Ertl's estimator on registers alone (what merged sketches use): no bias at small n (where
    # the raw estimator is badly biased) and none at 10^9 (simulated by folding ranks).
    for n in (0, 1, 10, 100, 2_000, 20_000):
        errs = []
        for s in range(60):
            a = nt.HyperLogLog(12, seed=s)
            a.update_many(np.arange(n))
            b = nt.HyperLogLog(12, seed=s)
            b.merge(a)  # merged: Ertl estimator
            errs.append(b.estimate() - n)
        assert abs(np.mean(errs)) <= max(1.0, 4 * np.std(errs) / math.sqrt(60)), (n, np.mean(errs))
    assert nt.HyperLogLog(12).estimate() == 0.0


def test_hll_estimate_at_a_billion_from_registers() -> None:
    # Register values drawn as a sketch of 10^9 distinct items would hold them (each register
    # is the max of Geometric(1/2) ranks over Poisson(n/m) items): the estimator has no
    # large-range bias.
    rng = np.random.default_rng(5)
    m, n = 4096, 1e9
    est = []
    for _ in range(40):
        counts = rng.poisson(n / m, size=m)
        # max of c geometric ranks: P(max <= r) = (1 - 2^-r)^c
        u = rng.random(m)
        r = np.ceil(-np.log2(1 - u ** (1.0 / np.maximum(counts, 1)))).astype(np.int64)
        r = np.clip(np.where(counts == 0, 0, r), 0, 53)
        payload = bytearray(nt.HyperLogLog(12).to_bytes())
        # rebuild through from_bytes of a merged sketch: header 16 bytes, then lg_k, seed, flag, hip
        body = bytes([12]) + (0).to_bytes(8, "little") + bytes([0]) + np.float64(0).tobytes() + r.astype(np.uint8).tobytes()
        framed = nt._core._frame_pack(int.from_bytes(b"NTHL", "little"), 1, body)
        h = nt.HyperLogLog.from_bytes(framed)
        assert not h._impl.hip_valid
        est.append(h.estimate() / n - 1)
        del payload
    assert abs(np.mean(est)) < 3 * 1.04 / 64 / math.sqrt(40) + 0.002
    assert np.std(est) < 1.3 * 1.04 / 64


def test_hll_merge_equals_one_sketch_fed_both() -> None:
    a, b, both = nt.HyperLogLog(12, seed=9), nt.HyperLogLog(12, seed=9), nt.HyperLogLog(12, seed=9)
    xa, xb = np.arange(0, 60_000), np.arange(40_000, 100_000)
    a.update_many(xa)
    b.update_many(xb)
    both.update_many(np.concatenate([xa, xb]))
    u = a | b
    assert np.array_equal(u.registers(), both.registers())
    assert abs(u.estimate() / 100_000 - 1) < 4 * 1.04 / 64
    assert abs(u.estimate() - both.estimate()) < 4 * 1.04 / 64 * 100_000
    # merging is commutative and idempotent on registers
    assert np.array_equal((b | a).registers(), u.registers())
    u2 = u.copy()
    u2.merge(a)
    assert np.array_equal(u2.registers(), u.registers())
    # a and b unchanged by |
    assert a.estimate() < 70_000


def test_hll_merge_across_lg_k_folds_down() -> None:
    fine, coarse, ref = nt.HyperLogLog(14, seed=1), nt.HyperLogLog(11, seed=1), nt.HyperLogLog(11, seed=1)
    fine.update_many(np.arange(50_000))
    coarse.update_many(np.arange(30_000, 80_000))
    ref.update_many(np.arange(80_000))
    for u in (fine | coarse, coarse | fine):
        assert u.lg_k == 11
        assert np.array_equal(u.registers(), ref.registers())
    folded = fine.copy()
    folded._impl.fold_to(11)
    ref2 = nt.HyperLogLog(11, seed=1)
    ref2.update_many(np.arange(50_000))
    assert np.array_equal(folded.registers(), ref2.registers())


def test_hll_bounds_bracket_the_truth() -> None:
    inside2 = inside3 = 0
    for s in range(200):
        h = nt.HyperLogLog(10, seed=s)
        h.update_many(np.arange(20_000))
        lo, hi = h.lower_bound(3), h.upper_bound(3)
        assert lo <= h.lower_bound(2) <= h.estimate() <= h.upper_bound(2) <= hi
        inside3 += lo <= 20_000 <= hi
        inside2 += h.lower_bound(2) <= 20_000 <= h.upper_bound(2)
    # normal coverage: 95.4% and 99.7%; a bound too tight by a third fails both
    assert inside2 >= 180 and inside3 >= 195, (inside2, inside3)


def test_hll_single_and_batch_updates_agree_and_kinds_merge() -> None:
    pl = pytest.importorskip("polars")
    strs = [f"sym{i}" for i in range(3000)]
    a = nt.HyperLogLog(10)
    for s in strs:
        a.update(s)
    for batch in (strs, np.array(strs), pl.Series(strs), [s.encode() for s in strs], iter(strs)):
        b = nt.HyperLogLog(10)
        b.update_many(batch)
        assert a == b
    c = nt.HyperLogLog(10)
    c._impl.update_many(strs)  # the pybind11 path too
    assert np.array_equal(c.registers(), a.registers())
    d = nt.HyperLogLog(10)
    for s in strs:
        d._impl.update(s)
    assert np.array_equal(d.registers(), a.registers())


def test_hll_bad_input_leaves_it_unchanged() -> None:
    h = nt.HyperLogLog(10)
    h.update_many(np.arange(100))
    before = h.to_bytes()
    with pytest.raises(DTypeError):
        h.update_many(["ok", None])
    with pytest.raises(InvalidArgumentError):
        h.update_many([1, 2**70])
    with pytest.raises(InvalidArgumentError):
        h.update_many(np.zeros((2, 2)))
    with pytest.raises(DTypeError):
        h.update_many(np.array([1 + 1j]))
    with pytest.raises(DTypeError):
        h.update_many("abc")
    with pytest.raises(DTypeError):
        h.update(object())
    assert h.to_bytes() == before
    with pytest.raises(InvalidArgumentError):
        nt.HyperLogLog(3)
    with pytest.raises(InvalidArgumentError):
        nt.HyperLogLog(22)
    with pytest.raises(DTypeError):
        nt.HyperLogLog(12.0)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        h.merge(nt.HyperLogLog(10, seed=1))
    with pytest.raises(DTypeError):
        h.merge(nt.BloomFilter(10))  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Count-min
def _zipf_stream(n_items: int, n_distinct: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.zipf(1.3, size=n_items) % n_distinct).astype(np.int64)


@pytest.mark.parametrize("conservative", [False, True])
def test_count_min_never_under_and_within_epsilon_n(conservative: bool) -> None:
    eps, delta = 1e-3, 0.01
    stream = _zipf_stream(500_000, 200_000, seed=3)
    cms = nt.CountMinSketch.from_error(eps, delta, seed=4, conservative=conservative)
    assert cms.width == math.ceil(math.e / eps) and cms.depth == math.ceil(math.log(1 / delta))
    cms.update_many(stream)
    keys, counts = np.unique(stream, return_counts=True)
    # also items never seen
    absent = np.arange(10**7, 10**7 + 20_000)
    est = cms.estimate_many(keys).astype(np.int64)
    assert (est >= counts).all()
    over = est - counts
    bad = (over > eps * len(stream)).mean()
    assert bad <= delta, bad
    est_absent = cms.estimate_many(absent).astype(np.int64)
    assert (est_absent > eps * len(stream)).mean() <= delta
    assert cms.total == len(stream)
    # point queries agree with the batch
    for k in keys[:50].tolist():
        assert cms.estimate(k) == cms[k] == est[np.searchsorted(keys, k)]


def test_count_min_conservative_is_tighter_and_still_an_upper_bound() -> None:
    stream = _zipf_stream(200_000, 50_000, seed=8)
    plain = nt.CountMinSketch(500, 4, seed=1)
    cons = nt.CountMinSketch(500, 4, seed=1, conservative=True)
    plain.update_many(stream)
    cons.update_many(stream)
    keys, counts = np.unique(stream, return_counts=True)
    ep, ec = plain.estimate_many(keys).astype(np.int64), cons.estimate_many(keys).astype(np.int64)
    assert (ec >= counts).all() and (ec <= ep).all()
    assert (ec - counts).sum() < 0.7 * (ep - counts).sum()


def test_count_min_weighted_counts_and_single_updates_agree() -> None:
    rng = np.random.default_rng(2)
    items = rng.integers(0, 300, size=5_000)
    counts = rng.integers(0, 50, size=5_000)
    a = nt.CountMinSketch(256, 5, seed=5)
    a.update_many(items, counts=counts)
    b = nt.CountMinSketch(256, 5, seed=5)
    for i, c in zip(items.tolist(), counts.tolist()):
        b.update(i, c)
    assert a == b
    truth = Counter()
    for i, c in zip(items.tolist(), counts.tolist()):
        truth[i] += c
    for i, c in truth.items():
        assert a.estimate(i) >= c
    assert a.total == int(counts.sum())
    with pytest.raises(InvalidArgumentError):
        a.update_many(items, counts=-counts - 1)
    with pytest.raises(InvalidArgumentError):
        a.update_many(items, counts=counts[:10])
    with pytest.raises(DTypeError):
        a.update_many(items, counts=counts.astype(float))
    with pytest.raises(InvalidArgumentError):
        a.update(1, -1)
    assert a == b  # unchanged by the failures


def test_count_min_top_k_finds_the_heavy_hitters() -> None:
    stream = _zipf_stream(300_000, 100_000, seed=11)
    keys, counts = np.unique(stream, return_counts=True)
    exact_top = keys[np.argsort(-counts, kind="stable")][:10]
    for kind in ("ints", "strs"):
        cms = nt.CountMinSketch.from_error(1e-3, 0.01, top=32)
        data = stream if kind == "ints" else np.array([f"s{v}" for v in stream.tolist()])
        for part in np.array_split(data, 7):
            cms.update_many(part)
        got = cms.top_k(10)
        want = exact_top.tolist() if kind == "ints" else [f"s{v}" for v in exact_top.tolist()]
        assert {x for x, _ in got} == set(want)
        assert [c for _, c in got] == sorted((c for _, c in got), reverse=True)
        for x, c in got:
            assert c == cms.estimate(x)
    with pytest.raises(InvalidArgumentError):
        nt.CountMinSketch(10, 2).top_k(3)


def test_count_min_top_k_items_come_back_in_their_kind() -> None:
    cms = nt.CountMinSketch(1000, 4, top=8)
    cms.update(7, 50)
    cms.update(2.5, 40)
    cms.update("AAPL", 30)
    cms.update(b"\xff\x00", 20)
    assert cms.top_k(4) == [(7, 50), (2.5, 40), ("AAPL", 30), (b"\xff\x00", 20)]


def test_count_min_merge() -> None:
    s1, s2 = _zipf_stream(50_000, 5_000, 1), _zipf_stream(50_000, 5_000, 2)
    a, b, both = (nt.CountMinSketch(400, 4, seed=3, top=16) for _ in range(3))
    a.update_many(s1)
    b.update_many(s2)
    both.update_many(np.concatenate([s1, s2]))
    u = a | b
    assert np.array_equal(u.table(), both.table()) and u.total == both.total
    assert {x for x, _ in u.top_k(5)} == {x for x, _ in both.top_k(5)}
    with pytest.raises(InvalidArgumentError):
        a.merge(nt.CountMinSketch(401, 4, seed=3))
    with pytest.raises(InvalidArgumentError):
        a.merge(nt.CountMinSketch(400, 4, seed=4))


# ---------------------------------------------------------------------------------------------
# Bloom filter
@pytest.mark.parametrize("fp_rate", [0.1, 0.01, 0.001])
def test_bloom_no_false_negatives_and_fpr_on_target(fp_rate: float) -> None:
    cap = 100_000
    f = nt.BloomFilter(cap, fp_rate, seed=1)
    members = np.arange(cap, dtype=np.int64) * 7919
    f.add_many(members)
    assert f.contains_many(members).all()
    queries = np.arange(10**9, 10**9 + 1_000_000)
    fpr = f.contains_many(queries).mean()
    assert 0.5 * fp_rate <= fpr <= 1.5 * fp_rate, fpr
    assert fpr <= 1.15 * f.expected_fpr()  # the sizing model holds
    assert abs(len(f) / cap - 1) < 0.05


def test_bloom_fpr_on_target_for_strings() -> None:
    f = nt.BloomFilter(50_000, 0.01, seed=2)
    f.add_many([f"order-{i}" for i in range(50_000)])
    assert all(f"order-{i}" in f for i in range(0, 50_000, 7))
    fpr = f.contains_many(np.array([f"other-{i}" for i in range(200_000)])).mean()
    assert 0.005 <= fpr <= 0.015


def test_bloom_single_calls_and_return_new() -> None:
    f = nt.BloomFilter(1000, 0.01)
    assert f.add("a") is True
    assert f.add(b"a") is False  # same item
    assert "a" in f and f.contains("a") and f._impl.contains("a")
    assert 1 not in f
    new = f.add_many([1, 2, 1, "a", 3], return_new=True)
    assert new.tolist() == [True, True, False, False, True]
    assert f.add_many([9]) is None


@settings(max_examples=50, deadline=None)
@given(st.lists(st.one_of(st.integers(-(2**63), 2**63 - 1), st.floats(), st.text(), st.binary()), max_size=200))
def test_bloom_never_forgets(items: list[object]) -> None:
    f = nt.BloomFilter(max(1, len(items)), 0.05, seed=3)
    f.add_many(items)
    assert all(x in f for x in items)
    if items:
        assert f.contains_many(items).all()


def test_bloom_union_and_intersection() -> None:
    a, b = nt.BloomFilter(10_000, 0.01, seed=4), nt.BloomFilter(10_000, 0.01, seed=4)
    a.add_many(np.arange(0, 6000))
    b.add_many(np.arange(4000, 10_000))
    u, i = a | b, a & b
    assert u.contains_many(np.arange(10_000)).all()
    assert i.contains_many(np.arange(4000, 6000)).all()
    assert i.contains_many(np.arange(20_000, 30_000)).mean() < 0.01
    ref = nt.BloomFilter(10_000, 0.01, seed=4)
    ref.add_many(np.arange(10_000))
    assert u == ref
    assert abs(len(u) - 10_000) < 300
    with pytest.raises(InvalidArgumentError):
        a.union_update(nt.BloomFilter(10_000, 0.01, seed=5))
    with pytest.raises(InvalidArgumentError):
        a.intersection_update(nt.BloomFilter(20_000, 0.01, seed=4))


def test_bloom_sizing() -> None:
    f = nt.BloomFilter(10**6, 0.01)
    classic = -10**6 * math.log(0.01) / math.log(2) ** 2
    assert classic <= f.num_bits <= 1.15 * classic
    assert f.expected_fpr() <= 0.01
    with pytest.raises(InvalidArgumentError):
        nt.BloomFilter(0, 0.01)
    with pytest.raises(InvalidArgumentError):
        nt.BloomFilter(10, 1.5)
    with pytest.raises(DTypeError):
        nt.BloomFilter(10, "x")  # type: ignore[arg-type]


def test_batch_paths_agree_with_single_items() -> None:
    """int64/float64 arrays are hashed inside the sketches' loops, other inputs in chunks first:
    every path must set exactly what the one-item calls set."""
    rng = np.random.default_rng(5)
    ints = rng.integers(-(10**6), 10**6, 20_000)
    floats = np.concatenate([rng.normal(size=5000), [0.0, -0.0, np.nan, -np.nan, np.inf]])
    for items in (ints, floats):
        as_objects = items.astype(object)
        one, batch, objs = (nt.BloomFilter(len(items), 0.01, seed=8) for _ in range(3))
        fresh_one = [one.add(x) for x in items.tolist()]
        fresh_batch = batch.add_many(items, return_new=True)
        objs.add_many(as_objects)
        assert one == batch == objs and fresh_batch is not None and fresh_batch.tolist() == fresh_one
        probe = np.concatenate([items[:500], items[:500] + 1])
        assert batch.contains_many(probe).tolist() == [x in one for x in probe.tolist()]
        counts = rng.integers(0, 50, len(items)).astype(np.uint64)
        c_one, c_batch, c_objs = (nt.CountMinSketch(1000, 5, seed=8) for _ in range(3))
        for x, c in zip(items.tolist(), counts.tolist()):
            c_one.update(x, c)
        c_batch.update_many(items, counts=counts)
        c_objs.update_many(as_objects, counts=counts)
        assert c_one == c_batch == c_objs and c_batch.total == int(counts.sum())


def test_str_arrays_hash_like_python_strings() -> None:
    """'U' arrays are converted to UTF-8 item by item (a narrowing loop for all-ASCII items, the
    full encoder otherwise): every item, ASCII or not, of any length up to the array's width,
    must hash like the Python str, and a count-min fed the array reports the same keys."""
    rng = np.random.default_rng(4)
    alphabet = list("abcXYZ019-_") + ["é", "ß", "日", "本", "🙂", "\u07ff", "\u0800", "\uffff", "\U00010000"]
    strs = ["".join(rng.choice(alphabet, size=int(rng.integers(1, 23)))) for _ in range(3000)]
    strs += ["", "x" * 64, "AAPL", "é" * 7]
    arr = np.array(strs)
    assert nt.hash64(arr, seed=9).tolist() == [nt.hash64(s, seed=9) for s in strs]
    a, b = nt.CountMinSketch(2048, 4, top=8), nt.CountMinSketch(2048, 4, top=8)
    heavy = ["日本-7203"] * 50 + ["AAPL"] * 40
    a.update_many(np.array(strs + heavy))
    b.update_many(strs + heavy)
    assert a == b and a.top_k(2) == b.top_k(2) == [("日本-7203", a.estimate("日本-7203")), ("AAPL", a.estimate("AAPL"))]


def test_threaded_batches_equal_one_thread() -> None:
    """Long batches split over threads (Bloom adds by block, count-min by row, Bloom queries by
    item) must give exactly the one-thread bits, counters, return_new flags and answers, for
    every input kind: int64, float64 and Python objects (hashed inside the loops), str and bytes
    arrays (hashed on threads first, a chunk at a time; HLL too, whose updates stay in order).
    The batch repeats items so that return_new depends on the order within a block."""
    rng = np.random.default_rng(11)
    n = 300_000  # over the 131,072 items that start a second thread
    ints = rng.integers(0, n // 2, n)  # about 40% repeats
    floats = rng.normal(size=n // 2).repeat(2)
    objs = ints[:140_000].astype(object)
    text = np.char.add("ORD-", ints.astype(str))  # 'U': hashed on threads a chunk at a time
    raw = text.astype("S")
    for items in (ints, floats, objs, text, raw):
        serial, split = nt.BloomFilter(len(items), 0.01, seed=3), nt.BloomFilter(len(items), 0.01, seed=3)
        fresh1 = serial.add_many(items, return_new=True, num_threads=1)
        fresh2 = split.add_many(items, return_new=True, num_threads=2)
        assert fresh1 is not None and fresh2 is not None
        assert serial == split and np.array_equal(fresh1, fresh2)
        assert 0 < fresh1.sum() < len(items)  # both kinds of answer occur
        probe = np.concatenate([items[:50_000], items[:100_000] + 1]) if items.dtype.kind in "if" else items
        hit1, hit2 = serial.contains_many(probe, num_threads=1), split.contains_many(probe, num_threads=2)
        assert np.array_equal(hit1, hit2) and hit1[:50_000].all()
        h1, h2 = nt.HyperLogLog(12, seed=3), nt.HyperLogLog(12, seed=3)  # str/bytes: hashed on threads
        h1.update_many(items, num_threads=1)
        h2.update_many(items, num_threads=2)
        assert h1 == h2 and h1.estimate() == h2.estimate()
        for depth in (1, 2, 5, 8):
            c1, c2 = nt.CountMinSketch(4096, depth, seed=3), nt.CountMinSketch(4096, depth, seed=3)
            counts = rng.integers(0, 9, len(items)).astype(np.uint64)
            c1.update_many(items, counts=counts, num_threads=1)
            c2.update_many(items, counts=counts, num_threads=2)
            c1.update_many(items, num_threads=1)
            c2.update_many(items, num_threads=2)
            assert c1 == c2 and c2.total == int(counts.sum()) + len(items)
    with pytest.raises(InvalidArgumentError, match="num_threads"):
        nt.BloomFilter(10, 0.01).add_many([1, 2], num_threads=-1)
    with pytest.raises(DTypeError, match="num_threads"):
        nt.CountMinSketch(10, 2).update_many([1, 2], num_threads=1.5)  # type: ignore[arg-type]


def test_count_min_saturates_instead_of_wrapping() -> None:
    big = 2**64 - 10
    for depth in (3, 12):  # a compiled-depth path and the general one
        cms = nt.CountMinSketch(64, depth)
        cms.update("a", big)
        cms.update_many(np.array([7, 7, 8], dtype=np.int64), counts=np.array([4, 4, 4], dtype=np.uint64))
        assert cms.total == 2**64 - 1
        assert cms.estimate(7) >= 8 and cms.estimate("a") >= big
        cms.update_many(np.full(20, 7, dtype=np.int64))  # unit counts past the top
        assert cms.total == 2**64 - 1 and cms.table().max() <= 2**64 - 1
        small = nt.CountMinSketch(64, depth)
        small.update_many(np.full(20, 7, dtype=np.int64))
        assert small.estimate(7) == 20 and small.total == 20


# ---------------------------------------------------------------------------------------------
# Reservoir
def test_reservoir_uniform_inclusion_chi_square() -> None:
    n, k, runs = 20, 5, 20_000
    counts = np.zeros(n)
    for s in range(runs):
        r = nt.Reservoir(k, seed=s)
        r.add_many(np.arange(n))
        counts[r.sample()] += 1
    assert stats.chisquare(counts).pvalue > 1e-3


def test_reservoir_long_stream_uniform() -> None:
    n, k, runs = 1000, 10, 3000
    counts = np.zeros(n)
    for s in range(runs):
        r = nt.Reservoir(k, seed=10**6 + s)
        for part in np.array_split(np.arange(n), 4):
            r.add_many(part)
        assert len(r) == k and r.seen == n
        counts[r.indices()] += 1
    assert stats.chisquare(counts).pvalue > 1e-3
    # pairs of halves: the skip law must not favour early or late items
    assert abs(counts[: n // 2].sum() - counts[n // 2 :].sum()) < 4 * math.sqrt(runs * k / 2) + 1


def test_reservoir_is_reproducible_and_batching_does_not_matter() -> None:
    data = list(range(5000))
    a = nt.Reservoir(16, seed=123)
    a.add_many(data)
    b = nt.Reservoir(16, seed=123)
    for x in data:
        b.add(x)
    c = nt.Reservoir(16, seed=123)
    for part in np.array_split(np.arange(5000), 13):
        c.add_many(part.tolist())
    assert a.sample() == b.sample() == c.sample()
    assert a.indices().tolist() == a.sample()
    assert nt.Reservoir(16, seed=124).sample() == []


def test_reservoir_rows_and_indices() -> None:
    rows = np.arange(3000, dtype=np.float64).reshape(1000, 3)
    r = nt.Reservoir(7, seed=5)
    r.add_many(rows[:400])
    r.add_many(rows[400:])
    s = r.sample()
    assert s.shape == (7, 3)
    assert np.array_equal(s, rows[r.indices()])
    ticks = np.zeros(100, dtype=nt.TICK_DTYPE)
    ticks["ts"] = np.arange(100)
    t = nt.Reservoir(4, seed=1)
    t.add_many(ticks)
    assert np.array_equal(t.sample()["ts"], t.indices())
    with pytest.raises(DTypeError):
        t.add_many(np.arange(10))
    with pytest.raises(DTypeError):
        t.add("x")


def test_reservoir_weighted_k1_is_proportional() -> None:
    w = np.array([1.0, 2.0, 3.0, 4.0, 0.0, 10.0])
    runs = 20_000
    counts = np.zeros(len(w))
    for s in range(runs):
        r = nt.Reservoir(1, seed=s, weighted=True)
        r.add_many(np.arange(len(w)), weights=w)
        counts[r.sample()] += 1
    assert counts[4] == 0
    nz = w > 0
    assert stats.chisquare(counts[nz], runs * w[nz] / w.sum()).pvalue > 1e-3


def test_reservoir_weighted_inclusion_matches_successive_sampling() -> None:
    # A-ExpJ keeps the k largest u^(1/w): the same law as drawing k items one after another
    # without replacement with probability proportional to weight. Exact inclusion
    # probabilities for k = 2 by enumeration.
    w = np.array([1.0, 1.0, 2.0, 4.0, 8.0, 0.5])
    total = w.sum()
    p = np.zeros(len(w))
    for i in range(len(w)):
        for j in range(len(w)):
            if i != j:
                pij = w[i] / total * w[j] / (total - w[i])
                p[i] += pij
                p[j] += pij
    runs = 20_000
    counts = np.zeros(len(w))
    for s in range(runs):
        r = nt.Reservoir(2, seed=50_000 + s, weighted=True)
        for i in range(len(w)):  # one at a time: exercises the jump logic across calls
            r.add(i, w[i])
        counts[r.sample()] += 1
    z = (counts - runs * p) / np.sqrt(runs * p * (1 - p))
    assert np.abs(z).max() < 4.5, z


def test_reservoir_merge_is_uniform() -> None:
    na, nb, k, runs = 8, 13, 5, 20_000
    counts = np.zeros(na + nb)
    for s in range(runs):
        a = nt.Reservoir(k, seed=s)
        b = nt.Reservoir(k, seed=10**7 + s)
        a.add_many(list(range(na)))
        b.add_many(list(range(na, na + nb)))
        m = a | b
        assert len(m) == k and m.seen == na + nb
        counts[m.sample()] += 1
    assert stats.chisquare(counts).pvalue > 1e-3


def test_reservoir_merge_then_continue_stays_uniform() -> None:
    # After a merge the skip state restarts: later items must enter with probability k / N.
    k, runs = 4, 8000
    counts = np.zeros(60)
    for s in range(runs):
        a = nt.Reservoir(k, seed=s)
        b = nt.Reservoir(k, seed=10**7 + s)
        a.add_many(np.arange(0, 20))
        b.add_many(np.arange(20, 40))
        a.merge(b)
        a.add_many(np.arange(40, 60))
        counts[a.sample()] += 1
    assert stats.chisquare(counts).pvalue > 1e-3


def test_reservoir_weighted_merge_keeps_largest_keys() -> None:
    w = np.linspace(0.5, 5, 30)
    runs = 4000
    counts = np.zeros(30)
    single = np.zeros(30)
    for s in range(runs):
        a = nt.Reservoir(3, seed=s, weighted=True)
        b = nt.Reservoir(3, seed=10**6 + s, weighted=True)
        a.add_many(np.arange(15), weights=w[:15])
        b.add_many(np.arange(15, 30), weights=w[15:])
        counts[(a | b).sample()] += 1
        c = nt.Reservoir(3, seed=2 * 10**6 + s, weighted=True)
        c.add_many(np.arange(30), weights=w)
        single[c.sample()] += 1
    # same law as one reservoir over the whole stream: two-sample chi-square
    table = np.vstack([counts, single])
    assert stats.chi2_contingency(table).pvalue > 1e-3


def test_reservoir_errors() -> None:
    with pytest.raises(InvalidArgumentError):
        nt.Reservoir(0)
    r = nt.Reservoir(3, seed=1)
    with pytest.raises(InvalidArgumentError):
        r.add(1, weight=2.0)
    w = nt.Reservoir(3, seed=1, weighted=True)
    with pytest.raises(InvalidArgumentError):
        w.add(1)
    with pytest.raises(InvalidArgumentError):
        w.add_many([1, 2], weights=[1.0, -1.0])
    with pytest.raises(InvalidArgumentError):
        w.add_many([1, 2], weights=[1.0, float("nan")])
    with pytest.raises(InvalidArgumentError):
        w.add_many([1, 2], weights=[1.0])
    assert w.seen == 0 and len(w) == 0
    with pytest.raises(InvalidArgumentError):
        r.merge(w)
    with pytest.raises(InvalidArgumentError):
        r.merge(nt.Reservoir(4, seed=1))
    assert isinstance(nt.Reservoir(3).seed, int)


# ---------------------------------------------------------------------------------------------
# Serialisation
def _small_sketches() -> list[object]:
    h = nt.HyperLogLog(4, seed=5)
    h.update_many(np.arange(100))
    c = nt.CountMinSketch(8, 2, seed=5, top=2)
    c.update_many(["a", "b", "a", 1, 2.5])
    f = nt.BloomFilter(20, 0.1, seed=5)
    f.add_many(np.arange(20))
    r = nt.Reservoir(3, seed=5)
    r.add_many(np.arange(12, dtype=np.int32).reshape(6, 2))
    w = nt.Reservoir(3, seed=5, weighted=True)
    w.add_many(["x", "y", "z", "t"], weights=[1, 2, 3, 4])
    return [h, c, f, r, w]


def _same(a: object, b: object) -> bool:
    if isinstance(a, nt.Reservoir):
        assert isinstance(b, nt.Reservoir)
        sa, sb = a.sample(), b.sample()
        same_sample = np.array_equal(sa, sb) if isinstance(sa, np.ndarray) else sa == sb
        return bool(same_sample and a.seen == b.seen and np.array_equal(a.indices(), b.indices()))
    return a == b


def test_hll_sparse_and_dense_layouts_round_trip() -> None:
    for lg_k, n in ((21, 0), (21, 10), (16, 5000), (12, 100_000)):
        h = nt.HyperLogLog(lg_k, seed=3)
        h.update_many(np.arange(n))
        data = h.to_bytes()
        back = nt.HyperLogLog.from_bytes(data)
        assert back == h and back.estimate() == h.estimate()
        if n * 5 < 2**lg_k:
            assert len(data) < 64 + 5 * n  # sparse
        else:
            assert len(data) > 2**lg_k  # dense


@pytest.mark.parametrize("idx", range(5))
def test_round_trip_bytes_and_pickle(idx: int) -> None:
    s = _small_sketches()[idx]
    data = s.to_bytes()  # type: ignore[attr-defined]
    back = type(s).from_bytes(data)  # type: ignore[attr-defined]
    assert _same(s, back)
    assert back.to_bytes() == data
    assert _same(pickle.loads(pickle.dumps(s)), s)
    repr(s)
    # the copy keeps evolving like the original
    if isinstance(s, nt.Reservoir):
        if not s.weighted:
            s.add_many(np.arange(100, 120, dtype=np.int32).reshape(10, 2))
            back.add_many(np.arange(100, 120, dtype=np.int32).reshape(10, 2))
        else:
            s.add_many(["p", "q"], weights=[5, 6])
            back.add_many(["p", "q"], weights=[5, 6])
        assert _same(s, back)


@pytest.mark.parametrize("idx", range(5))
def test_corrupted_bytes_raise_cleanly(idx: int) -> None:
    s = _small_sketches()[idx]
    cls = type(s)
    data = s.to_bytes()  # type: ignore[attr-defined]
    step = max(1, len(data) // 200)
    for i in range(0, len(data), step):
        for mask in (0x01, 0x80, 0xFF):
            bad = bytearray(data)
            bad[i] ^= mask
            with pytest.raises(CorruptDataError):
                cls.from_bytes(bytes(bad))  # type: ignore[attr-defined]
    for n in range(0, len(data), step):
        with pytest.raises(CorruptDataError):
            cls.from_bytes(data[:n])  # type: ignore[attr-defined]
    with pytest.raises(CorruptDataError):
        cls.from_bytes(data + b"\0")  # type: ignore[attr-defined]
    rng = np.random.default_rng(idx)
    for size in (0, 3, 20, 64, 500):
        with pytest.raises(CorruptDataError):
            cls.from_bytes(rng.bytes(size))  # type: ignore[attr-defined]
    with pytest.raises(DTypeError):
        cls.from_bytes("text")  # type: ignore[attr-defined]


def test_wrong_kind_of_bytes_raises() -> None:
    h = nt.HyperLogLog(4).to_bytes()
    for cls in (nt.CountMinSketch, nt.BloomFilter, nt.Reservoir):
        with pytest.raises(CorruptDataError):
            cls.from_bytes(h)  # type: ignore[attr-defined]


def test_crafted_valid_envelopes_with_bad_fields_raise() -> None:
    magic = int.from_bytes(b"NTHL", "little")
    bad_bodies = [
        bytes([3]) + bytes(8) + bytes([0]) + bytes(8) + bytes(8),  # lg_k 3
        bytes([4]) + bytes(8) + bytes([2]) + bytes(8) + bytes(16),  # bad flag
        bytes([4]) + bytes(8) + bytes([0]) + bytes(8) + bytes([99] * 16),  # register too large
        bytes([4]) + bytes(8) + bytes([0]) + bytes(8) + bytes(15),  # registers truncated
        bytes([4]) + bytes(8) + bytes([0]) + np.float64(-1).tobytes() + bytes(16),  # negative HIP
    ]
    for body in bad_bodies:
        with pytest.raises(CorruptDataError):
            nt.HyperLogLog.from_bytes(nt._core._frame_pack(magic, 1, body))
    head = bytes([10]) + bytes(8) + bytes([0]) + bytes(8)
    u32 = lambda v: int(v).to_bytes(4, "little")  # noqa: E731
    bad_v2 = [
        head + bytes([2]) + u32(0),  # unknown layout
        head + bytes([1]) + u32(2) + u32(5) + bytes([1]) + u32(5) + bytes([1]),  # repeated index
        head + bytes([1]) + u32(2) + u32(7) + bytes([1]) + u32(5) + bytes([1]),  # out of order
        head + bytes([1]) + u32(1) + u32(1024) + bytes([1]),  # index out of range
        head + bytes([1]) + u32(1) + u32(3) + bytes([0]),  # zero value
        head + bytes([1]) + u32(1) + u32(3) + bytes([60]),  # value too large
        head + bytes([1]) + u32(10**6),  # count beyond the input
        head + bytes([0]) + bytes(1023),  # dense, truncated
    ]
    for body in bad_v2:
        with pytest.raises(CorruptDataError):
            nt.HyperLogLog.from_bytes(nt._core._frame_pack(magic, 2, body))
    ok = head + bytes([1]) + u32(2) + u32(3) + bytes([2]) + u32(9) + bytes([55])
    h = nt.HyperLogLog.from_bytes(nt._core._frame_pack(magic, 2, ok))
    assert h.registers()[[3, 9]].tolist() == [2, 55] and int(h.registers().sum()) == 57
    # count-min announcing a huge table must not allocate it
    cm = int.from_bytes(b"NTCM", "little")
    body = (1 << 30).to_bytes(8, "little") + (1).to_bytes(4, "little") + bytes(8) + bytes([0]) + bytes(4) + bytes(8)
    with pytest.raises(CorruptDataError):
        nt.CountMinSketch.from_bytes(nt._core._frame_pack(cm, 1, body))
    bf = int.from_bytes(b"NTBF", "little")
    body = (1 << 33).to_bytes(8, "little") + (7).to_bytes(4, "little") + bytes(8) + (10).to_bytes(8, "little") + np.float64(0.01).tobytes()
    with pytest.raises(CorruptDataError):
        nt.BloomFilter.from_bytes(nt._core._frame_pack(bf, 1, body))


def test_golden_files_of_format_1_still_load() -> None:
    hll = nt.HyperLogLog.from_bytes((GOLDEN / "hll_v1.bin").read_bytes())
    ref = nt.HyperLogLog(10, seed=42)
    ref.update_many(np.arange(10_000))
    for x in ("AAPL", b"MSFT", 1.5):
        ref.update(x)
    assert hll == ref and hll.lg_k == 10 and hll.seed == 42
    assert abs(hll.estimate() / 10_003 - 1) < 0.1
    sparse = nt.HyperLogLog.from_bytes((GOLDEN / "hll_v2.bin").read_bytes())
    ref2 = nt.HyperLogLog(14, seed=42)
    ref2.update_many(np.arange(100))
    ref2.update("AAPL")
    assert sparse == ref2 and sparse.to_bytes() == (GOLDEN / "hll_v2.bin").read_bytes()
    assert len(sparse.to_bytes()) < 1000  # sparse layout: 16 Ki registers, 101 items

    cms = nt.CountMinSketch.from_bytes((GOLDEN / "count_min_v1.bin").read_bytes())
    ref_c = nt.CountMinSketch(64, 4, seed=7, top=4)
    ref_c.update_many(np.arange(100) % 10, counts=np.arange(100))
    ref_c.update("AAPL", 1000)
    assert cms == ref_c and cms.top_k(4) == ref_c.top_k(4)
    assert cms.top_k(1) == [("AAPL", 1000)]

    # Bloom format 1 holds the classic layout: it loads, answers and grows in that layout (the
    # C++ test rebuilds it bit for bit); format 2 is the split layout of new filters.
    bloom = nt.BloomFilter.from_bytes((GOLDEN / "bloom_v1.bin").read_bytes())
    assert bloom.layout == "classic" and bloom.capacity == 1000 and bloom.seed == 3
    assert "layout='classic'" in repr(bloom)
    assert bloom.contains_many(np.arange(1000)).all()
    assert bloom.contains_many(np.arange(10**6, 10**6 + 100_000)).mean() < 0.02
    assert abs(len(bloom) - 1000) < 60 and bloom.expected_fpr() <= 0.01
    again = nt.BloomFilter.from_bytes(bloom.to_bytes())
    assert again == bloom and again.layout == "classic"
    fresh = next(x for x in range(10**7, 10**7 + 100) if x not in again)
    assert bloom.add(fresh) is True and fresh in bloom and bloom != again  # grows in its layout
    ref_b = nt.BloomFilter(1000, 0.01, seed=3)
    ref_b.add_many(np.arange(1000))
    assert ref_b.layout == "split" and not (bloom == ref_b) and "layout" not in repr(ref_b)
    with pytest.raises(InvalidArgumentError, match="layout"):
        ref_b.union_update(bloom)
    bloom2 = nt.BloomFilter.from_bytes((GOLDEN / "bloom_v2.bin").read_bytes())
    assert bloom2 == ref_b and bloom2.to_bytes() == (GOLDEN / "bloom_v2.bin").read_bytes()

    res = nt.Reservoir.from_bytes((GOLDEN / "reservoir_v1.bin").read_bytes())
    ref_r = nt.Reservoir(8, seed=11)
    ref_r.add_many(np.arange(200, dtype=np.int64).reshape(100, 2))
    assert np.array_equal(res.sample(), ref_r.sample()) and np.array_equal(res.indices(), ref_r.indices())


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 50), max_size=300), st.lists(st.integers(0, 50), max_size=300))
def test_count_min_merge_and_bounds_property(xs: list[int], ys: list[int]) -> None:
    a, b = nt.CountMinSketch(16, 3, seed=1), nt.CountMinSketch(16, 3, seed=1)
    a.update_many(xs)
    b.update_many(ys)
    u = a | b
    truth = Counter(xs) + Counter(ys)
    for x in range(51):
        assert u.estimate(x) >= truth[x]
    assert u.total == len(xs) + len(ys)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(max_size=8), max_size=200), st.lists(st.text(max_size=8), max_size=200))
def test_hll_merge_is_union_property(xs: list[str], ys: list[str]) -> None:
    a, b, c = nt.HyperLogLog(6), nt.HyperLogLog(6), nt.HyperLogLog(6)
    a.update_many(xs)
    b.update_many(ys)
    c.update_many(xs + ys)
    assert np.array_equal((a | b).registers(), c.registers())


def test_batch_on_one_thread_and_structural_calls_on_another_never_crash() -> None:
    # One writer at a time is the contract; a second thread that breaks it gets an
    # InvalidArgumentError (or runs before/after the batch), never a crash or a torn sketch.
    import threading

    data = np.array([f"s{i % 5000}" for i in range(400_000)])
    for _ in range(3):
        cms = nt.CountMinSketch(2000, 4, top=64)
        hll = nt.HyperLogLog(14)
        t = threading.Thread(target=lambda: (cms.update_many(data), hll.update_many(data)))
        t.start()
        refused = 0
        while t.is_alive():
            for call in (lambda: cms.top_k(5), lambda: cms.merge(nt.CountMinSketch(2000, 4, top=64)),
                         lambda: hll.merge(nt.HyperLogLog(10))):
                try:
                    call()
                except InvalidArgumentError:
                    refused += 1
        t.join()
        assert cms.total == len(data)
        assert {x for x, _ in cms.top_k(3)} <= {f"s{i}" for i in range(5000)}
        assert abs(hll.estimate() / 5000 - 1) < 0.1


def test_docstring_examples_run() -> None:
    import doctest

    import neural_trader.sketch as module

    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 15 and result.failed == 0


def test_more_input_kinds() -> None:
    pl = pytest.importorskip("polars")
    pd = pytest.importorskip("pandas")
    strs = ["AAPL", "MSFT", "é", "AAPL"]
    expect = [nt.hash64(s) for s in strs]
    assert nt.hash64(pd.Series(strs)).tolist() == expect
    assert nt.hash64(np.array(strs, dtype=np.dtypes.StringDType())).tolist() == expect
    assert nt.hash64(np.array(strs, dtype=">U4")).tolist() == expect  # non-native byte order
    assert nt.hash64(pd.Series([1, 2, 3])).tolist() == [nt.hash64(i) for i in (1, 2, 3)]
    with pytest.raises(InvalidArgumentError):
        nt.hash64(np.array(["ok", "\ud800"]))  # lone surrogate in a 'U' array
    with pytest.raises(InvalidArgumentError):
        nt.hash64(pl.Series([1, None]))
    with pytest.raises(DTypeError):
        nt.hash64(pl.DataFrame({"a": [1]}))
    f = nt.BloomFilter(100, 0.01)
    f.add_many(pl.Series(strs))
    assert f.contains_many(pd.Series(strs)).all()
    c = nt.CountMinSketch(100, 3)
    c.update_many(pl.Series(strs), counts=pl.Series([1, 2, 3, 4]))
    assert c.estimate("AAPL") >= 5 and c.total == 10
    r = nt.Reservoir(2, seed=1)
    r.add_many(pl.Series([1.5, 2.5, 3.5]))
    assert r.sample().dtype == np.float64 and len(r) == 2
