"""Tiny tasks for testing :class:`autograder.workers.WorkerPool` (run inside its worker processes)."""

from __future__ import annotations

import os
import time


def echo(value):
    """Answer at once, with the worker's pid so tests can see which process ran it."""
    return {"ok": True, "value": value, "pid": os.getpid()}


def sleep(seconds: float):
    """Take ``seconds`` (a task that outlives its deadline)."""
    time.sleep(seconds)
    return {"ok": True, "slept": seconds}


def die():
    """End the worker process abruptly, as a crash would."""
    os._exit(3)


def shout():
    """Write to stdout directly; the pool's answer channel must not see it."""
    os.write(1, b"not json at all\n")
    print("also not json", flush=True)
    return {"ok": True}
