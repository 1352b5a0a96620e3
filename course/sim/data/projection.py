"""An event log and a projection that reads it: lag, rebuilds, snapshots, poison messages and a dead-letter queue.

:class:`EventLog` is the source of truth: an append-only log split into
partitions, each event at the next offset of its partition (the partition is
a stable hash of the event's key, so one key's events stay in order). It can
be fed straight from a :class:`~course.sim.data.broker.Broker` with
``broker.subscribe(topic, log.on_message)``.

:class:`Projection` is a read model built from the log (the query side of
CQRS). Each partition has one worker that applies the next event in
``1 / rate`` seconds (or a ``service`` draw) and moves its position on, so the
read model trails the log: :meth:`Projection.lag` counts the events behind
the head and :meth:`Projection.seconds_behind` is how long ago the oldest
unapplied event was written. :meth:`Projection.rebuild` throws the read model
away and replays from offset 0, or from a :class:`Snapshot`.

An event the apply function cannot handle raises :class:`ProcessingError`
(a *poison message*: it fails the same way every time). The worker tries
again after ``retry_delay`` seconds. With ``max_attempts=None`` it retries
forever and its partition is stuck behind it; with ``max_attempts=k`` the
event is parked in :attr:`Projection.dead_letters` after k failed attempts
and the partition moves on. Any other exception is a bug and propagates out
of ``sim.run()``.

Schema evolution: ``upcast`` (if given) turns each stored payload into the
current shape as it is read, so old events never need rewriting; the default
apply function is a tolerant reader (it reads the fields it knows and ignores
the rest).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import NamedTuple

from .. import _validate
from ..latency import Constant, Latency
from .broker import latency_arg


class LogEntry(NamedTuple):
    """One event in the log: its ``partition``, its ``offset`` in it, when it was appended, its key and payload."""

    partition: int
    offset: int
    time: float
    key: str
    payload: object


class DeadLetter(NamedTuple):
    """An event parked after ``attempts`` failed attempts, at ``time``, with the last error's message."""

    entry: LogEntry
    attempts: int
    time: float
    error: str


class ProcessingError(Exception):
    """The apply function cannot process this event (a poison message raises it on every attempt)."""


@dataclass(frozen=True)
class Snapshot:
    """A projection's read model as of ``offsets`` (one per partition), taken at ``time``."""

    offsets: tuple
    state: dict
    time: float


def partition_of(key, partitions: int) -> int:
    """The partition of ``key``: a stable hash (CRC-32 of ``str(key)``) modulo ``partitions``."""
    return zlib.crc32(str(key).encode()) % partitions


class EventLog:
    """An append-only, partitioned log on the simulation's clock: the source of truth."""

    def __init__(self, sim, partitions: int = 1):
        self.sim = sim
        self.partitions = _validate.integer_at_least("partitions", partitions, 1)
        self._entries: list[list[LogEntry]] = [[] for _ in range(partitions)]
        self._listeners: list = []

    def append(self, key, payload=None, partition: int | None = None) -> LogEntry:
        """Append an event now; ``partition`` defaults to :func:`partition_of` ``key``. Returns the entry."""
        if partition is None:
            partition = partition_of(key, self.partitions)
        elif isinstance(partition, bool) or not isinstance(partition, int) or not 0 <= partition < self.partitions:
            raise ValueError(f"partition must be a whole number from 0 to {self.partitions - 1}, got {partition!r}")
        log = self._entries[partition]
        entry = LogEntry(partition, len(log), self.sim.now(), str(key), payload)
        log.append(entry)
        for listener in self._listeners:
            listener(partition)
        return entry

    def on_message(self, message) -> None:
        """A broker handler: append the message's payload under ``payload["key"]`` (else the message id)."""
        payload = message.payload
        key = payload.get("key", message.id) if isinstance(payload, dict) else message.id
        self.append(key, payload)

    def head(self, partition: int) -> int:
        """The offset the next event of ``partition`` will get (= how many it holds)."""
        return len(self._entries[partition])

    def entry(self, partition: int, offset: int) -> LogEntry:
        """The event at ``offset`` of ``partition``."""
        return self._entries[partition][offset]

    def entries(self, partition: int | None = None) -> list[LogEntry]:
        """Every event of ``partition`` in offset order (of all partitions, partition by partition, if None)."""
        if partition is not None:
            return list(self._entries[partition])
        return [e for log in self._entries for e in log]

    def __len__(self) -> int:
        return sum(len(log) for log in self._entries)

    def _listen(self, listener) -> None:
        self._listeners.append(listener)


def add_amounts(state: dict, entry: LogEntry) -> None:
    """The default apply function, a tolerant reader: ``state[key] += payload["amount"]`` (1 if absent).

    Fields it does not know are ignored. A payload that is not a dict, or is
    marked ``{"poison": True}``, cannot be read: :class:`ProcessingError`.
    """
    payload = entry.payload if entry.payload is not None else {}
    if not isinstance(payload, dict) or payload.get("poison"):
        raise ProcessingError(f"cannot read event {entry.partition}:{entry.offset}")
    state[entry.key] = state.get(entry.key, 0) + payload.get("amount", 1)


