"""Lesson 08's load-balancing dashboard: one of twenty replicas is sick; where does the proxy send traffic?"""

from __future__ import annotations

import functools

import ipywidgets as widgets
import numpy as np
from matplotlib.ticker import FuncFormatter

from course.models import load_balancing as model
from course.sim import _validate

from .base import Dashboard, legend_below, plural

_LOOK = dict(style={"description_width": "180px"}, layout=widgets.Layout(width="425px"))
_SLIDER = dict(continuous_update=False, **_LOOK)
POLICY_OPTIONS = [("round robin", "round_robin"), ("random", "random"),
                  ("least outstanding requests", "least_outstanding"), ("power of two choices", "two_choices")]
POLICY_NAMES = {value: label for label, value in POLICY_OPTIONS}
_HEALTHY, _SICK, _P99, _TIMEOUT, _EJECTED = "#8d99ae", "#d62828", "#1d3557", "#6c757d", "#2a9d8f"
#: The sick replica as the dashboard numbers them (1 to 20).
SICK_LABEL = model.SICK + 1


@functools.lru_cache(maxsize=128)
def run(policy: str, ejection: bool, sick_factor: int, load_pct: int, seed: int) -> model.FleetResult:
    """One :func:`course.models.load_balancing.fleet_run`, memoised per setting (load in whole percent)."""
    return model.fleet_run(policy, ejection, sick_factor, load_pct / 100, seed)


def simulate(policy: str = "round_robin", ejection: bool = False, sick_factor: int = 10, load: float = 0.6,
             seed: int = 1) -> model.FleetResult:
    """The dashboard's data: one 30 s run of the fleet at these settings."""
    _validate.one_of("policy", policy, model.POLICIES)
    _validate.integer_at_least("sick_factor", sick_factor, 1)
    if not 0 < _validate._number("load", load) < 1:
        raise ValueError(f"load must be a utilisation in (0, 1), got {load!r}")
    _validate.integer_at_least("seed", seed, 0)
    return run(policy, bool(ejection), int(sick_factor), int(round(load * 100)), int(seed))


