"""Load balancing across replicas, and outlier ejection as a service mesh does it.

Balancers pick a replica for each request. They see only what a proxy sees:
how many requests each replica has outstanding (sent, not yet answered or
given up on), which they learn from :meth:`Balancer.started` and
:meth:`Balancer.finished`. Chance comes from an injected ``rng`` (anything
with ``random()`` returning a uniform draw in [0, 1), such as a
:class:`~course.sim.streams.Stream` or a numpy ``Generator``).

* :class:`RoundRobin` takes replicas in turn.
* :class:`RandomChoice` picks one uniformly at random.
* :class:`LeastOutstanding` scans every replica and picks one with the fewest
  outstanding requests (NGINX's ``least_conn``).
* :class:`PowerOfTwoChoices` picks two at random and sends to the one with
  fewer outstanding requests (Mitzenmacher, 2001): Envoy's ``LEAST_REQUEST``
  with its default ``choice_count`` of 2, Finagle's default balancer, and
  NGINX's ``random two``.

Ties go to a random one of the tied replicas, so an idle fleet is shared evenly.

:class:`OutlierEjection` takes a replica out of rotation after
``consecutive_errors`` errors in a row, for ``base_ejection_time`` times the
number of times it has been ejected, as Envoy's ``consecutive_5xx`` outlier
detection does (defaults 5 errors, 30 s, at most 10% of the hosts ejected).
"""

from __future__ import annotations

import math

from .. import _validate


class Balancer:
    """Base class: ``hosts`` replicas numbered 0..hosts-1, and their outstanding requests."""

    def __init__(self, hosts: int, rng=None):
        self.hosts = _validate.integer_at_least("hosts", hosts, 1)
        self.rng = rng
        self.outstanding = [0] * hosts
        self.sent = [0] * hosts

    def pick(self, eligible=None) -> int:
        """The replica for the next request, from ``eligible`` (a list of replica numbers; all if None).

        Does not count the request as sent: call :meth:`started` when it goes.
        """
        candidates = range(self.hosts) if eligible is None else eligible
        if not candidates:
            raise ValueError("eligible must name at least one replica")
        return self._pick(candidates)

    def _pick(self, candidates) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def started(self, host: int) -> None:
        """A request went to ``host``."""
        self.outstanding[host] += 1
        self.sent[host] += 1

    def finished(self, host: int) -> None:
        """A request to ``host`` is over for the balancer: answered, failed or timed out."""
        if self.outstanding[host] == 0:
            raise RuntimeError(f"finished({host}) called with no request outstanding there")
        self.outstanding[host] -= 1

    def _random_index(self, n: int) -> int:
        return min(int(self.rng.random() * n), n - 1)

    def _fewest(self, candidates) -> int:
        """A candidate with the fewest outstanding requests, ties broken at random."""
        outstanding = self.outstanding
        if isinstance(candidates, range) and len(candidates) == self.hosts:
            least = min(outstanding)
            tied = [h for h, count in enumerate(outstanding) if count == least]
        else:
            least = min([outstanding[h] for h in candidates])
            tied = [h for h in candidates if outstanding[h] == least]
        return tied[0] if len(tied) == 1 else tied[self._random_index(len(tied))]


def _needs_rng(rng):
    if rng is None or not callable(getattr(rng, "random", None)):
        raise ValueError(f"rng must have a random() method returning a uniform draw in [0, 1), got {rng!r}")
    return rng


class RoundRobin(Balancer):
    """Each replica in turn; a replica left out of ``eligible`` is skipped (the turn moves on)."""

    def __init__(self, hosts: int, rng=None):
        super().__init__(hosts, rng)
        self._next = 0

    def _pick(self, candidates) -> int:
        allowed = candidates if isinstance(candidates, range) else set(candidates)
        for step in range(self.hosts):
            host = (self._next + step) % self.hosts
            if host in allowed:
                self._next = (host + 1) % self.hosts
                return host
        raise ValueError("eligible must name replicas between 0 and hosts - 1")


class RandomChoice(Balancer):
    """One eligible replica, uniformly at random."""

    def __init__(self, hosts: int, rng=None):
        super().__init__(hosts, _needs_rng(rng))

    def _pick(self, candidates) -> int:
        return candidates[self._random_index(len(candidates))]


class LeastOutstanding(Balancer):
    """The eligible replica with the fewest outstanding requests (a full scan; ties at random)."""

    def __init__(self, hosts: int, rng=None):
        super().__init__(hosts, _needs_rng(rng))

    def _pick(self, candidates) -> int:
        return self._fewest(candidates)


