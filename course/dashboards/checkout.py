"""Lesson 09's centrepiece: the learner's checkout design under the interviewer's five scenarios.

The controls are the design (:class:`course.models.checkout_design.Design`):
for each edge out of orders, a synchronous call or a message, and for a call
its timeout, retries, retry budget, breaker and fallback; idempotency keys;
saga orchestration, choreography or two-phase commit; outbox or dual write.
A preset button loads a whole design into the controls. Each update runs the design under every scenario of
:data:`course.models.checkout.SCENARIOS` (:func:`course.models.checkout.run`).

The top panel is the scorecard: one row per scenario, one column per thing
the business sees, red where the design failed the scenario. The bottom
panel follows one scenario (the *Timeline* control) minute by minute:
checkouts that succeeded and those that did not, with the trouble shaded.
"""

from __future__ import annotations

import functools
import textwrap

import ipywidgets as widgets
import numpy as np
from matplotlib.patches import Rectangle

from course.models import checkout as model
from course.models.checkout_design import EDGES, EVENTS, PRESETS, TRANSACTIONS, Design, Edge

from .base import Dashboard, legend_below

#: Timeout choices in seconds; 0 stands for no timeout at all (wait for ever).
TIMEOUT_OPTIONS = [("none (wait for ever)", 0.0), ("0.2 s", 0.2), ("0.5 s", 0.5), ("1 s", 1.0), ("2 s", 2.0),
                   ("5 s", 5.0), ("10 s", 10.0)]
MAX_RETRIES = 3
EDGE_FIELDS = ("mode", "timeout", "retries", "retry_budget", "breaker", "fallback")
CALL_FIELDS = EDGE_FIELDS[1:]
_FALLBACK_WORDS = {"inventory": "Fallback: assume in stock", "payments": "Fallback: charge later"}
_LOOK = dict(style={"description_width": "110px"}, layout=widgets.Layout(width="310px"))
_TIMELINE_LOOK = dict(style={"description_width": "110px"}, layout=widgets.Layout(width="380px"))
_BOX = dict(indent=False, layout=widgets.Layout(width="310px"))
COLUMNS = ("succeeded", "p99 wait", "p99 until\nshipped", "stuck", "compensated", "charged\ntwice", "oversold",
           "money\ngap")
_PASS, _FAIL, _NEUTRAL = np.array([0.85, 0.95, 0.87]), np.array([1.0, 0.80, 0.82]), np.array([0.95, 0.95, 0.96])
_OK_LINE, _FAILED_LINE, _WAIT_LINE, _WINDOW = "#2a9d8f", "#d62828", "#6c757d", "#ffd6a5"
#: Timeline bins, in seconds.
BIN = 30.0


def design_from(params: dict) -> Design:
    """The :class:`Design` that these control values describe (extra keys are ignored)."""
    edges = {}
    for name in EDGES:
        timeout = float(params[f"{name}_timeout"])
        edges[name] = Edge(mode=params[f"{name}_mode"], timeout=timeout or None,
                           retries=int(params[f"{name}_retries"]), retry_budget=bool(params[f"{name}_retry_budget"]),
                           breaker=bool(params[f"{name}_breaker"]), fallback=bool(params[f"{name}_fallback"]))
    return Design(**edges, idempotency_keys=bool(params["idempotency_keys"]), transaction=params["transaction"],
                  events=params["events"])


def controls_of(design: Design) -> dict:
    """The control values that describe ``design`` (the inverse of :func:`design_from`)."""
    values = {"idempotency_keys": design.idempotency_keys, "transaction": design.transaction,
              "events": design.events}
    for name in EDGES:
        edge = design.edge(name)
        for field in EDGE_FIELDS:
            value = getattr(edge, field)
            values[f"{name}_{field}"] = (value or 0.0) if field == "timeout" else value
    return values


def seconds(value: float) -> str:
    """A duration as the scorecard shows it: "40 ms", "2.1 s", "3.5 min", or "–" for none."""
    if value != value:  # NaN: nothing to measure
        return "–"
    # Round first, so a value just under a unit's edge shows in the next unit ("1.0 s", not "1000 ms").
    if round(value * 1000) < 1000:
        return f"{value * 1000:.0f} ms"
    return f"{value:.1f} s" if round(value, 1) < 120 else f"{value / 60:.1f} min"


