"""Clients: how a caller reaches a service through a pipeline of resilience policies.

A :class:`Client` takes the plain policy objects from :mod:`course.sim.policies`
(the same objects that run on real time through ``policies.sync.Pipeline``)
and runs them on the simulator's event loop, outermost first, like a Polly
pipeline or a stack of Resilience4j decorators::

    Client(sim, b, [Fallback(...), Retry(...), CircuitBreaker(sim, ...), Timeout(0.5)])

Each stage is a function ``run(call, done, waiting)`` wrapping the next one;
``done`` receives one :class:`~course.sim.outcomes.Outcome` and is called
exactly once. ``waiting`` lists the attempts sent beneath the nearest stage
above that may stop waiting for them (see :func:`_waiting`), so that when a
Timeout, a Retry deadline or a winning hedge gives up on an attempt, the
client's records say so at that moment, whatever the server answers later.
"""

from __future__ import annotations

import math
from functools import partial

from .latency import Latency
from .outcomes import Outcome
from .policies import (ACCEPTED, AdaptiveThrottle, Bulkhead, CircuitBreaker, Fallback, Hedge, Retry, Timeout)
from .records import Log, Steps
from .service import Call

_OK = Outcome.OK
_TIMEOUT = Outcome.TIMEOUT
_NAN = math.nan


def _waiting(outer) -> list:
    """A new list of the attempts sent beneath a stage that may stop waiting for them, one per call it runs.

    It is ``[outer, gave_up, row, row, ...]``: the list of the stage above
    that may give up too (or None), the outcome this one gave up with (None
    while it waits), then the attempt rows, each listed in every such list
    it was sent under. When the stage gives up (:meth:`Client._give_up`) the
    attempts still unanswered end with that outcome for the client, and any
    attempt sent beneath it later (nobody waits for its answer) ends as it
    leaves. A list rather than an object: this is on the hottest path of
    the simulator.
    """
    return [outer, None]


class Client:
    """Calls ``target`` (a :class:`~course.sim.service.Service`) through ``policies`` (outermost first).

    ``network`` is an optional latency added before each attempt reaches the
    target. Every attempt that leaves the client is logged in :attr:`attempts`
    as the client saw it (see :meth:`records`), and every call made through the
    client in :attr:`calls`.
    """

    def __init__(self, sim, target, policies=(), *, name: str | None = None, network: Latency | None = None):
        self.sim = sim
        self.target = target
        self.name = name or f"to-{target.name}"
        self.policies = list(policies)
        self.network = network
        self._network_stream = sim.rng(f"client:{self.name}:network")
        self._jitter_stream = sim.rng(f"client:{self.name}:jitter")
        self.created = sim.now()
        self.attempts = Log(root="i8", sent="f8", answered="f8", outcome="i1")
        self.calls = Log(root="i8", start="f8", end="f8", outcome="i1")
        # The hot paths append to the log columns directly.
        self._attempt_root, self._attempt_sent, self._attempt_answered_at, self._attempt_outcome = (
            self.attempts.columns.values())
        self._call_root, self._call_start, self._call_end, self._call_outcome = self.calls.columns.values()
        chain = self._send
        for policy in reversed(self.policies):
            chain = _wrap(self, policy, chain)
        self._chain = chain

    def call(self, call: Call, done) -> None:
        """Make one call; ``done(outcome)`` runs once when it is over."""
        row = len(self._call_root)
        self._call_root.append(call.root)
        self._call_start.append(self.sim._now)
        self._call_end.append(_NAN)
        self._call_outcome.append(-1)
        self._chain(call, partial(self._call_answered, row, done), None)

    def _call_answered(self, row: int, done, outcome) -> None:
        self._call_end[row] = self.sim._now
        self._call_outcome[row] = outcome
        done(outcome)

    def _send(self, call: Call, done, waiting) -> None:
        sim = self.sim
        row = len(self._attempt_root)
        self._attempt_root.append(call.root)
        self._attempt_sent.append(sim._now)
        self._attempt_answered_at.append(_NAN)
        self._attempt_outcome.append(-1)
        while waiting is not None:
            waiting.append(row)
            if waiting[1] is not None:  # sent after a stage above gave up: nobody waits for its answer
                self._attempt_answered_at[row] = sim._now
                self._attempt_outcome[row] = waiting[1]
            waiting = waiting[0]
        answered = partial(self._attempt_answered, row, done)
        if self.network is None:
            self.target.submit(call, answered)
        else:
            sim.schedule(self.network.sample(self._network_stream), self.target.submit, call, answered)

    def _attempt_answered(self, row: int, done, outcome) -> None:
        if self._attempt_outcome[row] == -1:  # else the client gave up on it before this answer came
            self._attempt_answered_at[row] = self.sim._now
            self._attempt_outcome[row] = outcome
        done(outcome)

    def _give_up(self, waiting: list, outcome: Outcome) -> None:
        """A stage stops waiting (see :func:`_waiting`): its attempts not answered yet end now with ``outcome``."""
        waiting[1] = outcome
        now = self.sim._now
        answered_at, outcomes = self._attempt_answered_at, self._attempt_outcome
        for row in waiting[2:]:
            if outcomes[row] == -1:
                answered_at[row] = now
                outcomes[row] = outcome

    @property
    def in_flight(self) -> Steps:
        """Attempts the client is waiting for, over time: from ``sent`` until ``answered``."""
        r = self.attempts.arrays()
        return Steps.from_intervals(r["sent"], r["answered"], self.created)

    def records(self) -> dict:
        """One row per attempt sent, as the client saw it, as numpy arrays.

        ``root`` the id of the top-level request; ``sent`` when the attempt
        left; ``answered`` when the client stopped waiting for it (NaN if it
        still was when the run ended); ``outcome`` as :class:`Outcome` codes
        (-1 likewise): the target's answer if it came in time, ``TIMEOUT`` if
        a Timeout or a Retry deadline gave up on it first, ``CANCELLED`` if a
        hedged copy of it answered first. What the target itself did with the
        attempt, including answers nobody waited for, is in the target's own
        records (:meth:`Service.records <course.sim.service.Service.records>`).
        """
        return self.attempts.arrays()

    def call_records(self) -> dict:
        """Per-call arrays: ``root``, ``start``, ``end``, ``outcome`` as the caller saw them."""
        return self.calls.arrays()


