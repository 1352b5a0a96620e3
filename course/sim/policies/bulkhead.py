"""A bulkhead: a limit on concurrent calls, with no waiting."""

from __future__ import annotations

from .. import _validate


class Bulkhead:
    """A semaphore that rejects instead of waiting.

    Like Resilience4j's semaphore bulkhead with ``maxWaitDuration`` 0; its
    default limit is 25 concurrent calls.
    """

    def __init__(self, max_concurrent: int = 25):
        self.max_concurrent = _validate.integer_at_least("max_concurrent", max_concurrent, 1)
        self.in_use = 0
        self.rejected = 0

    def try_acquire(self) -> bool:
        """Take a slot and return True, or count a rejection and return False."""
        if self.in_use < self.max_concurrent:
            self.in_use += 1
            return True
        self.rejected += 1
        return False

    def release(self) -> None:
        """Give back a slot taken by a successful :meth:`try_acquire`."""
        if self.in_use == 0:
            raise RuntimeError("release() called more often than try_acquire() succeeded")
        self.in_use -= 1

    @property
    def available(self) -> int:
        """Slots free right now."""
        return self.max_concurrent - self.in_use
