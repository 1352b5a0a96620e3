"""Lesson 06's test-portfolio dashboard: how many tests at each layer, and what that buys and costs.

Each update pushes the chosen number of changes through
:func:`course.models.portfolio.simulate` with the tests per build the
learner set (or a preset from :data:`course.models.portfolio.PRESETS`).
Top left: the bugs each layer caught first, stacked by kind, and the ones that
escaped to production, with the long-run expectation marked. Top right: the
minutes from a push until each layer reports, and the mean time to feedback
for a caught bug. Bottom: the red builds with no bug behind them against the
number of end-to-end tests (the other layers as set), the theory as lines and
this period's simulation as dots.

Picking a preset loads its numbers into the sliders; moving a slider away from
them makes the portfolio "custom".
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import ipywidgets as widgets
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator, PercentFormatter

from course.models import portfolio as model

from .base import Dashboard, legend_below, plural

_LOOK = dict(style={"description_width": "190px"}, layout=widgets.Layout(width="420px"))
_SLIDER = dict(continuous_update=False, **_LOOK)
CUSTOM = "custom"
PRESET_OPTIONS = (("pyramid", "pyramid"), ("ice-cream cone", "ice-cream cone"),
                  ("no contract tests", "no contract tests"), ("custom (your sliders)", CUSTOM))
#: Slider ranges (tests per build) for each layer.
RANGES = {"unit": (0, 200, 5), "component": (0, 60, 1), "contract": (0, 40, 1), "integration": (0, 40, 1),
          "e2e": (0, 150, 1)}
_DESCRIPTIONS = {"unit": "Unit tests per build", "component": "Component tests per build",
                 "contract": "Contract tests per build", "integration": "Integration tests per build",
                 "e2e": "End-to-end tests per build"}
E2E_GRID = np.arange(RANGES["e2e"][1] + 1)
_KIND_COLOURS = {"logic": "#457b9d", "contract": "#e76f51", "wiring": "#e9c46a", "interaction": "#6a4c93"}
_LAYER_LABELS = ("unit", "compo-\nnent", "contract", "inte-\ngration", "end-to-\nend")
_FLAKY, _NO_BUG = "#d62828", "#1d3557"


@dataclass
class Portfolio:
    """One update: the simulated period and, for the bottom panel, the theory across e2e test counts."""

    run: model.PortfolioResult
    flaky_curve: np.ndarray        # P(build red with no bug) for E2E_GRID end-to-end tests
    no_bug_curve: np.ndarray       # P(no bug | build red) for E2E_GRID


def simulate(unit: int, component: int, contract: int, integration: int, e2e: int, e2e_flakiness: float,
             services: int, changes: int, seed: int, bug_rate: float = 0.1) -> Portfolio:
    """Run the model at these settings (``e2e_flakiness`` is a probability per run) and sweep the e2e count."""
    tests = {"unit": unit, "component": component, "contract": contract, "integration": integration, "e2e": e2e}
    flakiness = {"e2e": e2e_flakiness}
    run = model.simulate(tests, services=services, changes=changes, bug_rate=bug_rate, flakiness=flakiness, seed=seed)
    flaky, no_bug = model.red_builds_across("e2e", E2E_GRID, tests, services=services, bug_rate=bug_rate,
                                            flakiness=flakiness)
    return Portfolio(run, flaky, no_bug)


#: A memo per setting: revisiting a setting is instant (the benchmark clears it to time cold updates).
simulate_cached = lru_cache(maxsize=128)(simulate)


def _short_minutes(value: float) -> str:
    """A bar label: minutes without the unit (the axis names it)."""
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}"


def _minutes(value: float) -> str:
    if value >= 90:
        return f"{value / 60:.1f} h"
    return f"{value:.0f} min" if value >= 10 else f"{value:.1f} min"


class TestPortfolioDashboard(Dashboard):
    """Tests per layer in, bugs caught and escaped, pipeline minutes and flaky red builds out."""

    __test__ = False  # a course class, not a pytest test class
    figsize = (10.0, 7.8)

    def __init__(self, **overrides):
        # A preset given here loads its numbers, as choosing it in the dropdown does; numbers given as well win,
        # and then the portfolio is custom unless they are the preset's.
        preset = overrides.get("preset", PRESET_OPTIONS[0][1])
        if preset in model.PRESETS:
            counts = {**model.PRESETS[preset], **{k: v for k, v in overrides.items() if k in model.LAYERS}}
            overrides = {**overrides, **counts}
            if counts != model.PRESETS[preset]:
                overrides["preset"] = CUSTOM
        self._syncing = False
        super().__init__(**overrides)

    def controls(self):
        pyramid = model.PRESETS["pyramid"]
        controls = {"preset": widgets.Dropdown(options=list(PRESET_OPTIONS), value="pyramid",
                                               description="Test portfolio", **_LOOK)}
        for layer in model.LAYERS:
            low, high, step = RANGES[layer]
            controls[layer] = widgets.IntSlider(pyramid[layer], min=low, max=high, step=step,
                                                description=_DESCRIPTIONS[layer], **_SLIDER)
        e2e_flakiness = model.ASSUMPTIONS["layers"]["e2e"]["flakiness"] * 100
        controls["e2e_flakiness"] = widgets.FloatSlider(e2e_flakiness, min=0.0, max=5.0, step=0.1,
                                                        readout_format=".1f",
                                                        description="E2E test: runs that flake (%)", **_SLIDER)
        controls["services"] = widgets.IntSlider(10, min=2, max=50, description="Services", **_SLIDER)
        controls["changes"] = widgets.IntSlider(1000, min=200, max=5000, step=100,
                                                description="Changes (one build each)", **_SLIDER)
        controls["seed"] = widgets.IntSlider(1, min=1, max=20, description="Seed", **_SLIDER)
        return controls

    # -- presets and sliders stay consistent ----------------------------------------------------
    def _counts(self) -> dict:
        return {layer: self.controls_by_name[layer].value for layer in model.LAYERS}

    def _quietly(self, **values) -> None:
        """Move controls without an update and without reacting to the move."""
        syncing, muted = self._syncing, self._muted
        self._syncing = self._muted = True
        try:
            for name, value in values.items():
                self.controls_by_name[name].value = value
        finally:
            self._syncing, self._muted = syncing, muted

    def _on_change(self, change) -> None:
        if not self._syncing:
            preset = self.controls_by_name["preset"]
            if change["owner"] is preset:
                if change["new"] in model.PRESETS:
                    self._quietly(**model.PRESETS[change["new"]])
            elif preset.value in model.PRESETS and self._counts() != model.PRESETS[preset.value]:
                self._quietly(preset=CUSTOM)
        super()._on_change(change)

    def set(self, **values) -> None:
        """As :meth:`Dashboard.set`, with the preset applied first, so numbers given beside it win."""
        if "preset" in values:
            values = {"preset": values.pop("preset"), **values}
        super().set(**values)

    def widget(self) -> widgets.Widget:
        """The portfolio on the left, the organisation on the right, then the plot and the summary."""
        c = self.controls_by_name
        left = [c["preset"]] + [c[layer] for layer in model.LAYERS]
        right = [c["e2e_flakiness"], c["services"], c["changes"], c["seed"]]
        return widgets.VBox([widgets.HBox([widgets.VBox(left), widgets.VBox(right)]), self.image, self.status])

    # -- the figure -----------------------------------------------------------------------------
    def build_figure(self):
        axes = self.figure.subplot_mosaic([["bugs", "time"], ["flaky", "flaky"]], width_ratios=(1.35, 1),
                                          height_ratios=(1.15, 1))
        ax_bugs, ax_time, ax_flaky = axes["bugs"], axes["time"], axes["flaky"]
        self.ax_bugs, self.ax_time, self.ax_flaky = ax_bugs, ax_time, ax_flaky
        self.title = self.figure.suptitle("")

        columns = len(model.LAYERS) + 1
        x = np.arange(columns)
        self.kind_bars = {}
        for kind in model.KINDS:
            self.kind_bars[kind] = ax_bugs.bar(x, np.zeros(columns), width=0.65, color=_KIND_COLOURS[kind],
                                               label=kind)
        (self.expected_marks,) = ax_bugs.plot(x, np.zeros(columns), ls="none", marker="D", ms=6, color="black",
                                              label="expected (long run)")
        self.bug_texts = [ax_bugs.text(i, 0, "", ha="center", va="bottom") for i in x]
        self.escaped_span = ax_bugs.axvspan(columns - 1.5, columns - 0.5, color="#f8d7da", lw=0, zorder=0)
        ax_bugs.set_xticks(x, list(_LAYER_LABELS) + ["escaped"])
        ax_bugs.set_xlim(-0.5, columns - 0.5)
        ax_bugs.set_xlabel("the layer that caught it first")
        ax_bugs.set_ylabel("bugs in the period")
        ax_bugs.yaxis.set_major_locator(MaxNLocator(5, steps=[1, 2, 2.5, 5, 10], integer=True))
        ax_bugs.grid(axis="y", alpha=0.3)
        legend_below(ax_bugs, [self.kind_bars[kind] for kind in model.KINDS] + [self.expected_marks], ncols=3)

        xl = np.arange(len(model.LAYERS))
        self.time_bars = ax_time.bar(xl, np.zeros(len(model.LAYERS)), width=0.65, color="#8d99ae",
                                     label="the layer reports")
        self.time_texts = [ax_time.text(i, 0, "", ha="center", va="bottom") for i in xl]
        self.feedback_line = ax_time.axhline(0, color="#d62828", ls="--", lw=2,
                                             label="mean time to feedback")
        ax_time.set_xticks(xl, _LAYER_LABELS)
        ax_time.set_xlim(-0.5, len(model.LAYERS) - 0.5)
        ax_time.set_xlabel("layer, in pipeline order")
        ax_time.set_ylabel("minutes after the push")
        ax_time.yaxis.set_major_locator(MaxNLocator(5, steps=[1, 2, 2.5, 5, 10]))
        ax_time.grid(axis="y", alpha=0.3)
        legend_below(ax_time)

        (self.flaky_line,) = ax_flaky.plot(E2E_GRID, np.zeros(E2E_GRID.size), color=_FLAKY, lw=2,
                                           label="builds red with no bug: 1 − Π(1 − p)ᵏ")
        (self.no_bug_line,) = ax_flaky.plot(E2E_GRID, np.zeros(E2E_GRID.size), color=_NO_BUG, lw=2,
                                            label="red builds that had no bug")
        (self.flaky_dot,) = ax_flaky.plot([], [], ls="none", marker="o", ms=8, color=_FLAKY)
        (self.no_bug_dot,) = ax_flaky.plot([], [], ls="none", marker="o", ms=8, color=_NO_BUG)
        self.current = ax_flaky.axvline(0, color="#6c757d", ls=":", lw=1.5)
        simulated = Line2D([], [], ls="none", marker="o", ms=8, color="#495057", label="simulated")
        ax_flaky.set_xlim(-0.02 * E2E_GRID[-1], 1.02 * E2E_GRID[-1])  # room for a dot at either end
        ax_flaky.set_ylim(0, 1.05)
        ax_flaky.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax_flaky.set_xlabel("end-to-end tests per build (other layers as set; dotted: yours)")
        ax_flaky.set_ylabel("share")
        ax_flaky.set_title("Red builds with no bug behind them (lines: theory)")
        ax_flaky.grid(alpha=0.3)
        legend_below(ax_flaky, [self.flaky_line, self.no_bug_line, simulated], ncols=3)

    def simulate(self, preset, unit, component, contract, integration, e2e, e2e_flakiness, services, changes, seed):
        return simulate_cached(int(unit), int(component), int(contract), int(integration), int(e2e),
                               round(float(e2e_flakiness) / 100, 6), int(services), int(changes), int(seed))

    def draw(self, p):
        r, expected = p.run, p.run.theory
        layers = len(model.LAYERS)
        counts = np.vstack([r.caught, r.escaped[None, :]])            # (columns, kinds)
        expected_counts = np.concatenate([expected.caught.sum(axis=1), [expected.escaped.sum()]])
        bottom = np.zeros(layers + 1)
        for j, kind in enumerate(model.KINDS):
            for bar, base, height in zip(self.kind_bars[kind], bottom, counts[:, j]):
                bar.set_y(base)
                bar.set_height(height)
            bottom = bottom + counts[:, j]
        self.expected_marks.set_ydata(expected_counts)
        top = max(float(bottom.max()), float(expected_counts.max()), 1.0)
        for i, text in enumerate(self.bug_texts):
            text.set(y=max(bottom[i], expected_counts[i]) + 0.03 * top, text=f"{int(bottom[i])}")
        self.ax_bugs.set_ylim(0, 1.18 * top)
        share = r.escaped.sum() / r.bugs if r.bugs else 0.0
        self.ax_bugs.set_title(f"{r.bugs} {plural(r.bugs, 'bug')} in {r.changes:,} changes: "
                               f"{share:.0%} escaped (expected {expected.escape_share:.0%})")

        ready = r.ready_minutes
        tops = []
        for i, (bar, text) in enumerate(zip(self.time_bars, self.time_texts)):
            ran = r.tests[model.LAYERS[i]] > 0
            bar.set_height(ready[i] if ran else 0.0)
            text.set(y=ready[i] if ran else 0.0, text=_short_minutes(ready[i]) if ran else "none")
            tops.append(ready[i])
        high = max(tops + [r.mean_feedback_minutes if np.isfinite(r.mean_feedback_minutes) else 0.0, 1.0])
        self.ax_time.set_ylim(0, 1.2 * high)
        if np.isfinite(r.mean_feedback_minutes):
            self.feedback_line.set_visible(True)
            self.feedback_line.set_ydata([r.mean_feedback_minutes] * 2)
            feedback = _minutes(r.mean_feedback_minutes)
        else:
            self.feedback_line.set_visible(False)
            feedback = "no bug caught"
        build = (f"A green build takes {_minutes(r.pipeline_minutes)}" if r.pipeline_minutes > 0
                 else "No tests: a build waits for nothing")
        self.ax_time.set_title(f"{build};\nmean time to feedback: {feedback}")

        e2e = r.tests["e2e"]
        self.flaky_line.set_ydata(p.flaky_curve)
        self.no_bug_line.set_ydata(p.no_bug_curve)  # NaN where no build can go red: no share to show
        self.flaky_dot.set_data([e2e], [r.flaky_red_share])
        no_bug = r.no_bug_share_of_red
        self.no_bug_dot.set_data(([e2e], [no_bug]) if np.isfinite(no_bug) else ([], []))
        self.current.set_xdata([e2e, e2e])

        preset = self.params["preset"]
        name = "Custom portfolio" if preset == CUSTOM else preset[0].upper() + preset[1:]
        self.title.set_text(f"{name}: {r.services} services, {r.changes:,} changes, "
                            f"bug rate {r.bug_rate:.0%} per change")

    def describe(self, p):
        r, expected = p.run, p.run.theory
        flaky = (f"<b>{r.flaky_red}</b> of {r.changes:,} builds went red from a flaky test "
                 f"(<b>{r.flaky_red_share:.1%}</b>; expected {expected.flaky_red:.1%})")
        if r.pipeline_minutes == 0:
            return (f"No tests ran, so every bug (<b>{r.bugs}</b>) reached production and no build went red, "
                    f"not even for a flaky test")
        kinds = ", ".join(f"{kind} {n}" for kind, n in zip(model.KINDS, r.escaped) if n)
        feedback = (f"a caught bug is reported <b>{_minutes(r.mean_feedback_minutes)}</b> after the push on average"
                    if np.isfinite(r.mean_feedback_minutes) else "no bug was caught")
        return (f"<b>{r.escaped.sum()}</b> of {r.bugs} {plural(r.bugs, 'bug')} reached production"
                + (f" ({kinds})" if kinds else "")
                + f" · a green build takes <b>{_minutes(r.pipeline_minutes)}</b>; {feedback} · {flaky}")


def test_portfolio_dashboard(**settings) -> TestPortfolioDashboard:
    """Build lesson 06's test-portfolio dashboard; keyword arguments preset controls (e.g. ``preset="ice-cream cone"``)."""
    return TestPortfolioDashboard(**settings)


test_portfolio_dashboard.__test__ = False  # a course function, not a pytest test
