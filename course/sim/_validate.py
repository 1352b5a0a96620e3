"""Parameter checks that fail with a message naming the parameter and the valid range."""

from __future__ import annotations

import math


def _number(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if math.isnan(value):
        raise ValueError(f"{name} must be a number, got NaN")
    return value


def positive(name: str, value) -> float:
    """Return ``value`` if it is a number > 0, else raise ``ValueError``."""
    if _number(name, value) <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return value


def non_negative(name: str, value) -> float:
    """Return ``value`` if it is a number >= 0, else raise ``ValueError``."""
    if _number(name, value) < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return value


def probability(name: str, value) -> float:
    """Return ``value`` if it lies in [0, 1], else raise ``ValueError``."""
    if not 0 <= _number(name, value) <= 1:
        raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")
    return value


def fraction_open_closed(name: str, value) -> float:
    """Return ``value`` if it lies in (0, 1], else raise ``ValueError``."""
    if not 0 < _number(name, value) <= 1:
        raise ValueError(f"{name} must be in (0, 1], got {value!r}")
    return value


def integer_at_least(name: str, value, minimum: int) -> int:
    """Return ``value`` if it is an int >= ``minimum``, else raise ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be a whole number >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}, got {value!r}")
    return value


def one_of(name: str, value, choices) -> str:
    """Return ``value`` if it is one of ``choices``, else raise ``ValueError``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value
