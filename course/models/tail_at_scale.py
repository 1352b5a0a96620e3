"""Lesson 03's fan-out scenario: one request asks many leaves, and waits for the slowest.

A root service answers each request by calling ``fanout`` leaves at once (a
scatter-gather, as a search front end asks every index shard) and waiting for
all of them. A leaf usually answers in about 10 ms (median 10 ms, p99 30 ms),
but with probability ``p_slow`` it has a hiccup and takes 1 s. A request is
*slow* if it takes longer than :data:`SLOW_THRESHOLD`, which happens exactly
when at least one of its leaves hiccuped: with probability 1 - (1 - p)^n
("The Tail at Scale", Dean and Barroso, CACM 2013).

With ``hedge`` on, the root's client to the leaves sends a second copy of a
leaf call that has not answered after ``hedge_delay`` seconds, and takes
whichever answer comes first (:class:`course.sim.Hedge`). The copies are extra
leaf requests: the load hedging costs.

Leaves have more workers than they ever need, so nothing queues: the tail
here comes from the leaves' own hiccups, not from load.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist

import numpy as np

from course.sim import (Bimodal, Call, Client, Constant, Dependency, Direct, Hedge, Latency, LogNormal, Pareto,
                        Service, Simulation, _validate)

#: A leaf's usual latency, and its hiccup.
LEAF_FAST = LogNormal(0.010, 0.030)
LEAF_SLOW = Constant(1.0)
#: A request slower than this (s) counts as slow: only a hiccup gets it there.
SLOW_THRESHOLD = 0.5
#: The root's own work per request (s).
ROOT_WORK = Constant(0.001)
#: Seconds between requests (they never queue, so this only spreads them out).
SPACING = 2.0
#: Leaf calls per dashboard run: the number of requests is this divided by the fan-out. A
#: hedged leaf call costs the simulator about three times as much as a plain one (the Hedge
#: policy arms a timer and keeps per-call state), so hedged runs get a smaller budget.
LEAF_BUDGET = 10_000
LEAF_BUDGET_HEDGED = 3_500
MIN_REQUESTS = 5
MAX_REQUESTS = 1_000
#: Plenty of workers: nothing ever waits for one.
UNLIMITED = 10 ** 9


def leaf_latency(p_slow: float) -> Bimodal:
    """The leaf's latency: :data:`LEAF_FAST`, or with probability ``p_slow`` :data:`LEAF_SLOW`."""
    return Bimodal(LEAF_FAST, LEAF_SLOW, _validate.probability("p_slow", p_slow))


def leaf_cdf(p_slow: float, seconds: float) -> float:
    """P(one leaf call takes at most ``seconds``) for :func:`leaf_latency`."""
    if seconds <= 0:
        return 0.0
    fast = NormalDist().cdf((math.log(seconds) - LEAF_FAST.mu) / LEAF_FAST.sigma)
    return (1 - p_slow) * fast + p_slow * (1.0 if seconds >= LEAF_SLOW.value else 0.0)


def leaf_quantile(p_slow: float, q: float) -> float:
    """The q-quantile of :func:`leaf_latency` (s), by bisection on :func:`leaf_cdf`."""
    _validate.probability("q", q)
    low, high = 1e-6, 10.0
    for _ in range(80):
        middle = math.sqrt(low * high)
        if leaf_cdf(p_slow, middle) < q:
            low = middle
        else:
            high = middle
    return high


def theory_slow_share(fanout, p_slow):
    """P(a request that waits for ``fanout`` leaves is slow) = 1 - (1 - p)^n (works on arrays)."""
    return 1.0 - (1.0 - np.asarray(p_slow, dtype=float)) ** np.asarray(fanout, dtype=float)


def hedged_slow_probability(p_slow: float, hedge_delay: float) -> float:
    """P(a hedged leaf call takes longer than :data:`SLOW_THRESHOLD`) for :func:`leaf_latency`.

    The call is slow only if the first copy is slow and the copy sent at
    ``hedge_delay`` does not answer by the threshold either:
    p · P(X > threshold − delay). A hedge sent after the threshold cannot help.
    """
    _validate.probability("p_slow", p_slow)
    left = SLOW_THRESHOLD - _validate.non_negative("hedge_delay", hedge_delay)
    if left <= 0:
        return p_slow
    return p_slow * (1.0 - leaf_cdf(p_slow, left))


@dataclass
class TailResult:
    """One run: request latencies (s, sorted), the share of slow requests and what hedging cost."""

    fanout: int
    p_slow: float
    hedge: bool
    hedge_delay: float        # seconds (meaningful only with hedge on)
    hedge_percentile: float   # the leaf percentile the delay sits at, in [0, 1]
    requests: int
    latencies: np.ndarray     # request latencies, sorted (s)
    slow_share: float         # share of requests slower than SLOW_THRESHOLD
    slow_share_se: float      # its standard error, sqrt(s(1-s)/requests)
    theory: float             # 1 - (1 - p)^n, or with hedging 1 - (1 - q)^n, q from hedged_slow_probability
    p50: float
    p99: float
    leaf_calls: int           # leaf calls the requests needed: requests × fan-out
    leaf_requests: int        # leaf calls the leaves received, hedges included
    extra_load: float         # leaf_requests / leaf_calls - 1

    @property
    def p99_ms(self) -> float:
        return self.p99 * 1000


