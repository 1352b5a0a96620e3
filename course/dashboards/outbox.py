"""Lesson 05's outbox dashboard: the relay's side of the transactional outbox.

Lesson 04's :mod:`~course.dashboards.dual_write` dashboard counts the
anomalies of a dual write against the outbox. This one looks at the relay
(:mod:`course.models.outbox_relay`): it can crash too, after publishing a row
and before marking it sent, so it sends some events twice and falls behind,
and the warehouse that consumes the events must cope.
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
from matplotlib.ticker import FuncFormatter

from course.models import dual_write
from course.models.outbox_relay import relay_run

from .base import Dashboard, legend_below, plural

_LOOK = dict(style={"description_width": "186px"}, layout=widgets.Layout(width="420px"))
_SLIDER = dict(continuous_update=False, **_LOOK)
_OK, _DUP, _LOST, _THEORY = "#1d3557", "#f77f00", "#d62828", "#8d99ae"
_NEVER_MS = 3e5


class OutboxDashboard(Dashboard):
    """The relay close up: how late each order's event arrived, its repeats, and what the warehouse picked."""

    figsize = (10.0, 5.6)

    def controls(self):
        return {
            "mode": widgets.Dropdown(options=[("write the row, then publish", "write_then_publish"),
                                              ("transactional outbox + relay", "outbox")],
                                     value="outbox", description="The order service", **_LOOK),
            "crash_probability": widgets.FloatSlider(0.1, min=0.0, max=0.5, step=0.01, readout_format=".2f",
                                                     description="P(service dies after commit)", **_SLIDER),
            "relay_crash_probability": widgets.FloatSlider(0.2, min=0.0, max=0.5, step=0.01, readout_format=".2f",
                                                           description="P(relay dies after a publish)", **_SLIDER),
            "consumer": widgets.Dropdown(options=[("naive: picks on every event", "naive"),
                                                  ("idempotent: checks event ids", "idempotent")],
                                         value="naive", description="Warehouse consumer", **_LOOK),
            "seed": widgets.IntSlider(1, min=1, max=20, description="Seed", **_SLIDER),
        }

    def build_figure(self):
        ax_lag, ax_bar = self.figure.subplots(1, 2, width_ratios=(1.35, 1))
        self.ax_lag, self.ax_bar = ax_lag, ax_bar
        ax_lag.set_yscale("log")
        ax_lag.set_ylim(1, 1e6)  # "never" (3e5) sits just under the top
        ax_lag.axhline(_NEVER_MS, color=_LOST, lw=0.8, alpha=0.5)
        (self.dots_first,) = ax_lag.plot([], [], ".", color=_OK, ms=5, label="first delivery")
        (self.dots_repeat,) = ax_lag.plot([], [], "x", color=_DUP, ms=6, mew=1.5, label="a repeat (relay re-sent it)")
        (self.dots_never,) = ax_lag.plot([], [], "s", color=_LOST, ms=5, label="never delivered (top line)")
        (self.rings_died,) = ax_lag.plot([], [], "o", mfc="none", mec="#6a4c93", ms=9, mew=1.2,
                                         label="service died after the commit")
        ax_lag.yaxis.set_major_formatter(FuncFormatter(
            lambda v, _: "never" if v >= _NEVER_MS else f"{v:,.0f}" if v >= 1 else f"{v:g}"))
        ax_lag.set_yticks([1, 10, 100, 1000, 10_000, _NEVER_MS])
        ax_lag.set_xlabel("order number")
        ax_lag.set_ylabel("time from commit to the warehouse (ms, log scale)")
        legend_below(ax_lag, ncols=2)
        ax_lag.grid(alpha=0.3)
        ax_lag.set_title("")

        labels = ("rows\ncommitted", "orders\nheard of", "events\ndelivered", "items\npicked")
        x = np.arange(len(labels))
        self.bars = ax_bar.bar(x, np.zeros(len(labels)), color=[_OK, _OK, _DUP, _OK], width=0.6)
        self.bar_texts = [ax_bar.text(i, 0, "", ha="center", va="bottom") for i in x]
        self.target = ax_bar.axhline(0, color="black", ls="--", lw=1, label="one per committed order")
        ax_bar.set_xticks(x, labels)
        ax_bar.set_xlabel("count over the run")
        ax_bar.set_ylabel("orders, events or items")
        legend_below(ax_bar)
        ax_bar.grid(axis="y", alpha=0.3)
        ax_bar.set_title("")

    def simulate(self, mode, crash_probability, relay_crash_probability, consumer, seed):
        return relay_run(mode, round(float(crash_probability), 4), round(float(relay_crash_probability), 4),
                         consumer, int(seed))

    def draw(self, r):
        def xy(points):
            return (np.array([p[0] for p in points], dtype=float), np.array([p[1] for p in points], dtype=float))
        self.dots_first.set_data(*xy(r.lag_ms))
        self.dots_repeat.set_data(*xy(r.repeats_ms))
        self.dots_never.set_data(np.asarray(r.never, dtype=float), np.full(len(r.never), _NEVER_MS))
        first = dict(r.lag_ms)
        self.rings_died.set_data(np.asarray(r.died_after, dtype=float),
                                 np.array([first.get(o, _NEVER_MS) for o in r.died_after], dtype=float))
        self.ax_lag.set_xlim(-1, r.orders)
        lags = [lag for _, lag in r.lag_ms]
        slowest = f"; slowest {max(lags) / 1000:,.1f} s" if lags else ""
        name = dual_write.MODE_NAMES[r.mode].capitalize()
        self.ax_lag.set_title(f"{name}: {r.anomalies} {plural(r.anomalies, 'anomaly', 'anomalies')}, {r.duplicates} "
                              f"{plural(r.duplicates, 'repeat')}{slowest}", color=_LOST if r.anomalies else "black")
        values = (r.rows, r.heard, r.deliveries, r.picked)
        for bar, text, value in zip(self.bars, self.bar_texts, values):
            bar.set_height(value)
            text.set(y=value + 1, text=f"{value}")
        self.bars[3].set_color(_LOST if r.picked != r.rows else _OK)
        self.target.set_ydata([r.rows, r.rows])
        self.ax_bar.set_ylim(0, 1.25 * max(values + (1,)))
        over = (f"{r.over_picked} extra {plural(r.over_picked, 'item')} picked" if r.over_picked
                else "one item per order")
        self.ax_bar.set_title(f"{r.consumer.capitalize()} warehouse: {over}", color=_LOST if r.over_picked else "black")

    def describe(self, r):
        relay = (f" · the relay published <b>{r.relay_publishes}</b> {plural(r.relay_publishes, 'time')} for {r.rows} "
                 f"{plural(r.rows, 'row')} and died <b>{r.relay_crashes}</b> {plural(r.relay_crashes, 'time')}"
                 if r.mode == "outbox" else "")
        return (f"{dual_write.MODE_NAMES[r.mode].capitalize()}: the service died after <b>{r.service_crashes}</b> "
                f"of {r.orders} commits · anomalies (rows the warehouse never heard of): <b>{r.anomalies}</b>"
                f"{relay} · repeats delivered: <b>{r.duplicates}</b> · the {r.consumer} warehouse picked "
                f"<b>{r.picked}</b> {plural(r.picked, 'item')} for {r.heard} {plural(r.heard, 'order')}")


def outbox_dashboard(**settings) -> OutboxDashboard:
    """Build lesson 05's outbox (relay) dashboard; keyword arguments preset controls (e.g. ``consumer="idempotent"``)."""
    return OutboxDashboard(**settings)
