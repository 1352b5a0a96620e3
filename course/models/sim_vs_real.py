"""Lesson 07's first part: the simulator meets reality, for one small scenario, with faults on real services.

The scenario (:class:`Scenario`): a service answers in about ``base``
seconds, but each call, independently, is delayed by ``slow_delay`` (1 s)
with probability ``slow_share`` (5%). The client gives each attempt
``Timeout(timeout)`` (200 ms) and retries through a ``Retry`` of
``attempts`` attempts in total (2: one retry) with ``Backoff("none")``: the
course's Retry always has a backoff, and the ``"none"`` kind retries at once
(its ``base`` is then unused). The very same two policy objects
(:meth:`Scenario.policies`) run on both sides:

* :func:`predict`: in :mod:`course.sim` on virtual time: a
  :class:`~course.sim.Service` whose latency is the mixture
  ``Bimodal(Constant(base), Constant(base + slow_delay), slow_share)`` and a
  :class:`~course.sim.Client` with ``[Retry, Timeout]``;
* :func:`measure`: for real: a :class:`~course.loopback.FaultServer` on
  loopback that delays a seeded ``slow_share`` of the requests it receives
  (``faults={Delay(slow_delay): slow_share}``), a real HTTP client
  (:mod:`http.client`, a new connection per attempt, the socket timeout set
  to the attempt's timeout) driven through
  :class:`~course.sim.policies.sync.Pipeline` ``(Retry, Timeout)`` on the
  real clock, from a few client threads;
* :func:`theory`: the arithmetic (see its docstring).

``base`` is the fast answer as the client sees it. On loopback it is what a
request costs with nothing injected, which the real server does not add to
(about 1 ms with a new connection per request on the course machine, hence
the default); change it only in the simulator's world.

:func:`compare` runs all three and lays them side by side
(:meth:`Comparison.table`); :meth:`Comparison.agrees` checks the real run
against the simulator within :data:`TOLERANCES`. :func:`fault_tour` sends
one request per kind of fault (an answer, a delay past the timeout, a 503, a
429 with ``Retry-After``, a reset, a hang) through the same pipeline and
says what the client saw.

Nothing is left behind: :func:`measure` and :func:`fault_tour` join their
client threads and close their servers (which ends any delay or hang still
waiting) before they return.
"""

from __future__ import annotations

import http.client
import math
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from course.loopback import Delay, Fail, FaultServer, Hang, Ok, Reset
from course.sim import Backoff, Bimodal, Client, Constant, Retry, Service, Simulation, Timeout, _validate
from course.sim._gc import gc_paused
from course.sim.outcomes import Outcome
from course.sim.policies.sync import Pipeline
from course.sim.service import Call

#: Upper bounds of the scenario's parameters (the real run must stay short).
MAX_TIMEOUT = 5.0
MAX_SLOW_DELAY = 60.0
MAX_ATTEMPTS = 5
MAX_CONCURRENCY = 32
#: Seconds between the simulator's requests (there is no queueing, so it changes nothing but the clock).
SPACING = 0.01
#: Requests :func:`predict` runs by default: enough for its figures to be their long-run values
#: (attempts per request within about ±0.005 and the success rate within about ±0.1 point, 3 sigma).
PREDICT_REQUESTS = 20_000
#: Requests and client threads of a default real run: about 1.5 s on two cores.
MEASURE_REQUESTS = 400
CONCURRENCY = 4
#: The default seed. In a real run it decides which arrivals the server delays; seed 2's plan is a typical
#: one (22 of its first 421 arrivals delayed, 5.2%, and two back-to-back pairs, about what chance gives), so a
#: 400-request run shows what the long run does. Some seeds' plans are not (seed 1's delays 29 of 425, 6.8%,
#: with five back-to-back pairs: 3 to 5 requests fail instead of the 1 expected, and 5 failures in 400 lift
#: the sample p99 to 0.4 s).
SEED = 2


