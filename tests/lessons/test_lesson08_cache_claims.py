"""Every number lesson 08's section 2 (caches and the stampede) states, checked against the model in the long run.

Settings are the dashboard's defaults: one hot key, λ = 1,000 requests/s, δ = 200 ms, TTL 10 s. Figures are the
long-run values over :data:`SEEDS` (calls per expiry pooled over every expiry) or theory, within the tolerance
stated next to each check. The ``says`` tests check the lesson states them (they need the built notebook).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from course.models import cache_stampede as model
from tests.lessons.claims_helpers import says

NOTEBOOK = Path(__file__).resolve().parents[2] / "course" / "08_follow_ups.ipynb"
SEEDS = range(1, 7)


@pytest.fixture(scope="module")
def runs():
    return {fix: model.long_run(fix, seeds=SEEDS) for fix in model.FIXES}


def test_plain_cache_about_200_calls_per_expiry_and_400_at_double_the_rate(runs):
    # "about 200 database calls, on the dashed theory line 1 + λδ"; "1 + λδ = 1 + 1,000 × 0.2 = 201 calls"
    assert model.theory_plain_calls(1000, 0.2) == pytest.approx(201)
    plain = runs["none"]
    assert abs(plain["calls_per_expiry"] - 201) < 4 * plain["calls_per_expiry_se"] + 1  # se ≈ 1.5
    # "Set the rate to 2,000: about 400 calls per expiry."
    double = model.long_run("none", rate=2000, ttl=5.0, seeds=range(1, 4))
    assert abs(double["calls_per_expiry"] - 401) < 10


def test_plain_cache_hit_ratio_98_and_p99_201_ms(runs):
    # "The cache hits 98% of the time"; "the p99 is 201 ms even though 98% of requests were hits"
    assert abs(runs["none"]["hit_ratio"] - 0.98) < 0.002
    assert abs(model.theory_hit_ratio("none", 1000, 0.2, 10) - 0.98) < 0.002
    assert runs["none"]["p99"] == pytest.approx(0.201, abs=1e-6)  # every miss waits exactly δ, plus 1 ms


def test_coalescing_one_call_same_hit_ratio_p99_about_100_ms(runs):
    # "exactly 1 call per expiry"; "the hit ratio is still 98%"; "the p99 only halves, to about 100 ms";
    # "the 200 users behind the one query still wait for it"
    c = runs["coalescing"]
    assert c["calls_per_expiry"] == 1 and c["cold_calls"] == 1
    assert abs(c["hit_ratio"] - 0.98) < 0.002
    assert abs(c["p99"] - 0.100) < 0.005 and abs(model.theory_coalescing_p99(10, 0.2) - 0.100) < 0.002
    assert abs(c["waited_per_expiry"] - 200) < 5


def test_xfetch_about_2_7_calls_p99_1_ms_hit_ratio_99_9(runs):
    # "About 2.7 calls per expiry (e, whatever the rate), a p99 of 1 ms, a hit ratio of about 99.9%"
    assert model.theory_xfetch_calls() == pytest.approx(math.e) and round(math.e, 1) == 2.7
    e = runs["early"]
    assert abs(e["calls_per_expiry"] - math.e) < 4 * e["calls_per_expiry_se"]  # se ≈ 0.17 over ~115 expiries
    assert e["p99"] == pytest.approx(0.001)
    assert abs(e["hit_ratio"] - 0.999) < 0.0015
    # "But t = 0 still costs about 200 calls"; "combine the two for 1 call and 1 ms"
    assert abs(e["cold_calls"] - 201) < 15
    both = runs["early_coalescing"]
    assert both["calls_per_expiry"] == 1 and both["cold_calls"] == 1 and both["p99"] == pytest.approx(0.001)


def test_xfetch_calls_per_expiry_do_not_grow_with_the_rate():
    # "(e, whatever the rate)": many short cycles at 500 and 2,000 requests/s, se ≈ 0.1.
    for rate in (500.0, 2000.0):
        r = model.long_run("early", rate=rate, ttl=2.0, seeds=range(1, 4), duration=120.0)
        assert abs(r["calls_per_expiry"] - math.e) < 0.4, (rate, r)


PHRASES = [
    "1 + λδ = 1 + 1,000 × 0.2 = 201 calls",
    "The cache hits 98% of the time",
    "about 200 database calls",
    "the p99 is 201 ms",
    "about 400 calls per expiry",
    "exactly 1 call per expiry",
    "the hit ratio is still 98%",
    "to about 100 ms",
    "About 2.7 calls per expiry (e, whatever the rate)",
    "a p99 of 1 ms",
    "a hit ratio of about 99.9%",
    "t = 0 still costs about 200 calls",
    "1 call and 1 ms",
]


@pytest.mark.parametrize("phrase", PHRASES)
def test_the_lesson_says_it(phrase):
    says(NOTEBOOK, phrase)
