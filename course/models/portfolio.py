"""Lesson 06's test portfolio: an organisation's changes, its bugs, and the layers of tests that catch them.

An organisation runs ``services`` services. Over a period it pushes
``changes`` changes, one build each. A change carries a bug with probability
``bug_rate``, and a bug is of one kind (:data:`KINDS`):

* ``logic``: a wrong result inside one service;
* ``contract``: drift between two services (a renamed field, a changed status);
* ``wiring``: configuration and deployment wiring (a wrong URL, a missing
  migration, a route that is not registered);
* ``interaction``: shows only under load or faults (a missing timeout, a retry storm).

Every build runs the layers of :data:`LAYERS` in order, each with the number of
tests the learner chose (``tests``, e.g. one of :data:`PRESETS`): ``unit``,
``component`` (the service with test doubles), ``contract`` (consumer-driven
contract tests), ``integration`` (a real dependency in its own process) and
``e2e`` (journeys through the whole system in a shared staging environment).
A "test" here is what CI runs and reports as one pass or fail (at Google, a
test target), so a layer of 50 tests may hold many more test cases.

Everything the model assumes about the layers lives in :data:`ASSUMPTIONS`,
one commented value each; change a copy (:func:`default_assumptions`) and pass
it as ``assumptions=``. For a layer and a bug kind it holds ``per_test``, the
chance that one test of the layer that runs through the buggy code catches the
bug, and ``at_most``, the share of such bugs the layer could catch with any
number of tests (a unit test cannot see a contract drift at all, and staging
seldom has the load an interaction bug needs). In the simulation each bug is
within the layer's reach with probability ``at_most``; each of the layer's
``k`` tests runs through the buggy code with probability ``q`` (1 for a
service's own tests; for end-to-end journeys, which are shared by the whole
organisation, min(1, journey_services / services)); each of those catches it
with probability ``per_test``. So the layer catches it with probability

    at_most · (1 − (1 − q · per_test)^k),

which saturates at ``at_most`` as k grows. A bug is caught by the first layer
that catches it, and the time to feedback is the pipeline's time up to and
including that layer. A bug no layer catches escapes to production.

Each test also fails for no reason with its layer's ``flakiness`` per run. A
build running k tests of flakiness p goes red with no bug behind it with
probability 1 − (1 − p)^k, and the whole pipeline with 1 − Π (1 − p_l)^(k_l)
(every layer counted as if it ran; a pipeline that stops at its first red
layer is red exactly as often). The simulation draws each layer's flaky
failures per build as Binomial(k, p).

:func:`simulate` draws all of this per change from a seeded
:class:`numpy.random.Generator` (an independent stream per layer, so moving
one layer's tests does not redraw another's); :func:`theory` gives the exact
expectations for the same parameters, which a long run (many changes, or many
seeds) approaches. There is no clock to wait for: times are arithmetic.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from course.sim import _validate

LAYERS = ("unit", "component", "contract", "integration", "e2e")
KINDS = ("logic", "contract", "wiring", "interaction")

#: Tests per build at each layer for the shapes lesson 06 compares.
PRESETS = {
    # Many small fast tests, fewer bigger ones, contract tests on every edge, a handful of journeys.
    "pyramid": {"unit": 50, "component": 15, "contract": 10, "integration": 5, "e2e": 5},
    # Upside down: a few unit tests and a big end-to-end suite in staging.
    "ice-cream cone": {"unit": 10, "component": 5, "contract": 0, "integration": 10, "e2e": 60},
    # The pyramid without its contract tests: the component tests' doubles are all that stand for the providers.
    "no contract tests": {"unit": 50, "component": 15, "contract": 0, "integration": 5, "e2e": 5},
}

#: What the model assumes. Every value here is an assumption a learner may change (on a copy, from
#: :func:`default_assumptions`), except where a comment names a published figure.
#:
#: Flakiness: John Micco ("Flaky Tests at Google and How We Mitigate Them", Google Testing Blog, 2016)
#: reports about 1.5% of all test runs at Google flaky. Jeff Listfield ("Where do our flaky tests come
#: from?", Google Testing Blog, 2017) reports that over a week 0.5% of small tests, 1.6% of medium tests
#: and 14% of large tests had a flaky run: shares of tests, not chances per run. The per-run values below
#: are our assumption: an end-to-end test flakes on 1.5% of its runs (Micco's corpus-wide rate, where
#: larger tests are flakier than average, so if anything it flatters e2e), and smaller tests less often
#: in Listfield's proportions, 1.5% × 0.5/14 for small tests and 1.5% × 1.6/14 for medium ones. In
#: Google's sizes a unit test is small; component, contract and integration tests run on one machine
#: over localhost, so medium; end-to-end tests span machines, so large.
ASSUMPTIONS = {
    # Of the changes that carry a bug, the share of each kind (sums to 1).
    "bug_mix": {
        "logic": 0.50,        # half of all bugs are plain wrong results inside one service
        "contract": 0.20,     # a fifth break what another service relies on
        "wiring": 0.15,       # configuration, routing, migrations, deployment
        "interaction": 0.15,  # appear only under load or faults
    },
    # An end-to-end journey passes through this many services, so one e2e test runs through the changed
    # service with probability min(1, journey_services / services).
    "journey_services": 3,
    # Per layer, in pipeline order. "sees" maps a bug kind to (per_test, at_most); kinds left out are
    # invisible to the layer. Times are seconds on one CI runner, tests one after another.
    "layers": {
        "unit": {
            "sees": {
                "logic": (0.04, 0.90),   # a unit test of the changed code catches a logic bug 4% of the time
            },
            "seconds_per_test": 1.0,     # a unit test target runs in about a second
            "setup_seconds": 60.0,       # compile and start the test runner
            "flakiness": 0.0005,         # per run: a small test (0.015 × 0.5 / 14, rounded)
            "shared": False,             # the changed service's own tests
        },
        "component": {
            "sees": {
                "logic": (0.03, 0.70),   # the service as a whole, behind its API, with doubles for the rest
                "wiring": (0.05, 0.60),  # its own routes, serialisation and configuration (not the real ones')
            },
            "seconds_per_test": 5.0,     # start the service in-process or on localhost, call its API
            "setup_seconds": 60.0,       # build the service and its doubles
            "flakiness": 0.0017,         # per run: a medium test (0.015 × 1.6 / 14, rounded)
            "shared": False,
        },
        "contract": {
            "sees": {
                "contract": (0.15, 0.95),  # a consumer-driven contract is written for exactly this kind of bug
            },
            "seconds_per_test": 3.0,     # a pact consumer test or a provider verification on localhost
            "setup_seconds": 30.0,       # fetch the pacts, start the provider with its provider states
            "flakiness": 0.0017,         # per run: a medium test
            "shared": False,
        },
        "integration": {
            "sees": {
                "logic": (0.01, 0.30),        # rarely aimed at logic
                "contract": (0.04, 0.50),     # when the real dependency is the other service
                "wiring": (0.10, 0.80),       # drivers, connection strings, migrations: what it is for
                "interaction": (0.03, 0.30),  # a real dependency can be made slow or killed
            },
            "seconds_per_test": 20.0,    # talk to a real database, broker or service in its own process
            "setup_seconds": 90.0,       # start that dependency (in a team's CI, a throwaway container)
            "flakiness": 0.0017,         # per run: a medium test
            "shared": False,
        },
        "e2e": {
            "sees": {
                "logic": (0.02, 0.60),        # a journey checks outcomes, not every branch
                "contract": (0.05, 0.90),     # real services talk to each other
                "wiring": (0.05, 0.90),       # staging is wired much like production
                "interaction": (0.02, 0.30),  # staging seldom has production's load or faults
            },
            "seconds_per_test": 120.0,   # a journey through the UI or the public API
            "setup_seconds": 600.0,      # deploy the change to the shared staging environment, wait until healthy
            "flakiness": 0.015,          # per run: a large test (Micco's 1.5% of all runs, as an assumption)
            "shared": True,              # journeys through the whole organisation, not this service's tests
        },
    },
}


def default_assumptions() -> dict:
    """A deep copy of :data:`ASSUMPTIONS`, to change and pass to :func:`simulate` or :func:`theory`."""
    return copy.deepcopy(ASSUMPTIONS)


@dataclass(frozen=True)
class Tables:
    """:data:`ASSUMPTIONS` as arrays, rows in :data:`LAYERS` order, columns in :data:`KINDS` order."""

    per_test: np.ndarray      # (layers, kinds)
    at_most: np.ndarray       # (layers, kinds)
    seconds_per_test: np.ndarray  # (layers,)
    setup_seconds: np.ndarray     # (layers,)
    flakiness: np.ndarray         # (layers,) per-run probability
    shared: np.ndarray            # (layers,) bool
    bug_mix: np.ndarray           # (kinds,)
    journey_services: float


def tables(assumptions: Mapping | None = None, flakiness: Mapping | None = None) -> Tables:
    """Check ``assumptions`` (default :data:`ASSUMPTIONS`) and turn them into :class:`Tables`.

    ``flakiness`` maps layer names to per-run flakiness that replaces the assumed one (the dashboard's
    e2e slider). Every bad value raises ``ValueError`` naming where it is and the valid range.
    """
    a = ASSUMPTIONS if assumptions is None else assumptions
    if not isinstance(a, Mapping):
        raise ValueError(f"assumptions must be a dict shaped like ASSUMPTIONS, got {type(a).__name__}")
    for key in ("bug_mix", "journey_services", "layers"):
        if key not in a:
            raise ValueError(f"assumptions must have the key {key!r} (see ASSUMPTIONS)")
    mix = a["bug_mix"]
    _keys("assumptions['bug_mix']", mix, KINDS, every=True)
    bug_mix = np.array([_validate.probability(f"assumptions['bug_mix'][{k!r}]", mix[k]) for k in KINDS], dtype=float)
    if not math.isclose(bug_mix.sum(), 1.0, abs_tol=1e-9):
        raise ValueError(f"assumptions['bug_mix'] must sum to 1, got {bug_mix.sum():g}")
    journey = _validate.positive("assumptions['journey_services']", a["journey_services"])
    _keys("assumptions['layers']", a["layers"], LAYERS, every=True)
    flakiness = {} if flakiness is None else flakiness
    _keys("flakiness", flakiness, LAYERS)
    per_test = np.zeros((len(LAYERS), len(KINDS)))
    at_most = np.zeros((len(LAYERS), len(KINDS)))
    seconds, setup, flaky, shared = (np.zeros(len(LAYERS)) for _ in range(4))
    for i, layer in enumerate(LAYERS):
        where = f"assumptions['layers'][{layer!r}]"
        spec = a["layers"][layer]
        for key in ("sees", "seconds_per_test", "setup_seconds", "flakiness", "shared"):
            if key not in spec:
                raise ValueError(f"{where} must have the key {key!r} (see ASSUMPTIONS)")
        _keys(f"{where}['sees']", spec["sees"], KINDS)
        for kind, pair in spec["sees"].items():
            j = KINDS.index(kind)
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise ValueError(f"{where}['sees'][{kind!r}] must be a pair (per_test, at_most), got {pair!r}")
            per_test[i, j] = _validate.probability(f"{where}['sees'][{kind!r}] per_test", pair[0])
            at_most[i, j] = _validate.probability(f"{where}['sees'][{kind!r}] at_most", pair[1])
        seconds[i] = _validate.non_negative(f"{where}['seconds_per_test']", spec["seconds_per_test"])
        setup[i] = _validate.non_negative(f"{where}['setup_seconds']", spec["setup_seconds"])
        if layer in flakiness:
            flaky[i] = _validate.probability(f"flakiness[{layer!r}]", flakiness[layer])
        else:
            flaky[i] = _validate.probability(f"{where}['flakiness']", spec["flakiness"])
        if not isinstance(spec["shared"], bool):
            raise ValueError(f"{where}['shared'] must be True or False, got {spec['shared']!r}")
        shared[i] = spec["shared"]
    return Tables(per_test, at_most, seconds, setup, flaky, shared.astype(bool), bug_mix, float(journey))


def _keys(where: str, mapping, allowed, every: bool = False) -> None:
    if not isinstance(mapping, Mapping):
        raise ValueError(f"{where} must be a dict, got {type(mapping).__name__}")
    unknown = [k for k in mapping if k not in allowed]
    if unknown:
        raise ValueError(f"{where} has unknown key(s) {', '.join(map(repr, unknown))}; "
                         f"valid: {', '.join(map(repr, allowed))}")
    if every:
        missing = [k for k in allowed if k not in mapping]
        if missing:
            raise ValueError(f"{where} is missing {', '.join(map(repr, missing))}")


def tests_per_layer(tests: str | Mapping | None) -> np.ndarray:
    """Tests per build at each layer, as an int array in :data:`LAYERS` order.

    ``tests`` is a preset name (a key of :data:`PRESETS`), or a dict from layer to a whole number >= 0
    (layers left out run no tests), or None for the pyramid.
    """
    if tests is None:
        tests = "pyramid"
    if isinstance(tests, str):
        _validate.one_of("tests", tests, tuple(PRESETS))
        tests = PRESETS[tests]
    _keys("tests", tests, LAYERS)
    return np.array([_validate.integer_at_least(f"tests[{layer!r}]", tests.get(layer, 0), 0) for layer in LAYERS],
                    dtype=np.int64)


def _check(services, changes, bug_rate) -> None:
    _validate.integer_at_least("services", services, 2)
    _validate.integer_at_least("changes", changes, 1)
    _validate.probability("bug_rate", bug_rate)


def reach(t: Tables, services: int) -> np.ndarray:
    """Per layer, the chance that one of its tests runs through the changed service's code."""
    return np.where(t.shared, min(1.0, t.journey_services / services), 1.0)


