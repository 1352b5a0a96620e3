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

from .latency import Latency
from .outcomes import Outcome
from .policies import (ACCEPTED, AdaptiveThrottle, Bulkhead, CircuitBreaker, Fallback, Hedge, Retry, Timeout)
from .records import Log, StepSeries
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
        self.attempts = Log(root="i8", sent="f8", answered="f8", outcome="i1")
        self.calls = Log(root="i8", start="f8", end="f8", outcome="i1")
        self.in_flight = StepSeries(sim.now())
        chain = self._send
        for policy in reversed(self.policies):
            chain = _wrap(self, policy, chain)
        self._chain = chain

    def call(self, call: Call, done) -> None:
        """Make one call; ``done(outcome)`` runs once when it is over."""
        row = self.calls.append(call.root, self.sim._now, _NAN, -1)

        def finished(outcome, row=row):
            row[2] = self.sim._now
            row[3] = int(outcome)
            done(outcome)

        self._chain(call, finished)

    def _send(self, call: Call, done) -> None:
        sim = self.sim
        row = self.attempts.append(call.root, sim._now, _NAN, -1)
        series = self.in_flight
        series.change(sim._now, series._last_value + 1)

        def answered(outcome, row=row):
            row[2] = sim._now
            row[3] = int(outcome)
            series.change(sim._now, series._last_value - 1)
            done(outcome)

        if self.network is None:
            self.target.submit(call, answered)
        else:
            sim.schedule(self.network.sample(self._network_stream), self.target.submit, call, answered)

    def records(self) -> dict:
        """Per-attempt arrays: ``root``, ``sent``, ``answered`` (NaN if never), ``outcome`` (-1 if never)."""
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


def _once(done):
    """Wrap ``done`` so that only its first call has an effect; returns (wrapped, is_done)."""
    state = [False]

    def first(outcome):
        if not state[0]:
            state[0] = True
            done(outcome)

    return first, state


def _timeout(client, policy: Timeout, inner):
    sim = client.sim

    def run(call, done):
        now = sim._now
        deadline = policy.deadline(now, call.deadline)
        if deadline <= now:
            done(Outcome.TIMEOUT)
            return
        finish, _ = _once(done)
        timer = sim.at(deadline, finish, Outcome.TIMEOUT)

        def answered(outcome):
            sim.cancel(timer)
            finish(outcome)

        inner(call.with_deadline(deadline), answered)

    return run


def _retry(client, policy: Retry, inner):
    sim = client.sim
    rng = client._jitter_stream
    budget = policy.budget

    def run(call, done):
        started = sim._now
        if budget is not None:
            budget.record_request()
        timer = over = None
        if policy.deadline is not None:
            # The overall deadline bounds attempts in flight too, not only new retries.
            call = call.with_deadline(started + policy.deadline)
            done, over = _once(done)
            timer = sim.at(call.deadline, done, Outcome.TIMEOUT)

        def attempt(number, previous_delay):
            inner(call, lambda outcome: result(number, outcome, previous_delay))

        def result(number, outcome, previous_delay):
            if over is not None and over[0]:
                return  # the deadline has already answered
            if outcome is _OK:
                finish(outcome)
                return
            now = sim._now
            delay = policy.next_delay(number, outcome, started, now, previous_delay, rng)
            if delay is None or (call.deadline is not None and now + delay >= call.deadline):
                finish(outcome)
            else:
                sim.schedule(delay, attempt, number + 1, delay)

        def finish(outcome):
            if timer is not None:
                sim.cancel(timer)
            done(outcome)

        attempt(1, 0.0)

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
