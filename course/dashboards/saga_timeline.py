"""Lesson 05's saga timeline: one order saga drawn as a sequence diagram, step by step and undo by undo.

You choose which step fails (if any) and how the compensations behave; the
saga runs in :mod:`course.models.saga_sequence` and the diagram is read from
its :class:`~course.sim.data.SagaResult`: a lifeline per service, time running
down, a box per attempt at a step or a compensation, an arrow per message.
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from course.models.saga_sequence import (ACTION_TEXT, RETRIES, SERVICES, STEP_SERVICE, TRANSIT_SHARE, UNDO_TEXT,
                                         run_one)

from .base import Dashboard, legend_below, plural

_LOOK = dict(style={"description_width": "140px"}, layout=widgets.Layout(width="420px"))
_GREEN, _RED, _BLUE, _ORANGE, _GREY = "#2a9d8f", "#d62828", "#457b9d", "#f4a261", "#6c757d"
_POOL = 40  # text labels kept ready for boxes


class SagaTimelineDashboard(Dashboard):
    """One order saga as a sequence diagram: a lifeline per service, time running down."""

    figsize = (10.0, 6.5)

    def controls(self):
        return {
            "style": widgets.Dropdown(options=[("orchestration: one service directs", "orchestration"),
                                               ("choreography (services react)", "choreography")],
                                      value="orchestration", description="Style", **_LOOK),
            "fail_step": widgets.Dropdown(options=[("none", "none"), ("inventory: reserve", "reserve"),
                                                   ("payment: charge", "charge"), ("shipping: book courier", "ship")],
                                          value="ship", description="Which step fails", **_LOOK),
            "compensation": widgets.Dropdown(options=[("never", "never"), ("once, then works", "once"),
                                                      (f"always (after {RETRIES} retries: stuck)", "always")],
                                             value="never", description="A compensation fails", **_LOOK),
            "seed": widgets.IntSlider(1, min=1, max=20, description="Seed (latencies)", continuous_update=False,
                                      **_LOOK),
        }

    def build_figure(self):
        ax = self.figure.subplots()
        self.ax = ax
        lanes = np.arange(len(SERVICES))
        for x in lanes:
            ax.axvline(x, color="#adb5bd", lw=1, ls="--", zorder=0)
        ax.set_xticks(lanes, [f"{s} service" for s in SERVICES])
        ax.set_xlim(-0.6, len(SERVICES) + 0.2)  # room right of the last lane for its boxes' labels
        ax.set_xlabel("service (one lifeline each)")
        ax.set_ylabel("simulated time (ms), running down")
        self.boxes = PolyCollection([], edgecolors="black", linewidths=0.8, zorder=3)
        ax.add_collection(self.boxes)
        self.shafts = LineCollection([], colors=_GREY, linewidths=1.1, zorder=2)
        ax.add_collection(self.shafts)
        (self.heads_right,) = ax.plot([], [], ls="none", marker=">", ms=6, color=_GREY, zorder=2)
        (self.heads_left,) = ax.plot([], [], ls="none", marker="<", ms=6, color=_GREY, zorder=2)
        (self.fail_marks,) = ax.plot([], [], ls="none", marker="X", ms=10, color=_RED, mec="white", zorder=4)
        self.labels = [ax.text(0, 0, "", va="center", ha="left", visible=False, zorder=5)
                       for _ in range(_POOL)]
        self.verdict = ax.text(0.99, 0.98, "", transform=ax.transAxes, ha="right", va="top", fontsize=11,
                               fontweight="bold", bbox=dict(facecolor="white", edgecolor="none", alpha=0.85))
        legend_below(ax, [Patch(facecolor=_GREEN, edgecolor="black", label="step done"),
                          Patch(facecolor=_RED, edgecolor="black", label="step failed"),
                          Patch(facecolor=_BLUE, edgecolor="black", label="compensation done"),
                          Patch(facecolor=_ORANGE, edgecolor="black", label="compensation failed"),
                          Patch(facecolor=_GREY, edgecolor="black", label="orchestrator holds the saga"),
                          Line2D([], [], color=_GREY, marker=">", label="message")], ncols=3)
        ax.set_title("")
        ax.grid(axis="y", alpha=0.3)

    def simulate(self, style, fail_step, compensation, seed):
        return run_one(style, fail_step, compensation, int(seed))

    def draw(self, r):
        ax = self.ax
        lane = {s: i for i, s in enumerate(SERVICES)}
        width = 0.13
        verts, colours = [], []
        fails_x, fails_y = [], []
        end = 1000 * max([e.time_end for e in r.events] + [m[1] for m in r.messages] + [1e-3])
        least = 0.012 * end  # a box never thinner than this, so a quick attempt stays visible
        for label in self.labels:
            label.set_visible(False)
        if r.style == "orchestration" and r.result.ended is not None:  # the orchestrator holds the saga's state
            y0, y1 = 1000 * r.result.started, 1000 * r.result.ended
            verts.append([(-0.04, y0), (0.04, y0), (0.04, y1), (-0.04, y1)])
            colours.append(_GREY)
        for i, e in enumerate(r.events):
            x = lane[STEP_SERVICE[e.step]]
            y0, y1 = 1000 * e.time_start, 1000 * e.time_end
            if r.style == "orchestration":
                hop = TRANSIT_SHARE * (y1 - y0)
                y0, y1 = y0 + hop, y1 - hop
            if y1 - y0 < least:
                y0, y1 = (y0 + y1 - least) / 2, (y0 + y1 + least) / 2
            verts.append([(x - width, y0), (x + width, y0), (x + width, y1), (x - width, y1)])
            if e.kind == "action":
                colours.append(_GREEN if e.ok else _RED)
                text = ACTION_TEXT[e.step]
            else:
                colours.append(_BLUE if e.ok else _ORANGE)
                text = UNDO_TEXT[e.step]
            if not e.ok:
                fails_x.append(x + width)
                fails_y.append((y0 + y1) / 2)
            if i < len(self.labels):
                mark = "✓" if e.ok else "✗ failed"
                gap = 0.04 if e.ok else 0.1  # clear of the failure's cross
                self.labels[i].set(text=f"{text} {mark}", x=x + width + gap, y=(y0 + y1) / 2, ha="left", visible=True,
                                   color="black" if e.ok else _RED)
        self.boxes.set_verts(verts)
        self.boxes.set_facecolors(colours)
        self.fail_marks.set_data(fails_x, fails_y)
        segments, right, left = [], [], []
        for sent, received, source, target, _ in r.messages:
            x0, x1 = lane[source], lane[target]
            y0, y1 = 1000 * sent, 1000 * received
            pad = width if x1 > x0 else -width
            segments.append([(x0 + pad, y0), (x1 - pad, y1)])
            (right if x1 > x0 else left).append((x1 - pad, y1))
        self.shafts.set_segments(segments)
        self.heads_right.set_data(*(zip(*right) if right else ([], [])))
        self.heads_left.set_data(*(zip(*left) if left else ([], [])))
        ax.set_ylim(end * 1.06, -end * 0.04)
        style = "Orchestration" if r.style == "orchestration" else "Choreography"
        failure = "no step fails" if r.fail_step == "none" else f"{ACTION_TEXT[r.fail_step]} fails"
        undo = {"never": "compensations work", "once": "each compensation fails once, then works",
                "always": "compensations always fail"}[r.compensation]
        ax.set_title(f"{style}: {failure}; {undo}")
        colour = {"completed": _GREEN, "compensated": _BLUE, "stuck": _RED}.get(r.status, "black")
        self.verdict.set(text=f"final status: {r.status.upper()}", color=colour)

    def describe(self, r):
        kind = "commands and replies" if r.style == "orchestration" else "events over the broker"
        undone = r.compensation_order()
        if r.status == "completed":
            what = "every step succeeded"
        elif r.status == "compensated":
            what = ("nothing to undo: the first step failed" if not undone else
                    "undone in reverse order: " + " → ".join(UNDO_TEXT[s] for s in undone))
        else:
            what = (f"<b>{UNDO_TEXT[r.result.stuck_step]}</b> failed {RETRIES + 1} times; the customer is left "
                    f"with {'a reserved widget' if r.held['widget'] else 'no widget'} and "
                    f"{'a charge of ' + str(r.held['charged']) if r.held['charged'] else 'no charge'}: "
                    f"someone gets paged")
        verdict = "valid" if r.check else "violated (stuck)"
        messages = len(r.messages)
        return (f"Final status <b>{r.status}</b> · {what} · <b>{messages}</b> {plural(messages, 'message')} ({kind}) · "
                f"took {1000 * r.result.duration:.0f} ms · check_sagas: {verdict}")


def saga_timeline_dashboard(**settings) -> SagaTimelineDashboard:
    """Build lesson 05's saga timeline; keyword arguments preset controls (e.g. ``style="choreography"``)."""
    return SagaTimelineDashboard(**settings)
