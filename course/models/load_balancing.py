"""Lesson 08's load-balancing follow-up: one sick replica out of twenty, and balls into bins.

**Balls into bins** (:func:`max_loads`). n requests go to n servers, each to
one server picked at random, or to the less loaded of two picked at random,
one request after another. The busiest server ends with about
ln n / ln ln n requests with one choice and about ln ln n / ln 2 with two
(Mitzenmacher, 2001). Those are leading orders, poor at any n a fleet has;
the sharper forms the tests use are Gonnet's (1981) expected maximum for one
choice, Γ⁻¹(n) − 3/2 (:func:`one_choice_expected_max`), and for two choices
the fluid limit ds_i/dt = s_{i−1}² − s_i² (Mitzenmacher, 2001), whose s_i is
the share of servers holding at least i requests (:func:`two_choice_fluid`).

**The sick replica** (:func:`fleet_run`). A proxy spreads Poisson traffic
over :data:`REPLICAS` replicas, each with :data:`WORKERS` worker and a FIFO
queue; a request's work is :data:`WORK` (log-normal, median 40 ms, p99
120 ms). Replica :data:`SICK` does everything ``sick_factor`` times slower.
The proxy gives up on a request after :data:`TIMEOUT` (a 504, an error for
the caller), but the replica does not know and still works through its
queue. ``load`` is the healthy fleet's utilisation: the arrival rate is
load × replicas × workers / mean work.

The proxy's balancer (:data:`course.sim.policies.BALANCERS`) sees only its
own count of outstanding requests per replica: a request stops counting
when it is answered or when the proxy times it out. With ``ejection`` on,
:class:`course.sim.policies.OutlierEjection` (Envoy's defaults: 5
consecutive errors, 30 s, at most 10% of hosts) takes a replica out after a
run of timeouts.

The loop is written straight on the engine's ideas, like
:mod:`course.models.metastable`'s fast model: the replicas are FIFO, so a
request's finishing time is known when it is dispatched (it takes the worker
that frees first), and the only events are arrivals and the moments the
proxy hears back (an answer or a timeout), which a heap orders. The proxy's
decisions read a :class:`~course.sim.clock.LoopClock` the loop sets; the
random draws come from the :class:`~course.sim.Simulation`'s named streams.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from heapq import heappop, heappush, heapreplace

import numpy as np

from course.sim import LogNormal, Simulation, _validate
from course.sim.clock import LoopClock
from course.sim.policies import BALANCERS, OutlierEjection

# -- balls into bins ---------------------------------------------------------------------------------------


def max_loads(n: int, choices: int = 1, trials: int = 1_000, seed: int = 1) -> np.ndarray:
    """The busiest server's load in each of ``trials`` runs of n requests into n servers.

    ``choices`` 1: each request to a uniformly random server. ``choices`` 2:
    each to the less loaded of two picked independently at random (ties to
    the first), in order. Vectorised over trials.
    """
    _validate.integer_at_least("n", n, 2)
    _validate.one_of("choices", choices, (1, 2))
    _validate.integer_at_least("trials", trials, 1)
    generator = Simulation(seed=seed).rng(f"load_balancing:bins:{choices}").generator
    offsets = np.arange(trials)[:, None] * n
    if choices == 1:
        picks = generator.integers(0, n, size=(trials, n)) + offsets
        return np.bincount(picks.ravel(), minlength=trials * n).reshape(trials, n).max(axis=1)
    first = (generator.integers(0, n, size=(n, trials)) + offsets.T).astype(np.int64)
    second = (generator.integers(0, n, size=(n, trials)) + offsets.T).astype(np.int64)
    loads = np.zeros(trials * n, dtype=np.int64)
    for a, b in zip(first, second):
        target = np.where(loads[b] < loads[a], b, a)
        loads[target] += 1  # one request per trial: the targets are distinct
    return loads.reshape(trials, n).max(axis=1)


def bin_shares(n: int, choices: int = 2, trials: int = 200, seed: int = 1, levels: int = 6) -> np.ndarray:
    """The mean share of servers holding at least i requests, i = 0..levels, after n requests into n servers."""
    _validate.integer_at_least("levels", levels, 1)
    _validate.integer_at_least("n", n, 2)
    _validate.one_of("choices", choices, (1, 2))
    _validate.integer_at_least("trials", trials, 1)
    generator = Simulation(seed=seed).rng(f"load_balancing:shares:{choices}").generator
    offsets = np.arange(trials) * n
    loads = np.zeros(trials * n, dtype=np.int64)
    if choices == 1:
        np.add.at(loads, (generator.integers(0, n, size=(n, trials)) + offsets).ravel(), 1)
    else:
        first = generator.integers(0, n, size=(n, trials)) + offsets
        second = generator.integers(0, n, size=(n, trials)) + offsets
        for a, b in zip(first, second):
            loads[np.where(loads[b] < loads[a], b, a)] += 1
    return np.array([(loads >= i).mean() for i in range(levels + 1)])


def leading_one_choice(n) -> float:
    """Mitzenmacher's leading order for one choice: ln n / ln ln n."""
    return math.log(n) / math.log(math.log(n))


