"""Lesson 09's interview widget: one card per phase, drafts saved as the learner types.

:func:`interview` returns an :class:`Interview`, a VBox of :class:`PhaseCard` s
in phase order and an "Export to Markdown" button. Each card shows the phase's
title, suggested time and area, the interviewer's prompt, a timer, and a text
box for the answer. The answer is saved whenever the text box's value changes
(on leaving the box, since ``continuous_update=False``) and by the Save button.
"Reveal the rubric" then shows the checklist as ticks (saved too), the red
flags and the follow-ups, including those the learner's design triggers
(:func:`~course.interview.phases.follow_ups_for`; :meth:`Interview.set_design`
changes the design).

Tests drive it headless: set ``card.answer.value``, call ``card.reveal.click()``,
set ``card.checks[i].value`` or ``card.timer.value`` (the Play widget counts in
the browser), then read the drafts file, ``card.status.value`` or
``card.clock.value``.
"""

from __future__ import annotations

import html
import time
from typing import Sequence

import ipywidgets as widgets

from autograder.fetch import shown
from course.models.checkout_design import Design

from .drafts import Drafts, DraftsError
from .phases import PHASES, Phase, follow_ups_for

_WIDE = widgets.Layout(width="auto", max_width="900px")
_RED = "#b02a2a"
_GREY = "#555"


def _list(items: Sequence[str]) -> str:
    return "<ul style='margin:2px 0'>" + "".join(f"<li>{html.escape(item)}</li>" for item in items) + "</ul>"


def _error(message: str) -> str:
    return f"<span style='color:{_RED}'>{html.escape(message)}</span>"


def clock_text(seconds: int, minutes: int) -> str:
    """The timer's label: ``"3:12 of 5:00"``, and "time's up" once the time has run out."""
    limit = minutes * 60
    text = f"{seconds // 60}:{seconds % 60:02d} of {limit // 60}:{limit % 60:02d}"
    return text + " — time's up" if seconds >= limit else text


