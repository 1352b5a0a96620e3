"""The store: versions, replication lag, compare-and-set, transactions, the outbox and read routing."""

import pytest

from course.sim import Constant, Exponential, Simulation
from course.sim.data import Crash, CrashPoints, History, Record, ReadRouting, Store
from course.sim.latency import Latency


class _NegativeMean(Latency):
    mean = -1.0

    def sample(self, stream):
        return -1.0


def test_versions_start_at_one_and_count_committed_writes_per_key():
    sim = Simulation(seed=0)
    db = Store(sim, replicas=0)
    assert db.read("x") is None
    assert db.write("x", "a") == Record("a", 1)
    assert db.write("x", "b") == Record("b", 2)
    assert db.write("y", "c") == Record("c", 1)
    assert db.read("x") == Record("b", 2)
    assert [(k, v) for _, k, v in db.commits] == [("x", 1), ("x", 2), ("y", 1)]


def test_replicas_receive_writes_after_the_lag():
    sim = Simulation(seed=0)
    db = Store(sim, replicas=2, lag=Constant(0.5))
    db.write("x", 1)
    assert db.read("x", 0) is None and db.read("x", 1) is None
    sim.run(until=0.49)
    assert db.read("x", 1) is None
    sim.run(until=0.5)
    assert db.read("x", 0) == Record(1, 1) == db.read("x", 1)
    assert sorted(db.replication_log) == [(0.5, 0, "x", 1), (0.5, 1, "x", 1)]


def test_a_late_older_version_never_overwrites_a_newer_one():
    sim = Simulation(seed=0)
    db = Store(sim, replicas=1, lag=Constant(1.0))
    db.write("x", "old")
    newer = db.write("x", "new")
    # Deliver the newer version first, then the older one, by hand.
    db._apply(0, "x", newer)
    db._apply(0, "x", Record("old", 1))
    assert db.read("x", 0) == Record("new", 2)
    sim.run()
    assert db.read("x", 0) == Record("new", 2)


def test_each_replica_draws_its_own_lag_from_its_own_stream():
    def arrivals(seed):
        sim = Simulation(seed=seed)
        db = Store(sim, replicas=3, lag=Exponential(0.1))
        for i in range(20):
            sim.at(i * 1.0, db.write, f"k{i}", i)
        sim.run()
        return db.replication_log

    log = arrivals(7)
    assert len(log) == 60
    assert log == arrivals(7)
    assert log != arrivals(8)
    delays = {(r, k): t - int(k[1:]) for t, r, k, _ in log}
    assert len({round(d, 12) for d in delays.values()}) == 60  # all independent draws
    assert all(d >= 0 for d in delays.values())


def test_compare_and_set():
    sim = Simulation(seed=0)
    db = Store(sim, replicas=0)
    assert db.compare_and_set("x", 1, "a") is None  # does not exist yet
    assert db.compare_and_set("x", 0, "a") == Record("a", 1)
    assert db.compare_and_set("x", 0, "b") is None
    assert db.compare_and_set("x", 1, "b") == Record("b", 2)
    assert db.read("x") == Record("b", 2)
    with pytest.raises(ValueError, match=r"expected_version must be a whole number >= 0, got -1"):
        db.compare_and_set("x", -1, "c")


def test_history_records_reads_writes_and_cas():
    sim = Simulation(seed=0)
    h = History(sim)
    db = Store(sim, replicas=1, lag=Constant(1.0), history=h)
    db.write("x", 10, process="p")
    db.read("x", 0, process="p")
    db.compare_and_set("x", 0, 11, process="q")
    db.compare_and_set("x", 1, 12, process="q")
    got = [(op.type, op.process, op.f, op.key, op.value) for op in h]
    assert got == [
        ("invoke", "p", "write", "x", (10, None)), ("ok", "p", "write", "x", (10, 1)),
        ("invoke", "p", "read", "x", None), ("ok", "p", "read", "x", None),
        ("invoke", "q", "cas", "x", (11, 0)), ("fail", "q", "cas", "x", (10, 1)),
        ("invoke", "q", "cas", "x", (12, 1)), ("ok", "q", "cas", "x", (12, 2)),
    ]


def test_transaction_commits_everything_at_once_with_one_version_bump_per_key():
    sim = Simulation(seed=0)
    db = Store(sim, replicas=1, lag=Constant(0.1))
    db.write("a", 100)
    with db.transaction() as tx:
        tx.write("a", tx.read("a").value - 30)
        tx.write("b", 30)
        assert tx.read("b") == Record(30, 1)  # its own pending write
        tx.write("a", tx.read("a").value - 1)
        assert db.read("a") == Record(100, 1)  # nothing visible before the end
        mid = tx.append_outbox("transfers", {"amount": 30}, "m1")
    assert mid == "m1"
    assert db.read("a") == Record(69, 2)
    assert db.read("b") == Record(30, 1)
    [message] = db.outbox_pending()
    assert (message.id, message.topic, message.payload, message.sent_at) == ("m1", "transfers", {"amount": 30}, 0.0)
    sim.run()
    assert db.read("a", 0) == Record(69, 2)


