"""Lesson 02 (retries): the predictions and the self-check."""

from __future__ import annotations

from course.widgets import Prediction, Question, Quiz, predict, quiz

QUESTION = ("A user's click goes browser → frontend → backend → database. Each of those three hops retries a "
            "failed call up to 3 times, so it makes up to 4 attempts. The database goes down and fails every "
            "call. How many calls reach the database for one click?")
OPTIONS = (
    "4: only the backend talks to the database",
    "12: three hops, four attempts each",
    "64: four attempts, times four, times four",
    "It depends on the backoff",
)

METASTABLE_QUESTION = ("A database handles 300 queries a second; the app sends it 280 and retries a query once "
                       "if it has no answer after 1 s. At t = 10 s the database stalls for 10 s. At t = 20 s it is "
                       "back, as fast as ever. What happens next?")
METASTABLE_OPTIONS = (
    "It is healthy again within a second or two",
    "It clears its backlog in ten seconds or so, then it is healthy",
    "It stays down: almost nothing succeeds until someone intervenes",
    "It swings between healthy and down every few seconds",
)

QUESTIONS = (
    Question(
        "Three services in a chain each call the next with Polly v8's default retry: "
        "<code>MaxRetryAttempts = 3</code>. "
        "The service at the bottom fails every call. How many calls reach it per request at the top?",
        ("4", "12", "27", "64"),
        3,
        "Polly's <code>MaxRetryAttempts</code> counts retries on top of the first call: 4 attempts per hop, "
        "and 4 × 4 × 4 = 64. With Resilience4j's default <code>maxAttempts = 3</code>, which includes the "
        "first call, it would be 3 × 3 × 3 = 27. Read the docs for what the number counts.",
    ),
    Question(
        "Each of those three clients now gets its own 10% retry budget, and nothing else changes. "
        "Roughly how much load reaches the failing bottom layer, per request at the top?",
        ("About 1.0×", "About 1.1×", "About 1.33×", "About 3.0×"),
        2,
        "Each client adds its own 10% on top of the traffic it receives, and the traffic it receives "
        "already includes the 10% from the layer above: 1.1 × 1.1 × 1.1 ≈ 1.33. The simulation measures "
        "1.33 on a long run. To get to 1.1, only the layer directly above the failure may retry: the "
        "others pass on \"overloaded; don't retry\".",
    ),
    Question(
        "Your exponential backoff has reached min(cap, base·2ⁿ) = 800 ms. How long does full jitter sleep, "
        "and how long does equal jitter sleep?",
        ("Full: anywhere from 0 to 800 ms. Equal: 400 ms plus anywhere from 0 to 400 ms",
         "Full: 400 ms plus anywhere from 0 to 400 ms. Equal: anywhere from 0 to 800 ms",
         "Full: 800 ms plus anywhere from 0 to 800 ms. Equal: 800 ms plus or minus 400 ms",
         "Both: anywhere from 0 to 800 ms; they differ only in how the number is drawn"),
        0,
        "Full jitter is uniform(0, v); equal jitter keeps half, v/2 + uniform(0, v/2). Equal jitter never "
        "sleeps less than half the ceiling, which is why, in Brooker's runs, it does about the same work as "
        "full jitter but finishes later.",
    ),
    Question(
        "<code>POST /payments</code> timed out after 2 s. The client sent no idempotency key. Should it retry?",
        ("Yes: a timeout is a transient error, and transient errors are exactly the ones that a retry policy "
         "with exponential backoff and jitter is for",
         "Not blindly: the payment may have gone through. Send an idempotency key so the server can recognise "
         "the retry and return the first result",
         "No: POST is not idempotent, so a client must never retry one. It should show the user the error and "
         "let them decide whether to pay again",
         "Yes, but only after waiting the full backoff cap, so that the first attempt has surely finished "
         "before the second one starts"),
        1,
        "A timeout tells you that you don't know, not that it failed. Retrying a non-idempotent operation can "
        "charge the customer twice. With an idempotency key the server stores the result of the first attempt "
        "under the key and answers a retry with that result instead of doing the work again.",
    ),
    Question(
        "The app from the simulation (280 QPS against 300 of capacity, one retry after a 1 s timeout) is stuck "
        "after an outage: about 560 attempts a second, almost no goodput. Which change gets it out?",
        ("Add a 10% retry budget to cap the retries",
         "Shed load until the app offers under 150 QPS",
         "Allow 3 retries, so more requests get through",
         "Wait: the backlog drains by itself"),
        1,
        "At 140 QPS even with every attempt retried it is 280 a second, under the database's 300, so the "
        "backlog drains; in the simulation goodput is back about 20 s after the load halves. A 10% budget "
        "still adds 28 retries a second to 280 (308 > 300): stuck. More retries make it worse, and it does "
        "not drain by itself: that's what makes it metastable.",
    ),
    Question(
        "Which of these should a client retry at all?",
        ("400 Bad Request, with a body naming the invalid field",
         "403 Forbidden, for a user who lacks the permission",
         "503 Service Unavailable, with a Retry-After header",
         "409 Conflict, from a version check on the row"),
        2,
        "A 503 says \"not now\", and Retry-After says when. 400 and 403 will fail the same way every time. A "
        "409 from a version check means re-read and decide again, not send the same write.",
    ),
)


def prediction() -> Prediction:
    """The "Predict first" widget for lesson 02: how far does one click amplify?"""
    return predict(QUESTION, OPTIONS)


def metastable_prediction() -> Prediction:
    """The second prediction, before the metastable-failure experiment."""
    return predict(METASTABLE_QUESTION, METASTABLE_OPTIONS)


def self_check() -> Quiz:
    """The self-check for lesson 02."""
    return quiz(QUESTIONS)