def catch_probability(counts: np.ndarray, services: int, t: Tables) -> np.ndarray:
    """(layers, kinds): the chance that a layer's tests catch a bug of each kind, if it gets that far.

    at_most · (1 − (1 − q · per_test)^k), with q from :func:`reach`.
    """
    q = reach(t, services)[:, None]
    k = np.asarray(counts, dtype=float)[:, None]
    return t.at_most * (1.0 - (1.0 - q * t.per_test) ** k)


def stage_minutes(counts: np.ndarray, t: Tables) -> np.ndarray:
    """Minutes each layer adds to a build: its setup and its tests, one after another (0 with no tests)."""
    counts = np.asarray(counts)
    return np.where(counts > 0, t.setup_seconds + counts * t.seconds_per_test, 0.0) / 60.0


def flaky_probability(counts, flakiness) -> np.ndarray:
    """Per layer: 1 − (1 − p)^k, the chance that a build's run of that layer goes red with no bug (arrays work)."""
    return 1.0 - (1.0 - np.asarray(flakiness, dtype=float)) ** np.asarray(counts, dtype=float)


@dataclass
class PortfolioTheory:
    """The exact expectations for one set of parameters; counts are expected numbers over ``changes`` builds."""

    tests: dict
    services: int
    changes: int
    bug_rate: float
    catch_probability: np.ndarray      # (layers, kinds) if the bug reaches the layer
    first_catch: np.ndarray            # (layers, kinds) share of a kind's bugs caught first at each layer
    escape_probability: np.ndarray     # (kinds,) share of a kind's bugs that no layer catches
    bugs: float                        # expected bugs: changes × bug_rate
    bugs_by_kind: np.ndarray           # (kinds,)
    caught: np.ndarray                 # (layers, kinds) expected bugs caught first there
    escaped: np.ndarray                # (kinds,) expected bugs in production
    stage_minutes: np.ndarray          # (layers,) minutes each layer adds to a build
    ready_minutes: np.ndarray          # (layers,) minutes from the push until the layer has reported
    pipeline_minutes: float            # a whole green build
    mean_feedback_minutes: float       # mean time to feedback over caught bugs (NaN if none can be caught)
    flaky_by_layer: np.ndarray         # (layers,) P(layer goes red with no bug) = 1 − (1 − p)^k
    flaky_red: float                   # P(build goes red with no bug) = 1 − Π (1 − p_l)^(k_l)
    red: float                         # P(build goes red): a flaky test or a caught bug
    no_bug_share_of_red: float         # P(no bug in the change | build red)

    @property
    def escape_share(self) -> float:
        """The expected share of bugs that reach production."""
        return float(self.escaped.sum() / self.bugs) if self.bugs else 0.0


