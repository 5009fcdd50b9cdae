"""Parameter grids and walk-forward evaluation.

- :func:`optimize` evaluates a backtest function on every combination of a parameter grid, in
  parallel, and ranks the combinations by one metric (:class:`GridResult`).
- :func:`optimize_signals` does the same for a signal function fed to
  :func:`neural_trader.vector.from_signals`.
- :func:`walk_forward` fits parameters on a rolling (or anchored) training window, tests them
  on the window that follows, and stitches the out-of-sample equity curves together
  (:class:`WalkForwardResult`).

Parallelism
-----------
``backend="thread"`` (the default) runs the combinations on a thread pool. It suits backtests
whose time goes into NumPy, polars or the compiled core, which release the GIL, and accepts any
callable (lambdas, closures). ``backend="process"`` runs them on a process pool: ``run`` (and,
for :func:`optimize_signals`, the data and the signal function) must pickle, so ``run`` must be a
function defined at the top level of a module (or a :func:`functools.partial` of one); it is
sent once to each worker process, and every result travels back pickled. Worker processes start with ``forkserver`` (``spawn`` where it is
missing), never ``fork``, so a script using it needs the usual ``if __name__ == "__main__":``
guard. Either way the output is in grid order, whatever order the runs
finish in, and equal to a serial run (``n_jobs=1``) for deterministic run functions.

Progress
--------
With ``progress=None`` a bar is drawn on standard error when there are more than
:data:`PROGRESS_THRESHOLD` runs and standard error is a terminal; ``True`` forces it (on any
stream), ``False`` hides it.
"""

from __future__ import annotations

import concurrent.futures as cf
import functools
import itertools
import math
import multiprocessing
import numbers
import os
import pickle
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import numpy as np
import polars as pl

from ._progress import Progress
from .errors import DTypeError, InvalidArgumentError

if TYPE_CHECKING:
    from .results import BacktestResult

__all__ = [
    "PROGRESS_THRESHOLD",
    "GridResult",
    "WalkForwardResult",
    "optimize",
    "optimize_signals",
    "walk_forward",
]

#: The values a grid gives one parameter: a list, tuple, range or 1-D NumPy array.
GridValues: TypeAlias = Sequence[Any] | np.ndarray[Any, Any]

#: With ``progress=None`` a bar is drawn only for more runs (or windows) than this.
PROGRESS_THRESHOLD = 36

_BACKENDS = ("thread", "process")


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------


def _progress_enabled(progress: bool | None, total: int) -> bool | None:
    """Map the ``progress`` argument to :class:`Progress`'s ``enabled`` (None: if a terminal)."""
    if progress is None:
        return None if total > PROGRESS_THRESHOLD else False
    if not isinstance(progress, bool):
        raise DTypeError(f"progress must be a bool or None, got {type(progress).__name__}")
    return progress


def _n_jobs(n_jobs: int | None) -> int:
    cores = os.cpu_count() or 1
    if n_jobs is None:
        return cores
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral):
        raise DTypeError(f"n_jobs must be an int or None, got {type(n_jobs).__name__}")
    n = int(n_jobs)
    if n == -1:
        return cores
    if n < 1:
        raise InvalidArgumentError(f"n_jobs must be >= 1 (or -1 for every core), got {n}")
    return n


def _expand_grid(grid: Mapping[str, GridValues]) -> tuple[list[str], list[dict[str, Any]]]:
    if not isinstance(grid, Mapping):
        raise DTypeError(
            f"grid must be a mapping of parameter names to value sequences, got {type(grid).__name__}"
        )
    names: list[str] = []
    values: list[list[Any]] = []
    for name, seq in grid.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise InvalidArgumentError(f"grid keys must be parameter names (identifiers), got {name!r}")
        if isinstance(seq, (str, bytes)) or not isinstance(seq, (Sequence, np.ndarray, range)):
            raise DTypeError(
                f"grid[{name!r}] must be a sequence of values (a list, tuple, range or array), "
                f"got {type(seq).__name__}"
            )
        vals = [v.item() if isinstance(v, np.generic) else v for v in seq]
        if not vals:
            raise InvalidArgumentError(f"grid[{name!r}] is empty")
        names.append(name)
        values.append(vals)
    combos = [dict(zip(names, combo)) for combo in itertools.product(*values)]
    return names, combos


