"""Build and runtime information: ``nt.build_info()`` and ``neural-trader info``."""

from __future__ import annotations

import platform
import sys
from typing import Any

from . import _core


def _gpu_info() -> dict[str, Any]:
    """Whether CuPy imports and how many CUDA devices it sees (never raises)."""
    try:
        import cupy  # type: ignore[import-not-found,unused-ignore]
    except Exception as exc:  # ImportError, or a broken CUDA install
        return {"cupy": None, "gpu_count": 0, "gpu_usable": False, "gpu_reason": f"CuPy not importable: {exc}"}
    try:
        count = int(cupy.cuda.runtime.getDeviceCount())
    except Exception as exc:
        return {"cupy": cupy.__version__, "gpu_count": 0, "gpu_usable": False, "gpu_reason": str(exc)}
    return {
        "cupy": cupy.__version__,
        "gpu_count": count,
        "gpu_usable": count > 0,
        "gpu_reason": "" if count > 0 else "no CUDA device",
    }


def build_info() -> dict[str, Any]:
    """What the compiled core was built with and what it runs on.

    Keys: ``version``, ``compiler``, ``cxx_standard`` (``__cplusplus``), ``build_type``,
    ``simd`` (the level dispatched kernels use; ``NT_SIMD`` can force a lower one),
    ``simd_best``, ``simd_requested``, ``simd_request_ignored``, ``cpu_features``,
    ``hnsw_simd`` (the HNSW distance kernels that run: ``avx2`` or ``scalar``; AVX-512 CPUs
    run the AVX2 kernels), ``batch_kernels`` (``avx2+fma`` where the indicators' and sketches'
    batch loops run their AVX2+FMA copies, else ``baseline``; the values are the same bits
    either way), ``available_cores``, ``num_threads``, ``assertions``, ``python``, ``platform``, ``numpy``,
    and the GPU entries ``cupy`` (version or None), ``gpu_count``, ``gpu_usable``,
    ``gpu_reason``.
    """
    import numpy

    info: dict[str, Any] = dict(_core._build_info())
    info["hnsw_simd"] = _core._hnsw_simd()
    info["python"] = sys.version.split()[0]
    info["platform"] = platform.platform()
    info["numpy"] = numpy.__version__
    info.update(_gpu_info())
    return info


def format_build_info(info: dict[str, Any] | None = None) -> str:
    """``build_info()`` as aligned ``key: value`` lines."""
    info = build_info() if info is None else info
    width = max(len(k) for k in info)
    lines = []
    for key, value in info.items():
        if isinstance(value, list):
            value = " ".join(str(v) for v in value)
        lines.append(f"{key:<{width}}  {value}")
    return "\n".join(lines)
