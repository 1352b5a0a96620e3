"""The event loop: a heap of timestamped callbacks on a virtual clock."""

from __future__ import annotations

import itertools
import math
from heapq import heappop, heappush

from . import _validate
from .streams import RandomStreams, Stream


class Simulation:
    """A discrete-event simulation on a virtual clock.

    Everything that happens is a callback scheduled for a moment of simulated
    time. :meth:`run` pops them in time order (ties in the order they were
    scheduled) and advances the clock to each one; nothing ever sleeps.

    The simulation is also a clock (it has :meth:`now`), so policies written
    for real time run inside it unchanged. Randomness comes only from
    :meth:`rng`, whose named streams are independent of one another and fixed
    by ``seed``: the same seed always gives the same run.
    """

    def __init__(self, seed: int = 0):
        _validate.integer_at_least("seed", seed, 0)
        self.seed = seed
        self._now = 0.0
        self._heap: list = []
        self._counter = itertools.count()
        self._streams = RandomStreams(seed)
        self.events_processed = 0

    def now(self) -> float:
        """The current simulated time in seconds."""
        return self._now

    def schedule(self, delay: float, callback, *args) -> list:
        """Call ``callback(*args)`` after ``delay`` simulated seconds.

        Returns a handle that :meth:`cancel` accepts.
        """
        if not delay >= 0:  # also catches NaN
            raise ValueError(f"delay must be >= 0 seconds, got {delay!r}")
        entry = [self._now + delay, next(self._counter), callback, args]
        heappush(self._heap, entry)
        return entry

    def at(self, time: float, callback, *args) -> list:
        """Call ``callback(*args)`` at simulated ``time`` (not in the past)."""
        if not time >= self._now:
            raise ValueError(f"time must be >= now ({self._now}), got {time!r}")
        entry = [time, next(self._counter), callback, args]
        heappush(self._heap, entry)
        return entry

    @staticmethod
    def cancel(handle: list) -> None:
        """Stop a scheduled callback from running. Cancelling twice is harmless."""
        handle[2] = None

    def run(self, until: float | None = None) -> float:
        """Process events in time order until none are left or ``until`` is reached.

        Returns the clock's time afterwards, which is ``until`` when given.
        """
        if until is not None and not until >= self._now:
            raise ValueError(f"until must be >= now ({self._now}), got {until!r}")
        limit = math.inf if until is None else until
        heap = self._heap
        processed = 0
        while heap:
            entry = heappop(heap)
            time, _, callback, args = entry
            if time > limit:
                heappush(heap, entry)  # not due yet: put it back for a later run()
                break
            if callback is None:
                continue
            self._now = time
            processed += 1
            callback(*args)
        self.events_processed += processed
        if until is not None:
            self._now = until
        return self._now

    def rng(self, name: str) -> Stream:
        """The random stream called ``name``: independent of every other name, fixed by the seed."""
        return self._streams.stream(name)

    def has_stream(self, name: str) -> bool:
        """Whether the stream called ``name`` has been asked for yet (by :meth:`rng`)."""
        return self._streams.has(name)

    @property
    def pending(self) -> int:
        """How many callbacks are waiting (cancelled ones included until they are popped)."""
        return len(self._heap)