def _is_number(value: Any) -> bool:
    """A real number (Python or NumPy), not a bool."""
    return isinstance(value, (numbers.Real, np.floating, np.integer)) and not isinstance(value, bool)


def _outcome_metrics(value: Any, metric: str) -> dict[str, Any]:
    """The metrics of what a run returned: a result with ``.metrics``, a mapping or a number."""
    metrics = getattr(value, "metrics", None)
    if isinstance(metrics, Mapping):
        return dict(metrics)
    if isinstance(value, Mapping):
        return dict(value)
    if _is_number(value):
        return {metric: float(value)}
    raise DTypeError(
        "run must return a BacktestResult (or any object with a .metrics mapping), a mapping of "
        f"metrics or a number; got {type(value).__name__}"
    )


def _metric_value(metrics: Mapping[str, Any], metric: str, params: Mapping[str, Any]) -> float:
    if metric not in metrics:
        raise InvalidArgumentError(
            f"metric {metric!r} is not among the run's metrics ({', '.join(map(str, metrics))}) "
            f"for {dict(params)}"
        )
    value = metrics[metric]
    if value is None:
        return math.nan
    if not _is_number(value):
        raise DTypeError(f"metric {metric!r} must be a number, got {type(value).__name__}")
    return float(value)


def _is_better(value: float, best: float | None, maximize: bool) -> bool:
    if math.isnan(value):
        return False
    if best is None:
        return True
    return value > best if maximize else value < best


def _column(name: str, values: list[Any]) -> pl.Series:
    """A table column from Python values: polars' own dtype when it can, their repr otherwise."""
    try:
        return pl.Series(name, values, strict=False)
    except (TypeError, ValueError, OverflowError, pl.exceptions.PolarsError):
        return pl.Series(name, [repr(v) for v in values], dtype=pl.String)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (numbers.Real, np.floating, np.integer, str))


def _scalar_keys(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The keys of ``rows`` with a scalar value in some row, in order of first appearance."""
    keys: list[str] = []
    for row in rows:
        for key, value in row.items():
            if key not in keys and _is_scalar(value):
                keys.append(key)
    return keys


def _add_note(exc: BaseException, note: str) -> None:
    add_note = getattr(exc, "add_note", None)  # Python >= 3.11
    if add_note is not None:
        add_note(note)


def _process_context() -> multiprocessing.context.BaseContext:
    """forkserver where the platform has it, else spawn; never fork (forking a process whose
    other threads hold locks, as polars' and NumPy's pools may, can deadlock the child)."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def _call(run: Callable[..., Any], params: dict[str, Any]) -> Any:
    return run(**params)


_worker_run: Callable[..., Any] | None = None


def _init_worker(run: Callable[..., Any]) -> None:
    """Process-pool initializer: receives ``run`` (and what it holds, such as the data) once per
    worker instead of once per task."""
    global _worker_run
    _worker_run = run


def _call_in_worker(params: dict[str, Any]) -> Any:
    assert _worker_run is not None
    return _worker_run(**params)


def _evaluate(
    run: Callable[..., Any],
    combos: list[dict[str, Any]],
    *,
    n_jobs: int,
    backend: str,
    bar: Progress,
) -> Iterator[tuple[int, Any]]:
    """Yield ``(index, value)`` for every combination, in completion order."""
    workers = min(n_jobs, len(combos))
    if workers <= 1:
        for i, params in enumerate(combos):
            try:
                value = run(**params)
            except Exception as exc:
                _add_note(exc, f"while evaluating the parameters {params}")
                raise
            bar.update()
            yield i, value
        return
    executor: cf.Executor
    if backend == "process":
        try:
            pickle.dumps(run)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            raise DTypeError(
                f"backend='process' needs a picklable run function (defined at the top level of a "
                f"module, or a functools.partial of one); {run!r} is not ({exc}). "
                "Use backend='thread' for lambdas and closures."
            ) from None
        executor = cf.ProcessPoolExecutor(
            max_workers=workers, mp_context=_process_context(), initializer=_init_worker, initargs=(run,)
        )
    else:
        executor = cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="nt-optimize")
    with executor:
        if backend == "process":
            futures = {executor.submit(_call_in_worker, params): i for i, params in enumerate(combos)}
        else:
            futures = {executor.submit(_call, run, params): i for i, params in enumerate(combos)}
        try:
            for fut in cf.as_completed(futures):
                i = futures[fut]
                try:
                    value = fut.result()
                except Exception as exc:
                    _add_note(exc, f"while evaluating the parameters {combos[i]}")
                    raise
                bar.update()
                yield i, value
        except BaseException:
            for fut in futures:
                fut.cancel()
            raise


