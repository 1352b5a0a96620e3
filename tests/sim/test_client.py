"""Policies running inside the simulator through Client pipelines."""

import numpy as np
import pytest

from course.sim import (AdaptiveThrottle, Backoff, Bimodal, Bulkhead, CircuitBreaker, Client, Constant, Dependency,
                        Direct, Down, Errors, Exponential, Fallback, FaultSchedule, Hedge, OpenLoop, Outcome, Retry,
                        RetryBudget, Service, Simulation, Slow, Timeout)
from course.sim.policies import CLOSED, HALF_OPEN, OPEN

from tests.sim.helpers import one_call


def test_timeout_answers_at_exactly_the_timeout_when_the_service_hangs():
    sim = Simulation()
    b = Service(sim, "B", 1, Constant(0.01), faults=FaultSchedule(Down(0, 100, mode="hang")))
    seen = one_call(sim, Client(sim, b, [Timeout(0.25)]), at=1.0)
    sim.run()
    assert seen == {"outcome": Outcome.TIMEOUT, "end": pytest.approx(1.25)}


def test_timeout_is_shortened_by_a_propagated_deadline():
    sim = Simulation()
    b = Service(sim, "B", 1, Constant(5.0))
    seen = one_call(sim, Client(sim, b, [Timeout(2.0)]), at=0.0, deadline=0.5)
    sim.run()
    assert seen["outcome"] is Outcome.TIMEOUT and seen["end"] == pytest.approx(0.5)


def test_fast_answer_beats_the_timeout_and_cancels_it():
    sim = Simulation()
    b = Service(sim, "B", 1, Constant(0.1))
    seen = one_call(sim, Client(sim, b, [Timeout(1.0)]))
    sim.run()
    assert seen == {"outcome": Outcome.OK, "end": pytest.approx(0.1)}


def chain_of_layers(sim, layers, attempts):
    """load -> L1 -> L2 -> ... -> bottom; each layer calls the next with `attempts` attempts, no backoff."""
    bottom = Service(sim, "bottom", 1000, Constant(0.001), faults=FaultSchedule(Errors(1.0)))
    below = bottom
    for level in range(layers, 0, -1):
        client = Client(sim, below, [Retry(attempts, Backoff("none"))], name=f"L{level}-down")
        below = Service(sim, f"L{level}", 1000, Constant(0.001), calls=[Dependency(client)])
    return below, bottom


def test_retries_multiply_across_layers_four_cubed_is_64():
    # Google SRE book: three layers that each make 4 attempts put 64 on the bottom.
    sim = Simulation()
    top, bottom = chain_of_layers(sim, layers=3, attempts=4)
    load = OpenLoop(sim, Direct(top), rate=5, until=20)
    sim.run()
    requests = len(load.records()["root"])
    roots = bottom.records()["root"]
    assert requests > 50
    assert np.bincount(roots).tolist() == [64] * requests


def test_retry_respects_attempt_limit_and_non_retryable_outcomes():
    sim = Simulation()
    failing = Service(sim, "B", 10, Constant(0.01), faults=FaultSchedule(Errors(1.0)))
    client = Client(sim, failing, [Retry(3, Backoff("constant", 0.1))])
    seen = one_call(sim, client)
    sim.run()
    assert seen["outcome"] is Outcome.ERROR
    sent = client.records()["sent"]
    assert sent.tolist() == pytest.approx([0.0, 0.11, 0.22])

    sim = Simulation()
    failing = Service(sim, "B", 10, Constant(0.01), faults=FaultSchedule(Errors(1.0)))
    client = Client(sim, failing, [Retry(5, Backoff("constant", 0.1), retry_on={Outcome.TIMEOUT})])
    one_call(sim, client)
    sim.run()
    assert len(client.records()["sent"]) == 1


def test_retry_deadline_bounds_the_whole_call_even_mid_attempt():
    sim = Simulation()
    slow = Service(sim, "B", 10, Constant(0.4), faults=FaultSchedule(Errors(1.0)))
    client = Client(sim, slow, [Retry(10, Backoff("constant", 0.05), deadline=1.0)])
    seen = one_call(sim, client, at=2.0)
    sim.run()
    assert seen["outcome"] is Outcome.TIMEOUT
    assert seen["end"] == pytest.approx(3.0)
    assert len(client.records()["sent"]) == 3  # at 2.0, 2.45, 2.9; the third is cut off by the deadline


