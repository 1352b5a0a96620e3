"""Lesson 03's tail-at-scale dashboard: fan a request out to many leaves and it waits for the slowest."""

from __future__ import annotations

import math

import ipywidgets as widgets
import numpy as np
from matplotlib.ticker import FuncFormatter

from course.models import tail_at_scale as model

from .base import Dashboard, legend_below, plural

_LOOK = dict(style={"description_width": "188px"}, layout=widgets.Layout(width="400px"))
_SLIDER = dict(continuous_update=False, **_LOOK)
FANOUTS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000)
P_SLOW = ((("1 in 10,000"), 1e-4), ("1 in 1,000", 1e-3), ("1 in 100", 1e-2), ("2 in 100", 2e-2), ("5 in 100", 5e-2))
_FANOUT_GRID = np.unique(np.round(np.logspace(0, math.log10(FANOUTS[-1]), 200)))
_X_MS = (3.0, 3000.0)
_SIM, _THEORY, _LEAF = "#d62828", "#1d3557", "#8d99ae"


def _percent(value, _position=None) -> str:
    return f"{value * 100:.3f}".rstrip("0").rstrip(".") + "%"


def _answered_share(q: float) -> str:
    """The share of leaf calls answered within the hedge delay, in words: "95.1%", "over 99.9%"."""
    return f"{q:.1%}" if q < 0.9995 else "over 99.9%"


