"""Every number lesson 06 (``course/06_testing_together.ipynb``) states, and every contract demonstration, checked.

Each test quotes the claim it checks, in the lesson's words. A number the
lesson states from the test-portfolio simulation is its long-run value, taken
from :func:`course.models.portfolio.theory` (exact expectations) within
the rounding the lesson prints (± 0.05 percentage points for "14.1%", ± 0.5
for "32%", ± 0.05 min for "3.6 min"), and spot-checked against the mean over
:data:`SEEDS`. Where the lesson also says what the dashboard's own run shows
("21 of 93 in this run"), that figure is checked at the dashboard's seed (1),
through the dashboard's own ``simulate``, since it is what the learner sees.

The contract demonstrations are real pact runs (pact-python's core, real HTTP
on loopback): each fails, or passes, for the reason the prose gives, and its
message contains the words the prose quotes. Each run is made once per module.
Flakiness figures of Micco (2016) and Listfield (2017) are citations, checked
only for agreeing with the model's stated derivation.
"""

from __future__ import annotations

import math
import re
import threading
from functools import partial
from pathlib import Path

import nbformat
import numpy as np
import pytest

from course.contracts import payments
from course.contracts.matrix import broker_command, record_deployment_command
from course.dashboards import TestPortfolioDashboard
from course.dashboards import portfolio as dashboard
from course.lessons import lesson06
from course.models import portfolio as model
from tests.lessons import claims_helpers

NOTEBOOK = Path(__file__).resolve().parents[2] / "course" / "06_testing_together.ipynb"
LAYERS, KINDS = model.LAYERS, model.KINDS
LOGIC, CONTRACT, WIRING, INTERACTION = (KINDS.index(k) for k in ("logic", "contract", "wiring", "interaction"))

#: Seeds for the long-run spot checks. One run (1,000 changes) takes about 2 ms.
SEEDS = tuple(range(1, 41))
#: Rounding tolerances of the printed figures: "14.1%", "32%", "3.6 min", "137 min".
ONE_DECIMAL, WHOLE, TENTH, MINUTE = 0.0005, 0.005, 0.05, 0.5


notebook_text = partial(claims_helpers.notebook_text, NOTEBOOK)
code_text = partial(claims_helpers.code_text, NOTEBOOK)
says = partial(claims_helpers.says, NOTEBOOK)


def theory(preset: str, **kwargs) -> model.PortfolioTheory:
    return model.theory(preset, **kwargs)


def this_run(preset: str, services: int = 10) -> model.PortfolioResult:
    """What the dashboard shows at its own seed for ``preset`` (through the dashboard's simulate)."""
    t = model.PRESETS[preset]
    return dashboard.simulate(t["unit"], t["component"], t["contract"], t["integration"], t["e2e"], 0.015,
                              services, 1000, 1).run


def percent(x: float, decimals: int = 0) -> str:
    return f"{100 * x:.{decimals}f}%"


# -- the notebook itself ----------------------------------------------------------------------------

def test_notebook_calls_the_dashboards_and_demos_the_text_describes():
    source = code_text()
    for call in ("lesson06.prediction()", "test_portfolio_dashboard()",
                 'test_portfolio_dashboard(preset="ice-cream cone")',
                 'test_portfolio_dashboard(preset="no contract tests")',
                 'for against in ("double", "v1", "renamed_field")', "pact_runs.run_unit_test(against=against)",
                 'pact_runs.run_consumer_test(style="matchers")', 'pact_runs.run_consumer_test(style="exact")',
                 'pact_runs.verify_provider(consumer, "v1")', 'pact_runs.verify_provider(consumer, "renamed_field")',
                 '("changed_status", "optional_field")', '("added_field", "changed_unused_field")',
                 "pact_runs.verify_provider(exact, variant)", "lesson06.production_matrix(consumer, v1)",
                 'matrix.can_i_deploy("payments", "1.1", "production")',
                 'matrix.can_i_deploy("payments", "1.2", "production")',
                 'broker_command("payments", "1.2", "production")', "lesson06.which_layer()",
                 "lesson06.self_check()"):
        assert call in source, call


def test_the_testcontainers_example_is_markdown_not_code():
    # "show the code a team would write (as a non-executed markdown code block)"
    cells = nbformat.read(NOTEBOOK, as_version=4).cells
    assert not any("testcontainers" in c.source for c in cells if c.cell_type == "code")
    block = next(c.source for c in cells if c.cell_type == "markdown" and "```python" in c.source)
    assert "from testcontainers.postgres import PostgresContainer" in block and "get_connection_url()" in block
    says("Testcontainers needs a Docker daemon, and Binder runs this notebook inside a container that has none")


