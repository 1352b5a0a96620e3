"""The interview's summary: self-scores per area and the lessons to revisit."""

from pathlib import Path

import ipywidgets as widgets
import pytest

from course.interview.drafts import Drafts
from course.interview.phases import AREAS, PHASES
from course.interview.summary import (LESSON_NOTEBOOKS, LESSON_TITLES, SCENARIO_LESSONS, self_scores, summary,
                                      summary_text)
COURSE = Path(__file__).resolve().parents[2] / "course"


@pytest.fixture
def drafts(tmp_path):
    d = Drafts(tmp_path / "drafts.json")
    d.set_ticked("failure", [0, 1, 2])
    d.set_ticked("testing", [0])
    d.set_ticked("rollout", [1, 2])
    return d


def test_self_scores(drafts):
    scores = self_scores(drafts)
    assert list(scores) == list(AREAS)
    totals = {area: sum(len(p.checklist) for p in PHASES if p.area == area) for area in AREAS}
    assert {area: total for area, (_, total) in scores.items()} == totals
    assert scores["Resilience"] == (3, len(PHASES[3].checklist))
    assert scores["Operations"][0] == 3
    assert scores["Consistency"][0] == 0


def test_lessons_exist():
    assert set(LESSON_TITLES) == set(LESSON_NOTEBOOKS) == {f"0{n}" for n in range(1, 8)}
    for name in LESSON_NOTEBOOKS.values():
        assert (COURSE / name).is_file(), name
    assert all(n in LESSON_TITLES for lessons in SCENARIO_LESSONS.values() for n in lessons)


def test_text_lists_lessons_for_failed_scenarios(drafts):
    text = summary_text(drafts, [("payments_slow", "p99 was 9.8 s"), "crash_after_write"])
    assert "Resilience" in text and "3 / 7" in text and "43%" in text
    assert "payments_slow" in text and "p99 was 9.8 s" in text
    assert "01_slow_dependency.ipynb" in text and "03_stop_the_bleeding.ipynb" in text
    assert "04_data_consistency.ipynb" in text and "05_sagas_and_messages.ipynb" in text
    assert "02_retries.ipynb" not in text
    assert "passed all" not in text


def test_all_passed(drafts):
    assert "passed all the scenarios" in summary_text(drafts)
    assert "passed all the scenarios" in summary(drafts).value


def test_html(drafts):
    box = summary(drafts, [("inventory_down", "sold <12> items it didn't have"), "traffic_spike"])
    assert isinstance(box, widgets.HTML)
    assert "<table" in box.value and "Resilience" in box.value
    assert "Scenarios your design failed" in box.value
    assert '<a href="03_stop_the_bleeding.ipynb">' in box.value
    assert '<a href="02_retries.ipynb">' in box.value
    assert "sold &lt;12&gt; items" in box.value
    assert "width:43%" in box.value


def test_bad_scenarios(drafts):
    with pytest.raises(ValueError) as error:
        summary_text(drafts, ["payments_slow", "meteor"])
    assert "'meteor'" in str(error.value)
    assert all(key in str(error.value) for key in SCENARIO_LESSONS)
    with pytest.raises(ValueError, match="meteor"):
        summary(drafts, [("meteor", "boom")])
    with pytest.raises(ValueError, match="did you mean"):
        summary(drafts, "payments_slow")
    with pytest.raises(ValueError, match="pair"):
        summary(drafts, [("payments_slow", "a", "b")])


def test_duplicates_once(drafts):
    text = summary_text(drafts, ["broker_chaos", ("broker_chaos", "dup")])
    assert text.count("broker_chaos") == 1
