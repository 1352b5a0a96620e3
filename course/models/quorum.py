"""Quorum reads and writes: how stale a read is, and what each quorum size costs in latency.

N replicas; each takes an independent Exp(mean L) to apply a write, and the
write is acknowledged when W of them have applied it. At time t after the ack,
a read asks R replicas chosen at random and returns the newest version among
them; it is *stale* if none of the R has the write yet.

Theory. At the ack exactly W replicas hold the write. By memorylessness each of
the other N − W applies it after a fresh Exp(L) from the ack on, independently.
The read is stale when all R replicas it asks are among those N − W (chance
C(N−W, R) / C(N, R), which is 0 when R > N − W, i.e. R + W > N) and none of
them has caught up by t (chance e^{−t/L} each)::

    P(stale at t) = C(N−W, R) / C(N, R) · e^{−R·t/L}

Latency. A write waits for the W-th fastest of N replicas; a read waits for the
slowest of the R it asks, each answering after its own Exp(L) (the replica
answers with what it held when asked; only the answer takes time). Both are
order statistics of exponentials: :func:`theory_write_quantile`,
:func:`theory_read_quantile` and the means.

:func:`simulate` draws everything with numpy (a single write and read per
trial gains nothing from the event engine); :func:`stale_sweep_store` runs the
same experiment through :class:`course.sim.data.quorum.QuorumStore` on the
engine, and the tests check the two agree with each other and with theory.
The idea of t-visibility is from Bailis et al., "Probabilistically Bounded
Staleness for Practical Partial Quorums" (VLDB 2012).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from course.sim import Exponential, Simulation, _validate
from course.sim.data.quorum import QuorumStore, check_quorum

#: Mean per-replica latency L (s) of the dashboard's default.
LAG_MEAN = 0.1
#: Times after the ack of the default sweep, as multiples of L.
T_OVER_LAG = np.round(np.linspace(0.0, 4.0, 21), 10)
#: The percentiles the latency panel shows.
QUANTILES = (0.5, 0.99)


def _check_nrw(n, r, w) -> None:
    _validate.integer_at_least("n", n, 1)
    check_quorum("r", r, n)
    check_quorum("w", w, n)


def _times(t) -> np.ndarray:
    t = np.asarray(t, dtype=float)
    if np.any(np.isnan(t)) or np.any(t < 0):
        raise ValueError(f"t must be >= 0 seconds after the ack, got {np.atleast_1d(t).tolist()!r}")
    return t


def overlap_miss(n: int, r: int, w: int) -> float:
    """C(N−W, R) / C(N, R): the chance a random read set of R misses a given write set of W (0 if R + W > N)."""
    _check_nrw(n, r, w)
    return math.comb(n - w, r) / math.comb(n, r)


def theory_stale(t, n: int, r: int, w: int, lag_mean: float = LAG_MEAN):
    """P(a read t seconds after the ack is stale) = C(N−W, R)/C(N, R) · e^{−R·t/L} (works on arrays)."""
    _validate.positive("lag_mean", lag_mean)
    return overlap_miss(n, r, w) * np.exp(-r * _times(t) / lag_mean)


def theory_write_mean(n: int, w: int, lag_mean: float = LAG_MEAN) -> float:
    """Mean of the W-th fastest of N Exp(L): L · (1/N + 1/(N−1) + … + 1/(N−W+1))."""
    _check_nrw(n, 1, w)
    _validate.positive("lag_mean", lag_mean)
    return lag_mean * sum(1 / (n - i) for i in range(w))


def theory_read_mean(r: int, lag_mean: float = LAG_MEAN) -> float:
    """Mean of the slowest of R Exp(L): L · (1 + 1/2 + … + 1/R)."""
    _validate.integer_at_least("r", r, 1)
    _validate.positive("lag_mean", lag_mean)
    return lag_mean * sum(1 / k for k in range(1, r + 1))


def theory_read_quantile(q: float, r: int, lag_mean: float = LAG_MEAN) -> float:
    """The q-quantile of the slowest of R Exp(L): −L · ln(1 − q^{1/R})."""
    _validate.probability("q", q)
    _validate.integer_at_least("r", r, 1)
    _validate.positive("lag_mean", lag_mean)
    return -lag_mean * math.log1p(-q ** (1 / r)) if q < 1 else math.inf


def write_cdf(x, n: int, w: int, lag_mean: float = LAG_MEAN):
    """P(the W-th fastest of N Exp(L) is <= x): at least W of N done, Σ_{j>=W} C(N,j) F^j (1−F)^{N−j}."""
    _check_nrw(n, 1, w)
    f = -np.expm1(-np.maximum(np.asarray(x, dtype=float), 0) / lag_mean)
    return sum(math.comb(n, j) * f ** j * (1 - f) ** (n - j) for j in range(w, n + 1))


def theory_write_quantile(q: float, n: int, w: int, lag_mean: float = LAG_MEAN) -> float:
    """The q-quantile of the W-th fastest of N Exp(L), by bisection on :func:`write_cdf` (to 1e-12 · L)."""
    _validate.probability("q", q)
    _validate.positive("lag_mean", lag_mean)
    _check_nrw(n, 1, w)
    if q >= 1:
        return math.inf
    low, high = 0.0, lag_mean
    while write_cdf(high, n, w, lag_mean) < q:
        high *= 2
    while high - low > 1e-12 * lag_mean:
        mid = (low + high) / 2
        low, high = (mid, high) if write_cdf(mid, n, w, lag_mean) < q else (low, mid)
    return (low + high) / 2


@dataclass
class QuorumRun:
    """One setting's staleness curve and the latency of every quorum size, simulated and in theory.

    Latency arrays are indexed by quorum size k − 1 (k = 1..N) and quantile (:data:`QUANTILES`), in seconds.
    """

    n: int
    r: int
    w: int
    lag_mean: float
    trials: int
    times: np.ndarray            # seconds after the ack
    stale: np.ndarray            # measured share of stale reads at each time
    theory: np.ndarray           # C(N−W,R)/C(N,R) · exp(−R t / L)
    se: np.ndarray               # sqrt(p(1−p)/trials), p from theory
    write_latency: np.ndarray    # (N, len(QUANTILES)) simulated: k-th fastest of N
    read_latency: np.ndarray     # (N, len(QUANTILES)) simulated: slowest of k
    write_theory: np.ndarray
    read_theory: np.ndarray
    write_mean: float            # simulated mean latency of this W
    read_mean: float             # simulated mean latency of this R

    @property
    def overlapping(self) -> bool:
        """R + W > N."""
        return self.r + self.w > self.n

    def write_quantile(self, q: float, theory: bool = False) -> float:
        """This W's write latency at quantile ``q`` (one of :data:`QUANTILES`)."""
        return float((self.write_theory if theory else self.write_latency)[self.w - 1, QUANTILES.index(q)])

    def read_quantile(self, q: float, theory: bool = False) -> float:
        """This R's read latency at quantile ``q`` (one of :data:`QUANTILES`)."""
        return float((self.read_theory if theory else self.read_latency)[self.r - 1, QUANTILES.index(q)])


