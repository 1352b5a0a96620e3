"""A primary database with asynchronously replicated read replicas.

Writes commit on the primary at once; each replica receives every committed
write after its own lag draw, so a read from a replica may return an older
version than the primary holds. Records carry versions (1 on a key's first
write, one more per committed write), which is what compare-and-set checks
and what the session-guarantee checkers compare.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import _validate
from ..latency import Constant, Exponential, Latency

ROUTINGS = ("primary", "random", "sticky", "read_your_writes")


@dataclass(frozen=True)
class Record:
    """A committed value and its version (1 on the key's first write, +1 per committed write)."""

    value: Any
    version: int


def _as_pair(record: Record | None):
    return None if record is None else (record.value, record.version)


class Store:
    """A primary with ``replicas`` read replicas, each behind by its own ``lag`` draw per write.

    ``lag`` is a latency distribution (default Exponential(0.1)) or a fixed
    number of seconds. Replica ``i`` draws its lag from stream ``f"store:{name}:lag:{i}"`` and keeps
    the highest version it has seen of each key, so a write that arrives late
    never overwrites a newer one. With a ``history``, reads, writes and
    compare-and-sets are recorded as operations whose value is ``(value, version)``.

    ``commits`` lists ``(time, key, version)`` per committed write and
    ``replication_log`` lists ``(time, replica, key, version)`` per write a replica
    applied, for plots.
    """

    def __init__(self, sim, name: str = "db", replicas: int = 2, lag: Latency | float | None = None, history=None):
        _validate.integer_at_least("replicas", replicas, 0)
        if lag is None:
            lag = Exponential(0.1)
        if isinstance(lag, (int, float)) and not isinstance(lag, bool):  # a fixed lag in seconds
            if not lag >= 0:  # also catches NaN
                raise ValueError(f"lag must be >= 0 seconds (replication cannot arrive before the write), "
                                 f"got {lag!r}")
            lag = Constant(float(lag))
        if not isinstance(lag, Latency):
            raise ValueError(f"lag must be a course.sim.latency.Latency (e.g. Exponential(0.1)), got {lag!r}")
        mean = lag.mean
        if not mean >= 0:  # also catches NaN
            raise ValueError(f"lag must have a mean >= 0 seconds (replication cannot arrive before the write), "
                             f"got a mean of {mean!r}")
        self.sim = sim
        self.name = name
        self.lag = lag
        self.history = history
        self._primary: dict = {}
        self._replicas: list[dict] = [{} for _ in range(replicas)]
        self._lag = [lag.sampler(sim.rng(f"store:{name}:lag:{i}")) for i in range(replicas)]
        self._last_written: dict = {}  # (process, key) -> version that process last wrote
        self._outbox: dict = {}        # message id -> Message, in commit order
        self._pending: dict = {}       # the same, for those not yet marked sent
        self._outbox_ids = 0
        self._routings: dict = {}
        self.commits: list = []
        self.replication_log: list = []

    @property
    def replicas(self) -> int:
        """How many read replicas the store has."""
        return len(self._replicas)

    # -- committing and replicating ---------------------------------------------------------------

    def _commit(self, key, value, process) -> Record:
        current = self._primary.get(key)
        record = Record(value, 1 if current is None else current.version + 1)
        self._primary[key] = record
        now = self.sim.now()
        self.commits.append((now, key, record.version))
        if process is not None:
            self._last_written[(process, key)] = record.version
        schedule = self.sim.schedule
        for i, draw in enumerate(self._lag):
            schedule(draw(), self._apply, i, key, record)
        return record

    def _apply(self, replica: int, key, record: Record) -> None:
        data = self._replicas[replica]
        held = data.get(key)
        if held is None or held.version < record.version:
            data[key] = record
            self.replication_log.append((self.sim.now(), replica, key, record.version))

    def _source(self, replica) -> dict:
        if replica == "primary":
            return self._primary
        if isinstance(replica, int) and not isinstance(replica, bool) and 0 <= replica < len(self._replicas):
            return self._replicas[replica]
        raise ValueError(f"replica must be 'primary' or a replica index from 0 to {len(self._replicas) - 1}, "
                         f"got {replica!r}" if self._replicas else
                         f"replica must be 'primary' (this store has no replicas), got {replica!r}")

    # -- the client API ---------------------------------------------------------------------------

    def write(self, key, value, process=None) -> Record:
        """Commit ``value`` for ``key`` on the primary now; replicas get it after their lag."""
        history = self.history
        if history is None:
            return self._commit(key, value, process)
        op = history.invoke(process, "write", key, (value, None))
        record = self._commit(key, value, process)
        history.ok(op, (value, record.version))
        return record

    def read(self, key, replica="primary", process=None) -> Record | None:
        """The record for ``key`` on the primary or on replica ``replica`` (an index), or None if absent there."""
        record = self._source(replica).get(key)
        history = self.history
        if history is not None:
            history.ok(history.invoke(process, "read", key), _as_pair(record))
        return record

    def compare_and_set(self, key, expected_version: int, value, process=None) -> Record | None:
        """Write ``value`` only if ``key`` is still at ``expected_version`` (0: must not exist yet).

        Returns the new record, or None if the version has moved on (nothing is written).
        In a history the invoke's value is ``(value, expected_version)``; a failure's value
        is the ``(value, version)`` the primary holds.
        """
        _validate.integer_at_least("expected_version", expected_version, 0)
        history = self.history
        op = None if history is None else history.invoke(process, "cas", key, (value, expected_version))
        current = self._primary.get(key)
        if (0 if current is None else current.version) != expected_version:
            if op is not None:
                history.fail(op, _as_pair(current))
            return None
        record = self._commit(key, value, process)
        if op is not None:
            history.ok(op, (value, record.version))
        return record

    def transaction(self, process=None) -> "Transaction":
        """A :class:`Transaction`; use it as ``with store.transaction() as tx: ...``."""
        return Transaction(self, process)

    def read_routed(self, key, process, routing) -> Record | None:
        """Read ``key`` from the replica ``routing`` chooses for ``process``.

        ``routing`` is a :class:`ReadRouting` of this store or one of :data:`ROUTINGS`
        (the store keeps one router per name, so "sticky" pins persist across calls).
        """
        if isinstance(routing, str):
            router = self._routings.get(routing)
            if router is None:
                _validate.one_of("routing", routing, ROUTINGS)
                router = self._routings[routing] = ReadRouting(self, routing)
        elif isinstance(routing, ReadRouting):
            if routing.store is not self:
                raise ValueError(f"routing belongs to store {routing.store.name!r}, not {self.name!r}")
            router = routing
        else:
            raise ValueError(f"routing must be a ReadRouting or one of {', '.join(map(repr, ROUTINGS))}; "
                             f"got {routing!r}")
        return self.read(key, router.choose(key, process), process)

    def version_on(self, key, replica="primary") -> int:
        """The version of ``key`` on the primary or a replica (0 if absent), without recording a read."""
        record = self._source(replica).get(key)
        return 0 if record is None else record.version

    # -- the outbox -------------------------------------------------------------------------------

    def outbox_pending(self) -> list:
        """Committed outbox messages not yet marked sent, in commit order."""
        return list(self._pending.values())

    def mark_sent(self, message_id) -> None:
        """Mark an outbox message as published (marking it twice is harmless)."""
        if message_id not in self._outbox:
            raise ValueError(f"message_id must be the id of a committed outbox message; {message_id!r} is not")
        self._pending.pop(message_id, None)

    def __repr__(self):
        return f"Store({self.name!r}, replicas={len(self._replicas)}, lag={self.lag!r})"


class Transaction:
    """Writes and outbox rows that commit together when the ``with`` block ends, or not at all.

    If the block raises (a :class:`~course.sim.data.crash.Crash`, say), nothing
    is committed and the exception propagates. Several writes of one key in a
    transaction bump its version once.
    """

    def __init__(self, store: Store, process=None):
        self.store = store
        self.process = process
        self.state = "open"
        self._writes: dict = {}
        self._outbox: list = []

    def __enter__(self) -> "Transaction":
        self._check_open()
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            self.commit()
        else:
            self.abort()
        return False

    def _check_open(self) -> None:
        if self.state != "open":
            raise RuntimeError(f"this transaction is already {self.state}")

    def read(self, key) -> Record | None:
        """The primary's record, or this transaction's own pending write (with the version it will get)."""
        self._check_open()
        if key in self._writes:
            committed = self.store._primary.get(key)
            return Record(self._writes[key], 1 if committed is None else committed.version + 1)
        return self.store.read(key, "primary", self.process)

    def write(self, key, value) -> None:
        """Stage a write; the last value staged for a key is the one committed."""
        self._check_open()
        self._writes[key] = value

    def append_outbox(self, topic: str, payload, message_id=None) -> str:
        """Stage an outbox message, published later by a relay; returns its id."""
        self._check_open()
        store = self.store
        if message_id is None:
            store._outbox_ids += 1
            message_id = f"{store.name}-outbox-{store._outbox_ids}"
        if message_id in store._outbox or any(m[0] == message_id for m in self._outbox):
            raise ValueError(f"message_id must be unique in the outbox; {message_id!r} is already there")
        self._outbox.append((message_id, topic, payload))
        return message_id

    def commit(self) -> None:
        """Apply every staged write and outbox row at once."""
        self._check_open()
        store = self.store
        for key, value in self._writes.items():
            store.write(key, value, self.process)
        if self._outbox:
            from .broker import Message  # broker.py is written alongside; imported late to keep store standalone
            now = store.sim.now()
            for message_id, topic, payload in self._outbox:
                store._outbox[message_id] = store._pending[message_id] = Message(
                    id=message_id, topic=topic, payload=payload, sent_at=now)
        self.state = "committed"

    def abort(self) -> None:
        """Throw away everything staged."""
        self._check_open()
        self._writes.clear()
        self._outbox.clear()
        self.state = "aborted"


class ReadRouting:
    """Chooses where each read of ``store`` goes.

    * ``"primary"``: always the primary (never stale);
    * ``"random"``: a replica chosen uniformly (stream ``f"store:{name}:route"``);
    * ``"sticky"``: each process pinned to one replica, in the order processes first read;
    * ``"read_your_writes"``: a random replica if it already has the version of the key this
      process last wrote, otherwise the primary.

    A store without replicas always reads the primary.
    """

    def __init__(self, store: Store, mode: str = "primary"):
        self.store = store
        self.mode = _validate.one_of("mode", mode, ROUTINGS)
        self._stream = store.sim.rng(f"store:{store.name}:route")
        self._pins: dict = {}

    def choose(self, key, process):
        """``"primary"`` or a replica index for this read."""
        store = self.store
        n = len(store._replicas)
        mode = self.mode
        if mode == "primary" or n == 0:
            return "primary"
        if mode == "random":
            return self._stream.below(n)
        if mode == "sticky":
            pin = self._pins.get(process)
            if pin is None:
                pin = self._pins[process] = len(self._pins) % n
            return pin
        wanted = store._last_written.get((process, key), 0)
        replica = self._stream.below(n)
        held = store._replicas[replica].get(key)
        return replica if (0 if held is None else held.version) >= wanted else "primary"

    def __repr__(self):
        return f"ReadRouting({self.store.name!r}, {self.mode!r})"
