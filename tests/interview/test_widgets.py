"""The interview widget, driven headless: what the learner does ends up in the drafts file."""

import html
import json
from dataclasses import replace

import ipywidgets as widgets
import pytest

from course.interview.drafts import Drafts
from course.interview.phases import PHASES, follow_ups_for
from course.interview.widgets import Interview, clock_text, interview
from course.models.checkout_design import FIRST_DRAFT, STRONG

pytestmark = pytest.mark.filterwarnings("error")


@pytest.fixture
def drafts(tmp_path):
    return Drafts(tmp_path / "mock-interview" / "drafts.json")


def saved(drafts):
    return json.loads(drafts.path.read_text(encoding="utf-8"))


def test_cards_in_phase_order(drafts, capsys):
    kit = interview(drafts)
    assert isinstance(kit, Interview) and isinstance(kit, widgets.VBox)
    assert [card.phase.key for card in kit.cards] == [p.key for p in PHASES]
    card = kit.cards[3]
    assert isinstance(card.answer, widgets.Textarea) and card.answer.continuous_update is False
    assert card.answer.placeholder == "Your answer, before you look at the rubric…"
    assert "mock-interview-answer" in card.answer._dom_classes
    assert "mock-interview-reveal" in card.reveal._dom_classes
    assert isinstance(card.timer, widgets.Play) and card.timer.interval == 1000
    assert card.timer.max == PHASES[3].minutes * 60 and card.timer.show_repeat is False
    assert PHASES[3].title in card.heading.value and "Resilience" in card.heading.value
    assert card.rubric.layout.display == "none" and card.checks == []
    assert capsys.readouterr() == ("", "")


def test_default_drafts_go_to_the_work_folder(tmp_path, monkeypatch):
    monkeypatch.setattr("course.interview.drafts.default_dest", lambda: tmp_path / "my-work")
    kit = interview()
    kit.cards[0].answer.value = "who buys?"
    assert kit.drafts.path == tmp_path / "my-work" / "mock-interview" / "drafts.json"
    assert saved(kit.drafts)["answers"]["requirements"] == "who buys?"


def test_typing_saves(drafts):
    kit = interview(drafts)
    card = kit.cards[0]
    card.answer.value = "Peak 200 orders/s"
    assert saved(drafts)["answers"]["requirements"] == "Peak 200 orders/s"
    assert card.status.value.count("Saved to") == 1 and "drafts.json" in card.status.value
    card.answer.value = "Peak 300 orders/s"
    assert Drafts(drafts.path).text("requirements") == "Peak 300 orders/s"


def test_save_button(drafts):
    card = interview(drafts).cards[1]
    card.save.click()
    assert "Saved to" in card.status.value
    assert saved(drafts)["answers"]["boundaries"] == ""


def test_answers_come_back(drafts):
    drafts.set_text("testing", "contract tests")
    drafts.save()
    kit = interview(Drafts(drafts.path))
    assert kit.cards[5].answer.value == "contract tests"


def test_reveal_and_tick(drafts):
    card = interview(drafts).cards[4]
    card.reveal.click()
    assert card.reveal.disabled and card.rubric.layout.display != "none"
    assert [c.description for c in card.checks] == list(PHASES[4].checklist)
    assert not any(c.value for c in card.checks)
    card.checks[2].value = True
    card.checks[5].value = True
    assert saved(drafts)["ticked"]["consistency"] == [2, 5]
    card.checks[2].value = False
    assert Drafts(drafts.path).ticked("consistency") == {5}
    card.reveal.click()  # disabled in the browser; a second call changes nothing
    assert len(card.checks) == len(PHASES[4].checklist)


def test_ticks_come_back(drafts):
    drafts.set_ticked("rollout", [0, 4])
    card = interview(drafts).cards[7]
    card.reveal.click()
    assert [c.value for c in card.checks] == [i in (0, 4) for i in range(len(PHASES[7].checklist))]


def test_rubric_shows_red_flags_and_follow_ups(drafts):
    card = interview(drafts, design=FIRST_DRAFT).cards[3]
    card.reveal.click()
    assert card.red_flags in card.rubric.children and card.follow_ups in card.rubric.children
    for flag in PHASES[3].red_flags:
        assert html.escape(flag) in card.red_flags.value
    questions = follow_ups_for("failure", FIRST_DRAFT)
    assert len(questions) > len(PHASES[3].follow_ups)
    for question in questions:
        assert html.escape(question) in card.follow_ups.value


def test_set_design_changes_follow_ups(drafts):
    kit = interview(drafts, design=FIRST_DRAFT)
    card = kit.cards[4]
    card.reveal.click()
    assert "before publishing the event" in card.follow_ups.value
    kit.set_design(STRONG)
    assert "before publishing the event" not in card.follow_ups.value
    kit.set_design(replace(STRONG, transaction="choreography"))
    assert "stuck ones" in card.follow_ups.value
    assert "thread pool" not in kit.cards[3].follow_ups.value  # choreography: payments is a message
    kit.set_design(None)
    assert "stuck ones" not in card.follow_ups.value


def test_timer_label(drafts):
    card = interview(drafts).cards[0]  # requirements: 5 minutes
    assert PHASES[0].minutes == 5
    assert card.clock.value == "0:00 of 5:00"
    card.timer.value = 192
    assert card.clock.value == "3:12 of 5:00"
    assert card.clock.style.text_color is None
    card.timer.value = 300
    assert "time's up" in card.clock.value and card.clock.style.text_color


def test_clock_text():
    assert clock_text(192, 5) == "3:12 of 5:00"
    assert clock_text(61, 8) == "1:01 of 8:00"
    assert clock_text(481, 8) == "8:01 of 8:00 — time's up"


def test_export(drafts):
    kit = interview(drafts)
    kit.cards[2].answer.value = "payments as a message"
    kit.export.click()
    written = drafts.path.with_name("checkout-design.md")
    assert "payments as a message" in written.read_text(encoding="utf-8")
    assert "checkout-design.md" in kit.export_status.value


def test_save_error_is_shown_and_text_kept(tmp_path):
    (tmp_path / "afile").write_text("")
    drafts = Drafts(tmp_path / "afile" / "drafts.json")
    kit = interview(drafts)
    card = kit.cards[0]
    card.answer.value = "keep this"
    assert "still here in memory" in card.status.value and "#b02a2a" in card.status.value
    assert drafts.text("requirements") == "keep this"
    kit.export.click()
    assert "Could not export" in kit.export_status.value


def test_broken_file_notice_is_shown(tmp_path):
    path = tmp_path / "drafts.json"
    path.write_text("{oops")
    kit = interview(Drafts(path))
    assert "moved aside" in kit.notice.value
