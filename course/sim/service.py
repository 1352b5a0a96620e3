"""Services: a pool of workers in front of a queue, doing work and calling other services."""

from __future__ import annotations

import math
from collections import deque

from . import _validate
from .faults import Down, Errors, FaultSchedule, Slow
from .latency import Latency
from .outcomes import Outcome
from .records import Log, StepSeries

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
    """A downstream call that a service makes, with probability ``probability``, while holding its worker."""

    def __init__(self, client, probability: float = 1.0):
        self.client = client
        self.probability = _validate.probability("probability", probability)


class _Job:
    __slots__ = ("call", "on_done", "row", "arrived", "route")

    def __init__(self, call, on_done, row, arrived, route):
        self.call = call
        self.on_done = on_done
        self.row = row
        self.arrived = arrived
        self.route = route


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
    call fail with ``ERROR``. Every call is logged in :attr:`log` (see
    :meth:`records`); busy workers and queue length are logged as step series.
    """

    def __init__(self, sim, name: str, workers: int, latency: Latency, *, queue_limit: int | None = None,
                 max_queue_wait: float | None = None, drop_expired: bool = False,
                 faults: FaultSchedule | None = None, calls=()):
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
        self._work_stream = sim.rng(f"service:{name}:work")
        self._fault_stream = sim.rng(f"service:{name}:faults")
        self._route_stream = sim.rng(f"service:{name}:routes")
        self.queue: deque = deque()
        self.busy = 0
        start = sim.now()
        self.busy_series = StepSeries(start)
        self.queue_series = StepSeries(start)
        self.log = Log(root="i8", arrival="f8", start="f8", end="f8", outcome="i1", route="i4")

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
        row = self.log.append(call.root, now, _NAN, _NAN, -1, route)
        if self._may_be_down:
            mode = self.faults.down_mode(now)
            if mode == "refuse":
                sim.schedule(REFUSE_DELAY, self._answer_unserved, row, on_done, _ERROR)
                return
            if mode == "hang":
                return
        job = _Job(call, on_done, row, now, route)
        if self.busy < self.workers:
            self._start(job)
        elif self.queue_limit is not None and len(self.queue) >= self.queue_limit:
            self._answer_unserved(row, on_done, _REJECTED)
        else:
            self.queue.append(job)
            self.queue_series.change(now, len(self.queue))

    def _answer_unserved(self, row: list, on_done, outcome: Outcome) -> None:
        row[3] = self.sim._now
        row[4] = int(outcome)
        on_done(outcome)

    # -- work ---------------------------------------------------------------
    def _start(self, job: _Job) -> None:
        sim = self.sim
        now = sim._now
        self.busy += 1
        self.busy_series.change(now, self.busy)
        job.row[2] = now
        duration = self.latency.sample(self._work_stream)
        if self._may_be_slow:
            duration *= self.faults.slow_factor(now)
        sim.schedule(duration, self._call_downstream, job, 0)

    def _call_downstream(self, job: _Job, index: int) -> None:
        calls = self.calls
        while index < len(calls) and not job.route >> index & 1:
            index += 1
        if index == len(calls):
            outcome = _OK
            if self._may_fail:
                rate = self.faults.error_rate(self.sim._now)
                if rate and self._fault_stream.random() < rate:
                    outcome = _ERROR
            self._finish(job, outcome)
            return

        def downstream_done(outcome, job=job, index=index):
            if outcome.is_success:
                self._call_downstream(job, index + 1)
            else:
                self._finish(job, _ERROR)

        calls[index].client.call(job.call, downstream_done)

    def _finish(self, job: _Job, outcome: Outcome) -> None:
        now = self.sim._now
        self.busy -= 1
        self.busy_series.change(now, self.busy)
        row = job.row
        row[3] = now
        row[4] = int(outcome)
        if self.queue:
            self._start_next()
        job.on_done(outcome)

    def _start_next(self) -> None:
        queue = self.queue
        now = self.sim._now
        while queue and self.busy < self.workers:
            job = queue.popleft()
            self.queue_series.change(now, len(queue))
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
        ``root`` the id of the top-level request.
        """
        return self.log.arrays()

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
