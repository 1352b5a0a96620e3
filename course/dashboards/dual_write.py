"""Lesson 04's dual-write dashboard: save the order, tell the warehouse, and crash in between."""

from __future__ import annotations

import functools

import ipywidgets as widgets
import numpy as np
from matplotlib.ticker import FuncFormatter

from course.models import dual_write as model
from course.sim import _validate

from .base import Dashboard, legend_below, plural

_LOOK = dict(style={"description_width": "180px"}, layout=widgets.Layout(width="410px"))
_SLIDER = dict(continuous_update=False, **_LOOK)
MODE_OPTIONS = [("write the row, then publish", "write_then_publish"),
                ("publish, then write the row", "publish_then_write"),
                ("transactional outbox + relay", "outbox")]
#: Crash probabilities the left panel simulates (the current setting is added to them).
P_GRID = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
P_MAX = 0.5
SEED = 1
#: The right panel's delay axis (ms); orders the consumer never heard about sit on the top line.
_Y_MS = (0.5, 4e6)
_NEVER_MS = 1e6
_ROW_NO_EVENT, _EVENT_NO_ROW, _OK, _THEORY = "#d62828", "#f77f00", "#1d3557", "#8d99ae"


@functools.lru_cache(maxsize=256)
def run(mode: str, crash_probability: float, orders: int, seed: int = SEED) -> model.DualWriteResult:
    """One memoised run of :func:`course.models.dual_write.simulate`."""
    return model.simulate(mode, crash_probability, orders, seed)


def simulate(mode: str = "write_then_publish", crash_probability: float = 0.05, orders: int = 200,
             seed: int = SEED) -> dict:
    """The dashboard's data: the run at this setting and the runs at every :data:`P_GRID` probability.

    Every run uses the same seed, so the crash draws are shared and the curve
    rises smoothly with the probability. Returns ``{"current": result, "p":
    array, "rows_without_event": array, "events_without_row": array}``.
    """
    _validate.one_of("mode", mode, model.MODES)
    _validate.probability("crash_probability", crash_probability)
    _validate.integer_at_least("orders", orders, 1)
    p = np.array(sorted({*P_GRID, round(float(crash_probability), 6)}))
    results = [run(mode, float(q), orders, seed) for q in p]
    return {"current": run(mode, round(float(crash_probability), 6), orders, seed), "p": p,
            "rows_without_event": np.array([len(r.rows_without_event) for r in results]),
            "events_without_row": np.array([len(r.events_without_row) for r in results])}


def event_delays_ms(result: model.DualWriteResult) -> dict:
    """Per order: how long after the request the consumer first heard of it (ms), split by outcome.

    Returns arrays ``order``/``delay`` for ``ok`` (row and event), ``phantom``
    (an event for an order with no row: its delay) and ``never`` (a row the
    consumer never heard about: just the order numbers).
    """
    ok, phantom, never = ([], []), ([], []), []
    for order, requested, row_at, event_at in result.timeline:
        if event_at is None:
            if row_at is not None:
                never.append(order)
            continue
        target = ok if row_at is not None else phantom
        target[0].append(order)
        target[1].append((event_at - requested) * 1000)
    return {"ok": tuple(np.array(v, dtype=float) for v in ok),
            "phantom": tuple(np.array(v, dtype=float) for v in phantom),
            "never": np.array(never, dtype=float)}


