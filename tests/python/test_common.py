"""Shared foundations: build info, CLI, thread cap, the serialisation envelope, record dtypes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zlib

import numpy as np
import pytest

import neural_trader as nt
from neural_trader.errors import CorruptDataError


def test_build_info_reports_core_facts() -> None:
    info = nt.build_info()
    assert info["version"] == nt.__version__
    assert info["cxx_standard"] >= 202002
    assert info["simd"] in {"scalar", "neon", "avx2", "avx512"}
    assert info["simd_best"] in {"scalar", "neon", "avx2", "avx512"}
    assert isinstance(info["cpu_features"], list)
    assert info["available_cores"] >= 1
    assert info["gpu_usable"] in (True, False)
    assert info["build_type"]
    assert info["compiler"]


def _run_info(env: dict[str, str]) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-m", "neural_trader", "info", "--json"], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def test_nt_simd_forces_scalar_and_flags_unknown_levels() -> None:
    env = dict(os.environ, NT_SIMD="scalar")
    info = _run_info(env)
    assert info["simd"] == "scalar"
    assert info["simd_requested"] == "scalar"
    assert info["simd_request_ignored"] is False
    env["NT_SIMD"] = "quantum"
    info = _run_info(env)
    assert info["simd_request_ignored"] is True
    assert info["simd"] == info["simd_best"]


def test_cli_info_text_and_console_script() -> None:
    out = subprocess.run([sys.executable, "-m", "neural_trader", "info"], capture_output=True, text=True, check=True)
    assert "version" in out.stdout and nt.__version__ in out.stdout
    exe = shutil.which("neural-trader", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    if exe is None:
        pytest.skip("console script not on PATH")
    out = subprocess.run([exe, "info", "--json"], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout)["version"] == nt.__version__


def test_cli_without_command_prints_help_and_fails() -> None:
    out = subprocess.run([sys.executable, "-m", "neural_trader"], capture_output=True, text=True)
    assert out.returncode == 2
    assert "usage" in out.stderr


def test_set_num_threads_round_trip() -> None:
    default = nt.get_num_threads()
    try:
        nt.set_num_threads(1)
        assert nt.get_num_threads() == 1
        assert nt.build_info()["num_threads"] == 1
        nt.set_num_threads(0)
        assert nt.get_num_threads() == default
    finally:
        nt.set_num_threads(0)


_FORK_CHILD_SCRIPT = r"""
import os, signal, sys, warnings
import numpy as np
import neural_trader as nt

nt.set_num_threads(2)  # the pool's workers exist once a long series has been split
x = np.cumsum(np.random.default_rng(3).standard_normal(600_000)) + 1000.0
rows = x[:400_000].reshape(40, 10_000)
want = nt.ta.ema(x, 30), nt.ta.rsi(rows, 14)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork of a threaded process
    pid = os.fork()
if pid == 0:
    signal.alarm(60)  # a hang fails instead of stalling the suite
    ok = all(np.array_equal(nt.ta.ema(x, 30), want[0], equal_nan=True)
             and np.array_equal(nt.ta.rsi(rows, 14), want[1], equal_nan=True) for _ in range(5))
    os._exit(0 if ok else 1)
_, status = os.waitpid(pid, 0)
again = np.array_equal(nt.ta.ema(x, 30), want[0], equal_nan=True)
print("child", os.waitstatus_to_exitcode(status), "parent", again)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork() on this platform")
def test_parallel_calls_work_in_a_forked_child() -> None:
    # The worker pool is kept between calls; in a child forked after it was started (where its
    # threads do not exist) split and 2-D calls must finish with the parent's results. That the
    # child really gets new workers (not only the caller running every chunk) is checked in C++
    # (test_ring, test_parallel_for_pool).
    out = subprocess.run([sys.executable, "-c", _FORK_CHILD_SCRIPT], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["child", "0", "parent", "True"], out.stdout + out.stderr


def test_record_dtypes() -> None:
    assert nt.TICK_DTYPE.names == ("ts", "symbol", "price", "size", "side")
    assert [nt.TICK_DTYPE[n] for n in nt.TICK_DTYPE.names] == [
        np.dtype("<i8"), np.dtype("<i4"), np.dtype("<f8"), np.dtype("<f8"), np.dtype("i1")
    ]
    assert nt.BAR_DTYPE.names == ("ts", "symbol", "open", "high", "low", "close", "volume")
    assert nt.BAR_DTYPE["ts"] == np.dtype("<i8") and nt.BAR_DTYPE["volume"] == np.dtype("<f8")


def test_crc32c_known_answer() -> None:
    assert nt._core._crc32c(b"123456789") == 0xE3069283
    assert nt._core._crc32c(b"") == 0
    assert nt._core._crc32c(b"123456789") != zlib.crc32(b"123456789")  # Castagnoli, not IEEE


MAGIC = int.from_bytes(b"NTPY", "little")


def test_frame_round_trip_and_layout() -> None:
    payload = bytes(range(50))
    frame = nt._core._frame_pack(MAGIC, 3, payload)
    assert len(frame) == 16 + len(payload) + 4
    assert frame[:4] == b"NTPY"
    assert int.from_bytes(frame[4:6], "little") == 3
    assert int.from_bytes(frame[8:16], "little") == len(payload)
    assert int.from_bytes(frame[-4:], "little") == nt._core._crc32c(frame[:-4])
    version, back = nt._core._frame_unpack(frame, MAGIC, 1, 3, "thing")
    assert (version, back) == (3, payload)


def test_frame_rejects_every_truncation_and_bit_flip() -> None:
    frame = nt._core._frame_pack(MAGIC, 1, b"hello frame")
    for n in range(len(frame)):
        with pytest.raises(CorruptDataError):
            nt._core._frame_unpack(frame[:n], MAGIC, 1, 1, "thing")
    for i in range(len(frame) * 8):
        bad = bytearray(frame)
        bad[i // 8] ^= 1 << (i % 8)
        with pytest.raises(CorruptDataError):
            nt._core._frame_unpack(bytes(bad), MAGIC, 1, 1, "thing")
    with pytest.raises(CorruptDataError, match="version"):
        nt._core._frame_unpack(frame, MAGIC, 2, 5, "thing")
    with pytest.raises(CorruptDataError, match="magic"):
        nt._core._frame_unpack(frame, MAGIC + 1, 1, 1, "thing")
    with pytest.raises(CorruptDataError, match="trailing"):
        nt._core._frame_unpack(frame[:16] + frame[16:-4] + b"x" + frame[-4:], MAGIC, 1, 1, "thing")
