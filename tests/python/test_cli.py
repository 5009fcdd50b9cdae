"""The command line: ``neural-trader backtest`` with no arguments works and writes its outputs."""

from __future__ import annotations

import json
import subprocess
import sys

import polars as pl
import pytest

from neural_trader.cli import main
from neural_trader.results import BacktestResult


def test_backtest_with_no_arguments_writes_its_outputs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "neural_trader", "backtest"], capture_output=True, text=True,
                          timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "Final equity" in proc.stdout and "Sharpe ratio" in proc.stdout
    out = tmp_path / "neural-trader-results"
    for name in ("equity.parquet", "trades.parquet", "orders.parquet", "fills.parquet", "positions.parquet",
                 "metrics.json", "run.json", "report.html"):
        assert (out / name).is_file(), name
    result = BacktestResult.load(out)
    assert result.equity.height == 200_000
    assert result.seed == 7
    html = (out / "report.html").read_text()
    assert "<svg" in html


def test_backtest_on_a_file_with_parameters_and_json(tmp_path, capsys):
    import neural_trader as nt

    path = tmp_path / "bars.parquet"
    nt.data.synthetic(["A", "B"], 2_000, freq="1h", seed=3).write_parquet(path)
    rc = main(["backtest", str(path), "-s", "mean_reversion", "-p", "period=30", "-p", "entry_z=1.5",
               "--fees", "0.001", "--json", "--no-save"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert out["strategy"].startswith("MeanReversion(period=30, entry_z=1.5")
    assert out["n_trades"] > 0


def test_backtest_reports_bad_input_cleanly(tmp_path, capsys):
    assert main(["backtest", "-s", "nope"]) == 2
    assert "unknown strategy" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("ts,symbol,close\n2020-01-01,X,-1\n")
    assert main(["backtest", str(bad), "--no-save"]) == 1
    assert "neural-trader:" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["backtest", "-p", "novalue"])


def test_results_frames_are_polars(tmp_path):
    rc = main(["backtest", "--bars", "3000", "--symbols", "2", "-o", str(tmp_path / "r"), "--no-progress"])
    assert rc == 0
    assert isinstance(pl.read_parquet(tmp_path / "r" / "trades.parquet"), pl.DataFrame)
