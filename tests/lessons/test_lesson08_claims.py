"""Lesson 08 (``course/08_follow_ups.ipynb``) as a whole: its shape, its predictions and its self-check.

The numbers in each section are checked by that section's file (``test_lesson08_<section>_claims.py``);
the self-check repeats some of them, and this file checks those against the same theory.
"""

from __future__ import annotations

import math
from pathlib import Path

import nbformat
import pytest

from course.lessons import lesson08
from course.models import backpressure, cache_stampede, event_log, quorum
from course.widgets import Prediction, Quiz

COURSE = Path(__file__).resolve().parents[2] / "course"
NOTEBOOK = COURSE / "08_follow_ups.ipynb"
#: The follow-ups in the lesson's order, with the dashboard each opens.
SECTIONS = {"rate_limit": "rate_limit_dashboard", "cache": "cache_stampede_dashboard",
            "quorum": "quorum_dashboard", "event_log": "event_log_dashboard",
            "load_balancing": "load_balancing_dashboard"}


def _cells():
    return nbformat.read(NOTEBOOK, as_version=4).cells


def test_each_follow_up_asks_predicts_then_simulates_then_answers():
    cells = _cells()
    for number, (name, dashboard) in enumerate(SECTIONS.items(), start=1):
        heading = next(i for i, c in enumerate(cells) if c.source.startswith(f"## {number}. \""))
        following = cells[heading + 1:]
        end = next((i for i, c in enumerate(following) if c.source.startswith("## ")), len(following))
        section = following[:end]
        code = [c.source for c in section if c.cell_type == "code"]
        assert code[0] == f'lesson08.prediction("{name}")', f"section {number} predicts first"
        assert f"{dashboard}()" in code[1], f"section {number} opens {dashboard}"
        prose = " ".join(c.source for c in section if c.cell_type == "markdown")
        for part in ("**Experiment 1", "**The idea.**", "**In the interview.**"):
            assert part in prose, f"section {number} lacks {part}"
        assert "Red flag" in prose or "red flag" in prose


def test_the_lesson_stays_short_and_ends_with_the_self_check_interview_and_sources():
    cells = _cells()
    prose = sum(len(c.source.split()) for c in cells if c.cell_type == "markdown")
    assert prose <= 2800, f"{prose} words of prose; the issue allows about 3,000 and COURSE.md about 2,500"
    headings = [c.source.splitlines()[0] for c in cells if c.cell_type == "markdown" and c.source.startswith("## ")]
    assert headings[-3:] == ["## 6. Self-check", "## 7. In the interview: surviving the round", "## 8. Sources"]
    assert all(not c.get("outputs") for c in cells if c.cell_type == "code")


def test_every_prediction_and_the_self_check_build():
    assert list(lesson08.PREDICTIONS) == list(SECTIONS)
    for name in SECTIONS:
        assert isinstance(lesson08.prediction(name), Prediction)
    assert isinstance(lesson08.self_check(), Quiz)
    for question in lesson08.QUESTIONS:
        assert 0 <= question.answer < len(question.options)


def test_an_unknown_follow_up_is_refused_by_name():
    with pytest.raises(ValueError, match="follow_up must be one of 'rate_limit', 'cache'"):
        lesson08.prediction("caching")


def test_the_start_page_marks_08_available():
    start = " ".join(c.source for c in nbformat.read(COURSE / "00_start_here.ipynb", as_version=4).cells)
    row = next(line for line in start.splitlines() if line.startswith("| 08 |"))
    assert "**Available:** [08_follow_ups.ipynb](08_follow_ups.ipynb)" in row


# -- the self-check's numbers ----------------------------------------------------------------------------

def _explanation(index: int) -> str:
    q = lesson08.QUESTIONS[index]
    return " ".join([q.prompt, *q.options, q.explain])


def test_self_check_token_bucket():
    text = _explanation(0)
    assert "r = 8" in text and "b = 10" in text and "490" in text and "125 ms" in text
    assert backpressure.token_bucket_max(8, 10, 60) == 490
    assert 1000 / 8 == 125


def test_self_check_coalescing():
    text = _explanation(1)
    assert "about 200 calls" in text and "about 100 ms" in text and "1 ms p99" in text
    assert cache_stampede.theory_plain_calls(1000, 0.2) == pytest.approx(201)
    assert cache_stampede.theory_coalescing_p99(10.0, 0.2) == pytest.approx(0.1, abs=0.005)


def test_self_check_quorum_overlap():
    assert "R + W = 4 > 3" in _explanation(2)
    assert quorum.overlap_miss(3, 2, 2) == 0


def test_self_check_projection_lag():
    text = _explanation(3)
    assert "About 2,400" in text and "2,400 after the minute" in text and "20 a second" in text and "40 s" in text
    assert event_log.peak_lag() == pytest.approx(2400)
    assert event_log.drain_seconds() == pytest.approx(120)  # "two minutes more"
    assert event_log.worst_wait_seconds() == pytest.approx(40)
    assert math.isclose((event_log.CONSUMER_RATE - event_log.BASE_RATE), 20)
