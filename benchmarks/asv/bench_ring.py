"""Ring buffers under asv: SPSC batch transfer between threads, one-record push/pop from Python,
and the shared ring between processes, each beside its Python peer.

The workloads are the ones in ``benchmarks/lib/nt_ringbench.py`` (also timed by the pytest suite
and ``compare_ring.py``). asv calls ``setup`` before every timed call (``number = 1``), so each call
moves a fresh stream; ``teardown`` checks what was delivered, and a wrong delivery fails the
benchmark. ``time_*`` report seconds per call (the record count is fixed per class), ``track_*``
report millions of records per second. Each call takes well under a few seconds.
"""

from __future__ import annotations

import gc
import os
import sys
import time

_LIB = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib")
if _LIB not in sys.path:
    sys.path.insert(0, _LIB)  # stays on sys.path for any process the workloads start

import nt_ringbench as rb  # noqa: E402

N_BATCH = 1_000_000  # records per batch transfer
N_TUPLE = 200_000  # records per per-record-tuple transfer (peers at a few M/s)
N_ONE = 200_000  # records per one-record loop
N_PROC = 1_000_000  # records per process->process batch transfer
N_PROC_TUPLE = 100_000  # faster-fifo per-record tuples run at ~0.2 M/s


class _Workload:
    """Shared timing settings: a fresh workload per call, no warmup calls, a few samples."""

    number = 1
    repeat = (3, 10, 10.0)
    warmup_time = 0.0
    timeout = 300.0

    def _make(self, *params):
        raise NotImplementedError

    def setup(self, *params):
        self.wl = self._make(*params)
        self.wl.setup()

    def teardown(self, *params):
        self.wl.finish()  # raises AssertionError when the records delivered are wrong

    def _rate(self):
        # garbage collector off while timing, as asv's time_* (timeit) and the other suites do
        gc.collect()
        gc.disable()
        try:
            t0 = time.perf_counter()
            self.wl.run()
            dt = time.perf_counter() - t0
        finally:
            gc.enable()
        return self.wl.n / dt / 1e6


class SPSCThreadBatch(_Workload):
    """Producer thread -> consumer thread: nt.RingBuffer push_many/pop_many in batches of 1024
    vs queue.SimpleQueue moving the same records (as per-record tuples, or ndarray batch views)."""

    params = [["nt.RingBuffer", "SimpleQueue-tuples", "SimpleQueue-arrays"]]
    param_names = ["engine"]

    def _make(self, engine):
        if engine == "nt.RingBuffer":
            return rb.RingThreadTransfer(N_BATCH)
        mode = engine.split("-")[1]
        return rb.QueueThreadTransfer(N_TUPLE if mode == "tuples" else N_BATCH, "SimpleQueue", mode)

    def time_transfer(self, engine):
        self.wl.run()

    def track_mrecords_per_s(self, engine):
        return self._rate()

    track_mrecords_per_s.unit = "Mrecords/s"


class OneRecord(_Workload):
    """One record per call from a Python loop: push only, pop only, or push then pop."""

    params = [["nt.push/pop", "nt.try_push/try_pop", "SimpleQueue", "deque"], ["push", "pop", "pair"]]
    param_names = ["engine", "op"]

    def _make(self, engine, op):
        return rb.OneRecord(N_ONE, engine, op)

    def time_loop(self, engine, op):
        self.wl.run()

    def track_mrecords_per_s(self, engine, op):
        return self._rate()

    track_mrecords_per_s.unit = "Mrecords/s"


class SharedRingProcesses(_Workload):
    """Producer process -> consumer process: nt.SharedRingBuffer push_many/pop_many vs faster-fifo
    (its batch API put_many/get_many of per-record tuples, or one pickled ndarray batch per
    message). The producer process is started (fork where the OS has it) and parked in setup."""

    params = [["nt.SharedRingBuffer", "faster_fifo-tuples", "faster_fifo-arrays"]]
    param_names = ["engine"]
    context = "fork" if sys.platform.startswith("linux") else "spawn"

    def _make(self, engine):
        if sys.platform == "win32":
            raise NotImplementedError("measured on POSIX only")
        if engine == "nt.SharedRingBuffer":
            return rb.SharedRingProcessTransfer(N_PROC, context=self.context)
        if not rb.have_faster_fifo():
            raise NotImplementedError("faster_fifo is not installed")
        mode = engine.split("-")[1]
        n = N_PROC_TUPLE if mode == "tuples" else N_PROC
        return rb.FasterFifoProcessTransfer(n, mode, context=self.context)

    def time_transfer(self, engine):
        self.wl.run()

    def track_mrecords_per_s(self, engine):
        return self._rate()

    track_mrecords_per_s.unit = "Mrecords/s"
