"""Lesson 06 (testing services together): the prediction, the self-check, and three small helpers.

* :func:`pact_excerpt` prints the part of a pact worth reading: one
  interaction's provider state, request, expected status and matching rules.
* :func:`production_matrix` and :func:`matrix_table` set up and show the
  can-i-deploy matrix (:class:`course.contracts.matrix.Matrix`) from real
  pact runs.
* :func:`which_layer` is the "which layer catches which bug" table the learner
  fills in and then compares with the test-portfolio model.

None of them imports pact: they take the results of
:mod:`course.contracts.pact_runs` as arguments.
"""

from __future__ import annotations

import hashlib
import html
import json
from typing import Any, Mapping

import ipywidgets as widgets

from course.contracts.matrix import Matrix
from course.models import portfolio as portfolio
from course.widgets import Prediction, Question, Quiz, predict, quiz

QUESTION = ("Ten services, one bug in every ten changes. Team A runs 60 end-to-end tests in a shared staging "
            "environment and a few unit tests. Team B runs many unit tests, contract tests between the services and "
            "5 end-to-end journeys. Which team ships fewer bugs to production, and whose builds go red more often "
            "with no bug behind them?")
OPTIONS = (
    "Team A ships fewer bugs; team A's builds also go red for no reason more often",
    "Team B ships fewer bugs; team A's builds go red for no reason more often",
    "Team A ships fewer bugs; neither team's builds go red for no reason often",
    "About the same bugs; team A's builds are slower but no less reliable",
)

QUESTIONS = (
    Question(
        "A build runs 60 end-to-end tests, each of which fails for no reason on 1.5% of its runs (and passes "
        "otherwise). Roughly how often does the build go red with no bug behind it?",
        ("About 1.5% of builds, the same rate as any one of its tests",
         "About 90% of builds: sixty tests times 1.5% each",
         "About 60% of builds, and adding tests makes it worse fast",
         "About 6%, since flaky failures of different tests overlap"),
        2,
        "The build is green only if all 60 pass: 0.985<sup>60</sup> ≈ 0.40, so it goes red with no bug "
        "1 − 0.985<sup>60</sup> = 59.6% of the time. Five such tests give 7.3%. Multiplying (60 × 1.5%) "
        "overcounts the builds in which two tests flake at once. That is the ice-cream cone's real cost: "
        "in the dashboard about 61% of its builds went red with no bug behind them, and people learn to rerun "
        "red builds until they pass.",
    ),
    Question(
        "Orders' unit tests run against a hand-written double of payments, and pass. Payments renames "
        "<code>amount_cents</code> to <code>amount</code>; payments' own tests, updated with the rename, pass "
        "too. What catches the break before production?",
        ("Payments verifying orders' pact, which replays what orders expects against it",
         "Orders' unit tests, provided they cover every call that orders makes to payments",
         "Payments' own tests, provided they cover every field of every response they send",
         "Nothing can: only real traffic shows where two teams' services disagree"),
        0,
        "The double is orders' belief about payments, frozen the day it was written; payments' tests are "
        "payments' intent. Neither compares the two. The provider verification does: it failed with pact's "
        "<i>Actual map is missing the following keys: amount_cents</i>, in payments' pipeline, before the "
        "deploy. An end-to-end test in staging might catch it too: later, and less reliably.",
    ),
    Question(
        "Orders' pact names the five fields it reads, by type. Payments adds a field <code>method</code> to "
        "every payment, and changes <code>updated_at</code>, which orders never reads, from a timestamp to epoch "
        "seconds. What does the verification of orders' pact say?",
        ("Both changes fail it, because a contract pins down the whole response",
         "The new field fails it, and the changed one passes",
         "The changed field fails it, and the new field passes",
         "Both changes pass, since the pact names only what orders reads"),
        3,
        "A consumer-driven contract holds what the consumer relies on and nothing else. Pact also allows extra "
        "keys in a response, so even a pact of exact values verifies against the new field. The over-specified "
        "pact does fail on <code>updated_at</code> (<i>Expected 1796040000 (Integer) to be equal to "
        "'2026-11-30T12:00:00Z' (String)</i>): a harmless change blocked.",
    ),
    Question(
        "Orders 1.0 and payments 1.0 run in production. Payments 1.1 failed the verification of orders 1.0's "
        "pact. What does <code>pact-broker can-i-deploy --pacticipant payments --version 1.1 "
        "--to-environment production</code> answer?",
        ("Yes, because payments 1.1 passed its own test suite, which is what the Broker checks",
         "No, until a payments version verifies the pact of the orders version in production",
         "No, until orders deploys again: only a consumer can unblock its own pact",
         "Yes, as soon as a later verification of the same pact has passed anywhere"),
        1,
        "The Broker answers from its matrix: for every integration with something in production, is there a "
        "successful verification between these two versions? Orders 1.0 is there and payments 1.1 failed its "
        "pact, so no. A payments version that verifies orders 1.0's pact unblocks it (1.2 in the lesson). So "
        "would deploying first an orders version whose pact payments 1.1 does verify.",
    ),
    Question(
        "A change passes every layer before production. Which is the best defence against the bugs that show "
        "only under production's load and faults, such as a missing timeout?",
        ("A canary: some traffic on the new version, compared with the old, and automatic rollback",
         "More end-to-end journeys in staging, rerun on every build until the flaky ones settle down",
         "A manual sign-off by the QA team in staging, for every change, before it is allowed to ship",
         "Unit tests whose mocks return an error for each downstream call the service makes"),
        0,
        "In the model most interaction bugs reach production whatever the portfolio: about 95% of them with the "
        "pyramid and 84% with the cone, because staging has neither production's traffic nor its faults. So "
        "release in a way that limits the damage: canaries with automatic rollback, and feature flags that "
        "switch code off without a deploy. Lesson 07 injects the faults on purpose.",
    ),
    Question(
        "A teammate writes orders' pact by pasting a response recorded from payments: every field, with its "
        "exact value. What will that contract do?",
        ("Verify against more provider versions, because it describes payments more precisely",
         "Catch breaking changes that a pact written with type matchers would let through",
         "Fail on harmless changes, such as a field orders never reads changing its type",
         "Not be written at all, since pact refuses exact values in a response body"),
        2,
        "Exact values belong where the consumer branches on them (status codes); everywhere else use types and "
        "formats. In the lesson the exact pact caught no break that the matchers pact missed: the renamed field, "
        "the changed status and the null timestamp failed both. It only added a false alarm, which teaches the "
        "provider team to ignore red verifications.",
    ),
)