def simulate(fanout: int = 100, p_slow: float = 0.01, hedge: bool = False, hedge_delay: float = 0.025,
             requests: int | None = None, seed: int = 1, leaf: Latency | None = None) -> TailResult:
    """Run ``requests`` requests (by default :data:`LEAF_BUDGET` / ``fanout``, or
    :data:`LEAF_BUDGET_HEDGED` / ``fanout`` with hedging, within [:data:`MIN_REQUESTS`,
    :data:`MAX_REQUESTS`]), each fanning out to ``fanout`` leaves.

    ``leaf`` replaces the leaves' latency distribution (``p_slow`` then only
    sets the theory figure); ``hedge_delay`` is in seconds.
    """
    _validate.integer_at_least("fanout", fanout, 1)
    _validate.probability("p_slow", p_slow)
    _validate.positive("hedge_delay", hedge_delay)
    if requests is None:
        budget = LEAF_BUDGET_HEDGED if hedge else LEAF_BUDGET
        requests = min(MAX_REQUESTS, max(MIN_REQUESTS, round(budget / fanout)))
    _validate.integer_at_least("requests", requests, 1)
    latency = leaf if leaf is not None else leaf_latency(p_slow)
    sim = Simulation(seed=seed)
    leaves = Service(sim, "leaf", workers=UNLIMITED, latency=latency)
    # Without hedging the root calls the leaves directly: same behaviour, less bookkeeping.
    to_leaves = Client(sim, leaves, [Hedge(hedge_delay)], name="root-to-leaves") if hedge else Direct(leaves)
    root = Service(sim, "root", workers=UNLIMITED, latency=ROOT_WORK, calls=[Dependency(to_leaves, fanout=fanout)])
    for i in range(requests):
        sim.at(i * SPACING, root.submit, Call(i), _ignore)
    sim.run()

    r = root.records()
    latencies = np.sort(r["end"] - r["arrival"])
    slow = float(np.mean(latencies > SLOW_THRESHOLD))
    leaf_requests = len(leaves.log)
    leaf_calls = requests * fanout
    if leaf is None:
        percentile = leaf_cdf(p_slow, hedge_delay)
    else:
        percentile = float("nan")
    return TailResult(
        fanout=fanout, p_slow=p_slow, hedge=hedge, hedge_delay=hedge_delay, hedge_percentile=percentile,
        requests=requests, latencies=latencies, slow_share=slow, slow_share_se=math.sqrt(slow * (1 - slow) / requests),
        theory=float(theory_slow_share(fanout, hedged_slow_probability(p_slow, hedge_delay) if hedge else p_slow)),
        p50=float(np.quantile(latencies, 0.5)),
        p99=float(np.quantile(latencies, 0.99)), leaf_calls=leaf_calls, leaf_requests=leaf_requests,
        extra_load=leaf_requests / leaf_calls - 1)


def _ignore(_outcome) -> None:
    pass


@lru_cache(maxsize=64)
def simulate_cached(fanout: int, p_slow: float, hedge: bool, hedge_delay: float, seed: int = 1) -> TailResult:
    """:func:`simulate` at the dashboard's sizes, remembered for repeated settings."""
    return simulate(fanout, p_slow, hedge, hedge_delay, seed=seed)


#: A heavy-tailed leaf for the hedging reproduction: Pareto, minimum 5 ms, tail index 1.5 (infinite variance).
HEAVY_TAILED_LEAF = Pareto(0.005, 1.5)

#: The runs ``tests/reproductions/test_tail_at_scale.py`` checks and lesson 03 quotes (seed 1).
REPRODUCTIONS = {
    "fanout_100": dict(fanout=100, p_slow=0.01, requests=3_000),
    "fanout_2000": dict(fanout=2_000, p_slow=1e-4, requests=400),
    "pareto_plain": dict(fanout=10, p_slow=0.0, leaf=HEAVY_TAILED_LEAF, requests=2_000),
    "pareto_hedged": dict(fanout=10, p_slow=0.0, leaf=HEAVY_TAILED_LEAF, hedge=True,
                          hedge_delay=HEAVY_TAILED_LEAF.quantile(0.95), requests=2_000),
}


@lru_cache(maxsize=None)
def reproduce(name: str, seed: int = 1) -> TailResult:
    """One of :data:`REPRODUCTIONS`, run once per process (the 2,000 fan-out takes 800,000 leaf calls)."""
    _validate.one_of("name", name, tuple(REPRODUCTIONS))
    return simulate(**REPRODUCTIONS[name], seed=seed)
