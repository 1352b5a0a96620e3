"""The quorum store on the virtual clock: when writes are acknowledged, what reads return, and bad parameters."""

import numpy as np
import pytest

from course.sim import Constant, Exponential, Simulation
from course.sim.data.quorum import QuorumStore
from course.sim.latency import Latency


class _Sequence(Latency):
    """Hands out the given delays in the order they are drawn, whatever the stream (replica 0 first)."""

    def __init__(self, *delays):
        self._delays = list(delays)

    mean = 0.0

    def sample(self, stream):
        return self._delays.pop(0)


def test_a_write_is_acknowledged_when_the_w_th_replica_has_applied_it():
    sim = Simulation(seed=0)
    db = QuorumStore(sim, replicas=3, write_quorum=2, read_quorum=1, lag=_Sequence(0.3, 0.1, 0.2))
    acked = []
    write = db.write("x", "a", on_ack=acked.append)
    assert write.record.version == 1 and write.acked is None
    sim.run(until=0.15)
    assert write.acked is None and [db.version_on("x", i) for i in range(3)] == [0, 1, 0]
    sim.run(until=0.2)
    assert write.acked == pytest.approx(0.2) and acked == [write] and write.latency == pytest.approx(0.2)
    sim.run()
    assert write.acks == 3 and acked == [write]  # the third ack does not call back again
    assert write.applied_at == pytest.approx({1: 0.1, 2: 0.2, 0: 0.3})


def test_the_ack_delay_comes_after_the_apply():
    sim = Simulation(seed=0)
    db = QuorumStore(sim, replicas=3, write_quorum=1, read_quorum=1, lag=_Sequence(0.3, 0.1, 0.2), ack=0.05)
    write = db.write("x", 1)
    sim.run()
    assert write.acked == pytest.approx(0.15)


def test_per_call_quorum_overrides_the_default():
    sim = Simulation(seed=0)
    db = QuorumStore(sim, replicas=3, write_quorum=1, read_quorum=1, lag=_Sequence(0.3, 0.1, 0.2))
    write = db.write("x", 1, quorum=3)
    sim.run()
    assert write.acked == pytest.approx(0.3)


def test_a_read_returns_the_newest_version_among_the_replicas_it_asks_after_the_slowest_answer():
    sim = Simulation(seed=0)
    db = QuorumStore(sim, replicas=3, write_quorum=1, read_quorum=3, lag=_Sequence(0.1, 0.1, 0.1, 0.2, 5.0, 5.0),
                     response=_Sequence(0.01, 0.03, 0.02))
    db.write("x", "old")
    sim.at(0.05, db.write, "x", "new")  # replica 0 has it at 0.25, the others at 5.05
    reads = []
    sim.at(1.0, lambda: reads.append(db.read("x")))
    sim.run()
    (read,) = reads
    assert sorted(read.replicas) == [0, 1, 2]
    assert read.record.value == "new" and read.version == 2
    assert read.finished == pytest.approx(1.03) and read.latency == pytest.approx(0.03)
    assert {i: r.version for i, r in read.answers.items()} == {0: 2, 1: 1, 2: 1}


def test_a_read_of_a_key_no_replica_has_returns_none():
    sim = Simulation(seed=0)
    db = QuorumStore(sim, replicas=3, read_quorum=2)
    done = []
    read = db.read("nothing", on_done=done.append)
    sim.run()
    assert done == [read] and read.record is None and read.version == 0


def test_a_late_older_version_never_overwrites_a_newer_one():
    sim = Simulation(seed=0)
    db = QuorumStore(sim, replicas=1, write_quorum=1, read_quorum=1, lag=_Sequence(1.0, 0.1))
    db.write("x", "old")
    db.write("x", "new")
    sim.run()
    assert db.version_on("x", 0) == 2


def test_read_sets_are_uniform_and_distinct():
    sim = Simulation(seed=3)
    db = QuorumStore(sim, replicas=5, write_quorum=1, read_quorum=2)
    counts = np.zeros(5)
    for _ in range(5000):
        read = db.read("x")
        assert len(set(read.replicas)) == 2
        counts[list(read.replicas)] += 1
    # Each replica is in a read set with probability 2/5: 2,000 of 5,000, sd sqrt(5000·0.4·0.6) ≈ 35.
    assert np.all(np.abs(counts - 2000) < 5 * 35)


