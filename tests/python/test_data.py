"""Tests of neural_trader.data: normalisation, files, streaming, calendars, synthetic data, records."""

from __future__ import annotations

import datetime as dt
import gzip
import pickle
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import neural_trader as nt
import numpy as np
import polars as pl
import pytest
from neural_trader import data
from neural_trader._synthetic import REGIME_MULTIPLIERS, _regime_multiplier
from neural_trader.data import Calendar
from neural_trader.errors import CorruptDataError, DTypeError, InvalidArgumentError

NS = 1_000_000_000
DAY = 86_400 * NS
UTC = dt.timezone.utc


def ns(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, *, tz: dt.tzinfo = UTC
) -> int:
    """Nanoseconds since the epoch of a wall time in ``tz`` (reference conversion)."""
    moment = dt.datetime(year, month, day, hour, minute, second, tzinfo=tz)
    return int(moment.timestamp()) * NS


def bars(n: int = 6, symbols: tuple[str, ...] = ("AAA",), start: int = ns(2024, 1, 2)) -> pl.DataFrame:
    """A small valid canonical bar frame (sorted by ts, symbol)."""
    rows = []
    for i in range(n):
        for j, sym in enumerate(symbols):
            base = 100.0 + i + 10 * j
            rows.append((start + i * DAY, sym, base, base + 2.0, base - 1.0, base + 0.5, 1000.0 + i))
    frame = pl.DataFrame(
        rows, schema=["ts", "symbol", "open", "high", "low", "close", "volume"], orient="row"
    )
    frame = frame.with_columns(pl.col("ts").cast(pl.Datetime("ns")).dt.replace_time_zone("UTC"))
    return frame.sort("ts", "symbol")


def goog_like(n: int = 5) -> Any:
    """A backtesting.py-style daily frame: Open/High/Low/Close/Volume on an unnamed DatetimeIndex."""
    pd = pytest.importorskip("pandas")
    index = pd.DatetimeIndex(pd.date_range("2004-08-19", periods=n, freq="D"))
    close = 100.0 + np.arange(n)
    return pd.DataFrame(
        {
            "Open": close - 0.5,
            "High": close + 1.0,
            "Low": close - 1.0,
            "Close": close,
            "Volume": np.arange(n) * 10 + 5,
        },
        index=index,
    )


def ts_ns(frame: pl.DataFrame) -> np.ndarray:
    return frame.get_column("ts").dt.epoch("ns").to_numpy()


# ---------------------------------------------------------------------------------------------
# normalize: formats
# ---------------------------------------------------------------------------------------------


def test_canonical_frame_is_a_fixed_point() -> None:
    frame = bars(5, ("AAA", "BBB"))
    out = data.normalize(frame)
    assert out.schema == pl.Schema(data.BAR_SCHEMA)
    assert out.equals(frame)


def test_aliases_any_case_and_long_format_sorting() -> None:
    rows: dict[str, list[Any]] = {
        "Timestamp": ["2024-01-03", "2024-01-02", "2024-01-02", "2024-01-03"],
        "Ticker": ["ZZZ", "ZZZ", "AAA", "AAA"],
        "O": [1.0, 2.0, 3.0, 4.0],
        "H": [2.0, 3.0, 4.0, 5.0],
        "L": [0.5, 1.5, 2.5, 3.5],
        "C": [1.5, 2.5, 3.5, 4.5],
        "VOL": [10, 20, 30, 40],
        "extra": ["x", "y", "z", "w"],
    }
    out = data.normalize(pl.DataFrame(rows), sort=True)
    assert out.columns == list(data.BAR_SCHEMA)
    # reference: sort the input rows by (date, ticker) by hand
    order = sorted(range(4), key=lambda i: (rows["Timestamp"][i], rows["Ticker"][i]))
    assert out.get_column("symbol").to_list() == [rows["Ticker"][i] for i in order]
    assert out.get_column("open").to_list() == [rows["O"][i] for i in order]
    assert out.get_column("volume").to_list() == [float(rows["VOL"][i]) for i in order]
    expected = [ns(*map(int, rows["Timestamp"][i].split("-"))) for i in order]
    assert ts_ns(out).tolist() == expected


def test_pandas_datetime_index_like_goog() -> None:
    frame = goog_like()
    out = data.normalize(frame, symbol="GOOG")
    assert out.height == 5
    assert out.get_column("symbol").unique().to_list() == ["GOOG"]
    assert ts_ns(out).tolist() == [ns(2004, 8, 19) + i * DAY for i in range(5)]
    np.testing.assert_array_equal(out.get_column("close").to_numpy(), frame["Close"].to_numpy())
    np.testing.assert_array_equal(
        out.get_column("volume").to_numpy(), frame["Volume"].to_numpy().astype(float)
    )
    # naive dates read in the exchange zone: midnight New York is 04:00 UTC in August (EDT)
    local = data.normalize(frame, tz="America/New_York")
    assert ts_ns(local)[0] == ns(2004, 8, 19, 4)
    assert local.get_column("symbol")[0] == data.DEFAULT_SYMBOL


def test_pandas_aware_and_named_index() -> None:
    frame = goog_like(3)
    aware = frame.tz_localize("Europe/Berlin")
    assert ts_ns(data.normalize(aware))[0] == ns(2004, 8, 18, 22)  # CEST = UTC+2
    named = frame.rename_axis("Date")
    assert data.normalize(named).equals(data.normalize(frame))
    with_column = frame.reset_index(names="time")
    assert data.normalize(with_column).equals(data.normalize(frame))