def _wrap(client: Client, policy, inner):
    for kind, wrapper in _WRAPPERS:
        if isinstance(policy, kind):
            return wrapper(client, policy, inner)
    raise ValueError(f"policies must be course.sim.policies objects (Timeout, Retry, CircuitBreaker, Bulkhead, "
                     f"AdaptiveThrottle, Hedge, Fallback); got {policy!r}")


# A Timeout's per-attempt state is a three-item list, [done, timer, waiting]: cheaper than an
# object on the hottest path of the simulator. ``done`` becomes None once the attempt is over.

def _timed_out(client, state) -> None:
    done = state[0]
    if done is not None:
        state[0] = state[1] = None
        client._give_up(state[2], _TIMEOUT)
        done(_TIMEOUT)


def _answered_in_time(sim, state, outcome) -> None:
    done = state[0]
    if done is not None:  # else the timeout already answered, and this late answer is ignored
        sim.cancel(state[1])
        state[0] = state[1] = None
        done(outcome)


def _timeout(client, policy: Timeout, inner):
    sim = client.sim
    seconds = policy.seconds

    def run(call, done, waiting):
        now = sim._now
        deadline = now + seconds if call.deadline is None else policy.deadline(now, call.deadline)
        if deadline <= now:
            done(_TIMEOUT)
            return
        waiting = [waiting, None]  # _waiting(waiting), inline
        state = [done, None, waiting]
        state[1] = sim.at(deadline, _timed_out, client, state)
        inner(call.with_deadline(deadline), partial(_answered_in_time, sim, state), waiting)

    return run


