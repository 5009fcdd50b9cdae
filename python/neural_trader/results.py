"""The result of a backtest: its frames, metrics, text summary, charts and persistence.

A :class:`BacktestResult` holds the five frames every backtest produces (their schemas are the
``*_SCHEMA`` constants of this module), the run's configuration, seed and engine statistics, and
the versions of the software that produced it. Metrics are computed on first use
(:func:`neural_trader.metrics.compute_metrics`) and cached.

    >>> res.summary()                    # doctest: +SKIP
    >>> res.plot("report.html")          # self-contained HTML report      # doctest: +SKIP
    >>> paths = res.save("runs/sma")     # parquet + JSON + report          # doctest: +SKIP
    >>> same = BacktestResult.load("runs/sma")                              # doctest: +SKIP
"""

from __future__ import annotations

import functools
import json
import math
import os
import platform
import sys
from collections.abc import Mapping
from datetime import date, datetime, timezone
from enum import Enum
from pathlib import Path
from typing import Any, Final, overload

import numpy as np
import polars as pl

from . import _report
from .errors import CorruptDataError, DTypeError, InvalidArgumentError
from .metrics import (
    INT_METRICS,
    METRIC_LABELS,
    METRIC_NAMES,
    _require,
    _timestamps_ns,
    compute_metrics,
    format_duration,
    format_metric,
)

__all__ = [
    "EQUITY_SCHEMA",
    "FILLS_SCHEMA",
    "ORDERS_SCHEMA",
    "POSITIONS_SCHEMA",
    "TRADES_SCHEMA",
    "BacktestResult",
    "compare",
]

_TS: Final = pl.Datetime("ns", "UTC")

EQUITY_SCHEMA: Final[dict[str, pl.DataType]] = {
    "ts": _TS,
    "cash": pl.Float64(),
    "equity": pl.Float64(),
    "gross_exposure": pl.Float64(),
    "net_exposure": pl.Float64(),
}
"""Columns of the equity frame: one row per event-time step."""

TRADES_SCHEMA: Final[dict[str, pl.DataType]] = {
    "symbol": pl.String(),
    "direction": pl.String(),
    "quantity": pl.Float64(),
    "entry_ts": _TS,
    "entry_price": pl.Float64(),
    "exit_ts": _TS,
    "exit_price": pl.Float64(),
    "pnl": pl.Float64(),
    "fees": pl.Float64(),
    "return_pct": pl.Float64(),
    "bars_held": pl.Int64(),
}
"""Columns of the trades frame: closed round trips."""

ORDERS_SCHEMA: Final[dict[str, pl.DataType]] = {
    "order_id": pl.Int64(),
    "ts": _TS,
    "symbol": pl.String(),
    "side": pl.Int8(),
    "type": pl.String(),
    "quantity": pl.Float64(),
    "price": pl.Float64(),
    "stop_price": pl.Float64(),
    "status": pl.String(),
    "filled_quantity": pl.Float64(),
    "avg_price": pl.Float64(),
    "reason": pl.String(),
    "tag": pl.String(),
}
"""Columns of the orders frame: every order submitted, in its final state."""

FILLS_SCHEMA: Final[dict[str, pl.DataType]] = {
    "ts": _TS,
    "order_id": pl.Int64(),
    "symbol": pl.String(),
    "side": pl.Int8(),
    "quantity": pl.Float64(),
    "price": pl.Float64(),
    "fee": pl.Float64(),
}
"""Columns of the fills frame: one row per execution."""

POSITIONS_SCHEMA: Final[dict[str, pl.DataType]] = {
    "symbol": pl.String(),
    "quantity": pl.Float64(),
    "avg_price": pl.Float64(),
    "last_price": pl.Float64(),
    "market_value": pl.Float64(),
    "unrealized_pnl": pl.Float64(),
    "realized_pnl": pl.Float64(),
}
"""Columns of the positions frame: final state, one row per symbol traded."""

