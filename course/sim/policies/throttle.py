"""Client-side adaptive throttling, from the Google SRE book ("Handling Overload")."""

from __future__ import annotations

from .. import _validate
from ..outcomes import Outcome
from ._window import TimeWindow

#: Outcomes that mean the backend accepted the request: it answered, even if
#: with an error that is not overload. Timeouts and rejections do not count.
ACCEPTED = frozenset({Outcome.OK, Outcome.ERROR, Outcome.FATAL})


class AdaptiveThrottle:
    """Reject requests locally once the backend accepts too few of them.

    Each request is rejected with probability
    ``max(0, (requests - k * accepts) / (requests + 1))``, both counted over
    the trailing ``window`` seconds (the book says about 2 minutes, and k = 2).
    Requests rejected locally still count as requests, so under heavy overload
    the backend ends up rejecting about one request for each it accepts.
    Counts are kept in 10 time buckets.
    """

    def __init__(self, clock, k: float = 2.0, window: float = 120.0):
        _validate.positive("k", k)
        if k < 1:
            raise ValueError(f"k must be >= 1 (k < 1 throttles even a healthy backend), got {k!r}")
        self.k = k
        self.window = _validate.positive("window", window)
        self._counts = TimeWindow(clock, window, buckets=10, fields=2)  # requests, accepts

    def reject_probability(self) -> float:
        """The probability that the next request is rejected locally."""
        requests, accepts = self._counts.totals()
        return max(0.0, (requests - self.k * accepts) / (requests + 1))

    def allow(self, rng) -> bool:
        """Count a request; return False if it is rejected locally.

        ``rng`` needs ``random()``; it is only drawn from when the probability
        of rejection is above zero.
        """
        p = self.reject_probability()
        self._counts.add(1, 0)
        return not (p > 0 and rng.random() < p)

    def record_accept(self) -> None:
        """Count a request that the backend accepted (see :data:`ACCEPTED`)."""
        self._counts.add(0, 1)

    @property
    def requests(self) -> int:
        """Requests in the current window, including those rejected locally."""
        return self._counts.totals()[0]

    @property
    def accepts(self) -> int:
        """Requests the backend accepted in the current window."""
        return self._counts.totals()[1]
