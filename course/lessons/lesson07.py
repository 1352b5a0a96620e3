"""Lesson 07 (when everything moves): the prediction, the self-check, and the two tables of Experiment 1.

* :func:`comparison_table` prints :func:`course.models.sim_vs_real.compare`'s
  result: the simulator, the real run on loopback and theory, side by side,
  with the tolerance each figure is held to.
* :func:`tour_table` prints :func:`course.models.sim_vs_real.fault_tour`'s rows:
  what the client saw for each fault.
"""

from __future__ import annotations

from typing import Sequence

from course.models.sim_vs_real import TOLERANCES, Comparison, TourRow
from course.widgets import Prediction, Question, Quiz, predict, quiz

QUESTION = ("Ten hand-written fault scenarios (a crash here, a duplicate there, a partition, a delay) all pass, "
            "yet production charges a customer twice about once a week. A computer now draws schedules of four "
            "random faults each and runs them against the check \"every order charged once\". How many runs "
            "until one finds the double charge?")
OPTIONS = (
    "None will: the hand-written scenarios already tried each kind of fault",
    "About ten: random schedules find it within a few dozen runs",
    "Thousands: a random search is a lottery with a tiny prize",
    "The first run: any schedule of four faults is bound to hit it",
)

QUESTIONS = (
    Question(
        "5% of calls to a service are delayed by 1 s. The client times out each attempt at 200 ms and retries "
        "once, at once. Other answers take about 1 ms. What is the p99 latency?",
        ("About 1 s, because 5% of calls are slow, more than the 1% a p99 ignores",
         "About 200 ms: a delayed try is cut at the timeout, and the retry is fast",
         "About 1 ms, because the retry hides every delay from the caller",
         "About 400 ms, since a slow request always waits through two timeouts"),
        1,
        "Theory, the simulator and the real run on loopback agree: 5% of requests pay one timeout and a fast "
        "retry (201 ms), and only 0.05² = 0.25% of them meet two delays and fail after 400 ms. That is fewer "
        "than 1%, so the p99 is the 201 ms of the retried requests.",
    ),
    Question(
        "A chaos experiment compares an experiment group with a control group of the same size. You shrink "
        "the blast radius from 5% to 0.5% of traffic. The fault makes 10% of the experiment's requests fail. "
        "What happens to the number of users hurt before a test can tell the groups apart?",
        ("It falls tenfold, since ten times fewer users are in the experiment",
         "It rises, because smaller groups give noisier estimates of the rate",
         "It falls to zero, because 0.5% of traffic is lost in normal noise",
         "It stays about the same; reaching the answer takes ten times longer"),
        3,
        "The test needs a number of requests per group (73 here, at 95% confidence and 80% power), not a share "
        "of traffic, so about 7 users are hurt on the way at any radius; a smaller radius only collects them "
        "more slowly. What a small radius does limit is the damage when nobody is watching, and the abort's "
        "damage: about 99 users at 5% against about 10 at 0.5%.",
    ),
    Question(
        "Your SLO is 99.9% of requests over 30 days, and errors run at 14.4 times the rate the budget allows. "
        "How long until the month's error budget is gone?",
        ("About 2 days: each hour at that rate spends 2% of the budget",
         "About 14 hours: the burn rate is how many hours the budget lasts",
         "About 2 hours, since 14.4 times 0.1% is well over 1% of requests",
         "The full 30 days: the burn rate only matters when it goes above 100×"),
        0,
        "At 1× the budget lasts exactly the 30 days, so at 14.4× it lasts 30/14.4 ≈ 2.08 days, and one hour "
        "spends 14.4/720 = 2%. That is why the Workbook's fast page is 14.4× over an hour: it fires when an "
        "hour has cost 2% of the month.",
    ),
    Question(
        "For 3 minutes, 20% of requests fail, then everything recovers. Which alerts page?",
        ("The Workbook's fast page, 14.4× over 1 h confirmed over 5 min, and nothing else",
         "Every alert that watches errors, whatever its windows or thresholds are",
         "A plain \"5-minute error rate over 0.1%\" alert does; no Workbook rule does",
         "None at all: three minutes is shorter than the smallest alert window"),
        2,
        "The blip spends 1.4% of a 99.9% budget, under the 2% the fast page needs in its hour, so the "
        "multiwindow rules stay quiet. A plain threshold on a 5-minute window pages on every blip like it "
        "(and, at 20 requests per second, about 24 times a month on noise alone). At 50% for 3 minutes the "
        "blip costs 3.5% of the budget, and the fast page fires.",
    ),
    Question(
        "A random schedule of six faults double-charges. The shrinker returns two of them: a consumer crash "
        "between the charge and the record, and a second copy of the same message. What does \"minimal\" "
        "promise?",
        ("That no other schedule of two faults can make the bug happen",
         "That the bug needs at least six faults in any schedule to show",
         "That both faults happened in production, in that order",
         "That removing either of the two faults makes the run pass"),
        3,
        "Minimal here means 1-minimal, as in delta debugging: take out any one step and the invariants hold "
        "again. It says nothing about other schedules, and nothing about production; it is a short, readable "
        "recipe for the bug, which is what you turn into a regression test.",
    ),
    Question(
        "A service answers 10% of requests with a fast 503 in 2 ms. Why keep the latency of errors apart from "
        "the latency of successes?",
        ("Fast errors drag the average down and hide that successes got slower",
         "Errors are not real requests, so no latency figure should include them",
         "Because the SLO only ever counts the latency of failed requests",
         "Errors always take longer than successes, so they inflate the tail"),
        0,
        "The SRE book's advice with the four golden signals: a burst of quick failures makes a latency "
        "average, even a percentile, look better while users wait longer for the answers that work. Slow "
        "errors (timeouts) are the opposite trap. RED metrics per service, split by outcome, show both.",
    ),
)


