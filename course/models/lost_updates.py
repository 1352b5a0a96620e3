"""Lost updates: many clients increment one counter by read-modify-write.

Each client repeatedly reads the counter from the primary, thinks for a
moment (``think``: the application's work between the read and the write),
and writes back the value it read plus one. Two clients that read the same
version both write "that plus one", and one increment vanishes although both
clients were told it succeeded: a *lost update*.

With ``cas=True`` the write is a compare-and-set on the version that was read;
if someone else got there first it fails, and the client starts over with a
fresh read (a *CAS retry*). No increment is ever lost, at the price of the
retries.

Every increment is recorded in a :class:`course.sim.data.History` (invoke at
the first read, ok when the write lands, with the ``(value, version)``
written), followed by a final read, and judged by
:func:`course.sim.data.check_lost_updates`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from course.sim import Exponential, Latency, Simulation, _validate
from course.sim.data import CheckResult, History, Store, check_lost_updates

KEY = "counter"
#: Default think time between a read and its write, and pause between a client's increments (s).
THINK = Exponential(0.010)
PAUSE = Exponential(0.050)


@dataclass
class LostUpdateResult:
    """One run: what clients were told, what the counter says, and what it cost."""

    clients: int
    increments: int          # per client
    cas: bool
    acknowledged: int        # increments clients were told succeeded
    final: int               # the counter at the end
    lost: int                # acknowledged - final
    cas_retries: int         # compare-and-sets that failed and were retried
    writes: int              # writes the database committed
    duration: float          # simulated seconds until the last increment
    check: CheckResult
    history: History


def simulate(clients: int = 10, increments: int = 20, cas: bool = False, think: Latency = THINK,
             pause: Latency = PAUSE, seed: int = 1) -> LostUpdateResult:
    """``clients`` clients each make ``increments`` acknowledged increments of :data:`KEY`."""
    _validate.integer_at_least("clients", clients, 1)
    _validate.integer_at_least("increments", increments, 1)
    for name, value in (("think", think), ("pause", pause)):
        if not isinstance(value, Latency):
            raise ValueError(f"{name} must be a course.sim.latency.Latency (e.g. Exponential(0.01)), got {value!r}")
    sim = Simulation(seed=seed)
    history = History(sim)
    db = Store(sim, "db", replicas=0)
    state = {"acknowledged": 0, "retries": 0}

    def start(client, draws, left):
        op = history.invoke(client, "increment", KEY, 1)
        attempt(client, draws, left, op)

    def attempt(client, draws, left, op):
        record = db.read(KEY)
        value, version = (0, 0) if record is None else (record.value, record.version)
        sim.schedule(draws[0](), finish, client, draws, left, op, value, version)

    def finish(client, draws, left, op, value, version):
        if cas:
            written = db.compare_and_set(KEY, version, value + 1)
            if written is None:
                state["retries"] += 1
                attempt(client, draws, left, op)  # start over from a fresh read
                return
        else:
            written = db.write(KEY, value + 1)
        history.ok(op, (written.value, written.version))
        state["acknowledged"] += 1
        if left > 1:
            sim.schedule(draws[1](), start, client, draws, left - 1)

    for i in range(clients):
        client = f"c{i}"
        draws = (think.sampler(sim.rng(f"lost_updates:{client}:think")),
                 pause.sampler(sim.rng(f"lost_updates:{client}:pause")))
        sim.schedule(draws[1](), start, client, draws, increments)
    sim.run()
    duration = sim.now()
    final = db.read(KEY)
    history.ok(history.invoke("auditor", "read", KEY), (final.value, final.version))
    check = check_lost_updates(history, KEY)
    return LostUpdateResult(clients, increments, cas, state["acknowledged"], final.value,
                            state["acknowledged"] - final.value, state["retries"], final.version, duration,
                            check, history)


def sweep(clients=(1, 2, 5, 10, 20, 50), increments: int = 20, seed: int = 1, **kwargs) -> dict:
    """Lost increments and CAS retries as the number of clients grows, without and with compare-and-set.

    Returns arrays keyed ``clients``, ``lost``, ``lost_share`` (of acknowledged), ``cas_retries``
    and ``cas_lost`` (always 0).
    """
    plain = [simulate(n, increments, False, seed=seed, **kwargs) for n in clients]
    guarded = [simulate(n, increments, True, seed=seed, **kwargs) for n in clients]
    return {
        "clients": np.asarray(clients),
        "lost": np.array([r.lost for r in plain]),
        "lost_share": np.array([r.lost / r.acknowledged for r in plain]),
        "cas_retries": np.array([r.cas_retries for r in guarded]),
        "cas_lost": np.array([r.lost for r in guarded]),
    }
