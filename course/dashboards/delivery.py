"""Lesson 05's delivery dashboard: a broker that repeats itself and reorders, and two ledger consumers.

Each update runs :func:`course.models.delivery.simulate`: :data:`TRANSFERS`
transfers between four accounts, each a debit and a credit message, over an
at-least-once broker, applied by a naive or an idempotent consumer; plus
:data:`ORDERS` orders whose three status updates ride the same kind of
broker. Left: each account's balance against what the transfers say it
should be. Right: every hand-over of a payment message, by when it arrived
and when it was sent, so duplicates and overtaken messages stand out.
"""

from __future__ import annotations

from functools import lru_cache

import ipywidgets as widgets
import numpy as np
from matplotlib.ticker import FixedLocator, MaxNLocator

from course.models import delivery as model

from .base import Dashboard, legend_below, plural

TRANSFERS = 100
ORDERS = 50
_LOOK = dict(style={"description_width": "190px"}, layout=widgets.Layout(width="420px"))
_SLIDER = dict(continuous_update=False, **_LOOK)
_EXPECTED, _ACTUAL, _BAD = "#adb5bd", "#1d3557", "#d62828"


@lru_cache(maxsize=256)
def simulate_cached(consumer: str, duplicate_probability: float, delay_ms: float, crash_probability: float,
                    seed: int) -> model.DeliveryResult:
    """One memoised run of the model at a dashboard setting."""
    return model.simulate(consumer, TRANSFERS, duplicate_probability, crash_probability, delay_ms / 1000, ORDERS,
                          seed)


def arrival_points(result: model.DeliveryResult) -> dict:
    """The right panel's points: ``(arrival ms, send sequence)`` arrays for first hand-overs in order,
    first hand-overs that arrived after a later-sent message, and repeats (duplicates, redeliveries)."""
    ids = {message_id for _, message_id, _ in result.arrivals}
    order = {m: i for i, m in enumerate(sorted(ids, key=_sent_key))}
    seen, newest = set(), -1
    groups = {"in_order": ([], []), "overtaken": ([], []), "repeat": ([], [])}
    for time, message_id, _ in result.arrivals:
        seq = order[message_id]
        if message_id in seen:
            key = "repeat"
        elif seq < newest:
            key = "overtaken"
        else:
            key = "in_order"
        newest = max(newest, seq)
        seen.add(message_id)
        groups[key][0].append(1000 * time)
        groups[key][1].append(seq)
    return {k: (np.asarray(x, dtype=float), np.asarray(y, dtype=float)) for k, (x, y) in groups.items()}


def repeated(r: model.DeliveryResult, bold: bool = False) -> str:
    """How many payments were applied more than once, and how many applications that added.

    ``double_applied`` counts payments (one applied three times counts once); the extra applications are
    ``applied - messages`` (that payment adds two), since every message is applied at least once.
    """
    if not r.double_applied:
        return "no payment applied more than once"
    b, end = ("<b>", "</b>") if bold else ("", "")
    return (f"{b}{r.double_applied}{end} {plural(r.double_applied, 'payment')} applied more than once "
            f"({b}{r.applied - r.messages}{end} extra)")


def _sent_key(message_id: str) -> tuple:
    number, leg = message_id.removeprefix("transfer-").split(":")
    return int(number), leg != "debit"


