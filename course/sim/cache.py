"""A TTL cache in front of a slow computation (a database query), with the stampede fixes.

The cache is cache-aside: it never calls the database itself. A caller asks
:meth:`TTLCache.lookup` what to do, and the answer's ``kind`` says:

* ``"hit"``: here is a fresh value;
* ``"miss"``: nothing fresh, *you* compute it, then call :meth:`TTLCache.fill`;
* ``"wait"``: someone else is computing it; you are queued, and the
  :meth:`~TTLCache.fill` that lands hands you back as one of its waiters
  (request coalescing, "single flight");
* ``"refresh"``: the value is still fresh, but you drew the short straw:
  recompute it now, as a miss would (probabilistic early expiration).

The modes (:data:`MODES`):

* ``"plain"``: every lookup that finds nothing fresh is a miss, so all the
  requests that arrive while the value is being recomputed go to the
  database too: the stampede.
* ``"coalesce"``: the first miss computes; later ones wait for it.
* ``"xfetch"``: probabilistic early expiration (Vattani, Chierichetti and
  Lowenstein, "Optimal Probabilistic Cache Stampede Prevention", VLDB 2015):
  a lookup recomputes early when ``now − δ·β·ln(u) ≥ expiry``, with
  ``u ~ Uniform(0, 1]``, ``δ`` the time the last recomputation took and
  ``β`` (default 1) the eagerness. Misses after expiry are plain misses.
* ``"xfetch_coalesce"``: both; an early draw is ignored while a computation
  is already in flight, and misses wait for it.

The cache only reads its clock (any object with ``now()``), so the same
object runs in a simulation and on real time; :meth:`TTLCache.get_or_compute`
is the synchronous path for real-time callers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from . import _validate

#: The cache's behaviours when it finds nothing fresh (see the module docstring).
MODES = ("plain", "coalesce", "xfetch", "xfetch_coalesce")
#: What a lookup tells its caller to do.
KINDS = ("hit", "miss", "wait", "refresh")


def xfetch_due(now, expiry, delta, beta, u):
    """XFetch's test: recompute when ``now − δ·β·ln(u) ≥ expiry``, with ``u`` in (0, 1] (works on arrays).

    A lookup ``x`` seconds before expiry recomputes with probability
    exp(−x / (β·δ)), and always once the value has expired.
    """
    return np.asarray(now) - delta * beta * np.log(u) >= expiry


@dataclass
class Entry:
    """What the cache holds for one key: the value, when it expires, and how long it took to compute (δ)."""

    value: Any
    expiry: float
    delta: float


@dataclass
class Lookup:
    """A lookup's answer: ``kind`` (one of :data:`KINDS`) and the fresh value for a hit or a refresh."""

    kind: str
    value: Any = None


@dataclass
class _Key:
    entry: Entry | None = None
    in_flight: int = 0
    waiters: list = field(default_factory=list)


