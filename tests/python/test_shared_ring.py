"""SharedRingBuffer: two processes, ownership of the name, and corrupted segments."""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import sys

import numpy as np
import pytest

import neural_trader as nt
from neural_trader import errors

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX shared memory semantics tested here")

N_PROCESS = 10_000_000


def _produce(name: str, n: int, batch: int) -> None:
    ring = nt.SharedRingBuffer.attach(name)
    block = np.zeros(batch, dtype=ring.dtype)
    sent = 0
    while sent < n:
        k = min(batch, n - sent)
        block["ts"][:k] = np.arange(sent, sent + k)
        block["price"][:k] = block["ts"][:k] * 0.5
        done = 0
        while done < k:
            done += ring.push_many(block[done:k], block=True)
        sent += k
    ring.close()
    ring.detach()


def _produce_from_pickle(payload: bytes) -> None:
    ring = pickle.loads(payload)
    for i in range(1000):
        ring.push((i, 1, 2.0, 3.0, 1))
    ring.close()


def test_two_processes_deliver_every_record_once_in_order() -> None:
    ctx = mp.get_context("spawn")
    with nt.SharedRingBuffer(None, 1 << 16, nt.TICK_DTYPE) as ring:
        child = ctx.Process(target=_produce, args=(ring.name, N_PROCESS, 4093))
        child.start()
        expected = 0
        for k, batch in enumerate(ring.iter_batches(8192, timeout=60)):
            ts = batch["ts"]
            assert ts[0] == expected and ts[-1] == expected + len(ts) - 1
            if k % 32 == 0:
                assert np.array_equal(ts, np.arange(expected, expected + len(ts)))
                assert np.array_equal(batch["price"], ts * 0.5)
            expected += len(ts)
        child.join(60)
        assert child.exitcode == 0
        assert ring.drained
        assert expected == N_PROCESS


def test_pickled_handle_attaches_in_the_child() -> None:
    ctx = mp.get_context("spawn")
    with nt.SharedRingBuffer(capacity=64) as ring:
        child = ctx.Process(target=_produce_from_pickle, args=(pickle.dumps(ring),))
        child.start()
        got = [rec[0] for rec in ring]
        child.join(60)
        assert child.exitcode == 0
        assert got == list(range(1000))


def test_attach_recovers_dtype_and_shares_data(shm_name: str) -> None:
    dt = np.dtype([("a", "<i4"), ("b", "<f4"), ("c", "S3")])
    creator = nt.SharedRingBuffer(shm_name, 8, dt)
    try:
        other = nt.SharedRingBuffer.attach(shm_name)
        assert other.dtype == dt and other.capacity == 8 and other.name == shm_name
        assert creator.owner and not other.owner
        assert other.creator_pid == os.getpid()
        creator.push((1, 2.5, b"xyz"))
        assert other.pop() == (1, 2.5, b"xyz")
        assert "SharedRingBuffer" in repr(other)
        other.detach()
        with pytest.raises(errors.ClosedError, match="detached"):
            other.pop()
        assert "detached" in repr(other._impl)
        nt.SharedRingBuffer.attach(shm_name).detach()  # the name survives an attached handle's detach
    finally:
        creator.detach()
    with pytest.raises(errors.NameNotFoundError):
        nt.SharedRingBuffer.attach(shm_name)  # the creator removed it


def test_creator_unlink_keeps_attached_mapping(shm_name: str) -> None:
    creator = nt.SharedRingBuffer(shm_name, 8, np.int64)
    other = nt.SharedRingBuffer.attach(shm_name)
    creator.unlink()
    with pytest.raises(FileNotFoundError):
        nt.SharedRingBuffer.attach(shm_name)
    creator.push(5)
    assert other.pop() == 5
    other.detach()
    creator.detach()


def test_name_taken_and_bad_names(shm_name: str) -> None:
    ring = nt.SharedRingBuffer(shm_name, 8)
    try:
        with pytest.raises(errors.NameExistsError):
            nt.SharedRingBuffer(shm_name, 8)
        with pytest.raises(FileExistsError):
            nt.SharedRingBuffer(shm_name, 8)
    finally:
        ring.detach()
    for bad in ["", "a/b", "x" * 31, "sp ace", "é", ".", "..", ".hidden", "-x"]:
        with pytest.raises(errors.InvalidArgumentError):
            nt.SharedRingBuffer(bad, 8)
    with pytest.raises(errors.InvalidArgumentError):
        nt.SharedRingBuffer(shm_name)          # no capacity
    with pytest.raises(errors.InvalidArgumentError):
        nt.SharedRingBuffer(shm_name, 12)      # not a power of two


def _raw_segment(name: str, data: bytes) -> None:
    """Create a POSIX shared-memory object holding exactly `data` (not through neural-trader)."""
    fd = os.open(f"/dev/shm/{name}", os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


needs_dev_shm = pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="needs /dev/shm (Linux)")


@needs_dev_shm
@pytest.mark.parametrize(
    "corruption",
    ["empty", "short", "zeros", "bad_magic", "bad_version", "bad_capacity", "huge_capacity", "size_mismatch",
     "bad_meta", "meta_too_long", "record_size_mismatch"],
)
def test_corrupted_segment_raises_corrupt_data_error(shm_name: str, corruption: str) -> None:
    # Make a valid segment, copy its bytes, damage them, and write them under a second name.
    good_name = shm_name + "g"
    good = nt.SharedRingBuffer(good_name, 8, np.int64)
    with open(f"/dev/shm/{good_name}", "rb") as f:
        raw = bytearray(f.read())
    good.detach()
    # Header: magic u64 @0, layout u32 @8, record_size u32 @12, capacity u64 @16, total u64 @24,
    # meta_size u64 @32, pid u64 @40, ready u32 @48, meta @512.
    if corruption == "empty":
        raw = bytearray()
    elif corruption == "short":
        raw = raw[:100]
    elif corruption == "zeros":
        raw = bytearray(len(raw))
    elif corruption == "bad_magic":
        raw[0] ^= 0xFF
    elif corruption == "bad_version":
        raw[8:12] = (99).to_bytes(4, "little")
    elif corruption == "bad_capacity":
        raw[16:24] = (6).to_bytes(8, "little")
    elif corruption == "huge_capacity":
        raw[16:24] = (1 << 61).to_bytes(8, "little")
    elif corruption == "size_mismatch":
        raw[24:32] = (len(raw) + 4096).to_bytes(8, "little")
    elif corruption == "bad_meta":
        raw[512:520] = b"garbage!"
    elif corruption == "meta_too_long":
        raw[32:40] = (5000).to_bytes(8, "little")
    elif corruption == "record_size_mismatch":
        meta = repr(np.lib.format.dtype_to_descr(np.dtype(np.int32))).encode()
        raw[512 : 512 + len(meta)] = meta
        raw[32:40] = len(meta).to_bytes(8, "little")
    _raw_segment(shm_name, bytes(raw))
    try:
        with pytest.raises(errors.CorruptDataError):
            nt.SharedRingBuffer.attach(shm_name)
    finally:
        nt.SharedRingBuffer.remove(shm_name)


def test_dispatch_drains_a_shared_ring(shm_name: str) -> None:
    with nt.SharedRingBuffer(shm_name, 16, np.int64) as ring:
        reader = nt.SharedRingBuffer.attach(shm_name)
        for i in range(10):
            ring.push(i)
        ring.close()
        seen: list[int] = []
        assert nt.dispatch(reader, seen.append) == 10
        assert seen == list(range(10))
        reader.detach()
