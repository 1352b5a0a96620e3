"""Lesson 09's interview kit: the mock interview's phases, the learner's drafts, the widget and the summary.

* :mod:`~.phases` — :data:`PHASES` (prompt, checklist, red flags, follow-ups per
  phase) and :func:`follow_ups_for`, which adds the follow-ups a design triggers.
* :mod:`~.drafts` — :class:`Drafts`, the learner's answers and ticks, saved
  atomically to ``my-work/mock-interview/drafts.json``.
* :mod:`~.widgets` — :func:`interview`, one card per phase with a timer, the
  answer box and the rubric behind a button.
* :mod:`~.summary` — :func:`summary`: self-scores per area and the lessons to
  revisit for each scenario the design failed.
"""

from .drafts import Drafts, DraftsError
from .phases import AREAS, PHASES, Phase, follow_ups_for, phase
from .summary import LESSON_TITLES, SCENARIO_LESSONS, self_scores, summary, summary_text
from .widgets import Interview, PhaseCard, interview

__all__ = ["AREAS", "PHASES", "Phase", "phase", "follow_ups_for", "Drafts", "DraftsError", "Interview",
           "PhaseCard", "interview", "LESSON_TITLES", "SCENARIO_LESSONS", "self_scores", "summary", "summary_text"]
