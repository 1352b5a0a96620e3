"""Lesson 08's quorum dashboard, driven headless: it builds, R and W above N are clamped and explained, the
artists show the model's numbers, and an update is cheap."""

from __future__ import annotations


import ipywidgets as widgets
import numpy as np
import pytest

from course.dashboards import quorum
from course.dashboards.quorum import QuorumDashboard, quorum_dashboard
from course.models import quorum as model
from tests.lessons.dashboard_helpers import PNG_SIGNATURE, without_drawing


@pytest.fixture(scope="module")
def d():
    return QuorumDashboard()


def test_factory_and_controls():
    with without_drawing():
        built = quorum_dashboard(n=5, r=2, w=2)
        assert isinstance(built, QuorumDashboard) and built.params["n"] == 5
        controls = built.controls_by_name
    assert list(controls) == ["n", "w", "r", "lag_ms", "seed"]
    assert (controls["n"].min, controls["n"].max) == (3, 7)
    assert controls["r"].min == controls["w"].min == 1 and controls["lag_ms"].min > 0
    for control in controls.values():
        assert isinstance(control, widgets.IntSlider) and control.continuous_update is False


def test_builds_a_png_with_labelled_axes_and_a_summary(d):
    d.set(n=3, r=1, w=1, lag_ms=100, seed=1)
    assert bytes(d.image.value).startswith(PNG_SIGNATURE) and len(d.image.value) > 10_000
    for ax in d.figure.axes:
        assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title() and ax.get_legend() is not None
    assert "(ms)" in d.axes[0].get_xlabel() and "(ms)" in d.axes[1].get_ylabel()
    assert "stale <b>" in d.status.value and "write p99" in d.status.value


def test_the_artists_carry_the_model_and_theory(d):
    d.set(n=5, r=2, w=1, lag_ms=200, seed=1)
    run = d.result["run"]
    x, y = d.dots.get_data()
    np.testing.assert_allclose(x, run.times * 1000)
    np.testing.assert_allclose(y, run.stale)
    x, y = d.line_theory.get_data()
    np.testing.assert_allclose(y, model.theory_stale(np.asarray(x) / 1000, 5, 2, 1, 0.2))
    assert y[0] == pytest.approx(model.overlap_miss(5, 2, 1))
    x, y = d.cost_lines["write", 0.99].get_data()
    np.testing.assert_allclose(x, [1, 2, 3, 4, 5])
    np.testing.assert_allclose(y, run.write_theory[:, 1] * 1000)
    assert d.ring_w.get_xdata()[0] == 1 and d.ring_r.get_xdata()[0] == 2
    assert d.axes[0].get_xlim() == (0, 800)


def test_overlapping_quorums_draw_a_flat_zero_and_say_why(d):
    d.set(n=3, r=2, w=2, lag_ms=100, seed=1)
    assert np.all(d.dots.get_ydata() == 0) and np.all(np.asarray(d.line_theory.get_ydata()) == 0)
    assert "R + W = 4 > N" in d.title_stale.get_text() and "never stale" in d.title_stale.get_text()
    assert "<b>0</b> stale reads" in d.status.value


def test_a_quorum_bigger_than_n_is_clamped_and_explained(d):
    d.set(n=3, r=6, w=1, lag_ms=100, seed=1)
    assert d.result["r"] == 3 and d.result["asked_r"] == 6
    assert "R = 3 (R capped at N)" in d.title_stale.get_text()
    assert "R = 6 > N, so R = 3" in d.status.value and "cannot be bigger" in d.status.value
    assert d.ring_r.get_xdata()[0] == 3
    d.set(n=4, r=1, w=7)
    assert d.result["w"] == 4 and "(W capped at N)" in d.title_stale.get_text()
    assert "W = 7 > N, so W = 4" in d.status.value
    d.set(n=3, r=7, w=7)
    assert "(W and R capped at N)" in d.title_stale.get_text()
    d.set(n=7, r=6, w=7)
    assert quorum.clamp_note(d.result) == "" and "(" not in d.title_stale.get_text().splitlines()[0]


def test_more_replicas_read_once_is_staler_and_a_bigger_write_quorum_is_slower():
    stale = [quorum.simulate(n=n, r=1, w=1)["run"].stale[0] for n in (3, 5, 7)]
    assert stale == sorted(stale)
    write_p99 = [quorum.simulate(n=3, r=1, w=w)["run"].write_quantile(0.99) for w in (1, 2, 3)]
    assert write_p99 == sorted(write_p99) and write_p99[-1] > 3 * write_p99[0]


def test_the_seed_moves_the_dots_not_the_theory(d):
    d.set(n=3, r=1, w=1, lag_ms=100, seed=1)
    dots, line = d.dots.get_ydata().copy(), np.asarray(d.line_theory.get_ydata()).copy()
    d.set(seed=2)
    assert not np.array_equal(dots, d.dots.get_ydata())
    np.testing.assert_array_equal(line, d.line_theory.get_ydata())


def test_bad_values_are_refused_by_name():
    with pytest.raises(ValueError, match="lag_ms must be > 0"):
        quorum.simulate(lag_ms=0)
    with pytest.raises(ValueError, match="r must be a whole number >= 1"):
        quorum.simulate(r=0)


def test_a_setting_seen_before_is_not_simulated_again(d):
    # How fast an update is, is the benchmark's job (make bench); here, that a repeat is served from the cache.
    quorum.run.cache_clear()
    d.set(n=5, r=2, w=2, lag_ms=130, seed=1)
    d.set(n=5, r=2, w=2, lag_ms=170, seed=1)
    d.set(n=5, r=2, w=2, lag_ms=130, seed=1)
    assert quorum.run.cache_info().misses == 2 and quorum.run.cache_info().hits >= 1
