"""Lesson 04's dashboards (dual write, stale reads, lost updates, two-phase commit), driven headless: they are
registered, the controls cannot reach invalid settings, bad parameters are refused with a reason, and each
shows what the lesson says it shows. (Building, labelling and every-control-matters are checked for every
dashboard in ``test_dashboards.py``.)"""

from __future__ import annotations

import math

import numpy as np
import pytest

from course.dashboards import (ALL, DualWriteDashboard, LostUpdatesDashboard, StaleReadsDashboard,
                               TwoPhaseCommitDashboard, dual_write_dashboard, lost_updates_dashboard,
                               stale_reads_dashboard, two_phase_commit_dashboard)
from course.dashboards import dual_write, lost_updates, stale_reads, two_phase_commit
from course.models import dual_write as dual_write_model
from tests.lessons.dashboard_helpers import PNG_SIGNATURE, without_drawing

LESSON04 = {"dual_write": DualWriteDashboard, "stale_reads": StaleReadsDashboard,
            "lost_updates": LostUpdatesDashboard, "two_phase_commit": TwoPhaseCommitDashboard}


def test_registered_with_factories():
    assert {name: ALL[name] for name in LESSON04} == LESSON04
    with without_drawing():
        assert isinstance(dual_write_dashboard(mode="outbox"), DualWriteDashboard)
        assert isinstance(stale_reads_dashboard(routing="sticky"), StaleReadsDashboard)
        assert isinstance(lost_updates_dashboard(clients=2), LostUpdatesDashboard)
    d = two_phase_commit_dashboard(crash="none")
    assert isinstance(d, TwoPhaseCommitDashboard)
    assert bytes(d.image.value).startswith(PNG_SIGNATURE) and d.status.value


def test_controls_cannot_reach_invalid_values():
    with without_drawing():
        w = DualWriteDashboard().controls_by_name
        assert w["crash_probability"].min >= 0 and w["crash_probability"].max <= 1
        assert w["orders"].min >= 1
        assert {value for _, value in w["mode"].options} == set(dual_write_model.MODES)
        s = StaleReadsDashboard().controls_by_name
        assert s["lag_ms"].min > 0 and s["delta_ms"].min > 0
        assert {value for _, value in s["routing"].options} == {"primary", "random", "sticky", "read_your_writes"}
        u = LostUpdatesDashboard().controls_by_name
        assert u["clients"].min >= 1 and u["think_ms"].min > 0
        t = TwoPhaseCommitDashboard().controls_by_name
        assert t["recovery_s"].min > 0 and t["participants"].min >= 1
        assert t["participants"].max == two_phase_commit.MAX_PARTICIPANTS
        # Out-of-range presets are clamped to the range, never passed to the model.
        assert DualWriteDashboard(crash_probability=2.0).params["crash_probability"] == w["crash_probability"].max
        assert LostUpdatesDashboard(clients=0).params["clients"] == 1
        assert TwoPhaseCommitDashboard(participants=50).params["participants"] == two_phase_commit.MAX_PARTICIPANTS


@pytest.mark.parametrize("call, parameter", [
    (lambda: dual_write.simulate(mode="write_twice"), "mode"),
    (lambda: dual_write.simulate(crash_probability=1.5), "crash_probability"),
    (lambda: dual_write.simulate(orders=0), "orders"),
    (lambda: stale_reads.simulate(lag_ms=0), "lag_ms"),
    (lambda: stale_reads.simulate(delta_ms=-10), "delta_ms"),
    (lambda: stale_reads.simulate(routing="nearest"), "routing"),
    (lambda: lost_updates.simulate(clients=0), "clients"),
    (lambda: lost_updates.simulate(think_ms=0), "think_ms"),
    (lambda: two_phase_commit.simulate(crash="after_commit"), "crash"),
    (lambda: two_phase_commit.simulate(recovery_s=0), "recovery_s"),
    (lambda: two_phase_commit.simulate(participants=0), "participants"),
    (lambda: two_phase_commit.simulate(participants=9), "participants"),
])
def test_bad_parameters_raise_value_error_naming_the_parameter(call, parameter):
    with pytest.raises(ValueError, match=rf"^{parameter} must"):
        call()


def test_the_routing_error_lists_the_valid_values():
    with pytest.raises(ValueError, match="'primary', 'random', 'sticky', 'read_your_writes'"):
        stale_reads.simulate(routing="nearest")
    with pytest.raises(ValueError, match="'none', 'before_prepare', 'after_votes', 'mid_decision'"):
        two_phase_commit.simulate(crash="later")


