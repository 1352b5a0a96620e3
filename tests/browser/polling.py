"""Waiting in browser tests: poll until a condition holds, and fail with what was last seen."""

from __future__ import annotations

import time

import pytest


def poll(fetch, done, timeout: float, what: str, interval: float = 0.25):
    """Call ``fetch()`` until ``done(value)``; fail naming ``what`` and the last value."""
    deadline = time.monotonic() + timeout
    value = fetch()
    while not done(value):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}; last state: {value!r}")
        time.sleep(interval)
        value = fetch()
    return value