@dataclass(frozen=True)
class Tolerances:
    """How far the real run may be from the simulator's prediction and still agree.

    ``p50`` is absolute (seconds); ``p99`` agrees within ``p99_relative`` of
    the prediction *or* within ``p99_absolute`` seconds, whichever is wider;
    ``success`` is a share (0.015 is 1.5 points); ``attempts`` is attempts
    per request.
    """

    p50: float = 0.020
    p99_relative: float = 0.25
    p99_absolute: float = 0.060
    success: float = 0.015
    attempts: float = 0.03

    def __post_init__(self):
        for name in ("p50", "p99_relative", "p99_absolute", "success", "attempts"):
            _validate.positive(name, getattr(self, name))


#: The real run agrees with the prediction within these. Measured on the course machine (2 cores), 400 real
#: requests against the default scenario: p50 was 1.3-2.6 ms where the simulator says 1 ms, and p99 0.204-0.213 s
#: where it says 0.201 s (an attempt's timeout fires a few milliseconds late, and the retry must connect anew).
#: With five copies of compare() running at once on the two cores, p50 rose to 5.5-13.9 ms and p99 to
#: 0.215-0.247 s: a request passes between four threads, and each hand-over may wait for a core. So p50 may be
#: 20 ms off (still a tenth of the timeout: a fast answer is told from a cut one) and p99 25% or 60 ms,
#: whichever is wider (60 ms for the default scenario). The rest is sampling: in 400
#: requests the attempts per request have a standard deviation of sqrt(0.05 * 0.95 / 400) = 0.011 and the
#: success rate one of sqrt(0.0025 / 400) = 0.25 points, so ±0.03 attempts is about 2.7 sigma and ±1.5
#: points about 6 (with the default seed the server's plan is fixed, so these vary little from run to run).
TOLERANCES = Tolerances()
#: The timing tolerances the test suite holds the real run to while it runs many test processes on two cores
#: (seen there: p99 0.278 s against 0.201 s). The sampling tolerances stay as they are.
LOADED_TOLERANCES = Tolerances(p50=0.05, p99_relative=0.5, p99_absolute=0.15)


@dataclass(frozen=True)
class Scenario:
    """One small scenario: 5% of calls delayed by 1 s, a 200 ms timeout per attempt and one retry.

    ``base`` (seconds, 0 < base < timeout): how long a normal answer takes;
    ``slow_share`` (in [0, 1]): the chance that a call is delayed;
    ``slow_delay`` (seconds, 0 to :data:`MAX_SLOW_DELAY`): by how much;
    ``timeout`` (seconds, 0 < timeout <= :data:`MAX_TIMEOUT`): per attempt;
    ``attempts`` (1 to :data:`MAX_ATTEMPTS`): in total, the first included.
    The real run injects only the delays: its fast answers take what
    loopback takes, which ``base`` (1 ms) stands for in the simulator.
    """

    base: float = 0.001
    slow_share: float = 0.05
    slow_delay: float = 1.0
    timeout: float = 0.2
    attempts: int = 2

    def __post_init__(self):
        _check_range("timeout", self.timeout, 0.0, MAX_TIMEOUT, low_open=True)
        _check_range("base", self.base, 0.0, self.timeout, low_open=True, high_open=True)
        _check_range("slow_share", self.slow_share, 0.0, 1.0)
        _check_range("slow_delay", self.slow_delay, 0.0, MAX_SLOW_DELAY)
        attempts = self.attempts
        if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= MAX_ATTEMPTS:
            raise ValueError(f"attempts must be a whole number from 1 to {MAX_ATTEMPTS}, got {self.attempts!r}")

    def policies(self) -> tuple[Retry, Timeout]:
        """New ``(Retry, Timeout)`` objects: ``attempts`` in total with no backoff, and the per-attempt timeout."""
        return Retry(self.attempts, Backoff("none")), Timeout(self.timeout)

    @property
    def times_out(self) -> bool:
        """True if a delayed call outlasts the timeout (``base + slow_delay >= timeout``)."""
        return self.base + self.slow_delay >= self.timeout


def _check_range(name: str, value, low: float, high: float, *, low_open: bool = False, high_open: bool = False):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if value < low or value > high or (low_open and value == low) or (high_open and value == high):
        span = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ValueError(f"{name} must be in {span}, got {value!r}")
    return value


