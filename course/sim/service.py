"""Services: a pool of workers in front of a queue, doing work and calling other services."""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from . import _validate
from .faults import Down, Errors, FaultSchedule, Slow
from .latency import Latency
from .outcomes import Outcome
from .records import Log, Steps

_OK, _ERROR, _REJECTED = Outcome.OK, Outcome.ERROR, Outcome.REJECTED
_NAN = math.nan
#: How long a refused connection takes to fail, in seconds.
REFUSE_DELAY = 0.001


class Call:
    """What travels with a call: the top-level request it belongs to and its deadline (or None)."""

    __slots__ = ("root", "deadline")

    def __init__(self, root: int, deadline: float | None = None):
        self.root = root
        self.deadline = deadline

    def with_deadline(self, deadline: float | None) -> "Call":
        """A copy whose deadline is the earlier of this one's and ``deadline``."""
        if deadline is None or (self.deadline is not None and self.deadline <= deadline):
            return self
        return Call(self.root, deadline)


class Dependency:
    """A downstream call that a service makes, with probability ``probability``, while holding its worker.

    ``fanout`` sends that many calls at once (a scatter-gather, as a search
    front end asks every index shard) and waits for all of them: the slowest
    one decides. Any failure among them fails the step.
    """

    def __init__(self, client, probability: float = 1.0, fanout: int = 1):
        self.client = client
        self.probability = _validate.probability("probability", probability)
        self.fanout = _validate.integer_at_least("fanout", fanout, 1)


class _Job:
    """One call inside a service: where it is logged, who waits for it, which dependencies it still has to call."""

    __slots__ = ("service", "call", "on_done", "row", "arrived", "route", "next_dependency", "outstanding", "failed")

    def __init__(self, service, call, on_done, row, arrived, route):
        self.service = service
        self.call = call
        self.on_done = on_done
        self.row = row
        self.arrived = arrived
        self.route = route
        self.next_dependency = 0
        self.outstanding = 0
        self.failed = False

    def dependency_answered(self, outcome) -> None:
        """A downstream call is over: go on to the next one, or fail this call."""
        if outcome.is_success:
            self.next_dependency += 1
            self.service._call_downstream(self)
        else:
            self.service._finish(self, self.service.dependency_failure)

    def fanout_answered(self, outcome) -> None:
        """One of a fan-out's calls is over; the step ends when the last one is."""
        self.outstanding -= 1
        if not outcome.is_success:
            self.failed = True
        if self.outstanding == 0:
            if self.failed:
                self.service._finish(self, self.service.dependency_failure)
            else:
                self.next_dependency += 1
                self.service._call_downstream(self)