def test_the_dashboard_defaults_are_the_settings_the_lesson_describes():
    # "An organisation of **10** services pushes **1,000** changes, one build each, and **10%** of the changes
    #  carry a bug." ... "The default: 50 unit, 15 component, 10 contract, 5 integration and 5 end-to-end tests"
    assert {k: c.value for k, c in TestPortfolioDashboard().controls_by_name.items()} == {
        "preset": "pyramid", "unit": 50, "component": 15, "contract": 10, "integration": 5, "e2e": 5,
        "e2e_flakiness": 1.5, "services": 10, "changes": 1000, "seed": 1}
    assert model.theory("pyramid").bug_rate == 0.1 and model.theory("pyramid").services == 10
    says("**10** services pushes **1,000** changes", "**10%** of the changes carry a bug",
         "50 unit, 15 component, 10 contract, 5 integration and 5 end-to-end tests")


# -- Section 3: the model as described -------------------------------------------------------------

def test_the_bug_mix():
    # "Half of the bugs are **logic** ..., a fifth are **contract** drift ..., and the rest are split between
    #  **wiring** ... and **interaction** bugs"
    assert model.ASSUMPTIONS["bug_mix"] == {"logic": 0.5, "contract": 0.2, "wiring": 0.15, "interaction": 0.15}


def test_the_layer_table():
    # | unit | 1 s | 0.05% |, | component | 5 s | 0.17% |, | contract | 3 s | 0.17% |, | integration | 20 s | 0.17% |,
    # | end-to-end | 2 min | 1.5% |; "a staging deploy takes **10 min**"
    layers = model.ASSUMPTIONS["layers"]
    expected = {"unit": (1, "1 s", "0.05%"), "component": (5, "5 s", "0.17%"), "contract": (3, "3 s", "0.17%"),
                "integration": (20, "20 s", "0.17%"), "e2e": (120, "2 min", "1.5%")}
    text = notebook_text()
    for layer, (seconds, shown, flaky) in expected.items():
        assert layers[layer]["seconds_per_test"] == seconds, layer
        assert percent(layers[layer]["flakiness"], 2 if layer != "e2e" else 1) == flaky, layer
        row = "end-to-end" if layer == "e2e" else layer
        assert re.search(rf"\| {row} \| [^|]+ \| {re.escape(shown)} \| {re.escape(flaky)} \|", text), layer
    assert layers["e2e"]["setup_seconds"] == 600
    says("a staging deploy takes **10 min**")


def test_the_derivation_of_the_flakiness_rates():
    # "1.5% for an end-to-end test, smaller tests scaled down in Listfield's ratios" (0.5% small, 1.6% medium,
    # 14% large): 1.5% × 0.5/14 ≈ 0.05% and 1.5% × 1.6/14 ≈ 0.17%, as printed.
    layers = model.ASSUMPTIONS["layers"]
    assert layers["e2e"]["flakiness"] == 0.015
    assert layers["unit"]["flakiness"] == pytest.approx(0.015 * 0.5 / 14, abs=0.00005)
    for layer in ("component", "contract", "integration"):
        assert layers[layer]["flakiness"] == pytest.approx(0.015 * 1.6 / 14, abs=0.00005)
    says("about 1.5% of all test runs at Google were flaky", "almost 16% of their tests",
         "0.5% of small, 1.6% of medium and 14% of large tests had a flaky run")


def test_the_ceilings_the_lesson_names():
    # "a unit test never sees contract drift, and staging seldom has production's load"; "The component tests are
    # still there, but their doubles ... A drift ... is invisible to them by construction."
    sees = {layer: model.ASSUMPTIONS["layers"][layer]["sees"] for layer in LAYERS}
    assert "contract" not in sees["unit"] and "contract" not in sees["component"]
    assert sees["e2e"]["interaction"][1] <= 0.3


# -- Experiment 1: the pyramid ---------------------------------------------------------------------

def test_experiment_1_where_the_bugs_are_caught_and_when():
    # "Unit tests catch most logic bugs (blue) within 2 minutes of the push, and the contract layer the contract
    #  drift (orange). A caught bug is reported **3.6 min** after the push on average (4.7 min in this run)."
    th = theory("pyramid")
    assert th.ready_minutes[LAYERS.index("unit")] < 2
    assert th.first_catch[LAYERS.index("unit"), LOGIC] > 0.5
    assert th.first_catch[LAYERS.index("contract"), CONTRACT] > 0.5
    assert th.mean_feedback_minutes == pytest.approx(3.6, abs=TENTH)
    assert round(this_run("pyramid").mean_feedback_minutes, 1) == 4.7
    says("reported **3.6 min** after the push on average (4.7 min in this run)")