def prediction() -> Prediction:
    """The "Predict first" widget for lesson 06."""
    return predict(QUESTION, OPTIONS)


def self_check() -> Quiz:
    """The self-check for lesson 06."""
    return quiz(QUESTIONS)


# -- the pact, the part worth reading ------------------------------------------------------------

_TYPE_NAMES = {str: "any string", bool: "true or false", int: "any number", float: "any number",
               list: "any list", dict: "any object"}


def _rule(rule: Mapping[str, Any], example: Any) -> str:
    """One pact matcher in words (``example`` is the value the pact shows beside it)."""
    kind = rule.get("match")
    if kind == "type":
        return _TYPE_NAMES.get(type(example), "any value of this type")
    if kind == "integer":
        return "an integer"
    if kind == "regex":
        return f"matches {rule.get('regex')}"
    if kind in ("datetime", "timestamp"):
        return f"a timestamp like {rule.get('format')}"
    return json.dumps(rule)


def pact_excerpt(pact: Mapping[str, Any], description: str) -> str:
    """One interaction of ``pact`` (a pact document, as ``RunResult.pact``) in a few lines.

    The provider state, the request, the expected status, the example body
    and, for each field of the body, the rule the provider is held to, in
    words; then a few lines of the raw JSON those words come from.
    """
    interactions = pact.get("interactions") if isinstance(pact, Mapping) else None
    if not isinstance(interactions, list):
        raise ValueError("pact must be a pact document with a list of interactions")
    found = [i for i in interactions if i.get("description") == description]
    if not found:
        known = ", ".join(repr(i.get("description")) for i in interactions)
        raise ValueError(f"description must name an interaction of the pact; it has {known}")
    interaction = found[0]
    request, response = interaction["request"], interaction["response"]
    states = ", ".join(repr(s["name"]) for s in interaction.get("providerStates", [])) or "(none)"
    lines = [f"interaction:     {description!r}", f"provider state:  {states}",
             f"request:         {request['method']} {request['path']}",
             f"response status: {response['status']} (exactly)"]
    body = (response.get("body") or {}).get("content")
    rules = (response.get("matchingRules") or {}).get("body", {})
    if isinstance(body, Mapping):
        lines.append("response body:   (example value -> the rule the provider is held to)")
        width = max(len(name) for name in body)
        for name, value in body.items():
            matchers = rules.get(f"$.{name}", {}).get("matchers", [])
            rule = "; ".join(_rule(m, value) for m in matchers) if matchers else "exactly this value"
            lines.append(f"  {name:<{width}}  {json.dumps(value):<24} -> {rule}")
    raw = [f'  "providerStates": {json.dumps(interaction.get("providerStates", []))}']
    raw += [f'  "{path}": {json.dumps(rule)}' for path, rule in list(rules.items())[:2]]
    lines += ["in the pact file itself, for instance:", *raw]
    return "\n".join(lines)