# ------------------------------------------------------------------------------------------------
# grid search
# ------------------------------------------------------------------------------------------------


class GridResult:
    """Every combination of a parameter grid with its metrics, and the best one.

    Attributes
    ----------
    table : polars.DataFrame
        One row per combination, in grid order (the last parameter varies fastest): one column
        per parameter, then one per scalar metric.
    params : list of dict
        The combinations, in the order of the table's rows.
    metric : str
        The metric that ranks the combinations.
    maximize : bool
        Whether larger values of ``metric`` are better.
    best_index : int or None
        Row of the best combination (the first one on ties; NaN values never win); ``None``
        when every value is NaN.
    best : BacktestResult, float or None
        What ``run`` returned for the best combination.
    results : list or None
        What every run returned, in grid order, when ``keep_results=True``.
    """

    def __init__(
        self,
        table: pl.DataFrame,
        params: list[dict[str, Any]],
        *,
        metric: str,
        maximize: bool,
        best_index: int | None,
        best: Any,
        results: list[Any] | None = None,
    ) -> None:
        self.table = table
        self.params = params
        self.metric = metric
        self.maximize = maximize
        self.best_index = best_index
        self.best = best
        self.results = results

    @property
    def best_params(self) -> dict[str, Any] | None:
        """Parameters of the best combination (``None`` when no value was a number)."""
        return None if self.best_index is None else dict(self.params[self.best_index])

    @property
    def best_value(self) -> float:
        """The best value of :attr:`metric` (NaN when there is none)."""
        if self.best_index is None:
            return math.nan
        value = self.table[self.metric][self.best_index]
        return math.nan if value is None else float(value)

    def ranked(self) -> pl.DataFrame:
        """The table sorted from the best combination to the worst (NaN and missing values last;
        ties keep grid order)."""
        key = pl.col(self.metric).fill_nan(None)
        return self.table.sort(key, descending=self.maximize, nulls_last=True, maintain_order=True)

    def __len__(self) -> int:
        return self.table.height

    def __repr__(self) -> str:
        sense = "max" if self.maximize else "min"
        if self.best_index is None:
            best = "no finite value"
        else:
            best = f"best={self.best_params} -> {self.best_value:.6g}"
        return f"GridResult({len(self)} runs, {self.metric} ({sense}), {best})"


