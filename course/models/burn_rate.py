"""Lesson 07's SLOs, error budgets and burn-rate alerts.

An availability SLO of, say, 99.9% over 30 days allows 0.1% of the period's
requests to fail: the *error budget* is 1 − SLO (:func:`budget`). A service
failing a share ``e`` of its requests *burns* its budget at ``b = e / (1 −
SLO)`` (:func:`burn_rate`): at b = 1 the budget lasts exactly the period, at b
it lasts period / b (:func:`time_to_exhaust`), and in h hours it spends
b · h / (24 · period days) of it (:func:`budget_spent`). So a 14.4× burn spends
2% of a 30-day budget in an hour and all of it in about 2.08 days.

The alert rules (:class:`Rule`) are evaluated once a minute on the error ratio
over trailing windows. :data:`WORKBOOK` is the multiwindow, multi-burn-rate
set of the Google SRE Workbook (chapter 5, "Alerting on SLOs", Table 5-8): page
when the burn over 1 h and over 5 min both exceed 14.4×; page when the burn
over 6 h and over 30 min both exceed 6×; open a ticket when the burn over 3
days and over 6 h both exceed 1×. The long window decides how much budget has
gone before the alert (a constant burn b ≥ θ crosses a long window of W
minutes after W · θ / b minutes, having spent θ · W / period of the budget:
2%, 5% and 10% for the three rules); the short window, 1/12 of the long one,
only confirms that the burn is still going on, so the alert stops a few
minutes after the incident does instead of an hour or days later.
:data:`LONG_ONLY` is the same set without the short windows, and
:data:`PLAIN` two plain error-rate thresholds for comparison: page if the
error ratio over 5 minutes exceeds the SLO's allowed rate (a 1× burn), and page
if it exceeds 5%.

The traffic (:func:`timeline`): ``rate`` requests per second, drawn per minute
as Poisson counts; each request fails independently with the minute's error
ratio (binomial counts). Outside an incident the service fails
:data:`BACKGROUND_BURN` × its budget (a service that comfortably meets its
SLO); during an :class:`Incident` it fails the incident's share (the
background's if that is higher). :data:`SHAPES` holds the lesson's three
incident shapes: a sharp outage, a slow leak and a brief blip. The timeline
starts :data:`WARMUP_MINUTES` (the longest window) before the period, so every
window is full from the period's first minute. With ``noise=False`` the counts
are their expectations, which is what the theory functions
(:func:`detection_minutes`, :func:`budget_before_alert`, :func:`reset_minutes`)
describe, to the minute.

:func:`evaluate` measures one rule on one timeline (:class:`Outcome`: when
it first fired after the incident began, the budget spent by then, how long it
kept firing after the incident ended, and its false alarms); :func:`run` does
it for a set of rules; :func:`long_run` averages over many seeds and
:func:`false_alarms` counts alerts on background traffic alone, per 30 days.
There is no clock to wait for: everything is array arithmetic over minutes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from course.sim import _validate

#: The SLO period the alert thresholds are designed for (days), and minutes in a day.
PERIOD_DAYS = 30
MINUTES_PER_DAY = 24 * 60
#: Outside incidents the service burns this share of its budget (0.02% errors under a 99.9% SLO).
BACKGROUND_BURN = 0.2
#: Minutes of traffic simulated before the period starts: the longest window (3 days), so every window is full.
WARMUP_MINUTES = 3 * MINUTES_PER_DAY
#: Where in the period an incident starts by default (day 10: three quiet days of history and more).
INCIDENT_START_MINUTE = 10 * MINUTES_PER_DAY
SEVERITIES = ("page", "ticket")


def _slo(slo) -> float:
    if not 0 < _validate._number("slo", slo) < 1:
        raise ValueError(f"slo must be a share strictly between 0 and 1 (e.g. 0.999), got {slo!r}")
    return float(slo)


def _seed(seed) -> int:
    return _validate.integer_at_least("seed", seed, 0)


# -- budget arithmetic --------------------------------------------------------------------------

def budget(slo: float) -> float:
    """The error budget of an SLO: the share of requests allowed to fail, 1 − ``slo`` (0.001 for 0.999)."""
    return 1.0 - _slo(slo)


def burn_rate(error_ratio: float, slo: float) -> float:
    """How fast a service failing ``error_ratio`` of its requests spends the budget of ``slo`` (1 = just on budget)."""
    return _validate.probability("error_ratio", error_ratio) / budget(slo)


def time_to_exhaust(burn: float, period_days: float = PERIOD_DAYS) -> float:
    """Days until a constant ``burn`` spends a whole ``period_days`` budget: period / burn (14.4× → 2.083 days)."""
    return _validate.positive("period_days", period_days) / _validate.positive("burn", burn)


def budget_spent(burn: float, hours: float, period_days: float = PERIOD_DAYS) -> float:
    """The share of a ``period_days`` budget that ``hours`` at ``burn`` spends: burn · hours / (24 · period).

    14.4× for 1 hour spends 0.02 (2%) of a 30-day budget; 6× for 6 hours 5%; 1× for 3 days 10%.
    """
    _validate.non_negative("burn", burn)
    _validate.non_negative("hours", hours)
    return burn * hours / (24.0 * _validate.positive("period_days", period_days))


# -- alert rules --------------------------------------------------------------------------------

def minutes_in_words(minutes: int) -> str:
    """A window length in words: 5 min, 1 h, 3 days."""
    if minutes % MINUTES_PER_DAY == 0 and minutes >= 2 * MINUTES_PER_DAY:
        return f"{minutes // MINUTES_PER_DAY} days"
    if minutes % 60 == 0:
        return f"{minutes // 60} h"
    return f"{minutes} min"


def percent(share: float) -> str:
    """A share as a percentage with up to three significant figures: 0.001 → '0.1%', 0.0144 → '1.44%'."""
    return f"{share * 100:.3g}%"


@dataclass(frozen=True)
class Rule:
    """An alert: ``severity`` fires when the error ratio over the last ``long_minutes`` (and, if given, over the
    last ``short_minutes`` too) exceeds the limit, either ``burn`` × the SLO's budget or a fixed ``error_ratio``.
    ``plain`` marks a plain error-rate threshold: its label gives the limit as an error ratio.
    """

    severity: str
    long_minutes: int
    short_minutes: int | None = None
    burn: float | None = None
    error_ratio: float | None = None
    plain: bool = False

    def __post_init__(self):
        _validate.one_of("severity", self.severity, SEVERITIES)
        _validate.integer_at_least("long_minutes", self.long_minutes, 1)
        if self.short_minutes is not None:
            _validate.integer_at_least("short_minutes", self.short_minutes, 1)
            if self.short_minutes > self.long_minutes:
                raise ValueError(f"short_minutes must be at most long_minutes ({self.long_minutes}), "
                                 f"got {self.short_minutes!r}")
        if (self.burn is None) == (self.error_ratio is None):
            raise ValueError("give exactly one of burn (a multiple of the budget) and error_ratio (a fixed share)")
        if self.burn is not None:
            _validate.positive("burn", self.burn)
        else:
            _validate.fraction_open_closed("error_ratio", self.error_ratio)

    @property
    def windows(self) -> tuple[int, ...]:
        """The window lengths the rule reads (minutes), long first."""
        return (self.long_minutes,) if self.short_minutes is None else (self.long_minutes, self.short_minutes)

    def limit(self, slo: float) -> float:
        """The error ratio every window of the rule must exceed for it to fire under ``slo``."""
        return self.burn * budget(slo) if self.burn is not None else self.error_ratio

    def threshold(self, slo: float) -> float:
        """The same limit as a burn rate (a multiple of the budget of ``slo``)."""
        return self.burn if self.burn is not None else self.error_ratio / budget(slo)

    def label(self, slo: float | None = None) -> str:
        """The rule in a few words, e.g. 'page: 1 h & 5 min > 14.4×' or 'page: 5 min > 0.1% errors'."""
        windows = " & ".join(minutes_in_words(m) for m in self.windows)
        if self.error_ratio is not None:
            limit = f"{percent(self.error_ratio)} errors"
        elif slo is not None and self.plain:
            limit = f"{percent(self.limit(slo))} errors"
        else:
            limit = f"{self.burn:g}×"
        return f"{self.severity}: {windows} > {limit}"


#: The SRE Workbook's recommended starting point (chapter 5, Table 5-8), for a 30-day SLO.
WORKBOOK = (
    Rule("page", 60, 5, burn=14.4),        # 2% of the budget gone in 1 h
    Rule("page", 6 * 60, 30, burn=6.0),    # 5% in 6 h
    Rule("ticket", 3 * MINUTES_PER_DAY, 6 * 60, burn=1.0),  # 10% in 3 days
)
#: The same burn rates and long windows without the confirming short windows (the Workbook's previous iteration).
LONG_ONLY = tuple(replace(rule, short_minutes=None) for rule in WORKBOOK)
#: Plain error-rate thresholds over 5 minutes: at the SLO's allowed rate (1×), and at 5% errors.
PLAIN = (Rule("page", 5, burn=1.0, plain=True), Rule("page", 5, error_ratio=0.05, plain=True))
RULE_SETS = {"workbook": WORKBOOK, "long_only": LONG_ONLY, "plain": PLAIN}


# -- incidents and traffic ----------------------------------------------------------------------

@dataclass(frozen=True)
class Incident:
    """``error_ratio`` of requests fail for ``duration_minutes`` minutes from ``start_minute`` of the period."""

    error_ratio: float
    duration_minutes: int
    start_minute: int = INCIDENT_START_MINUTE

    def __post_init__(self):
        _validate.probability("error_ratio", self.error_ratio)
        _validate.integer_at_least("duration_minutes", self.duration_minutes, 1)
        _validate.integer_at_least("start_minute", self.start_minute, 0)

    @property
    def end_minute(self) -> int:
        """The first minute after the incident."""
        return self.start_minute + self.duration_minutes


#: The lesson's incident shapes, each with its usual severity: a total outage of 30 minutes, a leak of 0.25%
#: errors for 4 days (2.5× under a 99.9% SLO) and a blip of 20% errors for 3 minutes.
SHAPES = {
    "outage": Incident(1.0, 30),
    "leak": Incident(0.0025, 4 * MINUTES_PER_DAY),
    "blip": Incident(0.2, 3),
}


@dataclass
class Timeline:
    """Requests and errors per minute, from :data:`WARMUP_MINUTES` before the period to its end."""

    slo: float
    rate: float                  # requests per second
    days: int                    # the period (and the budget's)
    incident: Incident | None
    expected_ratio: np.ndarray   # the share failing each minute
    requests: np.ndarray         # per minute (float: expectations when there is no noise)
    errors: np.ndarray
    warmup: int = WARMUP_MINUTES
    _sums: dict = field(default_factory=dict, repr=False)

    @property
    def minutes(self) -> np.ndarray:
        """Each entry's minute relative to the period's start (negative in the warm-up)."""
        return np.arange(-self.warmup, self.days * MINUTES_PER_DAY)

    @property
    def allowed_errors(self) -> float:
        """The period's error budget in requests: budget × the expected requests of the period."""
        return budget(self.slo) * self.rate * 60.0 * self.days * MINUTES_PER_DAY

    def _cumulative(self):
        if "cum" not in self._sums:
            zero = np.zeros(1)
            self._sums["cum"] = (np.concatenate([zero, np.cumsum(self.requests)]),
                                 np.concatenate([zero, np.cumsum(self.errors)]))
        return self._sums["cum"]

    @staticmethod
    def _trailing(cum: np.ndarray, minutes: int) -> np.ndarray:
        """Sums over the trailing ``minutes`` from a cumulative sum with a leading zero (shorter at the start)."""
        out = np.empty(cum.size - 1)
        head = min(minutes, out.size)
        out[:head] = cum[1:head + 1] - cum[0]
        out[head:] = cum[head + 1:] - cum[1:cum.size - head]
        return out

    def window_ratio(self, minutes: int) -> np.ndarray:
        """The error ratio over the trailing ``minutes`` at the end of each minute (0 where no request came)."""
        _validate.integer_at_least("minutes", minutes, 1)
        if minutes not in self._sums:
            total, bad = (self._trailing(cum, minutes) for cum in self._cumulative())
            ratio = np.zeros(total.size)
            np.divide(bad, total, out=ratio, where=total > 0)
            self._sums[minutes] = ratio
        return self._sums[minutes]

    def budget_spent(self) -> np.ndarray:
        """The share of the period's budget spent by the end of each minute of the period."""
        return np.cumsum(self.errors[self.warmup:]) / self.allowed_errors

    def index(self, minute: int) -> int:
        """The array index of a minute of the period."""
        return minute + self.warmup