class Projection:
    """A read model that follows an :class:`EventLog`, one worker per partition.

    ``rate`` is the events per second each partition's worker applies (its
    service time is ``Constant(1 / rate)`` unless ``service`` gives another
    :class:`~course.sim.latency.Latency`, drawn from ``projection:<name>:service``).
    ``apply(state, entry)`` updates the read model ``state`` (a dict);
    ``upcast(payload)`` converts an old payload to the current schema first.
    ``max_attempts`` (None: retry forever) and ``retry_delay`` (s) govern
    poison messages, see the module docstring. ``applied_times[p]`` holds, for
    each event of partition ``p`` the worker finished with (applied or
    parked), the time it finished.
    """

    def __init__(self, sim, log: EventLog, rate: float, apply=add_amounts, *, upcast=None,
                 max_attempts: int | None = None, retry_delay: float = 1.0, service: Latency | None = None,
                 name: str = "projection"):
        self.sim = sim
        self.log = log
        self.rate = _validate.positive("rate", rate)
        if not callable(apply):
            raise ValueError(f"apply must be callable as apply(state, entry), got {apply!r}")
        if upcast is not None and not callable(upcast):
            raise ValueError(f"upcast must be None or callable as upcast(payload), got {upcast!r}")
        if max_attempts is not None:
            _validate.integer_at_least("max_attempts (None retries forever)", max_attempts, 1)
        self.apply, self.upcast, self.max_attempts = apply, upcast, max_attempts
        self.retry_delay = _validate.non_negative("retry_delay", retry_delay)
        self.service = Constant(1.0 / rate) if service is None else latency_arg("service", service)
        self.name = name
        self._draw = self.service.sampler(sim.rng(f"projection:{name}:service"))
        n = log.partitions
        self.state: dict = {}
        self.positions = [0] * n
        self.dead_letters: list[DeadLetter] = []
        self.attempts_failed = 0
        self.applied_times: list[list[float]] = [[] for _ in range(n)]
        self._busy: list = [None] * n        # the scheduled handle of each partition's work in progress
        self._attempts = [0] * n             # failed attempts at each partition's current event
        log._listen(self._wake)

    # -- where it stands ------------------------------------------------------------------------------
    def lag(self, partition: int | None = None) -> int:
        """Events in the log not yet applied (or parked): of ``partition``, or of all partitions."""
        parts = range(self.log.partitions) if partition is None else (partition,)
        return sum(self.log.head(p) - self.positions[p] for p in parts)

    def seconds_behind(self, partition: int | None = None) -> float:
        """How long ago the oldest unapplied event was appended (0 when caught up); the worst partition if None."""
        parts = range(self.log.partitions) if partition is None else (partition,)
        now, worst = self.sim.now(), 0.0
        for p in parts:
            if self.positions[p] < self.log.head(p):
                worst = max(worst, now - self.log.entry(p, self.positions[p]).time)
        return worst

    def caught_up(self) -> bool:
        """Whether every partition's position is at its head."""
        return self.lag() == 0

    def snapshot(self) -> Snapshot:
        """The read model and positions now (a copy: later events do not change it)."""
        return Snapshot(tuple(self.positions), dict(self.state), self.sim.now())

    def rebuild(self, snapshot: Snapshot | None = None) -> None:
        """Drop the read model and replay the log: from offset 0, or from ``snapshot``'s offsets and state.

        Work in progress is abandoned; the dead-letter queue is kept (replay it on purpose, see :meth:`replay_dead_letters`).
        """
        if snapshot is not None and (not isinstance(snapshot, Snapshot) or len(snapshot.offsets) != self.log.partitions):
            raise ValueError(f"snapshot must be a Snapshot of this log's {self.log.partitions} partitions, "
                             f"got {snapshot!r}")
        for p, handle in enumerate(self._busy):
            if handle is not None:
                self.sim.cancel(handle)
                self._busy[p] = None
        self.state = {} if snapshot is None else dict(snapshot.state)
        self.positions = [0] * self.log.partitions if snapshot is None else list(snapshot.offsets)
        self._attempts = [0] * self.log.partitions
        for p in range(self.log.partitions):
            self._wake(p)

    def replay_dead_letters(self, apply=None) -> int:
        """Apply each parked event again (after a fix: ``apply`` replaces the apply function if given).

        Returns how many succeeded; those leave the queue, the rest stay.
        """
        if apply is not None:
            self.apply = apply
        kept, done = [], 0
        for letter in self.dead_letters:
            try:
                self._apply(letter.entry)
                done += 1
            except ProcessingError:
                kept.append(letter)
        self.dead_letters = kept
        return done

    # -- the workers ----------------------------------------------------------------------------------
    def _wake(self, partition: int) -> None:
        if self._busy[partition] is None and self.positions[partition] < self.log.head(partition):
            self._busy[partition] = self.sim.schedule(self._draw(), self._finish, partition)

    def _apply(self, entry: LogEntry) -> None:
        if self.upcast is not None:
            entry = entry._replace(payload=self.upcast(entry.payload))
        self.apply(self.state, entry)

    def _finish(self, p: int) -> None:
        self._busy[p] = None
        entry = self.log.entry(p, self.positions[p])
        try:
            self._apply(entry)
        except ProcessingError as error:
            self.attempts_failed += 1
            self._attempts[p] += 1
            if self.max_attempts is None or self._attempts[p] < self.max_attempts:
                self._busy[p] = self.sim.schedule(self.retry_delay, self._retry, p)
                return
            self.dead_letters.append(DeadLetter(entry, self._attempts[p], self.sim.now(), str(error)))
        self._attempts[p] = 0
        self.positions[p] += 1
        self.applied_times[p].append(self.sim.now())
        self._wake(p)

    def _retry(self, p: int) -> None:
        self._busy[p] = None
        self._wake(p)