_FRAMES: Final[dict[str, dict[str, pl.DataType]]] = {
    "equity": EQUITY_SCHEMA,
    "trades": TRADES_SCHEMA,
    "orders": ORDERS_SCHEMA,
    "fills": FILLS_SCHEMA,
    "positions": POSITIONS_SCHEMA,
}
_FORMAT: Final = "neural-trader.backtest-result"
_FORMAT_VERSION: Final = 1


# ---------------------------------------------------------------------------------------------
# Helpers
def _frame(frame: Any, name: str) -> pl.DataFrame:
    """Check a result frame; a frame with no columns at all becomes the empty canonical frame."""
    schema = _FRAMES[name]
    checked = _require(frame, name, tuple(schema))
    if checked.width == 0 and checked.height == 0:
        return pl.DataFrame(schema=schema)
    return checked


def _current_versions() -> dict[str, str]:
    """Versions of the software a result is produced with (looked up once per process)."""
    return dict(_versions_once())


@functools.lru_cache(maxsize=1)
def _versions_once() -> dict[str, str]:
    try:
        import neural_trader

        nt_version = str(getattr(neural_trader, "__version__", "unknown"))
    except ImportError:  # pragma: no cover - the compiled core is missing
        nt_version = "unknown"
    return {
        "neural_trader": nt_version,
        "numpy": np.__version__,
        "polars": pl.__version__,
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "platform": platform.platform(),
    }


def _jsonable(obj: Any) -> Any:
    """``obj`` converted to plain JSON values (strict JSON: NaN becomes null, infinities strings)."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, Enum):
        return _jsonable(obj.value)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        if math.isnan(v):
            return None
        if math.isinf(v):
            return "Infinity" if v > 0 else "-Infinity"
        return v
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (set, frozenset)):
        items = [_jsonable(v) for v in obj]
        try:
            return sorted(items)
        except TypeError:
            return sorted(items, key=repr)
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (datetime, date)):
        return obj.isoformat()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return repr(obj)


def _format_stat(value: Any) -> str:
    """An engine statistic as display text on one line (long lists are cut after ten items)."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if not math.isfinite(v):
            return str(v)
        return f"{v:,.2f}" if abs(v) >= 100 else f"{v:.4g}"
    if isinstance(value, Mapping):
        text = ", ".join(f"{k}={_format_stat(v)}" for k, v in value.items())
    elif isinstance(value, (list, tuple)):
        shown = ", ".join(
            "(" + ", ".join(map(_format_stat, v)) + ")" if isinstance(v, (list, tuple)) else _format_stat(v)
            for v in value[:10]
        )
        text = f"[{shown}{', ...' if len(value) > 10 else ''}]"
        if len(value) > 10:
            text += f" ({len(value)} items)"
    else:
        text = " ".join(str(value).split())
    return text if len(text) <= 200 else text[:197] + "..."