def leading_two_choices(n) -> float:
    """Mitzenmacher's leading order for two choices: ln ln n / ln 2."""
    return math.log(math.log(n)) / math.log(2)


def gamma_inverse(y: float) -> float:
    """The x ≥ 2 with Γ(x) = y (y ≥ 1), by bisection on ln Γ."""
    if not y >= 1:
        raise ValueError(f"y must be >= 1, got {y!r}")
    target = math.log(y)
    low, high = 2.0, 200.0
    for _ in range(100):
        middle = (low + high) / 2
        if math.lgamma(middle) < target:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def one_choice_expected_max(n: int) -> float:
    """Gonnet's (1981) expected busiest-server load for n requests into n servers: Γ⁻¹(n) − 3/2 (+ o(1))."""
    return gamma_inverse(n) - 1.5


def two_choice_fluid(levels: int = 6, steps: int = 4_000) -> np.ndarray:
    """Mitzenmacher's fluid limit for two choices at one request per server: s_i, i = 0..levels.

    s_i is the share of servers with at least i requests; ds_i/dt = s_{i−1}² − s_i²,
    s_0 = 1, all others 0 at t = 0, integrated to t = 1 with RK4.
    """
    _validate.integer_at_least("levels", levels, 1)
    _validate.integer_at_least("steps", steps, 10)
    s = np.zeros(levels + 1)
    s[0] = 1.0

    def slope(x):
        d = np.zeros_like(x)
        d[1:] = x[:-1] ** 2 - x[1:] ** 2
        return d

    h = 1.0 / steps
    for _ in range(steps):
        k1 = slope(s)
        k2 = slope(s + h / 2 * k1)
        k3 = slope(s + h / 2 * k2)
        k4 = slope(s + h * k3)
        s = s + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return s


# -- one sick replica --------------------------------------------------------------------------------------

#: The fleet: replicas, workers per replica, and which replica is sick (0-based; the dashboard says 7).
REPLICAS = 20
WORKERS = 1
SICK = 6
#: A request's work on a healthy replica (s): median 40 ms, p99 120 ms.
WORK = LogNormal(0.040, 0.120)
#: The proxy's per-request timeout (s); a timed-out request is an error for the caller.
TIMEOUT = 0.5
#: Seconds of traffic per run.
DURATION = 30.0
#: Width of the windows of :attr:`FleetResult.p99_series` (s).
WINDOW = 1.0
POLICIES = tuple(BALANCERS)


@dataclass
class FleetResult:
    """One run: who got which request, how long each took, which ones failed, and when ejections happened."""

    policy: str
    ejection: bool
    sick_factor: float
    load: float
    seed: int
    rate: float                # requests per second offered
    arrival: np.ndarray        # (s)
    host: np.ndarray           # replica each request went to
    latency: np.ndarray        # what the caller waited (s): the answer, or the timeout
    ok: np.ndarray             # answered within the timeout
    ejections: list = field(default_factory=list)  # (time, replica, seconds)

    @property
    def requests(self) -> int:
        return int(self.arrival.size)

    @property
    def shares(self) -> np.ndarray:
        """Each replica's share of the requests."""
        return np.bincount(self.host, minlength=REPLICAS) / max(1, self.requests)

    @property
    def sick_share(self) -> float:
        return float(self.shares[SICK])

    @property
    def error_rate(self) -> float:
        """Share of requests that timed out."""
        return float(1.0 - self.ok.mean()) if self.requests else 0.0

    @property
    def p99(self) -> float:
        return float(np.quantile(self.latency, 0.99)) if self.requests else math.nan

    @property
    def p50(self) -> float:
        return float(np.quantile(self.latency, 0.5)) if self.requests else math.nan

    @property
    def first_ejection(self) -> float | None:
        """When the sick replica was first ejected (s), or None."""
        times = [t for t, host, _ in self.ejections if host == SICK]
        return times[0] if times else None

    def p99_series(self, window: float = WINDOW) -> tuple[np.ndarray, np.ndarray]:
        """(window midpoints, p99 of the requests that arrived in each window), in seconds."""
        edges = np.arange(0.0, DURATION + window / 2, window)
        which = np.minimum(np.searchsorted(edges, self.arrival, side="right") - 1, edges.size - 2)
        order = np.argsort(which, kind="stable")
        groups = np.split(self.latency[order], np.searchsorted(which[order], np.arange(1, edges.size - 1)))
        p99 = np.array([np.quantile(g, 0.99) if g.size else np.nan for g in groups])
        return (edges[:-1] + edges[1:]) / 2, p99


