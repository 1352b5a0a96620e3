"""Lesson 07's traces: one request through A → B → C, read back from the simulator's own records.

The chain. Load arrives at A as a Poisson stream (:data:`RATE` per second for
``duration`` seconds). A does a little work, then calls B through a client
with one :class:`~course.sim.Timeout` (``a_timeout``, propagated as a
deadline). B does a little work, then calls C through a client with three
policies, outermost first: a :class:`~course.sim.Retry` (:data:`MAX_ATTEMPTS`
attempts, equal-jitter backoff of at least :data:`BACKOFF_BASE` / 2), a
:class:`~course.sim.Hedge` (one copy ``hedge_delay`` after the first, or at
once if the first fails sooner; only with ``hedging`` on) and a per-attempt
:class:`~course.sim.Timeout` (``b_timeout``). Every hop from a client to its
server takes :data:`NETWORK` seconds; answers come back at once. C is usually
quick (:data:`C_FAST`), but a ``slow_share`` of its calls are slow
(:data:`C_SLOW`, a heavy tail well past any sensible timeout), and each call
fails with ``error_rate`` when its work is done; between ``burst[0]`` and
``burst[1]`` seconds the error rate is ``burst[2]`` (an incident for the RED
panels to find). C has workers to spare (nothing waits for one unless a
setting is extreme); A has few, so a pile of slow requests makes A queue.

There is no tracing library here: every service logs each call it received
(root, arrival, start, end, outcome) and every client each call and each
attempt it sent (root, sent, answered, outcome as the client saw it), and
that is enough to rebuild a trace:

* :func:`spans` gives the trace of one request: a span per server call, per
  client call and per attempt, with its parent, kind (``"request"``,
  ``"server"``, ``"call"``, ``"attempt"``, ``"retry"``, ``"hedge"``),
  outcome, and whether the server went on working after its caller stopped
  waiting (``abandoned``). Attempts are matched to the server calls they
  became by order: per request, the n-th attempt a client sent is the n-th
  call its server received, and it arrived exactly :data:`NETWORK` later.
* :func:`pick` finds a request worth looking at ("typical", "slowest", one
  with a retry, a hedge, a timeout, or the most eventful), the same one for
  the same seed.
* :func:`red` gives RED metrics per service and time window (Tom Wilkie's
  rate, errors, duration; the SRE book's advice to track error latency
  separately is followed).
* :func:`latency_sources` splits one request's end-to-end time along its
  critical path: each service's own work and queueing, the network, retry
  backoff, and time spent waiting on attempts whose answer was not used
  (timed out, failed, or overtaken by their hedge).

:func:`attempt_failure`, :func:`hedge_share` and :func:`retry_share` are the
theory the long-run figures are checked against.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from statistics import NormalDist

import numpy as np

from course.sim import (Backoff, Bimodal, Client, Constant, Dependency, Direct, Errors, FaultSchedule, Hedge,
                        LogNormal, OpenLoop, Outcome, Retry, Service, Simulation, Timeout, _validate)

#: The services, caller first, and the hops between them (caller, callee).
SERVICES = ("A", "B", "C")
HOPS = (("A", "B"), ("B", "C"))
#: Requests per second, and how long the load lasts (s).
RATE = 30.0
DURATION = 30.0
#: The RED window (s).
WINDOW = 2.0
#: One-way network time of every hop from a client to its server (s).
NETWORK = 0.001
#: Workers and local work per service.
A_WORKERS, B_WORKERS, C_WORKERS = 3, 16, 64
A_WORK = LogNormal(0.002, 0.008)
B_WORK = LogNormal(0.003, 0.012)
#: C's usual latency (median 10 ms, p99 30 ms) and its slow mode (median 300 ms, p99 1 s).
C_FAST = LogNormal(0.010, 0.030)
C_SLOW = LogNormal(0.300, 1.0)
#: Defaults: C's slow share and error rate, its error burst (start s, end s, error rate), the timeouts (s) and
#: the hedge delay (s), past C's fast p99.9.
SLOW_SHARE = 0.05
ERROR_RATE = 0.02
BURST = (12.0, 18.0, 0.2)
A_TIMEOUT = 1.0
B_TIMEOUT = 0.15
HEDGE_DELAY = 0.05
#: B's retries of C: attempts (the first included) and the equal-jitter backoff's base and cap (s).
MAX_ATTEMPTS = 3
BACKOFF_BASE, BACKOFF_CAP = 0.02, 0.2

#: Span kinds, and what :func:`pick` can look for.
KINDS = ("request", "server", "call", "attempt", "retry", "hedge")
PICKS = ("typical", "slowest", "retry", "hedge", "timeout", "eventful")
#: Where a request's time goes (:func:`latency_sources`), in this order.
SOURCES = ("A queue", "A work", "B queue", "B work", "C queue", "C work", "network", "backoff",
           "timeouts & failed attempts")

_OK, _TIMEOUT, _CANCELLED = int(Outcome.OK), int(Outcome.TIMEOUT), int(Outcome.CANCELLED)
_EPS = 1e-9


def hop_name(caller: str, callee: str) -> str:
    """``"A→B"``: how hops are keyed in :attr:`TraceRun.attempts` and :attr:`TraceRun.calls`."""
    return f"{caller}→{callee}"


@dataclass(frozen=True)
class Span:
    """One piece of a trace.

    ``kind`` is ``"request"`` (the load generator's record), ``"server"``
    (a service handling one call: ``start`` is its arrival, ``work_start``
    when a worker took it), ``"call"`` (a client call, covering all its
    attempts and backoff) or an attempt: ``"attempt"`` (the first),
    ``"retry"`` or ``"hedge"``. ``service`` is the service that did the work
    or waited (the caller, for calls and attempts); ``target`` the one called.
    ``outcome`` is an :class:`~course.sim.Outcome` code as that side saw it
    (-1 if never answered). ``abandoned`` marks a server span that went on
    after its caller stopped waiting (a timeout, a lost hedge). ``number`` is
    the attempt's retry number (0 for the first attempt and its hedge).
    """

    id: int
    parent: int | None
    kind: str
    service: str
    target: str | None
    start: float
    end: float
    outcome: int
    label: str
    abandoned: bool = False
    work_start: float = math.nan
    number: int = 0

    @property
    def duration(self) -> float:
        return self.end - self.start


class _ByRoot:
    """Rows of a log grouped by request (root), each group in log order."""

    def __init__(self, roots: np.ndarray):
        self.order = np.argsort(roots, kind="stable")
        self.sorted = roots[self.order]

    def rows(self, root: int) -> list[int]:
        lo, hi = np.searchsorted(self.sorted, (root, root + 1))
        return self.order[lo:hi].tolist()


@dataclass
class TraceRun:
    """One run of the chain: the settings and every log, as numpy arrays.

    ``load`` is the load generator's records, ``servers[name]`` a service's
    records (:meth:`Service.records <course.sim.Service.records>`),
    ``attempts[hop]`` and ``calls[hop]`` a client's attempt and call records,
    keyed by :func:`hop_name`.
    """

    slow_share: float
    b_timeout: float
    hedging: bool
    hedge_delay: float
    a_timeout: float
    error_rate: float
    burst: tuple | None
    rate: float
    duration: float
    seed: int
    load: dict
    servers: dict
    attempts: dict
    calls: dict
    _index: dict = field(default_factory=dict, repr=False)

    @property
    def requests(self) -> int:
        return int(self.load["root"].size)

    @property
    def latency(self) -> np.ndarray:
        """End-to-end time of each request (s), in root order."""
        return self.load["end"] - self.load["start"]

    def max_hedges(self, hop: str) -> int:
        """Copies the hop's client may add to an attempt."""
        return 1 if (self.hedging and hop == hop_name("B", "C")) else 0

    def rows(self, table: str, key: str, root: int) -> list[int]:
        """Row numbers of ``table`` (``"servers"``, ``"attempts"``, ``"calls"``) under ``key`` for one request."""
        index = self._index.get((table, key))
        if index is None:
            index = self._index[(table, key)] = _ByRoot(getattr(self, table)[key]["root"])
        return index.rows(root)

    def hop_features(self, hop: str) -> dict:
        """Per request (root order), on one hop: how many retries, hedges and timed-out attempts it had."""
        key = ("features", hop)
        if key in self._index:
            return self._index[key]
        n = self.requests
        a = self.attempts[hop]
        counts = {"retries": np.zeros(n, dtype=int), "hedges": np.zeros(n, dtype=int),
                  "timeouts": np.bincount(a["root"][a["outcome"] == _TIMEOUT], minlength=n)[:n]}
        if self.max_hedges(hop) == 0:
            # No hedging: every attempt after the first of its request is a retry (one call per request per hop).
            counts["retries"] = np.maximum(np.bincount(a["root"], minlength=n)[:n] - 1, 0)
        else:
            index = _ByRoot(a["root"])
            sent, answered = a["sent"][index.order].tolist(), a["answered"][index.order].tolist()
            roots = index.sorted.tolist()
            start = 0
            for i in range(1, len(roots) + 1):
                if i == len(roots) or roots[i] != roots[start]:
                    kinds, _ = _attempt_kinds(sent[start:i], answered[start:i], self.max_hedges(hop))
                    counts["retries"][roots[start]] = kinds.count("retry")
                    counts["hedges"][roots[start]] = kinds.count("hedge")
                    start = i
        self._index[key] = counts
        return counts

    @property
    def features(self) -> dict:
        """Per request (root order): how many retries, hedges and timed-out attempts it had, on every hop."""
        hops = [self.hop_features(hop_name(*h)) for h in HOPS]
        return {key: sum(h[key] for h in hops) for key in ("retries", "hedges", "timeouts")}


def _check(slow_share, b_timeout, hedge_delay, a_timeout, error_rate, burst, rate, duration, seed):
    _validate.probability("slow_share", slow_share)
    _validate.positive("b_timeout", b_timeout)
    _validate.positive("hedge_delay", hedge_delay)
    _validate.positive("a_timeout", a_timeout)
    _validate.probability("error_rate", error_rate)
    if burst is not None:
        if not (isinstance(burst, tuple) and len(burst) == 3):
            raise ValueError(f"burst must be None or (start s, end s, error rate), got {burst!r}")
        _validate.non_negative("burst start", burst[0])
        _validate.non_negative("burst end", burst[1])
        if not burst[1] > burst[0]:
            raise ValueError(f"burst end must be after its start ({burst[0]!r}), got {burst[1]!r}")
        _validate.probability("burst error rate", burst[2])
    _validate.positive("rate", rate)
    _validate.positive("duration", duration)
    _validate.integer_at_least("seed", seed, 0)


def c_latency(slow_share: float) -> Bimodal:
    """C's work: :data:`C_FAST`, or with probability ``slow_share`` :data:`C_SLOW`."""
    return Bimodal(C_FAST, C_SLOW, _validate.probability("slow_share", slow_share))


def _c_faults(error_rate: float, burst) -> FaultSchedule:
    if burst is None:
        return FaultSchedule(Errors(error_rate))
    start, end, burst_rate = burst
    faults = [Errors(burst_rate, start, end), Errors(error_rate, end)]
    if start > 0:
        faults.append(Errors(error_rate, 0.0, start))
    return FaultSchedule(*faults)


def simulate(slow_share: float = SLOW_SHARE, b_timeout: float = B_TIMEOUT, hedging: bool = True,
             hedge_delay: float = HEDGE_DELAY, a_timeout: float = A_TIMEOUT, error_rate: float = ERROR_RATE,
             burst: tuple | None = BURST, rate: float = RATE, duration: float = DURATION, seed: int = 1) -> TraceRun:
    """Run the chain once (see the module docstring); times in seconds. ``burst=None`` keeps C's error rate steady."""
    _check(slow_share, b_timeout, hedge_delay, a_timeout, error_rate, burst, rate, duration, seed)
    sim = Simulation(seed=seed)
    network = Constant(NETWORK)
    c = Service(sim, "C", workers=C_WORKERS, latency=c_latency(slow_share), faults=_c_faults(error_rate, burst))
    policies = [Retry(MAX_ATTEMPTS, Backoff("equal_jitter", BACKOFF_BASE, BACKOFF_CAP))]
    if hedging:
        policies.append(Hedge(hedge_delay))
    policies.append(Timeout(b_timeout))
    b_to_c = Client(sim, c, policies, name=hop_name("B", "C"), network=network)
    b = Service(sim, "B", workers=B_WORKERS, latency=B_WORK, calls=[Dependency(b_to_c)])
    a_to_b = Client(sim, b, [Timeout(a_timeout)], name=hop_name("A", "B"), network=network)
    a = Service(sim, "A", workers=A_WORKERS, latency=A_WORK, calls=[Dependency(a_to_b)])
    load = OpenLoop(sim, Direct(a), rate=rate, until=duration)
    sim.run()  # the load stops at ``duration``; every request then runs to its end
    clients = {b_to_c.name: b_to_c, a_to_b.name: a_to_b}
    records = load.records()
    if not np.array_equal(records["root"], np.arange(records["root"].size)):  # spans() and pick() index by root
        raise RuntimeError("request ids are not 0, 1, 2, ... in the load's records")
    return TraceRun(slow_share=slow_share, b_timeout=b_timeout, hedging=bool(hedging), hedge_delay=hedge_delay,
                    a_timeout=a_timeout, error_rate=error_rate, burst=burst, rate=rate, duration=duration, seed=seed,
                    load=records, servers={s.name: s.records() for s in (a, b, c)},
                    attempts={name: client.records() for name, client in clients.items()},
                    calls={name: client.call_records() for name, client in clients.items()})


@lru_cache(maxsize=32)
def simulate_cached(slow_share: float = SLOW_SHARE, b_timeout: float = B_TIMEOUT, hedging: bool = True,
                    seed: int = 1) -> TraceRun:
    """:func:`simulate` at the dashboard's settings, remembered per setting."""
    return simulate(slow_share, b_timeout, hedging, seed=seed)


# -- traces --------------------------------------------------------------------------------------------

def _attempt_kinds(sent: list, answered: list, max_hedges: int) -> tuple[list, list]:
    """The kind (``"attempt"``, ``"hedge"``, ``"retry"``) and retry number of each attempt of one call, in sent order.

    A copy sent while an earlier copy of the same attempt was still out (or
    at the very instant one failed: a hedge fires early on a failure) is a
    hedge, up to ``max_hedges`` per attempt; any other is a retry, which
    always comes a backoff (> 0) after the last copy before it ended.
    """
    kinds, numbers = [], []
    number, copies, until = -1, 0, -math.inf
    for s, a in zip(sent, answered):
        a = math.inf if math.isnan(a) else a
        if number >= 0 and copies <= max_hedges and s <= until:
            kinds.append("hedge")
            copies += 1
            until = max(until, a)
        else:
            number += 1
            kinds.append("attempt" if number == 0 else "retry")
            copies, until = 1, a
        numbers.append(number)
    return kinds, numbers


def _check_root(run: TraceRun, root) -> int:
    if isinstance(root, (bool, np.bool_)) or not isinstance(root, (int, np.integer)) or not 0 <= root < run.requests:
        raise ValueError(f"root must be a request id from 0 to {run.requests - 1}, got {root!r}")
    return int(root)


def spans(run: TraceRun, root: int) -> list[Span]:
    """The trace of request ``root``: its spans depth first, each after its parent (see :class:`Span`)."""
    root = _check_root(run, root)
    load = run.load
    out = [Span(0, None, "request", "user", SERVICES[0], float(load["start"][root]), float(load["end"][root]),
                int(load["outcome"][root]), f"request {root}")]
    rows = run.rows("servers", SERVICES[0], root)
    for row in rows:
        _server_spans(run, out, SERVICES[0], row, out[0], root)
    return out


def _server_spans(run: TraceRun, out: list, name: str, row: int, parent: Span, root: int) -> None:
    r = run.servers[name]
    start, work, end = float(r["arrival"][row]), float(r["start"][row]), float(r["end"][row])
    abandoned = math.isnan(end) or end > parent.end + _EPS
    span = Span(len(out), parent.id, "server", name, None, start, end, int(r["outcome"][row]), name,
                abandoned=abandoned, work_start=work)
    out.append(span)
    hops = [callee for caller, callee in HOPS if caller == name]
    if not hops:
        return
    callee = hops[0]
    hop = hop_name(name, callee)
    calls = run.calls[hop]
    finish = math.inf if math.isnan(end) else end
    for call_row in run.rows("calls", hop, root):
        call_start = float(calls["start"][call_row])
        if not (work - _EPS <= call_start <= finish + _EPS):
            continue  # another of this request's calls to ``name`` made it
        call = Span(len(out), span.id, "call", name, callee, call_start, float(calls["end"][call_row]),
                    int(calls["outcome"][call_row]), f"{name} → {callee} call")
        out.append(call)
        _attempt_spans(run, out, hop, name, callee, call, root)


def _attempt_spans(run: TraceRun, out: list, hop: str, caller: str, callee: str, call: Span, root: int) -> None:
    a = run.attempts[hop]
    every = run.rows("attempts", hop, root)
    targets = run.rows("servers", callee, root)
    if len(every) != len(targets):
        raise RuntimeError(f"request {root}: {len(every)} attempts on {hop} but {len(targets)} calls at {callee}")
    call_end = math.inf if math.isnan(call.end) else call.end
    mine = [(row, target) for row, target in zip(every, targets)
            if call.start - _EPS <= a["sent"][row] <= call_end + _EPS]
    sent = [float(a["sent"][row]) for row, _ in mine]
    answered = [float(a["answered"][row]) for row, _ in mine]
    kinds, numbers = _attempt_kinds(sent, answered, run.max_hedges(hop))
    for (row, target), kind, number, s, e in zip(mine, kinds, numbers, sent, answered):
        label = {"attempt": f"{caller} → {callee}", "retry": f"{caller} → {callee} retry {number}",
                 "hedge": f"{caller} → {callee} hedge"}[kind]
        attempt = Span(len(out), call.id, kind, caller, callee, s, e, int(a["outcome"][row]), label, number=number)
        out.append(attempt)
        arrival = float(run.servers[callee]["arrival"][target])
        if abs(arrival - (s + NETWORK)) > 1e-6:
            raise RuntimeError(f"request {root}: attempt sent at {s} on {hop} matched a call arriving at {arrival}")
        _server_spans(run, out, callee, target, attempt, root)


def pick(run: TraceRun, kind: str = "eventful") -> int | None:
    """A request worth drawing, the same one for the same run; ``None`` if no request is of that kind.

    ``"typical"``: the median request by end-to-end time; ``"slowest"``:
    the slowest; ``"retry"``, ``"hedge"``, ``"timeout"``: the median one
    among requests with at least one retry, hedge or timed-out attempt;
    ``"eventful"``: the median one among requests showing the most of the
    three (all three when any request does). Ties go to the lower id.
    """
    _validate.one_of("kind", kind, PICKS)
    latency = run.latency
    f = run.features
    if kind in ("typical", "slowest"):
        chosen = np.arange(run.requests)
    elif kind == "eventful":
        score = (f["retries"] > 0).astype(int) + (f["hedges"] > 0) + (f["timeouts"] > 0)
        chosen = np.flatnonzero(score == score.max()) if score.size else score
    else:
        chosen = np.flatnonzero(f[{"retry": "retries", "hedge": "hedges", "timeout": "timeouts"}[kind]] > 0)
    if chosen.size == 0:
        return None
    order = chosen[np.lexsort((chosen, latency[chosen]))]
    return int(order[-1] if kind == "slowest" else order[(order.size - 1) // 2])


# -- where the time went --------------------------------------------------------------------------------

def latency_sources(run: TraceRun, root: int, trace: list[Span] | None = None) -> dict[str, float]:
    """Seconds of request ``root``'s end-to-end time by :data:`SOURCES`, along its critical path; they add up to it.

    Walking back from the end: a server's time is its queueing, then its own
    work, then the call it is waiting on. A call's time belongs to the
    attempt that gave it its answer (its network hop, then the server's
    time); before that attempt was sent, the call was waiting on earlier
    attempts whose answers were not used ("timeouts & failed attempts":
    timed out, failed, or overtaken by their hedge) or sleeping between
    attempts ("backoff"). An attempt the caller gave up on counts up to the
    moment it gave up. ``trace`` may pass :func:`spans` already built.
    """
    trace = spans(run, root) if trace is None else trace
    children: dict[int, list[Span]] = {}
    for span in trace[1:]:
        children.setdefault(span.parent, []).append(span)
    totals = dict.fromkeys(SOURCES, 0.0)
    request = trace[0]
    for server in children.get(request.id, []):
        _server_time(server, request.end, children, totals)
    return totals


def _add(totals: dict, key: str, begin: float, end: float) -> None:
    if end > begin:
        totals[key] += end - begin


def _server_time(span: Span, until: float, children: dict, totals: dict) -> None:
    u = until if math.isnan(span.end) else min(span.end, until)
    queued = u if math.isnan(span.work_start) else min(span.work_start, u)
    _add(totals, f"{span.service} queue", span.start, queued)
    t = queued
    for call in children.get(span.id, []):
        if call.start >= u:
            break
        _add(totals, f"{span.service} work", t, call.start)
        _call_time(call, u, children, totals)
        t = u if math.isnan(call.end) else min(call.end, u)
    _add(totals, f"{span.service} work", t, u)


def _call_time(call: Span, until: float, children: dict, totals: dict) -> None:
    attempts = children.get(call.id, [])
    u = until if math.isnan(call.end) else min(call.end, until)
    t, final = u, True
    while t > call.start:
        out = [a for a in attempts if a.start < t and (math.isnan(a.end) or a.end >= t)]
        if out:
            chosen = out[-1]
            if final and t == call.end:  # the call's answer: the copy that answered then (not one cancelled then)
                answering = [a for a in out if a.end == t and a.outcome != _CANCELLED]
                chosen = answering[-1] if answering else chosen
            if final:
                _attempt_time(chosen, t, children, totals)
            else:
                _add(totals, "timeouts & failed attempts", chosen.start, t)
            t = chosen.start
        else:
            before = max([a.end for a in attempts if a.end < t] + [call.start])
            _add(totals, "backoff", before, t)
            t = before
        final = False


def _attempt_time(attempt: Span, until: float, children: dict, totals: dict) -> None:
    servers = children.get(attempt.id, [])
    if not servers:
        _add(totals, "network", attempt.start, until)
        return
    server = servers[0]
    _add(totals, "network", attempt.start, min(server.start, until))
    if server.start < until:
        _server_time(server, until, children, totals)


def mean_shares(run: TraceRun, roots) -> dict[str, float]:
    """The mean share of end-to-end time by :data:`SOURCES` over requests ``roots`` (each request weighs the same)."""
    roots = list(roots)
    if not roots:
        raise ValueError("roots must name at least one request")
    shares = dict.fromkeys(SOURCES, 0.0)
    for root in roots:
        sources = latency_sources(run, root)
        total = sum(sources.values())
        for key, value in sources.items():
            shares[key] += (value / total if total > 0 else 0.0) / len(roots)
    return shares


# -- RED -----------------------------------------------------------------------------------------------

@dataclass
class Red:
    """RED metrics of one service, per window: calls it answered in each, as the service saw them.

    ``t`` is each window's start (s); ``count`` the calls answered in it;
    ``rate`` = count / window (per s); ``errors`` the share of them that were
    not OK (NaN in an empty window); ``p50``/``p99`` their duration (arrival
    to answer, s) and the same for successes (``_ok``) and errors
    (``_error``) apart, NaN where there are none.
    """

    service: str
    window: float
    t: np.ndarray
    count: np.ndarray
    rate: np.ndarray
    errors: np.ndarray
    p50: np.ndarray
    p99: np.ndarray
    p50_ok: np.ndarray
    p99_ok: np.ndarray
    p50_error: np.ndarray
    p99_error: np.ndarray


def red(run: TraceRun, window: float = WINDOW) -> dict[str, Red]:
    """RED per service in windows of ``window`` seconds over the load's ``duration`` (whole windows only).

    A call counts in the window in which the service answered it, as a
    request counter and a latency histogram record it when the request ends;
    calls answered after the last whole window are left out.
    """
    _validate.positive("window", window)
    windows = int(math.floor(run.duration / window + 1e-9))
    if windows < 1:
        raise ValueError(f"window must be at most the run's duration ({run.duration} s), got {window!r}")
    out = {}
    for name in SERVICES:
        r = run.servers[name]
        answered = r["outcome"] >= 0
        end, duration, ok = r["end"][answered], (r["end"] - r["arrival"])[answered], r["outcome"][answered] == _OK
        slot = np.floor(end / window).astype(int)
        keep = slot < windows
        slot, duration, ok = slot[keep], duration[keep], ok[keep]
        count = np.bincount(slot, minlength=windows)
        failed = np.bincount(slot[~ok], minlength=windows)
        with np.errstate(invalid="ignore", divide="ignore"):
            errors = np.where(count > 0, failed / np.maximum(count, 1), np.nan)
        stats = {}
        for suffix, subset in (("", slice(None)), ("_ok", ok), ("_error", ~ok)):
            stats["p50" + suffix], stats["p99" + suffix] = _window_quantiles(slot[subset], duration[subset], windows)
        out[name] = Red(name, window, np.arange(windows) * window, count, count / window, errors, **stats)
    return out


def _window_quantiles(slot: np.ndarray, values: np.ndarray, windows: int, qs=(0.5, 0.99)) -> list[np.ndarray]:
    """Per window, the ``qs`` quantiles of the values in it (numpy's default, linear interpolation); NaN if empty."""
    order = np.lexsort((values, slot))
    slot, values = slot[order], values[order]
    first = np.searchsorted(slot, np.arange(windows))
    count = np.bincount(slot, minlength=windows)
    out = []
    for q in qs:
        position = q * np.maximum(count - 1, 0)
        below = np.floor(position).astype(int)
        above = np.minimum(below + 1, np.maximum(count - 1, 0))
        low = values[np.minimum(first + below, values.size - 1)] if values.size else np.zeros(windows)
        high = values[np.minimum(first + above, values.size - 1)] if values.size else np.zeros(windows)
        out.append(np.where(count > 0, low + (position - below) * (high - low), np.nan))
    return out


# -- counts and theory ----------------------------------------------------------------------------------

def hop_counts(run: TraceRun, hop: str = "B→C", requests: np.ndarray | None = None) -> dict[str, int]:
    """On one hop: ``requests`` counted, ``calls``, ``attempts`` sent, ``tries`` (first attempts and retries: the
    attempts that are not hedges), ``retries``, ``hedges``, and ``requests_with_retry``.

    ``requests`` is an optional boolean mask over requests (root order), e.g. :func:`clear_of_burst`.
    """
    _validate.one_of("hop", hop, tuple(hop_name(*h) for h in HOPS))
    mask = np.ones(run.requests, dtype=bool) if requests is None else np.asarray(requests, dtype=bool)
    if mask.shape != (run.requests,):
        raise ValueError(f"requests must be a boolean mask of {run.requests} requests, got shape {mask.shape}")
    f = run.hop_features(hop)
    retries, hedges = f["retries"][mask], f["hedges"][mask]
    attempts = int(np.count_nonzero(mask[run.attempts[hop]["root"]]))
    return {"requests": int(mask.sum()), "calls": int(np.count_nonzero(mask[run.calls[hop]["root"]])),
            "attempts": attempts, "tries": attempts - int(hedges.sum()), "retries": int(retries.sum()),
            "hedges": int(hedges.sum()), "requests_with_retry": int(np.count_nonzero(retries))}


def clear_of_burst(run: TraceRun) -> np.ndarray:
    """Which requests (a boolean mask, root order) ran wholly outside C's error burst: they started at least
    ``a_timeout`` before it (A gives up on B by then) or after it ended. All of them if there is no burst."""
    start = run.load["start"]
    if run.burst is None:
        return np.ones(start.size, dtype=bool)
    return (start + run.a_timeout < run.burst[0]) | (start >= run.burst[1])


def c_cdf(slow_share: float, seconds: float) -> float:
    """P(C's work takes at most ``seconds``) for :func:`c_latency`."""
    _validate.probability("slow_share", slow_share)
    if seconds <= 0:
        return 0.0

    def lognormal(d: LogNormal) -> float:
        return NormalDist().cdf((math.log(seconds) - d.mu) / d.sigma)

    return (1 - slow_share) * lognormal(C_FAST) + slow_share * lognormal(C_SLOW)


def attempt_failure(slow_share: float, b_timeout: float = B_TIMEOUT, error_rate: float = ERROR_RATE) -> float:
    """P(one attempt from B to C fails): it times out (network + work > ``b_timeout``) or C answers an error.

    q = 1 − (1 − e) · F(T − network), with F C's latency distribution.
    Assumes C does not queue (it has workers to spare).
    """
    _validate.probability("error_rate", error_rate)
    _validate.positive("b_timeout", b_timeout)
    return 1 - (1 - error_rate) * c_cdf(slow_share, b_timeout - NETWORK)


def hedge_share(slow_share: float, hedge_delay: float = HEDGE_DELAY, b_timeout: float = B_TIMEOUT,
                error_rate: float = ERROR_RATE) -> float:
    """P(an attempt from B to C sends its hedge): the first copy has not answered OK by the hedge delay.

    A hedge goes out at the delay if no answer has come, or at once if the
    first copy fails sooner (an error, or a timeout shorter than the delay):
    1 − (1 − e) · F(min(delay, T) − network). This is the extra load hedging
    puts on C, per attempt.
    """
    _validate.positive("hedge_delay", hedge_delay)
    _validate.positive("b_timeout", b_timeout)
    _validate.probability("error_rate", error_rate)
    return 1 - (1 - error_rate) * c_cdf(slow_share, min(hedge_delay, b_timeout) - NETWORK)


def retry_share(slow_share: float, b_timeout: float = B_TIMEOUT, error_rate: float = ERROR_RATE,
                hedging: bool = True) -> float:
    """P(a request's call from B to C needs a retry): its first attempt fails.

    Without hedging that is q (:func:`attempt_failure`); with it, both
    copies must fail, and the hedge is always sent when the first copy fails,
    so q² (the copies are independent: C does not queue). Assumes A's
    deadline leaves room for the whole first attempt.
    """
    q = attempt_failure(slow_share, b_timeout, error_rate)
    return q * q if hedging else q


def expected_attempts(slow_share: float, b_timeout: float = B_TIMEOUT, error_rate: float = ERROR_RATE,
                      hedging: bool = True, hedge_delay: float = HEDGE_DELAY) -> float:
    """Expected attempts B sends C per request (hedges included), when A's deadline never cuts a retry short.

    Tries: 1 + p + p² + … up to :data:`MAX_ATTEMPTS` terms, p = :func:`retry_share`;
    each sends a hedge with probability :func:`hedge_share` when hedging is on.
    """
    p = retry_share(slow_share, b_timeout, error_rate, hedging)
    tries = sum(p ** k for k in range(MAX_ATTEMPTS))
    return tries * (1 + (hedge_share(slow_share, hedge_delay, b_timeout, error_rate) if hedging else 0.0))


# -- what the dashboard shows ---------------------------------------------------------------------------

#: How many requests the "typical" and "slowest" latency breakdowns average over (nearest the median; slowest).
TYPICAL_GROUP = 20
SLOWEST_SHARE = 0.01


@dataclass
class Overview:
    """One run with what a dashboard shows of it besides a single trace.

    ``red`` per service (:func:`red`); ``counts`` on the B→C hop
    (:func:`hop_counts`) for every request and ``steady`` for those clear of
    C's error burst (:func:`clear_of_burst`); ``typical`` and ``slowest``: :func:`mean_shares`
    over the :data:`TYPICAL_GROUP` requests nearest the median end-to-end
    time and over the slowest :data:`SLOWEST_SHARE` of requests; ``user_errors``
    the share of requests that failed; ``p50`` and ``p99`` of end-to-end time (s).
    """

    run: TraceRun
    red: dict
    counts: dict
    steady: dict
    typical: dict
    slowest: dict
    user_errors: float
    p50: float
    p99: float


def overview(run: TraceRun) -> Overview:
    """What :class:`Overview` lists, for ``run``."""
    latency = run.latency
    n = run.requests
    if n == 0:
        raise ValueError("the run has no requests: raise rate or duration")
    order = np.lexsort((np.arange(n), latency))
    middle = (n - 1) // 2
    half = TYPICAL_GROUP // 2
    typical = order[max(0, middle - half):middle - half + TYPICAL_GROUP].tolist()
    slowest = order[-max(1, math.ceil(SLOWEST_SHARE * n)):].tolist()
    return Overview(run=run, red=red(run), counts=hop_counts(run),
                    steady=hop_counts(run, requests=clear_of_burst(run)), typical=mean_shares(run, typical),
                    slowest=mean_shares(run, slowest), user_errors=float(np.mean(run.load["outcome"] != _OK)),
                    p50=float(np.quantile(latency, 0.5)), p99=float(np.quantile(latency, 0.99)))


@lru_cache(maxsize=32)
def overview_cached(slow_share: float = SLOW_SHARE, b_timeout: float = B_TIMEOUT, hedging: bool = True,
                    seed: int = 1) -> Overview:
    """:func:`overview` of :func:`simulate_cached` at the dashboard's settings, remembered per setting."""
    return overview(simulate_cached(slow_share, b_timeout, hedging, seed))