def timeline(incident: Incident | None, slo: float = 0.999, rate: float = 20.0, *, days: int = PERIOD_DAYS,
             seed: int = 1, noise: bool = True, background_burn: float = BACKGROUND_BURN) -> Timeline:
    """Minute-by-minute traffic for a period of ``days`` with ``incident`` (None: background only).

    ``rate`` is requests per second. Requests per minute are Poisson(60 · rate) and errors binomial with the
    minute's error ratio, from a generator seeded with ``seed``; with ``noise=False`` both are their expectations.
    """
    slo = _slo(slo)
    _validate.positive("rate", rate)
    _validate.integer_at_least("days", days, 1)
    _seed(seed)
    _validate.non_negative("background_burn", background_burn)
    background = background_burn * budget(slo)
    if background > 1:
        raise ValueError(f"background_burn must be at most 1 / budget ({1 / budget(slo):g}), got {background_burn!r}")
    length = days * MINUTES_PER_DAY
    ratio = np.full(WARMUP_MINUTES + length, background)
    if incident is not None:
        if incident.end_minute > length:
            raise ValueError(f"incident must end within the period of {days} days ({length} minutes); "
                             f"it ends at minute {incident.end_minute}")
        span = slice(WARMUP_MINUTES + incident.start_minute, WARMUP_MINUTES + incident.end_minute)
        ratio[span] = max(incident.error_ratio, background)
    per_minute = rate * 60.0
    if noise:
        rng = np.random.default_rng(seed)
        requests = rng.poisson(per_minute, ratio.size)
        errors = rng.binomial(requests, ratio).astype(float)
        requests = requests.astype(float)
    else:
        requests = np.full(ratio.size, per_minute)
        errors = ratio * per_minute
    return Timeline(slo, float(rate), days, incident, ratio, requests, errors)


