"""A leaderless replicated store with quorum writes and quorum reads, Dynamo style.

A coordinator sends each write to all ``N`` replicas. Replica ``i`` applies it
after its own lag draw, and its acknowledgement reaches the coordinator after
an ack draw; the write is *acknowledged* (the client hears "ok") once ``W``
acknowledgements have arrived. A read asks ``R`` replicas chosen at random, each answers
with what it holds at that moment after its own response draw, and the read
returns the newest version among the ``R`` answers once all have arrived.

If ``R + W > N``, every read set shares a replica with every acknowledged
write's ``W``, so a read that starts after the ack sees that write. If not, a
read can miss it, with a probability that falls as the stragglers catch up
(Bailis et al., "Probabilistically Bounded Staleness for Practical Partial
Quorums", VLDB 2012).

One coordinator orders the writes of a key (versions 1, 2, 3...), and there is
no read repair, hinted handoff or sloppy quorum: the simplest Dynamo
(DeCandia et al., SOSP 2007), enough to see overlap and staleness.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from .. import _validate
from ..latency import Constant, Exponential, Latency
from .store import Record


def _latency(name: str, value, default: Latency) -> Latency:
    if value is None:
        return default
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        _validate.non_negative(name, value)
        return Constant(float(value))
    if not isinstance(value, Latency):
        raise ValueError(f"{name} must be a course.sim.latency.Latency (e.g. Exponential(0.1)) or seconds >= 0, "
                         f"got {value!r}")
    return value


def check_quorum(name: str, value, replicas: int) -> int:
    """Return ``value`` if it is a whole number from 1 to ``replicas``, else raise ``ValueError`` saying so."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= replicas:
        raise ValueError(f"{name} must be a whole number from 1 to the number of replicas (N = {replicas}), "
                         f"got {value!r}")
    return value


@dataclass
class QuorumWrite:
    """One write: sent at ``sent``, acknowledged at ``acked`` (None until ``quorum`` replicas have said so)."""

    key: Any
    record: Record
    quorum: int
    sent: float
    acked: float | None = None
    acks: int = 0
    applied_at: dict = field(default_factory=dict)  # replica -> time it applied this write

    @property
    def latency(self) -> float | None:
        """Seconds from sending to the ack, or None if not acknowledged yet."""
        return None if self.acked is None else self.acked - self.sent


@dataclass
class QuorumRead:
    """One read of ``key`` from ``replicas``: each one's answer (a Record or None) and the newest of them."""

    key: Any
    replicas: tuple
    started: float
    answers: dict = field(default_factory=dict)  # replica -> what it held when asked
    finished: float | None = None
    record: Record | None = None
    replies: int = 0

    @property
    def latency(self) -> float | None:
        """Seconds from the start to the last answer, or None if not finished yet."""
        return None if self.finished is None else self.finished - self.started

    @property
    def version(self) -> int:
        """The version read (0: no replica asked had the key). Meaningful once finished."""
        return 0 if self.record is None else self.record.version


