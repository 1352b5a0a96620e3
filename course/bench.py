"""Benchmark figures for the course: ``python -m course.bench`` (``make bench``).

Prints one ``name: value`` line per figure (after one ``#`` header line) and
exits 0 whatever the values are: benchmarks report, tests assert. Run a part
with ``--only engine``, ``--only dashboards`` or ``--only notebooks`` (may be
repeated). The whole run takes a minute or two on two cores.

Engine (``--only engine``)
--------------------------
One model, written twice: in ``course.sim`` and directly in SimPy (see
:func:`run_course_sim` and :func:`run_simpy`). Poisson arrivals at
``arrival_utilisation * servers / service_mean`` per second for ``requests /
rate`` simulated seconds (about :attr:`RetryModel.requests` requests); one
service with ``servers`` workers, an unbounded FIFO queue, exponential service
times and an error rate (each attempt fails with that probability after its
work); a client with a per-attempt timeout and up to ``max_attempts``
attempts with full-jitter backoff, ``uniform(0, min(cap, base * 2**n))``. An
attempt that times out keeps its worker until its work is done: the server
does not know that the client gave up. The utilisation the server sees,
retries included, is about 0.8. The timeout is long enough that the model is
stable (a short timeout plus work that continues after it tips this model
into a retry storm it never leaves), so it rarely fires, but each attempt
still arms and cancels a timer.

Every timed run builds the model and runs it to completion, after a
``gc.collect()``; reading the results afterwards is not timed. The two are
run alternately, :data:`ROUNDS` times each, round ``i`` with seed ``i``.

* ``engine_vs_simpy_speedup``: the median over rounds of (SimPy wall time /
  course.sim wall time) for the same model and seed.
* ``sim_run_ms``, ``simpy_run_ms``: median wall time of one run.
* ``engine_requests_per_second``: top-level requests simulated per wall-clock
  second by course.sim (requests / median wall time).
* ``engine_10k_requests_with_retries_ms``: median wall time of course.sim on
  the same model with 10,000 requests.
* ``sim_mean_latency_ms``, ``simpy_mean_latency_ms``: mean time from a
  request's arrival to its final answer (retries and backoff included), over
  all rounds; ``sim_success_rate``, ``simpy_success_rate``: the share of
  requests answered OK; ``sim_attempts_per_request``,
  ``simpy_attempts_per_request``: attempts sent per request.
* ``models_agree``: ``yes`` if the two agree within :data:`AGREEMENT` (mean
  latency and attempts per request relative, success rate absolute), which
  is several standard errors of the pooled figures.

Dashboards (``--only dashboards``)
----------------------------------
For every dashboard class in :data:`course.dashboards.ALL`, built at its
default settings (building runs one update, a warm-up) and after one
warm-up :meth:`~course.dashboards.base.Dashboard.naive_update`, then
:data:`DASHBOARD_ROUNDS` of each, interleaved:

* ``dashboard_<name>_update_ms``: median wall time of one ``update()``.
* ``dashboard_<name>_update_vs_naive``: that median divided by the median
  wall time of one ``naive_update()`` (new figure, tight-bbox ``savefig``).
* ``dashboard_<name>_sim_share``: the median over updates of
  ``timings["simulate"] / timings["total"]``: the share of an update spent
  running the model rather than drawing.

Notebooks (``--only notebooks``)
--------------------------------
* ``notebook_<stem>_seconds``: wall time to execute ``course/NN_*.ipynb``
  top to bottom with nbclient in a fresh kernel, kernel start included, with
  ``course/`` as the working directory. Outputs are not written anywhere.

Bars
----
The last line is ``bars_met: yes`` or ``bars_met: no (<figures>)``, checking
the parts that ran: ``engine_vs_simpy_speedup >= 6``, every
``update_vs_naive <= 0.6`` and every ``sim_share <= 0.3``.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import platform
import random
import statistics
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

#: Engine rounds: each round runs course.sim once and SimPy once, alternating which goes first.
ROUNDS = 9
#: Runs of course.sim at 10,000 requests for ``engine_10k_requests_with_retries_ms``.
RUNS_10K = 5
#: Timed ``update()`` and ``naive_update()`` calls per dashboard (after a warm-up of each).
DASHBOARD_ROUNDS = 5
#: The largest difference for ``models_agree: yes``: relative for the mean latency and the
#: attempts per request, absolute for the success rate. Over ROUNDS pooled runs, the two
#: engines' figures differ by chance with standard deviations of about 2 % (mean latency:
#: queueing makes it noisy), 0.1 % (attempts per request) and 0.0002 (success rate).
AGREEMENT = {"mean_latency": 0.06, "attempts_per_request": 0.01, "success_rate": 0.002}
#: The bars checked by the ``bars_met`` line.
MIN_SPEEDUP = 6.0
MAX_UPDATE_VS_NAIVE = 0.6
MAX_SIM_SHARE = 0.3

COURSE_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class RetryModel:
    """Poisson arrivals into ``servers`` workers behind a client with a timeout and jittered retries."""

    requests: int = 20_000
    servers: int = 4
    service_mean: float = 0.010
    #: Utilisation from first attempts alone; retries of errors bring it to about 0.8.
    arrival_utilisation: float = 0.72
    error_rate: float = 0.10
    timeout: float = 0.25
    max_attempts: int = 3
    backoff_base: float = 0.02
    backoff_cap: float = 0.2

    @property
    def rate(self) -> float:
        """Top-level requests per simulated second."""
        return self.arrival_utilisation * self.servers / self.service_mean

    @property
    def until(self) -> float:
        """When arrivals stop, in simulated seconds."""
        return self.requests / self.rate


@dataclass
class Run:
    """What one run of the model gives: counts, the mean latency (seconds) and the wall time it took."""

    requests: int
    attempts: int
    successes: int
    mean_latency: float
    wall: float


def run_course_sim(model: RetryModel, seed: int) -> Run:
    """Build ``model`` in course.sim, run it to completion, and summarise it (the summary is not timed)."""
    from course.sim import (Backoff, Client, Errors, Exponential, FaultSchedule, OpenLoop, Outcome, Retry, Service,
                            Simulation, Timeout)

    gc.collect()
    started = time.perf_counter()
    sim = Simulation(seed=seed)
    server = Service(sim, "server", workers=model.servers, latency=Exponential(model.service_mean),
                     faults=FaultSchedule(Errors(model.error_rate)))
    client = Client(sim, server, [
        Retry(max_attempts=model.max_attempts, backoff=Backoff("full_jitter", model.backoff_base, model.backoff_cap)),
        Timeout(model.timeout),
    ])
    load = OpenLoop(sim, client, rate=model.rate, until=model.until)
    sim.run()
    wall = time.perf_counter() - started

    requests = load.records()
    return Run(requests=len(requests["start"]), attempts=len(client.records()["sent"]),
               successes=int((requests["outcome"] == int(Outcome.OK)).sum()),
               mean_latency=float((requests["end"] - requests["start"]).mean()), wall=wall)


def run_simpy(model: RetryModel, seed: int) -> Run:
    """The same model written directly in SimPy, the way a SimPy user would write it."""
    import simpy

    gc.collect()
    started = time.perf_counter()
    rng = random.Random(seed)
    env = simpy.Environment()
    servers = simpy.Resource(env, capacity=model.servers)
    latencies: list[float] = []
    successes: list[bool] = []
    attempts = 0

    def serve(answer):
        # The server's side of one attempt: it keeps its worker until the work is
        # done even if the client has stopped waiting, then answers OK or error.
        with servers.request() as worker:
            yield worker
            yield env.timeout(rng.expovariate(1.0 / model.service_mean))
        answer.succeed(rng.random() >= model.error_rate)

    def request():
        nonlocal attempts
        arrived = env.now
        ok = False
        for number in range(1, model.max_attempts + 1):
            attempts += 1
            answer = env.event()
            env.process(serve(answer))
            fired = yield env.any_of([answer, env.timeout(model.timeout)])
            if answer in fired and answer.value:
                ok = True
                break
            if number == model.max_attempts:
                break
            ceiling = min(model.backoff_cap, model.backoff_base * 2 ** (number - 1))
            yield env.timeout(rng.uniform(0.0, ceiling))
        latencies.append(env.now - arrived)
        successes.append(ok)

    def arrivals():
        while True:
            yield env.timeout(rng.expovariate(model.rate))
            if env.now >= model.until:
                return
            env.process(request())

    env.process(arrivals())
    env.run()
    wall = time.perf_counter() - started
    return Run(requests=len(latencies), attempts=attempts, successes=sum(successes),
               mean_latency=sum(latencies) / len(latencies), wall=wall)


def pooled(runs: list[Run]) -> dict:
    """Mean latency, success rate and attempts per request over several runs, weighted by requests."""
    requests = sum(r.requests for r in runs)
    return {
        "mean_latency": sum(r.mean_latency * r.requests for r in runs) / requests,
        "success_rate": sum(r.successes for r in runs) / requests,
        "attempts_per_request": sum(r.attempts for r in runs) / requests,
    }


def models_agree(a: dict, b: dict, tolerance: dict = AGREEMENT) -> bool:
    """True if two :func:`pooled` summaries agree within ``tolerance``."""
    for name, limit in tolerance.items():
        difference = abs(a[name] - b[name])
        if name != "success_rate":
            difference /= max(abs(a[name]), abs(b[name]), 1e-12)
        if not difference <= limit:
            return False
    return True


# -- the three parts -------------------------------------------------------------------


def bench_engine(emit, model: RetryModel = RetryModel()) -> None:
    """Time course.sim against SimPy on :class:`RetryModel`; see the module docstring."""
    sim_runs: list[Run] = []
    simpy_runs: list[Run] = []
    for seed in range(ROUNDS):
        if seed % 2 == 0:
            sim_runs.append(run_course_sim(model, seed))
            simpy_runs.append(run_simpy(model, seed))
        else:
            simpy_runs.append(run_simpy(model, seed))
            sim_runs.append(run_course_sim(model, seed))
    speedup = statistics.median(b.wall / a.wall for a, b in zip(sim_runs, simpy_runs))
    sim_wall = statistics.median(r.wall for r in sim_runs)
    emit("engine_vs_simpy_speedup", speedup, ".2f")
    emit("sim_run_ms", sim_wall * 1000, ".1f")
    emit("simpy_run_ms", statistics.median(r.wall for r in simpy_runs) * 1000, ".1f")
    emit("engine_requests_per_second", statistics.median(r.requests for r in sim_runs) / sim_wall, ".0f")

    small = replace(model, requests=10_000)
    walls = [run_course_sim(small, 100 + i).wall for i in range(RUNS_10K)]
    emit("engine_10k_requests_with_retries_ms", statistics.median(walls) * 1000, ".1f")

    ours, theirs = pooled(sim_runs), pooled(simpy_runs)
    emit("sim_mean_latency_ms", ours["mean_latency"] * 1000, ".2f")
    emit("simpy_mean_latency_ms", theirs["mean_latency"] * 1000, ".2f")
    emit("sim_success_rate", ours["success_rate"], ".4f")
    emit("simpy_success_rate", theirs["success_rate"], ".4f")
    emit("sim_attempts_per_request", ours["attempts_per_request"], ".4f")
    emit("simpy_attempts_per_request", theirs["attempts_per_request"], ".4f")
    emit("models_agree", "yes" if models_agree(ours, theirs) else "no")


def bench_dashboards(emit) -> None:
    """Time each dashboard's ``update()`` against its ``naive_update()``; see the module docstring."""
    from course.dashboards import ALL

    for name, cls in ALL.items():
        try:
            _bench_dashboard(emit, name, cls)
        except Exception as error:  # one broken dashboard does not hide the others' figures
            print(f"dashboard {name} failed: {type(error).__name__}: {error}", file=sys.stderr)
            for figure in ("update_ms", "update_vs_naive", "sim_share"):
                emit(f"dashboard_{name}_{figure}", math.nan, ".3f")


