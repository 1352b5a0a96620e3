"""Lesson 08's quorum dashboard: N replicas, write to W, read from R, and see how often a read misses the write."""

from __future__ import annotations

import functools

import ipywidgets as widgets
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter

from course.models import quorum as model
from course.sim import _validate

from .base import Dashboard, legend_below, plural

_LOOK = dict(style={"description_width": "180px"}, layout=widgets.Layout(width="425px"))
_SLIDER = dict(continuous_update=False, **_LOOK)
N_MIN, N_MAX = 3, 7
TRIALS = 20_000
SEED = 1
_SIM, _THEORY, _WRITE, _READ = "#d62828", "#1d3557", "#e76f51", "#2a9d8f"


@functools.lru_cache(maxsize=256)
def run(n: int, r: int, w: int, lag_ms: int, seed: int = SEED) -> model.QuorumRun:
    """:func:`course.models.quorum.simulate` at these settings, :data:`TRIALS` trials (cached)."""
    return model.simulate(n, r, w, lag_mean=lag_ms / 1000, trials=TRIALS, seed=seed)


def simulate(n: int = 3, r: int = 1, w: int = 1, lag_ms: int = 100, seed: int = SEED) -> dict:
    """The dashboard's data. R and W above N are clamped to N (a quorum cannot exceed the replicas there are).

    Returns ``{"run", "n", "r", "w", "asked_r", "asked_w", "lag_ms"}``: ``asked_*`` are the
    values before clamping.
    """
    _validate.integer_at_least("n", n, 1)
    _validate.integer_at_least("r", r, 1)
    _validate.integer_at_least("w", w, 1)
    _validate.positive("lag_ms", lag_ms)
    r_used, w_used = min(r, n), min(w, n)
    return {"run": run(n, r_used, w_used, int(lag_ms), seed), "n": n, "r": r_used, "w": w_used,
            "asked_r": r, "asked_w": w, "lag_ms": int(lag_ms)}


def clamp_note(d: dict) -> str:
    """Words for any R or W that was more than N ("" if none)."""
    notes = [f"{name} = {asked} > N, so {name} = {d['n']}" for name, asked in (("R", d["asked_r"]), ("W", d["asked_w"]))
             if asked > d["n"]]
    return "; ".join(notes)


