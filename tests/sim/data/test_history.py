"""Histories: recording, pairing, and rejecting malformed ones with the operation named."""

import pytest

from course.sim import Simulation
from course.sim.data import History, MalformedHistory, Op


def test_recording_takes_time_from_the_clock_and_pairs_invokes_with_completions():
    sim = Simulation(seed=0)
    h = History(sim)
    a = h.invoke("a", "write", "x", 1)
    sim.run(until=0.5)
    b = h.invoke("b", "read", "x")
    h.ok(a, (1, 1))
    sim.run(until=1.0)
    h.fail(b)
    c = h.invoke("a", "read", "y")
    assert (a, b, c) == (0, 1, 4)
    assert len(h) == 5
    assert [op.type for op in h] == ["invoke", "invoke", "ok", "fail", "invoke"]
    assert h.ops[2] == Op(2, 0.5, "ok", "a", "write", "x", (1, 1))
    assert h[3].time == 1.0 and h[3].process == "b" and h[3].f == "read"
    pairs = h.pairs()
    assert [(i.index, None if done is None else done.index) for i, done in pairs] == [(0, 2), (1, 3), (4, None)]
    assert h.validate() is h


def test_without_a_clock_time_is_zero():
    h = History()
    h.info(h.invoke("p", "write", "k", 3))
    assert [op.time for op in h] == [0.0, 0.0]
    assert h[1].type == "info" and h[1].key == "k"


def test_invoking_twice_before_completing_is_refused_when_recording():
    h = History()
    h.invoke("a", "read", "x")
    with pytest.raises(MalformedHistory, match=r"operation 1: process 'a' invokes 'write' while operation 0"):
        h.invoke("a", "write", "x")


def test_completing_something_that_is_not_an_open_invoke_is_refused():
    h = History()
    i = h.invoke("a", "read", "x")
    h.ok(i)
    with pytest.raises(MalformedHistory, match=r"operation 2: ok refers to invoke 0, which is already complete"):
        h.ok(i)
    with pytest.raises(MalformedHistory, match=r"operation 2: fail refers to 1, which is not an invoke"):
        h.fail(1)
    with pytest.raises(MalformedHistory, match=r"refers to 7"):
        h.info(7)


def test_from_records_accepts_dicts_and_tuples():
    h = History.from_records([
        {"time": 0.0, "type": "invoke", "process": 1, "f": "write", "key": "x", "value": (5, None)},
        (0.1, "ok", 1, "write", "x", (5, 1)),
        (0.2, "invoke", 1, "read"),
    ])
    assert [op.index for op in h] == [0, 1, 2]
    assert h[1].value == (5, 1) and h[2].key is None
    h.ok(2, None)  # recording carries on from an open invoke
    assert h[3].type == "ok"


@pytest.mark.parametrize("records, message", [
    ([(0, "invoke", "a", "read"), (0, "done", "a", "read")],
     r"operation 1: has unknown type 'done'"),
    ([(0, "invoke", "a", "read"), (1, "ok", "b", "read")],
     r"operation 1: ok for process 'b', which has no open invoke"),
    ([(0, "ok", "a", "read")],
     r"operation 0: ok for process 'a', which has no open invoke"),
    ([(0, "invoke", "a", "read"), (1, "invoke", "a", "write")],
     r"operation 1: process 'a' invokes again while operation 0 is still open"),
    ([(0, "invoke", "a", "read"), (1, "ok", "a", "read"), (0.5, "invoke", "a", "read")],
     r"operation 2: time goes backwards \(0.5 after 1\)"),
    ([(0, "invoke", "a", "read"), {"time": 1, "type": "ok", "process": "a"}],
     r"operation 1: is missing field 'f'"),
    ([(0, "invoke", "a", "read"), (1, None, "a", "read")],
     r"operation 1: is missing field 'type'"),
    ([(0, "invoke", "a", "read", "x"), (1, "ok", "a", "read", "y")],
     r"operation 1: ok is for 'read' on 'y' but the open invoke 0 is 'read' on 'x'"),
    ([(0, "invoke", "a")], r"operation 0: has 3 fields"),
    ([(0, "invoke", "a", "read"), "ok"], r"operation 1: is a str"),
    ([("soon", "invoke", "a", "read")], r"operation 0: has time 'soon'"),
])
def test_malformed_records_name_the_operation(records, message):
    with pytest.raises(MalformedHistory, match=message) as caught:
        History.from_records(records)
    assert isinstance(caught.value, ValueError)
    assert caught.value.index == int(message.split(":")[0].split()[-1])
