"""Shared fixtures of the Python tests."""

from __future__ import annotations

import os

import numpy as np
import pytest

import neural_trader as nt


@pytest.fixture
def ticks() -> np.ndarray:
    """64 ticks with distinct, increasing timestamps and varied fields."""
    a = np.zeros(64, dtype=nt.TICK_DTYPE)
    a["ts"] = np.arange(64, dtype=np.int64) * 1_000 + 1_700_000_000_000_000_000
    a["symbol"] = np.arange(64) % 5
    a["price"] = 100.0 + np.arange(64) * 0.25
    a["size"] = np.arange(64) + 1.0
    a["side"] = np.where(np.arange(64) % 2 == 0, 1, -1)
    return a


@pytest.fixture
def shm_name(request: pytest.FixtureRequest) -> str:
    """A shared-memory name unique to this test run."""
    return f"ntt_{os.getpid()}_{abs(hash(request.node.name)) % 10**8}"