def test_experiment_1_a_green_build():
    # "A green build takes **28 min**, and 20 of them are the five journeys: the staging deploy alone costs 10."
    th = theory("pyramid")
    assert th.pipeline_minutes == pytest.approx(28, abs=MINUTE)
    assert th.stage_minutes[LAYERS.index("e2e")] == pytest.approx(20)
    assert model.ASSUMPTIONS["layers"]["e2e"]["setup_seconds"] / 60 == 10
    assert dashboard._minutes(th.pipeline_minutes) == "28 min"
    says("A green build takes **28 min**, and 20 of them are the five journeys")


def test_experiment_1_escapes():
    # "About **32%** of bugs still reach production (21 of 93 in this run). In the long run interaction bugs
    #  (purple) are the largest part of them"
    th = theory("pyramid")
    assert th.escape_share == pytest.approx(0.32, abs=WHOLE)
    assert int(np.argmax(th.escaped)) == INTERACTION
    r = this_run("pyramid")
    assert (int(r.escaped.sum()), r.bugs) == (21, 93)
    says("About **32%** of bugs still reach production (21 of 93 in this run)")


def test_experiment_1_red_builds_with_no_bug():
    # "**14.1%** of builds go red with no bug behind them (14.0% here), so **64%** of red builds are false alarms.
    #  The five journeys cause about half of it: 1 − 0.985⁵ = **7.3%**."
    th = theory("pyramid")
    assert th.flaky_red == pytest.approx(0.141, abs=ONE_DECIMAL)
    assert this_run("pyramid").flaky_red == 140
    assert th.no_bug_share_of_red == pytest.approx(0.64, abs=WHOLE)
    e2e = th.flaky_by_layer[LAYERS.index("e2e")]
    assert e2e == pytest.approx(1 - 0.985 ** 5) and round(100 * e2e, 1) == 7.3
    assert 0.45 < e2e / th.flaky_red < 0.55
    says("**14.1%** of builds go red with no bug behind them (14.0% here)", "**64%** of red builds are false",
         "1 − 0.985⁵ = **7.3%**")


# -- Experiment 2: the ice-cream cone --------------------------------------------------------------

def test_experiment_2_the_cone_is_slow():
    # "Upside down: 10 unit, 5 component, no contract, 10 integration and 60 end-to-end tests." "A green build takes
    #  **137 min** (2.3 h), and a caught bug is reported **53 min** after the push on average (52 min here)."
    assert model.PRESETS["ice-cream cone"] == {"unit": 10, "component": 5, "contract": 0, "integration": 10,
                                               "e2e": 60}
    th = theory("ice-cream cone")
    assert th.pipeline_minutes == pytest.approx(137, abs=MINUTE)
    assert dashboard._minutes(th.pipeline_minutes) == "2.3 h"
    assert th.mean_feedback_minutes == pytest.approx(53, abs=MINUTE)
    assert dashboard._minutes(this_run("ice-cream cone").mean_feedback_minutes) == "52 min"
    says("10 unit, 5 component, no contract, 10 integration and 60 end-to-end tests",
         "**137 min** (2.3 h)", "**53 min** after the push on average (52 min here)")


def test_experiment_2_the_cone_is_noisy():
    # "**60.8%** of builds go red with no bug (61.8% here): **87%** of red builds are noise. The red curve is
    #  1 − (1 − p)ᵏ, and 60 journeys at 1.5% give **59.6%** on their own."
    th = theory("ice-cream cone")
    assert th.flaky_red == pytest.approx(0.608, abs=ONE_DECIMAL)
    assert this_run("ice-cream cone").flaky_red == 618
    assert th.no_bug_share_of_red == pytest.approx(0.87, abs=WHOLE)
    e2e = th.flaky_by_layer[LAYERS.index("e2e")]
    assert e2e == pytest.approx(1 - 0.985 ** 60) and round(100 * e2e, 1) == 59.6
    says("**60.8%** of builds go red with no bug (61.8% here)", "**87%** of red builds are noise",
         "60 journeys at 1.5% give **59.6%**")


