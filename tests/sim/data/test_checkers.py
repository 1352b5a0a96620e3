"""Checkers: each finds the violation it is for, names the operation, and passes a clean history."""

import pytest

from course.sim import Constant, Simulation
from course.sim.data import (History, MalformedHistory, Store, check_lost_updates, check_monotonic_reads,
                             check_money_conserved, check_read_your_writes, check_sagas, check_stock_never_negative)
from course.sim.data.history import Op
from course.sim.data.saga import SagaResult


def _h(*records):
    return History.from_records(records)


def test_read_your_writes_flags_a_stale_read_by_the_writer_only():
    h = _h((0, "invoke", "a", "write", "x", (1, None)), (0, "ok", "a", "write", "x", (1, 3)),
           (1, "invoke", "a", "read", "x"), (1, "ok", "a", "read", "x", (0, 2)),
           (2, "invoke", "b", "read", "x"), (2, "ok", "b", "read", "x", (0, 2)),
           (3, "invoke", "a", "read", "x"), (3, "ok", "a", "read", "x", None),
           (4, "invoke", "a", "read", "x"), (4, "ok", "a", "read", "x", (1, 3)))
    result = check_read_your_writes(h)
    assert not result and len(result) == 2
    assert [v.op_index for v in result.violations] == [3, 7]
    assert result.violations[0].message == "process 'a' read 'x' at version 2 after writing version 3 (op 1)"
    assert "version 0" in result.violations[1].message
    assert str(result).startswith("2 violation(s):")


def test_monotonic_reads_flags_going_back_in_time():
    h = _h((0, "invoke", "a", "read", "x"), (0, "ok", "a", "read", "x", (5, 2)),
           (1, "invoke", "a", "read", "x"), (1, "ok", "a", "read", "x", (4, 1)),
           (2, "invoke", "a", "read", "y"), (2, "ok", "a", "read", "y", None),
           (3, "invoke", "b", "read", "x"), (3, "ok", "b", "read", "x", (4, 1)),
           (4, "invoke", "a", "read", "x"), (4, "fail", "a", "read", "x"))
    result = check_monotonic_reads(h)
    assert [(v.op_index, v.message) for v in result.violations] == [
        (3, "process 'a' read 'x' at version 1 after reading version 2 (op 1)")]
    assert check_read_your_writes(h)  # no writes at all: nothing to violate


def test_session_checkers_pass_reads_from_the_primary():
    sim = Simulation(seed=1)
    h = History(sim)
    db = Store(sim, replicas=2, history=h)
    for i in range(30):
        sim.at(i * 0.01, db.write, "x", i, f"p{i % 3}")
        sim.at(i * 0.01 + 0.005, db.read_routed, "x", f"p{i % 3}", "primary")
    sim.run()
    assert check_read_your_writes(h).valid and check_monotonic_reads(h).valid


def _increments(*steps):
    """steps: (process, written value, version) -> a history of acknowledged increments, in order."""
    records, t = [], 0.0
    for process, value, version in steps:
        records += [(t, "invoke", process, "increment", "c", 1), (t + 0.5, "ok", process, "increment", "c",
                                                                 (value, version))]
        t += 1
    return History.from_records(records)


def test_lost_updates_found_and_named():
    h = _increments(("a", 1, 1), ("b", 1, 2), ("a", 2, 3))  # b read 0 after a wrote 1: a's increment lost
    result = check_lost_updates(h, "c")
    assert not result
    assert [v.op_index for v in result.violations] == [3, None]
    assert "overwriting 1 (version 1, op 1)" in result.violations[0].message
    assert result.violations[1].message == ("'c': 3 acknowledged increment(s) from 0 should give 3, "
                                            "but the final value is 2 (1 lost)")


def test_lost_updates_clean_history_passes_and_failures_do_not_count():
    h = History()
    for v in (1, 2, 3):
        h.ok(h.invoke("a", "increment", "c", 1), (v, v))
    h.fail(h.invoke("b", "increment", "c", 1))
    h.info(h.invoke("b2", "increment", "c", 5))  # unknown outcome: not acknowledged
    assert check_lost_updates(h, "c")
    assert check_lost_updates(h, "other")  # nothing about that key
    assert not check_lost_updates(h, "c", final=2)
    assert check_lost_updates(h, "c", initial=10, final=13)


