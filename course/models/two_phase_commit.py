"""Two-phase commit when the coordinator crashes: who holds locks, and for how long.

One transaction across ``participants`` participants, with the coordinator
crashing at one of :data:`CRASHES` and recovering ``recovery_time`` seconds
later (see :class:`course.sim.data.TwoPhaseCommit`). The headline: a crash
after the participants have voted yes leaves every one of them holding its
locks, unable to commit or abort, for the whole outage (2PC is a blocking
protocol); a crash before prepare blocks nobody.

:func:`simulate` returns each participant's lock-held and blocked seconds and
a :attr:`TwoPCRun.timeline` of bars ``(participant, start, end, state)`` with
state ``"locked"`` (holding locks, protocol running) or ``"blocked"``
(holding locks, prepared, coordinator down), ready for a Gantt-style plot.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from course.sim import Constant, Latency, Simulation, _validate
from course.sim.data import TwoPCResult, TwoPhaseCommit
from course.sim.data.twopc import CRASH_POINTS

CRASHES = CRASH_POINTS
CRASH_NAMES = {None: "no crash", "before_prepare": "crash before prepare", "after_votes": "crash after votes",
               "mid_decision": "crash mid-decision"}
LATENCY = Constant(0.01)
RECOVERY_TIME = 30.0


@dataclass
class TwoPCRun:
    """One transaction with one crash setting."""

    crash: str | None
    decision: str
    lock_held: np.ndarray    # seconds, per participant
    blocked: np.ndarray      # seconds, per participant
    timeline: list           # (participant, start, end, "locked" | "blocked")
    result: TwoPCResult

    @property
    def lock_seconds_total(self) -> float:
        return float(self.lock_held.sum())


def _timeline(r: TwoPCResult) -> list:
    bars = []
    for p, blocked in zip(r.participants, r.blocked_seconds):
        if p.lock_acquired is None or p.lock_released is None:
            continue
        if blocked > 0:
            start = max(p.prepared_at, r.crashed_at)
            end = min(p.decided_at, r.recovered_at)
            bars += [(p.index, p.lock_acquired, start, "locked"), (p.index, start, end, "blocked"),
                     (p.index, end, p.lock_released, "locked")]
        else:
            bars.append((p.index, p.lock_acquired, p.lock_released, "locked"))
    return [bar for bar in bars if bar[2] > bar[1]]


def simulate(crash: str | None = None, participants: int = 3, recovery_time: float = RECOVERY_TIME,
             latency: Latency = LATENCY, vote_no_probability: float = 0.0, seed: int = 1) -> TwoPCRun:
    """Run one transaction with the coordinator crashing at ``crash`` (one of :data:`CRASHES`)."""
    _validate.one_of("crash", crash, CRASHES)
    sim = Simulation(seed=seed)
    tpc = TwoPhaseCommit(sim, participants=participants, latency=latency, vote_no_probability=vote_no_probability,
                         coordinator_crash=crash, recovery_time=recovery_time)
    r = tpc.run("txn-1")
    sim.run()
    return TwoPCRun(crash, r.decision, np.array(r.lock_held_seconds), np.array(r.blocked_seconds), _timeline(r), r)


def sweep(**kwargs) -> dict:
    """:func:`simulate` at every crash point with the same settings: crash -> TwoPCRun."""
    return {crash: simulate(crash, **kwargs) for crash in CRASHES}
