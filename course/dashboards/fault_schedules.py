"""Lesson 07's fault-schedules dashboard: random faults find a bug that needs two of them, and a shrinker explains it.

Each update runs ``runs`` random schedules of ``steps`` faults each
(:func:`course.models.fault_schedules.search`) against the buggy or the
fixed payments consumer, shrinks the first one that broke an invariant
(:func:`~course.models.fault_schedules.shrink_schedule`), and runs the shrunk
schedule once more for its timeline. Left: the share of searches of n runs
that found the bug (the runs cut into consecutive searches of n), against
1 − (1 − p)ⁿ with the exact p. Right: what happened to each order under the
shrunk schedule, the double charge in red; without a failure, under the first
random schedule.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import ipywidgets as widgets
import numpy as np
from matplotlib.patches import Rectangle
from matplotlib.ticker import FixedLocator, NullLocator, PercentFormatter

from course.models import fault_schedules as model
from course.models.shrink import Shrunk

from .base import Dashboard, legend_below, plural

MESSAGES = model.MESSAGES
#: The search sizes n at which the measured share is drawn (those up to the number of runs).
NS = (1, 2, 5, 10, 20, 50, 100, 200)
MAX_RUNS = 200
MAX_STEPS = 8
_N_GRID = np.unique(np.geomspace(1, MAX_RUNS, 200).round(2))
_LOOK = dict(style={"description_width": "170px"}, layout=widgets.Layout(width="400px"))
_SLIDER = dict(continuous_update=False, **_LOOK)
_THEORY, _MEASURED, _BAD, _OK = "#457b9d", "#1d3557", "#d62828", "#2a9d8f"
#: How each kind of event is drawn on the timeline: label, marker, colour, size, filled.
_EVENTS = {
    "placed": ("order placed (row + outbox)", "|", "#6c757d", 10, True),
    "published": ("a copy reaches the broker", ".", "#457b9d", 9, True),
    "charged": ("charged", "o", _OK, 8, True),
    "charged again": ("charged AGAIN", "o", _BAD, 11, True),
    "skipped": ("skipped: id already recorded", "o", "#6c757d", 8, False),
    "refused": ("refused: consumer restarting", "x", "#e76f51", 8, True),
    "crash": ("consumer crashes", "X", _BAD, 11, True),
    "relay crash": ("relay crashes", "X", "#6a4c93", 11, True),
}


@dataclass
class Search:
    """One update: the runs' verdicts, the theory, the first failure shrunk, and the run drawn on the timeline."""

    consumer: str
    runs: int
    steps: int
    seed: int
    found: list                 # per run: did it break an invariant?
    p: float                    # exact chance one random schedule finds the bug (0 for the fixed consumer)
    ns: np.ndarray              # search sizes drawn
    shares: np.ndarray          # share of searches of that size that found the bug, in these runs
    first: model.Found | None   # the first of these schedules that breaks the buggy consumer
    shrunk: Shrunk | None       # ... shrunk (against the buggy consumer)
    shown: model.Run            # the shrunk schedule (else the first schedule) against this consumer
    shown_schedule: tuple

    @property
    def failures(self) -> int:
        return sum(self.found)

    @property
    def p_measured(self) -> float:
        return self.failures / self.runs


def simulate(runs: int = 50, steps: int = model.STEPS, consumer: str = "buggy", seed: int = 1) -> Search:
    """Search, shrink and time-line at one setting; see the module docstring.

    The fixed consumer never fails, so its timeline shows what the *buggy* consumer's first failure (same
    seed, shrunk) does to it: the same faults, no harm. Without any failure, the first random schedule.
    """
    found = model.search(runs, seed, steps, MESSAGES, consumer)
    p = model.detection_probability(steps, MESSAGES) if consumer == "buggy" else 0.0
    ns = np.array([n for n in NS if n <= runs])
    shares = model.found_within(found, ns)
    first = model.find(runs, seed, steps, MESSAGES, "buggy")
    if first is not None:
        shrunk = model.shrink_schedule(first.schedule, "buggy", MESSAGES)
        schedule = tuple(shrunk.steps)
    else:
        shrunk, schedule = None, model.random_schedule(seed, steps, MESSAGES)
    return Search(consumer, runs, steps, seed, found, p, ns, shares, first, shrunk,
                  model.run(schedule, consumer, MESSAGES), schedule)


#: A memo per setting: revisiting a setting is instant (the benchmark clears it to time cold updates).
simulate_cached = lru_cache(maxsize=128)(simulate)


