"""Ring buffers: semantics, edge cases, bad input, and threaded delivery of >= 10 million records."""

from __future__ import annotations

import pickle
import threading
import time
import _thread

import numpy as np
import pytest

import neural_trader as nt
from neural_trader import errors

RING_CLASSES = [nt.RingBuffer, nt.MPMCRingBuffer]


# ----------------------------------------------------------------------------------------------
# construction and bad input


@pytest.mark.parametrize("cls", RING_CLASSES)
@pytest.mark.parametrize("capacity", [0, -4, 3, 1000, 2**40 + 1])
def test_capacity_must_be_power_of_two(cls: type, capacity: int) -> None:
    with pytest.raises(errors.InvalidArgumentError, match="power of two"):
        cls(capacity)


@pytest.mark.parametrize("cls", RING_CLASSES)
def test_capacity_must_be_an_integer(cls: type) -> None:
    with pytest.raises(errors.DTypeError):
        cls(16.0)
    with pytest.raises(errors.DTypeError):
        cls("16")


@pytest.mark.parametrize("cls", RING_CLASSES)
def test_absurd_capacity_is_a_clear_error(cls: type) -> None:
    with pytest.raises(errors.InvalidArgumentError):
        cls(2**62, nt.TICK_DTYPE)


@pytest.mark.parametrize("cls", RING_CLASSES)
@pytest.mark.parametrize("dtype", [object, [("a", "i8"), ("b", "O")], "V0"])
def test_dtype_with_objects_or_no_bytes_is_rejected(cls: type, dtype: object) -> None:
    with pytest.raises(errors.DTypeError):
        cls(8, dtype)


@pytest.mark.parametrize("cls", RING_CLASSES)
def test_not_a_dtype_is_rejected(cls: type) -> None:
    with pytest.raises(errors.DTypeError):
        cls(8, "not-a-dtype")


@pytest.mark.parametrize("cls", RING_CLASSES)
def test_properties_and_repr(cls: type) -> None:
    r = cls(16, nt.BAR_DTYPE)
    assert r.capacity == 16
    assert r.dtype == nt.BAR_DTYPE
    assert len(r) == 0 and not r.closed and not r.drained
    text = repr(r)
    assert cls.__name__ in text and "capacity=16" in text and "len=0" in text
    r.close()
    assert "closed" in repr(r) and r.closed and r.drained


@pytest.mark.parametrize("cls", RING_CLASSES)
def test_in_process_rings_refuse_pickling(cls: type) -> None:
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(cls(8))


# ----------------------------------------------------------------------------------------------
# one record at a time


@pytest.mark.parametrize("cls", RING_CLASSES)
def test_push_pop_accepts_tuple_list_numpy_scalar_0d_array_and_bytes(cls: type, ticks: np.ndarray) -> None:
    r = cls(16)
    rec = ticks[3]
    r.push(rec.item())          # tuple
    r.push(list(rec.item()))    # list
    r.push(rec)                 # np.void
    r.push(ticks[3:4].reshape(()))  # 0-d array
    r.push(rec.tobytes())       # raw bytes
    for _ in range(5):
        assert r.pop() == rec.item()
    assert r.try_pop() is None


@pytest.mark.parametrize("cls", RING_CLASSES)
def test_pop_returns_python_values_like_item(cls: type) -> None:
    r = cls(4)
    r.push((2**62, -7, 1.5, 2.25, -1))
    out = r.pop()
    assert out == (2**62, -7, 1.5, 2.25, -1)
    assert [type(v) for v in out] == [int, int, float, float, int]


@pytest.mark.parametrize("cls", RING_CLASSES)
def test_numpy_integer_and_float_values_are_accepted(cls: type) -> None:
    r = cls(4)
    r.push((np.int64(5), np.int32(3), np.float32(1.5), np.float64(2.0), np.int8(1)))
    assert r.pop() == (5, 3, 1.5, 2.0, 1)


