"""Lesson 07's burn-rate dashboard: an incident shape against a set of alert rules, for one 30-day SLO period.

Each update simulates a month of traffic (:func:`course.models.burn_rate.timeline`:
Poisson requests at the chosen rate, binomial errors, a background of 0.2× the
budget) with the chosen incident starting on day 10, and evaluates every rule of
the three sets once a minute (:data:`course.models.burn_rate.RULE_SETS`). Top:
the burn rate over each window the chosen rules read, on a log scale, with the
rules' thresholds and the incident shaded, around the incident. Middle: when each
rule fires. Bottom: the error budget left over the whole month, with the moments
the alerts began. The summary says in words when each rule fired, what the
incident had spent by then, how long the alert outlived the incident, its false
alarms this month, and what the other kind of rule would have done.

Choosing an incident shape loads its usual error share (100% for the outage,
0.25% for the leak, 20% for the blip) into the errors control, which can then
be moved.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import ipywidgets as widgets
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

from course.models import burn_rate as model

from .base import Dashboard, legend_below, legend_beside, plural

_LOOK = dict(style={"description_width": "150px"}, layout=widgets.Layout(width="400px"))
_SLIDER = dict(continuous_update=False, **_LOOK)
NONE = "none"
SHAPE_OPTIONS = (("sharp outage (30 min)", "outage"), ("slow leak (4 days)", "leak"),
                 ("brief blip (3 min)", "blip"), ("no incident", NONE))
_SHAPE_NAMES = {"outage": "Sharp outage", "leak": "Slow leak", "blip": "Brief blip"}
ERROR_SHARES = (0.001, 0.0025, 0.005, 0.01, 0.05, 0.2, 0.5, 1.0)
RULE_OPTIONS = (("SRE Workbook: long & short", "workbook"), ("long windows only", "long_only"),
                ("plain 5-min thresholds", "plain"))
SLO_OPTIONS = (("99.5%", 0.995), ("99.9%", 0.999), ("99.99%", 0.9999))
#: Colours of a set's rules, in order (threshold, row, alert marks), and of the windows by length (minutes): a
#: Workbook rule's long window has the rule's colour and its short window a lighter one.
_RULE_COLOURS = ("#d62828", "#6a4c93", "#1d3557")
_WINDOW_COLOURS = {5: "#f4978e", 30: "#b8a1d9", 60: "#d62828", 360: "#6a4c93", 3 * model.MINUTES_PER_DAY: "#1d3557"}
_INCIDENT = "#adb5bd"
#: At most this many points per plotted series (block maxima beyond it, which keep every peak a rule could see).
_POINTS = 2400
_FLOOR = 0.01
MAX_RULES = max(len(rules) for rules in model.RULE_SETS.values())
MAX_WINDOWS = max(len({m for rule in rules for m in rule.windows}) for rules in model.RULE_SETS.values())
_DAY = model.MINUTES_PER_DAY


def _incident(shape: str, errors: float) -> model.Incident | None:
    if shape == NONE:
        return None
    return model.Incident(errors, model.SHAPES[shape].duration_minutes)


def _view(incident: model.Incident | None, days: int) -> tuple[int, int, int, int, str]:
    """The minutes of the period the top panels show, their origin, and the unit (minutes per unit, name)."""
    if incident is None:
        return 0, days * _DAY, 0, _DAY, "days into the period"
    start, end, length = incident.start_minute, incident.end_minute, incident.duration_minutes
    if length >= _DAY:
        return start - _DAY, min(end + _DAY, days * _DAY), start, 60, "hours since the incident began"
    return start - 60, end + 120, start, 1, "minutes since the incident began"


def _blocks(values: np.ndarray, size: int) -> np.ndarray:
    """The maximum of each block of ``size`` values (the last block may be shorter)."""
    if size <= 1:
        return values
    pad = (-values.size) % size
    padded = np.concatenate([values, np.full(pad, -np.inf)]) if pad else values
    return padded.reshape(-1, size).max(axis=1)


def _runs(on: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and ends (exclusive) of the runs of True in ``on``."""
    edges = np.diff(np.concatenate([[0], on.astype(np.int8), [0]]))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


