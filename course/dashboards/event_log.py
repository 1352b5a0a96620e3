"""Lesson 08's event-log dashboard: a projection falls behind in a burst, catches up, and meets a poison message."""

from __future__ import annotations

import functools

import ipywidgets as widgets
import numpy as np

from course.models import event_log as model

from .base import Dashboard, legend_below, plural

_LOOK = dict(style={"description_width": "190px"}, layout=widgets.Layout(width="420px"))
_SLIDER = dict(continuous_update=False, **_LOOK)
DLQ_OPTIONS = [("none: retry forever", 0), ("after 3 attempts", 3), ("after 10 attempts", 10)]
_SIM, _THEORY, _BURST, _POISON, _OTHER = "#1d3557", "#8d99ae", "#f77f00", "#d62828", "#457b9d"
_OTHERS = ("#457b9d", "#2a9d8f", "#6a4c93")


@functools.lru_cache(maxsize=128)
def simulate_cached(burst_rate: int, consumer_rate: int, poison: bool, max_attempts: int, seed: int) -> model.Run:
    """:func:`course.models.event_log.run_fast`, memoised per setting."""
    return model.run_fast(model.BASE_RATE, float(burst_rate), float(consumer_rate), bool(poison), int(max_attempts),
                          int(seed))


def _when(t: float) -> str:
    return "not within the run" if not np.isfinite(t) else f"at {t:.0f} s"


