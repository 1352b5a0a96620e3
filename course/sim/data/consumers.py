"""Two reference consumers of balance updates: one that trusts the broker, one that does not.

A message's payload is a dict like ``{"account": "a", "amount": 5}``: add
``amount`` to the value stored under the key ``account`` (a missing key counts
as 0). Subscribe either with ``broker.subscribe(topic, consumer.handle)``.

Both take an optional :class:`~course.sim.data.crash.CrashPoints`. The point
``"consumer_after_apply"`` sits after the work and before the handler returns
(the acknowledgement): a crash there makes the broker redeliver a message
whose effect is already in the store, which is how at-least-once delivery
turns into double charges.
"""

from __future__ import annotations

from .crash import CrashPoints


class NaiveConsumer:
    """Applies every message it is handed, duplicates and redeliveries included."""

    def __init__(self, store, crash: CrashPoints | None = None):
        self.store = store
        self.crash = CrashPoints.never() if crash is None else crash
        self.applied = 0

    def handle(self, message) -> None:
        """Add the payload's amount to its account."""
        account, amount = message.payload["account"], message.payload["amount"]
        record = self.store.read(account)
        self.store.write(account, (0 if record is None else record.value) + amount)
        self.applied += 1
        self.crash.point("consumer_after_apply")


class IdempotentConsumer:
    """Records each message id it processes, in the same transaction as the work, and skips repeats.

    The marker lives in the store under ``processed:<message_id>``. Because it
    commits atomically with the balance change, a crash before the commit
    loses both (the redelivery applies the message once) and a crash after it
    keeps both (the redelivery is recognised and skipped).
    """

    def __init__(self, store, crash: CrashPoints | None = None):
        self.store = store
        self.crash = CrashPoints.never() if crash is None else crash
        self.applied = 0
        self.skipped = 0

    def handle(self, message) -> None:
        """Apply the payload once per message id."""
        account, amount = message.payload["account"], message.payload["amount"]
        marker = f"processed:{message.id}"
        with self.store.transaction() as tx:
            if tx.read(marker) is not None:
                self.skipped += 1
                return
            record = tx.read(account)
            tx.write(account, (0 if record is None else record.value) + amount)
            tx.write(marker, True)
            self.crash.point("consumer_before_commit")
        self.applied += 1
        self.crash.point("consumer_after_apply")