class PowerOfTwoChoices(Balancer):
    """Two distinct eligible replicas at random; the one with fewer outstanding requests (ties at random)."""

    def __init__(self, hosts: int, rng=None):
        super().__init__(hosts, _needs_rng(rng))

    def _pick(self, candidates) -> int:
        n = len(candidates)
        if n == 1:
            return candidates[0]
        i = self._random_index(n)
        j = self._random_index(n - 1)
        if j >= i:
            j += 1  # a second, different replica
        a, b = candidates[i], candidates[j]
        load_a, load_b = self.outstanding[a], self.outstanding[b]
        if load_a != load_b:
            return a if load_a < load_b else b
        return a if self.rng.random() < 0.5 else b


#: Balancers by name, for models and dashboards.
BALANCERS = {"round_robin": RoundRobin, "random": RandomChoice, "least_outstanding": LeastOutstanding,
             "two_choices": PowerOfTwoChoices}


class OutlierEjection:
    """Envoy-style consecutive-error outlier detection over ``hosts`` replicas.

    Report every answer with :meth:`on_success` or :meth:`on_error` (a 5xx,
    a reset or a timeout: Envoy counts locally originated failures as 5xx
    unless told to split them). After ``consecutive_errors`` errors in a row
    a replica is ejected for ``base_ejection_time`` × (the number of times it
    has been ejected), capped at ``max_ejection_time``, then returns with its
    count reset. An ejection that would take more than
    ``max_ejection_percent`` of the hosts out is skipped, except that one
    host may always be ejected (as in Envoy). Results from a replica while it
    is ejected (answers to requests sent earlier) are ignored.

    Envoy runs the un-ejection check in sweeps every 10 s; here a replica
    returns the moment its time is up. Envoy also forgets past ejections of a
    host that stays healthy; here the multiplier only grows within a run.
    ``ejections`` lists ``(time, host, seconds)``.
    """

    def __init__(self, clock, hosts: int, consecutive_errors: int = 5, base_ejection_time: float = 30.0,
                 max_ejection_percent: float = 10.0, max_ejection_time: float = 300.0):
        v = _validate
        self.hosts = v.integer_at_least("hosts", hosts, 1)
        self.consecutive_errors = v.integer_at_least("consecutive_errors", consecutive_errors, 1)
        self.base_ejection_time = v.positive("base_ejection_time", base_ejection_time)
        if not 0 <= v._number("max_ejection_percent", max_ejection_percent) <= 100:
            raise ValueError(f"max_ejection_percent must be a percentage in [0, 100], got {max_ejection_percent!r}")
        self.max_ejection_percent = max_ejection_percent
        self.max_ejection_time = v.positive("max_ejection_time", max_ejection_time)
        if max_ejection_time < base_ejection_time:
            raise ValueError(f"max_ejection_time must be >= base_ejection_time ({base_ejection_time!r}), "
                             f"got {max_ejection_time!r}")
        self._clock = clock
        self._streak = [0] * hosts
        self._times_ejected = [0] * hosts
        self._until = [-math.inf] * hosts
        self.ejections: list[tuple[float, int, float]] = []
        self.skipped = 0  # ejections refused by max_ejection_percent
        self._available: list[int] | None = None
        self._next_return = math.inf

    def is_ejected(self, host: int) -> bool:
        """Whether ``host`` is out of rotation now."""
        if self._until[host] == -math.inf:
            return False
        if self._clock.now() >= self._until[host]:
            self._until[host] = -math.inf
            self._streak[host] = 0
            return False
        return True

    def available(self) -> list[int]:
        """The replicas in rotation now (every one, if all were somehow ejected).

        The list is kept between calls and rebuilt only after an ejection or
        once an ejected replica's time is up, so asking per request is cheap.
        """
        if self._available is None or self._clock.now() >= self._next_return:
            hosts = [h for h in range(self.hosts) if not self.is_ejected(h)]
            self._available = hosts or list(range(self.hosts))
            self._next_return = min((u for u in self._until if u != -math.inf), default=math.inf)
        return self._available

    @property
    def ejected_count(self) -> int:
        """How many replicas are out of rotation now."""
        return sum(self.is_ejected(h) for h in range(self.hosts))

    def on_success(self, host: int) -> None:
        """``host`` answered well: its run of errors is over."""
        if not self.is_ejected(host):
            self._streak[host] = 0

    def on_error(self, host: int) -> None:
        """``host`` failed a request (5xx, reset or timeout)."""
        if self.is_ejected(host):
            return
        self._streak[host] += 1
        if self._streak[host] >= self.consecutive_errors:
            self._eject(host)

    def _eject(self, host: int) -> None:
        allowed = max(1, math.floor(self.hosts * self.max_ejection_percent / 100 + 1e-9))
        if self.ejected_count + 1 > allowed:
            self.skipped += 1
            return
        self._times_ejected[host] += 1
        seconds = min(self.base_ejection_time * self._times_ejected[host], self.max_ejection_time)
        now = self._clock.now()
        self._until[host] = now + seconds
        self._streak[host] = 0
        self.ejections.append((now, host, seconds))
        self._available = None
