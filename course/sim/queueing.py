"""Queueing theory, for checking the simulator and for the lessons' "what theory says" lines."""

from __future__ import annotations

import math

from . import _validate


def _stable(arrival_rate: float, service_rate: float, servers: int) -> float:
    _validate.positive("arrival_rate", arrival_rate)
    _validate.positive("service_rate", service_rate)
    _validate.integer_at_least("servers", servers, 1)
    rho = arrival_rate / (servers * service_rate)
    if rho >= 1:
        raise ValueError(f"utilisation must be below 1 for a steady state; arrival_rate / (servers * service_rate) = {rho:.3f}")
    return rho


def erlang_c(servers: int, offered_load: float) -> float:
    """Erlang C: the probability that an arriving call has to wait in an M/M/c queue.

    ``offered_load`` is a = λ/μ and must be below ``servers``.
    """
    _validate.integer_at_least("servers", servers, 1)
    _validate.positive("offered_load", offered_load)
    if offered_load >= servers:
        raise ValueError(f"offered_load must be below servers ({servers}), got {offered_load!r}")
    term = 1.0
    below = 1.0  # sum of a^k/k! for k < c
    for k in range(1, servers):
        term *= offered_load / k
        below += term
    top = term * offered_load / servers * servers / (servers - offered_load)
    return top / (below + top)


def mmc_response_time(arrival_rate: float, service_rate: float, servers: int) -> float:
    """Mean time in an M/M/c system: W = C(c, a) / (cμ - λ) + 1/μ."""
    _stable(arrival_rate, service_rate, servers)
    wait = erlang_c(servers, arrival_rate / service_rate) / (servers * service_rate - arrival_rate)
    return wait + 1.0 / service_rate


def mm1_response_time(arrival_rate: float, service_rate: float) -> float:
    """Mean time in an M/M/1 system: W = 1 / (μ - λ) = S / (1 - ρ)."""
    _stable(arrival_rate, service_rate, 1)
    return 1.0 / (service_rate - arrival_rate)


def mm1_response_quantile(arrival_rate: float, service_rate: float, q: float) -> float:
    """The q-quantile of M/M/1 response time, which is exponential with rate μ - λ."""
    _stable(arrival_rate, service_rate, 1)
    _validate.probability("q", q)
    return -math.log1p(-q) / (service_rate - arrival_rate)


def slowdown(utilisation: float) -> float:
    """W / S for M/M/1 at utilisation ρ: 1 / (1 - ρ)."""
    if not 0 <= utilisation < 1:
        raise ValueError(f"utilisation must be in [0, 1), got {utilisation!r}")
    return 1.0 / (1.0 - utilisation)