def test_a_crash_inside_a_transaction_commits_nothing():
    sim = Simulation(seed=0)
    db = Store(sim, replicas=1)
    db.write("a", 1)
    crash = CrashPoints(at=("before_commit",))
    with pytest.raises(Crash):
        with db.transaction() as tx:
            tx.write("a", 2)
            tx.append_outbox("t", "payload", "m1")
            crash.point("before_commit")
    assert db.read("a") == Record(1, 1)
    assert db.outbox_pending() == []
    assert tx.state == "aborted"
    with pytest.raises(RuntimeError, match="already aborted"):
        tx.write("a", 3)


def test_outbox_pending_in_commit_order_and_mark_sent():
    sim = Simulation(seed=0)
    db = Store(sim, replicas=0)
    for i in range(3):
        with db.transaction() as tx:
            tx.append_outbox("t", i, f"m{i}")
    with db.transaction() as tx:
        auto = tx.append_outbox("t", 3)
    assert auto == "db-outbox-1"
    assert [m.id for m in db.outbox_pending()] == ["m0", "m1", "m2", "db-outbox-1"]
    db.mark_sent("m1")
    db.mark_sent("m1")
    assert [m.id for m in db.outbox_pending()] == ["m0", "m2", "db-outbox-1"]
    with pytest.raises(ValueError, match=r"message_id must be the id of a committed outbox message; 'nope'"):
        db.mark_sent("nope")
    with pytest.raises(ValueError, match=r"message_id must be unique in the outbox; 'm0'"):
        with db.transaction() as tx:
            tx.append_outbox("t", 9, "m0")


def test_routing():
    sim = Simulation(seed=0)
    db = Store(sim, replicas=3, lag=Constant(1.0))
    db.write("x", 1, process="p")
    assert ReadRouting(db, "primary").choose("x", "p") == "primary"
    sticky = ReadRouting(db, "sticky")
    assert [sticky.choose("x", p) for p in "abcdab"] == [0, 1, 2, 0, 0, 1]
    random_ = ReadRouting(db, "random")
    picks = [random_.choose("x", "a") for _ in range(300)]
    assert set(picks) == {0, 1, 2}
    ryw = ReadRouting(db, "read_your_writes")
    assert {ryw.choose("x", "p") for _ in range(50)} == {"primary"}  # no replica has p's write yet
    assert {ryw.choose("x", "q") for _ in range(50)} == {0, 1, 2}    # q wrote nothing
    sim.run()
    assert {ryw.choose("x", "p") for _ in range(50)} == {0, 1, 2}
    assert ReadRouting(Store(sim, "empty", replicas=0), "random").choose("x", "p") == "primary"


def test_read_routed_by_name_keeps_sticky_pins_and_read_your_writes_never_reads_stale():
    sim = Simulation(seed=2)
    h = History(sim)
    db = Store(sim, replicas=2, lag=Exponential(1.0), history=h)
    db.write("x", 1, process="p")
    for _ in range(20):
        assert db.read_routed("x", "p", "read_your_writes") == Record(1, 1)
    assert db.read_routed("x", "q", "sticky") is None
    assert db._routings["sticky"]._pins == {"q": 0}
    with pytest.raises(ValueError, match=r"routing must be one of 'primary', 'random', 'sticky', "
                                         r"'read_your_writes'; got 'nearest'"):
        db.read_routed("x", "p", "nearest")
    with pytest.raises(ValueError, match=r"routing must be a ReadRouting or one of 'primary', 'random'"):
        db.read_routed("x", "p", 3)
    with pytest.raises(ValueError, match=r"mode must be one of 'primary', 'random', 'sticky', 'read_your_writes'"):
        ReadRouting(db, "closest")


@pytest.mark.parametrize("kwargs, message", [
    (dict(replicas=-1), r"replicas must be a whole number >= 0, got -1"),
    (dict(replicas=1.5), r"replicas must be a whole number >= 0, got 1.5"),
    (dict(lag="0.1 s"), r"lag must be a course.sim.latency.Latency"),
    (dict(lag=-0.1), r"lag must be >= 0 seconds \(replication cannot arrive before the write\), got -0.1"),
    (dict(lag=float("nan")), r"lag must be >= 0 seconds"),
    (dict(lag=_NegativeMean()), r"lag must have a mean >= 0 seconds .* got a mean of -1.0"),
])
def test_impossible_settings_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Store(Simulation(seed=0), **kwargs)


def test_a_number_is_a_fixed_lag():
    sim = Simulation(seed=0)
    db = Store(sim, replicas=1, lag=0.25)
    db.write("x", 1)
    sim.run(until=0.2499)
    assert db.read("x", 0) is None
    sim.run(until=0.25)
    assert db.read("x", 0) == Record(1, 1)


def test_negative_constant_lag_is_impossible():
    with pytest.raises(ValueError, match=r"value must be >= 0, got -0.1"):
        Constant(-0.1)


def test_unknown_replica_is_rejected():
    db = Store(Simulation(seed=0), replicas=2)
    for bad in (2, -1, "replica-0", True):
        with pytest.raises(ValueError, match=r"replica must be 'primary' or a replica index from 0 to 1"):
            db.read("x", bad)
    with pytest.raises(ValueError, match=r"this store has no replicas"):
        Store(Simulation(seed=0), replicas=0).read("x", 0)
