"""Lesson 03's breaker scenario: A calls B at a steady rate, and B goes down for a while.

Clients send ``rate`` requests a second; each one is A calling B through a
client pipeline ``[Fallback, CircuitBreaker, Timeout(1 s)]`` (the fallback and
the breaker are optional). B is healthy (median 20 ms, p99 80 ms) except from
``OUTAGE_START`` for ``outage_s`` seconds, when it fails in one of three ways:

* ``"refuse"``: B is down and refuses connections, so calls fail in 1 ms;
* ``"hang"``: B is down and accepts calls but never answers, so A's 1 s timeout fires;
* ``"slow"``: B is up but 10× slower; calls still succeed, only later.

The breaker is one of the library presets (Resilience4j, Hystrix, Polly v8,
pybreaker: see :class:`course.sim.CircuitBreaker`), a custom one, or none. The
same fault is run against each, so the presets can be compared on the three
numbers an on-call engineer cares about: how long the breaker takes to open,
how many calls still reach the dead B (calls wasted), and how long after B
comes back the breaker lets traffic through again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from course.sim import (CircuitBreaker, Client, Down, Fallback, FaultSchedule, LogNormal, OpenLoop, Outcome, Service,
                        Simulation, Slow, Timeout, _validate)
from course.sim import metrics
from course.sim.policies import CLOSED, HALF_OPEN, OPEN

#: Requests per second from A to B, and when B's trouble starts (s): late enough that every
#: preset's window (Polly's is the longest, 30 s) is full of healthy calls by then.
RATE = 30.0
OUTAGE_START = 30.0
#: The outage the issue and the lesson compare presets on (s).
OUTAGE = 60.0
#: A run goes on this long after B is back: the longest open wait (60 s) plus time for the probes.
AFTER = 70.0
#: A's timeout on each call to B (s), and B's healthy latency.
TIMEOUT = 1.0
B_LATENCY = LogNormal(0.020, 0.080)
B_WORKERS = 64
#: How much slower B is in the "slow" failure mode.
SLOW_FACTOR = 10.0
#: Plot window width (s).
WINDOW = 1.0

FAILURES = ("refuse", "hang", "slow")
PRESETS = ("none", "resilience4j", "hystrix", "polly", "pybreaker", "custom")
PRESET_NAMES = {"none": "no breaker", "resilience4j": "Resilience4j", "hystrix": "Hystrix", "polly": "Polly v8",
                "pybreaker": "pybreaker", "custom": "custom"}
#: Custom windows: (type, size) — a count of calls, or seconds.
WINDOWS = (("count", 5), ("count", 20), ("count", 100), ("time", 5.0), ("time", 10.0), ("time", 30.0))


@dataclass(frozen=True)
class Custom:
    """The thresholds of a custom breaker (the ``custom`` preset).

    ``failure_rate`` is also the slow-call rate threshold: with a
    ``slow_call_ms`` set, the breaker opens when that share of the window's
    calls failed, or when that share took at least ``slow_call_ms``.
    """

    failure_rate: float = 0.5
    window: tuple = ("count", 20)
    minimum_calls: int = 10
    open_wait: float = 10.0
    half_open_calls: int = 3
    slow_call_ms: float | None = None

    def build(self, clock) -> CircuitBreaker:
        kind, size = self.window
        return CircuitBreaker(clock, failure_rate_threshold=self.failure_rate, window_type=kind, window_size=size,
                              minimum_calls=self.minimum_calls, open_wait=self.open_wait,
                              half_open_calls=self.half_open_calls,
                              slow_call_threshold=None if self.slow_call_ms is None else self.slow_call_ms / 1000,
                              slow_call_rate_threshold=self.failure_rate)


def make_breaker(preset: str, clock, custom: Custom | None = None) -> CircuitBreaker | None:
    """The breaker for ``preset`` (None for ``"none"``)."""
    _validate.one_of("preset", preset, PRESETS)
    if preset == "none":
        return None
    if preset == "custom":
        return (custom or Custom()).build(clock)
    return getattr(CircuitBreaker, preset)(clock)


def probe_time(half_open_calls: int, rate: float = RATE, timeout: float = TIMEOUT) -> float:
    """How long a half-open breaker needs for its probes, in seconds.

    The probes are the next ``half_open_calls`` calls to arrive. Arrivals are
    Poisson at ``rate``, so k of them take k/rate on average with a standard
    deviation of √k/rate; allow four standard deviations, then one timeout for
    the last probe to answer: (k + 4√k)/rate + timeout.
    """
    k = _validate.integer_at_least("half_open_calls", half_open_calls, 1)
    return (k + 4 * math.sqrt(k)) / _validate.positive("rate", rate) + timeout


@dataclass
class BreakerResult:
    """Per-window series and headline numbers for one run (times in seconds)."""

    t: np.ndarray
    b_calls: np.ndarray        # calls that reached B, per second
    ok_rate: np.ndarray        # A's requests answered by B, per second
    fallback_rate: np.ndarray  # A's requests answered with the fallback, per second
    failed_rate: np.ndarray    # A's requests that failed (error, timeout, breaker open without fallback), per second
    open_share: np.ndarray     # share of each window the breaker was open (half-open counts as half)
    transitions: list          # the breaker's (time, state) list; [] without a breaker
    outage: tuple              # (start, end) of B's trouble
    duration: float            # simulated seconds
    preset: str
    summary: dict = field(default_factory=dict)


def half_open_periods(transitions, until: float) -> list[tuple[float, float]]:
    """The (start, end) of every half-open period in a breaker's transitions."""
    periods = []
    for (t, state), following in zip(transitions, list(transitions[1:]) + [(until, None)]):
        if state == HALF_OPEN:
            periods.append((t, following[0]))
    return periods