def _check_scenario(scenario) -> Scenario:
    if not isinstance(scenario, Scenario):
        raise ValueError(f"scenario must be a Scenario, got {scenario!r}")
    return scenario


def _check_policies(policies, scenario: Scenario) -> tuple[Retry, Timeout]:
    """``policies`` as a (Retry, Timeout) pair; ``scenario.policies()`` if None."""
    if policies is None:
        return scenario.policies()
    try:
        retry, timeout = policies
    except (TypeError, ValueError):
        raise ValueError(f"policies must be a (Retry, Timeout) pair, got {policies!r}") from None
    if not isinstance(retry, Retry) or not isinstance(timeout, Timeout):
        raise ValueError(f"policies must be a (Retry, Timeout) pair, got {policies!r}")
    return retry, timeout


@dataclass(frozen=True)
class Figures:
    """The four figures of one run (or of theory): latency p50 and p99 (seconds), success share, attempts per request.

    Latency is from a request's start to its end, successful or not. A run
    also keeps ``requests`` and its per-request ``latencies`` (seconds);
    a real run adds ``seconds`` (wall-clock time :func:`measure` took),
    ``server_calls`` (requests the server received) and ``delayed`` (how many
    of those it delayed).
    """

    p50: float
    p99: float
    success: float
    attempts: float
    requests: int | None = None
    seconds: float | None = None
    server_calls: int | None = None
    delayed: int | None = None
    latencies: np.ndarray | None = field(default=None, repr=False, compare=False)


def _figures(latencies, ok, attempts, **extra) -> Figures:
    latencies = np.asarray(latencies, dtype=float)
    return Figures(p50=float(np.quantile(latencies, 0.5)), p99=float(np.quantile(latencies, 0.99)),
                   success=float(np.mean(ok)), attempts=float(np.sum(attempts)) / latencies.size,
                   requests=int(latencies.size), latencies=latencies, **extra)


# -- theory ------------------------------------------------------------------------------------------


def latency_distribution(scenario: Scenario) -> list[tuple[float, float]]:
    """The exact latency distribution of a request as ``(seconds, probability)`` atoms, fastest first.

    With ``s = slow_share``, ``T = timeout``, ``n = attempts``: if a delayed
    call still answers in time (``base + slow_delay < T``), a request takes
    ``base`` (1 − s) or ``base + slow_delay`` (s). Otherwise a delayed
    attempt is cut at ``T`` and retried at once, so a request whose first
    ``k`` attempts were delayed takes ``k·T + base`` (probability
    ``s^k (1 − s)``, k < n), and one whose ``n`` attempts all were fails
    after ``n·T`` (probability ``s^n``).
    """
    _check_scenario(scenario)
    s, b, T, n = scenario.slow_share, scenario.base, scenario.timeout, scenario.attempts
    if not scenario.times_out:
        atoms = [(b, 1 - s), (b + scenario.slow_delay, s)]
    else:
        atoms = [(k * T + b, s ** k * (1 - s)) for k in range(n)] + [(n * T, s ** n)]
    return sorted(((t, p) for t, p in atoms if p > 0), key=lambda atom: atom[0])


def _quantile(atoms, q: float) -> float:
    total = 0.0
    for value, p in atoms:
        total += p
        if total >= q - 1e-12:
            return value
    return atoms[-1][0]


def theory(scenario: Scenario = Scenario()) -> Figures:
    """What arithmetic says for ``scenario`` (see :func:`latency_distribution`).

    When delayed calls time out: attempts per request ``1 + s + … + s^(n−1)``
    (``1 + s`` with one retry: 1.05), success ``1 − s^n`` (``1 − s²``:
    99.75%). Latency has atoms at ``base``, ``T + base``, … and ``n·T``; p50
    and p99 are the first atoms whose cumulative probability reaches 0.5 and
    0.99. With one retry: p50 is ``base`` while s < 50%; p99 is ``base`` while
    s <= 1%, ``T + base`` for 1% < s <= 10% (1 − s² >= 0.99), and ``2T``
    (the failures) beyond. So for the default scenario p50 = 1 ms and
    p99 = 0.201 s. When delayed calls answer in time there is one attempt,
    every request succeeds, and p99 is ``base + slow_delay`` once s > 1%.
    """
    atoms = latency_distribution(scenario)
    s, n = scenario.slow_share, scenario.attempts
    if scenario.times_out:
        attempts, success = sum(s ** k for k in range(n)), 1 - s ** n
    else:
        attempts, success = 1.0, 1.0
    return Figures(p50=_quantile(atoms, 0.5), p99=_quantile(atoms, 0.99), success=success, attempts=attempts)


