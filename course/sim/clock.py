"""Clocks. Every policy takes one, so the same code runs on simulated and on real time.

A clock is anything with a ``now()`` method returning seconds as a float.
:class:`course.sim.Simulation` is a clock; :class:`ManualClock` is one that
tests move by hand; :class:`MonotonicClock` reads real time.
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


class MonotonicClock:
    """Real time, from :func:`time.monotonic`."""

    def now(self) -> float:
        """Seconds on the monotonic clock."""
        return time.monotonic()

    @staticmethod
    def sleep(seconds: float) -> None:
        """Really sleep."""
        time.sleep(seconds)
