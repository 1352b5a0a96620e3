"""Lesson 07's trace dashboard: a request through A → B → C as a waterfall, RED per service, where the time went.

Each update runs (or recalls) the chain of :mod:`course.models.traces` at the
chosen share of slow calls at C, B's timeout on its calls to C and hedging on
or off, then picks one request (:func:`~course.models.traces.pick`). Top left:
its trace, a bar per span nested by parent and coloured by outcome, with the
time a call waited for a worker and the work a server went on doing after its
caller had stopped waiting drawn apart. Top right: where its end-to-end time
went, beside the mean for typical requests and for the slowest 1%. Bottom:
RED per service over the run, in 2-second windows: rate, errors, and p99
duration with the errors' p99 drawn apart (C's error burst shaded).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
from matplotlib.collections import PolyCollection
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from course.models import traces as model
from course.sim import Outcome

from .base import Dashboard, legend_below, plural

_LOOK = dict(style={"description_width": "170px"}, layout=widgets.Layout(width="420px"))
_SLIDER = dict(continuous_update=False, **_LOOK)
REQUEST_OPTIONS = (("typical (the median one)", "typical"), ("the slowest", "slowest"),
                   ("the most eventful one", "eventful"))
_REQUEST_WORDS = {"typical": "the median request", "slowest": "the slowest request",
                  "eventful": "the most eventful request"}
_OK, _ERROR, _TIMEOUT, _CANCELLED = "#2a9d8f", "#d62828", "#f4a261", "#adb5bd"
_QUEUE, _GONE = "#cdb4db", "#6c757d"
_SERVICE_COLOURS = {"A": "#1d3557", "B": "#e76f51", "C": "#6a994e"}
#: How the breakdown groups :data:`course.models.traces.SOURCES`, with a colour each.
GROUPS = (("C's work", ("C work",), "#6a994e"), ("A and B work", ("A work", "B work"), "#a8dadc"),
          ("queues", ("A queue", "B queue", "C queue"), _QUEUE), ("network", ("network",), "#8d99ae"),
          ("backoff", ("backoff",), "#e9c46a"), ("timeouts, failures", ("timeouts & failed attempts",), _ERROR))
_ROWS = 24          # span rows kept ready (a request has at most about 20)
_BURST = "#f1c0c0"


def _outcome_colour(code: int) -> str:
    if code == int(Outcome.OK):
        return _OK
    if code == int(Outcome.TIMEOUT):
        return _TIMEOUT
    if code == int(Outcome.CANCELLED):
        return _CANCELLED
    return _ERROR


def _outcome_word(code: int) -> str:
    if code < 0:
        return "no answer"
    return {Outcome.OK: "OK", Outcome.TIMEOUT: "timed out", Outcome.CANCELLED: "cancelled: the other copy won",
            Outcome.ERROR: "error"}.get(Outcome(code), Outcome(code).name.lower().replace("_", " "))


@dataclass
class TraceView:
    """One update: the run's overview, the request picked and its trace and latency breakdown."""

    overview: model.Overview
    which: str
    root: int
    trace: list
    sources: dict

    @property
    def run(self) -> model.TraceRun:
        return self.overview.run


def simulate(slow_share: float, b_timeout: float, hedging: bool, which: str, seed: int = 1) -> TraceView:
    """The overview at these settings (remembered per setting) and the trace of the request ``which`` picks."""
    overview = model.overview_cached(slow_share, b_timeout, hedging, seed)
    root = model.pick(overview.run, which)
    trace = model.spans(overview.run, root)
    return TraceView(overview, which, root, trace, model.latency_sources(overview.run, root, trace))


def _grouped(sources: dict) -> list[float]:
    total = sum(sources.values())
    return [sum(sources[key] for key in keys) / total if total > 0 else 0.0 for _, keys, _ in GROUPS]


