"""Load: who sends the top-level requests.

* :class:`OpenLoop` — arrivals come as a Poisson process whatever happens to
  earlier requests (internet traffic: users do not wait for each other).
* :class:`ClosedLoop` — a fixed number of users, each sending one request,
  waiting for the answer, thinking, and sending the next.
"""

from __future__ import annotations

import bisect
import math
from functools import partial

import numpy as np

from . import _validate
from .latency import Exponential, Latency
from .records import Log
from .service import Call
from .streams import _BATCH

_NAN = math.nan


class RateSchedule:
    """A piecewise-constant arrival rate: ``RateSchedule([(0, 100), (30, 250)])`` is 100/s until t=30, then 250/s."""

    def __init__(self, steps):
        steps = sorted((float(t), r) for t, r in steps)
        if not steps:
            raise ValueError("steps must hold at least one (time, rate) pair")
        if steps[0][0] > 0:
            steps.insert(0, (0.0, 0.0))
        for t, rate in steps:
            _validate.non_negative("time", t)
            _validate.non_negative("rate", rate)
        self.times = [t for t, _ in steps]
        self.rates = [r for _, r in steps]
        self.peak = max(self.rates)

    def rate(self, t: float) -> float:
        """Arrivals per second at time ``t``."""
        return self.rates[bisect.bisect_right(self.times, t) - 1]


class _Load:
    def __init__(self, sim, entry, name: str, deadline: float | None):
        self.sim = sim
        self.entry = entry
        self.name = name
        self.deadline = None if deadline is None else _validate.positive("deadline", deadline)
        self.log = Log(root="i8", start="f8", end="f8", outcome="i1")
        self._root, self._start, self._end, self._outcome = self.log.columns.values()
        self._ids = _RootIds.of(sim)

    def _send(self, on_answer=None) -> None:
        sim = self.sim
        now = sim._now
        ids = self._ids
        ids.value += 1  # what ids.next() does, without the call: this runs once per request
        root = ids.value
        row = len(self._root)
        self._root.append(root)
        self._start.append(now)
        self._end.append(_NAN)
        self._outcome.append(-1)
        deadline = None if self.deadline is None else now + self.deadline
        self.entry.call(Call(root, deadline), partial(self._answered, row, on_answer))

    def _answered(self, row: int, on_answer, outcome) -> None:
        self._end[row] = self.sim._now
        self._outcome[row] = outcome
        if on_answer is not None:
            on_answer()

    def records(self) -> dict:
        """One row per top-level request: ``root``, ``start``, ``end`` (NaN if unanswered), ``outcome``."""
        return self.log.arrays()


class OpenLoop(_Load):
    """Poisson arrivals at ``rate`` per second (a number or a :class:`RateSchedule`) until ``until``.

    ``entry`` is anything with ``call(call, done)``: a :class:`~course.sim.client.Client`
    or a :class:`~course.sim.service.Service` adapter. ``deadline`` (seconds)
    stamps each request with an absolute deadline that clients may propagate.
    """

    def __init__(self, sim, entry, rate, *, until: float, name: str = "load", deadline: float | None = None,
                 start: float = 0.0):
        super().__init__(sim, entry, name, deadline)
        self.schedule = rate if isinstance(rate, RateSchedule) else RateSchedule([(0.0, _validate.non_negative("rate", rate))])
        self.until = _validate.positive("until", until)
        self._stream = sim.rng(f"load:{name}:arrivals")
        if self.schedule.peak > 0:
            sim.at(max(start, sim.now()), self._next)

    def _next(self) -> None:
        # Thinning: candidate arrivals at the peak rate, each kept with probability rate(t)/peak.
        sim = self.sim
        schedule = self.schedule
        peak = schedule.peak
        stream = self._stream
        until = self.until
        t = sim._now + stream.exponential(1.0 / peak)
        if len(schedule.rates) == 1:  # a constant rate: no need to look it up (the draw still happens)
            rate = schedule.rates[0]
            while t < until and stream.random() * peak >= rate:
                t += stream.exponential(1.0 / peak)
        else:
            while t < until and stream.random() * peak >= schedule.rate(t):
                t += stream.exponential(1.0 / peak)
        if t < until:
            sim.at(t, self._arrive)

    def _arrive(self) -> None:
        self._send()
        self._next()


