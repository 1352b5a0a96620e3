"""The teaching widgets in ``course.widgets``, driven headless: click, then read the feedback."""

from __future__ import annotations

import ipywidgets as widgets
import pytest

from course.lessons import lesson00, lesson01
from course.widgets import Prediction, Question, Quiz, predict, quiz


def test_predict_locks_in_the_choice_and_points_at_the_simulation():
    p = predict("How slow?", ["Not at all", "Very <slow>"])
    assert isinstance(p, (Prediction, widgets.VBox))
    assert p.lock.disabled and p.feedback.value == ""
    p.lock.click()  # nothing chosen yet: nothing happens
    assert p.locked is None and p.feedback.value == ""
    p.choice.value = "Very <slow>"
    assert not p.lock.disabled
    p.lock.click()
    assert p.locked == "Very <slow>"
    assert p.feedback.value == ("Locked in: <b>Very &lt;slow&gt;</b>. "
                                "Now run the simulation below and see.")
    assert p.choice.disabled and p.lock.disabled
    assert "Correct" not in p.feedback.value and "Not quite" not in p.feedback.value


def test_predict_cannot_be_changed_after_locking():
    p = predict("Q?", ["a", "b"])
    p.choice.value = "a"
    p.lock.click()
    p.choice.value = "b"  # a disabled widget can still be set from code; the lock stands
    p.lock.click()
    assert p.locked == "a"
    assert "<b>a</b>" in p.feedback.value


def test_predict_optional_reveal_is_shown_after_locking():
    p = predict("Q?", ["a", "b"], reveal="Watch the <i>dotted</i> line.")
    p.choice.value = "b"
    assert "dotted" not in p.feedback.value
    p.lock.click()
    assert p.feedback.value.endswith("<br>Watch the <i>dotted</i> line.")


def test_predict_needs_two_distinct_options():
    with pytest.raises(ValueError, match="at least two"):
        predict("Q?", ["only"])
    with pytest.raises(ValueError, match="distinct"):
        predict("Q?", ["a", "a"])


QUESTIONS = [
    Question("What is L = λW for λ = 10/s, W = 0.2 s?", ("2", "20"), 0, "10 × 0.2 = 2."),
    Question("Pick the second.", ["first", "second", "third"], 1, "It was the second."),
]


def test_quiz_gives_immediate_feedback_with_explanation():
    q = quiz(QUESTIONS)
    assert isinstance(q, Quiz)
    first, second = q.items
    assert first.feedback.value == "" and first.correct is None and q.tally.value == ""
    first.choose(1)
    assert "Not quite" in first.feedback.value
    assert "The answer is <i>2</i>." in first.feedback.value
    assert "10 × 0.2 = 2." in first.feedback.value
    assert first.correct is False
    assert "0 of 1 answered right" in q.tally.value
    first.choose(0)  # try again: allowed, not graded
    assert "Correct" in first.feedback.value and "10 × 0.2 = 2." in first.feedback.value
    second.choice.value = "second"  # the same as clicking the radio button
    assert "Correct" in second.feedback.value and "It was the second." in second.feedback.value
    assert "2 of 2 answered right" in q.tally.value


def test_question_validation():
    with pytest.raises(ValueError, match="answer must index"):
        Question("Q?", ("a", "b"), 2, "")
    with pytest.raises(ValueError, match="answer must index"):
        Question("Q?", ("a", "b"), -1, "")
    with pytest.raises(ValueError, match="at least two"):
        Question("Q?", ("a",), 0, "")
    assert Question("Q?", ["a", "b"], 1, "").options == ("a", "b")
    with pytest.raises(ValueError, match="at least one"):
        quiz([])
    with pytest.raises(ValueError, match="Question"):
        quiz([("Q?", ("a", "b"), 0, "")])


def test_lesson_widgets_build():
    assert isinstance(lesson00.prediction(), Prediction)
    assert isinstance(lesson01.prediction(), Prediction)
    check = lesson01.self_check()
    assert len(check.items) >= 4
    for item, question in zip(check.items, lesson01.QUESTIONS):
        item.choose(question.answer)
        assert "Correct" in item.feedback.value
    assert f"{len(check.items)} of {len(check.items)} answered right" in check.tally.value


def test_lesson01_prediction_offers_the_right_answer_among_its_options():
    # The simulation shows requests that never call B going from ~20 ms to seconds: that must be an option.
    assert any("seconds instead of milliseconds" in option for option in lesson01.OPTIONS)