def _bench_dashboard(emit, name: str, cls) -> None:
    """Time one dashboard class and emit its three figures."""
    dashboard = cls()  # builds the figure and runs the first update: the warm-up
    dashboard.naive_update()
    updates, naives, shares = [], [], []
    for i in range(DASHBOARD_ROUNDS):
        for kind in (("update", "naive") if i % 2 == 0 else ("naive", "update")):
            started = time.perf_counter()
            if kind == "update":
                dashboard.update()
                updates.append(time.perf_counter() - started)
                timings = dashboard.timings
                shares.append(timings["simulate"] / timings["total"])
            else:
                dashboard.naive_update()
                naives.append(time.perf_counter() - started)
    update = statistics.median(updates)
    emit(f"dashboard_{name}_update_ms", update * 1000, ".1f")
    emit(f"dashboard_{name}_update_vs_naive", update / statistics.median(naives), ".3f")
    emit(f"dashboard_{name}_sim_share", statistics.median(shares), ".3f")


def bench_notebooks(emit) -> None:
    """Execute every lesson notebook in a fresh kernel and time it; see the module docstring."""
    import nbformat
    from nbclient import NotebookClient

    for path in sorted(COURSE_DIR.glob("[0-9][0-9]_*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        client = NotebookClient(notebook, timeout=600, resources={"metadata": {"path": str(COURSE_DIR)}})
        started = time.perf_counter()
        try:
            client.execute()
        except Exception as error:  # a broken notebook is reported, not fatal to the benchmark
            print(f"{path.name} failed: {type(error).__name__}: {str(error).strip()[:500]}", file=sys.stderr)
            emit(f"notebook_{path.stem}_seconds", math.nan, ".2f")
            continue
        emit(f"notebook_{path.stem}_seconds", time.perf_counter() - started, ".2f")


PARTS = {"engine": bench_engine, "dashboards": bench_dashboards, "notebooks": bench_notebooks}


def unmet_bars(figures: dict) -> list[str]:
    """The names of the figures in ``figures`` that miss their bar (NaN misses)."""
    unmet = []
    for name, value in figures.items():
        if name == "engine_vs_simpy_speedup":
            ok = value >= MIN_SPEEDUP
        elif name.startswith("dashboard_") and name.endswith("_update_vs_naive"):
            ok = value <= MAX_UPDATE_VS_NAIVE
        elif name.startswith("dashboard_") and name.endswith("_sim_share"):
            ok = value <= MAX_SIM_SHARE
        else:
            continue
        if not ok:
            unmet.append(name)
    return unmet


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=sorted(PARTS),
                        help="run only this part (may be given more than once)")
    args = parser.parse_args(argv)
    parts = [name for name in PARTS if args.only is None or name in args.only]

    try:
        import simpy
        simpy_version = simpy.__version__
    except ImportError:
        simpy_version = "not installed"
    print(f"# course.bench: Python {platform.python_version()}, SimPy {simpy_version}, "
          f"{os.cpu_count()} CPUs, parts: {', '.join(parts)}", flush=True)

    figures: dict = {}

    def emit(name: str, value, spec: str = "") -> None:
        figures[name] = value
        print(f"{name}: {format(value, spec)}", flush=True)

    for name in parts:
        try:
            PARTS[name](emit)
        except Exception as error:  # report and go on: a benchmark never fails the build
            print(f"part {name} failed: {type(error).__name__}: {error}", file=sys.stderr)
            figures[f"{name}_part"] = math.nan
            if name == "engine":
                figures["engine_vs_simpy_speedup"] = math.nan

    unmet = unmet_bars(figures)
    unmet += [name for name in figures if name.endswith("_part")]
    print(f"bars_met: {'yes' if not unmet else 'no (' + ', '.join(unmet) + ')'}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
