"""Lesson 09's mock interview, phase by phase: what the interviewer asks and what a strong answer covers.

The question is "Design checkout for an online shop whose orders, payments and
inventory are separate services." :data:`PHASES` splits it into the eight
parts an interviewer walks through, in order, each with a suggested time (about
45 minutes in all), the interviewer's words, a checklist the learner ticks
against their own draft, red flags, and the follow-ups every candidate gets.

:func:`follow_ups_for` adds the follow-ups a particular
:class:`~course.models.checkout_design.Design` invites: an interviewer who sees
a synchronous payment call asks what happens when the provider is slow.
"""

from __future__ import annotations

from dataclasses import dataclass

from course.models.checkout_design import EDGES, Design

#: The areas the summary scores; every phase belongs to one.
AREAS = ("Scoping", "Design", "Resilience", "Consistency", "Operations")


@dataclass(frozen=True)
class Phase:
    """One part of the interview.

    ``minutes`` is the suggested time, ``prompt`` the interviewer's words,
    ``checklist`` what a strong answer covers (each item checkable against a
    draft), ``red_flags`` what makes an interviewer wince, and ``follow_ups``
    the questions asked whatever the design.
    """

    key: str
    title: str
    minutes: int
    area: str
    prompt: str
    checklist: tuple[str, ...]
    red_flags: tuple[str, ...]
    follow_ups: tuple[str, ...]

    def __post_init__(self):
        if self.area not in AREAS:
            raise ValueError(f"area must be one of {', '.join(AREAS)}; got {self.area!r}")
        for name in ("checklist", "red_flags", "follow_ups"):
            object.__setattr__(self, name, tuple(getattr(self, name)))


