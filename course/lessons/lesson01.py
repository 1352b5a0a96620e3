"""Lesson 01 (a slow dependency): the prediction and the self-check."""

from __future__ import annotations

from course.widgets import Prediction, Question, Quiz, predict, quiz

QUESTION = ("From t = 20 s to t = 40 s, B answers ten times more slowly than usual. A has 20 threads and "
            "no timeout on its calls to B. Half of A's requests never call B. "
            "What happens to <i>those</i> requests, the ones that never touch B?")
OPTIONS = (
    "Nothing. They never touch B, so they stay fast",
    "They get somewhat slower, perhaps twice as slow",
    "They get as slow as the requests that do call B: seconds instead of milliseconds",
    "They fail with errors",
)

QUESTIONS = (
    Question(
        "Service A handles 100 requests a second and each one holds one of A's 40 threads "
        "for 100 ms on average. How many threads are busy, on average?",
        ("10", "30", "40", "100"),
        0,
        "Little's law: L = λW = 100/s × 0.1 s = 10. Thirty threads to spare.",
    ),
    Question(
        "Now a dependency slows down and each request holds its thread for 500 ms. "
        "Same 100 requests a second, same 40 threads. What happens?",
        ("Each request takes 500 ms instead of 100 ms, and A settles at that pace",
         "Only the requests that call the slow dependency wait; the others stay fast",
         "A needs 50 threads and has 40, so its queue grows for as long as this lasts",
         "A serves what its 40 threads can and fails the rest at once with an error"),
        2,
        "λW = 100 × 0.5 = 50 threads busy, but there are only 40. More work arrives than "
        "leaves, so there is no steady state: the queue grows, and every request, whatever it "
        "calls, waits in it.",
    ),
    Question(
        "A single server is busy 80% of the time; its mean service time is 10 ms. "
        "Treating it as an M/M/1 queue, what is the mean response time?",
        ("12.5 ms", "18 ms", "40 ms", "50 ms"),
        3,
        "W = S / (1 − ρ) = 10 ms / 0.2 = 50 ms. Four fifths of that is waiting in the queue.",
    ),
    Question(
        "B's latency: p50 40 ms, p99 180 ms, p99.9 400 ms. A's own callers give up after 2 s. "
        "Which timeout should A put on its calls to B?",
        ("About 40 ms: B's median, so A never waits longer than a typical call",
         "About 450 ms: a little above B's p99.9",
         "2 s: the same as A's callers, so A never gives up before they do",
         "30 s: the library's default, tuned by the people who wrote it"),
        1,
        "Start from B's measured percentiles: just above the p99.9 fails fewer than one call in "
        "a thousand in normal times and frees A's thread quickly when B goes bad. 40 ms fails half "
        "of all calls; 2 s and 30 s let a slow B hold A's threads for seconds.",
    ),
    Question(
        "A gateway gives up on a request after 1 s. It calls A, which calls B. "
        "How should A's timeout on B relate to that 1 s?",
        ("Shorter than 1 s minus the time A needs for its own work",
         "Exactly 1 s, so A and the gateway give up at the same moment",
         "Longer than 1 s, so that B has time to finish",
         "A needs none: the gateway's timeout covers the whole chain"),
        0,
        "Deadlines shrink as they propagate. Once the gateway has given up, whatever A and B "
        "are still doing for that request is wasted work holding threads. Better still, pass the "
        "remaining time along with the call (a propagated deadline).",
    ),
    Question(
        "In the simulation, B slowed down and A had no timeout. You give A 64 threads "
        "instead of 20. What happens?",
        ("The cascade is gone: 64 threads are enough to ride out the slowdown",
         "Requests that never call B are fast again; only calls to B stay slow",
         "A gets faster, but the extra calls overwhelm B and its latency doubles",
         "The pool takes a little longer to fill, then A is slow for everyone again"),
        3,
        "Slowed down, B finishes only about 12.6 calls a second while A sends it 25. A bigger "
        "pool is a bigger waiting room: it fills a little later and holds more threads hostage. "
        "In the run, requests that never call B still waited over 5 s.",
    ),
)


def prediction() -> Prediction:
    """The "Predict first" widget for lesson 01."""
    return predict(QUESTION, OPTIONS)


def self_check() -> Quiz:
    """The self-check for lesson 01."""
    return quiz(QUESTIONS)