def probes_per_half_open(transitions, b_arrivals, until: float) -> list[int]:
    """How many calls reached B during each half-open period (read from B's own records)."""
    arrivals = np.sort(np.asarray(b_arrivals, dtype=float))
    return [int(np.searchsorted(arrivals, end, side="left") - np.searchsorted(arrivals, start, side="left"))
            for start, end in half_open_periods(transitions, until)]


def simulate(preset: str = "resilience4j", outage_s: float = OUTAGE, failure: str = "refuse",
             fallback: bool = True, custom: Custom | None = None, rate: float = RATE, seed: int = 1,
             after: float = AFTER) -> BreakerResult:
    """Run the scenario once: B's trouble starts at ``OUTAGE_START`` and lasts
    ``outage_s``; the run goes on for ``after`` seconds more. See the module docstring."""
    _validate.positive("outage_s", outage_s)
    _validate.one_of("failure", failure, FAILURES)
    _validate.positive("rate", rate)
    _validate.positive("after", after)
    start, end = OUTAGE_START, OUTAGE_START + outage_s
    duration = end + after
    sim = Simulation(seed=seed)
    fault = Slow(start, end, SLOW_FACTOR) if failure == "slow" else Down(start, end, mode=failure)
    b = Service(sim, "B", workers=B_WORKERS, latency=B_LATENCY, faults=FaultSchedule(fault))
    breaker = make_breaker(preset, sim, custom)
    policies = ([Fallback("cached answer")] if fallback else []) + ([breaker] if breaker else []) + [Timeout(TIMEOUT)]
    client = Client(sim, b, policies, name="A-to-B")
    load = OpenLoop(sim, client, rate=rate, until=duration)
    sim.run(until=duration)

    edges = metrics.window_edges(duration, WINDOW)
    requests, rb = load.records(), b.records()
    outcome = requests["outcome"]
    ok = outcome == int(Outcome.OK)
    fell_back = outcome == int(Outcome.FALLBACK)
    failed = np.isfinite(requests["end"]) & ~ok & ~fell_back
    transitions = list(breaker.transitions) if breaker else []
    open_share = (metrics.breaker_states(transitions, edges) if breaker else np.zeros(len(edges) - 1))

    arrivals = rb["arrival"]
    during = (arrivals >= start) & (arrivals < end)
    opened = [t for t, s in transitions if s == OPEN and t >= start]
    time_to_open = opened[0] - start if opened else math.nan
    # Recovery: B is back at `end`; the breaker is useful again once it is closed and stays closed.
    if breaker is None:
        time_to_recover = 0.0
    else:
        state_at_end = [s for t, s in transitions if t <= end][-1]
        after = [(t, s) for t, s in transitions if t > end]
        if not after:
            time_to_recover = 0.0 if state_at_end == CLOSED else math.inf
        elif after[-1][1] == CLOSED:
            time_to_recover = after[-1][0] - end
        else:
            time_to_recover = math.inf  # still not closed when the run ended
    in_outage = (requests["start"] >= start) & (requests["start"] < end)
    summary = {
        "preset": preset,
        "time_to_open": time_to_open,
        "reached_b_during": int(during.sum()),
        "requests_during": int(in_outage.sum()),
        "time_to_recover": time_to_recover,
        "fallback_share_during": float(fell_back[in_outage].mean()) if in_outage.any() else 0.0,
        "failed_share_during": float(failed[in_outage].mean()) if in_outage.any() else 0.0,
        "half_open_calls": breaker.half_open_calls if breaker else None,
        "open_wait": breaker.open_wait if breaker else None,
        "probes": probes_per_half_open(transitions, arrivals, duration) if breaker else [],
        "times_opened": len([1 for _, s in transitions if s == OPEN]),
    }
    return BreakerResult(
        t=metrics.window_centres(edges),
        b_calls=metrics.windowed_rate(arrivals, edges),
        ok_rate=metrics.windowed_rate(requests["end"], edges, ok),
        fallback_rate=metrics.windowed_rate(requests["end"], edges, fell_back),
        failed_rate=metrics.windowed_rate(requests["end"], edges, failed),
        open_share=open_share, transitions=transitions, outage=(start, end), duration=duration, preset=preset,
        summary=summary)


