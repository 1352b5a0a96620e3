"""Small teaching widgets for the lessons: commit to a prediction, and check yourself.

* :func:`predict` — "Predict first": pick an answer and lock it in before you
  run the simulation. It never says whether you were right; the simulation does.
* :func:`quiz` — a self-check: each question gives immediate feedback and an
  explanation when you pick an option. Nothing is graded or recorded.

Both return ordinary ipywidgets containers, so a notebook displays them by
leaving them as the last expression of a cell, and tests can drive them
headless: set ``.choice.value`` / call ``.lock.click()``, or
``quiz.items[i].choose(j)``, then read the ``.feedback.value`` HTML.

Questions, ``reveal`` text and explanations are trusted HTML written by the
course authors (``<code>``, ``<i>`` and ``&lt;`` work as in any HTML); options
are plain text, shown as radio-button labels.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Sequence

import ipywidgets as widgets

_WIDE = widgets.Layout(width="auto", max_width="900px")


def _check_options(options: Sequence[str]) -> list[str]:
    options = list(options)
    if len(options) < 2:
        raise ValueError(f"a question needs at least two options, got {len(options)}")
    if len(set(options)) != len(options):
        raise ValueError("options must be distinct")
    return options


class Prediction(widgets.VBox):
    """A question, its options, and a "Lock in my prediction" button.

    Attributes for code and tests: ``choice`` (the RadioButtons), ``lock`` (the
    Button), ``feedback`` (an HTML widget), and ``locked`` (the locked-in
    option, or None).
    """

    def __init__(self, question: str, options: Sequence[str], reveal: str | None = None):
        options = _check_options(options)
        self.reveal = reveal
        self.locked: str | None = None
        self.prompt = widgets.HTML(f"<b>Predict first.</b> {question}", layout=_WIDE)
        self.choice = widgets.RadioButtons(options=options, value=None, layout=_WIDE)
        self.lock = widgets.Button(description="Lock in my prediction", button_style="primary", disabled=True,
                                   icon="lock", layout=widgets.Layout(width="max-content"))
        self.feedback = widgets.HTML("")
        self.choice.observe(self._on_choice, names="value")
        self.lock.on_click(self._on_lock)
        super().__init__([self.prompt, self.choice, self.lock, self.feedback])

    def _on_choice(self, change) -> None:
        self.lock.disabled = change["new"] is None or self.locked is not None

    def _on_lock(self, _button=None) -> None:
        if self.choice.value is None or self.locked is not None:
            return
        self.locked = self.choice.value
        self.choice.disabled = True
        self.lock.disabled = True
        self.lock.description = "Locked in"
        text = (f"Locked in: <b>{html.escape(self.locked)}</b>. "
                "Now run the simulation below and see.")
        if self.reveal:
            text += f"<br>{self.reveal}"
        self.feedback.value = text


def predict(question: str, options: Sequence[str], reveal: str | None = None) -> Prediction:
    """A "Predict first" widget: choose one of ``options``, then lock it in.

    After locking, the choice is frozen and the widget says "Locked in: ….
    Now run the simulation below and see." plus ``reveal`` if given. It does
    not say which option is right: that is the simulation's job.
    """
    return Prediction(question, options, reveal)


@dataclass(frozen=True)
class Question:
    """One self-check question: ``options[answer]`` is right; ``explain`` is shown after any pick."""

    prompt: str
    options: tuple[str, ...]
    answer: int
    explain: str

    def __post_init__(self):
        object.__setattr__(self, "options", tuple(_check_options(self.options)))
        if not isinstance(self.answer, int) or not 0 <= self.answer < len(self.options):
            raise ValueError(f"answer must index one of the {len(self.options)} options, got {self.answer!r}")


class QuizItem(widgets.VBox):
    """One question of a :class:`Quiz`: pick an option and see at once whether it is right, and why."""

    def __init__(self, number: int, question: Question):
        self.question = question
        self.prompt = widgets.HTML(f"<b>{number}.</b> {question.prompt}", layout=_WIDE)
        self.choice = widgets.RadioButtons(options=list(question.options), value=None, layout=_WIDE)
        self.feedback = widgets.HTML("")
        self.choice.observe(self._on_choice, names="value")
        super().__init__([self.prompt, self.choice, self.feedback], layout=widgets.Layout(margin="0 0 12px 0"))

    @property
    def correct(self) -> bool | None:
        """True or False once an option is picked, None before."""
        return None if self.choice.index is None else self.choice.index == self.question.answer

    def choose(self, index: int) -> None:
        """Pick option ``index`` (what a click does)."""
        self.choice.index = index

    def _on_choice(self, _change) -> None:
        if self.correct is None:
            self.feedback.value = ""
        elif self.correct:
            self.feedback.value = f"<span style='color:#2a7d2a'>✔ <b>Correct.</b></span> {self.question.explain}"
        else:
            right = html.escape(self.question.options[self.question.answer])
            self.feedback.value = (f"<span style='color:#b02a2a'>✘ <b>Not quite.</b></span> "
                                   f"The answer is <i>{right}</i>. {self.question.explain}")


class Quiz(widgets.VBox):
    """A list of :class:`QuizItem` s with a running tally. Not graded; pick again as often as you like."""

    def __init__(self, questions: Sequence[Question]):
        questions = list(questions)
        if not questions:
            raise ValueError("a quiz needs at least one question")
        for question in questions:
            if not isinstance(question, Question):
                raise ValueError(f"quiz questions must be course.widgets.Question, got {question!r}")
        self.items = [QuizItem(number, question) for number, question in enumerate(questions, start=1)]
        self.tally = widgets.HTML("")
        for item in self.items:
            item.choice.observe(self._update_tally, names="value")
        self._update_tally()
        super().__init__([widgets.HTML("<b>Self-check.</b> Not graded: pick an answer and read why.")]
                         + self.items + [self.tally])

    def _update_tally(self, _change=None) -> None:
        answered = [item.correct for item in self.items if item.correct is not None]
        self.tally.value = (f"<i>{sum(answered)} of {len(answered)} answered right so far "
                            f"({len(self.items)} questions).</i>" if answered else "")


def quiz(questions: Sequence[Question]) -> Quiz:
    """A self-check of :class:`Question` s with immediate feedback on each pick."""
    return Quiz(questions)
