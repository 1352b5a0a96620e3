"""Lesson 05's saga outcomes: hundreds of orders, random failures, and how many sagas end stuck.

Each update runs :data:`SAGAS` orders through :func:`course.models.saga.simulate`
(reserve, charge, ship). Steps fail at random, compensations fail at random
and are retried; a saga whose compensation fails every attempt is stuck. The
left panel shows how the orders ended, next to the arithmetic; the right one
shows the stuck share against the compensation-failure probability, for
each number of retries. With *limited stock* some orders also fail for a
business reason (out of stock), and the summary counts the ones turned away
while a widget sat reserved by a saga that later gave it back: the missing
isolation, measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import ipywidgets as widgets
import numpy as np

from course.models import saga as model
from course.sim import _validate
from course.sim.data.checkers import CheckResult, check_sagas

from .base import Dashboard, legend_below, plural

SAGAS = 200
OUTCOMES = ("completed", "compensated", "stuck")
STOCK_OPTIONS = ("plenty", "limited")
_COLOURS = {"completed": "#2a9d8f", "compensated": "#457b9d", "stuck": "#d62828"}
_LOOK = dict(style={"description_width": "200px"}, layout=widgets.Layout(width="425px"))
_SLIDER = dict(continuous_update=False, **_LOOK)
_Q = np.linspace(0.0, 1.0, 101)
MAX_RETRIES = 5


@dataclass
class Outcomes:
    """One update: the model's run, shares by outcome, and the checkers' verdicts."""

    run: object                    # course.models.saga.SagaModelResult
    stock: str
    shares: dict
    expected: dict | None          # theory, only with plenty of stock
    unstuck_check: CheckResult     # check_sagas over the sagas that did not get stuck
    refusals: int                  # orders turned away: out of stock
    dirty_refusals: int            # ... while a widget was held by a saga that later released it


def simulate(style: str = "orchestration", step_failure: float = 0.1, compensation_failure: float = 0.3,
             retries: int = 1, stock: str = "plenty", seed: int = 1, sagas: int = SAGAS) -> Outcomes:
    """Run ``sagas`` orders once and score them; see the module docstring."""
    _validate.one_of("stock", stock, STOCK_OPTIONS)
    _validate.integer_at_least("retries", retries, 0)
    _validate.integer_at_least("sagas", sagas, 1)
    plenty = stock == "plenty"
    run = model.simulate(style, sagas, step_failure, compensation_failure, retries,
                         stock=sagas if plenty else None, balance=model.PRICE * sagas if plenty else None, seed=seed)
    shares = {o: run.counts[o] / sagas for o in OUTCOMES}
    expected = ({k: float(v) for k, v in model.theory(step_failure, compensation_failure, retries).items()}
                if plenty else None)
    refusals, dirty = model.dirty_refusals(run)
    unstuck = check_sagas([r for r in run.results if r.status != "stuck"])
    return Outcomes(run, stock, shares, expected, unstuck, refusals, dirty)


#: A memo per setting: revisiting a setting is instant (the benchmark clears it to time cold updates).
simulate_cached = lru_cache(maxsize=128)(simulate)


class SagaOutcomesDashboard(Dashboard):
    """Left: how 200 orders ended, against the arithmetic. Right: stuck share against compensation failure."""

    figsize = (10.0, 6.0)

    def controls(self):
        return {
            "style": widgets.Dropdown(options=[("orchestration", "orchestration"), ("choreography", "choreography")],
                                      value="orchestration", description="Style", **_LOOK),
            "step_failure": widgets.FloatSlider(0.1, min=0.0, max=0.5, step=0.01, readout_format=".2f",
                                                description="P(a step fails)", **_SLIDER),
            "compensation_failure": widgets.FloatSlider(0.3, min=0.0, max=0.9, step=0.05, readout_format=".2f",
                                                        description="P(compensation attempt fails)", **_SLIDER),
            "retries": widgets.IntSlider(1, min=0, max=MAX_RETRIES, description="Compensation retries",
                                         **_SLIDER),
            "stock": widgets.Dropdown(options=[("plenty: random failures only", "plenty"),
                                               (f"limited ({model.STOCK_SHARE:.0%} of the orders)", "limited")],
                                      value="plenty", description="Stock and money", **_LOOK),
            "seed": widgets.IntSlider(1, min=1, max=20, description="Seed", **_SLIDER),
        }

    def build_figure(self):
        ax_bar, ax_q = self.figure.subplots(1, 2, width_ratios=(1, 1.3))
        self.ax_bar, self.ax_q = ax_bar, ax_q
        x = np.arange(len(OUTCOMES))
        self.bars = ax_bar.bar(x, np.zeros(len(OUTCOMES)), color=[_COLOURS[o] for o in OUTCOMES], width=0.6,
                               label="simulated")
        (self.expected_marks,) = ax_bar.plot(x, np.zeros(len(OUTCOMES)), ls="none", marker="D", color="black",
                                             ms=7, label="expected (arithmetic)")
        self.bar_texts = [ax_bar.text(i, 0, "", ha="center", va="bottom") for i in x]
        ax_bar.set_xticks(x, OUTCOMES)
        ax_bar.set_xlabel("how the saga ended")
        ax_bar.set_ylabel(f"share of the {SAGAS} orders")
        ax_bar.set_ylim(0, 1.12)
        legend_below(ax_bar)
        ax_bar.set_title("")
        ax_bar.grid(axis="y", alpha=0.3)

        self.retry_lines = []
        for r in range(MAX_RETRIES + 1):
            (line,) = ax_q.plot([], [], color="#adb5bd", lw=1)
            self.retry_lines.append(line)
        self.retry_labels = [ax_q.text(0, 0, f"{r}", color="#6c757d", ha="right", va="bottom")
                             for r in range(MAX_RETRIES + 1)]
        (self.current_line,) = ax_q.plot([], [], color=_COLOURS["stuck"], lw=2.5, label="expected, your retries")
        (self.dot,) = ax_q.plot([], [], ls="none", marker="o", ms=8, color="black",
                                label=f"simulated ({SAGAS} orders)")
        ax_q.plot([], [], color="#adb5bd", lw=1, label="expected with 0…5 retries (labelled)")
        ax_q.set_xlim(0, 1.0)
        ax_q.set_xlabel("probability that one compensation attempt fails")
        ax_q.set_ylabel("share of orders stuck")
        ax_q.set_title("Stuck sagas: each compensation gives up\nafter retries + 1 failed attempts")
        legend_below(ax_q)
        ax_q.grid(alpha=0.3)
        self.verdict = self.figure.suptitle("")

    def simulate(self, style, step_failure, compensation_failure, retries, stock, seed):
        return simulate_cached(style, round(float(step_failure), 4), round(float(compensation_failure), 4), int(retries),
                        stock, int(seed))

    def draw(self, r):
        p = self.params
        for bar, text, outcome in zip(self.bars, self.bar_texts, OUTCOMES):
            share = r.shares[outcome]
            bar.set_height(share)
            text.set(y=share + 0.01, text=f"{share:.1%}")
        if r.expected is None:
            self.expected_marks.set_visible(False)
            self.ax_bar.set_title("How the orders ended\n(limited stock: no simple arithmetic)")
        else:
            self.expected_marks.set_visible(True)
            self.expected_marks.set_ydata([r.expected[o] for o in OUTCOMES])
            self.ax_bar.set_title("How the orders ended\n(and what the arithmetic expects)")
        step, retries = float(p["step_failure"]), int(p["retries"])
        top = 0.0
        for n, (line, label) in enumerate(zip(self.retry_lines, self.retry_labels)):
            y = model.theory(step, _Q, n)["stuck"]
            line.set_data(_Q, y)
            at = int(np.searchsorted(_Q, 0.55 + 0.04 * n))
            label.set(x=float(_Q[at]), y=float(y[at]), visible=n != retries)
            top = max(top, float(y.max()))
        current = model.theory(step, _Q, retries)["stuck"]
        self.current_line.set_data(_Q, current)
        self.dot.set_data([float(p["compensation_failure"])], [r.shares["stuck"]])
        self.ax_q.set_ylim(0, max(0.05, 1.15 * max(top, r.shares["stuck"])))
        counts = r.run.counts
        self.verdict.set_text(f"{p['style'].capitalize()}: {counts['completed']} completed, {counts['compensated']} "
                              f"compensated, {counts['stuck']} stuck · check_sagas on the {SAGAS - counts['stuck']} "
                              f"that are not stuck: {'valid' if r.unstuck_check else 'VIOLATED'}")

    def describe(self, r):
        run = r.run
        stuck = run.counts["stuck"]
        verdicts = (f"every saga that is not stuck completed or was fully compensated, in reverse order: "
                    f"<b>{'yes' if r.unstuck_check else 'no'}</b> · money conserved: "
                    f"<b>{'yes' if run.money else 'no'}</b> · stock never negative: <b>{'yes' if run.stock else 'no'}</b>")
        stuck_text = (f"<b>{stuck}</b> stuck (a person must finish them)" if stuck else "<b>none</b> stuck")
        isolation = ""
        if r.stock == "limited":
            isolation = (f" · <b>{r.refusals}</b> {plural(r.refusals, 'order')} refused as out of stock, "
                         f"<b>{r.dirty_refusals}</b> of them "
                         f"while a widget sat reserved by a saga that later released it")
        return f"{stuck_text} · {verdicts}{isolation}"


def saga_outcomes_dashboard(**settings) -> SagaOutcomesDashboard:
    """Build lesson 05's saga-outcomes dashboard; keyword arguments preset controls (e.g. ``retries=3``)."""
    return SagaOutcomesDashboard(**settings)
