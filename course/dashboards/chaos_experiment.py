"""Lesson 07's chaos experiment: a blast radius, a control group, an abort condition, and what each costs.

Each update runs one experiment of :func:`course.models.chaos_experiment.simulate`:
2,000 requests/s of production traffic, a share of it (the blast radius) in an
experiment group with the recommendations service down and as much again in
a control group. Top: both groups' error rates in each abort-check window,
the abort threshold, the moment the abort fired, and the moment the planned
z-test had its data. Bottom: the trade-off across blast radii had the
fallback failed, from the theory: users hurt before the abort (or the end of
the experiment) against the time until the planned test can tell the groups
apart, and the users hurt before that test, which is the same at every
radius. The setting on the controls is ringed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import ipywidgets as widgets
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, PercentFormatter

from course.models import chaos_experiment as model

from .base import Dashboard, legend_below, plural

_LOOK = dict(style={"description_width": "200px"}, layout=widgets.Layout(width="430px"))
_SLIDER = dict(continuous_update=False, **_LOOK)
#: The blast radii offered (share of all traffic in the experiment group; the control group gets as much).
RADII = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1)
_EXPERIMENT, _CONTROL, _ABORT, _TEST = "#d62828", "#457b9d", "#1d3557", "#2a9d8f"
_BEFORE_STOP, _BEFORE_TEST = "#e76f51", "#2a9d8f"


def _percent(share: float) -> str:
    """A share as a percentage with no more digits than it needs: 0.1%, 2%, 12.5%."""
    return f"{share * 100:.3g}%"


def _seconds(value: float) -> str:
    if value >= 120:
        return f"{value / 60:.0f} min" if value >= 600 else f"{value / 60:.1f} min"
    return f"{value:.0f} s" if value >= 10 else f"{value:.1f} s"


def _users(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 else f"{value:.1f}"


@dataclass
class Experiment:
    """One update: the run, and the theory across :data:`RADII` had the fallback failed."""

    run: model.ChaosRun
    tradeoff: dict


def simulate(blast_radius: float, abort_threshold: float, behaviour: str, fault_error_rate: float,
             seed: int) -> Experiment:
    """Run one experiment at these settings (shares, not percentages) and the theory across :data:`RADII`."""
    run = model.simulate(blast_radius, abort_threshold, behaviour, fault_error_rate, seed=seed)
    return Experiment(run, model.tradeoff(RADII, abort_threshold, fault_error_rate))


#: A memo per setting: revisiting a setting is instant (the benchmark clears it to time cold updates).
simulate_cached = lru_cache(maxsize=128)(simulate)


class ChaosExperimentDashboard(Dashboard):
    """Top: the experiment and control groups' error rates, the abort threshold and the abort. Bottom: users
    hurt against the time to a clear answer, across blast radii."""

    figsize = (10.0, 7.8)

    def controls(self):
        return {
            "blast_radius": widgets.Dropdown(options=[(_percent(b), b) for b in RADII], value=0.01,
                                             description="Blast radius (each group)", **_LOOK),
            "abort_threshold": widgets.FloatSlider(5.0, min=0.5, max=10.0, step=0.5, readout_format=".1f",
                                                   description="Abort if errors exceed (%)", **_SLIDER),
            "behaviour": widgets.Dropdown(options=[("graceful: the fallback holds", "graceful"),
                                                   ("refuted: no working fallback", "refuted")],
                                          value="refuted", description="With recommendations down", **_LOOK),
            "fault_error_rate": widgets.FloatSlider(10.0, min=0.5, max=30.0, step=0.5, readout_format=".1f",
                                                    description="Errors without a fallback (%)", **_SLIDER),
            "seed": widgets.IntSlider(1, min=1, max=20, description="Seed", **_SLIDER),
        }

    def build_figure(self):
        ax_run, ax_trade = self.figure.subplots(2, 1, height_ratios=(1, 1.05))
        self.ax_run, self.ax_trade = ax_run, ax_trade
        self.title = self.figure.suptitle("")

        (self.experiment_line,) = ax_run.plot([], [], drawstyle="steps-pre", color=_EXPERIMENT, lw=2,
                                              label="experiment group (fault injected)")
        (self.control_line,) = ax_run.plot([], [], drawstyle="steps-pre", color=_CONTROL, lw=2,
                                           label="control group")
        self.threshold_line = ax_run.axhline(0.05, color=_ABORT, ls="--", lw=1.5, label="abort threshold")
        self.abort_line = ax_run.axvline(0, color=_ABORT, lw=2, label="abort")
        (self.abort_mark,) = ax_run.plot([], [], ls="none", marker="X", ms=11, color=_ABORT)
        self.test_line = ax_run.axvline(0, color=_TEST, ls=":", lw=2.5, label="planned z-test has its data")
        self.stopped_span = ax_run.axvspan(0, 0, color="#e9ecef", lw=0, zorder=0, label="experiment stopped")
        ax_run.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax_run.set_xlabel("seconds since the fault was injected")
        ax_run.set_ylabel("error rate per check")
        ax_run.grid(alpha=0.3)
        legend_below(ax_run, [self.experiment_line, self.control_line, self.threshold_line, self.abort_line,
                              self.test_line, self.stopped_span], ncols=3)

        x = np.ones(len(RADII))
        (self.stop_curve,) = ax_trade.plot(x, x, color=_BEFORE_STOP, lw=2, marker="o", ms=7,
                                           label="before the abort (or the end)")
        (self.test_curve,) = ax_trade.plot(x, x, color=_BEFORE_TEST, lw=2, ls="--", marker="s", ms=6,
                                           label="before the planned test has its data")
        (self.current_marks,) = ax_trade.plot([1, 1], [1, 1], ls="none", marker="o", ms=17, mfc="none",
                                              mew=2, color="black")
        self.radius_labels = [ax_trade.annotate(_percent(b), (1, 1), xytext=(0, 9), textcoords="offset points",
                                                ha="center", va="bottom", color="#495057") for b in RADII]
        self.end_line = ax_trade.axvline(model.DURATION, color="#6c757d", ls="-.", lw=1.5,
                                         label=f"the experiment ends ({model.DURATION / 60:.0f} min)")
        self.too_long = ax_trade.axvspan(model.DURATION, model.DURATION * 100, color="#f1f3f5", lw=0, zorder=0)
        current = Line2D([], [], ls="none", marker="o", ms=12, mfc="none", mew=2, color="black",
                         label="your blast radius")
        ax_trade.set_xscale("log")
        ax_trade.set_yscale("log")
        for axis in (ax_trade.xaxis, ax_trade.yaxis):
            axis.set_major_locator(LogLocator(numticks=12))
            axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.10g}"))
            axis.set_minor_formatter(NullFormatter())
        ax_trade.set_xlabel("seconds until the planned z-test can tell the groups apart (labels: blast radius)")
        ax_trade.set_ylabel("users hurt (failed requests)")
        ax_trade.grid(alpha=0.3, which="major")
        legend_below(ax_trade, [self.stop_curve, self.test_curve, current, self.end_line], ncols=2)

    def simulate(self, blast_radius, abort_threshold, behaviour, fault_error_rate, seed):
        return simulate_cached(float(blast_radius), round(float(abort_threshold) / 100, 6), behaviour,
                               round(float(fault_error_rate) / 100, 6), int(seed))

    def draw(self, e):
        r, th, t = e.run, e.run.theory, e.tradeoff
        window = th.check_seconds

        # Top: the run.
        shown = np.isfinite(r.experiment_rate)
        times = np.concatenate([[0.0], r.check_times[shown]])
        exp = r.experiment_rate[shown]
        ctl = r.control_rate[shown]
        self.experiment_line.set_data(times, np.concatenate([exp[:1], exp]))
        self.control_line.set_data(times, np.concatenate([ctl[:1], ctl]))
        self.threshold_line.set_ydata([r.abort_threshold] * 2)
        ends = [r.stopped_at] + ([r.test_time] if r.test_time is not None else [])
        right = model.DURATION if not r.aborted else min(model.DURATION, max(6 * window, 2.5 * max(ends)))
        self.ax_run.set_xlim(0, right)
        if r.aborted:
            self.abort_line.set_visible(True)
            self.abort_line.set_xdata([r.aborted_at] * 2)
            self.abort_mark.set_data([r.aborted_at], [exp[-1]])
            self.stopped_span.set_visible(True)
            self.stopped_span.set_x(r.aborted_at)
            self.stopped_span.set_width(right - r.aborted_at)
        else:
            self.abort_line.set_visible(False)
            self.abort_mark.set_data([], [])
            self.stopped_span.set_visible(False)
        if r.test_time is not None:
            self.test_line.set_visible(True)
            self.test_line.set_xdata([r.test_time] * 2)
        else:
            self.test_line.set_visible(False)
        top = np.nanmax(np.concatenate([exp, ctl, [r.abort_threshold, 3 * th.baseline]]))
        self.ax_run.set_ylim(-0.03 * top, 1.15 * top)  # a rate of 0 shows above the axis, not on it
        window_text = f"{window:.0f} s" + (f" (at least {model.MIN_REQUESTS} requests)" if window > model.CHECK_SECONDS
                                           else "")
        self.ax_run.set_title(f"{_percent(r.blast_radius)} of {model.RATE:,.0f} requests/s in each group; "
                              f"the abort check looks at the experiment group every {window_text}")

        # Bottom: the trade-off across radii, had the fallback failed.
        self.stop_curve.set_data(t["test_time"], t["hurt_before_stop"])
        self.test_curve.set_data(t["test_time"], t["hurt_before_test"])
        here = int(np.argmin(np.abs(np.asarray(RADII) - r.blast_radius)))
        self.current_marks.set_data([t["test_time"][here]] * 2,
                                    [t["hurt_before_stop"][here], t["hurt_before_test"][here]])
        for label, x, y, y_test in zip(self.radius_labels, t["test_time"], t["hurt_before_stop"],
                                       t["hurt_before_test"]):
            above = y >= y_test  # away from the other curve
            label.xy = (x, y)
            label.set(y=9 if above else -9, va="bottom" if above else "top")
        low_x, high_x = t["test_time"].min() / 2.5, t["test_time"].max() * 2.5
        self.ax_trade.set_xlim(low_x, high_x)
        self.end_line.set_visible(high_x > model.DURATION)
        self.too_long.set_visible(high_x > model.DURATION)
        low_y = min(t["hurt_before_test"].min(), t["hurt_before_stop"].min())
        high_y = max(t["hurt_before_test"].max(), t["hurt_before_stop"].max())
        self.ax_trade.set_ylim(low_y / 2, high_y * 6)
        self.ax_trade.set_title(f"Had the fallback failed ({_percent(r.fault_error_rate)} errors): users hurt "
                                f"against the time to a clear answer, at each blast radius")

        verdict = ("Hypothesis refuted" if r.behaviour == "refuted" else "Hypothesis holds") + ": "
        if r.aborted:
            verdict += f"aborted at {_seconds(r.aborted_at)}"
            if r.behaviour == "graceful":
                verdict += " (a false abort)"
        else:
            verdict += f"no abort in {model.DURATION / 60:.0f} min"
        verdict += f" · {r.hurt:,} {plural(r.hurt, 'user')} hurt"
        self.title.set_text(verdict)

    def describe(self, e):
        r, th, t = e.run, e.run.theory, e.tradeoff
        z = model.z_critical()
        if r.behaviour == "refuted":
            rates = (f"The experiment group failed <b>{r.experiment_error_rate:.2%}</b> of its requests, "
                     f"the control group <b>{r.control_error_rate:.2%}</b>.")
        else:
            rates = (f"The fallback held: the experiment group failed <b>{r.experiment_error_rate:.2%}</b> of its "
                     f"requests, the control group <b>{r.control_error_rate:.2%}</b>.")
        if r.aborted and r.behaviour == "graceful":
            stop = (f" The abort fired at the check at <b>{_seconds(r.aborted_at)}</b>: a <b>false abort</b>, "
                    f"tripped by baseline errors, with nobody hurt by the fault.")
        elif r.aborted:
            stop = (f" The abort fired at the check at <b>{_seconds(r.aborted_at)}</b>, after "
                    f"<b>{r.hurt:,}</b> {plural(r.hurt, 'user')} had been hurt.")
        elif r.behaviour == "refuted":
            stop = (f" The abort never fired ({_percent(r.fault_error_rate)} errors against a "
                    f"{_percent(r.abort_threshold)} threshold): <b>{r.hurt:,}</b> {plural(r.hurt, 'user')} hurt "
                    f"in {model.DURATION / 60:.0f} min.")
        else:
            stop = f" No abort in {model.DURATION / 60:.0f} min."
        if r.test_time is None:
            when = "after the stop" if th.test_fits else f"after the {model.DURATION / 60:.0f} minutes"
            test = (f" The planned z-test needs {th.planned_requests:,.0f} requests a group, "
                    f"<b>{_seconds(th.planned_test_time)}</b> at this radius: {when}, so it never ran.")
        else:
            found = "worse" if r.detected else "no worse"
            test = (f" The planned z-test ran at <b>{_seconds(r.test_time)}</b> "
                    f"({th.planned_requests:,.0f} requests a group): z = {r.test_z:.2f}, the experiment group is "
                    f"<b>{found}</b> (z ≥ {z:.2f} means worse)")
            test += (f", after <b>{r.hurt_before_test:,}</b> {plural(r.hurt_before_test, 'user')} hurt."
                     if r.behaviour == "refuted" else ".")
        if r.behaviour == "refuted":
            expect = (f" Long run: {_users(th.expected_hurt)} users hurt before the stop; "
                      f"{_users(th.hurt_before_test)} before the test, at every blast radius.")
        else:
            odds = f"{th.abort_probability:.1%}" if th.abort_probability >= 0.001 else "under 0.1%"
            expect = (f" Long run: a false abort in {odds} of runs; the whole run could "
                      f"detect a rise to {th.detectable_at_end:.2%}.")
        return rates + stop + test + expect


def chaos_experiment_dashboard(**settings) -> ChaosExperimentDashboard:
    """Build lesson 07's chaos-experiment dashboard; keyword arguments preset controls (e.g.
    ``blast_radius=0.001, behaviour="graceful"``; the sliders are in percent)."""
    return ChaosExperimentDashboard(**settings)