# -- can-i-deploy --------------------------------------------------------------------------------

def pact_content(pact: Mapping[str, Any]) -> str:
    """What identifies a pact in the Broker: a digest of its interactions (not of its metadata)."""
    interactions = pact.get("interactions") if isinstance(pact, Mapping) else None
    if not isinstance(interactions, list):
        raise ValueError("pact must be a pact document with a list of interactions")
    return hashlib.sha256(json.dumps(interactions, sort_keys=True).encode()).hexdigest()[:12]


def production_matrix(consumer: Any, verification: Any) -> Matrix:
    """The Broker's matrix on the day the lesson starts, from two real pact runs.

    ``consumer`` is the passed consumer run of orders 1.0 (its ``pact`` is
    published) and ``verification`` the run that verified that pact against
    payments 1.0 (its ``passed`` is recorded). Orders 1.0 and payments 1.0
    are then deployed to production, as ``pact-broker record-deployment``
    would record them.
    """
    pact = getattr(consumer, "pact", None)
    if not getattr(consumer, "passed", False) or pact is None:
        raise ValueError("consumer must be a passed consumer run that wrote a pact")
    if getattr(verification, "pact", None) != pact:
        raise ValueError("verification must be a verification of the consumer's pact")
    matrix = Matrix()
    matrix.publish_pact("orders", "1.0", "payments", pact_content(pact))
    matrix.record_verification("payments", "1.0", "orders", "1.0", success=bool(verification.passed))
    for pacticipant in ("orders", "payments"):
        matrix.record_deployment(pacticipant, "1.0", "production")
    return matrix


