"""Argument checks shared by the Python wrappers."""

from __future__ import annotations

import operator
from typing import Any

from .errors import DTypeError, InvalidArgumentError


def nonnegative_int(value: Any, name: str, hint: str = "") -> int:
    """``value`` as an int >= 0 (anything with ``__index__``): DTypeError for a non-integer,
    InvalidArgumentError below 0 (``hint`` is added to that message)."""
    try:
        v = operator.index(value)
    except TypeError:
        raise DTypeError(f"{name} must be an integer, got {type(value).__name__}") from None
    if v < 0:
        raise InvalidArgumentError(f"{name} must be >= 0{hint}, got {v}")
    return v


def threads_arg(n: Any, default: int = 0) -> int:
    """A ``num_threads`` argument: None gives ``default``; otherwise an integer >= 0, where 0
    means the ``nt.set_num_threads`` cap."""
    if n is None:
        return default
    return nonnegative_int(n, "num_threads", " (0: the nt.set_num_threads cap)")
