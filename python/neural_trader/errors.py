"""Exceptions raised by neural-trader.

Every error derives from :class:`NeuralTraderError`, and each one also derives from the built-in
exception it refines, so both ``except ValueError`` and ``except nt.errors.NeuralTraderError``
catch a bad argument.

=========================  ==========================================  ============================
class                      raised for                                   also a
=========================  ==========================================  ============================
InvalidArgumentError       bad values: sizes, capacities, options       ValueError
DTypeError                 wrong dtype or wrong Python type             TypeError
CorruptDataError           corrupted, truncated or foreign data         ValueError
ClosedError                using a closed (or detached) channel         RuntimeError
TimeoutError               a blocking call ran out of time              TimeoutError (built-in)
FullError                  non-blocking push on a full ring             queue.Full
EmptyError                 non-blocking pop on an empty ring            queue.Empty
NameExistsError            creating shared memory under a taken name    FileExistsError
NameNotFoundError          attaching to shared memory that is absent    FileNotFoundError
=========================  ==========================================  ============================
"""

from __future__ import annotations

import builtins
import queue

__all__ = [
    "NeuralTraderError",
    "InvalidArgumentError",
    "DTypeError",
    "CorruptDataError",
    "ClosedError",
    "TimeoutError",
    "FullError",
    "EmptyError",
    "NameExistsError",
    "NameNotFoundError",
]


class NeuralTraderError(Exception):
    """Base class of every exception neural-trader raises on purpose."""


class InvalidArgumentError(NeuralTraderError, ValueError):
    """An argument has a bad value (negative size, capacity not a power of two, ...)."""


class DTypeError(NeuralTraderError, TypeError):
    """An argument has the wrong dtype or the wrong Python type."""


class CorruptDataError(NeuralTraderError, ValueError):
    """Serialised or shared data failed validation: bad magic, version, sizes or checksum."""


class ClosedError(NeuralTraderError, RuntimeError):
    """The channel is closed (or detached from its memory)."""


class TimeoutError(NeuralTraderError, builtins.TimeoutError):  # noqa: A001 - refines the built-in
    """A blocking call waited longer than its timeout."""


class FullError(NeuralTraderError, queue.Full):
    """A non-blocking push found the ring full."""


class EmptyError(NeuralTraderError, queue.Empty):
    """A non-blocking pop found the ring empty."""


class NameExistsError(NeuralTraderError, FileExistsError):
    """A shared-memory segment of that name exists already."""


class NameNotFoundError(NeuralTraderError, FileNotFoundError):
    """No shared-memory segment has that name."""
