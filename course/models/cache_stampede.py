"""Lesson 08's cache stampede: one hot key in front of a database, and what happens each time it expires.

The system:

* **Users** ask for one hot key at ``rate`` requests a second (Poisson) for
  :data:`DURATION` seconds. The cache starts empty (cold).
* **The cache** is a :class:`course.sim.cache.TTLCache` in the mode the fix
  picks (:data:`FIXES`). A hit costs :data:`CACHE_LATENCY`.
* **The database** recomputes the value in ``recompute`` seconds (δ), however
  many calls arrive at once (a kind database: a real one slows down under a
  stampede, which only makes the plain cache look worse). ``connections``
  gives it a pool instead: calls beyond that many queue, first come first
  served. A user who misses
  sends a call and, when it returns, fills the cache (the last fill wins and
  restarts the TTL). With coalescing, users who miss while a call is in
  flight wait for that call instead.

What theory says, and the tests check over many seeds:

* plain cache-aside: every request in the δ after an expiry misses, so an
  expiry costs ``1 + λδ`` database calls (:func:`theory_plain_calls`), and
  about δ/TTL of all requests miss;
* coalescing: 1 call per expiry, but the λδ users who arrive during it still
  wait for it;
* XFetch: the first early recomputation starts about δ·ln(λδ) before expiry
  while the old value is still served; a few more lookups draw "recompute"
  before the first one lands, ``e^{1/β}`` calls per expiry in all when λδβ is
  large (:func:`theory_xfetch_calls`), whatever the rate;
* XFetch with coalescing: 1 call per expiry, and almost nobody waits.
* A cold cache is an expiry with nothing to serve: XFetch cannot help there,
  only coalescing can.

The loop is written at the engine's level (arrivals in one array, database
completions in a heap, a :class:`~course.sim.clock.LoopClock`), and the hits
between decisions are skipped in one step with
:meth:`~course.sim.cache.TTLCache.hits_before`, so a three-minute run at
2,000 requests a second takes milliseconds. ``step_by_step=True`` looks up
every request one by one instead; the tests check the two agree exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from heapq import heappop, heappush

import numpy as np

from course.sim import Simulation, _validate, metrics
from course.sim.cache import TTLCache
from course.sim.clock import LoopClock

#: The fixes: name -> the cache's mode.
FIXES = {"none": "plain", "coalescing": "coalesce", "early": "xfetch", "early_coalescing": "xfetch_coalesce"}
#: How long a run is, and the plotted windows (seconds).
DURATION = 180.0
WINDOW = 1.0
#: What a cache hit costs a user (seconds).
CACHE_LATENCY = 0.001
KEY = "hot"


def theory_plain_calls(rate: float, recompute: float) -> float:
    """Database calls per expiry with a plain cache: the first miss plus the λδ arrivals before it returns."""
    return 1.0 + _validate.positive("rate", rate) * _validate.positive("recompute", recompute)


def theory_xfetch_calls(beta: float = 1.0) -> float:
    """Database calls per expiry with XFetch alone, for λδβ ≫ 1: e^{1/β} (e ≈ 2.72 at β = 1).

    Lookups x seconds before expiry recompute with probability exp(−x/(βδ)),
    so early recomputations form a Poisson process of intensity
    λ·exp(−(T−t)/(βδ)). The first comes when its integral, λβδ·exp(−(T−t)/(βδ)),
    reaches an Exp(1) draw E; in the δ before it lands, that integral grows by
    E·(e^{1/β} − 1) more. On average 1 + (e^{1/β} − 1) = e^{1/β} calls.
    """
    return math.exp(1.0 / _validate.positive("beta", beta))


def theory_hit_ratio(fix: str, rate: float, recompute: float, ttl: float) -> float:
    """The share of requests served from the cache in the long run, for ``"none"`` and ``"coalescing"``.

    A cycle runs from one fill to the next. With coalescing, the first
    request after expiry computes, the λδ behind it wait, and its fill ends the
    cycle: misses 1 + λδ in a cycle of TTL + δ. Without it, the last of the
    misses fills last, about δ later: the same misses in TTL + 2δ.
    """
    _validate.one_of("fix", fix, ("none", "coalescing"))
    misses = theory_plain_calls(rate, recompute)
    cycle = _validate.positive("ttl", ttl) + (2 if fix == "none" else 1) * recompute + 1 / rate
    return 1.0 - misses / (rate * cycle)


def theory_coalescing_p99(ttl: float, recompute: float, q: float = 0.99) -> float:
    """p99 latency (s) with coalescing: a share δ/(TTL+δ) of users wait Uniform(0, δ) for the one call.

    Solves (δ/(TTL+δ))·(δ − x)/δ = 1 − q for the wait x, plus the cache's own latency.
    """
    _validate.positive("ttl", ttl)
    _validate.positive("recompute", recompute)
    return max(0.0, recompute - (1 - q) * (ttl + recompute)) + CACHE_LATENCY


@dataclass
class CacheStampedeResult:
    """One run: per-window series, and the headline figures."""

    fix: str
    rate: float
    recompute: float
    ttl: float
    duration: float
    t: np.ndarray              # window centres (s)
    db_calls: np.ndarray       # database calls sent per second, per window
    p99: np.ndarray            # users' p99 latency per window (s)
    waited: np.ndarray         # users per window who waited on the database (a miss, a wait or a refresh)
    requests: int
    hits: int                  # served straight from the cache
    db_call_times: np.ndarray  # when each database call was sent
    episodes: list             # (start time, database calls) per recomputation episode; the first is the cold start
    latency_p99: float         # over the whole run (s)
    latency_p50: float
    slow_latencies: np.ndarray  # the latencies of the users who waited (s)

    @property
    def hit_ratio(self) -> float:
        return self.hits / max(1, self.requests)

    @property
    def cold_calls(self) -> int:
        """Database calls of the cold start (the first episode)."""
        return self.episodes[0][1] if self.episodes else 0

    @property
    def expiry_calls(self) -> list:
        """Database calls of each episode after the cold start, one per expiry (or early refresh), leaving out
        one that starts in the last δ of the run (the arrivals stop before its stampede could end)."""
        return [c for start, c in self.episodes[1:] if start <= self.duration - self.recompute]

    @property
    def expiries(self) -> int:
        return len(self.expiry_calls)

    @property
    def calls_per_expiry(self) -> float:
        """Mean database calls per expiry (NaN if there was none)."""
        calls = self.expiry_calls
        return float(np.mean(calls)) if calls else float("nan")

    @property
    def waited_total(self) -> int:
        return int(self.requests - self.hits)


def _arrivals(generator, rate: float, duration: float) -> np.ndarray:
    """Poisson arrival times in [0, duration)."""
    n = int(rate * duration + 10 * math.sqrt(rate * duration) + 100)
    times = np.cumsum(generator.standard_exponential(n) / rate)
    while times[-1] < duration:  # not reached in practice: 10 standard deviations of headroom
        times = np.concatenate([times, times[-1] + np.cumsum(generator.standard_exponential(n) / rate)])
    return times[: int(np.searchsorted(times, duration))]


def _quantile_with_floor(slow_sorted: np.ndarray, n: int, floor: float, q: float) -> float:
    """numpy's linear quantile of n values: n − len(slow) copies of ``floor``, then ``slow_sorted`` (all ≥ floor)."""
    hits = n - len(slow_sorted)
    pos = q * (n - 1)
    lo = int(math.floor(pos))
    hi = min(lo + 1, n - 1)

    def at(i):
        return floor if i < hits else float(slow_sorted[i - hits])

    return at(lo) + (pos - lo) * (at(hi) - at(lo))