@pytest.mark.parametrize("n,r,w", [(3, 2, 2), (3, 1, 3), (5, 3, 3), (5, 2, 4)])
def test_when_r_plus_w_exceeds_n_no_read_after_the_ack_is_stale(n, r, w):
    sim = Simulation(seed=7)
    db = QuorumStore(sim, replicas=n, write_quorum=w, read_quorum=r, lag=Exponential(0.1),
                     response=Exponential(0.01))
    reads = []
    for k in range(300):
        sim.at(k * 10.0, db.write, k, k, None, lambda wr: reads.append(db.read(wr.key)))
    sim.run()
    assert len(reads) == 300 and all(read.version == 1 for read in reads)


def test_when_r_plus_w_is_at_most_n_some_reads_right_after_the_ack_are_stale():
    sim = Simulation(seed=7)
    db = QuorumStore(sim, replicas=3, write_quorum=1, read_quorum=1, lag=Exponential(0.1))
    reads = []
    for k in range(600):
        sim.at(k * 10.0, db.write, k, k, None, lambda wr: reads.append(db.read(wr.key)))
    sim.run()
    stale = np.mean([read.version == 0 for read in reads])
    assert stale == pytest.approx(2 / 3, abs=0.08)  # sd of the share sqrt(2/9/600) ≈ 0.019
    assert not db.overlapping


def test_same_seed_same_run_and_independent_streams():
    def history(seed):
        sim = Simulation(seed=seed)
        db = QuorumStore(sim, replicas=3, lag=Exponential(0.1), ack=Exponential(0.01), response=Exponential(0.01))
        for k in range(20):
            sim.at(k * 1.0, db.write, k, k)
            sim.at(k * 1.0 + 0.05, db.read, k)
        sim.run()
        return [w.acked for w in db.writes], [(r.replicas, r.version, r.finished) for r in db.reads]

    assert history(5) == history(5)
    assert history(5) != history(6)


def test_numbers_are_constant_latencies_and_defaults_are_documented():
    sim = Simulation(seed=0)
    db = QuorumStore(sim, replicas=3, lag=0.5)
    assert isinstance(db.lag, Constant) and db.lag.value == 0.5
    assert isinstance(db.ack, Constant) and db.ack.value == 0.0 and isinstance(db.response, Constant)
    assert (db.replicas, db.write_quorum, db.read_quorum) == (3, 2, 2) and db.overlapping
    assert "N=3" in repr(db)


@pytest.mark.parametrize("kwargs,match", [
    ({"replicas": 0}, r"replicas must be a whole number >= 1"),
    ({"replicas": 3, "read_quorum": 4}, r"read_quorum must be a whole number from 1 to the number of replicas \(N = 3\), got 4"),
    ({"replicas": 3, "read_quorum": 0}, r"read_quorum must be .* from 1 to .* got 0"),
    ({"replicas": 3, "write_quorum": 5}, r"write_quorum must be .* from 1 to .*N = 3.* got 5"),
    ({"replicas": 3, "write_quorum": True}, r"write_quorum must be a whole number"),
    ({"replicas": 3, "write_quorum": 1.5}, r"write_quorum must be a whole number"),
    ({"lag": -0.1}, r"lag must be >= 0"),
    ({"lag": "fast"}, r"lag must be a course.sim.latency.Latency"),
    ({"ack": float("nan")}, r"ack must be a number"),
    ({"response": [0.1]}, r"response must be a course.sim.latency.Latency"),
])
def test_bad_parameters_are_refused_by_name(kwargs, match):
    with pytest.raises(ValueError, match=match):
        QuorumStore(Simulation(seed=0), **kwargs)


def test_bad_call_arguments_are_refused_by_name():
    db = QuorumStore(Simulation(seed=0), replicas=3)
    with pytest.raises(ValueError, match=r"quorum must be a whole number from 1 to .*N = 3.*got 4"):
        db.write("x", 1, quorum=4)
    with pytest.raises(ValueError, match=r"quorum must be .* got 0"):
        db.read("x", quorum=0)
    with pytest.raises(ValueError, match=r"replica must be a replica index from 0 to 2, got 3"):
        db.version_on("x", 3)
