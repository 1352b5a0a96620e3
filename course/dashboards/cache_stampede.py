"""Lesson 08's cache-stampede dashboard: one hot key expires, and the database finds out how many users it has."""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from course.models import cache_stampede as model

from .base import Dashboard, legend_beside, plural

_LOOK = dict(style={"description_width": "170px"}, layout=widgets.Layout(width="400px"))
_SLIDER = dict(continuous_update=False, **_LOOK)

FIX_OPTIONS = [
    ("none (plain cache-aside)", "none"),
    ("request coalescing", "coalescing"),
    ("early expiration (XFetch)", "early"),
    ("XFetch + coalescing", "early_coalescing"),
]
FIX_NAMES = {value: label for label, value in FIX_OPTIONS}
_Y_CALLS = (0.0, 3000.0)
_Y_LATENCY_MS = (0.5, 1000.0)
_CALLS, _EXPIRY, _COLD, _THEORY, _P99, _OVERALL = "#d62828", "#1d3557", "#f4a261", "#6c757d", "#6a4c93", "#2a9d8f"


def theory_calls(fix: str, rate: float, recompute: float) -> float:
    """Database calls per expiry that theory expects for ``fix`` (XFetch's e holds for λδ ≫ 1)."""
    if fix == "none":
        return model.theory_plain_calls(rate, recompute)
    if fix == "early":
        return model.theory_xfetch_calls()
    return 1.0


class CacheStampedeDashboard(Dashboard):
    """Users ask for one hot key at ``rate`` requests a second; the cache holds it for ``ttl_s`` seconds; the
    database takes ``recompute_ms`` to compute it. The cache starts cold.

    Top: database calls per second, and one dot per expiry with its calls.
    Bottom: the users' p99 latency in each second, and over the whole run.
    """

    figsize = (10.0, 6.2)

    def controls(self):
        return {
            "fix": widgets.Dropdown(options=FIX_OPTIONS, value="none", description="Stampede fix", **_LOOK),
            "rate": widgets.IntSlider(1000, min=500, max=2000, step=100, description="Requests per second (λ)",
                                      **_SLIDER),
            "recompute_ms": widgets.IntSlider(200, min=50, max=500, step=50, description="DB recompute δ (ms)",
                                              **_SLIDER),
            "ttl_s": widgets.IntSlider(10, min=5, max=60, step=5, description="TTL (s)", **_SLIDER),
            "seed": widgets.IntSlider(1, min=1, max=20, description="Seed", **_SLIDER),
        }

    def build_figure(self):
        ax_calls, ax_latency = self.figure.subplots(2, 1, sharex=True)
        self.ax_calls, self.ax_latency = ax_calls, ax_latency
        for ax in (ax_calls, ax_latency):
            ax.set_xlim(0, model.DURATION)
            ax.grid(alpha=0.3)
        self.title = self.figure.suptitle("")

        ax_calls.set_yscale("symlog", linthresh=1.0, linscale=0.5)
        ax_calls.set_ylim(*_Y_CALLS)
        ax_calls.yaxis.set_major_locator(FixedLocator([0, 1, 10, 100, 1000]))
        ax_calls.yaxis.set_minor_locator(NullLocator())
        ax_calls.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        (self.line_calls,) = ax_calls.plot([], [], color=_CALLS, lw=1.5, drawstyle="steps-mid",
                                           label="DB calls per second")
        (self.dots,) = ax_calls.plot([], [], "o", color=_EXPIRY, ms=5, label="DB calls of one expiry")
        (self.cold,) = ax_calls.plot([], [], "s", color=_COLD, mec="black", ms=7, label="cold start's DB calls")
        self.line_theory = ax_calls.axhline(np.nan, color=_THEORY, lw=1.2, ls="--", label="theory per expiry")
        ax_calls.set_ylabel("database calls")
        self.title_calls = ax_calls.set_title("")
        legend_beside(ax_calls)

        ax_latency.set_yscale("log")
        ax_latency.set_ylim(*_Y_LATENCY_MS)
        ax_latency.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        (self.line_p99,) = ax_latency.plot([], [], color=_P99, lw=1.5, drawstyle="steps-mid",
                                           label="p99 in each second")
        self.line_overall = ax_latency.axhline(np.nan, color=_OVERALL, lw=2, ls="--", label="p99 over the run")
        ax_latency.axhline(model.CACHE_LATENCY * 1000, color="black", lw=1, ls=":",
                           label=f"a cache hit ({model.CACHE_LATENCY * 1000:g} ms)")
        ax_latency.set_ylabel("users' latency (ms)")
        ax_latency.set_xlabel("simulated time (s)")
        self.title_latency = ax_latency.set_title("")
        legend_beside(ax_latency)

    def simulate(self, fix, rate, recompute_ms, ttl_s, seed):
        return model.simulate_cached(fix, float(rate), recompute_ms / 1000, float(ttl_s), int(seed))

    def draw(self, r):
        self.line_calls.set_data(r.t, r.db_calls)
        starts = np.array([start for start, _ in r.episodes])
        calls = np.array([count for _, count in r.episodes], dtype=float)
        self.cold.set_data(starts[:1], calls[:1])
        self.dots.set_data(starts[1:], calls[1:])
        theory = theory_calls(r.fix, r.rate, r.recompute)
        self.line_theory.set_ydata([theory, theory])
        self.title_calls.set_text(f"What reaches the database: {r.calls_per_expiry:,.1f} calls per expiry "
                                  f"on average (theory {theory:,.1f})")
        self.line_p99.set_data(r.t, r.p99 * 1000)
        overall = r.latency_p99 * 1000
        self.line_overall.set_ydata([overall, overall])
        self.title_latency.set_text(f"What users feel: p99 {overall:,.0f} ms over the run, "
                                    f"{r.hit_ratio:.1%} of requests hit the cache")
        self.title.set_text(f"Fix: {FIX_NAMES[r.fix]} · one hot key, {r.rate:,.0f} requests/s, "
                            f"DB recompute δ = {r.recompute * 1000:g} ms, TTL {r.ttl:g} s")

    def describe(self, r):
        theory = theory_calls(r.fix, r.rate, r.recompute)
        waited = r.waited_total
        return (f"<b>{r.calls_per_expiry:,.1f}</b> database calls per expiry over {r.expiries} "
                f"{plural(r.expiries, 'expiry', 'expiries')} (theory {theory:,.1f}) · cold start: "
                f"<b>{r.cold_calls:,}</b> {plural(r.cold_calls, 'call')} · hit ratio <b>{r.hit_ratio:.1%}</b> · "
                f"users' p99 <b>{r.latency_p99 * 1000:,.0f} ms</b> · {waited:,} of {r.requests:,} "
                f"{plural(r.requests, 'request')} waited on the database")


def cache_stampede_dashboard(**settings) -> CacheStampedeDashboard:
    """Build lesson 08's cache-stampede dashboard; keyword arguments preset controls (e.g. ``fix="early"``)."""
    return CacheStampedeDashboard(**settings)
