"""The queueing dashboard: latency explodes as utilisation approaches 1."""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from course.models import utilisation as model

from .base import Dashboard, legend_below

_SLIDER = dict(continuous_update=False, style={"description_width": "170px"}, layout=widgets.Layout(width="400px"))
#: The y range (in units of S) stays fixed, so the points visibly climb as ρ grows.
Y_RANGE = (0.8, 400.0)
_TICKS = [1, 2, 5, 10, 20, 50, 100, 200]
_SIM_COLOUR = "#d62828"
_THEORY_COLOUR = "#1d3557"
#: M/M/1 for comparison: dashed, drawn over the M/M/c lines in a colour of its own, so with one worker
#: (where the two coincide) its dashes still show on the M/M/c line.
_MM1_COLOUR = "#f4a261"


def _plain(value, _position=None) -> str:
    return f"{value:,.0f}" if value >= 1 else f"{value:.1f}"


def _duration(ms, _position=None) -> str:
    """A tick of the right-hand axis: "500 ms", "2 s", "1.5 s" (three significant digits)."""
    return f"{ms:.3g} ms" if ms < 1000 else f"{ms / 1000:.3g} s"


def _set_log_ticks(axis, ticks, formatter=_plain) -> None:
    axis.set_major_locator(FixedLocator(ticks))
    axis.set_major_formatter(FuncFormatter(formatter))
    axis.set_minor_locator(NullLocator())


class UtilisationDashboard(Dashboard):
    """One M/M/c queue: mean and p99 response time (in units of the service time S) against utilisation ρ.

    Lines are theory (M/M/c by Erlang C, and M/M/1 for comparison); the two
    red markers are a short simulation at the chosen ρ.
    """

    figsize = (9.0, 5.8)

    def controls(self):
        return {
            "rho": widgets.FloatSlider(0.5, min=0.1, max=0.98, step=0.01, readout_format=".2f",
                                       description="Utilisation ρ", **_SLIDER),
            "workers": widgets.IntSlider(1, min=1, max=16, description="Workers c", **_SLIDER),
            "service_ms": widgets.IntSlider(50, min=1, max=1000, description="Mean service time S (ms)", **_SLIDER),
        }

    def build_figure(self):
        ax = self.figure.subplots()
        self.ax = ax
        ax.set_yscale("log")
        ax.set_xlim(0, 1)
        ax.set_ylim(*Y_RANGE)
        _set_log_ticks(ax.yaxis, _TICKS)
        ax.grid(alpha=0.3)
        ax.set_xlabel("utilisation ρ = arrival rate × S / workers")
        ax.set_ylabel("response time / mean service time (W / S)")
        ax.set_title("Latency explodes as utilisation approaches 1")

        (self.line_mm1,) = ax.plot([], [], color=_MM1_COLOUR, lw=2, ls=(0, (4, 3)), zorder=2.5,
                                   label="theory, M/M/1: mean = 1 / (1 − ρ)")
        (self.line_mmc,) = ax.plot([], [], color=_THEORY_COLOUR, lw=2.5, label="theory, mean")
        (self.line_mmc99,) = ax.plot([], [], color=_THEORY_COLOUR, lw=1.2, ls=":", label="theory, p99")
        self.line_rho = ax.axvline(np.nan, color=_SIM_COLOUR, lw=0.8, alpha=0.4)
        (self.link,) = ax.plot([], [], color=_SIM_COLOUR, lw=1, alpha=0.6)
        (self.dot_mean,) = ax.plot([], [], "o", color=_SIM_COLOUR, ms=8, label="simulated, mean")
        (self.dot_p99,) = ax.plot([], [], "^", color=_SIM_COLOUR, ms=8, mfc="white", mew=1.5, label="simulated, p99")
        note = dict(xytext=(-10, 0), textcoords="offset points", ha="right", va="center",
                    color=_SIM_COLOUR, bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.8))
        self.note_mean = ax.annotate("", (np.nan, np.nan), **note)
        self.note_p99 = ax.annotate("", (np.nan, np.nan), **note)

        self.ax_ms = ax.twinx()
        self.ax_ms.set_yscale("log")
        self.ax_ms.set_ylabel("response time when S = 50 ms")
        self.legend = legend_below(ax, ncols=2)

    def simulate(self, **params):
        return model.simulate(**params)

    def draw(self, r):
        rho, mean, p99, mm1 = model.theory_curves(r.workers)
        self.line_mm1.set_data(rho, mm1)
        self.line_mmc.set_data(rho, mean)
        self.line_mmc99.set_data(rho, p99)
        workers = "1 worker" if r.workers == 1 else f"{r.workers} workers"
        texts = self.legend.get_texts()  # same order as the handles in build_figure
        texts[0].set_text("theory, M/M/1: mean = 1 / (1 − ρ)" + (", the same as M/M/c with 1 worker"
                                                                  if r.workers == 1 else ""))
        texts[1].set_text(f"theory, M/M/c with {workers}: mean")
        texts[2].set_text(f"theory, M/M/c with {workers}: p99")

        self.line_rho.set_xdata([r.rho, r.rho])
        self.link.set_data([r.rho, r.rho], [r.mean_ratio, r.p99_ratio])
        self.dot_mean.set_data([r.rho], [r.mean_ratio])
        self.dot_p99.set_data([r.rho], [r.p99_ratio])
        left = r.rho < 0.3  # near the left edge the labels go on the right of the markers
        for note, value, text in ((self.note_mean, r.mean_ratio, f"mean {r.mean_ratio:.1f}×"),
                                  (self.note_p99, r.p99_ratio, f"p99 {r.p99_ratio:.0f}×")):
            note.xy = (r.rho, value)
            note.xyann = (10, 0) if left else (-10, 0)
            note.set_horizontalalignment("left" if left else "right")
            note.set_text(text)

        self.ax_ms.set_ylim(Y_RANGE[0] * r.service_ms, Y_RANGE[1] * r.service_ms)
        _set_log_ticks(self.ax_ms.yaxis, [t * r.service_ms for t in _TICKS], _duration)
        self.ax_ms.set_ylabel(f"response time when S = {r.service_ms:g} ms")

    def describe(self, r):
        s = r.service_ms
        return (f"ρ = <b>{r.rho:.2f}</b> with {r.workers} worker{'s' if r.workers > 1 else ''}: "
                f"theory says mean W/S = <b>{r.theory_ratio:.2f}</b> (one worker: {r.mm1_ratio:.1f}) · "
                f"simulated over {r.measured:,} requests: mean <b>{r.mean_ratio:.2f}</b> × S = {r.mean_ratio * s:,.0f} ms, "
                f"p99 <b>{r.p99_ratio:.1f}</b> × S = {r.p99_ratio * s:,.0f} ms · "
                f"{r.wait_share:.0%} of requests had to queue")


def utilisation_dashboard(**settings) -> UtilisationDashboard:
    """Build the utilisation dashboard; keyword arguments preset controls (e.g. ``rho=0.9, workers=1``)."""
    return UtilisationDashboard(**settings)
