"""The transactional outbox's relay: publishes committed outbox rows, at least once."""

from __future__ import annotations

from .. import _validate
from .crash import Crash, CrashPoints


class OutboxRelay:
    """Every ``interval`` seconds, publish each pending outbox row of ``store`` on ``broker``.

    The service wrote its business row and the outbox row in one local
    transaction (``tx.append_outbox``), so an event exists exactly when the
    row does. The relay publishes each pending row with its own
    ``message_id``, then marks it sent. Between the two sits the crash point
    ``"relay_after_publish"``: a crash there leaves the row pending, the relay
    restarts at its next tick and publishes the row again, a duplicate with
    the same id. That is why delivery is at least once and consumers must be
    idempotent.
    """

    def __init__(self, sim, store, broker, interval: float = 0.1, crash: CrashPoints | None = None):
        self.sim = sim
        self.store = store
        self.broker = broker
        self.interval = _validate.positive("interval", interval)
        self.crash = CrashPoints.never() if crash is None else crash
        self.published = 0   # publishes, republished rows included
        self.crashes = 0
        self._handle = None

    @property
    def running(self) -> bool:
        """Whether the relay is ticking."""
        return self._handle is not None

    def start(self) -> "OutboxRelay":
        """Start ticking: the first round runs ``interval`` seconds from now."""
        if self._handle is None:
            self._handle = self.sim.schedule(self.interval, self._tick)
        return self

    def stop(self) -> None:
        """Stop ticking (rows still pending stay in the outbox)."""
        if self._handle is not None:
            self.sim.cancel(self._handle)
            self._handle = None

    def run_once(self) -> int:
        """One round now: publish the pending rows; returns how many were marked sent."""
        sent = 0
        for message in self.store.outbox_pending():
            self.broker.publish(message.topic, message.payload, message_id=message.id)
            self.published += 1
            try:
                self.crash.point("relay_after_publish")
            except Crash:
                self.crashes += 1
                return sent  # the relay died; it restarts at the next tick
            self.store.mark_sent(message.id)
            sent += 1
        return sent

    def _tick(self) -> None:
        self.run_once()
        self._handle = self.sim.schedule(self.interval, self._tick)
