"""When to retry, and how long to wait first."""

from __future__ import annotations

from .. import _validate
from ..outcomes import RETRYABLE, Outcome
from .backoff import Backoff


def _outcomes(name: str, values) -> frozenset:
    """``values`` as a frozenset of :class:`Outcome`, or a ValueError naming ``name``."""
    try:
        return frozenset(Outcome(v) for v in values)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a collection of Outcome values, got {values!r}") from None


class Retry:
    """A retry policy: up to ``max_attempts`` attempts, backoff, deadline and budget.

    ``max_attempts`` counts the first call, as Resilience4j's ``maxAttempts``
    does (Polly's ``MaxRetryAttempts`` does not: Polly's 3 is 4 attempts here).
    ``deadline`` bounds the whole operation, attempts and sleeps together, in
    seconds from its start. ``budget`` is an optional shared
    :class:`~course.sim.policies.budget.RetryBudget`.
    """

    def __init__(self, max_attempts: int = 3, backoff: Backoff | None = None,
                 retry_on=RETRYABLE, deadline: float | None = None, budget=None):
        self.max_attempts = _validate.integer_at_least("max_attempts", max_attempts, 1)
        if backoff is None:
            backoff = Backoff("full_jitter", 0.1, 10.0)
        if not callable(getattr(backoff, "delay", None)):
            raise ValueError(f"backoff must be a Backoff (anything with .delay()), got {backoff!r}")
        self.backoff = backoff
        self.retry_on = _outcomes("retry_on", retry_on)
        if deadline is not None:
            _validate.positive("deadline", deadline)
        self.deadline = deadline
        if budget is not None and not callable(getattr(budget, "try_spend", None)):
            raise ValueError(f"budget must be a RetryBudget or None, got {budget!r}")
        self.budget = budget

    def is_retryable(self, outcome) -> bool:
        """True if an attempt that ended with ``outcome`` may be retried."""
        return outcome in self.retry_on

    def next_delay(self, attempts_made: int, outcome, started_at: float, now: float,
                   previous_delay: float, rng) -> float | None:
        """The sleep before the next attempt, or ``None`` to give up.

        ``attempts_made`` counts the attempts so far (1 after the first call),
        ``outcome`` is how the last one ended, ``started_at`` is when the first
        one started, ``previous_delay`` is the last sleep (0.0 before the first
        retry). The budget is asked last, so a retry that would be refused for
        another reason does not use up a token.
        """
        if attempts_made < 1:
            raise ValueError(f"attempts_made must be >= 1, got {attempts_made!r}")
        if outcome not in self.retry_on or attempts_made >= self.max_attempts:
            return None
        delay = self.backoff.delay(attempts_made - 1, previous_delay, rng)
        if self.deadline is not None and now + delay >= started_at + self.deadline:
            return None
        if self.budget is not None and not self.budget.try_spend():
            return None
        return delay
