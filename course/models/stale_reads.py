"""Stale reads from an asynchronous replica, and what read routing does to session guarantees.

A client writes a key on the primary and, Δ seconds later, reads it from a
replica. Replication lag is exponential with mean L, so the replica has not
yet applied the write with probability P(lag > Δ) = exp(−Δ/L): the read is
*stale*. :func:`stale_sweep_fast` draws the lags straight from numpy (the
event engine adds nothing to a single write and a single read);
:func:`stale_sweep_store` runs the same experiment through the real
:class:`course.sim.data.Store` on the engine, and the tests check the two
agree with each other and with the formula.

:func:`session_run` is the session scenario: a few processes each alternate
writing a shared key and reading it back, with reads routed by one of the
:data:`course.sim.data.store.ROUTINGS`, and the history is judged by the
read-your-writes and monotonic-reads checkers (a process reads several times
per write, so the others' newer writes can come and go between its reads):

* ``"primary"`` never violates either (but the primary serves every read);
* ``"random"`` violates both;
* ``"sticky"`` keeps monotonic reads (one replica never goes back in time) but
  not read-your-writes;
* ``"read_your_writes"`` keeps read-your-writes but not monotonic reads (it
  may read the primary, then a replica that is further behind).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from course.sim import Exponential, Simulation, _validate
from course.sim.data import (CheckResult, History, Store, check_monotonic_reads, check_read_your_writes)
from course.sim.data.store import ROUTINGS

#: Mean replication lag (s) of the dashboard's default.
LAG_MEAN = 0.1
#: Read delays of the default sweep, as multiples of the mean lag.
DELTA_OVER_LAG = np.round(np.linspace(0.0, 4.0, 21)[1:], 10)
#: Seconds between trials on the engine (trials use distinct keys, so this only spreads them out).
SPACING = 1.0


def theory_stale(delta, lag_mean: float = LAG_MEAN):
    """P(a read Δ after the write is stale) = exp(−Δ/L) for an exponential lag of mean L (works on arrays)."""
    _validate.positive("lag_mean", lag_mean)
    delta = np.asarray(delta, dtype=float)
    if np.any(delta < 0) or np.any(np.isnan(delta)):
        raise ValueError(f"delta must be >= 0 seconds (a read after the write), got {delta.tolist()!r}")
    return np.exp(-delta / lag_mean)


@dataclass
class StaleSweep:
    """P(stale) per read delay: measured, its standard error, and theory."""

    deltas: np.ndarray       # read delay after the write (s)
    lag_mean: float          # L (s)
    trials: int              # per delay
    stale: np.ndarray        # measured share of stale reads
    se: np.ndarray           # sqrt(p(1-p)/trials), with p the theory value
    theory: np.ndarray       # exp(-delta/L)
    method: str              # "numpy" or "store"


def _check(deltas, lag_mean, trials) -> np.ndarray:
    _validate.positive("lag_mean", lag_mean)
    _validate.integer_at_least("trials", trials, 1)
    deltas = np.atleast_1d(np.asarray(deltas, dtype=float))
    if deltas.size == 0 or np.any(deltas < 0) or np.any(np.isnan(deltas)):
        raise ValueError(f"deltas must be one or more read delays >= 0 seconds, got {deltas.tolist()!r}")
    return deltas


def _sweep(deltas, lag_mean, trials, stale, method) -> StaleSweep:
    theory = theory_stale(deltas, lag_mean)
    return StaleSweep(deltas, lag_mean, trials, stale, np.sqrt(theory * (1 - theory) / trials), theory, method)


def stale_sweep_fast(deltas=None, lag_mean: float = LAG_MEAN, trials: int = 2_000, seed: int = 1) -> StaleSweep:
    """P(stale) per Δ in ``deltas`` (default :data:`DELTA_OVER_LAG` × L), from ``trials`` lag draws per Δ.

    Vectorised: a read Δ after the write is stale exactly when the lag exceeds Δ.
    """
    deltas = _check(DELTA_OVER_LAG * lag_mean if deltas is None else deltas, lag_mean, trials)
    generator = Simulation(seed=seed).rng("stale_reads:sweep:lag").generator
    lags = generator.standard_exponential((deltas.size, trials)) * lag_mean
    return _sweep(deltas, lag_mean, trials, (lags > deltas[:, None]).mean(axis=1), "numpy")


def stale_sweep_store(deltas=None, lag_mean: float = LAG_MEAN, trials: int = 2_000, seed: int = 1) -> StaleSweep:
    """The same sweep through a real :class:`Store` (one replica, lag Exponential(L)) on the engine.

    Trial k at delay Δ writes its own key at k·:data:`SPACING` and reads it from
    the replica at k·SPACING + Δ; the read is stale if the replica has no record yet.
    """
    deltas = _check(DELTA_OVER_LAG * lag_mean if deltas is None else deltas, lag_mean, trials)
    sim = Simulation(seed=seed)
    db = Store(sim, "db", replicas=1, lag=Exponential(lag_mean))
    stale = [0] * deltas.size
    read = db.read

    def check(key, j):
        if read(key, 0) is None:
            stale[j] += 1

    at = sim.at
    n = 0
    for k in range(trials):
        for j, delta in enumerate(deltas.tolist()):
            t = n * SPACING
            at(t, db.write, n, k)
            at(t + delta, check, n, j)
            n += 1
    sim.run()
    return _sweep(deltas, lag_mean, trials, np.array(stale, dtype=float) / trials, "store")


@dataclass
class SessionResult:
    """One session run: how many reads broke each guarantee."""

    routing: str
    reads: int
    writes: int
    read_your_writes: CheckResult
    monotonic_reads: CheckResult
    history: History

    @property
    def ryw_violations(self) -> int:
        return len(self.read_your_writes.violations)

    @property
    def monotonic_violations(self) -> int:
        return len(self.monotonic_reads.violations)


def session_run(routing: str = "random", processes: int = 4, rounds: int = 100, reads_per_write: int = 3,
                replicas: int = 2, lag_mean: float = LAG_MEAN, think_mean: float = 0.05,
                seed: int = 1) -> SessionResult:
    """``processes`` processes each do ``rounds`` × (write the shared key, then ``reads_per_write`` ×
    (think, read it)), thinking again before the next write.

    Reads go where ``routing`` sends them; think times are exponential with mean
    ``think_mean`` (s) from stream ``f"stale_reads:<process>:think"``.
    """
    _validate.one_of("routing", routing, ROUTINGS)
    _validate.integer_at_least("processes", processes, 1)
    _validate.integer_at_least("rounds", rounds, 1)
    _validate.integer_at_least("reads_per_write", reads_per_write, 1)
    _validate.positive("think_mean", think_mean)
    sim = Simulation(seed=seed)
    history = History(sim)
    db = Store(sim, "db", replicas=replicas, lag=Exponential(lag_mean), history=history)
    key = "profile"
    counts = {"reads": 0, "writes": 0}

    def write(process, think, left):
        db.write(key, (process, left), process)
        counts["writes"] += 1
        sim.schedule(think(), read, process, think, left, reads_per_write)

    def read(process, think, left, reads_left):
        db.read_routed(key, process, routing)
        counts["reads"] += 1
        if reads_left > 1:
            sim.schedule(think(), read, process, think, left, reads_left - 1)
        elif left > 1:
            sim.schedule(think(), write, process, think, left - 1)

    for i in range(processes):
        process = f"p{i}"
        think = Exponential(think_mean).sampler(sim.rng(f"stale_reads:{process}:think"))
        sim.schedule(think(), write, process, think, rounds)
    sim.run()
    return SessionResult(routing, counts["reads"], counts["writes"], check_read_your_writes(history),
                         check_monotonic_reads(history), history)


def session_sweep(**kwargs) -> dict:
    """:func:`session_run` for each routing, same seed and settings: routing -> SessionResult."""
    return {routing: session_run(routing, **kwargs) for routing in ROUTINGS}