class EventLogDashboard(Dashboard):
    """Left: the whole projection's lag behind the log, simulated and the fluid theory. Right: each partition's
    lag, with the poison message on partition 0 and what the dead-letter queue does about it."""

    figsize = (10.0, 5.4)

    def controls(self):
        return {
            "burst_rate": widgets.IntSlider(int(model.BURST_RATE), min=40, max=200, step=10,
                                            description="Burst rate λ1 (events/s)", **_SLIDER),
            "consumer_rate": widgets.IntSlider(int(model.CONSUMER_RATE), min=50, max=150, step=5,
                                               description="Projection rate μ (events/s)", **_SLIDER),
            "poison": widgets.Checkbox(True, description=f"Poison message at {model.POISON_AT:.0f} s", indent=False,
                                       layout=widgets.Layout(width="420px")),
            "max_attempts": widgets.Dropdown(options=DLQ_OPTIONS, value=0, description="Dead-letter queue", **_LOOK),
            "seed": widgets.IntSlider(1, min=1, max=20, description="Seed", **_SLIDER),
        }

    def build_figure(self):
        ax_total, ax_parts = self.figure.subplots(1, 2, width_ratios=(1.2, 1))
        self.axes = (ax_total, ax_parts)
        for ax in self.axes:
            ax.grid(alpha=0.3)
            ax.set_xlim(0, model.HORIZON)
            ax.set_xlabel("time (s)")
        end = model.BURST_START + model.BURST_SECONDS
        self.burst_spans = [ax.axvspan(model.BURST_START, end, color=_BURST, alpha=0.12, lw=0) for ax in self.axes]
        self.poison_lines = [ax.axvline(model.POISON_AT, color=_POISON, ls=":", lw=1.2) for ax in self.axes]

        (self.line_total,) = ax_total.plot([], [], color=_SIM, lw=2, label="simulated")
        (self.line_theory,) = ax_total.plot([], [], color=_THEORY, ls="--", lw=2,
                                            label="theory: up at λ1 − μ, down at μ − λ0")
        ax_total.set_ylabel("events behind the log head (all partitions)")
        self.title_total = ax_total.set_title("")
        legend_below(ax_total, handles=[self.line_total, self.line_theory, self.burst_spans[0], self.poison_lines[0]],
                     labels=["simulated", "theory: up at λ1 − μ, down at μ − λ0", "burst",
                             "poison message written"], ncols=2)

        self.part_lines = []
        for p in range(model.PARTITIONS):
            colour = _POISON if p == model.POISONED else _OTHERS[(p - 1) % len(_OTHERS)]
            (line,) = ax_parts.plot([], [], color=colour, lw=2.2 if p == model.POISONED else 1.2,
                                    label=f"partition {p}" + (" (gets the poison)" if p == model.POISONED else ""))
            self.part_lines.append(line)
        ax_parts.set_ylabel("events behind, per partition")
        self.title_parts = ax_parts.set_title("")
        legend_below(ax_parts, ncols=2)

    def simulate(self, burst_rate, consumer_rate, poison, max_attempts, seed):
        return simulate_cached(int(burst_rate), int(consumer_rate), bool(poison), int(max_attempts), int(seed))

    def draw(self, r: model.Run):
        ax_total, ax_parts = self.axes
        total = r.total_lag
        theory = model.fluid_lag(r.grid, r.base_rate, r.burst_rate, r.consumer_rate)
        self.line_total.set_data(r.grid, total)
        self.line_theory.set_data(r.grid, theory)
        ax_total.set_ylim(0, 1.1 * max(50.0, total.max(), theory.max()))
        peak = model.peak_lag(r.burst_rate, r.consumer_rate)
        self.title_total.set_text(f"Burst {r.burst_rate:.0f} events/s for {model.BURST_SECONDS:.0f} s, projection "
                                  f"{r.consumer_rate:.0f}/s\npeak {r.peak:,} events behind (theory {peak:,.0f})")
        for line, lag in zip(self.part_lines, r.lag):
            line.set_data(r.grid, lag)
        ax_parts.set_ylim(0, 1.1 * max(20.0, r.lag.max()))
        for line in self.poison_lines:
            line.set_visible(r.poison)
        self.title_parts.set_text(self._poison_words(r))
        self.title_parts.set_color(_POISON if r.poison and not r.max_attempts else "black")

    @staticmethod
    def _poison_words(r: model.Run) -> str:
        if not r.poison or r.poison_time is None:
            return "No poison message\nevery partition keeps up"
        p = model.POISONED
        if r.poison_reached is None:
            return (f"Poison message written at {r.poison_time:.0f} s, still queued\n"
                    f"behind {int(r.lag[p, -1]) - 1:,} events of partition {p} at the end")
        if not r.max_attempts:
            return (f"Partition {p} stuck since {r.poison_reached:.0f} s, no DLQ:\n"
                    f"{int(r.lag[p, -1]):,} events and {r.behind[p, -1]:.0f} s behind at the end")
        stall = model.stall_seconds(r.max_attempts, r.consumer_rate)
        if not r.dead_letters:
            return f"Partition {p}: still retrying the poison message\n({r.max_attempts} attempts take {stall:.0f} s)"
        return (f"Partition {p}: {r.max_attempts} attempts, {stall:.0f} s stalled,\n"
                f"then {r.dead_letters} {plural(r.dead_letters, 'message')} parked in the DLQ")

    def describe(self, r: model.Run):
        drain = model.drain_seconds(r.base_rate, r.burst_rate, r.consumer_rate)
        end = model.BURST_START + model.BURST_SECONDS
        back = r.caught_up_at()
        if not np.isfinite(back) and r.poison_time is not None:
            back_words = f"not before the poison message at {r.poison_time:.0f} s"
        else:
            back_words = _when(back)
        wait = model.worst_wait_seconds(r.burst_rate, r.consumer_rate)
        text = (f"Peak lag <b>{r.peak:,}</b> {plural(r.peak, 'event')} (theory (λ1 − μ)·D = "
                f"{model.peak_lag(r.burst_rate, r.consumer_rate):,.0f}); back to normal (≤ {model.NORMAL_LAG} "
                f"behind) <b>{back_words}</b> (theory {end + drain:.0f} s); a write at the peak shows in the read "
                f"model about <b>{wait:.0f} s</b> later")
        if r.poison and r.poison_time is not None:
            p = model.POISONED
            if r.poison_reached is None:
                text += f" · the poison message on partition {p} has not been reached yet"
            elif r.max_attempts:
                text += (f" · poison message: <b>{r.dead_letters}</b> {plural(r.dead_letters, 'message')} in the "
                         f"DLQ, partition {p} went on after {r.max_attempts} attempts")
            else:
                text += (f" · poison message, no DLQ: partition {p} is <b>{int(r.lag[p, -1]):,}</b> "
                         f"{plural(int(r.lag[p, -1]), 'event')} behind and growing at its arrival rate "
                         f"({model.BASE_RATE / model.PARTITIONS:.0f} events/s)")
        return text


def event_log_dashboard(**settings) -> EventLogDashboard:
    """Build lesson 08's event-log dashboard; keyword arguments preset controls (e.g. ``max_attempts=3``)."""
    return EventLogDashboard(**settings)
