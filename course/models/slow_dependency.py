"""Lesson 01's system: clients call A; half of A's requests also call B; B has an incident.

A has a pool of ``a_threads`` threads. Every request does a little local work
on one of them; a share of requests (``b_share``) then calls B and holds its
thread until B answers or A's timeout fires. Between ``incident_start`` and
``incident_end`` B is ``slowdown`` times slower. Without a timeout, B's
slowness holds A's threads, A's queue grows, and requests that never touch B
wait too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from course.sim import (Client, Dependency, Direct, FaultSchedule, LogNormal, OpenLoop, Outcome, Service,
                        Simulation, Slow, Timeout, _validate)
from course.sim import metrics

#: Simulated seconds per run, the incident window, and the plotting window width.
DURATION = 60.0
INCIDENT = (20.0, 40.0)
WINDOW = 1.0
#: A's own work per request: median 5 ms, p99 20 ms.
A_WORK = LogNormal(0.005, 0.020)


@dataclass
class SlowDependencyResult:
    """Per-window series (one value per ``WINDOW`` seconds) and headline figures for one run."""

    t: np.ndarray
    a_p50: np.ndarray
    a_p99: np.ndarray
    a_p99_without_b: np.ndarray
    a_p99_with_b: np.ndarray
    b_p50: np.ndarray
    b_p99: np.ndarray
    a_busy: np.ndarray
    a_queue: np.ndarray
    b_queue: np.ndarray
    ok_rate: np.ndarray
    timeout_rate: np.ndarray
    a_threads: int
    summary: dict


def _mean(values) -> float:
    values = np.asarray(values, dtype=float)
    return float(values.mean()) if values.size else float("nan")


def simulate(rate: float = 50.0, b_median_ms: float = 50.0, b_tail: float = 5.0, b_workers: int = 8,
             a_threads: int = 20, timeout_on: bool = False, timeout_ms: float = 300.0, slowdown: float = 10.0,
             b_share: float = 0.5, seed: int = 1, duration: float = DURATION,
             incident: tuple = INCIDENT) -> SlowDependencyResult:
    """Run lesson 01's system once and summarise it per second of simulated time.

    ``b_tail`` is B's p99 divided by its median; ``slowdown`` multiplies B's
    latency during the incident (1 means no incident). Times in the result are
    in seconds.
    """
    _validate.positive("rate", rate)
    _validate.positive("b_median_ms", b_median_ms)
    if not b_tail > 1:
        raise ValueError(f"b_tail (B's p99 / median) must be > 1, got {b_tail!r}")
    _validate.positive("timeout_ms", timeout_ms)
    _validate.probability("b_share", b_share)
    sim = Simulation(seed=seed)
    b_latency = LogNormal(b_median_ms / 1000, b_median_ms * b_tail / 1000)
    faults = FaultSchedule(Slow(incident[0], incident[1], slowdown)) if slowdown > 1 else None
    b = Service(sim, "B", workers=b_workers, latency=b_latency, faults=faults)
    policies = [Timeout(timeout_ms / 1000)] if timeout_on else []
    to_b = Client(sim, b, policies, name="A-to-B")
    a = Service(sim, "A", workers=a_threads, latency=A_WORK, calls=[Dependency(to_b, b_share)])
    OpenLoop(sim, Direct(a), rate=rate, until=duration)
    sim.run(until=duration)

    edges = metrics.window_edges(duration, WINDOW)
    ra, rb, calls = a.records(), b.records(), to_b.call_records()
    a_latency = ra["end"] - ra["arrival"]
    calls_b = (ra["route"] & 1).astype(bool)
    a_q = metrics.windowed_quantiles(ra["arrival"], a_latency, edges, (0.5, 0.99))
    b_q = metrics.windowed_quantiles(rb["arrival"], rb["end"] - rb["arrival"], edges, (0.5, 0.99))
    no_b = metrics.windowed_quantiles(ra["arrival"][~calls_b], a_latency[~calls_b], edges, (0.99,))[0]
    with_b = metrics.windowed_quantiles(ra["arrival"][calls_b], a_latency[calls_b], edges, (0.99,))[0]
    ok = ra["outcome"] == int(Outcome.OK)
    timed_out = calls["outcome"] == int(Outcome.TIMEOUT)

    in_incident = (ra["arrival"] >= incident[0]) & (ra["arrival"] < incident[1])
    b_in_incident = (rb["arrival"] >= incident[0]) & (rb["arrival"] < incident[1])
    b_latency_all = np.where(np.isfinite(rb["end"]), rb["end"], duration) - rb["arrival"]
    before = ra["arrival"] < incident[0]
    unfinished = ~np.isfinite(ra["end"])
    waited = np.where(unfinished, duration - ra["arrival"], a_latency)  # an unanswered request counts until the end
    summary = {
        "a_p99_without_b_before": metrics.finite_quantile(a_latency[before & ~calls_b], 0.99),
        "a_p99_without_b_during": metrics.finite_quantile(waited[in_incident & ~calls_b], 0.99),
        "a_p99_during": metrics.finite_quantile(waited[in_incident], 0.99),
        "a_peak_busy": float(np.max(a.busy_series.values)),
        "a_error_share_during": float(np.mean(~ok[in_incident & ~unfinished])) if np.any(in_incident & ~unfinished) else 0.0,
        "a_unanswered": int(unfinished.sum()),
        # The share of answered requests during the incident that called B: the most a timeout on B can fail.
        "a_calls_b_share_during": float(np.mean(calls_b[in_incident & ~unfinished])) if np.any(in_incident & ~unfinished) else 0.0,
        "b_utilisation": rate * b_share * b_latency.mean / b_workers,
        # Offered load over capacity while B is slow; above 1 means B cannot keep up at all.
        "b_utilisation_during": rate * b_share * b_latency.mean * max(slowdown, 1.0) / b_workers,
        "b_p99_healthy": b_latency.quantile(0.99),
        "b_mean_latency_during": _mean(b_latency_all[b_in_incident]),
        "requests": int(len(ra["arrival"])),
    }
    return SlowDependencyResult(
        t=metrics.window_centres(edges), a_p50=a_q[0], a_p99=a_q[1], a_p99_without_b=no_b, a_p99_with_b=with_b,
        b_p50=b_q[0], b_p99=b_q[1],
        a_busy=metrics.windowed_mean_of_steps(*a.busy_series.arrays(), edges),
        a_queue=metrics.windowed_mean_of_steps(*a.queue_series.arrays(), edges),
        b_queue=metrics.windowed_mean_of_steps(*b.queue_series.arrays(), edges),
        ok_rate=metrics.windowed_rate(ra["end"], edges, ok),
        timeout_rate=metrics.windowed_rate(calls["end"], edges, timed_out),
        a_threads=a_threads, summary=summary,
    )
