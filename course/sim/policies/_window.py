"""Sliding windows of counters, shared by the budget, the throttle and the breaker."""

from __future__ import annotations

import math
from collections import deque


class TimeWindow:
    """Sums of a few counters over the trailing ``window`` seconds of ``clock``.

    Time is cut into ``buckets`` equal slices and only the buckets still inside
    the window are kept, so memory is bounded whatever the traffic. An event
    therefore counts for between ``window - window/buckets`` and ``window``
    seconds, the usual price of a bucketed window.
    """

    def __init__(self, clock, window: float, buckets: int = 10, fields: int = 1):
        self._clock = clock
        self._width = window / buckets
        self._buckets = buckets
        self._slots: deque[list] = deque()  # [bucket index, count, count, ...]
        self._totals = [0] * fields

    def _index(self) -> int:
        return math.floor(self._clock.now() / self._width)

    def _expire(self, index: int) -> None:
        oldest = index - self._buckets + 1
        slots, totals = self._slots, self._totals
        while slots and slots[0][0] < oldest:
            slot = slots.popleft()
            for i in range(len(totals)):
                totals[i] -= slot[i + 1]

    def add(self, *amounts: int) -> None:
        """Add one amount per counter at the current time."""
        index = self._index()
        self._expire(index)
        slots = self._slots
        if not slots or slots[-1][0] < index:
            slots.append([index] + [0] * len(self._totals))
        slot = slots[-1]
        for i, amount in enumerate(amounts):
            slot[i + 1] += amount
            self._totals[i] += amount

    def totals(self) -> tuple:
        """The counters summed over the window as it stands now."""
        self._expire(self._index())
        return tuple(self._totals)


class CountWindow:
    """Sums of a few counters over the last ``size`` events."""

    def __init__(self, size: int, fields: int = 1):
        self._events: deque[tuple] = deque()
        self._size = size
        self._totals = [0] * fields

    def add(self, *amounts: int) -> None:
        """Record one event, pushing the oldest out once the window is full."""
        if len(self._events) == self._size:
            for i, amount in enumerate(self._events.popleft()):
                self._totals[i] -= amount
        self._events.append(amounts)
        for i, amount in enumerate(amounts):
            self._totals[i] += amount

    def totals(self) -> tuple:
        """The counters summed over the events in the window."""
        return tuple(self._totals)
