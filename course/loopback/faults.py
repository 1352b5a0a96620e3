"""Faults on real time: a stub HTTP server that delays, fails, resets or hangs, by script or by seeded chance.

This is the real-time counterpart of :mod:`course.sim.faults`. Where the
simulator's faults are windows of virtual time, these are decided per
request, in the order requests arrive:

==========================  ==========================================================
``course.sim.faults``        here
==========================  ==========================================================
``Slow``                     :class:`Delay` (wait, then answer)
``Errors``                   :class:`Fail` (an error status, optionally ``Retry-After``)
``Down(mode="hang")``        :class:`Hang` (read the request, never answer)
``Down(mode="refuse")``      :class:`Reset` (the connection is reset, no HTTP answer);
                             a refused connection proper is a closed server's port
==========================  ==========================================================

::

    from course.loopback import FaultServer, Ok, Delay, Fail, Reset, Hang

    with FaultServer(script=[Fail(503), Fail(429, retry_after=1), Delay(0.3), Ok(body={"id": "ch_1"})]) as stub:
        ...                              # point the client under test at stub.url
        stub.calls                       # how many requests arrived
        stub.headers("Idempotency-Key")  # that header, one entry per request (None if absent)

    # or by chance, reproducibly: each request draws its fault from random.Random(seed)
    FaultServer(app, faults={Fail(503): 0.2, Reset(): 0.05, Delay(0.2): 0.1}, seed=7)

Why not a library: ``responses`` and ``respx`` patch one client library
(requests, httpx) instead of serving real HTTP, so they cannot test a client's
sockets, timeouts or a pact verifier. ``pytest-httpserver`` serves real HTTP
through werkzeug, but its documented ways to get a connection error or a
timeout are a closed port and a handler that sleeps: it has no reset of an
accepted connection and no hang that ends when the server stops. Toxiproxy has
all of these as "toxics" but runs as a separate Go server that its Python
client drives. So the course keeps this small tool on the standard library.
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Union

from .server import Request, Response, RunningServer, _Drop


def _check_status(name: str, value, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}, got {value!r}")
    return value


def _check_body(value):
    if value is not None and not isinstance(value, (dict, list, str, bytes)):
        raise ValueError(f"body must be None, a dict, a list, a str or bytes, got {type(value).__name__}")
    return value


def _check_fault(name: str, value):
    if not isinstance(value, FAULTS):
        raise ValueError(f"{name} must be a fault (Ok, Delay, Fail, Reset or Hang), got {value!r}")
    return value


@dataclass(frozen=True)
class Ok:
    """Answer normally.

    With an app, ``Ok()`` passes the request to the app. ``Ok(status, body,
    headers)`` with anything set is a canned answer sent instead (without an
    app, ``Ok()`` is an empty ``200``). ``headers`` is a mapping or pairs.
    """

    status: int = 200
    body: None | dict | list | str | bytes = None
    headers: tuple[tuple[str, str], ...] = ()

    def __post_init__(self):
        _check_status("status", self.status, 200, 399)
        _check_body(self.body)
        try:
            pairs = tuple(self.headers.items()) if isinstance(self.headers, Mapping) else tuple(self.headers)
            pairs = tuple((name, value) for name, value in pairs)
        except (TypeError, ValueError):
            raise ValueError(f"headers must be a mapping or (name, value) pairs, got {self.headers!r}") from None
        object.__setattr__(self, "headers", pairs)
        Response(self.status, self.body, dict(pairs))  # the same checks as a real answer

    @property
    def forwards(self) -> bool:
        """True if this is a plain ``Ok()``, which a FaultServer with an app passes to the app."""
        return self.status == 200 and self.body is None and not self.headers


@dataclass(frozen=True)
class Delay:
    """Wait ``seconds`` of real time, then do ``then`` (by default answer normally)."""

    seconds: float
    then: Fault = field(default_factory=Ok)

    def __post_init__(self):
        seconds = self.seconds
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 <= seconds < math.inf:
            raise ValueError(f"seconds must be a finite number >= 0, got {seconds!r}")
        _check_fault("then", self.then)


@dataclass(frozen=True)
class Fail:
    """Answer with error ``status``; ``retry_after`` adds a ``Retry-After`` header.

    ``retry_after`` is whole seconds (sent as an integer string, as HTTP
    requires) or a str sent verbatim (an HTTP date, say). ``body`` as in
    :class:`~course.loopback.server.Response` (None: empty).
    """

    status: int = 503
    retry_after: int | str | None = None
    body: None | dict | list | str | bytes = None

    def __post_init__(self):
        _check_status("status", self.status, 400, 599)
        after = self.retry_after
        if isinstance(after, str):
            if not after.strip() or any(c in after for c in "\r\n"):
                raise ValueError(f"retry_after must be whole seconds >= 0 or a header value, got {after!r}")
        elif after is not None and (isinstance(after, bool) or not isinstance(after, int) or after < 0):
            raise ValueError(f"retry_after must be whole seconds >= 0 (an int), a header value (str) or None, "
                             f"got {after!r}")
        _check_body(self.body)

    def response(self) -> Response:
        """The answer this fault sends."""
        headers = {} if self.retry_after is None else {"Retry-After": str(self.retry_after)}
        return Response(self.status, self.body, headers)


@dataclass(frozen=True)
class Reset:
    """Read the request, then close the connection with SO_LINGER 0: the client sees a reset, no HTTP answer."""


@dataclass(frozen=True)
class Hang:
    """Read the request and never answer; the connection is released (closed) when the server closes."""


FAULTS = (Ok, Delay, Fail, Reset, Hang)
Fault = Union[Ok, Delay, Fail, Reset, Hang]


class FaultPlan:
    """Which fault the i-th request gets (counting from 0).

    The first ``len(script)`` requests get the script's faults in order. After
    that, if ``faults`` is given (a mapping fault → probability, or a sequence
    of ``(fault, probability)`` pairs, probabilities summing to at most 1), the
    k-th later request draws its fault as the k-th number of
    ``random.Random(seed)``: the faults in the order given take consecutive
    slices of [0, 1), and a draw past them all gets ``then``. Without
    ``faults``, every request after the script gets ``then``. So the plan is
    a fixed sequence for a given seed: :meth:`choose` may be called without
    any HTTP, in any order, and gives the same answer each time.
    """

    def __init__(self, script=(), then: Fault = Ok(), faults=None, seed: int = 0):
        if isinstance(script, (str, bytes)) or isinstance(script, FAULTS):
            raise ValueError(f"script must be a sequence of faults, got {script!r}")
        try:
            script = tuple(script)
        except TypeError:
            raise ValueError(f"script must be a sequence of faults, got {script!r}") from None
        for i, fault in enumerate(script):
            _check_fault(f"script[{i}]", fault)
        self.script = script
        self.then = _check_fault("then", then)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"seed must be a whole number, got {seed!r}")
        self.seed = seed
        self.faults = self._check_faults(faults)
        self._rng = random.Random(seed)
        self._draws: list[Fault] = []
        self._lock = threading.Lock()

    @staticmethod
    def _check_faults(faults) -> tuple[tuple[Fault, float], ...] | None:
        if faults is None:
            return None
        if isinstance(faults, Mapping):
            pairs = list(faults.items())
        else:
            try:
                pairs = [tuple(pair) for pair in faults]
            except TypeError:
                raise ValueError(f"faults must map faults to probabilities, got {faults!r}") from None
        total = 0.0
        for i, pair in enumerate(pairs):
            if len(pair) != 2:
                raise ValueError(f"faults must map faults to probabilities, got {pair!r} at position {i}")
            fault, p = pair
            _check_fault(f"faults[{i}]", fault)
            if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
                raise ValueError(f"faults: the probability of {fault!r} must be in [0, 1], got {p!r}")
            total += p
        if total > 1 + 1e-9:
            raise ValueError(f"faults: probabilities must sum to at most 1, got {total!r}")
        return tuple(pairs)

    def choose(self, i: int) -> Fault:
        """The fault for request number ``i`` (0 for the first)."""
        if isinstance(i, bool) or not isinstance(i, int) or i < 0:
            raise ValueError(f"i must be a whole number >= 0, got {i!r}")
        if i < len(self.script):
            return self.script[i]
        if self.faults is None:
            return self.then
        k = i - len(self.script)
        with self._lock:
            while len(self._draws) <= k:
                self._draws.append(self._draw())
            return self._draws[k]

    def _draw(self) -> Fault:
        u = self._rng.random()
        edge = 0.0
        for fault, p in self.faults:
            edge += p
            if u < edge:
                return fault
        return self.then

    def __repr__(self):
        return f"FaultPlan(script={list(self.script)!r}, then={self.then!r}, faults={self.faults!r}, seed={self.seed})"


@dataclass(frozen=True)
class LogEntry:
    """One request a FaultServer received and the fault it applied (``index`` counts from 0)."""

    index: int
    request: Request
    fault: Fault


class FaultServer(RunningServer):
    """A stub service on ``127.0.0.1`` that applies a :class:`FaultPlan` to each request, in arrival order.

    ``app`` (optional) answers the requests whose fault is a plain ``Ok()``.
    ``script``, ``then``, ``faults`` and ``seed`` make the plan (see
    :class:`FaultPlan`; it is also :attr:`plan`). Like :func:`serve`, it starts
    at once and is a context manager with the same attributes (``url``,
    ``port``, ``requests``, ...) plus :attr:`log`, :attr:`calls`,
    :meth:`headers`, :meth:`applied` and :meth:`gaps`.

    Requests are numbered in the order the server finished reading them; with
    concurrent clients that order is the race's outcome. Delays and hangs wait
    without holding any lock, each on its own connection's thread, so a hung
    request never stops others being served; closing the server ends them.
    """

    def __init__(self, app=None, *, script=(), then: Fault = Ok(), faults=None, seed: int = 0, name: str = "stub"):
        if app is not None and not callable(app):
            raise ValueError(f"app must be callable or None, got {app!r}")
        self.plan = FaultPlan(script, then=then, faults=faults, seed=seed)
        self.log: list[LogEntry] = []
        self._has_app = app is not None
        super().__init__(app if app is not None else _no_app, name=name)

    def _admit(self, request: Request):
        super()._admit(request)
        entry = LogEntry(len(self.log), request, self.plan.choose(len(self.log)))
        self.log.append(entry)
        return entry.fault

    def _respond(self, request: Request, fault) -> Response:
        while isinstance(fault, Delay):
            self._pause(fault.seconds)
            fault = fault.then
        if isinstance(fault, Ok):
            if fault.forwards and self._has_app:
                return self._call_app(request)
            return Response(fault.status, fault.body, dict(fault.headers))
        if isinstance(fault, Fail):
            return fault.response()
        if isinstance(fault, Reset):
            raise _Drop(reset=True)
        self._hang()  # Hang

    # -- what tests want to know -------------------------------------------------------------------

    @property
    def calls(self) -> int:
        """How many requests have arrived."""
        return len(self.log)

    def headers(self, name: str) -> list[str | None]:
        """Header ``name`` (any case) of each request in order, None where a request did not send it."""
        return [entry.request.headers.get(name) for entry in list(self.log)]

    def applied(self) -> list[Fault]:
        """The fault applied to each request, in order."""
        return [entry.fault for entry in list(self.log)]

    def gaps(self) -> list[float]:
        """Seconds between consecutive requests' arrivals (len = calls - 1): a client's waits between retries."""
        times = [entry.request.received_at for entry in list(self.log)]
        return [later - earlier for earlier, later in zip(times, times[1:])]


def _no_app(request: Request) -> Response:
    return Response(200)
