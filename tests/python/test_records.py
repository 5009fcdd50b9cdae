"""Records in and out of DataFrames, and a model-based test of the ring against a deque."""

from __future__ import annotations

from collections import deque

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import neural_trader as nt
from neural_trader import errors


def _frame(n: int) -> pl.DataFrame:
    return pl.DataFrame({
        "ts": np.arange(n, dtype=np.int64),
        "symbol": np.arange(n, dtype=np.int32) % 3,
        "price": np.linspace(100, 101, n),
        "size": np.ones(n),
        "side": np.ones(n, dtype=np.int8),
        "venue": ["x"] * n,  # extra columns are ignored
    })


def test_polars_frame_round_trip_through_a_ring() -> None:
    df = _frame(10)
    r = nt.RingBuffer(16)
    assert r.push_many(df) == 10
    out = nt.to_polars(r.pop_many(10))
    assert out.columns == list(nt.TICK_DTYPE.names)
    assert out["ts"].to_list() == list(range(10))
    assert out["price"].to_list() == df["price"].to_list()
    assert out["symbol"].dtype == pl.Int32


def test_from_frame_datetime_column_becomes_int64_ns() -> None:
    ts = pl.datetime_range(pl.datetime(2026, 1, 1), pl.datetime(2026, 1, 1, 0, 0, 2), "1s", eager=True)
    df = _frame(3).with_columns(ts=ts)
    rec = nt.from_frame(df, nt.TICK_DTYPE)
    assert rec["ts"][0] == 1_767_225_600_000_000_000
    assert np.all(np.diff(rec["ts"]) == 1_000_000_000)


def test_from_frame_errors() -> None:
    with pytest.raises(errors.DTypeError, match="lacks column"):
        nt.from_frame(_frame(3).drop("price"), nt.TICK_DTYPE)
    with pytest.raises(errors.DTypeError, match="not numbers"):
        nt.from_frame(_frame(3).with_columns(price=pl.lit("a")), nt.TICK_DTYPE)
    with pytest.raises(errors.DTypeError, match="structured"):
        nt.from_frame(_frame(3), np.float64)


def test_pandas_frame_is_accepted_too() -> None:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({name: _frame(4)[name].to_numpy() for name in _frame(4).columns})
    r = nt.RingBuffer(8)
    assert r.push_many(df) == 4
    assert r.pop_many(4)["ts"].tolist() == [0, 1, 2, 3]
    assert isinstance(df, pd.DataFrame)


def test_to_polars_plain_dtype() -> None:
    assert nt.to_polars(np.arange(3.0))["value"].to_list() == [0.0, 1.0, 2.0]


# A model-based test: any sequence of single-threaded operations on a ring behaves like a
# bounded deque.
ops = st.lists(
    st.one_of(
        st.tuples(st.just("push"), st.integers(-(2**63), 2**63 - 1)),
        st.tuples(st.just("pop"), st.just(0)),
        st.tuples(st.just("push_many"), st.integers(0, 20)),
        st.tuples(st.just("pop_many"), st.integers(0, 20)),
    ),
    max_size=200,
)


@pytest.mark.parametrize("cls", [nt.RingBuffer, nt.MPMCRingBuffer])
@pytest.mark.parametrize("capacity", [2, 4, 16])
@settings(max_examples=60, deadline=None)
@given(seq=ops)
def test_ring_matches_a_bounded_deque(cls: type, capacity: int, seq: list[tuple[str, int]]) -> None:
    ring = cls(capacity, np.int64)
    model: deque[int] = deque()
    counter = 0
    for op, arg in seq:
        if op == "push":
            ok = ring.try_push(arg)
            assert ok == (len(model) < capacity)
            if ok:
                model.append(arg)
        elif op == "pop":
            got = ring.try_pop()
            assert got == (model.popleft() if model else None)
        elif op == "push_many":
            batch = np.arange(counter, counter + arg, dtype=np.int64)
            counter += arg
            n = ring.push_many(batch)
            assert n == min(arg, capacity - len(model))
            model.extend(batch[:n].tolist())
        else:
            got = ring.pop_many(arg).tolist()
            want = [model.popleft() for _ in range(min(arg, len(model)))]
            assert got == want
        assert len(ring) == len(model)