@dataclass
class BurnView:
    """One update: the run of the chosen rules, every set's outcomes, and the arrays the panels plot."""

    shape: str
    incident: model.Incident | None
    slo: float
    rate: float
    rules: str
    run: model.Run
    others: dict                   # rule set -> tuple of Outcome on the same timeline
    unit: int                      # minutes per x unit in the top panels
    unit_name: str
    x_range: tuple                 # the top panels' x limits, in units
    window_x: np.ndarray           # x of the plotted windows (units from the origin)
    windows: dict                  # window minutes -> burn rate per plotted point
    strips: list                   # per rule: (x pairs with NaN breaks, onset x) in the view
    budget_days: np.ndarray
    budget_left: np.ndarray        # share of the budget left, per plotted point
    onsets: list                   # per rule: (days, budget left) where an alert began


def simulate(shape: str, errors: float, rules: str, slo: float, rate: int, seed: int = 1,
             days: int = model.PERIOD_DAYS) -> BurnView:
    """Simulate a month with this incident and evaluate every rule set; see the module docstring."""
    model._validate.one_of("shape", shape, tuple(model.SHAPES) + (NONE,))
    model._validate.one_of("rules", rules, tuple(model.RULE_SETS))
    incident = _incident(shape, errors)
    tl = model.timeline(incident, slo, rate, days=days, seed=seed)
    others = {name: tuple(model.evaluate(tl, rule) for rule in rule_set) for name, rule_set in model.RULE_SETS.items()}
    chosen = others[rules]
    lo, hi, origin, unit, unit_name = _view(incident, days)
    block = max(1, math.ceil((hi - lo) / _POINTS))
    span = slice(tl.index(lo), tl.index(hi))
    budget = model.budget(slo)
    windows = {}
    for outcome in chosen:
        for minutes in outcome.rule.windows:
            if minutes not in windows:
                burn = tl.window_ratio(minutes)[span] / budget
                windows[minutes] = np.maximum(_blocks(burn, block), _FLOOR)
    count = next(iter(windows.values())).size
    # A minute's state is known at its end: minute m is plotted at m + 1 (a block at its middle).
    window_x = (lo + (np.arange(count) + 0.5) * block - origin) / unit if block > 1 else \
        (np.arange(lo, hi) + 1 - origin) / unit
    strips = []
    for outcome in chosen:
        starts, ends = _runs(outcome.firing[span])
        x = np.full(3 * starts.size, np.nan)
        x[0::3] = (lo + starts + 1 - origin) / unit
        x[1::3] = (lo + ends + 1 - origin) / unit
        strips.append((x, x[0::3]))
    spent = tl.budget_spent()
    step = max(1, spent.size // _POINTS)
    budget_days = np.concatenate([[0.0], np.arange(step, spent.size + 1, step) / _DAY])
    left = 1.0 - np.concatenate([[0.0], spent[step - 1::step]])
    onsets = [((outcome.onsets + 1) / _DAY, 1.0 - spent[outcome.onsets]) for outcome in chosen]
    return BurnView(shape, incident, slo, float(rate), rules, model.Run(tl, chosen), others, unit, unit_name,
                    ((lo - origin) / unit, (hi - origin) / unit), window_x, windows, strips, budget_days, left, onsets)


#: A memo per setting: revisiting a setting is instant (the benchmark clears it to time cold updates).
simulate_cached = lru_cache(maxsize=64)(simulate)


def _minutes(value: float) -> str:
    """A duration in minutes, in words: '3 min', '25 h', '2.5 days'."""
    if not math.isfinite(value):
        return "the end of the month"
    if value < 120:
        return f"{value:.0f} min"
    if value < 2 * _DAY:
        return f"{value / 60:.1f} h".replace(".0 h", " h")
    return f"{value / _DAY:.1f} days".replace(".0 days", " days")


class BurnRateDashboard(Dashboard):
    """Top: burn rate over each window against the thresholds; middle: when each rule fires; bottom: budget left."""

    figsize = (10.0, 8.0)

    def __init__(self, **overrides):
        # A shape given here loads its usual error share, as choosing it in the dropdown does; errors given too win.
        shape = overrides.get("shape", SHAPE_OPTIONS[0][1])
        if shape in model.SHAPES and "errors" not in overrides:
            overrides = {**overrides, "errors": model.SHAPES[shape].error_ratio}
        self._syncing = False
        super().__init__(**overrides)

    def controls(self):
        return {
            "shape": widgets.Dropdown(options=list(SHAPE_OPTIONS), value="outage", description="Incident", **_LOOK),
            "errors": widgets.Dropdown(options=[(model.percent(e), e) for e in ERROR_SHARES], value=1.0,
                                       description="Requests failing in it", **_LOOK),
            "rules": widgets.Dropdown(options=list(RULE_OPTIONS), value="workbook", description="Alert rules",
                                      **_LOOK),
            "slo": widgets.Dropdown(options=list(SLO_OPTIONS), value=0.999, description="SLO (30 days)", **_LOOK),
            "rate": widgets.IntSlider(20, min=1, max=100, description="Requests per second", **_SLIDER),
        }

    # -- the shape loads its usual severity ------------------------------------------------------
    def _on_change(self, change) -> None:
        shape = self.controls_by_name["shape"]
        if not self._syncing and change["owner"] is shape and change["new"] in model.SHAPES:
            syncing, muted = self._syncing, self._muted
            self._syncing = self._muted = True
            try:
                self.controls_by_name["errors"].value = model.SHAPES[change["new"]].error_ratio
            finally:
                self._syncing, self._muted = syncing, muted
        super()._on_change(change)

    def set(self, **values) -> None:
        """As :meth:`Dashboard.set`, with the shape applied first, so an error share given beside it wins."""
        if "shape" in values:
            values = {"shape": values.pop("shape"), **values}
        super().set(**values)

    # -- the figure -----------------------------------------------------------------------------
    def build_figure(self):
        grid = self.figure.add_gridspec(3, 1, height_ratios=(2.3, 0.9, 1.7))
        ax_burn = self.figure.add_subplot(grid[0])
        ax_fire = self.figure.add_subplot(grid[1], sharex=ax_burn)
        ax_budget = self.figure.add_subplot(grid[2])
        self.ax_burn, self.ax_fire, self.ax_budget = ax_burn, ax_fire, ax_budget
        self._legend_for = None

        self.burn_span = ax_burn.axvspan(0, 1, color=_INCIDENT, alpha=0.35, lw=0, zorder=0)
        self.window_lines = [ax_burn.plot([], [], lw=1.6)[0] for _ in range(MAX_WINDOWS)]
        self.threshold_lines = [ax_burn.axhline(1, ls=":", lw=1.8) for _ in range(MAX_RULES)]
        # Threshold names at the left, where the view shows the quiet time before the incident.
        self.threshold_texts = [ax_burn.text(0.01, 1, "", ha="left", va="bottom",
                                             transform=ax_burn.get_yaxis_transform()) for _ in range(MAX_RULES)]
        ax_burn.set_yscale("log")
        ax_burn.yaxis.set_major_locator(LogLocator(base=10, numticks=10))
        ax_burn.yaxis.set_minor_locator(NullLocator())
        ax_burn.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}×"))
        ax_burn.set_ylabel("burn rate (× budget)")
        ax_burn.tick_params(labelbottom=False)
        ax_burn.grid(alpha=0.3, which="major")

        self.fire_span = ax_fire.axvspan(0, 1, color=_INCIDENT, alpha=0.35, lw=0, zorder=0)
        self.strip_lines = [ax_fire.plot([], [], lw=9, solid_capstyle="butt")[0] for _ in range(MAX_RULES)]
        self.onset_marks = [ax_fire.plot([], [], ls="none", marker="|", ms=14, mew=2)[0] for _ in range(MAX_RULES)]
        ax_fire.set_ylabel("firing")
        ax_fire.grid(axis="x", alpha=0.3)

        self.budget_span = ax_budget.axvspan(0, 1, color=_INCIDENT, alpha=0.35, lw=0, zorder=0)
        ax_budget.axhline(0, color="black", lw=0.8)
        (self.budget_line,) = ax_budget.plot([], [], color="#2a9d8f", lw=2, label="error budget left")
        self.budget_marks = [ax_budget.plot([], [], ls="none", marker="v", ms=8, label="alert began")[0]
                             for _ in range(MAX_RULES)]
        ax_budget.set_xlim(0, model.PERIOD_DAYS)
        ax_budget.set_xlabel("days into the 30-day period")
        ax_budget.set_ylabel("budget left (%)")
        ax_budget.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0f}"))
        ax_budget.grid(alpha=0.3)
        self.incident_patch = Patch(color=_INCIDENT, alpha=0.35, label="incident")
        began = Line2D([], [], ls="none", marker="v", ms=8, color="#495057", label="an alert began (its rule's colour)")
        legend_below(ax_budget, [self.budget_line, self.incident_patch, began], ncols=3)

    def simulate(self, shape, errors, rules, slo, rate):
        return simulate_cached(shape, float(errors), rules, float(slo), int(rate))

    def draw(self, r: BurnView):
        budget = model.budget(r.slo)
        chosen = r.run.outcomes
        rules = [o.rule for o in chosen]
        incident = r.incident

        # Top: the windows, the thresholds, the incident.
        for line, (minutes, burn) in zip(self.window_lines, sorted(r.windows.items())):
            line.set(data=(r.window_x, burn), color=_WINDOW_COLOURS[minutes], visible=True,
                     ls="-" if any(rule.long_minutes == minutes for rule in rules) else "--",
                     label=f"burn over {model.minutes_in_words(minutes)}")
        for line in self.window_lines[len(r.windows):]:
            line.set(data=([], []), visible=False)
        for i, (line, text) in enumerate(zip(self.threshold_lines, self.threshold_texts)):
            if i < len(rules):
                rule = rules[i]
                theta = rule.threshold(r.slo)
                colour = _RULE_COLOURS[i]
                line.set(ydata=[theta, theta], color=colour, visible=True)
                text.set(y=theta, text=f"{rule.severity} > {_times(theta)}", color=colour, visible=True)
            else:
                line.set_visible(False)
                text.set_visible(False)
        self.ax_burn.set_xlim(*r.x_range)
        self.ax_burn.set_ylim(0.03, 3.0 / budget)
        self.ax_fire.set_xlabel(r.unit_name)
        for span in (self.burn_span, self.fire_span):
            if incident is None:
                span.set_visible(False)
            else:
                span.set(x=0, width=incident.duration_minutes / r.unit, visible=True)
        if incident is None:
            title = (f"No incident: background errors only ({model.percent(model.BACKGROUND_BURN * budget)} "
                     f"of requests, {model.BACKGROUND_BURN:g}× the budget), {r.rate:.0f} "
                     f"{plural(int(r.rate), 'request')}/s")
        else:
            burn = incident.error_ratio / budget
            title = (f"{_SHAPE_NAMES[r.shape]}: {model.percent(incident.error_ratio)} of requests fail for "
                     f"{_minutes(incident.duration_minutes)}, a {_times(burn)} burn of the {SLO_LABEL[r.slo]} budget")
        self.ax_burn.set_title(title)

        # Middle: when each rule fires.
        for i, (line, marks) in enumerate(zip(self.strip_lines, self.onset_marks)):
            if i < len(rules):
                x, onsets = r.strips[i]
                colour = _RULE_COLOURS[i]
                line.set(data=(x, np.full(x.size, i)), color=colour, visible=True)
                marks.set(data=(onsets, np.full(onsets.size, i)), color=colour, visible=True)
            else:
                line.set(data=([], []), visible=False)
                marks.set(data=([], []), visible=False)
        self.ax_fire.set_yticks(range(len(rules)), [rule.label(r.slo) for rule in rules])
        self.ax_fire.set_ylim(len(rules) - 0.5, -0.5)

        # Bottom: the budget over the month.
        left = 100 * r.budget_left
        self.budget_line.set_data(r.budget_days, left)
        for i, marks in enumerate(self.budget_marks):
            if i < len(rules):
                days, at = r.onsets[i]
                marks.set(data=(days, 100 * at), color=_RULE_COLOURS[i], visible=True)
            else:
                marks.set(data=([], []), visible=False)
        if incident is None:
            self.budget_span.set_visible(False)
        else:
            self.budget_span.set(x=incident.start_minute / _DAY, width=incident.duration_minutes / _DAY, visible=True)
        low = min(0.0, float(left.min()))
        self.ax_budget.set_ylim(low - 0.08 * (105 - low), 105)
        end = float(r.budget_left[-1])
        state = f"{_share(end)} left at the end of the month" if end >= 0 else \
            f"overspent by {_share(-end)} of it at the end of the month"
        self.ax_budget.set_title(f"Error budget of the {SLO_LABEL[r.slo]} SLO: {state}")

        # The top legend names the windows drawn, so it changes with the rule set.
        if r.rules != self._legend_for:
            self._legend_for = r.rules
            threshold = Line2D([], [], ls=":", lw=1.8, color="#495057", label="a rule's threshold")
            shown = [line for line in self.window_lines if line.get_visible()]
            legend_beside(self.ax_burn, shown + [threshold, self.incident_patch])

    def describe(self, r: BurnView) -> str:
        chosen = r.run.outcomes
        alarms = sum(o.false_alarms for o in chosen)
        if r.incident is None:
            words = [f"{o.false_alarms} from {_rule_words(o.rule, r.slo)}" for o in chosen if o.false_alarms]
            text = (f"On background traffic alone these rules raised <b>{alarms}</b> {plural(alarms, 'alert')} "
                    f"this month" + (f" ({'; '.join(words)})" if words else "") + ".")
        else:
            text = "; ".join(_verdict(o, r.slo) for o in chosen) + "."
            if alarms:
                text += (f" They also raised <b>{alarms}</b> false {plural(alarms, 'alarm')} on background noise "
                         f"this month.")
        return text[0].upper() + text[1:] + " " + _comparison(r)