def optimize(
    run: Callable[..., Any],
    grid: Mapping[str, GridValues],
    *,
    metric: str = "sharpe",
    maximize: bool = True,
    n_jobs: int | None = None,
    backend: Literal["thread", "process"] = "thread",
    progress: bool | None = None,
    keep_results: bool = False,
) -> GridResult:
    """Evaluate ``run(**params)`` on every combination of ``grid`` and rank them by ``metric``.

    Parameters
    ----------
    run : callable
        Called with one keyword argument per grid key; returns a
        :class:`~neural_trader.results.BacktestResult` (its ``metrics`` fill the table), a
        mapping of metric names to numbers, or a single number (taken as ``metric``).
    grid : mapping of str to sequence
        Parameter names and the values to try. Combinations follow
        :func:`itertools.product` in the mapping's order: the last key varies fastest.
        An empty mapping makes one run without arguments.
    metric : str, default "sharpe"
        The metric to rank by (a key of the metrics).
    maximize : bool, default True
        Larger is better; ``False`` for metrics such as a drawdown's depth or volatility.
    n_jobs : int, optional
        Parallel workers; ``None`` or ``-1`` uses every core (``os.cpu_count()``), ``1`` runs
        serially in the calling thread.
    backend : {"thread", "process"}, default "thread"
        Thread or process pool (see the module docstring: the process backend needs a picklable
        ``run`` defined at the top level of a module).
    progress : bool, optional
        Progress bar on standard error (see the module docstring).
    keep_results : bool, default False
        Keep what every run returned (``GridResult.results``); by default only the best one is
        kept, so that large grids do not hold every equity curve in memory.

    Returns
    -------
    GridResult

    Raises
    ------
    InvalidArgumentError
        An empty value sequence, a bad ``n_jobs``, ``metric`` missing from the runs' metrics, or
        a parameter named like a metric.
    DTypeError
        ``grid`` is not a mapping of sequences, ``run`` returns something without metrics, or
        the process backend was asked for a ``run`` that does not pickle.

    Examples
    --------
    >>> def run(fast, slow):                              # doctest: +SKIP
    ...     sig = signal_from_crossover(sma(close, fast), sma(close, slow))
    ...     return from_signals(bars, signal=sig)
    >>> res = optimize(run, {"fast": [5, 10], "slow": [20, 50]})   # doctest: +SKIP
    >>> res.best_params                                            # doctest: +SKIP
    {'fast': 10, 'slow': 50}
    """
    if not callable(run):
        raise DTypeError(f"run must be callable, got {type(run).__name__}")
    if not isinstance(metric, str):
        raise DTypeError(f"metric must be a str, got {type(metric).__name__}")
    if not isinstance(maximize, bool):
        raise DTypeError(f"maximize must be a bool, got {type(maximize).__name__}")
    if backend not in _BACKENDS:
        raise InvalidArgumentError(f"backend must be one of {_BACKENDS}, got {backend!r}")
    jobs = _n_jobs(n_jobs)
    names, combos = _expand_grid(grid)
    enabled = _progress_enabled(progress, len(combos))

    metrics_rows: list[dict[str, Any] | None] = [None] * len(combos)
    kept: list[Any] | None = [None] * len(combos) if keep_results else None
    best_i: int | None = None
    best_v: float | None = None
    best_value_obj: Any = None
    with Progress(len(combos), "grid search", enabled=enabled) as bar:
        for i, value in _evaluate(run, combos, n_jobs=jobs, backend=backend, bar=bar):
            metrics = _outcome_metrics(value, metric)
            v = _metric_value(metrics, metric, combos[i])
            metrics_rows[i] = metrics
            if kept is not None:
                kept[i] = value
            # Completion order is arbitrary: on equal values the earlier combination wins.
            if _is_better(v, best_v, maximize) or (
                best_i is not None and best_v is not None and v == best_v and i < best_i
            ):
                best_i, best_v, best_value_obj = i, v, value

    rows = [m if m is not None else {} for m in metrics_rows]
    metric_names = _scalar_keys(rows)
    clash = sorted(set(names) & set(metric_names))
    if clash:
        raise InvalidArgumentError(f"parameter names clash with metric names: {clash}; rename the parameters")
    columns = [_column(name, [c[name] for c in combos]) for name in names]
    columns += [_column(key, [m.get(key) for m in rows]) for key in metric_names]
    table = pl.DataFrame(columns)  # never empty: every run has the ranking metric
    return GridResult(
        table,
        combos,
        metric=metric,
        maximize=maximize,
        best_index=best_i,
        best=best_value_obj,
        results=kept,
    )


def _signals_run(
    data: Any,
    signal_fn: Callable[..., Any],
    kwargs: Mapping[str, Any],
    /,
    **params: Any,
) -> BacktestResult:
    from .vector import from_signals

    out = signal_fn(data, **params)
    if isinstance(out, Mapping):
        return from_signals(data, **out, **kwargs)
    return from_signals(data, signal=out, **kwargs)


def optimize_signals(
    data: Any,
    signal_fn: Callable[..., Any],
    grid: Mapping[str, GridValues],
    *,
    metric: str = "sharpe",
    maximize: bool = True,
    n_jobs: int | None = None,
    backend: Literal["thread", "process"] = "thread",
    progress: bool | None = None,
    keep_results: bool = False,
    **from_signals_kwargs: Any,
) -> GridResult:
    """Grid search over a signal function backtested with :func:`~neural_trader.vector.from_signals`.

    Each combination runs ``signal_fn(data, **params)``; an array is passed to ``from_signals``
    as ``signal=``, a mapping as keyword arguments (``entries=``, ``exits=``,
    ``short_entries=``, ``short_exits=``). ``from_signals_kwargs`` (cash, fees, slippage, fill,
    size...) apply to every run. With ``backend="process"`` the data and ``signal_fn`` must
    pickle. The other parameters are those of :func:`optimize`.

    Examples
    --------
    >>> def sma_cross(bars, fast, slow):                  # doctest: +SKIP
    ...     close = bars["close"].to_numpy()
    ...     return signal_from_crossover(sma(close, fast), sma(close, slow))
    >>> optimize_signals(bars, sma_cross, {"fast": [5, 10], "slow": [30, 60]}, fees=0.001)  # doctest: +SKIP
    """
    if not callable(signal_fn):
        raise DTypeError(f"signal_fn must be callable, got {type(signal_fn).__name__}")
    run = functools.partial(_signals_run, data, signal_fn, dict(from_signals_kwargs))
    return optimize(
        run,
        grid,
        metric=metric,
        maximize=maximize,
        n_jobs=n_jobs,
        backend=backend,
        progress=progress,
        keep_results=keep_results,
    )


