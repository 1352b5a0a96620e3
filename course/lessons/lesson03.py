"""Lesson 03 (stop the bleeding): the prediction and the self-check."""

from __future__ import annotations

from course.widgets import Prediction, Question, Quiz, predict, quiz

QUESTION = ("B goes down and refuses every connection for 60 s. A calls it 30 times a second through a circuit "
            "breaker with Resilience4j's defaults: it opens when at least half of the last 100 calls failed. "
            "A makes about 1,800 calls while B is down. How many of them still reach B?")
OPTIONS = (
    "All of them: a breaker only counts failures, it doesn't stop calls",
    "About 900: it opens halfway through the outage",
    "About 50: it opens within a couple of seconds and stays open",
    "None: it opens before the first call fails",
)

QUESTIONS = (
    Question(
        "A breaker with Resilience4j's defaults (50% failures over a window of the last 100 calls, minimum 100 "
        "calls) has seen thousands of healthy calls. Then B fails every call. How many failed calls does it "
        "take before the breaker opens?",
        ("1", "5", "50", "100"),
        2,
        "The window holds the last 100 calls. Once 50 of them are failures the rate reaches the 50% threshold. "
        "At 30 calls a second that is under two seconds; at 20 calls a <i>minute</i> it is two and a half "
        "minutes. A count window's reaction time depends on your traffic.",
    ),
    Question(
        "A's call to B fails with HTTP 400 because A built the request wrongly. A has a fallback that serves "
        "a cached answer. What should it do with this failure?",
        ("Serve the cached answer: a stale page beats an error page for the user",
         "Retry it a few times with backoff, then fall back to the cached answer",
         "Count it towards the circuit breaker, so repeated 400s open the circuit",
         "Let the error through: it is a bug in A, and a fallback would hide it"),
        3,
        "Fallbacks are for B's trouble (timeouts, 5xx, a full pool, an open breaker), not for your own "
        "programming errors. Hide a 400 behind a cached answer and the bug ships silently. The course's "
        "<code>Fallback</code> refuses to handle <code>FATAL</code> for exactly this reason, and a breaker "
        "shouldn't count it either: it says nothing about B's health.",
    ),
    Question(
        "A calls B 50 times a second and B answers in 200 ms. How many calls to B are in flight on average, "
        "and what if B slows to 2 s per call?",
        ("10, then 100: more than A's 40 threads, so without a bulkhead B takes them all",
         "50, then 50: A still sends 50 calls a second, so B's share of the pool stays the same",
         "10, then 10: each call now takes longer, but no more of them are in flight at once",
         "1, then 10: each call holds its thread for only a fraction of a second"),
        0,
        "Little's law: L = λW = 50/s × 0.2 s = 10, and 50/s × 2 s = 100. A slow dependency needs threads in "
        "proportion to its latency. A bulkhead caps B's share, so the calls beyond it fail fast and the "
        "threads for everything else stay free.",
    ),
    Question(
        "Each leaf server is slow one time in 1,000. A request fans out to 500 leaves and waits for all "
        "of them. Roughly what share of requests is slow?",
        ("About 0.1%", "About 1%", "About 5%", "About 40%"),
        3,
        "1 − (1 − 0.001)<sup>500</sup> ≈ 0.39. A rare hiccup per server becomes the common case per request "
        "once a request touches enough servers. That is the whole argument of <i>The Tail at Scale</i>.",
    ),
    Question(
        "You hedge leaf calls: if a call hasn't answered by the leaf's 95th-percentile latency, send a second "
        "copy and take whichever answers first. Roughly how much extra load does that put on the leaves?",
        ("About 5%: only calls still out at the p95 get a copy",
         "About 0%: the slower copy is cancelled, so it costs nothing",
         "About 95%: nearly every call reaches the p95 mark and gets a copy",
         "About 100%: every call is sent twice, and the first answer wins"),
        0,
        "By definition, 5% of calls are still outstanding at the p95, so about 5% get a second copy. Dean and "
        "Barroso report about 5%; our simulation measures about 5% while the request p99 falls by about 85%. Hedge "
        "only calls that are safe to run twice (reads, or idempotent writes).",
    ),
    Question(
        "Clients use the SRE book's adaptive throttling with K = 2 and offer three times what the backend "
        "can accept. For each request the backend accepts, about how many does it reject?",
        ("About 0", "About 1", "About 2", "About 3"),
        1,
        "Each client keeps sending about K = 2 requests per accept, so the backend sees twice what it "
        "accepts and rejects the other half: about 1 per accept. Our simulation measures 0.99, against 2.0 "
        "with the throttle off. The clients turn the remaining third away locally, before it costs the "
        "backend anything.",
    ),
)


def prediction() -> Prediction:
    """The "Predict first" widget for lesson 03."""
    return predict(QUESTION, OPTIONS)


def self_check() -> Quiz:
    """The self-check for lesson 03."""
    return quiz(QUESTIONS)
