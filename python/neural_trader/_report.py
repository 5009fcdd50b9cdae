"""Charts and the HTML report of a backtest result.

The SVG and HTML writers are plain string generation (no dependency beyond numpy): an equity line
chart over a UTC time axis with a drawdown area chart below it, and a self-contained HTML page that
inlines the SVG next to tables of figures. Every piece of text is escaped with :func:`html.escape`,
so the SVG is well-formed XML and the page well-formed HTML whatever the titles and configuration
hold. Long curves are reduced to about ``max_points`` points, keeping each bucket's minimum and
maximum so that spikes and the deepest drawdown survive.

The PNG writer uses matplotlib (the ``plot`` extra) through :class:`matplotlib.figure.Figure` and
the Agg canvas directly: no pyplot, no change to global state.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from html import escape
from typing import Any, Final

import numpy as np

__all__ = ["downsample_minmax", "render_html", "render_png", "render_svg"]

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
IntArray = np.ndarray[Any, np.dtype[np.int64]]

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=timezone.utc)
_NS: Final = 1_000_000_000
_MINUTE: Final = 60 * _NS
_HOUR: Final = 60 * _MINUTE
_DAY: Final = 24 * _HOUR
# Fixed-length tick steps (nanoseconds); months and years are calendar steps handled apart.
_FIXED_STEPS: Final[tuple[int, ...]] = (
    *(k * _NS // 1000 for k in (1, 2, 5, 10, 20, 50, 100, 200, 500)),
    *(k * _NS for k in (1, 2, 5, 10, 15, 30)),
    *(k * _MINUTE for k in (1, 2, 5, 10, 15, 30)),
    *(k * _HOUR for k in (1, 2, 3, 6, 12)),
    *(k * _DAY for k in (1, 2, 7, 14)),
)
_MONTH_STEPS: Final = (1, 2, 3, 6)
_YEAR_STEPS: Final = (1, 2, 5, 10, 20, 50, 100, 200, 500)
_MAX_TIME_TICKS: Final = 7

_EQUITY_COLOUR: Final = "#1f5fa8"
_DRAWDOWN_COLOUR: Final = "#c0392b"


# ---------------------------------------------------------------------------------------------
# Helpers
def _to_datetime(ns: int) -> datetime:
    return _EPOCH + timedelta(microseconds=int(ns) // 1000)


def _to_ns(dt: datetime) -> int:
    return (dt - _EPOCH) // timedelta(microseconds=1) * 1000


def _fmt(v: float) -> str:
    """A coordinate for the SVG (2 decimals, no exponent, never NaN)."""
    return f"{v:.2f}"


def _drawdown_curve(eq: FloatArray) -> FloatArray:
    """``E_t / max(E_0..E_t) - 1`` per point (<= 0; 0 while the running peak is not positive)."""
    peak = np.maximum.accumulate(eq) if eq.size else eq
    dd = np.zeros_like(eq)
    pos = peak > 0
    dd[pos] = (eq[pos] - peak[pos]) / peak[pos]
    return dd


def downsample_minmax(values: FloatArray, max_points: int) -> IntArray:
    """Indices of at most ``max_points`` points of ``values`` that keep its shape.

    The first and last points are kept; the points between are cut into equal buckets and each
    bucket contributes the positions of its minimum and its maximum (in time order), so isolated
    spikes remain visible. Below ``max_points`` every index is returned.
    """
    n = int(values.size)
    if n <= max(max_points, 4):
        return np.arange(n, dtype=np.int64)
    buckets = max(1, (max_points - 2) // 2)
    edges = np.linspace(1, n - 1, buckets + 1).astype(np.int64)
    picked: list[int] = [0]
    for a, b in zip(edges[:-1].tolist(), edges[1:].tolist()):
        if b <= a:
            continue
        seg = values[a:b]
        i, j = a + int(np.argmin(seg)), a + int(np.argmax(seg))
        picked.extend((i, j) if i < j else (j, i) if j < i else (i,))
    picked.append(n - 1)
    return np.asarray(picked, dtype=np.int64)


def _nice_step(span: float, target: int) -> float:
    raw = span / max(target, 1)
    mag = 10.0 ** math.floor(math.log10(raw))
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        if raw <= m * mag * (1 + 1e-9):
            return m * mag
    return 10.0 * mag  # pragma: no cover - the loop always returns


def _value_ticks(lo: float, hi: float, target: int = 6) -> tuple[list[float], int]:
    """Round tick values covering ``[lo, hi]`` and the decimals their labels need."""
    step = _nice_step(hi - lo, target)
    first = math.ceil(lo / step - 1e-9)
    last = math.floor(hi / step + 1e-9)
    ticks = [k * step for k in range(first, last + 1)]
    decimals = max(0, -math.floor(math.log10(step) + 1e-12))
    if abs(step / 10.0**-decimals - round(step / 10.0**-decimals)) > 1e-9:
        decimals += 1  # steps such as 2.5 need one more digit
    return ticks, decimals


def _padded_range(lo: float, hi: float) -> tuple[float, float]:
    """``[lo, hi]`` widened by 5 % (or around a constant value) so the curve does not touch the frame."""
    if hi > lo:
        pad = (hi - lo) * 0.05
        return lo - pad, hi + pad
    pad = abs(lo) * 0.01 or 1.0
    return lo - pad, hi + pad


def _time_ticks(t0: int, t1: int) -> tuple[list[int], str]:
    """Tick times (ns) within ``[t0, t1]`` on round calendar boundaries, and their strftime format."""
    span = t1 - t0
    if span <= 0:
        return [t0], "%Y-%m-%d %H:%M:%S"
    for step in _FIXED_STEPS:
        if span / step <= _MAX_TIME_TICKS:
            if step >= _DAY:
                # days and weeks start at midnight UTC; weeks on Mondays (1970-01-05 was one)
                offset = 4 * _DAY if step % (7 * _DAY) == 0 else 0
                first = ((t0 - offset + step - 1) // step) * step + offset  # ceil onto the grid
            else:
                first = ((t0 + step - 1) // step) * step
            ticks = list(range(first, t1 + 1, step))
            if len(ticks) < 2:  # spans below the finest step: label both ends in full
                return [t0, t1], "%Y-%m-%d %H:%M:%S.%f"
            if step < _NS:
                fmt = "%H:%M:%S.%f"
            elif step < _MINUTE:
                fmt = "%H:%M:%S"
            elif step < _DAY:
                fmt = (
                    "%H:%M"
                    if t1 - t0 < _DAY and _to_datetime(t0).date() == _to_datetime(t1).date()
                    else "%m-%d %H:%M"
                )
            else:
                fmt = "%Y-%m-%d"
            return ticks, fmt
    d0, d1 = _to_datetime(t0), _to_datetime(t1)
    months = (d1.year - d0.year) * 12 + (d1.month - d0.month)
    for m in _MONTH_STEPS:
        if months / m <= _MAX_TIME_TICKS:
            return _calendar_ticks(t0, t1, months=m), "%Y-%m"
    years = d1.year - d0.year
    for y in _YEAR_STEPS:
        if years / y <= _MAX_TIME_TICKS:
            return _calendar_ticks(t0, t1, months=12 * y), "%Y"
    return [t0, t1], "%Y"  # pragma: no cover - int64 nanoseconds span less than 600 years


def _calendar_ticks(t0: int, t1: int, *, months: int) -> list[int]:
    """First-of-month ticks every ``months`` months (aligned on the calendar) within ``[t0, t1]``."""
    d0 = _to_datetime(t0)
    index = d0.year * 12 + (d0.month - 1)  # months since year 0
    index = -(-index // months) * months
    ticks: list[int] = []
    while True:
        year, month = divmod(index, 12)
        if year > 9999:
            break
        t = _to_ns(datetime(year, month + 1, 1, tzinfo=timezone.utc))
        if t > t1:
            break
        if t >= t0:
            ticks.append(t)
        index += months
    return ticks


def _time_label(ns: int, fmt: str) -> str:
    dt = _to_datetime(ns)
    if "%f" in fmt:
        return dt.strftime(fmt)[:-3]  # milliseconds
    return dt.strftime(fmt)


# ---------------------------------------------------------------------------------------------
# SVG
def render_svg(
    ts_ns: IntArray,
    equity: FloatArray,
    *,
    title: str | None = None,
    width: int = 960,
    height: int = 560,
    max_points: int = 2000,
) -> str:
    """The equity curve and its drawdown as one standalone SVG document.

    Parameters
    ----------
    ts_ns : numpy.ndarray of int64
        Times of the points, nanoseconds since the epoch (UTC), non-decreasing.
    equity : numpy.ndarray of float64
        Equity at those times; non-finite points are left out.
    title : str, optional
        Title drawn above the charts (escaped).
    width, height : int
        Size of the drawing in pixels.
    max_points : int, default 2000
        Longer curves are reduced with :func:`downsample_minmax`.

    Returns
    -------
    str
        ``<svg>...</svg>``, well-formed XML with the SVG namespace.
    """
    ts = np.asarray(ts_ns, dtype=np.int64)
    eq = np.asarray(equity, dtype=np.float64)
    keep = np.isfinite(eq)
    ts, eq = ts[keep], eq[keep]

    left, right, top, bottom = 88.0, 24.0, 44.0 if title else 20.0, 52.0
    gap = 34.0
    plot_w = width - left - right
    avail = height - top - bottom - gap
    eq_h, dd_h = avail * 0.70, avail * 0.30
    eq_top, dd_top = top, top + eq_h + gap

    out: list[str] = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" font-size="11">'
        ),
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
    ]
    if title:
        out.append(
            f'<text x="{_fmt(width / 2)}" y="26" text-anchor="middle" font-size="16" '
            f'font-weight="bold">{escape(title)}</text>'
        )
    if ts.size == 0:
        out.append(
            f'<text x="{_fmt(width / 2)}" y="{_fmt(height / 2)}" text-anchor="middle" '
            f'font-size="14" fill="#666666">no data</text>'
        )
        out.append("</svg>")
        return "\n".join(out)

    t0, t1 = int(ts[0]), int(ts[-1])
    tspan = t1 - t0

    def x_of(t: IntArray) -> FloatArray:
        if tspan <= 0:
            return np.full(t.shape, left + plot_w / 2)
        res: FloatArray = left + (t - t0).astype(np.float64) / float(tspan) * plot_w
        return res

    dd = _drawdown_curve(eq)

    # equity panel ---------------------------------------------------------------------------
    lo, hi = _padded_range(float(eq.min()), float(eq.max()))
    yticks, decimals = _value_ticks(lo, hi)

    def y_eq(v: FloatArray) -> FloatArray:
        res: FloatArray = eq_top + (hi - v) / (hi - lo) * eq_h
        return res

    # drawdown panel -------------------------------------------------------------------------
    dd_min = float(dd.min())
    dd_lo = dd_min * 1.08 if dd_min < 0 else -0.01
    dticks, ddec = _value_ticks(dd_lo * 100.0, 0.0, target=3)

    def y_dd(v: FloatArray) -> FloatArray:
        res: FloatArray = dd_top + (v / dd_lo) * dd_h
        return res

    # time ticks and vertical grid -----------------------------------------------------------
    tticks, tfmt = _time_ticks(t0, t1)
    tx = x_of(np.asarray(tticks, dtype=np.int64))
    out.append('<g stroke="#e3e3e3" stroke-width="1">')
    for x in tx:
        out.append(f'<line x1="{_fmt(x)}" y1="{_fmt(eq_top)}" x2="{_fmt(x)}" y2="{_fmt(eq_top + eq_h)}"/>')
        out.append(f'<line x1="{_fmt(x)}" y1="{_fmt(dd_top)}" x2="{_fmt(x)}" y2="{_fmt(dd_top + dd_h)}"/>')
    for v in yticks:
        y = float(y_eq(np.float64(v)))
        out.append(f'<line x1="{_fmt(left)}" y1="{_fmt(y)}" x2="{_fmt(left + plot_w)}" y2="{_fmt(y)}"/>')
    for v in dticks:
        y = float(y_dd(np.float64(v / 100.0)))
        out.append(f'<line x1="{_fmt(left)}" y1="{_fmt(y)}" x2="{_fmt(left + plot_w)}" y2="{_fmt(y)}"/>')
    out.append("</g>")

    # curves ---------------------------------------------------------------------------------
    idx = downsample_minmax(eq, max_points)
    xs, ys = x_of(ts[idx]), y_eq(eq[idx])
    points = " ".join(f"{_fmt(x)},{_fmt(y)}" for x, y in zip(xs.tolist(), ys.tolist()))
    if idx.size == 1:
        out.append(f'<circle cx="{_fmt(xs[0])}" cy="{_fmt(ys[0])}" r="3" fill="{_EQUITY_COLOUR}"/>')
    else:
        out.append(
            f'<polyline class="equity" fill="none" stroke="{_EQUITY_COLOUR}" stroke-width="1.5" '
            f'stroke-linejoin="round" points="{points}"/>'
        )
    didx = downsample_minmax(-dd, max_points)
    dxs, dys = x_of(ts[didx]), y_dd(dd[didx])
    base = _fmt(dd_top)
    area = [f"{_fmt(dxs[0])},{base}"]
    area.extend(f"{_fmt(x)},{_fmt(y)}" for x, y in zip(dxs.tolist(), dys.tolist()))
    area.append(f"{_fmt(dxs[-1])},{base}")
    out.append(
        f'<polygon class="drawdown" fill="{_DRAWDOWN_COLOUR}" fill-opacity="0.35" '
        f'stroke="{_DRAWDOWN_COLOUR}" stroke-width="1" points="{" ".join(area)}"/>'
    )

    # axes, labels ---------------------------------------------------------------------------
    out.append('<g fill="none" stroke="#555555" stroke-width="1">')
    out.append(f'<rect x="{_fmt(left)}" y="{_fmt(eq_top)}" width="{_fmt(plot_w)}" height="{_fmt(eq_h)}"/>')
    out.append(f'<rect x="{_fmt(left)}" y="{_fmt(dd_top)}" width="{_fmt(plot_w)}" height="{_fmt(dd_h)}"/>')
    out.append("</g>")
    out.append('<g fill="#333333">')
    for v in yticks:
        y = float(y_eq(np.float64(v)))
        label = escape(f"{v:,.{decimals}f}")
        out.append(f'<text x="{_fmt(left - 6)}" y="{_fmt(y + 4)}" text-anchor="end">{label}</text>')
    for v in dticks:
        y = float(y_dd(np.float64(v / 100.0)))
        label = f"{v:.{ddec}f}%" if v != 0 else "0%"
        out.append(f'<text x="{_fmt(left - 6)}" y="{_fmt(y + 4)}" text-anchor="end">{escape(label)}</text>')
    label_y = dd_top + dd_h + 16
    for t, x in zip(tticks, tx.tolist()):
        label = escape(_time_label(t, tfmt))
        out.append(f'<text x="{_fmt(x)}" y="{_fmt(label_y)}" text-anchor="middle">{label}</text>')
    out.append(
        f'<text x="{_fmt(left + plot_w / 2)}" y="{_fmt(height - 10)}" text-anchor="middle" fill="#666666">'
        f"time (UTC)</text>"
    )
    mid_eq = eq_top + eq_h / 2
    mid_dd = dd_top + dd_h / 2
    out.append(
        f'<text x="16" y="{_fmt(mid_eq)}" text-anchor="middle" transform="rotate(-90 16 {_fmt(mid_eq)})">'
        f"equity</text>"
    )
    out.append(
        f'<text x="16" y="{_fmt(mid_dd)}" text-anchor="middle" transform="rotate(-90 16 {_fmt(mid_dd)})">'
        f"drawdown</text>"
    )
    out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# HTML
_CSS: Final = """
body { font-family: Helvetica, Arial, sans-serif; margin: 24px auto; max-width: 1000px; color: #222; }
h1 { font-size: 22px; margin-bottom: 4px; }
h2 { font-size: 16px; margin-top: 28px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
p.sub { color: #666; margin-top: 0; }
table { border-collapse: collapse; font-size: 13px; }
td, th { padding: 3px 14px 3px 0; text-align: left; vertical-align: top; }
td.v { text-align: right; font-variant-numeric: tabular-nums; }
pre { background: #f6f6f6; padding: 10px; font-size: 12px; overflow-x: auto; }
.columns { display: flex; flex-wrap: wrap; gap: 40px; }
""".strip()


def render_html(
    *,
    title: str,
    subtitle: str,
    svg: str,
    tables: Sequence[tuple[str, Sequence[tuple[str, str]]]],
    blocks: Sequence[tuple[str, str]] = (),
) -> str:
    """A self-contained HTML page: title, subtitle, the SVG inline, then two-column tables and
    preformatted blocks, each under its heading. All text is escaped; ``svg`` is inserted as is."""
    out: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{escape(title)}</title>",
        f"<style>\n{_CSS}\n</style>",
        "</head>",
        "<body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="sub">{escape(subtitle)}</p>',
        '<div class="chart">',
        svg,
        "</div>",
        '<div class="columns">',
    ]
    for heading, rows in tables:
        out.append("<section>")
        out.append(f"<h2>{escape(heading)}</h2>")
        out.append("<table>")
        for key, value in rows:
            out.append(f'<tr><th>{escape(key)}</th><td class="v">{escape(value)}</td></tr>')
        out.append("</table>")
        out.append("</section>")
    out.append("</div>")
    for heading, text in blocks:
        out.append(f"<h2>{escape(heading)}</h2>")
        out.append(f"<pre>{escape(text)}</pre>")
    out.append("</body>")
    out.append("</html>")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------
# PNG
def render_png(
    path: str | os.PathLike[str],
    ts_ns: IntArray,
    equity: FloatArray,
    *,
    title: str | None = None,
    max_points: int = 20_000,
) -> None:
    """Write the equity and drawdown charts to ``path`` as a PNG (needs matplotlib).

    Raises
    ------
    ImportError
        matplotlib is not installed; the message names the ``plot`` extra.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import PercentFormatter
    except ImportError:
        raise ImportError('writing a PNG needs matplotlib: pip install "neural-trader[plot]"') from None

    ts = np.asarray(ts_ns, dtype=np.int64)
    eq = np.asarray(equity, dtype=np.float64)
    keep = np.isfinite(eq)
    ts, eq = ts[keep], eq[keep]
    dd = _drawdown_curve(eq)

    fig = Figure(figsize=(10, 6), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax_eq, ax_dd = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    if eq.size:
        idx = downsample_minmax(eq, max_points)
        didx = downsample_minmax(-dd, max_points)
        times = ts.astype("datetime64[ns]")
        ax_eq.plot(times[idx], eq[idx], color=_EQUITY_COLOUR, linewidth=1.2)
        ax_dd.fill_between(times[didx], dd[didx], 0.0, color=_DRAWDOWN_COLOUR, alpha=0.35, linewidth=0.8)
    else:
        ax_eq.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax_eq.transAxes)
    ax_eq.set_ylabel("equity")
    ax_dd.set_ylabel("drawdown")
    ax_dd.set_xlabel("time (UTC)")
    ax_dd.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
    for ax in (ax_eq, ax_dd):
        ax.grid(True, color="#e3e3e3", linewidth=0.8)
    if title:
        ax_eq.set_title(title)
    fig.savefig(os.fspath(path), format="png")
