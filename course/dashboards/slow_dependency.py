"""Lesson 01's dashboard: A calls B, B has an incident, and you choose A's defences."""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from course.models import slow_dependency as model

from .base import Dashboard, legend_below

_LOOK = dict(style={"description_width": "150px"}, layout=widgets.Layout(width="380px"))
_SLIDER = dict(continuous_update=False, **_LOOK)


def _ms(values):
    return np.asarray(values) * 1000.0


class SlowDependencyDashboard(Dashboard):
    """Clients → A → (half of the requests) → B. B is slow from t = 20 s to t = 40 s.

    Four panels over simulated time: A's and B's p50/p99 latency, A's busy
    threads, B's queue, and the rate of successes and timeouts.
    """

    figsize = (10.0, 7.4)

    def controls(self):
        return {
            "rate": widgets.IntSlider(50, min=10, max=250, step=10, description="Requests/s into A", **_SLIDER),
            "b_median_ms": widgets.IntSlider(50, min=5, max=500, step=5, description="B median (ms)", **_SLIDER),
            "b_tail": widgets.FloatSlider(5.0, min=1.5, max=20.0, step=0.5, description="B p99 / median", **_SLIDER),
            "slowdown": widgets.Dropdown(options=[("none", 1.0), ("2× slower", 2.0), ("5× slower", 5.0),
                                                  ("10× slower", 10.0), ("20× slower", 20.0)],
                                         value=10.0, description="B at t=20–40 s", **_LOOK),
            "b_workers": widgets.IntSlider(8, min=1, max=32, description="B workers", **_SLIDER),
            "a_threads": widgets.IntSlider(20, min=1, max=64, description="A thread pool", **_SLIDER),
            "timeout_on": widgets.Checkbox(False, description="A uses a timeout on B", indent=False,
                                           layout=widgets.Layout(width="380px")),
            "timeout_ms": widgets.IntSlider(300, min=20, max=3000, step=10, description="A's timeout (ms)", **_SLIDER),
        }

    def build_figure(self):
        fig = self.figure
        (ax_lat, ax_busy), (ax_queue, ax_rate) = fig.subplots(2, 2, sharex=True)
        self.axes = (ax_lat, ax_busy, ax_queue, ax_rate)
        self.incident_spans = []
        for ax in self.axes:
            self.incident_spans.append(ax.axvspan(*model.INCIDENT, color="#f4a261", alpha=0.15, lw=0))
            ax.grid(alpha=0.3)
            ax.set_xlim(0, model.DURATION)
        # The incident is named in the figure's title (legends would hide a label inside the panels).
        self.incident_label = fig.suptitle("", color="#b5651d")
        (self.line_a99,) = ax_lat.plot([], [], color="#d62828", lw=2, label="A p99")
        (self.line_a99_nob,) = ax_lat.plot([], [], color="#d62828", lw=1.2, ls=":", label="A p99, requests not calling B")
        (self.line_a50,) = ax_lat.plot([], [], color="#d62828", lw=1, alpha=0.6, label="A p50")
        (self.line_b99,) = ax_lat.plot([], [], color="#1d3557", lw=2, label="B p99")
        (self.line_b50,) = ax_lat.plot([], [], color="#1d3557", lw=1, alpha=0.6, label="B p50")
        self.line_timeout = ax_lat.axhline(np.nan, color="#6a4c93", ls="--", lw=1, label="A's timeout")
        ax_lat.set_yscale("log")
        ax_lat.set_ylabel("latency (ms, log scale)")
        ax_lat.set_title("Latency by arrival second")
        legend_below(ax_lat, ncols=2)

        (self.line_busy,) = ax_busy.plot([], [], color="#d62828", lw=2, label="busy threads")
        self.line_pool = ax_busy.axhline(np.nan, color="black", ls="--", lw=1, label="pool size")
        ax_busy.set_ylabel("busy threads")
        ax_busy.set_title("A's thread pool")
        self.ax_waiting = ax_busy.twinx()
        (self.line_aqueue,) = self.ax_waiting.plot([], [], color="#6d597a", lw=1.2, label="requests waiting for a thread (right)")
        self.ax_waiting.set_ylabel("requests waiting", color="#6d597a")
        legend_below(ax_busy, [self.line_busy, self.line_pool, self.line_aqueue], ncols=2)

        (self.line_bqueue,) = ax_queue.plot([], [], color="#1d3557", lw=2)
        ax_queue.set_ylabel("requests waiting")
        ax_queue.set_xlabel("simulated time (s)")
        ax_queue.set_title("B's queue")

        (self.line_ok,) = ax_rate.plot([], [], color="#2a9d8f", lw=2, label="A answered OK")
        (self.line_to,) = ax_rate.plot([], [], color="#e76f51", lw=2, label="A's calls to B timed out")
        ax_rate.set_ylabel("per second")
        ax_rate.set_xlabel("simulated time (s)")
        ax_rate.set_title("Successes and timeouts")
        legend_below(ax_rate, ncols=2)

    def simulate(self, **params):
        return model.simulate(**params)

    def draw(self, r):
        t = r.t
        for line, values in ((self.line_a99, r.a_p99), (self.line_a99_nob, r.a_p99_without_b), (self.line_a50, r.a_p50),
                             (self.line_b99, r.b_p99), (self.line_b50, r.b_p50)):
            line.set_data(t, _ms(values))
        timeout_ms = self.params["timeout_ms"] if self.params["timeout_on"] else np.nan
        self.line_timeout.set_ydata([timeout_ms, timeout_ms])
        ax_lat, ax_busy, ax_queue, ax_rate = self.axes
        shown = np.concatenate([_ms(v) for v in (r.a_p99, r.b_p99, r.a_p50, r.b_p50)])
        shown = shown[np.isfinite(shown) & (shown > 0)]
        if shown.size:
            ax_lat.set_ylim(max(shown.min() / 1.5, 0.5), shown.max() * 1.5)
        slowdown = self.params["slowdown"]
        for span in self.incident_spans:
            span.set_visible(slowdown > 1)
        start, end = model.INCIDENT
        self.incident_label.set_text(f"Shaded: B is {slowdown:g}× slower from t = {start:g} s to {end:g} s"
                                     if slowdown > 1 else "No incident: B stays healthy")
        self.line_busy.set_data(t, r.a_busy)
        self.line_aqueue.set_data(t, r.a_queue)
        self.line_pool.set_ydata([r.a_threads, r.a_threads])
        ax_busy.set_ylim(0, r.a_threads * 1.15)
        self.ax_waiting.set_ylim(0, max(10.0, np.nanmax(r.a_queue) * 1.1))
        self.line_bqueue.set_data(t, r.b_queue)
        ax_queue.set_ylim(0, max(5.0, np.nanmax(r.b_queue) * 1.1))
        self.line_ok.set_data(t, r.ok_rate)
        self.line_to.set_data(t, r.timeout_rate)
        ax_rate.set_ylim(0, max(5.0, np.nanmax(np.concatenate([r.ok_rate, r.timeout_rate])) * 1.1))

    def describe(self, r):
        s = r.summary
        start, end = model.INCIDENT
        incident = self.params["slowdown"] > 1
        before = "before the incident" if incident else f"for t &lt; {start:g} s"
        during = "during it" if incident else f"for t = {start:g}–{end:g} s"
        errors = "during the incident" if incident else f"for t = {start:g}–{end:g} s"
        return (f"B's utilisation when healthy: <b>{s['b_utilisation']:.0%}</b> · "
                f"A's p99 for requests that never call B: "
                f"<b>{s['a_p99_without_b_before'] * 1000:,.0f} ms</b> {before}, "
                f"<b>{s['a_p99_without_b_during'] * 1000:,.0f} ms</b> {during} · "
                f"A's error share {errors}: <b>{s['a_error_share_during']:.0%}</b>")


def slow_dependency_dashboard(**settings) -> SlowDependencyDashboard:
    """Build lesson 01's dashboard; keyword arguments preset controls (e.g. ``timeout_on=True``)."""
    return SlowDependencyDashboard(**settings)