class Service:
    """A service with ``workers`` threads and a FIFO queue in front of them.

    Each accepted call waits for a free worker, does ``latency`` seconds of
    local work, then makes its downstream calls one after another, holding the
    worker the whole time. That held worker is how a slow dependency turns
    into a slow caller.

    Server-side protection:
      * ``queue_limit``: calls that arrive to a full queue are rejected at once
        (a bounded queue; None means unbounded).
      * ``max_queue_wait``: a call that waited longer than this is shed when it
        reaches the front instead of being worked on (load shedding by queue time).
      * ``drop_expired``: a call whose propagated deadline has passed is shed
        when it reaches the front: nobody is waiting for its answer any more.

    ``calls`` lists :class:`Dependency` objects. A downstream failure makes the
    call fail with ``dependency_failure``: ``ERROR`` (callers may retry) or
    ``NO_RETRY`` (the SRE book's advice: only the layer directly above a
    failure retries it). Every call is logged in :attr:`log` (see
    :meth:`records`); :attr:`busy_series` and :attr:`queue_series` rebuild
    busy workers and queue length from that log as step functions.
    """

    def __init__(self, sim, name: str, workers: int, latency: Latency, *, queue_limit: int | None = None,
                 max_queue_wait: float | None = None, drop_expired: bool = False,
                 faults: FaultSchedule | None = None, calls=(), dependency_failure: Outcome = Outcome.ERROR):
        self.sim = sim
        self.name = name
        self.workers = _validate.integer_at_least("workers", workers, 1)
        if not isinstance(latency, Latency):
            raise ValueError(f"latency must be a course.sim latency distribution, got {latency!r}")
        self.latency = latency
        self.queue_limit = None if queue_limit is None else _validate.integer_at_least("queue_limit", queue_limit, 0)
        self.max_queue_wait = None if max_queue_wait is None else _validate.positive("max_queue_wait", max_queue_wait)
        self.drop_expired = bool(drop_expired)
        self.faults = faults or FaultSchedule()
        # Which kinds of fault there are, so the hot paths ask only the questions that matter.
        self._may_be_down = any(isinstance(f, Down) for f in self.faults.faults)
        self._may_be_slow = any(isinstance(f, Slow) for f in self.faults.faults)
        self._may_fail = any(isinstance(f, Errors) for f in self.faults.faults)
        self.calls = list(calls)
        if dependency_failure not in (Outcome.ERROR, Outcome.NO_RETRY):
            raise ValueError(f"dependency_failure must be Outcome.ERROR or Outcome.NO_RETRY, got {dependency_failure!r}")
        self.dependency_failure = Outcome(dependency_failure)
        self._work_stream = sim.rng(f"service:{name}:work")
        self._draw_work = latency.sampler(self._work_stream)
        self._steady_error_rate = self.faults.constant_error_rate()
        self._fault_stream = sim.rng(f"service:{name}:faults")
        self._route_stream = sim.rng(f"service:{name}:routes")
        self.queue: deque = deque()
        self.busy = 0
        self.created = sim.now()
        self.log = Log(root="i8", arrival="f8", start="f8", end="f8", outcome="i1", route="i4")
        log = self.log.columns
        self._root, self._arrival, self._start_col = log["root"], log["arrival"], log["start"]
        self._end, self._outcome, self._route = log["end"], log["outcome"], log["route"]

    # -- arrivals -----------------------------------------------------------
    def submit(self, call: Call, on_done) -> None:
        """Accept a call; ``on_done(outcome)`` runs when the service answers (perhaps never, if it hangs)."""
        sim = self.sim
        now = sim._now
        route = 0
        if self.calls:
            for index, dependency in enumerate(self.calls):
                if dependency.probability >= 1.0 or self._route_stream.random() < dependency.probability:
                    route |= 1 << index
        row = len(self._root)
        self._root.append(call.root)
        self._arrival.append(now)
        self._start_col.append(_NAN)
        self._end.append(_NAN)
        self._outcome.append(-1)
        self._route.append(route)
        if self._may_be_down:
            mode = self.faults.down_mode(now)
            if mode == "refuse":
                sim.schedule(REFUSE_DELAY, self._answer_unserved, row, on_done, _ERROR)
                return
            if mode == "hang":
                return
        job = _Job(self, call, on_done, row, now, route)
        if self.busy < self.workers:
            self._start(job)
        elif self.queue_limit is not None and len(self.queue) >= self.queue_limit:
            self._answer_unserved(row, on_done, _REJECTED)
        else:
            self.queue.append(job)

    def _answer_unserved(self, row: int, on_done, outcome: Outcome) -> None:
        self._end[row] = self.sim._now
        self._outcome[row] = outcome
        on_done(outcome)

    # -- work ---------------------------------------------------------------
    def _start(self, job: _Job) -> None:
        sim = self.sim
        now = sim._now
        self.busy += 1
        self._start_col[job.row] = now
        duration = self._draw_work()
        if self._may_be_slow:
            duration *= self.faults.slow_factor(now)
        sim.schedule(duration, self._call_downstream if job.route else self._complete, job)

    def _call_downstream(self, job: _Job) -> None:
        calls = self.calls
        index = job.next_dependency
        route = job.route
        while index < len(calls) and not route >> index & 1:
            index += 1
        job.next_dependency = index
        if index < len(calls):
            dependency = calls[index]
            if dependency.fanout == 1:
                dependency.client.call(job.call, job.dependency_answered)
            else:
                job.outstanding = dependency.fanout
                job.failed = False
                for _ in range(dependency.fanout):
                    dependency.client.call(job.call, job.fanout_answered)
        else:
            self._complete(job)

    def _complete(self, job: _Job) -> None:
        """Local work and every dependency done: answer OK, unless an error fault strikes."""
        outcome = _OK
        if self._may_fail:
            rate = self._steady_error_rate
            if rate is None:
                rate = self.faults.error_rate(self.sim._now)
            if rate and self._fault_stream.random() < rate:
                outcome = _ERROR
        self._finish(job, outcome)

    def _finish(self, job: _Job, outcome: Outcome) -> None:
        self.busy -= 1
        row = job.row
        self._end[row] = self.sim._now
        self._outcome[row] = outcome
        if self.queue:
            self._start_next()
        job.on_done(outcome)

    def _start_next(self) -> None:
        queue = self.queue
        now = self.sim._now
        while queue and self.busy < self.workers:
            job = queue.popleft()
            expired = self.drop_expired and job.call.deadline is not None and job.call.deadline <= now
            waited_too_long = self.max_queue_wait is not None and now - job.arrived > self.max_queue_wait
            if expired or waited_too_long:
                self._answer_unserved(job.row, job.on_done, _REJECTED)
                continue
            self._start(job)

    # -- results ------------------------------------------------------------
    def records(self) -> dict:
        """One row per call this service received, as numpy arrays.

        ``arrival``, ``start`` (NaN if never started) and ``end`` (NaN if never
        answered) in seconds; ``outcome`` as :class:`Outcome` codes (-1 if
        unanswered); ``route`` a bit mask of the dependencies the call makes;
        ``root`` the id of the top-level request. This is what the service
        did, whether or not its caller was still waiting: a caller that timed
        out records ``TIMEOUT`` in its own client's records, while the row
        here keeps the answer the service gave later (or -1 if it never did).
        """
        return self.log.arrays()

    @property
    def busy_series(self) -> Steps:
        """Busy workers over time: each started call holds a worker from ``start`` to ``end``."""
        r = self.log.arrays()
        return Steps.from_intervals(r["start"], r["end"], self.created)

    @property
    def queue_series(self) -> Steps:
        """Calls waiting for a worker over time.

        A call waits from ``arrival`` until it starts, or, if it never
        starts, until it is shed from the queue (answered REJECTED after
        arriving) or, if it is still queued, until now. Calls refused,
        rejected at the door or dropped by a hung service never waited.
        """
        r = self.log.arrays()
        started = np.isfinite(r["start"])
        shed = ~started & (r["outcome"] == int(_REJECTED)) & (r["end"] > r["arrival"])
        still_waiting = np.zeros(started.size, dtype=bool)
        still_waiting[[job.row for job in self.queue]] = True
        waited = started | shed | still_waiting
        left = np.where(started, r["start"], r["end"])
        return Steps.from_intervals(r["arrival"][waited], left[waited], self.created)

    def mean_in_system(self, until: float | None = None) -> float:
        """The time-average number of calls in the service (queued plus in service): L in Little's law."""
        until = self.sim.now() if until is None else until
        return self.busy_series.time_average(until) + self.queue_series.time_average(until)

    def utilisation(self, until: float | None = None) -> float:
        """The mean share of workers busy since the start."""
        until = self.sim.now() if until is None else until
        return self.busy_series.time_average(until) / self.workers

    def __repr__(self):
        return f"Service({self.name!r}, workers={self.workers}, latency={self.latency!r})"