def test_retry_budget_caps_retries_near_the_ratio():
    sim = Simulation(seed=3)
    down = Service(sim, "B", 100, Constant(0.01), faults=FaultSchedule(Errors(1.0)))
    budget = RetryBudget(sim, ratio=0.1, window=10.0)
    client = Client(sim, down, [Retry(3, Backoff("none"), budget=budget)])
    load = OpenLoop(sim, client, rate=100, until=60)
    sim.run()
    requests = len(load.records()["root"])
    attempts = len(client.records()["root"])
    assert 1.0 < attempts / requests <= 1.12


def test_breaker_opens_rejects_then_recovers_after_the_outage():
    sim = Simulation(seed=1)
    b = Service(sim, "B", 50, Constant(0.01), faults=FaultSchedule(Down(10, 40)))
    breaker = CircuitBreaker(sim, failure_rate_threshold=0.5, window_size=20, minimum_calls=10, open_wait=5.0,
                             half_open_calls=3)
    client = Client(sim, b, [breaker])
    load = OpenLoop(sim, client, rate=50, until=80)
    sim.run()
    states = [state for _, state in breaker.transitions]
    assert states[:3] == [CLOSED, OPEN, HALF_OPEN]
    assert states[-1] == CLOSED
    opened = breaker.transitions[1][0]
    assert 10 <= opened < 11
    closed_at = breaker.transitions[-1][0]
    assert 40 <= closed_at <= 45 + 1
    reached_b = b.records()["arrival"]
    during = np.sum((reached_b >= 10) & (reached_b < 40))
    assert during < 0.1 * 50 * 30  # the breaker cut calls to the dead service by over 90%
    outcomes = load.records()["outcome"]
    assert np.sum(outcomes == Outcome.BREAKER_OPEN) > 1000


def test_bulkhead_rejects_beyond_its_limit_and_releases_on_answer():
    sim = Simulation()
    b = Service(sim, "B", 10, Constant(1.0))
    bulkhead = Bulkhead(2)
    client = Client(sim, b, [bulkhead])
    seen = [one_call(sim, client, at=0.0, root=i) for i in range(3)]
    later = one_call(sim, client, at=1.5, root=3)
    sim.run()
    assert [s["outcome"] for s in seen] == [Outcome.OK, Outcome.OK, Outcome.BULKHEAD_FULL]
    assert later["outcome"] is Outcome.OK
    assert bulkhead.in_use == 0


def test_fallback_serves_while_down_but_not_for_fatal():
    sim = Simulation()
    b = Service(sim, "B", 10, Constant(0.01), faults=FaultSchedule(Down(0, 10)))
    seen = one_call(sim, Client(sim, b, [Fallback("cached")]))
    sim.run()
    assert seen["outcome"] is Outcome.FALLBACK and seen["outcome"].is_success
    assert not Fallback().handles_outcome(Outcome.FATAL)


def test_hedging_cuts_the_tail_for_a_few_percent_more_requests():
    def run(policies):
        sim = Simulation(seed=7)
        leaf = Service(sim, "leaf", 500, Bimodal(Constant(0.01), Constant(1.0), 0.02))
        client = Client(sim, leaf, policies)
        load = OpenLoop(sim, client, rate=200, until=50)
        sim.run()
        r = load.records()
        return np.quantile(r["end"] - r["start"], 0.99), len(client.records()["root"]) / len(r["root"])

    p99_plain, load_plain = run([])
    p99_hedged, load_hedged = run([Hedge(0.05)])
    assert load_plain == 1.0
    assert p99_hedged < p99_plain / 5
    assert load_hedged < 1.05


def test_adaptive_throttling_rejects_locally_under_overload():
    sim = Simulation(seed=2)
    backend = Service(sim, "B", 1, Constant(0.01), queue_limit=0)  # accepts ~100/s, rejects the rest
    throttle = AdaptiveThrottle(sim, k=2.0, window=10.0)
    client = Client(sim, backend, [throttle])
    load = OpenLoop(sim, client, rate=300, until=60)
    sim.run()
    outcomes = load.records()["outcome"]
    late = load.records()["start"] > 20
    assert np.sum(outcomes[late] == Outcome.THROTTLED) > 0
    rejected = np.sum(outcomes[late] == Outcome.REJECTED)
    accepted = np.sum(outcomes[late] == Outcome.OK)
    assert rejected < 1.5 * accepted


def test_unknown_policy_is_rejected_with_the_valid_list():
    sim = Simulation()
    b = Service(sim, "B", 1, Constant(0.01))
    with pytest.raises(ValueError, match="Timeout, Retry"):
        Client(sim, b, ["retry please"])