# ------------------------------------------------------------------------------------------------
# walk-forward
# ------------------------------------------------------------------------------------------------


def _positive_int(value: Any, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise DTypeError(f"{name} must be an int, got {type(value).__name__}")
    if int(value) < minimum:
        raise InvalidArgumentError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _ts_ns(frame: pl.DataFrame, column: str = "ts") -> np.ndarray[Any, np.dtype[np.int64]]:
    col = frame.get_column(column)
    if isinstance(col.dtype, pl.Datetime):
        col = col.dt.epoch("ns")
    elif not col.dtype.is_integer():
        raise DTypeError(f"column {column!r} must be a Datetime or integer column, got {col.dtype}")
    if col.null_count():
        raise InvalidArgumentError(f"column {column!r} has missing values")
    return np.asarray(col.to_numpy(), dtype=np.int64)


class WalkForwardResult:
    """Out-of-sample results of a walk-forward evaluation.

    Attributes
    ----------
    windows : polars.DataFrame
        One row per window: ``window`` (0, 1, ...), ``train_start``, ``train_end``,
        ``test_start``, ``test_end`` (first and last timestamp of each part, inclusive; row
        numbers for a frame without ``ts``), ``train_rows``, ``test_rows``, ``params`` (a struct
        column of what ``fit`` returned), then the out-of-sample metrics of the window.
    equity : polars.DataFrame
        The stitched out-of-sample equity curve: the test windows' equity rows (warm-up rows
        left out), each window rescaled so that it starts where the previous one ended (the
        first one starts at its own starting equity), with a ``window`` column. Cash and
        exposures are rescaled alike.
    result : BacktestResult
        The combined out-of-sample backtest: the stitched equity, and every window's trades,
        orders and fills with quantities, fees and profits rescaled by the same factor as its
        equity (prices and returns unchanged; order ids renumbered in window order).
    results : list of BacktestResult
        Each window's out-of-sample result (its test rows only, starting from the equity it had
        when the test window opened).
    params : list of dict
        What ``fit`` returned for each window.
    """

    def __init__(
        self,
        windows: pl.DataFrame,
        equity: pl.DataFrame,
        result: BacktestResult,
        results: list[BacktestResult],
        params: list[dict[str, Any]],
    ) -> None:
        self.windows = windows
        self.equity = equity
        self.result = result
        self.results = results
        self.params = params

    @property
    def metrics(self) -> dict[str, Any]:
        """Metrics of the combined out-of-sample backtest (:attr:`result`)."""
        return self.result.metrics

    def __len__(self) -> int:
        return self.windows.height

    def __repr__(self) -> str:
        m = self.metrics
        return (
            f"WalkForwardResult({len(self)} windows, oos_bars={self.equity.height}, "
            f"total_return={float(m.get('total_return', math.nan)):.4g}, "
            f"sharpe={float(m.get('sharpe', math.nan)):.4g}, n_trades={m.get('n_trades')})"
        )


def _window_plan(
    m: int, *, train: int, test_size: int, step: int, anchored: bool
) -> list[tuple[int, int, int, int]]:
    """(train_start, train_end, test_start, test_end) in units, ends exclusive."""
    plan = []
    test_start = train
    while test_start < m:
        test_end = min(test_start + test_size, m)
        plan.append((0 if anchored else test_start - train, test_start, test_start, test_end))
        test_start += step
    return plan


def _scaled(frame: pl.DataFrame, factor: float, columns: Sequence[str]) -> pl.DataFrame:
    present = [c for c in columns if c in frame.columns]
    if not present or factor == 1.0:
        return frame
    return frame.with_columns([(pl.col(c) * factor).alias(c) for c in present])


def walk_forward(
    data: pl.DataFrame,
    fit: Callable[[pl.DataFrame], Mapping[str, Any]],
    test: Callable[[pl.DataFrame, dict[str, Any], int], BacktestResult],
    *,
    train: int,
    test_size: int,
    step: int | None = None,
    warmup: int = 0,
    anchored: bool = False,
    progress: bool | None = None,
) -> WalkForwardResult:
    """Fit on a training window, test on the window after it, roll forward, and stitch the tests.

    Windows are counted in distinct timestamps: rows for a single-symbol frame, every row of a
    timestamp together for a multi-symbol frame (no timestamp is ever split between two
    windows). With ``m`` timestamps, window ``k`` tests timestamps
    ``[train + k*step, min(train + k*step + test_size, m))`` and trains on the ``train``
    timestamps before its test start (``anchored=False``) or on every timestamp before it
    (``anchored=True``). Windows follow each other until the data ends; the last test window
    may be shorter than ``test_size``. With ``step == test_size`` (the default) the test windows
    tile the data from timestamp ``train`` to the end; a larger step leaves gaps.

    The contract with the two callbacks:

    - ``fit(train_frame) -> dict`` receives only rows strictly before its window's test start
      (never a row at or after it), and returns the parameters to test.
    - ``test(test_frame, params, warmup_rows) -> BacktestResult`` receives the test window
      preceded by up to ``warmup`` timestamps of past data, for indicators to warm up;
      ``warmup_rows`` is the number of those leading rows, so ``test_frame[warmup_rows:]`` is the
      test window itself. It must not trade before the test window: a fill timestamped before
      the window's first timestamp raises :class:`InvalidArgumentError`. (With
      :func:`~neural_trader.vector.from_signals`, set the signal to NaN on the warm-up rows.)
      Only its equity rows inside the test window count; the window starts from the equity the
      result had just before its first test row (its initial cash when it did not trade).

    Parameters
    ----------
    data : polars.DataFrame
        Sorted by ``ts`` (as canonical bar frames are); without a ``ts`` column every row is a
        step.
    fit, test : callable
        The callbacks above.
    train : int
        Timestamps in each training window (the first training window when anchored).
    test_size : int
        Timestamps in each test window.
    step : int, optional
        Timestamps between two test starts; ``test_size`` by default, never less (overlapping
        test windows could not be stitched).
    warmup : int, default 0
        Timestamps of past data put before each test window.
    anchored : bool, default False
        Grow the training window from the start of the data instead of rolling it.
    progress : bool, optional
        Progress bar over the windows (as for :func:`optimize`).

    Returns
    -------
    WalkForwardResult

    Examples
    --------
    >>> def fit(train):                                          # doctest: +SKIP
    ...     return optimize_signals(train, sma_cross, {"fast": [5, 10], "slow": [30, 60]},
    ...                             progress=False).best_params
    >>> def test(frame, params, warmup):                         # doctest: +SKIP
    ...     sig = sma_cross(frame, **params)
    ...     sig[:warmup] = np.nan               # no decision inside the warm-up
    ...     return from_signals(frame, signal=sig)
    >>> wf = walk_forward(bars, fit, test, train=500, test_size=100, warmup=60)  # doctest: +SKIP
    """
    from .results import BacktestResult

    if not isinstance(data, pl.DataFrame):
        raise DTypeError(f"data must be a polars DataFrame, got {type(data).__name__}")
    if not callable(fit) or not callable(test):
        raise DTypeError("fit and test must be callable")
    train = _positive_int(train, "train")
    test_size = _positive_int(test_size, "test_size")
    step_n = test_size if step is None else _positive_int(step, "step")
    if step_n < test_size:
        raise InvalidArgumentError(
            f"step ({step_n}) must be >= test_size ({test_size}): overlapping test windows cannot be stitched"
        )
    warmup = _positive_int(warmup, "warmup", minimum=0)
    if not isinstance(anchored, bool):
        raise DTypeError(f"anchored must be a bool, got {type(anchored).__name__}")

    has_ts = "ts" in data.columns
    if has_ts:
        ts = _ts_ns(data)
        if ts.size > 1 and bool(np.any(np.diff(ts) < 0)):
            raise InvalidArgumentError("data must be sorted by ts")
        starts = (
            np.flatnonzero(np.concatenate(([True], ts[1:] != ts[:-1]))) if ts.size else np.empty(0, np.int64)
        )
        unit_ts = ts[starts]
    else:
        starts = np.arange(data.height, dtype=np.int64)
        unit_ts = starts
    m = int(starts.size)
    bounds = np.concatenate((starts, [data.height])).astype(np.int64)
    if m <= train:
        raise InvalidArgumentError(
            f"the data has {m} timestamps: not enough for a training window of {train} and a test window"
        )
    plan = _window_plan(m, train=train, test_size=test_size, step=step_n, anchored=anchored)

    def rows(a: int, b: int) -> pl.DataFrame:
        return data.slice(int(bounds[a]), int(bounds[b] - bounds[a]))

    records: list[dict[str, Any]] = []
    params_list: list[dict[str, Any]] = []
    oos: list[BacktestResult] = []
    factors: list[float] = []
    eq_parts: list[pl.DataFrame] = []
    level: float | None = None
    with Progress(len(plan), "walk-forward", enabled=_progress_enabled(progress, len(plan))) as bar:
        for k, (tr_a, tr_b, te_a, te_b) in enumerate(plan):
            raw_params = fit(rows(tr_a, tr_b))
            if not isinstance(raw_params, Mapping):
                raise DTypeError(f"fit must return a mapping of parameters, got {type(raw_params).__name__}")
            params = dict(raw_params)
            warm_a = max(0, te_a - warmup)
            warm_rows = int(bounds[te_a] - bounds[warm_a])
            res = test(rows(warm_a, te_b), dict(params), warm_rows)
            if not isinstance(res, BacktestResult):
                raise DTypeError(f"test must return a BacktestResult, got {type(res).__name__}")

            first = int(unit_ts[te_a])
            last = int(unit_ts[te_b - 1])
            if has_ts:
                fill_ts = _ts_ns(res.fills) if res.fills.height else np.empty(0, np.int64)
                if fill_ts.size and int(fill_ts.min()) < first:
                    raise InvalidArgumentError(
                        f"window {k}: test() traded before its test window (a fill at "
                        f"{pl.Series([int(fill_ts.min())]).cast(pl.Datetime('ns', 'UTC'))[0]}, the "
                        f"window starts at {pl.Series([first]).cast(pl.Datetime('ns', 'UTC'))[0]}); "
                        "the warm-up rows are for indicators only"
                    )
                eq_ts = _ts_ns(res.equity)
                inside = (eq_ts >= first) & (eq_ts <= last)
                before = np.flatnonzero(eq_ts < first)
            else:
                # Without timestamps the equity rows are matched to the test frame's rows.
                n_eq = res.equity.height
                idx = np.arange(n_eq)
                inside = (idx >= warm_rows) & (idx < warm_rows + (te_b - te_a))
                before = np.flatnonzero(idx < warm_rows)
            if not bool(inside.any()):
                raise InvalidArgumentError(
                    f"window {k}: the result of test() has no equity row inside its test window"
                )
            eq_win = res.equity.filter(pl.Series(inside))
            base = float(res.equity["equity"][int(before[-1])]) if before.size else float(res.initial_cash)
            if not (math.isfinite(base) and base > 0):
                raise InvalidArgumentError(
                    f"window {k}: equity before the test window is {base}, not positive"
                )
            window_res = BacktestResult(
                eq_win,
                res.trades,
                res.orders,
                res.fills,
                res.positions,
                initial_cash=base,
                config=res.config,
                seed=res.seed,
                stats=res.stats,
                periods_per_year=res.periods_per_year,
                risk_free=res.risk_free,
                versions=res.versions,
            )
            level = base if level is None else level
            factor = level / base
            scaled = _scaled(eq_win, factor, ("cash", "equity", "gross_exposure", "net_exposure"))
            eq_parts.append(scaled.with_columns(pl.lit(k, dtype=pl.Int64).alias("window")))
            level = float(scaled["equity"][-1])
            factors.append(factor)
            oos.append(window_res)
            params_list.append(params)

            metrics = window_res.metrics
            rec: dict[str, Any] = {"window": k}
            if has_ts:
                rec.update(
                    train_start=int(unit_ts[tr_a]),
                    train_end=int(unit_ts[tr_b - 1]),
                    test_start=first,
                    test_end=last,
                )
            else:
                rec.update(train_start=tr_a, train_end=tr_b - 1, test_start=te_a, test_end=te_b - 1)
            rec.update(
                train_rows=int(bounds[tr_b] - bounds[tr_a]),
                test_rows=int(bounds[te_b] - bounds[te_a]),
            )
            rec["metrics"] = {key: v for key, v in metrics.items() if _is_scalar(v)}
            records.append(rec)
            bar.update()

    windows = _windows_table(records, params_list, has_ts)
    equity = pl.concat(eq_parts, how="vertical_relaxed")
    combined = _combine(oos, factors, equity.drop("window"), BacktestResult)
    return WalkForwardResult(windows, equity, combined, oos, params_list)


def _windows_table(records: list[dict[str, Any]], params: list[dict[str, Any]], has_ts: bool) -> pl.DataFrame:
    ts_type = pl.Datetime("ns", "UTC") if has_ts else pl.Int64
    cols: list[pl.Series] = [pl.Series("window", [r["window"] for r in records], dtype=pl.Int64)]
    for name in ("train_start", "train_end", "test_start", "test_end"):
        cols.append(pl.Series(name, [r[name] for r in records], dtype=pl.Int64).cast(ts_type))
    cols.append(pl.Series("train_rows", [r["train_rows"] for r in records], dtype=pl.Int64))
    cols.append(pl.Series("test_rows", [r["test_rows"] for r in records], dtype=pl.Int64))
    # a struct column of the parameters (their reprs when polars cannot hold them or none were fitted)
    if any(params):
        cols.append(_column("params", params))
    else:
        cols.append(pl.Series("params", [repr(p) for p in params], dtype=pl.String))
    taken = {c.name for c in cols}
    for key in _scalar_keys([r["metrics"] for r in records]):
        cols.append(
            _column(key if key not in taken else f"oos_{key}", [r["metrics"].get(key) for r in records])
        )
    return pl.DataFrame(cols)


def _combine(
    results: list[BacktestResult], factors: list[float], equity: pl.DataFrame, cls: type[BacktestResult]
) -> BacktestResult:
    trades, orders, fills = [], [], []
    offset = 0
    for res, f in zip(results, factors):
        trades.append(_scaled(res.trades, f, ("quantity", "pnl", "fees")))
        o = _scaled(res.orders, f, ("quantity", "filled_quantity"))
        fl = _scaled(res.fills, f, ("quantity", "fee"))
        if o.height or fl.height:
            ids = np.concatenate((o["order_id"].to_numpy(), fl["order_id"].to_numpy()))
            low = int(ids.min())
            o = o.with_columns((pl.col("order_id") - low + offset + 1).alias("order_id"))
            fl = fl.with_columns((pl.col("order_id") - low + offset + 1).alias("order_id"))
            offset += int(ids.max()) - low + 1
        orders.append(o)
        fills.append(fl)
    last = results[-1]
    realized = (
        pl.concat(trades, how="vertical_relaxed")
        .group_by("symbol", maintain_order=True)
        .agg(pl.col("pnl").sum().alias("realized_pnl"))
    )
    final = _scaled(last.positions, factors[-1], ("quantity", "market_value", "unrealized_pnl")).drop(
        "realized_pnl", strict=False
    )
    positions = final.join(realized, on="symbol", how="full", coalesce=True).with_columns(
        pl.col("realized_pnl").fill_null(0.0),
        pl.col("quantity").fill_null(0.0),
        pl.col("market_value").fill_null(0.0),
        pl.col("unrealized_pnl").fill_null(0.0),
    )
    positions = positions.select(last.positions.columns) if last.positions.width else positions
    first = results[0]
    return cls(
        equity,
        pl.concat(trades, how="vertical_relaxed"),
        pl.concat(orders, how="vertical_relaxed"),
        pl.concat(fills, how="vertical_relaxed"),
        positions,
        initial_cash=first.initial_cash,
        config={"walk_forward": True, "windows": len(results), **first.config},
        seed=first.seed,
        stats={"windows": len(results), "bars": equity.height},
        periods_per_year=first.periods_per_year,
        risk_free=first.risk_free,
        versions=first.versions,
    )