class TraceDashboard(Dashboard):
    """A request's trace through A → B → C, RED per service, and where the latency came from."""

    figsize = (10.0, 8.6)

    def controls(self):
        return {
            "slow_share": widgets.IntSlider(round(100 * model.SLOW_SHARE), min=0, max=20, step=1,
                                            description="C's slow calls (%)", **_SLIDER),
            "b_timeout_ms": widgets.IntSlider(round(1000 * model.B_TIMEOUT), min=50, max=400, step=10,
                                              description="B's timeout on C (ms)", **_SLIDER),
            "hedging": widgets.Checkbox(True, description=f"B hedges a call to C after {model.HEDGE_DELAY * 1000:g} ms",
                                        indent=False, layout=widgets.Layout(width="420px")),
            "request": widgets.Dropdown(options=list(REQUEST_OPTIONS), value="eventful", description="Which request",
                                        **_LOOK),
        }

    def build_figure(self):
        axes = self.figure.subplot_mosaic([["trace", "trace", "where"], ["rate", "errors", "duration"]],
                                          height_ratios=[1.75, 1.0])
        self.ax_trace, self.ax_where = axes["trace"], axes["where"]
        self.ax_rate, self.ax_errors, self.ax_duration = axes["rate"], axes["errors"], axes["duration"]

        ax = self.ax_trace
        self.queue_bars = PolyCollection([], facecolors=_QUEUE, edgecolors="none", zorder=2)
        self.bars = PolyCollection([], edgecolors="black", linewidths=0.6, zorder=3)
        self.gone_bars = PolyCollection([], facecolors="none", edgecolors=_GONE, hatch="////", linewidths=0.6,
                                        zorder=2)
        for collection in (self.queue_bars, self.gone_bars, self.bars):
            ax.add_collection(collection)
        self.end_line = ax.axvline(np.nan, color="black", ls="--", lw=1, zorder=1)
        self.notes = [ax.text(0, 0, "", va="center", ha="left", visible=False, zorder=5,
                              bbox=dict(facecolor="white", edgecolor="none", alpha=0.85, pad=1))
                      for _ in range(_ROWS)]
        ax.set_xlabel("time since the request reached A (ms)")
        ax.set_ylabel("span (each under its parent)")
        ax.grid(axis="x", alpha=0.3)
        legend_below(ax, [Patch(facecolor=_OK, edgecolor="black", label="OK"),
                          Patch(facecolor=_ERROR, edgecolor="black", label="error"),
                          Patch(facecolor=_TIMEOUT, edgecolor="black", label="timed out"),
                          Patch(facecolor=_CANCELLED, edgecolor="black", label="cancelled (hedge race lost)"),
                          Patch(facecolor=_QUEUE, label="waiting for a worker"),
                          Patch(facecolor="white", edgecolor=_GONE, hatch="////",
                                label="work after the caller gave up"),
                          Line2D([], [], color="black", ls="--", label="answer to the user")], ncols=3)

        ax = self.ax_where
        self.where_rows = ("this request", f"typical {model.TYPICAL_GROUP}", "slowest 1%")
        y = np.arange(len(self.where_rows))
        self.where_bars = [ax.barh(y, np.zeros(y.size), left=np.zeros(y.size), height=0.6, color=colour,
                                   edgecolor="white", linewidth=0.5, label=label)
                           for label, _, colour in GROUPS]
        ax.set_yticks(y, self.where_rows)
        ax.set_ylim(len(y) - 0.5, -0.5)
        ax.set_xlim(0, 1)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0%}"))
        ax.set_xlabel("share of end-to-end time")
        ax.set_ylabel("requests")
        ax.set_title("Where the time went")
        legend_below(ax)

        self.red_lines = {}
        for name, width in zip(model.SERVICES, (3.4, 2.0, 1.6)):  # A under B: they often coincide
            colour = _SERVICE_COLOURS[name]
            self.red_lines[name] = {
                "rate": self.ax_rate.plot([], [], color=colour, lw=width)[0],
                "errors": self.ax_errors.plot([], [], color=colour, lw=width, marker="o", ms=3)[0],
                "p99_ok": self.ax_duration.plot([], [], color=colour, lw=width)[0],
                "p99_error": self.ax_duration.plot([], [], color=colour, lw=1.2, ls=":", marker="x", ms=5)[0],
            }
        self.bursts = [ax.axvspan(0, 0, color=_BURST, alpha=0.6, lw=0, zorder=0)
                       for ax in (self.ax_rate, self.ax_errors, self.ax_duration)]
        for ax, label, title in ((self.ax_rate, "calls answered per s", "Rate"),
                                 (self.ax_errors, "errors (% of calls)", "Errors"),
                                 (self.ax_duration, "p99 duration (ms, log)", "Duration (p99)")):
            ax.set_xlim(0, model.DURATION)
            ax.set_xlabel("time (s)")
            ax.set_ylabel(label)
            ax.set_title(title)
            ax.grid(alpha=0.3)
        self.ax_errors.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0%}"))
        self.ax_duration.set_yscale("log")
        self.ax_duration.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        handles = ([Line2D([], [], color=_SERVICE_COLOURS[name], lw=2, label=f"service {name}")
                    for name in model.SERVICES]
                   + [Line2D([], [], color="black", lw=1.6, label="p99 of successes"),
                      Line2D([], [], color="black", lw=1.2, ls=":", marker="x", label="p99 of errors"),
                      Patch(facecolor=_BURST, label="C's error burst")])
        self.figure.legend(handles=handles, labels=[h.get_label() for h in handles], loc="outside lower center",
                           ncols=6, frameon=False, columnspacing=1.2, handlelength=1.8)

    def simulate(self, slow_share, b_timeout_ms, hedging, request):
        return simulate(slow_share / 100, b_timeout_ms / 1000, bool(hedging), request)

    # -- drawing ------------------------------------------------------------------------------------------
    def draw(self, v: TraceView):
        self._draw_trace(v)
        self._draw_where(v)
        self._draw_red(v)

    def _draw_trace(self, v: TraceView):
        ax = self.ax_trace
        trace = v.trace[:_ROWS]
        t0 = trace[0].start

        def ms(t: float) -> float:
            return 1000 * (t - t0)

        by_id = {span.id: span for span in trace}
        answered = ms(trace[0].end)
        shown_ends = [ms(s.end) for s in trace if not s.abandoned and math.isfinite(s.end)]
        right = max(shown_ends + [answered, 1.0]) * 1.45
        half = 0.32
        bars, colours, queues, gone = [], [], [], []

        def box(x0, x1, y):
            return [(x0, y - half), (x1, y - half), (x1, y + half), (x0, y + half)]

        for note in self.notes:
            note.set_visible(False)
        for y, span in enumerate(trace):
            start = ms(span.start)
            end = ms(span.end) if math.isfinite(span.end) else right * 2
            waited_until = end
            if span.abandoned and span.parent is not None:
                waited_until = min(end, ms(by_id[span.parent].end))
                gone.append(box(waited_until, end, y))
            if span.kind == "server" and math.isfinite(span.work_start):
                work = ms(span.work_start)
                if work > start:
                    queues.append(box(start, work, y))
                start = work
            bars.append(box(start, max(waited_until, start + right * 0.004), y))
            colours.append(_outcome_colour(span.outcome))
            note = self.notes[y]
            if span.kind in ("attempt", "retry", "hedge", "request"):
                word = _outcome_word(span.outcome) if span.kind != "request" else f"{answered:,.0f} ms"
                note.set(text=word, x=ms(span.end) + right * 0.012, y=y, ha="left", visible=True, color="black")
            elif span.abandoned and end > right:
                ends = f"ends at {end:,.0f} ms" if math.isfinite(span.end) else "still running at the end"
                note.set(text=f"→ {ends}", x=right * 0.99, y=y, ha="right", visible=True, color="black")
        self.bars.set_verts(bars)
        self.bars.set_facecolors(colours)
        self.queue_bars.set_verts(queues)
        self.gone_bars.set_verts(gone)
        self.end_line.set_xdata([answered, answered])
        rows = len(trace)
        ax.set_yticks(np.arange(rows), [span.label for span in trace])
        ax.set_ylim(max(rows, 8) - 0.4, -0.6)
        ax.set_xlim(0, right)
        f = v.run.features
        root = v.root
        counts = [(int(f["retries"][root]), "retry", "retries"), (int(f["hedges"][root]), "hedge", None),
                  (int(f["timeouts"][root]), "timeout", None)]
        events = ", ".join(f"{n} {plural(n, one, many)}" for n, one, many in counts)
        ax.set_title(f"Trace of {_REQUEST_WORDS[v.which]} (id {root}): {answered:,.0f} ms, "
                     f"{_outcome_word(trace[0].outcome)}; {events}")

    def _draw_where(self, v: TraceView):
        rows = [_grouped(v.sources), _grouped(v.overview.typical), _grouped(v.overview.slowest)]
        left = np.zeros(len(rows))
        for g, container in enumerate(self.where_bars):
            widths = np.array([row[g] for row in rows])
            for rect, x, w in zip(container.patches, left, widths):
                rect.set_x(x)
                rect.set_width(w)
            left += widths

    def _draw_red(self, v: TraceView):
        red = v.overview.red
        top_rate, top_errors, low, high = 1.0, 0.05, math.inf, 0.0
        for name, lines in self.red_lines.items():
            r = red[name]
            middle = r.t + r.window / 2
            lines["rate"].set_data(middle, r.rate)
            lines["errors"].set_data(middle, r.errors)
            lines["p99_ok"].set_data(middle, 1000 * r.p99_ok)
            lines["p99_error"].set_data(middle, 1000 * r.p99_error)
            top_rate = max(top_rate, float(np.nanmax(r.rate)))
            if np.any(np.isfinite(r.errors)):
                top_errors = max(top_errors, float(np.nanmax(r.errors)))
            for values in (r.p99_ok, r.p99_error):
                finite = values[np.isfinite(values)]
                if finite.size:
                    low, high = min(low, 1000 * finite.min()), max(high, 1000 * finite.max())
        self.ax_rate.set_ylim(0, top_rate * 1.15)
        self.ax_errors.set_ylim(-0.02 * top_errors, top_errors * 1.15)
        if math.isfinite(low):
            self.ax_duration.set_ylim(low / 1.6, high * 1.6)
        burst = v.run.burst
        for span in self.bursts:
            x0, x1 = (burst[0], burst[1]) if burst else (0, 0)
            span.set_x(x0)
            span.set_width(x1 - x0)

    def describe(self, v: TraceView):
        o, run = v.overview, v.run
        steady = o.steady
        retried = steady["requests_with_retry"] / max(steady["requests"], 1)
        theory = model.retry_share(run.slow_share, run.b_timeout, run.error_rate, run.hedging)
        if run.hedging:
            hedged = (f"B hedged <b>{steady['hedges'] / max(steady['tries'], 1):.1%}</b> of its tries to C (theory "
                      f"{model.hedge_share(run.slow_share, run.hedge_delay, run.b_timeout, run.error_rate):.1%}) and ")
        else:
            hedged = "no hedging; "
        c_errors = float(np.mean(run.servers["C"]["outcome"] != int(Outcome.OK)))
        return (f"{run.requests:,} requests in {run.duration:g} s: p50 <b>{1000 * o.p50:,.0f} ms</b>, "
                f"p99 <b>{1000 * o.p99:,.0f} ms</b>; <b>{o.user_errors:.2%}</b> failed for the user, while C answered "
                f"{c_errors:.1%} of its calls with an error · Outside C's error burst, {hedged}"
                f"<b>{retried:.1%}</b> of requests needed a retry (theory {theory:.1%})")


def trace_dashboard(**settings) -> TraceDashboard:
    """Build lesson 07's trace dashboard; keyword arguments preset controls (e.g. ``request="slowest"``)."""
    return TraceDashboard(**settings)
