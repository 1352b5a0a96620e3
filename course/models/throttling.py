"""Lesson 03's overload scenario: more traffic than the backend can serve.

``clients`` clients share the offered load (``overload`` times the backend's
capacity, split evenly) and call one backend with ``workers`` workers
(exponential service times, mean ``SERVICE_MEAN``, so the capacity is
``workers / SERVICE_MEAN`` requests a second). Each caller gives up after
``deadline`` seconds.

Server side, the backend either queues without limit (``shedding="none"``),
or sheds load: it turns away calls that arrive to a full queue of
``QUEUE_SECONDS`` × capacity calls (``"bounded_queue"``), or drops queued calls whose caller has
already given up (``"drop_expired"``).

Client side, each client may run the Google SRE book's adaptive throttle
(:class:`course.sim.AdaptiveThrottle`): it rejects a request locally with
probability max(0, (requests − K·accepts) / (requests + 1)), counted over
``window`` seconds. The book suggests about two minutes and K = 2; under heavy
overload the backend then ends up rejecting about one request for each one it
accepts, and the clients turn the rest away before they cost anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from course.sim import (AdaptiveThrottle, Client, Exponential, OpenLoop, Outcome, Service, Simulation, Timeout,
                        _validate)
from course.sim import metrics
from course.sim.policies import ACCEPTED

SERVICE_MEAN = 0.100
WORKERS = 10
#: Requests per second the backend can serve: workers / mean service time.
CAPACITY = WORKERS / SERVICE_MEAN
CLIENTS = 5
#: The bounded queue holds this many seconds of work at full speed: 20 calls at 100 requests/s.
QUEUE_SECONDS = 0.2
DEADLINE = 1.0
K = 2.0
#: The book's window is about 2 minutes; the dashboard uses a shorter one so a run settles quickly.
BOOK_WINDOW = 120.0
SHEDDING = ("none", "bounded_queue", "drop_expired")
WINDOW = 1.0


def _served_too_late(records) -> float:
    started = np.isfinite(records["start"])
    late = started & (records["end"] - records["arrival"] > DEADLINE)
    return float(late.sum() / started.sum()) if started.any() else 0.0


def _median_queue_wait(records) -> float:
    started = np.isfinite(records["start"])
    return float(np.median((records["start"] - records["arrival"])[started])) if started.any() else float("nan")


@dataclass
class OverloadResult:
    """Per-window rates (per second) and headline figures for one run."""

    t: np.ndarray
    offered: np.ndarray          # requests the clients were asked to make
    accepted: np.ndarray         # requests answered OK (within the deadline), per second
    backend_rejected: np.ndarray  # requests the backend turned away (full queue, or shed from it)
    timed_out: np.ndarray        # requests whose caller gave up first (the backend may still work on them)
    throttled: np.ndarray        # requests the clients rejected locally
    p99: np.ndarray              # p99 latency of requests answered OK, by start second (s)
    queue: np.ndarray            # the backend's mean queue length per window
    capacity: float
    summary: dict


def simulate(overload: float = 3.0, throttle: bool = True, k: float = K, window: float = 10.0,
             shedding: str = "bounded_queue", clients: int = CLIENTS, duration: float = 60.0,
             measure_from: float | None = None, seed: int = 1, workers: int = WORKERS) -> OverloadResult:
    """Run the scenario once; headline figures count requests started from ``measure_from``
    (by default, after two throttle windows or half the run, whichever is earlier) to the end.

    ``workers`` sets the backend's capacity, ``workers / SERVICE_MEAN`` requests a second.
    """
    _validate.positive("overload", overload)
    _validate.one_of("shedding", shedding, SHEDDING)
    _validate.integer_at_least("clients", clients, 1)
    _validate.positive("duration", duration)
    _validate.integer_at_least("workers", workers, 1)
    capacity = workers / SERVICE_MEAN
    sim = Simulation(seed=seed)
    backend = Service(sim, "backend", workers=workers, latency=Exponential(SERVICE_MEAN),
                      queue_limit=max(1, round(QUEUE_SECONDS * capacity)) if shedding == "bounded_queue" else None,
                      drop_expired=shedding == "drop_expired")
    loads, client_list = [], []
    for i in range(clients):
        policies = ([AdaptiveThrottle(sim, k=k, window=window)] if throttle else []) + [Timeout(DEADLINE)]
        client = Client(sim, backend, policies, name=f"client-{i}")
        client_list.append(client)
        loads.append(OpenLoop(sim, client, rate=overload * capacity / clients, until=duration, name=f"load-{i}"))
    sim.run(until=duration + DEADLINE)

    edges = metrics.window_edges(duration, WINDOW)
    requests = [load.records() for load in loads]
    start = np.concatenate([r["start"] for r in requests])
    outcome = np.concatenate([r["outcome"] for r in requests])
    end = np.concatenate([r["end"] for r in requests])
    throttled = outcome == int(Outcome.THROTTLED)
    ok = outcome == int(Outcome.OK)
    sent = ~throttled  # reached the backend
    if measure_from is None:
        measure_from = min(2 * window, duration / 2)
    late = start >= measure_from
    p99 = metrics.windowed_quantiles(start[ok], (end - start)[ok], edges, (0.99,))[0]
    # As the throttle counts them: the backend accepted a call if it answered it (OK or an error);
    # it rejected a call it turned away (a full queue, or shed from the queue).
    accepted_n = int(np.sum(np.isin(outcome, [int(o) for o in ACCEPTED]) & late))
    rejected_n = int(np.sum((outcome == int(Outcome.REJECTED)) & late))
    summary = {
        "requests": int(late.sum()),
        "accepted": accepted_n,
        "backend_rejected": rejected_n,
        "timed_out": int(np.sum((outcome == int(Outcome.TIMEOUT)) & late)),
        "throttled": int(np.sum(throttled & late)),
        "rejected_per_accepted": rejected_n / accepted_n if accepted_n else float("inf"),
        "throttled_share": float(np.mean(throttled[late])) if late.any() else 0.0,
        "goodput": int(np.sum(ok & late)) / (duration - measure_from),
        "capacity": capacity,
        "utilisation": backend.utilisation(duration),
        # Of the calls the backend started working on, the share it finished after the caller had given up.
        "served_too_late": _served_too_late(backend.records()),
        "median_queue_wait": _median_queue_wait(backend.records()),
        "p99_ok": float(np.quantile((end - start)[ok & late], 0.99)) if np.any(ok & late) else float("nan"),
        "measure_from": measure_from,
    }
    return OverloadResult(
        t=metrics.window_centres(edges),
        offered=metrics.windowed_rate(start, edges),
        accepted=metrics.windowed_rate(start, edges, ok),
        backend_rejected=metrics.windowed_rate(start, edges, outcome == int(Outcome.REJECTED)),
        timed_out=metrics.windowed_rate(start, edges, outcome == int(Outcome.TIMEOUT)),
        throttled=metrics.windowed_rate(start, edges, throttled),
        p99=p99, queue=metrics.windowed_mean_of_steps(*backend.queue_series.arrays(), edges),
        capacity=capacity, summary=summary)


#: The dashboard's smaller system, so that an update stays quick: a backend of 2 workers
#: (20 requests/s), two clients, 40 simulated seconds, a 10 s throttle window.
DASHBOARD = dict(workers=2, clients=2, duration=40.0, window=10.0)


@lru_cache(maxsize=64)
def simulate_cached(overload: float, throttle: bool, k: float, shedding: str, seed: int = 1) -> OverloadResult:
    """:func:`simulate` at the dashboard's sizes (:data:`DASHBOARD`), remembered for repeated settings."""
    return simulate(overload, throttle, k, shedding=shedding, seed=seed, **DASHBOARD)


#: The SRE book's settings, as ``tests/reproductions/test_throttling.py`` runs them: 3× overload,
#: K = 2, a two-minute window; measured over the second two minutes of a four-minute run, once
#: every client's window holds only overloaded traffic.
BOOK = dict(overload=3.0, k=K, window=BOOK_WINDOW, duration=240.0, measure_from=120.0)


@lru_cache(maxsize=None)
def reproduce(throttle: bool, seed: int = 1) -> OverloadResult:
    """The book's scenario with or without client-side throttling, run once per process."""
    return simulate(throttle=throttle, seed=seed, **BOOK)
