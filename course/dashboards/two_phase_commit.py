"""Lesson 04's two-phase-commit dashboard: the coordinator crashes, and the participants wait with their locks."""

from __future__ import annotations

import functools

import ipywidgets as widgets
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from course.models import two_phase_commit as model
from course.sim import _validate

from .base import Dashboard, legend_beside, plural

_LOOK = dict(style={"description_width": "170px"}, layout=widgets.Layout(width="400px"))
_SLIDER = dict(continuous_update=False, **_LOOK)
CRASH_OPTIONS = [("never", "none"), ("before sending prepare", "before_prepare"),
                 ("after all the votes are in", "after_votes"), ("while sending the decision", "mid_decision")]
CRASH_TEXT = {"none": "never crashes", "before_prepare": "crashes before sending prepare",
              "after_votes": "crashes after all the votes are in", "mid_decision": "crashes while sending the decision"}
MAX_PARTICIPANTS = 8
SEED = 1
_COLOURS = {"locked": "#e9c46a", "blocked": "#d62828", "down": "#adb5bd"}
_BAR_HEIGHT = 0.6


@functools.lru_cache(maxsize=256)
def run(crash: str, recovery_s: float, participants: int, seed: int = SEED) -> model.TwoPCRun:
    """One memoised transaction; ``crash`` is ``"none"`` or one of :data:`course.models.two_phase_commit.CRASHES`."""
    return model.simulate(None if crash == "none" else crash, participants=participants,
                          recovery_time=recovery_s, seed=seed)


def simulate(crash: str = "after_votes", recovery_s: float = 30.0, participants: int = 3, seed: int = SEED):
    """Validate the dashboard's settings and run the transaction (see :func:`run`)."""
    _validate.one_of("crash", crash, [value for _, value in CRASH_OPTIONS])
    _validate.positive("recovery_s", recovery_s)
    _validate.integer_at_least("participants", participants, 1)
    if participants > MAX_PARTICIPANTS:
        raise ValueError(f"participants must be at most {MAX_PARTICIPANTS}, got {participants!r}")
    return run(crash, float(recovery_s), participants, seed)


def end_of_run(r: model.TwoPCRun) -> float:
    """The last moment anything happens: a lock released, a decision heard, the coordinator back."""
    times = [t for t, _, _ in r.result.events]
    return max(times) if times else 0.0


class TwoPhaseCommitDashboard(Dashboard):
    """One transaction across N participants; the coordinator may crash at one of three points.

    A Gantt chart over simulated time: the coordinator's outage, and for each
    participant the time it held its locks, split into "protocol running" and
    "prepared, blocked: voted yes and no decision", with the decision it got.
    """

    figsize = (10.0, 4.4)

    def controls(self):
        return {
            "crash": widgets.Dropdown(options=CRASH_OPTIONS, value="after_votes", description="The coordinator crashes",
                                      **_LOOK),
            "recovery_s": widgets.IntSlider(30, min=1, max=120, description="…and is back after (s)", **_SLIDER),
            "participants": widgets.IntSlider(3, min=1, max=MAX_PARTICIPANTS, description="Participants", **_SLIDER),
        }

    def build_figure(self):
        ax = self.figure.subplots()
        self.ax = ax
        ax.grid(alpha=0.3, axis="x")
        self.down = Rectangle((0, 0), 0, _BAR_HEIGHT, color=_COLOURS["down"], hatch="//", ec="#6c757d", lw=0.5)
        ax.add_patch(self.down)
        self.bars = []
        for _ in range(MAX_PARTICIPANTS * 3):
            bar = Rectangle((0, 0), 0, _BAR_HEIGHT, color=_COLOURS["locked"], visible=False)
            ax.add_patch(bar)
            self.bars.append(bar)
        (self.commits,) = ax.plot([], [], "o", color="#2a9d8f", ms=9, mec="black", zorder=5)
        (self.aborts,) = ax.plot([], [], "X", color="black", ms=9, zorder=5)
        ax.set_xlabel("simulated time (s)")
        ax.set_ylabel("who")
        self.title = ax.set_title("")
        handles = [Patch(color=_COLOURS["locked"], label="holding locks,\nprotocol running"),
                   Patch(color=_COLOURS["blocked"], label="prepared and blocked:\nvoted yes, no decision"),
                   Patch(facecolor=_COLOURS["down"], hatch="//", edgecolor="#6c757d", label="coordinator down"),
                   Line2D([], [], marker="o", color="#2a9d8f", mec="black", ls="none", label="commit (locks released)"),
                   Line2D([], [], marker="X", color="black", ls="none", label="abort (locks released)")]
        legend_beside(ax, handles)

    def simulate(self, crash, recovery_s, participants):
        return simulate(crash, recovery_s, int(participants))

    def draw(self, r):
        ax = self.ax
        res = r.result
        n = len(res.participants)
        row = {p.index: n - 1 - p.index for p in res.participants}  # p0 on top, the coordinator above it
        if res.crashed_at is not None:
            self.down.set_bounds(res.crashed_at, n - _BAR_HEIGHT / 2, res.recovered_at - res.crashed_at, _BAR_HEIGHT)
            self.down.set_visible(True)
        else:
            self.down.set_visible(False)
        for bar in self.bars:
            bar.set_visible(False)
        for bar, (index, start, end, state) in zip(self.bars, r.timeline):
            bar.set_bounds(start, row[index] - _BAR_HEIGHT / 2, end - start, _BAR_HEIGHT)
            bar.set_color(_COLOURS[state])
            bar.set_visible(True)
        decided = [p for p in res.participants if p.decided_at is not None]
        self.commits.set_data([p.decided_at for p in decided if p.decision == "commit"],
                              [row[p.index] for p in decided if p.decision == "commit"])
        self.aborts.set_data([p.decided_at for p in decided if p.decision == "abort"],
                             [row[p.index] for p in decided if p.decision == "abort"])
        end = end_of_run(r)
        ax.set_xlim(0, 1.08 * end if end > 0 else 1.0)
        ax.set_ylim(-0.7, n + 0.7)
        ax.set_yticks(list(range(n + 1)), [f"participant {i}" for i in reversed(range(n))] + ["coordinator"])
        crash = self.params["crash"]
        back = f", back {res.recovery_time:g} s later" if crash != "none" else ""
        self.title.set_text(f"Two-phase commit, {n} participant{'s' if n > 1 else ''}. The coordinator "
                            f"{CRASH_TEXT[crash]}{back}.\nDecision: {r.decision}")

    def describe(self, r):
        held, blocked = r.lock_held, r.blocked
        n_blocked = int(np.count_nonzero(blocked))
        locks = (f"locks held <b>{held.max():,.2f} s</b> at most ({held.sum():,.2f} lock-seconds in all)"
                 if held.max() > 0 else "<b>no locks</b> were taken")
        waited = (f"<b>{n_blocked}</b> of {len(blocked)} {plural(len(blocked), 'participant')} sat prepared and "
                  f"blocked for "
                  f"<b>{blocked.max():,.2f} s</b>" if n_blocked else "nobody was blocked")
        presumed = " (presumed abort: the coordinator had decided nothing)" if (
            r.decision == "abort" and r.result.crashed_at is not None) else ""
        return f"Decision <b>{r.decision}</b>{presumed} · {locks} · {waited}"


def two_phase_commit_dashboard(**settings) -> TwoPhaseCommitDashboard:
    """Build lesson 04's two-phase-commit dashboard; keyword arguments preset controls (e.g. ``crash="none"``)."""
    return TwoPhaseCommitDashboard(**settings)