class QuorumStore:
    """``replicas`` (N) replicas; writes wait for ``write_quorum`` (W) acks, reads ask ``read_quorum`` (R).

    ``lag`` (default Exponential(0.1)) is how long replica ``i`` takes to apply a
    write, drawn from stream ``f"quorum:{name}:lag:{i}"``; ``ack`` (default 0 s) is
    how long its acknowledgement then takes to reach the coordinator (stream
    ``f"quorum:{name}:ack:{i}"``), and ``response`` (default 0 s) how long its answer
    to a read takes (stream ``f"quorum:{name}:response:{i}"``). Each may be a
    number of seconds. Read sets come from stream ``f"quorum:{name}:choose"``. A
    replica answers a read with what it holds when asked, and keeps the highest
    version it has seen of each key.

    With ``ack`` = 0 exactly W replicas hold a write when it is acknowledged; with
    a positive ``ack`` some more may already hold it, so reads are stale less often.
    """

    def __init__(self, sim, name: str = "kv", replicas: int = 3, write_quorum: int = 2, read_quorum: int = 2,
                 lag: Latency | float | None = None, ack: Latency | float | None = None,
                 response: Latency | float | None = None):
        _validate.integer_at_least("replicas", replicas, 1)
        self.write_quorum = check_quorum("write_quorum", write_quorum, replicas)
        self.read_quorum = check_quorum("read_quorum", read_quorum, replicas)
        self.lag = _latency("lag", lag, Exponential(0.1))
        self.ack = _latency("ack", ack, Constant(0.0))
        self.response = _latency("response", response, Constant(0.0))
        self.sim = sim
        self.name = name
        self._data: list[dict] = [{} for _ in range(replicas)]
        self._lag = [self.lag.sampler(sim.rng(f"quorum:{name}:lag:{i}")) for i in range(replicas)]
        self._ack_delay = [self.ack.sampler(sim.rng(f"quorum:{name}:ack:{i}")) for i in range(replicas)]
        self._response = [self.response.sampler(sim.rng(f"quorum:{name}:response:{i}")) for i in range(replicas)]
        self._choose = sim.rng(f"quorum:{name}:choose")
        self._versions: dict = {}
        self.writes: list[QuorumWrite] = []
        self.reads: list[QuorumRead] = []

    @property
    def replicas(self) -> int:
        """N, the number of replicas."""
        return len(self._data)

    @property
    def overlapping(self) -> bool:
        """Whether R + W > N, so every read set meets every acknowledged write's quorum."""
        return self.read_quorum + self.write_quorum > self.replicas

    def write(self, key, value, quorum: int | None = None,
              on_ack: Callable[[QuorumWrite], Any] | None = None) -> QuorumWrite:
        """Send ``value`` for ``key`` to every replica now; ``on_ack(write)`` runs when ``quorum`` (default W)
        replicas have acknowledged it."""
        quorum = self.write_quorum if quorum is None else check_quorum("quorum", quorum, self.replicas)
        version = self._versions.get(key, 0) + 1
        self._versions[key] = version
        write = QuorumWrite(key, Record(value, version), quorum, self.sim.now())
        self.writes.append(write)
        schedule = self.sim.schedule
        for i, draw in enumerate(self._lag):
            schedule(draw(), self._apply, i, write, on_ack)
        return write

    def _apply(self, replica: int, write: QuorumWrite, on_ack) -> None:
        data = self._data[replica]
        held = data.get(write.key)
        if held is None or held.version < write.record.version:
            data[write.key] = write.record
        write.applied_at[replica] = self.sim.now()
        self.sim.schedule(self._ack_delay[replica](), self._acknowledge, write, on_ack)

    def _acknowledge(self, write: QuorumWrite, on_ack) -> None:
        write.acks += 1
        if write.acks == write.quorum:
            write.acked = self.sim.now()
            if on_ack is not None:
                on_ack(write)

    def read(self, key, quorum: int | None = None,
             on_done: Callable[[QuorumRead], Any] | None = None) -> QuorumRead:
        """Ask ``quorum`` (default R) random replicas for ``key`` now; ``on_done(read)`` runs when all have
        answered, with ``read.record`` the newest version among their answers."""
        quorum = self.read_quorum if quorum is None else check_quorum("quorum", quorum, self.replicas)
        pool = list(range(self.replicas))
        for j in range(quorum):  # a partial Fisher-Yates shuffle: the first ``quorum`` are a uniform sample
            k = j + self._choose.below(len(pool) - j)
            pool[j], pool[k] = pool[k], pool[j]
        chosen = tuple(pool[:quorum])
        read = QuorumRead(key, chosen, self.sim.now())
        self.reads.append(read)
        for i in chosen:
            read.answers[i] = self._data[i].get(key)
            self.sim.schedule(self._response[i](), self._reply, read, on_done)
        return read

    def _reply(self, read: QuorumRead, on_done) -> None:
        read.replies += 1
        if read.replies == len(read.replicas):
            read.finished = self.sim.now()
            held = [r for r in read.answers.values() if r is not None]
            read.record = max(held, key=lambda r: r.version) if held else None
            if on_done is not None:
                on_done(read)

    def version_on(self, key, replica: int) -> int:
        """The version of ``key`` replica ``replica`` holds (0 if none), without a read."""
        if isinstance(replica, bool) or not isinstance(replica, int) or not 0 <= replica < self.replicas:
            raise ValueError(f"replica must be a replica index from 0 to {self.replicas - 1}, got {replica!r}")
        record = self._data[replica].get(key)
        return 0 if record is None else record.version

    def __repr__(self):
        return (f"QuorumStore({self.name!r}, N={self.replicas}, W={self.write_quorum}, R={self.read_quorum}, "
                f"lag={self.lag!r}, ack={self.ack!r}, response={self.response!r})")
