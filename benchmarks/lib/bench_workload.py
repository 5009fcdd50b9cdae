"""The timed-case protocol the benchmark libraries share (``nt_tabench``, ``book_mix``,
``nt_btbench``), and :func:`gc_paused`, the collector-off block their front ends time in.

A workload is set up (untimed), run (timed), then checked against its reference and released
(untimed); a case whose engine is missing here raises :class:`Unavailable` from ``_resolve``
and is reported as a skip. Front ends call ``available()``, then ``measure()`` per repetition.
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def gc_paused(keep: bool = False, freeze: bool = False) -> Iterator[None]:
    """Run the block with the garbage collector collected, then off (for every engine alike),
    unless ``keep``; on again afterwards. ``freeze``: move what exists now (e.g. cached streams)
    out of later collections first."""
    try:
        if not keep:
            gc.collect()
            if freeze:
                gc.freeze()
            gc.disable()
        yield
    finally:
        gc.enable()


class Unavailable(Exception):
    """A case that cannot run here (a peer not installed, an nt feature not built)."""


class Workload:
    """One timed case. Subclasses fill in ``_resolve`` (optional), ``_setup``, ``run`` and
    ``_check``, and drop their round's state in ``_release``."""

    section = ""  #: table section, e.g. "batch"
    case = ""  #: what is computed; rows of one case are compared with each other
    engine = ""  #: row label
    ours = False  #: whether this row is neural_trader (the ratios' denominator)
    unit = ""  #: what n counts

    def __init__(self, n: int) -> None:
        self.n = n
        self.rounds_checked = 0
        self._pending = False
        self.last_seconds: float | None = None

    def available(self) -> str | None:
        """None when the case can run here, else why not (printed as a skip)."""
        try:
            self._resolve()
        except Unavailable as exc:
            return str(exc)
        return None

    def _resolve(self) -> None:
        """Look up what the case calls; raise Unavailable when something is missing."""

    def setup(self) -> None:
        self.finish()  # a previous round that was never finished
        self._resolve()
        self._setup()
        self._pending = True

    def run(self) -> Any:
        raise NotImplementedError

    def finish(self) -> None:
        if not self._pending:
            return
        self._pending = False
        try:
            self._check()
            self.rounds_checked += 1
        finally:
            self._release()

    def _setup(self) -> None:
        raise NotImplementedError

    def _check(self) -> None:
        raise NotImplementedError

    def _release(self) -> None:
        self.out: Any = None

    def measure(self) -> float:
        """setup, time run, finish; return the seconds ``run`` took."""
        self.setup()
        self.last_seconds = None
        try:
            t0 = time.perf_counter()
            self.run()
            dt = time.perf_counter() - t0
        except BaseException:
            self._pending = False
            self._release()
            raise
        self.last_seconds = dt  # kept for the report even when the check below fails
        self.finish()
        return dt

    @property
    def label(self) -> str:
        return f"{self.section}: {self.case}: {self.engine}"