def latency_theory(n: int, lag_mean: float = LAG_MEAN) -> tuple[np.ndarray, np.ndarray]:
    """(write, read) latency quantiles in theory, shaped like :attr:`QuorumRun.write_latency`."""
    write = np.array([[theory_write_quantile(q, n, k, lag_mean) for q in QUANTILES] for k in range(1, n + 1)])
    read = np.array([[theory_read_quantile(q, k, lag_mean) for q in QUANTILES] for k in range(1, n + 1)])
    return write, read


def simulate(n: int = 3, r: int = 1, w: int = 1, lag_mean: float = LAG_MEAN, times=None, trials: int = 20_000,
             seed: int = 1) -> QuorumRun:
    """``trials`` independent writes, each read once at every time in ``times`` (default :data:`T_OVER_LAG` × L).

    Per trial: N apply lags; the ack at the W-th smallest; R replicas chosen at random; the
    read at t is stale if each of them applies later than ack + t. The same draws serve every t
    (so the curve is smooth) and give the latency of every quorum size: writes wait for the
    k-th smallest of the N lags, reads for the largest of k answer times drawn apart from them.
    Streams: ``"quorum:lag"``, ``"quorum:choose"``, ``"quorum:response"`` of ``Simulation(seed)``.
    """
    _check_nrw(n, r, w)
    _validate.positive("lag_mean", lag_mean)
    _validate.integer_at_least("trials", trials, 1)
    times = _times(T_OVER_LAG * lag_mean if times is None else np.atleast_1d(times))
    sim = Simulation(seed=seed)
    lags = sim.rng("quorum:lag").generator.standard_exponential((trials, n)) * lag_mean
    ordered = np.sort(lags, axis=1)
    ack = ordered[:, w - 1]
    # R distinct replicas per trial, uniformly: the first R of a random permutation.
    chosen = np.argsort(sim.rng("quorum:choose").generator.random((trials, n)), axis=1)[:, :r]
    margin = np.take_along_axis(lags, chosen, axis=1).min(axis=1) - ack  # the read set's first apply, after the ack
    stale = (margin[None, :] > times[:, None]).mean(axis=1)
    answers = sim.rng("quorum:response").generator.standard_exponential((trials, n)) * lag_mean
    slowest = np.maximum.accumulate(answers, axis=1)  # column k-1: the slowest of k answers
    write_theory, read_theory = latency_theory(n, lag_mean)
    theory = theory_stale(times, n, r, w, lag_mean)
    return QuorumRun(n, r, w, lag_mean, trials, times, stale, theory, np.sqrt(theory * (1 - theory) / trials),
                     np.quantile(ordered, QUANTILES, axis=0).T, np.quantile(slowest, QUANTILES, axis=0).T,
                     write_theory, read_theory, float(ack.mean()), float(slowest[:, r - 1].mean()))