def _check(fix, rate, recompute, ttl, beta, duration, connections) -> None:
    _validate.one_of("fix", fix, tuple(FIXES))
    _validate.positive("rate", rate)
    _validate.positive("recompute", recompute)
    _validate.positive("ttl", ttl)
    _validate.positive("beta", beta)
    _validate.positive("duration", duration)
    if connections is not None:
        _validate.integer_at_least("connections", connections, 1)


def simulate(fix: str = "none", rate: float = 1000.0, recompute: float = 0.2, ttl: float = 10.0,
             seed: int = 1, beta: float = 1.0, duration: float = DURATION, connections: int | None = None,
             step_by_step: bool = False) -> CacheStampedeResult:
    """Run users → cache (``fix``) → database for ``duration`` seconds; see the module docstring.

    ``rate`` in requests per second, ``recompute`` (δ) and ``ttl`` in seconds;
    ``connections`` (default: as many as needed) bounds the database's pool.
    With a pool, a cold stampede queues, the late fills record a δ inflated by
    the queue, and XFetch turns eager: past a point its early recomputations
    keep the queue long (a feedback loop, and a slow run).
    Arrivals come from stream ``cache_stampede:arrivals``, XFetch draws from
    ``cache_stampede:xfetch`` (one per request, used only when needed).
    """
    _check(fix, rate, recompute, ttl, beta, duration, connections)
    sim = Simulation(seed=seed)
    times = _arrivals(sim.rng("cache_stampede:arrivals").generator, rate, duration)
    n = len(times)
    u = 1.0 - sim.rng("cache_stampede:xfetch").generator.random(n)  # in (0, 1]
    clock = LoopClock()
    cache = TTLCache(clock, ttl, FIXES[fix], beta=beta)
    xfetch = cache.early

    free = [0.0] * (connections or 0)    # when each pooled connection is next free (a heap)
    done: list = []                       # (end, sequence, sent, caller index) of calls in flight
    sent_times: list = []
    slow_index: list = []                 # users who waited on the database, and their latencies
    slow_latency: list = []
    episodes: list = []
    hits = 0
    i = 0
    inf = math.inf
    at = times.tolist()                   # Python floats: cheaper one at a time than numpy scalars

    def send(now, caller):
        if cache.in_flight(KEY) == 1:     # this call is the first in flight: a new episode
            episodes.append([now, 0])
        episodes[-1][1] += 1
        if free:
            start = max(now, heappop(free))
            heappush(free, start + recompute)
        else:
            start = now
        end = start + recompute
        heappush(done, (end, len(sent_times), now, caller))
        sent_times.append(now)

    while True:
        next_done = done[0][0] if done else inf
        if i < n and at[i] < next_done:
            entry = cache.entry(KEY)
            if not step_by_step and entry is not None and at[i] < entry.expiry:  # a run of hits may start here
                k = int(np.searchsorted(times, next_done, side="left")) if done else n
                skip = cache.hits_before(KEY, times[i:k], u[i:k] if xfetch else None)
                hits += skip
                i += skip
                if i >= k:
                    continue
            now = clock.t = at[i]
            answer = cache.lookup(KEY, waiter=i, u=float(u[i]))
            if answer.kind == "hit":
                hits += 1
            elif answer.kind in ("miss", "refresh"):
                send(now, i)
            i += 1
            continue
        if not done:
            break
        end, _, sent, caller = heappop(done)
        clock.t = end
        waiters = cache.fill(KEY, end, end - sent)
        for j in (caller, *waiters):
            slow_index.append(j)
            slow_latency.append(end - at[j] + CACHE_LATENCY)

    # Per-window series.
    edges = metrics.window_edges(duration, WINDOW)
    sent_arr = np.array(sent_times)
    db_calls = metrics.windowed_rate(sent_arr, edges)
    slow_index = np.array(slow_index, dtype=int)
    slow_latency = np.array(slow_latency)
    window_of = np.minimum((times // WINDOW).astype(int), len(edges) - 2)
    per_window = np.bincount(window_of, minlength=len(edges) - 1)
    slow_window = window_of[slow_index]
    waited = np.bincount(slow_window, minlength=len(edges) - 1)
    p99 = np.full(len(edges) - 1, CACHE_LATENCY)
    p99[per_window == 0] = np.nan
    order = np.lexsort((slow_latency, slow_window))
    sorted_windows, sorted_latency = slow_window[order], slow_latency[order]
    bounds = np.searchsorted(sorted_windows, np.arange(len(edges)))
    for w in np.flatnonzero(waited):
        p99[w] = _quantile_with_floor(sorted_latency[bounds[w]:bounds[w + 1]], int(per_window[w]),
                                      CACHE_LATENCY, 0.99)
    all_slow = np.sort(slow_latency)
    return CacheStampedeResult(
        fix=fix, rate=rate, recompute=recompute, ttl=ttl, duration=duration, t=metrics.window_centres(edges), db_calls=db_calls,
        p99=p99, waited=waited, requests=n, hits=hits, db_call_times=sent_arr,
        episodes=[tuple(e) for e in episodes],
        latency_p99=_quantile_with_floor(all_slow, n, CACHE_LATENCY, 0.99) if n else float("nan"),
        latency_p50=_quantile_with_floor(all_slow, n, CACHE_LATENCY, 0.50) if n else float("nan"),
        slow_latencies=slow_latency)


@lru_cache(maxsize=256)
def simulate_cached(fix: str = "none", rate: float = 1000.0, recompute: float = 0.2, ttl: float = 10.0,
                    seed: int = 1) -> CacheStampedeResult:
    """:func:`simulate` with the dashboard's settings, remembered (a revisited setting costs nothing)."""
    return simulate(fix, rate, recompute, ttl, seed)


def long_run(fix: str, rate: float = 1000.0, recompute: float = 0.2, ttl: float = 10.0, seeds=range(1, 11),
             **kwargs) -> dict:
    """Figures pooled over ``seeds``: calls per expiry (over all expiries), cold-start calls (mean), hit ratio,
    the users' p99 (mean of the runs'), and users who waited per expiry."""
    runs = [simulate(fix, rate, recompute, ttl, seed=s, **kwargs) for s in seeds]
    calls = [c for r in runs for c in r.expiry_calls]
    expiries = sum(r.expiries for r in runs)
    return {
        "calls_per_expiry": float(np.mean(calls)),
        "calls_per_expiry_se": float(np.std(calls) / math.sqrt(len(calls))),
        "expiries": expiries,
        "cold_calls": float(np.mean([r.cold_calls for r in runs])),
        "hit_ratio": sum(r.hits for r in runs) / sum(r.requests for r in runs),
        "p99": float(np.mean([r.latency_p99 for r in runs])),
        "waited_per_expiry": sum(r.waited_total for r in runs) / max(1, expiries + len(runs)),
    }
