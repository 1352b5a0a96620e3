"""A timeout on one attempt, which also respects a deadline passed down from outside."""

from __future__ import annotations

from .. import _validate


class Timeout:
    """Give up on an attempt after ``seconds``.

    For comparison: Resilience4j's TimeLimiter defaults to 1 s, Hystrix to
    1,000 ms, Polly v8 to 30 s and Envoy's route timeout to 15 s.
    """

    def __init__(self, seconds: float):
        self.seconds = _validate.positive("seconds", seconds)

    def deadline(self, now: float, outer_deadline: float | None = None) -> float:
        """When an attempt started at ``now`` must end: ``now + seconds``, or the
        propagated ``outer_deadline`` if that comes sooner."""
        own = now + self.seconds
        return own if outer_deadline is None else min(own, outer_deadline)