def test_experiment_2_the_cone_catches_less():
    # "**48%** of bugs reach production (38 of 93 here), against 32% for the pyramid. A journey passes through 3 of
    #  the 10 services, so ... half of the logic bugs that unit tests would have caught ship."
    th = theory("ice-cream cone")
    assert th.escape_share == pytest.approx(0.48, abs=WHOLE)
    r = this_run("ice-cream cone")
    assert (int(r.escaped.sum()), r.bugs) == (38, 93)
    assert model.ASSUMPTIONS["journey_services"] == 3
    assert th.escape_probability[LOGIC] == pytest.approx(0.5, abs=0.03)
    assert th.escape_probability[LOGIC] > 2 * theory("pyramid").escape_probability[LOGIC]
    says("**48%** of bugs reach production (38 of 93 here), against 32% for the pyramid",
         "A journey passes through 3 of the 10 services", "half of the logic bugs")


def test_experiment_2_a_bigger_organisation():
    # "Drag *Services* to **50**: **62%** escape (52 of 93 here)."
    assert theory("ice-cream cone", services=50).escape_share == pytest.approx(0.62, abs=WHOLE)
    r = this_run("ice-cream cone", services=50)
    assert (int(r.escaped.sum()), r.bugs) == (52, 93)
    assert TestPortfolioDashboard().controls_by_name["services"].max >= 50
    says("Drag *Services* to **50**: **62%** escape (52 of 93 here)")


# -- Experiment 3: no contract tests ---------------------------------------------------------------

def test_experiment_3_no_contract_tests():
    # "the build is only 1 minute faster (**27 min**), but the share of contract bugs reaching production goes from
    #  **20%** to **85%** (from 4 to 12 of the 18 in this run), and of all bugs from 32% to **45%** (29 of 93 here)"
    pyramid, without = theory("pyramid"), theory("no contract tests")
    assert pyramid.pipeline_minutes - without.pipeline_minutes == pytest.approx(1.0)
    assert dashboard._minutes(without.pipeline_minutes) == "27 min"
    assert pyramid.escape_probability[CONTRACT] == pytest.approx(0.20, abs=WHOLE)
    assert without.escape_probability[CONTRACT] == pytest.approx(0.85, abs=WHOLE)
    assert without.escape_share == pytest.approx(0.45, abs=WHOLE)
    r_pyramid, r_without = this_run("pyramid"), this_run("no contract tests")
    assert r_pyramid.bugs_by_kind[CONTRACT] == r_without.bugs_by_kind[CONTRACT] == 18
    assert (r_pyramid.escaped[CONTRACT], r_without.escaped[CONTRACT]) == (4, 12)
    assert (int(r_without.escaped.sum()), r_without.bugs) == (29, 93)
    says("only 1 minute faster (**27 min**)", "from **20%** to **85%** (from 4 to 12 of the 18 in this run)",
         "from 32% to **45%** (29 of 93 here)")


# -- Section 4: the table ------------------------------------------------------------------------------

def test_the_summary_table_is_the_long_run():
    # | builds red with no bug | 14.1% | 60.8% | 12.6% | ... | time to feedback for a caught bug | 3.6 min | ...
    presets = ("pyramid", "ice-cream cone", "no contract tests")
    th = [theory(p) for p in presets]
    rows = {
        "builds red with no bug": [percent(t.flaky_red, 1) for t in th],
        "red builds that had no bug": [percent(t.no_bug_share_of_red, 1) for t in th],
        "bugs reaching production": [percent(t.escape_share, 1) for t in th],
        "contract bugs reaching production": [percent(t.escape_probability[CONTRACT], 1) for t in th],
        "a green build": [f"{t.pipeline_minutes:.0f} min" for t in th],
        "time to feedback for a caught bug": [f"{t.mean_feedback_minutes:.1f} min" for t in th],
    }
    assert rows["builds red with no bug"] == ["14.1%", "60.8%", "12.6%"]
    assert rows["red builds that had no bug"] == ["63.7%", "87.1%", "65.3%"]
    assert rows["bugs reaching production"] == ["32.4%", "48.2%", "45.4%"]
    assert rows["contract bugs reaching production"] == ["20.1%", "38.6%", "84.8%"]
    assert rows["a green build"] == ["28 min", "137 min", "27 min"]
    assert rows["time to feedback for a caught bug"] == ["3.6 min", "52.9 min", "3.6 min"]
    text = notebook_text()
    for label, cells in rows.items():
        assert f"| {label} | {' | '.join(cells)} |" in text, label


