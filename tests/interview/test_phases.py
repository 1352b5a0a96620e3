"""The interview's phases and the follow-ups a design triggers."""

from dataclasses import replace

import pytest

from course.interview.phases import AREAS, PHASES, TRIGGERS, follow_ups_for, phase
from course.models.checkout_design import FIRST_DRAFT, GUARDED_CALLS, STRONG, Edge

KEYS = ("requirements", "boundaries", "communication", "failure", "consistency", "testing", "observability",
        "rollout")


def test_phases_in_order_with_about_45_minutes():
    assert tuple(p.key for p in PHASES) == KEYS
    assert 40 <= sum(p.minutes for p in PHASES) <= 50


@pytest.mark.parametrize("p", PHASES, ids=lambda p: p.key)
def test_every_phase_is_complete(p):
    assert p.title and p.prompt and p.minutes > 0
    assert p.area in AREAS
    assert 4 <= len(p.checklist) <= 7 and all(item.strip() for item in p.checklist)
    assert 2 <= len(p.red_flags) <= 4 and all(p.red_flags)
    assert 2 <= len(p.follow_ups) <= 3 and all(p.follow_ups)
    assert len(set(p.checklist)) == len(p.checklist)


def test_areas_as_the_brief_maps_them():
    area = {p.key: p.area for p in PHASES}
    assert area["communication"] == "Design"
    assert area["failure"] == "Resilience"
    assert area["consistency"] == "Consistency"
    assert {area["testing"], area["observability"], area["rollout"]} == {"Operations"}
    assert {area["requirements"], area["boundaries"]} <= {"Scoping", "Design"}
    assert set(area.values()) == set(AREAS)


def test_boundaries_says_when_not_to_split():
    text = " ".join(phase("boundaries").checklist)
    assert "Segment" in text and "140+" in text and "2018" in text
    assert "Prime Video" in text and "90%" in text and "2023" in text
    assert "monolith" in text


def test_phase_lookup_and_bad_key():
    assert phase("failure").area == "Resilience"
    with pytest.raises(ValueError) as error:
        phase("nope")
    assert "'nope'" in str(error.value)
    assert all(key in str(error.value) for key in KEYS)


def test_without_design_only_the_phases_own_follow_ups():
    for p in PHASES:
        assert follow_ups_for(p.key) == list(p.follow_ups)
    with pytest.raises(ValueError, match="nope"):
        follow_ups_for("nope", STRONG)


def test_strong_design_triggers_nothing():
    for p in PHASES:
        assert follow_ups_for(p.key, STRONG) == list(p.follow_ups)


RETRYING = FIRST_DRAFT.with_edge("payments", timeout=1.0, retries=2)
BUDGETED = replace(RETRYING.with_edge("payments", retry_budget=True), idempotency_keys=True)
MESSAGES_NO_KEYS = replace(STRONG, idempotency_keys=False)

# (phase, words from the question, a design with the feature, one without it)
CASES = [
    ("failure", "payment provider is slow for ten minutes", FIRST_DRAFT, STRONG),
    ("failure", "no timeout", FIRST_DRAFT, GUARDED_CALLS),
    ("consistency", "Did the customer pay twice?", RETRYING, BUDGETED),
    ("failure", "no budget", RETRYING, BUDGETED),
    ("consistency", "assumed it was in stock",
     GUARDED_CALLS.with_edge("inventory", fallback=True), GUARDED_CALLS),
    ("consistency", "after writing the order and before publishing", FIRST_DRAFT, STRONG),
    ("consistency", "same message twice", MESSAGES_NO_KEYS, STRONG),
    ("consistency", "find the stuck ones", replace(STRONG, transaction="choreography"), STRONG),
    ("consistency", "coordinator crashes after the votes", replace(STRONG, transaction="2pc"), STRONG),
    ("communication", "wait for the payment provider", FIRST_DRAFT, STRONG),
]


def test_every_trigger_has_a_case():
    assert len(CASES) == len(TRIGGERS)
    for _, key, question in TRIGGERS:
        assert sum(words in question for _, words, _, _ in CASES) == 1, question
        assert key in KEYS


@pytest.mark.parametrize("key, words, with_it, without_it", CASES, ids=[c[1] for c in CASES])
def test_trigger_fires_only_for_the_feature(key, words, with_it, without_it):
    def asked(design):
        return [q for q in follow_ups_for(key, design) if words in q]

    assert len(asked(with_it)) == 1
    assert asked(without_it) == []
    others = [p.key for p in PHASES if p.key != key]
    assert not any(words in q for other in others for q in follow_ups_for(other, with_it))


def test_triggers_use_what_runs():
    # choreography turns the synchronous payments call into a message: no "provider is slow" question
    chor = replace(FIRST_DRAFT, transaction="choreography")
    assert not any("slow for ten minutes" in q for q in follow_ups_for("failure", chor))
    # 2PC makes STRONG's payments message a synchronous call: now it is asked
    two_pc = replace(STRONG, transaction="2pc")
    assert any("slow for ten minutes" in q for q in follow_ups_for("failure", two_pc))


def test_message_edge_has_no_call_policies():
    # a fallback on an edge that is a message does nothing, so it asks nothing
    design = replace(STRONG, inventory=Edge("message", fallback=True))
    assert not any("assumed it was in stock" in q for q in follow_ups_for("consistency", design))


def test_follow_ups_are_short():
    for _, _, question in TRIGGERS:
        assert question.count("?") <= 2 and len(question) < 200
