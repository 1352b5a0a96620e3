"""Reproduction: lost updates under concurrent read-modify-write, and compare-and-set as the cure.

Source: the "lost update" anomaly (P4) of H. Berenson, P. Bernstein, J. Gray,
J. Melton, E. O'Neil and P. O'Neil, "A Critique of ANSI SQL Isolation Levels",
SIGMOD 1995: two transactions read the same value, both write an update based
on it, and one update is lost. A conditional write on the version that was
read (compare-and-set) turns the second write into a failure that is retried.

The scenario is :mod:`course.models.lost_updates`: 10 clients, 20 increments
each (200 acknowledged), think time Exponential(10 ms) between read and
write. These are exact properties, not rates, so there is no tolerance: with
compare-and-set no increment is lost at any seed (checked over 100 seeds);
without it, every seed checked loses some.
"""

from __future__ import annotations

import pytest

from course.models import lost_updates as model


@pytest.mark.parametrize("seed", range(1, 6))
def test_without_a_version_check_acknowledged_increments_are_lost(seed):
    r = model.simulate(clients=10, increments=20, cas=False, seed=seed)
    assert r.acknowledged == 200
    assert r.lost > 0
    assert r.final == r.acknowledged - r.lost
    assert r.cas_retries == 0
    assert not r.check
    total = r.check.violations[-1]
    assert total.op_index is None
    assert total.message.endswith(f"but the final value is {r.final} ({r.lost} lost)")
    assert any(v.op_index is not None for v in r.check.violations)  # the overwriting writes are named


def test_with_compare_and_set_nothing_is_lost_over_many_seeds():
    retries = []
    for seed in range(1, 101):
        r = model.simulate(clients=10, increments=20, cas=True, seed=seed)
        assert (r.acknowledged, r.final, r.lost) == (200, 200, 0), seed
        assert r.writes == 200
        assert r.check, (seed, str(r.check))
        retries.append(r.cas_retries)
    assert min(retries) > 0  # the safety is paid for in retries


def test_one_client_alone_loses_nothing_even_without_cas():
    r = model.simulate(clients=1, increments=50, cas=False, seed=1)
    assert (r.acknowledged, r.final, r.lost) == (50, 50, 0)
    assert r.check


def test_the_sweep_loses_more_as_clients_grow_and_cas_never_loses():
    s = model.sweep(clients=(1, 5, 20), increments=20, seed=1)
    assert s["lost"][0] == 0 and s["lost"][0] < s["lost"][1] < s["lost"][2]
    assert list(s["cas_lost"]) == [0, 0, 0]
    assert s["cas_retries"][0] == 0 and s["cas_retries"][1] < s["cas_retries"][2]


def test_same_seed_same_run():
    a, b = model.simulate(seed=9), model.simulate(seed=9)
    assert (a.lost, a.duration) == (b.lost, b.duration)
    assert [op.time for op in a.history] == [op.time for op in b.history]


def test_impossible_settings_are_rejected():
    with pytest.raises(ValueError, match=r"clients must be a whole number >= 1, got 0"):
        model.simulate(clients=0)
    with pytest.raises(ValueError, match=r"think must be a course.sim.latency.Latency"):
        model.simulate(think=0.01)
