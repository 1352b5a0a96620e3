"""Lesson 08's rate-limit dashboard: a minute of several times normal traffic; what stands at the front door?"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from course.models import backpressure as model

from .base import Dashboard, legend_beside, plural

_LOOK = dict(style={"description_width": "190px"}, layout=widgets.Layout(width="420px"))
_SLIDER = dict(continuous_update=False, **_LOOK)
POLICY_OPTIONS = [("none: an unbounded queue", "none"), ("token bucket (rate r)", "token_bucket"),
                  ("concurrency limit (L in flight)", "concurrency_limit")]
_COLOURS = {"none": "#d62828", "token_bucket": "#6a4c93", "concurrency_limit": "#1d6fa5"}
_NAMES = {"none": "no limit (unbounded)", "token_bucket": "token bucket", "concurrency_limit": "concurrency limit"}
_OFFERED, _ADMITTED, _REJECTED, _SERVED = "grey", "#2a9d8f", "#e9c46a", "black"
#: Both keys sit this far (points) right of their panels.
_KEY_GAP = 6


class RateLimitDashboard(Dashboard):
    """Normal traffic is half the service's capacity (10 requests/s); for a minute it is several times that.

    Top: what the chosen front door did with the requests each second. Middle
    and bottom: the queue (the consumer lag) and the p99 time inside of the
    work answered each second, behind each of the three front doors, with the
    chosen one drawn bold.
    """

    figsize = (10.0, 7.4)

    def controls(self):
        return {
            "policy": widgets.Dropdown(options=POLICY_OPTIONS, value="none", description="Front door", **_LOOK),
            "multiple": widgets.IntSlider(10, min=2, max=10, description="Burst (× normal traffic)", **_SLIDER),
            "rate": widgets.IntSlider(8, min=2, max=20, description="Token bucket rate r (req/s)", **_SLIDER),
            "max_in_flight": widgets.IntSlider(10, min=2, max=40, description="Concurrency limit L", **_SLIDER),
            "seed": widgets.IntSlider(1, min=1, max=20, description="Seed", **_SLIDER),
        }

    def build_figure(self):
        fig = self.figure
        ax_rates, ax_queue, ax_p99 = fig.subplots(3, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2, 2]})
        self.axes = (ax_rates, ax_queue, ax_p99)
        self.title = fig.suptitle("")
        for ax in self.axes:
            ax.axvspan(model.BURST_START, model.BURST_END, color="#f4a261", alpha=0.15, lw=0)
            ax.grid(alpha=0.3)
            ax.set_xlim(0, model.DURATION)

        (self.line_offered,) = ax_rates.plot([], [], color=_OFFERED, lw=1.2, label="arriving")
        (self.line_admitted,) = ax_rates.plot([], [], color=_ADMITTED, lw=2.2, label="let in")
        (self.line_rejected,) = ax_rates.plot([], [], color=_REJECTED, lw=2, label="rejected: 429")
        (self.line_served,) = ax_rates.plot([], [], color=_SERVED, lw=1.2, ls="--", label="answered")
        ax_rates.axhline(model.CAPACITY, color="black", ls=":", lw=1, label=f"capacity μ = {model.CAPACITY:g}/s")
        ax_rates.set_ylabel("requests per second")
        self.title_rates = ax_rates.set_title("")
        legend_beside(ax_rates, gap=_KEY_GAP)

        self.lines_queue, self.lines_p99 = {}, {}
        for _, policy in POLICY_OPTIONS:
            (self.lines_queue[policy],) = ax_queue.plot([], [], color=_COLOURS[policy], lw=1.5, label=_NAMES[policy])
            (self.lines_p99[policy],) = ax_p99.plot([], [], color=_COLOURS[policy], lw=1.5, label=_NAMES[policy])
        (self.line_backlog,) = ax_queue.plot([], [], color="black", ls=":", lw=1.5, zorder=4,
                                             label="theory, no limit")
        ax_queue.set_yscale("symlog", linthresh=10)
        ax_queue.set_ylim(0, 5000)
        ax_queue.set_ylabel("requests queued\n(log above 10)")
        ax_queue.set_title("The queue: consumer lag, behind each front door (bold: yours)")
        legend_beside(ax_queue, gap=_KEY_GAP)

        ax_p99.set_yscale("log")
        ax_p99.set_ylim(0.1, 300)
        ax_p99.set_ylabel("p99 time inside (s, log)")
        ax_p99.set_xlabel("simulated time (s); shaded: the burst")
        ax_p99.set_title("p99 time inside of the requests answered each second")
        legend_beside(ax_p99, gap=_KEY_GAP)

    def simulate(self, policy, multiple, rate, max_in_flight, seed):
        runs = {"none": model.simulate_cached("none", float(multiple), 0.0, int(seed)),
                "token_bucket": model.simulate_cached("token_bucket", float(multiple), float(rate), int(seed)),
                "concurrency_limit": model.simulate_cached("concurrency_limit", float(multiple),
                                                           float(max_in_flight), int(seed))}
        return {"policy": policy, "runs": runs, "chosen": runs[policy]}

    def draw(self, d):
        ax_rates, ax_queue, ax_p99 = self.axes
        r = d["chosen"]
        self.line_offered.set_data(r.t, r.offered)
        self.line_admitted.set_data(r.t, r.admitted)
        self.line_rejected.set_data(r.t, r.rejected)
        self.line_served.set_data(r.t, r.served)
        ax_rates.set_ylim(0, max(2 * model.CAPACITY, 1.1 * float(np.max(r.offered))))
        for policy, run in d["runs"].items():
            bold = policy == d["policy"]
            self.lines_queue[policy].set_data(run.t, run.queue)
            self.lines_p99[policy].set_data(run.t, run.p99)
            for line in (self.lines_queue[policy], self.lines_p99[policy]):
                line.set_linewidth(3.0 if bold else 1.2)
                line.set_alpha(1.0 if bold else 0.6)
                line.set_zorder(3 if bold else 2)
        self.line_backlog.set_data(*self._backlog(r.multiple))
        door = {"none": "no limit at the door",
                "token_bucket": f"a token bucket, r = {self.params['rate']} req/s, b = {model.BUCKET_BURST}",
                "concurrency_limit": f"at most L = {self.params['max_in_flight']} in flight"}[d["policy"]]
        self.title.set_text(f"Traffic jumps to {r.multiple:g}× normal ({r.multiple * model.NORMAL_RATE:g} req/s) "
                            f"for {model.BURST_SECONDS:g} s · capacity {model.CAPACITY:g} req/s")
        self.title_rates.set_text(f"Your front door: {door}")

    @staticmethod
    def _backlog(multiple):
        """The fluid-limit queue without a limit: growing at λ − μ in the burst, then draining at μ − λ0."""
        t = np.linspace(model.BURST_START, model.DURATION, 200)
        peak = float(model.backlog_theory(multiple, model.BURST_SECONDS))
        grow = model.backlog_theory(multiple, np.minimum(t, model.BURST_END) - model.BURST_START)
        drain = np.maximum(0.0, peak - (model.CAPACITY - model.NORMAL_RATE) * np.maximum(0.0, t - model.BURST_END))
        q = np.where(t < model.BURST_END, grow, drain)
        return t, np.where(q > 0, q, np.nan)

    def describe(self, d):
        r = d["chosen"]
        s = r.summary
        lead = (f"During the burst: <b>{s['offered_per_s']:.0f}</b> req/s arriving, <b>{s['admitted_per_s']:.1f}</b> "
                f"let in, <b>{s['rejected_per_s']:.1f}</b> rejected ({s['rejected_share']:.0%})")
        if d["policy"] == "none":
            growth = s["queue_at_burst_end"] / model.BURST_SECONDS
            queued = s["still_queued"]
            return (f"{lead} · the queue grew about {growth:.0f} a second (theory λ − μ = "
                    f"{max(0.0, r.multiple * model.NORMAL_RATE - model.CAPACITY):g}/s) to "
                    f"<b>{s['queue_at_burst_end']:,.0f}</b> by the burst's end · {queued:,} "
                    f"{plural(queued, 'request')} still queued when the plot ends; draining takes about "
                    f"<b>{model.drain_seconds(r.multiple):,.0f} s</b> (theory)")
        p99 = f"p99 time inside of work let in during the burst <b>{s['p99_inside']:.2f} s</b>"
        if d["policy"] == "token_bucket":
            retry = ("" if np.isnan(s["retry_after_max"]) else
                     f" · each 429 said Retry-After ≤ <b>{s['retry_after_max'] * 1000:.0f} ms</b>")
            return (f"{lead}; the bucket let in {s['admitted']:,} "
                    f"(bound r·t + b = {model.token_bucket_max(r.limit, model.BUCKET_BURST, model.BURST_SECONDS):,.0f})"
                    f"{retry} · queue peak {s['queue_peak']:,.0f} · {p99}")
        return (f"{lead} · queue peak {s['queue_peak']:,.0f} · mean time inside {s['mean_inside']:.2f} s "
                f"(Little's law, saturated: L/μ = {model.littles_law_latency(r.limit):.2f} s) · {p99}")


def rate_limit_dashboard(**settings) -> RateLimitDashboard:
    """Build lesson 08's rate-limit dashboard; keyword arguments preset controls (e.g. ``policy="token_bucket"``)."""
    return RateLimitDashboard(**settings)
