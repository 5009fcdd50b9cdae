"""The main job's demo: a synthetic tick feed through the ring."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

import neural_trader as nt
from neural_trader._demo import run_demo, synthetic_ticks


def test_synthetic_ticks_are_seeded_and_on_the_tick_grid() -> None:
    a = synthetic_ticks(5000, n_symbols=3, seed=1)
    b = synthetic_ticks(5000, n_symbols=3, seed=1)
    assert a.dtype == nt.TICK_DTYPE
    assert np.array_equal(a, b)
    assert not np.array_equal(a, synthetic_ticks(5000, n_symbols=3, seed=2))
    assert np.all(np.diff(a["ts"]) > 0)
    assert set(np.unique(a["symbol"])) == {0, 1, 2}
    assert np.allclose(a["price"] * 100, np.round(a["price"] * 100))
    assert np.all(a["price"] > 0) and set(np.unique(a["side"])) <= {-1, 1}


def test_demo_delivers_every_tick_and_computes_vwap() -> None:
    n = 300_000
    r = run_demo(n_ticks=n, n_symbols=4, batch=1000, capacity=1024, seed=3)
    assert r["ticks_received"] == r["ticks_sent"] == n
    # The VWAP computed after the ring equals the one computed directly on the same feed.
    feed = synthetic_ticks(n, 4, 3)
    for s in range(4):
        m = feed["symbol"] == s
        expected = (feed["price"][m] * feed["size"][m]).sum() / feed["size"][m].sum()
        assert abs(r["vwap"][s] - expected) < 1e-9 * expected


def test_demo_cli_json() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "neural_trader", "demo", "--ticks", "50000", "--json"],
        capture_output=True, text=True, check=True,
    )
    r = json.loads(out.stdout)
    assert r["ticks_received"] == 50000
