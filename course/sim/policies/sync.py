"""A small synchronous executor, so the same policy objects run on real time.

Exceptions stand for outcomes: ``TimeoutError`` is TIMEOUT, ``ConnectionError``
is ERROR, :class:`CallRejected` carries its own outcome, and anything else is
FATAL: it propagates at once, is never retried and never replaced by a fallback.
"""

from __future__ import annotations

import random
import time

from ..clock import MonotonicClock
from ..outcomes import Outcome
from ._errors import BreakerOpen, BulkheadFull, CallRejected, Throttled
from .breaker import CircuitBreaker
from .bulkhead import Bulkhead
from .fallback import Fallback
from .hedging import Hedge
from .retry import Retry
from .throttle import ACCEPTED, AdaptiveThrottle
from .timeout import Timeout

__all__ = ["Pipeline", "CallRejected", "BreakerOpen", "BulkheadFull", "Throttled", "outcome_of"]


def outcome_of(exc: BaseException) -> Outcome:
    """The outcome an exception stands for (FATAL for anything unexpected)."""
    if isinstance(exc, CallRejected):
        return exc.outcome
    if isinstance(exc, TimeoutError):
        return Outcome.TIMEOUT
    if isinstance(exc, ConnectionError):
        return Outcome.ERROR
    return Outcome.FATAL


class Pipeline:
    """Policies wrapped around a function, outermost first, like a Polly pipeline.

    ``Pipeline(Fallback(...), Retry(...), CircuitBreaker(clock), Timeout(1.0))``
    retries outside the breaker, and times out each attempt. The policies
    keep their state between calls, so reuse one pipeline for many calls.

    * Retry: sleeps ``next_delay()`` between attempts; records one request per
      call in its budget; passes its deadline down to inner timeouts.
    * CircuitBreaker: raises :class:`BreakerOpen` when not allowed; any
      non-FATAL failure inside it (inner rejections included) counts as a
      failure; FATAL calls are not recorded (``on_ignored``).
    * Bulkhead: raises :class:`BulkheadFull` when full.
    * AdaptiveThrottle: raises :class:`Throttled` when it rejects locally;
      counts an accept for the outcomes in ``throttle.ACCEPTED``.
    * Timeout: cooperative. A call that comes back after its deadline (its own,
      or one passed down) is a ``TimeoutError``, and its result is discarded.
    * Fallback: returns ``get()`` for exceptions it handles.
    """

    _KINDS = (Fallback, Retry, AdaptiveThrottle, CircuitBreaker, Bulkhead, Timeout)

    def __init__(self, *policies):
        for policy in policies:
            if isinstance(policy, Hedge):
                raise ValueError("Hedge cannot run in the synchronous Pipeline: hedging sends "
                                 "duplicate attempts concurrently, which needs a concurrent "
                                 "executor; only the simulator runs it")
            if not isinstance(policy, self._KINDS):
                names = ", ".join(k.__name__ for k in self._KINDS)
                raise ValueError(f"policies must be instances of {names}; got {policy!r}")
        self.policies = policies

    def call(self, fn, *args, clock=None, sleep=None, rng=None, **kwargs):
        """Run ``fn(*args, **kwargs)`` through the policies and return its value
        (or a fallback's). Raises the last exception if nothing handled it.

        ``clock`` defaults to real time, ``sleep`` to ``clock.sleep`` (or
        :func:`time.sleep`), ``rng`` to a fresh ``random.Random()``.
        """
        clock = MonotonicClock() if clock is None else clock
        if sleep is None:
            sleep = getattr(clock, "sleep", time.sleep)
        rng = random.Random() if rng is None else rng
        return _Call(self.policies, fn, args, kwargs, clock, sleep, rng).step(0, None)


class _Call:
    """One call through the pipeline; ``step(i, deadline)`` runs policy ``i`` and inwards."""

    def __init__(self, policies, fn, args, kwargs, clock, sleep, rng):
        self.policies, self.fn, self.args, self.kwargs = policies, fn, args, kwargs
        self.now, self.sleep, self.rng = clock.now, sleep, rng

    def step(self, i: int, deadline: float | None):
        if i == len(self.policies):
            return self.fn(*self.args, **self.kwargs)
        policy = self.policies[i]
        for kind, run in ((Fallback, self._fallback), (Retry, self._retry),
                          (AdaptiveThrottle, self._throttle), (CircuitBreaker, self._breaker),
                          (Bulkhead, self._bulkhead), (Timeout, self._timeout)):
            if isinstance(policy, kind):
                return run(policy, i + 1, deadline)
        raise AssertionError(policy)  # pragma: no cover - rejected by Pipeline()

    def _fallback(self, fallback: Fallback, inner: int, deadline):
        try:
            return self.step(inner, deadline)
        except fallback.exceptions as exc:
            if fallback.handles_outcome(outcome_of(exc)):
                return fallback.get()
            raise

    def _retry(self, retry: Retry, inner: int, deadline):
        if retry.budget is not None:
            retry.budget.record_request()
        started = self.now()
        own = deadline
        if retry.deadline is not None:
            own = started + retry.deadline
            if deadline is not None:
                own = min(own, deadline)
        attempts, previous = 0, 0.0
        while True:
            attempts += 1
            try:
                return self.step(inner, own)
            except Exception as exc:
                outcome = outcome_of(exc)
                if outcome == Outcome.FATAL:
                    raise
                if deadline is not None and self.now() >= deadline:
                    raise
                delay = retry.next_delay(attempts, outcome, started, self.now(), previous, self.rng)
                if delay is None:
                    raise
                self.sleep(delay)
                previous = delay

    def _throttle(self, throttle: AdaptiveThrottle, inner: int, deadline):
        if not throttle.allow(self.rng):
            raise Throttled()
        try:
            result = self.step(inner, deadline)
        except Exception as exc:
            if outcome_of(exc) in ACCEPTED:
                throttle.record_accept()
            raise
        throttle.record_accept()
        return result

    def _breaker(self, breaker: CircuitBreaker, inner: int, deadline):
        if not breaker.allow():
            raise BreakerOpen()
        start = self.now()
        try:
            result = self.step(inner, deadline)
        except Exception as exc:
            if outcome_of(exc) == Outcome.FATAL:
                breaker.on_ignored()
            else:
                breaker.on_failure(self.now() - start)
            raise
        breaker.on_success(self.now() - start)
        return result

    def _bulkhead(self, bulkhead: Bulkhead, inner: int, deadline):
        if not bulkhead.try_acquire():
            raise BulkheadFull()
        try:
            return self.step(inner, deadline)
        finally:
            bulkhead.release()

    def _timeout(self, timeout: Timeout, inner: int, deadline):
        start = self.now()
        own = timeout.deadline(start, deadline)
        if own <= start:
            raise TimeoutError("the deadline had already passed")
        try:
            result = self.step(inner, own)
        except Exception as exc:
            if self.now() > own and outcome_of(exc) != Outcome.FATAL:
                raise TimeoutError(f"no answer within {own - start:.6g} s") from exc
            raise
        if self.now() > own:
            raise TimeoutError(f"no answer within {own - start:.6g} s")
        return result
