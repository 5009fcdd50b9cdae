"""A small text progress bar for long loops (grid searches, walk-forward runs, the command line).

It has no dependency and draws one line, rewritten in place with a carriage return::

    grid search  43% |########            | 430/1000 [00:02<00:03, 215.3 it/s]

Without a known total it shows the count, the elapsed time and the rate only. Redraws are
throttled (at most one every ``min_interval`` seconds, plus a final one), and by default the bar
draws only when its stream is a terminal, so logs and captured output stay clean.
"""

from __future__ import annotations

import math
import sys
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import TextIO

from .errors import DTypeError, InvalidArgumentError

__all__ = ["Progress", "format_duration"]


def format_duration(seconds: float) -> str:
    """Format a duration as ``MM:SS``, or ``H:MM:SS`` from one hour on (``"?"`` if unknown).

    Parameters
    ----------
    seconds : float
        Non-negative number of seconds; NaN or infinity give ``"?"``.
    """
    if not math.isfinite(seconds):
        return "?"
    total = int(max(0.0, seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes:02d}:{secs:02d}"


def _stream_is_tty(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    if isatty is None:
        return False
    try:
        return bool(isatty())
    except (OSError, ValueError):  # closed or detached stream
        return False


class Progress:
    """A progress bar on a text stream, usable as a context manager.

    Parameters
    ----------
    total : int or None
        Number of steps expected; ``None`` when unknown (no percentage, bar or ETA then).
    desc : str, default ""
        Label printed before the bar.
    file : text stream, optional
        Where to draw; ``sys.stderr`` (looked up when the bar is made) by default.
    enabled : bool or None, default None
        ``True`` draws whatever the stream is, ``False`` never draws, ``None`` draws only when
        ``file`` is a terminal (``file.isatty()``).
    min_interval : float, default 0.1
        Fewest seconds between two redraws (about ten per second); the last step and
        :meth:`close` always redraw.
    width : int, default 20
        Number of characters inside the bar.
    clock : callable, optional
        Returns the current time in seconds (``time.monotonic`` by default); for tests.

    Notes
    -----
    :meth:`update` may be called from several threads (a lock guards the count and the drawing).
    The bar counts what it is told: going past ``total`` shows more than 100 %.

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> with Progress(3, "work", file=out, enabled=True) as bar:
    ...     for _ in range(3):
    ...         bar.update()
    >>> out.getvalue().endswith("\\n")
    True
    """

    def __init__(
        self,
        total: int | None,
        desc: str = "",
        file: TextIO | None = None,
        enabled: bool | None = None,
        *,
        min_interval: float = 0.1,
        width: int = 20,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if total is not None:
            if isinstance(total, bool) or not isinstance(total, int):
                raise DTypeError(f"total must be an int or None, got {type(total).__name__}")
            if total < 0:
                raise InvalidArgumentError(f"total must be >= 0, got {total}")
        if not isinstance(desc, str):
            raise DTypeError(f"desc must be a str, got {type(desc).__name__}")
        if enabled is not None and not isinstance(enabled, bool):
            raise DTypeError(f"enabled must be a bool or None, got {type(enabled).__name__}")
        if not min_interval >= 0.0:
            raise InvalidArgumentError(f"min_interval must be >= 0, got {min_interval}")
        if isinstance(width, bool) or not isinstance(width, int) or width < 1:
            raise InvalidArgumentError(f"width must be an int >= 1, got {width!r}")
        self.total = total
        self.desc = desc
        self.file: TextIO = sys.stderr if file is None else file
        self.enabled = _stream_is_tty(self.file) if enabled is None else enabled
        self.min_interval = float(min_interval)
        self.width = width
        self._clock: Callable[[], float] = time.monotonic if clock is None else clock
        self._lock = threading.Lock()
        self.n = 0
        self._start = self._clock()
        self._last_draw = float("-inf")
        self._last_len = 0
        self._closed = False

    # -- counting -------------------------------------------------------------------------------

    def update(self, n: int = 1) -> None:
        """Advance by ``n`` steps and redraw if the last redraw is old enough (or this is the last step)."""
        with self._lock:
            self.n += n
            if not self.enabled or self._closed:
                return
            now = self._clock()
            finished = self.total is not None and self.n >= self.total
            if finished or now - self._last_draw >= self.min_interval:
                self._draw(now)

    def close(self) -> None:
        """Draw the final state and end the line (once; later calls do nothing)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self.enabled:
                self._draw(self._clock())
                self.file.write("\n")
                self.file.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- drawing --------------------------------------------------------------------------------

    def render(self, now: float | None = None) -> str:
        """The bar's text at time ``now`` (the clock's current time by default), without ``\\r``."""
        now = self._clock() if now is None else now
        elapsed = max(0.0, now - self._start)
        rate = self.n / elapsed if elapsed > 0 else float("nan")
        rate_txt = "? it/s" if math.isnan(rate) else f"{rate:.1f} it/s"
        head = f"{self.desc} " if self.desc else ""
        if self.total is None:
            return f"{head}{self.n} [{format_duration(elapsed)}, {rate_txt}]"
        frac = self.n / self.total if self.total > 0 else 1.0
        filled = min(self.width, int(frac * self.width))
        bar = "#" * filled + " " * (self.width - filled)
        remaining = max(0, self.total - self.n)
        if remaining == 0:
            eta = 0.0
        elif math.isnan(rate) or rate <= 0:
            eta = math.nan
        else:
            eta = remaining / rate
        return (
            f"{head}{int(frac * 100):3d}% |{bar}| {self.n}/{self.total} "
            f"[{format_duration(elapsed)}<{format_duration(eta)}, {rate_txt}]"
        )

    def _draw(self, now: float) -> None:
        text = self.render(now)
        pad = " " * max(0, self._last_len - len(text))
        self.file.write("\r" + text + pad)
        self.file.flush()
        self._last_len = len(text)
        self._last_draw = now

    def __repr__(self) -> str:
        total = "?" if self.total is None else str(self.total)
        return f"Progress({self.desc!r}, {self.n}/{total}, enabled={self.enabled})"
