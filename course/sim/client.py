"""Clients: how a caller reaches a service through a pipeline of resilience policies.

A :class:`Client` takes the plain policy objects from :mod:`course.sim.policies`
(the same objects that run on real time through ``policies.sync.Pipeline``)
and runs them on the simulator's event loop, outermost first, like a Polly
pipeline or a stack of Resilience4j decorators::

    Client(sim, b, [Fallback(...), Retry(...), CircuitBreaker(sim, ...), Timeout(0.5)])

Each stage is a function ``run(call, done)`` wrapping the next one; ``done``
receives one :class:`~course.sim.outcomes.Outcome` and is called exactly once.
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
_NAN = math.nan


class Client:
    """Calls ``target`` (a :class:`~course.sim.service.Service`) through ``policies`` (outermost first).

    ``network`` is an optional latency added before each attempt reaches the
    target. Every attempt that leaves the client is logged in :attr:`attempts`,
    and every call made through the client in :attr:`calls`.
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
        chain = self._send
        for policy in reversed(self.policies):
            chain = _wrap(self, policy, chain)
        self._chain = chain

    def call(self, call: Call, done) -> None:
        """Make one call; ``done(outcome)`` runs once when it is over."""
        columns = self.calls.columns
        row = len(columns["root"])
        columns["root"].append(call.root)
        columns["start"].append(self.sim._now)
        columns["end"].append(_NAN)
        columns["outcome"].append(-1)
        self._chain(call, _Answer(self.sim, columns["end"], columns["outcome"], row, done).answered)

    def _send(self, call: Call, done) -> None:
        sim = self.sim
        columns = self.attempts.columns
        row = len(columns["root"])
        columns["root"].append(call.root)
        columns["sent"].append(sim._now)
        columns["answered"].append(_NAN)
        columns["outcome"].append(-1)
        answered = _Answer(sim, columns["answered"], columns["outcome"], row, done).answered
        if self.network is None:
            self.target.submit(call, answered)
        else:
            sim.schedule(self.network.sample(self._network_stream), self.target.submit, call, answered)

    @property
    def in_flight(self) -> Steps:
        """Attempts sent and not yet answered, over time."""
        r = self.attempts.arrays()
        return Steps.from_intervals(r["sent"], r["answered"], self.created)

    def records(self) -> dict:
        """Per-attempt arrays: ``root``, ``sent``, ``answered`` (NaN if never), ``outcome`` (-1 if never)."""
        return self.attempts.arrays()

    def call_records(self) -> dict:
        """Per-call arrays: ``root``, ``start``, ``end``, ``outcome`` as the caller saw them."""
        return self.calls.arrays()


class _Answer:
    """Logs when and how a logged call or attempt ended, then passes the outcome on."""

    __slots__ = ("sim", "ended", "how", "row", "done")

    def __init__(self, sim, ended, how, row, done):
        self.sim = sim
        self.ended = ended
        self.how = how
        self.row = row
        self.done = done

    def answered(self, outcome) -> None:
        """Record the answer and hand it to whoever is waiting."""
        self.ended[self.row] = self.sim._now
        self.how[self.row] = outcome
        self.done(outcome)


def _wrap(client: Client, policy, inner):
    for kind, wrapper in _WRAPPERS:
        if isinstance(policy, kind):
            return wrapper(client, policy, inner)
    raise ValueError(f"policies must be course.sim.policies objects (Timeout, Retry, CircuitBreaker, Bulkhead, "
                     f"AdaptiveThrottle, Hedge, Fallback); got {policy!r}")


class _TimedAttempt:
    """One attempt under a Timeout: the answer or the timer, whichever comes first, ends it."""

    __slots__ = ("sim", "done", "timer")

    def __init__(self, sim, done):
        self.sim = sim
        self.done = done
        self.timer = None

    def timed_out(self) -> None:
        """The timer fired first."""
        done, self.done, self.timer = self.done, None, None
        if done is not None:
            done(Outcome.TIMEOUT)

    def answered(self, outcome) -> None:
        """The answer came first (or late, after the timeout: then it is ignored)."""
        done, self.done = self.done, None
        if done is not None:
            self.sim.cancel(self.timer)
            self.timer = None
            done(outcome)


def _timeout(client, policy: Timeout, inner):
    sim = client.sim

    def run(call, done):
        now = sim._now
        deadline = policy.deadline(now, call.deadline)
        if deadline <= now:
            done(Outcome.TIMEOUT)
            return
        attempt = _TimedAttempt(sim, done)
        attempt.timer = sim.at(deadline, attempt.timed_out)
        inner(call.with_deadline(deadline), attempt.answered)

    return run


class _RetryingCall:
    """One call under a Retry policy: sends attempts until one succeeds or the policy says stop."""

    __slots__ = ("sim", "policy", "rng", "inner", "call", "done", "started", "timer")

    def __init__(self, sim, policy, rng, inner, call, done):
        self.sim, self.policy, self.rng, self.inner = sim, policy, rng, inner
        self.call, self.done = call, done
        self.started = sim._now
        self.timer = None
        if policy.deadline is not None:
            # The overall deadline bounds attempts in flight too, not only new retries.
            self.call = call = call.with_deadline(self.started + policy.deadline)
            if call.deadline > self.started:
                self.timer = sim.at(call.deadline, self.finish, Outcome.TIMEOUT)

    def attempt(self, number: int, previous_delay: float) -> None:
        """Send attempt ``number`` (1 for the first)."""
        if self.done is None:
            return  # the deadline has already answered
        if self.call.deadline is not None and self.call.deadline <= self.sim._now:
            self.finish(Outcome.TIMEOUT)
            return
        self.inner(self.call, partial(self.result, number, previous_delay))

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
    sim = client.sim
    rng = client._jitter_stream
    budget = policy.budget

    def run(call, done):
        if budget is not None:
            budget.record_request()
        _RetryingCall(sim, policy, rng, inner, call, done).attempt(1, 0.0)

    return run


def _breaker(client, policy: CircuitBreaker, inner):
    sim = client.sim

    def run(call, done):
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

        inner(call, answered)

    return run


def _bulkhead(client, policy: Bulkhead, inner):
    def run(call, done):
        if not policy.try_acquire():
            done(Outcome.BULKHEAD_FULL)
            return

        def answered(outcome):
            policy.release()
            done(outcome)

        inner(call, answered)

    return run


def _throttle(client, policy: AdaptiveThrottle, inner):
    rng = client.sim.rng(f"client:{client.name}:throttle")

    def run(call, done):
        if not policy.allow(rng):
            done(Outcome.THROTTLED)
            return

        def answered(outcome):
            if outcome in ACCEPTED:
                policy.record_accept()
            done(outcome)

        inner(call, answered)

    return run


def _hedge(client, policy: Hedge, inner):
    sim = client.sim

    def run(call, done):
        state = {"over": False, "sent": 0, "answered": 0, "last": Outcome.ERROR, "timers": []}

        def send():
            state["sent"] += 1
            inner(call, answered)

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
            done(outcome)

        def hedge_fires():
            state["timers"].pop(0)
            send()

        now = sim._now
        state["timers"] = [sim.at(t, hedge_fires) for t in policy.hedge_times(now)]
        send()

    return run


def _fallback(client, policy: Fallback, inner):
    def run(call, done):
        def answered(outcome):
            done(Outcome.FALLBACK if policy.handles_outcome(outcome) else outcome)

        inner(call, answered)

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
