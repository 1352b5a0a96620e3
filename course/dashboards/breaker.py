"""Lesson 03's breaker dashboard: B goes down, and A's circuit breaker decides how much of that A feels."""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
from matplotlib.patches import Patch

from course.models import breaker as model
from course.sim.policies import CLOSED, HALF_OPEN, OPEN

from .base import Dashboard, legend_beside, plural

_LOOK = dict(style={"description_width": "172px"}, layout=widgets.Layout(width="400px"))
_SLIDER = dict(continuous_update=False, **_LOOK)
_STATE_COLOURS = {CLOSED: (0.55, 0.80, 0.60), HALF_OPEN: (0.97, 0.75, 0.30), OPEN: (0.84, 0.16, 0.16)}
#: Resolution of the breaker-state band (s per pixel).
_BAND_STEP = 0.25
_FAILURE_TEXT = {"refuse": "down, refusing connections", "hang": "down, hanging (A times out after 1 s)",
                 "slow": f"{model.SLOW_FACTOR:g}× slower (but answering)"}


def state_band(transitions, duration: float, step: float = _BAND_STEP) -> np.ndarray:
    """An RGB row, one pixel per ``step`` seconds, coloured by the breaker's state.

    A pixel that saw any half-open time is half-open (probing is brief, and
    would vanish otherwise); else it is open if the breaker was open for most
    of it; else closed.
    """
    pixels = int(np.ceil(duration / step))
    open_time = np.zeros(pixels)
    probing = np.zeros(pixels, dtype=bool)
    edges = np.arange(pixels + 1) * step
    bounds = [t for t, _ in transitions[1:]] + [duration]
    for (start, state), end in zip(transitions, bounds):
        if end <= start and state != HALF_OPEN:
            continue
        first = int(start // step)
        last = min(pixels - 1, int(max(start, end - 1e-12) // step))
        if state == HALF_OPEN:
            probing[first:last + 1] = True
        elif state == OPEN:
            overlap = np.clip(np.minimum(edges[1:], end) - np.maximum(edges[:-1], start), 0, None)
            open_time += overlap
    colours = np.empty((1, pixels, 3))
    colours[0, :] = _STATE_COLOURS[CLOSED]
    colours[0, open_time > step / 2] = _STATE_COLOURS[OPEN]
    colours[0, probing] = _STATE_COLOURS[HALF_OPEN]
    return colours


def describe_breaker(preset: str, custom: model.Custom) -> str:
    """One line saying what the chosen breaker does."""
    if preset == "none":
        return "No breaker: every call goes to B"
    if preset != "custom":
        described = {
            "resilience4j": "opens at 50% failures over the last 100 calls (min. 100); open 60 s; 10 probes",
            "hystrix": "opens at 50% errors over 10 s (min. 20 requests); open 5 s; 1 probe",
            "polly": "opens at 10% failures over 30 s (min. 100 calls); open 5 s; 1 probe",
            "pybreaker": "opens after 5 failures in a row; open 60 s; 1 probe",
        }
        return f"{model.PRESET_NAMES[preset]} defaults: {described[preset]}"
    kind, size = custom.window
    window = f"the last {size} calls" if kind == "count" else f"the calls of the last {size:g} s"
    bad = f"failed or took ≥ {custom.slow_call_ms:g} ms" if custom.slow_call_ms else "failed"
    probes = f"{custom.half_open_calls} {plural(custom.half_open_calls, 'probe')}"
    minimum = f"min. {custom.minimum_calls} {plural(custom.minimum_calls, 'call')}"
    return (f"Custom: opens when {custom.failure_rate:.0%} of {window} {bad} ({minimum}); "
            f"open {custom.open_wait:g} s; {probes}")


class BreakerDashboard(Dashboard):
    """A calls B 30 times a second; B is in trouble from t = 30 s for as long as you choose.

    Three rows over simulated time: calls that reached B, the breaker's state,
    and how A answered its callers (from B, with the fallback, or failed).
    """

    figsize = (10.0, 6.5)

    def controls(self):
        return {
            "preset": widgets.Dropdown(options=[("no breaker", "none"), ("Resilience4j defaults", "resilience4j"),
                                                ("Hystrix defaults", "hystrix"), ("Polly v8 defaults", "polly"),
                                                ("pybreaker defaults", "pybreaker"),
                                                ("custom (sliders below)", "custom")],
                                       value="resilience4j", description="A's breaker on B", **_LOOK),
            "failure": widgets.Dropdown(options=[("refuses connections", "refuse"), ("hangs", "hang"),
                                                 (f"is {model.SLOW_FACTOR:g}× slower", "slow")],
                                        value="refuse", description="From t = 30 s, B…", **_LOOK),
            "outage_s": widgets.IntSlider(60, min=10, max=90, step=1, description="…for (s)", **_SLIDER),
            "fallback": widgets.Checkbox(True, description="A serves a cached answer when a call fails", indent=False,
                                         layout=widgets.Layout(width="400px")),
            "failure_rate": widgets.IntSlider(50, min=10, max=100, step=5, description="Custom: threshold (%)",
                                              **_SLIDER),
            "window": widgets.Dropdown(options=[("last 5 calls", ("count", 5)), ("last 20 calls", ("count", 20)),
                                                ("last 100 calls", ("count", 100)), ("last 5 s", ("time", 5.0)),
                                                ("last 10 s", ("time", 10.0)), ("last 30 s", ("time", 30.0))],
                                       value=("count", 20), description="Custom: window", **_LOOK),
            "minimum_calls": widgets.IntSlider(10, min=1, max=100, description="Custom: minimum calls", **_SLIDER),
            "open_wait": widgets.IntSlider(10, min=1, max=60, description="Custom: open wait (s)", **_SLIDER),
            "half_open_calls": widgets.IntSlider(3, min=1, max=20, description="Custom: half-open probes", **_SLIDER),
            "slow_call_ms": widgets.Dropdown(options=[("off", 0), ("100 ms", 100), ("250 ms", 250), ("500 ms", 500)],
                                             value=0, description="Custom: slow call ≥", **_LOOK),
        }

    def build_figure(self):
        fig = self.figure
        ax_b, ax_state, ax_a = fig.subplots(3, 1, sharex=True, gridspec_kw={"height_ratios": [3, 0.55, 3]})
        self.axes = (ax_b, ax_state, ax_a)
        self.title = fig.suptitle("")
        self.spans = [ax.axvspan(0, 1, color="#f4a261", alpha=0.18, lw=0) for ax in (ax_b, ax_a)]
        for ax in (ax_b, ax_a):
            ax.grid(alpha=0.3)

        (self.line_b,) = ax_b.plot([], [], color="#1d3557", lw=2, label="calls that reached B")
        self.line_offered = ax_b.axhline(model.RATE, color="grey", ls="--", lw=1,
                                         label="calls A makes\n(all reach B without\na breaker)")
        ax_b.set_ylabel("calls per second")
        ax_b.set_ylim(0, model.RATE * 1.3)
        ax_b.set_title("Calls that reached B (shaded: B in trouble)")
        legend_beside(ax_b)

        self.band = ax_state.imshow(np.zeros((1, 2, 3)), aspect="auto", extent=(0, 1, 0, 1), interpolation="nearest")
        ax_state.set_yticks([])
        ax_state.set_ylabel("breaker", rotation=0, ha="right", va="center")
        states = ((CLOSED, "closed"), (HALF_OPEN, "half-open (probing)"), (OPEN, "open"))
        legend_beside(ax_state, [Patch(color=_STATE_COLOURS[state], label=label) for state, label in states],
                      centre=True)

        (self.line_ok,) = ax_a.plot([], [], color="#2a9d8f", lw=2, label="answered by B")
        (self.line_fallback,) = ax_a.plot([], [], color="#e9c46a", lw=2, label="answered with the fallback")
        (self.line_failed,) = ax_a.plot([], [], color="#d62828", lw=2, label="failed")
        ax_a.set_ylabel("A's answers per second")
        ax_a.set_xlabel("simulated time (s)")
        ax_a.set_ylim(0, model.RATE * 1.3)
        ax_a.set_title("How A answered its callers")
        legend_beside(ax_a)

    def _custom(self, failure_rate, window, minimum_calls, open_wait, half_open_calls, slow_call_ms):
        return model.Custom(failure_rate=failure_rate / 100, window=tuple(window), minimum_calls=minimum_calls,
                            open_wait=float(open_wait), half_open_calls=half_open_calls,
                            slow_call_ms=float(slow_call_ms) if slow_call_ms else None)

    def simulate(self, preset, failure, outage_s, fallback, failure_rate, window, minimum_calls, open_wait,
                 half_open_calls, slow_call_ms):
        custom = (self._custom(failure_rate, window, minimum_calls, open_wait, half_open_calls, slow_call_ms)
                  if preset == "custom" else None)
        return model.simulate_cached(preset, float(outage_s), failure, bool(fallback), custom)

    def draw(self, r):
        ax_b, ax_state, ax_a = self.axes
        start, end = r.outage
        for span in self.spans:
            span.set_x(start)
            span.set_width(end - start)
        ax_b.set_xlim(0, r.duration)
        peak = np.nanmax(np.concatenate([r.b_calls, r.ok_rate, r.fallback_rate, r.failed_rate]))
        top = max(model.RATE * 1.3, 1.15 * float(peak))
        ax_b.set_ylim(0, top)
        ax_a.set_ylim(0, top)
        self.line_b.set_data(r.t, r.b_calls)
        self.line_ok.set_data(r.t, r.ok_rate)
        self.line_fallback.set_data(r.t, r.fallback_rate)
        self.line_failed.set_data(r.t, r.failed_rate)
        transitions = r.transitions or [(0.0, CLOSED)]
        self.band.set_data(state_band(transitions, r.duration))
        self.band.set_extent((0, r.duration, 0, 1))
        p = self.params
        custom = self._custom(p["failure_rate"], p["window"], p["minimum_calls"], p["open_wait"],
                              p["half_open_calls"], p["slow_call_ms"])
        self.title.set_text(f"B is {_FAILURE_TEXT[p['failure']]} from t = {start:g} s to {end:g} s\n"
                            f"{describe_breaker(r.preset, custom)}")

    def describe(self, r):
        s = r.summary
        start, end = r.outage
        if r.preset == "none":
            opened = "no breaker"
        elif np.isnan(s["time_to_open"]):
            opened = "the breaker <b>never opened</b>"
        else:
            opened = f"the breaker opened <b>{s['time_to_open']:.1f} s</b> after B's trouble began"
        if r.preset == "none":
            recovered = ""
        elif np.isinf(s["time_to_recover"]):
            recovered = " · it was <b>still not closed</b> when the run ended"
        elif s["times_opened"] == 0:
            recovered = ""
        else:
            recovered = f" · closed again <b>{s['time_to_recover']:.1f} s</b> after B recovered"
        return (f"{opened} · <b>{s['reached_b_during']:,}</b> of the {s['requests_during']:,} calls made while B "
                f"was in trouble reached it{recovered} · "
                f"answered with the fallback then: <b>{s['fallback_share_during']:.0%}</b>, "
                f"failed: <b>{s['failed_share_during']:.0%}</b>")


def breaker_dashboard(**settings) -> BreakerDashboard:
    """Build lesson 03's breaker dashboard; keyword arguments preset controls (e.g. ``preset="hystrix"``)."""
    return BreakerDashboard(**settings)
