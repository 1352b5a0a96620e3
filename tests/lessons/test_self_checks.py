"""The self-check questions cannot be answered by guessing from where or how long the right option is.

Every lesson's ``QUESTIONS`` (``course.widgets.Question``: options and the index
of the right one) are gathered from ``course.lessons``. Two kinds of cue are
checked, over the whole course and within each lesson:

* **Position.** Each of the four positions holds between 15% and 35% of the
  right answers; positions 2 and 3 together hold between 40% and 60% (so
  "always pick a middle one" and "always pick an end" both score about
  chance, 25%); within a lesson of four or more questions no position holds
  more than half of the answers and at least three positions are used.
* **Length** (characters of the option text). The right option is strictly the
  longest in at most a third of the questions, and strictly the shortest in at
  most a third; a learner who always picks the longest (or the shortest)
  option, breaking ties at random, expects at most 33% (chance is 25%); the
  right option's length rank (1 = shortest, 4 = longest, ties shared) has a
  mean within 2.5 ± 0.35 and no rank takes more than 35% of the questions;
  within a lesson of four or more questions it is strictly the longest in at
  most half.

The thresholds were chosen against two sets. The questions as they were before
issue 9 fail 11 of the 18 cases below: 31 questions, right answers at positions
1/2/3/4 = 2/13/16/0 (none at 4, 94% at 2 or 3; lessons 01, 02 and 05 used only
positions 2 and 3, lesson 04 had four of seven at 3), the right option strictly
the longest in 18 (58%), mean length rank 3.35, a longest-option guesser
expecting 59%. The rebalanced set passes with room: positions 8/8/7/8 (48% at
2 or 3, every lesson uses all four), strictly longest in 6 (19%) and strictly
shortest in 5 (16%), mean length rank 2.52 (ranks 1-4 take 22/28/28/23%),
longest- and shortest-option guessers expecting 23% and 22%.

Explanations must not point at an option by its position ("the second
option"), so that reordering options can never make an explanation wrong.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections import Counter

import pytest

import course.lessons
from course.widgets import Question

OPTIONS_PER_QUESTION = 4
CHANCE = 1 / OPTIONS_PER_QUESTION


def _lessons() -> dict[str, tuple[Question, ...]]:
    """Every lesson module's ``QUESTIONS``, by module name (lessons without a self-check are left out)."""
    found = {}
    for info in pkgutil.iter_modules(course.lessons.__path__):
        if info.name.startswith("lesson"):
            module = importlib.import_module(f"course.lessons.{info.name}")
            if getattr(module, "QUESTIONS", ()):
                found[info.name] = tuple(module.QUESTIONS)
    return dict(sorted(found.items()))


LESSONS = _lessons()
ALL = [question for questions in LESSONS.values() for question in questions]


def _lengths(question: Question) -> list[int]:
    return [len(option) for option in question.options]


def _rank_weights(question: Question) -> dict[int, float]:
    """The right option's length rank (1 = shortest), as weights: a tie shares its ranks equally."""
    lengths = _lengths(question)
    mine = lengths[question.answer]
    shorter = sum(length < mine for length in lengths)
    tied = sum(length == mine for length in lengths)
    return {shorter + k: 1 / tied for k in range(1, tied + 1)}


def _mean_rank(question: Question) -> float:
    return sum(rank * weight for rank, weight in _rank_weights(question).items())


def _strictly(question: Question, pick) -> bool:
    """True if the right option alone has the length ``pick`` (max or min) chooses."""
    lengths = _lengths(question)
    return lengths.count(pick(lengths)) == 1 and lengths[question.answer] == pick(lengths)


def _guesser_score(questions, pick) -> float:
    """Expected share right for a learner who always takes an option of length ``pick(lengths)`` (random among ties)."""
    total = 0.0
    for question in questions:
        lengths = _lengths(question)
        chosen = [i for i, length in enumerate(lengths) if length == pick(lengths)]
        total += (question.answer in chosen) / len(chosen)
    return total / len(questions)