@dataclass
class PortfolioResult:
    """One simulated period: what each layer caught, what escaped, how long builds took, and the flaky reds."""

    tests: dict
    services: int
    changes: int
    bug_rate: float
    seed: int
    bugs: int
    bugs_by_kind: np.ndarray           # (kinds,)
    caught: np.ndarray                 # (layers, kinds) bugs caught first at each layer
    escaped: np.ndarray                # (kinds,) bugs that reached production
    stage_minutes: np.ndarray          # (layers,) minutes each layer adds to a build
    ready_minutes: np.ndarray          # (layers,) minutes from the push until the layer has reported
    pipeline_minutes: float            # a whole green build
    feedback_minutes: np.ndarray       # one per caught bug: minutes from the push to the red build
    flaky_by_layer: np.ndarray         # (layers,) builds in which the layer had at least one flaky failure
    flaky_red: int                     # builds with at least one flaky failure anywhere
    red: int                           # builds that went red (a flaky failure or a caught bug)
    red_without_bug: int               # red builds whose change carried no bug
    theory: PortfolioTheory = field(repr=False)

    @property
    def caught_by_layer(self) -> np.ndarray:
        """(layers,) bugs caught first at each layer."""
        return self.caught.sum(axis=1)

    @property
    def mean_feedback_minutes(self) -> float:
        """The mean time to feedback over the caught bugs (NaN if none was caught)."""
        return float(self.feedback_minutes.mean()) if self.feedback_minutes.size else math.nan

    @property
    def flaky_red_share(self) -> float:
        """The share of builds that went red from a flaky test."""
        return self.flaky_red / self.changes

    @property
    def no_bug_share_of_red(self) -> float:
        """Of the red builds, the share with no bug behind them (NaN if none went red)."""
        return self.red_without_bug / self.red if self.red else math.nan