def test_same_seed_same_result_and_another_seed_differs():
    a, b = dual_write.simulate(seed=3), dual_write.simulate(seed=3)
    assert np.array_equal(a["rows_without_event"], b["rows_without_event"])
    assert not np.array_equal(a["rows_without_event"], dual_write.simulate(seed=4)["rows_without_event"])
    assert stale_reads.simulate(seed=3)["stale"] == stale_reads.simulate(seed=3)["stale"]
    assert stale_reads.simulate(seed=3)["stale"] != stale_reads.simulate(seed=4)["stale"]
    assert lost_updates.simulate(seed=3)["plain"].final == lost_updates.simulate(seed=3)["plain"].final


# -- Dual write ---------------------------------------------------------------------------------------

def test_the_outbox_leaves_no_anomaly_at_any_crash_probability():
    d = DualWriteDashboard(mode="outbox")
    slider = d.controls_by_name["crash_probability"]
    for p in np.round(np.arange(slider.min, slider.max + 1e-9, slider.step), 2):
        r = dual_write.run("outbox", float(p), 200)
        assert r.anomalies == 0, p
    for probability in (0.0, 0.25, 0.5):
        d.set(crash_probability=probability)
        assert set(dual_write.P_GRID) <= set(d.line_rows.get_xdata())
        assert list(d.line_rows.get_ydata()) == [0] * len(d.result["p"])
        assert list(d.line_events.get_ydata()) == [0] * len(d.result["p"])
        assert list(d.marker.get_ydata()) == [0]
        assert d.dots_never.get_xdata().size == 0 and d.dots_phantom.get_xdata().size == 0
    assert d.result["current"].duplicate_deliveries > 0  # at least once: never lost, sometimes twice


@pytest.mark.parametrize("mode, anomaly", [("write_then_publish", "rows_without_event"),
                                           ("publish_then_write", "events_without_row")])
def test_a_dual_write_loses_one_order_per_crash_and_follows_the_diagonal(mode, anomaly):
    d = DualWriteDashboard(mode=mode, orders=500)
    other = "events_without_row" if anomaly == "rows_without_event" else "rows_without_event"
    assert list(d.result[other]) == [0] * len(d.result["p"])
    counts = d.result[anomaly]
    assert list(counts) == sorted(counts) and counts[0] == 0  # same crash draws at every point: monotone
    for p, count in zip(d.result["p"], counts):
        sd = math.sqrt(500 * p * (1 - p))
        assert abs(count - 500 * p) <= 4 * sd + 1e-9, (p, count)
    # Each anomaly is a crash at the one crash point between the two writes.
    r = d.result["current"]
    assert r.anomalies == sum(r.crashes.values())
    drawn = d.line_rows if anomaly == "rows_without_event" else d.line_events
    assert list(drawn.get_ydata()) == list(counts)
    x, y = d.line_theory.get_data()
    assert list(y) == pytest.approx([500 * xi for xi in x])


def test_the_current_setting_is_marked_on_the_curve():
    d = DualWriteDashboard(crash_probability=0.13, orders=300)
    assert 0.13 in set(np.round(d.result["p"], 6))
    assert d.marker.get_xdata()[0] == pytest.approx(0.13)
    assert d.marker.get_ydata()[0] == d.result["current"].anomalies
    assert d.dots_never.get_xdata().size == len(d.result["current"].rows_without_event)


# -- Stale reads ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("lag_ms", (10, 100, 500))
def test_the_theory_curve_is_exp_minus_delta_over_lag_and_the_points_agree(lag_ms):
    d = StaleReadsDashboard(lag_ms=lag_ms, delta_ms=230)
    x, y = (np.asarray(v, dtype=float) for v in d.line_theory.get_data())
    np.testing.assert_allclose(y, np.exp(-x / lag_ms), rtol=1e-12)
    xs, ys = (np.asarray(v, dtype=float) for v in d.dots.get_data())
    assert 230 in xs
    theory = np.exp(-xs / lag_ms)
    se = np.sqrt(theory * (1 - theory) / stale_reads.TRIALS)
    assert np.all(np.abs(ys - theory) <= 4 * se + 1e-3)
    assert d.marker.get_xdata()[0] == 230
    assert d.marker.get_ydata()[0] == pytest.approx(ys[list(xs).index(230)])


def test_read_routing_decides_which_guarantee_breaks():
    d = StaleReadsDashboard(routing="primary")
    widths = {}
    for routing in ("primary", "random", "sticky", "read_your_writes"):
        d.set(routing=routing)
        widths[routing] = tuple(bar.get_width() for bar in d.bars)  # (read-your-writes, monotonic)
        assert widths[routing] == (d.result["session"].ryw_violations, d.result["session"].monotonic_violations)
    assert widths["primary"] == (0, 0)
    assert widths["random"][0] > 0 and widths["random"][1] > 0
    assert widths["sticky"][0] > 0 and widths["sticky"][1] == 0
    assert widths["read_your_writes"][0] == 0 and widths["read_your_writes"][1] > 0


