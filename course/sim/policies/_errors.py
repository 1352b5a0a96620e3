"""Exceptions raised by the synchronous executor when a policy refuses a call."""

from __future__ import annotations

from ..outcomes import Outcome


class CallRejected(Exception):
    """A call refused before it ran, or shed by the server; ``outcome`` says why.

    Raise it from your own function with ``outcome=Outcome.REJECTED`` to
    signal that the server shed the call (a retryable rejection). The
    pipeline raises the subclasses below for its own client-side refusals.
    """

    outcome = Outcome.REJECTED

    def __init__(self, message: str = "", outcome: Outcome | None = None):
        if outcome is not None:
            self.outcome = Outcome(outcome)
        super().__init__(message or f"call rejected: {self.outcome.name}")


class BreakerOpen(CallRejected):
    """The circuit breaker did not allow the call."""

    outcome = Outcome.BREAKER_OPEN


class BulkheadFull(CallRejected):
    """The bulkhead had no free slot."""

    outcome = Outcome.BULKHEAD_FULL


class Throttled(CallRejected):
    """The adaptive throttle rejected the call locally."""

    outcome = Outcome.THROTTLED
