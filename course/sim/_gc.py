"""Pausing Python's cyclic garbage collector around a tight simulation loop."""

from __future__ import annotations

import gc
from contextlib import contextmanager


@contextmanager
def gc_paused():
    """Switch the cyclic collector off for the block (or, as a decorator, the call), then restore it.

    A simulation run allocates tens of thousands of short-lived objects.
    With the collector on, every 700 allocations start a pass; objects that
    happen to be alive at a few passes get promoted to the oldest generation,
    and once enough have piled up there a full collection walks every object
    in the process. In a notebook that is all of matplotlib and ipywidgets
    and every dashboard's figure: a full pass can cost more than the run.
    With the collector paused, what the run drops is freed by reference
    counting as usual, and the few reference cycles it leaves (a simulation
    and its services point at each other) are collected, young, at the first
    pass after the block. Nothing is kept that would otherwise be freed.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
