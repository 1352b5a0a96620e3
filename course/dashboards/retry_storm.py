"""Lesson 02's retry-storm dashboard: layers retrying layers, and what reaches the bottom."""

from __future__ import annotations

from functools import lru_cache

import ipywidgets as widgets
import numpy as np
from matplotlib.ticker import FuncFormatter

from course.models import retry_amplification as model

from .base import Dashboard, legend_below

_LOOK = dict(style={"description_width": "184px"}, layout=widgets.Layout(width="380px"))
_SLIDER = dict(continuous_update=False, **_LOOK)
_CHECK = dict(indent=False, layout=widgets.Layout(width="380px"))
MAX_LAYERS = 4
MAX_ATTEMPTS = 5
#: One colour per layer, top (light) to bottom (dark red).
_COLOURS = ("#f4a261", "#e76f51", "#c1121f", "#6a040f")
#: The y range of both panels: a fixed log scale, so the storm's height reads at a glance.
_Y_MAX = 10_000.0


def _plain(value, _position=None) -> str:
    return f"{value:,.0f}" if value >= 1 else f"{value:g}"


@lru_cache(maxsize=128)
def _simulate(layers: int, attempts: int, budget: bool, no_retry: bool):
    return model.simulate(layers=layers, attempts=attempts, budget=budget, no_retry=no_retry)


class RetryStormDashboard(Dashboard):
    """Users → layer 1 → … → layer L; layer L fails from t = 10 s to t = 20 s and every hop retries.

    Left: calls per second reaching each layer over time (log scale). Right:
    calls reaching each layer per user request while the bottom fails,
    measured, against attempts^k with no defences.
    """

    figsize = (10.0, 5.4)

    def controls(self):
        return {
            "layers": widgets.IntSlider(3, min=1, max=MAX_LAYERS, description="Layers (retrying hops)", **_SLIDER),
            "attempts": widgets.IntSlider(4, min=1, max=MAX_ATTEMPTS, description="Attempts per hop (incl. 1st)",
                                          **_SLIDER),
            "budget": widgets.Checkbox(False, description="Every client has a 10% retry budget", **_CHECK),
            "no_retry": widgets.Checkbox(False, description="Upper layers answer \"overloaded; don't retry\"",
                                         **_CHECK),
        }

    def build_figure(self):
        ax_time, ax_bars = self.figure.subplots(1, 2, width_ratios=(1.6, 1))
        self.ax_time, self.ax_bars = ax_time, ax_bars
        self.span = ax_time.axvspan(*model.FAILURE, color="#adb5bd", alpha=0.25, lw=0)
        self.lines = []
        for k in range(MAX_LAYERS):
            (line,) = ax_time.plot([], [], color=_COLOURS[k], lw=2, label=f"layer {k + 1}")
            self.lines.append(line)
        (self.line_offered,) = ax_time.plot([], [], color="black", lw=1.2, ls="--", label="user requests")
        ax_time.set_yscale("log")
        ax_time.set_ylim(1, _Y_MAX)
        ax_time.yaxis.set_major_formatter(FuncFormatter(_plain))
        ax_time.set_xlim(0, model.DURATION)
        ax_time.set_xlabel("simulated time (s)")
        ax_time.set_ylabel("calls per second (log scale)")
        ax_time.set_title("Calls reaching each layer (shaded: the bottom layer fails)")
        ax_time.grid(alpha=0.3)
        self.legend = legend_below(ax_time, ncols=3)

        x = np.arange(MAX_LAYERS)
        self.bars = ax_bars.bar(x, np.ones(MAX_LAYERS), color=_COLOURS, width=0.6, label="measured")
        (self.theory,) = ax_bars.plot(x, np.ones(MAX_LAYERS), "_", color="black", ms=26, mew=2.5,
                                      label="no defences: attemptsᵏ")
        self.bar_labels = [ax_bars.text(i, 1, "", ha="center", va="bottom") for i in x]
        self.theory_labels = [ax_bars.text(i + 0.33, 1, "", ha="left", va="center", color="#495057") for i in x]
        ax_bars.set_yscale("log")
        ax_bars.set_ylim(0.8, _Y_MAX)
        ax_bars.yaxis.set_major_formatter(FuncFormatter(_plain))
        ax_bars.set_xticks(x)
        ax_bars.set_xlim(-0.6, MAX_LAYERS - 0.2)  # room for the last theory label
        ax_bars.set_xlabel("layer (top to bottom)")
        ax_bars.set_ylabel("calls per user request (log scale)")
        ax_bars.set_title("While the bottom fails")
        ax_bars.grid(alpha=0.3, axis="y")
        legend_below(ax_bars)

    def simulate(self, layers, attempts, budget, no_retry):
        return _simulate(layers, attempts, budget, no_retry)

    def draw(self, r):
        layers = r.layers
        for k, line in enumerate(self.lines):
            if k < layers:
                line.set_data(r.t, np.where(r.arrivals[k] > 0, r.arrivals[k], np.nan))
                line.set_label(f"layer {k + 1}" + (" (fails)" if k == layers - 1 else ""))
            else:
                line.set_data([], [])
                line.set_label("_hidden")
        self.line_offered.set_data(r.t, r.offered)
        handles = self.lines[:layers] + [self.line_offered]
        self.legend.remove()
        self.legend = legend_below(self.ax_time, handles, ncols=3)
        theory = np.full(MAX_LAYERS, np.nan)
        theory[:layers] = r.theory
        self.theory.set_ydata(theory)
        for k, (bar, label, note) in enumerate(zip(self.bars, self.bar_labels, self.theory_labels)):
            shown = k < layers
            value = r.amplification[k] if shown else np.nan
            bar.set_visible(shown)
            bar.set_height(value if shown else 1)
            label.set_visible(shown)
            note.set_visible(shown)
            if shown:
                label.set_position((k, value * 1.08))
                label.set_text(f"{value:,.2f}×" if value < 10 else f"{value:,.0f}×")
                note.set_position((k + 0.33, r.theory[k]))
                note.set_text(f"{r.theory[k]:,.0f}")
        self.ax_bars.set_xticks(np.arange(MAX_LAYERS),
                                [f"{k + 1}" + (" (fails)" if k == layers - 1 else "") if k < layers else ""
                                 for k in range(MAX_LAYERS)])

    def describe(self, r):
        s = r.summary
        bottom = r.amplification[-1]
        theory = r.theory[-1]
        attempts = self.params["attempts"]
        return (f"While layer {r.layers} fails, it receives <b>{bottom:,.2f}</b> calls per user request "
                f"(no defences: {attempts}<sup>{r.layers}</sup> = {theory:,.0f}) · "
                f"user requests that still fail: <b>{s['top_failure_share']:.0%}</b> · "
                f"mean time to give up: <b>{s['mean_latency_failing'] * 1000:,.0f} ms</b>")


def retry_storm_dashboard(**settings) -> RetryStormDashboard:
    """Build lesson 02's retry-storm dashboard; keyword arguments preset controls (e.g. ``budget=True``)."""
    return RetryStormDashboard(**settings)
