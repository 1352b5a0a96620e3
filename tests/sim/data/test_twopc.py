"""Two-phase commit: who holds locks, for how long, and who is blocked by a coordinator crash."""

import pytest

from course.sim import Constant, Exponential, Simulation
from course.sim.data import TwoPhaseCommit


def _run(crash=None, participants=3, seed=1, **kwargs):
    sim = Simulation(seed=seed)
    tpc = TwoPhaseCommit(sim, participants=participants, coordinator_crash=crash, **kwargs)
    result = tpc.run("t1")
    sim.run()
    return result


def test_no_crash_commits_quickly_and_nobody_is_blocked():
    r = _run(latency=Constant(0.01))
    assert r.decision == "commit" and r.done
    assert r.crashed_at is None
    assert r.blocked_seconds == [0.0, 0.0, 0.0]
    assert r.lock_held_seconds == pytest.approx([0.02] * 3)  # prepare arrives at 0.01, decision at 0.03
    assert [p.decision for p in r.participants] == ["commit"] * 3
    assert [p.vote for p in r.participants] == ["yes"] * 3


def test_crash_before_prepare_leaves_no_locks():
    r = _run("before_prepare", recovery_time=30.0)
    assert r.decision == "abort"
    assert r.lock_held_seconds == [0.0, 0.0, 0.0]
    assert r.blocked_seconds == [0.0, 0.0, 0.0]
    assert all(p.lock_acquired is None and p.decision == "abort" for p in r.participants)
    assert r.recovered_at == 30.0


def test_crash_after_votes_blocks_every_prepared_participant_until_recovery():
    r = _run("after_votes", recovery_time=30.0, latency=Constant(0.01))
    assert r.crashed_at == pytest.approx(0.02)
    assert r.decision == "abort"  # presumed abort: nothing was decided before the crash
    assert r.blocked_seconds == [30.0, 30.0, 30.0]
    assert r.lock_held_seconds == pytest.approx([30.02] * 3)
    assert all(held >= 30.0 for held in r.lock_held_seconds)
    assert [p.decision for p in r.participants] == ["abort"] * 3


def test_crash_mid_decision_blocks_only_those_not_yet_told():
    r = _run("mid_decision", participants=4, recovery_time=10.0, latency=Constant(0.01))
    assert r.decision == "commit"  # the decision was made before the crash, so it survives
    assert r.blocked_seconds == [0.0, 0.0, 10.0, 10.0]
    assert r.lock_held_seconds == pytest.approx([0.02, 0.02, 10.02, 10.02])
    assert [p.decision for p in r.participants] == ["commit"] * 4


def test_a_no_vote_aborts_and_that_participant_frees_its_locks_at_once():
    sim = Simulation(seed=5)
    tpc = TwoPhaseCommit(sim, participants=5, vote_no_probability=0.3, coordinator_crash="after_votes",
                         recovery_time=20.0)
    results = [tpc.run(i) for i in range(40)]
    sim.run()
    votes = [p.vote for r in results for p in r.participants]
    assert 0 < votes.count("no") < len(votes)
    for r in results:
        all_yes = all(p.vote == "yes" for p in r.participants)
        assert r.decision == "abort"
        for p, blocked in zip(r.participants, r.blocked_seconds):
            if p.vote == "no":
                assert p.lock_held_seconds == 0.0 and blocked == 0.0
            else:
                assert blocked == 20.0 and p.lock_held_seconds >= 20.0
        assert all_yes or any(p.vote == "no" for p in r.participants)
    # Without a crash, a no vote means abort and a full yes means commit.
    sim = Simulation(seed=5)
    tpc = TwoPhaseCommit(sim, participants=5, vote_no_probability=0.3)
    results = [tpc.run(i) for i in range(40)]
    sim.run()
    for r in results:
        expected = "commit" if all(p.vote == "yes" for p in r.participants) else "abort"
        assert r.decision == expected
        assert r.blocked_seconds == [0.0] * 5


def test_events_tell_the_story_in_time_order():
    r = _run("after_votes", participants=2, recovery_time=5.0, latency=Constant(0.01))
    assert [(round(t, 6), who, what) for t, who, what in r.events] == [
        (0.0, "coordinator", "begin"),
        (0.01, "p0", "lock"), (0.01, "p0", "vote yes (prepared)"),
        (0.01, "p1", "lock"), (0.01, "p1", "vote yes (prepared)"),
        (0.02, "coordinator", "vote yes from p0"), (0.02, "coordinator", "vote yes from p1"),
        (0.02, "coordinator", "crash"),
        (5.02, "coordinator", "recover"), (5.02, "coordinator", "decide abort (presumed)"),
        (5.03, "p0", "abort, unlock"), (5.03, "p1", "abort, unlock"),
    ]


def test_same_seed_same_run():
    def times(seed):
        r = _run("mid_decision", seed=seed, participants=5, latency=Exponential(0.02), vote_no_probability=0.1)
        return [(p.lock_acquired, p.lock_released, p.vote) for p in r.participants]

    assert times(3) == times(3)
    assert times(3) != times(4)


@pytest.mark.parametrize("kwargs, message", [
    (dict(coordinator_crash="after_commit"),
     r"coordinator_crash must be one of None, 'before_prepare', 'after_votes', 'mid_decision'; got 'after_commit'"),
    (dict(participants=0), r"participants must be a whole number >= 1, got 0"),
    (dict(vote_no_probability=1.2), r"vote_no_probability must be a probability in \[0, 1\], got 1.2"),
    (dict(recovery_time=-1), r"recovery_time must be >= 0, got -1"),
    (dict(latency=0.01), r"latency must be a course.sim.latency.Latency"),
])
def test_impossible_settings_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TwoPhaseCommit(Simulation(seed=0), **kwargs)
