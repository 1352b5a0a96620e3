"""Reproduction: two-phase commit blocks when the coordinator crashes after the votes.

Source: two-phase commit as J. Gray describes it in "Notes on Data Base
Operating Systems" (1978), and its blocking property as P. A. Bernstein,
V. Hadzilacos and N. Goodman state it in "Concurrency Control and Recovery in
Database Systems" (1987), chapter 7: a participant that has voted yes is
uncertain and may neither commit nor abort on its own, so if the coordinator
fails it keeps its locks until the coordinator recovers.

The scenario is :mod:`course.models.two_phase_commit`. These are exact
invariants of every run, checked over many seeds and participant counts with
random message delays: with a crash after the votes, every participant holds
its locks for at least ``recovery_time`` and is blocked for exactly
``recovery_time``; with no crash nobody is blocked.
"""

from __future__ import annotations

import pytest

from course.models import two_phase_commit as model
from course.sim import Exponential

SETTINGS = [(seed, participants) for seed in range(1, 21) for participants in (1, 2, 3, 5, 8)]


@pytest.mark.parametrize("recovery_time", (5.0, 30.0))
def test_a_crash_after_the_votes_keeps_every_participant_locked_until_recovery(recovery_time):
    for seed, participants in SETTINGS:
        run = model.simulate("after_votes", participants=participants, recovery_time=recovery_time,
                             latency=Exponential(0.02), seed=seed)
        assert run.decision == "abort"  # presumed abort: nothing had been decided
        assert len(run.lock_held) == participants
        assert all(held >= recovery_time for held in run.lock_held), (seed, run.lock_held)
        assert all(blocked == recovery_time for blocked in run.blocked), (seed, run.blocked)


def test_without_a_crash_nobody_is_blocked():
    for seed, participants in SETTINGS:
        run = model.simulate(None, participants=participants, latency=Exponential(0.02), seed=seed)
        assert run.decision == "commit"
        assert all(blocked == 0.0 for blocked in run.blocked)
        assert all(held < 1.0 for held in run.lock_held)  # a few message delays, not an outage
        assert {bar[3] for bar in run.timeline} == {"locked"}


def test_a_crash_before_prepare_locks_nothing_and_mid_decision_blocks_only_the_untold():
    for seed, participants in SETTINGS:
        before = model.simulate("before_prepare", participants=participants, seed=seed)
        assert list(before.lock_held) == [0.0] * participants and before.timeline == []
        mid = model.simulate("mid_decision", participants=participants, recovery_time=30.0,
                             latency=Exponential(0.02), seed=seed)
        told = participants // 2
        assert mid.decision == "commit"
        assert list(mid.blocked) == [0.0] * told + [30.0] * (participants - told)


def test_the_timeline_splits_each_lock_into_locked_and_blocked_bars():
    run = model.simulate("after_votes", participants=2, recovery_time=30.0)
    for p in range(2):
        bars = [bar for bar in run.timeline if bar[0] == p]
        assert [bar[3] for bar in bars] == ["locked", "blocked", "locked"]
        assert bars[0][1] == run.result.participants[p].lock_acquired
        assert bars[-1][2] == run.result.participants[p].lock_released
        assert bars[1][2] - bars[1][1] == pytest.approx(30.0)
    with pytest.raises(ValueError, match=r"crash must be one of None, 'before_prepare'"):
        model.simulate("after_commit")