# -- evaluating rules ---------------------------------------------------------------------------

@dataclass
class Outcome:
    """How one rule did on one timeline. Times are minutes; budgets are shares of the period's budget.

    ``detection_minutes`` runs from the incident's start to the end of the first minute the rule fired (in
    the incident or while its long window still held it); ``budget_before_alert`` is what the errors from
    the incident's start to that moment spent; ``reset_minutes`` runs from the incident's end (or the
    detection, if later) until the rule stopped firing (inf if it never stopped). Each is NaN if the rule
    did not fire for the incident. ``false_alarms`` counts the alerts that began outside the incident's
    reach (before it, or once its long window no longer held it).
    """

    rule: Rule
    firing: np.ndarray = field(repr=False)   # per minute of the timeline, warm-up included
    onsets: np.ndarray                       # minutes of the period where an alert began
    detection_minutes: float
    budget_before_alert: float
    reset_minutes: float
    false_alarms: int

    @property
    def fired(self) -> bool:
        """Whether the rule fired for the incident."""
        return not math.isnan(self.detection_minutes)


def firing(tl: Timeline, rule: Rule) -> np.ndarray:
    """Whether ``rule`` fires at the end of each minute of ``tl`` (every window strictly above its limit)."""
    limit = rule.limit(tl.slo)
    on = np.ones(tl.errors.size, dtype=bool)
    for minutes in rule.windows:
        on &= tl.window_ratio(minutes) > limit
    return on


