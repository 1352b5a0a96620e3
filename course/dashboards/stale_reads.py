"""Lesson 04's stale-reads dashboard: write on the primary, read a replica, and see what it still says."""

from __future__ import annotations

import functools

import ipywidgets as widgets
import numpy as np
from matplotlib.ticker import FuncFormatter

from course.models import stale_reads as model
from course.sim import _validate
from course.sim.data.store import ROUTINGS

from .base import Dashboard, legend_below

_LOOK = dict(style={"description_width": "180px"}, layout=widgets.Layout(width="425px"))
_SLIDER = dict(continuous_update=False, **_LOOK)
ROUTING_OPTIONS = [("always the primary", "primary"), ("a random replica", "random"),
                   ("a sticky replica per client", "sticky"), ("caught-up replica, else primary", "read_your_writes")]
ROUTING_NAMES = {value: label for label, value in ROUTING_OPTIONS}
#: The left panel's read delays (ms): the simulated points, and the x range.
DELTA_MAX_MS = 1000
DELTA_GRID_MS = np.arange(50, DELTA_MAX_MS + 1, 50)
TRIALS = 2_000
#: The session scenario behind the right panel: 4 clients, 50 rounds of (write, then read 3 times), 2 replicas.
PROCESSES, ROUNDS, READS_PER_WRITE, REPLICAS = 4, 50, 3, 2
SEED = 1
_SIM, _THEORY, _RYW, _MONO = "#d62828", "#1d3557", "#6a4c93", "#2a9d8f"


@functools.lru_cache(maxsize=128)
def sweep(lag_ms: int, delta_ms: int, seed: int = SEED) -> model.StaleSweep:
    """P(stale) at every :data:`DELTA_GRID_MS` delay and at ``delta_ms`` (sorted), :data:`TRIALS` reads each."""
    deltas = np.unique(np.append(DELTA_GRID_MS, delta_ms)) / 1000
    return model.stale_sweep_fast(deltas, lag_mean=lag_ms / 1000, trials=TRIALS, seed=seed)


@functools.lru_cache(maxsize=128)
def session(routing: str, lag_ms: int, delta_ms: int, seed: int = SEED) -> model.SessionResult:
    """The session scenario with reads ``routing``-routed, lag mean ``lag_ms`` and a mean think time of ``delta_ms``."""
    return model.session_run(routing, processes=PROCESSES, rounds=ROUNDS, reads_per_write=READS_PER_WRITE,
                             replicas=REPLICAS, lag_mean=lag_ms / 1000, think_mean=delta_ms / 1000, seed=seed)


def simulate(lag_ms: int = 100, delta_ms: int = 50, routing: str = "random", seed: int = SEED) -> dict:
    """The dashboard's data: the staleness sweep for lag mean ``lag_ms``, and the session run for ``routing``.

    Returns ``{"sweep", "session", "lag_ms", "delta_ms", "stale", "theory", "se"}``,
    the last three at ``delta_ms``.
    """
    _validate.positive("lag_ms", lag_ms)
    _validate.positive("delta_ms", delta_ms)
    _validate.one_of("routing", routing, ROUTINGS)
    s = sweep(int(lag_ms), int(delta_ms), seed)
    i = int(np.flatnonzero(np.isclose(s.deltas, delta_ms / 1000))[0])
    return {"sweep": s, "session": session(routing, int(lag_ms), int(delta_ms), seed), "lag_ms": int(lag_ms),
            "delta_ms": int(delta_ms), "stale": float(s.stale[i]), "theory": float(s.theory[i]),
            "se": float(s.se[i])}


