"""Ring buffers vs their Python peers, side by side (pytest-benchmark groups).

Run: ``NT_BENCH_SCALE=default python -m pytest benchmarks/pytest`` (see benchmarks/README.md);
CI: ``NT_BENCH_SCALE=smoke python -m pytest benchmarks/pytest --benchmark-disable -q``.

Every case checks what it delivered (all records, once, byte for byte, in order where the channel
promises it); a wrong result fails the test whether or not timing is enabled.
Records per second = ``extra_info["records_per_round"]`` / time per round.
"""

from __future__ import annotations

import sys

import pytest

import nt_ringbench as rb

# (a) thread -> thread transfer of the same tick records ----------------------------------------

THREAD_PEERS = [
    ("SimpleQueue", "tuples"),
    ("SimpleQueue", "arrays"),
    ("Queue", "tuples"),
    ("Queue", "arrays"),
    ("deque", "tuples"),
    ("deque", "arrays"),
]


def test_spsc_thread_batch_nt_ring(measure, scale):
    measure(rb.RingThreadTransfer(scale.n_batch))


@pytest.mark.parametrize("kind,mode", THREAD_PEERS, ids=[f"{k}-{m}" for k, m in THREAD_PEERS])
def test_spsc_thread_batch_peer(measure, scale, kind, mode):
    measure(rb.QueueThreadTransfer(scale.n_tuple if mode == "tuples" else scale.n_batch, kind, mode))


# (b) process -> process ------------------------------------------------------------------------

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="the shared-ring workload is tested on POSIX")


@posix_only
def test_spsc_process_batch_nt_shared_ring(measure, scale):
    measure(rb.SharedRingProcessTransfer(scale.n_proc))


# skipped at collection (before the benchmark fixture exists, which would otherwise warn that it
# was never used), also when faster_fifo is installed but fails to import
needs_faster_fifo = pytest.mark.skipif(
    not rb.have_faster_fifo(),
    reason="faster_fifo is not importable: pip install faster-fifo "
    "(the peer of the process->process benchmark)",
)


@posix_only
@needs_faster_fifo
@pytest.mark.parametrize("mode", ["tuples", "arrays"])
def test_spsc_process_batch_faster_fifo(measure, scale, mode):
    measure(rb.FasterFifoProcessTransfer(scale.n_proc_tuple if mode == "tuples" else scale.n_proc, mode))


# (c) one record at a time from Python ----------------------------------------------------------

ENGINES = list(rb.OneRecord.ENGINES)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("op", ["push", "pop", "pair"])
def test_one_record(measure, scale, op, engine):
    measure(rb.OneRecord(scale.n_one, engine, op))


# (d) nt.dispatch -------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", list(rb.Dispatch.MODES))
def test_dispatch(measure, scale, mode):
    measure(rb.Dispatch(scale.n_dispatch, mode))


# (e) MPMC, 2 producers x 2 consumers -----------------------------------------------------------


@pytest.mark.parametrize("engine", ["nt", "SimpleQueue-arrays", "SimpleQueue-tuples"])
def test_mpmc_2x2_batch(measure, scale, engine):
    measure(rb.MPMCTransfer(scale.n_mpmc_tuple if engine.endswith("tuples") else scale.n_mpmc, engine))