def test_dict_of_arrays_and_integer_units() -> None:
    seconds = np.array([1_700_000_000, 1_700_000_060], dtype=np.int64)
    base = {"close": [10.0, 11.0]}
    for unit, scale in (("s", NS), ("ms", 1_000_000), ("us", 1_000), ("ns", 1)):
        stamps = seconds * (NS // scale)
        out = data.normalize({"ts": stamps, **base}, unit=unit)  # type: ignore[arg-type]
        assert ts_ns(out).tolist() == (seconds * NS).tolist()
    datetimes = data.normalize(
        {"date": np.array(["2024-01-02", "2024-01-03"], dtype="datetime64[D]"), **base}
    )
    assert ts_ns(datetimes).tolist() == [ns(2024, 1, 2), ns(2024, 1, 3)]
    with pytest.raises(InvalidArgumentError, match="unit"):
        data.normalize({"ts": seconds, **base}, unit="h")  # type: ignore[arg-type]
    with pytest.raises(DTypeError, match="integers"):
        data.normalize({"ts": seconds.astype(float), **base})


def test_iso_strings_with_offsets_and_zones() -> None:
    out = data.normalize({"time": ["2024-01-02T10:00:00+05:00", "2024-01-02T10:00:00Z"], "close": [1.0, 2.0]})
    assert ts_ns(out).tolist() == [ns(2024, 1, 2, 5), ns(2024, 1, 2, 10)]
    naive = data.normalize(
        {"time": ["2024-07-01 09:30:00", "2024-12-02 09:30:00"], "close": [1.0, 2.0]}, tz="America/New_York"
    )
    assert ts_ns(naive).tolist() == [ns(2024, 7, 1, 13, 30), ns(2024, 12, 2, 14, 30)]
    aware = pl.DataFrame({"ts": [dt.datetime(2024, 1, 2, 9, tzinfo=ZoneInfo("Asia/Tokyo"))], "close": [1.0]})
    assert ts_ns(data.normalize(aware, tz="America/New_York")).tolist() == [ns(2024, 1, 2)]
    with pytest.raises(InvalidArgumentError, match="unknown time zone"):
        data.normalize({"ts": [1], "close": [1.0]}, tz="Mars/Olympus")


def test_non_iso_strings_need_a_format() -> None:
    frame = {"date": ["01/02/2024", "01/03/2024"], "close": [1.0, 2.0]}
    with pytest.raises(InvalidArgumentError, match="'01/02/2024' .* not ISO 8601"):
        data.normalize(frame)
    us = data.normalize(frame, ts_format="%m/%d/%Y")
    assert ts_ns(us).tolist() == [ns(2024, 1, 2), ns(2024, 1, 3)]
    compact = data.normalize({"date": ["20240102", "20240103"], "close": [1.0, 2.0]}, ts_format="%Y%m%d")
    assert ts_ns(compact).tolist() == [ns(2024, 1, 2), ns(2024, 1, 3)]
    with pytest.raises(InvalidArgumentError, match=r"'2024-01-03' at row 1 .* in '%m/%d/%Y'"):
        data.normalize({"date": ["01/02/2024", "2024-01-03"], "close": [1.0, 2.0]}, ts_format="%m/%d/%Y")
    empty = pl.DataFrame({"ts": pl.Series([], dtype=pl.String), "close": pl.Series([], dtype=pl.Float64)})
    assert data.normalize(empty).height == 0


def test_dst_gap_and_overlap_are_errors() -> None:
    gap = {"ts": ["2024-03-10 01:30:00", "2024-03-10 02:30:00"], "close": [1.0, 2.0]}
    with pytest.raises(InvalidArgumentError, match=r"row 1 .*does not exist or is ambiguous"):
        data.normalize(gap, tz="America/New_York")
    overlap = {"ts": ["2024-11-03 00:30:00", "2024-11-03 01:30:00"], "close": [1.0, 2.0]}
    with pytest.raises(InvalidArgumentError, match="row 1"):
        data.normalize(overlap, tz="America/New_York")
    assert data.normalize(gap).height == 2  # fine in UTC


def test_adjusted_close_is_never_picked_silently() -> None:
    frame = {"Date": ["2024-01-02", "2024-01-03"], "Adj Close": [1.0, 2.0]}
    with pytest.raises(InvalidArgumentError, match="Adj Close"):
        data.normalize(frame)
    with pytest.raises(InvalidArgumentError, match="Adj Close"):
        data.normalize(frame, kind="bars")
    used = data.normalize(frame, columns={"close": "Adj Close"})
    assert used.get_column("close").to_list() == [1.0, 2.0]
    both = data.normalize({**frame, "Close": [5.0, 6.0]})
    assert both.get_column("close").to_list() == [5.0, 6.0]


def test_ambiguous_and_unknown_columns() -> None:
    with pytest.raises(InvalidArgumentError, match="could all be 'close'"):
        data.normalize({"ts": [1], "Close": [1.0], "c": [1.0]})
    with pytest.raises(InvalidArgumentError, match="could all be 'ts'"):
        data.normalize({"date": [1], "time": [2], "close": [1.0]})
    assert data.normalize({"date": [1], "time": [2], "close": [1.0]}, columns={"ts": "time"}).height == 1
    with pytest.raises(InvalidArgumentError, match="unknown field"):
        data.normalize({"ts": [1], "close": [1.0]}, columns={"closing": "close"})
    with pytest.raises(InvalidArgumentError, match="not a column"):
        data.normalize({"ts": [1], "close": [1.0]}, columns={"close": "nope"})


def test_close_only_and_missing_volume() -> None:
    out = data.normalize({"ts": [1, 2, 3], "close": [10.0, 11.0, 9.0]})
    for name in ("open", "high", "low"):
        assert out.get_column(name).to_list() == [10.0, 11.0, 9.0]
    assert out.get_column("volume").to_list() == [0.0, 0.0, 0.0]
    partial = data.normalize({"ts": [1, 2], "open": [10.0, 12.0], "close": [11.0, 11.5]})
    assert partial.get_column("high").to_list() == [11.0, 12.0]
    assert partial.get_column("low").to_list() == [10.0, 11.5]


def test_ticks_auto_detected_with_aliases_and_sides() -> None:
    frame = {
        "time": [3, 1, 2, 2],
        "instrument": ["B", "A", "A", "A"],
        "px": [10.0, 20.0, 21.0, 22.0],
        "qty": [1, 2, 3, 4],
        "side": ["Buy", "sell", None, "s"],
    }
    out = data.normalize(frame)
    assert out.schema == pl.Schema(data.TICK_SCHEMA)
    assert ts_ns(out).tolist() == [1, 2, 2, 3]
    # two ticks of A at ts 2 are both kept, in input order
    assert out.get_column("price").to_list() == [20.0, 21.0, 22.0, 10.0]
    assert out.get_column("side").to_list() == [-1, 0, -1, 1]
    assert out.get_column("size").to_list() == [2.0, 3.0, 4.0, 1.0]
    bare = data.normalize({"ts": [1, 2], "price": [1.0, 2.0]})
    assert bare.get_column("size").to_list() == [0.0, 0.0] and bare.get_column("side").to_list() == [0, 0]
    numeric = data.normalize({"ts": [1, 2], "price": [1.0, 2.0], "side": [1, -1]})
    assert numeric.get_column("side").to_list() == [1, -1]
    with pytest.raises(InvalidArgumentError, match=r"side .*'up' at row 1"):
        data.normalize({"ts": [1, 2], "price": [1.0, 2.0], "side": ["buy", "up"]})
    with pytest.raises(InvalidArgumentError, match="row 0"):
        data.normalize({"ts": [1, 2], "price": [1.0, 2.0], "side": [2, 1]})
    with pytest.raises(InvalidArgumentError, match=r"'qty' \(size\) must be >= 0"):
        data.normalize({"ts": [1, 2], "price": [1.0, 2.0], "qty": [1.0, -1.0]})


def test_empty_input() -> None:
    out = data.normalize(
        pl.DataFrame({"ts": pl.Series([], dtype=pl.Int64), "close": pl.Series([], dtype=pl.Float64)})
    )
    assert out.height == 0 and out.schema == pl.Schema(data.BAR_SCHEMA)


# ---------------------------------------------------------------------------------------------
# normalize: validation errors
# ---------------------------------------------------------------------------------------------


def frame_with(**changes: list[Any]) -> dict[str, list[Any]]:
    base: dict[str, list[Any]] = {
        "ts": ["2024-01-02", "2024-01-03", "2024-01-04"],
        "open": [10.0, 11.0, 12.0],
        "high": [11.0, 12.0, 13.0],
        "low": [9.0, 10.0, 11.0],
        "close": [10.5, 11.5, 12.5],
        "volume": [1.0, 2.0, 3.0],
    }
    base.update(changes)
    return base


@pytest.mark.parametrize(
    ("changes", "error", "pattern"),
    [
        (
            {"close": [10.5, "abc", 12.5]},
            DTypeError,
            r"'close' \(close\) holds 'abc' at row 1 \(ts 2024-01-03",
        ),
        ({"close": [True, False, True]}, DTypeError, "booleans"),
        (
            {"close": [10.5, None, 12.5]},
            InvalidArgumentError,
            r"'close' \(close\) has a missing value .* at row 1",
        ),
        ({"close": [10.5, 11.5, float("nan")]}, InvalidArgumentError, "missing value .* at row 2"),
        ({"high": [11.0, float("inf"), 13.0]}, InvalidArgumentError, "'high' .* infinite value at row 1"),
        ({"low": [9.0, 0.0, 11.0]}, InvalidArgumentError, r"'low' \(low\) must be > 0: 0.0 at row 1"),
        ({"open": [10.0, 11.0, -12.0]}, InvalidArgumentError, r"'open' \(open\) must be > 0: -12.0 at row 2"),
        ({"high": [11.0, 9.5, 13.0]}, InvalidArgumentError, "high 9.5 < low 10.0 at row 1"),
        (
            {"open": [10.0, 11.0, 13.5]},
            InvalidArgumentError,
            r"open 13.5 lies outside \[low 11.0, high 13.0\] at row 2",
        ),
        ({"close": [8.5, 11.5, 12.5]}, InvalidArgumentError, r"close 8.5 lies outside .* at row 0"),
        (
            {"volume": [1.0, -2.0, 3.0]},
            InvalidArgumentError,
            r"'volume' \(volume\) must be >= 0: -2.0 at row 1",
        ),
        ({"volume": [1.0, None, 3.0]}, InvalidArgumentError, "'volume' .* missing value .* row 1"),
        (
            {"ts": ["2024-01-02", None, "2024-01-04"]},
            InvalidArgumentError,
            "timestamp column has a missing value at row 1",
        ),
        ({"ts": ["2024-01-02", "Tuesday", "2024-01-04"]}, InvalidArgumentError, "'Tuesday' at row 1"),
        (
            {"ts": ["2024-01-02", "2024-01-04", "2024-01-03"]},
            InvalidArgumentError,
            r"not sorted: row 2 .* before row 1",
        ),
        (
            {"ts": ["2024-01-02", "2024-01-03", "2024-01-03"]},
            InvalidArgumentError,
            r"duplicate bar: row 2 .* row 1",
        ),
        ({"ts": [True, False, True]}, DTypeError, "timestamp column holds Boolean"),
    ],
)
def test_validation_errors(changes: dict[str, list[Any]], error: type[Exception], pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        data.normalize(frame_with(**changes))


def test_missing_columns() -> None:
    with pytest.raises(InvalidArgumentError, match="no timestamp column"):
        data.normalize({"when": [1], "close": [1.0]})
    with pytest.raises(InvalidArgumentError, match="no 'close' column"):
        data.normalize({"ts": [1], "open": [1.0]}, kind="bars")
    with pytest.raises(InvalidArgumentError, match="no 'price' column"):
        data.normalize({"ts": [1], "close": [1.0]}, kind="ticks")
    with pytest.raises(InvalidArgumentError, match="neither bar columns"):
        data.normalize({"ts": [1], "value": [1.0]})
    with pytest.raises(InvalidArgumentError, match="kind must be"):
        data.normalize({"ts": [1], "close": [1.0]}, kind="candles")  # type: ignore[arg-type]
    with pytest.raises(DTypeError, match="normalize takes"):
        data.normalize([1, 2, 3])


def test_sort_per_symbol_and_duplicates() -> None:
    # each symbol is in order: interleaving across symbols is fine without sort=True
    frame = {"ts": [2, 1, 3, 2], "symbol": ["A", "B", "A", "B"], "close": [1.0, 2.0, 3.0, 4.0]}
    out = data.normalize(frame)
    assert list(zip(ts_ns(out).tolist(), out.get_column("symbol").to_list())) == [
        (1, "B"),
        (2, "A"),
        (2, "B"),
        (3, "A"),
    ]
    unsorted = {"ts": [2, 1, 1, 2], "symbol": ["A", "B", "A", "B"], "close": [1.0, 2.0, 3.0, 4.0]}
    with pytest.raises(InvalidArgumentError, match="row 2 .* symbol 'A' comes before row 0"):
        data.normalize(unsorted)
    fixed = data.normalize(unsorted, sort=True)
    assert fixed.get_column("close").to_list() == [3.0, 2.0, 1.0, 4.0]
    with pytest.raises(InvalidArgumentError, match="duplicate bar: row 2 .* row 0 for symbol 'A'"):
        data.normalize({"ts": [2, 1, 2], "symbol": ["A", "B", "A"], "close": [1.0, 2.0, 3.0]}, sort=True)


def test_symbol_argument() -> None:
    with pytest.raises(InvalidArgumentError, match="symbol column"):
        data.normalize({"ts": [1], "ticker": ["X"], "close": [1.0]}, symbol="Y")
    with pytest.raises(DTypeError):
        data.normalize({"ts": [1], "close": [1.0]}, symbol="")
    with pytest.raises(InvalidArgumentError, match="missing or empty name at row 1"):
        data.normalize({"ts": [1, 2], "ticker": ["X", None], "close": [1.0, 2.0]})
    ints = data.normalize({"ts": [1, 1], "ticker": [7, 12], "close": [1.0, 2.0]})
    assert ints.get_column("symbol").to_list() == ["12", "7"]


# ---------------------------------------------------------------------------------------------
# load and scan
# ---------------------------------------------------------------------------------------------


def test_load_round_trips(tmp_path: Path) -> None:
    frame = data.synthetic(["BBB", "AAA"], 40, seed=3)
    frame.write_csv(tmp_path / "bars.csv")
    frame.write_parquet(tmp_path / "bars.parquet")
    frame.write_parquet(tmp_path / "bars.pq")
    frame.write_ipc(tmp_path / "bars.arrow")
    (tmp_path / "bars.csv.gz").write_bytes(gzip.compress((tmp_path / "bars.csv").read_bytes()))
    for name in ("bars.csv", "bars.parquet", "bars.pq", "bars.arrow", "bars.csv.gz"):
        assert data.load(tmp_path / name).equals(frame), name
    ticks = data.synthetic(2, 50, kind="ticks", freq="1s")
    ticks.write_csv(tmp_path / "ticks.csv")
    assert data.load(tmp_path / "ticks.csv").equals(ticks)


def test_load_csv_integer_then_float_prices(tmp_path: Path) -> None:
    lines = ["date,close"] + [f"{i},{100 if i < 200 else 100.5}" for i in range(250)]
    (tmp_path / "p.csv").write_text("\n".join(lines) + "\n")
    out = data.load(tmp_path / "p.csv", symbol="X")
    assert out.get_column("close")[-1] == 100.5 and out.height == 250


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such data file"):
        data.load(tmp_path / "absent.csv")
    (tmp_path / "data.xlsx").write_bytes(b"x")
    with pytest.raises(InvalidArgumentError, match="unknown file type '.xlsx'"):
        data.load(tmp_path / "data.xlsx")
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(b"PAR1" + bytes(range(256)) * 4)
    with pytest.raises(CorruptDataError, match="corrupt.parquet"):
        data.load(corrupt)
    good = tmp_path / "good.parquet"
    bars(50).write_parquet(good)
    truncated = tmp_path / "truncated.parquet"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CorruptDataError, match="truncated.parquet"):
        data.load(truncated)
    (tmp_path / "binary.csv").write_bytes(bytes(range(256)) * 8)
    with pytest.raises((CorruptDataError, InvalidArgumentError), match="binary.csv"):
        data.load(tmp_path / "binary.csv")
    (tmp_path / "bad.csv").write_text("ts,close\n2024-01-02,10\n2024-01-03,n/a-ish\n")
    with pytest.raises((CorruptDataError, DTypeError), match="bad.csv"):
        data.load(tmp_path / "bad.csv")
    (tmp_path / "neg.csv").write_text("ts,close\n2024-01-02,10\n2024-01-03,-1\n")
    with pytest.raises(InvalidArgumentError, match=r"neg.csv: .*must be > 0: -1.0 at row 1"):
        data.load(tmp_path / "neg.csv")
    with pytest.raises(InvalidArgumentError, match="reader option"):
        data.load(good, no_such_option=1)


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
@pytest.mark.parametrize("chunk_rows", [1, 5, 7, 64, 10_000])
def test_scan_chunks_concatenate_to_load(tmp_path: Path, suffix: str, chunk_rows: int) -> None:
    frame = data.synthetic(3, 40, seed=11)
    path = tmp_path / f"bars.{suffix}"
    frame.write_csv(path) if suffix == "csv" else frame.write_parquet(path, row_group_size=13)
    stream = data.scan(path, chunk_rows=chunk_rows)
    chunks = list(stream)
    assert pl.concat(chunks).equals(data.load(path))
    assert stream.kind == "bars" and stream.n_rows == 120
    # every chunk holds all rows of its timestamps
    seen = [set(ts_ns(c).tolist()) for c in chunks]
    assert sum(len(s) for s in seen) == len(set().union(*seen)) == 40
    assert all(c.height <= chunk_rows + 3 for c in chunks)


def test_scan_interleaved_symbols_within_a_timestamp(tmp_path: Path) -> None:
    # rows of one timestamp in reverse symbol order, cut by chunk boundaries
    rows = {
        "ts": [1, 1, 1, 2, 2, 2],
        "symbol": ["C", "B", "A", "C", "B", "A"],
        "close": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
    }
    path = tmp_path / "x.csv"
    pl.DataFrame(rows).write_csv(path)
    for size in (1, 2, 4):
        assert pl.concat(list(data.scan(path, chunk_rows=size))).equals(data.load(path))


def test_scan_detects_going_back_across_chunks(tmp_path: Path) -> None:
    frame = bars(10)
    shuffled = pl.concat([frame.slice(5), frame.slice(0, 5)])
    path = tmp_path / "late.parquet"
    shuffled.write_parquet(path)
    with pytest.raises(InvalidArgumentError, match=r"late.parquet: row 5 .* goes back in time"):
        list(data.scan(path, chunk_rows=5))
    with pytest.raises(InvalidArgumentError, match="not sorted"):
        list(data.scan(path, chunk_rows=10))  # inside one chunk: the normalize check
    dup = pl.concat([frame.slice(0, 5), frame.slice(4, 1), frame.slice(5)])
    dup.write_parquet(path)
    with pytest.raises(InvalidArgumentError, match="duplicate bar: row 5 .* row 4"):
        list(data.scan(path, chunk_rows=5))


def test_scan_object(tmp_path: Path) -> None:
    path = tmp_path / "b.parquet"
    bars(12).write_parquet(path)
    stream = data.scan(path, chunk_rows=5)
    assert "b.parquet" in repr(stream) and "chunk_rows=5" in repr(stream)
    assert stream.n_rows == 12 and "n_rows=12" in repr(stream)
    assert not hasattr(stream, "__len__")
    again = pickle.loads(pickle.dumps(stream))
    assert pl.concat(list(again)).equals(pl.concat(list(stream)))
    with pytest.raises(InvalidArgumentError, match="chunk_rows"):
        data.scan(path, chunk_rows=0)
    with pytest.raises(FileNotFoundError):
        data.scan(tmp_path / "none.parquet")
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet at all")
    with pytest.raises(CorruptDataError, match="bad.parquet"):
        list(data.scan(bad))


# ---------------------------------------------------------------------------------------------
# Calendar
# ---------------------------------------------------------------------------------------------

NY = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("day", "open_utc"),
    [((2024, 3, 8), 14), ((2024, 3, 11), 13), ((2024, 11, 1), 13), ((2024, 11, 4), 14)],
)
def test_calendar_dst(day: tuple[int, int, int], open_utc: int) -> None:
    cal = Calendar.nyse()
    opening = ns(*day, open_utc, 30)
    closing = ns(*day, open_utc + 7)  # 16:00 local
    assert cal.session_open(opening + 60 * NS) == opening
    assert cal.session_close(opening) == closing
    assert cal.session(opening) == (dt.date(*day) - dt.date(1970, 1, 1)).days
    assert cal.is_open(opening) and not cal.is_open(opening - 1)
    assert cal.is_open(closing - 1) and not cal.is_open(closing)