@pytest.mark.parametrize("cls", RING_CLASSES)
def test_bad_records_raise_and_push_nothing(cls: type) -> None:
    r = cls(4)
    with pytest.raises(errors.InvalidArgumentError, match="5 fields"):
        r.push((1, 2, 3.0))
    with pytest.raises(OverflowError, match="side"):
        r.push((1, 2, 3.0, 4.0, 300))          # int8 field
    with pytest.raises(OverflowError, match="symbol"):
        r.push((1, 2**40, 3.0, 4.0, 1))        # int32 field
    with pytest.raises(errors.DTypeError, match="integer"):
        r.push((1.5, 2, 3.0, 4.0, 1))          # float for the int64 field
    with pytest.raises(errors.DTypeError, match="number"):
        r.push((1, 2, "x", 4.0, 1))
    with pytest.raises(errors.InvalidArgumentError, match=f"{nt.TICK_DTYPE.itemsize} bytes"):
        r.push(b"short")
    with pytest.raises(ValueError):
        r.push(np.zeros(2, nt.TICK_DTYPE))      # an array is not one record
    assert len(r) == 0


@pytest.mark.parametrize("cls", RING_CLASSES)
def test_scalar_and_unusual_dtypes(cls: type) -> None:
    r = cls(8, np.float64)
    r.push(1.25)
    r.push(3)
    assert r.pop() == 1.25 and r.pop() == 3.0
    # A dtype outside the fast path (float16, fixed bytes, big-endian, sub-array) goes through NumPy.
    dt = np.dtype([("h", "<f2"), ("tag", "S4"), ("big", ">i4"), ("v", "<f4", (2,))])
    r = cls(8, dt)
    r.push((1.5, b"ab", 7, [1.0, 2.0]))
    got = r.pop()
    assert got[0] == 1.5 and got[1] == b"ab" and got[2] == 7 and list(got[3]) == [1.0, 2.0]
    arr = np.zeros(3, dt)
    arr["big"] = [1, 2, 3]
    assert r.push_many(arr) == 3
    assert list(r.pop_many(3)["big"]) == [1, 2, 3]


def test_mpmc_needs_two_slots() -> None:
    with pytest.raises(errors.InvalidArgumentError, match=">= 2"):
        nt.MPMCRingBuffer(1)
    with pytest.raises(errors.InvalidArgumentError, match=">= 2"):
        nt._core.MPMCRingBuffer(1, np.int64)


@pytest.mark.parametrize(("cls", "capacity"), [(nt.RingBuffer, 1), (nt.RingBuffer, 2), (nt.RingBuffer, 8),
                                               (nt.MPMCRingBuffer, 2), (nt.MPMCRingBuffer, 8)])
def test_full_and_empty_at_exact_capacity(cls: type, capacity: int) -> None:
    r = cls(capacity, np.int64)
    for i in range(capacity):
        assert r.try_push(i)
    assert len(r) == capacity
    assert not r.try_push(99)
    with pytest.raises(errors.FullError):
        r.push(99, block=False)
    with pytest.raises(errors.TimeoutError):
        r.push(99, timeout=0.02)
    assert [r.pop() for _ in range(capacity)] == list(range(capacity))
    assert r.try_pop() is None
    with pytest.raises(errors.EmptyError):
        r.pop(block=False)
    with pytest.raises(errors.TimeoutError):
        r.pop(timeout=0.02)


@pytest.mark.parametrize("cls", RING_CLASSES)
def test_bad_timeout(cls: type) -> None:
    r = cls(2, np.int64)
    r.push(0)
    r.push(1)
    with pytest.raises(errors.InvalidArgumentError):
        r.push(2, timeout=-1)
    r.pop()
    with pytest.raises(errors.InvalidArgumentError):
        r.pop(timeout=float("nan"))


# ----------------------------------------------------------------------------------------------
# batches


