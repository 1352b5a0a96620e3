"""Reproduction: the dual-write anomaly, and the transactional outbox that removes it.

Source: the transactional-outbox pattern (Chris Richardson,
<https://microservices.io/patterns/data/transactional-outbox.html>) as
COURSE.md's Consistency section states it: the business row and the outbox
row are written in one local transaction and a relay publishes later, which
makes delivery at least once.

The scenario (:mod:`course.models.dual_write`): an order service saves an
order row and announces ``order.created``; it crashes at a crash point with
probability p per request. 1,000 seeded runs (seeds 1..1000) of 20 orders
each, p = 5%, so 20,000 orders per way of writing.

* Write, then publish: a crash after the commit leaves a row with no event.
  Each order is an anomaly with probability p exactly, so the expected count
  is 1,000 with a standard deviation of √(20,000·0.05·0.95) ≈ 31; the test
  asks for a rate within 0.05 ± 0.01 (over 6 SD) and a count well above 0.
* Publish, then write: the mirror image, events about orders that do not exist.
* Outbox: zero anomalies, exactly — not a statistical claim. The relay crashes
  with the same p between publishing and marking the row sent, so some
  events arrive twice (at least once), never zero times.
"""

from __future__ import annotations

from functools import lru_cache

import pytest

from course.models import dual_write as model

RUNS, ORDERS, P = 1_000, 20, 0.05


@lru_cache(maxsize=None)
def totals(mode):
    return model.run_many(mode, P, runs=RUNS, orders=ORDERS, seed=1)


def test_write_then_publish_leaves_rows_nobody_hears_about():
    """Outbox pattern (Richardson): without an outbox, a crash between the commit and the publish loses the
    event: about p of all orders (here 0.05 ± 0.01 of 20,000) are rows without an event."""
    t = totals("write_then_publish")
    assert t.anomalies > 0 and t.anomalies == t.rows_without_event
    assert t.events_without_row == 0
    assert t.anomaly_rate == pytest.approx(P, abs=0.01)
    assert t.runs_with_anomaly > RUNS / 2  # 1 - 0.95^20 = 64% of runs have at least one


def test_publish_then_write_announces_orders_that_do_not_exist():
    """Outbox pattern (Richardson): swapping the two writes only swaps the anomaly: events without a row."""
    t = totals("publish_then_write")
    assert t.anomalies > 0 and t.anomalies == t.events_without_row
    assert t.rows_without_event == 0
    assert t.anomaly_rate == pytest.approx(P, abs=0.01)


def test_the_outbox_has_no_anomalies_and_pays_with_duplicates():
    """Outbox pattern (Richardson; COURSE.md): row and outbox row in one transaction plus a relay: zero
    anomalies over 1,000 crashing runs, with the relay itself crashing; the price is at-least-once delivery."""
    t = totals("outbox")
    assert t.anomalies == 0
    assert t.duplicate_deliveries > 0  # the relay's crashes republished rows with the same id


def test_a_single_outbox_run_really_crashed_everywhere():
    """The zero above is not for lack of crashes: a run with p = 30% crashes before the commit, after it, and
    in the relay, and still ends with every row announced."""
    r = model.simulate("outbox", crash_probability=0.3, orders=100, seed=7)
    assert min(r.crashes.get(point, 0) for point in ("before_commit", "after_commit", "relay_after_publish")) > 5
    assert r.anomalies == 0 and r.rows == r.events_received == 100 - r.crashes["before_commit"]


def test_the_anomaly_curve_follows_the_diagonal_for_dual_writes_and_stays_at_zero_with_an_outbox():
    """Dashboard curve: anomaly rate against crash probability is ≈ p for both dual writes (± 0.03 with
    1,000 orders per point) and 0 for the outbox."""
    curve = model.anomaly_curve(probabilities=(0.0, 0.1, 0.3, 0.5), orders=200, runs=5, seed=3)
    for mode in ("write_then_publish", "publish_then_write"):
        assert curve[mode] == pytest.approx(curve["p"], abs=0.03)
    assert list(curve["outbox"]) == [0.0] * 4