class _RetryingCall:
    """One call under a Retry policy: sends attempts until one succeeds or the policy says stop."""

    __slots__ = ("client", "sim", "policy", "rng", "inner", "call", "done", "waiting", "started", "timer")

    def __init__(self, client, policy, rng, inner, call, done, waiting):
        self.client, self.sim, self.policy, self.rng, self.inner = client, client.sim, policy, rng, inner
        self.call, self.done, self.waiting = call, done, waiting
        self.started = self.sim._now
        self.timer = None
        if policy.deadline is not None:
            # The overall deadline bounds attempts in flight too, not only new retries.
            self.call = call = call.with_deadline(self.started + policy.deadline)
            if call.deadline > self.started:
                self.waiting = _waiting(waiting)
                self.timer = self.sim.at(call.deadline, self.expire)

    def attempt(self, number: int, previous_delay: float) -> None:
        """Send attempt ``number`` (1 for the first)."""
        if self.done is None:
            return  # the deadline has already answered
        if self.call.deadline is not None and self.call.deadline <= self.sim._now:
            self.finish(Outcome.TIMEOUT)
            return
        self.inner(self.call, partial(self.result, number, previous_delay), self.waiting)

    def result(self, number: int, previous_delay: float, outcome) -> None:
        """How attempt ``number`` ended: finish, or schedule the next attempt."""
        if self.done is None:
            return  # the deadline has already answered
        if outcome is _OK:
            self.finish(outcome)
            return
        now = self.sim._now
        delay = self.policy.next_delay(number, outcome, self.started, now, previous_delay, self.rng)
        deadline = self.call.deadline
        if delay is None or (deadline is not None and now + delay >= deadline):
            self.finish(outcome)
        else:
            self.sim.schedule(delay, self.attempt, number + 1, delay)

    def expire(self) -> None:
        """The deadline has come: give up on the attempt in flight, if any, and answer TIMEOUT."""
        if self.done is not None:
            self.timer = None
            self.client._give_up(self.waiting, _TIMEOUT)
            self.finish(_TIMEOUT)

    def finish(self, outcome) -> None:
        """Answer the caller, once."""
        done, self.done = self.done, None
        if done is None:
            return
        if self.timer is not None:
            self.sim.cancel(self.timer)
            self.timer = None
        done(outcome)


def _retry(client, policy: Retry, inner):
    rng = client._jitter_stream
    budget = policy.budget

    def run(call, done, waiting):
        if budget is not None:
            budget.record_request()
        _RetryingCall(client, policy, rng, inner, call, done, waiting).attempt(1, 0.0)

    return run


def _breaker(client, policy: CircuitBreaker, inner):
    sim = client.sim

    def run(call, done, waiting):
        if not policy.allow():
            done(Outcome.BREAKER_OPEN)
            return
        started = sim._now

        def answered(outcome):
            duration = sim._now - started
            if outcome is _OK:
                policy.on_success(duration)
            elif outcome is Outcome.FATAL:
                policy.on_ignored()  # a caller's mistake says nothing about the dependency's health
            else:
                policy.on_failure(duration)
            done(outcome)

        inner(call, answered, waiting)

    return run


def _bulkhead(client, policy: Bulkhead, inner):
    def run(call, done, waiting):
        if not policy.try_acquire():
            done(Outcome.BULKHEAD_FULL)
            return

        def answered(outcome):
            policy.release()
            done(outcome)

        inner(call, answered, waiting)

    return run


def _throttle(client, policy: AdaptiveThrottle, inner):
    rng = client.sim.rng(f"client:{client.name}:throttle")

    def run(call, done, waiting):
        if not policy.allow(rng):
            done(Outcome.THROTTLED)
            return

        def answered(outcome):
            if outcome in ACCEPTED:
                policy.record_accept()
            done(outcome)

        inner(call, answered, waiting)

    return run


def _hedge(client, policy: Hedge, inner):
    sim = client.sim

    def run(call, done, waiting):
        state = {"over": False, "sent": 0, "answered": 0, "last": Outcome.ERROR, "timers": []}
        copies = _waiting(waiting)

        def send():
            state["sent"] += 1
            inner(call, answered, copies)

        def answered(outcome):
            state["answered"] += 1
            if state["over"]:
                return
            if outcome is _OK:
                finish(outcome)
                return
            state["last"] = outcome
            timers = state["timers"]
            if timers:  # a failure: send the next hedge now instead of waiting
                sim.cancel(timers.pop(0))
                send()
            elif state["answered"] == state["sent"]:
                finish(outcome)

        def finish(outcome):
            state["over"] = True
            for timer in state["timers"]:
                sim.cancel(timer)
            if state["answered"] < state["sent"]:  # the copies still out are no longer waited for
                client._give_up(copies, Outcome.CANCELLED)
            done(outcome)

        def hedge_fires():
            state["timers"].pop(0)
            send()

        now = sim._now
        state["timers"] = [sim.at(t, hedge_fires) for t in policy.hedge_times(now)]
        send()

    return run


def _fallback(client, policy: Fallback, inner):
    def run(call, done, waiting):
        def answered(outcome):
            done(Outcome.FALLBACK if policy.handles_outcome(outcome) else outcome)

        inner(call, answered, waiting)

    return run


_WRAPPERS = (
    (Timeout, _timeout),
    (Retry, _retry),
    (CircuitBreaker, _breaker),
    (Bulkhead, _bulkhead),
    (AdaptiveThrottle, _throttle),
    (Hedge, _hedge),
    (Fallback, _fallback),
)
