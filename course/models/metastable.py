"""Lesson 02's metastable failure: an app retries into a database that a short outage pushed over the edge.

The example is Bronson et al.'s ("Metastable Failures in Distributed
Systems", HotOS 2021): a database that handles about 300 queries a second
and gets about ten times slower beyond that; an app that offers 280 QPS,
gives up on a query after 1 s and retries it once; a 10 s outage. The
published figures: stuck at about 560 QPS of attempts with almost no goodput
after the outage has ended; stable below 150 QPS, vulnerable between 150 and
300; recovery needs the load below 150 QPS or the retries below 20 QPS.

Our model of it, built from nothing but a queue:

* **The database** has :data:`WORKERS` workers, each query takes
  :data:`SERVICE` seconds of one of them, so its capacity is exactly
  :data:`CAPACITY` queries a second. Queries wait in a FIFO queue bounded at
  :data:`QUEUE_LIMIT` (two seconds of work); a query arriving to a full queue
  is rejected at once. Past capacity a query waits up to 2 s on top of its
  0.2 s: about ten times slower.
* **The database does not know when a caller has given up.** A query whose
  caller timed out still waits its turn and still takes a worker for its
  0.2 s (unless ``drop_expired`` is on: then a query whose deadline has
  passed by the time it reaches the front is skipped). That wasted work is the
  sustaining effect.
* **The app** sends Poisson arrivals at ``rate`` per second with a 1 s timeout
  on each attempt and, by policy, no retry, one immediate retry of a timeout
  or a rejection, or one retry within a per-client retry budget.
* **The trigger** starts at :data:`OUTAGE_START`. ``"stall"``: the database
  accepts queries but finishes none for ``outage_s`` seconds (a failover, a
  stop-the-world pause, a network blip that holds packets), so they pile up in
  its queue. It is made of the engine's own :class:`~course.sim.Slow` fault
  (no engine change needed): a query started during the stall takes
  ``outage_s`` seconds, so each worker is frozen from the first query it
  picks up in the stall; at the app's rates all 60 are frozen within a
  fraction of a second and thaw when the stall ends. ``"refuse"``: the
  database refuses connections for ``outage_s`` seconds, so calls fail at
  once and nothing piles up.
* ``load_after`` scales the offered load from :data:`CHANGE_AT` on (0.5
  halves it), which is how an operator sheds load to get out.

At 280 QPS the app sends 280 first attempts a second. After the stall the
queue is full, every query waits 2 s, every attempt times out and is retried:
560 attempts a second into a database that finishes 300, all of it for
callers who have already left. Halve the load and the retries make it 280,
below capacity: the queue drains. That is why 150 QPS (half of capacity) is
the line between stable and vulnerable.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from functools import lru_cache
from heapq import heappop, heappush

import numpy as np

from course.sim import (Backoff, Client, Constant, Down, FaultSchedule, OpenLoop, Outcome, RateSchedule, Retry,
                        RetryBudget, Service, Simulation, Slow, Timeout, _validate)
from course.sim import metrics
from course.sim.records import Steps
from course.sim._gc import gc_paused
from course.sim.clock import LoopClock
from course.sim.load import open_loop_arrival_times
from course.sim.service import REFUSE_DELAY

#: The database: 60 workers × (1 / 0.2 s) = 300 queries a second, a queue of 2 s of work.
WORKERS = 60
SERVICE = 0.2
CAPACITY = WORKERS / SERVICE
QUEUE_LIMIT = 600
#: The app's per-attempt timeout (seconds).
TIMEOUT = 1.0
#: A query that waits longer than this cannot finish inside the timeout: above this queue length,
#: every query arriving is already too late.
HOPELESS_QUEUE = int(round((TIMEOUT - SERVICE) * CAPACITY))
#: When the outage starts, when ``load_after`` takes effect, and how long a run is (seconds).
OUTAGE_START = 10.0
CHANGE_AT = 50.0
DURATION = 90.0
#: Window widths: the plotted series and the summary figures (seconds).
WINDOW = 1.0
SUMMARY_WINDOW = 5.0
#: Retry budget windows (seconds), as in :class:`~course.sim.RetryBudget`'s default.
BUDGET_WINDOW = 10.0

#: The app's retry policies: name -> (attempts per request, retry budget ratio or None).
POLICIES = {
    "none": (1, None),
    "retry_once": (2, None),
    "budget_10": (2, 0.10),
    "budget_5": (2, 0.05),
    "budget_2": (2, 0.02),
}
OUTAGE_KINDS = ("stall", "refuse")


@dataclass
class MetastableResult:
    """Per-second series and headline figures for one run. Rates are per second."""

    t: np.ndarray
    offered: np.ndarray          # top-level requests arriving
    attempts: np.ndarray         # queries sent to the database (first attempts and retries)
    goodput: np.ndarray          # requests answered OK
    wasted: np.ndarray           # queries the database finished after their caller had given up
    db_queue: np.ndarray         # mean queries waiting in the database's queue
    outage: tuple                # (start, end) of the trigger
    change_at: float | None      # when the offered load changed, if it did
    summary: dict


def _rates(edges, times, mask=None):
    return metrics.windowed_rate(times, edges, mask)


def _first_recovery(edges, offered, goodput, since: float) -> float:
    """The first window edge at or after ``since`` from which goodput stays at or above 90% of offered."""
    ok = goodput >= 0.9 * offered
    starts = edges[:-1]
    for i in range(len(ok)):
        if starts[i] >= since - 1e-9 and ok[i:].all():
            return float(starts[i])
    return float("nan")


def _check(rate, outage_s, outage_kind, policy, load_after, duration, outage_start, change_at) -> None:
    _validate.positive("rate", rate)
    _validate.non_negative("outage_s", outage_s)
    _validate.one_of("outage_kind", outage_kind, OUTAGE_KINDS)
    _validate.one_of("policy", policy, tuple(POLICIES))
    _validate.positive("load_after", load_after)
    _validate.positive("duration", duration)
    _validate.non_negative("outage_start", outage_start)
    _validate.positive("change_at", change_at)


def _result(req_start, req_end, req_ok, sent, for_nobody, db_queue: Steps, duration, outage_start, outage_end,
            change_at) -> MetastableResult:
    """The plotted series and the summary from a run's raw times.

    ``req_start``/``req_end``/``req_ok``: each top-level request's start, end (NaN if unanswered) and whether it
    was answered OK; ``sent``: when each attempt left the app; ``for_nobody``: when the database finished each
    query whose caller had already given up; ``db_queue``: the database's queue length over time.
    """
    edges = metrics.window_edges(duration, WINDOW)
    series = dict(offered=_rates(edges, req_start), attempts=_rates(edges, sent),
                  goodput=_rates(edges, req_end, req_ok), wasted=_rates(edges, for_nobody))
    db_queue = metrics.windowed_mean_of_steps(*db_queue.arrays(), edges)

    # Summary figures over SUMMARY_WINDOW-second windows (1 s windows are too noisy to judge 90%).
    coarse = metrics.window_edges(duration, SUMMARY_WINDOW)
    c_offered = _rates(coarse, req_start)
    c_attempts = _rates(coarse, sent)
    c_goodput = _rates(coarse, req_end, req_ok)
    after_end = change_at if change_at is not None else duration
    stuck = (coarse[:-1] >= outage_end - 1e-9) & (coarse[1:] <= after_end + 1e-9)
    settled = (req_start >= 1.0) & (req_end < outage_start)  # answered before the trigger
    recovered_at = _first_recovery(coarse, c_offered, c_goodput, outage_end)
    nan = float("nan")
    c_wasted = _rates(coarse, for_nobody)
    summary = {
        "outage_end": outage_end,
        # The share of requests answered OK among those started (after a 1 s warm-up) and answered before it.
        "healthy_success": float(req_ok[settled].mean()) if settled.any() else nan,
        # Between the end of the outage and the load change (or the end of the run):
        "after_attempts_ratio": float(c_attempts[stuck].sum() / c_offered[stuck].sum()) if stuck.any() else nan,
        "after_goodput_ratio": float(c_goodput[stuck].sum() / c_offered[stuck].sum()) if stuck.any() else nan,
        "after_wasted_per_s": float(c_wasted[stuck].mean()) if stuck.any() else nan,
        "recovered_at": recovered_at,
        "recovery_s": recovered_at - outage_end,
        "window_starts": coarse[:-1], "window_offered": c_offered, "window_attempts": c_attempts,
        "window_goodput": c_goodput,
        "attempts_per_request": len(sent) / max(1, len(req_start)),
    }
    return MetastableResult(t=metrics.window_centres(edges), db_queue=db_queue, outage=(outage_start, outage_end),
                            change_at=change_at, summary=summary, **series)


def simulate_stack(rate: float = 280.0, outage_s: float = 10.0, outage_kind: str = "stall",
                   policy: str = "retry_once", load_after: float = 1.0, drop_expired: bool = False, seed: int = 1,
                   duration: float = DURATION, outage_start: float = OUTAGE_START,
                   change_at: float = CHANGE_AT) -> MetastableResult:
    """The system built from course.sim's parts: ``OpenLoop`` → ``Client([Retry, Timeout])`` → ``Service``.

    This is the model as the lesson describes it, assembled from the same
    parts as every other model in the course. :func:`simulate` runs the very
    same system written at the engine's level, about ten times faster, which
    the dashboard needs; the two are checked against each other in
    ``tests/models/test_metastable_equivalence.py``.
    """
    _check(rate, outage_s, outage_kind, policy, load_after, duration, outage_start, change_at)
    sim = Simulation(seed=seed)
    outage_end = outage_start + outage_s
    faults = None
    if outage_s > 0:
        if outage_kind == "stall":
            # Work started during the stall takes outage_s: every worker is frozen until the stall ends.
            faults = FaultSchedule(Slow(outage_start, outage_end, factor=max(1.0, outage_s / SERVICE)))
        else:
            faults = FaultSchedule(Down(outage_start, outage_end, mode="refuse"))
    db = Service(sim, "db", workers=WORKERS, latency=Constant(SERVICE), queue_limit=QUEUE_LIMIT,
                 drop_expired=drop_expired, faults=faults)
    attempts, ratio = POLICIES[policy]
    budget = None if ratio is None else RetryBudget(sim, ratio=ratio, window=BUDGET_WINDOW)
    app = Client(sim, db, [Retry(attempts, Backoff("none"), budget=budget), Timeout(TIMEOUT)], name="app-to-db")
    changed = load_after != 1.0 and change_at < duration
    schedule = RateSchedule([(0.0, rate), (change_at, rate * load_after)]) if changed else rate
    load = OpenLoop(sim, app, schedule, until=duration)
    sim.run(until=duration)

    requests, sent, queries = load.records(), app.records(), db.records()
    ok = requests["outcome"] == int(Outcome.OK)
    finished = queries["outcome"] == int(Outcome.OK)
    for_nobody = finished & (queries["end"] - queries["arrival"] > TIMEOUT)
    return _result(requests["start"], requests["end"], ok, sent["sent"], queries["end"][for_nobody],
                   db.queue_series, duration, outage_start, outage_end, change_at if changed else None)


@gc_paused()
def simulate(rate: float = 280.0, outage_s: float = 10.0, outage_kind: str = "stall", policy: str = "retry_once",
             load_after: float = 1.0, drop_expired: bool = False, seed: int = 1, duration: float = DURATION,
             outage_start: float = OUTAGE_START, change_at: float = CHANGE_AT) -> MetastableResult:
    """Run the app and its database once; see the module docstring for the system.

    This is :func:`simulate_stack`'s system (``Service``, ``Client([Retry,
    Timeout])``, ``OpenLoop``) written directly at the engine's level, about
    ten times cheaper, the way :func:`course.bench.run_course_sim_engine`
    writes its model: the same named random stream for the arrivals, the same
    :class:`~course.sim.Retry` settings (its decision specialised to this
    policy: retry at once while attempts remain), the very
    :class:`~course.sim.RetryBudget` and :class:`~course.sim.Timeout`
    objects, and a clock that moves from one moment that matters to the next.
    It records only what the plots and the summary read.

    What makes it cheap, and why it is exact rather than an approximation:

    * **The database needs no events of its own.** A query's length is known
      the moment it starts (0.2 s, or the stall's length if it starts in the
      stall), its queue is FIFO, and its answer changes nothing but records
      (an OK cancels a timer; a late answer is ignored). So the database is
      brought up to date lazily, whenever the app is about to look at it:
      every worker that has come free by then takes the next query in the
      queue at the moment it came free, as the Service would have.
    * **Timeouts come in the order attempts were sent.** Every attempt that
      reaches the database has the same 1 s timeout, so its deadlines form a
      FIFO queue; likewise the refused attempts' answers 1 ms later. The
      "event heap" is then three sorted queues (arrivals, deadlines, refusals)
      and the next event is the smallest of their heads.
    * At a deadline, the attempt has been answered OK if it started and ended
      before the deadline; otherwise it timed out, and the retry policy
      decides, at that moment, whether to retry.

    ``tests/models/test_metastable_equivalence.py`` checks it against
    :func:`simulate_stack`.
    """
    _check(rate, outage_s, outage_kind, policy, load_after, duration, outage_start, change_at)
    sim = Simulation(seed=seed)  # its named streams; the clock is this function's own loop
    outage_end = outage_start + outage_s
    stall = refuse = False
    slow_duration = SERVICE
    if outage_s > 0:
        if outage_kind == "stall":
            stall = True
            slow_duration = SERVICE * max(1.0, outage_s / SERVICE)  # Service: latency draw × Slow's factor
        else:
            refuse = True
    changed = load_after != 1.0 and change_at < duration
    schedule = RateSchedule([(0.0, rate), (change_at, rate * load_after)]) if changed else rate
    arrivals = open_loop_arrival_times(sim, schedule, until=duration)

    max_attempts, ratio = POLICIES[policy]
    clock = LoopClock()
    budget = None if ratio is None else RetryBudget(clock, ratio=ratio, window=BUDGET_WINDOW)
    retry = Retry(max_attempts, Backoff("none"), budget=budget)
    timeout = Timeout(TIMEOUT)
    TIMEOUT_, ERROR, REJECTED = Outcome.TIMEOUT, Outcome.ERROR, Outcome.REJECTED
    # Retry.next_delay, specialised to this policy: Backoff "none" waits 0 s and draws nothing, there is no
    # overall deadline, and all the database's failures (a timeout, a refusal, a rejection) are retryable.
    # So an attempt is retried, at once, iff it was not the last one and the budget (asked last, as
    # next_delay asks it) has a token. The equivalence test holds this to the stack's Retry.
    assert retry.deadline is None and retry.backoff.kind == "none" and {TIMEOUT_, ERROR, REJECTED} <= retry.retry_on
    try_spend = None if budget is None else budget.try_spend

    inf = math.inf
    n_requests = len(arrivals)
    req_end = [math.nan] * n_requests
    req_ok = [False] * n_requests
    sent: list = []                      # when each attempt left the app
    q_arrival: list = []                 # per query the database accepted (not refused, not rejected)
    q_start: list = []                   # when it took a worker (inf: not yet)
    q_end: list = []                     # when it finished or was shed (inf: not yet)
    queue: deque = deque()               # waiting queries, by index
    running: list = []                   # end times of the queries holding a worker (a heap)
    deadlines: deque = deque()           # [deadline, request, attempt number, query] in sending order
    refusals: deque = deque()            # [answer time, request, attempt number] in sending order
    shed: list = []                      # queries dropped from the queue after their deadline (drop_expired)
    workers, queue_limit = WORKERS, QUEUE_LIMIT

    def advance(now):
        """Bring the database up to ``now``: each worker freed by then takes the queue's next query."""
        while running and running[0] <= now:
            free = heappop(running)
            while queue:
                q = queue.popleft()
                if drop_expired and q_arrival[q] + TIMEOUT <= free:  # its deadline (Timeout.deadline) has passed
                    q_end[q] = free
                    shed.append(q)
                    continue
                q_start[q] = free
                end = free + (slow_duration if stall and outage_start <= free < outage_end else SERVICE)
                q_end[q] = end
                heappush(running, end)
                break

    sent_append = sent.append
    per_attempt = timeout.seconds  # Timeout.deadline(now) is now + seconds: no deadline is passed down here
    i = 0
    next_arrival = arrivals[0] if arrivals else inf
    while True:
        # The next event: an arrival, an attempt's deadline or a refusal's answer, whichever comes first.
        d = deadlines[0][0] if deadlines else inf
        r = refusals[0][0] if refusals else inf
        if next_arrival <= d and next_arrival <= r:
            now = next_arrival
            if now > duration:
                break
            request, number = i, 1
            if budget is not None:
                clock.t = now
                budget.record_request()
            i += 1
            next_arrival = arrivals[i] if i < n_requests else inf
        else:
            if d <= r:
                now = d
                if now > duration:
                    break
                _, request, number, q = deadlines.popleft()
                if running and running[0] <= now:
                    advance(now)
                end = q_end[q]
                if end < now and q_start[q] <= end:  # started and finished in time (not shed): answered OK
                    req_end[request] = end
                    req_ok[request] = True
                    continue
                # otherwise it timed out
            else:
                now = r
                if now > duration:
                    break
                _, request, number = refusals.popleft()  # refused: an error
            clock.t = now
            if number >= max_attempts or (try_spend is not None and not try_spend()):
                req_end[request] = now
                continue
            number += 1  # retried at once
        # Attempt ``number`` of ``request`` leaves the app at ``now``.
        while True:
            sent_append(now)
            if refuse and outage_start <= now < outage_end:
                refusals.append((now + REFUSE_DELAY, request, number))
                break
            if running and running[0] <= now:
                advance(now)
            if len(running) < workers:
                q = len(q_arrival)
                q_arrival.append(now)
                q_start.append(now)
                end = now + (slow_duration if stall and outage_start <= now < outage_end else SERVICE)
                q_end.append(end)
                heappush(running, end)
            elif len(queue) >= queue_limit:  # rejected at once: the retry policy decides now
                clock.t = now
                if number >= max_attempts or (try_spend is not None and not try_spend()):
                    req_end[request] = now
                    break
                number += 1  # retried at once
                continue
            else:
                q = len(q_arrival)
                q_arrival.append(now)
                q_start.append(inf)
                q_end.append(inf)
                queue.append(q)
            deadlines.append((now + per_attempt, request, number, q))
            break
    advance(duration)
    for _, request, number, q in deadlines:  # still waiting for their deadline: answered OK before the end?
        if q_end[q] <= duration and q_start[q] <= q_end[q]:
            req_end[request] = q_end[q]
            req_ok[request] = True

    q_arrival = np.array(q_arrival, dtype=float)
    q_start = np.array(q_start, dtype=float)
    q_end = np.array(q_end, dtype=float)
    shed_mask = np.zeros(len(q_arrival), dtype=bool)
    shed_mask[shed] = True
    done = (q_end <= duration) & ~shed_mask
    for_nobody = q_end[done & (q_end - q_arrival > TIMEOUT)]
    waited = q_start > q_arrival  # queued (immediate starts wait for no time)
    left = np.where(shed_mask, q_end, q_start)[waited]
    left[left > duration] = np.nan  # still waiting when the run ends
    return _result(np.asarray(arrivals), np.array(req_end, dtype=float),
                   np.array(req_ok, dtype=bool), np.array(sent, dtype=float), for_nobody,
                   Steps.from_intervals(q_arrival[waited], left, 0.0), duration, outage_start, outage_end,
                   change_at if changed else None)


@lru_cache(maxsize=64)
def _cached(items: tuple) -> MetastableResult:
    return simulate(**dict(items))


def simulate_cached(**settings) -> MetastableResult:
    """:func:`simulate`, memoised per parameter set (a dashboard revisiting a setting does not rerun it).

    The result is shared: treat it as read-only.
    """
    return _cached(tuple(sorted(settings.items())))