def test_calendar_weekends_and_holidays() -> None:
    cal = Calendar.nyse(holidays=["2024-03-11"])
    for day in (9, 10, 11):  # Saturday, Sunday, holiday Monday
        noon = ns(2024, 3, day, 12, tz=NY)
        assert not cal.is_open(noon) and cal.session(noon) == -1
        assert cal.session_open(noon) == -1 and cal.session_close(noon) == -1
        assert cal.session_day(noon) == -1
    assert cal.is_open(ns(2024, 3, 12, 12, tz=NY))
    midnight = ns(2024, 3, 12, tz=NY)
    assert (
        cal.session(midnight) == -1
        and cal.session_day(midnight) == (dt.date(2024, 3, 12) - dt.date(1970, 1, 1)).days
    )


def reference_session(
    cal_tz: str, open_: dt.time, close: dt.time, weekdays: set[int], ts: int
) -> tuple[int, int, int]:
    """Per-instant reference through datetime/zoneinfo (closed='left')."""
    zone = ZoneInfo(cal_tz)
    local = dt.datetime.fromtimestamp(ts // NS, tz=UTC).astimezone(zone)
    day = local.date()
    if day.weekday() not in weekdays:
        return -1, -1, -1
    start = int(dt.datetime.combine(day, open_, tzinfo=zone).timestamp()) * NS
    end = int(dt.datetime.combine(day, close, tzinfo=zone).timestamp()) * NS
    if start <= ts < end:
        return (day - dt.date(1970, 1, 1)).days, start, end
    return -1, -1, -1


@pytest.mark.parametrize(
    ("tz", "open_", "close"),
    [
        ("America/New_York", "09:30", "16:00"),
        ("Europe/London", "08:00", "16:30"),
        ("Australia/Sydney", "10:00", "16:00"),
    ],
)
def test_calendar_matches_zoneinfo_reference(tz: str, open_: str, close: str) -> None:
    cal = Calendar(tz, open_, close)
    rng = np.random.default_rng(5)
    lo, hi = ns(2023, 1, 1), ns(2025, 1, 1)
    stamps = rng.integers(lo // NS, hi // NS, 3000) * NS
    # and every minute around the DST changes of the zone
    for year in (2023, 2024):
        for month in range(1, 13):
            base = ns(year, month, 1)
            stamps = np.concatenate([stamps, base + np.arange(0, 35 * DAY, 7_919 * NS)])
    session, opens, closes = cal.session(stamps), cal.session_open(stamps), cal.session_close(stamps)
    ref = [
        reference_session(
            tz, dt.time.fromisoformat(open_), dt.time.fromisoformat(close), {0, 1, 2, 3, 4}, int(t)
        )
        for t in stamps
    ]
    np.testing.assert_array_equal(session, [r[0] for r in ref])
    np.testing.assert_array_equal(opens, [r[1] for r in ref])
    np.testing.assert_array_equal(closes, [r[2] for r in ref])
    np.testing.assert_array_equal(cal.is_open(stamps), session >= 0)


def test_calendar_closed_bounds_and_always() -> None:
    opening, closing = ns(2024, 3, 8, 14, 30), ns(2024, 3, 8, 21)
    probes = np.array([opening, closing])
    assert Calendar.nyse().is_open(probes).tolist() == [True, False]
    assert Calendar.nyse(closed="right").is_open(probes).tolist() == [False, True]
    assert Calendar.nyse(closed="both").is_open(probes).tolist() == [True, True]
    always = Calendar.always()
    stamps = np.array([0, DAY - 1, DAY, 19_000 * DAY + 5, -1], dtype=np.int64)
    np.testing.assert_array_equal(always.session(stamps), np.floor_divide(stamps, DAY))
    np.testing.assert_array_equal(always.session_open(stamps), np.floor_divide(stamps, DAY) * DAY)
    np.testing.assert_array_equal(always.session_close(stamps), np.floor_divide(stamps, DAY) * DAY + DAY)
    both = Calendar("UTC", "00:00", "24:00", range(7), closed="right")
    assert both.session(DAY) == 0 and both.session_close(DAY) == DAY and both.session(1) == 0


def test_calendar_inputs_and_outputs() -> None:
    cal = Calendar.nyse()
    moment = ns(2024, 3, 8, 15)
    assert isinstance(cal.session(moment), int) and isinstance(cal.is_open(moment), bool)
    assert cal.is_open(np.datetime64(moment, "ns"))
    assert cal.is_open(dt.datetime(2024, 3, 8, 10, tzinfo=NY))
    arr = cal.is_open(np.array([moment], dtype="datetime64[ns]"))
    assert isinstance(arr, np.ndarray) and arr.dtype == np.bool_
    series = pl.Series([moment]).cast(pl.Datetime("ns")).dt.replace_time_zone("UTC")
    assert cal.session_open(series).tolist() == [ns(2024, 3, 8, 14, 30)]
    assert cal.session(np.zeros(0, dtype=np.int64)).shape == (0,)
    extremes = np.array(["NaT", "2262-04-11T23:00", "2024-03-08T15:00"], dtype="datetime64[ns]")
    assert cal.is_open(extremes).tolist() == [False, False, True]
    assert cal.session_day(extremes).tolist()[:2] == [-1, -1]
    assert cal.session_close(extremes).tolist() == [-1, -1, ns(2024, 3, 8, 21)]
    with pytest.raises(DTypeError):
        cal.is_open(np.array([1.5]))
    with pytest.raises(DTypeError):
        cal.is_open(True)


def test_calendar_filter_and_sessions() -> None:
    cal = Calendar.nyse()
    frame = data.synthetic(2, 24 * 7, freq="1h", start="2024-03-04")
    kept = cal.filter(frame)
    expected = [
        t
        for t in ts_ns(frame).tolist()
        if reference_session(cal.tz, dt.time(9, 30), dt.time(16), {0, 1, 2, 3, 4}, t)[0] >= 0
    ]
    assert ts_ns(kept).tolist() == expected and len(expected) == 2 * 5 * 6  # 15:00 .. 20:00 UTC on 5 days
    records, _ = data.to_arrays(frame)
    assert cal.filter(records).shape == (len(expected),)
    table = cal.sessions("2024-03-08", dt.date(2024, 3, 12))
    assert table.get_column("date").to_list() == [
        dt.date(2024, 3, 8),
        dt.date(2024, 3, 11),
        dt.date(2024, 3, 12),
    ]
    assert table.get_column("open").dt.epoch("ns").to_list() == [
        ns(2024, 3, 8, 14, 30),
        ns(2024, 3, 11, 13, 30),
        ns(2024, 3, 12, 13, 30),
    ]


def test_calendar_protocol_and_errors() -> None:
    cal = Calendar(
        "Europe/Paris", "09:00", dt.time(17, 30), (0, 1, 2, 3, 4), [dt.date(2024, 5, 1), "2024-12-25"]
    )
    assert pickle.loads(pickle.dumps(cal)) == cal
    assert hash(pickle.loads(pickle.dumps(cal))) == hash(cal)
    assert cal != Calendar("Europe/Paris", "09:00", "17:30")
    assert cal == Calendar("Europe/Paris", "09:00:00", "17:30", [4, 3, 2, 1, 0], ["2024-12-25", "2024-05-01"])
    assert repr(cal) == (
        "Calendar(tz='Europe/Paris', open='09:00', close='17:30', weekdays=(0, 1, 2, 3, 4), "
        "holidays=('2024-05-01', '2024-12-25'), closed='left')"
    )
    assert Calendar.nyse() == Calendar() and Calendar.always().session_seconds == 86_400
    for bad in (
        {"open": "10:00", "close": "09:00"},
        {"open": "25:00"},
        {"close": "24:01"},
        {"weekdays": (7,)},
        {"closed": "open"},
    ):
        with pytest.raises(InvalidArgumentError):
            Calendar(**bad)
    with pytest.raises(InvalidArgumentError, match="unknown time zone"):
        Calendar("Nowhere/Land")
    with pytest.raises(DTypeError):
        Calendar(weekdays=("mon",))  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# synthetic
# ---------------------------------------------------------------------------------------------


def log_returns(frame: pl.DataFrame) -> np.ndarray:
    """Close-to-close log returns, one column per symbol (symbols in sorted order)."""
    wide = frame.pivot(on="symbol", index="ts", values="close").sort("ts")
    closes = wide.drop("ts").select(sorted(wide.columns[1:])).to_numpy()
    return np.diff(np.log(closes), axis=0)


def test_synthetic_determinism() -> None:
    first = data.synthetic(3, 300, seed=42)
    assert first.equals(data.synthetic(3, 300, seed=42))
    assert not first.equals(data.synthetic(3, 300, seed=43))
    ticks = data.synthetic(2, 300, kind="ticks", seed=42, freq="1s")
    assert ticks.equals(data.synthetic(2, 300, kind="ticks", seed=42, freq="1s"))
    assert not ticks.equals(data.synthetic(2, 300, kind="ticks", seed=1, freq="1s"))


def test_synthetic_canonical_grid_and_ohlc() -> None:
    frame = data.synthetic(["ZZZ", "AAA", "MMM"], 2_000, seed=3, tick_size=0.05, sigma=[0.2, 0.6, 1.2])
    assert data.normalize(frame).equals(frame)  # canonical, sorted, valid
    assert frame.get_column("symbol").unique().sort().to_list() == ["AAA", "MMM", "ZZZ"]
    for name in ("open", "high", "low", "close"):
        prices = frame.get_column(name).to_numpy()
        steps = prices / 0.05
        assert np.all(np.abs(steps - np.round(steps)) < 1e-9) and prices.min() >= 0.05
        assert np.array_equal(prices, np.round(np.round(steps) * 0.05, 2))
    o, h, l, c = (frame.get_column(x).to_numpy() for x in ("open", "high", "low", "close"))
    assert np.all(l <= np.minimum(o, c)) and np.all(np.maximum(o, c) <= h)
    assert np.all(frame.get_column("volume").to_numpy() >= 1.0)
    assert np.mean(h > np.maximum(o, c)) > 0.5  # ranges are not degenerate
    for sym in ("AAA", "ZZZ"):
        one = frame.filter(pl.col("symbol") == sym)
        assert one.get_column("open")[0] == 100.0
        assert one.get_column("open").to_list()[1:] == one.get_column("close").to_list()[:-1]
    assert np.all(np.diff(ts_ns(frame.filter(pl.col("symbol") == "AAA"))) == DAY)


def test_synthetic_correlation() -> None:
    frame = data.synthetic(3, 20_000, seed=9, correlation=0.5, jumps=False, tick_size=None)
    corr = np.corrcoef(log_returns(frame), rowvar=False)
    assert np.allclose(corr[np.triu_indices(3, 1)], 0.5, atol=0.03)
    target = np.array([[1.0, 0.8, -0.3], [0.8, 1.0, 0.0], [-0.3, 0.0, 1.0]])
    frame = data.synthetic(
        ["A", "B", "C"], 20_000, seed=9, correlation=target, jumps=False, regimes=False, tick_size=None
    )
    assert np.allclose(np.corrcoef(log_returns(frame), rowvar=False), target, atol=0.03)
    # volatility: annualised over 252 days
    returns = log_returns(data.synthetic(1, 50_000, sigma=0.3, regimes=False, jumps=False, tick_size=None))
    assert abs(returns.std() * np.sqrt(252) - 0.3) < 0.006


def test_synthetic_jumps() -> None:
    common: dict[str, Any] = {"symbols": 2, "n": 25_200, "seed": 4, "tick_size": None}
    with_jumps = log_returns(data.synthetic(**common, jumps=True))
    without = log_returns(data.synthetic(**common, jumps=False))
    diff = with_jumps - without  # same diffusion draws: only jumps and their compensator differ
    compensator = np.median(diff)
    jumped = np.abs(diff - compensator) > 1e-12
    count = int(jumped.sum())
    expected = 4.0 * 2 * 100  # 4 per year per symbol, 100 years, 2 symbols
    assert abs(count - expected) < 4 * np.sqrt(expected)
    sizes = diff[jumped] - compensator
    assert abs(sizes.mean() + 0.01) < 0.01 and abs(sizes.std() - 0.04) < 0.01
    kurtosis = ((with_jumps - with_jumps.mean()) ** 4).mean() / with_jumps.var() ** 2
    assert kurtosis > 4.0


def test_synthetic_regime_chain() -> None:
    rng = np.random.default_rng(0)
    times = np.arange(0.0, 200_000.0, 1.0)
    mult = _regime_multiplier(times, 200_001.0, rng)
    assert set(np.unique(mult)) == set(REGIME_MULTIPLIERS)
    turbulent = mult == REGIME_MULTIPLIERS[1]
    assert abs(turbulent.mean() - 1 / 6) < 0.02
    assert abs(np.mean(np.square(mult)) - 1.0) < 0.05  # long-run variance sigma**2
    changes = np.flatnonzero(np.diff(turbulent.astype(int)))
    spells = np.diff(changes)
    calm_spells = spells[~turbulent[changes[:-1] + 1]]
    assert abs(calm_spells.mean() - 1 / -np.log(0.98)) < 5  # ~49.5 days


def test_synthetic_ticks() -> None:
    ticks = data.synthetic(["B", "A"], 3_000, kind="ticks", freq="2s", seed=5, tick_size=0.25)
    assert ticks.schema == pl.Schema(data.TICK_SCHEMA)
    assert data.normalize(ticks).equals(ticks)
    prices = ticks.get_column("price").to_numpy()
    assert np.all(np.abs(prices / 0.25 - np.round(prices / 0.25)) < 1e-9)
    assert set(ticks.get_column("side").unique().to_list()) == {-1, 1}
    assert float(ticks.get_column("size").min()) >= 1.0
    for sym in ("A", "B"):
        one = ticks.filter(pl.col("symbol") == sym)
        gaps = np.diff(ts_ns(one))
        assert one.height == 3_000 and gaps.min() > 0
        assert abs(gaps.mean() / (2 * NS) - 1.0) < 0.1  # exponential gaps of mean 2 s
        assert abs(np.std(gaps) / np.mean(gaps) - 1.0) < 0.1
        change = np.diff(one.get_column("price").to_numpy())
        side = one.get_column("side").to_numpy()[1:]
        assert np.all(side[change > 0] == 1) and np.all(side[change < 0] == -1)


def test_synthetic_with_calendar() -> None:
    cal = Calendar.nyse()
    frame = data.synthetic(2, 50, freq="30m", start="2024-03-07", calendar=cal)
    stamps = ts_ns(frame)
    assert cal.is_open(stamps).all()
    per_day = frame.group_by(pl.col("ts").dt.date()).len().get_column("len")
    assert per_day.max() == 26  # 13 half-hour bars x 2 symbols
    assert ns(2024, 3, 11, 13, 30) in stamps.tolist()  # Monday after the DST change
    daily = data.synthetic(1, 10, start="2024-03-07", calendar=cal)
    assert (
        ts_ns(daily).tolist()
        == [int(t) for t in cal.sessions("2024-03-07", "2024-03-20").get_column("open").dt.epoch("ns")][:10]
    )
    ticks = data.synthetic(2, 500, kind="ticks", freq="1m", calendar=cal)
    assert cal.is_open(ts_ns(ticks)).all()


def test_synthetic_arguments() -> None:
    assert data.synthetic(30, 2).get_column("symbol").unique().sort().to_list()[:2] == ["S01", "S02"]
    assert data.synthetic(1, 3, freq="1m").get_column(
        "ts"
    ).diff().drop_nulls().dt.total_seconds().to_list() == [60, 60]
    for kwargs, error in (
        ({"n": 0}, InvalidArgumentError),
        ({"freq": "1y"}, InvalidArgumentError),
        ({"correlation": 1.5}, InvalidArgumentError),
        ({"correlation": -0.9}, InvalidArgumentError),
        ({"correlation": [[1.0, 0.0], [0.0, 1.0]]}, InvalidArgumentError),
        ({"sigma": -0.1}, InvalidArgumentError),
        ({"price": 0.0}, InvalidArgumentError),
        ({"tick_size": 0.0}, InvalidArgumentError),
        ({"kind": "quotes"}, InvalidArgumentError),
        ({"seed": -1}, InvalidArgumentError),
        ({"symbols": ["A", "A"]}, InvalidArgumentError),
        ({"start": "soon"}, InvalidArgumentError),
        ({"calendar": "nyse"}, DTypeError),
        ({"n": 200_000}, InvalidArgumentError),  # daily bars past the end of int64-ns time (2262)
    ):
        with pytest.raises(error):
            data.synthetic(**{"symbols": 3, "n": 5, **kwargs})  # type: ignore[arg-type]
    # a singular (rank-one) correlation is accepted: all symbols move together
    same = log_returns(data.synthetic(2, 200, correlation=1.0, jumps=False, tick_size=None))
    assert np.allclose(same[:, 0], same[:, 1])


# ---------------------------------------------------------------------------------------------
# records
# ---------------------------------------------------------------------------------------------


def test_to_arrays() -> None:
    frame = bars(4, ("ZZZ", "AAA"))
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=1)
    records, symbols = data.to_arrays(frame)
    assert records.dtype == nt.BAR_DTYPE and symbols == ["AAA", "ZZZ"]
    assert records["symbol"].tolist() == [0, 1] * 4
    assert np.all(np.diff(records["ts"]) >= 0)
    for row, (t, sym, o, h, lo, c, v) in zip(records, frame.iter_rows()):
        assert row["ts"] == int(t.timestamp()) * NS and symbols[row["symbol"]] == sym
        assert (row["open"], row["high"], row["low"], row["close"], row["volume"]) == (o, h, lo, c, v)
    assert data.from_arrays(records, symbols).equals(frame)
    with pytest.raises(InvalidArgumentError, match="not sorted"):
        data.to_arrays(shuffled)
    ticks = data.synthetic(3, 20, kind="ticks")
    trecords, tsymbols = data.to_tick_arrays(ticks)
    assert trecords.dtype == nt.TICK_DTYPE and tsymbols == ["AAA", "BBB", "CCC"]
    assert data.from_arrays(trecords, tsymbols).equals(ticks)
    fast, _ = data.to_arrays(frame, validate=False)
    assert np.array_equal(fast, records)
    with pytest.raises(InvalidArgumentError, match="symbol ids"):
        data.from_arrays(records, ["AAA"])


def test_canonical_frames_take_the_fast_path_and_bad_ones_still_fail() -> None:
    bars = nt.data.synthetic(3, 500, seed=4)
    assert nt.data.normalize(bars) is bars  # valid canonical input comes back as is
    ticks = nt.data.synthetic(2, 500, kind="ticks", seed=4, freq="1s")
    assert nt.data.normalize(ticks) is ticks
    swapped = pl.concat([bars.slice(1), bars.slice(0, 1)])
    with pytest.raises(nt.errors.InvalidArgumentError, match="not sorted"):
        nt.data.normalize(swapped)
    repeated = pl.concat([bars, bars.slice(0, 1)]).sort("ts", "symbol")
    with pytest.raises(nt.errors.InvalidArgumentError, match="duplicate bar"):
        nt.data.normalize(repeated)
    broken = bars.with_columns(pl.when(pl.int_range(pl.len()) == 7).then(-1.0).otherwise(pl.col("low")).alias("low"))
    with pytest.raises(nt.errors.InvalidArgumentError, match="low"):
        nt.data.normalize(broken)
    inverted = bars.with_columns(pl.when(pl.int_range(pl.len()) == 9).then(pl.col("low") - 1).otherwise(pl.col("high"))
                                 .alias("high"))
    with pytest.raises(nt.errors.InvalidArgumentError):
        nt.data.normalize(inverted)
    # a frame ordered by time but not by symbol within a timestamp is sorted, not refused
    shuffled = bars.sort("ts", "symbol", descending=[False, True])
    assert nt.data.normalize(shuffled).equals(bars)