def theory(tests: str | Mapping | None = None, *, services: int = 10, changes: int = 1000, bug_rate: float = 0.1,
           flakiness: Mapping | None = None, assumptions: Mapping | None = None) -> PortfolioTheory:
    """The exact expectations for these parameters (see the module docstring); same arguments as :func:`simulate`."""
    counts = tests_per_layer(tests)
    _check(services, changes, bug_rate)
    t = tables(assumptions, flakiness)
    return _theory(counts, services, changes, bug_rate, t)


def _theory(counts, services, changes, bug_rate, t: Tables) -> PortfolioTheory:
    catch = catch_probability(counts, services, t)
    missed_before = np.vstack([np.ones(len(KINDS)), np.cumprod(1.0 - catch, axis=0)[:-1]])
    first = catch * missed_before
    escape = np.prod(1.0 - catch, axis=0)
    bugs = changes * bug_rate
    by_kind = bugs * t.bug_mix
    stages = stage_minutes(counts, t)
    ready = np.cumsum(stages)
    caught_share = float((first * t.bug_mix).sum())  # P(caught | bug)
    feedback = float((first * t.bug_mix).sum(axis=1) @ ready / caught_share) if caught_share > 0 else math.nan
    flaky_layers = flaky_probability(counts, t.flakiness)
    flaky = float(1.0 - np.prod(1.0 - flaky_layers))
    red = flaky + bug_rate * caught_share * (1.0 - flaky)
    no_bug = (1.0 - bug_rate) * flaky / red if red > 0 else math.nan
    return PortfolioTheory(
        tests=dict(zip(LAYERS, counts.tolist())), services=services, changes=changes, bug_rate=bug_rate,
        catch_probability=catch, first_catch=first, escape_probability=escape, bugs=bugs, bugs_by_kind=by_kind,
        caught=first * by_kind, escaped=escape * by_kind, stage_minutes=stages, ready_minutes=ready,
        pipeline_minutes=float(stages.sum()), mean_feedback_minutes=feedback, flaky_by_layer=flaky_layers,
        flaky_red=flaky, red=red, no_bug_share_of_red=no_bug)