@pytest.mark.parametrize("cls", RING_CLASSES)
def test_push_many_pop_many_wrap_around(cls: type, ticks: np.ndarray) -> None:
    r = cls(16)
    expected = []
    k = 0
    for step in range(40):                 # many laps around a 16-slot ring, odd batch sizes
        n = 1 + (step * 7) % 13
        batch = np.resize(ticks, k + n)[k : k + n]
        pushed = r.push_many(batch)
        expected.extend(batch[:pushed]["ts"].tolist())
        k += pushed
        got = r.pop_many(1 + (step * 5) % 11)
        assert got.dtype == nt.TICK_DTYPE and got.flags.c_contiguous and got.flags.owndata
        assert got["ts"].tolist() == expected[: len(got)]
        del expected[: len(got)]
    rest = r.pop_many(100)
    assert rest["ts"].tolist() == expected


@pytest.mark.parametrize("cls", RING_CLASSES)
def test_push_many_takes_what_fits_and_blocking_waits_for_room(cls: type, ticks: np.ndarray) -> None:
    r = cls(8)
    assert r.push_many(ticks[:20]) == 8
    assert r.push_many(ticks[:5], block=True, timeout=0.02) == 0   # nothing fits in time
    def drain() -> None:
        time.sleep(0.05)
        r.pop_many(8)
    t = threading.Thread(target=drain)
    t.start()
    assert r.push_many(ticks[8:14], block=True, timeout=5) == 6
    t.join()
    assert r.pop_many(10)["ts"].tolist() == ticks[8:14]["ts"].tolist()


@pytest.mark.parametrize("cls", RING_CLASSES)
def test_push_many_accepts_non_contiguous_views(cls: type, ticks: np.ndarray) -> None:
    r = cls(64)
    assert r.push_many(ticks[::3]) == len(ticks[::3])
    assert r.pop_many(64)["ts"].tolist() == ticks[::3]["ts"].tolist()


@pytest.mark.parametrize("cls", RING_CLASSES)
def test_push_many_rejects_wrong_dtype_shape_and_type(cls: type, ticks: np.ndarray) -> None:
    r = cls(64)
    with pytest.raises(errors.DTypeError, match="does not match"):
        r.push_many(np.zeros(3, nt.BAR_DTYPE))
    with pytest.raises(errors.DTypeError, match="NumPy array"):
        r.push_many([(1, 2, 3.0, 4.0, 1)])
    with pytest.raises(errors.InvalidArgumentError, match="1-D"):
        r.push_many(ticks.reshape(8, 8))
    assert len(r) == 0


@pytest.mark.parametrize("cls", RING_CLASSES)
def test_pop_many_edge_cases(cls: type, ticks: np.ndarray) -> None:
    r = cls(8)
    assert len(r.pop_many(0)) == 0
    with pytest.raises(errors.InvalidArgumentError):
        r.pop_many(-1)
    r.push_many(ticks[:3])
    assert len(r.pop_many(0)) == 0
    assert len(r.pop_many(10**12)) == 3   # a huge max_n allocates only what is there
    t0 = time.perf_counter()
    assert len(r.pop_many(5, block=True, timeout=0.05)) == 0
    assert time.perf_counter() - t0 >= 0.04


# ----------------------------------------------------------------------------------------------
# close, blocking, interrupts, iteration


@pytest.mark.parametrize("cls", RING_CLASSES)
def test_close_lets_consumer_drain_then_signals_end(cls: type, ticks: np.ndarray) -> None:
    r = cls(16)
    r.push_many(ticks[:5])
    r.close()
    with pytest.raises(errors.ClosedError):
        r.push(ticks[0])
    with pytest.raises(errors.ClosedError):
        r.try_push(ticks[0])
    with pytest.raises(errors.ClosedError):
        r.push_many(ticks[:1])
    assert r.pop() == ticks[0].item()
    assert len(r.pop_many(2)) == 2
    assert not r.drained
    assert [x[0] for x in r] == ticks[3:5]["ts"].tolist()
    assert r.drained
    with pytest.raises(errors.ClosedError, match="drained"):
        r.pop()
    assert r.try_pop() is None
    assert len(r.pop_many(4, block=True)) == 0   # end of stream: returns at once