@dataclass
class StoreSweep:
    """P(stale) at each time after the ack, measured through the event engine."""

    times: np.ndarray
    stale: np.ndarray
    theory: np.ndarray
    write_latencies: np.ndarray   # seconds, one per write
    read_latencies: np.ndarray    # seconds, one per read


def stale_sweep_store(n: int = 3, r: int = 1, w: int = 1, lag_mean: float = LAG_MEAN, times=(0.0, 0.1),
                      trials: int = 2_000, seed: int = 1, spacing: float = 100.0) -> StoreSweep:
    """The same experiment through a real :class:`QuorumStore` on the engine: lag and read response
    Exponential(L), acknowledgements instant (as the theory assumes).

    Trial k writes its own key at k·``spacing`` seconds; when the write is acknowledged, one read per
    time in ``times`` is scheduled that far after the ack. A read is stale if it returns no version.
    """
    _check_nrw(n, r, w)
    _validate.integer_at_least("trials", trials, 1)
    times = _times(np.atleast_1d(times))
    sim = Simulation(seed=seed)
    db = QuorumStore(sim, "kv", replicas=n, write_quorum=w, read_quorum=r, lag=Exponential(lag_mean),
                     ack=0.0, response=Exponential(lag_mean))
    stale = np.zeros(times.size)
    read_latencies = []

    def done(read, j):
        read_latencies.append(read.latency)
        stale[j] += read.record is None

    def acked(write):
        for j, t in enumerate(times.tolist()):
            sim.schedule(t, lambda key=write.key, j=j: db.read(key, on_done=lambda rd: done(rd, j)))

    for k in range(trials):
        sim.at(k * spacing, db.write, k, k, None, acked)
    sim.run()
    return StoreSweep(times, stale / trials, theory_stale(times, n, r, w, lag_mean),
                      np.array([wr.latency for wr in db.writes]), np.array(read_latencies))