def _positions(questions) -> Counter:
    return Counter(question.answer for question in questions)


def _summary() -> str:
    positions = _positions(ALL)
    return (f"positions 1-4: {[positions[i] for i in range(OPTIONS_PER_QUESTION)]}, "
            f"by lesson: { {name: [q.answer + 1 for q in qs] for name, qs in LESSONS.items()} }, "
            f"strictly longest: {sum(_strictly(q, max) for q in ALL)}, "
            f"strictly shortest: {sum(_strictly(q, min) for q in ALL)}, of {len(ALL)}")


def test_the_course_has_self_checks_of_four_options_each():
    # The thresholds below are shares of four positions and four length ranks.
    assert len(LESSONS) >= 5 and len(ALL) >= 25
    for name, questions in LESSONS.items():
        for question in questions:
            assert len(question.options) == OPTIONS_PER_QUESTION, (name, question.prompt)


def test_every_position_holds_between_15_and_35_percent_of_the_answers():
    positions = _positions(ALL)
    for position in range(OPTIONS_PER_QUESTION):
        assert 0.15 <= positions[position] / len(ALL) <= 0.35, _summary()


def test_middle_and_end_guessers_score_about_chance():
    middle = sum(1 for q in ALL if 0 < q.answer < OPTIONS_PER_QUESTION - 1) / len(ALL)
    assert 0.40 <= middle <= 0.60, _summary()


@pytest.mark.parametrize("name", [name for name, questions in LESSONS.items() if len(questions) >= 4])
def test_within_a_lesson_answers_are_spread_over_the_positions(name):
    questions = LESSONS[name]
    positions = _positions(questions)
    assert max(positions.values()) <= len(questions) / 2, _summary()
    assert len(positions) >= 3, _summary()


def test_the_right_option_is_rarely_the_longest_or_the_shortest():
    assert sum(_strictly(q, max) for q in ALL) <= len(ALL) / 3, _summary()
    assert sum(_strictly(q, min) for q in ALL) <= len(ALL) / 3, _summary()


def test_longest_and_shortest_option_guessers_score_about_chance():
    assert _guesser_score(ALL, max) <= CHANCE + 0.08, _summary()
    assert _guesser_score(ALL, min) <= CHANCE + 0.08, _summary()


def test_the_right_options_length_rank_is_roughly_uniform():
    mean = sum(_mean_rank(q) for q in ALL) / len(ALL)
    assert mean == pytest.approx(2.5, abs=0.35), _summary()
    shares = Counter()
    for question in ALL:
        shares.update(_rank_weights(question))
    for rank in range(1, OPTIONS_PER_QUESTION + 1):
        assert shares[rank] / len(ALL) <= 0.35, (rank, dict(shares), _summary())


@pytest.mark.parametrize("name", [name for name, questions in LESSONS.items() if len(questions) >= 4])
def test_within_a_lesson_the_right_option_is_not_usually_the_longest(name):
    questions = LESSONS[name]
    assert sum(_strictly(q, max) for q in questions) <= len(questions) / 2, _summary()


POSITIONAL = re.compile(r"\b(first|second|third|fourth|last|top|bottom) (option|answer|choice)\b"
                        r"|\b(option|answer|choice) \(?[a-d1-4]\)?(?![\w.%])", re.IGNORECASE)


def test_explanations_do_not_point_at_options_by_position():
    for name, questions in LESSONS.items():
        for question in questions:
            assert not POSITIONAL.search(question.explain), (name, question.explain)


def test_every_right_answer_is_marked_correct_by_its_quiz():
    for name in LESSONS:
        module = importlib.import_module(f"course.lessons.{name}")
        check = module.self_check()
        for item, question in zip(check.items, LESSONS[name], strict=True):
            item.choose(question.answer)
            assert "Correct" in item.feedback.value, (name, question.prompt)