@pytest.mark.parametrize("cls", RING_CLASSES)
def test_close_wakes_a_blocked_consumer_and_producer(cls: type) -> None:
    r = cls(2, np.int64)
    errs: list[BaseException] = []

    def consumer() -> None:
        try:
            r.pop()
        except BaseException as e:
            errs.append(e)

    t = threading.Thread(target=consumer)
    t.start()
    time.sleep(0.05)
    r.close()
    t.join(5)
    assert not t.is_alive() and isinstance(errs[0], errors.ClosedError)

    r = cls(2, np.int64)
    r.push(0)
    r.push(1)

    def producer() -> None:
        try:
            r.push(2)
        except BaseException as e:
            errs.append(e)

    t = threading.Thread(target=producer)
    t.start()
    time.sleep(0.05)
    r.close()
    t.join(5)
    assert not t.is_alive() and isinstance(errs[1], errors.ClosedError)


@pytest.mark.parametrize("cls", RING_CLASSES)
def test_blocking_pop_wakes_on_push(cls: type) -> None:
    r = cls(4, np.int64)
    threading.Timer(0.05, lambda: r.push(42)).start()
    assert r.pop(timeout=5) == 42


@pytest.mark.parametrize("cls", RING_CLASSES)
def test_blocked_pop_releases_the_gil(cls: type) -> None:
    r = cls(4, np.int64)
    counter = [0]
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            counter[0] += 1

    t = threading.Thread(target=spin)
    t.start()
    with pytest.raises(errors.TimeoutError):
        r.pop(timeout=0.3)
    stop.set()
    t.join()
    assert counter[0] > 1000   # the other thread ran while pop() waited


@pytest.mark.parametrize("cls", RING_CLASSES)
def test_ctrl_c_interrupts_a_blocked_pop(cls: type) -> None:
    r = cls(4, np.int64)
    threading.Timer(0.1, _thread.interrupt_main).start()
    t0 = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        r.pop(timeout=30)
    assert time.perf_counter() - t0 < 5


def test_iter_batches_until_drained(ticks: np.ndarray) -> None:
    r = nt.RingBuffer(16)

    def produce() -> None:
        for i in range(0, 64, 8):
            r.push_many(ticks[i : i + 8], block=True)
        r.close()

    t = threading.Thread(target=produce)
    t.start()
    got = np.concatenate(list(r.iter_batches(5)))
    t.join()
    assert got["ts"].tolist() == ticks["ts"].tolist()


def test_iter_batches_with_timeout_stops_when_idle() -> None:
    r = nt.RingBuffer(16, np.int64)
    r.push(1)
    assert [b.tolist() for b in r.iter_batches(4, timeout=0.02)] == [[1]]


# ----------------------------------------------------------------------------------------------
# threads: every record once, in order (SPSC) / exact multiset with per-producer order (MPMC)

N_THREADED = 10_000_000


def test_spsc_threaded_delivers_every_record_once_in_order() -> None:
    r = nt.RingBuffer(1 << 14)
    rng = np.random.default_rng(1234)
    sizes = rng.integers(1, 5000, size=8192)
    block = np.zeros(5000, nt.TICK_DTYPE)
    errs: list[BaseException] = []

    def produce() -> None:
        try:
            sent, i = 0, 0
            while sent < N_THREADED:
                n = int(min(sizes[i % len(sizes)], N_THREADED - sent))
                i += 1
                block["ts"][:n] = np.arange(sent, sent + n)
                done = 0
                while done < n:
                    done += r.push_many(block[done:n], block=True)
                sent += n
        except BaseException as e:  # pragma: no cover - surfaced below
            errs.append(e)
        finally:
            r.close()

    t = threading.Thread(target=produce)
    t.start()
    expected = 0
    for k, batch in enumerate(r.iter_batches(int(sizes[0]) + 100)):
        ts = batch["ts"]
        assert ts[0] == expected and ts[-1] == expected + len(ts) - 1
        if k % 64 == 0:
            assert np.array_equal(ts, np.arange(expected, expected + len(ts)))
        expected += len(ts)
    t.join()
    assert not errs
    assert expected == N_THREADED