class PhaseCard(widgets.VBox):
    """One phase: heading, prompt, timer, answer box, Save, status, and the rubric behind a button.

    Attributes: ``phase``, ``answer`` (Textarea), ``save`` and ``reveal``
    (Buttons), ``status`` (HTML), ``timer`` (Play) and ``clock`` (Label),
    ``rubric`` (the VBox shown after reveal), ``checks`` (its Checkboxes, empty
    until revealed), ``follow_ups`` (HTML).
    """

    def __init__(self, number: int, phase: Phase, drafts: Drafts, design: Design | None = None):
        self.phase = phase
        self.drafts = drafts
        self.heading = widgets.HTML(
            f"<h3 style='margin:8px 0 2px 0'>{number}. {html.escape(phase.title)}</h3>"
            f"<span style='color:{_GREY}'>about {phase.minutes} min · {html.escape(phase.area)}</span>",
            layout=_WIDE)
        self.prompt = widgets.HTML(f"<blockquote style='margin:4px 0'><i>“{html.escape(phase.prompt)}”</i>"
                                   "</blockquote>", layout=_WIDE)
        self.timer = widgets.Play(value=0, min=0, max=phase.minutes * 60, step=1, interval=1000,
                                  show_repeat=False, description="Timer")
        self.clock = widgets.Label(clock_text(0, phase.minutes))
        self.timer.observe(self._on_tick, names="value")
        self.answer = widgets.Textarea(value=drafts.text(phase.key), continuous_update=False, rows=6,
                                       placeholder="Your answer, before you look at the rubric…",
                                       layout=widgets.Layout(width="100%", max_width="900px"))
        self.answer.add_class("mock-interview-answer")
        self.answer.observe(self._on_answer, names="value")
        self.save = widgets.Button(description="Save", icon="save", layout=widgets.Layout(width="max-content"))
        self.save.on_click(self._on_save)
        self.status = widgets.HTML("")
        self.reveal = widgets.Button(description="Reveal the rubric", icon="eye",
                                     layout=widgets.Layout(width="max-content"))
        self.reveal.add_class("mock-interview-reveal")
        self.reveal.on_click(self._on_reveal)
        self.checks: list[widgets.Checkbox] = []
        self.checklist = widgets.VBox([])
        self.red_flags = widgets.HTML(f"<b>Red flags</b>{_list(phase.red_flags)}", layout=_WIDE)
        self.follow_ups = widgets.HTML(layout=_WIDE)
        self.set_design(design)
        self.rubric = widgets.VBox(
            [widgets.HTML("<b>A strong answer covers</b> (tick what your draft has; ticks are saved)"),
             self.checklist, self.red_flags, self.follow_ups],
            layout=widgets.Layout(display="none", border="1px solid #ddd", padding="4px 8px",
                                  max_width="900px"))
        super().__init__([self.heading, self.prompt, widgets.HBox([self.timer, self.clock]), self.answer,
                          widgets.HBox([self.save, self.reveal]), self.status, self.rubric],
                         layout=widgets.Layout(margin="0 0 16px 0", max_width="900px"))

    @property
    def revealed(self) -> bool:
        return self.reveal.disabled

    def set_design(self, design: Design | None) -> None:
        """Show the follow-ups for ``design`` (None: only the phase's own)."""
        questions = follow_ups_for(self.phase.key, design)
        self.follow_ups.value = f"<b>Follow-ups the interviewer asks</b>{_list(questions)}"

    def _store(self) -> None:
        try:
            self.drafts.save()
        except DraftsError as error:
            self.status.value = _error(str(error))
            return
        self.status.value = (f"<span style='color:{_GREY}'>Saved to {html.escape(shown(self.drafts.path))} "
                             f"at {time.strftime('%H:%M')}</span>")

    def _on_answer(self, change) -> None:
        self.drafts.set_text(self.phase.key, change["new"])
        self._store()

    def _on_save(self, _button=None) -> None:
        self.drafts.set_text(self.phase.key, self.answer.value)
        self._store()

    def _on_reveal(self, _button=None) -> None:
        if self.revealed:
            return
        ticked = self.drafts.ticked(self.phase.key)
        self.checks = [widgets.Checkbox(value=i in ticked, description=item, indent=False,
                                        layout=widgets.Layout(width="auto", max_width="880px"))
                       for i, item in enumerate(self.phase.checklist)]
        for check in self.checks:
            check.observe(self._on_check, names="value")
        self.checklist.children = self.checks
        self.rubric.layout.display = None
        self.reveal.disabled = True

    def _on_check(self, _change) -> None:
        self.drafts.set_ticked(self.phase.key, [i for i, check in enumerate(self.checks) if check.value])
        self._store()

    def _on_tick(self, change) -> None:
        seconds = change["new"]
        self.clock.value = clock_text(seconds, self.phase.minutes)
        over = seconds >= self.phase.minutes * 60
        self.clock.style.text_color = _RED if over else None
        self.clock.style.font_weight = "bold" if over else None


class Interview(widgets.VBox):
    """The whole mock interview: :attr:`cards` in phase order, then ``export`` and ``export_status``."""

    def __init__(self, drafts: Drafts, design: Design | None = None, phases: Sequence[Phase] = PHASES):
        self.drafts = drafts
        self.design = design
        self.notice = widgets.HTML(_error(drafts.notice) if drafts.notice else "", layout=_WIDE)
        self.cards = [PhaseCard(number, p, drafts, design) for number, p in enumerate(phases, start=1)]
        self.export = widgets.Button(description="Export to Markdown", icon="download",
                                     layout=widgets.Layout(width="max-content"))
        self.export.on_click(self._on_export)
        self.export_status = widgets.HTML("")
        super().__init__([self.notice, *self.cards, self.export, self.export_status])

    def set_design(self, design: Design | None) -> None:
        """Recompute every card's follow-ups for ``design``, revealed or not."""
        self.design = design
        for card in self.cards:
            card.set_design(design)

    def _on_export(self, _button=None) -> None:
        try:
            written = self.drafts.export_markdown()
        except DraftsError as error:
            self.export_status.value = _error(str(error))
            return
        self.export_status.value = f"Wrote {html.escape(shown(written))} at {time.strftime('%H:%M')}."


def interview(drafts: Drafts | None = None, design: Design | None = None,
              phases: Sequence[Phase] = PHASES) -> Interview:
    """The mock-interview widget; ``drafts=None`` keeps them at the default path (``my-work/mock-interview/``)."""
    return Interview(Drafts() if drafts is None else drafts, design, phases)
