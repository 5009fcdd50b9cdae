"""The public surface: docstrings, type stubs checked against the compiled modules, typing."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest

import neural_trader as nt

HERE = Path(__file__).parent


def test_every_public_name_has_a_docstring() -> None:
    missing = []
    for name in nt.__all__:
        if name == "__version__":
            continue
        obj = getattr(nt, name)
        if isinstance(obj, (str, int)) or type(obj).__name__ == "dtype":
            continue  # constants are documented in their module
        doc = inspect.getdoc(obj)
        if not doc or len(doc) < 20:
            missing.append(name)
        if inspect.isclass(obj):
            for attr in dir(obj):
                if attr.startswith("_"):
                    continue
                member = inspect.getattr_static(obj, attr)
                if not inspect.getdoc(member):
                    missing.append(f"{name}.{attr}")
    assert not missing, f"no docstring: {missing}"


def test_all_names_exist_and_version_matches_metadata() -> None:
    from importlib.metadata import version

    for name in nt.__all__:
        assert hasattr(nt, name), name
    assert nt.__version__ == version("neural-trader")


def test_py_typed_and_stubs_ship_with_the_package() -> None:
    pkg = Path(nt.__file__).parent
    for f in ["py.typed", "_core.pyi", "_engine.pyi"]:
        assert (pkg / f).is_file(), f


def test_stubs_match_the_compiled_modules() -> None:
    pytest.importorskip("mypy")
    out = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "neural_trader._core", "neural_trader._engine",
         "--allowlist", str(HERE / "stubtest_allowlist.txt")],
        capture_output=True, text=True, env=dict(os.environ, MYPYPATH=""),
    )
    assert out.returncode == 0, out.stdout + out.stderr
