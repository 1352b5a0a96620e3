"""Brooker's contention model: N clients race to update one row with optimistic concurrency.

Each client reads the row's version, then writes with "only if the version is
still v". One write per round wins; every loser backs off and tries again
from a fresh read. Every message crosses a network whose delay is
|Normal(10 ms, 2 ms)|. We count writes (the work the database does) and the
time until the last client has succeeded. The model, the backoff formulas and
the parameters (base 5 ms, cap 2 s) follow Marc Brooker, "Exponential Backoff
And Jitter", AWS Architecture Blog, 2015; this is our own implementation on
:mod:`course.sim`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from course.sim import Backoff, Simulation, _validate

#: The kinds compared in the post, in its order.
STRATEGIES = ("none", "exponential", "full_jitter", "equal_jitter", "decorrelated_jitter")
NETWORK_MEAN = 0.010
NETWORK_SD = 0.002
BASE = 0.005
CAP = 2.0


@dataclass
class ContentionResult:
    """Averages over the trials of one (strategy, clients) setting."""

    strategy: str
    clients: int
    calls: float        # write attempts per trial (the work)
    completion: float   # seconds until the last client succeeded


def _trial(strategy: str, clients: int, seed: int) -> tuple[int, float]:
    sim = Simulation(seed=seed)
    network = sim.rng("network")
    jitter = sim.rng("jitter")
    backoff = None if strategy == "none" else Backoff(strategy, BASE, CAP)
    state = {"version": 0, "writes": 0, "done": 0, "last": 0.0}

    def delay() -> float:
        return abs(network.normal(NETWORK_MEAN, NETWORK_SD))

    def read(client):
        # The version travels back to the client, and the conditional write travels out: two hops.
        sim.schedule(delay() + delay(), write, client, state["version"])

    def write(client, seen_version):
        state["writes"] += 1
        won = seen_version == state["version"]
        if won:
            state["version"] += 1
        sim.schedule(delay(), answer, client, won)

    def answer(client, won):
        if won:
            state["done"] += 1
            state["last"] = sim.now()
            return
        client["failures"] += 1
        # The post's n is the failure count (so the first retry waits up to 2·base).
        sleep = 0.0 if backoff is None else backoff.delay(client["failures"], client["sleep"], jitter)
        client["sleep"] = sleep
        sim.schedule(delay() + sleep, read, client)

    for _ in range(clients):
        client = {"failures": 0, "sleep": BASE}
        sim.schedule(delay(), read, client)
    sim.run()
    assert state["done"] == clients
    return state["writes"], state["last"]


def simulate(strategy: str, clients: int, trials: int = 100, seed: int = 0) -> ContentionResult:
    """Average calls and completion time over ``trials`` independent runs."""
    _validate.one_of("strategy", strategy, STRATEGIES)
    _validate.integer_at_least("clients", clients, 1)
    _validate.integer_at_least("trials", trials, 1)
    runs = np.array([_trial(strategy, clients, seed * 100_003 + t) for t in range(trials)], dtype=float)
    return ContentionResult(strategy, clients, float(runs[:, 0].mean()), float(runs[:, 1].mean()))


def sweep(clients=(10, 20, 30, 40, 50, 60, 70, 80, 90, 100), strategies=STRATEGIES, trials: int = 100,
          seed: int = 0) -> list[ContentionResult]:
    """Every strategy at every client count."""
    return [simulate(s, n, trials, seed) for s in strategies for n in clients]