def test_malformed_histories_raise_naming_the_operation():
    bad_time = [(1, "invoke", "a", "read", "x"), (0, "ok", "a", "read", "x", (1, 1))]
    for checker in (check_read_your_writes, check_monotonic_reads, check_stock_never_negative,
                    lambda h: check_lost_updates(h, "x")):
        h = History()
        h._ops.extend(History.from_records(bad_time[:1]).ops)
        h._ops.append(Op(1, 0, "ok", "a", "read", "x", (1, 1)))
        with pytest.raises(MalformedHistory, match=r"operation 1: time goes backwards"):
            checker(h)
    h = _h((0, "invoke", "a", "read", "x"), (0, "ok", "a", "read", "x", "five"))
    with pytest.raises(MalformedHistory, match=r"operation 1: read value must be \(value, version\) or None"):
        check_monotonic_reads(h)
    h = _h((0, "invoke", "a", "write", "x"), (0, "ok", "a", "write", "x", (5, -2)))
    with pytest.raises(MalformedHistory, match=r"operation 1: write version must be a whole number >= 0, got -2"):
        check_read_your_writes(h)
    h = _h((0, "invoke", "a", "increment", "x", "one"), (0, "ok", "a", "increment", "x", (1, 1)))
    with pytest.raises(MalformedHistory, match=r"operation 0: increment amount must be a number, got 'one'"):
        check_lost_updates(h, "x")


def test_stock_never_negative():
    h = _h((0, "invoke", "a", "write", "stock:apple", (3, None)), (0, "ok", "a", "write", "stock:apple", (3, 1)),
           (1, "invoke", "a", "write", "stock:pear", (-1, None)), (1, "ok", "a", "write", "stock:pear", (-1, 1)),
           (2, "invoke", "a", "write", "cash", (-5, None)), (2, "ok", "a", "write", "cash", (-5, 1)),
           (3, "invoke", "b", "read", "stock:pear"), (3, "ok", "b", "read", "stock:pear", (-1, 1)))
    result = check_stock_never_negative(h)
    assert [v.op_index for v in result.violations] == [3, 7]
    assert result.violations[0].message == "'stock:pear' is -1 after 'write' by 'a'"
    assert check_stock_never_negative(h, key_prefix="stock:apple")


def test_money_conserved():
    assert check_money_conserved({"a": 100, "b": 50}, {"a": 70, "b": 80})
    assert check_money_conserved({"a": 100}, {"a": 60, "b": 40})
    result = check_money_conserved({"a": 100, "b": 50}, {"a": 70, "b": 50})
    assert not result
    assert result.violations[0].message == "total went from 150 to 120 (-30); changes: a: -30"
    with pytest.raises(ValueError, match=r"balances_after\['a'\] must be a number, got 'x'"):
        check_money_conserved({"a": 1}, {"a": "x"})
    with pytest.raises(ValueError, match=r"balances_before must be a dict"):
        check_money_conserved([1], {})


def _saga(saga_id, status, *events):
    return SagaResult(saga_id, status, [(i, i + 1, step, kind, ok) for i, (step, kind, ok) in enumerate(events)])


def test_sagas():
    good = [
        _saga(1, "completed", ("reserve", "action", True), ("pay", "action", True), ("ship", "action", True)),
        _saga(2, "compensated", ("reserve", "action", True), ("pay", "action", True), ("ship", "action", False),
              ("pay", "compensation", False), ("pay", "compensation", True), ("reserve", "compensation", True)),
    ]
    assert check_sagas(good)
    bad = [
        _saga(3, "compensated", ("reserve", "action", True), ("pay", "action", True), ("ship", "action", False),
              ("pay", "compensation", True)),
        _saga(4, "compensated", ("reserve", "action", True), ("pay", "action", True), ("ship", "action", False),
              ("reserve", "compensation", True), ("pay", "compensation", True)),
        _saga(5, "stuck", ("reserve", "action", True), ("pay", "action", False), ("reserve", "compensation", False)),
        _saga(6, "completed", ("reserve", "action", True), ("pay", "action", False)),
        _saga(7, "compensated", ("reserve", "action", False), ("reserve", "compensation", True)),
    ]
    result = check_sagas(good + bad)
    assert [v.message for v in result.violations] == [
        "saga 3 is compensated but ['reserve'] were never undone",
        "saga 4 undid ['reserve', 'pay'], not in the reverse of ['reserve', 'pay']",
        "saga 5 ended 'stuck': neither completed nor compensated (done ['reserve'], undone [])",
        "saga 6 says completed but had failed actions ['pay'] or compensations []",
        "saga 7 compensated ['reserve'], whose actions never completed",
    ]


def test_sagas_from_the_orchestrator():
    from course.sim.data import Orchestrator, SagaStep

    def fail(ctx):
        raise RuntimeError("card declined")

    sim = Simulation(seed=0)
    steps = [SagaStep("reserve", lambda c: None, lambda c: None), SagaStep("pay", fail, lambda c: None),
             SagaStep("ship", lambda c: None)]
    orchestrator = Orchestrator(sim, steps, step_latency=Constant(0.05))
    orchestrator.start("s1")
    sim.run()
    assert orchestrator.results[0].status == "compensated"
    assert check_sagas(orchestrator.results)
