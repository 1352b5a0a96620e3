"""Lesson 03's bulkhead scenario: A calls B or C, and B turns slow.

Clients send ``rate`` requests a second to A, which has ``a_threads``
threads. Each request does a little of A's own work and then calls either B or
C (half each), holding its thread until the answer comes or A's 1 s timeout
fires. B and C are alike when healthy (median 20 ms, p99 80 ms, 10 workers
each). From ``INCIDENT[0]`` to ``INCIDENT[1]`` B is ``b_slowdown`` times slower.

* ``pools="shared"``: calls to B and to C draw on the same threads, A's pool.
* ``pools="separate"``: each dependency has its own pool of ``pool_size``
  slots (a :class:`~course.sim.Bulkhead`, like Resilience4j's semaphore
  bulkhead). A call that finds its dependency's pool full fails at once
  instead of waiting, so B can hold at most ``pool_size`` of A's threads.

The number to watch is the p99 latency, as A's callers see it, of the requests
that call C, the healthy dependency.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from course.sim import (Bulkhead, Client, Dependency, Direct, FaultSchedule, LogNormal, OpenLoop, Outcome, Service,
                        Simulation, Slow, Timeout, _validate)
from course.sim import metrics
from course.sim.records import Steps

DURATION = 60.0
INCIDENT = (20.0, 40.0)
WINDOW = 1.0
RATE = 50.0
A_THREADS = 20
POOL_SIZE = 8
TIMEOUT = 1.0
#: A's own work per request, and B's and C's healthy latency.
A_WORK = LogNormal(0.002, 0.008)
DEPENDENCY_LATENCY = LogNormal(0.020, 0.080)
DEPENDENCY_WORKERS = 10
POOLS = ("shared", "separate")


class _OneOf:
    """A's choice of dependency: each request goes to B with probability ``p_b``, else to C.

    It stands where a client would in a :class:`~course.sim.Dependency` (it
    has ``call(call, done)``). The choice belongs to the request (drawn in
    the order of request ids), so even a request still queued in A when the
    run ends has one.
    """

    def __init__(self, sim, to_b, to_c, p_b: float):
        self.to_b, self.to_c, self.p_b = to_b, to_c, p_b
        self._stream = sim.rng("A:choose-dependency")
        self._to_b: list[bool] = []

    def goes_to_b(self, root: int) -> bool:
        """True if request ``root`` calls B."""
        while len(self._to_b) <= root:
            self._to_b.append(self._stream.random() < self.p_b)
        return self._to_b[root]

    def call(self, call, done) -> None:
        (self.to_b if self.goes_to_b(call.root) else self.to_c).call(call, done)


@dataclass
class BulkheadResult:
    """Per-window series (one value per ``WINDOW`` seconds) and headline numbers for one run."""

    t: np.ndarray
    c_p99: np.ndarray          # p99 latency of A's requests that call C, by arrival second (s)
    b_p99: np.ndarray          # the same for requests that call B (s)
    a_busy: np.ndarray         # A's busy threads
    held_by_b: np.ndarray      # calls from A to B in flight (each holds one of A's threads)
    held_by_c: np.ndarray      # calls from A to C in flight
    b_ok_rate: np.ndarray      # A's requests via B answered OK, per second
    b_rejected_rate: np.ndarray  # calls to B turned away by B's full pool, per second
    b_timeout_rate: np.ndarray   # calls to B that timed out, per second
    a_threads: int
    pools: str
    pool_size: int
    summary: dict


def _held(calls: dict, edges) -> np.ndarray:
    """Mean calls in progress per window, as the caller sees them (until its answer or its timeout):
    each one holds one of A's threads. (A timed-out call may still occupy B; it no longer holds A.)"""
    return metrics.windowed_mean_of_steps(*Steps.from_intervals(calls["start"], calls["end"]).arrays(), edges)


