"""The order book (``nt.OrderBook``) under asv: batch replay (``process``) vs a sortedcontainers
book and nautilus_trader's L3 book, one ``submit`` from Python vs the sortedcontainers book's
``add``, and cancels at the head, middle and tail of deep levels.

The workloads are the ones in ``benchmarks/lib/book_mix.py`` (also timed by the pytest suite and
``compare_book.py``; the peers are in ``benchmarks/lib/book_peers.py``), at the issue's sizes (the
``default`` scale: a 1,000,000-message realistic mix over 10,000 live orders; the peer workload of
1,000,000 adds and ~990,000 cancels, and its variant with 10% marketable orders). The replay
streams are generated once per run in ``setup_cache`` (about a minute) and handed to every
process. asv calls ``setup`` before every timed call (``number = 1``), so each call starts from a
fresh book; ``teardown`` checks the result (nt's fills and final book equal the reference, the
peers' books too), and a wrong result fails the benchmark. A case that cannot run here
(nautilus_trader not installed, ``nt.OrderBook`` not built) raises NotImplementedError in
``setup``, which asv reports as skipped. ``time_*`` report seconds per call, ``track_*`` messages
per second or nanoseconds per call (the median over chunks of calls timed with perf_counter_ns).
"""

from __future__ import annotations

import dataclasses
import gc
import os
import statistics
import sys
import time

_LIB = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib")
if _LIB not in sys.path:
    sys.path.insert(0, _LIB)

import book_mix as bm  # noqa: E402

SCALE = dataclasses.replace(bm.SCALES["default"], reps=1, warmup=0)  # the sizes


class _Workload:
    """Shared timing settings: a fresh workload per call, no warmup calls, a few samples."""

    number = 1
    repeat = (3, 10, 10.0)
    warmup_time = 0.0
    timeout = 600.0

    def _make(self, *params):
        raise NotImplementedError

    def _start(self, wl):
        why = wl.available()
        if why:
            raise NotImplementedError(why)
        self.wl = wl
        self.wl.setup()

    def _timed(self):
        # garbage collector off while timing, as asv's time_* (timeit) and the other suites do
        gc.collect()
        gc.disable()
        try:
            t0 = time.perf_counter()
            self.wl.run()
            return time.perf_counter() - t0
        finally:
            gc.enable()

    def _ns_per_call(self):
        self._timed()
        return statistics.median(self.wl.samples_ns)


class Replay(_Workload):
    """One stream into a fresh book: nt ``process(messages)`` vs the sortedcontainers book (one
    Python call per message) vs nautilus' L3 book (the stream's L3 deltas, pre-built BookOrder
    objects, or built inside the loop) vs nt on slices of 65,536 messages and nt driven one call
    per message (context)."""

    params = [list(bm.STREAM_CASES), ["nt", "sorted", "nautilus", "nautilus+create", "nt-chunks", "nt-loop"]]
    param_names = ["stream", "engine"]

    def setup_cache(self):
        return {case: bm.stream(SCALE, case) for case in bm.STREAM_CASES}

    def setup(self, streams, case, engine):
        self._start(bm.Replay(SCALE, case, engine, given=streams[case]))

    def teardown(self, streams, case, engine):
        self.wl.finish()  # raises AssertionError when the result is wrong

    def time_replay(self, streams, case, engine):
        self.wl.run()

    def track_mmsgs_per_s(self, streams, case, engine):
        return self.wl.n / self._timed() / 1e6

    track_mmsgs_per_s.unit = "Mmsgs/s"


class Submit(_Workload):
    """200,000 single ``submit`` calls from Python, each with its report, on a book of 10,000
    orders: passive (rests) and marketable (fills one resting lot); nt with nt.Side members, with
    "buy"/"sell" strings, and the sortedcontainers book's ``add``."""

    params = [["passive", "marketable"], ["nt", "nt-str", "sorted"]]
    param_names = ["case", "engine"]

    def setup(self, case, engine):
        self._start(bm.Submit(SCALE, case, engine))

    def teardown(self, case, engine):
        self.wl.finish()

    def time_loop(self, case, engine):
        self.wl.run()

    def track_ns_per_call(self, case, engine):
        return self._ns_per_call()

    track_ns_per_call.unit = "ns/call"


class CancelDeepLevel(_Workload):
    """1,000 cancels in each of 8 levels of 5,000 orders at one price (beside a book of 10,000
    orders): the first orders (head of the queue), the middle ones (shuffled), the last ones; nt
    via ``process`` (one call per level) and ``cancel(id)``, the sortedcontainers book, nautilus."""

    params = [["first", "middle", "last"], ["nt", "nt-call", "sorted", "nautilus"]]
    param_names = ["position", "engine"]

    def setup(self, position, engine):
        self._start(bm.CancelLevel(SCALE, position, engine))

    def teardown(self, position, engine):
        self.wl.finish()

    def time_cancels(self, position, engine):
        self.wl.run()

    def track_ns_per_cancel(self, position, engine):
        return self._ns_per_call()

    track_ns_per_cancel.unit = "ns/cancel"
