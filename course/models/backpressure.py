"""Lesson 08's first follow-up: traffic jumps to several times normal for a minute. What keeps the service up?

One service, ``WORKERS`` workers with exponential service times of mean
``SERVICE_MEAN``, so its capacity is μ = :data:`CAPACITY` requests a second.
Normal traffic is λ0 = :data:`NORMAL_RATE` a second (half of capacity); from
:data:`BURST_START` for :data:`BURST_SECONDS` seconds it is ``multiple`` × λ0.
Arrivals are Poisson (:class:`course.sim.OpenLoop` on a
:class:`course.sim.RateSchedule`), and the run goes on for a minute after the
burst. What stands at the front door is one of :data:`POLICIES`:

* ``"none"``: every request joins the service's queue (unbounded). During the
  burst the queue, the consumer lag, grows at λ − μ a second
  (:func:`backlog_theory`) and takes backlog / (μ − λ0) seconds to drain
  afterwards (:func:`drain_seconds`); everything admitted is eventually served,
  minutes late.
* ``"token_bucket"``: a :class:`course.sim.policies.TokenBucket` of rate r and
  size :data:`BUCKET_BURST`; a request without a token gets a 429 at once, with
  the bucket's ``Retry-After``. It admits at most r·t + b in any t seconds
  (:func:`token_bucket_max`), whatever the service is doing: a fixed guess of
  capacity.
* ``"concurrency_limit"``: at most L requests in flight (queued or in service),
  a :class:`course.sim.Bulkhead` at the door; the rest are rejected at once.
  It pushes back on what the service is actually doing: saturated, it serves μ a
  second and by Little's law each admitted request spends about L / μ seconds
  inside (:func:`littles_law_latency`). This is also what a bounded queue of
  L − workers places does: backpressure.

:func:`simulate` returns per-second series (admitted, rejected, served, queue,
p99 of the work finished that second) and headline numbers for the burst.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache, partial

import numpy as np

from course.sim import Bulkhead, Direct, Exponential, OpenLoop, Outcome, RateSchedule, Service, Simulation, _validate
from course.sim import metrics
from course.sim.policies import TokenBucket

WORKERS = 2
SERVICE_MEAN = 0.2
#: μ: requests a second the service can serve (workers / mean service time).
CAPACITY = WORKERS / SERVICE_MEAN
#: λ0: normal traffic, half of capacity.
NORMAL_RATE = 5.0
BURST_START = 30.0
BURST_SECONDS = 60.0
BURST_END = BURST_START + BURST_SECONDS
DURATION = BURST_END + 60.0
#: The token bucket's size b (tokens): two seconds of normal traffic.
BUCKET_BURST = 10
POLICIES = ("none", "token_bucket", "concurrency_limit")
WINDOW = 1.0
_REJECTED = int(Outcome.REJECTED)


def backlog_theory(multiple: float, seconds, capacity: float = CAPACITY, normal: float = NORMAL_RATE):
    """The unbounded queue ``seconds`` into the burst, in the fluid limit: max(0, λ − μ)·t (works on arrays)."""
    _validate.positive("multiple", multiple)
    return max(0.0, multiple * normal - capacity) * np.asarray(seconds, dtype=float)


def drain_seconds(multiple: float, burst_seconds: float = BURST_SECONDS, capacity: float = CAPACITY,
                  normal: float = NORMAL_RATE) -> float:
    """How long the unbounded queue takes to empty after the burst: (λ − μ)·T / (μ − λ0)."""
    if not normal < capacity:
        raise ValueError(f"normal must be < capacity ({capacity!r}), or the queue never drains; got {normal!r}")
    return float(backlog_theory(multiple, burst_seconds, capacity, normal)) / (capacity - normal)


def token_bucket_max(rate: float, burst: float, seconds):
    """The most a token bucket of ``rate`` and size ``burst`` admits in any ``seconds``: r·t + b."""
    _validate.positive("rate", rate)
    return rate * np.asarray(seconds, dtype=float) + burst


def littles_law_latency(in_flight: float, throughput: float = CAPACITY) -> float:
    """Little's law, W = L / λ: the mean time inside for ``in_flight`` requests served at ``throughput`` a second."""
    _validate.positive("throughput", throughput)
    return _validate.non_negative("in_flight", in_flight) / throughput


class _BucketDoor:
    """The front door with a token bucket: a request without a token is rejected (429) at once."""

    def __init__(self, sim, service, rate):
        self.sim, self.service = sim, service
        self.bucket = TokenBucket(rate, BUCKET_BURST, sim)
        self.retry_after = []  # (time, seconds) per rejection: the 429's Retry-After

    def call(self, call, done) -> None:
        if self.bucket.try_acquire():
            self.service.submit(call, done)
        else:
            self.retry_after.append((self.sim._now, self.bucket.retry_after()))
            done(Outcome.REJECTED)


class _ConcurrencyDoor:
    """The front door with a limit on requests in flight: the service's queue plus its busy workers."""

    def __init__(self, service, limit):
        self.service = service
        self.limit = Bulkhead(limit)

    def _answered(self, done, outcome) -> None:
        self.limit.release()
        done(outcome)

    def call(self, call, done) -> None:
        if self.limit.try_acquire():
            self.service.submit(call, partial(self._answered, done))
        else:
            done(Outcome.REJECTED)


