"""Lesson 03's overload dashboard: more traffic than the backend can take; shed it, or throttle it at the source."""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from course.models import throttling as model

from .base import Dashboard, legend_beside

_LOOK = dict(style={"description_width": "170px"}, layout=widgets.Layout(width="420px"))
_SLIDER = dict(continuous_update=False, **_LOOK)
#: Both keys sit this far (points) right of their panels: past the queue axis's ticks and label.
_KEY_GAP = 54
_SHEDDING_TEXT = {"none": "queues everything", "bounded_queue": "turns calls away when its queue is full",
                  "drop_expired": "drops queued calls whose caller gave up"}


class OverloadDashboard(Dashboard):
    """Clients offer a multiple of the backend's capacity (20 requests/s here); each caller waits at most 1 s.

    Top: what became of the requests each second. Bottom: how long the
    successful ones took, and the backend's queue.
    """

    figsize = (10.0, 6.0)

    def controls(self):
        return {
            "overload": widgets.FloatSlider(3.0, min=0.5, max=4.0, step=0.25, readout_format=".2f",
                                            description="Offered load (× capacity)", **_SLIDER),
            "shedding": widgets.Dropdown(options=[("none: an unbounded queue", "none"),
                                                  ("a bounded queue", "bounded_queue"),
                                                  ("drop work whose caller gave up", "drop_expired")],
                                         value="none", description="Backend's load shedding", **_LOOK),
            "throttle": widgets.Checkbox(False, description="Clients throttle adaptively (SRE book)", indent=False,
                                         layout=widgets.Layout(width="420px")),
            "k": widgets.FloatSlider(2.0, min=1.0, max=4.0, step=0.5, readout_format=".1f",
                                     description="Throttle's K", **_SLIDER),
        }

    def build_figure(self):
        ax_rates, ax_latency = self.figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2]})
        self.axes = (ax_rates, ax_latency)
        duration = model.DASHBOARD["duration"]
        for ax in self.axes:
            ax.grid(alpha=0.3)
            ax.set_xlim(0, duration)
        self.title = self.figure.suptitle("")

        (self.line_offered,) = ax_rates.plot([], [], color="grey", lw=1.2, label="offered")
        (self.line_ok,) = ax_rates.plot([], [], color="#2a9d8f", lw=2.2, label="answered OK in time")
        (self.line_rejected,) = ax_rates.plot([], [], color="#e9c46a", lw=2, label="rejected by the backend")
        (self.line_throttled,) = ax_rates.plot([], [], color="#6a4c93", lw=2, label="rejected locally\nby the clients")
        (self.line_timed_out,) = ax_rates.plot([], [], color="#d62828", lw=2, label="caller gave up (timed out)")
        self.line_capacity = ax_rates.axhline(np.nan, color="black", ls="--", lw=1, label="backend's capacity")
        ax_rates.set_ylabel("requests per second")
        ax_rates.set_title("What became of the requests, by the second they were made")
        legend_beside(ax_rates, gap=_KEY_GAP)

        (self.line_p99,) = ax_latency.plot([], [], color="#2a9d8f", lw=2, label="p99 of requests\nanswered OK")
        ax_latency.axhline(model.DEADLINE * 1000, color="#d62828", ls="--", lw=1, label="callers give up (1 s)")
        ax_latency.set_yscale("log")
        ax_latency.set_ylim(50, 5000)
        ax_latency.set_ylabel("latency (ms, log)")
        ax_latency.set_xlabel("simulated time (s)")
        self.ax_queue = ax_latency.twinx()
        (self.line_queue,) = self.ax_queue.plot([], [], color="#6d597a", lw=1.2, label="backend's queue (right)")
        self.ax_queue.set_ylabel("calls queued", color="#6d597a")
        legend_beside(ax_latency, [self.line_p99, ax_latency.lines[1], self.line_queue], gap=_KEY_GAP)

    def simulate(self, overload, shedding, throttle, k):
        return model.simulate_cached(float(overload), bool(throttle), float(k), shedding)

    def draw(self, r):
        ax_rates, _ = self.axes
        self.line_offered.set_data(r.t, r.offered)
        self.line_ok.set_data(r.t, r.accepted)
        self.line_rejected.set_data(r.t, r.backend_rejected)
        self.line_throttled.set_data(r.t, r.throttled)
        self.line_timed_out.set_data(r.t, r.timed_out)
        self.line_capacity.set_ydata([r.capacity, r.capacity])
        ax_rates.set_ylim(0, max(1.5 * r.capacity, 1.1 * float(np.nanmax(r.offered))))
        self.line_p99.set_data(r.t, r.p99 * 1000)
        self.line_queue.set_data(r.t, r.queue)
        self.ax_queue.set_ylim(0, max(10.0, 1.2 * float(np.nanmax(r.queue))))
        p = self.params
        throttle = f"clients throttle with K = {p['k']:g}" if p["throttle"] else "clients do not throttle"
        self.title.set_text(f"Offered {p['overload']:g}× the backend's capacity · the backend "
                            f"{_SHEDDING_TEXT[p['shedding']]} · {throttle}")

    def describe(self, r):
        s = r.summary
        per_accept = ("" if not s["accepted"] else
                      f" · the backend rejected <b>{s['rejected_per_accepted']:.2f}</b> for each request it served")
        return (f"From t = {s['measure_from']:g} s: goodput <b>{s['goodput']:.1f}</b> requests/s answered OK "
                f"(capacity {s['capacity']:g}/s){per_accept} · rejected locally by the clients: "
                f"<b>{s['throttled_share']:.0%}</b> · timed out: {s['timed_out'] / max(s['requests'], 1):.0%}")


def overload_dashboard(**settings) -> OverloadDashboard:
    """Build lesson 03's overload dashboard; keyword arguments preset controls (e.g. ``throttle=True``)."""
    return OverloadDashboard(**settings)