def test_done_is_called_once_per_call_with_every_policy_stacked():
    sim = Simulation(seed=9)
    b = Service(sim, "B", 4, Exponential(0.05), faults=FaultSchedule(Errors(0.3), Down(20, 25, mode="hang")))
    client = Client(sim, b, [Fallback(0), Retry(3, Backoff("full_jitter", 0.01, 0.2)), CircuitBreaker(sim, window_size=20, minimum_calls=10, open_wait=2.0),
                             Bulkhead(8), Hedge(0.2), Timeout(0.3)])
    load = OpenLoop(sim, client, rate=40, until=40)
    sim.run(until=60)
    r = load.records()
    assert np.all(np.isfinite(r["end"]))  # one_call's assertion style, at scale: every request answered
    assert np.all((r["outcome"] == Outcome.OK) | (r["outcome"] == Outcome.FALLBACK))


# -- Attempt records hold what the client saw; the server's own records hold what the server did ----------------

def _outcomes(records) -> list:
    return [int(o) for o in records["outcome"]]


def test_a_timed_out_attempt_is_a_timeout_for_the_client_and_the_servers_late_answer_stays_with_the_server():
    sim = Simulation()
    b = Service(sim, "B", 1, Constant(0.4))
    client = Client(sim, b, [Timeout(0.25)])
    seen = one_call(sim, client, at=1.0)
    sim.run()
    assert seen == {"outcome": Outcome.TIMEOUT, "end": pytest.approx(1.25)}
    attempts, served = client.records(), b.records()
    assert _outcomes(attempts) == [Outcome.TIMEOUT]
    assert attempts["sent"].tolist() == [1.0] and attempts["answered"].tolist() == pytest.approx([1.25])
    # B did not know the caller had left: it finished the work and answered OK at 1.4, to nobody.
    assert _outcomes(served) == [Outcome.OK] and served["end"].tolist() == pytest.approx([1.4])


def test_a_call_shed_after_its_caller_timed_out_is_rejected_only_in_the_servers_records():
    # One worker, 1 s of work each. Root 0 is served from 0 to 1; root 1 waits in the queue, and at 1.0 B finds
    # its deadline (0.4) passed and sheds it (REJECTED). The client had given up on both, at 0.3 and 0.4.
    sim = Simulation()
    b = Service(sim, "B", 1, Constant(1.0), drop_expired=True)
    client = Client(sim, b, [Timeout(0.3)])
    first, second = one_call(sim, client, at=0.0, root=0), one_call(sim, client, at=0.1, root=1)
    sim.run()
    assert first["outcome"] is second["outcome"] is Outcome.TIMEOUT
    attempts, served = client.records(), b.records()
    assert _outcomes(attempts) == [Outcome.TIMEOUT, Outcome.TIMEOUT]
    assert attempts["answered"].tolist() == pytest.approx([0.3, 0.4])
    assert _outcomes(served) == [Outcome.OK, Outcome.REJECTED]
    assert served["end"].tolist() == pytest.approx([1.0, 1.0])


def test_an_attempt_to_a_hung_service_is_a_timeout_for_the_client_and_unanswered_for_the_server():
    sim = Simulation()
    b = Service(sim, "B", 1, Constant(0.01), faults=FaultSchedule(Down(0, 100, mode="hang")))
    client = Client(sim, b, [Retry(2, Backoff("constant", 0.1)), Timeout(0.25)])
    one_call(sim, client, at=1.0)
    sim.run()
    attempts, served = client.records(), b.records()
    assert _outcomes(attempts) == [Outcome.TIMEOUT, Outcome.TIMEOUT]
    assert attempts["sent"].tolist() == pytest.approx([1.0, 1.35])
    assert attempts["answered"].tolist() == pytest.approx([1.25, 1.6])
    assert _outcomes(served) == [-1, -1] and np.isnan(served["end"]).all()


def test_an_attempt_cut_off_by_the_retry_deadline_is_a_timeout_for_the_client():
    # As in test_retry_deadline_bounds_the_whole_call_even_mid_attempt: attempts at 2.0, 2.45 and 2.9, each
    # answered ERROR by B 0.4 s later; the deadline (3.0) ends the call while the third is still at B.
    sim = Simulation()
    slow = Service(sim, "B", 10, Constant(0.4), faults=FaultSchedule(Errors(1.0)))
    client = Client(sim, slow, [Retry(10, Backoff("constant", 0.05), deadline=1.0)])
    one_call(sim, client, at=2.0)
    sim.run()
    attempts, served = client.records(), slow.records()
    assert _outcomes(attempts) == [Outcome.ERROR, Outcome.ERROR, Outcome.TIMEOUT]
    assert attempts["answered"].tolist() == pytest.approx([2.4, 2.85, 3.0])
    assert _outcomes(served) == [Outcome.ERROR] * 3
    assert served["end"].tolist() == pytest.approx([2.4, 2.85, 3.3])


