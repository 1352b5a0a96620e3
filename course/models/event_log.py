"""A projection following an event log: catching up after a burst, rebuilding, and a poison message.

The scenario (lesson 08, follow-up 4): events are appended to a log of
:data:`PARTITIONS` partitions, by key, so each partition gets a quarter of
them. They arrive as a Poisson stream at λ0 (:data:`BASE_RATE`), at λ1 during
a burst from :data:`BURST_START` for :data:`BURST_SECONDS`, then at λ0 again.
The projection applies μ events per second in all (μ / PARTITIONS per
partition, one event at a time, a constant service time).

Theory is the fluid picture: the lag (events behind the head) grows at
λ1 − μ during the burst, peaks at (λ1 − μ)·D, and drains at μ − λ0, taking
(λ1 − μ)·D / (μ − λ0) seconds. An event written at the peak waits
peak / μ seconds before the read model shows it. Replaying N events takes
N / μ; from a snapshot, only the events after it count.

Optionally the first event of partition 0 after :data:`POISON_AT` is a
poison message. Without a dead-letter queue the worker retries it forever
and partition 0's lag grows at its own arrival rate; with one, it spends
k·s + (k − 1)·d seconds on it (k attempts of service time s, a retry delay d
between them), parks it, and catches up.

:func:`run_fast` computes a run in numpy (a single-server FIFO queue per
partition: each completion is max(arrival, previous completion) + service,
as a cumulative maximum); :func:`run_engine` runs the same arrivals through
:class:`~course.sim.data.projection.EventLog` and
:class:`~course.sim.data.projection.Projection` on the engine, and the tests
check the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from course.sim import Simulation, _validate
from course.sim.data.projection import EventLog, Projection

PARTITIONS = 4
BASE_RATE = 40.0          # λ0, events/s
BURST_RATE = 100.0        # λ1 default, events/s
CONSUMER_RATE = 60.0      # μ default, events/s over all partitions
BURST_START = 30.0        # s
BURST_SECONDS = 60.0      # D, s
POISON_AT = 240.0         # s
RETRY_DELAY = 2.0         # s between attempts at a failing event
HORIZON = 300.0           # s
GRID_STEP = 1.0           # s between lag samples
POISONED = 0              # the partition the poison message lands on
#: "Caught up": the total lag back to this many events or fewer. Random arrivals keep a few events queued even
#: when the projection keeps up (about 5 in all at the defaults), so "exactly 0" is the wrong test.
NORMAL_LAG = 20


def _rates(base_rate, burst_rate, consumer_rate, burst_seconds=BURST_SECONDS):
    _validate.positive("base_rate", base_rate)
    _validate.non_negative("burst_rate", burst_rate)
    _validate.positive("consumer_rate", consumer_rate)
    _validate.non_negative("burst_seconds", burst_seconds)
    if not base_rate < consumer_rate:
        raise ValueError(f"consumer_rate must be > base_rate ({base_rate}) or the lag never drains, "
                         f"got {consumer_rate!r}")


# -- theory ---------------------------------------------------------------------------------------------

def peak_lag(burst_rate=BURST_RATE, consumer_rate=CONSUMER_RATE, burst_seconds=BURST_SECONDS) -> float:
    """(λ1 − μ)·D events behind at the end of the burst (0 if the projection keeps up with the burst)."""
    _validate.positive("consumer_rate", consumer_rate)
    return max(0.0, burst_rate - consumer_rate) * burst_seconds


def drain_seconds(base_rate=BASE_RATE, burst_rate=BURST_RATE, consumer_rate=CONSUMER_RATE,
                  burst_seconds=BURST_SECONDS) -> float:
    """Seconds from the end of the burst until caught up: peak / (μ − λ0)."""
    _rates(base_rate, burst_rate, consumer_rate, burst_seconds)
    return peak_lag(burst_rate, consumer_rate, burst_seconds) / (consumer_rate - base_rate)


def worst_wait_seconds(burst_rate=BURST_RATE, consumer_rate=CONSUMER_RATE, burst_seconds=BURST_SECONDS) -> float:
    """How long an event written at the peak waits before the read model shows it: peak / μ."""
    return peak_lag(burst_rate, consumer_rate, burst_seconds) / consumer_rate


def fluid_lag(t, base_rate=BASE_RATE, burst_rate=BURST_RATE, consumer_rate=CONSUMER_RATE,
              burst_start=BURST_START, burst_seconds=BURST_SECONDS) -> np.ndarray:
    """The fluid lag (events) at times ``t``: 0, then up at λ1 − μ during the burst, then down at μ − λ0."""
    _rates(base_rate, burst_rate, consumer_rate, burst_seconds)
    t = np.asarray(t, dtype=float)
    end = burst_start + burst_seconds
    up = np.clip(t - burst_start, 0, burst_seconds) * max(0.0, burst_rate - consumer_rate)
    return np.where(t <= end, up, np.maximum(0.0, up - (consumer_rate - base_rate) * (t - end)))


def rebuild_seconds(events: int, consumer_rate: float, snapshot_offset: int = 0) -> float:
    """Replaying the log into an empty read model: (events − snapshot_offset) / μ."""
    _validate.integer_at_least("events", events, 0)
    _validate.positive("consumer_rate", consumer_rate)
    _validate.integer_at_least("snapshot_offset", snapshot_offset, 0)
    if snapshot_offset > events:
        raise ValueError(f"snapshot_offset must be <= events ({events}), got {snapshot_offset!r}")
    return (events - snapshot_offset) / consumer_rate


def stall_seconds(max_attempts: int, consumer_rate=CONSUMER_RATE, retry_delay=RETRY_DELAY,
                  partitions=PARTITIONS) -> float:
    """How long a poison message holds its partition: k·s + (k − 1)·d, with s = partitions / μ; inf without a DLQ
    (``max_attempts`` 0)."""
    _validate.integer_at_least("max_attempts (0: no dead-letter queue)", max_attempts, 0)
    _validate.positive("consumer_rate", consumer_rate)
    if max_attempts == 0:
        return float("inf")
    return max_attempts * partitions / consumer_rate + (max_attempts - 1) * retry_delay


# -- runs -----------------------------------------------------------------------------------------------

def arrivals(base_rate=BASE_RATE, burst_rate=BURST_RATE, seed: int = 1, horizon=HORIZON,
             burst_start=BURST_START, burst_seconds=BURST_SECONDS, partitions=PARTITIONS):
    """Poisson arrival times (sorted) over [0, horizon) and each event's partition (uniform, as hashed keys are).

    Drawn in numpy from the stream ``event_log:arrivals``: a Poisson count per
    piece of constant rate, then uniform times within it.
    """
    _validate.positive("horizon", horizon)
    generator = Simulation(seed=seed).rng("event_log:arrivals").generator
    end = min(horizon, burst_start + burst_seconds)
    pieces = [(0.0, min(burst_start, horizon), base_rate), (min(burst_start, horizon), end, burst_rate),
              (end, horizon, base_rate)]
    times = [np.sort(generator.uniform(a, b, generator.poisson(rate * (b - a)))) for a, b, rate in pieces if b > a]
    times = np.concatenate(times) if times else np.zeros(0)
    return times, generator.integers(0, partitions, times.size)


@dataclass
class Run:
    """One run: per-partition arrivals and completions, and the lag sampled on :attr:`grid`."""

    base_rate: float
    burst_rate: float
    consumer_rate: float
    poison: bool
    max_attempts: int            # 0: no dead-letter queue
    seed: int
    grid: np.ndarray             # sample times (s)
    lag: np.ndarray              # (partitions, grid) events behind the head
    behind: np.ndarray           # (partitions, grid) seconds since the oldest unapplied event was written
    arrived: list                # per partition: arrival times
    done: list                   # per partition: completion (applied or parked) times, inf if never
    dead_letters: int            # parked by the end of the run
    poison_time: float | None    # when the poison message was written
    poison_reached: float | None = None   # when the worker first tried it (None: not within the run)

    @property
    def total_lag(self) -> np.ndarray:
        return self.lag.sum(axis=0)

    @property
    def peak(self) -> int:
        return int(self.total_lag.max())

    def caught_up_at(self, after: float = BURST_START + BURST_SECONDS, normal: int = NORMAL_LAG) -> float:
        """The first grid time from ``after`` on with the total lag back to ``normal`` events or fewer (inf if none),
        looking only before the poison message, if there is one."""
        before = self.grid < (self.poison_time if self.poison_time is not None else np.inf)
        idx = np.flatnonzero((self.grid >= after) & before & (self.total_lag <= normal))
        return float(self.grid[idx[0]]) if idx.size else float("inf")

    def waits(self) -> tuple:
        """(arrival times, waits until applied) of every event, all partitions together."""
        a, c = np.concatenate(self.arrived), np.concatenate(self.done)
        order = np.argsort(a, kind="stable")
        return a[order], (c - a)[order]


def _check_run(base_rate, burst_rate, consumer_rate, max_attempts):
    _rates(base_rate, burst_rate, consumer_rate)
    _validate.integer_at_least("max_attempts (0: no dead-letter queue)", max_attempts, 0)


def _poison_index(a: np.ndarray, poison: bool) -> int | None:
    if not poison:
        return None
    idx = int(np.searchsorted(a, POISON_AT))
    return idx if idx < a.size else None


def _reached(a: np.ndarray, c: np.ndarray, j: int | None) -> float | None:
    """When the worker first tried event ``j``: its arrival, or the previous completion if later."""
    if j is None:
        return None
    start = max(a[j], c[j - 1]) if j > 0 else a[j]
    return float(start) if start <= HORIZON else None


def _sample(grid, arrived, done):
    lag = np.zeros((len(arrived), grid.size))
    behind = np.zeros_like(lag)
    for p, (a, c) in enumerate(zip(arrived, done)):
        n_in = np.searchsorted(a, grid, side="right")
        n_done = np.searchsorted(c, grid, side="right")
        lag[p] = n_in - n_done
        waiting = n_done < n_in
        oldest = a[np.minimum(n_done, max(a.size - 1, 0))] if a.size else np.zeros(grid.size)
        behind[p] = np.where(waiting, grid - oldest, 0.0)
    return lag, behind


def run_fast(base_rate=BASE_RATE, burst_rate=BURST_RATE, consumer_rate=CONSUMER_RATE, poison: bool = False,
             max_attempts: int = 0, seed: int = 1) -> Run:
    """One run in numpy (see the module docstring); ``max_attempts`` 0 means no dead-letter queue."""
    _check_run(base_rate, burst_rate, consumer_rate, max_attempts)
    times, parts = arrivals(base_rate, burst_rate, seed)
    s = PARTITIONS / consumer_rate
    arrived, done, poison_time, reached, parked = [], [], None, None, 0
    for p in range(PARTITIONS):
        a = times[parts == p]
        service = np.full(a.size, s)
        j = _poison_index(a, poison) if p == POISONED else None
        if j is not None:
            service[j] = stall_seconds(max_attempts, consumer_rate, RETRY_DELAY, PARTITIONS)
            poison_time = float(a[j])
        total = np.cumsum(service)
        before = np.concatenate(([0.0], total[:-1]))  # work done before each event (inf after a stuck one)
        c = total + np.maximum.accumulate(a - before)
        if j is not None:
            reached = _reached(a, c, j)
            parked = int(bool(max_attempts) and c[j] <= HORIZON)
        arrived.append(a)
        done.append(c)
    grid = np.arange(0.0, HORIZON + GRID_STEP / 2, GRID_STEP)
    lag, behind = _sample(grid, arrived, done)
    return Run(base_rate, burst_rate, consumer_rate, poison, max_attempts, seed, grid, lag, behind, arrived, done,
               parked, poison_time, reached)


def run_engine(base_rate=BASE_RATE, burst_rate=BURST_RATE, consumer_rate=CONSUMER_RATE, poison: bool = False,
               max_attempts: int = 0, seed: int = 1) -> Run:
    """The same run (same arrivals) through :class:`EventLog` and :class:`Projection` on the engine."""
    _check_run(base_rate, burst_rate, consumer_rate, max_attempts)
    times, parts = arrivals(base_rate, burst_rate, seed)
    sim = Simulation(seed=seed)
    log = EventLog(sim, PARTITIONS)
    projection = Projection(sim, log, consumer_rate / PARTITIONS, max_attempts=max_attempts or None,
                            retry_delay=RETRY_DELAY)
    poisoned = {}
    if poison:
        later = np.flatnonzero((parts == POISONED) & (times >= POISON_AT))
        if later.size:
            poisoned[int(later[0])] = True
    for i, (t, p) in enumerate(zip(times.tolist(), parts.tolist())):
        payload = {"amount": 1, "poison": True} if i in poisoned else {"amount": 1}
        sim.at(t, log.append, f"k{i}", payload, p)
    sim.run(until=HORIZON)
    arrived, done = [], []
    for p in range(PARTITIONS):
        a = np.array([e.time for e in log.entries(p)])
        c = np.full(a.size, np.inf)
        c[:len(projection.applied_times[p])] = projection.applied_times[p]
        arrived.append(a)
        done.append(c)
    grid = np.arange(0.0, HORIZON + GRID_STEP / 2, GRID_STEP)
    lag, behind = _sample(grid, arrived, done)
    poison_time, reached = None, None
    if poisoned:
        poison_time = float(times[next(iter(poisoned))])
        a, c = arrived[POISONED], done[POISONED]
        reached = _reached(a, c, int(np.searchsorted(a, poison_time)))
    return Run(base_rate, burst_rate, consumer_rate, poison, max_attempts, seed, grid, lag, behind, arrived, done,
               len(projection.dead_letters), poison_time, reached)


def rebuild_run(events: int, consumer_rate: float, snapshot_offset: int = 0, seed: int = 1) -> float:
    """Measure a rebuild on the engine: a one-partition log of ``events`` events, a projection at ``consumer_rate``
    that has caught up and snapshotted at ``snapshot_offset``; returns how long :meth:`Projection.rebuild` (from the
    snapshot if ``snapshot_offset`` > 0) takes to catch up again."""
    rebuild_seconds(events, consumer_rate, snapshot_offset)  # validates
    sim = Simulation(seed=seed)
    log = EventLog(sim, 1)
    projection = Projection(sim, log, consumer_rate)
    for i in range(snapshot_offset):
        log.append(f"k{i % 100}", {"amount": 1})
    sim.run()
    snapshot = projection.snapshot()
    for i in range(snapshot_offset, events):
        log.append(f"k{i % 100}", {"amount": 1})
    sim.run()
    expected = dict(projection.state)
    started = sim.now()
    projection.rebuild(snapshot if snapshot_offset else None)
    sim.run()
    if projection.state != expected:  # pragma: no cover - a rebuild must land on the same read model
        raise AssertionError("the rebuilt read model differs from the one it replaced")
    return sim.now() - started
