"""Lesson 07's chaos experiment: a steady-state hypothesis, a blast radius with a control group, and an abort.

The system serves :data:`RATE` requests per second of production traffic, and
:data:`BASELINE` of them fail whatever we do. The steady-state hypothesis is
the SLI "the error rate stays at its baseline": *with the recommendations
service down, the experiment group fails no more often than the control
group*. As Netflix's ChAP does (Basiri et al., "Automating Chaos Experiments in
Production", ICSE-SEIP 2019), a share ``blast_radius`` of the traffic goes to
an experiment group and the same share to a control group; the fault is
injected only into the experiment group, and the rest of the traffic is not
touched. The system then behaves in one of two ways (``behaviour``):

* ``"graceful"``: the fallback holds (popular titles instead of personal
  recommendations), so the experiment group fails at the baseline rate and
  the hypothesis holds;
* ``"refuted"``: there is no working fallback, so the experiment group fails
  at ``fault_error_rate`` and the hypothesis is refuted.

A request that fails because of the fault is a user hurt: the baseline's
failures would have happened anyway, so they do not count.

**The abort condition.** Every :data:`CHECK_SECONDS` seconds the experiment
looks at the experiment group's requests since the previous check and stops
the whole experiment (both groups) if their error rate exceeds
``abort_threshold`` (strictly). A rate over a few requests means little (one
error in 20 is 5%), so at a small blast radius the checks are spaced further
apart, at a whole number of :data:`CHECK_SECONDS` that expects at least
:data:`MIN_REQUESTS` requests (:func:`check_seconds`: 50 s at 0.1% of
2,000 requests/s). The check uses a fixed threshold, not the control
group: simple, and the way a person would write the rule, but blind to any
degradation below the threshold.

**Telling the groups apart.** The experiment decides in advance how many
requests per group it needs to see the fault it fears, a rise from p0 =
:data:`BASELINE` to p1 = ``fault_error_rate``, with a two-proportion z-test
at :data:`CONFIDENCE` (two-sided) and :data:`POWER` (the usual sample-size
formula for two proportions, normal approximation):

    n = (z_{1-α/2} + z_{1-β})² · (p0(1 − p0) + p1(1 − p1)) / (p1 − p0)²

with z_{1-α/2} = 1.96 and z_{1-β} = 0.84, so (…)² ≈ 7.85. Each group receives
``rate · blast_radius`` requests per second, so that many requests take
``n / (rate · blast_radius)`` seconds, and by then the fault has failed
``n · (p1 − p0)`` requests in the experiment group on average. That count
does not depend on the blast radius: a smaller radius hurts the same number
of users before the difference is clear, only more slowly, and makes you wait
longer for the answer. (The form often quoted without the z_{1-β} term,
z²·(…)/(p1 − p0)², is the n at which the expected z just reaches 1.96: a 50%
chance to see the fault, not 80%.) With a baseline of 0.1% the errors are
few, the normal approximation is conservative, and the planned test detects
the fault more often than :data:`POWER`: about 84% of the time at 0.5%
errors and 90% at 10% (many seeded runs; see the tests).

The abort, by contrast, reacts on a clock: a refuted experiment whose fault
rate is well above the threshold is stopped at its first check, after about
``rate · blast_radius · check_seconds · (p1 − p0)`` failed requests, which
is proportional to the blast radius. And the threshold bounds the harm that
goes unnoticed: every check the experiment passes had at most
``abort_threshold`` of its requests fail.

**Simulation.** Time advances in ticks of :data:`TICK` seconds. Per tick each
group receives Poisson(rate · blast_radius · TICK) requests; each fails at
the baseline (binomial draws), and in a refuted experiment each request that
did not fail anyway fails from the fault with probability
(p1 − p0) / (1 − p0), so the group's error rate is p1 and the fault's own
failures (the users it hurt) are counted apart from the baseline's. The
planned test falls between ticks; the arrivals of its tick are split at that
moment with a binomial draw (arrivals of a Poisson stream are spread
uniformly over the tick). Experiment traffic, the fault, the control group
and that split draw from independent streams of one seed, so the same seed
gives both behaviours the same traffic and the same control group. A run of
:data:`DURATION` seconds is a few arrays of 1,800 ticks: a few milliseconds.

**Theory** (:func:`theory`). In a check window of W seconds the errors and
the successes are independent Poisson counts (a Poisson stream split at
random), so the chance that one check aborts, a, is a sum over two Poisson
distributions (:func:`abort_probability_per_check`); checks are independent,
so the run is aborted with probability 1 − (1 − a)^K over its K checks, and
by Wald's identity the expected failed requests caused by the fault before
the experiment stops are rate · blast_radius · (p1 − p0) · E[stop time].
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np

from course.sim import _validate

#: Requests per second of production traffic (all of it; each group gets ``blast_radius`` of it).
RATE = 2000.0
#: The share of requests that fail in steady state: the SLI's baseline.
BASELINE = 0.001
#: How long the experiment runs unless it is aborted (s).
DURATION = 1800.0
#: The simulation's time step (s).
TICK = 1.0
#: How often the abort condition is checked (s), and the least number of requests a check should expect:
#: at a small blast radius the checks are spaced further apart, in whole multiples of CHECK_SECONDS.
CHECK_SECONDS = 10.0
MIN_REQUESTS = 100
#: The planned z-test: two-sided confidence and power.
CONFIDENCE = 0.95
POWER = 0.80
BEHAVIOURS = ("graceful", "refuted")

_NORMAL = NormalDist()


# -- parameters -----------------------------------------------------------------------------------

def _check(blast_radius, abort_threshold, behaviour, fault_error_rate, rate, baseline, duration) -> None:
    _validate.positive("blast_radius", blast_radius)
    if blast_radius > 0.5:
        raise ValueError(f"blast_radius must be in (0, 0.5] (the control group takes as much again), "
                         f"got {blast_radius!r}")
    _validate.positive("abort_threshold", abort_threshold)
    if abort_threshold >= 1:
        raise ValueError(f"abort_threshold must be in (0, 1), got {abort_threshold!r}")
    _validate.one_of("behaviour", behaviour, BEHAVIOURS)
    _validate.positive("rate", rate)
    _validate.probability("baseline", baseline)
    if baseline >= 1:
        raise ValueError(f"baseline must be in [0, 1), got {baseline!r}")
    _validate.probability("fault_error_rate", fault_error_rate)
    if fault_error_rate <= baseline:
        raise ValueError(f"fault_error_rate must be in (baseline, 1] = ({baseline:g}, 1] (a fault that fails "
                         f"no more than the baseline refutes nothing), got {fault_error_rate!r}")
    _validate.positive("duration", duration)


def _confidence_power(confidence, power) -> tuple[float, float]:
    for name, value in (("confidence", confidence), ("power", power)):
        _validate.probability(name, value)
        if not 0 < value < 1:
            raise ValueError(f"{name} must be in (0, 1), got {value!r}")
    return _NORMAL.inv_cdf(1 - (1 - confidence) / 2), _NORMAL.inv_cdf(power)


def z_critical(confidence: float = CONFIDENCE) -> float:
    """The two-sided critical value of the z-test: 1.96 at 95%."""
    return _confidence_power(confidence, 0.5)[0]


def check_seconds(blast_radius: float, rate: float = RATE) -> float:
    """Seconds between abort checks: :data:`CHECK_SECONDS`, or the least multiple of it that expects at least
    :data:`MIN_REQUESTS` experiment requests (10 s down to a blast radius of 0.5% of 2,000 requests/s; 30 s at
    0.2%, 50 s at 0.1%)."""
    _validate.positive("blast_radius", blast_radius)
    _validate.positive("rate", rate)
    per_check = rate * blast_radius * CHECK_SECONDS
    return CHECK_SECONDS * max(1, math.ceil(MIN_REQUESTS / per_check - 1e-9))


# -- the statistics -------------------------------------------------------------------------------

def sample_size(p0: float, p1: float, confidence: float = CONFIDENCE, power: float = POWER) -> float:
    """Requests per group for a two-proportion z-test to tell error rate ``p1`` from ``p0``:

    (z_{1-α/2} + z_{1-β})² · (p0(1 − p0) + p1(1 − p1)) / (p1 − p0)²; infinite when p1 == p0.
    """
    _validate.probability("p0", p0)
    _validate.probability("p1", p1)
    z_alpha, z_beta = _confidence_power(confidence, power)
    if p1 == p0:
        return math.inf
    return (z_alpha + z_beta) ** 2 * (p0 * (1 - p0) + p1 * (1 - p1)) / (p1 - p0) ** 2


def hurt_before_clear(p0: float, p1: float, confidence: float = CONFIDENCE, power: float = POWER) -> float:
    """Requests the fault fails in the experiment group, on average, before the planned test has its data:

    n · (p1 − p0) = (z_{1-α/2} + z_{1-β})² · (p0(1 − p0) + p1(1 − p1)) / (p1 − p0),

    the same at every blast radius (0 when p1 <= p0: nothing to hurt or to find)."""
    n = sample_size(p0, p1, confidence, power)
    return 0.0 if p1 <= p0 else n * (p1 - p0)


def minimum_detectable(p0: float, n: float, confidence: float = CONFIDENCE, power: float = POWER) -> float:
    """The smallest error rate p1 > p0 that ``n`` requests per group detect with this confidence and power
    (the inverse of :func:`sample_size` in p1; 1.0 if even that needs more)."""
    _validate.probability("p0", p0)
    _validate.positive("n", n)
    z_alpha, z_beta = _confidence_power(confidence, power)
    c = (z_alpha + z_beta) ** 2
    # n (p1 − p0)² = c (p0 q0 + p1 − p1²) is a quadratic in p1; its larger root is the answer.
    a, b, k = n + c, 2 * n * p0 + c, n * p0 ** 2 - c * p0 * (1 - p0)
    p1 = (b + math.sqrt(max(b * b - 4 * a * k, 0.0))) / (2 * a)
    return min(1.0, p1)


def z_statistic(errors_a, requests_a, errors_b, requests_b):
    """The pooled two-proportion z statistic (rate a − rate b) / √(p̄(1 − p̄)(1/n_a + 1/n_b)); 0 where either
    group has no requests or the pooled rate is 0 or 1. Works on arrays."""
    ea, na, eb, nb = (np.asarray(v, dtype=float) for v in (errors_a, requests_a, errors_b, requests_b))
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = (ea + eb) / (na + nb)
        spread = np.sqrt(pooled * (1 - pooled) * (1 / na + 1 / nb))
        z = (ea / na - eb / nb) / spread
    z = np.where((na > 0) & (nb > 0) & (spread > 0), z, 0.0)
    return float(z) if z.ndim == 0 else z


def _poisson_pmf(mean: float, upto: int) -> np.ndarray:
    k = np.arange(upto + 1)
    if mean <= 0:
        return (k == 0).astype(float)
    log_factorial = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, upto + 1)))])
    return np.exp(k * math.log(mean) - mean - log_factorial)


def _reach(mean: float) -> int:
    return int(mean + 12 * math.sqrt(mean) + 30)


def abort_probability_per_check(error_rate: float, abort_threshold: float, expected_requests: float) -> float:
    """The chance that one check aborts: its window's errors exceed ``abort_threshold`` times its requests.

    Requests are Poisson(``expected_requests``) and each fails with ``error_rate``, so the errors X and the
    successes Y are independent Poisson counts, and the check aborts when X > threshold · (X + Y), evaluated in
    floating point exactly as the simulation does.
    """
    _validate.probability("error_rate", error_rate)
    _validate.positive("abort_threshold", abort_threshold)
    _validate.non_negative("expected_requests", expected_requests)
    mean_x, mean_y = expected_requests * error_rate, expected_requests * (1 - error_rate)
    x = np.arange(1, _reach(mean_x) + 1)                       # no error, no abort
    p_x = _poisson_pmf(mean_x, int(x[-1]))[1:]
    y_top = _reach(mean_y)
    cdf_y = np.cumsum(_poisson_pmf(mean_y, y_top))
    theta = float(abort_threshold)

    def aborts(y):  # the simulation's comparison, errors > threshold · requests, in the same floating point
        return x > theta * (x + y)

    y_lim = np.floor(x * (1 - theta) / theta).astype(np.int64)  # about the most successes that still abort
    for _ in range(2):
        y_lim = np.where(aborts(y_lim + 1), y_lim + 1, y_lim)
        y_lim = np.where(aborts(y_lim), y_lim, y_lim - 1)
    below = np.where(y_lim < 0, 0.0, cdf_y[np.clip(y_lim, 0, y_top)])
    return float(min(1.0, np.sum(p_x * below)))


# -- the expectations -----------------------------------------------------------------------------

@dataclass(frozen=True)
class ChaosTheory:
    """What the model expects for one setting, in the long run (many seeds)."""

    blast_radius: float
    abort_threshold: float
    behaviour: str
    fault_error_rate: float
    rate: float
    baseline: float
    duration: float
    experiment_error_rate: float   # p1 under this behaviour: the baseline when graceful
    check_seconds: float           # the abort check's window
    checks: int                    # abort checks in a run that is never aborted
    requests_per_check: float      # expected experiment requests in a window
    abort_per_check: float         # the chance that one check aborts
    abort_probability: float       # the chance that the run is aborted (a false abort when graceful)
    expected_stop: float           # E[abort time, or the duration] (s)
    expected_hurt: float           # requests failed by the fault before the experiment stops
    planned_requests: float        # requests per group the planned z-test needs to see fault_error_rate
    planned_test_time: float       # seconds until each group has them
    hurt_before_test: float        # requests failed by the fault by then (0 when graceful)
    detectable_at_end: float       # the smallest error rate the whole run's requests would detect

    @property
    def per_group_rate(self) -> float:
        """Requests per second in each group."""
        return self.rate * self.blast_radius

    @property
    def test_fits(self) -> bool:
        """Whether the planned test's data arrive within the experiment's duration."""
        return self.planned_test_time <= self.duration


def theory(blast_radius: float = 0.01, abort_threshold: float = 0.05, behaviour: str = "refuted",
           fault_error_rate: float = 0.10, *, rate: float = RATE, baseline: float = BASELINE,
           duration: float = DURATION) -> ChaosTheory:
    """The long-run expectations for these parameters (same as :func:`simulate`); see the module docstring."""
    _check(blast_radius, abort_threshold, behaviour, fault_error_rate, rate, baseline, duration)
    p1 = fault_error_rate if behaviour == "refuted" else baseline
    window = check_seconds(blast_radius, rate)
    checks = int(math.floor(duration / window + 1e-9))
    per_check = rate * blast_radius * window
    a = abort_probability_per_check(p1, abort_threshold, per_check)
    survive = (1 - a) ** np.arange(checks)                    # P(check k+1 happens), k = 0..K-1
    aborted = 1 - (1 - a) ** checks
    stop = float(np.sum((np.arange(checks) + 1) * window * a * survive)) + (1 - aborted) * duration
    hurt = rate * blast_radius * (p1 - baseline) * stop
    n = sample_size(baseline, fault_error_rate)
    return ChaosTheory(
        blast_radius=blast_radius, abort_threshold=abort_threshold, behaviour=behaviour,
        fault_error_rate=fault_error_rate, rate=rate, baseline=baseline, duration=duration,
        experiment_error_rate=p1, check_seconds=window, checks=checks, requests_per_check=per_check,
        abort_per_check=a, abort_probability=float(aborted), expected_stop=stop, expected_hurt=hurt,
        planned_requests=n, planned_test_time=n / (rate * blast_radius), hurt_before_test=n * (p1 - baseline),
        detectable_at_end=minimum_detectable(baseline, rate * blast_radius * duration))


def tradeoff(radii, abort_threshold: float = 0.05, fault_error_rate: float = 0.10, *, rate: float = RATE,
             baseline: float = BASELINE, duration: float = DURATION) -> dict:
    """For each blast radius in ``radii``, had the fallback failed: the planned test's time (s), the users hurt
    before the abort (or the end), and the users hurt before the test's data are in. Arrays over ``radii``."""
    rows = [theory(float(b), abort_threshold, "refuted", fault_error_rate, rate=rate, baseline=baseline,
                   duration=duration) for b in radii]
    return {"radius": np.array([r.blast_radius for r in rows]),
            "test_time": np.array([r.planned_test_time for r in rows]),
            "hurt_before_stop": np.array([r.expected_hurt for r in rows]),
            "hurt_before_test": np.array([r.hurt_before_test for r in rows]),
            "abort_probability": np.array([r.abort_probability for r in rows]),
            "expected_stop": np.array([r.expected_stop for r in rows])}


