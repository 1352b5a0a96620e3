"""Seeded, independent random streams with cheap scalar draws.

numpy is fast at drawing many numbers and slow at drawing one, while the
simulator wants one at a time. A :class:`Stream` draws in batches and hands
numbers out one by one, so a scalar draw costs about as much as a list pop.
"""

from __future__ import annotations

import math
import zlib
from itertools import chain
from typing import Iterator

import numpy as np

_BATCH = 2048


class Stream:
    """One independent source of random numbers (batched numpy ``Generator``)."""

    __slots__ = ("generator", "_uniform", "_exponential", "_normal")

    def __init__(self, generator: np.random.Generator):
        self.generator = generator
        self._uniform: list = []
        self._exponential: list = []
        self._normal: list = []

    def random(self) -> float:
        """A uniform draw from [0, 1)."""
        try:
            return self._uniform.pop()
        except IndexError:
            self._uniform = self.generator.random(_BATCH).tolist()
            return self._uniform.pop()

    def uniform(self, low: float, high: float) -> float:
        """A uniform draw from [low, high)."""
        return low + (high - low) * self.random()

    def exponential(self, mean: float) -> float:
        """An exponential draw with the given mean."""
        try:
            return mean * self._exponential.pop()
        except IndexError:
            self._exponential = self.generator.standard_exponential(_BATCH).tolist()
            return mean * self._exponential.pop()

    def normal(self, mean: float = 0.0, sd: float = 1.0) -> float:
        """A normal draw."""
        try:
            return mean + sd * self._normal.pop()
        except IndexError:
            self._normal = self.generator.standard_normal(_BATCH).tolist()
            return mean + sd * self._normal.pop()

    def lognormal(self, mu: float, sigma: float) -> float:
        """exp(Normal(mu, sigma))."""
        return math.exp(self.normal(mu, sigma))

    def draws(self, kind: str, scale: float = 1.0) -> Iterator[float]:
        """An iterator over exactly the numbers that repeated ``random()`` or ``exponential(scale)`` calls return.

        ``kind`` is ``"random"`` or ``"exponential"``. For a fresh stream used
        for that one kind of draw only: it takes the same batches from the
        generator in the same order and hands them out from the end, as the
        scalar methods do (numpy multiplies by ``scale`` as Python does,
        correctly rounded), without a method call per draw.
        """
        if kind not in ("random", "exponential"):
            raise ValueError(f"kind must be 'random' or 'exponential', got {kind!r}")
        fill = self.generator.random if kind == "random" else self.generator.standard_exponential

        def batches():
            while True:
                batch = fill(_BATCH)[::-1]
                yield (batch if scale == 1.0 else scale * batch).tolist()

        return chain.from_iterable(batches())

    def below(self, n: int) -> int:
        """A uniform whole number in [0, n)."""
        return min(int(self.random() * n), n - 1)


class RandomStreams:
    """Named streams derived from one seed; a stream's numbers depend only on (seed, name)."""

    def __init__(self, seed: int):
        self.seed = seed
        self._streams: dict[str, Stream] = {}

    def has(self, name: str) -> bool:
        """Whether the stream for ``name`` has been created."""
        return name in self._streams

    def stream(self, name: str) -> Stream:
        """The stream for ``name``, created on first use."""
        stream = self._streams.get(name)
        if stream is None:
            key = zlib.crc32(name.encode("utf-8"))
            sequence = np.random.SeedSequence(entropy=self.seed, spawn_key=(key,))
            stream = self._streams[name] = Stream(np.random.Generator(np.random.PCG64(sequence)))
        return stream