def evaluate(tl: Timeline, rule: Rule) -> Outcome:
    """Measure ``rule`` on ``tl``: see :class:`Outcome`."""
    on = firing(tl, rule)
    rising = np.flatnonzero(on[1:] & ~on[:-1]) + 1
    rising = rising[rising >= tl.warmup]
    onsets = rising - tl.warmup
    nan = float("nan")
    incident = tl.incident
    if incident is None:
        return Outcome(rule, on, onsets, nan, nan, nan, int(onsets.size))
    start, end = incident.start_minute, incident.end_minute
    reach = end + rule.long_minutes                     # after this the long window no longer holds the incident
    outside = (onsets < start) | (onsets >= reach)
    lo, hi = tl.index(start), min(tl.index(reach), on.size)
    hits = np.flatnonzero(on[lo:hi])
    if not hits.size:
        return Outcome(rule, on, onsets, nan, nan, nan, int(outside.sum()))
    first = lo + int(hits[0])                             # index of the first minute firing
    detection = float(first - lo + 1)
    spent = float(tl.errors[lo:first + 1].sum() / tl.allowed_errors)
    since = max(tl.index(end), first + 1) - 1             # evaluations from the end (or the alert) on
    quiet = np.flatnonzero(~on[since:])
    reset = float(since + int(quiet[0]) + 1 - tl.index(end)) if quiet.size else math.inf
    return Outcome(rule, on, onsets, detection, spent, max(reset, 0.0), int(outside.sum()))


