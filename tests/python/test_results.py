"""BacktestResult: summary, HTML/SVG/PNG report, persistence, pickling and compare().

Built from small hand-made frames in the result schema (no backtester needed).
"""

from __future__ import annotations

import itertools
import json
import math
import pickle
import re
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from neural_trader import _report
from neural_trader.errors import CorruptDataError, DTypeError, InvalidArgumentError
from neural_trader.metrics import METRIC_NAMES, compute_metrics
from neural_trader.results import (
    EQUITY_SCHEMA,
    FILLS_SCHEMA,
    ORDERS_SCHEMA,
    POSITIONS_SCHEMA,
    TRADES_SCHEMA,
    BacktestResult,
    compare,
)
from polars.testing import assert_frame_equal

DAY = 86_400 * 10**9
MINUTE = 60 * 10**9
T0 = 1_704_067_200 * 10**9  # 2024-01-01 00:00 UTC
TS = pl.Datetime("ns", "UTC")
SVG_NS = "{http://www.w3.org/2000/svg}"
NAN = math.nan


def ts_series(values: Any) -> pl.Series:
    return pl.Series(np.asarray(values, dtype=np.int64)).cast(TS)


def equity_frame(values: Any, ts: Any = None) -> pl.DataFrame:
    eq = np.asarray(values, dtype=np.float64)
    if ts is None:
        ts = T0 + np.arange(eq.size, dtype=np.int64) * DAY
    gross = np.where(np.arange(eq.size) % 2 == 0, 0.0, eq * 0.5)
    return pl.DataFrame(
        {
            "ts": ts_series(ts),
            "cash": eq - gross,
            "equity": eq,
            "gross_exposure": gross,
            "net_exposure": gross,
        },
        schema=EQUITY_SCHEMA,
    )


def make_result(equity: pl.DataFrame | None = None, **kwargs: Any) -> BacktestResult:
    equity = equity if equity is not None else equity_frame([100_000, 101_000, 99_000, 102_000, 103_500])
    trades = pl.DataFrame(
        {
            "symbol": ["AAPL", "MSFT", "AAPL"],
            "direction": ["long", "short", "long"],
            "quantity": [10.0, 5.0, 3.0],
            "entry_ts": ts_series([T0, T0 + DAY, T0 + 2 * DAY]),
            "entry_price": [100.0, 50.0, 80.0],
            "exit_ts": ts_series([T0 + DAY, T0 + 3 * DAY, T0 + 4 * DAY]),
            "exit_price": [110.0, 55.0, 70.0],
            "pnl": [99.0, -26.0, -31.0],
            "fees": [1.0, 1.0, 1.0],
            "return_pct": [0.099, -0.104, -0.129],
            "bars_held": [1, 2, 2],
        },
        schema=TRADES_SCHEMA,
    )
    orders = pl.DataFrame(
        {
            "order_id": [1, 2, 3, 4, 5, 6],
            "ts": ts_series([T0, T0, T0 + DAY, T0 + DAY, T0 + 2 * DAY, T0 + 3 * DAY]),
            "symbol": ["AAPL", "AAPL", "MSFT", "MSFT", "AAPL", "AAPL"],
            "side": [1, -1, -1, 1, 1, -1],
            "type": ["market", "market", "limit", "market", "stop", "limit"],
            "quantity": [10.0, 10.0, 5.0, 500.0, 700.0, 3.0],
            "price": [NAN, NAN, 51.0, NAN, NAN, 120.0],
            "stop_price": [NAN, NAN, NAN, NAN, 85.0, NAN],
            "status": ["filled", "filled", "rejected", "rejected", "rejected", "cancelled"],
            "filled_quantity": [10.0, 10.0, 0.0, 0.0, 0.0, 0.0],
            "avg_price": [100.0, 110.0, NAN, NAN, NAN, NAN],
            "reason": [None, None, "insufficient_cash", "insufficient_cash", None, "user"],
            "tag": [None, "exit <1>", None, None, None, None],
        },
        schema=ORDERS_SCHEMA,
    )
    fills = pl.DataFrame(
        {
            "ts": ts_series([T0 + DAY, T0 + 2 * DAY]),
            "order_id": [1, 2],
            "symbol": ["AAPL", "AAPL"],
            "side": [1, -1],
            "quantity": [10.0, 10.0],
            "price": [100.0, 110.0],
            "fee": [0.5, 0.55],
        },
        schema=FILLS_SCHEMA,
    )
    positions = pl.DataFrame(
        {
            "symbol": ["AAPL", "MSFT"],
            "quantity": [0.0, -5.0],
            "avg_price": [0.0, 50.0],
            "last_price": [112.0, 51.0],
            "market_value": [0.0, -255.0],
            "unrealized_pnl": [0.0, -5.0],
            "realized_pnl": [99.0, -26.0],
        },
        schema=POSITIONS_SCHEMA,
    )
    defaults: dict[str, Any] = {
        "initial_cash": 100_000.0,
        "config": {"strategy": "sma <fast & slow>", "fast": 10, "slow": 30, "costs": {"fees": 0.001}},
        "seed": 42,
        "stats": {
            "bars_processed": 5,
            "wall_time_s": 0.0123,
            "bars_per_s": 406.5,
            "rejected_orders": 3,
            "heavy_hitters": [("AAPL", 4), ("MSFT", 2)],
        },
    }
    defaults.update(kwargs)
    return BacktestResult(equity, trades, orders, fills, positions, **defaults)