@functools.lru_cache(maxsize=64)
def run(design: Design, seed: int) -> dict:
    """Every scenario's :class:`~course.models.checkout.ScenarioResult` for ``design`` (memoised)."""
    return model.run(design, seed)


def timeline(result: model.ScenarioResult, until: float) -> dict:
    """Checkouts in :data:`BIN`-second bins by when they started: ``t`` (bin starts, minutes), ``ok`` and
    ``failed`` per minute (checkouts refused as sold out are in neither), and ``p99`` of the shopper's wait
    in seconds (NaN for an empty bin).
    """
    edges = np.arange(0.0, until + BIN, BIN)
    counted = ~result.sold_out_mask
    ok, _ = np.histogram(result.arrivals[result.success], edges)
    failed, _ = np.histogram(result.arrivals[counted & ~result.success], edges)
    bins = np.digitize(result.arrivals, edges) - 1
    p99 = np.array([np.percentile(result.waits[bins == i], 99) if np.any(bins == i) else np.nan
                    for i in range(len(edges) - 1)])
    per_minute = 60.0 / BIN
    return {"t": edges[:-1] / 60.0, "ok": ok * per_minute, "failed": failed * per_minute, "p99": p99}


class CheckoutDashboard(Dashboard):
    """Top: the scorecard of five scenarios. Bottom: one scenario, minute by minute."""

    figsize = (10.0, 7.2)

    def __init__(self, preset: str | None = None, interview=None, **overrides):
        # A preset loads a whole design into the controls; controls given as well win. An interview
        # (course.interview.Interview) is told the design at every update, so its follow-ups fit it.
        self.interview = interview
        if preset is not None:
            overrides = {**self.preset_controls(preset), **overrides}
        self.preset_buttons = [widgets.Button(description=name, tooltip=f"Load the {name!r} design into the controls",
                                              layout=widgets.Layout(width="max-content")) for name in PRESETS]
        for button, name in zip(self.preset_buttons, PRESETS):
            button.on_click(lambda _button, name=name: self.load(name))
        super().__init__(**overrides)
        self._enable_call_controls()

    def update(self):
        """As :meth:`Dashboard.update`; then the linked interview's follow-ups follow the design."""
        result = super().update()
        if self.interview is not None:
            self.interview.set_design(self.design)
        return result

    @staticmethod
    def preset_controls(preset: str) -> dict:
        """The control values of a preset design (a key of :data:`~course.models.checkout_design.PRESETS`)."""
        if preset not in PRESETS:
            raise ValueError(f"preset must be one of {', '.join(map(repr, PRESETS))}, got {preset!r}")
        return controls_of(PRESETS[preset])

    def load(self, preset: str) -> None:
        """Put a preset design into the controls (what the preset buttons do)."""
        self.set(**self.preset_controls(preset))

    def controls(self):
        first = controls_of(next(iter(PRESETS.values())))
        controls = {}
        for name in EDGES:
            title = name.capitalize()
            controls[f"{name}_mode"] = widgets.Dropdown(
                options=[("synchronous call", "sync"), ("message", "message")], value=first[f"{name}_mode"],
                description=f"{title}: how", **_LOOK)
            controls[f"{name}_timeout"] = widgets.Dropdown(options=TIMEOUT_OPTIONS, value=first[f"{name}_timeout"],
                                                           description="Timeout", **_LOOK)
            controls[f"{name}_retries"] = widgets.IntSlider(first[f"{name}_retries"], min=0, max=MAX_RETRIES,
                                                            description="Retries", continuous_update=False,
                                                            **_LOOK)
            controls[f"{name}_retry_budget"] = widgets.Checkbox(first[f"{name}_retry_budget"],
                                                                description="Retry budget (10%)", **_BOX)
            controls[f"{name}_breaker"] = widgets.Checkbox(first[f"{name}_breaker"], description="Circuit breaker",
                                                           **_BOX)
            controls[f"{name}_fallback"] = widgets.Checkbox(first[f"{name}_fallback"],
                                                            description=_FALLBACK_WORDS[name], **_BOX)
        controls["idempotency_keys"] = widgets.Checkbox(first["idempotency_keys"],
                                                        description="Idempotency keys (the order id)", **_BOX)
        controls["transaction"] = widgets.Dropdown(
            options=[("saga, orchestrated", "orchestration"), ("saga, choreographed", "choreography"),
                     ("two-phase commit", "2pc")], value=first["transaction"], description="Across services",
            **_LOOK)
        controls["events"] = widgets.Dropdown(options=[("dual write", "dual_write"), ("outbox + relay", "outbox")],
                                              value=first["events"], description="Order event", **_LOOK)
        controls["timeline"] = widgets.Dropdown(options=[(s.title, s.key) for s in model.SCENARIOS.values()],
                                                value="payments_slow", description="Timeline", **_TIMELINE_LOOK)
        controls["seed"] = widgets.IntSlider(1, min=1, max=20, description="Seed", continuous_update=False, **_LOOK)
        return controls

    def _on_change(self, change) -> None:
        self._enable_call_controls()
        super()._on_change(change)

    def _enable_call_controls(self) -> None:
        """A message edge has no call policies, and 2PC or choreography decide the mode: grey out what is moot."""
        transaction = self.controls_by_name["transaction"].value
        effective = self.design.effective
        for name in EDGES:
            self.controls_by_name[f"{name}_mode"].disabled = transaction != "orchestration"
            for field in CALL_FIELDS:
                self.controls_by_name[f"{name}_{field}"].disabled = not effective.edge(name).is_sync

    def set(self, **values) -> None:
        """As :meth:`Dashboard.set`; also greys out the controls the design makes moot."""
        super().set(**values)
        self._enable_call_controls()

    @property
    def design(self) -> Design:
        """The design the controls describe."""
        return design_from(self.params)

    def failed(self) -> list[tuple[str, str]]:
        """The scenarios the current design failed, as ``(key, reasons)`` (for the interview summary)."""
        return [(key, "; ".join(r.problems)) for key, r in self.result.items() if not r.passed]

    def widget(self) -> widgets.Widget:
        """The preset buttons; the timeline's scenario and the seed; a column per edge and one for the data
        choices; then the plot and the summary."""
        c = self.controls_by_name
        columns = [widgets.VBox([c[f"{name}_{field}"] for field in EDGE_FIELDS]) for name in EDGES]
        data = widgets.VBox([c["idempotency_keys"], c["transaction"], c["events"]])
        presets = widgets.HBox([widgets.Label("Start from a design:")] + self.preset_buttons)
        return widgets.VBox([presets, widgets.HBox([c["timeline"], c["seed"]]), widgets.HBox(columns + [data]),
                             self.image, self.status])

    # -- the figure -----------------------------------------------------------------------------------
    def build_figure(self):
        ax_card, ax_time = self.figure.subplots(2, 1, height_ratios=(1, 1.1))
        self.ax_card, self.ax_time = ax_card, ax_time
        rows, cols = len(model.SCENARIOS), len(COLUMNS)
        self.cells = ax_card.imshow(np.ones((rows, cols, 3)), aspect="auto", interpolation="nearest")
        self.cell_texts = [[ax_card.text(j, i, "", ha="center", va="center") for j in range(cols)]
                           for i in range(rows)]
        ax_card.set_xticks(np.arange(cols), COLUMNS)
        ax_card.xaxis.tick_top()
        ax_card.xaxis.set_label_position("top")
        ax_card.set_xlabel("what the business sees")
        ax_card.set_ylabel("the interviewer's scenario")
        ax_card.set_yticks(np.arange(rows), [s.title for s in model.SCENARIOS.values()])
        ax_card.set_xticks(np.arange(cols + 1) - 0.5, minor=True)
        ax_card.set_yticks(np.arange(rows + 1) - 0.5, minor=True)
        ax_card.grid(which="minor", color="white", lw=2)
        ax_card.tick_params(which="both", length=0)
        self.card_title = ax_card.set_title("")

        self.window = Rectangle((0, 0), 0, 1, transform=ax_time.get_xaxis_transform(), color=_WINDOW, alpha=0.6,
                                lw=0, label="the trouble")
        ax_time.add_patch(self.window)
        (self.ok_line,) = ax_time.step([], [], where="post", color=_OK_LINE, lw=2, label="succeeded")
        (self.failed_line,) = ax_time.step([], [], where="post", color=_FAILED_LINE, lw=2,
                                           label="failed or never completed")
        self.ax_wait = ax_wait = ax_time.twinx()
        (self.wait_line,) = ax_wait.step([], [], where="post", color=_WAIT_LINE, lw=1.5, ls="--",
                                         label="p99 wait (right axis)")
        ax_wait.set_ylabel("shopper's p99 wait (s)")
        ax_wait.set_ylim(0, model.PATIENCE * 1.1)
        ax_time.set_xlabel("time since the start of the scenario (minutes)")
        ax_time.set_ylabel("checkouts per minute\n(by when they started)")
        ax_time.grid(alpha=0.3)
        legend_below(ax_time, [self.window, self.ok_line, self.failed_line, self.wait_line], ncols=4)
        self.time_title = ax_time.set_title("")

    def simulate(self, **params):
        return run(design_from(params), int(params["seed"]))

    def draw(self, results):
        colours = np.empty((len(results), len(COLUMNS), 3))
        for i, r in enumerate(results.values()):
            values = (f"{r.success_rate:.0%}", seconds(r.p99), seconds(r.p99_to_ship), r.stuck, r.compensated,
                      r.double_charged, r.oversold, f"{r.money_gap:+,.0f}" if r.money_gap else "0")
            bad = (r.success_rate < model.PASS_SUCCESS, r.p99 > model.PASS_P99, None, r.stuck > 0, None,
                   r.double_charged > 0, r.oversold > 0, r.money_gap != 0)
            for j, (value, is_bad) in enumerate(zip(values, bad)):
                self.cell_texts[i][j].set_text(str(value))
                colours[i, j] = _NEUTRAL if is_bad is None else (_FAIL if is_bad else _PASS)
        self.cells.set_data(colours)
        passed = sum(r.passed for r in results.values())
        named = [name for name, design in PRESETS.items() if design == self.design]
        name = f"The {named[0]!r} design" if named else "Your design"
        self.card_title.set_text(f"{name} passed {passed} of {len(results)} scenarios (red: below the bar)")

        key = self.params["timeline"]
        scenario, r = model.SCENARIOS[key], results[key]
        series = timeline(r, scenario.arrivals_until)
        t = np.append(series["t"], series["t"][-1] + BIN / 60.0)
        self.ok_line.set_data(t, np.append(series["ok"], series["ok"][-1]))
        self.failed_line.set_data(t, np.append(series["failed"], series["failed"][-1]))
        self.wait_line.set_data(t, np.append(series["p99"], series["p99"][-1]))
        start, end = scenario.window
        self.window.set_x(start / 60.0)
        self.window.set_width((end - start) / 60.0)
        self.ax_time.set_xlim(0, scenario.arrivals_until / 60.0)
        top = max(series["ok"].max(), series["failed"].max(), 1.0)
        self.ax_time.set_ylim(0, 1.15 * top)
        self.time_title.set_text(textwrap.fill(f"{scenario.title}: {scenario.question}", 100))

    def describe(self, results):
        failed = [(model.SCENARIOS[key].title, "; ".join(r.problems)) for key, r in results.items() if not r.passed]
        design = self.design
        notes = []
        if design.transaction == "choreography":
            notes.append("choreography: every edge is a message")
        elif design.transaction == "2pc":
            notes.append("two-phase commit: every edge is a synchronous call, and inventory holds the stock lock "
                         "while payments votes")
        note = f" <i>({'; '.join(notes)})</i>" if notes else ""
        if not failed:
            return f"<b>Passed all {len(results)} scenarios.</b>{note}"
        items = "".join(f"<li><b>{title}</b>: {why}</li>" for title, why in failed)
        return f"<b>Failed {len(failed)} of {len(results)} scenarios</b>{note}:<ul>{items}</ul>"


def checkout_dashboard(preset: str | None = None, interview=None, **settings) -> CheckoutDashboard:
    """Build lesson 09's design-under-pressure dashboard.

    ``preset`` loads a design (a key of :data:`~course.models.checkout_design.PRESETS`), other keyword
    arguments set controls (e.g. ``payments_timeout=1.0``), and ``interview`` (from
    :func:`course.interview.interview`) gets the follow-ups the current design invites.
    """
    return CheckoutDashboard(preset=preset, interview=interview, **settings)
