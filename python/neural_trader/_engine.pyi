"""Type stubs of the Cython event loop, neural_trader._engine."""

from typing import Any, Callable

import numpy.typing as npt
from typing_extensions import disjoint_base

@disjoint_base
class RingPort:
    _impl: Any
    def __init__(self, impl: Any) -> None: ...
    def push(self, record: Any, block: bool = True, timeout: float | None = None) -> None: ...
    def try_push(self, record: Any) -> bool: ...
    def pop(self, block: bool = True, timeout: float | None = None) -> Any: ...
    def try_pop(self) -> Any: ...

def dispatch(
    ring: Any,
    on_record: Callable[[Any], object] | None = None,
    *,
    on_batch: Callable[[npt.NDArray[Any]], object] | None = None,
    max_batch: int = 1024,
    timeout: float | None = None,
) -> int: ...
