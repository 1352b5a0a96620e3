"""Lesson 03's bulkhead dashboard: A calls B or C; B turns slow; does C's traffic suffer?"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from course.models import bulkhead as model

from .base import Dashboard, legend_beside

_LOOK = dict(style={"description_width": "170px"}, layout=widgets.Layout(width="400px"))
_SLIDER = dict(continuous_update=False, **_LOOK)
_B, _C = "#d62828", "#2a9d8f"


def _ms(values):
    return np.asarray(values) * 1000.0


class BulkheadDashboard(Dashboard):
    """A (a pool of threads) calls B or C, half each; B is slower from t = 20 s to 40 s.

    Three rows over simulated time: the p99 latency of A's requests that call
    C (the healthy one) and of those that call B; A's threads and what holds
    them; and what became of A's calls to B.
    """

    figsize = (10.0, 7.0)

    def controls(self):
        return {
            "pools": widgets.Dropdown(options=[("one pool, shared by B and C", "shared"),
                                               ("separate pools (bulkheads)", "separate")],
                                      value="shared", description="A's threads", **_LOOK),
            "b_slowdown": widgets.Dropdown(options=[("no incident", 1.0), ("2× slower", 2.0), ("5× slower", 5.0),
                                                    ("10× slower", 10.0), ("20× slower", 20.0), ("50× slower", 50.0)],
                                           value=20.0, description="B at t = 20–40 s", **_LOOK),
            "rate": widgets.IntSlider(model.RATE, min=10, max=100, step=5, description="Requests/s into A", **_SLIDER),
            "a_threads": widgets.IntSlider(model.A_THREADS, min=4, max=60, description="A's threads", **_SLIDER),
            "pool_size": widgets.IntSlider(model.POOL_SIZE, min=1, max=30,
                                           description="Per-dependency pool size", **_SLIDER),
        }

    def build_figure(self):
        fig = self.figure
        ax_lat, ax_threads, ax_calls = fig.subplots(3, 1, sharex=True)
        self.axes = (ax_lat, ax_threads, ax_calls)
        self.title = fig.suptitle("")
        self.spans = [ax.axvspan(*model.INCIDENT, color="#f4a261", alpha=0.18, lw=0) for ax in self.axes]
        for ax in self.axes:
            ax.grid(alpha=0.3)
            ax.set_xlim(0, model.DURATION)

        (self.line_c,) = ax_lat.plot([], [], color=_C, lw=2.2, label="requests that call C (healthy)")
        (self.line_b,) = ax_lat.plot([], [], color=_B, lw=1.2, alpha=0.8, label="requests that call B")
        self.line_timeout = ax_lat.axhline(model.TIMEOUT * 1000, color="#6a4c93", ls="--", lw=1,
                                           label="A's timeout on B and C")
        ax_lat.set_yscale("log")
        ax_lat.set_ylim(10, 30_000)
        ax_lat.set_ylabel("p99 latency (ms, log)")
        ax_lat.set_title("p99 latency of A's requests, by arrival second (shaded: B is slow)")
        legend_beside(ax_lat)

        (self.line_busy,) = ax_threads.plot([], [], color="black", lw=1.5, label="busy")
        (self.line_held_b,) = ax_threads.plot([], [], color=_B, lw=2, label="waiting on B")
        (self.line_held_c,) = ax_threads.plot([], [], color=_C, lw=2, label="waiting on C")
        self.line_pool = ax_threads.axhline(np.nan, color="black", ls="--", lw=1, label="A's threads")
        self.line_bulkhead = ax_threads.axhline(np.nan, color=_B, ls=":", lw=1.2, label="B's pool (bulkheads)")
        ax_threads.set_ylabel("threads")
        ax_threads.set_title("A's threads")
        legend_beside(ax_threads)

        (self.line_ok,) = ax_calls.plot([], [], color=_C, lw=2, label="answered")
        (self.line_rejected,) = ax_calls.plot([], [], color="#e9c46a", lw=2, label="turned away: B's pool full")
        (self.line_timed_out,) = ax_calls.plot([], [], color=_B, lw=2, label="timed out")
        ax_calls.set_ylabel("calls per second")
        ax_calls.set_xlabel("simulated time (s)")
        ax_calls.set_title("A's calls to B")
        legend_beside(ax_calls)

    def simulate(self, pools, b_slowdown, rate, a_threads, pool_size):
        return model.simulate_cached(pools, float(b_slowdown), float(rate), int(a_threads), int(pool_size))

    def draw(self, r):
        ax_lat, ax_threads, ax_calls = self.axes
        self.line_c.set_data(r.t, _ms(r.c_p99))
        self.line_b.set_data(r.t, _ms(r.b_p99))
        self.line_busy.set_data(r.t, r.a_busy)
        self.line_held_b.set_data(r.t, r.held_by_b)
        self.line_held_c.set_data(r.t, r.held_by_c)
        self.line_pool.set_ydata([r.a_threads, r.a_threads])
        separate = r.pools == "separate"
        self.line_bulkhead.set_ydata([r.pool_size, r.pool_size] if separate else [np.nan, np.nan])
        ax_threads.set_ylim(0, r.a_threads * 1.1)
        self.line_ok.set_data(r.t, r.b_ok_rate)
        self.line_rejected.set_data(r.t, r.b_rejected_rate)
        self.line_timed_out.set_data(r.t, r.b_timeout_rate)
        peak = np.nanmax(np.concatenate([r.b_ok_rate, r.b_rejected_rate, r.b_timeout_rate]))
        ax_calls.set_ylim(0, max(10.0, peak * 1.1))
        slowdown = self.params["b_slowdown"]
        for span in self.spans:
            span.set_visible(slowdown > 1)
        incident = (f"B is {slowdown:g}× slower from t = {model.INCIDENT[0]:g} s to {model.INCIDENT[1]:g} s"
                    if slowdown > 1 else "No incident: B stays healthy")
        pools = (f"B and C each get a pool of {r.pool_size} of A's {r.a_threads} threads" if separate
                 else f"B and C share A's {r.a_threads} threads")
        self.title.set_text(f"{incident} · {pools}")

    def describe(self, r):
        s = r.summary
        return (f"p99 of A's requests that call <b>C</b>: <b>{s['c_p99_before'] * 1000:,.0f} ms</b> "
                f"before the incident, "
                f"<b>{s['c_p99_during'] * 1000:,.0f} ms</b> during it · "
                f"requests that call <b>B</b>, during it: p99 {s['b_p99_during'] * 1000:,.0f} ms, "
                f"{s['ok_share_during_b']:.0%} answered OK · A's busiest moment: {s['a_peak_busy']:.0f} of "
                f"{r.a_threads} threads")


def bulkhead_dashboard(**settings) -> BulkheadDashboard:
    """Build lesson 03's bulkhead dashboard; keyword arguments preset controls (e.g. ``pools="separate"``)."""
    return BulkheadDashboard(**settings)