def test_the_quoted_long_run_holds_over_many_seeds():
    # The theory the lesson quotes is what the simulation averages to: 40 seeds of 1,000 changes, within 4 standard
    # errors of a binomial share (escapes over ~4,000 bugs, flaky reds over 40,000 builds).
    for preset in ("pyramid", "ice-cream cone", "no contract tests"):
        th = theory(preset)
        runs = [model.simulate(preset, seed=s) for s in SEEDS]
        bugs = sum(r.bugs for r in runs)
        escaped = sum(int(r.escaped.sum()) for r in runs)
        p = th.escape_share
        assert abs(escaped / bugs - p) <= 4 * math.sqrt(p * (1 - p) / bugs), preset
        builds = len(SEEDS) * 1000
        flaky = sum(r.flaky_red for r in runs) / builds
        assert abs(flaky - th.flaky_red) <= 4 * math.sqrt(th.flaky_red * (1 - th.flaky_red) / builds), preset


# -- The contract demonstrations: real pact runs ------------------------------------------------------

@pytest.fixture(scope="module")
def runs():
    """Every pact run the lesson makes, once: the unit tests, both consumer tests, the verifications."""
    from course.contracts import pact_runs

    threads = threading.active_count()
    found = {"unit": {a: pact_runs.run_unit_test(against=a) for a in ("double", "v1", "renamed_field")}}
    found["consumer"] = pact_runs.run_consumer_test(style="matchers")
    found["exact"] = pact_runs.run_consumer_test(style="exact")
    found["matchers"] = {v: pact_runs.verify_provider(found["consumer"], v) for v in payments.VARIANTS}
    found["exact_runs"] = {v: pact_runs.verify_provider(found["exact"], v) for v in payments.VARIANTS if v != "v1"}
    found["threads_before"], found["threads_after"] = threads, threading.active_count()
    return found


def test_the_demos_leave_no_threads_running(runs):
    # "Each code cell must ... leave no servers or threads"
    assert runs["threads_after"] == runs["threads_before"]


def test_the_unit_test_with_a_double_passes_and_production_breaks(runs):
    # "Orders' tests stay green against the double, and the real renamed payments breaks orders: `payment body has
    #  no field 'amount_cents'`."
    unit = runs["unit"]
    assert unit["double"].passed and unit["v1"].passed
    assert not unit["renamed_field"].passed
    assert "payment body has no field 'amount_cents'" in unit["renamed_field"].message
    says("`payment body has no field 'amount_cents'`")


def test_the_consumer_test_writes_a_pact_of_rules(runs):
    # "`amount_cents` must be an integer, `created_at` a timestamp, `status` one of three values. Fields orders never
    #  reads are not there at all."
    consumer = runs["consumer"]
    assert consumer.passed and consumer.pact_path is not None
    excerpt = lesson06.pact_excerpt(consumer.pact, "a request for payment p-1")
    assert "provider state:  'payment p-1 exists'" in excerpt and "GET /payments/p-1" in excerpt
    assert re.search(r"amount_cents .*-> an integer", excerpt)
    assert re.search(r"created_at .*-> a timestamp", excerpt)
    assert re.search(r"status .*-> matches \^\(pending\|captured\|failed\)\$", excerpt)
    assert '"providerStates": [{"name": "payment p-1 exists"}]' in excerpt
    assert '"$.amount_cents": {"combine": "AND", "matchers": [{"match": "integer"}]}' in excerpt
    for interaction in consumer.pact["interactions"]:
        body = (interaction["response"].get("body") or {}).get("content") or {}
        assert not {"order_id", "updated_at"} & set(body), interaction["description"]
        if body:
            assert set(body) == {"id", "amount_cents", "currency", "status", "created_at"}
    says("`amount_cents` must be an integer, `created_at` a timestamp, `status` one of three values")


def test_the_verification_fails_on_the_rename_with_pacts_message(runs):
    # "The message is Pact's own: `Actual map is missing the following keys: amount_cents`. ... naming the consumer
    #  and the interaction."
    matchers = runs["matchers"]
    assert matchers["v1"].passed
    renamed = matchers["renamed_field"]
    assert not renamed.passed
    assert "Actual map is missing the following keys: amount_cents" in renamed.message
    assert "Verifying a pact between orders and payments" in renamed.message
    assert "a request for payment p-1" in renamed.message
    says("`Actual map is missing the following keys: amount_cents`")


