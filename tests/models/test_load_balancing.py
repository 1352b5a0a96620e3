"""The load-balancing model: balls into bins against the published results, and the sick-replica fleet.

Balls into bins (Mitzenmacher, 2001; Gonnet, 1981) at the lesson's scale,
n = 1,000 requests into 1,000 servers, 1,000 runs each:

* one choice: the mean busiest load is within 0.3 of Gonnet's Γ⁻¹(n) − 3/2
  (the o(1) term is about −0.17 at n = 100 to 10,000; the standard error of
  the mean is 0.03), and well above the leading order ln n / ln ln n;
* two choices: the mean busiest load lies between ln ln n / ln 2 and one
  more than that (the O(1) term), and the share of servers holding at least
  i requests matches Mitzenmacher's fluid limit within 4 standard errors.

The fleet runs are checked for the things that hold whatever the seed, and
for the long-run figures the lesson quotes at 10 seeds (tests/lessons/
test_lesson08_load_balancing_claims.py holds the lesson's numbers).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from course.models import load_balancing as m

N = 1_000
TRIALS = 1_000


@pytest.fixture(scope="module")
def one_choice():
    return m.max_loads(N, 1, trials=TRIALS)


@pytest.fixture(scope="module")
def two_choices():
    return m.max_loads(N, 2, trials=TRIALS)


def test_one_choice_matches_gonnet(one_choice):
    se = one_choice.std(ddof=1) / math.sqrt(TRIALS)
    assert se < 0.05
    assert abs(one_choice.mean() - m.one_choice_expected_max(N)) < 0.3
    assert one_choice.mean() > m.leading_one_choice(N) + 1.5  # the leading order undercounts at this n


def test_two_choices_is_ln_ln_n_over_ln_2_plus_a_constant(two_choices):
    low = m.leading_two_choices(N)
    assert low <= two_choices.mean() <= low + 1
    assert np.mean(two_choices == 3) > 0.98  # the busiest server holds 3 in nearly every run


def test_two_choices_follows_the_fluid_limit():
    trials = 200
    shares = m.bin_shares(N, 2, trials=trials, levels=4)
    fluid = m.two_choice_fluid(levels=4)
    se = np.sqrt(fluid * (1 - fluid) / (N * trials))
    assert np.all(np.abs(shares - fluid) <= 4 * se + 1e-12)
    # and the union bound: P(busiest >= 4) <= n·s_4 (about 0.6%)
    assert N * fluid[4] < 0.01


def test_one_choice_shares_are_poisson():
    shares = m.bin_shares(N, 1, trials=100, levels=4)
    poisson_tail = [1 - sum(math.exp(-1) / math.factorial(k) for k in range(i)) for i in range(5)]
    assert np.allclose(shares, poisson_tail, atol=4 * math.sqrt(0.25 / (N * 100)))


def test_gamma_inverse_and_fluid_limit_sanity():
    assert m.gamma_inverse(math.factorial(5)) == pytest.approx(6.0, abs=1e-9)
    s = m.two_choice_fluid(levels=3)
    # one request per server on average: sum over i >= 1 of s_i is the mean load, 1
    assert m.two_choice_fluid(levels=8)[1:].sum() == pytest.approx(1.0, abs=1e-9)
    assert s[1] == pytest.approx(math.tanh(1.0), abs=1e-9)  # ds1/dt = 1 - s1², s1(0) = 0


@pytest.mark.parametrize("call, message", [
    (lambda: m.max_loads(1), "n must be a whole number >= 2"),
    (lambda: m.max_loads(10, choices=3), "choices must be one of 1, 2"),
    (lambda: m.max_loads(10, trials=0), "trials"),
    (lambda: m.fleet_run("least_connections"), "policy must be one of"),
    (lambda: m.fleet_run(sick_factor=0.5), r"sick_factor must be >= 1"),
    (lambda: m.fleet_run(load=1.0), r"load must be a utilisation in \(0, 1\)"),
    (lambda: m.fleet_run(load=0), "load"),
    (lambda: m.fleet_run(ejection="yes"), "ejection must be True or False"),
    (lambda: m.fleet_run(seed=-1), "seed"),
    (lambda: m.gamma_inverse(0.5), "y must be >= 1"),
])
def test_bad_parameters_are_refused_by_name(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# -- the fleet ---------------------------------------------------------------------------------------------


def test_round_robin_sends_exactly_one_in_twenty_and_the_same_seed_repeats():
    r = m.fleet_run("round_robin", seed=3)
    counts = np.bincount(r.host, minlength=m.REPLICAS)
    assert counts.max() - counts.min() <= 1
    again = m.fleet_run("round_robin", seed=3)
    assert np.array_equal(r.latency, again.latency) and np.array_equal(r.host, again.host)


def test_a_healthy_fleet_has_no_outlier_and_no_timeouts_at_moderate_load():
    for policy in m.POLICIES:
        r = m.fleet_run(policy, ejection=True, sick_factor=1, load=0.5, seed=2)
        assert r.ejections == []
        assert r.error_rate < 0.002
        assert abs(r.sick_share - 0.05) < 0.01


def test_latency_is_capped_by_the_timeout_and_errors_are_exactly_the_capped():
    r = m.fleet_run("random", sick_factor=10, seed=4)
    assert r.latency.max() <= m.TIMEOUT
    assert np.array_equal(~r.ok, r.latency == m.TIMEOUT)
    assert r.rate == pytest.approx(0.6 * m.REPLICAS / m.WORK.mean)
    assert abs(r.requests - r.rate * m.DURATION) < 5 * math.sqrt(r.rate * m.DURATION)


def test_ejection_removes_the_sick_replica_after_five_errors():
    r = m.fleet_run("round_robin", ejection=True, seed=1)
    first = r.first_ejection
    assert first is not None and r.ejections[0][1] == m.SICK and r.ejections[0][2] == 30.0
    sick = r.host == m.SICK
    after = sick & (r.arrival > first)
    assert after.sum() == 0  # out for 30 s: longer than the run
    before = np.flatnonzero(sick & (r.arrival <= first))
    assert (~r.ok[before]).sum() >= 5


def test_p99_series_covers_the_run():
    r = m.fleet_run("two_choices", seed=1)
    t, p99 = r.p99_series()
    assert t.size == int(m.DURATION) and np.all(np.isfinite(p99))
    assert np.all(p99 <= m.TIMEOUT + 1e-12)
