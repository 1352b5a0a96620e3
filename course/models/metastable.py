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

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from course.sim import (Backoff, Client, Constant, Down, FaultSchedule, OpenLoop, Outcome, RateSchedule, Retry,
                        RetryBudget, Service, Simulation, Slow, Timeout, _validate)
from course.sim import metrics

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


def simulate(rate: float = 280.0, outage_s: float = 10.0, outage_kind: str = "stall", policy: str = "retry_once",
             load_after: float = 1.0, drop_expired: bool = False, seed: int = 1, duration: float = DURATION,
             outage_start: float = OUTAGE_START, change_at: float = CHANGE_AT) -> MetastableResult:
    """Run the app and its database once; see the module docstring for the system."""
    _validate.positive("rate", rate)
    _validate.non_negative("outage_s", outage_s)
    _validate.one_of("outage_kind", outage_kind, OUTAGE_KINDS)
    _validate.one_of("policy", policy, tuple(POLICIES))
    _validate.positive("load_after", load_after)
    _validate.positive("duration", duration)
    _validate.non_negative("outage_start", outage_start)
    _validate.positive("change_at", change_at)
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
    edges = metrics.window_edges(duration, WINDOW)
    series = dict(offered=_rates(edges, requests["start"]), attempts=_rates(edges, sent["sent"]),
                  goodput=_rates(edges, requests["end"], ok), wasted=_rates(edges, queries["end"], for_nobody))
    db_queue = metrics.windowed_mean_of_steps(*db.queue_series.arrays(), edges)

    # Summary figures over SUMMARY_WINDOW-second windows (1 s windows are too noisy to judge 90%).
    coarse = metrics.window_edges(duration, SUMMARY_WINDOW)
    c_offered = _rates(coarse, requests["start"])
    c_attempts = _rates(coarse, sent["sent"])
    c_goodput = _rates(coarse, requests["end"], ok)
    after_end = change_at if changed else duration
    stuck = (coarse[:-1] >= outage_end - 1e-9) & (coarse[1:] <= after_end + 1e-9)
    settled = (requests["start"] >= 1.0) & (requests["end"] < outage_start)  # answered before the trigger
    recovered_at = _first_recovery(coarse, c_offered, c_goodput, outage_end)
    nan = float("nan")
    c_wasted = _rates(coarse, queries["end"], for_nobody)
    summary = {
        "outage_end": outage_end,
        # The share of requests answered OK among those started (after a 1 s warm-up) and answered before it.
        "healthy_success": float(ok[settled].mean()) if settled.any() else nan,
        # Between the end of the outage and the load change (or the end of the run):
        "after_attempts_ratio": float(c_attempts[stuck].sum() / c_offered[stuck].sum()) if stuck.any() else nan,
        "after_goodput_ratio": float(c_goodput[stuck].sum() / c_offered[stuck].sum()) if stuck.any() else nan,
        "after_wasted_per_s": float(c_wasted[stuck].mean()) if stuck.any() else nan,
        "recovered_at": recovered_at,
        "recovery_s": recovered_at - outage_end,
        "window_starts": coarse[:-1], "window_offered": c_offered, "window_attempts": c_attempts,
        "window_goodput": c_goodput,
        "attempts_per_request": len(sent["sent"]) / max(1, len(requests["start"])),
    }
    return MetastableResult(t=metrics.window_centres(edges), db_queue=db_queue, outage=(outage_start, outage_end),
                            change_at=change_at if changed else None, summary=summary, **series)


@lru_cache(maxsize=64)
def _cached(items: tuple) -> MetastableResult:
    return simulate(**dict(items))


def simulate_cached(**settings) -> MetastableResult:
    """:func:`simulate`, memoised per parameter set (a dashboard revisiting a setting does not rerun it).

    The result is shared: treat it as read-only.
    """
    return _cached(tuple(sorted(settings.items())))
