"""``course.sim``: a small, deterministic simulator of services under pressure.

The engine in 10 minutes
========================

**Time is virtual.** :class:`Simulation` keeps a heap of callbacks, each due
at a moment of simulated time. ``sim.run(until=60)`` pops them in order and
moves the clock from one to the next, so a minute of traffic takes
milliseconds and nothing ever sleeps. ``sim.schedule(delay, fn, *args)`` and
``sim.at(time, fn, *args)`` add callbacks; ``sim.cancel(handle)`` removes one.

**Randomness is named.** ``sim.rng("service:B:work")`` is a stream that
depends only on the seed and its name, so adding a new random thing to a model
never changes the draws of the old ones, and the same seed gives the same
arrays, bit for bit.

**Services hold workers.** :class:`Service` has ``workers`` threads and a queue.
A call waits for a worker, does its local work (a :mod:`latency
<course.sim.latency>` draw, stretched by any :mod:`faults <course.sim.faults>`),
then makes its downstream calls while *still holding the worker*. When B is
slow, A's workers wait on B, A's queue grows, and A is slow for everyone —
even for requests that never touch B. That is the cascade.

**Clients run policies.** :class:`Client` sends calls to a service through a
list of plain policy objects, outermost first: ``[Fallback, Retry,
CircuitBreaker, Bulkhead, Timeout]`` and so on (see :mod:`course.sim.policies`).
The policies take a clock and know nothing about the simulator, so the very
same objects also run on real time through
:class:`course.sim.policies.sync.Pipeline`.

**Load drives it.** :class:`OpenLoop` sends Poisson arrivals at a rate (or a
:class:`RateSchedule`); :class:`ClosedLoop` is a crowd of users who wait for
each answer and think before the next.

**Everything is recorded.** Services log every call they receive and what
they did with it, clients log every attempt they send as the client saw it
(an attempt it gave up on is a ``TIMEOUT`` there, whatever the service
answered later), and load logs every top-level request; ``records()``
returns them as numpy arrays. Busy workers, queue length and calls in flight
are step series with exact time integrals. :mod:`course.sim.metrics` turns
records into windowed throughput, goodput and percentiles;
:mod:`course.sim.queueing` says what theory expects.

A minimal run::

    from course.sim import Simulation, Service, Exponential, OpenLoop, Direct
    sim = Simulation(seed=1)
    db = Service(sim, "db", workers=1, latency=Exponential(0.010))
    load = OpenLoop(sim, Direct(db), rate=80, until=600)
    sim.run()
    r = db.records()          # arrival, start, end, outcome, route, root
    w = (r["end"] - r["arrival"]).mean()   # ≈ 0.010 / (1 - 0.8) = 0.05 s
"""

from .clock import Clock, ManualClock, MonotonicClock
from .client import Client
from .engine import Simulation
from .faults import Down, Errors, FaultSchedule, Slow
from .latency import Bimodal, Constant, Empirical, Exponential, Latency, LogNormal, Pareto
from .load import ClosedLoop, Direct, OpenLoop, RateSchedule
from .outcomes import RETRYABLE, Outcome
from .policies import (AdaptiveThrottle, Backoff, Bulkhead, CircuitBreaker, Fallback, Hedge, Retry, RetryBudget,
                       Timeout)
from .service import Call, Dependency, Service

__all__ = [
    "AdaptiveThrottle", "Backoff", "Bimodal", "Bulkhead", "Call", "CircuitBreaker", "Client", "Clock",
    "ClosedLoop", "Constant", "Dependency", "Direct", "Down", "Empirical", "Errors", "Exponential", "Fallback",
    "FaultSchedule", "Hedge", "Latency", "LogNormal", "ManualClock", "MonotonicClock", "OpenLoop", "Outcome",
    "Pareto", "RETRYABLE", "RateSchedule", "Retry", "RetryBudget", "Service", "Simulation", "Slow", "Timeout",
]