# -- the simulator -----------------------------------------------------------------------------------


def predict(scenario: Scenario = Scenario(), *, requests: int = PREDICT_REQUESTS, seed: int = SEED,
            policies=None) -> Figures:
    """Run ``scenario`` in :mod:`course.sim`: ``requests`` requests, :data:`SPACING` apart, on virtual time.

    The service has more workers than requests (nothing queues, as on the
    real loopback server, where every connection gets its own thread); its
    latency is ``Bimodal(Constant(base), Constant(base + slow_delay),
    slow_share)``, a fresh draw per attempt. The client runs ``policies``,
    a ``(Retry, Timeout)`` pair (by default :meth:`Scenario.policies`).
    """
    _check_scenario(scenario)
    _validate.integer_at_least("requests", requests, 1)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be a whole number, got {seed!r}")
    sim = Simulation(seed=seed)
    latency = Bimodal(Constant(scenario.base), Constant(scenario.base + scenario.slow_delay), scenario.slow_share)
    service = Service(sim, "service", workers=requests * scenario.attempts, latency=latency)
    client = Client(sim, service, list(_check_policies(policies, scenario)), name="client")
    ignore = _ignore
    with gc_paused():
        for i in range(requests):
            sim.at(i * SPACING, client.call, Call(i + 1), ignore)
        sim.run()
    calls = client.call_records()
    return _figures(calls["end"] - calls["start"], calls["outcome"] == int(Outcome.OK),
                    client.records()["root"].size)


def _ignore(outcome) -> None:
    pass


# -- the real run ------------------------------------------------------------------------------------


class ServerError(ConnectionError):
    """A retryable HTTP answer (5xx or 429): the ``ConnectionError`` (ERROR outcome) the pipeline retries."""

    def __init__(self, status: int, retry_after: str | None = None):
        after = "" if retry_after is None else f" (Retry-After: {retry_after})"
        super().__init__(f"HTTP {status}{after}")
        self.status = status
        self.retry_after = retry_after


class ClientError(Exception):
    """Any other status of 400 or more: retrying cannot help, so it is FATAL for the pipeline."""

    def __init__(self, status: int):
        super().__init__(f"HTTP {status}")
        self.status = status


class ProtocolError(ConnectionError):
    """The server's answer was not valid HTTP, or was cut short."""


def get(port: int, timeout: float, path: str = "/") -> int:
    """One real ``GET`` on ``127.0.0.1:port`` on a new connection, within ``timeout`` seconds; the status.

    The socket timeout is ``timeout`` for connecting and sending, then cut
    to the time left for the answer, so the attempt ends close to
    ``timeout`` after it began. Raises ``TimeoutError`` when the socket
    times out, ``ConnectionError`` on a reset or a closed connection,
    :class:`ServerError` for 5xx and 429 answers and :class:`ClientError`
    for other statuses >= 400. The connection is always closed.
    """
    ends = time.monotonic() + timeout
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        left = ends - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no answer within {timeout:g} s")
        connection.sock.settimeout(left)
        response = connection.getresponse()
        response.read()
    except (ConnectionError, TimeoutError):
        raise
    except http.client.HTTPException as error:
        raise ProtocolError(f"{type(error).__name__}: {error}") from error
    finally:
        connection.close()
    status = response.status
    if status >= 500 or status == 429:
        raise ServerError(status, response.headers.get("Retry-After"))
    if status >= 400:
        raise ClientError(status)
    return status


def _describe(error: BaseException | None, status: int | None) -> str:
    if error is None:
        return f"ok (HTTP {status})"
    return f"{type(error).__name__}: {error}"