# -- one run --------------------------------------------------------------------------------------

@dataclass
class ChaosRun:
    """One simulated experiment. Window arrays cover every check of a run that is never aborted; the windows
    after an abort hold NaN."""

    blast_radius: float
    abort_threshold: float
    behaviour: str
    fault_error_rate: float
    seed: int
    check_times: np.ndarray         # (checks,) the end of each check window (s)
    experiment_rate: np.ndarray     # (checks,) the experiment group's error rate in each window
    control_rate: np.ndarray        # (checks,) the control group's
    aborted_at: float | None        # the check that aborted, or None
    stopped_at: float               # aborted_at, or the duration
    hurt: int                       # requests the fault failed before the stop: the users hurt
    experiment_requests: int        # up to the stop
    experiment_errors: int
    control_requests: int
    control_errors: int
    test_time: float | None         # when the planned z-test ran (None: the experiment stopped first)
    test_z: float                   # its z statistic (NaN if it did not run)
    hurt_before_test: int | None    # users hurt up to the test
    theory: ChaosTheory = field(repr=False)

    @property
    def aborted(self) -> bool:
        """Whether the abort condition stopped the experiment."""
        return self.aborted_at is not None

    @property
    def detected(self) -> bool | None:
        """Whether the planned test found the experiment group worse (z ≥ 1.96); None if it did not run."""
        return None if self.test_time is None else bool(self.test_z >= z_critical())

    @property
    def experiment_error_rate(self) -> float:
        """The experiment group's error rate up to the stop."""
        return self.experiment_errors / self.experiment_requests if self.experiment_requests else math.nan

    @property
    def control_error_rate(self) -> float:
        """The control group's error rate up to the stop."""
        return self.control_errors / self.control_requests if self.control_requests else math.nan