SLO_LABEL = {value: label for label, value in SLO_OPTIONS}


def _rule_words(rule: model.Rule, slo: float) -> str:
    """A rule for a sentence: 'the page at 14.4× over 1 h & 5 min', 'the plain 5-min threshold at 0.1% errors'."""
    windows = " & ".join(model.minutes_in_words(m) for m in rule.windows)
    if rule.plain:
        return f"the plain {windows.replace(' ', '-')} threshold at {model.percent(rule.limit(slo))} errors"
    return f"the {rule.severity} at {rule.threshold(slo):g}× over {windows}"


def _times(burn: float) -> str:
    """A burn rate: '2.5×', '14.4×', '200×', '1,000×'."""
    return f"{burn:,.0f}×" if burn >= 100 else f"{burn:.3g}×"


def _share(value: float) -> str:
    """A share of the budget: two decimals below 1%, one below 10%, none above."""
    return f"{value:.2%}" if value < 0.01 else f"{value:.1%}" if value < 0.1 else f"{value:.0%}"


def _verdict(outcome: model.Outcome, slo: float) -> str:
    name = _rule_words(outcome.rule, slo)
    if not outcome.fired:
        return f"{name} never fires"
    found = (f"{name} fires after <b>{_minutes(outcome.detection_minutes)}</b>, having spent "
             f"<b>{_share(outcome.budget_before_alert)}</b> of the budget")
    if not math.isfinite(outcome.reset_minutes):
        return found + ", and still fires at the end of the month"
    if outcome.reset_minutes == 0:
        return found + ", and has stopped by the time the incident ends"
    return found + f", and stops {_minutes(outcome.reset_minutes)} after the incident ends"


