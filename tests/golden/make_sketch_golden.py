"""Writes the golden sketch files of format version 1 (run once per format version; the files are
committed and must keep loading, see tests/python/test_sketch.py and tests/cpp/test_sketch.cpp).

    python tests/golden/make_sketch_golden.py

Each sketch is built from a fixed recipe that the tests repeat:
  hll_v1.bin        HyperLogLog(lg_k=10, seed=42), ints 0..9999, then "AAPL", b"MSFT", 1.5 (format 1,
                    written before format 2 existed; this script now writes format 2, so it keeps
                    the committed file)
  hll_v2.bin        HyperLogLog(lg_k=14, seed=42), ints 0..99, then "AAPL" (format 2, sparse layout)
  count_min_v1.bin  CountMinSketch(64, 4, seed=7, top=4), item i % 10 with count i for i in 0..99, "AAPL" x 1000
  bloom_v1.bin      BloomFilter(1000, 0.01, seed=3), ints 0..999 (format 1, classic layout, written before
                    format 2 existed; kept as committed)
  bloom_v2.bin      BloomFilter(1000, 0.01, seed=3), ints 0..999 (format 2, split layout)
  reservoir_v1.bin  Reservoir(8, seed=11), rows of np.arange(200).reshape(100, 2) (int64)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import neural_trader as nt

HERE = Path(__file__).parent


def build() -> dict[str, bytes]:
    hll = nt.HyperLogLog(10, seed=42)
    hll.update_many(np.arange(10_000))
    for x in ("AAPL", b"MSFT", 1.5):
        hll.update(x)
    sparse = nt.HyperLogLog(14, seed=42)
    sparse.update_many(np.arange(100))
    sparse.update("AAPL")
    cms = nt.CountMinSketch(64, 4, seed=7, top=4)
    cms.update_many(np.arange(100) % 10, counts=np.arange(100))
    cms.update("AAPL", 1000)
    bloom = nt.BloomFilter(1000, 0.01, seed=3)
    bloom.add_many(np.arange(1000))
    res = nt.Reservoir(8, seed=11)
    res.add_many(np.arange(200, dtype=np.int64).reshape(100, 2))
    return {
        "hll_v1.bin": hll.to_bytes(),
        "hll_v2.bin": sparse.to_bytes(),
        "count_min_v1.bin": cms.to_bytes(),
        "bloom_v2.bin": bloom.to_bytes(),
        "reservoir_v1.bin": res.to_bytes(),
    }


if __name__ == "__main__":
    for name, data in build().items():
        path = HERE / name
        if path.exists() and "--force" not in sys.argv:
            print(f"{path.name} exists; not overwritten (a golden file of a released format never changes)")
            continue
        path.write_bytes(data)
        print(f"wrote {path.name}: {len(data)} bytes")
