"""An at-least-once message broker: delays, reordering, duplicates, redelivery and partitions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from .. import _validate
from ..latency import Exponential, Latency
from .crash import Crash


@dataclass(frozen=True)
class Message:
    """One published message. Copies of it (duplicates, redeliveries) share its ``id``."""

    id: str
    topic: str
    payload: object
    sent_at: float


class Delivery(NamedTuple):
    """One hand-over of a message to a subscriber: ``copy`` is 0 for the first copy, 1 for a duplicate."""

    time: float
    topic: str
    message_id: str
    copy: int


def latency_arg(name: str, value) -> Latency:
    """Return ``value`` if it is a :class:`~course.sim.latency.Latency`, else raise ``ValueError``."""
    if not isinstance(value, Latency):
        raise ValueError(f"{name} must be a Latency (for example Constant(0.05) or Exponential(0.05)), "
                         f"got {value!r}")
    return value


class Broker:
    """Topics with subscribers and at-least-once delivery, on the simulation's clock.

    Every subscriber of a topic gets every message published to it after it
    subscribed. Each delivery takes its own draw from ``delay``, so two
    messages can arrive in the opposite order to the one they were sent in
    (unless ``delay`` is :class:`~course.sim.latency.Constant`). With
    probability ``duplicate_probability`` a delivery is followed by a second
    copy after another draw. If the handler raises :class:`Crash` the message
    was not acknowledged, and it comes back ``redelivery_delay`` seconds later
    (as often as it takes); any other exception is a bug and propagates out of
    ``sim.run()``. During a ``partitions`` window ``(start, end)`` nothing is
    delivered: whatever falls due is held, and handed over at ``end`` in the
    order it fell due.

    Randomness: ``broker:<name>:delay`` and ``broker:<name>:duplicate``.
    """

    def __init__(self, sim, name: str = "broker", delay: Latency = Exponential(0.05),
                 duplicate_probability: float = 0.0, redelivery_delay: float = 1.0, partitions=()):
        self.sim = sim
        self.name = name
        self.delay = latency_arg("delay", delay)
        self.duplicate_probability = _validate.probability("duplicate_probability", duplicate_probability)
        self.redelivery_delay = _validate.positive("redelivery_delay", redelivery_delay)
        self.partitions = _windows("partitions", partitions)
        self._draw_delay = delay.sampler(sim.rng(f"broker:{name}:delay"))
        self._duplicate_random = sim.rng(f"broker:{name}:duplicate").random
        self._subscribers: dict[str, list] = {}
        self._counts: dict[str, int] = {}
        self.published: list[Message] = []
        self.deliveries: list[Delivery] = []
        self.duplicates = 0      # extra copies scheduled
        self.redeliveries = 0    # deliveries that crashed and were scheduled again

    def subscribe(self, topic: str, handler) -> None:
        """Call ``handler(message)`` for every message later published to ``topic``."""
        if not callable(handler):
            raise ValueError(f"handler must be callable, got {handler!r}")
        self._subscribers.setdefault(topic, []).append(handler)

    def publish(self, topic: str, payload=None, message_id: str | None = None) -> Message:
        """Send ``payload`` to every subscriber of ``topic``; returns the :class:`Message`.

        ``message_id`` defaults to ``"<topic>-<n>"`` (n counts this topic's
        publishes from 1). Publishing the same id again (an outbox relay after
        a crash) is a second message with that id: consumers must cope.
        """
        if message_id is None:
            n = self._counts[topic] = self._counts.get(topic, 0) + 1
            message_id = f"{topic}-{n}"
        sim = self.sim
        message = Message(message_id, topic, payload, sim.now())
        self.published.append(message)
        for handler in self._subscribers.get(topic, ()):
            sim.schedule(self._draw_delay(), self._deliver, handler, message, 0)
            if self.duplicate_probability and self._duplicate_random() < self.duplicate_probability:
                self.duplicates += 1
                sim.schedule(self._draw_delay(), self._deliver, handler, message, 1)
        return message

    def _deliver(self, handler, message: Message, copy: int) -> None:
        now = self.sim.now()
        if self.partitions:
            held_until = self._partition_end(now)
            if held_until is not None:
                self.sim.at(held_until, self._deliver, handler, message, copy)
                return
        self.deliveries.append(Delivery(now, message.topic, message.id, copy))
        try:
            handler(message)
        except Crash:
            self.redeliveries += 1
            self.sim.schedule(self.redelivery_delay, self._deliver, handler, message, copy)

    def _partition_end(self, now: float) -> float | None:
        for start, end in self.partitions:
            if start <= now < end:
                return end
        return None

    def delivered_ids(self, topic: str | None = None) -> set:
        """The ids of messages handed to a subscriber at least once (of ``topic``, if given)."""
        return {d.message_id for d in self.deliveries if topic is None or d.topic == topic}


def _windows(name: str, windows) -> tuple:
    result = []
    for window in windows:
        try:
            start, end = window
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a list of (start, end) windows, got {window!r}") from None
        _validate.non_negative(f"{name} start", start)
        _validate.non_negative(f"{name} end", end)
        if not start < end:
            raise ValueError(f"each of {name} must have start < end, got ({start!r}, {end!r})")
        result.append((float(start), float(end)))
    return tuple(sorted(result))
