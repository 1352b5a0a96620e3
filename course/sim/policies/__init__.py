"""Resilience policies: retry, backoff, retry budget, adaptive throttling, circuit
breaker, bulkhead, timeout, hedging and fallback.

They are plain classes with an injected clock (anything with ``now()``) and, where
they need chance, an ``rng`` argument: they never read real time or global
randomness, so the same objects run in the simulator, on a
:class:`~course.sim.clock.ManualClock` in tests, and on real time through
:class:`~course.sim.policies.sync.Pipeline`. Inside the simulator,
:class:`course.sim.client.Client` runs them on the event loop: it wraps each
policy in a stage of its pipeline (see :mod:`course.sim.client`).
"""

from .backoff import Backoff
from .balancer import (BALANCERS, LeastOutstanding, OutlierEjection, PowerOfTwoChoices, RandomChoice,
                       RoundRobin)
from .breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker
from .budget import RetryBudget
from .bulkhead import Bulkhead
from .fallback import DEFAULT_HANDLES, Fallback
from .hedging import Hedge
from .rate_limit import TokenBucket
from .retry import Retry
from .sync import BreakerOpen, BulkheadFull, CallRejected, Pipeline, Throttled, outcome_of
from .throttle import ACCEPTED, AdaptiveThrottle
from .timeout import Timeout

__all__ = [
    "ACCEPTED", "AdaptiveThrottle", "Backoff", "BreakerOpen", "BulkheadFull", "CLOSED",
    "CallRejected", "CircuitBreaker", "DEFAULT_HANDLES", "Fallback", "HALF_OPEN", "Hedge",
    "OPEN", "Pipeline", "Retry", "RetryBudget", "Throttled", "Timeout", "TokenBucket", "outcome_of",
    "BALANCERS", "LeastOutstanding", "OutlierEjection", "PowerOfTwoChoices", "RandomChoice", "RoundRobin",
]
