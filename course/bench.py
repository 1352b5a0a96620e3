"""Benchmark figures for the course: ``python -m course.bench`` (``make bench``).

Prints one ``name: value`` line per figure (after one ``#`` header line) and
exits 0 whatever the values are: benchmarks report, tests assert. Run a part
with ``--only engine``, ``--only dashboards``, ``--only notebooks`` or
``--only grading`` (may be repeated). The whole run takes about five minutes
on two cores, most of it grading.

Engine (``--only engine``)
--------------------------
One model, written three times: directly on course.sim's engine
(:func:`run_course_sim_engine`), with course.sim's full service stack
(:func:`run_course_sim`), and directly in SimPy (:func:`run_simpy`). Poisson
arrivals at ``arrival_utilisation * servers / service_mean`` per second for
``requests / rate`` simulated seconds (about :attr:`RetryModel.requests`
requests); one service with ``servers`` workers, an unbounded FIFO queue,
exponential service times and an error rate (each attempt fails with that
probability after its work); a client with a per-attempt timeout and up to
``max_attempts`` attempts with full-jitter backoff, ``uniform(0, min(cap,
base * 2**n))``. An attempt that times out keeps its worker until its work is
done: the server does not know that the client gave up. The utilisation the
server sees, retries included, is about 0.8. The timeout is long enough that
the model is stable (a short timeout plus work that continues after it tips
this model into a retry storm it never leaves), so it rarely fires, but each
attempt still arms and cancels a timer.

"Directly on the engine" is the like-for-like comparison with SimPy: each
version uses its framework's own primitives (SimPy: processes, a Resource,
``any_of`` timeouts; course.sim: the event heap, cancellable timers, named
streams and the same Retry/Backoff/Timeout policy objects the stack uses).
The full stack adds Service, Client pipelines and OpenLoop, and logs every
request, call and attempt at every hop; its figure shows what that costs.

Every timed run builds the model and runs it to completion, after a
``gc.collect()``; reading the results afterwards is not timed. The three are
run in turn, :data:`ROUNDS` times each, round ``i`` with seed ``i``, the order
reversed every other round.

* ``engine_vs_simpy_speedup``: the median over rounds of (SimPy wall time /
  engine-level course.sim wall time) for the same model and seed.
* ``stack_vs_simpy_speedup``: the same with the full course.sim stack.
* ``engine_run_ms``, ``stack_run_ms``, ``simpy_run_ms``: median wall time of one run.
* ``engine_requests_per_second``, ``stack_requests_per_second``: top-level
  requests simulated per wall-clock second.
* ``engine_10k_requests_with_retries_ms``: median wall time of the full stack
  on the same model with 10,000 requests (the interactive budget).
* ``<engine|stack|simpy>_mean_latency_ms``: mean time from a request's
  arrival to its final answer (retries and backoff included), over all
  rounds; ``..._success_rate``: the share of requests answered OK;
  ``..._attempts_per_request``: attempts sent per request.
* ``models_agree``: ``yes`` if both course.sim versions agree with SimPy
  within :data:`AGREEMENT` (mean latency and attempts per request relative,
  success rate absolute), which is several standard errors of the pooled figures.

Dashboards (``--only dashboards``)
----------------------------------
For every dashboard class in :data:`course.dashboards.ALL`, built at its
default settings (building runs one update, a warm-up) and after one
warm-up :meth:`~course.dashboards.base.Dashboard.naive_update`, then
:data:`DASHBOARD_ROUNDS` of each, interleaved:

* ``dashboard_<name>_update_ms``: median wall time of one ``update()``, with
  every memo in the course's models and dashboards emptied first (a cold
  update, see :func:`clear_model_caches`).
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

Grading (``--only grading``)
----------------------------
The autograder on the resilience assignment, through its command line, as a
learner and an instructor run it. A scratch nbgrader course gets
:data:`GRADING_SUBMISSIONS` submissions (the source notebook, which earns
full marks, and every fourth one the blank student version) and ``nbgrader
generate_assignment``; two copies of it are graded in the same run, one with
``cohort grade --workers 1`` and one with ``--workers 2`` (autograde,
feedback, export and report: the whole command), alternately,
:data:`GRADING_ROUNDS` times each; the fastest run of each counts (other
load on the machine only ever slows a run down).

* ``check_seconds``: wall time of ``python -m autograder check`` on the
  reference solution (nbgrader start-up, a kernel, every test, feedback).
* ``autograde_seconds_per_submission``: the one-worker ``cohort grade`` wall
  time divided by the number of submissions.
* ``cohort_1_worker_seconds``, ``cohort_2_workers_seconds``: the two wall times.
  Every run starts its own processes: nbgrader's import and kernel start-up
  are in every figure.
* ``cohort_parallel_speedup``: one-worker time / two-worker time (sandbox on).
* ``sandbox_overhead_seconds``: what the sandbox costs per submission: the
  one-worker time minus that of a third copy graded with ``--no-sandbox``,
  divided by the number of submissions (autograde and feedback).

Testing (``--only testing``)
----------------------------
The testing assignment, whose grading runs the learner's tests against every
wheat and chaff (:mod:`autograder.wheat_chaff`):

* ``testing_check_seconds``: ``python -m autograder check`` on the source
  solution (both suites against every implementation, feedback included).
* ``testing_autograde_seconds_per_submission``: a one-worker ``cohort grade``
  of :data:`TESTING_SUBMISSIONS` submissions (the source notebook, every
  fourth the blank copy), autograde and feedback, divided by their number.

Bars
----
The last line is ``bars_met: yes`` or ``bars_met: no (<figures>)``, checking
the parts that ran: ``engine_vs_simpy_speedup >= 6``, every
``update_vs_naive <= 0.6``, every ``sim_share <= 0.3`` and
``cohort_parallel_speedup >= 1.5``, and ``testing_check_seconds <= 30``.
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
MIN_PARALLEL_SPEEDUP = 1.5
#: Submissions in each ``cohort grade`` run of the grading part (8 or more): a small cohort. Every run
#: has a few seconds that do not divide among workers (starting nbgrader, the export, the report figure),
#: which a handful of submissions would let dominate the figure.
GRADING_SUBMISSIONS = 16
#: ``cohort grade`` runs with each number of workers, alternating; the fastest of each counts.
GRADING_ROUNDS = 2
#: Submissions in the testing benchmark's cohort (each runs both suites against 21 implementations).
TESTING_SUBMISSIONS = 4
#: The testing assignment's self-check should take at most this long on 2 cores (seconds).
MAX_TESTING_CHECK_SECONDS = 30

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


def run_course_sim_engine(model: RetryModel, seed: int) -> Run:
    """The model written directly on course.sim's engine, as :func:`run_simpy` is written directly on SimPy's.

    It uses what course.sim offers at that level: the event heap and its
    cancellable timers, named random streams, a latency distribution's
    sampler, and the very :class:`~course.sim.policies.Retry`,
    :class:`~course.sim.policies.Backoff` and :class:`~course.sim.policies.Timeout`
    objects the full stack uses. What it leaves out is the stack above the
    engine (Service, Client pipelines, OpenLoop) and its per-hop logs; that
    stack is timed separately by :func:`run_course_sim`.
    """
    from collections import deque

    from course.sim import Backoff, Exponential, Outcome, Retry, Simulation, Timeout

    gc.collect()
    started = time.perf_counter()
    sim = Simulation(seed=seed)
    retry = Retry(max_attempts=model.max_attempts, backoff=Backoff("full_jitter", model.backoff_base, model.backoff_cap))
    timeout = Timeout(model.timeout)
    work = Exponential(model.service_mean).sampler(sim.rng("server:work"))
    arrivals, faults, jitter = sim.rng("load:arrivals"), sim.rng("server:faults"), sim.rng("client:jitter")
    waiting: deque = deque()
    busy = [0]
    latencies: list[float] = []
    successes: list[bool] = []
    attempts = [0]

    def arrive():
        send([sim.now(), 1, 0.0, None, False])
        following = sim.now() + arrivals.exponential(1.0 / model.rate)
        if following < model.until:
            sim.at(following, arrive)

    def send(request):  # request: [arrived, attempt number, previous delay, timer, answered]
        attempts[0] += 1
        request[4] = False
        request[3] = sim.at(timeout.deadline(sim.now()), timed_out, request)
        if busy[0] < model.servers:
            busy[0] += 1
            sim.schedule(work(), served, request)
        else:
            waiting.append(request)

    def served(request):
        if waiting:
            sim.schedule(work(), served, waiting.popleft())
        else:
            busy[0] -= 1
        ok = faults.random() >= model.error_rate
        if not request[4]:
            request[4] = True
            sim.cancel(request[3])
            finished(request, Outcome.OK if ok else Outcome.ERROR)

    def timed_out(request):
        if not request[4]:
            request[4] = True
            finished(request, Outcome.TIMEOUT)

    def finished(request, outcome):
        delay = None if outcome is Outcome.OK else retry.next_delay(
            request[1], outcome, request[0], sim.now(), request[2], jitter)
        if delay is None:
            latencies.append(sim.now() - request[0])
            successes.append(outcome is Outcome.OK)
        else:
            request[1] += 1
            request[2] = delay
            sim.schedule(delay, send, request)

    sim.at(0.0, arrive)
    sim.run()
    wall = time.perf_counter() - started
    return Run(requests=len(latencies), attempts=attempts[0], successes=sum(successes),
               mean_latency=sum(latencies) / len(latencies), wall=wall)


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
    engine_runs: list[Run] = []
    sim_runs: list[Run] = []
    simpy_runs: list[Run] = []
    runners = ((engine_runs, run_course_sim_engine), (simpy_runs, run_simpy), (sim_runs, run_course_sim))
    for seed in range(ROUNDS):
        order = runners if seed % 2 == 0 else runners[::-1]
        for runs, runner in order:
            runs.append(runner(model, seed))
    engine_wall = statistics.median(r.wall for r in engine_runs)
    sim_wall = statistics.median(r.wall for r in sim_runs)
    emit("engine_vs_simpy_speedup", statistics.median(b.wall / a.wall for a, b in zip(engine_runs, simpy_runs)), ".2f")
    emit("stack_vs_simpy_speedup", statistics.median(b.wall / a.wall for a, b in zip(sim_runs, simpy_runs)), ".2f")
    emit("engine_run_ms", engine_wall * 1000, ".1f")
    emit("stack_run_ms", sim_wall * 1000, ".1f")
    emit("simpy_run_ms", statistics.median(r.wall for r in simpy_runs) * 1000, ".1f")
    emit("engine_requests_per_second", statistics.median(r.requests for r in engine_runs) / engine_wall, ".0f")
    emit("stack_requests_per_second", statistics.median(r.requests for r in sim_runs) / sim_wall, ".0f")

    small = replace(model, requests=10_000)
    walls = [run_course_sim(small, 100 + i).wall for i in range(RUNS_10K)]
    emit("engine_10k_requests_with_retries_ms", statistics.median(walls) * 1000, ".1f")

    figures = {"engine": pooled(engine_runs), "stack": pooled(sim_runs), "simpy": pooled(simpy_runs)}
    for label, pool in figures.items():
        emit(f"{label}_mean_latency_ms", pool["mean_latency"] * 1000, ".2f")
        emit(f"{label}_success_rate", pool["success_rate"], ".4f")
        emit(f"{label}_attempts_per_request", pool["attempts_per_request"], ".4f")
    agree = models_agree(figures["engine"], figures["simpy"]) and models_agree(figures["stack"], figures["simpy"])
    emit("models_agree", "yes" if agree else "no")


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


def clear_model_caches() -> int:
    """Empty every memo (``functools.lru_cache``) in the course's models and dashboards; returns how many.

    Dashboards may memoise results per setting, which makes revisiting a
    setting instant. The benchmark clears those memos before each timed
    update, so its figures are for a cold update, as on a setting the learner
    has not tried yet.
    """
    cleared = 0
    for module_name, module in list(sys.modules.items()):
        if not module_name.startswith(("course.models", "course.dashboards")) or module is None:
            continue
        for value in vars(module).values():
            if callable(getattr(value, "cache_clear", None)):
                value.cache_clear()
                cleared += 1
    return cleared


def _bench_dashboard(emit, name: str, cls) -> None:
    """Time one dashboard class and emit its three figures."""
    dashboard = cls()  # builds the figure and runs the first update: the warm-up
    dashboard.naive_update()
    updates, naives, shares = [], [], []
    for i in range(DASHBOARD_ROUNDS):
        for kind in (("update", "naive") if i % 2 == 0 else ("naive", "update")):
            clear_model_caches()  # time what a learner waits for on a setting not seen before
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


def _grading_course(root: Path, assignment: str, submissions: int | None = None) -> Path:
    """A scratch nbgrader course for ``assignment`` with ``submissions`` (default GRADING_SUBMISSIONS)
    submissions, every fourth the blank student version; returns ``root``."""
    import shutil
    import subprocess

    from autograder.assignments import find_assignment
    from autograder.config import write_config_file

    source = find_assignment(assignment)
    shutil.copytree(source.directory, root / "source" / assignment)
    write_config_file(root, course_id="bench")
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", assignment], cwd=root, env=env,
                   check=True, capture_output=True)
    blank = root / "release" / assignment / source.notebook.name
    for i in range(GRADING_SUBMISSIONS if submissions is None else submissions):
        folder = root / "submitted" / f"student{i:02d}" / assignment
        folder.mkdir(parents=True)
        shutil.copyfile(blank if i % 4 == 3 else source.notebook, folder / source.notebook.name)
    return root


def _autograder(*args: str, cwd: Path) -> float:
    """Seconds one ``python -m autograder ...`` command takes, run as a learner or an instructor would."""
    import subprocess

    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "autograder", *args], cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - started


def bench_grading(emit, assignment: str = "resilience") -> None:
    """Time ``check`` and ``cohort grade`` with 1 and 2 workers; see the module docstring."""
    import shutil
    import tempfile

    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        tmp = Path(tmp)
        one = _grading_course(tmp / "one", assignment)
        two = tmp / "two"
        shutil.copytree(one, two)  # its nbgrader_config.py names no paths: the copy is a course of its own
        learner = tmp / "learner"
        learner.mkdir()
        shutil.copyfile(one / "source" / assignment / f"{assignment}.ipynb", learner / f"{assignment}.ipynb")
        emit("check_seconds", _autograder("check", f"{assignment}.ipynb", cwd=learner), ".2f")
        bare = tmp / "bare"
        shutil.copytree(one, bare)
        serials, parallels, unsandboxed = [], [], []
        for _ in range(GRADING_ROUNDS):  # regrading from scratch each time (cohort grade regrades everything)
            serials.append(_autograder("cohort", "grade", str(one), "--workers", "1", "--no-progress", cwd=tmp))
            parallels.append(_autograder("cohort", "grade", str(two), "--workers", "2", "--no-progress", cwd=tmp))
            unsandboxed.append(_autograder("cohort", "grade", str(bare), "--workers", "1", "--no-progress",
                                          "--no-sandbox", cwd=tmp))
    serial, parallel = min(serials), min(parallels)
    emit("autograde_seconds_per_submission", serial / GRADING_SUBMISSIONS, ".2f")
    emit("cohort_1_worker_seconds", serial, ".1f")
    emit("cohort_2_workers_seconds", parallel, ".1f")
    emit("cohort_parallel_speedup", serial / parallel, ".2f")
    emit("sandbox_overhead_seconds", (serial - min(unsandboxed)) / GRADING_SUBMISSIONS, ".2f")


def bench_testing(emit) -> None:
    """Time ``check`` and a one-worker ``cohort grade`` on the testing assignment; see the module docstring."""
    import shutil
    import tempfile

    with tempfile.TemporaryDirectory(prefix="bench-testing-") as tmp:
        tmp = Path(tmp)
        course = _grading_course(tmp / "course", "testing", TESTING_SUBMISSIONS)
        learner = tmp / "learner"
        learner.mkdir()
        shutil.copyfile(course / "source" / "testing" / "testing.ipynb", learner / "testing.ipynb")
        emit("testing_check_seconds", _autograder("check", "testing.ipynb", cwd=learner), ".2f")
        seconds = _autograder("cohort", "grade", str(course), "--workers", "1", "--no-progress", cwd=tmp)
    emit("testing_autograde_seconds_per_submission", seconds / TESTING_SUBMISSIONS, ".2f")


PARTS = {"engine": bench_engine, "dashboards": bench_dashboards, "notebooks": bench_notebooks,
         "grading": bench_grading, "testing": bench_testing}


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
        elif name == "cohort_parallel_speedup":
            ok = value >= MIN_PARALLEL_SPEEDUP
        elif name == "testing_check_seconds":
            ok = value <= MAX_TESTING_CHECK_SECONDS
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
            if name == "grading":
                figures["cohort_parallel_speedup"] = math.nan

    unmet = unmet_bars(figures)
    unmet += [name for name in figures if name.endswith("_part")]
    print(f"bars_met: {'yes' if not unmet else 'no (' + ', '.join(unmet) + ')'}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
