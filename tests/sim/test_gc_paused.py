"""``gc_paused``: the collector is off inside, restored afterwards (even after an error), and nothing leaks."""

import gc
import weakref

import pytest

from course.sim._gc import gc_paused


def test_off_inside_and_restored_after_even_on_error():
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():  # nested: the inner block must not switch it back on early
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError):
        with gc_paused():
            raise RuntimeError("boom")
    assert gc.isenabled()


def test_leaves_a_disabled_collector_disabled():
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_works_as_a_decorator_and_cycles_made_inside_are_collected_afterwards():
    class Node:
        pass

    @gc_paused()
    def make_cycle():
        assert not gc.isenabled()
        a, b = Node(), Node()
        a.other, b.other = b, a
        return weakref.ref(a)

    ref = make_cycle()
    assert gc.isenabled()
    assert ref() is not None  # a cycle survives reference counting...
    gc.collect()
    assert ref() is None      # ...and the collector frees it once it runs again