def test_two_more_breaking_changes(runs):
    # "`expected 201 but was 200`" ... "a `created_at` that is null until the payment is captured fails the timestamp
    #  pattern"
    matchers = runs["matchers"]
    assert not matchers["changed_status"].passed
    assert "expected 201 but was 200" in matchers["changed_status"].message
    optional = matchers["optional_field"]
    assert not optional.passed
    assert "$.created_at" in optional.message and "timestamp pattern" in optional.message
    assert payments.VARIANTS["optional_field"] == "created_at is null until a payment is captured"
    says("`expected 201 but was 200`", "null until the payment is captured fails the timestamp pattern")


def test_provider_states_are_the_ones_the_prose_names(runs):
    # "\"payment p-1 exists\", \"no payment p-404\", \"order o-7 can be charged\""; "`PaymentsProvider.set_state`"
    assert payments.STATES == ("payment p-1 exists", "no payment p-404", "order o-7 can be charged")
    used = {s["name"] for i in runs["consumer"].pact["interactions"] for s in i.get("providerStates", [])}
    assert used == set(payments.STATES)
    assert callable(payments.PaymentsProvider.set_state)
    says('"payment p-1 exists", "no payment p-404", "order o-7 can be charged"', "`PaymentsProvider.set_state`")


def test_be_lenient_the_matchers_pact_verifies_harmless_changes(runs):
    # "So payments may add a field, or change one that orders never reads" ... "Both verify."
    for variant in payments.HARMLESS:
        assert runs["matchers"][variant].passed, variant
    assert payments.HARMLESS == ("added_field", "changed_unused_field")
    says("Both verify.")


def test_the_over_specified_pact_fails_on_a_harmless_change(runs):
    # "Pact lets a response carry extra keys, so the new field passes even here. But `Expected 1796040000 (Integer) to
    #  be equal to '2026-11-30T12:00:00Z' (String)`"
    exact = runs["exact_runs"]
    assert runs["exact"].passed
    assert exact["added_field"].passed
    unused = exact["changed_unused_field"]
    assert not unused.passed
    assert "Expected 1796040000 (Integer) to be equal to '2026-11-30T12:00:00Z' (String)" in unused.message
    says("the new field passes even here",
         "`Expected 1796040000 (Integer) to be equal to '2026-11-30T12:00:00Z' (String)`")


def test_the_exact_pact_catches_nothing_more(runs):
    # Self-check 6: "the exact pact caught no break that the matchers pact missed: the renamed field, the changed
    #  status and the null timestamp failed both."
    for variant in payments.BREAKING:
        assert not runs["exact_runs"][variant].passed and not runs["matchers"][variant].passed, variant


# -- can-i-deploy ------------------------------------------------------------------------------------

def test_can_i_deploy_blocks_then_unblocks(runs):
    # "**Notice:** \"Computer says no\". Payments 1.1 failed the pact of orders 1.0, which is in production."
    # "**Notice:** \"Computer says yes\", and recording the deployment moves production to payments 1.2."
    matchers = runs["matchers"]
    matrix = lesson06.production_matrix(runs["consumer"], matchers["v1"])
    assert matrix.deployed("orders", "production") == "1.0" and matrix.deployed("payments", "production") == "1.0"
    matrix.record_verification("payments", "1.1", "orders", "1.0", success=matchers["renamed_field"].passed)
    blocked = matrix.can_i_deploy("payments", "1.1", "production")
    assert not blocked.ok and str(blocked).startswith("Computer says no")
    assert "orders 1.0 -> payments 1.1: verification FAILED" in str(blocked)
    table = lesson06.matrix_table(matrix)
    assert re.search(r"orders\s+\| 1\.0\s+\| payments \| 1\.1\s+\| false", table)
    matrix.record_verification("payments", "1.2", "orders", "1.0", success=matchers["added_field"].passed)
    allowed = matrix.can_i_deploy("payments", "1.2", "production")
    assert allowed.ok and str(allowed).startswith("Computer says yes")
    matrix.record_deployment("payments", "1.2", "production")
    assert "deployed in production: orders 1.0, payments 1.2" in lesson06.matrix_table(matrix)
    says('"Computer says no"', '"Computer says yes"', "moves production to payments 1.2")


def test_the_real_commands():
    # "The real commands that the model stands for" ... "a \"no\" exits with status 1"
    assert broker_command("payments", "1.2", "production") == (
        "pact-broker can-i-deploy --pacticipant payments --version 1.2 --to-environment production")
    assert record_deployment_command("payments", "1.2", "production") == (
        "pact-broker record-deployment --pacticipant payments --version 1.2 --environment production")
    says("`PACT_BROKER_BASE_URL`", "`PACT_BROKER_TOKEN`")