class LoadBalancingDashboard(Dashboard):
    """Twenty replicas behind a proxy; replica 7 does everything ``sick_factor`` times slower.

    Left: each replica's share of the requests, the sick one in red, against
    the fair share of 1 in 20. Right: the p99 latency second by second, the
    proxy's 500 ms timeout, and when outlier ejection took the sick replica
    out of rotation.
    """

    figsize = (10.0, 5.4)

    def controls(self):
        return {
            "policy": widgets.Dropdown(options=POLICY_OPTIONS, value="round_robin", description="Balancer",
                                       **_LOOK),
            "ejection": widgets.Checkbox(False, description="Outlier ejection (5 errors in a row: out 30 s)",
                                         indent=False, layout=widgets.Layout(width="425px")),
            "sick_factor": widgets.IntSlider(10, min=1, max=20, step=1,
                                             description=f"Replica {SICK_LABEL} is slower by (×)", **_SLIDER),
            "load": widgets.FloatSlider(0.6, min=0.1, max=0.9, step=0.05, readout_format=".2f",
                                        description="Load (healthy utilisation)", **_SLIDER),
            "seed": widgets.IntSlider(1, min=1, max=20, step=1, description="Seed", **_SLIDER),
        }

    def build_figure(self):
        ax_share, ax_p99 = self.figure.subplots(1, 2)
        self.axes = (ax_share, ax_p99)
        ax_share.grid(alpha=0.3, axis="y")
        ax_p99.grid(alpha=0.3)

        replicas = np.arange(1, model.REPLICAS + 1)
        colours = [_SICK if r == SICK_LABEL else _HEALTHY for r in replicas]
        self.bars = ax_share.bar(replicas, np.zeros(model.REPLICAS), color=colours, width=0.75)
        self.fair = ax_share.axhline(1 / model.REPLICAS, color="black", ls="--", lw=1.2,
                                     label=f"fair share: 1 in {model.REPLICAS}")
        ax_share.set_xlim(0.3, model.REPLICAS + 0.7)
        ax_share.set_xticks([1, 5, SICK_LABEL, 10, 15, 20])
        ax_share.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0%}" if v >= 0.1 or v == 0
                                                         else f"{v:.1%}".replace(".0%", "%")))
        ax_share.set_xlabel(f"replica (red: replica {SICK_LABEL}, the sick one)")
        ax_share.set_ylabel("share of the requests sent to it")
        self.title_share = ax_share.set_title("")
        handles = [self.bars.patches[0], self.bars.patches[model.SICK], self.fair]
        legend_below(ax_share, handles, ["a healthy replica", f"replica {SICK_LABEL} (sick)",
                                         f"fair share: 1 in {model.REPLICAS}"], ncols=2)

        ax_p99.set_xlim(0, model.DURATION)
        ax_p99.set_ylim(0, model.TIMEOUT * 1000 * 1.15)
        (self.line_p99,) = ax_p99.plot([], [], color=_P99, lw=2, drawstyle="steps-mid",
                                       label="p99 of the requests that arrived that second")
        self.line_timeout = ax_p99.axhline(model.TIMEOUT * 1000, color=_TIMEOUT, ls=":", lw=1.5,
                                           label=f"the proxy's timeout ({model.TIMEOUT * 1000:.0f} ms)")
        self.span = ax_p99.axvspan(0, 0, color=_EJECTED, alpha=0.15, lw=0,
                                   label=f"replica {SICK_LABEL} ejected")
        ax_p99.set_xlabel("time (s)")
        ax_p99.set_ylabel("p99 latency (ms)")
        self.title_p99 = ax_p99.set_title("")
        legend_below(ax_p99)

    def simulate(self, policy, ejection, sick_factor, load, seed):
        return simulate(policy, ejection, sick_factor, load, seed)

    def draw(self, r: model.FleetResult):
        ax_share, ax_p99 = self.axes
        shares = r.shares
        for bar, share in zip(self.bars.patches, shares):
            bar.set_height(share)
        ax_share.set_ylim(0, max(0.08, 1.2 * shares.max()))
        name = POLICY_NAMES[r.policy] + (" + ejection" if r.ejection else "")
        self.title_share.set_text(f"{name}, load {r.load:.0%}: replica {SICK_LABEL} "
                                  f"({r.sick_factor:.0f}× slower)\ngot {r.sick_share:.1%} of {r.requests:,} "
                                  f"{plural(r.requests, 'request')} in {model.DURATION:.0f} s")

        t, p99 = r.p99_series()
        self.line_p99.set_data(t, p99 * 1000)
        first = r.first_ejection
        if first is None:
            self.span.set_visible(False)
        else:
            seconds = next(s for when, host, s in r.ejections if host == model.SICK)
            end = min(first + seconds, model.DURATION)
            self.span.set_x(first)
            self.span.set_width(end - first)
            self.span.set_visible(True)
        self.title_p99.set_text(f"p99 over the run: {r.p99 * 1000:,.0f} ms; "
                                f"{r.error_rate:.1%} of requests timed out\n"
                                + (f"replica {SICK_LABEL} ejected at {first:.1f} s" if first is not None
                                   else ("no ejection" if r.ejection else "ejection off")))

    def describe(self, r: model.FleetResult) -> str:
        errors = int((~r.ok).sum())
        text = (f"<b>{POLICY_NAMES[r.policy]}</b>{' with outlier ejection' if r.ejection else ''}: "
                f"replica {SICK_LABEL} (×{r.sick_factor:.0f} slower) got <b>{r.sick_share:.1%}</b> of the "
                f"requests (a fair share is {1 / model.REPLICAS:.0%}); {errors:,} {plural(errors, 'request')} "
                f"({r.error_rate:.1%}) timed out; p99 <b>{r.p99 * 1000:,.0f} ms</b>, median "
                f"{r.p50 * 1000:,.0f} ms.")
        if r.first_ejection is not None:
            text += f" Ejected after 5 errors in a row, at {r.first_ejection:.1f} s."
        return text


def load_balancing_dashboard(**settings) -> LoadBalancingDashboard:
    """Build lesson 08's load-balancing dashboard; keyword arguments preset controls (e.g. ``policy="two_choices"``)."""
    return LoadBalancingDashboard(**settings)