#: Crashes are drawn off their order's row, so the charge they follow stays visible: the relay's above it,
#: the consumer's below (rows go down the page in order).
_LIFTS = {"relay crash": -0.3, "crash": 0.3}


def timeline_points(run: model.Run) -> dict:
    """The timeline's points by event kind: ``(times s, rows)``. The row is the order number (0.3 less for a
    relay crash, 0.3 more for a consumer crash); a charge after the first of an order is "charged again"."""
    points = {kind: ([], []) for kind in _EVENTS}
    charged = set()
    for time, order, what in run.events:
        if what == "charged":
            if order in charged:
                what = "charged again"
            charged.add(order)
        points[what][0].append(time)
        points[what][1].append(order + _LIFTS.get(what, 0.0))
    return {k: (np.asarray(x, dtype=float), np.asarray(y, dtype=float)) for k, (x, y) in points.items()}


def _pct(p: float) -> str:
    return f"{100 * p:.1f}%" if p < 0.995 else f"{100 * p:.2f}%"


class FaultSchedulesDashboard(Dashboard):
    """Random fault schedules against the payments flow: how soon they find the bug, and the shrunk failure."""

    figsize = (10.0, 6.4)

    def controls(self):
        return {
            "runs": widgets.IntSlider(50, min=10, max=MAX_RUNS, step=10, description="Random schedules run",
                                      **_SLIDER),
            "steps": widgets.IntSlider(model.STEPS, min=1, max=MAX_STEPS, description="Faults per schedule",
                                       **_SLIDER),
            "consumer": widgets.Dropdown(options=[("buggy: record after ack", "buggy"),
                                                  ("fixed: record in the charge", "fixed")],
                                         value="buggy", description="Payments consumer", **_LOOK),
            "seed": widgets.IntSlider(1, min=1, max=20, description="Seed", **_SLIDER),
        }

    def build_figure(self):
        ax_n, ax_t = self.figure.subplots(1, 2, width_ratios=(1, 1.25))
        self.ax_n, self.ax_t = ax_n, ax_t
        (self.theory_line,) = ax_n.plot([], [], color=_THEORY, lw=2.2, label="1 − (1 − p)ⁿ, p exact")
        (self.measured_line,) = ax_n.plot([], [], color=_MEASURED, lw=1.2, ls="--",
                                          label="1 − (1 − p̂)ⁿ, p̂ = share of these runs")
        (self.points,) = ax_n.plot([], [], ls="none", marker="o", ms=7, color=_BAD,
                                   label="measured: searches of n runs that found it")
        ax_n.set_xscale("log")
        ax_n.set_xlim(0.8, MAX_RUNS * 1.25)
        ax_n.xaxis.set_major_locator(FixedLocator(NS))
        ax_n.xaxis.set_minor_locator(NullLocator())
        ax_n.xaxis.set_major_formatter(lambda x, _: f"{x:.0f}")
        ax_n.set_ylim(-0.03, 1.05)
        ax_n.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax_n.set_xlabel("random schedules run, n")
        ax_n.set_ylabel("P(the bug is found within n runs)")
        ax_n.grid(alpha=0.3)
        legend_below(ax_n)

        self.spans = []
        for _ in range(MAX_STEPS):
            span = Rectangle((0, 0), 0, 1, transform=ax_t.get_xaxis_transform(), color="#ced4da", alpha=0.6,
                             lw=0, visible=False)
            ax_t.add_patch(span)
            self.spans.append(span)
        self.marks = {}
        for kind, (label, marker, colour, size, filled) in _EVENTS.items():
            (self.marks[kind],) = ax_t.plot([], [], ls="none", marker=marker, ms=size, color=colour, label=label,
                                            markerfacecolor=colour if filled else "none",
                                            markeredgewidth=2 if marker in "x|" else 1.2)
        ax_t.add_patch(Rectangle((0, 0), 0, 0, color="#ced4da", alpha=0.6, lw=0, label="partition broker→consumer"))
        ax_t.set_ylim(MESSAGES + 0.6, 0.4)
        ax_t.set_yticks(range(1, MESSAGES + 1), [f"order {k}\n({model.customer(k)}, {model.amount(k)})"
                                                for k in range(1, MESSAGES + 1)])
        ax_t.set_xlabel("time (s)")
        ax_t.set_ylabel("payment message")
        ax_t.grid(axis="x", alpha=0.3)
        legend_below(ax_t, ncols=2)
        self.verdict = self.figure.suptitle("")

    def simulate(self, runs, steps, consumer, seed):
        return simulate_cached(int(runs), int(steps), consumer, int(seed))

    def draw(self, r: Search):
        runs_x = _N_GRID[_N_GRID <= r.runs]
        self.theory_line.set_data(runs_x, model.detection_curve(r.p, runs_x))
        self.measured_line.set_data(runs_x, model.detection_curve(r.p_measured, runs_x))
        self.points.set_data(r.ns, r.shares)
        self.ax_n.set_title(f"How soon random schedules find it ({r.consumer} consumer)\n"
                            f"{r.steps} {plural(r.steps, 'fault')} per schedule: p = {_pct(r.p)} exact, "
                            f"p̂ = {r.failures}/{r.runs} here")

        run = r.shown
        for kind, (x, y) in timeline_points(run).items():
            self.marks[kind].set_data(x, y)
        partitions = [s for s in r.shown_schedule if isinstance(s, model.Partition)]
        for span, part in zip(self.spans, partitions + [None] * MAX_STEPS):
            span.set_visible(part is not None)
            if part is not None:
                span.set_x(part.start)
                span.set_width(part.end - part.start)
        self.ax_t.set_xlim(0, max([run.end] + [p.end for p in partitions]) + 0.25)
        self.ax_t.set_title(f"What happened to each payment ({r.consumer} consumer)\n"
                            + ("under the shrunk schedule" if r.shrunk is not None else "under run 1's schedule"))
        self.verdict.set_text("\n".join(self.headline(r)))

    @staticmethod
    def headline(r: Search) -> list:
        """The three lines over the plots: the search, the shrunk schedule, and the verdict on it."""
        if r.shrunk is None:
            return [f"None of the {r.runs} schedules broke an invariant, with either consumer",
                    f"Run 1's {r.steps} {plural(r.steps, 'fault')}: "
                    + "; ".join(str(s) for s in r.shown_schedule[:2]) + ("; …" if r.steps > 2 else ""),
                    "It needs a crash between charge and record and a second copy of the same message"]
        shrunk = r.shrunk
        search = f"Run {r.first.runs} of {r.runs} broke the buggy consumer; " + (
            f"shrunk from {shrunk.original} {plural(shrunk.original, 'fault')} to {len(shrunk.steps)} "
            f"in {shrunk.tests} test runs:" if shrunk.original > len(shrunk.steps) else
            f"its {shrunk.original} faults are already minimal ({shrunk.tests} test runs to check):")
        steps = "   ".join(f"{i}. {step}" for i, step in enumerate(shrunk.steps, start=1))
        run = r.shown
        if run.ok:
            verdict = f"The {r.consumer} consumer under these faults: every invariant held"
        else:
            name = model.CUSTOMERS_PAID if model.CUSTOMERS_PAID in run.violated else run.violated[0]
            verdict = f"Broken: {name} ({run.checks[name].violations[0]})"
        return [search, steps, verdict]

    def describe(self, r: Search):
        if r.consumer == "buggy" and r.p == 0:
            chance = (f"with {r.steps} fault per schedule no number of runs can find the bug: "
                      f"it needs two faults on the same message")
        elif r.consumer == "buggy":
            n_half = f"{np.log(0.5) / np.log(1 - r.p):.0f}" if r.p < 1 else "1"
            chance = (f"one random schedule of {r.steps} {plural(r.steps, 'fault')} finds the bug with probability "
                      f"<b>{_pct(r.p)}</b>, so {r.runs} runs find it with probability "
                      f"<b>{_pct(float(model.detection_curve(r.p, r.runs)))}</b> (half the time within {n_half})")
        else:
            chance = "the fixed consumer records the id in the charge's own transaction: no schedule can break it"
        if not any(r.found):
            outcome = f"<b>none</b> of the {r.runs} schedules broke an invariant"
            if r.consumer == "buggy" and r.steps == 1:
                outcome += " (one fault alone never does: the bug needs a crash and a second copy of one message)"
        else:
            outcome = (f"<b>{r.failures}</b> of the {r.runs} schedules broke an invariant, the first at run "
                       f"{r.first.runs}")
        if r.shrunk is not None:
            outcome += (f" · shrunk: <b>{'; '.join(str(s) for s in r.shrunk.steps)}</b>"
                        + (" (the fixed consumer skips the second copy)" if r.consumer == "fixed" else ""))
        return f"{chance} · {outcome}"


def fault_schedules_dashboard(**settings) -> FaultSchedulesDashboard:
    """Build lesson 07's fault-schedules dashboard; keyword arguments preset controls (e.g. ``steps=6``)."""
    return FaultSchedulesDashboard(**settings)
