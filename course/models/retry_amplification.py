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

The system exists twice. :func:`simulate_stack` assembles it from course.sim's
parts (:func:`build`: ``Service``, ``Client([Retry])``, ``OpenLoop``), as the
lesson describes it; :func:`simulate`, which the dashboard and the tests run,
is the very same system written directly at the engine's level: several
times cheaper (about eight times at the dashboard's defaults), and identical
to the last bit (``tests/models/test_retry_storm_equivalence.py`` checks the
two against each other).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from heapq import heappop, heappush, heapreplace

import numpy as np

from course.sim import (Backoff, Client, Dependency, Errors, Exponential, FaultSchedule, OpenLoop, Outcome, Retry,
                        RetryBudget, Service, Simulation, _validate)
from course.sim import metrics
from course.sim._gc import gc_paused
from course.sim.clock import LoopClock
from course.sim.load import open_loop_arrival_times

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


def _check(layers, attempts, rate, duration, failure, budget_ratio, measure) -> tuple:
    """Validate the settings; returns the measuring window (by default the failure, cut at ``duration``)."""
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
    return measure


def _result(requests: dict, layer_arrivals: list, layer_roots: list, layers: int, attempts: int, duration: float,
            failure: tuple, measure: tuple) -> RetryStormResult:
    """The plotted series and the summary from a run's records.

    ``requests``: per top-level request, ``root`` (its id), ``start``, ``end`` and ``outcome``;
    ``layer_arrivals``/``layer_roots``: per layer, top first, when each call reached it and its request's id.
    """
    start, end = failure
    roots = requests["root"]
    edges = metrics.window_edges(duration, WINDOW)
    arrivals = np.array([metrics.windowed_rate(a, edges) for a in layer_arrivals])
    # Calls reaching each layer, counted per top-level request (a request's id is its root; ids are consecutive).
    first = int(roots.min()) if roots.size else 0
    per_request = np.array([np.bincount(r - first, minlength=roots.size)[:roots.size] for r in layer_roots])
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


def simulate_stack(layers: int = 3, attempts: int = 4, budget: bool = False, no_retry: bool = False,
                   rate: float = RATE, duration: float = DURATION, failure: tuple = FAILURE,
                   budget_ratio: float = BUDGET_RATIO, measure: tuple | None = None,
                   seed: int = 1) -> RetryStormResult:
    """The chain built from course.sim's parts (:func:`build`: ``Service``, ``Client([Retry])``, ``OpenLoop``).

    This is the model as the lesson describes it, assembled from the same
    parts as every other model in the course, every call logged at every hop.
    :func:`simulate` runs the very same system written at the engine's level,
    several times cheaper, which the dashboard needs; the two give
    identical results (``tests/models/test_retry_storm_equivalence.py``). The
    arguments and the result are :func:`simulate`'s.
    """
    measure = _check(layers, attempts, rate, duration, failure, budget_ratio, measure)
    sim = Simulation(seed=seed)
    entry, services, _ = build(sim, layers, attempts, budget, no_retry, failure, budget_ratio)
    load = OpenLoop(sim, entry, rate, until=duration)
    sim.run()
    records = [s.records() for s in services]
    return _result(load.records(), [r["arrival"] for r in records], [r["root"] for r in records], layers, attempts,
                   duration, failure, measure)


@gc_paused()
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

    This is :func:`simulate_stack`'s system (``Service``, ``Client([Retry])``,
    ``OpenLoop``) written directly at the engine's level, several times
    cheaper, as :func:`course.models.metastable.simulate` is: one event heap
    ordered as :class:`~course.sim.Simulation`'s, by (time, order of
    scheduling); the same named random streams; the very
    :class:`~course.sim.Retry`, :class:`~course.sim.Backoff` and
    :class:`~course.sim.RetryBudget` objects; and no per-hop logs, Call, Job
    or callback objects: it records only what the result reads (when each
    call reached each layer and for which request; each request's start, end
    and outcome). Why the result is the stack's, bit for bit:

    * **The same events, in the same order.** With no queues (a layer never
      has more calls in progress than there are requests in flight, far
      below :data:`WORKERS`; a run with more requests than that is handed to
      :func:`simulate_stack`), the stack schedules three kinds of event: an
      arrival, the end of a layer's own work, and the end of a retry's sleep.
      Everything else (submitting a call, calling the layer below, an answer
      travelling back up through the clients and services) happens
      synchronously inside them. Each event schedules at most one more for
      its request (an arrival also schedules the next arrival, after its
      request's first event), so every request has exactly one event pending.
      Here each such event is one heap entry at the same time, computed with
      the same arithmetic (now + drawn delay), and entries are numbered in
      the order the stack schedules them, so even ties break the same way.
    * **The same draws from the same streams, in the same order.** Layer k
      draws its work from ``service:layer{k}:work`` (:data:`WORK`, an
      exponential) when a call reaches it. The client to layer k decides as
      ``Retry.next_delay`` does, specialised to these policies (no overall
      deadline, full jitter): an outcome it retries (``ERROR``, not
      ``NO_RETRY``) on an attempt before the last gets a sleep of
      ``uniform(0, Backoff.ceiling(attempt - 1))`` from
      ``client:to-layer{k}:jitter``, drawn before its budget is asked and
      drawn even if the budget then refuses; anything else gives up at once,
      drawing nothing and leaving the budget alone. Each client's budget
      counts a request when the client is called, on a clock set to the
      event's time. Arrivals come from ``load:load:arrivals`` as OpenLoop
      draws them (:func:`~course.sim.load.open_loop_arrival_times`). The work
      and jitter numbers come from :meth:`~course.sim.streams.Stream.draws`,
      the very floats the Stream's scalar calls would return.
    * **The draws it skips decide nothing.** Dependencies are always called
      (probability 1, so ``routes`` is never drawn), there is no network
      latency, and the bottom's ``faults`` stream is drawn only to fail a
      call with probability 1 (``random() < 1`` always holds) during the
      failure, and not at all outside it, where the error rate is 0; no
      other draw comes from these streams.

    ``tests/models/test_retry_storm_equivalence.py`` checks it against
    :func:`simulate_stack` over every control setting of the dashboard.
    """
    measure = _check(layers, attempts, rate, duration, failure, budget_ratio, measure)
    sim = Simulation(seed=seed)  # its named streams; the clock is this function's own loop
    arrivals = open_loop_arrival_times(sim, rate, until=duration)
    n = len(arrivals)
    if n > WORKERS:  # enough requests in flight to make a layer queue: only the stack models that
        return simulate_stack(layers, attempts, budget, no_retry, rate, duration, failure, budget_ratio, measure,
                              seed)
    fail_start, fail_end = failure
    L = layers
    clock = LoopClock()
    # Index k = 1..L: layer k's work draws (WORK's sampler, Stream.exponential(mean), as an iterator), and
    # the Retry, budget and jitter draws (Stream.random) of the client to layer k.
    assert isinstance(WORK, Exponential)
    work = [None] + [sim.rng(f"service:layer{k}:work").draws("exponential", WORK.mean) for k in range(1, L + 1)]
    budgets = [None] + [RetryBudget(clock, ratio=budget_ratio, window=BUDGET_WINDOW) if budget else None
                        for _ in range(L)]
    retries = [None] + [Retry(attempts, BACKOFF, budget=budgets[k]) for k in range(1, L + 1)]
    jitter = [None] + [sim.rng(f"client:to-layer{k}:jitter").draws("random") for k in range(1, L + 1)]
    # Retry.next_delay specialised to these policies (see the docstring); the equivalence test holds it to the
    # stack's Retry. ceilings[n]: Backoff.ceiling(n - 1), the full-jitter range after attempt n.
    retry = retries[1]
    backoff = retry.backoff
    assert all(r.deadline is None and r.backoff is backoff for r in retries[1:]) and backoff.kind == "full_jitter"
    max_attempts, retry_on = retry.max_attempts, retry.retry_on
    ceilings = [None] + [backoff.ceiling(number - 1) for number in range(1, max_attempts)]
    try_spend = [None] + [r.budget.try_spend if r.budget is not None else None for r in retries[1:]]
    OK, ERROR = Outcome.OK, Outcome.ERROR
    above_failure = Outcome.NO_RETRY if no_retry else Outcome.ERROR  # what a layer answers when its calls fail

    req_end = [math.nan] * n
    req_outcome = [-1] * n
    times = [None] + [[] for _ in range(L)]  # per layer: when each call reached it
    roots = [None] + [[] for _ in range(L)]  # ... and its request's id
    # A request's state: [its id, the attempt number at each client 1..L]. (Nothing else that Retry keeps per
    # call matters here: full jitter ignores the last sleep, and with no deadline the call's start is unused.)
    # Heap entries: (time, number, what, state). what = k > 0: layer k's work ends; -k: client k's sleep ends
    # (its next attempt leaves); 0: a request arrives.
    heap = [(arrivals[0], 0, 0, None)] if n else []
    seq = 0
    i = 0
    while heap:
        now, _, what, st = heap[0]
        if what > 0:
            if what < L:  # layer k calls the client to layer k + 1, whose first attempt reaches it now
                k = what + 1
                if budget:
                    clock.t = now
                    budgets[k].record_request()
                st[k] = 1
                times[k].append(now)
                roots[k].append(st[0])
                seq += 1
                heapreplace(heap, (now + next(work[k]), seq, k, st))
                continue
            # The bottom answers: an error throughout the failure, OK outside it.
            if fail_start <= now < fail_end:
                outcome = ERROR
            else:  # OK all the way up, at once
                request = st[0]
                req_end[request] = now
                req_outcome[request] = OK
                heappop(heap)
                continue
            k = L
            while True:  # the failure travels up until a client retries it or it reaches the users
                number = st[k]
                if number < max_attempts and outcome in retry_on:
                    # Backoff.delay: float(jitter.uniform(0.0, ceiling)), and Stream.uniform(0.0, c) is
                    # 0.0 + (c - 0.0) * random(), which is c * random() to the last bit (c > 0, random() >= 0).
                    delay = ceilings[number] * next(jitter[k])
                    if budget:
                        clock.t = now
                        spent = try_spend[k]()
                    else:
                        spent = True
                    if spent:
                        st[k] = number + 1
                        seq += 1
                        heapreplace(heap, (now + delay, seq, -k, st))
                        break
                if k == 1:
                    request = st[0]
                    req_end[request] = now
                    req_outcome[request] = outcome
                    heappop(heap)
                    break
                k -= 1
                outcome = above_failure
        elif what < 0:  # client k's next attempt reaches layer k
            k = -what
            times[k].append(now)
            roots[k].append(st[0])
            seq += 1
            heapreplace(heap, (now + next(work[k]), seq, k, st))
        else:  # request i arrives: the users' client is called, and its first attempt reaches layer 1
            if budget:
                clock.t = now
                budgets[1].record_request()
            st = [i] + [0] * L
            st[1] = 1
            times[1].append(now)
            roots[1].append(i)
            seq += 1
            heapreplace(heap, (now + next(work[1]), seq, 1, st))
            i += 1
            if i < n:  # OpenLoop schedules the next arrival after the request has been sent
                seq += 1
                heappush(heap, (arrivals[i], seq, 0, None))

    requests = {"root": np.arange(n, dtype=np.int64), "start": np.array(arrivals, dtype=float),
                "end": np.array(req_end, dtype=float), "outcome": np.array(req_outcome, dtype=np.int8)}
    return _result(requests, [np.array(t, dtype=float) for t in times[1:]],
                   [np.array(r, dtype=np.int64) for r in roots[1:]], layers, attempts, duration, failure, measure)


def always_failing(**settings) -> RetryStormResult:
    """:func:`simulate` with the bottom layer failing for the whole run."""
    return simulate(failure=(0.0, math.inf), **settings)