class StaleReadsDashboard(Dashboard):
    """A write lands on the primary; replicas apply it after a lag drawn from Exp(mean L).

    Left: the chance that a read Δ after the write, from a replica, still sees
    the old value, simulated and exp(−Δ/L). Right: four clients write and
    re-read one key with reads routed by the dropdown; the checkers count the
    reads that broke read-your-writes or monotonic reads.
    """

    figsize = (10.0, 5.4)

    def controls(self):
        return {
            "lag_ms": widgets.IntSlider(100, min=10, max=500, step=10, description="Mean replication lag L (ms)",
                                        **_SLIDER),
            "delta_ms": widgets.IntSlider(50, min=10, max=DELTA_MAX_MS, step=10,
                                          description="Read Δ after the write (ms)", **_SLIDER),
            "routing": widgets.Dropdown(options=ROUTING_OPTIONS, value="random", description="Reads go to",
                                        **_LOOK),
        }

    def build_figure(self):
        ax_stale, ax_session = self.figure.subplots(1, 2, width_ratios=(1.35, 1))
        self.axes = (ax_stale, ax_session)
        ax_stale.grid(alpha=0.3)
        ax_session.grid(alpha=0.3, axis="x")

        ax_stale.set_xlim(0, DELTA_MAX_MS)
        ax_stale.set_ylim(-0.02, 1.02)
        ax_stale.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0%}"))
        self._fine_ms = np.linspace(0, DELTA_MAX_MS, 400)
        (self.line_theory,) = ax_stale.plot([], [], color=_THEORY, lw=2, label="theory: exp(−Δ/L)")
        (self.dots,) = ax_stale.plot([], [], "o", color=_SIM, ms=4, alpha=0.8,
                                     label=f"simulated ({TRIALS:,} reads per point)")
        (self.bar,) = ax_stale.plot([], [], color="black", lw=2)
        (self.marker,) = ax_stale.plot([], [], "o", ms=12, mfc="none", mec="black", mew=2,
                                       label="your Δ (bar: ±2 standard errors)")
        self.line_lag = ax_stale.axvline(np.nan, color=_THEORY, ls=":", lw=1, label="Δ = L")
        ax_stale.set_xlabel("read delay Δ after the write (ms)")
        ax_stale.set_ylabel("P(the replica still has the old value)")
        self.title_stale = ax_stale.set_title("")
        legend_below(ax_stale)

        labels = ("read-your-writes\nviolations", "monotonic-read\nviolations")
        self.bars = ax_session.barh([1, 0], [0, 0], color=[_RYW, _MONO], height=0.6,
                                    label="reads the checker flagged")
        self.bar_texts = [ax_session.text(0, y, "", va="center", ha="left") for y in (1, 0)]
        ax_session.set_yticks([1, 0], labels)
        ax_session.set_ylim(-0.6, 1.6)
        ax_session.set_xlabel("violations found by the checkers (reads)")
        ax_session.set_ylabel("session guarantee")
        self.title_session = ax_session.set_title("")
        legend_below(ax_session)

    def simulate(self, lag_ms, delta_ms, routing):
        return simulate(lag_ms, delta_ms, routing)

    def draw(self, d):
        ax_stale, ax_session = self.axes
        s, lag, delta = d["sweep"], d["lag_ms"], d["delta_ms"]
        self.line_theory.set_data(self._fine_ms, model.theory_stale(self._fine_ms / 1000, lag / 1000))
        self.dots.set_data(s.deltas * 1000, s.stale)
        self.marker.set_data([delta], [d["stale"]])
        self.bar.set_data([delta, delta], [max(0.0, d["stale"] - 2 * d["se"]), min(1.0, d["stale"] + 2 * d["se"])])
        self.line_lag.set_xdata([lag, lag])
        self.title_stale.set_text(f"Write, then read one replica Δ later; lag ~ Exp(mean L = {lag} ms)\n"
                                  f"At Δ = {delta} ms the read is stale {d['stale']:.0%} of the time")

        r = d["session"]
        counts = (r.ryw_violations, r.monotonic_violations)
        for bar, text, count, y in zip(self.bars, self.bar_texts, counts, (1, 0)):
            bar.set_width(count)
            text.set_position((count, y))
            text.set_text(f" {count:,} of {r.reads:,}")
        ax_session.set_xlim(0, max(10, 1.9 * max(counts)))
        self.title_session.set_text(f"{PROCESSES} clients, {REPLICAS} replicas, reads go to\n"
                                    f"{ROUTING_NAMES[r.routing]}")

    def describe(self, d):
        r = d["session"]
        broken = [name for name, count in (("read-your-writes", r.ryw_violations),
                                           ("monotonic reads", r.monotonic_violations)) if count]
        verdict = "both guarantees held" if not broken else " and ".join(broken) + " broken"
        return (f"A replica read {d['delta_ms']} ms after the write, lag mean {d['lag_ms']} ms: stale "
                f"<b>{d['stale']:.1%}</b> of {TRIALS:,} reads (theory exp(−Δ/L) = {d['theory']:.1%}) · "
                f"reads to {ROUTING_NAMES[r.routing]}: <b>{r.ryw_violations}</b> read-your-writes and "
                f"<b>{r.monotonic_violations}</b> monotonic-read violations in {r.reads:,} reads ({verdict})")


def stale_reads_dashboard(**settings) -> StaleReadsDashboard:
    """Build lesson 04's stale-reads dashboard; keyword arguments preset controls (e.g. ``routing="sticky"``)."""
    return StaleReadsDashboard(**settings)