def test_waiting_longer_and_a_shorter_lag_mean_fewer_stale_reads():
    d = StaleReadsDashboard(lag_ms=100, delta_ms=20)
    quick = d.result["stale"], d.result["session"].ryw_violations
    d.set(delta_ms=500)
    assert d.result["stale"] < quick[0] / 10
    assert d.result["session"].ryw_violations < quick[1]
    d.set(lag_ms=10, delta_ms=20)
    assert d.result["stale"] < quick[0]


# -- Lost updates --------------------------------------------------------------------------------------

@pytest.mark.parametrize("clients, think_ms", [(1, 10), (2, 10), (10, 1), (10, 100), (40, 10)])
def test_a_version_check_loses_nothing_and_without_one_more_clients_lose_more(clients, think_ms):
    d = LostUpdatesDashboard(clients=clients, think_ms=think_ms)
    plain, cas = d.result["plain"], d.result["cas"]
    assert plain.acknowledged == cas.acknowledged == clients * lost_updates.INCREMENTS
    assert (cas.final, cas.lost) == (cas.acknowledged, 0) and cas.check
    assert plain.final == plain.acknowledged - plain.lost
    assert (plain.lost > 0) == (clients > 1)
    heights = [[bar.get_height() for bar in bars] for bars in (d.bars_plain, d.bars_cas)]
    assert heights == [[plain.acknowledged, plain.final, plain.lost, 0],
                       [cas.acknowledged, cas.final, 0, cas.cas_retries]]
    # The lines end where the runs end: the plain counter at its final value, the CAS counter at all of them.
    assert d.line_plain.get_ydata()[-1] == plain.final
    assert d.line_cas.get_ydata()[-1] == cas.acknowledged
    assert d.line_told.get_ydata()[-1] == plain.acknowledged


def test_a_longer_think_time_loses_more_and_costs_more_retries():
    short, long = lost_updates.simulate(10, 1), lost_updates.simulate(10, 100)
    assert long["plain"].lost > 2 * short["plain"].lost
    assert long["cas"].cas_retries > 5 * short["cas"].cas_retries


# -- Two-phase commit ----------------------------------------------------------------------------------

def _bars(d, colour):
    from matplotlib.colors import to_rgba
    return [bar for bar in d.bars if bar.get_visible() and bar.get_facecolor() == to_rgba(colour)]


@pytest.mark.parametrize("participants", (1, 3, 8))
@pytest.mark.parametrize("recovery_s", (1, 30, 120))
def test_a_crash_after_the_votes_blocks_every_participant_for_the_recovery_time(recovery_s, participants):
    d = TwoPhaseCommitDashboard(crash="after_votes", recovery_s=recovery_s, participants=participants)
    r = d.result
    assert list(r.blocked) == [recovery_s] * participants
    assert all(held >= recovery_s for held in r.lock_held)
    blocked = _bars(d, two_phase_commit._COLOURS["blocked"])
    assert len(blocked) == participants
    assert all(bar.get_width() >= recovery_s - 1e-9 for bar in blocked)
    assert d.down.get_visible() and d.down.get_width() == pytest.approx(recovery_s)
    assert r.decision == "abort" and len(d.aborts.get_xdata()) == participants
    assert d.ax.get_xlim()[1] > recovery_s
    assert f"blocked for <b>{recovery_s:,.2f} s</b>" in d.status.value


def test_no_crash_blocks_nobody_and_a_crash_before_prepare_locks_nothing():
    d = TwoPhaseCommitDashboard(crash="none")
    assert not _bars(d, two_phase_commit._COLOURS["blocked"]) and not d.down.get_visible()
    assert len(_bars(d, two_phase_commit._COLOURS["locked"])) == 3
    assert len(d.commits.get_xdata()) == 3 and d.ax.get_xlim()[1] < 1
    assert "nobody was blocked" in d.status.value
    d.set(crash="before_prepare")
    assert not any(bar.get_visible() for bar in d.bars)
    assert "no locks" in d.status.value and d.result.decision == "abort"


def test_a_crash_mid_decision_blocks_only_those_not_yet_told():
    d = TwoPhaseCommitDashboard(crash="mid_decision", participants=5, recovery_s=30)
    assert list(d.result.blocked) == [0, 0, 30, 30, 30]
    commits = sorted(d.commits.get_xdata())
    assert len(commits) == 5 and commits[1] < 1 and commits[2] > 30
    assert len(_bars(d, two_phase_commit._COLOURS["blocked"])) == 3
