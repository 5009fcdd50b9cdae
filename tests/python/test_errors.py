"""The exception hierarchy: every error is a NeuralTraderError and the built-in it refines."""

from __future__ import annotations

import builtins
import queue

import pytest

import neural_trader as nt
from neural_trader import errors


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (errors.InvalidArgumentError, ValueError),
        (errors.DTypeError, TypeError),
        (errors.CorruptDataError, ValueError),
        (errors.ClosedError, RuntimeError),
        (errors.TimeoutError, builtins.TimeoutError),
        (errors.FullError, queue.Full),
        (errors.EmptyError, queue.Empty),
        (errors.NameExistsError, FileExistsError),
        (errors.NameNotFoundError, FileNotFoundError),
    ],
)
def test_error_is_both_neural_trader_error_and_builtin(cls: type, builtin: type) -> None:
    assert issubclass(cls, errors.NeuralTraderError)
    assert issubclass(cls, builtin)
    with pytest.raises(builtin):
        raise cls("x")


def test_core_maps_cpp_exceptions_to_nt_errors() -> None:
    with pytest.raises(errors.InvalidArgumentError, match="power of two"):
        nt._core.RingBuffer(3, nt.TICK_DTYPE)
    with pytest.raises(errors.CorruptDataError, match="truncated"):
        nt._core._frame_unpack(b"abc", 1, 1, 1, "thing")
    with pytest.raises(errors.InvalidArgumentError):
        nt.set_num_threads(-1)
