"""How long to wait before a retry.

The formulas follow Marc Brooker, "Exponential Backoff And Jitter" (AWS
Architecture Blog, 2015), with ``n`` the retry index (0 for the first retry):

* ``none``: 0
* ``constant``: base
* ``exponential``: min(cap, base * multiplier**n)
* ``full_jitter``: uniform(0, min(cap, base * multiplier**n))
* ``equal_jitter``: v/2 + uniform(0, v/2) with v = min(cap, base * multiplier**n)
* ``decorrelated_jitter``: min(cap, uniform(base, 3 * previous sleep)), where the
  previous sleep is taken to be ``base`` for the first retry
"""

from __future__ import annotations

import math

from .. import _validate


class Backoff:
    """A backoff schedule: ``delay()`` gives the sleep before each retry."""

    KINDS = ("none", "constant", "exponential", "full_jitter", "equal_jitter",
             "decorrelated_jitter")

    def __init__(self, kind: str = "full_jitter", base: float = 0.1, cap: float = 10.0,
                 multiplier: float = 2.0):
        self.kind = _validate.one_of("kind", kind, self.KINDS)
        self.base = _validate.positive("base", base)
        _validate.positive("cap", cap)
        if cap < base:
            raise ValueError(f"cap must be >= base ({base!r}), got {cap!r}")
        self.cap = cap
        _validate.positive("multiplier", multiplier)
        if multiplier < 1:
            raise ValueError(f"multiplier must be >= 1, got {multiplier!r}")
        self.multiplier = multiplier
        # Beyond this retry index the exponential has reached the cap; checking it
        # first keeps base * multiplier**n from overflowing for large n.
        self._cap_index = (math.inf if multiplier == 1
                           else math.log(cap / base) / math.log(multiplier))

    def ceiling(self, retry_index: int) -> float:
        """The capped exponential min(cap, base * multiplier**retry_index)."""
        if retry_index < 0:
            raise ValueError(f"retry_index must be >= 0, got {retry_index!r}")
        if retry_index >= self._cap_index:
            return float(self.cap)
        return float(min(self.cap, self.base * self.multiplier ** retry_index))

    def delay(self, retry_index: int, previous: float, rng) -> float:
        """The sleep in seconds before retry number ``retry_index`` (0 = first retry).

        ``previous`` is the sleep before the previous retry (only the
        decorrelated kind uses it); ``rng`` needs ``uniform(a, b)`` and may be
        ``None`` for the kinds without jitter.
        """
        kind = self.kind
        if kind == "none":
            return 0.0
        if kind == "constant":
            return float(self.base)
        if kind == "decorrelated_jitter":
            if retry_index < 0:
                raise ValueError(f"retry_index must be >= 0, got {retry_index!r}")
            last = self.base if retry_index == 0 else previous
            upper = max(self.base, 3 * last)
            return float(min(self.cap, rng.uniform(self.base, upper)))
        ceiling = self.ceiling(retry_index)
        if kind == "exponential":
            return ceiling
        if kind == "full_jitter":
            return float(rng.uniform(0.0, ceiling))
        half = ceiling / 2  # equal_jitter
        return float(half + rng.uniform(0.0, half))
