"""Lesson 02's retry storm: layers of services, each retrying the one below, above a bottom layer that fails.

The chain is ``users → layer 1 → layer 2 → … → layer L``. Every hop is a
:class:`~course.sim.Client` with a :class:`~course.sim.Retry` of up to
``attempts`` attempts (the first call included, as Resilience4j counts), so
there are ``L`` retrying hops, the users' own client among them: with L = 3
that is the Google SRE book's browser → frontend → backend → database
example, with the database as layer 3. Between :data:`FAILURE` times the
bottom layer answers every call with a retryable error (think HTTP 503).

Two defences, each on or off:

* ``budget``: every client has its own :class:`~course.sim.RetryBudget` of
  ``budget_ratio`` (10%) of its requests over a 10 s window: the SRE book's
  per-client retry budget.
* ``no_retry``: a layer whose own retries of the layer below have run out
  answers ``Outcome.NO_RETRY`` ("overloaded; don't retry"), so only the
  layer directly above the failure retries it.

Capacity is deliberately not modelled (every layer has far more workers than
it needs): this model counts attempts. What those attempts do to a bottom
layer that is already struggling is the metastable model's subject.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from course.sim import (Backoff, Client, Dependency, Errors, Exponential, FaultSchedule, OpenLoop, Outcome, Retry,
                        RetryBudget, Service, Simulation, _validate)
from course.sim import metrics

#: Top-level requests per second, simulated seconds per run, and when the bottom layer fails.
RATE = 10.0
DURATION = 30.0
FAILURE = (10.0, 20.0)
#: Every layer's own work, and a worker count large enough that nothing ever queues.
WORK = Exponential(0.002)
WORKERS = 100_000
#: The backoff between attempts at every hop: full jitter, 5 ms base, 50 ms cap.
BACKOFF = Backoff("full_jitter", 0.005, 0.050)
#: The per-client retry budget (SRE book: 10% of requests) and its window (seconds).
BUDGET_RATIO = 0.1
BUDGET_WINDOW = 10.0
#: Plot window width (seconds).
WINDOW = 1.0


@dataclass
class RetryStormResult:
    """Per-window load at every layer, and amplification figures, for one run."""

    t: np.ndarray
    offered: np.ndarray            # top-level requests per second
    arrivals: np.ndarray           # shape (layers, windows): calls per second reaching each layer
    amplification: np.ndarray      # per layer: calls reaching it per top-level request, while the bottom fails
    theory: np.ndarray             # per layer: attempts ** k, the no-defence figure
    bottom_per_request: np.ndarray  # calls reaching the bottom layer for each top-level request, in arrival order
    request_start: np.ndarray
    failure: tuple
    layers: int
    summary: dict


def build(sim, layers: int, attempts: int, budget: bool, no_retry: bool, failure: tuple,
          budget_ratio: float = BUDGET_RATIO):
    """The chain of services and clients on ``sim``: returns (entry client, services top first, clients top first)."""
    services, clients = [], []
    below = None
    for k in range(layers, 0, -1):  # build from the bottom up
        bottom = k == layers
        faults = FaultSchedule(Errors(1.0, *failure)) if bottom else None
        calls = [] if bottom else [Dependency(below)]
        failure_outcome = Outcome.NO_RETRY if no_retry and not bottom else Outcome.ERROR
        service = Service(sim, f"layer{k}", workers=WORKERS, latency=WORK, faults=faults, calls=calls,
                          dependency_failure=failure_outcome)
        retry_budget = RetryBudget(sim, ratio=budget_ratio, window=BUDGET_WINDOW) if budget else None
        client = Client(sim, service, [Retry(attempts, BACKOFF, budget=retry_budget)], name=f"to-layer{k}")
        services.insert(0, service)
        clients.insert(0, client)
        below = client
    return clients[0], services, clients


def simulate(layers: int = 3, attempts: int = 4, budget: bool = False, no_retry: bool = False,
             rate: float = RATE, duration: float = DURATION, failure: tuple = FAILURE,
             budget_ratio: float = BUDGET_RATIO, measure: tuple | None = None, seed: int = 1) -> RetryStormResult:
    """Run the chain once: arrivals stop at ``duration``, and the run goes on until every request is answered.

    ``failure`` is (start, end) in seconds (``(0, math.inf)``: the bottom
    always fails). Amplification is counted per top-level request: the calls
    that reached each layer on its behalf, averaged over the requests that
    started inside ``measure`` (by default the failure, cut at ``duration``)
    and were answered before the failure ended, so that every one of them
    saw the bottom failing from start to finish.
    """
    _validate.integer_at_least("layers", layers, 1)
    _validate.integer_at_least("attempts", attempts, 1)
    _validate.positive("rate", rate)
    _validate.positive("duration", duration)
    _validate.probability("budget_ratio", budget_ratio)
    start, end = failure
    _validate.non_negative("failure start", start)
    if not end > start:
        raise ValueError(f"failure must end after it starts, got {failure!r}")
    if measure is None:
        measure = (start, min(end, duration))
    if not measure[1] > measure[0]:
        raise ValueError(f"the measuring window must have positive length, got {measure!r}")
    sim = Simulation(seed=seed)
    entry, services, _ = build(sim, layers, attempts, budget, no_retry, failure, budget_ratio)
    load = OpenLoop(sim, entry, rate, until=duration)
    sim.run()

    requests = load.records()
    roots = requests["root"]
    edges = metrics.window_edges(duration, WINDOW)
    records = [s.records() for s in services]
    arrivals = np.array([metrics.windowed_rate(r["arrival"], edges) for r in records])
    # Calls reaching each layer, counted per top-level request (a request's id is its root; ids are consecutive).
    first = int(roots.min()) if roots.size else 0
    per_request = np.array([np.bincount(r["root"] - first, minlength=roots.size)[:roots.size] for r in records])
    inside = ((requests["start"] >= measure[0]) & (requests["start"] < measure[1])
              & (requests["end"] <= end))
    amplification = (per_request[:, inside].mean(axis=1) if inside.any()
                     else np.full(layers, np.nan))
    ok = requests["outcome"] == int(Outcome.OK)
    failing = (requests["start"] >= start) & (requests["start"] < min(end, duration))
    latency = requests["end"] - requests["start"]
    summary = {
        "bottom_amplification": float(amplification[-1]),
        "measured_requests": int(inside.sum()),
        "top_failure_share": float(np.mean(~ok[failing])) if failing.any() else float("nan"),
        "mean_latency_failing": float(latency[inside].mean()) if inside.any() else float("nan"),
        "requests": int(roots.size),
        "measure": measure,
    }
    return RetryStormResult(
        t=metrics.window_centres(edges), offered=metrics.windowed_rate(requests["start"], edges), arrivals=arrivals,
        amplification=amplification, theory=float(attempts) ** np.arange(1, layers + 1),
        bottom_per_request=per_request[-1], request_start=requests["start"], failure=(start, end),
        layers=layers, summary=summary,
    )


def always_failing(**settings) -> RetryStormResult:
    """:func:`simulate` with the bottom layer failing for the whole run."""
    return simulate(failure=(0.0, math.inf), **settings)
