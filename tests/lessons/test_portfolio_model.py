"""Lesson 06's test-portfolio model (course.models.portfolio): deterministic for a seed, every bad parameter
refused by name, and in the long run (many changes or many seeds) the simulation lands on the theory.

Tolerances: a simulated count or share is compared with its expectation within 4 binomial standard errors
(sqrt(n·p·(1 − p)) for a count over n builds), which a correct model misses about once in 16,000 checks.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from course.models import portfolio as model

LAYERS, KINDS = model.LAYERS, model.KINDS


def _within_4_se(observed: float, n: int, p: float) -> bool:
    """A count ``observed`` of n Bernoulli(p) draws lies within 4 standard errors of n·p."""
    return abs(observed - n * p) <= 4 * math.sqrt(n * p * (1 - p)) + 1e-9


# -- determinism and bookkeeping ------------------------------------------------------------------

def _same(a: model.PortfolioResult, b: model.PortfolioResult) -> bool:
    return (a.bugs == b.bugs and np.array_equal(a.caught, b.caught) and np.array_equal(a.escaped, b.escaped)
            and np.array_equal(a.flaky_by_layer, b.flaky_by_layer) and a.red == b.red
            and a.red_without_bug == b.red_without_bug and np.array_equal(a.feedback_minutes, b.feedback_minutes))


@pytest.mark.parametrize("preset", sorted(model.PRESETS))
def test_same_seed_same_result_and_another_seed_differs(preset):
    a = model.simulate(preset, seed=5)
    assert _same(a, model.simulate(preset, seed=5))
    assert _same(a, model.simulate(dict(model.PRESETS[preset]), seed=5))  # a preset is just its numbers
    assert not _same(a, model.simulate(preset, seed=6))


def test_a_layer_draws_from_its_own_stream():
    # Removing the contract tests redraws nothing before the contract layer: the same bugs, and the unit and
    # component layers catch exactly the same ones (common random numbers, so the dashboard compares like with like).
    with_contracts = model.simulate("pyramid", seed=3)
    without = model.simulate("no contract tests", seed=3)
    assert np.array_equal(with_contracts.bugs_by_kind, without.bugs_by_kind)
    assert np.array_equal(with_contracts.caught[:2], without.caught[:2])
    assert with_contracts.caught[2, KINDS.index("contract")] > 0 and without.caught[2].sum() == 0


@pytest.mark.parametrize("tests", ["pyramid", "ice-cream cone", "no contract tests",
                                   {"e2e": 150}, {}, {"unit": 200, "component": 60, "contract": 40,
                                                      "integration": 40, "e2e": 150}])
@pytest.mark.parametrize("seed", [1, 2])
def test_every_bug_is_caught_once_or_escapes(tests, seed):
    r = model.simulate(tests, changes=2000, bug_rate=0.3, seed=seed)
    assert r.caught.shape == (len(LAYERS), len(KINDS)) and r.escaped.shape == (len(KINDS),)
    assert r.caught.sum() + r.escaped.sum() == r.bugs == r.bugs_by_kind.sum()
    np.testing.assert_array_equal(r.caught.sum(axis=0) + r.escaped, r.bugs_by_kind)
    assert r.feedback_minutes.size == r.caught.sum()
    assert r.flaky_red <= r.red and r.red_without_bug <= r.flaky_red
    assert (r.flaky_by_layer <= r.flaky_red).all()
    # A layer that runs no tests catches nothing and never flakes.
    for i, layer in enumerate(LAYERS):
        if r.tests[layer] == 0:
            assert r.caught[i].sum() == 0 and r.flaky_by_layer[i] == 0
    # The layers see only the kinds ASSUMPTIONS says they see.
    for i, layer in enumerate(LAYERS):
        for j, kind in enumerate(KINDS):
            if kind not in model.ASSUMPTIONS["layers"][layer]["sees"]:
                assert r.caught[i, j] == 0, (layer, kind)


def test_no_tests_means_every_bug_escapes_and_no_build_is_red():
    r = model.simulate({}, changes=500, seed=1)
    assert r.escaped.sum() == r.bugs > 0 and r.red == 0 and r.pipeline_minutes == 0
    assert math.isnan(r.mean_feedback_minutes) and math.isnan(r.no_bug_share_of_red)
    assert math.isnan(r.theory.mean_feedback_minutes) and r.theory.escape_share == 1.0


# -- the arithmetic ------------------------------------------------------------------------------------

def test_pipeline_minutes_are_setup_plus_tests_one_after_another():
    # Pyramid: unit 60 + 50 × 1 s, component 60 + 15 × 5 s, contract 30 + 10 × 3 s, integration 90 + 5 × 20 s,
    # end-to-end 600 + 5 × 120 s: 1,695 s.
    th = model.theory("pyramid")
    np.testing.assert_allclose(th.stage_minutes * 60, [110, 135, 60, 190, 1200])
    np.testing.assert_allclose(th.ready_minutes * 60, [110, 245, 305, 495, 1695])
    assert th.pipeline_minutes == pytest.approx(1695 / 60)
    # A layer with no tests is skipped: no setup either.
    assert model.theory("no contract tests").pipeline_minutes == pytest.approx((1695 - 60) / 60)
    # Cone: 70 + 85 + 0 + 290 + 7,800 s.
    assert model.theory("ice-cream cone").pipeline_minutes == pytest.approx(8245 / 60)


def test_catch_probability_saturates_and_end_to_end_journeys_spread_over_the_services():
    e2e = model.ASSUMPTIONS["layers"]["e2e"]["sees"]["contract"]
    journey = model.ASSUMPTIONS["journey_services"]
    for services in (2, 3, 10, 50):
        q = min(1.0, journey / services)
        th = model.theory({"e2e": 20}, services=services)
        expected = e2e[1] * (1 - (1 - q * e2e[0]) ** 20)
        assert th.catch_probability[LAYERS.index("e2e"), KINDS.index("contract")] == pytest.approx(expected)
    # More services: each journey is less likely to pass through the changed one, so e2e catches less.
    few, many = model.theory({"e2e": 20}, services=3), model.theory({"e2e": 20}, services=30)
    assert (many.catch_probability[-1] < few.catch_probability[-1]).all()
    # A service's own layers do not care how many services there are.
    np.testing.assert_allclose(model.theory("pyramid", services=2).catch_probability[:4],
                               model.theory("pyramid", services=50).catch_probability[:4])
    # Saturation: with any number of tests a layer catches at most its at_most.
    huge = model.theory({"contract": 10_000}).catch_probability[LAYERS.index("contract"), KINDS.index("contract")]
    assert huge == pytest.approx(model.ASSUMPTIONS["layers"]["contract"]["sees"]["contract"][1])


def test_the_first_layer_that_catches_a_bug_gets_it():
    th = model.theory("pyramid")
    c = th.catch_probability
    for j in range(len(KINDS)):
        missed = 1.0
        for i in range(len(LAYERS)):
            assert th.first_catch[i, j] == pytest.approx(missed * c[i, j])
            missed *= 1 - c[i, j]
        assert th.escape_probability[j] == pytest.approx(missed)
        assert th.first_catch[:, j].sum() + th.escape_probability[j] == pytest.approx(1.0)


def test_flaky_red_theory_is_one_minus_the_product_over_layers():
    layers = model.ASSUMPTIONS["layers"]
    for preset, counts in model.PRESETS.items():
        th = model.theory(preset)
        per_layer = [1 - (1 - layers[layer]["flakiness"]) ** counts[layer] for layer in LAYERS]
        np.testing.assert_allclose(th.flaky_by_layer, per_layer)
        assert th.flaky_red == pytest.approx(1 - math.prod((1 - layers[layer]["flakiness"]) ** counts[layer]
                                                           for layer in LAYERS))


def test_red_builds_across_agrees_with_theory_point_by_point():
    grid = np.arange(0, 151, 10)
    for preset in model.PRESETS:
        flaky, no_bug = model.red_builds_across("e2e", grid, preset, services=7, bug_rate=0.2,
                                                flakiness={"e2e": 0.03})
        for k, f, n in zip(grid, flaky, no_bug):
            th = model.theory({**model.PRESETS[preset], "e2e": int(k)}, services=7, bug_rate=0.2,
                              flakiness={"e2e": 0.03})
            assert f == pytest.approx(th.flaky_red, abs=1e-12) and n == pytest.approx(th.no_bug_share_of_red,
                                                                                      abs=1e-12)
        assert (np.diff(flaky) > 0).all()  # every extra flaky test makes a flaky red more likely


def test_flakiness_defaults_follow_the_stated_derivation():
    # e2e: 1.5% per run (Micco 2016's corpus-wide rate, as an assumption); small and medium tests scaled by
    # Listfield 2017's shares of tests flaky in a week (small 0.5%, medium 1.6%, large 14%).
    layers = model.ASSUMPTIONS["layers"]
    e2e = layers["e2e"]["flakiness"]
    assert e2e == 0.015
    assert layers["unit"]["flakiness"] == round(e2e * 0.5 / 14, 4)
    for layer in ("component", "contract", "integration"):
        assert layers[layer]["flakiness"] == round(e2e * 1.6 / 14, 4)
    assert sum(model.ASSUMPTIONS["bug_mix"].values()) == pytest.approx(1.0)


def test_presets_have_the_shapes_their_names_say():
    pyramid, cone, no_contract = (model.PRESETS[name] for name in ("pyramid", "ice-cream cone", "no contract tests"))
    assert pyramid["unit"] > pyramid["component"] > pyramid["e2e"] and pyramid["contract"] > 0
    assert cone["e2e"] > cone["unit"] and cone["contract"] == 0
    assert no_contract == {**pyramid, "contract": 0}


def test_changed_assumptions_change_the_model_and_leave_the_defaults_alone():
    a = model.default_assumptions()
    a["layers"]["e2e"]["sees"]["interaction"] = (0.0, 0.0)
    a["layers"]["unit"]["flakiness"] = 0.0
    assert model.ASSUMPTIONS["layers"]["e2e"]["sees"]["interaction"] == (0.02, 0.30)
    th = model.theory("ice-cream cone", assumptions=a)
    assert th.catch_probability[LAYERS.index("e2e"), KINDS.index("interaction")] == 0
    assert th.flaky_by_layer[0] == 0
    r = model.simulate("ice-cream cone", assumptions=a, changes=3000, bug_rate=0.5)
    assert r.caught[LAYERS.index("e2e"), KINDS.index("interaction")] == 0 and r.flaky_by_layer[0] == 0


# -- the long run against the theory ------------------------------------------------------------------

LONG = 200_000


@pytest.mark.parametrize("tests, flakiness", [("pyramid", None), ("ice-cream cone", None), ("no contract tests", None),
                                              ("pyramid", {"e2e": 0.04}),
                                              ({"unit": 200, "e2e": 150}, {"unit": 0.001})])
def test_simulated_flaky_red_share_matches_theory_over_many_builds(tests, flakiness):
    r = model.simulate(tests, changes=LONG, flakiness=flakiness, seed=11)
    th = r.theory
    assert _within_4_se(r.flaky_red, LONG, th.flaky_red), (r.flaky_red_share, th.flaky_red)
    for i, layer in enumerate(LAYERS):
        assert _within_4_se(r.flaky_by_layer[i], LONG, th.flaky_by_layer[i]), layer
    assert _within_4_se(r.red, LONG, th.red)
    assert _within_4_se(r.red_without_bug, LONG, (1 - th.bug_rate) * th.flaky_red)


@pytest.mark.parametrize("tests, services", [("pyramid", 10), ("ice-cream cone", 10), ("no contract tests", 10),
                                             ("ice-cream cone", 2), ("pyramid", 50)])
def test_simulated_catches_and_escapes_match_theory_over_many_changes(tests, services):
    r = model.simulate(tests, services=services, changes=LONG, bug_rate=0.5, seed=12)
    th = r.theory
    for i in range(len(LAYERS)):
        for j in range(len(KINDS)):
            assert _within_4_se(r.caught[i, j], LONG, th.caught[i, j] / LONG), (LAYERS[i], KINDS[j])
    for j, kind in enumerate(KINDS):
        assert _within_4_se(r.escaped[j], LONG, th.escaped[j] / LONG), kind
    # The mean time to feedback over caught bugs, within 4 standard errors of the sample mean.
    se = r.feedback_minutes.std() / math.sqrt(r.feedback_minutes.size)
    assert abs(r.mean_feedback_minutes - th.mean_feedback_minutes) <= 4 * se + 1e-9


def test_contract_tests_cut_the_contract_bugs_that_escape():
    contract = KINDS.index("contract")
    pyramid, without = model.theory("pyramid"), model.theory("no contract tests")
    assert pyramid.escaped.sum() < without.escaped.sum()
    assert pyramid.escape_probability[contract] < without.escape_probability[contract] / 3
    others = [j for j in range(len(KINDS)) if j != contract]
    np.testing.assert_allclose(pyramid.escape_probability[others], without.escape_probability[others])
    # Many seeds at the dashboard's size: the mean escapes land on the theory and keep the order.
    seeds = range(1, 41)
    runs = {name: [model.simulate(name, seed=s) for s in seeds] for name in ("pyramid", "no contract tests")}
    for name, th in (("pyramid", pyramid), ("no contract tests", without)):
        escaped = np.array([r.escaped[contract] for r in runs[name]])
        n = len(seeds) * 1000
        assert _within_4_se(escaped.sum(), n, th.escaped[contract] / 1000), name
    assert (np.mean([r.escaped.sum() for r in runs["pyramid"]])
            < np.mean([r.escaped.sum() for r in runs["no contract tests"]]))


# -- the figures lesson 06 may quote (theory, at the default assumptions: 10 services, bug rate 10%) ----------

@pytest.mark.parametrize("preset, flaky_red, escape_share, contract_escape, pipeline, feedback", [
    ("pyramid", 0.141, 0.324, 0.201, 28.25, 3.6),
    ("ice-cream cone", 0.608, 0.482, 0.386, 137.4, 52.9),
    ("no contract tests", 0.126, 0.454, 0.848, 27.25, 3.6),
])
def test_the_figures_the_lesson_quotes(preset, flaky_red, escape_share, contract_escape, pipeline, feedback):
    th = model.theory(preset)
    assert th.flaky_red == pytest.approx(flaky_red, abs=0.0005)
    assert th.escape_share == pytest.approx(escape_share, abs=0.0005)
    assert th.escape_probability[KINDS.index("contract")] == pytest.approx(contract_escape, abs=0.0005)
    assert th.pipeline_minutes == pytest.approx(pipeline, abs=0.05)
    assert th.mean_feedback_minutes == pytest.approx(feedback, abs=0.05)


@pytest.mark.parametrize("services, cone, pyramid", [(2, 0.318, 0.303), (10, 0.482, 0.324), (50, 0.623, 0.332)])
def test_end_to_end_suites_catch_less_as_the_organisation_grows(services, cone, pyramid):
    # The cone leans on journeys through the whole system; with more services each journey is less likely to
    # pass through the changed one. The pyramid barely notices.
    assert model.theory("ice-cream cone", services=services).escape_share == pytest.approx(cone, abs=0.0005)
    assert model.theory("pyramid", services=services).escape_share == pytest.approx(pyramid, abs=0.0005)


def test_the_quoted_flaky_red_shares_hold_in_the_long_run():
    # The same figures, measured: 100 seeds at the dashboard's 1,000 changes, within 4 standard errors plus the
    # quoted figure's rounding (0.0005).
    n = 100 * 1000
    for preset, quoted in (("pyramid", 0.141), ("ice-cream cone", 0.608)):
        share = sum(model.simulate(preset, seed=s).flaky_red for s in range(1, 101)) / n
        assert abs(share - quoted) <= 4 * math.sqrt(quoted * (1 - quoted) / n) + 0.0005, (preset, share)


# -- bad parameters --------------------------------------------------------------------------------

def _broken(change):
    a = model.default_assumptions()
    change(a)
    return a


@pytest.mark.parametrize("call, message", [
    (lambda: model.simulate(services=1), r"services must be a whole number >= 2"),
    (lambda: model.simulate(services=2.5), r"services must be a whole number >= 2"),
    (lambda: model.simulate(changes=0), r"changes must be a whole number >= 1"),
    (lambda: model.simulate(bug_rate=1.5), r"bug_rate must be a probability in \[0, 1\]"),
    (lambda: model.simulate(seed=-1), r"seed must be a whole number >= 0"),
    (lambda: model.simulate("diamond"), r"tests must be one of 'pyramid', 'ice-cream cone', 'no contract tests'"),
    (lambda: model.simulate({"unit": -1}), r"tests\['unit'\] must be a whole number >= 0"),
    (lambda: model.simulate({"unit": 2.5}), r"tests\['unit'\] must be a whole number >= 0"),
    (lambda: model.simulate({"smoke": 3}), r"tests has unknown key\(s\) 'smoke'; valid: 'unit'"),
    (lambda: model.simulate(flakiness={"e2e": 2}), r"flakiness\['e2e'\] must be a probability in \[0, 1\]"),
    (lambda: model.simulate(flakiness={"staging": 0.1}), r"flakiness has unknown key\(s\) 'staging'"),
    (lambda: model.theory(bug_rate=-0.1), r"bug_rate must be a probability in \[0, 1\]"),
    (lambda: model.theory(services=0), r"services must be a whole number >= 2"),
    (lambda: model.theory(assumptions=_broken(lambda a: a["bug_mix"].update(logic=0.9))),
     r"assumptions\['bug_mix'\] must sum to 1"),
    (lambda: model.theory(assumptions=_broken(lambda a: a["bug_mix"].pop("wiring"))),
     r"assumptions\['bug_mix'\] is missing 'wiring'"),
    (lambda: model.theory(assumptions=_broken(lambda a: a["layers"]["unit"]["sees"].update(logic=(1.2, 0.9)))),
     r"assumptions\['layers'\]\['unit'\]\['sees'\]\['logic'\] per_test must be a probability in \[0, 1\]"),
    (lambda: model.theory(assumptions=_broken(lambda a: a["layers"]["e2e"]["sees"].update(typo=(0.1, 0.1)))),
     r"assumptions\['layers'\]\['e2e'\]\['sees'\] has unknown key\(s\) 'typo'"),
    (lambda: model.theory(assumptions=_broken(lambda a: a["layers"]["e2e"].update(flakiness=-0.01))),
     r"assumptions\['layers'\]\['e2e'\]\['flakiness'\] must be a probability in \[0, 1\]"),
    (lambda: model.theory(assumptions=_broken(lambda a: a["layers"]["unit"].update(seconds_per_test=-1))),
     r"assumptions\['layers'\]\['unit'\]\['seconds_per_test'\] must be >= 0"),
    (lambda: model.theory(assumptions=_broken(lambda a: a["layers"].pop("contract"))),
     r"assumptions\['layers'\] is missing 'contract'"),
    (lambda: model.theory(assumptions=_broken(lambda a: a.update(journey_services=0))),
     r"assumptions\['journey_services'\] must be > 0"),
    (lambda: model.red_builds_across("staging", [1, 2]), r"layer must be one of 'unit'"),
    (lambda: model.red_builds_across("e2e", [1, -2]), r"values must be a list of whole numbers >= 0"),
])
def test_bad_parameters_raise_value_error_naming_the_parameter_and_range(call, message):
    with pytest.raises(ValueError, match=message):
        call()