def test_the_matrix_helpers_refuse_what_they_cannot_use(runs):
    with pytest.raises(ValueError, match="consumer must be a passed consumer run"):
        lesson06.production_matrix(runs["unit"]["double"], runs["matchers"]["v1"])
    with pytest.raises(ValueError, match="verification must be a verification of the consumer's pact"):
        lesson06.production_matrix(runs["consumer"], runs["exact_runs"]["added_field"])
    with pytest.raises(ValueError, match="description must name an interaction"):
        lesson06.pact_excerpt(runs["consumer"].pact, "a request for payment p-2")
    with pytest.raises(ValueError, match="pact must be a pact document"):
        lesson06.pact_excerpt({}, "a request for payment p-1")
    # Same content, same pact: the digest ignores metadata; different pacts differ.
    assert lesson06.pact_content(runs["consumer"].pact) == lesson06.pact_content(
        {**runs["consumer"].pact, "metadata": {}})
    assert lesson06.pact_content(runs["consumer"].pact) != lesson06.pact_content(runs["exact"].pact)


# -- Which layer catches which bug -------------------------------------------------------------------

def test_the_answers_agree_with_the_model():
    # logic -> unit; contract -> contract; wiring -> component or integration; interaction -> most reach production.
    shares = lesson06.layer_shares("pyramid")
    layers = [layer for layer in LAYERS]
    assert max(layers, key=lambda layer: shares["logic"][layer]) == "unit" and shares["logic"]["unit"] > 0.5
    assert max(layers, key=lambda layer: shares["contract"][layer]) == "contract"
    assert shares["contract"]["contract"] > 0.5
    # Of the layers before end-to-end, only component and integration tests can see wiring at all.
    seeing = [layer for layer in LAYERS[:-1] if "wiring" in model.ASSUMPTIONS["layers"][layer]["sees"]]
    assert seeing == list(lesson06.ANSWERS["wiring"])
    assert shares["wiring"]["component"] + shares["wiring"]["integration"] > shares["wiring"]["e2e"]
    for preset in model.PRESETS:
        assert lesson06.layer_shares(preset)["interaction"]["production"] > 0.5, preset
    # Every share row adds up: each bug is caught first by one layer or reaches production.
    for kind, row in shares.items():
        assert sum(row.values()) == pytest.approx(1.0), kind


def test_the_table_widget_compares_picks_with_the_model():
    table = lesson06.which_layer()
    assert table.score() == 0 and table.feedback.value == ""
    picks = {"logic": "unit", "contract": "contract", "wiring": "integration", "interaction": "e2e"}
    for kind, pick in picks.items():
        table.choices[kind].value = pick
    table.compare.click()
    assert table.score() == 3
    assert "3 of 4 picks right" in table.feedback.value
    assert table.feedback.value.count("✔") == 3 and table.feedback.value.count("✘") == 1
    shares = lesson06.layer_shares("pyramid")
    assert f"<b>{shares['logic']['unit']:.0%}</b>" in table.feedback.value
    assert f"<b>{shares['interaction']['production']:.0%}</b>" in table.feedback.value
    table.choices["interaction"].value = "production"
    table.compare.click()
    assert table.score() == 4 and "4 of 4 picks right" in table.feedback.value
    with pytest.raises(ValueError, match="preset must be one of"):
        lesson06.which_layer("diamond")


def test_the_widgets_explanations_quote_no_numbers():
    # The shares shown come from the model; the fixed sentences beside them state no figure that could drift.
    for text in lesson06.WHY.values():
        assert not re.search(r"\d+\s*%", text), text


# -- Section 4's other claims and the self-check ----------------------------------------------------------

def test_interaction_bugs_get_through_whatever_the_portfolio():
    # "Whatever the portfolio, most interaction bugs got through every layer"; self-check 5: "about 95% of them with
    # the pyramid and 84% with the cone"
    for preset in model.PRESETS:
        assert theory(preset).escape_probability[INTERACTION] > 0.5, preset
    # Even every slider at its maximum, in the smallest organisation (where every journey passes the change).
    most = {layer: dashboard.RANGES[layer][1] for layer in LAYERS}
    for services in (2, 10, 50):
        assert model.theory(most, services=services).escape_probability[INTERACTION] > 0.5, services
    says("Whatever the portfolio, most interaction bugs got through every layer")
    assert theory("pyramid").escape_probability[INTERACTION] == pytest.approx(0.95, abs=WHOLE)
    assert theory("ice-cream cone").escape_probability[INTERACTION] == pytest.approx(0.84, abs=WHOLE)
    explain = lesson06.QUESTIONS[4].explain
    assert "about 95% of them with the pyramid and 84% with the cone" in explain


