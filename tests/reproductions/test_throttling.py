"""Reproduction d: client-side adaptive throttling, K = 2, at 3× overload.

Source: B. Beyer, C. Jones, J. Petoff, N. R. Murphy (eds.), *Site Reliability
Engineering*, O'Reilly, 2016, chapter 21, "Handling Overload", section
"Client-side throttling": each client rejects a request locally with
probability max(0, (requests − K·accepts) / (requests + 1)) over the last two
minutes; with K = 2, under heavy overload "the backend ends up rejecting about
one request for each request it accepts".
"""

from __future__ import annotations

import pytest

from course.models import throttling

def run(throttle: bool):
    """The book's settings (:data:`course.models.throttling.BOOK`): 3× overload, K = 2, a two-minute
    window, measured over the second two minutes of a four-minute run; seed 1."""
    return throttling.reproduce(throttle).summary


def test_the_settings_are_the_books():
    assert throttling.BOOK["overload"] == 3.0
    assert throttling.BOOK["k"] == 2.0
    assert throttling.BOOK["window"] == 120.0  # "about two minutes"
    assert throttling.BOOK["measure_from"] >= throttling.BOOK["window"]


def test_backend_rejects_about_one_request_per_accepted_request():
    """SRE book, "Handling Overload": at 3× overload with K = 2, the backend rejects 1.0 ± 0.2
    requests for each request it accepts."""
    s = run(True)
    assert s["accepted"] > 10_000  # two minutes at the backend's 100 requests/s
    assert s["rejected_per_accepted"] == pytest.approx(1.0, abs=0.2)


def test_clients_reject_the_rest_locally():
    """SRE book, "Handling Overload": the clients' local rejections carry the rest of the excess.

    Of the 300 requests/s offered, the backend accepts its capacity (about 100/s) and rejects
    about as many; the clients turn the remaining third away before it costs the backend
    anything: local rejections ≈ offered − 2 × accepted.
    """
    s = run(True)
    assert s["goodput"] == pytest.approx(throttling.CAPACITY, rel=0.05)
    assert s["throttled"] == pytest.approx(s["requests"] - 2 * s["accepted"], rel=0.1)
    assert s["throttled_share"] == pytest.approx(1 / 3, abs=0.05)
    # Every request ends one of three ways: accepted, rejected by the backend, or rejected locally.
    assert s["accepted"] + s["backend_rejected"] + s["throttled"] + s["timed_out"] == s["requests"]


def test_without_the_throttle_the_backend_rejects_two_per_accepted():
    """The contrast, same load: with no client-side throttling every excess request reaches the
    backend, which rejects about two for each it accepts (300/s offered, 100/s served)."""
    s = run(False)
    assert s["throttled"] == 0
    assert s["rejected_per_accepted"] == pytest.approx(2.0, abs=0.2)
    assert run(True)["backend_rejected"] < 0.6 * s["backend_rejected"]
