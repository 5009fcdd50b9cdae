"""The Cython event-dispatch loop over the rings."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import neural_trader as nt
from neural_trader import errors

RING_CLASSES = [nt.RingBuffer, nt.MPMCRingBuffer]


@pytest.mark.parametrize("cls", RING_CLASSES)
def test_on_record_gets_every_record_in_order(cls: type, ticks: np.ndarray) -> None:
    r = cls(16)
    seen: list[tuple] = []

    def produce() -> None:
        for i in range(0, 64, 4):
            r.push_many(ticks[i : i + 4], block=True)
        r.close()

    t = threading.Thread(target=produce)
    t.start()
    assert nt.dispatch(r, seen.append) == 64
    t.join()
    assert seen == [rec.item() for rec in ticks]


@pytest.mark.parametrize("cls", RING_CLASSES)
def test_on_batch_gets_arrays_the_callee_may_keep(cls: type, ticks: np.ndarray) -> None:
    r = cls(64)
    r.push_many(ticks)
    r.close()
    batches: list[np.ndarray] = []
    assert nt.dispatch(r, on_batch=batches.append, max_batch=10) == 64
    assert all(len(b) <= 10 and b.dtype == nt.TICK_DTYPE for b in batches)
    assert np.concatenate(batches)["ts"].tolist() == ticks["ts"].tolist()


@pytest.mark.parametrize("cls", RING_CLASSES)
def test_exception_in_callback_propagates_and_leaves_the_rest(cls: type) -> None:
    r = cls(16, np.int64)
    for i in range(10):
        r.push(i)
    seen: list[int] = []

    def fn(x: int) -> None:
        seen.append(x)
        if x == 4:
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        nt.dispatch(r, fn)
    assert seen == [0, 1, 2, 3, 4]
    assert [r.pop() for _ in range(len(r))] == [5, 6, 7, 8, 9]


@pytest.mark.parametrize("cls", RING_CLASSES)
def test_timeout_returns_when_idle(cls: type) -> None:
    r = cls(16, np.int64)
    r.push(1)
    seen: list[int] = []
    t0 = time.perf_counter()
    assert nt.dispatch(r, seen.append, timeout=0.05) == 1
    assert 0.04 <= time.perf_counter() - t0 < 5
    assert seen == [1]
    assert nt.dispatch(r, on_batch=seen.append, timeout=0.01) == 0


def test_bad_arguments() -> None:
    r = nt.RingBuffer(8, np.int64)
    with pytest.raises(errors.InvalidArgumentError, match="exactly one"):
        nt.dispatch(r)
    with pytest.raises(errors.InvalidArgumentError, match="exactly one"):
        nt.dispatch(r, print, on_batch=print)
    with pytest.raises(errors.InvalidArgumentError, match="max_batch"):
        nt.dispatch(r, print, max_batch=0)
    with pytest.raises(errors.InvalidArgumentError, match="timeout"):
        nt.dispatch(r, print, timeout=-1)
    with pytest.raises(AttributeError):
        nt.dispatch(object(), print)


def test_dispatch_unusual_dtype_uses_numpy_path() -> None:
    dt = np.dtype([("h", "<f2"), ("tag", "S2")])
    r = nt.RingBuffer(8, dt)
    r.push((0.5, b"ok"))
    r.close()
    seen: list[tuple] = []
    assert nt.dispatch(r, seen.append) == 1
    assert seen == [(0.5, b"ok")]


def test_dispatch_many_records_threaded() -> None:
    n = 1_000_000
    r = nt.RingBuffer(1 << 12, np.int64)
    total = [0, 0]

    def produce() -> None:
        data = np.arange(n, dtype=np.int64)
        sent = 0
        while sent < n:
            sent += r.push_many(data[sent : sent + 5000], block=True)
        r.close()

    def on_record(x: int) -> None:
        total[0] += 1
        total[1] += x

    t = threading.Thread(target=produce)
    t.start()
    assert nt.dispatch(r, on_record) == n
    t.join()
    assert total == [n, n * (n - 1) // 2]
