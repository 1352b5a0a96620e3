"""Lesson 02's metastable-failure dashboard: an outage ends, and the retries keep the database down."""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from course.models import metastable as model

from .base import Dashboard, legend_beside

_LOOK = dict(style={"description_width": "170px"}, layout=widgets.Layout(width="400px"))
_SLIDER = dict(continuous_update=False, **_LOOK)

POLICY_OPTIONS = [
    ("no retries", "none"),
    ("retry once (Bronson's app)", "retry_once"),
    ("retry once, 10% retry budget", "budget_10"),
    ("retry once, 5% retry budget", "budget_5"),
    ("retry once, 2% retry budget", "budget_2"),
]
OUTAGE_KIND_OPTIONS = [("stalls: queries pile up", "stall"), ("refuses connections", "refuse")]
LOAD_AFTER_OPTIONS = [("stays the same", 1.0), ("drops by a quarter", 0.75), ("halves", 0.5)]
_Y_RATE = 850.0
_Y_QUEUE = model.QUEUE_LIMIT * 1.4


class MetastableDashboard(Dashboard):
    """An app offering ``rate`` QPS to a database with 300 QPS of capacity; an outage at t = 10 s.

    Top: offered load, attempts reaching the database, goodput, and the work
    the database finishes for callers who already gave up. Bottom: the
    database's queue. The outage is shaded.
    """

    figsize = (10.0, 6.5)

    def controls(self):
        return {
            "rate": widgets.IntSlider(280, min=50, max=300, step=10, description="Offered load (QPS)", **_SLIDER),
            "outage_s": widgets.IntSlider(10, min=0, max=20, description="Outage length (s)", **_SLIDER),
            "policy": widgets.Dropdown(options=POLICY_OPTIONS, value="retry_once", description="App's retries",
                                       **_LOOK),
            "outage_kind": widgets.Dropdown(options=OUTAGE_KIND_OPTIONS, value="stall",
                                            description="During the outage the DB", **_LOOK),
            "load_after": widgets.Dropdown(options=LOAD_AFTER_OPTIONS, value=1.0,
                                           description=f"At t={model.CHANGE_AT:g} s the load", **_LOOK),
            "drop_expired": widgets.Checkbox(False, description="DB skips queries whose caller gave up", indent=False,
                                             layout=widgets.Layout(width="400px")),
        }

    def build_figure(self):
        ax_rate, ax_queue = self.figure.subplots(2, 1, sharex=True, height_ratios=(1.5, 1))
        self.ax_rate, self.ax_queue = ax_rate, ax_queue
        self.spans = [ax.axvspan(model.OUTAGE_START, model.OUTAGE_START + 10, color="#f4a261", alpha=0.2, lw=0)
                      for ax in (ax_rate, ax_queue)]
        self.change_lines = [ax.axvline(model.CHANGE_AT, color="#6a4c93", lw=1.2, ls="-.")
                             for ax in (ax_rate, ax_queue)]
        for ax in (ax_rate, ax_queue):
            ax.set_xlim(0, model.DURATION)
            ax.grid(alpha=0.3)
        self.title = self.figure.suptitle("", color="#b5651d")

        ax_rate.axhline(model.CAPACITY, color="black", lw=1, ls=":", label=f"DB capacity ({model.CAPACITY:.0f})")
        (self.line_offered,) = ax_rate.plot([], [], color="#6c757d", lw=1.5, ls="--", label="offered")
        (self.line_attempts,) = ax_rate.plot([], [], color="#d62828", lw=2, label="attempts at the DB")
        (self.line_wasted,) = ax_rate.plot([], [], color="#f4a261", lw=2.5, alpha=0.9,
                                           label="DB work for callers who gave up")
        (self.line_goodput,) = ax_rate.plot([], [], color="#2a9d8f", lw=2, label="goodput")
        ax_rate.set_ylim(0, _Y_RATE)
        ax_rate.set_ylabel("queries or requests per second")
        ax_rate.set_title("Load and goodput")
        legend_beside(ax_rate)

        ax_queue.axhline(model.QUEUE_LIMIT, color="black", lw=1, ls=":", label=f"queue limit ({model.QUEUE_LIMIT})")
        ax_queue.axhline(model.HOPELESS_QUEUE, color="#d62828", lw=1, ls="--",
                         label=f"above {model.HOPELESS_QUEUE}, a new query\ncan't finish within\nthe 1 s timeout")
        (self.line_queue,) = ax_queue.plot([], [], color="#1d3557", lw=2, label="queries waiting")
        ax_queue.set_ylim(0, _Y_QUEUE)
        ax_queue.set_ylabel("queries waiting")
        ax_queue.set_xlabel("simulated time (s)")
        ax_queue.set_title("The database's queue")
        legend_beside(ax_queue)

    def simulate(self, **params):
        return model.simulate_cached(**params)

    def draw(self, r):
        t = r.t
        self.line_offered.set_data(t, r.offered)
        self.line_attempts.set_data(t, r.attempts)
        self.line_goodput.set_data(t, r.goodput)
        self.line_wasted.set_data(t, r.wasted)
        self.line_queue.set_data(t, r.db_queue)
        start, end = r.outage
        for span in self.spans:
            span.set_visible(end > start)
            span.set_x(start)
            span.set_width(end - start)
        for line in self.change_lines:
            line.set_visible(r.change_at is not None)
        p = self.params
        kind = "stalls" if p["outage_kind"] == "stall" else "refuses connections"
        changed = "" if r.change_at is None else f"; dash-dot line: the load changes at t = {r.change_at:g} s"
        self.title.set_text(f"Shaded: the DB {kind} from t = {start:g} s to {end:g} s{changed}" if end > start
                            else f"No outage{changed}")

    def describe(self, r):
        s = r.summary
        start, end = r.outage
        until = r.change_at if r.change_at is not None else model.DURATION
        if np.isnan(s["recovered_at"]):
            recovery = "<b>not recovered</b> by the end of the run"
        elif s["recovery_s"] <= 0:
            recovery = "<b>healthy</b> throughout" if end <= start else "<b>healthy again at once</b>"
        else:
            recovery = f"goodput back above 90% at <b>t = {s['recovered_at']:g} s</b>"
        return (f"After the outage (t = {end:g}–{until:g} s): "
                f"attempts <b>{s['after_attempts_ratio']:.2f}×</b> offered, "
                f"goodput <b>{s['after_goodput_ratio']:.0%}</b> of offered, DB work for nobody "
                f"<b>{s['after_wasted_per_s']:.0f}/s</b> · {recovery}")


def metastable_dashboard(**settings) -> MetastableDashboard:
    """Build lesson 02's metastable-failure dashboard; keyword arguments preset controls (e.g. ``rate=140``)."""
    return MetastableDashboard(**settings)
