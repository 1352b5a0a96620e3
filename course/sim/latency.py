"""Latency distributions: how long a piece of work takes, in seconds."""

from __future__ import annotations

import math
from functools import partial
from statistics import NormalDist

import numpy as np

from . import _validate

_Z99 = NormalDist().inv_cdf(0.99)


class Latency:
    """Base class. Subclasses draw with :meth:`sample` from a :class:`~course.sim.streams.Stream`."""

    def sample(self, stream) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def sampler(self, stream):
        """A zero-argument function drawing from this distribution with ``stream`` (for hot loops)."""
        return partial(self.sample, stream)

    @property
    def mean(self) -> float:  # pragma: no cover - abstract
        """The distribution's mean in seconds."""
        raise NotImplementedError

    def scaled(self, factor: float) -> "Latency":
        """The same shape, every draw multiplied by ``factor``."""
        return Scaled(self, factor)


class Constant(Latency):
    """Always ``value`` seconds."""

    def __init__(self, value: float):
        self.value = _validate.non_negative("value", value)

    def sample(self, stream) -> float:
        """Return the constant."""
        return self.value

    @property
    def mean(self) -> float:
        return self.value

    def quantile(self, q: float) -> float:
        """Every quantile is the constant."""
        return self.value

    def __repr__(self):
        return f"Constant({self.value!r})"


class Exponential(Latency):
    """Exponential with the given mean: the service time of an M/M/c queue."""

    def __init__(self, mean: float):
        self._mean = _validate.positive("mean", mean)

    def sample(self, stream) -> float:
        """One exponential draw."""
        return stream.exponential(self._mean)

    def sampler(self, stream):
        """Draws straight from the stream, one call fewer per draw."""
        return partial(stream.exponential, self._mean)

    @property
    def mean(self) -> float:
        return self._mean

    def quantile(self, q: float) -> float:
        """The q-quantile, -mean·ln(1-q)."""
        _validate.probability("q", q)
        return -self._mean * math.log1p(-q) if q < 1 else math.inf

    def __repr__(self):
        return f"Exponential(mean={self._mean!r})"


class LogNormal(Latency):
    """Log-normal, set by its median and 99th percentile (how engineers describe latency)."""

    def __init__(self, median: float, p99: float):
        _validate.positive("median", median)
        _validate.positive("p99", p99)
        if p99 <= median:
            raise ValueError(f"p99 must be greater than median ({median!r}), got {p99!r}")
        self.median = median
        self.p99 = p99
        self.mu = math.log(median)
        self.sigma = (math.log(p99) - self.mu) / _Z99

    def sample(self, stream) -> float:
        """One log-normal draw."""
        return stream.lognormal(self.mu, self.sigma)

    @property
    def mean(self) -> float:
        return math.exp(self.mu + self.sigma ** 2 / 2)

    def quantile(self, q: float) -> float:
        """The q-quantile."""
        _validate.probability("q", q)
        if q in (0, 1):
            return 0.0 if q == 0 else math.inf
        return math.exp(self.mu + self.sigma * NormalDist().inv_cdf(q))

    def __repr__(self):
        return f"LogNormal(median={self.median!r}, p99={self.p99!r})"


class Pareto(Latency):
    """Heavy-tailed: ``minimum`` times a Pareto draw with tail index ``alpha``.

    P(X > x) = (minimum / x) ** alpha. The mean is finite only for alpha > 1.
    """

    def __init__(self, minimum: float, alpha: float):
        self.minimum = _validate.positive("minimum", minimum)
        self.alpha = _validate.positive("alpha", alpha)

    def sample(self, stream) -> float:
        """One Pareto draw."""
        return self.minimum * (1.0 - stream.random()) ** (-1.0 / self.alpha)

    @property
    def mean(self) -> float:
        return math.inf if self.alpha <= 1 else self.alpha * self.minimum / (self.alpha - 1)

    def quantile(self, q: float) -> float:
        """The q-quantile."""
        _validate.probability("q", q)
        return math.inf if q == 1 else self.minimum * (1 - q) ** (-1 / self.alpha)

    def __repr__(self):
        return f"Pareto(minimum={self.minimum!r}, alpha={self.alpha!r})"


class Bimodal(Latency):
    """Usually ``fast``; with probability ``p_slow`` it is ``slow`` instead (a hiccup: GC, a cold cache)."""

    def __init__(self, fast: Latency, slow: Latency, p_slow: float):
        self.fast = fast
        self.slow = slow
        self.p_slow = _validate.probability("p_slow", p_slow)

    def sample(self, stream) -> float:
        """Pick a mode, then draw from it."""
        return (self.slow if stream.random() < self.p_slow else self.fast).sample(stream)

    @property
    def mean(self) -> float:
        return (1 - self.p_slow) * self.fast.mean + self.p_slow * self.slow.mean

    def __repr__(self):
        return f"Bimodal({self.fast!r}, {self.slow!r}, p_slow={self.p_slow!r})"


class Empirical(Latency):
    """Resamples measured latencies, for example from a production trace."""

    def __init__(self, samples):
        values = np.asarray(samples, dtype=float).ravel()
        if values.size == 0:
            raise ValueError("samples must hold at least one latency, got none")
        if not np.all(np.isfinite(values)) or np.any(values < 0):
            raise ValueError("samples must all be finite and >= 0 seconds")
        self.samples = values
        self._values = values.tolist()

    def sample(self, stream) -> float:
        """One of the measured values, chosen uniformly."""
        return self._values[stream.below(len(self._values))]

    @property
    def mean(self) -> float:
        return float(self.samples.mean())

    def quantile(self, q: float) -> float:
        """The sample q-quantile."""
        _validate.probability("q", q)
        return float(np.quantile(self.samples, q))

    def __repr__(self):
        return f"Empirical({self.samples.size} samples)"


class Scaled(Latency):
    """Another distribution with every draw multiplied by ``factor``."""

    def __init__(self, base: Latency, factor: float):
        self.base = base
        self.factor = _validate.non_negative("factor", factor)

    def sample(self, stream) -> float:
        """A draw from the base, scaled."""
        return self.factor * self.base.sample(stream)

    @property
    def mean(self) -> float:
        return self.factor * self.base.mean

    def __repr__(self):
        return f"{self.base!r}.scaled({self.factor!r})"
