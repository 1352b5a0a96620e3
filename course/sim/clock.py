"""Clocks. Every policy takes one, so the same code runs on simulated and on real time.

A clock is anything with a ``now()`` method returning seconds as a float.
:class:`course.sim.Simulation` is a clock; :class:`ManualClock` is one that
tests move by hand; :class:`LoopClock` is one that an engine-level model's
loop sets; :class:`MonotonicClock` reads real time.
"""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable

from . import _validate


@runtime_checkable
class Clock(Protocol):
    """Anything that can tell the time in seconds."""

    def now(self) -> float:  # pragma: no cover - protocol
        ...


class ManualClock:
    """A clock that only moves when told to: the fake clock for unit tests."""

    def __init__(self, start: float = 0.0):
        self._now = float(start)

    def now(self) -> float:
        """The current time in seconds."""
        return self._now

    def advance(self, seconds: float) -> float:
        """Move time forward by ``seconds`` (>= 0) and return the new time."""
        _validate.non_negative("seconds", seconds)
        self._now += seconds
        return self._now

    def sleep(self, seconds: float) -> None:
        """Advance the clock instead of sleeping, for code that takes a ``sleep`` function."""
        self.advance(seconds)


class LoopClock:
    """A clock an engine-level loop sets directly: ``clock.t = now`` before each decision that reads it.

    For models written straight on the engine (``course.models.metastable``,
    ``course.models.retry_amplification``) that keep their own time but hand
    a clock to real policy objects such as :class:`~course.sim.RetryBudget`.
    """

    __slots__ = ("t",)

    def __init__(self, start: float = 0.0):
        self.t = start

    def now(self) -> float:
        """The time the loop last set."""
        return self.t


class MonotonicClock:
    """Real time, from :func:`time.monotonic`."""

    def now(self) -> float:
        """Seconds on the monotonic clock."""
        return time.monotonic()

    @staticmethod
    def sleep(seconds: float) -> None:
        """Really sleep."""
        time.sleep(seconds)