@dataclass
class BackpressureResult:
    """Per-second series and the burst's headline numbers for one run."""

    policy: str
    multiple: float
    limit: float | None        # r (requests/s) for the token bucket, L for the concurrency limit
    t: np.ndarray              # window centres (s)
    offered: np.ndarray        # requests arriving, per second
    admitted: np.ndarray       # let through the front door, per second
    rejected: np.ndarray       # turned away at the door (429), per second
    served: np.ndarray         # answered by the service, per second (by answer time)
    queue: np.ndarray          # mean requests waiting for a worker (the lag), per window
    p99: np.ndarray            # p99 time inside (door to answer) of the work answered in each window (s)
    summary: dict


def simulate(policy: str = "none", multiple: float = 10.0, rate: float = 8.0, max_in_flight: int = 10,
             seed: int = 1, duration: float = DURATION) -> BackpressureResult:
    """Run the burst once behind ``policy``; ``rate`` is the token bucket's r, ``max_in_flight`` the limit L.

    Headline numbers (``summary``) are for the burst, [BURST_START, BURST_END):
    admitted, rejected and served per second, the queue at the burst's end and
    its peak, the mean and p99 time inside of requests admitted during it (among
    those answered by ``duration``), the requests still queued at the end, and
    for the token bucket the largest Retry-After it sent.
    """
    _validate.one_of("policy", policy, POLICIES)
    _validate.positive("multiple", multiple)
    _validate.positive("rate", rate)
    _validate.integer_at_least("max_in_flight", max_in_flight, 1)
    _validate.integer_at_least("seed", seed, 0)
    if not duration > BURST_END:
        raise ValueError(f"duration must be > {BURST_END} s (the end of the burst), got {duration!r}")
    sim = Simulation(seed=seed)
    service = Service(sim, "api", workers=WORKERS, latency=Exponential(SERVICE_MEAN))
    door = {"none": lambda: Direct(service), "token_bucket": lambda: _BucketDoor(sim, service, rate),
            "concurrency_limit": lambda: _ConcurrencyDoor(service, max_in_flight)}[policy]()
    schedule = RateSchedule([(0.0, NORMAL_RATE), (BURST_START, multiple * NORMAL_RATE), (BURST_END, NORMAL_RATE)])
    load = OpenLoop(sim, door, schedule, until=duration, name="traffic")
    sim.run(until=duration)

    edges = metrics.window_edges(duration, WINDOW)
    requests = load.records()
    arrived, outcome = requests["start"], requests["outcome"]
    rejected = outcome == _REJECTED
    s = service.records()
    answered = np.isfinite(s["end"])
    inside = s["end"] - s["arrival"]
    queue_times, queue_values = service.queue_series.arrays()
    queue = metrics.windowed_mean_of_steps(queue_times, queue_values, edges)

    in_burst = (arrived >= BURST_START) & (arrived < BURST_END)
    admitted_burst = (s["arrival"] >= BURST_START) & (s["arrival"] < BURST_END)
    done_burst = admitted_burst & answered
    i_end = np.searchsorted(queue_times, BURST_END, side="right") - 1
    retry_after = [seconds for t, seconds in getattr(door, "retry_after", []) if BURST_START <= t < BURST_END]
    p99 = metrics.windowed_quantiles(s["end"][answered], inside[answered], edges, (0.99,))[0]
    summary = {
        "offered_per_s": float(in_burst.sum() / BURST_SECONDS),
        "admitted": int(admitted_burst.sum()),
        "admitted_per_s": float(admitted_burst.sum() / BURST_SECONDS),
        "rejected_per_s": float((rejected & in_burst).sum() / BURST_SECONDS),
        "rejected_share": float((rejected & in_burst).sum() / max(1, in_burst.sum())),
        "served_per_s": float(((s["end"] >= BURST_START) & (s["end"] < BURST_END)).sum() / BURST_SECONDS),
        "queue_at_burst_end": float(queue_values[i_end]) if i_end >= 0 else 0.0,
        "queue_peak": float(queue_values.max()) if queue_values.size else 0.0,
        "mean_inside": float(inside[done_burst].mean()) if done_burst.any() else float("nan"),
        "p99_inside": float(np.quantile(inside[done_burst], 0.99)) if done_burst.any() else float("nan"),
        "unanswered_admitted_in_burst": int((admitted_burst & ~answered).sum()),
        "still_queued": len(service.queue),
        "retry_after_max": max(retry_after) if retry_after else float("nan"),
        "capacity": CAPACITY,
    }
    summary["p99_peak"] = float(np.nanmax(p99)) if np.isfinite(p99).any() else float("nan")
    return BackpressureResult(
        policy=policy, multiple=multiple,
        limit={"none": None, "token_bucket": rate, "concurrency_limit": max_in_flight}[policy],
        t=metrics.window_centres(edges), offered=metrics.windowed_rate(arrived, edges),
        admitted=metrics.windowed_rate(s["arrival"], edges), rejected=metrics.windowed_rate(arrived, edges, rejected),
        served=metrics.windowed_rate(s["end"], edges), queue=queue, p99=p99, summary=summary)


@lru_cache(maxsize=256)
def simulate_cached(policy: str, multiple: float, limit: float, seed: int = 1) -> BackpressureResult:
    """:func:`simulate` with ``limit`` as the policy's one knob (r or L; ignored for ``"none"``), remembered."""
    if policy == "token_bucket":
        return simulate(policy, multiple, rate=limit, seed=seed)
    if policy == "concurrency_limit":
        return simulate(policy, multiple, max_in_flight=int(limit), seed=seed)
    return simulate(policy, multiple, seed=seed)