PHASES = (
    Phase(
        key="requirements", title="Requirements and scale", minutes=5, area="Scoping",
        prompt=("Design checkout for an online shop whose orders, payments and inventory are separate services. "
                "Before you draw anything: what do you need to know?"),
        checklist=(
            "Said who buys and how: web and app shoppers, guests or signed in, one payment per order",
            "Gave a peak rate in orders per second, and how far above the average it goes (a sale day)",
            "Set a latency target for placing an order as a percentile (e.g. p99 under 1 s)",
            "Said which data must be exact (money, stock) and which may be stale for seconds (catalogue, prices shown)",
            "Said what the user is told when they click Buy: order received, or payment confirmed",
            "Put a number on availability (e.g. 99.9% of checkouts succeed)",
        ),
        red_flags=(
            "Starts drawing boxes before asking a single question",
            "\"It must scale\" with no orders per second and no latency target",
            "Treats all data alike: everything strongly consistent, or everything eventually",
        ),
        follow_ups=(
            "On Black Friday, peak traffic is 50 times the average. Which of your numbers change?",
            "Which of these answers would make you not split into services at all?",
        ),
    ),
    Phase(
        key="boundaries", title="Boundaries and data ownership", minutes=6, area="Design",
        prompt=("Where do you draw the service boundaries, and who owns which data? "
                "Would you split this into services at all?"),
        checklist=(
            "Orders, payments and inventory each own their data; no other service reads or writes it directly",
            "No shared database between the services (a shared schema makes a distributed monolith)",
            "Named what crosses each boundary: an API call or an event, with its main fields",
            "Boundaries follow business capabilities and teams, not technical layers or tables",
            "Said when not to split: for a small team or an early product, a modular monolith is the better answer",
            "Gave a real case: Segment merged 140+ destination services back into one (\"Goodbye Microservices\", "
            "2018); Prime Video's stream monitoring moved to a single process and cut infrastructure cost by 90% "
            "(2023)",
        ),
        red_flags=(
            "Two services writing the same tables",
            "Splitting because \"microservices scale\", with no team or load that needs it",
            "One service per entity or per table",
        ),
        follow_ups=(
            "You have four engineers and launch in three months. Still three services?",
            "Inventory needs the order's delivery address. Whose data is it, and how does inventory get it?",
        ),
    ),
    Phase(
        key="communication", title="Sync or message, edge by edge", minutes=5, area="Design",
        prompt=("Orders talks to inventory and to payments. For each, is it a synchronous call or a message, "
                "and why?"),
        checklist=(
            "Chose call or message for orders → inventory, from whether the user waits for the stock answer",
            "Chose call or message for orders → payments, knowing a provider's charge can finish after the order is "
            "accepted",
            "Said what the user sees for each choice: \"order confirmed\" or \"order received, we'll email you\"",
            "Counted what a chain of calls costs: availabilities multiply (99.9% × 99.9% ≈ 99.8%), latencies add",
            "Said where a message waits while its consumer is down, and what the order's state is meanwhile",
        ),
        red_flags=(
            "Everything synchronous because REST is simplest",
            "Everything asynchronous, including the answer the user is waiting for",
            "No word on what the user sees while a message is in flight",
        ),
        follow_ups=(
            "Product wants \"Payment confirmed\" on the page the user lands on. What does that cost you?",
            "Inventory's consumer is down for an hour. What happens to the orders placed in that hour?",
        ),
    ),
    Phase(
        key="failure", title="When a dependency is slow or down", minutes=8, area="Resilience",
        prompt=("Inventory or payments gets slow, or goes down. Walk me through what happens to checkout, "
                "and what you put on each call."),
        checklist=(
            "A timeout on every synchronous call, set from the dependency's latency percentiles, not a library default",
            "Timeouts shrink down the chain: each call's timeout is shorter than its caller's deadline",
            "Retries only for idempotent operations and retryable errors, with exponential backoff and jitter",
            "A retry budget (e.g. 10% of requests), so retries cannot multiply the load in an outage",
            "A circuit breaker per dependency: what opens it, how long it stays open, how half-open probes",
            "A fallback per dependency, and what it costs the business (e.g. take the order, charge later)",
            "Bulkheads: a separate pool per dependency, so slow payments cannot take inventory's threads",
        ),
        red_flags=(
            "No timeouts, or a library's 30 s default",
            "Three retries at every layer (4 attempts per layer multiply: 64 at the bottom of three layers)",
            "A fallback that quietly sells stock or money the shop does not have",
        ),
        follow_ups=(
            "Payments' p99 goes from 300 ms to 3 s. What is your timeout now, and what happens to the calls "
            "that would have answered in 3.1 s?",
            "Inventory recovers. Does checkout recover by itself, or do retries keep inventory down?",
        ),
    ),
    Phase(
        key="consistency", title="All or nothing across three services", minutes=8, area="Consistency",
        prompt=("Placing an order reserves stock, charges the card and confirms the order, in three databases. "
                "How do you make it all or nothing?"),
        checklist=(
            "A saga: its steps, and a compensation for each (release the stock, refund the charge, cancel the order)",
            "Chose orchestration or choreography, and said who knows the state of an order",
            "Said why not 2PC: a coordinator crash after the votes leaves participants holding locks, "
            "and a payment provider won't take part",
            "An outbox: the order row and its event in one local transaction, a relay publishes it (no dual write)",
            "Idempotency keys on every charge and reservation, so a retry does not act twice",
            "Consumers record the message ids they have processed, in the same transaction as the work",
            "Said how a duplicate or an out-of-order message is handled (e.g. a refund that arrives before its charge)",
        ),
        red_flags=(
            "\"Use a distributed transaction\", across a third-party payment provider",
            "Saving the order, then publishing the event as a separate step, with no outbox",
            "Assuming the broker delivers each message exactly once",
        ),
        follow_ups=(
            "The refund that compensates a charge fails too. What now?",
            "Stock is reserved but the charge is still pending. What does the next customer see, and for how long?",
        ),
    ),
    Phase(
        key="testing", title="Testing services that only work together", minutes=4, area="Operations",
        prompt=("Three teams deploy these services whenever they like. How do you test checkout, "
                "and how long does a build take?"),
        checklist=(
            "Unit tests for each service's own logic (prices, the saga's state transitions)",
            "Component tests of one service, its dependencies replaced by test doubles",
            "Consumer-driven contract tests (e.g. Pact) between orders and each provider, checked before deploying",
            "Only a few end-to-end tests, for the main checkout path, in a staged environment",
            "Fault injection: tests that slow, fail or reset a dependency and check timeouts, retries and "
            "no double charge",
        ),
        red_flags=(
            "A large end-to-end suite as the main safety net",
            "No test of what happens when a dependency fails",
            "Test doubles that nobody checks against the real provider",
        ),
        follow_ups=(
            "Payments renames a field. Which test fails first, and on whose build?",
            "Your end-to-end suite goes red one run in ten with no bug. What do you do?",
        ),
    ),
    Phase(
        key="observability", title="Knowing it works", minutes=5, area="Operations",
        prompt="Checkout is live. How do you know it is working, and who gets paged when it isn't?",
        checklist=(
            "An SLO for checkout success (e.g. 99.9% over 30 days) and one for latency (e.g. p99 under 1 s)",
            "Alerts on the error budget's burn rate (e.g. page at 14.4× over 1 h, confirmed over 5 min), "
            "not on single errors",
            "Traces that follow one order across orders, inventory and payments (one trace id, propagated)",
            "RED metrics per service: rate, errors, duration",
            "Business metrics: double charges, oversells, and orders stuck in a pending state for too long",
        ),
        red_flags=(
            "Alerting on CPU, or on every single error",
            "Averages only, no percentiles",
            "No way to find an order stuck halfway through",
        ),
        follow_ups=(
            "Error rate and latency look fine, but revenue is down 20%. Where do you look?",
            "A customer says they were charged and got no order. How do you find what happened to it?",
        ),
    ),
    Phase(
        key="rollout", title="Getting there from the monolith", minutes=4, area="Operations",
        prompt=("Today checkout lives in a monolith. How do you get to your design without an outage "
                "or a lost order?"),
        checklist=(
            "A strangler migration: one capability at a time moves out behind a routing layer",
            "Feature flags to send each step to the new service, and back",
            "Canary releases: a small share of traffic first, compared with the rest on the SLOs",
            "A dark launch of payments: the new path runs in shadow and is compared, without charging anyone twice",
            "A written rollback plan, including the orders in flight when you roll back",
            "A data migration plan: backfill, keeping both copies in step, and when the monolith's tables stop "
            "being written",
        ),
        red_flags=(
            "A big-bang rewrite with a cut-over weekend",
            "No way back once the traffic has moved",
            "Shadow traffic sent to a real payment provider",
        ),
        follow_ups=(
            "Halfway through, who owns an order's data: the monolith or the orders service?",
            "The canary's error rate is 0.2 points higher than the rest. Do you roll back?",
        ),
    ),
)