def test_spsc_threaded_full_order_check_with_single_records() -> None:
    """A slower, exhaustive variant: one record at a time, every value checked."""
    n = 200_000
    r = nt.RingBuffer(64, np.int64)

    def produce() -> None:
        for i in range(n):
            r.push(i)
        r.close()

    t = threading.Thread(target=produce)
    t.start()
    got = list(r)
    t.join()
    assert got == list(range(n))


def test_mpmc_two_producers_two_consumers_exact_multiset() -> None:
    r = nt.MPMCRingBuffer(1 << 12, np.int64)
    per_producer = N_THREADED // 2
    results: list[list[np.ndarray]] = [[], []]
    errs: list[BaseException] = []

    def produce(p: int) -> None:
        try:
            base = p << 40
            sent = 0
            while sent < per_producer:
                n = min(777 + 100 * p, per_producer - sent)
                chunk = np.arange(base + sent, base + sent + n, dtype=np.int64)
                done = 0
                while done < n:
                    done += r.push_many(chunk[done:], block=True)
                sent += n
        except BaseException as e:  # pragma: no cover
            errs.append(e)

    def consume(c: int) -> None:
        try:
            for batch in r.iter_batches(1000):
                results[c].append(batch)
        except BaseException as e:  # pragma: no cover
            errs.append(e)

    producers = [threading.Thread(target=produce, args=(p,)) for p in range(2)]
    consumers = [threading.Thread(target=consume, args=(c,)) for c in range(2)]
    for t in producers + consumers:
        t.start()
    for t in producers:
        t.join()
    r.close()
    for t in consumers:
        t.join()
    assert not errs
    for c in range(2):
        got = np.concatenate(results[c]) if results[c] else np.zeros(0, np.int64)
        for p in range(2):   # per-producer FIFO as each consumer saw it
            mine = got[(got >> 40) == p]
            assert np.all(np.diff(mine) > 0)
    every = np.sort(np.concatenate([b for res in results for b in res]))
    expected = np.concatenate([np.arange(p << 40, (p << 40) + per_producer, dtype=np.int64) for p in range(2)])
    assert len(every) == N_THREADED
    assert np.array_equal(every, expected)


def test_mpmc_many_threads_single_records_small_capacity() -> None:
    r = nt.MPMCRingBuffer(4, np.int64)
    n_prod, per = 4, 5000
    got: list[int] = []
    lock = threading.Lock()

    def produce(p: int) -> None:
        for i in range(per):
            r.push(p * per + i)

    def consume() -> None:
        mine = []
        for x in r:
            mine.append(x)
        with lock:
            got.extend(mine)

    producers = [threading.Thread(target=produce, args=(p,)) for p in range(n_prod)]
    consumers = [threading.Thread(target=consume) for _ in range(3)]
    for t in producers + consumers:
        t.start()
    for t in producers:
        t.join()
    r.close()
    for t in consumers:
        t.join()
    assert sorted(got) == list(range(n_prod * per))


def test_mpmc_blocking_pop_many_waits_while_other_consumers_compete() -> None:
    """A blocking pop_many that loses records to another consumer keeps waiting until its timeout
    or the end of the stream; it never returns early with an empty array."""
    r = nt.MPMCRingBuffer(64, np.int64)
    closed_at: list[float] = []
    ended_at: list[float] = [0.0, 0.0]
    counts = [0, 0]

    def consume(c: int) -> None:
        for batch in r.iter_batches(4, timeout=10):
            counts[c] += len(batch)
        ended_at[c] = time.perf_counter()

    consumers = [threading.Thread(target=consume, args=(c,)) for c in range(2)]
    for t in consumers:
        t.start()
    for i in range(300):
        r.push(i)
        if i % 10 == 0:
            time.sleep(0.001)
    time.sleep(0.05)
    closed_at.append(time.perf_counter())
    r.close()
    for t in consumers:
        t.join(30)
    assert sum(counts) == 300
    assert all(end >= closed_at[0] for end in ended_at)  # neither consumer gave up early