def red_builds_across(layer: str, values, tests: str | Mapping | None = None, *, services: int = 10,
                      bug_rate: float = 0.1, flakiness: Mapping | None = None,
                      assumptions: Mapping | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The theory's red builds as one layer's test count runs over ``values``, the other layers as in ``tests``.

    Returns two arrays over ``values``: the chance that a build goes red with no bug behind it
    (:attr:`PortfolioTheory.flaky_red`) and the share of red builds with no bug behind them
    (:attr:`PortfolioTheory.no_bug_share_of_red`), each equal to what :func:`theory` gives point by point.
    """
    _validate.one_of("layer", layer, LAYERS)
    counts = np.tile(tests_per_layer(tests), (len(values), 1))
    grid = np.asarray(values)
    if grid.ndim != 1 or not np.issubdtype(grid.dtype, np.integer) or (grid < 0).any():
        raise ValueError(f"values must be a list of whole numbers >= 0, got {values!r}")
    counts[:, LAYERS.index(layer)] = grid
    _check(services, 1, bug_rate)
    t = tables(assumptions, flakiness)
    q = reach(t, services)[None, :, None]
    catch = t.at_most[None] * (1.0 - (1.0 - q * t.per_test[None]) ** counts[:, :, None].astype(float))
    caught_share = (1.0 - np.prod(1.0 - catch, axis=1)) @ t.bug_mix        # P(caught | bug), per value
    flaky = 1.0 - np.prod((1.0 - t.flakiness[None, :]) ** counts, axis=1)
    red = flaky + bug_rate * caught_share * (1.0 - flaky)
    with np.errstate(invalid="ignore", divide="ignore"):
        no_bug = np.where(red > 0, (1.0 - bug_rate) * flaky / red, np.nan)
    return flaky, no_bug


def simulate(tests: str | Mapping | None = None, *, services: int = 10, changes: int = 1000, bug_rate: float = 0.1,
             flakiness: Mapping | None = None, assumptions: Mapping | None = None, seed: int = 1) -> PortfolioResult:
    """Push ``changes`` changes through the pipeline once; see the module docstring.

    ``tests``: a preset name from :data:`PRESETS` or a dict from layer to tests per build (default: the
    pyramid). ``flakiness``: per-run flakiness for some layers, replacing the assumed values.
    ``assumptions``: a dict shaped like :data:`ASSUMPTIONS` (default: that). The same arguments and seed
    always give the same result.
    """
    counts = tests_per_layer(tests)
    _check(services, changes, bug_rate)
    _validate.integer_at_least("seed", seed, 0)
    t = tables(assumptions, flakiness)
    expected = _theory(counts, services, changes, bug_rate, t)

    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(1 + 2 * len(LAYERS))]
    bug_rng, catch_rngs, flake_rngs = streams[0], streams[1:1 + len(LAYERS)], streams[1 + len(LAYERS):]

    has_bug = bug_rng.random(changes) < bug_rate
    kind = bug_rng.choice(len(KINDS), size=changes, p=t.bug_mix)[has_bug]
    bugs = int(has_bug.sum())
    q = reach(t, services)
    first = np.full(bugs, len(LAYERS))             # index of the catching layer; len(LAYERS) = escaped
    for i, rng in enumerate(catch_rngs):
        within = rng.random(bugs) < t.at_most[i, kind]       # the layer can see this bug at all
        through = rng.binomial(counts[i], q[i], size=bugs)   # tests that run through the buggy code
        hits = rng.binomial(through, t.per_test[i, kind])    # ... and catch it
        first = np.where((first == len(LAYERS)) & within & (hits > 0), i, first)
    table = np.zeros((len(LAYERS) + 1, len(KINDS)), dtype=np.int64)
    np.add.at(table, (first, kind), 1)

    flaky = np.column_stack([rng.binomial(counts[i], t.flakiness[i], size=changes) > 0
                             for i, rng in enumerate(flake_rngs)])
    flaky_any = flaky.any(axis=1)
    caught_build = np.zeros(changes, dtype=bool)
    caught_build[np.flatnonzero(has_bug)[first < len(LAYERS)]] = True
    red = flaky_any | caught_build
    stages = expected.stage_minutes
    ready = expected.ready_minutes
    return PortfolioResult(
        tests=dict(zip(LAYERS, counts.tolist())), services=services, changes=changes, bug_rate=bug_rate, seed=seed,
        bugs=bugs, bugs_by_kind=np.bincount(kind, minlength=len(KINDS)), caught=table[:-1], escaped=table[-1],
        stage_minutes=stages, ready_minutes=ready, pipeline_minutes=float(stages.sum()),
        feedback_minutes=ready[first[first < len(LAYERS)]], flaky_by_layer=flaky.sum(axis=0),
        flaky_red=int(flaky_any.sum()), red=int(red.sum()), red_without_bug=int((red & ~has_bug).sum()),
        theory=expected)