class DualWriteDashboard(Dashboard):
    """An order service writes each order to its database and announces it to the warehouse, and may crash.

    Left: anomalies (rows nobody heard about, events about orders that don't
    exist) against the crash probability, with the current setting marked and
    the theory line p × orders. Right: for the current run, how long the
    warehouse waited to hear about each order.
    """

    figsize = (10.0, 5.5)

    def controls(self):
        return {
            "mode": widgets.Dropdown(options=MODE_OPTIONS, value="write_then_publish",
                                     description="The service writes it as", **_LOOK),
            "crash_probability": widgets.FloatSlider(0.05, min=0.0, max=P_MAX, step=0.01, readout_format=".0%",
                                                     description="Crash probability per order", **_SLIDER),
            "orders": widgets.IntSlider(200, min=20, max=500, step=10, description="Orders", **_SLIDER),
        }

    def build_figure(self):
        ax_curve, ax_delay = self.figure.subplots(1, 2)
        self.axes = (ax_curve, ax_delay)
        for ax in self.axes:
            ax.grid(alpha=0.3)

        ax_curve.set_xlim(-0.01, P_MAX + 0.01)
        ax_curve.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0%}"))
        (self.line_theory,) = ax_curve.plot([], [], color=_THEORY, lw=1.5, ls="--",
                                            label="theory for a dual write: p × orders")
        (self.line_rows,) = ax_curve.plot([], [], "o-", color=_ROW_NO_EVENT, lw=2, ms=5,
                                          label="rows nobody heard about")
        (self.line_events,) = ax_curve.plot([], [], "s-", color=_EVENT_NO_ROW, lw=2, ms=5,
                                            label="events about orders that don't exist")
        (self.marker,) = ax_curve.plot([], [], "o", ms=14, mfc="none", mec="black", mew=2,
                                       label="this setting (anomalies)")
        ax_curve.set_xlabel("crash probability per order")
        ax_curve.set_ylabel("anomalies (orders)")
        self.title_curve = ax_curve.set_title("")
        legend_below(ax_curve)

        ax_delay.set_yscale("log")
        ax_delay.set_ylim(*_Y_MS)
        ax_delay.axhline(_NEVER_MS, color=_ROW_NO_EVENT, lw=0.8, alpha=0.5)
        (self.dots_ok,) = ax_delay.plot([], [], ".", color=_OK, ms=4, label="row and event")
        (self.dots_phantom,) = ax_delay.plot([], [], "s", color=_EVENT_NO_ROW, ms=5,
                                             label="event, but no row")
        (self.dots_never,) = ax_delay.plot([], [], "x", color=_ROW_NO_EVENT, ms=7, mew=2,
                                           label="row, never heard of (top line)")
        ax_delay.yaxis.set_major_formatter(FuncFormatter(
            lambda v, _: "never" if v >= _NEVER_MS else f"{v:,.0f}" if v >= 1 else f"{v:g}"))
        ax_delay.set_yticks([1, 10, 100, 1000, 10_000, _NEVER_MS])
        ax_delay.set_xlabel("order number")
        ax_delay.set_ylabel("time until the warehouse heard (ms, log scale)")
        self.title_delay = ax_delay.set_title("")
        legend_below(ax_delay)

    def simulate(self, mode, crash_probability, orders):
        return simulate(mode, float(crash_probability), int(orders))

    def draw(self, d):
        ax_curve, ax_delay = self.axes
        r = d["current"]
        p = d["p"]
        self.line_theory.set_data([0, P_MAX], [0, P_MAX * r.orders])
        self.line_rows.set_data(p, d["rows_without_event"])
        self.line_events.set_data(p, d["events_without_row"])
        self.marker.set_data([r.crash_probability], [r.anomalies])
        ax_curve.set_ylim(-0.02 * r.orders, 0.55 * r.orders)
        self.title_curve.set_text(f"{model.MODE_NAMES[r.mode].capitalize()}: anomalies in {r.orders:,} orders")

        delays = event_delays_ms(r)
        self.dots_ok.set_data(*delays["ok"])
        self.dots_phantom.set_data(*delays["phantom"])
        self.dots_never.set_data(delays["never"], np.full(delays["never"].shape, _NEVER_MS))
        ax_delay.set_xlim(-1, r.orders)
        heard = delays["ok"][1]
        slowest = f"\nslowest {heard.max() / 1000:,.1f} s" if heard.size and heard.max() >= 1000 else (
            f"\nslowest {heard.max():,.0f} ms" if heard.size else "")
        self.title_delay.set_text(f"This run, order by order (crash probability {r.crash_probability:.0%})"
                                  f"{slowest}")

    def describe(self, d):
        r = d["current"]
        expected = r.crash_probability * r.orders
        theory = "theory: none" if r.mode == "outbox" else f"theory about {expected:,.0f}"
        duplicates = (f" · the warehouse got <b>{r.duplicate_deliveries}</b> duplicate "
                      f"{plural(r.duplicate_deliveries, 'event')} (at least once)"
                      if r.mode == "outbox" else "")
        rows, events = len(r.rows_without_event), len(r.events_without_row)
        return (f"{model.MODE_NAMES[r.mode].capitalize()}, {r.crash_probability:.0%} crash probability, "
                f"{r.orders:,} orders: <b>{rows}</b> {plural(rows, 'row')} the warehouse never heard about, "
                f"<b>{events}</b> {plural(events, 'event')} about orders that don't exist ({theory})"
                f"{duplicates}")


def dual_write_dashboard(**settings) -> DualWriteDashboard:
    """Build lesson 04's dual-write dashboard; keyword arguments preset controls (e.g. ``mode="outbox"``)."""
    return DualWriteDashboard(**settings)