def test_self_check_1_numbers():
    # "1 − 0.985<sup>60</sup> = 59.6% ... Five such tests give 7.3% ... about 61% of its builds"
    assert round(100 * (1 - 0.985 ** 60), 1) == 59.6 and round(0.985 ** 60, 2) == 0.40
    assert round(100 * (1 - 0.985 ** 5), 1) == 7.3
    assert theory("ice-cream cone").flaky_red == pytest.approx(0.61, abs=WHOLE)
    explain = lesson06.QUESTIONS[0].explain
    for phrase in ("0.985<sup>60</sup> ≈ 0.40", "= 59.6%", "Five such tests give 7.3%", "about 61% of its builds"):
        assert phrase in explain, phrase
    assert lesson06.QUESTIONS[0].options[lesson06.QUESTIONS[0].answer].startswith("About 60%")


def test_self_check_messages_are_the_real_ones(runs):
    # Q2 and Q3 quote pact's messages; Q3's answer (both harmless changes pass) is what the verification does.
    assert "Actual map is missing the following keys: amount_cents" in lesson06.QUESTIONS[1].explain
    assert "Actual map is missing the following keys: amount_cents" in runs["matchers"]["renamed_field"].message
    q3 = lesson06.QUESTIONS[2]
    assert q3.options[q3.answer].startswith("Both changes pass")
    assert all(runs["matchers"][v].passed for v in payments.HARMLESS)
    quoted = "Expected 1796040000 (Integer) to be equal to '2026-11-30T12:00:00Z' (String)"
    assert quoted in q3.explain and quoted in runs["exact_runs"]["changed_unused_field"].message


def test_self_check_4_is_what_the_matrix_answers(runs):
    q4 = lesson06.QUESTIONS[3]
    assert q4.options[q4.answer].startswith("No, until a payments version verifies")
    matrix = lesson06.production_matrix(runs["consumer"], runs["matchers"]["v1"])
    matrix.record_verification("payments", "1.1", "orders", "1.0", success=False)
    assert not matrix.can_i_deploy("payments", "1.1", "production").ok
    # "So would deploying first an orders version whose pact payments 1.1 does verify."
    matrix.publish_pact("orders", "1.1", "payments", "a pact without amount_cents")
    matrix.record_verification("payments", "1.0", "orders", "1.1", success=True)
    matrix.record_verification("payments", "1.1", "orders", "1.1", success=True)
    assert matrix.can_i_deploy("orders", "1.1", "production").ok
    matrix.record_deployment("orders", "1.1", "production")
    assert matrix.can_i_deploy("payments", "1.1", "production").ok
    assert "pact-broker can-i-deploy --pacticipant payments --version 1.1 --to-environment production" in \
        re.sub(r"<[^>]+>", "", q4.prompt)


def test_the_prediction_has_an_answer_the_simulation_gives():
    # Option 2: "Team B ships fewer bugs; team A's builds go red for no reason more often" (the cone is team A).
    cone, pyramid = theory("ice-cream cone"), theory("pyramid")
    assert pyramid.escape_share < cone.escape_share and cone.flaky_red > pyramid.flaky_red
    assert "Team B ships fewer bugs; team A's builds go red for no reason more often" in lesson06.OPTIONS
    assert "60 end-to-end tests" in lesson06.QUESTION and "5 end-to-end journeys" in lesson06.QUESTION


def test_the_self_check_has_four_options_per_question():
    assert len(lesson06.QUESTIONS) == 6
    for q in lesson06.QUESTIONS:
        assert len(q.options) == 4 and 0 <= q.answer < 4


def test_the_excerpt_and_the_table_say_what_the_pact_and_matrix_hold(runs):
    # The over-specified pact's rules are exact values; a pact nobody verified shows as "not verified".
    excerpt = lesson06.pact_excerpt(runs["exact"].pact, "a charge for order o-7")
    assert re.search(r"updated_at .*-> exactly this value", excerpt) and "provider state:  'order o-7 can be charged'" \
        in excerpt
    matrix = lesson06.production_matrix(runs["consumer"], runs["matchers"]["v1"])
    matrix.publish_pact("orders", "1.1", "payments", lesson06.pact_content(runs["exact"].pact))
    table = lesson06.matrix_table(matrix)
    assert re.search(r"orders\s+\| 1\.1\s+\| payments \| 1\.0\s+\| not verified", table)
    assert "deployed in test: nothing" in table
