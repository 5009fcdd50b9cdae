"""Sketches vs their peers (DataSketches, rbloom, pyprobables), side by side in pytest-benchmark
groups.

Run: ``NT_BENCH_SCALE=default python -m pytest benchmarks/pytest -k sketch`` (see
benchmarks/README.md); CI: ``NT_BENCH_SCALE=smoke python -m pytest benchmarks/pytest
--benchmark-disable -q``. Every case checks its result after each round (estimate close to the
truth, no false negative, no under-count), whether or not timing is enabled. A peer that is not
installed is skipped with a message. Items per second = ``extra_info["records_per_round"]`` /
time per round.
"""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))

import nt_sketchbench as sb  # noqa: E402


@pytest.fixture(scope="module")
def sk() -> sb.Scale:
    return sb.get_scale()


def _need(module: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(not sb.have(module), reason=f"{module} is not installed: pip install {module} (a peer)")


needs_ds = _need("datasketches")
needs_rbloom = _need("rbloom")
needs_probables = pytest.mark.skipif(not sb.have("probables"), reason="pyprobables is not installed: pip install pyprobables")


# HyperLogLog ---------------------------------------------------------------------------------
def test_hll_batch_nt(measure, sk):
    measure(sb.HLLBatch(sk.n_batch))


@pytest.mark.parametrize("engine", ["nt", "nt-pybind11"])
def test_hll_loop_nt(measure, sk, engine):
    measure(sb.HLLLoop(sk.n_loop, engine))


@needs_ds
def test_hll_loop_datasketches(measure, sk):
    measure(sb.HLLLoop(sk.n_loop, "datasketches"))


# Bloom ---------------------------------------------------------------------------------------
def test_bloom_add_batch_nt(measure, sk):
    measure(sb.BloomAddBatch(sk.n_batch))


def test_bloom_add_loop_nt(measure, sk):
    measure(sb.BloomAddPeer(sk.n_loop, "nt-loop", sk.n_batch))


@needs_rbloom
def test_bloom_add_rbloom(measure, sk):
    measure(sb.BloomAddPeer(sk.n_batch, "rbloom", sk.n_batch))


@needs_probables
def test_bloom_add_pyprobables(measure, sk):
    measure(sb.BloomAddPeer(sk.n_slow, "pyprobables", sk.n_batch))


def test_bloom_contains_batch_nt(measure, sk):
    measure(sb.BloomContains(sk.n_batch, "nt", sk.n_batch))


def test_bloom_contains_loop_nt(measure, sk):
    measure(sb.BloomContains(sk.n_loop, "nt-loop", sk.n_batch))


@needs_rbloom
def test_bloom_contains_rbloom(measure, sk):
    measure(sb.BloomContains(sk.n_loop, "rbloom", sk.n_batch))


@needs_probables
def test_bloom_contains_pyprobables(measure, sk):
    measure(sb.BloomContains(sk.n_slow, "pyprobables", min(sk.n_batch, 100_000)))


def test_bloom_contains_small_loop_nt(measure, sk):
    measure(sb.BloomContainsSmall(sk.n_loop, "nt-loop"))


@needs_rbloom
def test_bloom_contains_small_rbloom(measure, sk):
    measure(sb.BloomContainsSmall(sk.n_loop, "rbloom"))


# count-min -----------------------------------------------------------------------------------
@pytest.mark.parametrize("engine", ["nt", "nt-cons", "nt-top"])
def test_count_min_batch_nt(measure, sk, engine):
    measure(sb.CountMinBatch(sk.n_batch, engine))


@needs_ds
def test_count_min_datasketches(measure, sk):
    measure(sb.CountMinBatch(sk.n_loop, "datasketches"))


@needs_probables
def test_count_min_pyprobables(measure, sk):
    measure(sb.CountMinBatch(sk.n_slow, "pyprobables"))
