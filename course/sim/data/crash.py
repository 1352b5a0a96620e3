"""Crash points: named places in a piece of code where a fault injector may kill it.

Code under test calls ``crash.point("after_commit")`` at each interesting
place. A :class:`CrashPoints` decides whether the process dies there, either
at random (``probability``, drawn from a named stream) or always (``at``),
and the death is a :class:`Crash` exception that unwinds the caller. Whatever
the caller had not yet made durable is lost, which is the point.
"""

from __future__ import annotations

from collections import Counter

from .. import _validate


class Crash(Exception):
    """The process died at crash point ``point``."""

    def __init__(self, point: str):
        super().__init__(f"crashed at {point!r}")
        self.point = point


class CrashPoints:
    """Decides, at each named point, whether to raise :class:`Crash`.

    ``stream`` is a :class:`~course.sim.streams.Stream` (``sim.rng(...)``) used for
    the random draws; it is needed only when ``probability`` > 0. Points named in
    ``at`` always crash. ``crashes`` counts the crashes by point name.
    """

    def __init__(self, stream=None, probability: float = 0.0, at=()):
        self.probability = _validate.probability("probability", probability)
        if probability > 0 and stream is None:
            raise ValueError("stream must be given (e.g. sim.rng('crash:relay:points')) when probability > 0")
        if isinstance(at, str):
            at = (at,)
        self.stream = stream
        self.at = frozenset(at)
        self.crashes: Counter = Counter()

    @classmethod
    def never(cls) -> "CrashPoints":
        """Crash points that never fire."""
        return cls()

    def point(self, name: str) -> None:
        """Raise :class:`Crash` here if this point is in ``at``, or with probability ``probability``."""
        if name in self.at or (self.probability > 0 and self.stream.random() < self.probability):
            self.crashes[name] += 1
            raise Crash(name)

    def __repr__(self):
        return f"CrashPoints(probability={self.probability!r}, at={sorted(self.at)!r})"