def test_the_hedge_that_loses_is_cancelled_by_the_client_while_the_server_still_finishes_it():
    # B is slow until 0.05: the first copy (sent at 0) takes 100 x 10 ms = 1 s; the hedge, sent at 0.1, takes
    # 10 ms and wins at 0.11. The client stops waiting for the first copy then; B answers it OK at 1.0.
    sim = Simulation()
    b = Service(sim, "B", 10, Constant(0.01), faults=FaultSchedule(Slow(0, 0.05, factor=100)))
    client = Client(sim, b, [Hedge(0.1)])
    seen = one_call(sim, client)
    sim.run()
    assert seen == {"outcome": Outcome.OK, "end": pytest.approx(0.11)}
    attempts, served = client.records(), b.records()
    assert attempts["sent"].tolist() == pytest.approx([0.0, 0.1])
    assert _outcomes(attempts) == [Outcome.CANCELLED, Outcome.OK]
    assert attempts["answered"].tolist() == pytest.approx([0.11, 0.11])
    assert _outcomes(served) == [Outcome.OK, Outcome.OK] and served["end"].tolist() == pytest.approx([1.0, 0.11])


def test_an_outer_timeout_gives_up_on_every_attempt_beneath_it():
    # Timeout outside Hedge: copies at 0, 0.1 and 0.2 to a hung service, all abandoned when the timeout fires at
    # 0.25; the fourth copy is sent (at 0.3) to nobody waiting, so it is given up at once.
    sim = Simulation()
    b = Service(sim, "B", 10, Constant(0.01), faults=FaultSchedule(Down(0, 100, mode="hang")))
    client = Client(sim, b, [Timeout(0.25), Hedge(0.1, max_hedges=3)])
    seen = one_call(sim, client)
    sim.run()
    assert seen == {"outcome": Outcome.TIMEOUT, "end": pytest.approx(0.25)}
    attempts = client.records()
    assert attempts["sent"].tolist() == pytest.approx([0.0, 0.1, 0.2, 0.3])
    assert _outcomes(attempts) == [Outcome.TIMEOUT] * 4
    assert attempts["answered"].tolist() == pytest.approx([0.25, 0.25, 0.25, 0.3])
    assert client.in_flight.time_average(1.0) == pytest.approx((0.25 + 0.15 + 0.05) / 1.0)


def test_client_records_agree_with_what_each_stage_was_told_under_every_policy_stacked():
    # The run of test_done_is_called_once_per_call_with_every_policy_stacked: B fails 30% of calls and hangs
    # from 20 to 25 s. Timeout is innermost, so no attempt lasted longer than 0.3 s for the client, though B
    # answered some of them later or never; a hedge that won cancels its twin. Where the client had B's answer,
    # its record is B's answer, at B's time.
    sim = Simulation(seed=9)
    b = Service(sim, "B", 4, Exponential(0.05), faults=FaultSchedule(Errors(0.3), Down(20, 25, mode="hang")))
    client = Client(sim, b, [Fallback(0), Retry(3, Backoff("full_jitter", 0.01, 0.2)),
                             CircuitBreaker(sim, window_size=20, minimum_calls=10, open_wait=2.0), Bulkhead(8),
                             Hedge(0.2), Timeout(0.3)])
    OpenLoop(sim, client, rate=40, until=40)
    sim.run(until=60)
    attempts, served = client.records(), b.records()
    assert len(attempts["sent"]) == len(served["arrival"])  # no network: the rows pair up in order
    assert np.all(attempts["answered"] - attempts["sent"] <= 0.3 + 1e-9)
    client_view = attempts["outcome"]
    assert set(np.unique(client_view)) <= {Outcome.OK, Outcome.ERROR, Outcome.TIMEOUT, Outcome.CANCELLED}
    timed_out, cancelled = client_view == Outcome.TIMEOUT, client_view == Outcome.CANCELLED
    late = (served["end"] - served["arrival"] > 0.3) | np.isnan(served["end"])
    assert timed_out.sum() > 20 and cancelled.sum() > 5 and (late & (served["outcome"] == Outcome.OK)).any()
    assert np.all(late[timed_out]) and np.all((timed_out | cancelled)[late])
    answered = (client_view == Outcome.OK) | (client_view == Outcome.ERROR)
    assert np.array_equal(client_view[answered], served["outcome"][answered])
    assert np.array_equal(attempts["answered"][answered], served["end"][answered])
