"""Depth chart of an order book (matplotlib, imported only when a plot is asked for)."""

from __future__ import annotations

from typing import Any

import numpy as np


def plot_depth(depth: Any, *, ax: Any = None, title: str | None = None) -> Any:
    """Cumulative depth chart of a ``Depth``: for each side, the quantity available from the touch
    out to each price, as a step curve (bids green, asks red). Returns the matplotlib Axes."""
    try:
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("plot_depth needs matplotlib: pip install 'neural-trader[plot]'") from None
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    for price, qty, colour, label in (
        (depth.bid_price, depth.bid_quantity, "tab:green", "bids"),
        (depth.ask_price, depth.ask_quantity, "tab:red", "asks"),
    ):
        if len(price) == 0:
            continue
        cum = np.cumsum(qty)
        ax.step(price, cum, where="post", color=colour, label=label)
        ax.fill_between(price, cum, step="post", color=colour, alpha=0.25)
    ax.set_xlabel("price")
    ax.set_ylabel("cumulative quantity")
    if title:
        ax.set_title(title)
    if len(depth.bid_price) or len(depth.ask_price):
        ax.legend()
    return ax