def prediction() -> Prediction:
    """The "Predict first" widget for lesson 07."""
    return predict(QUESTION, OPTIONS)


def self_check() -> Quiz:
    """The self-check for lesson 07."""
    return quiz(QUESTIONS)


# -- Experiment 1's tables ----------------------------------------------------------------------

def _tolerances() -> dict[str, str]:
    t = TOLERANCES
    return {"p50 latency (ms)": f"±{t.p50 * 1000:g} ms",
            "p99 latency (ms)": f"±{t.p99_relative:.0%} or ±{t.p99_absolute * 1000:g} ms",
            "success rate (%)": f"±{t.success * 100:g} points",
            "attempts per request": f"±{t.attempts:g}"}


def comparison_table(comparison: Comparison) -> str:
    """The simulator, the real run and theory for one scenario, with each figure's tolerance and verdict."""
    if not isinstance(comparison, Comparison):
        raise ValueError(f"comparison must be the result of sim_vs_real.compare(), got {type(comparison).__name__}")
    tolerances, differences = _tolerances(), comparison.differences()
    lines = [f"{'':22}{'simulator':>11}{'real':>11}{'theory':>11}   real vs simulator",
             "-" * 80]
    for label, simulated, real, theory in comparison.table():
        digits = 2 if label.startswith("success") else (3 if label.startswith("attempts") else 1)
        name = label.split()[0]  # "p50", "p99", "success", "attempts", as differences() names them
        verdict = "outside" if any(d.startswith(name + ":") for d in differences) else "within"
        lines.append(f"{label:22}{simulated:>11.{digits}f}{real:>11.{digits}f}{theory:>11.{digits}f}   "
                     f"{verdict} {tolerances[label]}")
    scenario = comparison.scenario
    lines.append("")
    lines.append(f"{scenario.slow_share:.0%} of requests delayed by {scenario.slow_delay:g} s; timeout "
                 f"{scenario.timeout * 1000:g} ms per attempt; {scenario.attempts} attempts at most. "
                 + ("The real run agrees with the simulator." if comparison.agrees()
                    else "The real run disagrees with the simulator: " + "; ".join(comparison.differences())))
    return "\n".join(lines)


def tour_table(rows: Sequence[TourRow]) -> str:
    """What the client saw for each fault of :func:`course.models.sim_vs_real.fault_tour`."""
    rows = list(rows)
    if not all(isinstance(row, TourRow) for row in rows):
        raise ValueError("rows must be the result of sim_vs_real.fault_tour()")
    lines = [f"{'the server does':28}{'the client sees':26}{'attempts':>9}{'time':>10}", "-" * 73]
    for row in rows:
        lines.append(f"{row.fault:28}{row.outcome:26}{row.attempts:>9}{row.elapsed_ms:>8.0f} ms")
    return "\n".join(lines)