def _comparison(r: BurnView) -> str:
    """What the other kind of rule would have done with the same month."""
    if r.rules == "plain":
        workbook = r.others["workbook"]
        if r.incident is None:
            alarms = sum(o.false_alarms for o in workbook)
            return f"The SRE Workbook's rules raised {alarms} {plural(alarms, 'alert')} in the same month."
        paged = [o for o in workbook if o.fired and o.rule.severity == "page"]
        ticket = [o for o in workbook if o.fired and o.rule.severity == "ticket"]
        if paged:
            first = min(paged, key=lambda o: o.detection_minutes)
            return (f"Of the SRE Workbook's rules, {_rule_words(first.rule, r.slo)} would have fired after "
                    f"{_minutes(first.detection_minutes)}.")
        if ticket:
            return (f"The SRE Workbook's rules would not have paged; their ticket would have opened after "
                    f"{_minutes(ticket[0].detection_minutes)}.")
        return "The SRE Workbook's rules would have stayed quiet."
    words = []
    for o in r.others["plain"]:
        rule, alarms = _rule_words(o.rule, r.slo), o.false_alarms
        noise = f"{alarms} {plural(alarms, 'time')} on background noise"
        if r.incident is None:
            words.append(f"{rule} would have paged {noise}" if alarms else f"{rule} would never have paged")
        elif o.fired:
            words.append(f"{rule} would have paged after {_minutes(o.detection_minutes)}"
                         + (f" (and {noise})" if alarms else ""))
        else:
            words.append(f"{rule} would never have paged for it" + (f" (but {noise})" if alarms else ""))
    return "For comparison, " + "; ".join(words) + "."


def burn_rate_dashboard(**settings) -> BurnRateDashboard:
    """Build lesson 07's burn-rate dashboard; keyword arguments preset controls (e.g. ``shape="leak"``)."""
    return BurnRateDashboard(**settings)