_BY_KEY = {p.key: p for p in PHASES}


def phase(key: str) -> Phase:
    """The phase called ``key``; ValueError naming the valid keys otherwise."""
    try:
        return _BY_KEY[key]
    except (KeyError, TypeError):
        raise ValueError(f"no interview phase {key!r}; the phases are {', '.join(_BY_KEY)}") from None


# What a design's choices invite. Each predicate gets ``design.effective``.

def _edges(design: Design):
    return [design.edge(name) for name in EDGES]


def _payments_sync(d: Design) -> bool:
    return d.payments.is_sync


def _sync_without_timeout(d: Design) -> bool:
    return any(e.is_sync and e.timeout is None for e in _edges(d))


def _retries_without_keys(d: Design) -> bool:
    return not d.idempotency_keys and any(e.is_sync and e.retries > 0 for e in _edges(d))


def _retries_without_budget(d: Design) -> bool:
    return any(e.is_sync and e.retries > 0 and not e.retry_budget for e in _edges(d))


def _inventory_fallback(d: Design) -> bool:
    return d.inventory.is_sync and d.inventory.fallback  # a message edge has no call to fall back from


def _dual_write(d: Design) -> bool:
    return d.events == "dual_write"


def _messages_without_keys(d: Design) -> bool:
    return not d.idempotency_keys and any(not e.is_sync for e in _edges(d))


def _choreography(d: Design) -> bool:
    return d.transaction == "choreography"


def _two_phase_commit(d: Design) -> bool:
    return d.transaction == "2pc"


def _all_sync(d: Design) -> bool:
    return all(e.is_sync for e in _edges(d))


#: (predicate on ``design.effective``, phase key, the follow-up it triggers)
TRIGGERS = (
    (_payments_sync, "failure",
     "The payment provider is slow for ten minutes. What do users see, and what does your thread pool do?"),
    (_sync_without_timeout, "failure",
     "One of your calls has no timeout. When that service hangs, what bounds how long an order waits, "
     "and how many threads wait with it?"),
    (_retries_without_keys, "consistency",
     "A charge timed out and you retried it. Did the customer pay twice?"),
    (_retries_without_budget, "failure",
     "Traffic is at 3x and the dependency starts failing. Every caller retries with no budget: how much load "
     "does it get now, and how does it ever recover?"),
    (_inventory_fallback, "consistency",
     "Inventory is down and you assumed it was in stock. How many items did you sell that you don't have?"),
    (_dual_write, "consistency",
     "The service crashes after writing the order and before publishing the event. What happens to that order?"),
    (_messages_without_keys, "consistency",
     "The broker delivers the same message twice. Is the card charged twice, or the stock reserved twice?"),
    (_choreography, "consistency",
     "Who knows the state of an order? How do you find the stuck ones?"),
    (_two_phase_commit, "consistency",
     "The coordinator crashes after the votes. What do inventory's locks do meanwhile?"),
    (_all_sync, "communication",
     "Why must the user wait for the payment provider?"),
)


def follow_ups_for(phase_key: str, design: Design | None = None) -> list[str]:
    """The phase's own follow-ups, then those ``design`` triggers in that phase (see :data:`TRIGGERS`).

    ``design=None`` gives only the phase's own follow-ups.
    """
    own = list(phase(phase_key).follow_ups)
    if design is None:
        return own
    if not isinstance(design, Design):
        raise ValueError(f"design must be a checkout Design, got {design!r}")
    running = design.effective
    return own + [question for when, key, question in TRIGGERS if key == phase_key and when(running)]