def arrival_rate(load: float, replicas: int = REPLICAS, workers: int = WORKERS) -> float:
    """Requests per second that keep a healthy fleet ``load`` busy: load × replicas × workers / mean work."""
    return load * replicas * workers / WORK.mean


def fleet_run(policy: str = "round_robin", ejection: bool = False, sick_factor: float = 10.0, load: float = 0.6,
              seed: int = 1, duration: float = DURATION) -> FleetResult:
    """:data:`DURATION` seconds of Poisson traffic through the proxy to the fleet (see the module docstring)."""
    _validate.one_of("policy", policy, POLICIES)
    if not isinstance(ejection, (bool, np.bool_)):
        raise ValueError(f"ejection must be True or False, got {ejection!r}")
    if not _validate._number("sick_factor", sick_factor) >= 1:
        raise ValueError(f"sick_factor must be >= 1 (a slowdown), got {sick_factor!r}")
    if not 0 < _validate._number("load", load) < 1:
        raise ValueError(f"load must be a utilisation in (0, 1), got {load!r}")
    _validate.positive("duration", duration)
    sim = Simulation(seed=seed)  # its named streams; the clock is this function's own loop
    rate = arrival_rate(load)
    draw = sim.rng("load_balancing:arrivals").generator.standard_exponential
    arrival = np.cumsum(draw(int(rate * duration * 1.2 + 50)) / rate)
    while arrival[-1] < duration:  # 20% headroom is many standard deviations; this is only a guard
        arrival = np.append(arrival, arrival[-1] + np.cumsum(draw(arrival.size) / rate))
    arrival = arrival[arrival < duration]
    count = arrival.size
    work = WORK.median * np.exp(WORK.sigma * sim.rng("load_balancing:work").generator.standard_normal(count))

    balancer = BALANCERS[policy](REPLICAS, rng=sim.rng("load_balancing:balancer"))
    clock = LoopClock()
    ejector = OutlierEjection(clock, REPLICAS) if ejection else None
    free = [[0.0] * WORKERS for _ in range(REPLICAS)]  # when each worker is next free (a heap per replica)
    heard: list = []  # (time the proxy hears back, request, replica, answered in time)
    host = np.empty(count, dtype=np.int64)
    latency = np.empty(count)
    ok = np.empty(count, dtype=bool)
    pick, started, finished = balancer.pick, balancer.started, balancer.finished
    slow = float(sick_factor)
    for i, (t, w) in enumerate(zip(arrival.tolist(), work.tolist())):
        while heard and heard[0][0] <= t:
            when, _, h, good = heappop(heard)
            clock.t = when
            finished(h)
            if ejector is not None:
                (ejector.on_success if good else ejector.on_error)(h)
        clock.t = t
        h = pick(ejector.available() if ejector is not None else None)
        started(h)
        workers = free[h]
        end = max(t, workers[0]) + (w * slow if h == SICK else w)
        heapreplace(workers, end)
        if end - t <= TIMEOUT:
            latency[i], ok[i] = end - t, True
            heappush(heard, (end, i, h, True))
        else:
            latency[i], ok[i] = TIMEOUT, False
            heappush(heard, (t + TIMEOUT, i, h, False))
        host[i] = h
    return FleetResult(policy, bool(ejection), float(sick_factor), float(load), seed, rate, arrival, host,
                       latency, ok, list(ejector.ejections) if ejector is not None else [])


@dataclass
class FleetSummary:
    """Long-run figures for one setting over many seeds: means and their standard errors."""

    policy: str
    ejection: bool
    seeds: int
    sick_share: float
    sick_share_se: float
    error_rate: float
    error_rate_se: float
    p99: float
    p99_se: float
    first_ejection: float | None   # mean over the seeds that ejected
    ejected_share: float           # share of seeds in which the sick replica was ejected


def summarise(policy: str, ejection: bool = False, seeds=range(1, 21), **kwargs) -> FleetSummary:
    """:func:`fleet_run` over ``seeds``: the mean of each figure and its standard error."""
    runs = [fleet_run(policy, ejection, seed=s, **kwargs) for s in seeds]

    def mean_se(values):
        values = np.asarray(values, dtype=float)
        return float(values.mean()), float(values.std(ddof=1) / math.sqrt(values.size)) if values.size > 1 else 0.0

    share, share_se = mean_se([r.sick_share for r in runs])
    errors, errors_se = mean_se([r.error_rate for r in runs])
    p99, p99_se = mean_se([r.p99 for r in runs])
    firsts = [r.first_ejection for r in runs if r.first_ejection is not None]
    return FleetSummary(policy, ejection, len(runs), share, share_se, errors, errors_se, p99, p99_se,
                        float(np.mean(firsts)) if firsts else None, len(firsts) / len(runs))