def simulate(blast_radius: float = 0.01, abort_threshold: float = 0.05, behaviour: str = "refuted",
             fault_error_rate: float = 0.10, *, seed: int = 1, rate: float = RATE, baseline: float = BASELINE,
             duration: float = DURATION) -> ChaosRun:
    """Run one chaos experiment (see the module docstring); every bad parameter raises ``ValueError`` naming it.

    ``blast_radius`` is the share of traffic in the experiment group, in (0, 0.5] (the control group gets as
    much); ``abort_threshold`` the experiment's error rate, in (0, 1), above which a check stops it;
    ``fault_error_rate`` the experiment group's error rate when the behaviour is ``"refuted"`` (and the rise
    the planned test is designed to see), in (baseline, 1].
    """
    _check(blast_radius, abort_threshold, behaviour, fault_error_rate, rate, baseline, duration)
    _validate.integer_at_least("seed", seed, 0)
    expected = theory(blast_radius, abort_threshold, behaviour, fault_error_rate, rate=rate, baseline=baseline,
                      duration=duration)
    traffic, fault, control, timing = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4))
    ticks = max(1, int(math.ceil(duration / TICK - 1e-9)))
    per_tick = rate * blast_radius * TICK
    exp_requests = traffic.poisson(per_tick, ticks)
    exp_base = traffic.binomial(exp_requests, baseline)
    if behaviour == "refuted":
        exp_fault = fault.binomial(exp_requests - exp_base, (fault_error_rate - baseline) / (1 - baseline))
    else:
        exp_fault = np.zeros(ticks, dtype=np.int64)
    exp_errors = exp_base + exp_fault
    ctl_requests = control.poisson(per_tick, ticks)
    ctl_errors = control.binomial(ctl_requests, baseline)

    # The abort checks, one per window of whole ticks.
    window_ticks = int(round(expected.check_seconds / TICK))
    checks = min(expected.checks, ticks // window_ticks)
    used = checks * window_ticks
    w_exp_req, w_exp_err, w_ctl_req, w_ctl_err = (a[:used].reshape(checks, window_ticks).sum(axis=1)
                                                  for a in (exp_requests, exp_errors, ctl_requests, ctl_errors))
    trips = np.flatnonzero(w_exp_err > abort_threshold * w_exp_req)
    with np.errstate(divide="ignore", invalid="ignore"):
        exp_rate = np.where(w_exp_req > 0, w_exp_err / w_exp_req, np.nan)
        ctl_rate = np.where(w_ctl_req > 0, w_ctl_err / w_ctl_req, np.nan)
    check_times = (np.arange(checks) + 1) * window_ticks * TICK
    if trips.size:
        first = int(trips[0])
        stop_tick = (first + 1) * window_ticks
        aborted_at = float(check_times[first])
        exp_rate[first + 1:] = np.nan
        ctl_rate[first + 1:] = np.nan
    else:
        stop_tick, aborted_at = ticks, None
    stopped_at = min(stop_tick * TICK, duration)

    # The planned z-test, at the moment each group expects its planned requests. Arrivals within a tick are
    # spread uniformly (a Poisson stream), so the part of that tick before the test is a binomial split.
    test_at = expected.planned_test_time
    if test_at <= stopped_at:
        whole = min(int(test_at // TICK), ticks - 1)
        part = test_at / TICK - whole

        def split(counts) -> int:
            return int(counts[:whole].sum()) + int(timing.binomial(counts[whole], part))

        exp_successes = exp_requests - exp_errors
        e_base, e_fault, e_ok, c_err = split(exp_base), split(exp_fault), split(exp_successes), split(ctl_errors)
        c_ok = split(ctl_requests - ctl_errors)
        test_time, hurt_before_test = test_at, e_fault
        test_z = z_statistic(e_base + e_fault, e_base + e_fault + e_ok, c_err, c_err + c_ok)
    else:
        test_time, test_z, hurt_before_test = None, math.nan, None

    return ChaosRun(
        blast_radius=blast_radius, abort_threshold=abort_threshold, behaviour=behaviour,
        fault_error_rate=fault_error_rate, seed=seed, check_times=check_times, experiment_rate=exp_rate,
        control_rate=ctl_rate, aborted_at=aborted_at, stopped_at=stopped_at,
        hurt=int(exp_fault[:stop_tick].sum()), experiment_requests=int(exp_requests[:stop_tick].sum()),
        experiment_errors=int(exp_errors[:stop_tick].sum()), control_requests=int(ctl_requests[:stop_tick].sum()),
        control_errors=int(ctl_errors[:stop_tick].sum()), test_time=test_time, test_z=float(test_z),
        hurt_before_test=hurt_before_test, theory=expected)
