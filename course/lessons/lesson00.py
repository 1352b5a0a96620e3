"""Lesson 00 (start here): a first prediction to practise on."""

from __future__ import annotations

from course.widgets import Prediction, predict

QUESTION = ("A server is busy 90% of the time. On average, how long does a request spend there, "
            "waiting plus being served, compared with the service time alone?")
OPTIONS = (
    "About the same: 10% spare is plenty",
    "About twice as long",
    "About ten times as long",
    "About a hundred times as long",
)


def prediction() -> Prediction:
    """The "Predict first" widget for lesson 00."""
    return predict(QUESTION, OPTIONS)
