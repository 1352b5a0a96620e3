"""``course.sim.data``: stores, messages and the histories that judge them.

The data layer in 10 minutes
============================

**A store is a primary and its replicas.** :class:`Store` commits a write on
the primary at once and ships it to each replica after that replica's own
lag draw, so a read from a replica can return an older :class:`Record` (a
*stale read*). Every record has a version, 1 on the first write of a key and
one more per committed write, so ``compare_and_set(key, expected_version,
value)`` can refuse a write based on a value that has since changed: the cure
for *lost updates*. :class:`ReadRouting` picks the replica for each read
(``"primary"``, ``"random"``, ``"sticky"``, ``"read_your_writes"``).

**Transactions are all or nothing.** Inside ``with store.transaction() as
tx:`` the writes and the outbox rows (``tx.append_outbox``) commit together
when the block ends, or not at all if it raises — for example a
:class:`Crash` from a :class:`CrashPoints`, which is how the lessons kill a
process at an awkward moment.

**Messages arrive at least once.** A :class:`Broker` delivers each
:class:`Message` after its own delay draw (so messages overtake one another),
sometimes twice (``duplicate_probability``), again after a handler
:class:`Crash` (it was never acknowledged), and late after a partition. An
:class:`OutboxRelay` publishes the rows a transaction put in the outbox,
again after its own crashes; :class:`IdempotentConsumer` survives all of
that, :class:`NaiveConsumer` double-applies. An :class:`Orchestrator` or a
:class:`Choreography` runs a saga's steps and, when one fails, their
compensations in reverse; each saga leaves a :class:`SagaResult` with a
timeline for a sequence diagram.

**Histories record what clients saw.** A :class:`History` holds Jepsen-style
operations: each ``invoke`` ends in ``ok``, ``fail`` or ``info`` (unknown).
The checkers in :mod:`.checkers` read a history afterwards and return a
:class:`CheckResult` listing each :class:`Violation` with the operation it
happened at: read-your-writes, monotonic reads, lost updates, stock never
negative, money conserved, sagas completed or compensated.

**Distributed commits.** :class:`TwoPhaseCommit` runs the two-phase commit
protocol with a coordinator that can crash before prepare, after the votes or
in the middle of sending the decision; participants that voted yes hold
their locks until it recovers.

A minimal run::

    from course.sim import Simulation, Exponential
    from course.sim.data import History, Store, check_read_your_writes
    sim = Simulation(seed=1)
    history = History(sim)
    db = Store(sim, replicas=2, lag=Exponential(0.1), history=history)
    db.write("x", 1, process="alice")
    sim.schedule(0.05, db.read, "x", 0, "alice")    # replica 0, 50 ms later
    sim.run()
    check_read_your_writes(history)                 # fails if replica 0 lagged
"""

from .crash import Crash, CrashPoints
from .history import History, MalformedHistory, Op
from .store import Record, ReadRouting, Store, Transaction
from .broker import Broker, Delivery, Message
from .consumers import IdempotentConsumer, NaiveConsumer
from .outbox import OutboxRelay
from .saga import Choreography, Orchestrator, SagaEvent, SagaResult, SagaStep
from .twopc import ParticipantOutcome, TwoPCResult, TwoPhaseCommit
from .checkers import (CheckResult, Violation, check_lost_updates, check_monotonic_reads, check_money_conserved,
                       check_read_your_writes, check_sagas, check_stock_never_negative)
