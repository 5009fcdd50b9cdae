"""Ring-buffer workloads shared by the three benchmark front ends.

``benchmarks/pytest`` (pytest-benchmark), ``benchmarks/compare_ring.py`` (side-by-side table) and
``benchmarks/asv`` (airspeed velocity) all time the workloads defined here, so the three measure
the very same thing.

A workload has three steps:

``setup()``
    Build the data, the channel and any producer threads or processes; producers start and then
    wait at a gate. Not timed.
``run()``
    Timed. Opens the gate and moves every record from the producer(s) to the consumer(s); returns
    once the consumer has seen the end of the stream.
``finish()``
    Not timed. Checks what came out (every record, once, byte for byte, in order where the channel
    promises order) and releases threads, processes and shared memory. Raises AssertionError when
    the data is wrong. Idempotent.

Fairness rules the workloads follow:

* Every engine moves the same tick records (``make_ticks``: TICK_DTYPE, deterministic content).
* Batch engines move batches of ``BATCH`` records; the consumer asks for at most ``BATCH`` records
  per call where the peer lets it choose.
* Per-record peers move Python tuples (what ``ring.pop()`` returns), converted with ``tolist()``
  *before* timing: the conversion cost is not charged to the peer.
* "arrays" peers move NumPy views of ``BATCH`` records as Python objects: zero-copy and, for the
  in-process queues, unbounded; the ring copies records into bounded preallocated memory and out
  into a fresh array. Both variants are reported; neither is hidden.
* The per-record peers may move fewer records (a prefix of the same data set) than the batch
  engines: their records/s does not depend on the length of the run, and this keeps the slow ones
  from taking minutes. The record count is reported with every figure.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import multiprocessing as mp
import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from operator import itemgetter
from typing import Any

import numpy as np

import neural_trader as nt

BATCH = 1024  #: records per push_many / pop_many / put_many / get_many call
RING_CAPACITY = 1 << 16  #: records in the SPSC/MPMC/shared rings of the transfer workloads
FIFO_BYTES = 8 << 20  #: faster_fifo.Queue buffer (bytes); the ring above holds 1.9 MB of ticks
WAIT = 60.0  #: seconds any blocking call may wait before the workload is declared stuck


# --------------------------------------------------------------------------------------------------
# scales


@dataclasses.dataclass(frozen=True)
class Scale:
    name: str
    n_batch: int  #: records per thread->thread batch transfer (ring, arrays peers)
    n_tuple: int  #: records per thread->thread per-record-tuple transfer
    n_proc: int  #: records per process->process batch transfer
    n_proc_tuple: int  #: records per process->process per-record-tuple transfer (faster-fifo)
    n_one: int  #: records per one-record push/pop loop
    n_dispatch: int  #: records per nt.dispatch run
    n_mpmc: int  #: records per MPMC 2x2 batch transfer
    n_mpmc_tuple: int  #: records per MPMC-peer 2x2 per-record transfer
    reps: int  #: timed repetitions (rounds) per case
    warmup: int  #: untimed rounds before them (pytest-benchmark)


SCALES: dict[str, Scale] = {
    # the whole pytest suite well under 30 s with --benchmark-disable: CI runs it so nothing rots
    "smoke": Scale("smoke", 20_000, 5_000, 20_000, 5_000, 5_000, 8_192, 20_000, 5_000, 1, 0),
    "default": Scale("default", 4_000_000, 1_000_000, 4_000_000, 1_000_000, 1_000_000, 1 << 20,
                     2_000_000, 500_000, 5, 1),
    "full": Scale("full", 16_000_000, 4_000_000, 16_000_000, 4_000_000, 4_000_000, 1 << 22,
                  8_000_000, 2_000_000, 9, 1),
}


def get_scale(name: str | None = None) -> Scale:
    """The scale called ``name``, else ``$NT_BENCH_SCALE``, else "default"."""
    name = name or os.environ.get("NT_BENCH_SCALE") or "default"
    try:
        return SCALES[name]
    except KeyError:
        raise ValueError(f"unknown benchmark scale {name!r}; choose one of {', '.join(SCALES)}") from None


# --------------------------------------------------------------------------------------------------
# data


@functools.lru_cache(maxsize=4)
def make_ticks(n: int) -> np.ndarray:
    """``n`` deterministic TICK_DTYPE records (every field varies; ts is strictly increasing).

    The same ``n`` always gives the same bytes, so a child process can build its own copy and the
    parent can check what arrives. Callers must not modify the array (it is cached)."""
    i = np.arange(n, dtype=np.int64)
    a = np.empty(n, dtype=nt.TICK_DTYPE)
    a["ts"] = 1_700_000_000_000_000_000 + i * 1_000
    a["symbol"] = (i * 7919) % 5_000
    a["price"] = 100.0 + (i % 10_007) * 0.01
    a["size"] = 1.0 + (i % 97)
    a["side"] = (i % 3) - 1
    a.flags.writeable = False
    return a


@functools.lru_cache(maxsize=4)
def make_tuples(n: int) -> list[tuple[Any, ...]]:
    """The first ``n`` ticks as Python tuples (what ``ring.pop()`` returns); cached."""
    return make_ticks(n).tolist()  # type: ignore[no-any-return]


def _pow2_at_least(n: int) -> int:
    return 1 << max(0, n - 1).bit_length()


def check_array(got: np.ndarray, expected: np.ndarray, what: str) -> None:
    assert got.dtype == expected.dtype, f"{what}: dtype {got.dtype} != {expected.dtype}"
    assert len(got) == len(expected), f"{what}: {len(got)} records delivered, expected {len(expected)}"
    # TICK_DTYPE is packed (no padding): equal bytes <=> equal records, in the same order
    assert got.tobytes() == expected.tobytes(), f"{what}: records differ from what was sent"


def check_tuples(got: list[Any], expected: list[Any], what: str) -> None:
    assert len(got) == len(expected), f"{what}: {len(got)} records delivered, expected {len(expected)}"
    assert got == expected, f"{what}: records differ from what was sent"


def _concat(batches: list[np.ndarray]) -> np.ndarray:
    if not batches:
        return np.empty(0, dtype=nt.TICK_DTYPE)
    return np.concatenate(batches)


# --------------------------------------------------------------------------------------------------
# workload base and gated producers


class Workload:
    """One timed case. Subclasses fill in ``_setup``, ``run`` and ``_check``."""

    section = ""  #: table section, e.g. "SPSC batch thread->thread"
    engine = ""  #: row label, e.g. "nt.RingBuffer push_many/pop_many"
    ours = False  #: whether this row is neural_trader (the ratios' numerator)

    def __init__(self, n: int) -> None:
        self.n = n
        self.rounds_checked = 0
        self._pending = False

    def setup(self) -> None:
        self.finish()  # a previous round that was never finished
        self._setup()
        self._pending = True

    def run(self) -> Any:
        raise NotImplementedError

    def finish(self) -> None:
        if not self._pending:
            return
        self._pending = False
        try:
            self._check()
            self.rounds_checked += 1
        finally:
            self._release()

    def _setup(self) -> None:
        raise NotImplementedError

    def _check(self) -> None:
        raise NotImplementedError

    def _release(self) -> None:
        pass

    def measure(self) -> float:
        """setup, time run, finish; return records per second."""
        self.setup()
        try:
            t0 = time.perf_counter()
            self.run()
            dt = time.perf_counter() - t0
        except BaseException:
            self._pending = False
            self._release()
            raise
        self.finish()
        return self.n / dt

    @property
    def label(self) -> str:
        return f"{self.section}: {self.engine}"


class GatedThread:
    """A daemon thread that runs ``fn`` once the gate opens, keeping any exception for ``join``."""

    def __init__(self, fn: Callable[[], None], gate: threading.Event, name: str) -> None:
        self._fn = fn
        self._gate = gate
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._main, name=name, daemon=True)
        self.thread.start()

    def _main(self) -> None:
        if not self._gate.wait(WAIT):
            self.error = RuntimeError("gate never opened")
            return
        try:
            self._fn()
        except BaseException as exc:  # noqa: BLE001 - reported by join()
            self.error = exc

    def join(self) -> None:
        self.thread.join(WAIT)
        if self.thread.is_alive():
            raise AssertionError(f"thread {self.thread.name} still running after {WAIT} s")
        if self.error is not None:
            raise AssertionError(f"thread {self.thread.name} failed: {self.error!r}") from self.error


def _ring_consume(ring: Any, batch: int, out: list[np.ndarray]) -> None:
    """Pop batches of up to ``batch`` records until the ring is closed and drained.

    An empty result that is not the end of the stream is retried: on an MPMCRingBuffer with two
    or more consumers, a blocking pop_many returns an empty array (well before its timeout) when
    another consumer took the records it woke up for."""
    pop_many = ring.pop_many
    append = out.append
    idle_since = 0.0
    while True:
        b = pop_many(batch, True, WAIT)
        if len(b):
            append(b)
            idle_since = 0.0
        elif ring.drained:
            return
        elif not idle_since:
            idle_since = time.monotonic()
        elif time.monotonic() - idle_since > WAIT:
            raise RuntimeError(f"consumer waited {WAIT} s for records")


def _ring_produce(ring: Any, data: np.ndarray, batch: int) -> None:
    """push_many ``data`` in slices of ``batch`` records (blocking while full), then close."""
    push_many = ring.push_many
    try:
        for i in range(0, len(data), batch):
            chunk = data[i : i + batch]
            if push_many(chunk, True, WAIT) != len(chunk):
                raise RuntimeError(f"push_many stayed blocked for {WAIT} s")
    finally:
        ring.close()


# --------------------------------------------------------------------------------------------------
# (a) thread -> thread transfer


class RingThreadTransfer(Workload):
    section = "SPSC batch thread->thread"
    engine = "nt.RingBuffer push_many/pop_many"
    ours = True

    def __init__(self, n: int, batch: int = BATCH, capacity: int = RING_CAPACITY) -> None:
        super().__init__(n)
        self.batch = batch
        self.capacity = capacity

    def _setup(self) -> None:
        self.data = make_ticks(self.n)
        self.ring = nt.RingBuffer(self.capacity, nt.TICK_DTYPE)
        self.out: list[np.ndarray] = []
        self.gate = threading.Event()
        self.producer = GatedThread(lambda: _ring_produce(self.ring, self.data, self.batch), self.gate,
                                    "nt-producer")

    def run(self) -> None:
        self.gate.set()
        _ring_consume(self.ring, self.batch, self.out)

    def _check(self) -> None:
        self.producer.join()
        check_array(_concat(self.out), self.data, self.label)

    def _release(self) -> None:
        self.gate.set()
        self.out = []


class QueueThreadTransfer(Workload):
    """A stdlib queue between two threads: per-record tuples, or NumPy batch views as objects.

    kind: "SimpleQueue", "Queue" (both with blocking get) or "deque" (consumer spins on
    ``if d: d.popleft()``); mode: "tuples" or "arrays"."""

    section = "SPSC batch thread->thread"

    def __init__(self, n: int, kind: str, mode: str, batch: int = BATCH) -> None:
        super().__init__(n)
        assert kind in ("SimpleQueue", "Queue", "deque") and mode in ("tuples", "arrays")
        self.kind, self.mode, self.batch = kind, mode, batch
        unit = "per-record tuples" if mode == "tuples" else f"ndarray batches of {batch}"
        verb = "append/popleft spin" if kind == "deque" else "put/get"
        self.engine = f"{'collections.deque' if kind == 'deque' else 'queue.' + kind} {verb}, {unit}"

    def _setup(self) -> None:
        self.data = make_ticks(self.n)
        self.items: list[Any]
        if self.mode == "tuples":
            self.items = make_tuples(self.n)
        else:
            self.items = []  # the producer slices views in its loop, as the ring producer does
        kinds = {"SimpleQueue": queue.SimpleQueue, "Queue": queue.Queue, "deque": collections.deque}
        self.q: Any = kinds[self.kind]()
        self.out: list[Any] = []
        self.gate = threading.Event()
        self.producer = GatedThread(self._produce, self.gate, f"{self.kind}-producer")

    def _produce(self) -> None:
        put = self.q.append if self.kind == "deque" else self.q.put
        try:
            if self.mode == "tuples":
                for rec in self.items:
                    put(rec)
            else:
                data, b = self.data, self.batch
                for i in range(0, len(data), b):
                    put(data[i : i + b])
        finally:
            put(None)

    def run(self) -> None:
        self.gate.set()
        append = self.out.append
        if self.kind == "deque":
            d = self.q
            popleft = d.popleft
            while True:
                if d:
                    x = popleft()
                    if x is None:
                        return
                    append(x)
        else:
            get = self.q.get
            while True:
                x = get()
                if x is None:
                    return
                append(x)

    def _check(self) -> None:
        self.producer.join()
        if self.mode == "tuples":
            check_tuples(self.out, self.items, self.label)
        else:
            check_array(_concat(self.out), self.data, self.label)

    def _release(self) -> None:
        self.gate.set()
        self.out = []


# --------------------------------------------------------------------------------------------------
# (b) process -> process transfer


def mp_context(method: str | None = None) -> Any:
    """``$NT_BENCH_MP`` or ``method`` or "spawn" (safe everywhere; process start is never timed)."""
    return mp.get_context(method or os.environ.get("NT_BENCH_MP") or "spawn")


def _child_ring_producer(name: str, n: int, batch: int, ready: Any, go: Any) -> None:
    # attach by name (not the pickled handle): under "fork" the handle object would be the
    # creator's own copy, and detaching it in the child would remove the name
    ring = nt.SharedRingBuffer.attach(name)
    data = make_ticks(n)
    ready.set()
    if not go.wait(WAIT):
        raise RuntimeError("parent never opened the gate")
    _ring_produce(ring, data, batch)
    ring.detach()


def _child_fifo_producer(q: Any, n: int, batch: int, mode: str, ready: Any, go: Any) -> None:
    data = make_ticks(n)
    recs = make_tuples(n) if mode == "tuples" else None
    ready.set()
    if not go.wait(WAIT):
        raise RuntimeError("parent never opened the gate")
    try:
        if recs is not None:
            put_many = q.put_many
            for i in range(0, n, batch):
                put_many(recs[i : i + batch], True, WAIT)
        else:
            put = q.put
            for i in range(0, n, batch):
                put(data[i : i + batch], True, WAIT)
    finally:
        q.put(None, True, WAIT)


class _ProcessTransfer(Workload):
    section = "SPSC batch process->process"

    def __init__(self, n: int, batch: int = BATCH, context: str | None = None) -> None:
        super().__init__(n)
        self.batch = batch
        self.context = context

    def _start(self, target: Callable[..., None], *args: Any) -> None:
        ctx = mp_context(self.context)
        self.ready = ctx.Event()
        self.go = ctx.Event()
        self.child = ctx.Process(target=target, args=(*args, self.ready, self.go), daemon=True)
        self.child.start()
        deadline = time.monotonic() + WAIT
        while not self.ready.wait(0.05):
            if not self.child.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"producer process did not get ready (exit code {self.child.exitcode})")

    def _join_child(self) -> None:
        self.child.join(WAIT)
        if self.child.is_alive():
            self.child.terminate()
            raise AssertionError(f"{self.label}: producer process still running after {WAIT} s")
        assert self.child.exitcode == 0, f"{self.label}: producer process exited with {self.child.exitcode}"

    def _release(self) -> None:
        child = getattr(self, "child", None)
        if child is not None and child.is_alive():
            self.go.set()
            child.join(5)
            if child.is_alive():
                child.terminate()
                child.join(5)
        self.out = []


class SharedRingProcessTransfer(_ProcessTransfer):
    engine = "nt.SharedRingBuffer push_many/pop_many"
    ours = True

    def __init__(self, n: int, batch: int = BATCH, capacity: int = RING_CAPACITY,
                 context: str | None = None) -> None:
        super().__init__(n, batch, context)
        self.capacity = capacity

    def _setup(self) -> None:
        self.data = make_ticks(self.n)
        self.ring = nt.SharedRingBuffer(None, self.capacity, nt.TICK_DTYPE)
        self.out: list[np.ndarray] = []
        self._start(_child_ring_producer, self.ring.name, self.n, self.batch)

    def run(self) -> None:
        self.go.set()
        _ring_consume(self.ring, self.batch, self.out)

    def _check(self) -> None:
        self._join_child()
        check_array(_concat(self.out), self.data, self.label)

    def _release(self) -> None:
        super()._release()
        ring = getattr(self, "ring", None)
        if ring is not None:
            ring.detach()  # the creator removes the name
            self.ring = None


class FasterFifoProcessTransfer(_ProcessTransfer):
    """faster_fifo.Queue between two processes, through its batch API (put_many/get_many of
    per-record tuples), or one pickled ndarray of ``batch`` records per message."""

    def __init__(self, n: int, mode: str, batch: int = BATCH, max_size_bytes: int = FIFO_BYTES,
                 context: str | None = None) -> None:
        super().__init__(n, batch, context)
        assert mode in ("tuples", "arrays")
        self.mode = mode
        self.max_size_bytes = max_size_bytes
        if mode == "tuples":
            self.engine = f"faster_fifo put_many/get_many, per-record tuples (<= {batch}/call)"
        else:
            self.engine = f"faster_fifo put/get, ndarray batches of {batch} (pickled)"

    def _setup(self) -> None:
        import faster_fifo

        self.data = make_ticks(self.n)
        self.expected = make_tuples(self.n) if self.mode == "tuples" else None
        self.q = faster_fifo.Queue(self.max_size_bytes)
        self.out: list[Any] = []
        self._start(_child_fifo_producer, self.q, self.n, self.batch, self.mode)

    def run(self) -> None:
        self.go.set()
        q = self.q
        if self.mode == "tuples":
            get_many = q.get_many
            extend = self.out.extend
            batch = self.batch
            while True:
                msgs = get_many(True, WAIT, batch)
                if msgs[-1] is None:  # the end marker is the last message of the stream
                    extend(msgs[:-1])
                    return
                extend(msgs)
        else:
            get = q.get
            append = self.out.append
            while True:
                x = get(True, WAIT)
                if x is None:
                    return
                append(x)

    def _check(self) -> None:
        self._join_child()
        if self.mode == "tuples":
            assert self.expected is not None
            check_tuples(self.out, self.expected, self.label)
        else:
            check_array(_concat(self.out), self.data, self.label)

    def _release(self) -> None:
        super()._release()
        self.q = None


def have_faster_fifo() -> bool:
    try:
        import faster_fifo  # noqa: F401
    except ImportError:
        return False
    return True


# --------------------------------------------------------------------------------------------------
# (c) one record at a time, from Python, one thread


class OneRecord(Workload):
    """Per-record calls from a Python loop: ``pair`` (push then pop, per record), ``push`` only
    (into an empty channel that holds them all) or ``pop`` only (from a prefilled one).

    engine: "nt.push/pop" (blocking calls, fast path), "nt.try_push/try_pop", "SimpleQueue" or
    "deque".

    The popping loops compare each record with the one sent (``if pop() != rec``) instead of
    keeping them: keeping a million fresh tuples costs the ring (whose pop builds a new tuple) up
    to 2x in allocator growth that a real consumer, which drops what it has processed, never
    pays, while the peers hand back the very objects that were put and allocate nothing. The
    comparison itself is slightly dearer for the ring (its tuple is a copy; the peers' is the
    same object), so this errs against the ring, not for it."""

    section = "one record from Python"
    ENGINES = ("nt.push/pop", "nt.try_push/try_pop", "SimpleQueue", "deque")

    def __init__(self, n: int, engine: str, op: str) -> None:
        super().__init__(n)
        assert engine in self.ENGINES and op in ("pair", "push", "pop")
        self.kind, self.op = engine, op
        self.ours = engine.startswith("nt.")
        names = {
            "nt.push/pop": ("nt.RingBuffer", "push", "pop"),
            "nt.try_push/try_pop": ("nt.RingBuffer", "try_push", "try_pop"),
            "SimpleQueue": ("queue.SimpleQueue", "put", "get"),
            "deque": ("collections.deque", "append", "popleft"),
        }[engine]
        self.section = {"pair": "one record: push then pop", "push": "one record: push only",
                        "pop": "one record: pop only"}[op]
        what = {"pair": f"{names[1]}+{names[2]}", "push": names[1], "pop": names[2]}[op]
        self.engine = f"{names[0]} {what}"

    def _setup(self) -> None:
        self.recs = make_tuples(self.n)
        cap = 1024 if self.op == "pair" else _pow2_at_least(self.n)
        if self.ours:
            self.ch: Any = nt.RingBuffer(cap, nt.TICK_DTYPE)
        elif self.kind == "SimpleQueue":
            self.ch = queue.SimpleQueue()
        else:
            self.ch = collections.deque()
        if self.op == "pop":
            if self.ours:
                assert self.ch.push_many(make_ticks(self.n)) == self.n
            else:
                put = self.ch.put if self.kind == "SimpleQueue" else self.ch.append
                for rec in self.recs:
                    put(rec)
        self.done = False

    def _calls(self) -> tuple[Callable[..., Any], Callable[[], Any]]:
        c = self.ch
        if self.kind == "nt.push/pop":
            return c.push, c.pop
        if self.kind == "nt.try_push/try_pop":
            return c.try_push, c.try_pop
        if self.kind == "SimpleQueue":
            return c.put, c.get
        return c.append, c.popleft

    def run(self) -> None:
        push, pop = self._calls()
        recs = self.recs
        if self.op == "pair":
            if self.kind == "nt.try_push/try_pop":
                for rec in recs:
                    if not push(rec):
                        raise RuntimeError("try_push found the ring full")
                    if pop() != rec:
                        raise AssertionError(f"{self.label}: popped a record other than the one pushed")
            else:
                for rec in recs:
                    push(rec)
                    if pop() != rec:
                        raise AssertionError(f"{self.label}: popped a record other than the one pushed")
        elif self.op == "push":
            if self.kind == "nt.try_push/try_pop":
                for rec in recs:
                    if not push(rec):
                        raise RuntimeError("try_push found the ring full")
            else:
                for rec in recs:
                    push(rec)
        else:
            for rec in recs:
                if pop() != rec:
                    raise AssertionError(f"{self.label}: records differ from what was sent (or missing)")
        self.done = True

    def _check(self) -> None:
        assert self.done, f"{self.label}: the loop did not finish"
        if self.op == "push":
            if self.ours:
                check_array(self.ch.pop_many(self.n + 1), make_ticks(self.n), self.label)
            else:
                check_tuples(list(self.ch) if self.kind == "deque" else
                             [self.ch.get_nowait() for _ in range(self.ch.qsize())], self.recs, self.label)
        else:  # every record was compared with what was sent, in order, as it came out
            left = self.ch.qsize() if self.kind == "SimpleQueue" else len(self.ch)
            assert left == 0, f"{self.label}: {left} records left behind"

    def _release(self) -> None:
        self.ch = None


# --------------------------------------------------------------------------------------------------
# (d) nt.dispatch


class Dispatch(Workload):
    """Drain a prefilled, closed RingBuffer into a consumer callable (``list.append``, so the cost
    measured is the loop's, not the callback's).

    mode: "dispatch-record" (nt.dispatch on_record), "dispatch-batch" (nt.dispatch on_batch,
    max_batch=batch), "loop-try_pop" (Python loop over ring.try_pop, the baseline for per-record),
    "loop-pop_many" (Python loop over ring.pop_many(batch), the baseline for per-batch)."""

    MODES = ("dispatch-record", "loop-try_pop", "dispatch-batch", "loop-pop_many")

    def __init__(self, n: int, mode: str, batch: int = BATCH) -> None:
        super().__init__(n)
        assert mode in self.MODES
        self.mode, self.batch = mode, batch
        self.per_record = mode in ("dispatch-record", "loop-try_pop")
        self.section = "dispatch per-record" if self.per_record else "dispatch per-batch"
        self.ours = mode.startswith("dispatch")
        self.engine = {
            "dispatch-record": "nt.dispatch(ring, on_record=list.append)",
            "loop-try_pop": "Python loop: list.append(ring.try_pop())",
            "dispatch-batch": f"nt.dispatch(ring, on_batch=list.append, max_batch={batch})",
            "loop-pop_many": f"Python loop: list.append(ring.pop_many({batch}))",
        }[mode]

    def _setup(self) -> None:
        self.data = make_ticks(self.n)
        self.ring = nt.RingBuffer(_pow2_at_least(self.n), nt.TICK_DTYPE)
        assert self.ring.push_many(self.data) == self.n
        self.ring.close()
        self.out: list[Any] = []
        self.delivered = -1

    def run(self) -> None:
        ring, out = self.ring, self.out
        append = out.append
        if self.mode == "dispatch-record":
            self.delivered = nt.dispatch(ring, append)
        elif self.mode == "dispatch-batch":
            self.delivered = nt.dispatch(ring, on_batch=append, max_batch=self.batch)
        elif self.mode == "loop-try_pop":
            try_pop = ring.try_pop
            while (rec := try_pop()) is not None:
                append(rec)
            self.delivered = len(out)
        else:
            pop_many, b = ring.pop_many, self.batch
            while len(arr := pop_many(b)):
                append(arr)
            self.delivered = sum(map(len, out))

    def _check(self) -> None:
        assert self.delivered == self.n, f"{self.label}: delivered {self.delivered}, expected {self.n}"
        assert self.ring.drained, f"{self.label}: ring not drained"
        if self.per_record:
            check_tuples(self.out, make_tuples(self.n), self.label)
        else:
            assert all(len(b) <= self.batch for b in self.out), f"{self.label}: a batch exceeds max_batch"
            check_array(_concat(self.out), self.data, self.label)

    def _release(self) -> None:
        self.out = []
        self.ring = None


# --------------------------------------------------------------------------------------------------
# (e) MPMC: 2 producers x 2 consumers


class MPMCTransfer(Workload):
    """``producers`` threads each push their contiguous share of the ticks; ``consumers`` threads
    pop until the end of the stream. Checked: every record exactly once, and within each consumer
    the records of each producer in the order it pushed them.

    engine: "nt" (MPMCRingBuffer push_many/pop_many), "SimpleQueue-arrays" (ndarray batch views as
    objects), "SimpleQueue-tuples" (per-record tuples)."""

    section = "MPMC batch 2 producers x 2 consumers"

    def __init__(self, n: int, engine: str, producers: int = 2, consumers: int = 2, batch: int = BATCH,
                 capacity: int = RING_CAPACITY) -> None:
        super().__init__(n)
        assert engine in ("nt", "SimpleQueue-arrays", "SimpleQueue-tuples")
        self.kind, self.producers, self.consumers = engine, producers, consumers
        self.batch, self.capacity = batch, capacity
        self.ours = engine == "nt"
        self.section = f"MPMC batch {producers} producers x {consumers} consumers"
        self.engine = {
            "nt": "nt.MPMCRingBuffer push_many/pop_many",
            "SimpleQueue-arrays": f"queue.SimpleQueue put/get, ndarray batches of {batch}",
            "SimpleQueue-tuples": "queue.SimpleQueue put/get, per-record tuples",
        }[engine]

    def _shares(self) -> list[slice]:
        step = -(-self.n // self.producers)
        return [slice(k * step, min(self.n, (k + 1) * step)) for k in range(self.producers)]

    def _setup(self) -> None:
        self.data = make_ticks(self.n)
        self.recs = make_tuples(self.n) if self.kind == "SimpleQueue-tuples" else None
        self.ch: Any = (nt.MPMCRingBuffer(self.capacity, nt.TICK_DTYPE) if self.ours else queue.SimpleQueue())
        self.outs: list[list[Any]] = [[] for _ in range(self.consumers)]
        self.gate = threading.Event()
        self.prod = [GatedThread(functools.partial(self._produce, s), self.gate, f"mpmc-producer-{k}")
                     for k, s in enumerate(self._shares())]
        self.cons = [GatedThread(functools.partial(self._consume, out), self.gate, f"mpmc-consumer-{k}")
                     for k, out in enumerate(self.outs)]

    def _produce(self, share: slice) -> None:
        b = self.batch
        if self.ours:
            push_many = self.ch.push_many
            data = self.data[share]
            for i in range(0, len(data), b):
                chunk = data[i : i + b]
                if push_many(chunk, True, WAIT) != len(chunk):
                    raise RuntimeError(f"push_many stayed blocked for {WAIT} s")
        elif self.kind == "SimpleQueue-arrays":
            put = self.ch.put
            data = self.data[share]
            for i in range(0, len(data), b):
                put(data[i : i + b])
        else:
            assert self.recs is not None
            put = self.ch.put
            for rec in self.recs[share]:  # (slicing the list copies references: a few ms, timed)
                put(rec)

    def _consume(self, out: list[Any]) -> None:
        append = out.append
        if self.ours:
            _ring_consume(self.ch, self.batch, out)
        else:
            get = self.ch.get
            while True:
                x = get(True, WAIT)
                if x is None:
                    return
                append(x)

    def run(self) -> None:
        self.gate.set()
        try:
            for p in self.prod:
                p.join()
        finally:  # end of stream, also when a producer failed (the check then reports it)
            if self.ours:
                self.ch.close()
            else:
                for _ in self.cons:
                    self.ch.put(None)
        for c in self.cons:
            c.join()

    def _check(self) -> None:
        tuples = self.kind == "SimpleQueue-tuples"
        total = sum(len(o) if tuples else sum(map(len, o)) for o in self.outs)
        assert total == self.n, f"{self.label}: {total} records delivered, expected {self.n}"
        bounds = [(s.start, s.stop) for s in self._shares()]
        ts0 = int(self.data["ts"][0])
        if self.kind == "SimpleQueue-tuples":
            assert self.recs is not None
            allrecs = [r for o in self.outs for r in o]
            check_tuples(sorted(allrecs, key=itemgetter(0)), self.recs, self.label)
            per_consumer = [np.fromiter(map(itemgetter(0), o), dtype=np.int64, count=len(o))
                            for o in self.outs]
        else:
            arrays = [_concat(o) for o in self.outs]
            merged = _concat(arrays)
            check_array(np.sort(merged, order="ts", kind="stable"), self.data, self.label)
            per_consumer = [a["ts"] for a in arrays]
        for ts in per_consumer:  # per-producer order within each consumer
            idx = (ts - ts0) // 1_000
            for lo, hi in bounds:
                mine = ts[(idx >= lo) & (idx < hi)]
                assert np.all(np.diff(mine) > 0), f"{self.label}: a producer's records came out of order"

    def _release(self) -> None:
        self.gate.set()
        ch = getattr(self, "ch", None)
        if ch is not None:  # wake consumers still waiting (only after a failure)
            if self.ours:
                ch.close()
            else:
                for c in self.cons:
                    if c.thread.is_alive():
                        ch.put(None)
        self.outs = []
        self.ch = None


# --------------------------------------------------------------------------------------------------
# catalogue (what compare_ring.py runs, in table order)


def catalogue(scale: Scale, include_fifo: bool | None = None) -> list[Workload]:
    s = scale
    if include_fifo is None:
        include_fifo = have_faster_fifo()
    w: list[Workload] = [
        RingThreadTransfer(s.n_batch),
        QueueThreadTransfer(s.n_tuple, "SimpleQueue", "tuples"),
        QueueThreadTransfer(s.n_batch, "SimpleQueue", "arrays"),
        QueueThreadTransfer(s.n_tuple, "Queue", "tuples"),
        QueueThreadTransfer(s.n_batch, "Queue", "arrays"),
        QueueThreadTransfer(s.n_tuple, "deque", "tuples"),
        QueueThreadTransfer(s.n_batch, "deque", "arrays"),
        SharedRingProcessTransfer(s.n_proc),
    ]
    if include_fifo:
        w += [FasterFifoProcessTransfer(s.n_proc_tuple, "tuples"),
              FasterFifoProcessTransfer(s.n_proc, "arrays")]
    for op in ("push", "pop", "pair"):
        w += [OneRecord(s.n_one, e, op) for e in OneRecord.ENGINES]
    w += [Dispatch(s.n_dispatch, m) for m in Dispatch.MODES]
    w += [MPMCTransfer(s.n_mpmc, "nt"), MPMCTransfer(s.n_mpmc, "SimpleQueue-arrays"),
          MPMCTransfer(s.n_mpmc_tuple, "SimpleQueue-tuples")]
    return w


if __name__ == "__main__":  # pragma: no cover - quick manual check
    for wl in catalogue(get_scale(sys.argv[1] if len(sys.argv) > 1 else "smoke")):
        print(f"{wl.label:90s} {wl.measure() / 1e6:10.2f} M/s")