@lru_cache(maxsize=64)
def simulate_cached(preset: str, outage_s: float, failure: str, fallback: bool, custom: Custom | None,
                    rate: float = RATE, seed: int = 1) -> BreakerResult:
    """:func:`simulate`, remembered for repeated settings (the dashboard goes back and forth)."""
    return simulate(preset, outage_s, failure, fallback, custom, rate, seed)


def compare_presets(outage_s: float = OUTAGE, failure: str = "refuse", seed: int = 1,
                    presets=("none", "resilience4j", "hystrix", "polly", "pybreaker")) -> list[dict]:
    """The same fault against each preset: one summary dict per preset, in order."""
    return [simulate_cached(p, outage_s, failure, True, None, RATE, seed).summary for p in presets]


def _seconds(value: float) -> str:
    if math.isnan(value):
        return "never"
    if math.isinf(value):
        return "not by the end of the run"
    return f"{value:.1f} s"


class ComparisonTable:
    """An HTML table of :func:`compare_presets` for one or more outage lengths (shows itself in a notebook)."""

    def __init__(self, outages=(OUTAGE,), failure: str = "refuse", seed: int = 1):
        self.outages = tuple(outages)
        self.rows = {outage: compare_presets(outage, failure, seed) for outage in self.outages}

    def _repr_html_(self) -> str:
        first = self.rows[self.outages[0]]
        base = f"{self.outages[0]:g} s outage"
        head = (f"<tr><th>breaker (defaults)</th><th>time to open</th><th>calls that reached the dead B ({base})</th>"
                + "".join(f"<th>time to recover after a {o:g} s outage</th>" for o in self.outages) + "</tr>")
        body = []
        for i, row in enumerate(first):
            none = row["preset"] == "none"
            cells = [PRESET_NAMES[row["preset"]], _seconds(row["time_to_open"]),
                     f"{row['reached_b_during']:,} of {row['requests_during']:,}"]
            cells += ["—" if none else _seconds(self.rows[o][i]["time_to_recover"]) for o in self.outages]
            body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        return f"<table>{head}{''.join(body)}</table>"