class TailAtScaleDashboard(Dashboard):
    """One request fans out to n leaves and waits for all of them; a leaf hiccups (1 s) with probability p.

    Left: the share of requests slower than 0.5 s against the fan-out, theory
    and simulation. Right: how the simulated requests' latencies spread, with
    one leaf's for comparison.
    """

    figsize = (10.0, 5.4)

    def controls(self):
        return {
            "fanout": widgets.Dropdown(options=[(f"{n:,}", n) for n in FANOUTS], value=100,
                                       description="Fan-out (leaves per request)", **_LOOK),
            "p_slow": widgets.Dropdown(options=list(P_SLOW), value=1e-2, description="Leaf replies that are slow",
                                       **_LOOK),
            "hedge": widgets.Checkbox(False, description="Hedge: send a second copy of a late leaf call", indent=False,
                                      layout=widgets.Layout(width="400px")),
            "hedge_delay_ms": widgets.IntSlider(23, min=5, max=800, step=1, description="Hedge after (ms)",
                                                **_SLIDER),
        }

    def build_figure(self):
        ax_share, ax_ccdf = self.figure.subplots(1, 2)
        self.axes = (ax_share, ax_ccdf)
        for ax in self.axes:
            ax.grid(alpha=0.3, which="both")

        ax_share.set_xscale("log")
        ax_share.set_xlim(0.8, FANOUTS[-1] * 1.25)
        ax_share.set_ylim(0, 1.05)
        ax_share.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0%}"))
        (self.line_theory,) = ax_share.plot([], [], color=_THEORY, lw=2, label="theory: 1 − (1 − p)ⁿ")
        (self.line_hedged,) = ax_share.plot([], [], color=_THEORY, lw=1.5, ls="--", label="theory, hedged")
        (self.bar,) = ax_share.plot([], [], color=_SIM, lw=1.5)
        (self.dot,) = ax_share.plot([], [], "o", color=_SIM, ms=8, label="simulated (bar: ±2 standard errors)")
        ax_share.set_xlabel("fan-out n (leaves per request, log scale)")
        ax_share.set_ylabel("share of requests slower than 0.5 s")
        ax_share.set_title("Wait for n leaves, and one slow leaf is enough")
        self.legend_share = legend_below(ax_share)

        ax_ccdf.set_xscale("log")
        ax_ccdf.set_yscale("log")
        ax_ccdf.set_xlim(*_X_MS)
        ax_ccdf.set_ylim(1e-4, 1.5)
        ax_ccdf.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax_ccdf.yaxis.set_major_formatter(FuncFormatter(_percent))
        (self.line_leaf,) = ax_ccdf.plot([], [], color=_LEAF, lw=1.5, label="one leaf call (theory)")
        (self.line_requests,) = ax_ccdf.plot([], [], color=_SIM, lw=2, drawstyle="steps-post",
                                             label="requests (simulated)")
        self.line_p99 = ax_ccdf.axvline(np.nan, color=_SIM, ls=":", lw=1.2, label="requests' p99")
        self.line_delay = ax_ccdf.axvline(np.nan, color=_THEORY, ls="--", lw=1, label="hedge delay")
        ax_ccdf.axhline(0.01, color="grey", lw=0.8, alpha=0.6)
        ax_ccdf.set_xlabel("latency (ms, log scale)")
        ax_ccdf.set_ylabel("share slower than this (log scale)")
        self.title_ccdf = ax_ccdf.set_title("")
        self.legend_ccdf = legend_below(ax_ccdf, ncols=2)
        self._leaf_x = np.logspace(math.log10(_X_MS[0]), math.log10(_X_MS[1]), 300)

    def simulate(self, fanout, p_slow, hedge, hedge_delay_ms):
        return model.simulate_cached(int(fanout), float(p_slow), bool(hedge), hedge_delay_ms / 1000)

    def draw(self, r):
        ax_share, ax_ccdf = self.axes
        self.line_theory.set_data(_FANOUT_GRID, model.theory_slow_share(_FANOUT_GRID, r.p_slow))
        q = model.hedged_slow_probability(r.p_slow, r.hedge_delay)
        self.line_hedged.set_data(_FANOUT_GRID, model.theory_slow_share(_FANOUT_GRID, q) if r.hedge else
                                  np.full(_FANOUT_GRID.shape, np.nan))
        self.legend_share.get_texts()[1].set_text(f"theory, hedged after {r.hedge_delay * 1000:g} ms: 1 − (1 − q)ⁿ"
                                                  if r.hedge else "theory, hedged (hedging is off)")
        spread = 2 * math.sqrt(r.theory * (1 - r.theory) / r.requests)
        self.dot.set_data([r.fanout], [r.slow_share])
        self.bar.set_data([r.fanout, r.fanout], [max(0.0, r.slow_share - spread), min(1.0, r.slow_share + spread)])

        n = r.requests
        # The empirical share of requests at least as slow as each one; the line ends at the slowest.
        share_slower = (n - np.arange(n)) / n
        self.line_requests.set_data(r.latencies * 1000, share_slower)
        leaf_share = np.array([1 - model.leaf_cdf(r.p_slow, x / 1000) for x in self._leaf_x])
        self.line_leaf.set_data(self._leaf_x, np.where(leaf_share > 0, leaf_share, np.nan))
        ax_ccdf.set_ylim(min(0.5 / n, 0.5 * r.p_slow), 1.5)
        self.line_p99.set_xdata([r.p99 * 1000] * 2)
        # The delay line shows where a hedge fires, or would fire: pick the delay against the leaf's curve.
        self.line_delay.set_xdata([r.hedge_delay * 1000] * 2)
        self.line_delay.set_alpha(1.0 if r.hedge else 0.4)
        self.legend_ccdf.get_texts()[3].set_text("hedge delay" if r.hedge else "hedge delay (hedging off)")
        load = f"hedged: +{r.extra_load:.1%} leaf requests" if r.hedge else "no hedging"
        self.title_ccdf.set_text(f"{r.requests:,} {plural(r.requests, 'request')} × {r.fanout:,} "
                                 f"{plural(r.fanout, 'leaf', 'leaves')}: p99 {r.p99 * 1000:,.0f} ms\n{load}")

    def describe(self, r):
        hedge = (f" · hedging after {r.hedge_delay * 1000:g} ms (by then {_answered_share(r.hedge_percentile)} of "
                 f"leaf calls have answered) sent <b>{r.extra_load:.1%}</b> more leaf requests" if r.hedge
                 else " · no hedging")
        leaves = plural(r.fanout, "leaf", "leaves")
        return (f"Simulated {r.requests:,} requests, each waiting for {r.fanout:,} {leaves} "
                f"({r.leaf_calls:,} leaf calls): <b>{r.slow_share:.0%}</b> slower than 0.5 s "
                f"(theory {r.theory:.1%}) · p50 {r.p50 * 1000:,.0f} ms, p99 <b>{r.p99 * 1000:,.0f} ms</b>{hedge}")


def tail_at_scale_dashboard(**settings) -> TailAtScaleDashboard:
    """Build lesson 03's fan-out dashboard; keyword arguments preset controls (e.g. ``fanout=2000``)."""
    return TailAtScaleDashboard(**settings)