class TTLCache:
    """A cache whose entries live ``ttl`` seconds after each :meth:`fill`, on an injected ``clock``.

    ``mode`` is one of :data:`MODES`; the XFetch modes draw ``u`` as
    ``1 − random()`` from ``random`` (a callable giving uniforms in [0, 1),
    such as ``sim.rng("cache").random``) unless the caller passes ``u``.
    """

    def __init__(self, clock, ttl: float, mode: str = "plain", beta: float = 1.0,
                 random: Callable[[], float] | None = None):
        if not callable(getattr(clock, "now", None)):
            raise ValueError(f"clock must have a now() method returning seconds, got {clock!r}")
        self.clock = clock
        self.ttl = _validate.positive("ttl", ttl)
        self.mode = _validate.one_of("mode", mode, MODES)
        self.beta = _validate.positive("beta", beta)
        if random is not None and not callable(random):
            raise ValueError(f"random must be a callable returning uniforms in [0, 1), got {random!r}")
        self.random = random
        self.early = mode.startswith("xfetch")
        self.coalesce = mode in ("coalesce", "xfetch_coalesce")
        self._keys: dict = {}

    def _key(self, key) -> _Key:
        state = self._keys.get(key)
        if state is None:
            state = self._keys[key] = _Key()
        return state

    def _draw(self, u) -> float:
        if u is None:
            if self.random is None:
                raise ValueError(f"mode {self.mode!r} needs random (a callable returning uniforms in [0, 1)) "
                                 f"or a u passed to lookup()")
            return 1.0 - self.random()
        if not 0 < _validate._number("u", u) <= 1:
            raise ValueError(f"u must be in (0, 1], got {u!r}")
        return u

    def lookup(self, key, *, waiter=None, u: float | None = None) -> Lookup:
        """What a request for ``key`` must do now (see :data:`KINDS`).

        ``waiter`` (anything) is queued when the answer is ``"wait"`` and handed
        back by the :meth:`fill` that ends the wait. ``u`` is the XFetch draw
        in (0, 1]; by default it comes from ``random``.
        """
        state = self._key(key)
        entry, now = state.entry, self.clock.now()
        fresh = entry is not None and now < entry.expiry
        if fresh and self.early and not (self.coalesce and state.in_flight):
            u = self._draw(u)
            if now - entry.delta * self.beta * math.log(u) >= entry.expiry:
                state.in_flight += 1
                return Lookup("refresh", entry.value)
        if fresh:
            return Lookup("hit", entry.value)
        if self.coalesce and state.in_flight:
            state.waiters.append(waiter)
            return Lookup("wait")
        state.in_flight += 1
        return Lookup("miss")

    def hits_before(self, key, times, u=None) -> int:
        """How many lookups at ``times`` (ascending), in order, would be plain hits, with nothing else changing.

        The first lookup that is not a hit (a miss, a wait or a refresh) ends
        the count; a simulation can skip the hits before it in one step.
        ``u`` holds the XFetch draws of those lookups (needed in the XFetch
        modes unless a computation is in flight with coalescing on).
        """
        state = self._key(key)
        entry = state.entry
        times = np.asarray(times, dtype=float)
        if entry is None:
            return 0
        fresh = int(np.searchsorted(times, entry.expiry, side="left"))  # lookups before expiry
        if not self.early or (self.coalesce and state.in_flight) or fresh == 0:
            return fresh
        if u is None:
            raise ValueError("u (the XFetch draws of these lookups) is needed in the XFetch modes")
        due = xfetch_due(times[:fresh], entry.expiry, entry.delta, self.beta, np.asarray(u, dtype=float)[:fresh])
        return int(np.argmax(due)) if due.any() else fresh

    def fill(self, key, value, compute_time: float) -> list:
        """A computation of ``key`` that took ``compute_time`` seconds finished with ``value``: store it.

        The entry expires ``ttl`` seconds from now and remembers ``compute_time``
        as its δ. Returns the waiters queued on the key (emptied).
        """
        _validate.non_negative("compute_time", compute_time)
        state = self._key(key)
        if state.in_flight == 0:
            raise RuntimeError(f"fill({key!r}) without a lookup that told the caller to compute")
        state.in_flight -= 1
        state.entry = Entry(value, self.clock.now() + self.ttl, float(compute_time))
        waiters, state.waiters = state.waiters, []
        return waiters

    def abandon(self, key) -> list:
        """A computation of ``key`` failed: forget it, and return the waiters, who must look up again."""
        state = self._key(key)
        if state.in_flight == 0:
            raise RuntimeError(f"abandon({key!r}) without a computation in flight")
        state.in_flight -= 1
        waiters, state.waiters = state.waiters, []
        return waiters

    def invalidate(self, key) -> None:
        """Delete ``key``'s value (what a writer does after updating the database)."""
        self._key(key).entry = None

    def entry(self, key) -> Entry | None:
        """The entry stored for ``key`` (fresh or not), or None."""
        state = self._keys.get(key)
        return None if state is None else state.entry

    def in_flight(self, key) -> int:
        """Computations of ``key`` started and not yet filled or abandoned."""
        state = self._keys.get(key)
        return 0 if state is None else state.in_flight

    def get_or_compute(self, key, compute: Callable[[], Any]):
        """The synchronous cache-aside path for one caller on real time: a hit, or compute, fill and return.

        The compute time is measured on the cache's clock. A single caller
        never has to wait; a failing ``compute`` is abandoned and re-raised.
        """
        answer = self.lookup(key)
        if answer.kind == "hit":
            return answer.value
        if answer.kind == "wait":
            raise RuntimeError(f"{key!r} is being computed by another caller; get_or_compute() cannot wait")
        started = self.clock.now()
        try:
            value = compute()
        except BaseException:
            self.abandon(key)
            raise
        self.fill(key, value, self.clock.now() - started)
        return value
