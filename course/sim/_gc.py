"""Pausing Python's cyclic garbage collector around a tight simulation loop."""

from __future__ import annotations

import gc
from contextlib import contextmanager


@contextmanager
def gc_paused():
    """Switch the cyclic collector off for the block (or, as a decorator, the call), then restore it.

    A simulation loop allocates tens of thousands of short-lived tuples. Each
    700 of them trigger a collection, and now and then a full one, which
    walks every object in the process: in a notebook that is the whole of
    matplotlib and ipywidgets, and it can cost a fifth of a run. The loops
    that use this build no reference cycles, so reference counting frees
    everything they drop, and nothing is left for the collector to find.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
