"""Lesson 04's lost-updates dashboard: many clients increment one counter by read-modify-write."""

from __future__ import annotations

import functools

import ipywidgets as widgets
import numpy as np

from course.models import lost_updates as model
from course.sim import Exponential, _validate

from .base import Dashboard, legend_below, plural

_LOOK = dict(style={"description_width": "196px"}, layout=widgets.Layout(width="400px"))
_SLIDER = dict(continuous_update=False, **_LOOK)
#: Increments each client makes (all of them acknowledged).
INCREMENTS = 20
SEED = 1
_PLAIN, _CAS, _TOLD = "#d62828", "#2a9d8f", "#6c757d"


@functools.lru_cache(maxsize=128)
def run(clients: int, think_ms: int, cas: bool, seed: int = SEED) -> model.LostUpdateResult:
    """One memoised run of :func:`course.models.lost_updates.simulate` with think time Exp(``think_ms``)."""
    return model.simulate(clients, INCREMENTS, cas, think=Exponential(think_ms / 1000), seed=seed)


def counter_over_time(result: model.LostUpdateResult) -> dict:
    """From the run's history: ``t`` (s) of each acknowledged increment, ``acknowledged`` so far, and
    ``counter``, the value the database held right after that write."""
    times, values = [], []
    for op in result.history:
        if op.type == "ok" and op.f == "increment":
            times.append(op.time)
            values.append(op.value[0])
    t = np.array(times, dtype=float)
    return {"t": t, "acknowledged": np.arange(1, t.size + 1), "counter": np.array(values, dtype=float)}


def simulate(clients: int = 10, think_ms: int = 10, seed: int = SEED) -> dict:
    """Both runs at this setting: ``{"plain": result, "cas": result}`` (without and with compare-and-set)."""
    _validate.integer_at_least("clients", clients, 1)
    _validate.positive("think_ms", think_ms)
    return {"plain": run(clients, think_ms, False, seed), "cas": run(clients, think_ms, True, seed)}


class LostUpdatesDashboard(Dashboard):
    """N clients each add 1 to a shared counter 20 times: read it, think, write back what they read plus one.

    Left: over time, the increments clients were told succeeded against what
    the counter says, without and with a version check. Right: the totals,
    and the compare-and-set retries that paid for correctness.
    """

    figsize = (10.0, 5.2)

    def controls(self):
        return {
            "clients": widgets.IntSlider(10, min=1, max=40, description="Clients", **_SLIDER),
            "think_ms": widgets.IntSlider(10, min=1, max=100, description="Think time, read → write (ms)",
                                          **_SLIDER),
        }

    def build_figure(self):
        ax_time, ax_totals = self.figure.subplots(1, 2, width_ratios=(1.3, 1))
        self.axes = (ax_time, ax_totals)
        for ax in self.axes:
            ax.grid(alpha=0.3)

        (self.line_told,) = ax_time.plot([], [], color=_TOLD, lw=2, ls="--", drawstyle="steps-post",
                                         label="no version check: increments acknowledged")
        (self.line_plain,) = ax_time.plot([], [], color=_PLAIN, lw=2, drawstyle="steps-post",
                                          label="no version check: the counter")
        (self.line_cas,) = ax_time.plot([], [], color=_CAS, lw=2, drawstyle="steps-post",
                                        label="compare-and-set: the counter (= acknowledged)")
        ax_time.set_xlabel("simulated time (s)")
        ax_time.set_ylabel("counter value / increments")
        self.title_time = ax_time.set_title("")
        legend_below(ax_time)

        self._categories = ("acknowledged", "final\nvalue", "lost", "CAS\nretries")
        x = np.arange(len(self._categories))
        self.bars_plain = ax_totals.bar(x - 0.2, np.zeros(4), width=0.4, color=_PLAIN, label="no version check")
        self.bars_cas = ax_totals.bar(x + 0.2, np.zeros(4), width=0.4, color=_CAS, label="compare-and-set")
        self.bar_texts = [ax_totals.text(xi + dx, 0, "", ha="center", va="bottom")
                          for dx in (-0.2, 0.2) for xi in x]
        ax_totals.set_xticks(x, self._categories)
        ax_totals.set_xlabel("totals per run")
        ax_totals.set_ylabel("increments or writes")
        ax_totals.set_title("What the clients were told, and what happened")
        legend_below(ax_totals, ncols=2)

    def simulate(self, clients, think_ms):
        return simulate(int(clients), int(think_ms))

    def draw(self, d):
        ax_time, ax_totals = self.axes
        plain, cas = d["plain"], d["cas"]
        series_plain, series_cas = counter_over_time(plain), counter_over_time(cas)
        # With compare-and-set the counter is the acknowledged count, so one line shows both.
        self.line_told.set_data(series_plain["t"], series_plain["acknowledged"])
        self.line_plain.set_data(series_plain["t"], series_plain["counter"])
        self.line_cas.set_data(series_cas["t"], series_cas["counter"])
        top = plain.acknowledged
        ax_time.set_xlim(0, 1.02 * max(plain.duration, cas.duration))
        ax_time.set_ylim(0, 1.05 * top)
        self.title_time.set_text(f"{plain.clients} {plural(plain.clients, 'client')} × {INCREMENTS} increments, "
                                 f"think ~ Exp(mean {self.params['think_ms']} ms)")

        values = ((plain.acknowledged, plain.final, plain.lost, plain.cas_retries),
                  (cas.acknowledged, cas.final, cas.lost, cas.cas_retries))
        for bars, row, offset in zip((self.bars_plain, self.bars_cas), values, (0, 4)):
            for i, (bar, value) in enumerate(zip(bars, row)):
                bar.set_height(value)
                text = self.bar_texts[offset + i]
                text.set_position((bar.get_x() + bar.get_width() / 2, value))
                text.set_text(f"{value:,}")
        ax_totals.set_ylim(0, 1.15 * max(max(values[0]), max(values[1]), 1))

    def describe(self, d):
        plain, cas = d["plain"], d["cas"]
        share = plain.lost / plain.acknowledged
        return (f"{plain.clients} {plural(plain.clients, 'client')}, {plain.acknowledged:,} acknowledged increments · "
                f"no version check: the counter ends at <b>{plain.final:,}</b>, <b>{plain.lost:,}</b> lost "
                f"({share:.0%}) · compare-and-set: <b>{cas.final:,}</b>, {cas.lost} lost, paid for with "
                f"<b>{cas.cas_retries:,}</b> {plural(cas.cas_retries, 'retry', 'retries')} · the runs took "
                f"{plain.duration:.1f} s and "
                f"{cas.duration:.1f} s")


def lost_updates_dashboard(**settings) -> LostUpdatesDashboard:
    """Build lesson 04's lost-updates dashboard; keyword arguments preset controls (e.g. ``clients=20``)."""
    return LostUpdatesDashboard(**settings)