def simulate(pools: str = "separate", b_slowdown: float = 20.0, rate: float = RATE, a_threads: int = A_THREADS,
             pool_size: int = POOL_SIZE, seed: int = 1, duration: float = DURATION,
             incident: tuple = INCIDENT) -> BulkheadResult:
    """Run the scenario once. ``b_slowdown`` 1 means B stays healthy."""
    _validate.one_of("pools", pools, POOLS)
    if not b_slowdown >= 1:
        raise ValueError(f"b_slowdown must be >= 1 (1 means B stays healthy), got {b_slowdown!r}")
    _validate.positive("rate", rate)
    _validate.integer_at_least("a_threads", a_threads, 1)
    _validate.integer_at_least("pool_size", pool_size, 1)
    sim = Simulation(seed=seed)
    faults = FaultSchedule(Slow(incident[0], incident[1], b_slowdown)) if b_slowdown > 1 else None
    b = Service(sim, "B", workers=DEPENDENCY_WORKERS, latency=DEPENDENCY_LATENCY, faults=faults)
    c = Service(sim, "C", workers=DEPENDENCY_WORKERS, latency=DEPENDENCY_LATENCY)
    b_pool = Bulkhead(pool_size) if pools == "separate" else None
    c_pool = Bulkhead(pool_size) if pools == "separate" else None
    to_b = Client(sim, b, ([b_pool] if b_pool else []) + [Timeout(TIMEOUT)], name="A-to-B")
    to_c = Client(sim, c, ([c_pool] if c_pool else []) + [Timeout(TIMEOUT)], name="A-to-C")
    choose = _OneOf(sim, to_b, to_c, 0.5)
    a = Service(sim, "A", workers=a_threads, latency=A_WORK, calls=[Dependency(choose)])
    OpenLoop(sim, Direct(a), rate=rate, until=duration)
    sim.run(until=duration)

    edges = metrics.window_edges(duration, WINDOW)
    ra = a.records()
    went_to_b = np.array([choose.goes_to_b(int(root)) for root in ra["root"]], dtype=bool)
    went_to_c = ~went_to_b
    # A request still unanswered when the run ends has waited at least until then.
    latency = np.where(np.isfinite(ra["end"]), ra["end"], duration) - ra["arrival"]
    c_q = metrics.windowed_quantiles(ra["arrival"][went_to_c], latency[went_to_c], edges, (0.99,))[0]
    b_q = metrics.windowed_quantiles(ra["arrival"][went_to_b], latency[went_to_b], edges, (0.99,))[0]
    calls_b = to_b.call_records()
    b_outcome = calls_b["outcome"]
    ok = ra["outcome"] == int(Outcome.OK)

    before = ra["arrival"] < incident[0]
    during = (ra["arrival"] >= incident[0]) & (ra["arrival"] < incident[1])
    summary = {
        "c_p99_before": metrics.finite_quantile(latency[before & went_to_c], 0.99),
        "c_p99_during": metrics.finite_quantile(latency[during & went_to_c], 0.99),
        "b_p99_during": metrics.finite_quantile(latency[during & went_to_b], 0.99),
        "a_peak_busy": float(np.max(a.busy_series.values)),
        "b_rejected_during": int(np.sum((b_outcome == int(Outcome.BULKHEAD_FULL))
                                        & (calls_b["start"] >= incident[0]) & (calls_b["start"] < incident[1]))),
        "ok_share_during_c": float(ok[during & went_to_c].mean()) if np.any(during & went_to_c) else float("nan"),
        "ok_share_during_b": float(ok[during & went_to_b].mean()) if np.any(during & went_to_b) else float("nan"),
        "requests": int(len(ra["arrival"])),
    }
    return BulkheadResult(
        t=metrics.window_centres(edges), c_p99=c_q, b_p99=b_q,
        a_busy=metrics.windowed_mean_of_steps(*a.busy_series.arrays(), edges),
        held_by_b=_held(calls_b, edges),
        held_by_c=_held(to_c.call_records(), edges),
        b_ok_rate=metrics.windowed_rate(calls_b["end"], edges, b_outcome == int(Outcome.OK)),
        b_rejected_rate=metrics.windowed_rate(calls_b["end"], edges, b_outcome == int(Outcome.BULKHEAD_FULL)),
        b_timeout_rate=metrics.windowed_rate(calls_b["end"], edges, b_outcome == int(Outcome.TIMEOUT)),
        a_threads=a_threads, pools=pools, pool_size=pool_size, summary=summary)


@lru_cache(maxsize=64)
def simulate_cached(pools: str, b_slowdown: float, rate: float, a_threads: int, pool_size: int,
                    seed: int = 1) -> BulkheadResult:
    """:func:`simulate`, remembered for repeated settings (the dashboard goes back and forth)."""
    return simulate(pools, b_slowdown, rate, a_threads, pool_size, seed)
