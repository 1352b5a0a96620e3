"""Latency against utilisation: one M/M/c queue, simulated and from theory.

Requests arrive as a Poisson stream at rate λ and each needs an exponential
amount of work with mean S on one of ``workers`` identical workers (M/M/c).
Utilisation is ρ = λ·S / c. The mean response time W (queueing plus service),
divided by S, depends only on ρ and c, not on S: S just sets the units.

:func:`simulate` runs the queue in :mod:`course.sim` for a modest number of
arrivals (so a dashboard update stays quick) and reports W/S and p99/S;
:func:`theory_curves` gives what theory expects (Erlang C) on a grid of ρ.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from course.sim import Direct, Exponential, OpenLoop, Service, Simulation, _validate, queueing

#: Arrivals per simulated run: small enough for an interactive update, large
#: enough that the mean lands within about 10% of theory at moderate ρ.
ARRIVALS = 2500
#: The share of the run discarded as warm-up (the queue starts empty).
WARMUP = 0.1
#: The ρ grid for the theory curves.
RHO_GRID = np.linspace(0.0, 0.99, 199)


@dataclass
class UtilisationResult:
    """One simulated run of an M/M/c queue, with theory alongside. Ratios are in units of S."""

    rho: float
    workers: int
    service_ms: float
    measured: int            # requests measured (after the warm-up)
    mean_ratio: float        # simulated W / S
    p99_ratio: float         # simulated p99 of response time / S
    theory_ratio: float      # M/M/c W / S at this ρ and c
    theory_p99_ratio: float  # M/M/c p99 / S
    mm1_ratio: float         # M/M/1 W / S = 1 / (1 - ρ)
    wait_share: float        # simulated share of requests that queued before starting
    arrival_rate: float      # λ, requests per second
    mean_in_system: float    # simulated L: time-average number of requests queued or in service
    mean_response_s: float   # simulated W over all requests, in seconds (for Little's law)


def mmc_response_quantile(rho: float, workers: int, q: float) -> float:
    """The q-quantile of M/M/c response time, in units of the mean service time S.

    The response time is the queueing delay plus an exponential service time.
    The delay is 0 with probability 1 - C (C is Erlang C) and otherwise
    exponential with rate c(1 - ρ)/S, so P(T > t) has a closed form; this
    solves P(T > t) = 1 - q by bisection. For c = 1 it is -ln(1 - q) / (1 - ρ).
    """
    if not 0 < rho < 1:
        raise ValueError(f"rho must be in (0, 1), got {rho!r}")
    _validate.integer_at_least("workers", workers, 1)
    if not 0 < q < 1:
        raise ValueError(f"q must be in (0, 1), got {q!r}")
    c = workers
    wait_prob = queueing.erlang_c(c, rho * c)
    theta = c * (1 - rho)  # rate of the queueing delay, in units of 1/S

    def tail(t: float) -> float:
        if abs(theta - 1.0) < 1e-9:  # delay and service have the same rate: Erlang-2
            both = math.exp(-t) * (1 + t)
        else:
            both = (theta * math.exp(-t) - math.exp(-theta * t)) / (theta - 1.0)
        return (1 - wait_prob) * math.exp(-t) + wait_prob * both

    low, high = 0.0, 1.0
    while tail(high) > 1 - q:
        high *= 2
    for _ in range(80):
        middle = (low + high) / 2
        if tail(middle) > 1 - q:
            low = middle
        else:
            high = middle
    return (low + high) / 2


@lru_cache(maxsize=32)
def theory_curves(workers: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(rho, mmc_mean, mmc_p99, mm1_mean)`` on :data:`RHO_GRID`, all in units of S.

    At ρ = 0 nobody waits, so the mean is 1 and the p99 is the service time's own
    p99, -ln(0.01) ≈ 4.6.
    """
    _validate.integer_at_least("workers", workers, 1)
    rho = RHO_GRID
    mean = np.array([1.0 if r == 0 else queueing.mmc_response_time(r * workers, 1.0, workers) for r in rho])
    p99 = np.array([-math.log(0.01) if r == 0 else mmc_response_quantile(r, workers, 0.99) for r in rho])
    mm1 = 1.0 / (1.0 - rho)
    for array in (rho, mean, p99, mm1):
        array.flags.writeable = False
    return rho, mean, p99, mm1


def simulate(rho: float = 0.5, workers: int = 1, service_ms: float = 50.0, arrivals: int = ARRIVALS,
             seed: int = 1) -> UtilisationResult:
    """Simulate ``arrivals`` Poisson arrivals into an M/M/c queue at utilisation ``rho``.

    The arrival rate is λ = ρ·c / S. Statistics skip the first :data:`WARMUP`
    share of the run, when the queue is still filling from empty. The same seed
    gives the same numbers, and scaling S scales every time by the same factor.
    """
    if not 0 < rho < 1:
        raise ValueError(f"rho (utilisation) must be in (0, 1), got {rho!r}")
    workers = _validate.integer_at_least("workers", workers, 1)
    _validate.positive("service_ms", service_ms)
    arrivals = _validate.integer_at_least("arrivals", arrivals, 100)
    service = service_ms / 1000.0
    rate = rho * workers / service
    until = arrivals / rate

    sim = Simulation(seed=seed)
    server = Service(sim, "server", workers=workers, latency=Exponential(service))
    OpenLoop(sim, Direct(server), rate=rate, until=until)
    sim.run()  # runs until the last request has been served

    r = server.records()
    response = r["end"] - r["arrival"]
    kept = r["arrival"] >= WARMUP * until
    measured = response[kept]
    return UtilisationResult(
        rho=float(rho), workers=workers, service_ms=float(service_ms), measured=int(kept.sum()),
        mean_ratio=float(measured.mean() / service), p99_ratio=float(np.quantile(measured, 0.99) / service),
        theory_ratio=queueing.mmc_response_time(rate, 1.0 / service, workers) / service,
        theory_p99_ratio=mmc_response_quantile(rho, workers, 0.99),
        mm1_ratio=queueing.slowdown(rho),
        wait_share=float(np.mean(r["start"][kept] > r["arrival"][kept])),
        arrival_rate=float(len(response) / sim.now()),
        mean_in_system=server.mean_in_system(sim.now()),
        mean_response_s=float(response.mean()),
    )
