"""Portfolio accounting and allocation.

- :class:`Portfolio`: cash, long and short positions (with a borrow cost on shorts), average
  price, realised and unrealised P&L and closed round trips; the ledger the backtester keeps,
  usable on its own (``fill``, ``mark``, ``equity``, ``positions()``, ``trades()``).
- :func:`optimize`: mean-variance weights (max Sharpe, min variance, target return) with
  per-asset bounds; :func:`efficient_frontier`.
"""

from __future__ import annotations

from ._backtest import Portfolio
from ._meanvar import Allocation, efficient_frontier, optimize

__all__ = ["Portfolio", "optimize", "efficient_frontier", "Allocation"]