def open_loop_arrival_times(sim, rate, *, until: float, name: str = "load") -> list:
    """The arrival times ``OpenLoop(sim, entry, rate, until=until, name=name)`` would produce, in one go.

    For models written directly on the engine that need OpenLoop's arrivals
    without its events. OpenLoop thins a Poisson stream at the schedule's
    peak rate: from the last arrival it adds an exponential gap and keeps the
    candidate if ``uniform() * peak < rate(t)``, one exponential and one
    uniform per candidate, from the stream ``load:<name>:arrivals``. A
    :class:`~course.sim.streams.Stream` fills each kind of draw in batches of
    its own and hands a batch out from its end, so the batches leave the
    generator alternately, exponentials first. Replaying that with whole
    arrays (``np.cumsum`` adds in order, as the loop does) gives the very same
    floats, bit for bit. The stream must not have been used before.
    """
    schedule = rate if isinstance(rate, RateSchedule) else RateSchedule([(0.0, _validate.non_negative("rate", rate))])
    _validate.positive("until", until)
    stream_name = f"load:{name}:arrivals"
    if sim.has_stream(stream_name):
        raise ValueError(f"the stream {stream_name!r} has been drawn from already: these would not be OpenLoop's "
                         f"arrivals (use another name, or a fresh Simulation)")
    generator = sim.rng(stream_name).generator
    peak = schedule.peak
    if peak <= 0:
        return []
    mean = 1.0 / peak
    gaps, uniforms = [], []
    candidates = np.zeros(1)
    while candidates[-1] < until:  # draw batches, in the Stream's order, until the candidates pass ``until``
        gaps.append(mean * generator.standard_exponential(_BATCH)[::-1])
        uniforms.append(generator.random(_BATCH)[::-1])
        candidates = np.cumsum(np.concatenate(gaps))
    draws = np.concatenate(uniforms)
    inside = candidates < until
    candidates, draws = candidates[inside], draws[inside]
    if len(schedule.rates) == 1:
        keep = draws * peak < schedule.rates[0]
    else:
        keep = draws * peak < np.array([schedule.rate(x) for x in candidates.tolist()])
    return candidates[keep].tolist()


class ClosedLoop(_Load):
    """``users`` users, each sending a request, waiting for its answer, then thinking for ``think`` seconds."""

    def __init__(self, sim, entry, users: int, *, think: Latency | float = 1.0, until: float, name: str = "users",
                 deadline: float | None = None):
        super().__init__(sim, entry, name, deadline)
        _validate.integer_at_least("users", users, 1)
        self.think = think if isinstance(think, Latency) else Exponential(_validate.positive("think", think))
        self.until = _validate.positive("until", until)
        self._stream = sim.rng(f"load:{name}:think")
        for _ in range(users):
            sim.schedule(self.think.sample(self._stream), self._user_sends)

    def _user_sends(self) -> None:
        if self.sim._now < self.until:
            self._send(on_answer=self._user_thinks)

    def _user_thinks(self) -> None:
        self.sim.schedule(self.think.sample(self._stream), self._user_sends)


class _RootIds:
    """One counter of top-level request ids per simulation."""

    def __init__(self):
        self.value = -1

    def next(self) -> int:
        self.value += 1
        return self.value

    @staticmethod
    def of(sim) -> "_RootIds":
        ids = getattr(sim, "_root_ids", None)
        if ids is None:
            ids = sim._root_ids = _RootIds()
        return ids


class Direct:
    """Lets load call a service with no client in between: ``OpenLoop(sim, Direct(service), ...)``."""

    def __init__(self, service):
        self.service = service

    def call(self, call: Call, done) -> None:
        """Hand the call straight to the service."""
        self.service.submit(call, done)