class QuorumDashboard(Dashboard):
    """N replicas each apply a write after Exp(mean L); the client hears "ok" when W have it.

    Left: the chance that a read of R random replicas, t after that ok, sees
    none of them with the write, simulated and C(N−W, R)/C(N, R) · e^{−R·t/L}.
    Right: what waiting costs: a write waits for the W-th fastest of N
    replicas, a read for the slowest of the R it asks (p50 and p99).
    """

    figsize = (10.0, 5.6)

    def controls(self):
        return {
            "n": widgets.IntSlider(3, min=N_MIN, max=N_MAX, description="Replicas N", **_SLIDER),
            "w": widgets.IntSlider(1, min=1, max=N_MAX, description="Write quorum W", **_SLIDER),
            "r": widgets.IntSlider(1, min=1, max=N_MAX, description="Read quorum R", **_SLIDER),
            "lag_ms": widgets.IntSlider(100, min=10, max=500, step=10, description="Mean replica lag L (ms)",
                                        **_SLIDER),
            "seed": widgets.IntSlider(SEED, min=1, max=20, description="Seed", **_SLIDER),
        }

    def build_figure(self):
        ax_stale, ax_cost = self.figure.subplots(1, 2, width_ratios=(1.25, 1))
        self.axes = (ax_stale, ax_cost)
        for ax in self.axes:
            ax.grid(alpha=0.3)

        ax_stale.set_ylim(-0.02, 1.02)
        ax_stale.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0%}"))
        self._fine = np.linspace(0, model.T_OVER_LAG[-1], 300)  # multiples of L
        (self.line_theory,) = ax_stale.plot([], [], color=_THEORY, lw=2,
                                            label="theory: C(N−W, R)/C(N, R) · exp(−R·t/L)")
        (self.dots,) = ax_stale.plot([], [], "o", color=_SIM, ms=4, alpha=0.85,
                                     label=f"simulated ({TRIALS:,} writes, one read each per point)")
        self.line_lag = ax_stale.axvline(np.nan, color=_THEORY, ls=":", lw=1, label="t = L")
        ax_stale.set_xlabel("time t since the write was acknowledged (ms)")
        ax_stale.set_ylabel("P(the read returns the old value)")
        self.title_stale = ax_stale.set_title("")
        legend_below(ax_stale)

        self.cost_lines = {}
        for kind, colour in (("write", _WRITE), ("read", _READ)):
            for q, style in zip(model.QUANTILES, ("--", "-")):
                (self.cost_lines[kind, q],) = ax_cost.plot([], [], style, color=colour, lw=1.8)
                (self.cost_lines[kind, q, "sim"],) = ax_cost.plot([], [], "o", color=colour, ms=4, alpha=0.85)
        (self.ring_w,) = ax_cost.plot([], [], "o", ms=12, mfc="none", mec="black", mew=2)
        (self.ring_r,) = ax_cost.plot([], [], "s", ms=12, mfc="none", mec="black", mew=2)
        ax_cost.set_xlabel("quorum size: replicas waited for (W) or asked (R)")
        ax_cost.set_ylabel("latency (ms)")
        self.title_cost = ax_cost.set_title("")
        handles = [Line2D([], [], color=_WRITE, lw=1.8, label="write: W-th fastest of N"),
                   Line2D([], [], color=_READ, lw=1.8, label="read: slowest of R"),
                   Line2D([], [], color="grey", lw=1.8, label="p99 (solid), p50 (dashed): theory"),
                   Line2D([], [], marker="o", ls="none", color="grey", ms=4, label="simulated"),
                   Line2D([], [], marker="o", ls="none", ms=10, mfc="none", mec="black", mew=2, label="your W"),
                   Line2D([], [], marker="s", ls="none", ms=10, mfc="none", mec="black", mew=2, label="your R")]
        legend_below(ax_cost, handles, ncols=2)

    def simulate(self, n, r, w, lag_ms, seed):
        return simulate(n, r, w, lag_ms, seed)

    def draw(self, d):
        ax_stale, ax_cost = self.axes
        run_, lag, n, r, w = d["run"], d["lag_ms"], d["n"], d["r"], d["w"]
        self.line_theory.set_data(self._fine * lag, model.theory_stale(self._fine * lag / 1000, n, r, w, lag / 1000))
        self.dots.set_data(run_.times * 1000, run_.stale)
        self.line_lag.set_xdata([lag, lag])
        ax_stale.set_xlim(0, model.T_OVER_LAG[-1] * lag)
        if run_.overlapping:
            verdict = f"R + W = {r + w} > N: every read meets the write, never stale"
        else:
            verdict = f"R + W = {r + w} ≤ N: stale {run_.stale[0]:.0%} right after the ok"
        capped = [name for name in ("W", "R") if d[f"asked_{name.lower()}"] > n]
        note = f" ({' and '.join(capped)} capped at N)" if capped else ""
        self.title_stale.set_text(f"N = {n}, W = {w}, R = {r}{note}, L = {lag} ms\n{verdict}")

        sizes = np.arange(1, n + 1)
        top = 0.0
        for kind, sim, theory in (("write", run_.write_latency, run_.write_theory),
                                  ("read", run_.read_latency, run_.read_theory)):
            for j, q in enumerate(model.QUANTILES):
                self.cost_lines[kind, q].set_data(sizes, theory[:, j] * 1000)
                self.cost_lines[kind, q, "sim"].set_data(sizes, sim[:, j] * 1000)
            top = max(top, float(theory.max()), float(sim.max()))
        self.ring_w.set_data([w], [run_.write_quantile(0.99) * 1000])
        self.ring_r.set_data([r], [run_.read_quantile(0.99) * 1000])
        ax_cost.set_xlim(0.6, n + 0.4)
        ax_cost.set_xticks(sizes)
        ax_cost.set_ylim(0, 1.1 * top * 1000)
        self.title_cost.set_text(f"What waiting costs, L = {lag} ms\n"
                                 f"p99: write {run_.write_quantile(0.99) * 1000:.0f} ms, "
                                 f"read {run_.read_quantile(0.99) * 1000:.0f} ms")

    def describe(self, d):
        run_, n, r, w, lag = d["run"], d["n"], d["r"], d["w"], d["lag_ms"]
        at_lag = int(np.argmin(np.abs(run_.times * 1000 - lag)))
        note = clamp_note(d)
        head = (f"N = {n} {plural(n, 'replica')}, a write waits for W = {w}, a read asks R = {r}"
                + (f" ({note}: a quorum cannot be bigger than the replicas there are)" if note else "") + ": ")
        if run_.overlapping:
            stale = (f"R + W = {r + w} > N, so every read set shares a replica with the write's: "
                     f"<b>0</b> stale reads of {TRIALS:,}")
        else:
            stale = (f"a read right after the ok is stale <b>{run_.stale[0]:.1%}</b> of the time "
                     f"(theory {run_.theory[0]:.1%}), <b>{run_.stale[at_lag]:.1%}</b> one mean lag later "
                     f"(theory {run_.theory[at_lag]:.1%})")
        cost = (f" · write p99 <b>{run_.write_quantile(0.99) * 1000:.0f} ms</b> "
                f"(theory {run_.write_quantile(0.99, theory=True) * 1000:.0f}), read p99 "
                f"<b>{run_.read_quantile(0.99) * 1000:.0f} ms</b> "
                f"(theory {run_.read_quantile(0.99, theory=True) * 1000:.0f}), L = {lag} ms")
        return head + stale + cost


def quorum_dashboard(**settings) -> QuorumDashboard:
    """Build lesson 08's quorum dashboard; keyword arguments preset controls (e.g. ``r=2, w=2``)."""
    return QuorumDashboard(**settings)