class DeliveryDashboard(Dashboard):
    """Payments over an at-least-once broker: do the balances add up?"""

    figsize = (10.0, 5.8)

    def controls(self):
        return {
            "consumer": widgets.Dropdown(options=[("naive: applies every copy", "naive"),
                                                  ("idempotent: skips seen ids", "idempotent")],
                                         value="naive", description="Ledger consumer", **_LOOK),
            "duplicate_probability": widgets.FloatSlider(0.05, min=0.0, max=0.5, step=0.01, readout_format=".2f",
                                                         description="P(broker sends a copy)", **_SLIDER),
            "delay_ms": widgets.IntSlider(50, min=1, max=200, step=1, description="Delivery delay, mean (ms)",
                                          **_SLIDER),
            "crash_probability": widgets.FloatSlider(0.05, min=0.0, max=0.3, step=0.01, readout_format=".2f",
                                                     description="P(consumer dies before ack)", **_SLIDER),
            "seed": widgets.IntSlider(1, min=1, max=20, description="Seed", **_SLIDER),
        }

    def build_figure(self):
        ax_bal, ax_arr = self.figure.subplots(1, 2, width_ratios=(1, 1.25))
        self.ax_bal, self.ax_arr = ax_bal, ax_arr
        x = np.arange(len(model.ACCOUNTS))
        self.bars_expected = ax_bal.bar(x - 0.2, np.zeros(len(x)), width=0.4, color=_EXPECTED,
                                        label="what the transfers say")
        self.bars_actual = ax_bal.bar(x + 0.2, np.zeros(len(x)), width=0.4, color=_ACTUAL,
                                      label="the ledger's balance (red if wrong)")
        ax_bal.axhline(model.INITIAL, color="black", lw=0.8, ls=":", label=f"start ({model.INITIAL})")
        ax_bal.set_xticks(x, model.ACCOUNTS)
        ax_bal.set_xlabel("account")
        ax_bal.set_ylabel("balance (€)")
        legend_below(ax_bal)
        ax_bal.grid(axis="y", alpha=0.3)
        ax_bal.set_title("")

        (self.dots_in_order,) = ax_arr.plot([], [], ".", color=_ACTUAL, ms=4, label="arrived in order")
        (self.dots_overtaken,) = ax_arr.plot([], [], "o", color="#f4a261", ms=5,
                                             label="overtaken by a later message")
        (self.dots_repeat,) = ax_arr.plot([], [], "x", color=_BAD, ms=7, mew=2,
                                          label="a repeat (duplicate or redelivery)")
        ax_arr.set_xlabel("arrival time at the consumer (ms)")
        ax_arr.set_ylabel("message number, in the order sent")
        legend_below(ax_arr)
        ax_arr.grid(alpha=0.3)
        ax_arr.set_title("")

    def simulate(self, consumer, duplicate_probability, delay_ms, crash_probability, seed):
        return simulate_cached(consumer, round(float(duplicate_probability), 4), float(delay_ms),
                               round(float(crash_probability), 4), int(seed))

    def draw(self, r):
        expected = [r.expected_after[a] for a in model.ACCOUNTS]
        actual = [r.balances_after[a] for a in model.ACCOUNTS]
        for bar, value in zip(self.bars_expected, expected):
            bar.set_height(value)
        for bar, value, want in zip(self.bars_actual, actual, expected):
            bar.set_height(value)
            bar.set_color(_ACTUAL if value == want else _BAD)
        low, high = min(0, *expected, *actual), max(*expected, *actual)
        self.ax_bal.set_ylim(low * 1.1, high * 1.1)
        before, after = sum(r.balances_before.values()), sum(r.balances_after.values())
        conserved = f"Money conserved ({after} €)" if r.money else f"Money NOT conserved: {before} → {after} €"
        self.ax_bal.set_title(f"{conserved}\n{repeated(r)}", color="black" if r.money and r.balances_exact else _BAD)
        points = arrival_points(r)
        self.dots_in_order.set_data(*points["in_order"])
        self.dots_overtaken.set_data(*points["overtaken"])
        self.dots_repeat.set_data(*points["repeat"])
        last = max((1000 * t for t, _, _ in r.arrivals), default=1.0)
        self.ax_arr.set_xlim(0, last * 1.03)
        # No tick label on the right edge (it would stick out of the figure), whatever the last arrival.
        ticks = MaxNLocator(nbins=6).tick_values(0, last * 1.03)
        self.ax_arr.xaxis.set_major_locator(FixedLocator(ticks[ticks <= last * 0.97]))
        self.ax_arr.set_ylim(-2, r.messages + 2)
        overtaken = points["overtaken"][0].size
        self.ax_arr.set_title(f"{r.deliveries} hand-overs of {r.messages} payment messages\n{r.duplicates} "
                              f"{plural(r.duplicates, 'copy', 'copies')}, {r.redeliveries} "
                              f"{plural(r.redeliveries, 'redelivery', 'redeliveries')}, {overtaken} overtaken")

    def describe(self, r):
        exact = "every balance <b>exact</b>" if r.balances_exact else "balances <b>wrong</b>"
        conserved = "money <b>conserved</b>" if r.money else "money <b>not conserved</b>"
        overtaken = arrival_points(r)["overtaken"][0].size
        return (f"{r.consumer.capitalize()} consumer: <b>{r.applied}</b> applications of {r.messages} payment "
                f"messages, {repeated(r, bold=True)} · {exact}, {conserved} · out of order: "
                f"<b>{overtaken}</b> {plural(overtaken, 'payment')} overtaken · order statuses ({ORDERS} orders): "
                f"last arrival wins leaves <b>{r.wrong_status_last_wins}</b> wrong, keeping the newest version leaves "
                f"<b>{r.wrong_status_versioned}</b>")


def delivery_dashboard(**settings) -> DeliveryDashboard:
    """Build lesson 05's delivery dashboard; keyword arguments preset controls (e.g. ``consumer="idempotent"``)."""
    return DeliveryDashboard(**settings)
