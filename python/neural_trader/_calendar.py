"""Trading-session calendars: which instants lie inside an exchange session, and its bounds.

A :class:`Calendar` describes sessions in an exchange time zone: every local date whose weekday
is listed (and which is not a holiday) has one session from ``open`` to ``close`` local wall
time. Instants are int64 nanoseconds since the epoch, UTC, as everywhere in neural-trader; the
methods take numpy arrays (or scalars) of them and work per distinct day, never per instant in
Python, so a million timestamps cost a few vectorised passes.

Daylight-saving time is handled through :mod:`zoneinfo`: the New York session opens at 14:30 UTC
in winter (EST, UTC-5) and at 13:30 UTC in summer (EDT, UTC-4).
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterable
from typing import Any, Literal, overload
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt

from .errors import DTypeError, InvalidArgumentError

__all__ = ["Calendar"]

NS_PER_SECOND = 1_000_000_000
NS_PER_DAY = 86_400 * NS_PER_SECOND
_EPOCH_DATE = _dt.date(1970, 1, 1)
_EPOCH_UTC = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
_TIME_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*$")
# Instants beyond +-this many ns (about 1678-01-02 .. 2261-12-31) are outside every session, so
# that local times and session bounds stay inside int64 nanoseconds.
_SAFE_NS = 106_500 * NS_PER_DAY
# Day tables indexed directly (not through a search) when the days span at most this many.
_DIRECT_SPAN = 20_000

Closed = Literal["left", "right", "both"]
I64Array = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


# ---------------------------------------------------------------------------------------------
# conversions shared with the data module
# ---------------------------------------------------------------------------------------------


def zone(tz: object) -> ZoneInfo:
    """The :class:`zoneinfo.ZoneInfo` named ``tz`` (InvalidArgumentError if unknown)."""
    if isinstance(tz, ZoneInfo):
        return tz
    if not isinstance(tz, str):
        raise DTypeError(f"a time zone is given by its IANA name (str), not {type(tz).__name__}")
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidArgumentError(f"unknown time zone {tz!r}: {exc}") from None


def instants(ts: Any) -> tuple[I64Array, bool]:
    """``ts`` as a 1-d int64 array of ns since the epoch (UTC), and whether it was a scalar.

    Accepted: integers (ns), numpy datetime64 values or arrays, integer arrays, aware
    :class:`datetime.datetime` (naive ones are read as UTC), and polars Datetime or integer
    Series.
    """
    if isinstance(ts, (bool, np.bool_)):
        raise DTypeError("timestamps are int64 nanoseconds since the epoch, not bool")
    if isinstance(ts, (int, np.integer)):
        return np.array([int(ts)], dtype=np.int64), True
    if isinstance(ts, np.datetime64):
        return np.array([ts.astype("datetime64[ns]").astype(np.int64)], dtype=np.int64), True
    if isinstance(ts, _dt.datetime):
        return np.array([datetime_ns(ts)], dtype=np.int64), True
    if type(ts).__module__.startswith("polars"):
        import polars as pl

        if isinstance(ts, pl.Series):
            if ts.null_count():
                raise InvalidArgumentError("timestamps hold nulls")
            dtype = ts.dtype
            if isinstance(dtype, pl.Datetime):
                if dtype.time_zone is not None:
                    ts = ts.dt.convert_time_zone("UTC")
                return ts.dt.cast_time_unit("ns").to_physical().to_numpy().astype(np.int64), False
            if dtype.is_integer():
                return ts.cast(pl.Int64).to_numpy(), False
            raise DTypeError(f"timestamps must be Datetime or integer, not {dtype}")
    arr = np.asarray(ts)
    if arr.dtype.kind == "M":
        out = arr.astype("datetime64[ns]").view(np.int64)
    elif arr.dtype.kind in "iu":
        out = arr.astype(np.int64, copy=False)
    else:
        raise DTypeError(f"timestamps must be int64 ns since the epoch or datetime64, not {arr.dtype}")
    if out.ndim == 0:
        return out.reshape(1), True
    if out.ndim != 1:
        raise InvalidArgumentError(f"timestamps must be one-dimensional, not of shape {out.shape}")
    return np.ascontiguousarray(out), False


def datetime_ns(value: _dt.datetime) -> int:
    """An aware datetime as int64 ns since the epoch (a naive one is read as UTC)."""
    if value.tzinfo is None or value.utcoffset() is None:
        value = value.replace(tzinfo=_dt.timezone.utc)
    delta = value - _EPOCH_UTC
    return (delta.days * 86_400 + delta.seconds) * NS_PER_SECOND + delta.microseconds * 1_000


def to_date(value: Any, what: str = "date") -> _dt.date:
    """A calendar date from a date, datetime (its own date), ISO string or numpy datetime64."""
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    if isinstance(value, np.datetime64):
        return _EPOCH_DATE + _dt.timedelta(days=int(value.astype("datetime64[D]").astype(np.int64)))
    if isinstance(value, str):
        try:
            return _dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            raise InvalidArgumentError(f"{what} {value!r} is not an ISO date (YYYY-MM-DD)") from None
    raise DTypeError(f"{what} must be a date, datetime, ISO string or datetime64, not {type(value).__name__}")


def _seconds_of_day(value: Any, what: str, allow_24: bool) -> int:
    if isinstance(value, _dt.time):
        if value.tzinfo is not None:
            raise InvalidArgumentError(f"{what} is a local wall time; give it without tzinfo")
        return value.hour * 3600 + value.minute * 60 + value.second
    if not isinstance(value, str):
        raise DTypeError(f"{what} must be 'HH:MM', 'HH:MM:SS' or a datetime.time, not {type(value).__name__}")
    match = _TIME_RE.match(value)
    if match is None:
        raise InvalidArgumentError(f"{what} {value!r} is not a time of day 'HH:MM' or 'HH:MM:SS'")
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    if minute > 59 or second > 59:
        raise InvalidArgumentError(f"{what} {value!r} is not a time of day")
    total = hour * 3600 + minute * 60 + second
    if total > 86_400 or (total == 86_400 and not allow_24):
        raise InvalidArgumentError(f"{what} {value!r} is past the end of the day")
    return total


def _format_seconds(seconds: int) -> str:
    hour, rest = divmod(seconds, 3600)
    minute, second = divmod(rest, 60)
    return f"{hour:02d}:{minute:02d}" + (f":{second:02d}" if second else "")


class _DayTable:
    """Rows for a set of integer days, looked up by direct indexing or a binary search."""

    def __init__(self, days: I64Array) -> None:
        if days.size == 0:
            self.days: I64Array = np.zeros(0, dtype=np.int64)
            self._base: int | None = 0
            return
        lo, hi = int(days.min()), int(days.max())
        if hi - lo <= _DIRECT_SPAN:
            self.days = np.arange(lo, hi + 1, dtype=np.int64)
            self._base = lo
        else:
            self.days = np.unique(days)
            self._base = None

    def index(self, days: I64Array) -> I64Array:
        if self._base is not None:
            return days - self._base
        return np.searchsorted(self.days, days).astype(np.int64)


# ---------------------------------------------------------------------------------------------
# the calendar
# ---------------------------------------------------------------------------------------------


class Calendar:
    """Trading sessions in an exchange time zone.

    Parameters
    ----------
    tz : str
        IANA time zone of the exchange (``"America/New_York"``, ``"Europe/London"``, ``"UTC"``).
    open, close : str or datetime.time
        Local wall-clock session bounds, ``"HH:MM"`` or ``"HH:MM:SS"``; ``close`` may be
        ``"24:00"`` (the next local midnight). ``open`` must come before ``close``: a session lies
        within one local date (overnight sessions are not modelled).
    weekdays : iterable of int
        Trading weekdays, Monday = 0 ... Sunday = 6.
    holidays : iterable of date-like
        Local dates without a session (``datetime.date``, ``"YYYY-MM-DD"`` or datetime64).
    closed : {"left", "right", "both"}
        Which bounds belong to the session: ``"left"`` (default) is ``[open, close)``, suited to
        bars stamped at their start; ``"right"`` is ``(open, close]``, for bars stamped at their
        end; ``"both"`` is ``[open, close]``.

    Notes
    -----
    Conventions of every method:

    * input instants are int64 nanoseconds since the epoch, UTC (numpy arrays, scalars, numpy
      datetime64 or polars Datetime Series are accepted); a scalar gives a scalar back;
    * a **session id** is the local session date as days since 1970-01-01, and ``-1`` stands
      for "outside every session";
    * a session's open and close instants are computed from the local wall times through
      :mod:`zoneinfo`, so they follow daylight-saving changes. A wall time that does not exist
      (inside a spring-forward gap) resolves as :mod:`zoneinfo` resolves it (``fold=0``).

    Work is per distinct day (UTC offsets, session bounds), then vectorised over instants.
    Calendars compare equal when all their parameters are equal, hash, and pickle.
    """

    __slots__ = ("_close", "_closed", "_holiday_days", "_holidays", "_open", "_tz", "_weekdays", "_zone")

    def __init__(
        self,
        tz: str = "America/New_York",
        open: str | _dt.time = "09:30",
        close: str | _dt.time = "16:00",
        weekdays: Iterable[int] = (0, 1, 2, 3, 4),
        holidays: Iterable[Any] = (),
        *,
        closed: Closed = "left",
    ) -> None:
        self._zone = zone(tz)
        self._tz = self._zone.key
        self._open = _seconds_of_day(open, "open", allow_24=False)
        self._close = _seconds_of_day(close, "close", allow_24=True)
        if self._close <= self._open:
            raise InvalidArgumentError(
                f"close {_format_seconds(self._close)} must come after open {_format_seconds(self._open)} "
                "(sessions lie within one local date)"
            )
        if isinstance(weekdays, (str, bytes)):
            raise DTypeError("weekdays is an iterable of ints, Monday = 0 ... Sunday = 6")
        days: set[int] = set()
        for day in weekdays:
            if isinstance(day, bool) or not isinstance(day, (int, np.integer)):
                raise DTypeError(f"weekdays are ints (Monday = 0 ... Sunday = 6), not {day!r}")
            if not 0 <= int(day) <= 6:
                raise InvalidArgumentError(f"weekday {day} is outside 0 (Monday) ... 6 (Sunday)")
            days.add(int(day))
        self._weekdays = tuple(sorted(days))
        if isinstance(holidays, (str, bytes, _dt.date)):
            holidays = (holidays,)
        self._holidays = tuple(sorted({to_date(h, "holiday") for h in holidays}))
        self._holiday_days = frozenset((h - _EPOCH_DATE).days for h in self._holidays)
        if closed not in ("left", "right", "both"):
            raise InvalidArgumentError(f"closed must be 'left', 'right' or 'both', not {closed!r}")
        self._closed: Closed = closed

    # --- presets --------------------------------------------------------------------------

    @classmethod
    def nyse(cls, holidays: Iterable[Any] = (), *, closed: Closed = "left") -> Calendar:
        """New York Stock Exchange regular hours: 09:30-16:00 America/New_York, Monday-Friday.

        No exchange holidays are built in (and no early closes): pass the ones you need, e.g.
        ``Calendar.nyse(holidays=["2024-01-01", "2024-07-04", "2024-12-25"])``.
        """
        return cls("America/New_York", "09:30", "16:00", (0, 1, 2, 3, 4), holidays, closed=closed)

    @classmethod
    def always(cls) -> Calendar:
        """Round-the-clock trading: every UTC day is one session ``[00:00, 24:00)`` UTC."""
        return cls("UTC", "00:00", "24:00", range(7), ())

    # --- attributes -----------------------------------------------------------------------

    @property
    def tz(self) -> str:
        """IANA name of the exchange time zone."""
        return self._tz

    @property
    def open(self) -> str:
        """Local session open, ``"HH:MM"`` (``"HH:MM:SS"`` when it has seconds)."""
        return _format_seconds(self._open)

    @property
    def close(self) -> str:
        """Local session close, ``"HH:MM"`` (``"HH:MM:SS"`` when it has seconds)."""
        return _format_seconds(self._close)

    @property
    def weekdays(self) -> tuple[int, ...]:
        """Trading weekdays, Monday = 0 ... Sunday = 6."""
        return self._weekdays

    @property
    def holidays(self) -> tuple[_dt.date, ...]:
        """Local dates without a session, sorted."""
        return self._holidays

    @property
    def closed(self) -> Closed:
        """Which session bounds are inside: ``"left"``, ``"right"`` or ``"both"``."""
        return self._closed

    @property
    def session_seconds(self) -> int:
        """Length of a session in wall-clock seconds (of its local wall times)."""
        return self._close - self._open

    # --- protocol -------------------------------------------------------------------------

    def _key(self) -> tuple[Any, ...]:
        return (self._tz, self._open, self._close, self._weekdays, self._holidays, self._closed)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Calendar):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _rebuild,
            (
                self._tz,
                self.open,
                self.close,
                self._weekdays,
                tuple(h.isoformat() for h in self._holidays),
                self._closed,
            ),
        )

    def __repr__(self) -> str:
        if len(self._holidays) <= 3:
            hol = repr(tuple(h.isoformat() for h in self._holidays))
        else:
            hol = f"<{len(self._holidays)} dates {self._holidays[0]}..{self._holidays[-1]}>"
        return (
            f"Calendar(tz={self._tz!r}, open={self.open!r}, close={self.close!r}, "
            f"weekdays={self._weekdays}, holidays={hol}, closed={self._closed!r})"
        )

    # --- per-day tables -------------------------------------------------------------------

    def _is_trading_day(self, day: int) -> bool:
        weekday = (day + 3) % 7  # 1970-01-01 was a Thursday (3)
        return weekday in self._weekdays and day not in self._holiday_days

    def _local_ns(self, day: int, seconds: int) -> int:
        """UTC instant (ns) of local wall time ``seconds`` after midnight of local ``day``."""
        naive = _dt.datetime.combine(_EPOCH_DATE + _dt.timedelta(days=day), _dt.time()) + _dt.timedelta(
            seconds=seconds
        )
        return datetime_ns(naive.replace(tzinfo=self._zone))

    def _bounds(self, days: I64Array) -> tuple[BoolArray, I64Array, I64Array]:
        """Trading flag, open and close instants (ns UTC) of each local day in ``days``."""
        trading = np.zeros(days.size, dtype=np.bool_)
        opens = np.full(days.size, -1, dtype=np.int64)
        closes = np.full(days.size, -1, dtype=np.int64)
        for i, day in enumerate(days.tolist()):
            if self._is_trading_day(day):
                trading[i] = True
                opens[i] = self._local_ns(day, self._open)
                closes[i] = self._local_ns(day, self._close)
        return trading, opens, closes

    def _offset_seconds(self, second: int) -> int:
        moment = _EPOCH_UTC + _dt.timedelta(seconds=second)
        offset = moment.astimezone(self._zone).utcoffset()
        return 0 if offset is None else int(offset.total_seconds())

    def _utc_offsets(self, ts: I64Array) -> I64Array:
        """UTC offset (ns) of the exchange time zone at each instant."""
        if self._tz == "UTC" or ts.size == 0:
            return np.zeros(ts.size, dtype=np.int64)
        udays = np.floor_divide(ts, NS_PER_DAY)
        table = _DayTable(udays)
        starts = [self._offset_seconds(int(d) * 86_400) for d in table.days.tolist()]
        ends = [self._offset_seconds((int(d) + 1) * 86_400) for d in table.days.tolist()]
        switch = np.full(table.days.size, np.iinfo(np.int64).max, dtype=np.int64)
        for i, (first, last) in enumerate(zip(starts, ends)):
            if first != last:  # a transition inside this UTC day: find its second by bisection
                lo, hi = int(table.days[i]) * 86_400, (int(table.days[i]) + 1) * 86_400
                while hi - lo > 1:
                    mid = (lo + hi) // 2
                    if self._offset_seconds(mid) == first:
                        lo = mid
                    else:
                        hi = mid
                switch[i] = hi * NS_PER_SECOND
        idx = table.index(udays)
        before = np.asarray(starts, dtype=np.int64)[idx]
        after = np.asarray(ends, dtype=np.int64)[idx]
        return np.where(ts < switch[idx], before, after) * NS_PER_SECOND

    def _locate(self, ts: I64Array) -> tuple[I64Array, I64Array, I64Array]:
        """Session id, open and close (ns UTC) of each instant; -1 where outside a session."""
        edge = np.clip(ts, -_SAFE_NS, _SAFE_NS)
        if not np.array_equal(edge, ts):  # NaT and the last days of int64 time: outside
            session, o, c = self._locate(edge)
            far = edge != ts
            return np.where(far, -1, session), np.where(far, -1, o), np.where(far, -1, c)
        local_day = np.floor_divide(ts + self._utc_offsets(ts), NS_PER_DAY)
        table = _DayTable(local_day)
        trading, opens, closes = self._bounds(table.days)
        idx = table.index(local_day)
        o, c = opens[idx], closes[idx]
        inside = trading[idx]
        if self._closed == "left":
            inside &= (ts >= o) & (ts < c)
        elif self._closed == "right":
            inside &= (ts > o) & (ts <= c)
        else:
            inside &= (ts >= o) & (ts <= c)
        session = np.where(inside, local_day, -1)
        o = np.where(inside, o, -1)
        c = np.where(inside, c, -1)
        if self._closed != "left" and self._close == 86_400:
            # the close of a session ending at 24:00 is the next local date's midnight
            prev = local_day - 1
            ptable = _DayTable(prev)
            ptrading, popens, pcloses = self._bounds(ptable.days)
            pidx = ptable.index(prev)
            at_close = ~inside & ptrading[pidx] & (ts == pcloses[pidx])
            session = np.where(at_close, prev, session)
            o = np.where(at_close, popens[pidx], o)
            c = np.where(at_close, pcloses[pidx], c)
        return session, o, c

    # --- public queries -------------------------------------------------------------------

    @overload
    def session(self, ts: int | np.integer[Any] | np.datetime64 | _dt.datetime) -> int: ...
    @overload
    def session(self, ts: Any) -> Any: ...
    def session(self, ts: Any) -> Any:
        """Session id of each instant: its local session date in days since 1970-01-01, -1 outside."""
        arr, scalar = instants(ts)
        out = self._locate(arr)[0]
        return int(out[0]) if scalar else out

    @overload
    def is_open(self, ts: int | np.integer[Any] | np.datetime64 | _dt.datetime) -> bool: ...
    @overload
    def is_open(self, ts: Any) -> Any: ...
    def is_open(self, ts: Any) -> Any:
        """Whether each instant lies inside a session (bool array, or a bool for a scalar)."""
        arr, scalar = instants(ts)
        out = self._locate(arr)[0] >= 0
        return bool(out[0]) if scalar else out

    @overload
    def session_open(self, ts: int | np.integer[Any] | np.datetime64 | _dt.datetime) -> int: ...
    @overload
    def session_open(self, ts: Any) -> Any: ...
    def session_open(self, ts: Any) -> Any:
        """Open instant (int64 ns UTC) of the session containing each instant, -1 outside."""
        arr, scalar = instants(ts)
        out = self._locate(arr)[1]
        return int(out[0]) if scalar else out

    @overload
    def session_close(self, ts: int | np.integer[Any] | np.datetime64 | _dt.datetime) -> int: ...
    @overload
    def session_close(self, ts: Any) -> Any: ...
    def session_close(self, ts: Any) -> Any:
        """Close instant (int64 ns UTC) of the session containing each instant, -1 outside.

        A DAY order placed at ``ts`` expires at ``session_close(ts)``.
        """
        arr, scalar = instants(ts)
        out = self._locate(arr)[2]
        return int(out[0]) if scalar else out

    @overload
    def session_day(self, ts: int | np.integer[Any] | np.datetime64 | _dt.datetime) -> int: ...
    @overload
    def session_day(self, ts: Any) -> Any: ...
    def session_day(self, ts: Any) -> Any:
        """Session id of each instant's local date when that date is a trading day, else -1.

        Unlike :meth:`session` the time of day is ignored, which suits daily bars stamped at
        local midnight (outside the session hours but on a trading day).
        """
        arr, scalar = instants(ts)
        far = (arr < -_SAFE_NS) | (arr > _SAFE_NS)  # NaT and the last days of int64 time: -1
        arr = np.clip(arr, -_SAFE_NS, _SAFE_NS)
        local_day = np.floor_divide(arr + self._utc_offsets(arr), NS_PER_DAY)
        table = _DayTable(local_day)
        trading = np.fromiter(
            (self._is_trading_day(d) for d in table.days.tolist()), dtype=np.bool_, count=table.days.size
        )
        out = np.where(trading[table.index(local_day)] & ~far, local_day, -1)
        return int(out[0]) if scalar else out

    def sessions(self, start: Any, end: Any) -> Any:
        """The sessions whose local date lies in ``[start, end]`` (both inclusive).

        Parameters
        ----------
        start, end : date-like
            ``datetime.date``, ``"YYYY-MM-DD"``, datetime (its own date) or datetime64.

        Returns
        -------
        polars.DataFrame
            Columns ``session`` (Int64, the session id), ``date`` (Date, local), ``open`` and
            ``close`` (Datetime ns UTC), one row per session in date order.
        """
        import polars as pl

        first, last = to_date(start, "start"), to_date(end, "end")
        lo, hi = (first - _EPOCH_DATE).days, (last - _EPOCH_DATE).days
        days = np.arange(lo, max(hi + 1, lo), dtype=np.int64)
        trading, opens, closes = self._bounds(days)
        days, opens, closes = days[trading], opens[trading], closes[trading]
        return pl.DataFrame(
            {
                "session": days,
                "date": pl.Series(days.astype(np.int32)).cast(pl.Date),
                "open": pl.Series(opens).cast(pl.Datetime("ns")).dt.replace_time_zone("UTC"),
                "close": pl.Series(closes).cast(pl.Datetime("ns")).dt.replace_time_zone("UTC"),
            }
        )

    def filter(self, frame: Any) -> Any:
        """The rows of ``frame`` whose ``ts`` lies inside a session (order kept).

        ``frame`` is a polars DataFrame with a ``ts`` column (Datetime, or Int64 ns; a naive
        Datetime is read as UTC) or a numpy structured array with an int64 ``ts`` field (such as
        ``BAR_DTYPE`` or ``TICK_DTYPE`` records); the result has the same type.
        """
        if isinstance(frame, np.ndarray):
            if frame.dtype.names is None or "ts" not in frame.dtype.names:
                raise DTypeError("Calendar.filter needs records with a 'ts' field")
            return frame[self.is_open(np.asarray(frame["ts"]))]
        if type(frame).__module__.startswith("polars"):
            import polars as pl

            if isinstance(frame, pl.DataFrame):
                if "ts" not in frame.columns:
                    raise InvalidArgumentError(
                        f"Calendar.filter needs a 'ts' column; the frame has {frame.columns}"
                    )
                mask = self.is_open(frame.get_column("ts"))
                return frame.filter(pl.Series(mask))
        raise DTypeError(f"Calendar.filter takes a polars DataFrame or records, not {type(frame).__name__}")


def _rebuild(
    tz: str, open_: str, close: str, weekdays: tuple[int, ...], holidays: tuple[str, ...], closed: Closed
) -> Calendar:
    return Calendar(tz, open_, close, weekdays, holidays, closed=closed)
