"""The end of lesson 09's mock interview: how the learner scored themselves, and what to revisit.

:func:`self_scores` counts the checklist items the learner ticked, per area.
:func:`summary` shows that as a table with bars, then the scenarios the
learner's design failed in the simulator, each with the lessons that teach
what it needed (:data:`SCENARIO_LESSONS`). :func:`summary_text` says the same
in plain text.
"""

from __future__ import annotations

import html
from typing import Iterable

import ipywidgets as widgets

from .drafts import Drafts
from .phases import AREAS, PHASES

#: The interviewer's scenarios, and the lessons to revisit when a design fails one.
SCENARIO_LESSONS = {
    "payments_slow": ("01", "03"),
    "inventory_down": ("03", "05"),
    "broker_chaos": ("05",),
    "crash_after_write": ("04", "05"),
    "traffic_spike": ("02", "03"),
}

#: Each scenario in a few words.
SCENARIO_TITLES = {
    "payments_slow": "the payment provider is slow",
    "inventory_down": "inventory is down",
    "broker_chaos": "the broker duplicates and reorders messages",
    "crash_after_write": "orders crashes after writing an order",
    "traffic_spike": "a traffic spike",
}

#: The lessons' notebooks, in ``course/`` beside lesson 09.
LESSON_NOTEBOOKS = {
    "01": "01_slow_dependency.ipynb",
    "02": "02_retries.ipynb",
    "03": "03_stop_the_bleeding.ipynb",
    "04": "04_data_consistency.ipynb",
    "05": "05_sagas_and_messages.ipynb",
    "06": "06_testing_together.ipynb",
    "07": "07_when_everything_moves.ipynb",
}

#: The lessons' titles in a few words.
LESSON_TITLES = {
    "01": "A slow dependency",
    "02": "Retries",
    "03": "Stop the bleeding",
    "04": "Data consistency",
    "05": "Sagas and messages",
    "06": "Testing together",
    "07": "When everything moves",
}


def self_scores(drafts: Drafts) -> dict[str, tuple[int, int]]:
    """``{area: (ticked, total)}`` over the checklist items of the phases in each area, in :data:`AREAS` order."""
    scores = {area: [0, 0] for area in AREAS}
    for p in PHASES:
        scores[p.area][0] += len(drafts.ticked(p.key))
        scores[p.area][1] += len(p.checklist)
    return {area: (ticked, total) for area, (ticked, total) in scores.items()}


def _failures(failed_scenarios) -> list[tuple[str, str | None]]:
    """``[(key, reason or None)]`` from keys or ``(key, reason)`` pairs; ValueError for anything else."""
    if isinstance(failed_scenarios, str):
        raise ValueError(f"failed_scenarios must be a sequence of scenario keys, got the string "
                         f"{failed_scenarios!r}; did you mean [{failed_scenarios!r}]?")
    failures: dict[str, str | None] = {}
    for item in failed_scenarios:
        if isinstance(item, str):
            key, reason = item, None
        elif isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[0], str):
            key, reason = item[0], (None if item[1] is None else str(item[1]))
        else:
            raise ValueError(f"a failed scenario is a key or a (key, reason) pair, got {item!r}")
        if key not in SCENARIO_LESSONS:
            raise ValueError(f"no scenario {key!r}; the scenarios are {', '.join(SCENARIO_LESSONS)}")
        failures.setdefault(key, reason)
    return list(failures.items())


def _percent(ticked: int, total: int) -> int:
    return round(100 * ticked / total) if total else 0


def summary_text(drafts: Drafts, failed_scenarios: Iterable = ()) -> str:
    """:func:`summary` as plain text: the self-scores per area, then each failed scenario and what to revisit."""
    failures = _failures(failed_scenarios)
    width = max(map(len, AREAS))
    lines = ["Your self-assessment (checklist items you ticked):"]
    for area, (ticked, total) in self_scores(drafts).items():
        lines.append(f"  {area:<{width}}  {ticked:>2} / {total:<2}  {_percent(ticked, total):>3}%")
    lines.append("")
    if not failures:
        lines.append("Your design passed all the scenarios.")
        return "\n".join(lines)
    lines.append("Scenarios your design failed:")
    for key, reason in failures:
        lines.append(f"  {key} ({SCENARIO_TITLES[key]})" + (f": {reason}" if reason else ""))
        lessons = ", ".join(f"{n} {LESSON_TITLES[n]} ({LESSON_NOTEBOOKS[n]})" for n in SCENARIO_LESSONS[key])
        lines.append(f"    revisit: {lessons}")
    return "\n".join(lines)


def _bar(percent: int) -> str:
    return ("<div style='width:160px;height:10px;background:#eee;display:inline-block'>"
            f"<div style='width:{percent}%;height:10px;background:#4a7fb0'></div></div>")


def _link(number: str) -> str:
    return f"<a href=\"{LESSON_NOTEBOOKS[number]}\">{number} · {html.escape(LESSON_TITLES[number])}</a>"


def summary(drafts: Drafts, failed_scenarios: Iterable = ()) -> widgets.HTML:
    """An HTML table of :func:`self_scores` with bars, then the failed scenarios with links to the lessons.

    ``failed_scenarios`` holds scenario keys (of :data:`SCENARIO_LESSONS`) or
    ``(key, reason)`` pairs; the reason is shown when given. Empty means the
    design passed every scenario.
    """
    failures = _failures(failed_scenarios)
    rows = "".join(
        f"<tr><td style='padding:2px 12px 2px 0'>{area}</td>"
        f"<td style='text-align:right;padding-right:12px'>{ticked} / {total}</td>"
        f"<td>{_bar(_percent(ticked, total))}</td><td style='padding-left:8px'>{_percent(ticked, total)}%</td></tr>"
        for area, (ticked, total) in self_scores(drafts).items())
    parts = ["<b>Your self-assessment</b> (checklist items you ticked)",
             f"<table style='border-collapse:collapse;margin:4px 0 12px 0'>{rows}</table>"]
    if not failures:
        parts.append("<b>Your design passed all the scenarios.</b>")
    else:
        items = []
        for key, reason in failures:
            why = f": {html.escape(reason)}" if reason else ""
            lessons = ", ".join(_link(n) for n in SCENARIO_LESSONS[key])
            items.append(f"<li><code>{key}</code> ({html.escape(SCENARIO_TITLES[key])}){why}<br>"
                         f"Revisit {lessons}</li>")
        parts.append(f"<b>Scenarios your design failed</b><ul style='margin:4px 0'>{''.join(items)}</ul>")
    return widgets.HTML("".join(parts), layout=widgets.Layout(width="auto", max_width="900px"))