@dataclass
class Run:
    """One timeline and how each rule of a set did on it."""

    timeline: Timeline
    outcomes: tuple[Outcome, ...]


def run(incident: Incident | None, rules=WORKBOOK, slo: float = 0.999, rate: float = 20.0, *, days: int = PERIOD_DAYS,
        seed: int = 1, noise: bool = True, background_burn: float = BACKGROUND_BURN) -> Run:
    """Simulate one period with ``incident`` (see :func:`timeline`) and evaluate every rule of ``rules`` (a
    tuple of :class:`Rule`, or the name of one of :data:`RULE_SETS`)."""
    rules = _rules(rules)
    tl = timeline(incident, slo, rate, days=days, seed=seed, noise=noise, background_burn=background_burn)
    return Run(tl, tuple(evaluate(tl, rule) for rule in rules))


def _rules(rules) -> tuple[Rule, ...]:
    if isinstance(rules, str):
        rules = RULE_SETS[_validate.one_of("rules", rules, tuple(RULE_SETS))]
    rules = tuple(rules)
    if not rules or not all(isinstance(rule, Rule) for rule in rules):
        raise ValueError(f"rules must be a non-empty sequence of Rule, or one of {', '.join(RULE_SETS)}; got {rules!r}")
    return rules


def _seeds(seeds) -> list[int]:
    seeds = list(range(1, seeds + 1)) if isinstance(seeds, int) and not isinstance(seeds, bool) else list(seeds)
    if not seeds:
        raise ValueError("seeds must be a positive count or a non-empty sequence of seeds")
    return [_seed(seed) for seed in seeds]


@dataclass
class LongRun:
    """One rule against one incident over many seeds: the share of runs it fired in and, over those runs,
    the mean detection time, budget spent before the alert and reset time (minutes, shares)."""

    rule: Rule
    fired_share: float
    detection_minutes: float
    budget_before_alert: float
    reset_minutes: float
    false_alarms_per_period: float


def _mean(values) -> float:
    return float(np.mean(values)) if values else float("nan")


def long_run(incident: Incident, rules=WORKBOOK, slo: float = 0.999, rate: float = 20.0, *, seeds=100,
             days: int = PERIOD_DAYS) -> list[LongRun]:
    """Run ``incident`` under each seed of ``seeds`` (a count, from 1, or the seeds) and average per rule."""
    rules = _rules(rules)
    per_rule = [[] for _ in rules]
    for seed in _seeds(seeds):
        tl = timeline(incident, slo, rate, days=days, seed=seed)
        for found, rule in zip(per_rule, rules):
            found.append(evaluate(tl, rule))
    summaries = []
    for rule, found in zip(rules, per_rule):
        fired = [o for o in found if o.fired]
        summaries.append(LongRun(rule, len(fired) / len(found), _mean([o.detection_minutes for o in fired]),
                                 _mean([o.budget_before_alert for o in fired]), _mean([o.reset_minutes for o in fired]),
                                 _mean([o.false_alarms for o in found])))
    return summaries