def _call(pipeline: Pipeline, port: int, timeout: float):
    """One request through ``pipeline``: (elapsed seconds, status or None, exception or None, attempts)."""
    attempts = 0

    def attempt():
        nonlocal attempts
        attempts += 1
        return get(port, timeout)

    started = time.monotonic()
    try:
        status, error = pipeline.call(attempt), None
    except Exception as exc:  # noqa: BLE001 - every failure is a row of the result
        status, error = None, exc
    return time.monotonic() - started, status, error, attempts


def measure(scenario: Scenario = Scenario(), *, requests: int = MEASURE_REQUESTS, seed: int = SEED,
            concurrency: int = CONCURRENCY, policies=None) -> Figures:
    """Run ``scenario`` for real on loopback: ``requests`` requests from ``concurrency`` client threads.

    The server is a :class:`~course.loopback.FaultServer` whose plan delays
    each request it receives by ``slow_delay`` with probability
    ``slow_share``, drawn from ``random.Random(seed)`` in arrival order (so
    which arrivals are delayed is the same every run; which client request
    they belong to depends on the threads' race). Each client thread takes
    the next request and sends it through one shared
    ``Pipeline(retry, timeout)`` of ``policies`` (by default
    :meth:`Scenario.policies`) with :func:`get` as the attempt (its socket
    timeout is the Timeout's). Attempts are counted in the client; the
    server's log gives ``server_calls``, which should be the same number.
    Returns when every client thread has been joined and the server closed:
    a delayed answer still pending is abandoned then.
    """
    _check_scenario(scenario)
    _validate.integer_at_least("requests", requests, 1)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be a whole number, got {seed!r}")
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or not 1 <= concurrency <= MAX_CONCURRENCY:
        raise ValueError(f"concurrency must be a whole number from 1 to {MAX_CONCURRENCY}, got {concurrency!r}")
    retry, timeout = _check_policies(policies, scenario)
    pipeline = Pipeline(retry, timeout)
    results: list = [None] * requests
    next_request = iter(range(requests))
    lock = threading.Lock()
    started = time.monotonic()
    with FaultServer(faults={Delay(scenario.slow_delay): scenario.slow_share}, seed=seed,
                     name="sim-vs-real") as server:

        def client():
            while True:
                with lock:
                    i = next(next_request, None)
                if i is None:
                    return
                results[i] = _call(pipeline, server.port, timeout.seconds)

        threads = [threading.Thread(target=client, name=f"sim-vs-real client {k}")
                   for k in range(min(concurrency, requests))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    seconds = time.monotonic() - started
    applied = server.applied()
    return _figures([row[0] for row in results], [row[2] is None for row in results], [row[3] for row in results],
                    seconds=seconds, server_calls=len(applied),
                    delayed=sum(isinstance(fault, Delay) for fault in applied))


# -- side by side ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """The simulator's prediction, the real run and theory for one scenario (``policies``: the Retry and
    Timeout objects both runs used)."""

    scenario: Scenario
    simulator: Figures
    real: Figures
    theory: Figures
    policies: tuple = field(default=(), repr=False, compare=False)

    def table(self) -> list[tuple[str, float, float, float]]:
        """Rows ``(figure, simulator, real, theory)``: latencies in milliseconds, success in percent."""
        rows = []
        for label, name, scale in (("p50 latency (ms)", "p50", 1000.0), ("p99 latency (ms)", "p99", 1000.0),
                                   ("success rate (%)", "success", 100.0),
                                   ("attempts per request", "attempts", 1.0)):
            rows.append((label, *(getattr(figures, name) * scale
                                  for figures in (self.simulator, self.real, self.theory))))
        return rows

    def differences(self, tolerances: Tolerances = TOLERANCES) -> list[str]:
        """The figures where the real run is further from the simulator than ``tolerances`` allow ([] if none)."""
        return disagreements(self.simulator, self.real, tolerances)

    def agrees(self, tolerances: Tolerances = TOLERANCES) -> bool:
        """True if the real run agrees with the simulator on all four figures, within ``tolerances``."""
        return not self.differences(tolerances)


def disagreements(expected: Figures, got: Figures, tolerances: Tolerances = TOLERANCES) -> list[str]:
    """The figures of ``got`` further from ``expected`` than ``tolerances`` allow, each described ([] if none)."""
    if not isinstance(tolerances, Tolerances):
        raise ValueError(f"tolerances must be a Tolerances, got {tolerances!r}")
    p99_allowed = max(tolerances.p99_relative * expected.p99, tolerances.p99_absolute)
    checks = (("p50", tolerances.p50), ("p99", p99_allowed), ("success", tolerances.success),
              ("attempts", tolerances.attempts))
    found = []
    for name, allowed in checks:
        a, b = getattr(expected, name), getattr(got, name)
        if not abs(b - a) <= allowed:
            found.append(f"{name}: {b:.4g} vs {a:.4g} expected (allowed ±{allowed:.3g})")
    return found


def compare(scenario: Scenario = Scenario(), *, requests: int = MEASURE_REQUESTS,
            predict_requests: int = PREDICT_REQUESTS, seed: int = SEED, concurrency: int = CONCURRENCY) -> Comparison:
    """Predict ``scenario`` (``predict_requests`` simulated requests), measure it (``requests`` real ones) and
    work out its theory. The simulator's client and the real pipeline run the very same Retry and Timeout
    objects (one :meth:`Scenario.policies` pair, kept as :attr:`Comparison.policies`)."""
    policies = _check_scenario(scenario).policies()
    simulated = predict(scenario, requests=predict_requests, seed=seed, policies=policies)
    real = measure(scenario, requests=requests, seed=seed, concurrency=concurrency, policies=policies)
    return Comparison(scenario, simulated, real, theory(scenario), policies)


# -- a tour of the faults ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TourRow:
    """What one request saw when the server applied ``fault``: ``outcome`` (``"ok"`` or the exception's name),
    ``detail``, ``attempts`` made and ``elapsed_ms``."""

    fault: str
    outcome: str
    detail: str
    attempts: int
    elapsed_ms: float


#: The faults of :func:`fault_tour`, one request each.
TOUR = (Ok(), Delay(0.5), Fail(503), Fail(429, retry_after=1), Reset(), Hang())


def fault_name(fault) -> str:
    """A short name for a fault of :mod:`course.loopback`: ``Delay(0.5)``, ``Fail(429, retry_after=1)``, ..."""
    if isinstance(fault, Delay):
        then = "" if fault.then == Ok() else f", then={fault_name(fault.then)}"
        return f"Delay({fault.seconds:g}{then})"
    if isinstance(fault, Fail):
        after = "" if fault.retry_after is None else f", retry_after={fault.retry_after!r}"
        return f"Fail({fault.status}{after})"
    if isinstance(fault, Ok) and fault.forwards:
        return "Ok()"
    return repr(fault)


def fault_tour(scenario: Scenario = Scenario(), *, every_attempt: bool = True) -> list[TourRow]:
    """One request per fault in :data:`TOUR`, each through ``Pipeline(Retry, Timeout)`` of ``scenario``.

    Each fault gets a FaultServer of its own. With ``every_attempt`` (the
    default) the fault hits every attempt, so a row shows what the client
    sees when the retry does not help: ``TimeoutError`` after two cut
    attempts for the delay and the hang, :class:`ServerError` for the 503 and
    the 429 (the scenario's Retry has no backoff and the course's Retry
    does not read ``Retry-After``, so it retries at once), ``ConnectionResetError`` (or another
    ``ConnectionError``) for the reset. With ``every_attempt=False`` only the
    first attempt is faulty and the retry succeeds. About 1 s in all with the
    default scenario.
    """
    _check_scenario(scenario)
    if not isinstance(every_attempt, bool):
        raise ValueError(f"every_attempt must be True or False, got {every_attempt!r}")
    retry, timeout = scenario.policies()
    pipeline = Pipeline(retry, timeout)
    rows = []
    for fault in TOUR:
        plan = dict(then=fault) if every_attempt else dict(script=[fault], then=Ok())
        with FaultServer(name="fault tour", **plan) as server:
            elapsed, status, error, attempts = _call(pipeline, server.port, timeout.seconds)
        rows.append(TourRow(fault=fault_name(fault), outcome="ok" if error is None else type(error).__name__,
                            detail=_describe(error, status), attempts=attempts, elapsed_ms=elapsed * 1000.0))
    return rows
