"""Argument checks shared by the Python wrappers."""

from __future__ import annotations

import operator
from typing import Any

from .errors import DTypeError, InvalidArgumentError


def threads_arg(n: Any, default: int = 0) -> int:
    """A ``num_threads`` argument: None gives ``default``; otherwise an integer >= 0, where 0
    means the ``nt.set_num_threads`` cap."""
    if n is None:
        return default
    try:
        v = operator.index(n)
    except TypeError:
        raise DTypeError(f"num_threads must be an integer, got {type(n).__name__}") from None
    if v < 0:
        raise InvalidArgumentError(f"num_threads must be >= 0 (0: the nt.set_num_threads cap), got {v}")
    return v