def _format_ts(ns: int) -> str:
    dt = datetime.fromtimestamp(ns // 1_000_000_000, tz=timezone.utc)
    if ns % 86_400_000_000_000 == 0:
        return dt.strftime("%Y-%m-%d")
    return dt.strftime("%Y-%m-%d %H:%M:%S")


# ---------------------------------------------------------------------------------------------
class BacktestResult:
    """Frames, metrics, summary, charts and persistence of one backtest run.

    Parameters
    ----------
    equity, trades, orders, fills, positions : polars.DataFrame
        The result frames with (at least) the columns of :data:`EQUITY_SCHEMA`,
        :data:`TRADES_SCHEMA`, :data:`ORDERS_SCHEMA`, :data:`FILLS_SCHEMA` and
        :data:`POSITIONS_SCHEMA`. A frame with no columns (``pl.DataFrame()``) stands for an empty
        one. ``equity`` must be sorted by ``ts``.
    initial_cash : float
        Cash at the start of the run (positive).
    config : mapping, optional
        The run's configuration (strategy parameters, costs, fill policy...), kept as given and
        shown in the report; saved as JSON.
    seed : int, optional
        Seed of the run's random choices, if any.
    stats : mapping, optional
        Engine statistics (bars processed, wall time, bars per second, rejected orders, distinct
        symbol and order-id estimates, heavy hitters...), shown as given.
    periods_per_year : float, optional
        Steps per year for annualised metrics; inferred from the timestamps when not given (see
        :mod:`neural_trader.metrics`).
    risk_free : float, default 0.0
        Annual risk-free rate for the Sharpe and Sortino ratios.
    versions : mapping, optional
        Versions of the software that produced the result; defaults to the running environment
        (neural_trader, numpy, polars, python, platform). :meth:`load` passes the saved ones.

    Notes
    -----
    Instances pickle (the frames and the cached metrics are plain attributes).
    """

    def __init__(
        self,
        equity: pl.DataFrame,
        trades: pl.DataFrame,
        orders: pl.DataFrame,
        fills: pl.DataFrame,
        positions: pl.DataFrame,
        *,
        initial_cash: float,
        config: Mapping[str, Any] | None = None,
        seed: int | None = None,
        stats: Mapping[str, Any] | None = None,
        periods_per_year: float | None = None,
        risk_free: float = 0.0,
        versions: Mapping[str, str] | None = None,
    ) -> None:
        self._equity = _frame(equity, "equity")
        self._trades = _frame(trades, "trades")
        self._orders = _frame(orders, "orders")
        self._fills = _frame(fills, "fills")
        self._positions = _frame(positions, "positions")
        if isinstance(initial_cash, bool) or not isinstance(
            initial_cash, (int, float, np.integer, np.floating)
        ):
            raise DTypeError(f"initial_cash must be a number, got {type(initial_cash).__name__}")
        if not (math.isfinite(float(initial_cash)) and float(initial_cash) > 0):
            raise InvalidArgumentError(f"initial_cash must be positive and finite, got {initial_cash!r}")
        for label, mapping in (("config", config), ("stats", stats), ("versions", versions)):
            if mapping is not None and not isinstance(mapping, Mapping):
                raise DTypeError(f"{label} must be a mapping, got {type(mapping).__name__}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise DTypeError(f"seed must be an int or None, got {type(seed).__name__}")
        if periods_per_year is not None and not (
            math.isfinite(float(periods_per_year)) and float(periods_per_year) > 0
        ):
            raise InvalidArgumentError(
                f"periods_per_year must be positive and finite, got {periods_per_year!r}"
            )
        if not (math.isfinite(float(risk_free)) and float(risk_free) > -1):
            raise InvalidArgumentError(f"risk_free must be a finite annual rate above -1, got {risk_free!r}")
        if self._equity.height:
            ts = _timestamps_ns(self._equity["ts"], "ts")
            if ts.size > 1 and bool(np.any(np.diff(ts) < 0)):
                raise InvalidArgumentError("equity frame must be sorted by ts")

        self.initial_cash: float = float(initial_cash)
        self.config: dict[str, Any] = dict(config) if config is not None else {}
        self.seed: int | None = int(seed) if seed is not None else None
        self.stats: dict[str, Any] = dict(stats) if stats is not None else {}
        self.periods_per_year: float | None = (
            float(periods_per_year) if periods_per_year is not None else None
        )
        self.risk_free: float = float(risk_free)
        self.versions: dict[str, str] = (
            {str(k): str(v) for k, v in versions.items()} if versions is not None else _current_versions()
        )
        self._metrics: dict[str, float | int] | None = None

    # -- frames -----------------------------------------------------------------------------
    @property
    def equity(self) -> pl.DataFrame:
        """Equity curve: one row per step (:data:`EQUITY_SCHEMA`)."""
        return self._equity

    @property
    def trades(self) -> pl.DataFrame:
        """Closed round trips (:data:`TRADES_SCHEMA`)."""
        return self._trades

    @property
    def orders(self) -> pl.DataFrame:
        """Every order in its final state (:data:`ORDERS_SCHEMA`)."""
        return self._orders

    @property
    def fills(self) -> pl.DataFrame:
        """Executions (:data:`FILLS_SCHEMA`)."""
        return self._fills

    @property
    def positions(self) -> pl.DataFrame:
        """Final positions, one row per symbol traded (:data:`POSITIONS_SCHEMA`)."""
        return self._positions

    # -- metrics ----------------------------------------------------------------------------
    @property
    def metrics(self) -> dict[str, float | int]:
        """Performance metrics (a copy of the cached dictionary; keys of
        :data:`neural_trader.metrics.METRIC_NAMES`, conventions in :mod:`neural_trader.metrics`)."""
        if self._metrics is None:
            self._metrics = compute_metrics(
                self._equity,
                self._trades,
                self._fills,
                initial_cash=self.initial_cash,
                periods_per_year=self.periods_per_year,
                risk_free=self.risk_free,
            )
        return dict(self._metrics)

    def to_dict(self) -> dict[str, float | int]:
        """The metrics as a plain dictionary (same as :attr:`metrics`)."""
        return self.metrics

    @property
    def n_bars(self) -> int:
        """Number of steps (rows of the equity frame)."""
        return self._equity.height

    @property
    def start(self) -> datetime | None:
        """Time of the first step (UTC), None without steps."""
        return self._bound(0)

    @property
    def end(self) -> datetime | None:
        """Time of the last step (UTC), None without steps."""
        return self._bound(-1)

    def _bound(self, i: int) -> datetime | None:
        if not self._equity.height:
            return None
        ns = int(_timestamps_ns(self._equity["ts"][i : i + 1 if i >= 0 else None])[0])
        return datetime.fromtimestamp(ns // 1_000_000_000, tz=timezone.utc).replace(
            microsecond=(ns % 1_000_000_000) // 1000
        )

    def _period_text(self) -> str:
        if not self._equity.height:
            return "no steps"
        ts = _timestamps_ns(self._equity["ts"])
        t0, t1 = int(ts[0]), int(ts[-1])
        return f"{_format_ts(t0)} -> {_format_ts(t1)} UTC ({format_duration(t1 - t0)})"

    # -- orders -----------------------------------------------------------------------------
    def _status_counts(self) -> list[tuple[str, int]]:
        if not self._orders.height:
            return []
        counts = (
            self._orders.group_by("status")
            .agg(pl.len().alias("n"))
            .sort(["n", "status"], descending=[True, False], nulls_last=True)
        )
        return [(str(s), int(n)) for s, n in counts.iter_rows()]

    def rejections(self) -> dict[str, int]:
        """Rejected orders counted by reason (most frequent first; a missing reason counts as
        ``"unspecified"``)."""
        rejected = self._orders.filter(pl.col("status") == "rejected")
        if not rejected.height:
            return {}
        counts = (
            rejected.with_columns(pl.col("reason").fill_null("unspecified"))
            .group_by("reason")
            .agg(pl.len().alias("n"))
            .sort(["n", "reason"], descending=[True, False])
        )
        return {str(r): int(n) for r, n in counts.iter_rows()}

    # -- text -------------------------------------------------------------------------------
    def _trade_text(self) -> str:
        n = self._trades.height
        if not n:
            return "0"
        pnl = self._trades["pnl"]
        won = int((pnl > 0).sum())
        lost = int((pnl < 0).sum())
        direction = self._trades["direction"]
        longs = int((direction == "long").sum())
        shorts = int((direction == "short").sum())
        return f"{n:,} ({won:,} won, {lost:,} lost; {longs:,} long, {shorts:,} short)"

    def _order_text(self) -> str:
        counts = self._status_counts()
        total = sum(n for _, n in counts)
        if not total:
            return "0"
        return f"{total:,} (" + ", ".join(f"{s} {n:,}" for s, n in counts) + ")"

    def summary(self) -> str:
        """A readable multi-line summary: period, steps, equity, every metric, trade and order
        counts, rejections by reason, the seed and the engine statistics."""
        m = self.metrics
        rows: list[tuple[str, str]] = [
            ("Period", self._period_text()),
            ("Bars", f"{self.n_bars:,}"),
            ("Initial cash", f"{self.initial_cash:,.2f}"),
        ]
        rows.extend((METRIC_LABELS[k], format_metric(k, m[k])) for k in METRIC_NAMES if k != "n_trades")
        rows.append(("Trades", self._trade_text()))
        rows.append(("Orders", self._order_text()))
        rej = self.rejections()
        rows.append(("Rejections", ", ".join(f"{r} {n:,}" for r, n in rej.items()) if rej else "none"))
        rows.append(("Fills", f"{self._fills.height:,}"))
        rows.append(("Seed", str(self.seed) if self.seed is not None else "none"))
        width = max(len(k) for k, _ in rows)
        lines = ["Backtest result", "=" * 15]
        lines.extend(f"{k:<{width}}  {v}" for k, v in rows)
        if self.stats:
            lines.append("")
            lines.append("Engine statistics")
            lines.append("-" * 17)
            swidth = max(len(str(k)) for k in self.stats)
            lines.extend(f"{k!s:<{swidth}}  {_format_stat(v)}" for k, v in self.stats.items())
        return "\n".join(lines)

    def __repr__(self) -> str:
        m = self.metrics
        return (
            f"BacktestResult(final_equity={float(m['final_equity']):,.2f}, "
            f"total_return={format_metric('total_return', m['total_return'])}, "
            f"sharpe={format_metric('sharpe', m['sharpe'])}, "
            f"max_drawdown={format_metric('max_drawdown', m['max_drawdown'])}, "
            f"n_trades={int(m['n_trades'])})"
        )

    def __str__(self) -> str:
        return self.summary()

    # -- charts -----------------------------------------------------------------------------
    def _curve(self) -> tuple[np.ndarray[Any, np.dtype[np.int64]], np.ndarray[Any, np.dtype[np.float64]]]:
        if not self._equity.height:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
        ts = _timestamps_ns(self._equity["ts"])
        eq = self._equity["equity"].cast(pl.Float64).to_numpy().astype(np.float64, copy=False)
        return ts, eq

    def _html(self, title: str) -> str:
        m = self.metrics
        ts, eq = self._curve()
        svg = _report.render_svg(ts, eq, title=None)
        period = self._period_text()
        run_rows = [
            ("Period", period),
            ("Bars", f"{self.n_bars:,}"),
            ("Initial cash", f"{self.initial_cash:,.2f}"),
            ("Seed", str(self.seed) if self.seed is not None else "none"),
            (
                "Periods per year",
                f"{self.periods_per_year:g}" if self.periods_per_year is not None else "inferred",
            ),
            ("Risk-free rate", f"{self.risk_free * 100:.2f}%"),
            ("Trades", self._trade_text()),
            ("Orders", self._order_text()),
            ("Fills", f"{self._fills.height:,}"),
        ]
        run_rows.extend((f"Rejected: {r}", f"{n:,}") for r, n in self.rejections().items())
        tables: list[tuple[str, list[tuple[str, str]]]] = [
            ("Performance", [(METRIC_LABELS[k], format_metric(k, m[k])) for k in METRIC_NAMES]),
            ("Run", run_rows),
        ]
        if self.stats:
            tables.append(("Engine statistics", [(str(k), _format_stat(v)) for k, v in self.stats.items()]))
        tables.append(("Versions", list(self.versions.items())))
        config_text = json.dumps(_jsonable(self.config), indent=2, sort_keys=True) if self.config else "{}"
        subtitle = (
            f"{period} | final equity {format_metric('final_equity', m['final_equity'])}"
            f" | return {format_metric('total_return', m['total_return'])}"
            f" | Sharpe {format_metric('sharpe', m['sharpe'])}"
            f" | max drawdown {format_metric('max_drawdown', m['max_drawdown'])}"
        )
        return _report.render_html(
            title=title, subtitle=subtitle, svg=svg, tables=tables, blocks=[("Configuration", config_text)]
        )

    @overload
    def plot(self, path: None = None, *, title: str | None = None) -> str: ...

    @overload
    def plot(self, path: str | os.PathLike[str], *, title: str | None = None) -> Path: ...

    def plot(self, path: str | os.PathLike[str] | None = None, *, title: str | None = None) -> str | Path:
        """Chart of the equity curve and its drawdown, or the full HTML report.

        Parameters
        ----------
        path : str or path-like, optional
            Where to write, by extension: ``.html`` / ``.htm`` a self-contained HTML report (inline
            SVG charts, metrics, run details, configuration, seed and versions), ``.svg`` the
            chart alone, ``.png`` a matplotlib rendering (needs the ``plot`` extra). With no path
            nothing is written and the HTML report is returned as a string.
        title : str, optional
            Title of the chart / report (default ``"Backtest result"``).

        Returns
        -------
        str or pathlib.Path
            The HTML text when ``path`` is None, else the path written.

        Raises
        ------
        InvalidArgumentError
            Unsupported extension.
        ImportError
            A PNG was asked for and matplotlib is not installed.
        """
        heading = title if title is not None else "Backtest result"
        if path is None:
            return self._html(heading)
        if not isinstance(path, (str, os.PathLike)):
            raise DTypeError(f"path must be a str or path-like, got {type(path).__name__}")
        target = Path(path)
        suffix = target.suffix.lower()
        if suffix in (".html", ".htm"):
            target.write_text(self._html(heading), encoding="utf-8")
        elif suffix == ".svg":
            ts, eq = self._curve()
            target.write_text(_report.render_svg(ts, eq, title=heading) + "\n", encoding="utf-8")
        elif suffix == ".png":
            ts, eq = self._curve()
            _report.render_png(target, ts, eq, title=heading)
        else:
            raise InvalidArgumentError(f"cannot plot to {target.name!r}: use a .html, .svg or .png path")
        return target

    # -- persistence ------------------------------------------------------------------------
    def save(self, directory: str | os.PathLike[str]) -> dict[str, Path]:
        """Write the result to ``directory`` (created if needed; existing files are replaced).

        Files: ``equity.parquet``, ``trades.parquet``, ``orders.parquet``, ``fills.parquet``,
        ``positions.parquet``, ``metrics.json``, ``run.json`` (initial cash, config, seed,
        periods per year, risk-free rate, stats, versions) and ``report.html``. The JSON files are
        strict JSON: NaN is written as ``null`` and infinities as the strings ``"Infinity"`` /
        ``"-Infinity"``; values JSON cannot hold (tuples, numpy scalars, paths, dates...) become
        their nearest JSON form, so a loaded ``config`` / ``stats`` may differ in type from the
        original (lists for tuples, for instance).

        Returns
        -------
        dict
            Written path by kind: ``equity``, ``trades``, ``orders``, ``fills``, ``positions``,
            ``metrics``, ``run``, ``report``.
        """
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        paths: dict[str, Path] = {}
        for name, frame in self._frames().items():
            p = out / f"{name}.parquet"
            frame.write_parquet(p)
            paths[name] = p
        p = out / "metrics.json"
        p.write_text(json.dumps(_jsonable(self.metrics), indent=2) + "\n", encoding="utf-8")
        paths["metrics"] = p
        run = {
            "format": _FORMAT,
            "format_version": _FORMAT_VERSION,
            "initial_cash": self.initial_cash,
            "seed": self.seed,
            "periods_per_year": self.periods_per_year,
            "risk_free": self.risk_free,
            "config": self.config,
            "stats": self.stats,
            "versions": self.versions,
        }
        p = out / "run.json"
        p.write_text(json.dumps(_jsonable(run), indent=2) + "\n", encoding="utf-8")
        paths["run"] = p
        p = out / "report.html"
        p.write_text(self._html("Backtest result"), encoding="utf-8")
        paths["report"] = p
        return paths

    def _frames(self) -> dict[str, pl.DataFrame]:
        return {
            "equity": self._equity,
            "trades": self._trades,
            "orders": self._orders,
            "fills": self._fills,
            "positions": self._positions,
        }

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> BacktestResult:
        """Read back a result written by :meth:`save`.

        Raises
        ------
        FileNotFoundError
            ``directory`` does not exist, or lacks one of the parquet files or ``run.json``
            (``metrics.json`` and ``report.html`` are not needed: metrics are recomputed).
        CorruptDataError
            A file cannot be read or does not hold what :meth:`save` writes.
        """
        src = Path(directory)
        if not src.is_dir():
            raise FileNotFoundError(f"no saved backtest result at {os.fspath(src)!r}: not a directory")
        needed = [f"{name}.parquet" for name in _FRAMES] + ["run.json"]
        missing = [f for f in needed if not (src / f).is_file()]
        if missing:
            raise FileNotFoundError(
                f"{os.fspath(src)!r} is not a complete saved backtest result: missing {', '.join(missing)}"
            )
        try:
            run = json.loads((src / "run.json").read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CorruptDataError(f"run.json in {os.fspath(src)!r} is not valid JSON: {exc}") from None
        if not isinstance(run, dict) or run.get("format") != _FORMAT:
            raise CorruptDataError(f"run.json in {os.fspath(src)!r} does not describe a backtest result")
        if run.get("format_version") != _FORMAT_VERSION:
            raise CorruptDataError(
                f"run.json in {os.fspath(src)!r} has format version {run.get('format_version')!r}; "
                f"this neural-trader reads version {_FORMAT_VERSION}"
            )
        frames: dict[str, pl.DataFrame] = {}
        for name in _FRAMES:
            try:
                frames[name] = pl.read_parquet(src / f"{name}.parquet")
            except (OSError, pl.exceptions.PolarsError) as exc:
                raise CorruptDataError(
                    f"{name}.parquet in {os.fspath(src)!r} cannot be read: {exc}"
                ) from None
        try:
            return cls(
                frames["equity"],
                frames["trades"],
                frames["orders"],
                frames["fills"],
                frames["positions"],
                initial_cash=run["initial_cash"],
                config=run.get("config") or {},
                seed=run.get("seed"),
                stats=run.get("stats") or {},
                periods_per_year=run.get("periods_per_year"),
                risk_free=run.get("risk_free", 0.0),
                versions=run.get("versions") or {},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptDataError(f"saved backtest result in {os.fspath(src)!r} is invalid: {exc}") from None


def compare(results: Mapping[str, BacktestResult]) -> pl.DataFrame:
    """The metrics of several results side by side.

    Parameters
    ----------
    results : mapping of str to BacktestResult
        Results by name (e.g. strategy or parameter set); the order is kept.

    Returns
    -------
    polars.DataFrame
        One row per result: a ``name`` column, then one column per metric
        (:data:`neural_trader.metrics.METRIC_NAMES`; Int64 for counts and durations, Float64 else).
    """
    if not isinstance(results, Mapping):
        raise DTypeError(f"results must be a mapping of name to BacktestResult, got {type(results).__name__}")
    schema: dict[str, pl.DataType] = {"name": pl.String()}
    schema.update({k: pl.Int64() if k in INT_METRICS else pl.Float64() for k in METRIC_NAMES})
    rows: list[dict[str, Any]] = []
    for name, res in results.items():
        if not isinstance(res, BacktestResult):
            raise DTypeError(f"results[{name!r}] is a {type(res).__name__}, not a BacktestResult")
        rows.append({"name": str(name), **res.metrics})
    return pl.DataFrame(rows, schema=schema)
