"""A retry budget: retries may add at most a fixed fraction to the load."""

from __future__ import annotations

from .. import _validate
from ._window import TimeWindow


class RetryBudget:
    """Allow retries only while they stay within a fraction of recent requests.

    Over the trailing ``window`` seconds, retries are kept to at most
    ``ratio * requests + min_per_second * window``. The Google SRE book
    ("Handling Overload") suggests a per-client budget of 10% of requests,
    which holds retry amplification to about 1.1x. The floor
    ``min_per_second`` lets a client with little traffic still retry.
    Counts are kept in 10 time buckets, so they expire as the clock moves.
    """

    def __init__(self, clock, ratio: float = 0.1, window: float = 10.0,
                 min_per_second: float = 0.0):
        self.ratio = _validate.probability("ratio", ratio)
        self.window = _validate.positive("window", window)
        self.min_per_second = _validate.non_negative("min_per_second", min_per_second)
        self._counts = TimeWindow(clock, window, buckets=10, fields=2)  # requests, retries

    def record_request(self) -> None:
        """Count one original request (call once per request, not per attempt)."""
        self._counts.add(1, 0)

    def try_spend(self) -> bool:
        """Count a retry and return True if the budget allows one more, else False."""
        requests, retries = self._counts.totals()
        allowance = self.ratio * requests + self.min_per_second * self.window
        if retries + 1 > allowance + 1e-9:  # tolerance for ratios like 0.29 * 100
            return False
        self._counts.add(0, 1)
        return True

    @property
    def requests(self) -> int:
        """Original requests in the current window."""
        return self._counts.totals()[0]

    @property
    def retries(self) -> int:
        """Retries spent in the current window."""
        return self._counts.totals()[1]