def same_metrics(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a.keys() == b.keys() and all(
        a[k] == b[k] or (isinstance(a[k], float) and math.isnan(a[k]) and math.isnan(b[k])) for k in a
    )


class TagChecker(HTMLParser):
    """Checks that every element is closed in order (void elements excepted)."""

    VOID = frozenset({"meta", "br", "hr", "img", "input", "link"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.seen: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen.add(tag)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:]}")
        else:
            self.stack.pop()


def check_html(text: str) -> None:
    assert text.startswith("<!DOCTYPE html>")
    checker = TagChecker()
    checker.feed(text)
    checker.close()
    assert not checker.errors and not checker.stack
    assert {"html", "head", "body", "title", "svg", "table"} <= checker.seen


def svg_of(text: str) -> ET.Element:
    return ET.fromstring(text[text.index("<svg") : text.index("</svg>") + len("</svg>")])


def check_svg(root: ET.Element) -> None:
    """Every coordinate is a finite number inside the drawing."""
    assert root.tag == f"{SVG_NS}svg"
    width, height = float(root.attrib["width"]), float(root.attrib["height"])
    for el in root.iter():
        for attr in ("x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "width", "height"):
            if attr in el.attrib:
                v = float(el.attrib[attr])
                assert math.isfinite(v)
                assert -1 <= v <= max(width, height) + 1, (el.tag, attr, v)
        if "points" in el.attrib:
            pts = np.array([p.split(",") for p in el.attrib["points"].split()], dtype=np.float64)
            assert np.all(np.isfinite(pts))
            assert np.all((pts[:, 0] >= 0) & (pts[:, 0] <= width) & (pts[:, 1] >= 0) & (pts[:, 1] <= height))


def polyline(root: ET.Element) -> np.ndarray:
    (line,) = [el for el in root.iter(f"{SVG_NS}polyline") if el.attrib.get("class") == "equity"]
    return np.array([p.split(",") for p in line.attrib["points"].split()], dtype=np.float64)


def texts(root: ET.Element) -> list[str]:
    return [el.text or "" for el in root.iter(f"{SVG_NS}text")]


# ---------------------------------------------------------------------------------------------
# Construction and metrics
def test_frames_metrics_and_versions() -> None:
    res = make_result()
    assert res.equity.height == 5 and res.trades.height == 3 and res.orders.height == 6
    assert res.fills.height == 2 and res.positions.height == 2
    expected = compute_metrics(res.equity, res.trades, res.fills, initial_cash=100_000.0)
    assert same_metrics(res.metrics, expected)
    assert list(res.metrics) == list(METRIC_NAMES)
    assert res.metrics["final_equity"] == 103_500.0
    assert res.metrics["max_drawdown"] == pytest.approx(2_000 / 101_000)
    m = res.metrics
    m["final_equity"] = -1.0  # a copy: the cache is untouched
    assert res.metrics["final_equity"] == 103_500.0
    assert same_metrics(res.to_dict(), expected)
    assert res.n_bars == 5
    assert res.start is not None and res.start.isoformat() == "2024-01-01T00:00:00+00:00"
    assert res.end is not None and res.end.isoformat() == "2024-01-05T00:00:00+00:00"
    assert res.rejections() == {"insufficient_cash": 2, "unspecified": 1}
    assert set(res.versions) >= {"neural_trader", "numpy", "polars", "python", "platform"}
    assert res.versions["numpy"] == np.__version__ and res.versions["polars"] == pl.__version__


def test_periods_per_year_and_risk_free_are_used() -> None:
    a = make_result(periods_per_year=252.0, risk_free=0.05)
    b = compute_metrics(
        a.equity, a.trades, a.fills, initial_cash=100_000.0, periods_per_year=252.0, risk_free=0.05
    )
    assert same_metrics(a.metrics, b)
    assert a.metrics["sharpe"] != make_result().metrics["sharpe"]


def test_empty_frames_become_canonical() -> None:
    empty = pl.DataFrame()
    res = BacktestResult(equity_frame([100.0, 100.0]), empty, empty, empty, empty, initial_cash=100.0)
    assert res.trades.schema == pl.Schema(TRADES_SCHEMA)
    assert res.orders.schema == pl.Schema(ORDERS_SCHEMA)
    assert res.metrics["n_trades"] == 0 and math.isnan(res.metrics["win_rate"])
    assert res.rejections() == {}
    assert re.search(r"^Trades +0$", res.summary(), re.MULTILINE) and re.search(
        r"^Rejections +none$", res.summary(), re.MULTILINE
    )
    check_html(res.plot())


def test_constructor_rejects_bad_input() -> None:
    res = make_result()
    frames = [res.equity, res.trades, res.orders, res.fills, res.positions]
    with pytest.raises(DTypeError):
        BacktestResult(res.equity.to_dict(), *frames[1:], initial_cash=1.0)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="net_exposure"):
        BacktestResult(res.equity.drop("net_exposure"), *frames[1:], initial_cash=1.0)
    with pytest.raises(InvalidArgumentError, match="reason"):
        BacktestResult(*frames[:2], res.orders.drop("reason"), *frames[3:], initial_cash=1.0)
    with pytest.raises(InvalidArgumentError, match="sorted"):
        BacktestResult(res.equity.reverse(), *frames[1:], initial_cash=1.0)
    with pytest.raises(InvalidArgumentError):
        BacktestResult(*frames, initial_cash=0.0)
    with pytest.raises(DTypeError):
        BacktestResult(*frames, initial_cash="100")  # type: ignore[arg-type]
    with pytest.raises(DTypeError):
        BacktestResult(*frames, initial_cash=1.0, seed=1.5)  # type: ignore[arg-type]
    with pytest.raises(DTypeError):
        BacktestResult(*frames, initial_cash=1.0, config=[1, 2])  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        BacktestResult(*frames, initial_cash=1.0, periods_per_year=0.0)


# ---------------------------------------------------------------------------------------------
# Text
def test_summary_holds_the_key_figures() -> None:
    res = make_result()
    text = res.summary()
    lines = text.splitlines()
    assert lines[0] == "Backtest result"
    rows = {
        line[:22].strip(): line[23:].strip()
        for line in lines[2:]
        if line and not line.startswith(("-", "Engine"))
    }
    assert rows["Period"] == "2024-01-01 -> 2024-01-05 UTC (4d 00:00:00)"
    assert rows["Bars"] == "5"
    assert rows["Initial cash"] == "100,000.00"
    assert rows["Final equity"] == "103,500.00"
    assert rows["Total return"] == "3.50%"
    assert rows["Max drawdown"] == f"{2_000 / 101_000 * 100:.2f}%"
    assert rows["Max drawdown bars"] == "2"
    assert rows["Win rate"] == "33.33%"
    assert rows["Sharpe ratio"] == f"{res.metrics['sharpe']:.2f}"
    assert rows["Trades"] == "3 (1 won, 2 lost; 2 long, 1 short)"
    assert rows["Orders"] == "6 (rejected 3, filled 2, cancelled 1)"
    assert rows["Rejections"] == "insufficient_cash 2, unspecified 1"
    assert rows["Seed"] == "42"
    # values line up in one column
    starts = {len(line) - len(line.split("  ")[-1].lstrip()) for line in lines[2:27] if "  " in line}
    assert len(starts) == 1
    assert "Engine statistics" in text
    assert re.search(r"^bars_processed\s+5$", text, re.MULTILINE)
    assert re.search(r"^heavy_hitters\s+\[\(AAPL, 4\), \(MSFT, 2\)\]$", text, re.MULTILINE)
    assert str(res) == text
    odd = make_result(stats={"hist": np.arange(25), "note": "two\nlines", "counts": {"a": 1, "b": 2.5}})
    stats = odd.summary().split("Engine statistics")[1]
    assert re.search(r"^hist +\[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, \.\.\.\] \(25 items\)$", stats, re.MULTILINE)
    assert re.search(r"^note +two lines$", stats, re.MULTILINE)
    assert re.search(r"^counts +a=1, b=2\.5$", stats, re.MULTILINE)


def test_repr_is_one_line() -> None:
    res = make_result()
    text = repr(res)
    assert "\n" not in text
    assert text.startswith("BacktestResult(final_equity=103,500.00, total_return=3.50%, sharpe=")
    assert f"max_drawdown={2_000 / 101_000 * 100:.2f}%" in text and text.endswith("n_trades=3)")


# ---------------------------------------------------------------------------------------------
# Report and charts
def test_html_report_is_well_formed_and_escaped(tmp_path: Path) -> None:
    res = make_result()
    text = res.plot(title="SMA <10/30> & co")
    check_html(text)
    assert "<10/30>" not in text and "SMA &lt;10/30&gt; &amp; co" in text
    assert "sma &lt;fast &amp; slow&gt;" in text  # the configuration, escaped
    root = svg_of(text)
    check_svg(root)
    for figure in (
        "103,500.00",
        "3.50%",
        "Sharpe ratio",
        "42",
        np.__version__,
        "insufficient_cash",
        "bars_per_s",
    ):
        assert figure in text
    path = res.plot(tmp_path / "report.html")
    assert path == tmp_path / "report.html"
    assert path.read_text(encoding="utf-8") == res.plot(title="Backtest result")


def test_svg_file_and_chart_geometry(tmp_path: Path) -> None:
    res = make_result()
    path = res.plot(tmp_path / "chart.svg", title="a < b")
    root = ET.parse(path).getroot()
    check_svg(root)
    assert "a < b" in texts(root)
    pts = polyline(root)
    assert len(pts) == 5
    assert np.all(np.diff(pts[:, 0]) > 0)  # time runs left to right
    # the highest equity is drawn highest (smallest y), the lowest lowest
    eq = res.equity["equity"].to_numpy()
    assert np.argmin(pts[:, 1]) == np.argmax(eq) and np.argmax(pts[:, 1]) == np.argmin(eq)
    # dates on the time axis for daily bars
    labels = [t for t in texts(root) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", t)]
    assert labels == ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]


def test_long_curve_is_downsampled_and_keeps_spikes() -> None:
    n = 50_000
    rng = np.random.default_rng(0)
    eq = 1_000 + np.cumsum(rng.normal(0, 1, n))
    spike = 31_337
    base = eq.copy()
    eq[spike] = eq.max() + 500  # a one-step spike
    ts = T0 + np.arange(n, dtype=np.int64) * MINUTE
    with_spike = svg_of(_report.render_svg(ts, eq))
    check_svg(with_spike)
    pts = polyline(with_spike)
    assert len(pts) <= 2_000
    top = np.argmin(pts[:, 1])
    ys = np.sort(pts[:, 1])
    assert ys[1] - ys[0] > 50  # the spike stands far above every other drawn point
    plain = polyline(svg_of(_report.render_svg(ts, base)))
    assert 1_000 <= len(plain) <= 2_000
    assert pts[top, 0] == pytest.approx(88 + spike / (n - 1) * (960 - 88 - 24), abs=0.01)


@pytest.mark.parametrize("seed", range(3))
def test_downsample_minmax_keeps_every_bucket_extreme(seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = rng.normal(size=int(rng.integers(5_000, 20_000)))
    idx = _report.downsample_minmax(values, 500)
    assert idx.size <= 500 and idx[0] == 0 and idx[-1] == values.size - 1
    assert np.all(np.diff(idx) > 0)
    assert values.argmax() in idx and values.argmin() in idx
    # brute force: with equal buckets over the interior, each bucket's min and max are kept
    edges = np.linspace(1, values.size - 1, (500 - 2) // 2 + 1).astype(np.int64)
    kept = set(idx.tolist())
    for a, b in itertools.pairwise(edges):
        seg = values[a:b]
        assert a + int(seg.argmin()) in kept and a + int(seg.argmax()) in kept
    short = np.arange(10.0)
    assert _report.downsample_minmax(short, 500).tolist() == list(range(10))


@pytest.mark.parametrize(
    ("start", "span", "pattern"),
    [
        (T0, 500 * DAY, r"\d{4}-\d{2}"),
        (T0 + 7 * 3_600 * 10**9, 20 * DAY, r"\d{4}-\d{2}-\d{2}"),
        (T0 + 9 * 3_600 * 10**9, 390 * MINUTE, r"\d{2}:\d{2}"),
        (T0, 3 * DAY + 5 * 3_600 * 10**9, r"\d{2}-\d{2} \d{2}:\d{2}"),
        (T0 + 123, 45 * 10**9, r"\d{2}:\d{2}:\d{2}"),
        (T0, 40 * 365 * DAY, r"\d{4}"),
    ],
)
def test_time_ticks_are_round_and_readable(start: int, span: int, pattern: str) -> None:
    ticks, fmt = _report._time_ticks(start, start + span)
    assert 2 <= len(ticks) <= 7
    assert all(start <= t <= start + span for t in ticks)
    assert ticks == sorted(ticks)
    labels = [_report._time_label(t, fmt) for t in ticks]
    assert all(re.fullmatch(pattern, label) for label in labels), labels
    assert len(set(labels)) == len(labels)


@pytest.mark.parametrize("values", [[], [100.0], [100.0] * 10, [100.0, 90.0, NAN, 95.0]])
def test_svg_edge_cases_have_no_bad_coordinates(values: list[float]) -> None:
    ts = T0 + np.arange(len(values), dtype=np.int64) * DAY
    text = _report.render_svg(ts, np.asarray(values, dtype=np.float64), title="edge")
    assert "nan" not in text.lower() and "inf" not in text.lower()
    check_svg(ET.fromstring(text))


def test_png(tmp_path: Path) -> None:
    res = make_result()
    path = res.plot(tmp_path / "chart.png", title="SMA")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 5_000


def test_png_without_matplotlib_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)
    with pytest.raises(ImportError, match=re.escape('pip install "neural-trader[plot]"')):
        make_result().plot(tmp_path / "chart.png")
    assert not (tmp_path / "chart.png").exists()


def test_plot_rejects_unknown_extension(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="html"):
        make_result().plot(tmp_path / "chart.pdf")


# ---------------------------------------------------------------------------------------------
# Persistence
def test_save_load_round_trip(tmp_path: Path) -> None:
    res = make_result(periods_per_year=252.0, risk_free=0.01)
    paths = res.save(tmp_path / "run")
    assert set(paths) == {"equity", "trades", "orders", "fills", "positions", "metrics", "run", "report"}
    assert all(p.is_file() for p in paths.values())
    back = BacktestResult.load(tmp_path / "run")
    for name in ("equity", "trades", "orders", "fills", "positions"):
        assert_frame_equal(getattr(back, name), getattr(res, name))
    assert same_metrics(back.metrics, res.metrics)
    assert back.seed == 42 and back.initial_cash == 100_000.0
    assert back.periods_per_year == 252.0 and back.risk_free == 0.01
    assert back.config == res.config
    assert back.versions == res.versions
    assert back.stats["heavy_hitters"] == [["AAPL", 4], ["MSFT", 2]]  # tuples come back as lists
    # strict JSON: no NaN/Infinity tokens
    strict: dict[str, Any] = json.loads(
        paths["metrics"].read_text(), parse_constant=lambda c: pytest.fail(f"non-standard JSON {c}")
    )
    assert strict["final_equity"] == 103_500.0 and strict["n_trades"] == 3
    check_html(paths["report"].read_text(encoding="utf-8"))


def test_save_handles_non_finite_and_odd_values(tmp_path: Path) -> None:
    equity = equity_frame([100.0, 101.0, 102.0])
    res = make_result(
        equity, config={"path": tmp_path, "nan": NAN, "inf": math.inf, "arr": np.arange(3), "x": {1, 2}}
    )
    res.save(tmp_path / "odd")
    back = BacktestResult.load(tmp_path / "odd")
    assert back.config == {
        "path": str(tmp_path),
        "nan": None,
        "inf": "Infinity",
        "arr": [0, 1, 2],
        "x": [1, 2],
    }
    metrics = json.loads((tmp_path / "odd" / "metrics.json").read_text())
    assert metrics["profit_factor"] == pytest.approx(99.0 / 57.0)


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not a directory"):
        BacktestResult.load(tmp_path / "absent")
    make_result().save(tmp_path / "run")
    (tmp_path / "run" / "fills.parquet").unlink()
    with pytest.raises(FileNotFoundError, match=r"missing fills\.parquet"):
        BacktestResult.load(tmp_path / "run")

    make_result().save(tmp_path / "bad_parquet")
    (tmp_path / "bad_parquet" / "trades.parquet").write_bytes(b"not a parquet file")
    with pytest.raises(CorruptDataError, match="trades.parquet"):
        BacktestResult.load(tmp_path / "bad_parquet")

    make_result().save(tmp_path / "bad_json")
    (tmp_path / "bad_json" / "run.json").write_text("{ truncated")
    with pytest.raises(CorruptDataError, match="not valid JSON"):
        BacktestResult.load(tmp_path / "bad_json")

    make_result().save(tmp_path / "foreign")
    (tmp_path / "foreign" / "run.json").write_text('{"format": "something else"}')
    with pytest.raises(CorruptDataError, match="does not describe"):
        BacktestResult.load(tmp_path / "foreign")

    make_result().save(tmp_path / "schema")
    pl.DataFrame({"x": [1]}).write_parquet(tmp_path / "schema" / "equity.parquet")
    with pytest.raises(CorruptDataError, match="invalid"):
        BacktestResult.load(tmp_path / "schema")


@pytest.mark.parametrize("cached", [False, True])
def test_pickle_round_trip(cached: bool) -> None:
    res = make_result()
    if cached:
        _ = res.metrics
    back = pickle.loads(pickle.dumps(res))
    for name in ("equity", "trades", "orders", "fills", "positions"):
        assert_frame_equal(getattr(back, name), getattr(res, name))
    assert same_metrics(back.metrics, res.metrics)
    assert (back.config, back.seed, back.stats, back.versions) == (
        res.config,
        res.seed,
        res.stats,
        res.versions,
    )
    assert back.summary() == res.summary()


# ---------------------------------------------------------------------------------------------
# compare
def test_compare() -> None:
    a = make_result()
    b = make_result(equity_frame([100_000, 98_000, 97_000, 99_000, 96_000]))
    table = compare({"sma": a, "buy_hold": b})
    assert table["name"].to_list() == ["sma", "buy_hold"]
    assert table.columns == ["name", *METRIC_NAMES]
    assert table.schema["n_trades"] == pl.Int64 and table.schema["sharpe"] == pl.Float64
    for row, res in zip(table.iter_rows(named=True), (a, b)):
        assert same_metrics({k: row[k] for k in METRIC_NAMES}, res.metrics)
    empty = compare({})
    assert empty.height == 0 and empty.columns == ["name", *METRIC_NAMES]
    with pytest.raises(DTypeError):
        compare({"x": 1})  # type: ignore[dict-item]
    with pytest.raises(DTypeError):
        compare([a])  # type: ignore[arg-type]