def false_alarms(rules=WORKBOOK, slo: float = 0.999, rate: float = 20.0, *, seeds=100,
                 days: int = PERIOD_DAYS) -> dict[Rule, float]:
    """Alerts per :data:`PERIOD_DAYS` days on background traffic alone, per rule, averaged over ``seeds``."""
    rules = _rules(rules)
    counts = np.zeros(len(rules))
    seeds = _seeds(seeds)
    for seed in seeds:
        tl = timeline(None, slo, rate, days=days, seed=seed)
        counts += [evaluate(tl, rule).false_alarms for rule in rules]
    scale = PERIOD_DAYS / (days * len(seeds))
    return {rule: float(count * scale) for rule, count in zip(rules, counts)}


# -- theory: constant burns on a noiseless timeline ---------------------------------------------

def detection_minutes(burn: float, rule: Rule, *, slo: float = 0.999, background: float = 0.0,
                      duration: float = math.inf) -> float:
    """Minutes after a constant ``burn`` starts until ``rule`` fires, on expected counts (inf if never).

    A long window of W minutes holding k minutes of the burn b over a background burn b₀ reads
    (b·k + b₀·(W − k)) / W, which passes the rule's threshold θ after k* = W·(θ − b₀) / (b − b₀)
    minutes (60 · 14.4 / b for the 1-hour page with no background); the short window passes it
    sooner, so it only confirms. A burn at or below θ, or one that stops (``duration``) before k*,
    never fires it. Evaluated once a minute, the rule fires at the end of the first whole minute past k*.
    """
    _validate.positive("burn", burn)
    _validate.positive("duration", duration)
    theta = rule.threshold(slo)
    if not 0 <= _validate.non_negative("background", background) < theta:
        raise ValueError(f"background must be below the rule's threshold ({theta:g}×), got {background!r}")
    if burn <= theta:
        return math.inf
    k = rule.long_minutes * (theta - background) / (burn - background)
    return math.inf if k >= duration else k


def budget_before_alert(burn: float, rule: Rule, *, slo: float = 0.999, background: float = 0.0,
                        period_days: float = PERIOD_DAYS) -> float:
    """The share of the budget a constant ``burn`` has spent when ``rule`` fires: burn · k* / period.

    With no background this is θ · W / period whatever the burn: the Workbook's "error budget consumed"
    (2% for the 1-hour page, 5% for the 6-hour page, 10% for the 3-day ticket).
    """
    k = detection_minutes(burn, rule, slo=slo, background=background)
    return burn * k / (_validate.positive("period_days", period_days) * MINUTES_PER_DAY)


def reset_minutes(burn: float, rule: Rule, *, slo: float = 0.999, background: float = 0.0) -> float:
    """Minutes after a constant ``burn`` that fired ``rule`` ends until the rule stops firing (expected counts).

    A window of X minutes stays above θ while it holds more than X·(θ − b₀)/(b − b₀) minutes of the burn,
    so it lets go X·(b − θ)/(b − b₀) minutes after the end; the rule stops with its shortest window (about
    5 minutes for the 1-hour page after a total outage, an hour without the short window).
    """
    _validate.positive("burn", burn)
    theta = rule.threshold(slo)
    if burn <= theta:
        raise ValueError(f"burn must exceed the rule's threshold ({theta:g}×) for it to have fired, got {burn!r}")
    if not 0 <= _validate.non_negative("background", background) < theta:
        raise ValueError(f"background must be below the rule's threshold ({theta:g}×), got {background!r}")
    return min(rule.windows) * (burn - theta) / (burn - background)