def matrix_table(matrix: Matrix) -> str:
    """The matrix as the Broker prints it (one row per pact and provider version), then who is deployed where."""
    header = ("CONSUMER", "C.VERSION", "PROVIDER", "P.VERSION", "SUCCESS?")
    rows = [(c, cv, p, pv, "not verified" if ok is None else str(ok).lower())
            for c, cv, p, pv, ok in matrix.rows()]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = [" | ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip() for row in [header, *rows]]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    names = sorted({r[0] for r in matrix.rows()} | {r[2] for r in matrix.rows()})
    for environment in matrix.environments:
        there = [f"{name} {matrix.deployed(name, environment)}" for name in names
                 if matrix.deployed(name, environment)]
        lines.append(f"deployed in {environment}: {', '.join(there) if there else 'nothing'}")
    return "\n".join(lines)


# -- which layer catches which bug ---------------------------------------------------------------

#: The learner's choices: (label, value); "production" means no layer before it catches most of them.
LAYER_CHOICES = (
    ("unit tests", "unit"),
    ("component tests (doubles for the other services)", "component"),
    ("contract tests", "contract"),
    ("integration tests (a real dependency)", "integration"),
    ("end-to-end tests in staging", "e2e"),
    ("none of them: most reach production", "production"),
)
#: The bug kinds, as the dashboard's legend names them, with what each means.
BUG_KINDS = {
    "logic": "logic: a wrong result inside one service",
    "contract": "contract: drift between two services (a renamed field, a changed status)",
    "wiring": "wiring: configuration, routes, a driver or a migration",
    "interaction": "interaction: shows only under load or faults (a missing timeout)",
}
#: The layers that are the answer for each kind of bug.
ANSWERS = {
    "logic": ("unit",),
    "contract": ("contract",),
    "wiring": ("component", "integration"),
    "interaction": ("production",),
}
#: Why, in a sentence or two (the shares themselves come from the model).
WHY = {
    "logic": "The cheapest layer that can see it, in seconds. End-to-end journeys catch a few, much later.",
    "contract": "Only a test that compares both sides sees drift. A double agrees with its author by construction; "
                "without contract tests most of these ship.",
    "wiring": "Component tests catch a service's own routes and configuration; integration tests the wiring to a "
              "real database, broker or driver. Five integration tests still let many through: the pyramid's "
              "soft spot.",
    "interaction": "Staging has neither production's load nor its faults. Canaries and feature flags limit the "
                   "damage; lesson 07 injects the faults on purpose.",
}
_LABELS = dict((value, label) for label, value in LAYER_CHOICES)


def layer_shares(preset: str = "pyramid") -> dict[str, dict[str, float]]:
    """For each bug kind, the long-run share caught first by each layer and the share reaching production.

    From :func:`course.models.portfolio.theory` at the dashboard's defaults for ``preset``.
    """
    th = portfolio.theory(preset)
    shares = {}
    for j, kind in enumerate(portfolio.KINDS):
        row = {layer: float(th.first_catch[i, j]) for i, layer in enumerate(portfolio.LAYERS)}
        row["production"] = float(th.escape_probability[j])
        shares[kind] = row
    return shares


class LayerTable(widgets.VBox):
    """A dropdown per bug kind (which layer catches it?), then a comparison with the model.

    For code and tests: ``choices`` maps each kind to its Dropdown, ``compare``
    is the Button and ``feedback`` the HTML it fills; :meth:`score` counts the
    right picks.
    """

    def __init__(self, preset: str = "pyramid"):
        self.preset = preset
        self.shares = layer_shares(preset)
        self.choices = {kind: widgets.Dropdown(options=[("(choose)", None), *LAYER_CHOICES], value=None,
                                               layout=widgets.Layout(width="380px"))
                        for kind in BUG_KINDS}
        rows = [widgets.HBox([widgets.HTML(html.escape(label), layout=widgets.Layout(width="480px")),
                              self.choices[kind]]) for kind, label in BUG_KINDS.items()]
        self.compare = widgets.Button(description="Compare with the simulation", button_style="primary",
                                      icon="table", layout=widgets.Layout(width="max-content"))
        self.feedback = widgets.HTML("")
        self.compare.on_click(self._on_compare)
        intro = widgets.HTML("<b>Which layer catches which bug?</b> For each kind of bug, pick the layer you "
                             "would rely on, from what the dashboard showed. Then compare.")
        super().__init__([intro, *rows, self.compare, self.feedback])

    def score(self) -> int:
        """How many kinds have a right pick."""
        return sum(self.choices[kind].value in ANSWERS[kind] for kind in BUG_KINDS)

    def _on_compare(self, _button=None) -> None:
        head = ("<tr><th style='text-align:left'>bug</th><th style='text-align:left'>your pick</th>"
                "<th style='text-align:left'>the answer</th>"
                + "".join(f"<th>{html.escape(value)}</th>" for _, value in LAYER_CHOICES) + "</tr>")
        rows = []
        for kind in BUG_KINDS:
            pick = self.choices[kind].value
            mark = "" if pick is None else ("✔ " if pick in ANSWERS[kind] else "✘ ")
            answer = " or ".join(html.escape(_LABELS[a]) for a in ANSWERS[kind])
            cells = "".join(
                f"<td style='text-align:right'>{'<b>' if value in ANSWERS[kind] else ''}"
                f"{self.shares[kind][value]:.0%}{'</b>' if value in ANSWERS[kind] else ''}</td>"
                for _, value in LAYER_CHOICES)
            rows.append(f"<tr><td>{kind}</td><td>{mark}{html.escape(_LABELS.get(pick, '(none)'))}</td>"
                        f"<td>{answer}</td>{cells}</tr>"
                        f"<tr><td></td><td colspan='{2 + len(LAYER_CHOICES)}'><i>{html.escape(WHY[kind])}</i>"
                        f"</td></tr>")
        answered = sum(self.choices[kind].value is not None for kind in BUG_KINDS)
        self.feedback.value = (
            f"<p>{self.score()} of {answered} picks right ({len(BUG_KINDS)} kinds). The percentages are the "
            f"{html.escape(self.preset)}'s long run (the dashboard's diamonds): of each kind's bugs, the share "
            f"each layer caught first, and the share that reached production.</p>"
            f"<table>{head}{''.join(rows)}</table>")


def which_layer(preset: str = "pyramid") -> LayerTable:
    """The "which layer catches which bug" table for lesson 06, compared with ``preset``'s long run."""
    if preset not in portfolio.PRESETS:
        raise ValueError(f"preset must be one of {', '.join(map(repr, portfolio.PRESETS))}, got {preset!r}")
    return LayerTable(preset)
