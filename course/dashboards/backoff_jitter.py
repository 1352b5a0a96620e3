"""Lesson 02's backoff dashboard: Brooker's contention model, calls and completion time against clients."""

from __future__ import annotations


import ipywidgets as widgets
import numpy as np
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from course.models import occ_contention as model

from .base import Dashboard

_LOOK = dict(style={"description_width": "160px"}, layout=widgets.Layout(width="380px"))
_CHECK = dict(indent=False, layout=widgets.Layout(width="380px"))
#: The client counts on the curves, and the trials averaged at each point.
CLIENTS = tuple(range(10, 101, 10))
TRIALS = 20
SEED = 0
_STYLE = {
    "none": dict(color="#adb5bd", ls=":", label="no backoff"),
    "exponential": dict(color="#d62828", ls="-", label="exponential, no jitter"),
    "full_jitter": dict(color="#2a9d8f", ls="-", label="full jitter"),
    "equal_jitter": dict(color="#1d3557", ls="--", label="equal jitter"),
    "decorrelated_jitter": dict(color="#f4a261", ls="-.", label="decorrelated jitter"),
}


def _seconds(value, _position=None) -> str:
    return f"{value:g}"


_SWEEP: dict = {}


def sweep() -> dict:
    """Every curve of the published model: strategy -> one result per N in :data:`CLIENTS`.

    The model's settings are fixed (Brooker's), so the sweep is computed once,
    the first time a dashboard is built (a few seconds), and shared by every
    dashboard after that. Moving the controls never simulates: they choose
    which curves to show and where to read them.
    """
    if not _SWEEP:
        _SWEEP.update({s: [model.simulate(s, n, TRIALS, SEED) for n in CLIENTS] for s in model.STRATEGIES})
    return _SWEEP


def point(strategy: str, clients: int) -> model.ContentionResult:
    """One point of a curve, from :func:`sweep`."""
    return sweep()[strategy][CLIENTS.index(clients)]


class BackoffJitterDashboard(Dashboard):
    """N clients race to update one row (Brooker 2015). Calls and completion time against N, per backoff strategy.

    Each point is the mean of :data:`TRIALS` runs of the model. The first
    build computes every curve once (a few seconds, see :func:`sweep`); the
    controls only choose what to show, so an update draws and never simulates.
    """

    figsize = (10.0, 5.5)

    def controls(self):
        return {
            "clients": widgets.IntSlider(100, min=CLIENTS[0], max=CLIENTS[-1], step=10, continuous_update=False,
                                         description="Read the curves at N =", **_LOOK),
            "show_exponential": widgets.Checkbox(True, description="Show exponential without jitter", **_CHECK),
            "show_none": widgets.Checkbox(False, description="Show no backoff at all", **_CHECK),
            "log_time": widgets.Checkbox(True, description="Log scale for completion time", **_CHECK),
        }

    def build_figure(self):
        ax_calls, ax_time = self.figure.subplots(1, 2)
        self.ax_calls, self.ax_time = ax_calls, ax_time
        self.curves = {}
        self.dots = {}
        for strategy, style in _STYLE.items():
            pair = []
            for ax in (ax_calls, ax_time):
                (line,) = ax.plot([], [], lw=2, marker="o", ms=3, **style)
                (dot,) = ax.plot([], [], "o", ms=8, color=style["color"], mec="black", mew=0.8)
                pair.append((line, dot))
            self.curves[strategy] = pair
        self.marks = [ax.axvline(np.nan, color="black", lw=0.8, alpha=0.5) for ax in (ax_calls, ax_time)]
        ax_calls.set_xlabel("clients contending for the row (N)")
        ax_calls.set_ylabel("calls to the database (writes attempted)")
        ax_calls.set_title("Work: calls until every client has written")
        ax_time.set_xlabel("clients contending for the row (N)")
        ax_time.set_ylabel("time until the last client succeeds (s)")
        ax_time.set_title("Time: completion of the last client")
        for ax in (ax_calls, ax_time):
            ax.set_xlim(0, CLIENTS[-1] + 5)
            ax.grid(alpha=0.3)
        self.legend = self._legend([pair[0][0] for pair in self.curves.values()], CLIENTS[-1])

    def _legend(self, handles, clients):
        """One key for both panels, under them: three columns, so three to five curves take one or two rows."""
        return self.figure.legend(handles=handles, labels=[h.get_label() for h in handles], loc="outside lower center",
                                  ncols=3, frameon=False, title=f"Read at N = {clients}:")

    def simulate(self, clients, show_exponential, show_none, log_time):
        shown = [s for s in model.STRATEGIES
                 if (s != "exponential" or show_exponential) and (s != "none" or show_none)]
        curves = sweep()
        return {s: curves[s] for s in shown}, clients

    def draw(self, result):
        curves, clients = result
        at = CLIENTS.index(clients)
        calls_max, time_max, time_min = 1.0, 0.01, np.inf
        for strategy, ((line_c, dot_c), (line_t, dot_t)) in self.curves.items():
            points = curves.get(strategy)
            if points is None:
                for artist in (line_c, dot_c, line_t, dot_t):
                    artist.set_data([], [])
                    artist.set_label("_hidden")
                continue
            calls = [p.calls for p in points]
            times = [p.completion for p in points]
            line_c.set_data(CLIENTS, calls)
            line_t.set_data(CLIENTS, times)
            dot_c.set_data([clients], [calls[at]])
            dot_t.set_data([clients], [times[at]])
            line_c.set_label(f"{_STYLE[strategy]['label']}\n{calls[at]:,.0f} calls, {times[at]:.1f} s")
            calls_max, time_max = max(calls_max, max(calls)), max(time_max, max(times))
            time_min = min(time_min, min(times))
        for mark in self.marks:
            mark.set_xdata([clients, clients])
        self.ax_calls.set_ylim(0, calls_max * 1.08)
        if self.params["log_time"]:
            self.ax_time.set_yscale("log")
            self.ax_time.set_ylim(time_min / 1.5, time_max * 1.5)
            self.ax_time.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
            self.ax_time.yaxis.set_major_formatter(FuncFormatter(_seconds))
            self.ax_time.yaxis.set_minor_formatter(NullFormatter())
        else:
            self.ax_time.set_yscale("linear")
            self.ax_time.set_ylim(0, time_max * 1.1)
        handles = [pair[0][0] for s, pair in self.curves.items() if s in curves]
        self.legend.remove()
        self.legend = self._legend(handles, clients)

    def describe(self, result):
        curves, clients = result
        at = CLIENTS.index(clients)
        full = curves["full_jitter"][at]
        parts = [f"At N = {clients}, averaged over {TRIALS} runs: full jitter makes <b>{full.calls:,.0f}</b> calls "
                 f"and finishes in <b>{full.completion:.1f} s</b>"]
        if "exponential" in curves:
            exp = curves["exponential"][at]
            parts.append(f"exponential without jitter makes <b>{exp.calls:,.0f}</b> "
                         f"({exp.calls / full.calls:.1f}× as many) and finishes in <b>{exp.completion:.1f} s</b>")
        return " · ".join(parts)


def backoff_jitter_dashboard(**settings) -> BackoffJitterDashboard:
    """Build lesson 02's backoff-and-jitter dashboard; keyword arguments preset controls (e.g. ``clients=50``)."""
    return BackoffJitterDashboard(**settings)
